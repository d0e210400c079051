"""Hardware and platform detection, seeding, the cache home and noise control.

Nothing here imports torch at module import time, so ``python -m labutils doctor``
can explain a missing torch in one sentence instead of a traceback.
"""
from __future__ import annotations

import dataclasses
import html
import logging
import os
import platform as _platform
import random
import sys
import warnings
from pathlib import Path


def torch_available() -> bool:
    """True when ``import torch`` would succeed (checked without importing it)."""
    import importlib.util
    return importlib.util.find_spec("torch") is not None


def detect_platform(environ: dict | None = None, modules: dict | None = None) -> str:
    """Return ``"colab"``, ``"kaggle"``, ``"binder"`` or ``"local"``.

    Colab is recognised by its ``google.colab`` module or ``COLAB_RELEASE_TAG``;
    Binder by the variables mybinder.org sets (``BINDER_SERVICE_HOST``, ``BINDER_REPO_URL``).
    """
    environ = os.environ if environ is None else environ
    modules = sys.modules if modules is None else modules
    if "google.colab" in modules or "COLAB_RELEASE_TAG" in environ or "COLAB_GPU" in environ:
        return "colab"
    if "KAGGLE_KERNEL_RUN_TYPE" in environ:
        return "kaggle"
    if any(k in environ for k in ("BINDER_SERVICE_HOST", "BINDER_REPO_URL", "BINDER_LAUNCH_HOST")):
        return "binder"
    return "local"


def device(prefer: str | None = None):
    """The best torch device here: CUDA, then Apple MPS, then CPU.

    ``prefer="cpu"`` forces the CPU (useful to compare, or when a GPU is busy).
    """
    import torch
    if prefer is not None:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int = 0) -> int:
    """Seed Python's ``random``, NumPy and torch (CPU and all GPUs); returns the seed."""
    random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    try:
        import numpy as np
        np.random.seed(seed)
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    if torch_available():
        import torch
        torch.manual_seed(seed)
        if torch.cuda.is_available():
            torch.cuda.manual_seed_all(seed)
    return seed


@dataclasses.dataclass(frozen=True)
class EnvInfo:
    """What this machine offers the course. Renders as a small table in a notebook."""

    device: str
    device_name: str
    memory_gb: float | None
    bf16: bool
    fp16: bool
    torch_version: str
    cpu_threads: int
    platform: str
    python: str

    def rows(self) -> list[tuple[str, str]]:
        mem = f"{self.memory_gb:.1f} GB" if self.memory_gb is not None else "n/a"
        return [
            ("device", self.device),
            ("device name", self.device_name),
            ("memory", mem),
            ("bf16 / fp16", f"{'yes' if self.bf16 else 'no'} / {'yes' if self.fp16 else 'no'}"),
            ("torch", self.torch_version),
            ("CPU threads", str(self.cpu_threads)),
            ("platform", self.platform),
            ("python", self.python),
        ]

    def __str__(self) -> str:
        width = max(len(k) for k, _ in self.rows())
        return "\n".join(f"{k:<{width}}  {v}" for k, v in self.rows())

    def _repr_html_(self) -> str:
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td style='text-align:left'>{html.escape(v)}</td></tr>"
            for k, v in self.rows())
        return f"<table>{body}</table>"


def _system_memory_gb() -> float | None:
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        return pages * size / 1e9
    except (ValueError, OSError, AttributeError):
        return None


def describe() -> EnvInfo:
    """Describe the hardware and software the course will run on."""
    import torch
    dev = device()
    threads = torch.get_num_threads()
    py = _platform.python_version()
    plat = detect_platform()
    if dev.type == "cuda":
        props = torch.cuda.get_device_properties(0)
        major, _ = torch.cuda.get_device_capability(0)
        return EnvInfo("cuda", props.name, props.total_memory / 1e9,
                       bool(torch.cuda.is_bf16_supported()), major >= 6,
                       torch.__version__, threads, plat, py)
    if dev.type == "mps":
        return EnvInfo("mps", "Apple GPU (Metal)", _system_memory_gb(), False, True,
                       torch.__version__, threads, plat, py)
    name = _platform.processor() or _platform.machine() or "CPU"
    # CPUs run bf16 in software; it works but is rarely faster, so we report it as unsupported for training.
    return EnvInfo("cpu", name, _system_memory_gb(), False, False, torch.__version__, threads, plat, py)


def cache_home(*parts: str, create: bool = True) -> Path:
    """The one directory the course writes to: ``$LABUTILS_HOME`` or ``~/.cache/labutils``.

    ``cache_home("models", "gpt")`` returns (and creates) a subdirectory.
    """
    root = os.environ.get("LABUTILS_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "labutils")
    path = Path(root).expanduser().joinpath(*parts)
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def is_headless() -> bool:
    """True when no person is watching: papermill, nbval, or CI (``LABUTILS_HEADLESS=1``).

    Widgets and live plots then fall back to one static output.
    """
    flag = os.environ.get("LABUTILS_HEADLESS")
    if flag is not None:
        return flag.strip().lower() not in ("", "0", "false", "no")
    try:
        import psutil
        proc = psutil.Process().parent()
        for _ in range(4):
            if proc is None:
                break
            cmd = " ".join(proc.cmdline()).lower()
            if "papermill" in cmd or "nbval" in cmd:
                return True
            proc = proc.parent()
    except Exception:  # noqa: BLE001 - detection is best effort
        pass
    return False


_QUIET_DONE = False


def import_torchao_quietly():
    """Import ``torchao`` once with its import-time noise quieted and return ``torchao.quantization`` (None when
    torchao is not installed). A CPU torch makes it print "Failed to load …_C_cutlass….so" lines and torch's
    pytree deprecation notices through loggers whose handlers were bound before anything can redirect them, so
    all logging is switched off during the import and ``sys.stderr`` is redirected; both are restored afterwards.
    transformers imports torchao as soon as a model class is imported, so ``import labutils`` calls this first
    when torch is already imported (notebook 11 teaches torchao)."""
    import contextlib
    import importlib.util
    import io
    import sys
    if "torchao.quantization" in sys.modules:
        return sys.modules["torchao.quantization"]
    if importlib.util.find_spec("torchao") is None:
        return None
    for name in ("torchao", "torch.utils._pytree", "torch._dynamo"):
        logging.getLogger(name).setLevel(logging.ERROR)
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            import torchao.quantization as tq
    finally:
        logging.disable(previous)
    return tq


def quiet() -> None:
    """Silence the progress bars and warnings of transformers, datasets, evaluate and friends.

    One call for every notebook; idempotent. Our own tqdm bars stay on.
    """
    global _QUIET_DONE
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    for name in ("torchao", "torch._dynamo", "torch._inductor", "jieba", "sentence_transformers",
                 "datasets", "evaluate", "huggingface_hub", "transformers", "accelerate", "peft",
                 "onnxscript", "torch.onnx", "papermill"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*TypedStorage is deprecated.*")
    warnings.filterwarnings("ignore", message=".*torch.ao.quantization.*deprecated.*")
    warnings.filterwarnings("ignore", message=".*were not initialized from the model checkpoint.*")
    if _QUIET_DONE:
        return
    try:
        import transformers
        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
    except ImportError:
        pass
    try:
        import datasets
        datasets.disable_progress_bars()
        datasets.logging.set_verbosity_error()
    except ImportError:
        pass
    try:
        import evaluate
        evaluate.logging.set_verbosity_error()
        evaluate.utils.logging.disable_progress_bar()
    except (ImportError, AttributeError):
        pass
    try:
        import jieba
        jieba.setLogLevel(logging.ERROR)
    except ImportError:
        pass
    _QUIET_DONE = True
