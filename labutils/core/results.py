"""Figures a run produced: ``record(name, value)`` shows them and, for tests and reports, logs them.

When the environment variable ``LABUTILS_RESULTS`` names a file, each call appends one JSON line
``{"notebook", "name", "value", "profile", "time", ...context}``. Tests and benchmarks read
figures only through this file (see :func:`read`).
"""
from __future__ import annotations

import json
import math
import numbers
import os
import time
from pathlib import Path
from typing import Any

_notebook: str | None = None


def set_notebook(name: str | None) -> None:
    """Name the notebook whose figures follow (``labutils.start`` calls this)."""
    global _notebook
    _notebook = name


def current_notebook() -> str:
    return _notebook or os.environ.get("LABUTILS_NOTEBOOK") or "interactive"


def to_jsonable(value: Any) -> Any:
    """Turn numpy/torch scalars and arrays, tuples and paths into plain JSON values."""
    if hasattr(value, "detach"):  # torch tensor
        value = value.detach().cpu()
        value = value.item() if value.numel() == 1 else value.tolist()
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy
        value = value.tolist()
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        v = float(value)
        return v if math.isfinite(v) else str(v)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return str(value)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def record(name: str, value: Any, *, show: bool = True, **context: Any) -> None:
    """Show a key figure and log it (when ``LABUTILS_RESULTS`` is set).

    Returns None, so a notebook cell ending in ``record(...)`` shows the figure once.

    ``context`` carries what the figure depends on, e.g. ``record("val_loss", 1.93, steps=300)``.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError("record() needs a non-empty figure name, e.g. record('val_loss', 1.9).")
    from labutils.core.profiles import current
    entry = {"notebook": current_notebook(), "name": name, "value": to_jsonable(value),
             "profile": current(), "time": round(time.time(), 3)}
    entry.update({k: to_jsonable(v) for k, v in context.items()})
    target = os.environ.get("LABUTILS_RESULTS")
    if target:
        path = Path(target).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
    if show:
        extra = ", ".join(f"{k}={_fmt(to_jsonable(v))}" for k, v in context.items())
        print(f"📌 {name} = {_fmt(entry['value'])}" + (f"  ({extra})" if extra else ""))


def read(path: str | os.PathLike | None = None, notebook: str | None = None) -> list[dict]:
    """All recorded entries in ``path`` (default ``$LABUTILS_RESULTS``), optionally of one notebook."""
    path = path or os.environ.get("LABUTILS_RESULTS")
    if not path or not Path(path).exists():
        return []
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line:
                entry = json.loads(line)
                if notebook is None or entry.get("notebook") == notebook:
                    out.append(entry)
    return out


def latest(entries: list[dict]) -> dict[str, Any]:
    """``{name: value}`` keeping the last value recorded under each name."""
    return {e["name"]: e["value"] for e in entries}
