"""Notebook 10, communication by hand (集合通信): the four collectives of ``torch.distributed`` on small tensors,
and a ring all-reduce written with point-to-point ``send``/``recv``, checked equal to ``dist.all_reduce``.

A ring all-reduce (Patarasuk & Yuan 2009; the algorithm behind NCCL and Horovod) cuts the tensor into N
chunks; in N−1 steps of reduce-scatter each rank ends with one chunk fully summed, in N−1 steps of all-gather
every rank gets every summed chunk. Each rank sends 2(N−1)/N of the tensor in all, whatever N is: that is
why data parallelism scales. :func:`ring_bytes_per_rank` is the formula; the worker counts what it really sent.
"""
from __future__ import annotations

import torch

from labutils.core.errors import ParallelError


def ring_bytes_per_rank(n_bytes: int, world_size: int) -> float:
    """Bytes one rank sends in a ring all-reduce of ``n_bytes``: 2(N−1)/N · n_bytes."""
    if world_size < 1 or n_bytes < 0:
        raise ParallelError(f"Need world_size ≥ 1 and n_bytes ≥ 0, got {world_size} and {n_bytes}.")
    return 2 * (world_size - 1) / world_size * n_bytes


def collective_bytes(n_bytes: int, world_size: int) -> dict[str, float]:
    """Bytes each rank sends for each collective on a tensor of ``n_bytes`` (ring/tree-optimal algorithms)."""
    f = (world_size - 1) / world_size
    return {"all_reduce": 2 * f * n_bytes, "reduce_scatter": f * n_bytes, "all_gather": f * n_bytes,
            "broadcast": float(n_bytes) / max(1, world_size - 1) if world_size > 1 else 0.0}


def ring_all_reduce(tensor: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Sum ``tensor`` over all ranks with a ring of ``send``/``recv``; returns ``(sum, bytes this rank sent)``."""
    import torch.distributed as dist
    rank, n = dist.get_rank(), dist.get_world_size()
    if n == 1:
        return tensor.clone(), 0
    flat = tensor.detach().clone().reshape(-1)
    chunks = list(flat.tensor_split(n))
    right, left = (rank + 1) % n, (rank - 1) % n
    sent = 0

    def exchange(send_idx: int, recv_idx: int) -> torch.Tensor:
        nonlocal sent
        buf = torch.empty_like(chunks[recv_idx])
        req = dist.isend(chunks[send_idx].contiguous(), right)
        dist.recv(buf, left)
        req.wait()
        sent += chunks[send_idx].numel() * chunks[send_idx].element_size()
        return buf

    for step in range(n - 1):                         # reduce-scatter: chunk (rank − step) travels and sums up
        s, r = (rank - step) % n, (rank - step - 1) % n
        chunks[r] = chunks[r] + exchange(s, r)
    for step in range(n - 1):                         # all-gather: the finished chunks go round once more
        s, r = (rank + 1 - step) % n, (rank - step) % n
        chunks[r] = exchange(s, r)
    return torch.cat(chunks).reshape(tensor.shape), sent


def collectives_demo(numel: int = 1 << 16) -> dict:
    """Run the four collectives and the ring on this rank (inside an initialised process group).

    Every rank holds ``rank + 1`` times a fixed random tensor, so each result has a value we know.
    """
    import torch.distributed as dist
    rank, n = dist.get_rank(), dist.get_world_size()
    g = torch.Generator().manual_seed(0)
    base = torch.randn(numel, generator=g)
    mine = base * (rank + 1)
    expected_sum = base * (n * (n + 1) / 2)
    out = {}
    t = mine.clone()
    dist.all_reduce(t)
    out["all_reduce_max_diff"] = float((t - expected_sum).abs().max())
    b = mine.clone()
    dist.broadcast(b, src=0)
    out["broadcast_max_diff"] = float((b - base).abs().max())
    parts = [torch.empty_like(mine) for _ in range(n)]
    dist.all_gather(parts, mine)
    out["all_gather_max_diff"] = max(float((p - base * (i + 1)).abs().max()) for i, p in enumerate(parts))
    shard = torch.empty(numel // n)
    dist.reduce_scatter(shard, list(mine.chunk(n)))
    out["reduce_scatter_max_diff"] = float((shard - expected_sum.chunk(n)[rank]).abs().max())
    ring, sent = ring_all_reduce(mine)
    out["ring_vs_all_reduce_max_diff"] = float((ring - t).abs().max())
    out["ring_bytes_sent"] = sent
    out["ring_bytes_formula"] = ring_bytes_per_rank(mine.numel() * mine.element_size(), n)
    out["tensor_bytes"] = mine.numel() * mine.element_size()
    return out
