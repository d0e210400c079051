"""Notebook 15, the pipeline's first four stages: data checks, a classical baseline, fine-tuning (full or LoRA) with
early stopping, and the test split touched once (calibration, an error table). Each ``stage_X(pipe, tmp, bar)``
writes its files into ``tmp`` (which becomes ``OUT/X/``), advances ``bar`` ``stage_X.steps`` times and returns the
stage's result (stored as ``result.json``). Everything is computed with the package: ``chapters.finetune`` (loop,
TF-IDF baseline, mistakes), ``chapters.peft`` (LoRA by hand, merged before saving), ``eval.calibration``.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from labutils.chapters.capstone.data import data_checks, detect_language, drop_leaks, length_sample, subsample


def _steps(n: int):
    def wrap(fn):
        fn.steps = n
        return fn
    return wrap


# ------------------------------------------------------------------------------ 1. data
@_steps(4)
def stage_data(pipe, tmp: Path, bar) -> dict:
    """Checks on all rows (balance, duplicates, leakage, lengths), leaked rows dropped, then the profile's subset."""
    cfg, s = pipe.cfg, pipe.cfg.settings
    raw = pipe._raw
    checks = data_checks(raw)
    bar.update(1)
    clean, dropped = drop_leaks(raw)
    bar.update(1)
    dd = subsample(clean, {"train": s["n_train"], "validation": s["n_val"], "test": s["n_test"]}, seed=cfg.seed)
    language = cfg.language or detect_language(list(dd["train"]["text"][:500]))
    used = data_checks(dd)
    bar.update(1)
    dd.save_to_disk(str(tmp / "dataset"))
    bar.update(1)
    return {"source": pipe.source, "language": language, "language_detected": cfg.language is None,
            "labels": checks["labels"], "checks_all": checks, "dropped_leaks": dropped, "checks_used": used,
            "rows_used": {k: len(v) for k, v in dd.items()},
            "length_sample": {sp: length_sample(list(dd[sp]["text"]), 1000) for sp in ("train", "test")}}


# ------------------------------------------------------------------------------ 2. baseline
def _analyzer(language: str) -> tuple[str, tuple[int, int]]:
    """Chinese has no spaces: characters and character pairs play the part of words (as notebook 06)."""
    return ("char", (1, 2)) if language == "zh" else ("word", (1, 2))


@_steps(1)
def stage_baseline(pipe, tmp: Path, bar) -> dict:
    """TF-IDF + logistic regression (scikit-learn) fitted on train, scored on validation; the bar to beat."""
    from labutils.chapters import finetune as ft
    dd = pipe.dataset()
    analyzer, ngrams = _analyzer(pipe.language())
    res = ft.tfidf_baseline(dd["train"], dd["validation"], analyzer=analyzer, ngram_range=ngrams)
    bar.update(1)
    return {"analyzer": analyzer, "ngram_range": list(ngrams), "val_accuracy": res["accuracy"], "val_f1": res["f1"],
            "fit_seconds": res["seconds"]}


# ------------------------------------------------------------------------------ 3. fine-tuning
def base_model(model: str, names: list[str], seed: int = 0):
    """``(model, tokenizer)``: the bundled MiniLM with a new head of ``len(names)`` classes, or a tiny random BERT
    (same tokenizer) for tests."""
    id2label = {i: n for i, n in enumerate(names)}
    if model == "tiny":
        from labutils.chapters.serving.onnx import tiny_classifier
        clf, tok = tiny_classifier(num_labels=len(names), seed=seed)
        clf.config.id2label, clf.config.label2id = id2label, {n: i for i, n in id2label.items()}
        return clf, tok
    from labutils.models.encoder import load_encoder
    return load_encoder(task="sequence-classification", num_labels=len(names), id2label=id2label)


def unwrap_lora(model) -> int:
    """Merge every hand-written LoRA layer into its base weight and put the plain ``nn.Linear`` back, so the saved
    model is an ordinary transformers classifier (no extra cost at inference); returns how many were merged."""
    from labutils.chapters.peft import lora_layers, set_merged
    n = set_merged(model, True)
    for name, layer in lora_layers(model).items():
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, layer.base)
    model.requires_grad_(True)
    return n


@_steps(4)
def stage_finetune(pipe, tmp: Path, bar) -> dict:
    """Full fine-tuning or LoRA (r from the profile, on query/value) with evaluation every ``eval_every`` steps,
    best-checkpoint selection and early stopping on validation accuracy; saved with ``save_pretrained``."""
    import datasets

    from labutils.chapters import finetune as ft
    from labutils.chapters import peft as P
    cfg, s = pipe.cfg, pipe.cfg.settings
    dd = pipe.dataset()
    names = dd["train"].features["label"].names
    model, tok = base_model(cfg.model, names, seed=cfg.seed)
    total = sum(p.numel() for p in model.parameters())
    enc = ft.tokenize_dataset(datasets.DatasetDict(train=dd["train"], validation=dd["validation"]), tok,
                              max_length=s["max_length"])
    probe = enc["train"].select(range(min(64, len(enc["train"]))))
    loss_before = ft.evaluate_classifier(model, probe, details=False)["loss"]
    unk = ft.unk_rate(tok, list(dd["train"]["text"][:300]))
    bar.update(1)
    if cfg.method == "lora":
        wrapped = P.apply_lora(model, targets=("query", "value"), r=s["lora_r"], alpha=2 * s["lora_r"], seed=cfg.seed)
        unfreeze, lr = None, s["lr_lora"]
    else:
        wrapped, unfreeze, lr = [], "all", s["lr_full"]
    per_epoch = max(1, -(-len(enc["train"]) // s["batch_size"]))
    eval_every = max(1, min(s["eval_every"], per_epoch))
    hist = ft.train_classifier(model, enc["train"], enc["validation"], epochs=s["epochs"], lr=lr,
                               head_lr=s["head_lr"], batch_size=s["batch_size"], max_steps=s["steps"],
                               eval_every=eval_every, keep_best=True, patience=s["patience"], unfreeze=unfreeze,
                               seed=cfg.seed, progress=pipe.progress, group_by_length=True)
    bar.update(1)
    trainable = int(hist["trainable"][-1]) if hist["trainable"] else 0
    merged = unwrap_lora(model) if cfg.method == "lora" else 0
    model.eval().to("cpu")
    loss_after = ft.evaluate_classifier(model, probe, details=False)["loss"]
    bar.update(1)
    model.save_pretrained(tmp / "model")
    tok.save_pretrained(tmp / "model")
    bar.update(1)
    return {"base_model": "tiny random BERT" if cfg.model == "tiny" else "MiniLM-L6 (all-MiniLM-L6-v2, bundled)",
            "method": cfg.method, "lora_layers": len(wrapped), "lora_merged": merged,
            "lora_r": s["lora_r"] if cfg.method == "lora" else None, "lr": lr, "head_lr": s["head_lr"],
            "batch_size": s["batch_size"], "max_length": s["max_length"], "eval_every": eval_every,
            "patience": s["patience"], "total_params": int(total), "trainable_params": trainable,
            "trainable_share": trainable / max(total, 1), "steps": hist["steps"], "best_step": hist["best_step"],
            "best_val_accuracy": hist["best_val_accuracy"], "stopped_early": hist["stopped_early"],
            "train_seconds": hist["seconds"], "examples_seen": hist["examples"],
            "probe_loss_before": loss_before, "probe_loss_after": loss_after,
            "unk_rate": unk["unk_rate"], "texts_with_unk": unk["texts_with_unk"],
            "history": {k: list(hist[k]) for k in ("step", "train_loss", "eval_step", "val_accuracy", "val_loss")}}


# ------------------------------------------------------------------------------ 4. test, once
def load_classifier(pipe):
    """The fine-tuned classifier and its tokenizer from ``OUT/finetune/model`` (eval mode, CPU)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    path = pipe.path("finetune", "model")
    return AutoModelForSequenceClassification.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)


def _confusion(labels, preds, k: int) -> list[list[int]]:
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (np.asarray(labels), np.asarray(preds)), 1)
    return cm.tolist()


@_steps(3)
def stage_test(pipe, tmp: Path, bar) -> dict:
    """The one look at the test split: the fine-tuned model and the baseline (refitted on train, deterministic)
    side by side, majority-class chance, per-class scores, calibration (ECE, reliability bins; a temperature fitted
    on validation, Guo et al. 2017, and the test ECE after it), the confusion
    matrix and the most confident mistakes (``errors.csv``); probabilities in ``predictions.json``."""
    from labutils.chapters import finetune as ft
    from labutils.eval.calibration import calibration_bins, expected_calibration_error
    s = pipe.cfg.settings
    dd = pipe.dataset()
    names = dd["train"].features["label"].names
    model, tok = load_classifier(pipe)
    enc = ft.tokenize_dataset(dd["test"], tok, max_length=s["max_length"])
    res = ft.evaluate_classifier(model, enc, batch_size=64, device="cpu")
    val = ft.evaluate_classifier(model, ft.tokenize_dataset(dd["validation"], tok, max_length=s["max_length"]),
                                 batch_size=64, device="cpu")
    temperature = fit_temperature(val["probs"], val["labels"])
    scaled = apply_temperature(res["probs"], temperature)
    bar.update(1)
    analyzer, ngrams = _analyzer(pipe.language())
    base = ft.tfidf_baseline(dd["train"], dd["test"], analyzer=analyzer, ngram_range=ngrams)
    labels, probs = res["labels"], res["probs"]
    counts = np.bincount(labels, minlength=len(names))
    bar.update(1)
    texts = list(dd["test"]["text"])
    errors = ft.most_confident_mistakes(texts, labels, probs, k=s["errors"], label_names=names)
    with open(tmp / "errors.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(list(errors.columns))
        w.writerows(errors.itertuples(index=False))
    (tmp / "predictions.json").write_text(json.dumps({"labels": [int(x) for x in labels], "names": names,
                                                      "probs": np.round(probs, 6).tolist(), "texts": texts},
                                                     ensure_ascii=False), encoding="utf-8")
    bar.update(1)
    return {"n_test": len(labels), "accuracy": res["accuracy"], "f1": res["f1"], "loss": res["loss"],
            "per_class": res["per_class"], "ece": expected_calibration_error(probs, labels),
            "temperature": temperature, "ece_after_temperature": expected_calibration_error(scaled, labels),
            "calibration_bins": calibration_bins(probs, labels), "confusion": _confusion(labels, res["preds"],
                                                                                       len(names)),
            "majority_chance": float(counts.max() / max(counts.sum(), 1)),
            "baseline_accuracy": base["accuracy"], "baseline_f1": base["f1"],
            "errors": errors.head(5).to_dict("records"), "n_errors": int((res["preds"] != labels).sum())}


def apply_temperature(probs: Any, temperature: float) -> np.ndarray:
    """Softmax of ``log(probs) / T``: the same ranking (and predictions), softer (T > 1) or sharper (T < 1)."""
    z = np.log(np.clip(np.asarray(probs, dtype=float), 1e-12, 1.0)) / float(temperature)
    z -= z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def fit_temperature(probs: Any, labels: Any, grid: Sequence[float] | None = None) -> float:
    """Temperature scaling (Guo et al. 2017): the ``T`` that minimises the negative log-likelihood of ``labels`` on
    held-out (validation) probabilities, by a grid search over 0.25-8 (log-spaced)."""
    labels = np.asarray(labels)
    if len(labels) == 0:
        return 1.0
    grid = np.exp(np.linspace(np.log(0.25), np.log(8.0), 61)) if grid is None else grid
    nll = [-np.mean(np.log(apply_temperature(probs, t)[np.arange(len(labels)), labels] + 1e-12)) for t in grid]
    return float(grid[int(np.argmin(nll))])


def selective_accuracy(probs: Any, labels: Any, threshold: float) -> dict:
    """Answer only when the top probability is at least ``threshold``: coverage (share answered), accuracy on the
    answered ones, and how many go to a person. The pure function behind notebook 15's widget."""
    probs, labels = np.asarray(probs, dtype=float), np.asarray(labels)
    conf = probs.max(1)
    keep = conf >= float(threshold)
    n = len(labels)
    acc = float((probs[keep].argmax(1) == labels[keep]).mean()) if keep.any() else float("nan")
    return {"threshold": float(threshold), "coverage": float(keep.mean()) if n else 0.0, "accuracy_answered": acc,
            "answered": int(keep.sum()), "to_person": int(n - keep.sum())}
