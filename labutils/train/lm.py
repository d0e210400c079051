"""A small, readable pretraining loop for causal LMs, and the pieces it is built from.

Notebook 04 writes the loop out by hand first; :func:`pretrain_gpt` is the same loop as a reusable
function (``labutils.models.course_gpt()`` rebuilds the course's GPT with it), and the notebook
shows the two give the same losses for the same seed.

Here: :func:`get_batch` (random ``(x, y)`` windows drawn with a ``torch.Generator``), :func:`estimate_loss` and
:func:`perplexity` (mean cross-entropy over fixed, evenly spaced windows), :func:`unigram_baseline_loss` (the bar
to beat), :func:`pretrain_gpt` and :func:`measure_tokens_per_second`. The loop uses the package's one parameter-group
rule (:mod:`labutils.train.optim`), one schedule (:mod:`labutils.train.schedules`), checkpoints
(:mod:`labutils.train.checkpoints`) and returns a :class:`labutils.train.history.History`.
"""
from __future__ import annotations

import math
import os
import time
from typing import Any

import torch
import torch.nn.functional as F

from labutils.core.errors import TrainingError  # noqa: F401 (re-exported)
from labutils.core.history import History
from labutils.train.checkpoints import checkpoint_info, load_checkpoint, save_checkpoint
from labutils.train.efficiency import _sync, amp_dtype, estimate_mfu
from labutils.train.optim import make_optimizer
from labutils.train.schedules import warmup_cosine


# ------------------------------------------------------------------------------ data
def get_batch(ids: torch.Tensor, batch_size: int, block_size: int, generator: torch.Generator | None = None,
              device: Any = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """``batch_size`` random windows of ``ids``: inputs ``x`` and targets ``y`` = ``x`` shifted by one.

    Both are ``(batch_size, block_size)`` long tensors on ``device``. The offsets come from
    ``generator`` (a CPU ``torch.Generator``), so a seeded generator gives the same batches.
    """
    if ids.dim() != 1:
        raise TrainingError(f"get_batch needs a 1-D tensor of token ids, got shape {tuple(ids.shape)}.")
    if len(ids) <= block_size:
        raise TrainingError(f"The ids hold {len(ids):,} tokens; a block needs {block_size + 1}. "
                            "Use more text or a smaller block_size.")
    starts = torch.randint(0, len(ids) - block_size, (batch_size,), generator=generator)
    offsets = starts[:, None] + torch.arange(block_size + 1)[None, :]
    windows = ids[offsets]
    x, y = windows[:, :-1], windows[:, 1:]
    dev = torch.device(device)
    if dev.type == "cuda":
        return x.pin_memory().to(dev, non_blocking=True), y.pin_memory().to(dev, non_blocking=True)
    return x.to(dev), y.to(dev)


def eval_windows(ids: torch.Tensor, block_size: int, max_blocks: int | None = None) -> torch.Tensor:
    """Non-overlapping ``block_size + 1`` windows of ``ids`` (stride ``block_size``), evenly thinned
    to ``max_blocks``: a fixed evaluation set, the same every time it is asked for."""
    n = (len(ids) - block_size - 1) // block_size + 1 if len(ids) > block_size else 0
    if n <= 0:
        raise TrainingError(f"The evaluation ids hold {len(ids):,} tokens; one block needs {block_size + 1}.")
    starts = torch.arange(n) * block_size
    if max_blocks is not None and n > max_blocks:
        starts = starts[torch.linspace(0, n - 1, max_blocks).round().long()]
    return ids[starts[:, None] + torch.arange(block_size + 1)[None, :]]


def model_context(model) -> int:
    """The longest sequence the model can read (``n_positions`` / ``max_position_embeddings``)."""
    cfg = model.config
    for key in ("n_positions", "max_position_embeddings", "n_ctx"):
        value = getattr(cfg, key, None)
        if value:
            return int(value)
    raise TrainingError("The model's config has no n_positions/max_position_embeddings.")


@torch.no_grad()
def estimate_loss(model, ids: torch.Tensor, block_size: int, batch_size: int = 32,
                  max_blocks: int | None = 64, amp: str | None = "auto") -> float:
    """Mean next-token cross-entropy (nats) over fixed windows of ``ids`` (see :func:`eval_windows`).

    The model is put in eval mode and restored to its previous mode afterwards.
    """
    windows = eval_windows(ids, block_size, max_blocks)
    device = next(model.parameters()).device
    dtype = amp_dtype(device, amp)
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(windows), batch_size):
        w = windows[i:i + batch_size].to(device)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            logits = model(w[:, :-1]).logits
        loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), w[:, 1:].reshape(-1), reduction="sum")
        total += float(loss)
        count += w[:, 1:].numel()
    model.train(was_training)
    return total / count


def perplexity(model, ids: torch.Tensor, block_size: int | None = None, batch_size: int = 32,
               max_blocks: int | None = 256) -> float:
    """``exp(mean cross-entropy)`` on ``ids``: the effective number of choices per token."""
    block_size = block_size or model_context(model)
    return math.exp(estimate_loss(model, ids, block_size, batch_size, max_blocks))


def unigram_baseline_loss(train_ids: torch.Tensor, val_ids: torch.Tensor, vocab_size: int) -> float:
    """Cross-entropy (nats/token) on ``val_ids`` of the train unigram distribution, add-one smoothed.

    ``p(t) = (count_train(t) + 1) / (N_train + vocab_size)``. A model that has not learned to use
    context cannot beat it; a language model that has learned anything must.
    """
    counts = torch.bincount(torch.as_tensor(train_ids).flatten(), minlength=vocab_size).double() + 1.0
    logp = torch.log(counts / counts.sum())
    val = torch.as_tensor(val_ids).flatten()
    if len(val) == 0:
        raise TrainingError("unigram_baseline_loss needs at least one validation token.")
    return float(-logp[val].mean())


def _lm_loss(model, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    logits = model(x).logits
    return F.cross_entropy(logits.float().view(-1, logits.size(-1)), y.reshape(-1))


# ------------------------------------------------------------------------------ the loop
_SAVED = ("step", "train_loss", "lr", "eval_step", "val_loss", "eval_seconds")  # what a checkpoint keeps


def pretrain_gpt(model, train_ids: torch.Tensor, val_ids: torch.Tensor, *, steps: int, batch_size: int = 32,
                 block_size: int = 128, lr: float = 3e-3, min_lr: float | None = None, warmup: int | None = None,
                 weight_decay: float = 0.1, betas: tuple[float, float] = (0.9, 0.95), grad_clip: float = 1.0,
                 eval_every: int = 100, eval_blocks: int = 64, ckpt_dir: str | os.PathLike | None = None,
                 ckpt_every: int | None = None, resume: bool = True, live_plot: bool = True,
                 amp: str | None = "auto", seed: int = 0, fused: bool | str = "auto", compile: bool = False,
                 progress: bool = True, baselines: dict | None = None, title: str = "Pretraining",
                 stop_at: int | None = None) -> History:
    """Pretrain a causal LM on ``train_ids`` (next-token prediction) and return its history.

    The loop: seeded random windows (:func:`get_batch`), AdamW with decay on weight matrices only
    (:func:`param_groups`), linear warm-up + cosine decay (:func:`lr_schedule`; ``warmup`` defaults
    to 5 % of ``steps``, ``min_lr`` to ``lr/10``), gradient clipping at ``grad_clip``, validation loss
    every ``eval_every`` steps and at the end on ``eval_blocks`` fixed windows, autocast (``amp``,
    float32 on a CPU), checkpoints into ``ckpt_dir`` every ``ckpt_every`` steps (default
    ``eval_every``) and at the end; with ``resume=True`` an unfinished checkpoint found there (step <
    ``steps``) is loaded first and training continues from its step, exactly as if it had never
    stopped (a finished one is ignored: the run starts over). ``stop_at`` ends the call after that
    step, as an interruption would (the schedule still spans ``steps``).

    Returns a :class:`~labutils.core.history.History`: ``step``/``train_loss``/``lr`` (every step),
    ``eval_step``/``val_loss``/``eval_seconds`` (training seconds of this call when each was taken),
    ``final_val_loss``, ``tokens_per_second`` (training steps only), ``train_wall_seconds`` (this
    call, evaluation included), ``tokens_seen``, ``mfu`` (None on a CPU), ``resumed_from``.
    """
    from labutils.core.progress import tqdm
    if steps < 1 or batch_size < 1 or block_size < 1 or eval_every < 1:
        raise TrainingError("steps, batch_size, block_size and eval_every must all be at least 1.")
    if block_size > model_context(model):
        raise TrainingError(f"block_size={block_size} is longer than the model's context ({model_context(model)}).")
    device = next(model.parameters()).device
    dtype = amp_dtype(device, amp)
    warmup = max(1, steps // 20) if warmup is None else warmup
    min_lr = lr / 10 if min_lr is None else min_lr
    ckpt_every = ckpt_every or eval_every
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    optimizer = make_optimizer(model, lr, weight_decay, betas, fused)
    scheduler = warmup_cosine(optimizer, warmup, steps, lr, min_lr)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    hist = History(eval_seconds=[], resumed_from=None)
    start = 0
    info = checkpoint_info(ckpt_dir) if ckpt_dir is not None and resume else None
    if info is not None and info["step"] < steps:
        meta = load_checkpoint(ckpt_dir, model, optimizer, scheduler, gen)
        start = int(meta["step"])
        saved = meta.get("extra", {}).get("history")
        if saved:
            if "val_step" in saved:                      # a checkpoint written before the one History schema
                saved["eval_step"] = saved.pop("val_step")
            hist.update(saved)
            hist.setdefault("eval_seconds", [])
            hist["eval_seconds"] += [None] * (len(hist["eval_step"]) - len(hist["eval_seconds"]))
        hist["resumed_from"] = start
    fwd = torch.compile(model) if compile else model
    plot = None
    if live_plot:
        from labutils.viz.plots import LiveLossPlot
        plot = LiveLossPlot(title=title, baselines=baselines)
        for s, v in zip(hist["step"], hist["train_loss"]):
            plot.update(s, train=v)
        for s, v in zip(hist["eval_step"], hist["val_loss"]):
            plot.update(s, validation=v)
    model.train()
    pending: list[torch.Tensor] = []
    t_wall = time.perf_counter()
    train_seconds, tokens = 0.0, 0
    end = steps if stop_at is None else min(steps, stop_at)
    bar = tqdm(range(start, end), desc=title, disable=not progress, initial=start, total=steps,
               mininterval=1.0)
    t0 = time.perf_counter()

    def flush() -> None:
        if pending:
            values = torch.stack(pending).tolist()
            first = hist["step"][-1] + 1 if hist["step"] else 0
            hist["step"].extend(range(first, first + len(values)))
            hist["train_loss"].extend(values)
            if plot is not None:
                for s, v in zip(range(first, first + len(values)), values):
                    plot.update(s, train=v)
            pending.clear()

    for step in bar:
        x, y = get_batch(train_ids, batch_size, block_size, gen, device)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = _lm_loss(fwd, x, y)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        hist["lr"].append(scheduler.get_last_lr()[0])
        scheduler.step()
        pending.append(loss.detach().float())
        tokens += x.numel()
        last = step == end - 1
        if (step + 1) % eval_every == 0 or last:
            _sync(device)
            train_seconds += time.perf_counter() - t0
            flush()
            val = estimate_loss(model, val_ids, block_size, batch_size, eval_blocks, amp)
            hist.log_eval(step + 1, val_loss=val, eval_seconds=train_seconds)
            if plot is not None:
                plot.update(step + 1, validation=val)
            bar.set_postfix(train=f"{hist['train_loss'][-1]:.3f}", val=f"{val:.3f}")
            if ckpt_dir is not None and ((step + 1) % ckpt_every == 0 or last):
                save_checkpoint(ckpt_dir, model, optimizer, scheduler, step + 1, gen,
                                extra={"history": {k: hist[k] for k in _SAVED}})
            t0 = time.perf_counter()
        elif ckpt_dir is not None and (step + 1) % ckpt_every == 0:
            flush()
            save_checkpoint(ckpt_dir, model, optimizer, scheduler, step + 1, gen,
                            extra={"history": {k: hist[k] for k in _SAVED}})
    bar.close()
    flush()
    if plot is not None:
        hist["figure"] = plot.finish()
    model.eval()
    tps = tokens / train_seconds if train_seconds > 0 else None
    hist.update(
        final_val_loss=hist["val_loss"][-1] if hist["val_loss"] else None,
        tokens_per_second=tps, train_wall_seconds=time.perf_counter() - t_wall, tokens_seen=tokens,
        mfu=estimate_mfu(model, tps, block_size, device, dtype) if tps else None,
        steps=steps, batch_size=batch_size, block_size=block_size, lr_max=lr,
    )
    return hist.check()


def measure_tokens_per_second(model, ids: torch.Tensor, batch_size: int, block_size: int, steps: int = 5,
                              warmup: int = 2, lr: float = 1e-3, amp: str | None = "auto") -> float:
    """Training tokens/s of ``model`` on random batches of ``ids`` (a copy of the weights is restored after)."""
    device = next(model.parameters()).device
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    opt = make_optimizer(model, lr)
    dtype = amp_dtype(device, amp)
    g = torch.Generator().manual_seed(0)
    model.train()
    t0 = None
    for i in range(warmup + steps):
        if i == warmup:
            _sync(device)
            t0 = time.perf_counter()
        x, y = get_batch(ids, batch_size, block_size, g, device)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = _lm_loss(model, x, y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    _sync(device)
    seconds = time.perf_counter() - t0
    model.load_state_dict(saved)
    return steps * batch_size * block_size / seconds
