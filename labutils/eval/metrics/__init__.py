"""Evaluation metrics of our own, as `evaluate` modules that load offline · 评测指标.

``evaluate.load("accuracy")`` downloads the metric's code from the Hugging Face Hub and fails
without a network. The modules here are the same kind of thing, written by the project and
shipped with it, one directory each (``<name>/<name>.py``, the layout ``evaluate.load(dir)``
expects):

    ======================== ===================================================================
    accuracy                 fraction correct (normalize, sample_weight)
    precision_recall_f1      precision, recall, F1: binary / macro / micro / weighted / per class
    seqeval                  entity-level P/R/F1 for BIO tags (NER), conlleval rules or strict
    perplexity_from_losses   exp(mean NLL) from per-token NLLs or (loss, n_tokens) pairs
    exact_match              string equality, optionally with SQuAD normalisation
    ======================== ===================================================================

    >>> from labutils import metrics
    >>> acc = metrics.load("accuracy")                 # an evaluate.EvaluationModule
    >>> acc.compute(predictions=[0, 1, 1], references=[0, 1, 0])
    {'accuracy': 0.6666666666666666}
    >>> clf = metrics.combine(["accuracy", "f1"])      # "f1" is an alias of precision_recall_f1
    >>> clf.compute(predictions=[0, 1, 1], references=[0, 1, 0], average="macro")
    >>> metrics.compute_classification(preds, labels)    # accuracy, precision, recall, f1 in one dict
    >>> trainer = Trainer(..., compute_metrics=metrics.trainer_compute_metrics())

``evaluate.load(metrics.path("accuracy"))`` works too, but evaluate then copies the module into
``$HF_MODULES_CACHE`` (``~/.cache/huggingface/modules``). :func:`load` does the same work into
``cache_home("evaluate")`` instead (or into ``$HF_MODULES_CACHE`` when you have set it), keeps
predictions in memory rather than in Arrow files on disk, and never touches the network.
"""
from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path
from typing import Any, Callable, Iterable

from labutils.core.env import cache_home
from labutils.core.errors import MetricError  # noqa: F401 (re-exported)

__all__ = ["MetricError", "available", "path", "load", "combine", "compute_classification",
           "trainer_compute_metrics", "ALIASES"]

_HERE = Path(__file__).resolve().parent

#: Names that learners know from the hub, mapped to the module that computes them.
#: ``precision_recall_f1`` returns all three numbers, so an alias gives precision and recall too.
ALIASES = {"f1": "precision_recall_f1", "precision": "precision_recall_f1", "recall": "precision_recall_f1"}


def available() -> list[str]:
    """Names of the metric modules shipped here, sorted (aliases not included)."""
    return sorted(d.name for d in _HERE.iterdir()
                  if d.is_dir() and (d / f"{d.name}.py").is_file())


def _canonical(name: str) -> str:
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    valid = available()
    if key not in valid:
        raise MetricError(
            f"Unknown metric {name!r}; choose one of: {', '.join(valid)} "
            f"(or {', '.join(sorted(ALIASES))}, which are aliases of precision_recall_f1).")
    return key


def path(name: str) -> str:
    """The directory of metric module ``name`` (what ``evaluate.load`` takes)."""
    return str(_HERE / _canonical(name))


def _modules_root() -> str:
    """Where evaluate's importable copies of the modules go: $HF_MODULES_CACHE if set, else our cache."""
    return os.environ.get("HF_MODULES_CACHE") or str(cache_home("evaluate", "modules"))


def _dynamic_modules_path() -> str:
    from evaluate.loading import init_dynamic_modules
    root = os.path.abspath(os.path.expanduser(_modules_root()))
    # A package name of our own (not evaluate's "evaluate_modules", which may already be imported
    # from another directory), tied to the directory, so that changing LABUTILS_HOME within one
    # Python process (tests do) does not make Python look for the copies in the old place.
    package = "labutils_metric_modules_" + hashlib.sha1(root.encode()).hexdigest()[:10]
    return init_dynamic_modules(name=package, hf_modules_cache=root)


def load(name: str, **kwargs: Any):
    """``evaluate.load`` of our module ``name``, offline, with everything written under the cache.

    Keyword arguments are those of ``evaluate.load`` (``config_name``, ``cache_dir``,
    ``keep_in_memory``, ``experiment_id``, ``num_process``, ``process_id``, ...). Defaults that
    differ: ``keep_in_memory=True`` in a single process (no Arrow files, no file locks),
    ``cache_dir`` = ``$HF_METRICS_CACHE`` if set, else ``cache_home("evaluate", "metrics")``.
    Raises :class:`MetricError` for an unknown name.
    """
    module_dir = path(name)
    import evaluate
    kwargs.setdefault("cache_dir", os.environ.get("HF_METRICS_CACHE") or str(cache_home("evaluate", "metrics")))
    if kwargs.get("num_process", 1) == 1:
        kwargs.setdefault("keep_in_memory", True)
    try:
        from evaluate.loading import evaluation_module_factory, import_main_class
    except ImportError:  # pragma: no cover - a future evaluate without these: let it do its own thing
        return evaluate.load(module_dir, **kwargs)

    # What evaluate.load does (evaluate 0.4.x), with our own dynamic-modules directory, which
    # evaluate.load itself does not let a caller choose.
    module_type = kwargs.pop("module_type", None)
    download_config = kwargs.pop("download_config", None)
    download_mode = kwargs.pop("download_mode", None)
    kwargs.pop("revision", None)  # only meaningful for hub modules
    module = evaluation_module_factory(module_dir, module_type=module_type, download_config=download_config,
                                       download_mode=download_mode, dynamic_modules_path=_dynamic_modules_path())
    cls = import_main_class(module.module_path)
    instance = cls(hash=module.hash, **kwargs)
    if module_type and module_type != instance.module_type:
        raise MetricError(f"{name!r} is a {instance.module_type}, not a {module_type}; "
                          f"leave module_type out or pass module_type={instance.module_type!r}.")
    instance.download_and_prepare(download_config=download_config)
    return instance


def combine(names: Iterable[Any], force_prefix: bool = False, **kwargs: Any):
    """``evaluate.combine`` of our modules, loaded with :func:`load` (``**kwargs`` go to each load).

    Names that resolve to the same module (``"precision"`` and ``"f1"``) load it once. Already
    loaded modules may be mixed in with names.
    """
    import evaluate
    modules: dict[str, Any] = {}
    for item in names:
        if isinstance(item, str):
            key = _canonical(item)
            if key not in modules:
                modules[key] = load(key, **kwargs)
        else:
            modules[f"{getattr(item, 'name', 'module')}#{len(modules)}"] = item
    return evaluate.combine(list(modules.values()), force_prefix=force_prefix)


@functools.lru_cache(maxsize=None)
def _shared(name: str):
    """One loaded instance per module for the convenience functions (they only call compute)."""
    return load(name)


def compute_classification(predictions, references, average: str = "macro", **kwargs: Any) -> dict:
    """Accuracy, precision, recall and F1 in one dict, through the evaluate modules.

    ``predictions`` are class ids or label strings (take the argmax of logits first).
    ``kwargs``: ``pos_label``, ``labels``, ``zero_division``, ``sample_weight`` (the last also
    weights the accuracy). Returns ``{"accuracy", "precision", "recall", "f1"}`` as floats.
    """
    import numpy as np
    predictions = np.asarray(predictions).reshape(-1)
    references = np.asarray(references).reshape(-1)
    acc_kwargs = {k: kwargs[k] for k in ("sample_weight",) if k in kwargs}
    out = dict(_shared("accuracy").compute(predictions=predictions, references=references, **acc_kwargs))
    out.update(_shared("precision_recall_f1").compute(predictions=predictions, references=references,
                                                      average=average, **kwargs))
    return out


def trainer_compute_metrics(average: str = "macro", ignore_index: int = -100,
                            **kwargs: Any) -> Callable[[Any], dict]:
    """A ``compute_metrics`` function for ``transformers.Trainer``: argmax of the logits, then
    :func:`compute_classification`.

    Works for sequence classification (logits ``[batch, classes]``) and token classification
    (logits ``[batch, seq, classes]``: positions whose label is ``ignore_index`` are dropped). If the
    predictions already are class ids (``preprocess_logits_for_metrics`` took the argmax), they
    are used as they are. When the model returns several outputs, the first is the logits.
    """
    import numpy as np

    def compute_metrics(eval_pred) -> dict:
        logits = getattr(eval_pred, "predictions", None)
        labels = getattr(eval_pred, "label_ids", None)
        if logits is None and labels is None:
            logits, labels = eval_pred[0], eval_pred[1]
        if isinstance(logits, (tuple, list)):
            logits = logits[0]
        logits, labels = np.asarray(logits), np.asarray(labels)
        preds = logits if logits.ndim == labels.ndim else logits.argmax(axis=-1)
        preds, labels = preds.reshape(-1), labels.reshape(-1)
        keep = labels != ignore_index
        return compute_classification(preds[keep], labels[keep], average=average, **kwargs)

    compute_metrics.__doc__ = f"accuracy, precision, recall, f1 (average={average!r}) from a Trainer's EvalPrediction."
    return compute_metrics
