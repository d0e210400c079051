"""plotly figure builders, and a live loss curve that updates in place.

Builders are pure: they take numbers and return a ``plotly.graph_objects.Figure``; tests call them
directly. :class:`LiveLossPlot` redraws one output in place while a person watches (JupyterLab,
Colab) and shows a single static figure at the end when nobody does (papermill, nbval, CI).
"""
from __future__ import annotations

import time
from typing import Iterable, Mapping, Sequence

import plotly.graph_objects as go

from labutils.core.display import in_notebook  # noqa: F401 (re-exported: lu.plots.in_notebook)
from labutils.core.env import is_headless

TEMPLATE = "plotly_white"


def show(fig) -> None:
    """Display a figure in a notebook; do nothing in a plain script or a test."""
    if in_notebook():
        from IPython.display import display
        display(fig)


def loss_curve_figure(series: Mapping[str, tuple[Sequence[float], Sequence[float]]], *,
                      title: str = "Loss", xlabel: str = "step", ylabel: str = "loss",
                      log_y: bool = False, baselines: Mapping[str, float] | None = None) -> go.Figure:
    """Curves from ``{"train": (steps, values), "validation": (steps, values)}``.

    ``baselines`` draws dashed horizontal reference lines, e.g. ``{"unigram": 3.1}``.
    """
    fig = go.Figure()
    for name, (xs, ys) in series.items():
        mode = "lines" if len(xs) > 30 else "lines+markers"
        fig.add_trace(go.Scatter(x=list(xs), y=list(ys), mode=mode, name=name))
    for name, value in (baselines or {}).items():
        fig.add_hline(y=value, line_dash="dash", annotation_text=name, annotation_position="top right")
    fig.update_layout(title=title, xaxis_title=xlabel, yaxis_title=ylabel, template=TEMPLATE,
                      height=380, margin=dict(l=50, r=20, t=50, b=40))
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def bar_figure(labels: Sequence[str], values: Sequence[float], *, title: str = "", ylabel: str = "",
               text: Iterable[str] | None = None) -> go.Figure:
    """A simple bar chart with the values written on the bars."""
    texts = list(text) if text is not None else [f"{v:.3g}" for v in values]
    fig = go.Figure(go.Bar(x=list(labels), y=list(values), text=texts, textposition="auto"))
    fig.update_layout(title=title, yaxis_title=ylabel, template=TEMPLATE, height=360,
                      margin=dict(l=50, r=20, t=50, b=40))
    return fig


def _bundle(fig: go.Figure) -> dict:
    """The figure as the mime bundle of plotly's current renderer (what ``display(fig)`` would send)."""
    bundle = fig._repr_mimebundle_()
    return bundle or {"text/plain": repr(fig)}


class _LiveSlot:
    """One place on screen where a figure is drawn again and again.

    An ipywidgets ``Output`` that is cleared (``wait=True``) and given the new figure: each redraw is a
    fresh plotly view. ``update_display_data`` is no way to do it in JupyterLab: its plotly renderer
    (jupyterlab-plotly 7.1) ignores a new model once it has drawn one, so the plot stayed at its first,
    empty frame; and ``display(fig, display_id=...)`` drops the id (plotly's ``_ipython_display_``), so
    every update appended a figure. Without ipywidgets: a raw mime bundle with a display id.
    """

    def __init__(self, fig: go.Figure):
        from IPython.display import display
        try:
            import ipywidgets as W
        except ImportError:
            self._out = None
            self._handle = display(_bundle(fig), raw=True, display_id=True)
            return
        self._out = W.Output()
        display(self._out)
        self.show(fig)

    def show(self, fig: go.Figure) -> None:
        if self._out is None:
            self._handle.update(_bundle(fig), raw=True)
            return
        from IPython.display import display
        self._out.clear_output(wait=True)
        with self._out:
            display(fig)


class LiveLossPlot:
    """A loss curve that grows while training runs.

    >>> plot = LiveLossPlot(title="Training")
    >>> for step in range(3):
    ...     plot.update(step, train=1.0 / (step + 1))
    >>> fig = plot.finish()        # the final static figure (also shown once when headless)

    ``every_s`` throttles redraws so a fast loop is not slowed by the browser.
    """

    def __init__(self, title: str = "Loss", *, xlabel: str = "step", ylabel: str = "loss",
                 log_y: bool = False, every_s: float = 1.0, baselines: Mapping[str, float] | None = None,
                 live: bool | None = None):
        self.title, self.xlabel, self.ylabel, self.log_y = title, xlabel, ylabel, log_y
        self.baselines = dict(baselines or {})
        self.every_s = every_s
        self.history: dict[str, tuple[list[float], list[float]]] = {}
        self.live = (in_notebook() and not is_headless()) if live is None else live
        self._handle = None
        self._last = 0.0
        self._finished = False
        if self.live:
            self._handle = _LiveSlot(self.figure())

    def update(self, step: float, **values: float) -> None:
        """Add one point per named series, e.g. ``update(100, train=2.1, validation=2.3)``."""
        for name, value in values.items():
            if value is None:
                continue
            xs, ys = self.history.setdefault(name, ([], []))
            xs.append(float(step))
            ys.append(float(value))
        now = time.monotonic()
        if self._handle is not None and now - self._last >= self.every_s:
            self._handle.show(self.figure())
            self._last = now

    def figure(self) -> go.Figure:
        return loss_curve_figure(self.history, title=self.title, xlabel=self.xlabel,
                                 ylabel=self.ylabel, log_y=self.log_y, baselines=self.baselines)

    def finish(self) -> go.Figure:
        """Draw the final state once (in place when live, as a new output when headless)."""
        fig = self.figure()
        if not self._finished:
            if self._handle is not None:
                self._handle.show(fig)
            elif in_notebook():
                show(fig)
            self._finished = True
        return fig

    def __enter__(self) -> "LiveLossPlot":
        return self

    def __exit__(self, *exc) -> None:
        self.finish()
