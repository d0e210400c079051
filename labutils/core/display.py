"""Show a result the right way for where the code runs: rich display in a notebook, plain text elsewhere."""
from __future__ import annotations

from typing import Any, Callable


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where ``display()`` reaches a front end)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and shell.__class__.__name__ in ("ZMQInteractiveShell", "Shell")


def display_or_print(obj: Any, text: str | Callable[[], str] | None = None) -> None:
    """``display(obj)`` in a notebook; else print ``text`` (a string or a function making one), or ``str(obj)``.

    The one "display, else print" of the package: tables, contexts and cards all go through it.
    """
    if in_notebook():
        from IPython.display import display
        display(obj)
        return
    print(text() if callable(text) else (str(obj) if text is None else text))
