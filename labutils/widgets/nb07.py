"""Notebook 07's widget: the learning-rate schedules of :mod:`labutils.train.schedules`."""
from __future__ import annotations

from labutils.viz.interactive import interactive_view

# ---- end notebook 03 ----


# ---- notebook 07 ----
def lr_schedule_widget(total_steps: int = 1000, warmup_steps: int = 100, base_lr: float = 5e-5):
    """Notebook 07: draw the common learning-rate schedules (constant, constant with warmup, linear,
    cosine) from their parameters. A view over :func:`labutils.challenges.schedule_figure`."""
    import ipywidgets as W

    from labutils.chapters.heads import ChallengeError
    from labutils.train.schedules import SCHEDULES, schedule_figure
    if not 0 <= warmup_steps <= total_steps:
        raise ChallengeError(f"Need 0 ≤ warmup_steps ≤ total_steps; got {warmup_steps} and {total_steps}.")
    style = {"description_width": "initial"}
    return interactive_view(
        schedule_figure,
        title="Learning-rate schedules: move the warmup, the length and the peak learning rate",
        kinds=W.Dropdown(options=["all", *SCHEDULES], value="all", description="schedule"),
        total_steps=W.IntSlider(value=total_steps, min=10, max=5000, step=10, description="total steps",
                                continuous_update=False, style=style),
        warmup_steps=W.IntSlider(value=warmup_steps, min=0, max=2000, step=10, description="warmup steps",
                                 continuous_update=False, style=style),
        base_lr=W.FloatLogSlider(value=base_lr, base=10, min=-6, max=-1, step=0.1, description="peak lr",
                                 readout_format=".1e", continuous_update=False, style=style),
        num_cycles=W.FloatSlider(value=0.5, min=0.25, max=2.0, step=0.25, description="cosine cycles",
                                 continuous_update=False, style=style),
    )
