"""A small, readable pretraining loop for causal LMs, and the pieces it is built from.

Notebook 04 writes the loop out by hand first; :func:`pretrain_gpt` is the same loop as a reusable
function (``labutils.models.course_gpt()`` rebuilds the course's GPT with it), and the notebook
shows the two give the same losses for the same seed.

Pieces, each usable on its own:

* :func:`get_batch` - random ``(x, y)`` windows from a 1-D id tensor, drawn with a ``torch.Generator``.
* :func:`estimate_loss` / :func:`perplexity` - mean cross-entropy over fixed, evenly spaced windows.
* :func:`unigram_baseline_loss` - the loss of a model that ignores context (the bar to beat).
* :func:`param_groups` - AdamW groups: weight decay on weight matrices only.
* :func:`lr_schedule` / :func:`warmup_cosine` - linear warm-up then cosine decay.
* :func:`save_checkpoint` / :func:`load_checkpoint` - one safetensors file, written atomically,
  holding model, optimizer, scheduler, step and every RNG state, so a resumed run is exact.
* :func:`sampling_distribution` / :func:`generate_text` - temperature, top-k, top-p and repetition
  penalty written out, with the semantics of ``transformers``' ``generate``.
* :func:`peak_flops` / :func:`estimate_mfu` / :func:`training_flops_per_token` - efficiency.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import torch
import torch.nn.functional as F

__all__ = [
    "TrainingError", "get_batch", "estimate_loss", "perplexity", "unigram_baseline_loss", "param_groups",
    "lr_schedule", "warmup_cosine", "save_checkpoint", "load_checkpoint", "checkpoint_info", "CHECKPOINT_FILE", "amp_dtype",
    "make_optimizer", "pretrain_gpt", "sampling_distribution", "generate_ids", "generate_text", "peak_flops",
    "estimate_mfu", "training_flops_per_token", "measure_tokens_per_second", "model_context",
]

CHECKPOINT_FILE = "checkpoint.safetensors"


class TrainingError(ValueError):
    """A setting or input the training code cannot use; the message says what is valid."""


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


# ------------------------------------------------------------------------------ optimisation
def param_groups(model, weight_decay: float = 0.1) -> list[dict]:
    """Two AdamW groups: weight matrices decay; biases, LayerNorm gains and embeddings do not.

    Weight decay pulls parameters towards 0. That is a sensible prior for the matrices of linear
    layers (it limits their scale), but not for a bias or a LayerNorm gain (0 is not "simple" for a
    gain, 1 is), nor for embedding rows: a rare token's row gets few gradient updates, and decay
    would shrink it towards 0 between them. GPT-2's ``lm_head`` is tied to the token embedding, so
    it is an embedding here. Tensors are matched by identity, so a tied tensor appears once.
    """
    emb_ids = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Embedding)}
    decay, no_decay, seen = [], [], set()
    for name, p in model.named_parameters():
        if not p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        if p.dim() >= 2 and id(p) not in emb_ids:
            decay.append(p)
        else:
            no_decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def lr_schedule(step: int, warmup: int, total: int, max_lr: float, min_lr: float = 0.0) -> float:
    """Learning rate at ``step`` (0-based): linear warm-up to ``max_lr``, then cosine down to ``min_lr``.

    ``lr = max_lr·(step+1)/warmup`` for ``step < warmup``; afterwards, with
    ``progress = (step − warmup)/(total − warmup)`` clipped to [0, 1],
    ``lr = min_lr + ½(max_lr − min_lr)(1 + cos(π·progress))``.
    """
    if total <= 0 or warmup < 0 or max_lr < min_lr:
        raise TrainingError(f"Need total > 0, warmup ≥ 0 and max_lr ≥ min_lr; got total={total}, "
                            f"warmup={warmup}, max_lr={max_lr}, min_lr={min_lr}.")
    if step < warmup:
        return max_lr * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_lr + 0.5 * (max_lr - min_lr) * (1.0 + math.cos(math.pi * progress))


class _WarmupCosine:
    """A picklable lr multiplier for ``LambdaLR`` (a plain lambda cannot be saved)."""

    def __init__(self, warmup: int, total: int, max_lr: float, min_lr: float):
        self.warmup, self.total, self.max_lr, self.min_lr = warmup, total, max_lr, min_lr

    def __call__(self, step: int) -> float:
        return lr_schedule(step, self.warmup, self.total, self.max_lr, self.min_lr) / self.max_lr


def warmup_cosine(optimizer, warmup: int, total: int, max_lr: float, min_lr: float = 0.0):
    """A ``torch.optim.lr_scheduler.LambdaLR`` following :func:`lr_schedule` (set the optimizer's lr to ``max_lr``)."""
    lr_schedule(0, warmup, total, max_lr, min_lr)  # validates
    for group in optimizer.param_groups:
        group["lr"] = max_lr
        group["initial_lr"] = max_lr
    return torch.optim.lr_scheduler.LambdaLR(optimizer, _WarmupCosine(warmup, total, max_lr, min_lr))


def make_optimizer(model, lr: float, weight_decay: float = 0.1, betas: tuple[float, float] = (0.9, 0.95),
                   fused: bool | str = "auto"):
    """AdamW over :func:`param_groups`; ``fused="auto"`` uses the fused CUDA kernel on a GPU."""
    device = next(model.parameters()).device
    if fused == "auto":
        fused = device.type == "cuda"
    return torch.optim.AdamW(param_groups(model, weight_decay), lr=lr, betas=betas, fused=bool(fused) or None)


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


# ------------------------------------------------------------------------------ checkpoints
def _rng_state(generator: torch.Generator | None) -> tuple[dict[str, torch.Tensor], dict]:
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    if generator is not None:
        tensors["rng.batches"] = generator.get_state()
    py = random.getstate()
    meta = {"python_rng": [py[0], list(py[1]), py[2]]}
    try:
        import numpy as np
        st = np.random.get_state()
        tensors["rng.numpy"] = torch.from_numpy(st[1].astype("int64"))
        meta["numpy_rng"] = [st[0], int(st[2]), int(st[3]), float(st[4])]
    except ImportError:  # pragma: no cover
        pass
    return tensors, meta


def _set_rng_state(tensors: dict[str, torch.Tensor], meta: dict, generator: torch.Generator | None) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    if torch.cuda.is_available():
        states = [tensors[k] for k in sorted(k for k in tensors if k.startswith("rng.cuda."))]
        if states:
            torch.cuda.set_rng_state_all(states)
    if generator is not None and "rng.batches" in tensors:
        generator.set_state(tensors["rng.batches"])
    if "python_rng" in meta:
        v, state, gauss = meta["python_rng"]
        random.setstate((v, tuple(state), gauss))
    if "numpy_rng" in meta and "rng.numpy" in tensors:
        import numpy as np
        name, pos, has_gauss, cached = meta["numpy_rng"]
        np.random.set_state((name, tensors["rng.numpy"].numpy().astype("uint32"), pos, has_gauss, cached))


def save_checkpoint(path: str | os.PathLike, model, optimizer=None, scheduler=None, step: int = 0,
                    generator: torch.Generator | None = None, extra: dict | None = None) -> Path:
    """Write everything a run needs to continue exactly into one safetensors file, atomically.

    ``path`` is a directory (the file is ``checkpoint.safetensors`` inside) or a ``.safetensors``
    file. Tensors: the model's state (a tied tensor stored once), the optimizer's state tensors,
    and the RNG states (torch, CUDA, NumPy, the batch ``generator``). Everything else (optimizer
    hyper-parameters, scheduler state, step, ``extra``) goes into the file's JSON metadata. The file
    is first written under a temporary name in the same directory, then moved into place with
    ``os.replace``, so a crash never leaves a half-written checkpoint.
    """
    from safetensors.torch import save_file
    path = Path(path)
    target = path if path.suffix == ".safetensors" else path / CHECKPOINT_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    by_ptr: dict[tuple, str] = {}
    for name, t in model.state_dict().items():
        key = (t.data_ptr(), t.dtype, tuple(t.shape), t.storage_offset())
        if t.numel() and key in by_ptr:
            aliases[name] = by_ptr[key]
            continue
        by_ptr[key] = name
        tensors[f"model.{name}"] = t.detach().to("cpu").contiguous().clone()
    meta: dict[str, Any] = {"step": int(step), "aliases": aliases, "extra": extra or {}}
    if optimizer is not None:
        sd = optimizer.state_dict()
        scalars: dict[str, dict] = {}
        for idx, state in sd["state"].items():
            for k, v in state.items():
                if torch.is_tensor(v):
                    tensors[f"optim.{idx}.{k}"] = v.detach().to("cpu").contiguous().clone()
                else:
                    scalars.setdefault(str(idx), {})[k] = v
        meta["optimizer"] = {"param_groups": sd["param_groups"], "scalars": scalars}
    if scheduler is not None:
        meta["scheduler"] = scheduler.state_dict()          # _WarmupCosine keeps plain numbers: JSON
    rng, rng_meta = _rng_state(generator)
    tensors.update(rng)
    meta.update(rng_meta)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".safetensors", dir=target.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={"labutils": json.dumps(meta)})
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return target


def checkpoint_info(path: str | os.PathLike | None) -> dict | None:
    """The metadata (``step``, ``extra``, ...) of the checkpoint at ``path``, or None if there is none."""
    if path is None:
        return None
    from safetensors import safe_open
    path = Path(path)
    target = path if path.suffix == ".safetensors" else path / CHECKPOINT_FILE
    if not target.is_file():
        return None
    with safe_open(str(target), framework="pt") as fh:
        return json.loads(fh.metadata()["labutils"])


def load_checkpoint(path: str | os.PathLike, model, optimizer=None, scheduler=None,
                    generator: torch.Generator | None = None, restore_rng: bool = True) -> dict:
    """Load a :func:`save_checkpoint` file into ``model`` (and optimizer, scheduler, RNGs).

    Returns the metadata dict (``step``, ``extra``, ...). Raises ``FileNotFoundError`` if there is
    no checkpoint at ``path``.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file
    path = Path(path)
    target = path if path.suffix == ".safetensors" else path / CHECKPOINT_FILE
    if not target.is_file():
        raise FileNotFoundError(f"No checkpoint at {target}.")
    with safe_open(str(target), framework="pt") as fh:
        meta = json.loads(fh.metadata()["labutils"])
    tensors = load_file(str(target))
    device = next(model.parameters()).device
    state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    for name, source in meta.get("aliases", {}).items():
        state[name] = state[source]
    model.load_state_dict(state)
    if optimizer is not None and "optimizer" in meta:
        opt_state: dict[int, dict] = {}
        for k, v in tensors.items():
            if k.startswith("optim."):
                _, idx, name = k.split(".", 2)
                opt_state.setdefault(int(idx), {})[name] = v
        for idx, scalars in meta["optimizer"].get("scalars", {}).items():
            opt_state.setdefault(int(idx), {}).update(scalars)
        optimizer.load_state_dict({"state": opt_state, "param_groups": meta["optimizer"]["param_groups"]})
        for st in optimizer.state.values():          # optimizer state follows the model's device
            for k, v in st.items():
                if torch.is_tensor(v) and k != "step":
                    st[k] = v.to(device)
    if scheduler is not None and "scheduler" in meta:
        scheduler.load_state_dict(meta["scheduler"])
    if restore_rng:
        _set_rng_state(tensors, meta, generator)
    return meta


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


def _sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _lm_loss(model, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    logits = model(x).logits
    return F.cross_entropy(logits.float().view(-1, logits.size(-1)), y.reshape(-1))


# ------------------------------------------------------------------------------ the loop
def pretrain_gpt(model, train_ids: torch.Tensor, val_ids: torch.Tensor, *, steps: int, batch_size: int = 32,
                 block_size: int = 128, lr: float = 3e-3, min_lr: float | None = None, warmup: int | None = None,
                 weight_decay: float = 0.1, betas: tuple[float, float] = (0.9, 0.95), grad_clip: float = 1.0,
                 eval_every: int = 100, eval_blocks: int = 64, ckpt_dir: str | os.PathLike | None = None,
                 ckpt_every: int | None = None, resume: bool = True, live_plot: bool = True,
                 amp: str | None = "auto", seed: int = 0, fused: bool | str = "auto", compile: bool = False,
                 progress: bool = True, baselines: dict | None = None, title: str = "Pretraining",
                 stop_at: int | None = None) -> dict:
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

    Returns a dict: ``step``/``train_loss`` (every step), ``val_step``/``val_loss``, ``lr``,
    ``final_val_loss``, ``tokens_per_second`` (training steps only), ``train_wall_seconds`` (this
    call, evaluation included), ``tokens_seen``, ``mfu`` (None on a CPU), ``resumed_from``.
    """
    from tqdm.auto import tqdm
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
    hist: dict[str, Any] = {"step": [], "train_loss": [], "lr": [], "val_step": [], "val_loss": [],
                            "resumed_from": None}
    start = 0
    info = checkpoint_info(ckpt_dir) if ckpt_dir is not None and resume else None
    if info is not None and info["step"] < steps:
        meta = load_checkpoint(ckpt_dir, model, optimizer, scheduler, gen)
        start = int(meta["step"])
        saved = meta.get("extra", {}).get("history")
        if saved:
            hist.update(saved)
        hist["resumed_from"] = start
    fwd = torch.compile(model) if compile else model
    plot = None
    if live_plot:
        from .plots import LiveLossPlot
        plot = LiveLossPlot(title=title, baselines=baselines)
        for s, v in zip(hist["step"], hist["train_loss"]):
            plot.update(s, train=v)
        for s, v in zip(hist["val_step"], hist["val_loss"]):
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
            hist["val_step"].append(step + 1)
            hist["val_loss"].append(val)
            if plot is not None:
                plot.update(step + 1, validation=val)
            bar.set_postfix(train=f"{hist['train_loss'][-1]:.3f}", val=f"{val:.3f}")
            if ckpt_dir is not None and ((step + 1) % ckpt_every == 0 or last):
                save_checkpoint(ckpt_dir, model, optimizer, scheduler, step + 1, gen,
                                extra={"history": {k: hist[k] for k in ("step", "train_loss", "lr", "val_step", "val_loss")}})
            t0 = time.perf_counter()
        elif ckpt_dir is not None and (step + 1) % ckpt_every == 0:
            flush()
            save_checkpoint(ckpt_dir, model, optimizer, scheduler, step + 1, gen,
                            extra={"history": {k: hist[k] for k in ("step", "train_loss", "lr", "val_step", "val_loss")}})
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
    return hist


# ------------------------------------------------------------------------------ sampling
def sampling_distribution(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                          top_p: float | None = None, repetition_penalty: float = 1.0,
                          previous: torch.Tensor | Iterable[int] | None = None) -> torch.Tensor:
    """Turn next-token ``logits`` (``(V,)`` or ``(B, V)``) into the probabilities a sampler draws from.

    In ``transformers``' order: (1) repetition penalty on every id in ``previous``: a positive logit
    is divided by the penalty, a negative one multiplied (CTRL, Keskar et al. 2019); (2) divide by
    ``temperature``; (3) keep the ``top_k`` largest logits; (4) keep the smallest set of most likely
    tokens whose probability adds up to at least ``top_p`` (nucleus sampling, Holtzman et al. 2020).
    ``temperature=0`` means greedy: all mass on the arg-max.
    """
    if temperature < 0:
        raise TrainingError(f"temperature must be ≥ 0 (0 = greedy), not {temperature}.")
    if top_k is not None and top_k < 1:
        raise TrainingError(f"top_k must be a positive integer or None, not {top_k}.")
    if top_p is not None and not 0 < top_p <= 1:
        raise TrainingError(f"top_p must lie in (0, 1] or be None, not {top_p}.")
    if repetition_penalty <= 0:
        raise TrainingError(f"repetition_penalty must be > 0 (1 = off), not {repetition_penalty}.")
    squeeze = logits.dim() == 1
    z = logits.float().clone().reshape(-1, logits.size(-1))
    if repetition_penalty != 1.0 and previous is not None:
        prev = previous if torch.is_tensor(previous) else torch.tensor(list(previous), dtype=torch.long)
        prev = prev.to(device=z.device, dtype=torch.long)
        prev = prev.reshape(1, -1).expand(z.size(0), -1) if prev.dim() == 1 else prev
        if prev.numel():
            score = torch.gather(z, 1, prev)
            score = torch.where(score < 0, score * repetition_penalty, score / repetition_penalty)
            z.scatter_(1, prev, score)
    if temperature == 0:
        probs = torch.zeros_like(z)
        probs.scatter_(1, z.argmax(-1, keepdim=True), 1.0)
        return probs[0] if squeeze else probs
    z = z / temperature
    if top_k is not None and top_k < z.size(-1):
        kth = torch.topk(z, top_k, dim=-1).values[:, -1:]
        z = z.masked_fill(z < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_z, order = torch.sort(z, descending=False)
        cum = sorted_z.softmax(-1).cumsum(-1)
        remove_sorted = cum <= (1 - top_p)
        remove_sorted[:, -1] = False                        # always keep the most likely token
        remove = remove_sorted.scatter(1, order, remove_sorted)
        z = z.masked_fill(remove, float("-inf"))
    probs = z.softmax(-1)
    return probs[0] if squeeze else probs


@torch.no_grad()
def generate_ids(model, ids: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None, repetition_penalty: float = 1.0,
                 generator: torch.Generator | None = None, eos_token_id: int | None = None) -> torch.Tensor:
    """Append ``max_new_tokens`` sampled ids to ``ids`` (``(1, T)``), with the KV cache.

    When the sequence reaches the model's context, the oldest tokens slide out of the window (the
    cache is then rebuilt each step). ``eos_token_id`` stops early when it is drawn.
    """
    ctx = model_context(model)
    device = next(model.parameters()).device
    ids = ids.to(device)
    past, fed = None, 0
    for _ in range(max_new_tokens):
        if ids.size(1) <= ctx:
            out = model(ids[:, fed:], past_key_values=past, use_cache=True)
            past, fed = out.past_key_values, ids.size(1)
        else:
            out = model(ids[:, -ctx:], use_cache=False)
        probs = sampling_distribution(out.logits[:, -1, :], temperature, top_k, top_p, repetition_penalty,
                                      ids if repetition_penalty != 1.0 else None)
        if temperature == 0:
            nxt = probs.argmax(-1, keepdim=True)
        else:
            nxt = torch.multinomial(probs, 1, generator=generator)
        ids = torch.cat([ids, nxt], dim=1)
        if ids.size(1) > ctx:
            past = None
        if eos_token_id is not None and int(nxt[0, 0]) == eos_token_id:
            break
    return ids


def generate_text(model, tokenizer, prompt: str, max_new_tokens: int = 200, temperature: float = 0.8,
                  top_k: int | None = None, top_p: float | None = None, repetition_penalty: float = 1.0,
                  seed: int | None = 0, truncate: bool = False, stop_at_eos: bool = True) -> str:
    """Continue ``prompt`` with the model and return the new text only (see :func:`sampling_distribution`).

    ``temperature=0`` is greedy decoding. A prompt longer than the model's context raises a
    ``TrainingError`` unless ``truncate=True`` (then only its last tokens are kept). ``seed`` makes
    sampling repeatable (None: a fresh draw each call).
    """
    ctx = model_context(model)
    ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
    if ids.size(1) == 0:
        ids = torch.tensor([[tokenizer.eos_token_id]])
    if ids.size(1) > ctx:
        if not truncate:
            raise TrainingError(f"The prompt is {ids.size(1)} tokens long but this model reads at most {ctx}; "
                                "shorten it or pass truncate=True to keep only its last tokens.")
        ids = ids[:, -ctx:]
    gen = torch.Generator(device=next(model.parameters()).device)
    if seed is not None:
        gen.manual_seed(seed)
    else:
        gen.seed()
    was_training = model.training
    model.eval()
    out = generate_ids(model, ids, max_new_tokens, temperature, top_k, top_p, repetition_penalty, gen,
                       tokenizer.eos_token_id if stop_at_eos else None)
    model.train(was_training)
    new = out[0, ids.size(1):].tolist()
    if stop_at_eos and new and new[-1] == tokenizer.eos_token_id:
        new = new[:-1]
    return tokenizer.decode(new, skip_special_tokens=True)
