"""Notebook 11's widget: pick the best compression variant for a latency or size budget. A view over
:func:`labutils.chapters.compression.measure.pareto_figure` (which marks :func:`pick_variant`'s choice)."""
from __future__ import annotations

from labutils.viz.interactive import interactive_view


def budget_widget(rows: list[dict], quality: str = "accuracy"):
    """Notebook 11: move the latency (batch 1) and size budgets; the star marks the most accurate variant that fits."""
    import ipywidgets as W

    from labutils.chapters.compression.measure import pareto_figure
    lat = max(r["latency_b1_ms"] for r in rows)
    size = max(r["size_mb"] for r in rows)
    style = {"description_width": "initial"}
    return interactive_view(
        lambda max_latency_ms, max_size_mb: pareto_figure(rows, max_latency_ms, max_size_mb, quality),
        title="Which variant fits the budget?",
        max_latency_ms=W.FloatSlider(value=lat, min=0, max=lat * 1.1, step=lat / 50, description="max latency b1 (ms)",
                                     continuous_update=False, style=style),
        max_size_mb=W.FloatSlider(value=size, min=0, max=size * 1.1, step=size / 50, description="max size (MB)",
                                  continuous_update=False, style=style),
    )
