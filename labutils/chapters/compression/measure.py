"""Size on disk, latency (p50 of repeated runs) and the Pareto table of compression variants."""
from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import torch


def size_on_disk_mb(model_or_path) -> float:
    """Megabytes (10⁶ bytes) on disk: a file or folder as it is, or a model saved with ``torch.save`` of its
    state dict (quantized tensor subclasses included)."""
    if isinstance(model_or_path, (str, Path)):
        p = Path(model_or_path)
        files = [p] if p.is_file() else [f for f in p.rglob("*") if f.is_file()]
        return sum(f.stat().st_size for f in files) / 1e6
    if getattr(model_or_path, "onnx_path", None) is not None:          # an ONNX Runtime model (serving.ort_classifier)
        from labutils.chapters.serving.onnx import onnx_size_mb
        return onnx_size_mb(model_or_path.onnx_path)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "state.pt")
        torch.save(model_or_path.state_dict(), path)
        return os.path.getsize(path) / 1e6


def latency_p50_ms(fn: Callable[[], object], repeats: int = 10, warmup: int = 2) -> float:
    """Median wall time of ``fn()`` in milliseconds over ``repeats`` runs after ``warmup`` untimed ones."""
    with torch.inference_mode():
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def pareto_front(rows: list[dict], cost: str = "latency_b1_ms", quality: str = "accuracy") -> list[str]:
    """Names of the variants no other variant beats on both ``cost`` (lower is better) and ``quality``
    (higher is better)."""
    front = []
    for r in rows:
        dominated = any(o is not r and o[cost] <= r[cost] and o[quality] >= r[quality]
                        and (o[cost] < r[cost] or o[quality] > r[quality]) for o in rows)
        if not dominated:
            front.append(r["variant"])
    return front


def pick_variant(rows: list[dict], max_latency_ms: float | None = None, max_size_mb: float | None = None,
                 quality: str = "accuracy") -> dict | None:
    """The most accurate variant within the budget (latency at batch 1 and/or size on disk); ``None`` if none fits."""
    ok = [r for r in rows if (max_latency_ms is None or r["latency_b1_ms"] <= max_latency_ms)
          and (max_size_mb is None or r["size_mb"] <= max_size_mb)]
    return max(ok, key=lambda r: (r[quality], -r["latency_b1_ms"])) if ok else None


def pareto_figure(rows: list[dict], max_latency_ms: float | None = None, max_size_mb: float | None = None,
                  quality: str = "accuracy"):
    """Plotly scatter: latency at batch 1 against quality, marker size ∝ size on disk; the Pareto front joined;
    the variant :func:`pick_variant` chooses for the budget marked with a star."""
    import plotly.graph_objects as go
    front = set(pareto_front(rows, quality=quality))
    best = pick_variant(rows, max_latency_ms, max_size_mb, quality)
    fig = go.Figure()
    fig.add_scatter(x=[r["latency_b1_ms"] for r in rows], y=[r[quality] for r in rows], mode="markers+text",
                    text=[r["variant"] for r in rows], textposition="top center", name="variants",
                    marker=dict(size=[8 + 30 * r["size_mb"] / max(x["size_mb"] for x in rows) for r in rows]))
    fr = sorted((r for r in rows if r["variant"] in front), key=lambda r: r["latency_b1_ms"])
    fig.add_scatter(x=[r["latency_b1_ms"] for r in fr], y=[r[quality] for r in fr], mode="lines", name="Pareto front")
    if best is not None:
        fig.add_scatter(x=[best["latency_b1_ms"]], y=[best[quality]], mode="markers", name=f"pick: {best['variant']}",
                        marker=dict(symbol="star", size=18))
    if max_latency_ms is not None:
        fig.add_vline(x=max_latency_ms, line_dash="dot")
    fig.update_layout(title="Compression variants: latency (batch 1, p50) vs " + quality,
                      xaxis_title="latency at batch 1, p50 (ms)", yaxis_title=quality, height=420)
    return fig
