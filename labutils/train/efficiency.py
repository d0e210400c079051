"""Efficiency figures of a training run (notebooks 04 and 10): mixed-precision dtype, peak FLOP/s of the
device, FLOPs per token and model FLOPs utilisation (MFU, PaLM's definition)."""
from __future__ import annotations

from typing import Any

import torch

from labutils.core.errors import TrainingError


def amp_dtype(device: Any, amp: str | bool | None = "auto"):
    """The autocast dtype to train in: ``None`` (float32) on a CPU; bf16 on a GPU that has it, else fp16.

    ``amp``: ``"auto"``, ``"bf16"``, ``"fp16"``, or ``None``/``False``/``"off"`` for float32.
    """
    dev = torch.device(device) if not isinstance(device, torch.device) else device
    if amp in (None, False, "off", "fp32", "no"):
        return None
    if amp == "bf16":
        return torch.bfloat16
    if amp == "fp16":
        return torch.float16
    if amp not in ("auto", True):
        raise TrainingError(f"Unknown amp setting {amp!r}; choose one of: auto, bf16, fp16, off.")
    if dev.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


# ------------------------------------------------------------------------------ efficiency
# Dense peak tensor-core throughput (FLOP/s) by dtype, from the vendors' data sheets (no sparsity).
_PEAK = [  # (name fragment, bf16, fp16, fp32/tf32)
    ("H200", 989e12, 989e12, 494e12), ("H100", 989e12, 989e12, 494e12), ("A100", 312e12, 312e12, 156e12),
    ("L40S", 362e12, 362e12, 183e12), ("L4", 121e12, 121e12, 60e12), ("A10", 125e12, 125e12, 62.5e12),
    ("T4", 65e12, 65e12, 8.1e12), ("V100", 125e12, 125e12, 15.7e12), ("4090", 165e12, 165e12, 82.6e12),
    ("3090", 71e12, 71e12, 35.6e12),
]


def peak_flops(device: Any = None, dtype: torch.dtype | None = torch.bfloat16) -> float | None:
    """Data-sheet peak FLOP/s of this GPU for ``dtype`` (None: fp32/tf32), or None on a CPU or an
    unknown GPU (then MFU is not reported rather than guessed)."""
    dev = torch.device(device) if device is not None else (
        torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu"))
    if dev.type != "cuda" or not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name(dev)
    for frag, bf16, fp16, fp32 in _PEAK:
        if frag in name:
            if dtype == torch.bfloat16:
                return bf16
            if dtype == torch.float16:
                return fp16
            return fp32
    return None


def training_flops_per_token(n_params: int, n_layer: int, n_embd: int, block_size: int) -> float:
    """FLOPs to train on one token: ``6N + 12·L·T·d`` (PaLM paper, appendix B).

    ``6N``: every weight that multiplies the token costs 2 FLOPs forward and 4 backward (N counts the
    matmul weights, including a tied output layer, not the position-embedding lookup); ``12·L·T·d``:
    the attention scores and weighted sums over a context of T tokens, forward and backward."""
    return 6.0 * n_params + 12.0 * n_layer * block_size * n_embd


def estimate_mfu(model, tokens_per_second: float, block_size: int, device: Any = None,
                 dtype: torch.dtype | None = torch.bfloat16) -> float | None:
    """Model FLOPs utilisation: achieved training FLOP/s ÷ the GPU's peak; None on a CPU/unknown GPU."""
    peak = peak_flops(device if device is not None else next(model.parameters()).device, dtype)
    if peak is None:
        return None
    cfg = model.config
    n = sum(p.numel() for p in model.parameters() if p.requires_grad)
    n -= cfg.n_positions * cfg.n_embd                      # position embeddings are a lookup, no matmul
    flops = training_flops_per_token(n, cfg.n_layer, cfg.n_embd, block_size)
    return flops * tokens_per_second / peak




def _sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()
