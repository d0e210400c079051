"""Notebook 08, LoRA by hand (Hu et al. 2021, *LoRA: Low-Rank Adaptation of Large Language Models*).

:class:`LoRALinear` wraps a frozen ``nn.Linear`` ``W`` and adds a trainable low-rank update:
``y = W x + (α/r) · B A dropout(x)``, with ``A`` (r × in) Kaiming-uniform as in ``peft`` and ``B`` (out × r)
zero, so training starts exactly at the pretrained model. :meth:`LoRALinear.merge` folds ``(α/r)·BA`` into
``W`` (no extra cost at inference), :meth:`LoRALinear.unmerge` takes it out again. :func:`apply_lora` puts
it on the named projections of a model; :func:`copy_into_peft` copies our ``A``, ``B`` into a ``peft``
model's ``lora_A``/``lora_B`` so the two can be checked equal (:func:`max_logit_diff`).
"""
from __future__ import annotations

import math
from typing import Iterable

import torch
from torch import nn

from labutils.core.errors import PeftError


class LoRALinear(nn.Module):
    """A frozen linear layer plus a trainable rank-``r`` update scaled by ``alpha / r``.

    ``base`` is any module with ``in_features``/``out_features`` and a ``weight`` (``nn.Linear``, or the
    int8 base of :mod:`labutils.chapters.peft.quant`). Only ``lora_A`` and ``lora_B`` train.
    """

    def __init__(self, base: nn.Module, r: int = 8, alpha: float = 16, dropout: float = 0.0):
        super().__init__()
        if int(r) < 1:
            raise PeftError(f"The LoRA rank r must be a positive integer, not {r}.")
        if not hasattr(base, "in_features") or not hasattr(base, "out_features"):
            raise PeftError(f"LoRALinear wraps a linear layer; {type(base).__name__} has no in/out features.")
        self.base, self.r, self.alpha = base, int(r), float(alpha)
        self.scale = self.alpha / self.r
        for p in base.parameters():
            p.requires_grad_(False)
        self.lora_A = nn.Parameter(torch.empty(self.r, base.in_features))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, self.r))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))   # what peft does for init_lora_weights=True
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.merged = False

    @property
    def in_features(self) -> int:
        return self.base.in_features

    @property
    def out_features(self) -> int:
        return self.base.out_features

    def delta_weight(self) -> torch.Tensor:
        """ΔW = (α/r)·B A, shaped like the base weight (out × in)."""
        return (self.lora_B @ self.lora_A) * self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base(x)
        if self.merged:
            return y
        return y + (self.dropout(x) @ self.lora_A.t() @ self.lora_B.t()) * self.scale

    @torch.no_grad()
    def merge(self) -> None:
        """Fold ΔW into the base weight: afterwards the layer is a plain linear layer again."""
        if not isinstance(getattr(self.base, "weight", None), torch.Tensor):
            raise PeftError(f"{type(self.base).__name__} stores no float weight to merge ΔW into "
                            "(a quantized base); dequantize it first or keep the adapter separate.")
        if not self.merged:
            self.base.weight += self.delta_weight().to(self.base.weight.dtype)
            self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """Take ΔW out of the base weight again (exact up to float rounding)."""
        if self.merged:
            self.base.weight -= self.delta_weight().to(self.base.weight.dtype)
            self.merged = False

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha:g}, scale={self.scale:g}, merged={self.merged}"


def lora_layers(model: nn.Module) -> dict[str, LoRALinear]:
    """The :class:`LoRALinear` modules of ``model``, by name."""
    return {name: m for name, m in model.named_modules() if isinstance(m, LoRALinear)}


def apply_lora(model: nn.Module, targets: Iterable[str] = ("query", "value"), r: int = 8, alpha: float = 16,
               dropout: float = 0.0, train_head: bool = True, seed: int | None = 0) -> list[str]:
    """Freeze ``model`` and wrap every ``nn.Linear`` whose name ends with one of ``targets`` in a
    :class:`LoRALinear`; with ``train_head`` the classifier stays trainable. Returns the wrapped names.

    ``seed`` seeds the Kaiming initialisation of the ``A`` matrices (None: the current RNG state).
    """
    targets = tuple(targets)
    if seed is not None:
        torch.manual_seed(seed)
    model.requires_grad_(False)
    names = [n for n, m in model.named_modules()
             if isinstance(m, nn.Linear) and any(n == t or n.endswith("." + t) for t in targets)]
    if not names:
        raise PeftError(f"No linear layer of {type(model).__name__} ends with {', '.join(targets)}; "
                        "look at model.named_modules() for the names.")
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, LoRALinear(getattr(parent, child), r=r, alpha=alpha, dropout=dropout))
    if train_head:
        head = getattr(model, "classifier", None)
        if head is not None:
            head.requires_grad_(True)
    return names


def set_merged(model: nn.Module, merged: bool) -> int:
    """Merge (``True``) or unmerge every :class:`LoRALinear` of ``model``; returns how many layers."""
    layers = lora_layers(model)
    for layer in layers.values():
        layer.merge() if merged else layer.unmerge()
    return len(layers)


@torch.no_grad()
def copy_into_peft(hand_model: nn.Module, peft_model: nn.Module, adapter: str = "default") -> int:
    """Copy our ``A``, ``B`` (and the classifier) into a ``peft`` LoRA model of the same base.

    peft names the layer ``…query`` as ``…query.lora_A.<adapter>`` (an ``nn.Linear`` of shape r × in, the
    same orientation as our ``A``). Returns the number of tensors copied; a layer missing in the peft
    model raises :class:`PeftError`.
    """
    peft_modules = dict(peft_model.named_modules())
    copied = 0
    for name, layer in lora_layers(hand_model).items():
        match = [m for n, m in peft_modules.items() if n.endswith(name) and hasattr(m, "lora_A")]
        if not match:
            raise PeftError(f"The peft model has no LoRA layer for {name}; build it with the same target modules.")
        target = match[0]
        if target.lora_A[adapter].weight.shape != layer.lora_A.shape:
            raise PeftError(f"Rank mismatch at {name}: ours is r={layer.r}, the peft layer's is "
                            f"r={target.lora_A[adapter].weight.shape[0]}; use the same r in LoraConfig.")
        target.lora_A[adapter].weight.copy_(layer.lora_A)
        target.lora_B[adapter].weight.copy_(layer.lora_B)
        copied += 2
    head = getattr(hand_model, "classifier", None)
    if head is not None:
        for n, m in peft_modules.items():   # peft keeps a trainable copy of the head (modules_to_save)
            if n.endswith(f"classifier.modules_to_save.{adapter}") or n.endswith("classifier.original_module"):
                m.load_state_dict(head.state_dict())
                copied += 1
    return copied


@torch.no_grad()
def max_logit_diff(model_a: nn.Module, model_b: nn.Module, batch: dict) -> float:
    """Largest absolute difference between the logits of two models on one batch (both in eval mode)."""
    model_a.eval()
    model_b.eval()
    return float((model_a(**batch).logits.float() - model_b(**batch).logits.float()).abs().max())
