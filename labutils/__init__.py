"""labutils: the helper package of LLM Lab (大语言模型原理与工程实践).

Every notebook starts with::

    import labutils as lu
    ctx = lu.start("04_pretraining_a_gpt", profile=PROFILE)

which quiets library noise, resolves the run profile, seeds everything and shows the hardware.
Submodules (``lu.data``, ``lu.models``, ...) are imported on first use.
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import Any

from . import env, profiles, results
from .env import cache_home, describe, device, seed_everything
from .exercises import check, hint, solution
from .profiles import settings
from .results import record

__version__ = "0.1.0"
__all__ = ["start", "Context", "check", "hint", "solution", "record", "settings", "device",
           "describe", "seed_everything", "cache_home"]

_LAZY = {"data", "models", "metrics", "plots", "widgets", "training", "toys", "exercises"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'labutils' has no attribute {name!r}")


@dataclasses.dataclass
class Context:
    """What :func:`start` decided: the notebook, profile (and why), device, seed, hardware."""

    notebook: str
    profile: str
    reason: str
    device: Any
    seed: int
    info: Any

    def _repr_html_(self) -> str:
        return (f"<p><b>{self.notebook}</b> · profile <b>{self.profile}</b> ({self.reason}) · "
                f"device <b>{self.device}</b> · seed {self.seed}</p>" + self.info._repr_html_())

    def __str__(self) -> str:
        return (f"{self.notebook}: profile {self.profile} ({self.reason}), device {self.device}, "
                f"seed {self.seed}\n{self.info}")


def start(notebook: str, profile: str | None = None, seed: int = 0, show: bool = True) -> Context:
    """Set a notebook up: quiet the libraries, pick the profile, seed, and describe the hardware.

    ``profile`` is the notebook's papermill parameter ``PROFILE`` (None = automatic).
    """
    env.quiet()
    name, reason = profiles.explain(profile)
    profiles._set_current(name, reason)
    results.set_notebook(notebook)
    seed_everything(seed)
    info = describe()
    ctx = Context(notebook, name, reason, device(), seed, info)
    if name == "gpu" and info.device != "cuda":
        print("⚠ The gpu profile was chosen but no CUDA GPU is visible: expect it to be slow here.")
    if show:
        from .plots import in_notebook
        if in_notebook():
            from IPython.display import display
            display(ctx)
        else:
            print(ctx)
    return ctx


def course_map(show: bool = True):
    """The 16 notebooks with one line each, expected minutes per profile, and whether each is here yet."""
    from pathlib import Path
    from ._meta import COURSE_MAP
    nb_dir = Path(__file__).resolve().parent.parent / "notebooks"
    rows = []
    for stem, en, zh, line, (smoke, cpu, gpu) in COURSE_MAP:
        present = (nb_dir / f"{stem}.ipynb").exists() if nb_dir.is_dir() else None
        rows.append({"notebook": stem, "title": f"{en} · {zh}", "you will": line,
                     "smoke min": smoke, "cpu min": cpu, "gpu min": gpu,
                     "status": "ready" if present else ("coming" if present is False else "?")})
    if show:
        import pandas as pd
        from .plots import in_notebook
        df = pd.DataFrame(rows).set_index("notebook")
        if in_notebook():
            from IPython.display import display
            display(df)
        else:
            print(df.to_string())
    return rows
