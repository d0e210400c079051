"""Calibration (校准) of a classifier's probabilities (notebook 06): reliability bins and expected calibration error."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from labutils.core.errors import LabError


def calibration_bins(probs: np.ndarray, labels: Sequence[int], n_bins: int = 10) -> list[dict]:
    """Equal-width bins of the confidence (the top probability): per bin the count, mean
    confidence and accuracy (empty bins are left out)."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels)
    if probs.ndim != 2 or len(probs) != len(labels):
        raise LabError("probs must be an (N, classes) array with one row per label.")
    if n_bins < 1:
        raise LabError(f"n_bins must be at least 1, not {n_bins}.")
    conf = probs.max(1)
    correct = (probs.argmax(1) == labels).astype(np.float64)
    idx = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    rows = []
    for b in range(n_bins):
        sel = idx == b
        if sel.any():
            rows.append({"bin": b, "low": b / n_bins, "high": (b + 1) / n_bins, "count": int(sel.sum()),
                         "confidence": float(conf[sel].mean()), "accuracy": float(correct[sel].mean())})
    return rows


def expected_calibration_error(probs: np.ndarray, labels: Sequence[int], n_bins: int = 10) -> float:
    """ECE (Guo et al., 2017): Σ_b (n_b / N) · |accuracy_b − confidence_b| over equal-width
    confidence bins. 0 = perfectly calibrated."""
    rows = calibration_bins(probs, labels, n_bins)
    n = sum(r["count"] for r in rows)
    return float(sum(r["count"] / n * abs(r["accuracy"] - r["confidence"]) for r in rows)) if n else 0.0
