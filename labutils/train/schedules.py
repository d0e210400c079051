"""One learning-rate schedule for every loop: warm-up, then constant, linear or cosine (notebooks 04 and 07)."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from labutils.core.errors import TrainingError

#: The schedule shapes :func:`lr_multiplier` knows (the names ``transformers.get_scheduler`` uses for them).
SCHEDULES = ("constant", "constant_with_warmup", "linear", "cosine")


def lr_multiplier(kind: str, step: int, total_steps: int, warmup_steps: int = 0, *, min_ratio: float = 0.0,
                  num_cycles: float = 0.5) -> float:
    """The one learning-rate schedule of the course: the factor the peak rate is multiplied by at ``step``.

    ``step`` counts optimizer steps from 0. During warm-up (预热, ``step < warmup_steps``) the factor
    rises linearly, ``step / warmup_steps``; then, with ``progress = (step − warmup)/(total − warmup)``:

    * ``constant``: 1 (no warm-up at all); ``constant_with_warmup``: 1 after the warm-up;
    * ``linear``: a straight line from 1 down to ``min_ratio`` at ``total_steps``;
    * ``cosine`` (余弦退火): ``min_ratio + (1 − min_ratio)·½(1 + cos(2π·num_cycles·progress))``, half a cosine
      by default (Loshchilov & Hutter, *SGDR*, 2017).

    With ``min_ratio = 0`` these are exactly transformers' ``get_*_schedule_with_warmup`` (a test checks
    it). Notebook 04 (warm-up + cosine for pretraining) and notebook 07 (schedules compared) teach it;
    every loop of the package uses it through :func:`make_scheduler`.
    """
    if kind not in SCHEDULES:
        raise TrainingError(f"Unknown schedule {kind!r}; choose one of: {', '.join(SCHEDULES)}.")
    if total_steps < 1 or not 0 <= warmup_steps <= total_steps:
        raise TrainingError(f"Need total_steps ≥ 1 and 0 ≤ warmup_steps ≤ total_steps; got {total_steps}, "
                            f"{warmup_steps}.")
    if not 0.0 <= min_ratio <= 1.0:
        raise TrainingError(f"min_ratio (the final rate as a fraction of the peak) must be in [0, 1], not {min_ratio}.")
    if kind == "constant":
        return 1.0
    if step < warmup_steps:
        return step / max(1, warmup_steps)
    if kind == "constant_with_warmup":
        return 1.0
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    if kind == "linear":
        shape = 1.0 - progress
    else:
        shape = 0.5 * (1.0 + math.cos(math.pi * num_cycles * 2.0 * progress))
    return min_ratio + (1.0 - min_ratio) * max(0.0, shape)


def lr_at(kind: str, step: int, total_steps: int, warmup_steps: int = 0, base_lr: float = 5e-5,
          num_cycles: float = 0.5, min_ratio: float = 0.0) -> float:
    """The learning rate at ``step``: ``base_lr × lr_multiplier(...)``."""
    return base_lr * lr_multiplier(kind, step, total_steps, warmup_steps, min_ratio=min_ratio, num_cycles=num_cycles)


def lr_schedule(step: int, warmup: int, total: int, max_lr: float, min_lr: float = 0.0) -> float:
    """Warm-up then cosine from ``max_lr`` down to ``min_lr``: :func:`lr_multiplier` ``("cosine")`` in rates.

    The form notebook 04 writes by hand: ``max_lr·step/warmup`` while ``step < warmup``; then
    ``min_lr + ½(max_lr − min_lr)(1 + cos(π·progress))``.
    """
    if total <= 0 or warmup < 0 or max_lr <= 0 or max_lr < min_lr:
        raise TrainingError(f"Need total > 0, warmup ≥ 0 and max_lr ≥ min_lr ≥ 0 with max_lr > 0; got total={total}, "
                            f"warmup={warmup}, max_lr={max_lr}, min_lr={min_lr}.")
    return max_lr * lr_multiplier("cosine", step, total, min(warmup, total), min_ratio=min_lr / max_lr)


class _Multiplier:
    """A picklable ``LambdaLR`` function (a lambda cannot go into a checkpoint's scheduler state)."""

    def __init__(self, kind: str, total: int, warmup: int, min_ratio: float, num_cycles: float):
        self.kind, self.total, self.warmup, self.min_ratio, self.num_cycles = kind, total, warmup, min_ratio, num_cycles

    def __call__(self, step: int) -> float:
        return lr_multiplier(self.kind, min(step, self.total), self.total, self.warmup,
                             min_ratio=self.min_ratio, num_cycles=self.num_cycles)


def make_scheduler(optimizer, kind: str, total_steps: int, warmup_steps: int = 0, num_cycles: float = 0.5,
                   min_ratio: float = 0.0):
    """:func:`lr_multiplier` wrapped for ``torch.optim``: a ``LambdaLR`` (call ``.step()`` after each optimizer step).

    Each parameter group keeps its own peak rate (its ``lr`` when the scheduler is made), so layer-wise
    rates from :func:`labutils.train.optim.param_groups` are scaled together.
    """
    lr_multiplier(kind, 0, total_steps, warmup_steps, min_ratio=min_ratio)  # validate once, with a clear message
    return torch.optim.lr_scheduler.LambdaLR(optimizer, _Multiplier(kind, total_steps, warmup_steps, min_ratio,
                                                                    num_cycles))


def warmup_cosine(optimizer, warmup: int, total: int, max_lr: float, min_lr: float = 0.0):
    """:func:`make_scheduler` for :func:`lr_schedule`: sets every group's peak rate to ``max_lr``, decays to ``min_lr``."""
    lr_schedule(0, warmup, total, max_lr, min_lr)  # validates
    for group in optimizer.param_groups:
        group["lr"] = max_lr
        group["initial_lr"] = max_lr
    return make_scheduler(optimizer, "cosine", total, min(warmup, total), min_ratio=min_lr / max_lr)


def schedule_figure(total_steps: int = 1000, warmup_steps: int = 100, base_lr: float = 5e-5,
                    kinds: str | Sequence[str] = "all", num_cycles: float = 0.5):
    """Plot learning rate against step for the schedules in ``kinds`` (``"all"`` or names from :data:`SCHEDULES`)."""
    import plotly.graph_objects as go
    names = list(SCHEDULES) if kinds == "all" else ([kinds] if isinstance(kinds, str) else list(kinds))
    total_steps, warmup_steps = int(total_steps), int(warmup_steps)
    if warmup_steps > total_steps:
        raise TrainingError(f"warmup_steps ({warmup_steps}) cannot exceed total_steps ({total_steps}).")
    xs = np.unique(np.linspace(0, total_steps, min(total_steps + 1, 400)).astype(int))
    fig = go.Figure()
    for k in names:
        ys = [lr_at(k, int(s), total_steps, warmup_steps, base_lr, num_cycles) for s in xs]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=k))
    if warmup_steps > 0:
        fig.add_vline(x=warmup_steps, line_dash="dot", annotation_text="end of warmup")
    fig.update_layout(title=f"Learning-rate schedules (base lr {base_lr:.2g}, {warmup_steps} warmup of {total_steps} steps)",
                      xaxis_title="optimizer step", yaxis_title="learning rate", template="plotly_white",
                      height=380, margin=dict(l=60, r=20, t=50, b=40))
    return fig
