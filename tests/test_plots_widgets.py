import plotly.graph_objects as go
import pytest

from labutils import widgets
from labutils.chapters import toys
from labutils.viz import plots


def test_gradient_descent_converges_below_critical_lr_and_diverges_above():
    a = 2.0
    crit = toys.critical_learning_rate(a)
    below = toys.gradient_descent_1d(0.9 * crit, 50, curvature=a, start=3.0)
    above = toys.gradient_descent_1d(1.1 * crit, 50, curvature=a, start=3.0)
    assert abs(below[-1]) < 1e-3 and abs(above[-1]) > 3.0
    assert len(below) == 51
    # one step is exactly x * (1 - 2 a lr)
    assert toys.gradient_descent_1d(0.1, 1, curvature=1.0, start=4.0) == [4.0, 4.0 * 0.8]
    with pytest.raises(ValueError):
        toys.gradient_descent_1d(0.1, -1)


def test_gradient_descent_figure_shape_and_verdict():
    fig = toys.gradient_descent_figure(lr=0.1, steps=10, curvature=1.0)
    assert isinstance(fig, go.Figure) and len(fig.data) == 3
    assert len(fig.data[1].x) == 11 and "converges" in fig.layout.title.text
    assert "diverges" in toys.gradient_descent_figure(lr=1.2, steps=5).layout.title.text


def test_loss_curve_figure_with_baseline():
    fig = plots.loss_curve_figure({"train": ([0, 1], [2.0, 1.0]), "validation": ([1], [1.5])},
                                  baselines={"unigram": 3.0}, log_y=True)
    assert [t.name for t in fig.data] == ["train", "validation"]
    assert fig.layout.yaxis.type == "log" and len(fig.layout.shapes) == 1


def test_live_loss_plot_collects_and_finishes_headless():
    plot = plots.LiveLossPlot(live=False)
    for step in range(5):
        plot.update(step, train=1.0 / (step + 1), validation=None if step % 2 else 2.0 / (step + 1))
    fig = plot.finish()
    assert plot.history["train"][1][-1] == pytest.approx(0.2)
    assert len(plot.history["validation"][0]) == 3
    assert len(fig.data) == 2


def test_bar_figure():
    fig = plots.bar_figure(["a", "b"], [1.0, 2.5])
    assert list(fig.data[0].y) == [1.0, 2.5] and fig.data[0].text[1] == "2.5"


def test_interactive_view_headless_returns_static_result(monkeypatch):
    monkeypatch.setenv("LABUTILS_HEADLESS", "1")
    out = widgets.interactive_view(lambda x, y: x + y, x=3, y=4).value
    assert out == 7


def test_interactive_view_builds_widget_when_watched(monkeypatch):
    import ipywidgets as W
    monkeypatch.setenv("LABUTILS_HEADLESS", "0")
    seen = []
    slider = W.IntSlider(value=2, min=0, max=5)
    box = widgets.interactive_view(lambda n, k: seen.append((n, k)) or n, n=slider, k="fixed").value
    assert isinstance(box, W.VBox) and seen[-1] == (2, "fixed")
    slider.value = 4
    assert seen[-1] == (4, "fixed")


def test_gradient_descent_widget_headless(monkeypatch):
    monkeypatch.setenv("LABUTILS_HEADLESS", "1")
    fig = widgets.gradient_descent_widget().value
    assert isinstance(fig, go.Figure)
