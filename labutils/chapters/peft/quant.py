"""Notebook 08, a LoRA on a quantized base, by hand: the idea of QLoRA (Dettmers et al. 2023, *QLoRA:
Efficient Finetuning of Quantized LLMs*) without ``bitsandbytes`` (not installed here).

:class:`Int8Linear` keeps a frozen weight as int8 with one fp32 scale per output row (absmax
quantization) and dequantizes it on the fly in the forward pass; gradients flow through it to the input,
so a :class:`~labutils.chapters.peft.lora.LoRALinear` on top (or below) trains as usual. QLoRA does the same
with 4-bit NormalFloat, double quantization of the scales and paged optimizer states.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Int8Linear(nn.Module):
    """A frozen linear layer stored as int8 (per-row absmax scales); forward = ``x (q·s)ᵀ + b``."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        w = linear.weight.detach().float()
        scale = w.abs().amax(dim=1, keepdim=True).clamp_min(1e-12) / 127.0
        self.register_buffer("qweight", torch.round(w / scale).clamp(-127, 127).to(torch.int8))
        self.register_buffer("scale", scale)
        self.register_buffer("bias", None if linear.bias is None else linear.bias.detach().clone())
        self.in_features, self.out_features = linear.in_features, linear.out_features

    def dequantized(self) -> torch.Tensor:
        return self.qweight.float() * self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.dequantized(), self.bias)

    def nbytes(self) -> int:
        return sum(b.numel() * b.element_size() for b in self.buffers())


def quantize_linears(module: nn.Module, skip: tuple[str, ...] = ("classifier",)) -> dict:
    """Replace every ``nn.Linear`` inside ``module`` (names containing a ``skip`` entry excepted) by an
    :class:`Int8Linear`. Returns ``{"layers", "fp32_bytes", "int8_bytes"}`` for the replaced layers."""
    names = [n for n, m in module.named_modules() if isinstance(m, nn.Linear) and not any(s in n for s in skip)]
    fp32 = int8 = 0
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = module.get_submodule(parent_name) if parent_name else module
        lin = getattr(parent, child)
        fp32 += sum(p.numel() * p.element_size() for p in lin.parameters())
        q = Int8Linear(lin)
        int8 += q.nbytes()
        setattr(parent, child, q)
    return {"layers": len(names), "fp32_bytes": fp32, "int8_bytes": int8}
