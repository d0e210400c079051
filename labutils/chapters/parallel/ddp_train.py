"""Notebook 10, data parallelism (数据并行): one training script for the course GPT, run by ``torchrun`` or ``mp.spawn``.

    torchrun --standalone --nproc_per_node 2 -m labutils.chapters.parallel.ddp_train --data D --out O --steps 20

Each rank builds the same GPT from the same seed, wraps it in ``DistributedDataParallel`` (gloo on CPU, NCCL on
GPU), reads its own shard of the data through ``DistributedSampler`` and trains; DDP all-reduces (averages)
the gradients in backward, so every rank takes the same optimizer step. Rank 0 alone logs (a ``History``)
and writes the checkpoint and the results, each atomically: a crash leaves the previous file, never half a
file. :func:`train_reference` is the same run in one process on the concatenated batches: the lesson's check.
The same file runs unchanged under ``accelerate launch`` or across nodes (``torchrun --nnodes``).
"""
from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path

import torch

from labutils.core.errors import ParallelError
from labutils.core.history import History
from labutils.core.io import atomic_path, atomic_write_text

DEFAULTS = dict(size="nano", vocab=512, block=64, batch=8, steps=10, lr=3e-3, seed=0, dtype="float32",
                ckpt_every=0, crash_at=-1, threads=1, check_step=0)


def build(cfg: dict):
    """The model, AdamW over ``lu.train`` parameter groups, and a warm-up + cosine schedule, from ``cfg``."""
    from transformers import GPT2LMHeadModel

    from labutils.models.configs import tiny_gpt_config
    cfg = {**DEFAULTS, **cfg}
    torch.manual_seed(cfg["seed"])
    model = GPT2LMHeadModel(tiny_gpt_config(cfg["size"], vocab_size=cfg["vocab"], n_positions=cfg["block"]))
    model.to(getattr(torch, cfg["dtype"]))
    return (model, *build_optimizer(model, cfg))


def build_optimizer(model, cfg: dict):
    """AdamW over :func:`labutils.train.optim.param_groups` and a warm-up + cosine ``make_scheduler``."""
    from labutils.train.optim import param_groups
    from labutils.train.schedules import make_scheduler
    opt = torch.optim.AdamW(param_groups(model, 0.1), lr=cfg["lr"], betas=(0.9, 0.95), foreach=False)
    sched = make_scheduler(opt, "cosine", cfg["steps"], warmup_steps=max(1, cfg["steps"] // 10))
    return opt, sched


def shard_indices(n_items: int, world_size: int, rank: int, batch: int, steps: int, seed: int) -> list[list[int]]:
    """The example indices rank ``rank`` trains on at each step: ``DistributedSampler`` (shuffled, one epoch after
    another with ``set_epoch``), cut into batches of ``batch``."""
    from torch.utils.data.distributed import DistributedSampler
    if n_items < world_size * batch:
        raise ParallelError(f"{n_items} examples cannot fill a batch of {batch} on each of {world_size} ranks.")
    sampler = DistributedSampler(range(n_items), num_replicas=world_size, rank=rank, shuffle=True, seed=seed,
                                 drop_last=True)
    out, epoch = [], 0
    while len(out) < steps:
        sampler.set_epoch(epoch)
        idx = list(sampler)
        out += [idx[i:i + batch] for i in range(0, len(idx) - batch + 1, batch)]
        epoch += 1
    return out[:steps]


def _loss(model, x):
    return model(input_ids=x, labels=x).loss


def run(cfg: dict) -> None:
    """One rank's training (reads ``RANK``/``WORLD_SIZE`` and the rendezvous from the environment)."""
    import torch.distributed as dist
    from safetensors.torch import load_file, save_file
    from torch.nn.parallel import DistributedDataParallel as DDP

    cfg = {**DEFAULTS, **cfg}
    torch.set_num_threads(int(cfg["threads"]))
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend, init_method="env://", timeout=datetime.timedelta(seconds=60))
    try:
        rank, world = dist.get_rank(), dist.get_world_size()
        if cfg.get("expect_world") and int(cfg["expect_world"]) != world:
            raise ParallelError(f"This run was planned for {cfg['expect_world']} processes but started with {world}.")
        device = torch.device(f"cuda:{rank % torch.cuda.device_count()}") if backend == "nccl" else torch.device("cpu")
        blocks = load_file(cfg["data"])["blocks"]
        model, opt, sched = build(cfg)
        model.to(device)
        ddp = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)
        out = Path(cfg["out"])
        hist = History(world_size=world, per_rank_batch=cfg["batch"])
        batches = shard_indices(len(blocks), world, rank, cfg["batch"], cfg["steps"], cfg["seed"])
        t_start = None
        for step, idx in enumerate(batches):
            if step == 1:                                     # step 0 is warm-up: time the rest
                dist.barrier()
                t_start = time.perf_counter()
            if step == cfg["crash_at"] and rank == world - 1:
                raise RuntimeError(f"rank {rank} crashed on purpose at step {step}")
            x = blocks[idx].to(device)
            loss = _loss(ddp, x)
            loss.backward()                                   # DDP averages the gradients over ranks here
            if step == 0 and rank == 0:
                grad = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
                with atomic_path(out / "grad_step0.safetensors") as tmp:
                    save_file({"grad": grad.detach().cpu().contiguous()}, str(tmp))
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            mean_loss = loss.detach().clone()
            dist.all_reduce(mean_loss)                        # for the log only: the mean loss over ranks
            if rank == 0:
                hist.log(step, float(mean_loss) / world, sched.get_last_lr()[0])
                if step + 1 == cfg["check_step"]:             # the weights after check_step steps, for the check
                    with atomic_path(out / "checkpoint_check.safetensors") as tmp:
                        save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()
                                   if k != "lm_head.weight"}, str(tmp))
                if cfg["ckpt_every"] and (step + 1) % cfg["ckpt_every"] == 0:
                    with atomic_path(out / "checkpoint.safetensors") as tmp:
                        save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()
                                   if k != "lm_head.weight"}, str(tmp))
        dist.barrier()
        seconds = time.perf_counter() - t_start if t_start is not None else float("nan")
        if rank == 0:
            with atomic_path(out / "checkpoint.safetensors") as tmp:
                save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()
                           if k != "lm_head.weight"}, str(tmp))
            tokens = world * cfg["batch"] * cfg["block"] * (len(batches) - 1)
            hist.update(tokens_per_second=tokens / seconds if seconds > 0 else None, seconds=seconds,
                        backend=backend, threads=int(cfg["threads"]))
            atomic_write_text(out / "result.json", json.dumps(dict(hist), indent=1))
    finally:
        dist.destroy_process_group()


def train_reference(cfg: dict, world_size: int, stop_after: int | None = None):
    """The same run in one process: at each step the ranks' batches concatenated, mean loss over all of them.

    Returns ``(model, history, first_step_gradient)``; DDP on ``world_size`` ranks must match it to rounding.
    ``stop_after=k`` stops after k steps (the schedule still plans ``cfg["steps"]``): the weights to compare
    with ``checkpoint_check.safetensors``.
    """
    from safetensors.torch import load_file
    cfg = {**DEFAULTS, **cfg}
    blocks = load_file(cfg["data"])["blocks"]
    model, opt, sched = build(cfg)
    per_rank = [shard_indices(len(blocks), world_size, r, cfg["batch"], cfg["steps"], cfg["seed"])
                for r in range(world_size)]
    hist, grad0 = History(world_size=1, per_rank_batch=cfg["batch"] * world_size), None
    t_start = None
    for step in range(cfg["steps"] if stop_after is None else stop_after):
        if step == 1:
            t_start = time.perf_counter()
        x = blocks[sum((per_rank[r][step] for r in range(world_size)), [])]
        loss = _loss(model, x)
        loss.backward()
        if step == 0:
            grad0 = torch.cat([p.grad.reshape(-1) for p in model.parameters()]).detach().clone()
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        hist.log(step, float(loss.detach()), sched.get_last_lr()[0])
    if t_start is not None:
        seconds = time.perf_counter() - t_start
        hist.update(seconds=seconds, threads=torch.get_num_threads(),
                    tokens_per_second=world_size * cfg["batch"] * cfg["block"] * (len(hist["step"]) - 1) / seconds)
    return model, hist, grad0


def compare_with_reference(out_dir, model, name: str = "checkpoint.safetensors") -> dict:
    """Max |Δ| between a checkpoint rank 0 wrote and a reference model."""
    from safetensors.torch import load_file
    out = Path(out_dir)
    ckpt = load_file(str(out / name))
    sd = model.state_dict()
    return {"weights": max(float((ckpt[k].to(sd[k].dtype) - sd[k]).abs().max()) for k in ckpt)}


def write_blocks(ids: torch.Tensor, n_blocks: int, block: int, path) -> Path:
    """Cut a token stream into ``n_blocks`` rows of ``block`` tokens and save them for the workers."""
    from safetensors.torch import save_file
    need = n_blocks * block
    if ids.numel() < need:
        raise ParallelError(f"{ids.numel()} tokens cannot fill {n_blocks} blocks of {block}; use fewer blocks.")
    with atomic_path(path) as tmp:
        save_file({"blocks": ids[:need].reshape(n_blocks, block).long().contiguous()}, str(tmp))
    return Path(path)


def parse_args(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    for k, v in DEFAULTS.items():
        p.add_argument(f"--{k.replace('_', '-')}", f"--{k}", type=type(v), default=v, dest=k) if "_" in k else \
            p.add_argument(f"--{k}", type=type(v), default=v)
    p.add_argument("--expect-world", type=int, default=0)
    return vars(p.parse_args(argv))


def main(argv: list[str] | None = None) -> None:
    """Entry point for ``torchrun ... -m labutils.chapters.parallel.ddp_train --data ... --out ...``."""
    run(parse_args(argv))


def spawn_worker(cfg: dict) -> None:
    """Entry point for :func:`labutils.chapters.parallel.launch.spawn` (the environment is already set)."""
    run(cfg)


if __name__ == "__main__":
    main()
