"""Precision, recall and F1 · 精确率、召回率与 F1, for binary and multi-class labels.

A metric module of LLM Lab, loadable offline with ``evaluate.load(<this directory>)``.
One module returns all three numbers, so ``evaluate.combine([accuracy, precision_recall_f1])``
gives ``accuracy, precision, recall, f1`` without name clashes.

    >>> import evaluate
    >>> prf = evaluate.load("labutils/metrics/precision_recall_f1")
    >>> prf.compute(predictions=[1, 1, 0, 0], references=[1, 0, 0, 1])
    {'precision': 0.5, 'recall': 0.5, 'f1': 0.5}

The arithmetic is written out in NumPy (no scikit-learn inside), and follows
``sklearn.metrics.precision_recall_fscore_support`` exactly, including its choices for
labels, ``average="binary"`` and ``zero_division``; the course's tests check that.
"""
import math
import warnings

import datasets
import evaluate
import numpy as np

_DESCRIPTION = """
For one class k, count over the examples:
    TP_k = predicted k and truly k,  FP_k = predicted k but not truly k,  FN_k = truly k but not predicted k.
Then
    precision_k = TP_k / (TP_k + FP_k)        (of what we called k, how much was k)
    recall_k    = TP_k / (TP_k + FN_k)        (of what was k, how much we found)
    F1_k        = 2 TP_k / (2 TP_k + FP_k + FN_k)   (harmonic mean of the two)

Averages over the classes:
    "binary":   the numbers of class `pos_label` only (two classes at most).
    "macro":    plain mean over classes: every class counts the same, rare ones too.
    "weighted": mean weighted by each class's support (number of true examples).
    "micro":    pool TP, FP and FN over classes first; for single-label data over all classes,
                micro precision = micro recall = micro F1 = accuracy.
    None:       one number per class, in the order of `labels` (returned under "labels").

A fraction 0/0 (no prediction of a class, or no true example of it) is undefined and takes the
value `zero_division`: 0.0 (default), 1.0, NaN (then macro/weighted averages skip it), or "warn"
(0.0 with a warning, scikit-learn's default).
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `int` or `str`): predicted labels (class ids or label names).
    references (`list` of `int` or `str`): true labels, same type as the predictions.
    average (`str` or `None`, defaults to `"binary"`): one of "binary", "macro", "micro",
        "weighted", or None for per-class numbers.
    pos_label (`int` or `str`, defaults to `1`): the positive class when `average="binary"`.
    labels (`list`, *optional*): the classes to include (and their order for `average=None`);
        defaults to every label seen in predictions or references, sorted. Ignored for "binary".
    sample_weight (`list` of `float`, *optional*): one weight per example.
    zero_division (`float` or `"warn"`, defaults to `0.0`): value for 0/0: 0.0, 1.0, NaN or "warn".
Returns:
    precision (`float`), recall (`float`), f1 (`float`): each in [0, 1]; lists when `average=None`,
    together with `labels` (the class of each position).
Examples:
    >>> prf = evaluate.load("labutils/metrics/precision_recall_f1")
    >>> prf.compute(predictions=[0, 1, 2, 2], references=[0, 1, 1, 2], average="macro")
    {'precision': 0.8333333333333334, 'recall': 0.8333333333333334, 'f1': 0.7777777777777777}
"""

_CITATION = """
@article{van1979information,
  title={Information Retrieval},
  author={van Rijsbergen, C. J.},
  publisher={Butterworth-Heinemann},
  edition={2},
  year={1979}
}
@article{scikit-learn,
  title={Scikit-learn: Machine Learning in {P}ython},
  author={Pedregosa, F. and others},
  journal={Journal of Machine Learning Research},
  volume={12},
  pages={2825--2830},
  year={2011}
}
"""

AVERAGES = ("binary", "macro", "micro", "weighted", None)

# Same input formats as the accuracy module: label strings, or numbers kept as float64 so that
# a probability passed by mistake is refused instead of being truncated to class 0.
_FEATURES = [
    datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
    datasets.Features({"predictions": datasets.Value("float64"), "references": datasets.Value("float64")}),
]


def _as_labels(values, what):
    arr = np.asarray(values)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(f"{what} must be class ids (whole numbers) or label strings; "
                             f"take the argmax of logits or probabilities first.")
        arr = arr.astype(np.int64)
    return arr


def _divide(num, den, zero_division):
    """num / den elementwise, with `zero_division` where den == 0."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(num.shape, zero_division, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _zero_division_value(zero_division):
    if isinstance(zero_division, str):
        if zero_division != "warn":
            raise ValueError(f"zero_division must be 0.0, 1.0, nan or 'warn', not {zero_division!r}.")
        return 0.0
    value = float(zero_division)
    if not (value in (0.0, 1.0) or math.isnan(value)):
        raise ValueError(f"zero_division must be 0.0, 1.0, nan or 'warn', not {zero_division!r}.")
    return value


def precision_recall_f1(predictions, references, average="binary", pos_label=1, labels=None,
                        sample_weight=None, zero_division=0.0):
    """Plain function behind the module: a dict with precision, recall, f1."""
    if average not in AVERAGES:
        raise ValueError(f"average must be one of {', '.join(repr(a) for a in AVERAGES)}, not {average!r}.")
    zd = _zero_division_value(zero_division)
    pred = _as_labels(predictions, "predictions")
    ref = _as_labels(references, "references")
    if pred.shape != ref.shape:
        raise ValueError(f"Got {pred.size} predictions for {ref.size} references; give one prediction per reference.")
    if pred.size == 0:
        raise ValueError("Precision and recall need at least one prediction and reference.")
    weights = np.ones(pred.shape) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if weights.shape != pred.shape:
        raise ValueError(f"Got {weights.size} sample weights for {pred.size} examples; give one weight per example.")

    present = np.unique(np.concatenate([pred, ref]))
    if average == "binary":
        if len(present) > 2:
            raise ValueError(f"average='binary' needs at most two classes but found {len(present)}; "
                             f"use average='macro', 'micro' or 'weighted'.")
        if len(present) == 2 and pos_label not in present.tolist():
            raise ValueError(f"pos_label={pos_label!r} is not one of the labels {present.tolist()}; "
                             f"pass the positive class as pos_label.")
        classes = [pos_label]
    else:
        classes = present.tolist() if labels is None else list(labels)

    # Per-class (weighted) counts: true positives, predicted positives, actual positives.
    tp = np.array([np.sum(weights * ((pred == c) & (ref == c))) for c in classes], dtype=np.float64)
    pred_sum = np.array([np.sum(weights * (pred == c)) for c in classes], dtype=np.float64)
    true_sum = np.array([np.sum(weights * (ref == c)) for c in classes], dtype=np.float64)

    if average == "micro":
        tp, pred_sum, true_sum = tp.sum(keepdims=True), pred_sum.sum(keepdims=True), true_sum.sum(keepdims=True)

    precision = _divide(tp, pred_sum, zd)
    recall = _divide(tp, true_sum, zd)
    f1 = _divide(2 * tp, pred_sum + true_sum, zd)     # 2PR/(P+R) written with counts: no 0/0 when P=R=0
    if zero_division == "warn" and (np.any(pred_sum == 0) or np.any(true_sum == 0)):
        warnings.warn("Precision, recall or F1 is ill-defined (0/0) for a class with no predicted or no true "
                      "examples; it was set to 0.0. Pass zero_division to choose the value.", RuntimeWarning,
                      stacklevel=2)

    if average is None:
        return {"precision": precision.tolist(), "recall": recall.tolist(), "f1": f1.tolist(), "labels": classes}
    avg_weights = true_sum if average == "weighted" else np.ones_like(true_sum)
    out = {}
    for key, values in (("precision", precision), ("recall", recall), ("f1", f1)):
        keep = ~np.isnan(values)        # zero_division=nan: undefined classes are left out of the mean
        if not keep.any():
            out[key] = float("nan")
            continue
        w = avg_weights[keep]
        if np.sum(w) == 0:              # "weighted" with no true example of any kept class: plain mean
            w = np.ones_like(w)
        out[key] = float(np.sum(values[keep] * w) / np.sum(w))
    return out


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class PrecisionRecallF1(evaluate.Metric):
    """Precision, recall and F1 (精确率、召回率、F1) as one `evaluate` metric."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=_FEATURES,
            reference_urls=[
                "https://scikit-learn.org/stable/modules/generated/sklearn.metrics.precision_recall_fscore_support.html",
                "https://en.wikipedia.org/wiki/Precision_and_recall",
            ],
        )

    def _compute(self, predictions, references, average="binary", pos_label=1, labels=None,
                 sample_weight=None, zero_division=0.0):
        return precision_recall_f1(predictions, references, average=average, pos_label=pos_label, labels=labels,
                                   sample_weight=sample_weight, zero_division=zero_division)
