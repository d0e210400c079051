"""Notebook 07, batch size: effective batch size, gradient accumulation checked equal to one large batch, and
the memory and time a batch costs (saved activations measured)."""
from __future__ import annotations

import math
import time
from typing import Any, Iterable, Mapping, Sequence

from labutils.chapters.heads import make_head, single_thread
from labutils.core.errors import ChallengeError


# ============================================================================ batch size, accumulation
def effective_batch_size(per_device_batch: int, accumulation_steps: int = 1, devices: int = 1) -> int:
    """Examples behind one optimizer step: per-device batch × accumulation steps × devices."""
    for name, v in (("per_device_batch", per_device_batch), ("accumulation_steps", accumulation_steps),
                    ("devices", devices)):
        if int(v) != v or v < 1:
            raise ChallengeError(f"{name} must be a positive integer, got {v!r}.")
    return int(per_device_batch * accumulation_steps * devices)


def accumulation_max_abs_diff(X, y, *, micro_batch: int = 8, accumulation_steps: int = 4, steps: int = 5,
                              lr: float = 0.05, hidden: int = 32, optimizer: str = "adamw",
                              divide: bool = True, seed: int = 0, dtype=None) -> float:
    """Train two copies of one head for ``steps`` optimizer steps on the same examples:

    A with batches of ``micro_batch × accumulation_steps`` examples, B with ``accumulation_steps``
    micro-batches whose gradients are accumulated before each step (each micro-batch loss divided
    by ``accumulation_steps`` when ``divide``). Returns the largest absolute difference between
    their weights. The head has no dropout or batch norm, so A and B see the same function.
    """
    import torch
    from torch import nn
    if optimizer not in ("adamw", "sgd"):
        raise ChallengeError(f"optimizer must be 'adamw' or 'sgd', got {optimizer!r}.")
    with single_thread():
        return _accumulation_diff(X, y, micro_batch, accumulation_steps, steps, lr, hidden, optimizer, divide,
                                  seed, dtype or torch.float32, nn)


def _accumulation_diff(X, y, micro_batch, accumulation_steps, steps, lr, hidden, optimizer, divide, seed, dtype, nn):
    import torch
    big = micro_batch * accumulation_steps
    need = big * steps
    X, y = torch.as_tensor(X)[:need].to(dtype), torch.as_tensor(y, dtype=torch.long)[:need]
    if len(y) < need:
        raise ChallengeError(f"Need {need} examples for {steps} steps of {big}; got {len(y)}.")
    models = [make_head(X.shape[1], int(y.max()) + 1, hidden, 0.0, seed).to(dtype) for _ in range(2)]

    def make_opt(m):
        return (torch.optim.AdamW(m.parameters(), lr=lr, weight_decay=0.01) if optimizer == "adamw"
                else torch.optim.SGD(m.parameters(), lr=lr))
    opt_a, opt_b = make_opt(models[0]), make_opt(models[1])
    loss_fn = nn.CrossEntropyLoss()
    for s in range(steps):
        xb, yb = X[s * big:(s + 1) * big], y[s * big:(s + 1) * big]
        opt_a.zero_grad()
        loss_fn(models[0](xb), yb).backward()
        opt_a.step()
        opt_b.zero_grad()
        for j in range(accumulation_steps):
            sl = slice(j * micro_batch, (j + 1) * micro_batch)
            loss = loss_fn(models[1](xb[sl]), yb[sl])
            (loss / accumulation_steps if divide else loss).backward()
        opt_b.step()
    return max(float((pa - pb).detach().abs().max()) for pa, pb in zip(models[0].parameters(), models[1].parameters()))


def saved_activation_bytes(model, batch: Mapping[str, Any]) -> int:
    """Bytes of the tensors autograd keeps from one forward pass for the backward pass.

    Measured with ``torch.autograd.graph.saved_tensors_hooks``; each storage is counted once and
    the model's own parameters are left out, so what remains is the activation memory that grows
    with batch size and sequence length.
    """
    import torch
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: set[int] = set()
    total = 0

    def pack(t):
        nonlocal total
        try:
            st = t.untyped_storage()
            ptr = st.data_ptr()
            if ptr not in params and ptr not in seen:
                seen.add(ptr)
                total += st.nbytes()
        except (RuntimeError, NotImplementedError):  # e.g. tensors without storage
            pass
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(**batch)
    del out
    return total


def batch_cost(model, tokenizer, texts: Sequence[str], batch_sizes: Iterable[int], *, max_length: int = 32,
               repeats: int = 2, device=None) -> list[dict]:
    """Time per example of one training step (forward + backward) and its activation memory, per batch size.

    Each row: ``batch``, ``ms_per_example`` (best of ``repeats`` after one warm-up), ``activation_mb``
    (:func:`saved_activation_bytes`) and ``cuda_peak_mb`` (``torch.cuda.max_memory_allocated`` on a
    GPU, else ``None``). Gradients are computed and thrown away; the weights do not change.
    """
    import torch
    device = device or next(model.parameters()).device
    model.train()
    rows = []
    texts = list(texts)
    for b in batch_sizes:
        if b > len(texts):
            raise ChallengeError(f"batch size {b} needs at least {b} texts; got {len(texts)}.")
        enc = tokenizer(texts[:b], padding="max_length", truncation=True, max_length=max_length,
                        return_tensors="pt").to(device)
        labels = torch.zeros(b, dtype=torch.long, device=device)
        act = saved_activation_bytes(model, dict(enc, labels=labels))
        cuda = device.type == "cuda" if hasattr(device, "type") else str(device).startswith("cuda")
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        best = math.inf
        for r in range(repeats + 1):
            t0 = time.perf_counter()
            model.zero_grad(set_to_none=True)
            model(**enc, labels=labels).loss.backward()
            if cuda:
                torch.cuda.synchronize()
            if r > 0:
                best = min(best, time.perf_counter() - t0)
        model.zero_grad(set_to_none=True)
        rows.append({"batch": b, "ms_per_example": 1000 * best / b, "activation_mb": act / 2**20,
                     "cuda_peak_mb": torch.cuda.max_memory_allocated() / 2**20 if cuda else None})
    return rows
