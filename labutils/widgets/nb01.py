"""Notebook 01's widget: optimizers racing on a loss surface."""
from __future__ import annotations

from labutils.viz.interactive import interactive_view


# ---- notebook 01 ----
def optimizer_race_widget(surface: str = "rosenbrock", steps: int = 1000):
    """Notebook 01: SGD, momentum, RMSProp, Adam and AdamW racing on a 2-D loss surface.

    A view over :func:`labutils.nnmath.optimizer_race_figure`; learning rates, β's, AdamW's weight
    decay, the surface and the number of steps are controls.
    """
    import ipywidgets as W

    from labutils.chapters.nnmath.optimizers import SURFACES, optimizer_race_figure
    if surface not in SURFACES:
        raise ValueError(f"Unknown surface {surface!r}; choose one of: {', '.join(SURFACES)}.")
    style = {"description_width": "initial"}

    def log_slider(value, lo, hi, text):
        return W.FloatLogSlider(value=value, base=10, min=lo, max=hi, step=0.05, description=text,
                                readout_format=".2g", continuous_update=False, style=style)

    return interactive_view(
        optimizer_race_figure,
        title="Optimizers racing on a loss surface: move the learning rates and β's",
        surface=W.Dropdown(options=list(SURFACES), value=surface, description="surface"),
        lr_sgd=log_slider(2e-3, -4, 0, "lr SGD/momentum"),
        lr_adaptive=log_slider(5e-2, -3, 0, "lr RMSProp/Adam"),
        beta1=W.FloatSlider(value=0.9, min=0.0, max=0.99, step=0.01, description="β₁ (and momentum μ)",
                            continuous_update=False, style=style),
        beta2=W.FloatSlider(value=0.999, min=0.5, max=0.9999, step=0.0001, readout_format=".4f",
                            description="β₂ (and RMSProp α)", continuous_update=False, style=style),
        weight_decay=W.FloatSlider(value=0.1, min=0.0, max=1.0, step=0.05, description="AdamW λ",
                                   continuous_update=False, style=style),
        steps=W.IntSlider(value=steps, min=10, max=3000, step=10, description="steps",
                          continuous_update=False),
    )
