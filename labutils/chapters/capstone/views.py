"""Notebook 15, plots of one pipeline run (pure builders: stored results in, a plotly figure out): class balance
and text lengths, the fine-tuning curves, accuracy against the baselines, the load test, and the selective
prediction explorer behind the widget (answer only above a confidence threshold)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from labutils.chapters.capstone.stages import selective_accuracy


def balance_figure(checks: dict, title: str = "Class balance per split"):
    """Grouped bars: rows of each class in train / validation / test (from :func:`data_checks`)."""
    import plotly.graph_objects as go
    fig = go.Figure()
    for name in checks["labels"]:
        splits = list(checks["balance"])
        fig.add_trace(go.Bar(x=splits, y=[checks["balance"][s][name] for s in splits], name=str(name),
                             text=[checks["balance"][s][name] for s in splits], textposition="auto"))
    fig.update_layout(barmode="group", title=title, yaxis_title="rows", template="plotly_white", height=320,
                      margin=dict(l=50, r=20, t=50, b=40))
    return fig


def length_figure(samples: dict[str, Sequence[int]], title: str = "Text length (characters)"):
    """Overlaid histograms of text lengths per split (a sample of each)."""
    import plotly.graph_objects as go
    fig = go.Figure()
    for split, xs in samples.items():
        fig.add_trace(go.Histogram(x=list(xs), name=split, opacity=0.6, histnorm="probability", nbinsx=40))
    fig.update_layout(barmode="overlay", title=title, xaxis_title="characters", yaxis_title="share of texts",
                      template="plotly_white", height=320, margin=dict(l=50, r=20, t=50, b=40))
    return fig


def training_figure(history: dict, baseline_val: float | None = None, title: str = "Fine-tuning"):
    """Training loss per step (left axis) and validation accuracy per evaluation (right axis), with the
    TF-IDF baseline's validation accuracy as a dashed line."""
    import plotly.graph_objects as go
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=history["step"], y=history["train_loss"], mode="lines", name="train loss"))
    fig.add_trace(go.Scatter(x=history["eval_step"], y=history["val_accuracy"], mode="lines+markers",
                             name="validation accuracy", yaxis="y2"))
    if baseline_val is not None:
        fig.add_trace(go.Scatter(x=[0, max(history["step"] or [1])], y=[baseline_val] * 2, mode="lines", yaxis="y2",
                                 name="TF-IDF baseline (validation)", line=dict(dash="dash", color="grey")))
    fig.update_layout(title=title, xaxis_title="optimizer step", yaxis=dict(title="train loss"),
                      yaxis2=dict(title="validation accuracy", overlaying="y", side="right", range=[0, 1]),
                      template="plotly_white", height=360, margin=dict(l=50, r=60, t=50, b=40),
                      legend=dict(orientation="h", y=-0.2))
    return fig


def comparison_figure(test: dict, compress: dict | None = None, title: str = "Test accuracy (one look)"):
    """Bars: majority class, TF-IDF baseline, the fine-tuned model, and its int8 export when there is one."""
    from labutils.viz.plots import bar_figure
    names = ["majority class", "TF-IDF baseline", "fine-tuned"]
    values = [test["majority_chance"], test["baseline_accuracy"], test["accuracy"]]
    if compress and compress.get("enabled"):
        names.append("fine-tuned, ONNX int8")
        values.append(compress["int8_test_accuracy"])
    fig = bar_figure(names, values, title=title, ylabel="accuracy", text=[f"{v:.3f}" for v in values])
    fig.update_yaxes(range=[0, 1])
    return fig


def load_figure(load: dict, title: str = "Load test latency (ms)"):
    """Bars of the load test's p50 / p95 / p99 latency, with requests/s in the title."""
    from labutils.viz.plots import bar_figure
    keys = ("p50_ms", "p95_ms", "p99_ms")
    fig = bar_figure([k.split("_")[0] for k in keys], [load[k] for k in keys], ylabel="ms",
                     title=f"{title}: {load['rps']:.0f} requests/s at concurrency {load['concurrency']}, "
                           f"{load['n_5xx']} × 5xx")
    return fig


def selective_figure(probs: Any, labels: Any, threshold: float = 0.8, title: str | None = None):
    """Accuracy on the answered texts and coverage for every confidence threshold (curves), with the chosen
    ``threshold`` marked; the title says how many texts would go to a person."""
    import plotly.graph_objects as go
    probs, labels = np.asarray(probs, dtype=float), np.asarray(labels)
    k = probs.shape[1]
    grid = np.round(np.linspace(1 / k, 1.0, 41), 4)
    rows = [selective_accuracy(probs, labels, t) for t in grid]
    here = selective_accuracy(probs, labels, threshold)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=grid, y=[r["accuracy_answered"] for r in rows], mode="lines", name="accuracy (answered)"))
    fig.add_trace(go.Scatter(x=grid, y=[r["coverage"] for r in rows], mode="lines", name="coverage (share answered)"))
    fig.add_vline(x=float(threshold), line_dash="dash", line_color="grey")
    acc = "-" if np.isnan(here["accuracy_answered"]) else f"{here['accuracy_answered']:.3f}"
    fig.update_layout(title=title or (f"threshold {threshold:.2f}: answers {here['coverage']:.0%} with accuracy {acc}; "
                                      f"{here['to_person']} of {len(labels)} to a person"),
                      xaxis_title="confidence threshold (top probability)", yaxis=dict(range=[0, 1.05]),
                      template="plotly_white", height=340, margin=dict(l=50, r=20, t=50, b=40))
    return fig
