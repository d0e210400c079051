"""ipywidgets front-ends: each one is a thin view over a pure function that tests call directly.

:func:`interactive_view` is the one mechanism: give it a pure function that returns something
displayable (a plotly figure, text, a DataFrame) and the controls for its arguments. A person
gets sliders; papermill/nbval/CI (see :func:`labutils.env.is_headless`) get one static output
computed from the controls' starting values, so stored notebooks stay readable.
"""
from __future__ import annotations

from typing import Any, Callable

from .env import is_headless

__all__ = ["interactive_view", "gradient_descent_widget"]


def _value(control: Any) -> Any:
    return control.value if hasattr(control, "value") else control


def interactive_view(fn: Callable[..., Any], *, title: str | None = None, **controls: Any):
    """Show ``fn(**values)`` with a control for each argument.

    Controls are ipywidgets (``FloatSlider`` etc.) or fixed values. Returns the widget box when
    interactive, or the static result when headless.
    """
    from IPython.display import HTML, display
    if title:
        display(HTML(f"<b>{title}</b>"))
    if is_headless():
        result = fn(**{k: _value(c) for k, c in controls.items()})
        note = ", ".join(f"{k}={_value(c)!r}" for k, c in controls.items())
        display(HTML(f"<i>Interactive widget (static here: {note}). Open the notebook in "
                     "JupyterLab or Colab to move the controls.</i>"))
        display(result)
        return result
    import ipywidgets as W
    out = W.Output()
    active = {k: c for k, c in controls.items() if isinstance(c, W.Widget)}
    fixed = {k: c for k, c in controls.items() if not isinstance(c, W.Widget)}

    def redraw(**values: Any) -> None:
        out.clear_output(wait=True)
        with out:
            try:
                display(fn(**values, **fixed))
            except Exception as err:  # noqa: BLE001 - show the learner a sentence, keep the widget alive
                print(f"⚠ {type(err).__name__}: {err}")

    W.interactive_output(redraw, active)
    box = W.VBox([W.HBox(list(active.values()), layout=W.Layout(flex_flow="row wrap")), out])
    display(box)
    redraw(**{k: c.value for k, c in active.items()})
    return box


def gradient_descent_widget():
    """Notebook 00's first widget: gradient descent on a 1-D bowl, learning rate on a slider."""
    import ipywidgets as W
    from .toys import gradient_descent_figure
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
