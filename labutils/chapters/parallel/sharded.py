"""Notebook 10, splitting the model itself: FSDP2 (``fully_shard``), tensor parallelism of an MLP (Megatron
style, column then row) and a 2-stage GPipe pipeline of the course GPT, each checked equal to the unsplit model.

All three run as jobs in :func:`jobs_worker` (one process group, several lessons, one start-up cost); rank 0
writes what each job measured to ``results.json`` atomically.
"""
from __future__ import annotations

import datetime
import json
import time
from pathlib import Path

import torch

from labutils.core.io import atomic_write_text


# ------------------------------------------------------------------ FSDP2 (ZeRO-3 style sharding)
def fsdp_job(cfg: dict) -> dict:
    """Train the course GPT with ``fully_shard`` (each block, then the root) on this rank's shard of the data;
    return the full weights' max |Δ| to :func:`ddp_train.train_reference` and the bytes this rank holds."""
    import torch.distributed as dist
    from safetensors.torch import load_file
    from torch.distributed.fsdp import fully_shard

    from labutils.chapters.parallel import ddp_train as D
    rank, world = dist.get_rank(), dist.get_world_size()
    blocks = load_file(cfg["data"])["blocks"]
    model, _, _ = D.build(cfg)
    full_params = sum(p.numel() for p in model.parameters())
    for block in model.transformer.h:
        fully_shard(block)
    fully_shard(model)
    opt, sched = D.build_optimizer(model, cfg)      # after sharding: the optimizer sees the shards (DTensors)
    check = int(cfg.get("check_step") or 0)
    at_check = None
    for step, idx in enumerate(D.shard_indices(len(blocks), world, rank, cfg["batch"], cfg["steps"], cfg["seed"])):
        loss = model(input_ids=blocks[idx], labels=blocks[idx]).loss
        loss.backward()                             # FSDP reduce-scatters (averages) the gradient shards
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        if step + 1 == check:                       # full_tensor() all-gathers: every rank takes part
            at_check = {k: v.full_tensor().detach().clone() for k, v in model.state_dict().items()}
    local = sum(p.to_local().numel() for p in model.parameters())
    state = sum(t.to_local().numel() for s in opt.state.values() for t in s.values()
                if hasattr(t, "to_local") and t.dim() > 0)
    full = {k: (v.full_tensor() if hasattr(v, "full_tensor") else v).detach() for k, v in model.state_dict().items()}
    result = {"full_params": full_params, "local_params": local, "local_optimizer_numbers": state,
              "local_param_bytes": 4 * local, "local_optimizer_bytes": 4 * state}
    if rank == 0:
        ref, _, _ = D.train_reference(cfg, world)
        sd = ref.state_dict()
        result["final_max_diff"] = max(float((full[k] - sd[k]).abs().max()) for k in sd)
        if at_check is not None:
            sd = D.train_reference(cfg, world, stop_after=check)[0].state_dict()
            result["max_diff"] = max(float((at_check[k] - sd[k]).abs().max()) for k in sd)
    return result


# ------------------------------------------------------------------ tensor parallelism (Megatron-LM)
def mlp_weights(h: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """The weights of one GPT MLP, h → 4h → h (W1: 4h × h, W2: h × 4h, as ``nn.Linear`` stores them)."""
    g = torch.Generator().manual_seed(seed)
    return {"w1": torch.randn(4 * h, h, generator=g) / h ** 0.5, "b1": torch.randn(4 * h, generator=g) * 0.1,
            "w2": torch.randn(h, 4 * h, generator=g) / (4 * h) ** 0.5, "b2": torch.randn(h, generator=g) * 0.1}


def mlp(x: torch.Tensor, w: dict) -> torch.Tensor:
    """The unsplit MLP: GELU(x W1ᵀ + b1) W2ᵀ + b2."""
    return torch.nn.functional.gelu(x @ w["w1"].T + w["b1"]) @ w["w2"].T + w["b2"]


class _SumForward(torch.autograd.Function):
    """Megatron's g operator: all-reduce (sum) in forward, identity in backward (the loss is replicated)."""

    @staticmethod
    def forward(ctx, x):
        import torch.distributed as dist
        y = x.clone()
        dist.all_reduce(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        return grad


def tensor_parallel_job(cfg: dict) -> dict:
    """Megatron's MLP split over the ranks: W1 by output columns (each rank computes its slice of the 4h hidden
    units, GELU needs no communication), W2 by input rows (each rank a partial sum), one all-reduce at the end.
    Forward output and the weight gradients are compared with the unsplit MLP on every rank."""
    import torch.distributed as dist
    rank, world = dist.get_rank(), dist.get_world_size()
    h = int(cfg.get("tp_hidden", 64))
    w = mlp_weights(h)
    x = torch.randn(8, 16, h, generator=torch.Generator().manual_seed(1))
    cols = slice(rank * 4 * h // world, (rank + 1) * 4 * h // world)
    w1 = w["w1"][cols].clone().requires_grad_()
    b1 = w["b1"][cols].clone().requires_grad_()
    w2 = w["w2"][:, cols].clone().requires_grad_()
    partial = torch.nn.functional.gelu(x @ w1.T + b1) @ w2.T
    y = _SumForward.apply(partial) + w["b2"]          # the g operator: sum in forward, identity in backward
    (y ** 2).mean().backward()
    full = {k: v.clone().requires_grad_() for k, v in w.items()}
    y_ref = mlp(x, full)
    (y_ref ** 2).mean().backward()
    y, y_ref = y.detach(), y_ref.detach()
    diffs = [float((y - y_ref).abs().max()), float((w1.grad - full["w1"].grad[cols]).abs().max()),
             float((w2.grad - full["w2"].grad[:, cols]).abs().max())]
    t = torch.tensor(max(diffs))
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return {"max_diff": float(t), "forward_max_diff": diffs[0], "params_per_rank": w1.numel() + b1.numel() + w2.numel(),
            "params_full": sum(v.numel() for v in w.values())}


# ------------------------------------------------------------------ pipeline parallelism (GPipe)
def bubble_fraction(stages: int, micro_batches: int) -> float:
    """Idle share of a GPipe schedule: (p − 1) / (m + p − 1) (Huang et al. 2019, *GPipe*)."""
    return (stages - 1) / (micro_batches + stages - 1)


def _stage_forward(model, rank: int, k: int, x: torch.Tensor) -> torch.Tensor:
    t = model.transformer
    if rank == 0:
        h = t.wte(x) + t.wpe(torch.arange(x.size(1)))
        for block in t.h[:k]:
            h = block(h)
        return h
    for block in t.h[k:]:
        x = block(x)
    return model.lm_head(t.ln_f(x))


def pipeline_job(cfg: dict) -> dict:
    """The course GPT (untied embeddings) cut after half its layers: rank 0 holds the embeddings and the first
    half, rank 1 the rest and the LM head. GPipe: all micro-batch forwards (activations sent 0 → 1), then all
    backwards (activation gradients sent 1 → 0); gradients accumulate over micro-batches, then compare with
    one backward of the unsplit model on the whole batch. The bubble is measured as the idle share of each rank."""
    import torch.distributed as dist
    from transformers import GPT2LMHeadModel

    from labutils.models.configs import tiny_gpt_config
    rank, world = dist.get_rank(), dist.get_world_size()
    if world != 2:
        return {"skipped": "the pipeline lesson uses exactly 2 stages"}
    m_micro, vocab = int(cfg.get("micro_batches", 4)), int(cfg.get("vocab", 512))
    conf = tiny_gpt_config(cfg.get("pp_size", "micro"), vocab_size=vocab, n_positions=cfg.get("block", 64),
                           tie_word_embeddings=False)
    torch.manual_seed(0)
    model = GPT2LMHeadModel(conf)
    k = conf.n_layer // 2
    x = torch.randint(0, vocab, (int(cfg.get("pp_batch", 16)), int(cfg.get("block", 64))),
                      generator=torch.Generator().manual_seed(2))
    micro = list(x.chunk(m_micro))
    busy, outs = 0.0, []
    dist.barrier()
    t0 = time.perf_counter()
    for mb in micro:                                  # forward of every micro-batch
        if rank == 0:
            s = time.perf_counter()
            h = _stage_forward(model, 0, k, mb)
            busy += time.perf_counter() - s
            dist.send(h.detach(), 1)
            outs.append(h)
        else:
            h = torch.empty(mb.size(0), mb.size(1), conf.n_embd)
            dist.recv(h, 0)
            s = time.perf_counter()
            h.requires_grad_()
            logits = _stage_forward(model, 1, k, h)
            loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, vocab), mb[:, 1:].reshape(-1))
            busy += time.perf_counter() - s
            outs.append((h, loss / m_micro))
    for i in range(m_micro):                          # backward of every micro-batch
        if rank == 1:
            h, loss = outs[i]
            s = time.perf_counter()
            loss.backward()
            busy += time.perf_counter() - s
            dist.send(h.grad, 0)
        else:
            g = torch.empty_like(outs[i])
            dist.recv(g, 1)
            s = time.perf_counter()
            outs[i].backward(g)
            busy += time.perf_counter() - s
    dist.barrier()
    wall = time.perf_counter() - t0
    t = torch.tensor([busy, wall])
    gathered = [torch.empty(2) for _ in range(world)]
    dist.all_gather(gathered, t)
    mine = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    ref = GPT2LMHeadModel(conf)
    ref.load_state_dict(model.state_dict())
    ref.zero_grad()
    ref(input_ids=x, labels=x).loss.backward()
    ref_grads = dict(ref.named_parameters())
    diff = torch.tensor(max(float((g - ref_grads[n].grad).abs().max()) for n, g in mine.items()))
    dist.all_reduce(diff, op=dist.ReduceOp.MAX)
    idle = [1 - float(b) / float(w_) for b, w_ in gathered]
    return {"max_diff": float(diff), "micro_batches": m_micro, "stages": world,
            "bubble_formula": bubble_fraction(world, m_micro), "idle_share_by_rank": idle,
            "wall_seconds": float(wall)}


# ------------------------------------------------------------------ one worker, several jobs
JOBS = {"fsdp": fsdp_job, "tensor_parallel": tensor_parallel_job, "pipeline": pipeline_job}


def jobs_worker(cfg: dict) -> None:
    """Run ``cfg["jobs"]`` (names of :data:`JOBS` and ``"collectives"``) in one gloo process group."""
    import torch.distributed as dist

    from labutils.chapters.parallel.collectives import collectives_demo
    dist.init_process_group("gloo", init_method="env://", timeout=datetime.timedelta(seconds=60))
    try:
        results = {}
        for name in cfg["jobs"]:
            s = time.perf_counter()
            results[name] = collectives_demo() if name == "collectives" else JOBS[name](cfg)
            results[name]["seconds"] = time.perf_counter() - s
            dist.barrier()
        per_rank = [None] * dist.get_world_size()
        dist.all_gather_object(per_rank, results)
        if dist.get_rank() == 0:
            atomic_write_text(Path(cfg["out"]) / "results.json", json.dumps(per_rank, indent=1))
    finally:
        dist.destroy_process_group()
