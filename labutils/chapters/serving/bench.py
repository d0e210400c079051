"""Notebook 12, measuring inference before serving it: eager PyTorch against ONNX Runtime across batch sizes and
sequence lengths, and ONNX Runtime's graph optimisation levels and thread counts.

Timings are the median (p50) of repeated calls after a warm-up, in milliseconds; the inputs are real sentences
padded or truncated to exactly the sequence length asked for, so each cell of a grid does the same work.
"""
from __future__ import annotations

import time
from typing import Callable, Sequence

from labutils.chapters.serving.onnx import OPT_LEVELS, ort_feeds, ort_session


def time_ms(fn: Callable[[], object], repeats: int = 20, warmup: int = 3) -> float:
    """Median wall time of ``fn()`` in ms over ``repeats`` calls, after ``warmup`` untimed calls."""
    for _ in range(max(0, warmup)):
        fn()
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    n = len(times)
    return times[n // 2] if n % 2 else (times[n // 2 - 1] + times[n // 2]) / 2


def fixed_inputs(tokenizer, texts: Sequence[str], batch: int, seq: int) -> dict:
    """A batch of ``batch`` real sentences, each padded or truncated to exactly ``seq`` tokens (torch tensors)."""
    rows = [texts[i % len(texts)] for i in range(batch)]
    enc = tokenizer(rows, padding="max_length", truncation=True, max_length=seq, return_tensors="pt")
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}


def eager_fn(model, inputs: dict) -> Callable[[], object]:
    """A call of the eager model on ``inputs`` under ``torch.inference_mode`` (no autograd bookkeeping)."""
    import torch

    def run():
        with torch.inference_mode():
            return model(**inputs).logits
    return run


def ort_fn(session, inputs: dict) -> Callable[[], object]:
    """A call of an ONNX Runtime session on ``inputs`` (the feed dict is built once, outside the timing)."""
    feeds = ort_feeds(session, inputs)
    return lambda: session.run(["logits"], feeds)


def eager_vs_ort(model, sessions: dict, tokenizer, texts: Sequence[str], batch_sizes: Sequence[int] = (1, 8, 32),
                 seq_lens: Sequence[int] = (16, 64, 128), repeats: int = 20) -> list[dict]:
    """p50 latency (ms) of eager PyTorch and of each ONNX Runtime session (``{"ort fp32": s, ...}``) on a grid
    of batch sizes × sequence lengths; each row also carries the speed-up over eager of every session."""
    rows = []
    for b in batch_sizes:
        for s in seq_lens:
            x = fixed_inputs(tokenizer, texts, b, s)
            reps = max(3, repeats // max(1, b // 4)) if b > 1 else repeats
            row = {"batch": b, "seq": s, "eager_ms": time_ms(eager_fn(model, x), reps)}
            for name, sess in sessions.items():
                row[f"{name}_ms"] = time_ms(ort_fn(sess, x), reps)
                row[f"{name}_speedup"] = row["eager_ms"] / row[f"{name}_ms"]
            rows.append(row)
    return rows


def session_sweep(path, inputs: dict, opt_levels: Sequence[str] = OPT_LEVELS, threads: Sequence[int] = (1, 2),
                  repeats: int = 30, spin: bool | None = None) -> list[dict]:
    """p50 latency (ms) of one ONNX model for every graph optimisation level × intra-op thread count."""
    rows = []
    for level in opt_levels:
        for t in threads:
            sess = ort_session(path, intra_threads=t, opt_level=level, spin=spin)
            rows.append({"opt_level": level, "threads": t, "ms": time_ms(ort_fn(sess, inputs), repeats)})
    return rows


def best_setting(rows: Sequence[dict]) -> dict:
    """The fastest row of :func:`session_sweep`."""
    return min(rows, key=lambda r: r["ms"])


def latency_figure(rows: Sequence[dict], names: Sequence[str] = ("eager",), title: str = "Latency by batch and length"):
    """plotly: p50 latency per sequence length, one line per (engine, batch size); log y axis."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for name in names:
        for b in sorted({r["batch"] for r in rows}):
            sel = [r for r in rows if r["batch"] == b]
            fig.add_scatter(x=[r["seq"] for r in sel], y=[r[f"{name}_ms"] for r in sel], mode="lines+markers",
                            name=f"{name} b{b}", line={"dash": "solid" if name == "eager" else "dot"})
    fig.update_layout(title=title, xaxis_title="sequence length (tokens)", yaxis_title="p50 latency (ms)",
                      yaxis_type="log", height=360, margin={"t": 50})
    return fig
