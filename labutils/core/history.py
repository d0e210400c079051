"""The one record of a training run: :class:`History`, returned by every loop and read by every plot.

A ``History`` is a plain ``dict`` (so ``lu.record``, JSON and checkpoints take it as it is) with a fixed schema:

=================  ==========================================================================
``step``           optimizer steps (0-based) at which the training loss was logged
``train_loss``     the training loss at each of those steps
``lr``             the learning rate at each of those steps (may be empty)
``eval_step``      the steps at which the model was evaluated (after that many optimizer steps)
``val_<metric>``   a validation figure at each ``eval_step``: ``val_loss``, ``val_accuracy``, ...
``train_eval_<m>`` a figure measured on the training set at each ``eval_step`` (e.g. full-pass accuracy)
``eval_<what>``    anything else per evaluation, e.g. ``eval_seconds`` (training time when it was taken)
anything else      a scalar or a note about the run: ``seconds``, ``tokens``, ``best_step`` ...
=================  ==========================================================================

Notebook 04 builds one by hand in its training loop and checks it equal to the library's.
"""
from __future__ import annotations

from typing import Any, Iterable

STEP_SERIES = ("train_loss", "lr")
EVAL_PREFIXES = ("val_", "train_eval_", "eval_")


def is_eval_series(key: str) -> bool:
    """True for the keys whose lists line up with ``eval_step``."""
    return key != "eval_step" and key.startswith(EVAL_PREFIXES)


class History(dict):
    """A training record with the schema above; ``History(**extra)`` starts empty lists for the series."""

    def __init__(self, *args: Any, **kw: Any):
        super().__init__(step=[], train_loss=[], lr=[], eval_step=[], val_loss=[])
        self.update(*args, **kw)

    def log(self, step: int, train_loss: float, lr: float | None = None) -> None:
        """Append one training step's loss (and learning rate)."""
        self["step"].append(int(step))
        self["train_loss"].append(float(train_loss))
        if lr is not None:
            self["lr"].append(float(lr))

    def log_eval(self, step: int, **figures: float) -> None:
        """Append one evaluation: ``log_eval(100, val_loss=1.9, val_accuracy=0.8)``; names need a prefix."""
        bad = [k for k in figures if not is_eval_series(k)]
        if bad:
            raise ValueError(f"Evaluation figures are named val_<m>, train_eval_<m> or eval_<m>, not {bad}.")
        self["eval_step"].append(int(step))
        for k, v in figures.items():
            self.setdefault(k, []).append(float(v))

    def series(self, key: str) -> tuple[list[int], list[float]]:
        """``(steps, values)`` of one series, the x axis chosen by the schema."""
        if key not in self:
            raise KeyError(f"No series {key!r} in this history; it has: {', '.join(self.series_names())}.")
        return (self["step"] if key in STEP_SERIES else self["eval_step"]), self[key]

    def series_names(self) -> list[str]:
        return [k for k in self if (k in STEP_SERIES or is_eval_series(k)) and isinstance(self[k], list)]

    def last(self, key: str, default: Any = None) -> Any:
        values = self.get(key) or []
        return values[-1] if values else default

    def time_to(self, levels, key: str = "val_loss", time_key: str = "eval_seconds") -> list[dict]:
        """When ``key`` first fell to each of ``levels``: ``[{"level", "step", "seconds"}]``, ``None`` where it
        never did (notebook 04's time-to-loss table). ``seconds`` comes from ``time_key`` (training time)."""
        steps, values = self.series(key)
        times = self.get(time_key) or [None] * len(values)
        out = []
        for level in levels:
            hit = next((i for i, v in enumerate(values) if v <= level), None)
            out.append({"level": level, "step": None if hit is None else steps[hit],
                        "seconds": None if hit is None else times[hit]})
        return out

    def check(self) -> "History":
        """Raise ``ValueError`` if a series does not line up with its steps; return ``self``."""
        if len(self["train_loss"]) != len(self["step"]):
            raise ValueError(f"train_loss has {len(self['train_loss'])} values for {len(self['step'])} steps.")
        if self.get("lr") and len(self["lr"]) != len(self["step"]):
            raise ValueError(f"lr has {len(self['lr'])} values for {len(self['step'])} steps.")
        for k in self.series_names():
            if is_eval_series(k) and self[k] and len(self[k]) != len(self["eval_step"]):   # empty: not measured
                raise ValueError(f"{k} has {len(self[k])} values for {len(self['eval_step'])} evaluations.")
        return self


def as_history(record: dict | Iterable | None) -> History:
    """A ``History`` from a plain dict with the schema (e.g. read back from JSON or a checkpoint)."""
    return History(dict(record or {})).check()
