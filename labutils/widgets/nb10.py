"""Notebook 10's widget: the training-memory calculator (parameters, gradients, optimizer states, activations;
precision, optimizer, ZeRO stage, devices). A view over :func:`labutils.chapters.parallel.memory.memory_figure`."""
from __future__ import annotations

from labutils.viz.interactive import interactive_view


def memory_widget(n_params_m: float = 124.0, n_layer: int = 12, n_embd: int = 768, vocab: int = 50257):
    """Notebook 10: move precision, optimizer, ZeRO stage, devices, batch and sequence length and watch the
    memory per device (defaults: GPT-2 small)."""
    import ipywidgets as W

    from labutils.chapters.parallel.memory import OPTIMIZERS, PRECISIONS, memory_figure
    style = {"description_width": "initial"}
    return interactive_view(
        memory_figure,
        title="Training memory per device: what each choice costs",
        n_params_m=W.FloatLogSlider(value=n_params_m, base=10, min=0, max=5, step=0.1, description="params (M)",
                                    continuous_update=False, style=style),
        precision=W.Dropdown(options=list(PRECISIONS), value="mixed", description="precision"),
        optimizer=W.Dropdown(options=list(OPTIMIZERS), value="adam", description="optimizer"),
        zero_stage=W.IntSlider(value=0, min=0, max=3, description="ZeRO stage", continuous_update=False, style=style),
        n_devices=W.IntSlider(value=1, min=1, max=64, description="devices", continuous_update=False, style=style),
        batch=W.IntSlider(value=8, min=1, max=64, description="batch / device", continuous_update=False, style=style),
        seq=W.IntSlider(value=1024, min=64, max=8192, step=64, description="sequence", continuous_update=False,
                        style=style),
        checkpointing=W.Checkbox(value=False, description="activation checkpointing"),
        n_layer=n_layer, n_embd=n_embd, n_head=max(1, n_embd // 64), vocab=vocab,
    )
