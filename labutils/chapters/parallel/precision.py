"""Notebook 10, mixed precision (混合精度) and other levers, measured: bf16 autocast against fp32 (speed and loss
curve), why fp16 needs loss scaling (real gradients that underflow), and the time of a training step.

Micikevicius et al. (2018, *Mixed Precision Training*): keep fp32 master weights, compute in 16 bits, and
scale the loss so small fp16 gradients do not flush to zero. bf16 has fp32's exponent range, so it needs no
scaling; whether it is *faster* depends on the hardware (tensor cores on a GPU; AVX-512 BF16 on some CPUs).
"""
from __future__ import annotations

import contextlib
import time

import torch

from labutils.core.errors import ParallelError


def _autocast(device_type: str, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device_type, dtype=dtype)


def train_steps(model, batches: list[torch.Tensor], *, lr: float = 3e-3, amp_dtype: torch.dtype | None = None,
                scaler: bool = False) -> dict:
    """Train ``model`` on ``batches`` with AdamW (``lu.train`` groups), in fp32 or under autocast; time each step.

    Returns ``{"losses", "seconds_per_step"}`` (the first step is warm-up and not timed). ``scaler=True``
    uses ``torch.amp.GradScaler`` (fp16 on a GPU).
    """
    from labutils.train.efficiency import _sync
    from labutils.train.optim import param_groups
    if len(batches) < 2:
        raise ParallelError(f"Need at least 2 batches (one is warm-up), got {len(batches)}.")
    device = next(model.parameters()).device
    opt = torch.optim.AdamW(param_groups(model, 0.1), lr=lr, betas=(0.9, 0.95))
    gs = torch.amp.GradScaler(device.type) if scaler else None
    losses, times = [], []
    for x in batches:
        x = x.to(device)
        _sync(device)
        t0 = time.perf_counter()
        with _autocast(device.type, amp_dtype):
            loss = model(input_ids=x, labels=x).loss
        if gs is not None:
            gs.scale(loss).backward()
            gs.step(opt)
            gs.update()
        else:
            loss.backward()
            opt.step()
        opt.zero_grad(set_to_none=True)
        _sync(device)
        times.append(time.perf_counter() - t0)
        losses.append(float(loss.detach()))
    return {"losses": losses, "seconds_per_step": sum(times[1:]) / len(times[1:])}


def fp16_underflow(model, x: torch.Tensor, scales: tuple[float, ...] = (1.0, 2.0 ** 8, 2.0 ** 16)) -> dict:
    """Share of a real step's non-zero fp32 gradients that become 0 in fp16, for each loss scale.

    Gradients below fp16's smallest subnormal (≈ 6e-8) flush to zero; scaling the loss by s scales every
    gradient by s, lifting them into range (and is divided out before the update).
    """
    model.zero_grad(set_to_none=True)
    model(input_ids=x, labels=x).loss.backward()
    g = torch.cat([p.grad.reshape(-1) for p in model.parameters() if p.grad is not None]).detach()
    model.zero_grad(set_to_none=True)
    nz = g[g != 0]
    if nz.numel() == 0:
        raise ParallelError("The step produced no non-zero gradients to test.")
    out = {}
    for s in scales:
        h = (nz * s).half()
        out[float(s)] = {"zero_share": float((h == 0).float().mean()), "overflow_share": float(torch.isinf(h).float().mean())}
    out["smallest_abs_grad"] = float(nz.abs().min())
    out["median_abs_grad"] = float(nz.abs().median())
    return out


def step_time_and_memory(make_model, x: torch.Tensor, *, checkpointing: bool, steps: int = 3) -> dict:
    """Seconds per training step and measured peak bytes, with or without activation checkpointing."""
    from labutils.chapters.parallel.memory import measure_step_memory
    model = make_model()
    if checkpointing:
        model.gradient_checkpointing_enable()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    mem = measure_step_memory(model, opt, x)
    t0 = time.perf_counter()
    for _ in range(steps):
        model(input_ids=x, labels=x).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return {"seconds_per_step": (time.perf_counter() - t0) / steps, "peak_bytes": mem["peak"],
            "activation_bytes": mem.get("activation", 0.0)}


def optimizer_step_seconds(model, variant: str = "foreach", repeats: int = 5) -> float:
    """Seconds of one AdamW step over ``model``'s parameters with random gradients: ``"for-loop"`` (one
    kernel per tensor), ``"foreach"`` (tensors batched per operation) or ``"fused"`` (one kernel for it all)."""
    kw = {"for-loop": dict(foreach=False), "foreach": dict(foreach=True), "fused": dict(fused=True)}
    if variant not in kw:
        raise ParallelError(f"variant must be one of {', '.join(kw)}, not {variant!r}.")
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        p.grad = torch.randn_like(p) * 1e-3
    opt = torch.optim.AdamW(params, lr=1e-4, **kw[variant])
    opt.step()                                        # creates the states
    t0 = time.perf_counter()
    for _ in range(repeats):
        opt.step()
    for p in params:
        p.grad = None
    return (time.perf_counter() - t0) / repeats
