"""Notebook 14, differentially private training (差分隐私) by hand: DP-SGD (Abadi et al. 2016).

One step: the gradient of *each* training example separately (``torch.func``: ``vmap`` over ``grad``), each
clipped to L2 norm ≤ ``C`` (so no single example can move the model far), summed, Gaussian noise
``N(0, σ²C²)`` added to every coordinate, divided by the batch size. The privacy accountant (Rényi DP, here
``opacus``'s) turns ``σ``, the sampling rate and the number of steps into ``(ε, δ)``.
:func:`opacus_clipped_gradient` computes the same clipped gradient with ``opacus``'s per-sample hooks, so the
hand-written version can be checked against it.
"""
from __future__ import annotations

import time
from typing import Any

import torch
import torch.nn.functional as F

from labutils.chapters.responsible.errors import ResponsibleError


def _check(max_grad_norm: float, noise_multiplier: float) -> None:
    if not max_grad_norm > 0:
        raise ResponsibleError(f"max_grad_norm (the clipping bound C) must be > 0, not {max_grad_norm}.")
    if noise_multiplier < 0:
        raise ResponsibleError(f"noise_multiplier σ cannot be negative: {noise_multiplier}.")


def lm_example_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """One example's loss: mean next-token cross-entropy over its window."""
    return F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1))


def per_sample_grads(model, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """The gradient of every example's loss separately: ``{name: (B, *param.shape)}``, with
    ``torch.func.vmap(torch.func.grad(loss))`` over a ``functional_call`` of ``model`` (trainable parameters)."""
    from torch.func import functional_call, grad, vmap
    params = {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def loss(p, xi, yi):
        out = functional_call(model, (p, buffers), (xi[None],))
        logits = out.logits if hasattr(out, "logits") else out
        return lm_example_loss(logits[0], yi)

    return vmap(grad(loss), in_dims=(None, 0, 0), randomness="different")(params, x, y)


def per_sample_norms(grads: dict[str, torch.Tensor]) -> torch.Tensor:
    """L2 norm of each example's whole gradient (all parameters together), shape ``(B,)``."""
    return torch.sqrt(sum(g.flatten(1).pow(2).sum(1) for g in grads.values()))


def clip_and_noise(grads: dict[str, torch.Tensor], max_grad_norm: float, noise_multiplier: float,
                   generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """DP-SGD's gradient: clip each example's gradient to norm ≤ ``C`` (factor ``min(1, C/(‖g‖+1e-6))``, as
    opacus does), sum, add ``N(0, (σC)²)`` per coordinate, divide by the batch size."""
    _check(max_grad_norm, noise_multiplier)
    norms = per_sample_norms(grads)
    factor = (max_grad_norm / (norms + 1e-6)).clamp(max=1.0)
    batch = len(norms)
    out = {}
    for k, g in grads.items():
        s = torch.einsum("b,b...->...", factor, g)
        if noise_multiplier > 0:
            noise = torch.randn(s.shape, generator=generator, dtype=s.dtype) if generator is not None \
                else torch.randn_like(s)
            s = s + noise.to(s.device) * noise_multiplier * max_grad_norm
        out[k] = s / batch
    return out


def opacus_clipped_gradient(model, x: torch.Tensor, y: torch.Tensor, max_grad_norm: float) -> dict[str, torch.Tensor]:
    """The clipped, averaged (noise-free) gradient through ``opacus.GradSampleModule``'s per-sample gradients, on a
    copy of ``model`` in train mode: what :func:`clip_and_noise` with ``noise_multiplier=0`` must equal (for a
    model without dropout, or with dropout 0, since the two paths draw no common random masks)."""
    import copy
    import warnings

    from opacus import GradSampleModule
    _check(max_grad_norm, 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gsm = GradSampleModule(copy.deepcopy(model).train(), loss_reduction="sum")  # opacus records activations in train mode only
        # GPT-2 builds position ids of shape (1, T) and broadcasts them; opacus reads the batch size from every
        # layer's input, so the position embedding's per-sample gradients come out wrong unless they are (B, T)
        pos = torch.arange(x.shape[1], device=x.device).expand(x.shape[0], -1)
        try:
            out = gsm(x, position_ids=pos)
        except TypeError:  # a model without position ids
            out = gsm(x)
        logits = out.logits if hasattr(out, "logits") else out
        per_example = torch.stack([lm_example_loss(logits[i], y[i]) for i in range(len(x))])
        per_example.sum().backward()
    grads = {k.removeprefix("_module."): p.grad_sample for k, p in gsm.named_parameters()
             if p.requires_grad and p.grad_sample is not None}
    return clip_and_noise(grads, max_grad_norm, 0.0)


def max_abs_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    """Largest absolute difference between two gradient dicts with the same names."""
    if set(a) != set(b):
        raise ResponsibleError(f"The gradients name different parameters: {sorted(set(a) ^ set(b))[:4]}.")
    return max(float((a[k] - b[k].to(a[k].device)).abs().max()) for k in a)


def epsilon(noise_multiplier: float, sample_rate: float, steps: int, delta: float = 1e-5) -> float:
    """ε after ``steps`` DP-SGD steps at this σ and sampling rate, from ``opacus``'s RDP accountant (δ fixed).
    σ = 0 gives ε = ∞ (no privacy)."""
    if not 0 < sample_rate <= 1:
        raise ResponsibleError(f"sample_rate must be in (0, 1], not {sample_rate}.")
    if noise_multiplier == 0:
        return float("inf")
    from opacus.accountants import RDPAccountant
    acc = RDPAccountant()
    acc.history = [(float(noise_multiplier), float(sample_rate), int(steps))]
    return float(acc.get_epsilon(delta=delta))


def train_gpt_dp(model, train_ids: torch.Tensor, val_ids: torch.Tensor, *, steps: int, batch_size: int = 16,
                 block_size: int = 64, lr: float = 3e-3, max_grad_norm: float = 1.0, noise_multiplier: float = 1.0,
                 delta: float = 1e-5, seed: int = 0, eval_blocks: int = 32, progress: bool = True,
                 title: str = "DP-SGD") -> dict[str, Any]:
    """Train a causal LM with DP-SGD by hand: random windows (``labutils.train.lm.get_batch``), per-sample
    gradients, :func:`clip_and_noise`, Adam. A training example is one window of ``block_size`` tokens.

    ε is the accountant's figure for sampling rate ``batch_size / (number of windows)``; the batches here have a
    fixed size where the analysis assumes Poisson sampling, and a secret repeated ``r`` times is protected only
    at group size ``r`` (roughly ``r·ε``). Returns ``{"val_loss", "epsilon", "delta", "sample_rate", "steps",
    "train_loss", "clipped_share", "seconds"}``.
    """
    from labutils.core.progress import tqdm
    from labutils.train.lm import estimate_loss, get_batch
    _check(max_grad_norm, noise_multiplier)
    if steps < 1:
        raise ResponsibleError(f"steps must be at least 1, not {steps}.")
    dev = next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    noise_gen = torch.Generator().manual_seed(seed + 1)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    sample_rate = min(1.0, batch_size / max(1, len(train_ids) // block_size))
    losses, clipped = [], []
    t0 = time.perf_counter()
    model.train()
    for _ in tqdm(range(steps), desc=title, disable=not progress, leave=False):
        x, y = get_batch(train_ids, batch_size, block_size, generator=gen, device=dev)
        grads = per_sample_grads(model, x, y)
        clipped.append(float((per_sample_norms(grads) > max_grad_norm).float().mean()))
        noisy = clip_and_noise(grads, max_grad_norm, noise_multiplier, generator=noise_gen)
        for name, p in model.named_parameters():
            if name in noisy:
                p.grad = noisy[name].to(p.dtype)
        opt.step()
        opt.zero_grad(set_to_none=True)
        with torch.no_grad():
            losses.append(float(lm_example_loss(model(x).logits, y)))
    model.eval()
    return {"val_loss": estimate_loss(model, val_ids, block_size, max_blocks=eval_blocks),
            "epsilon": epsilon(noise_multiplier, sample_rate, steps, delta), "delta": delta,
            "sample_rate": sample_rate, "steps": steps, "noise_multiplier": noise_multiplier,
            "max_grad_norm": max_grad_norm, "train_loss": losses,
            "clipped_share": float(sum(clipped) / len(clipped)), "seconds": time.perf_counter() - t0}
