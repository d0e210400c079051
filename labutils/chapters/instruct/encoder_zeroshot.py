"""Notebook 09, prompt learning with an encoder: zero-shot classification by MiniLM sentence embeddings, each
class described by one or more label prompts (a class = the mean embedding of its descriptions)."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from labutils.core.errors import InstructError

# class id -> descriptions; each wording is one "label prompt"
LABEL_PROMPTS = {
    "bare words": {0: ["negative"], 1: ["positive"]},
    "short sentence": {0: ["This review is negative."], 1: ["This review is positive."]},
    "descriptive": {0: ["A bad, boring, disappointing movie that I did not like."],
                    1: ["A good, moving, wonderful movie that I enjoyed."]},
    "several, averaged": {0: ["negative", "This review is negative.", "A bad, boring, disappointing movie."],
                          1: ["positive", "This review is positive.", "A good, moving, wonderful movie."]},
}


def label_embeddings(prompts: Mapping[int, Sequence[str]], model=None, tokenizer=None) -> np.ndarray:
    """One unit vector per class: the mean of its descriptions' embeddings, renormalised."""
    from labutils.models.encoder import embed
    if not prompts or any(not v for v in prompts.values()):
        raise InstructError("Give every class at least one description.")
    rows = []
    for c in sorted(prompts):
        e = embed(list(prompts[c]), model=model, tokenizer=tokenizer).numpy().mean(0)
        rows.append(e / np.linalg.norm(e))
    return np.stack(rows)


def zero_shot_predict(text_emb: np.ndarray, prompts: Mapping[int, Sequence[str]], model=None,
                      tokenizer=None) -> np.ndarray:
    """The class whose label embedding is closest (cosine) to each text embedding."""
    labels = label_embeddings(prompts, model, tokenizer)
    return np.asarray(sorted(prompts))[(np.asarray(text_emb) @ labels.T).argmax(1)]
