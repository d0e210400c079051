"""Notebook 00's widget: gradient descent on a bowl, step size as a slider."""
from __future__ import annotations

from labutils.viz.interactive import interactive_view


def gradient_descent_widget():
    """Notebook 00's first widget: gradient descent on a 1-D bowl, learning rate on a slider."""
    import ipywidgets as W

    from labutils.chapters.toys import gradient_descent_figure
    return interactive_view(
        gradient_descent_figure,
        title="Gradient descent on f(x) = a·x²: move the learning rate and watch the steps",
        lr=W.FloatLogSlider(value=0.1, base=10, min=-3, max=0.5, step=0.05, description="learning rate",
                            readout_format=".3f", continuous_update=False),
        steps=W.IntSlider(value=20, min=1, max=60, description="steps", continuous_update=False),
        curvature=W.FloatSlider(value=1.0, min=0.2, max=3.0, step=0.1, description="a (curvature)",
                                continuous_update=False),
        start=4.0,
    )
