"""Run profiles: ``smoke`` (CI), ``cpu`` (a laptop) and ``gpu`` (Colab T4 or bigger).

Resolution order: an explicit argument (the notebook's papermill parameter ``PROFILE``)
> the environment variable ``LABUTILS_PROFILE`` > auto (``gpu`` if CUDA is available, else ``cpu``).
"""
from __future__ import annotations

import html
import os
from typing import Any, Mapping

from labutils.core.errors import ProfileError  # noqa: F401 (re-exported)

PROFILES = ("smoke", "cpu", "gpu")
DESCRIPTIONS = {
    "smoke": "CI check: tiny sizes, few steps; every code path runs, results are not meant to be read",
    "cpu": "a laptop CPU: a few minutes per notebook, results worth reading",
    "gpu": "a CUDA GPU (Colab T4 or better): the full-scale result",
}

_current: tuple[str, str] | None = None


def _check(name: Any, source: str) -> str:
    value = str(name).strip().lower()
    if value not in PROFILES:
        raise ProfileError(
            f"Unknown profile {name!r} (from {source}); choose one of: {', '.join(PROFILES)}.")
    return value


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def explain(profile: str | None = None, environ: Mapping[str, str] | None = None,
            cuda: bool | None = None) -> tuple[str, str]:
    """Return ``(profile, reason)``: which profile applies and why, in words."""
    environ = os.environ if environ is None else environ
    if profile not in (None, ""):
        return _check(profile, "the PROFILE parameter"), "set by the notebook's PROFILE parameter"
    env = environ.get("LABUTILS_PROFILE", "").strip()
    if env:
        return _check(env, "LABUTILS_PROFILE"), f"set by the environment variable LABUTILS_PROFILE={env}"
    cuda = _cuda_available() if cuda is None else cuda
    if cuda:
        return "gpu", "auto: a CUDA GPU is available"
    return "cpu", "auto: no CUDA GPU found"


def resolve(profile: str | None = None) -> str:
    """The profile name to use (see the module docstring for the order)."""
    return explain(profile)[0]


def current() -> str:
    """The profile chosen by :func:`labutils.start`, or the resolved default if it was not called."""
    return _current[0] if _current else resolve()


def _set_current(profile: str, reason: str) -> None:
    global _current
    _current = (profile, reason)


class Settings(dict):
    """A plain dict of the chosen profile's settings, with attribute access and a comparison table."""

    def __init__(self, profile: str, chosen: Mapping[str, Any], table: Mapping[str, Mapping[str, Any]]):
        super().__init__(chosen)
        object.__setattr__(self, "profile", profile)
        object.__setattr__(self, "table", {k: dict(v) for k, v in table.items()})

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(
                f"No setting {key!r}; this notebook's settings are: {', '.join(self) or '(none)'}.") from None

    def _keys(self) -> list[str]:
        keys: list[str] = []
        for p in PROFILES:
            keys += [k for k in self.table.get(p, {}) if k not in keys]
        return keys

    def __str__(self) -> str:
        rows = [["setting", *[(p + " *" if p == self.profile else p) for p in PROFILES]]]
        for k in self._keys():
            rows.append([k, *[repr(self.table.get(p, {}).get(k, "-")) for p in PROFILES]])
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
        return "\n".join(lines) + f"\n(* = active profile: {self.profile})"

    def _repr_html_(self) -> str:
        head = "".join(
            f"<th style='background:#e8f4ea'>{p} ✓</th>" if p == self.profile else f"<th>{p}</th>"
            for p in PROFILES)
        body = ""
        for k in self._keys():
            cells = ""
            for p in PROFILES:
                v = html.escape(repr(self.table.get(p, {}).get(k, "–")))
                style = " style='background:#e8f4ea;font-weight:bold'" if p == self.profile else ""
                cells += f"<td{style}>{v}</td>"
            body += f"<tr><th style='text-align:left'>{html.escape(k)}</th>{cells}</tr>"
        return (f"<table><tr><th>setting</th>{head}</tr>{body}</table>"
                f"<small>active profile: <b>{self.profile}</b></small>")


def settings(profile: str | None = None, *, smoke: Mapping[str, Any], cpu: Mapping[str, Any],
             gpu: Mapping[str, Any]) -> Settings:
    """Pick the settings of ``profile`` (default: :func:`current`) from the three given.

    >>> s = settings("cpu", smoke={"steps": 5}, cpu={"steps": 500}, gpu={"steps": 5000})
    >>> s["steps"], s.steps
    (500, 500)
    """
    name = current() if profile in (None, "") else _check(profile, "settings()")
    table = {"smoke": smoke, "cpu": cpu, "gpu": gpu}
    return Settings(name, table[name], table)
