"""Notebook 06, step 5: keep a fine-tuned classifier where later notebooks find it (per profile, written
atomically) and serve it as a transformers ``pipeline``."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from labutils.core.errors import FinetuneError


def classifier_dir(name: str = "minilm-sentiment-en", profile: str | None = None) -> Path:
    """Where notebook 06 keeps a fine-tuned classifier for later notebooks (11, 12, 15), keyed by profile.

    A smoke run therefore never overwrites the classifier a cpu or gpu run trained.
    """
    from labutils.core.env import cache_home
    from labutils.core.profiles import PROFILES, current
    p = current() if profile in (None, "") else str(profile).lower()
    if p not in PROFILES:
        raise FinetuneError(f"Unknown profile {profile!r}; choose one of: {', '.join(PROFILES)}.")
    return cache_home("06_finetuning", f"{name}-{p}")


def save_classifier(model, tokenizer, path: str | Path | None = None) -> Path:
    """``save_pretrained`` of model (safetensors) and tokenizer into ``path`` (default :func:`classifier_dir`),
    atomically: a half-written classifier is never left where a later notebook would load it."""
    from labutils.core.io import atomic_dir
    path = classifier_dir() if path is None else Path(path)
    with atomic_dir(path, complete="config.json") as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return path


def classification_pipeline(path_or_model, tokenizer=None, device: Any = None):
    """A transformers ``pipeline("text-classification")`` returning every label's score
    (``top_k=None``), from a saved directory or a model + tokenizer."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline
    if isinstance(path_or_model, (str, Path)):
        model = AutoModelForSequenceClassification.from_pretrained(path_or_model)
        tokenizer = tokenizer or AutoTokenizer.from_pretrained(path_or_model)
    else:
        model = path_or_model
        if tokenizer is None:
            raise FinetuneError("Pass the tokenizer with the model, or a saved directory.")
    if device is None:
        device = next(model.parameters()).device
    return pipeline("text-classification", model=model, tokenizer=tokenizer, top_k=None, device=device)


