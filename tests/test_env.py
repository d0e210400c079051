import os

import torch

from labutils.core import env


def test_detect_platform_variants():
    assert env.detect_platform({}, {}) == "local"
    assert env.detect_platform({"COLAB_RELEASE_TAG": "x"}, {}) == "colab"
    assert env.detect_platform({}, {"google.colab": object()}) == "colab"
    assert env.detect_platform({"BINDER_SERVICE_HOST": "1"}, {}) == "binder"
    assert env.detect_platform({"KAGGLE_KERNEL_RUN_TYPE": "i"}, {}) == "kaggle"


def test_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert env.device().type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert env.device().type == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert env.device().type == "cpu"
    assert env.device("cpu").type == "cpu"


def test_seed_everything_reproduces_all_generators():
    import random

    import numpy as np
    env.seed_everything(123)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    env.seed_everything(123)
    b = (random.random(), np.random.rand(), torch.rand(1).item())
    env.seed_everything(124)
    c = (random.random(), np.random.rand(), torch.rand(1).item())
    assert a == b
    assert all(x != y for x, y in zip(a, c))


def test_describe_on_this_machine():
    info = env.describe()
    assert info.device in ("cpu", "cuda", "mps")
    assert info.cpu_threads >= 1
    assert info.torch_version == torch.__version__
    text, html = str(info), info._repr_html_()
    assert "torch" in text and "<table>" in html and info.platform in html


def test_cache_home_respects_env(tmp_home):
    p = env.cache_home("models", "x")
    assert p.is_dir() and str(p).startswith(str(tmp_home))


def test_cache_home_default_is_under_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("LABUTILS_HOME", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert env.cache_home(create=False) == tmp_path / "labutils"


def test_is_headless_flag(monkeypatch):
    monkeypatch.setenv("LABUTILS_HEADLESS", "1")
    assert env.is_headless()
    monkeypatch.setenv("LABUTILS_HEADLESS", "0")
    assert not env.is_headless()


def test_quiet_is_idempotent_and_sets_env(monkeypatch):
    monkeypatch.delenv("TOKENIZERS_PARALLELISM", raising=False)
    env.quiet()
    env.quiet()
    assert os.environ["TOKENIZERS_PARALLELISM"] == "false"
    import logging
    assert logging.getLogger("transformers").getEffectiveLevel() >= logging.ERROR


def test_import_torchao_quietly_prints_nothing_and_lu_start_imports_it_first():
    """torchao's import-time noise ("Failed to load …so", pytree notices) must not reach a notebook's first cell."""
    import subprocess
    import sys
    code = ("import labutils as lu; import torch; lu.start('x', profile='smoke', show=False); "
            "from transformers import GPT2LMHeadModel; import sys; print('torchao' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**__import__("os").environ, "HF_HUB_OFFLINE": "1", "LABUTILS_HEADLESS": "1"})
    assert out.returncode == 0, out.stderr[-500:]
    assert "Failed to load" not in out.stderr and "_pytree" not in out.stderr, out.stderr[-500:]
