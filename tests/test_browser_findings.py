"""Defects tests/test_browser.py found in JupyterLab, pinned down without a browser.

1. A watched LiveLossPlot must redraw ONE place on screen. Found in the browser: ``display(fig, display_id=True)`` drops the id (plotly's ``_ipython_display_``), so
every update appended a figure; and JupyterLab's plotly renderer ignores ``update_display_data`` once it
has drawn, so an in-place update stayed at the first, empty frame. The plot now redraws inside one
ipywidgets ``Output`` (cleared with ``wait=True`` before each figure), or, without ipywidgets, sends raw
mime bundles under one display id.

2. ``interactive_view`` drew every widget twice when it was created (``interactive_output`` already
draws once), doubling the first draw's cost (a generation, a model call).
"""
from __future__ import annotations

import sys

import pytest

from labutils.viz import plots

PLOTLY = "application/vnd.plotly.v1+json"
WIDGET = "application/vnd.jupyter.widget-view+json"


@pytest.fixture
def published(monkeypatch):
    import plotly.io as pio
    from IPython.core import display_functions
    from IPython.core.interactiveshell import InteractiveShell
    InteractiveShell.instance()
    monkeypatch.setattr(pio.renderers, "default", "plotly_mimetype")
    sent = []
    monkeypatch.setattr(display_functions, "publish_display_data",
                        lambda data=None, metadata=None, transient=None, update=False, **kw:
                        sent.append({"data": data, "transient": transient or {}, "update": update}))
    return sent


def _points(msg) -> int:
    fig = msg["data"][PLOTLY]
    return len(fig["data"][0]["x"]) if fig["data"] else 0


def _run_plot() -> None:
    plot = plots.LiveLossPlot(title="t", every_s=0.0, live=True)
    for step in range(3):
        plot.update(step, train=1.0 / (step + 1))
    plot.finish()


def test_live_plot_redraws_inside_one_output_widget(published, monkeypatch):
    import ipywidgets as W
    events = []
    monkeypatch.setattr(W.Output, "clear_output", lambda self, *a, **kw: events.append(("clear", kw.get("wait"))))
    _run_plot()
    widgets = [m for m in published if WIDGET in m["data"]]
    figs = [m for m in published if PLOTLY in m["data"]]
    assert len(widgets) == 1, "one Output widget holds the plot"
    assert [_points(m) for m in figs] == [0, 1, 2, 3, 3]
    assert events == [("clear", True)] * len(figs), "each figure replaces the previous one"


def test_live_plot_without_ipywidgets_updates_one_display_id(published, monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    _run_plot()
    ids = {m["transient"].get("display_id") for m in published}
    assert len(ids) == 1 and None not in ids, published
    assert [m["update"] for m in published] == [False, True, True, True, True]
    assert [_points(m) for m in published] == [0, 1, 2, 3, 3]


def test_interactive_view_draws_once_when_created(monkeypatch):
    import ipywidgets as W

    from labutils.viz.interactive import interactive_view
    monkeypatch.setenv("LABUTILS_HEADLESS", "0")
    calls = []
    slider = W.IntSlider(value=2, min=0, max=5)
    interactive_view(lambda n: calls.append(n) or n, n=slider)
    assert calls == [2]
    slider.value = 3
    assert calls == [2, 3]
