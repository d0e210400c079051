"""Notebook 08, two parameter-efficient methods written by hand: the bottleneck adapter of Houlsby et al.
(2019, *Parameter-Efficient Transfer Learning for NLP*) and BitFit (Ben Zaken et al. 2022, *BitFit: Simple
Parameter-efficient Fine-tuning for Transformer-based Masked Language-models*).

Houlsby puts a small bottleneck ``h + up(GELU(down(h)))`` after the attention output projection and after
the feed-forward output of every layer, before the residual LayerNorm; ``up`` starts at zero, so the model
starts as the pretrained one. The adapters, the LayerNorms and the task head train. BitFit trains only the
bias vectors (and the head).
"""
from __future__ import annotations

import torch
from torch import nn

from labutils.core.errors import PeftError
from labutils.train.freezing import encoder_layers, head_parameter_names
from labutils.train.params import count_parameters


class BottleneckAdapter(nn.Module):
    """``h ↦ h + W_up · GELU(W_down · h)``: d → m → d with a residual connection; ``W_up`` starts at zero."""

    def __init__(self, dim: int, bottleneck: int = 64):
        super().__init__()
        if not 1 <= int(bottleneck):
            raise PeftError(f"The adapter bottleneck must be a positive integer, not {bottleneck}.")
        self.down = nn.Linear(dim, int(bottleneck))
        self.up = nn.Linear(int(bottleneck), dim)
        nn.init.normal_(self.down.weight, std=1e-2)
        nn.init.zeros_(self.down.bias)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)
        self.act = nn.GELU()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.up(self.act(self.down(h)))


class WithAdapter(nn.Module):
    """A (frozen) sub-layer followed by a :class:`BottleneckAdapter`."""

    def __init__(self, inner: nn.Module, adapter: BottleneckAdapter):
        super().__init__()
        self.inner, self.adapter = inner, adapter

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.adapter(self.inner(x))


def add_houlsby_adapters(model: nn.Module, bottleneck: int = 64, train_layernorm: bool = True,
                         seed: int | None = 0) -> int:
    """Freeze a BERT-style classifier and insert two adapters per layer (after ``attention.output.dense``
    and after ``output.dense``); adapters, LayerNorms (if ``train_layernorm``) and the head train.
    Returns the number of trainable parameters."""
    if seed is not None:
        torch.manual_seed(seed)
    head = set(head_parameter_names(model))
    model.requires_grad_(False)
    for layer in encoder_layers(model):
        for parent in (layer.attention.output, layer.output):
            if isinstance(parent.dense, WithAdapter):
                raise PeftError("This model already has adapters; start again from a fresh copy.")
            parent.dense = WithAdapter(parent.dense, BottleneckAdapter(parent.dense.out_features, bottleneck))
            parent.dense.adapter.requires_grad_(True)
            if train_layernorm:
                parent.LayerNorm.requires_grad_(True)
    for name, p in model.named_parameters():
        if name in head:
            p.requires_grad_(True)
    return count_parameters(model, trainable_only=True)


def bitfit(model: nn.Module) -> int:
    """BitFit: only the bias vectors of the body and the task head train. Returns the trainable count."""
    head = set(head_parameter_names(model))
    for name, p in model.named_parameters():
        p.requires_grad_(name in head or name.endswith(".bias"))
    return count_parameters(model, trainable_only=True)
