"""labutils: the helper package of LLM Lab (大语言模型原理与工程实践).

Every notebook starts with::

    import labutils as lu
    ctx = lu.start("04_pretraining_a_gpt", profile=PROFILE)

which quiets library noise, resolves the run profile, seeds everything and shows the hardware.
Submodules (``lu.data``, ``lu.models``, ``lu.training`` ...) are imported on first use. The package is laid out
by concern, and imports point one way (a test checks it)::

    core  <-  data, eval, viz  <-  train  <-  models  <-  chapters  <-  exercises, widgets, tools

``core`` (env, profiles, results, errors, atomic io) imports no torch, so the doctor runs without it.
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import Any

from labutils.core import env, profiles, results
from labutils.core.env import cache_home, describe, device, seed_everything
from labutils.core.profiles import settings
from labutils.core.results import record
from labutils.exercises import check, hint, solution

if "torch" in __import__("sys").modules:  # a notebook imported torch first: import torchao now, quietly, before
    env.import_torchao_quietly()          # transformers imports it noisily (see core.env.import_torchao_quietly)

__version__ = "0.1.0"
__all__ = ["start", "Context", "check", "hint", "solution", "record", "settings", "device",
           "describe", "seed_everything", "cache_home"]

# Names notebooks use (``lu.data``, ``lu.models``, ``lu.training`` ...) -> the module that holds them.
_LAZY = {"data": "data", "models": "models", "train": "train", "training": "train", "metrics": "eval.metrics",
         "plots": "viz.plots", "widgets": "widgets", "toys": "chapters.toys", "exercises": "exercises",
         "chapters": "chapters", "viz": "viz", "eval": "eval", "tools": "tools", "errors": "core.errors",
         "io": "core.io"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return importlib.import_module(f"{__name__}.{_LAZY[name]}")
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
    if "torch" in __import__("sys").modules or __import__("importlib.util").util.find_spec("torch"):
        env.import_torchao_quietly()  # before quiet() or a later transformers import prints torchao's import noise
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
        from labutils.core.display import display_or_print
        display_or_print(ctx)
    return ctx


def course_map(show: bool = True):
    """The 16 notebooks with one line each, expected minutes per profile, and whether each is here yet."""
    from pathlib import Path

    from labutils.core.meta import COURSE_MAP
    nb_dir = Path(__file__).resolve().parent.parent / "notebooks"
    rows = []
    for stem, en, zh, line, (smoke, cpu, gpu) in COURSE_MAP:
        present = (nb_dir / f"{stem}.ipynb").exists() if nb_dir.is_dir() else None
        rows.append({"notebook": stem, "title": f"{en} · {zh}", "you will": line,
                     "smoke min": smoke, "cpu min": cpu, "gpu min": gpu,
                     "status": "ready" if present else ("coming" if present is False else "?")})
    if show:
        import pandas as pd

        from labutils.core.display import display_or_print
        df = pd.DataFrame(rows).set_index("notebook")
        display_or_print(df, df.to_string)
    return rows
