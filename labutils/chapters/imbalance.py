"""Notebook 07, distribution shift and class imbalance: negation and length slices, an imbalanced subset,
class weights and oversampling."""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from labutils.core.errors import ChallengeError

# ============================================================================ distribution shift
#: Words that mark a negated sentence for :func:`has_negation` (lower case; "n't" matches any contraction).
NEGATION_WORDS = ("not", "no", "never", "nothing", "nobody", "none", "neither", "nor", "without", "n't",
                  "cannot", "hardly", "barely")


def has_negation(text: str) -> bool:
    """True if the sentence contains a negation word from :data:`NEGATION_WORDS` (e.g. "not", "never", "isn't")."""
    low = text.lower()
    if "n't" in low:
        return True
    words = set(re.findall(r"[a-z]+", low))
    return any(w in words for w in NEGATION_WORDS if w != "n't")


def word_count(text: str) -> int:
    """Number of whitespace-separated words."""
    return len(text.split())


# ============================================================================ class imbalance
def imbalanced_indices(labels: Sequence[int], ratio: float = 10.0, minority: int = 0, n_majority: int | None = None,
                       seed: int = 0) -> np.ndarray:
    """Indices of a subset where class ``minority`` is ``ratio`` times rarer than the other class (binary labels).

    Keeps ``n_majority`` majority examples (all of them by default) and ``round(n_majority/ratio)``
    minority examples, chosen at random; returned sorted.
    """
    labels = np.asarray(labels)
    if ratio < 1:
        raise ChallengeError(f"ratio must be ≥ 1 (majority : minority), got {ratio}.")
    rng = np.random.default_rng(seed)
    maj = np.flatnonzero(labels != minority)
    mino = np.flatnonzero(labels == minority)
    n_majority = len(maj) if n_majority is None else min(n_majority, len(maj))
    n_min = max(1, int(round(n_majority / ratio)))
    if n_min > len(mino):
        raise ChallengeError(f"Only {len(mino)} examples of class {minority}; ask for fewer majority examples.")
    keep = np.concatenate([rng.choice(maj, n_majority, replace=False), rng.choice(mino, n_min, replace=False)])
    return np.sort(keep)


def class_weights(labels: Sequence[int], n_classes: int | None = None):
    """Per-class loss weights ``N / (C · count_c)`` (the "balanced" rule): rare classes weigh more; a float tensor."""
    import torch
    labels = np.asarray(labels)
    n_classes = n_classes or int(labels.max()) + 1
    counts = np.bincount(labels, minlength=n_classes).astype(float)
    if (counts == 0).any():
        raise ChallengeError(f"Every class needs at least one example; counts are {counts.astype(int).tolist()}.")
    return torch.tensor(len(labels) / (n_classes * counts), dtype=torch.float32)


def oversample_indices(labels: Sequence[int], seed: int = 0) -> np.ndarray:
    """Indices that repeat each class's examples (sampling with replacement) until every class is as frequent as the largest."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    counts = np.bincount(labels)
    out = []
    for c, n in enumerate(counts):
        idx = np.flatnonzero(labels == c)
        if n == 0:
            continue
        extra = rng.choice(idx, counts.max() - n, replace=True) if n < counts.max() else np.array([], dtype=int)
        out.append(np.concatenate([idx, extra]))
    return np.concatenate(out)
