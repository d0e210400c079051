"""The one way to build a widget: :func:`interactive_view` over a pure function. Live ipywidgets in JupyterLab;
under papermill or without ipywidgets, the function's output for the default values (a static fallback)."""
from __future__ import annotations

from typing import Any, Callable

from labutils.core.env import is_headless


def _value(control: Any) -> Any:
    return control.value if hasattr(control, "value") else control


class Shown:
    """What :func:`interactive_view` returns: the widget box or static result, already displayed.

    It displays as nothing (so a cell ending in a widget call does not show it twice) and passes
    attribute access through to the wrapped object; ``.value`` is the object itself.
    """

    def __init__(self, value: Any):
        self.value = value

    def __getattr__(self, name: str) -> Any:
        if name == "value":
            raise AttributeError(name)
        return getattr(self.value, name)

    def __repr__(self) -> str:
        return f"Shown({type(self.value).__name__})"

    def _ipython_display_(self) -> None:  # already on screen
        return None


def interactive_view(fn: Callable[..., Any], *, title: str | None = None, **controls: Any) -> Shown:
    """Show ``fn(**values)`` with a control for each argument.

    Controls are ipywidgets (``FloatSlider`` etc.) or fixed values. Returns a :class:`Shown`
    holding the widget box when interactive, or the static result when headless (``.value``).
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
        return Shown(result)
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

    W.interactive_output(redraw, active)   # draws once now, and again on every change
    box = W.VBox([W.HBox(list(active.values()), layout=W.Layout(flex_flow="row wrap")), out])
    display(box)
    return Shown(box)
