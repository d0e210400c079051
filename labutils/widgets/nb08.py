"""Notebook 08's widget: what a LoRA of rank r costs for any layer size, next to the accuracy measured at each
rank. A view over :func:`labutils.chapters.peft.lowrank.rank_figure` (a pure function of the sliders)."""
from __future__ import annotations

from labutils.viz.interactive import interactive_view


def lora_rank_widget(measured: dict | None = None, full_acc: float | None = None, d_in: int = 384, d_out: int = 384,
                     r: int = 8, alpha: float = 16, n_matrices: int = 12):
    """Notebook 08: sliders for the layer size, the rank r, α and how many matrices get LoRA; the plot shows
    trainable parameters and training memory (pure arithmetic) and the accuracies measured in the notebook."""
    import ipywidgets as W

    from labutils.chapters.peft.lowrank import rank_figure
    style = {"description_width": "initial"}
    return interactive_view(
        lambda **kw: rank_figure(measured=measured, full_acc=full_acc, **kw),
        title="LoRA rank and α: trainable parameters and memory for any layer size",
        d_in=W.IntSlider(value=d_in, min=64, max=8192, step=64, description="d_in", continuous_update=False, style=style),
        d_out=W.IntSlider(value=d_out, min=64, max=8192, step=64, description="d_out", continuous_update=False,
                          style=style),
        r=W.IntSlider(value=r, min=1, max=64, step=1, description="rank r", continuous_update=False, style=style),
        alpha=W.FloatSlider(value=alpha, min=1, max=128, step=1, description="α", continuous_update=False, style=style),
        n_matrices=W.IntSlider(value=n_matrices, min=1, max=512, step=1, description="matrices",
                               continuous_update=False, style=style),
        base_dtype=W.Dropdown(options=["fp32", "bf16", "int8", "nf4"], value="fp32", description="base dtype"),
    )
