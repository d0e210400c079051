"""Shared fixtures: a private cache home and a clean profile/results state for every test."""
from __future__ import annotations

import pytest


@pytest.fixture
def tmp_home(tmp_path, monkeypatch):
    """Point LABUTILS_HOME at a fresh directory."""
    home = tmp_path / "labhome"
    monkeypatch.setenv("LABUTILS_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def _reset_state(monkeypatch):
    from labutils.core import profiles, results
    saved_profile, saved_nb = profiles._current, results._notebook
    yield
    profiles._current = saved_profile
    results._notebook = saved_nb


def fake_classify(texts):
    """A stand-in classifier for the service tests (notebook 12): 'good' means positive."""
    return [{"label": "positive" if "good" in t else "negative", "score": 0.9} for t in texts]


@pytest.fixture(scope="module")
def tiny_chat_lm():
    """A tiny random GPT-2 with the MiniLM tokenizer: a chat model for the service tests, built in a second."""
    import torch
    from transformers import GPT2LMHeadModel

    from labutils.models.configs import tiny_gpt_config
    from labutils.models.encoder import load_tokenizer
    tok = load_tokenizer()
    torch.manual_seed(0)
    cfg = tiny_gpt_config("nano", vocab_size=tok.vocab_size, n_positions=512, bos_token_id=0, eos_token_id=1)
    return GPT2LMHeadModel(cfg).eval(), tok
