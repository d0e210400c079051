"""Accuracy · 准确率: the fraction of predictions that equal their reference.

A metric module of LLM Lab, written for ``evaluate.load(<this directory>)`` so that it
works offline (``evaluate.load("accuracy")`` fetches the hub version and fails without a network).

    >>> import evaluate
    >>> acc = evaluate.load("labutils/metrics/accuracy")
    >>> acc.compute(predictions=[0, 1, 1, 0], references=[0, 1, 0, 0])
    {'accuracy': 0.75}

Labels may be integers (class ids) or strings (label names). Predictions must already be
class ids: pass ``logits.argmax(-1)``, not probabilities or logits. A non-integer number
is refused instead of being silently truncated to an integer.
"""
import datasets
import evaluate
import numpy as np

_DESCRIPTION = """
Accuracy is the proportion of correct predictions among all predictions:

    accuracy = (number of i with prediction_i == reference_i) / N

With `sample_weight`, each example counts with its weight:
    accuracy = sum_i w_i [prediction_i == reference_i] / sum_i w_i
With `normalize=False` the (weighted) count of correct predictions is returned instead.
It matches `sklearn.metrics.accuracy_score` for single-label inputs.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `int` or `str`): predicted labels (class ids or label names).
    references (`list` of `int` or `str`): true labels, same type as the predictions.
    normalize (`bool`, defaults to `True`): if `False`, return the number (or total weight)
        of correct predictions instead of the fraction.
    sample_weight (`list` of `float`, *optional*): one weight per example.
    average, pos_label, labels, zero_division: ignored; accepted so that a combination with
        precision_recall_f1 (`evaluate.combine`) can be given them.
Returns:
    accuracy (`float`): in [0, 1] when `normalize=True`; a count otherwise.
Examples:
    >>> acc = evaluate.load("labutils/metrics/accuracy")
    >>> acc.compute(predictions=[0, 1, 1, 0], references=[0, 1, 0, 0])
    {'accuracy': 0.75}
    >>> acc.compute(predictions=[0, 1, 1, 0], references=[0, 1, 0, 0], normalize=False)
    {'accuracy': 3.0}
    >>> acc.compute(predictions=["cat", "dog"], references=["cat", "cat"], sample_weight=[3, 1])
    {'accuracy': 0.75}
"""

_CITATION = """
@article{scikit-learn,
  title={Scikit-learn: Machine Learning in {P}ython},
  author={Pedregosa, F. and Varoquaux, G. and Gramfort, A. and Michel, V. and Thirion, B. and
          Grisel, O. and Blondel, M. and Prettenhofer, P. and Weiss, R. and Dubourg, V. and
          Vanderplas, J. and Passos, A. and Cournapeau, D. and Brucher, M. and Perrot, M. and
          Duchesnay, E.},
  journal={Journal of Machine Learning Research},
  volume={12},
  pages={2825--2830},
  year={2011}
}
"""

# Strings first: an int would pass the string check only by being turned into "1". Numbers are
# stored as float64 (exact for ids below 2**53) so a float such as 0.7 reaches `_compute` intact
# and is refused there, instead of being truncated to 0 by an int feature.
_FEATURES = [
    datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
    datasets.Features({"predictions": datasets.Value("float64"), "references": datasets.Value("float64")}),
]


def _as_labels(values, what):
    """A 1-D array of labels; numbers must be whole (class ids)."""
    arr = np.asarray(values)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(f"{what} must be class ids (whole numbers) or label strings; "
                             f"take the argmax of logits or probabilities first.")
        arr = arr.astype(np.int64)
    return arr


def accuracy(predictions, references, normalize=True, sample_weight=None):
    """Plain function behind the module (also handy without evaluate)."""
    pred = _as_labels(predictions, "predictions")
    ref = _as_labels(references, "references")
    if pred.shape != ref.shape:
        raise ValueError(f"Got {pred.size} predictions for {ref.size} references; give one prediction per reference.")
    if pred.size == 0:
        raise ValueError("Accuracy needs at least one prediction and reference.")
    correct = (pred == ref).astype(np.float64)
    weights = np.ones_like(correct) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if weights.shape != correct.shape:
        raise ValueError(f"Got {weights.size} sample weights for {correct.size} examples; give one weight per example.")
    score = float(np.sum(weights * correct))
    if normalize:
        score /= float(np.sum(weights))
    return score


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Accuracy(evaluate.Metric):
    """Accuracy (准确率) as an `evaluate` metric."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=_FEATURES,
            reference_urls=["https://scikit-learn.org/stable/modules/generated/sklearn.metrics.accuracy_score.html"],
        )

    # average, pos_label, labels and zero_division belong to precision_recall_f1. They are accepted
    # and ignored here because evaluate.combine passes every keyword to every module, so that
    # combine([accuracy, precision_recall_f1]).compute(..., average="macro") works.
    def _compute(self, predictions, references, normalize=True, sample_weight=None,
                 average=None, pos_label=None, labels=None, zero_division=None):
        return {"accuracy": accuracy(predictions, references, normalize=normalize, sample_weight=sample_weight)}
