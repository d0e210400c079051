"""Notebook 12's widget: from measured throughput to replicas and a monthly bill (traffic, price per core-hour,
target utilisation). A view over :func:`labutils.chapters.serving.cost.capacity_figure`."""
from __future__ import annotations

from labutils.viz.interactive import interactive_view


def capacity_widget(rows: list[dict], cores_per_replica: float = 2.0):
    """Notebook 12: move the traffic, the price per core-hour and the head-room; the bars show what each measured
    variant (rows with ``name`` and ``rps``) would cost per month, and how many replicas it needs."""
    import ipywidgets as W

    from labutils.chapters.serving.cost import PRICE_PER_CORE_HOUR, capacity_figure
    style = {"description_width": "initial"}
    return interactive_view(
        capacity_figure,
        title="What does this traffic cost to serve?",
        rows=list(rows),
        traffic_rps=W.FloatLogSlider(value=500, base=10, min=0, max=5, step=0.1, description="traffic (req/s)",
                                     continuous_update=False, style=style),
        price_per_core_hour=W.FloatSlider(value=PRICE_PER_CORE_HOUR, min=0.005, max=0.2, step=0.005,
                                          description="USD per core-hour", continuous_update=False, style=style,
                                          readout_format=".3f"),
        target_utilisation=W.FloatSlider(value=0.6, min=0.2, max=1.0, step=0.05, description="max busy share",
                                         continuous_update=False, style=style),
        cores_per_replica=cores_per_replica,
    )
