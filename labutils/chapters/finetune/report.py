"""Notebook 06, reporting a classifier honestly: a TF-IDF baseline, the confusion matrix, reliability diagram,
most confident mistakes, the [UNK] rate of a tokenizer on a language, and loss curves of several runs."""
from __future__ import annotations

import time
from typing import Iterable, Sequence

import numpy as np

from labutils.chapters.finetune.loop import _label_names, predict_proba
from labutils.core.errors import FinetuneError
from labutils.eval.calibration import calibration_bins, expected_calibration_error


def confusion_matrix_figure(labels: Sequence[int], preds: Sequence[int], label_names: Sequence[str] | None = None,
                            normalize: bool = False, title: str = "Confusion matrix"):
    """A plotly heatmap: rows = true class, columns = predicted class, counts (or row fractions
    with ``normalize``) written in each cell."""
    import plotly.graph_objects as go
    labels, preds = np.asarray(labels), np.asarray(preds)
    k = int(max(labels.max(initial=0), preds.max(initial=0))) + 1
    if label_names is not None:
        k = max(k, len(label_names))
    names = list(label_names) if label_names is not None else [str(i) for i in range(k)]
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (labels, preds), 1)
    z = cm / np.maximum(cm.sum(1, keepdims=True), 1) if normalize else cm
    text = [[(f"{z[i, j]:.2f}" if normalize else str(cm[i, j])) for j in range(k)] for i in range(k)]
    fig = go.Figure(go.Heatmap(z=z, x=[f"pred {n}" for n in names], y=[f"true {n}" for n in names],
                               text=text, texttemplate="%{text}", colorscale="Blues", showscale=False))
    fig.update_layout(title=title, template="plotly_white", height=340, width=420,
                      yaxis=dict(autorange="reversed"), margin=dict(l=80, r=20, t=50, b=40))
    return fig


def reliability_figure(probs: np.ndarray, labels: Sequence[int], n_bins: int = 10, title: str | None = None):
    """Reliability diagram: accuracy per confidence bin (bars, with counts) against the diagonal of
    perfect calibration; the title carries the ECE."""
    import plotly.graph_objects as go
    rows = calibration_bins(probs, labels, n_bins)
    ece = expected_calibration_error(probs, labels, n_bins)
    centers = [(r["low"] + r["high"]) / 2 for r in rows]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=centers, y=[r["accuracy"] for r in rows], width=1 / n_bins * 0.9, name="accuracy",
                         text=[f"n={r['count']}" for r in rows], textposition="outside"))
    fig.add_trace(go.Scatter(x=centers, y=[r["confidence"] for r in rows], mode="markers", name="mean confidence",
                             marker=dict(symbol="x", size=9)))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect calibration",
                             line=dict(dash="dash", color="grey")))
    fig.update_layout(title=title or f"Reliability diagram (ECE = {ece:.3f})", xaxis_title="confidence (top probability)",
                      yaxis_title="accuracy", template="plotly_white", height=360,
                      xaxis=dict(range=[0, 1]), yaxis=dict(range=[0, 1.1]), margin=dict(l=50, r=20, t=50, b=40))
    return fig


def most_confident_mistakes(texts: Sequence[str], labels: Sequence[int], probs: np.ndarray, k: int = 10,
                            label_names: Sequence[str] | None = None):
    """The ``k`` wrong predictions the model was surest of, as a pandas DataFrame
    (text, true, predicted, confidence), most confident first."""
    import pandas as pd
    probs = np.asarray(probs)
    labels = np.asarray(labels)
    preds = probs.argmax(1)
    conf = probs.max(1)
    wrong = np.flatnonzero(preds != labels)
    order = wrong[np.argsort(-conf[wrong], kind="stable")][:k]
    name = (lambda i: label_names[i]) if label_names is not None else (lambda i: int(i))
    return pd.DataFrame({"text": [texts[i] for i in order], "true": [name(labels[i]) for i in order],
                         "predicted": [name(preds[i]) for i in order],
                         "confidence": [round(float(conf[i]), 3) for i in order]})


# ----------------------------------------------------------------------------- baselines, diagnostics
def tfidf_baseline(train, test, analyzer: str = "word", ngram_range: tuple[int, int] = (1, 2),
                   C: float = 4.0, max_features: int | None = 100_000, text_column: str = "text",
                   label_column: str = "label") -> dict:
    """TF-IDF features + logistic regression (scikit-learn), fitted on ``train``, scored on ``test``.

    ``analyzer="char"`` gives character n-grams (for Chinese, which has no spaces). Returns
    ``{"accuracy", "f1" (macro), "seconds", "probs", "pipeline"}``.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from labutils.eval import metrics
    if analyzer not in ("word", "char", "char_wb"):
        raise FinetuneError(f"analyzer must be 'word', 'char' or 'char_wb', not {analyzer!r}.")
    t0 = time.perf_counter()
    pipe = make_pipeline(TfidfVectorizer(analyzer=analyzer, ngram_range=tuple(ngram_range), sublinear_tf=True,
                                         max_features=max_features, min_df=1),
                         LogisticRegression(C=C, max_iter=2000))
    pipe.fit(list(train[text_column]), list(train[label_column]))
    probs = pipe.predict_proba(list(test[text_column]))
    preds = pipe.classes_[probs.argmax(1)]
    res = metrics.compute_classification(preds, list(test[label_column]), average="macro")
    return {"accuracy": float(res["accuracy"]), "f1": float(res["f1"]), "seconds": time.perf_counter() - t0,
            "probs": probs, "pipeline": pipe}


def unk_rate(tokenizer, texts: Iterable[str]) -> dict:
    """How much of ``texts`` the tokenizer maps to its unknown token: ``{"unk_rate"`` (fraction of
    tokens, special tokens excluded), ``"texts_with_unk"`` (fraction of texts with at least one),
    ``"tokens_per_text"``, ``"examples"`` (a few input characters that became [UNK])}."""
    unk = tokenizer.unk_token_id
    if unk is None:
        raise FinetuneError("This tokenizer has no unknown token (byte-level tokenizers never need one).")
    n_tok = n_unk = n_texts = with_unk = 0
    seen: dict[str, int] = {}
    for text in texts:
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids = enc["input_ids"]
        n_texts += 1
        n_tok += len(ids)
        hits = [i for i, t in enumerate(ids) if t == unk]
        n_unk += len(hits)
        with_unk += bool(hits)
        for i in hits[:3]:
            a, b = enc["offset_mapping"][i]
            seen[text[a:b]] = seen.get(text[a:b], 0) + 1
    common = sorted(seen, key=lambda s: -seen[s])[:10]
    return {"unk_rate": n_unk / max(n_tok, 1), "texts_with_unk": with_unk / max(n_texts, 1),
            "tokens_per_text": n_tok / max(n_texts, 1), "examples": common}


def prediction_figure(model, tokenizer, text: str, max_length: int = 128):
    """One sentence → a bar chart of the class probabilities, titled with the predicted label
    (the pure function behind notebook 06's widget)."""
    import plotly.graph_objects as go
    text = (text or "").strip()
    if not text:
        raise FinetuneError("Type a sentence first.")
    probs = predict_proba(model, tokenizer, [text], max_length=max_length)[0]
    names = _label_names(model, len(probs))
    best = int(probs.argmax())
    fig = go.Figure(go.Bar(x=[float(p) for p in probs], y=names, orientation="h",
                           text=[f"{p:.1%}" for p in probs], textposition="auto",
                           marker_color=["#2a9d8f" if i == best else "#b0b0b0" for i in range(len(probs))]))
    short = text if len(text) <= 70 else text[:67] + "…"
    fig.update_layout(title=f"{names[best]} ({probs[best]:.1%}) · “{short}”", xaxis=dict(range=[0, 1]),
                      xaxis_title="probability", template="plotly_white", height=220,
                      margin=dict(l=90, r=20, t=50, b=40))
    return fig


def history_figure(histories: dict[str, dict], metric: str = "train_loss", title: str | None = None):
    """Curves of several :func:`train_classifier` histories: ``metric`` is ``train_loss`` (per
    step, smoothed over 5 steps) or ``val_accuracy`` / ``val_loss`` / ``val_f1`` (per evaluation)."""
    from labutils.viz.plots import loss_curve_figure
    series = {}
    for name, h in histories.items():
        if metric == "train_loss":
            ys = np.asarray(h["train_loss"], dtype=float)
            w = min(5, len(ys)) or 1
            smooth = np.convolve(ys, np.ones(w) / w, mode="valid") if len(ys) >= w else ys
            series[name] = (list(h["step"][w - 1:]) if len(ys) >= w else list(h["step"]), list(smooth))
        else:
            series[name] = (list(h["eval_step"]), list(h[metric]))
    return loss_curve_figure(series, title=title or metric.replace("_", " "), xlabel="optimizer step",
                             ylabel=metric.replace("_", " "))
