"""Notebook 07 · Fine-tuning challenges · 微调中的挑战与对策: small, controlled experiments.

Most experiments train a small **head** (logistic regression or a one-hidden-layer MLP) on
*frozen* sentence features of the bundled MiniLM (:func:`sentence_features`, cached in memory
and on disk). That is real fine-tuning of a head, cheap enough on a CPU to run dozens of
configurations. Where the lesson needs the encoder itself to move (which layers to train,
layer-wise learning-rate decay, catastrophic forgetting) :func:`finetune_encoder` trains the
real MiniLM on a small subset with a short ``max_length``.

Contents, in the notebook's order:

* features and heads: :func:`sentence_features`, :func:`make_head`, :func:`fit_head`, :func:`evaluate_head`
* learning-rate schedules: :func:`lr_multiplier`, :func:`lr_at`, :func:`make_scheduler`, :func:`schedule_figure`
* batch size: :func:`effective_batch_size`, :func:`accumulation_max_abs_diff`, :func:`saved_activation_bytes`,
  :func:`batch_cost`
* fine-tuning depth: :func:`unfreeze_top_k`, :func:`layerwise_lr_groups`, :func:`finetune_encoder`,
  :func:`encoder_accuracy`
* forgetting: :func:`similarity_probe`, :func:`neighbour_agreement`
* shift, imbalance, augmentation: :func:`has_negation`, :func:`imbalanced_indices`, :func:`class_weights`,
  :func:`oversample_indices`, :data:`SYNONYMS`, :func:`random_deletion`, :func:`random_swap`,
  :func:`synonym_replacement`, :func:`augment`
* hyperparameter search: :func:`sample_config`, :func:`random_search`, :func:`parallel_coordinates_figure`
* exercises' helpers: :func:`macro_f1_from_confusion`
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import math
import os
import random
import re
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

__all__ = [
    "ChallengeError", "single_thread", "sentence_features", "make_head", "fit_head", "FitResult", "evaluate_head", "predict_head",
    "SCHEDULES", "lr_multiplier", "lr_at", "make_scheduler", "schedule_figure",
    "effective_batch_size", "accumulation_max_abs_diff", "saved_activation_bytes", "batch_cost",
    "unfreeze_top_k", "layerwise_lr_groups", "finetune_encoder", "encoder_accuracy",
    "similarity_probe", "neighbour_agreement", "NEGATION_WORDS", "has_negation",
    "imbalanced_indices", "class_weights", "oversample_indices", "SYNONYMS", "random_deletion",
    "random_swap", "synonym_replacement", "augment", "AUGMENTERS", "SEARCH_SPACE", "sample_config",
    "random_search", "parallel_coordinates_figure", "macro_f1_from_confusion", "grouped_bar_figure",
]


class ChallengeError(ValueError):
    """A learner-supplied setting of notebook 07 is out of range (the message says what is valid)."""


# ============================================================================ frozen features
_FEATURES: dict[str, Any] = {}


def _features_key(texts: Sequence[str], max_length: int) -> str:
    h = hashlib.sha1(f"max_length={max_length}\n".encode())
    for t in texts:
        h.update(t.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:20]


def sentence_features(texts: Sequence[str], *, model=None, tokenizer=None, max_length: int = 64,
                      batch_size: int = 64, cache: bool = True, progress: bool = False):
    """Frozen MiniLM sentence embeddings ``(N, 384)`` (float32 tensor), cached in memory and on disk.

    The cache key is a hash of the texts and ``max_length``; files go to
    ``cache_home("nb07", "features")`` as ``.npy`` (written atomically). Pass ``model``/``tokenizer``
    to avoid loading the encoder again; it is loaded only when something is not cached.
    """
    import torch
    from .env import cache_home
    texts = list(texts)
    key = _features_key(texts, max_length)
    if cache and key in _FEATURES:
        return _FEATURES[key]
    path = cache_home("nb07", "features") / f"{key}.npy"
    if cache and path.exists():
        arr = np.load(path)
        if arr.ndim == 2 and arr.shape[0] == len(texts):
            out = torch.from_numpy(arr)
            _FEATURES[key] = out
            return out
    if model is None or tokenizer is None:
        from .models import load_encoder
        model, tokenizer = load_encoder()
    from .models import embed
    chunks = []
    step = max(batch_size * 4, 256)
    it = range(0, len(texts), step)
    if progress and len(texts) > step:
        from tqdm.auto import tqdm
        it = tqdm(it, desc="embedding", unit="chunk")
    for i in it:
        chunks.append(embed(texts[i:i + step], model, tokenizer, batch_size=batch_size, max_length=max_length))
    out = torch.cat(chunks) if chunks else torch.empty(0, 384)
    if cache:
        tmp = path.with_suffix(f".tmp{os.getpid()}.npy")
        np.save(tmp, out.numpy())
        os.replace(tmp, path)
        _FEATURES[key] = out
    return out


# ============================================================================ heads on frozen features
def make_head(in_dim: int = 384, n_classes: int = 2, hidden: int = 0, dropout: float = 0.0, seed: int = 0):
    """A classification head: ``hidden=0`` is logistic regression (one ``Linear``), otherwise a
    one-hidden-layer MLP ``Linear → ReLU → Dropout → Linear``. ``dropout`` also drops input features."""
    import torch
    from torch import nn
    if hidden < 0 or not 0.0 <= dropout < 1.0:
        raise ChallengeError(f"hidden must be ≥ 0 and dropout in [0, 1); got hidden={hidden}, dropout={dropout}.")
    g = torch.random.fork_rng(devices=[])
    with g:
        torch.manual_seed(seed)
        layers: list[nn.Module] = [nn.Dropout(dropout)] if dropout > 0 else []
        if hidden == 0:
            layers.append(nn.Linear(in_dim, n_classes))
        else:
            layers += [nn.Linear(in_dim, hidden), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            layers.append(nn.Linear(hidden, n_classes))
        return nn.Sequential(*layers)


@dataclasses.dataclass
class FitResult:
    """What :func:`fit_head` returns.

    ``history``: per epoch ``epoch``, ``train_loss``, ``train_acc`` and, with validation data,
    ``val_loss``, ``val_acc``. ``step_loss``/``step_lr``: every optimizer step's training loss and
    learning rate. ``best_epoch``: the epoch whose weights the model holds (early stopping), else the last.
    ``diverged``: a loss became nan/inf (training stopped there).
    """

    model: Any
    history: dict
    step_loss: list
    step_lr: list
    best_epoch: int
    stopped_epoch: int
    diverged: bool
    seconds: float


def _loss_acc(model, X, y, loss_fn) -> tuple[float, float]:
    import torch
    model.eval()
    with torch.no_grad():
        logits = model(X)
        return float(loss_fn(logits, y)), float((logits.argmax(-1) == y).float().mean())


@contextlib.contextmanager
def single_thread():
    """Run torch on one CPU thread inside the block (restored after).

    Small heads are dominated by per-operation overhead; on a shared 2-core machine two threads
    that spin-wait for each other can make them 10–50× slower than one thread.
    """
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def fit_head(X, y, X_val=None, y_val=None, **kwargs) -> "FitResult":
    """Train a head (see :func:`make_head`) on features ``X`` (N, D) and labels ``y`` with mini-batches.

    Keyword arguments (all optional): ``hidden``, ``dropout``, ``lr``, ``weight_decay``, ``epochs``,
    ``batch_size``, ``optimizer`` (``"adamw"`` or ``"sgd"``), ``schedule``/``warmup_steps`` (see
    :func:`lr_multiplier`), ``class_weight`` (a per-class weight tensor for the cross-entropy),
    ``sample_indices`` (a fixed index list, e.g. from :func:`oversample_indices`, shuffled every
    epoch instead of ``range(N)``), ``patience`` (early stopping on validation loss; the model ends
    with its best epoch's weights), ``seed``, ``n_classes``. Runs on one CPU thread (:func:`single_thread`).
    """
    with single_thread():
        return _fit_head(X, y, X_val, y_val, **kwargs)


def _fit_head(X, y, X_val=None, y_val=None, *, hidden: int = 0, dropout: float = 0.0, lr: float = 1e-2,
             weight_decay: float = 0.0, epochs: int = 30, batch_size: int = 32, optimizer: str = "adamw",
             schedule: str = "constant", warmup_steps: int = 0, class_weight=None, sample_indices=None,
             patience: int | None = None, seed: int = 0, n_classes: int = 2) -> FitResult:
    import copy

    import torch
    from torch import nn
    if optimizer not in ("adamw", "sgd"):
        raise ChallengeError(f"optimizer must be 'adamw' or 'sgd', got {optimizer!r}.")
    if patience is not None and X_val is None:
        raise ChallengeError("Early stopping (patience) needs validation data X_val, y_val.")
    if epochs < 1 or batch_size < 1:
        raise ChallengeError(f"epochs and batch_size must be ≥ 1; got {epochs}, {batch_size}.")
    X, y = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)
    idx = torch.arange(len(y)) if sample_indices is None else torch.as_tensor(np.asarray(sample_indices), dtype=torch.long)
    model = make_head(X.shape[1], n_classes, hidden, dropout, seed)
    cw = None if class_weight is None else torch.as_tensor(class_weight, dtype=torch.float32)
    loss_fn = nn.CrossEntropyLoss(weight=cw)
    eval_fn = nn.CrossEntropyLoss()
    if optimizer == "adamw":
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps_per_epoch = math.ceil(len(idx) / batch_size)
    sched = make_scheduler(opt, schedule, epochs * steps_per_epoch, warmup_steps)
    gen = torch.Generator().manual_seed(seed)
    hist: dict[str, list] = {"epoch": [], "train_loss": [], "train_acc": []}
    if X_val is not None:
        X_val = torch.as_tensor(X_val, dtype=torch.float32)
        y_val = torch.as_tensor(y_val, dtype=torch.long)
        hist.update(val_loss=[], val_acc=[])
    step_loss, step_lr = [], []
    best, best_state, best_epoch, bad, diverged, epoch = math.inf, None, 0, 0, False, 0
    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        order = idx[torch.randperm(len(idx), generator=gen)]
        for i in range(0, len(order), batch_size):
            b = order[i:i + batch_size]
            loss = loss_fn(model(X[b]), y[b])
            step_lr.append(opt.param_groups[0]["lr"])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step_loss.append(float(loss.detach()))
            if not math.isfinite(step_loss[-1]):
                diverged = True
                break
        tl, ta = _loss_acc(model, X, y, eval_fn)
        hist["epoch"].append(epoch)
        hist["train_loss"].append(tl)
        hist["train_acc"].append(ta)
        if X_val is not None:
            vl, va = _loss_acc(model, X_val, y_val, eval_fn)
            hist["val_loss"].append(vl)
            hist["val_acc"].append(va)
            if patience is not None:
                if vl < best - 1e-6:
                    best, best_state, best_epoch, bad = vl, copy.deepcopy(model.state_dict()), epoch, 0
                else:
                    bad += 1
                    if bad >= patience:
                        break
        if diverged or not math.isfinite(tl):
            diverged = True
            break
    if patience is not None and best_state is not None:
        model.load_state_dict(best_state)
    else:
        best_epoch = epoch
    model.eval()
    return FitResult(model, hist, step_loss, step_lr, best_epoch, epoch, diverged, time.perf_counter() - t0)


def predict_head(model, X) -> np.ndarray:
    """Class ids predicted by a head for features ``X``."""
    import torch
    model.eval()
    with torch.no_grad():
        return model(torch.as_tensor(X, dtype=torch.float32)).argmax(-1).numpy()


def evaluate_head(model, X, y, average: str = "macro") -> dict:
    """Accuracy, precision, recall and F1 (``average``) of a head, through :mod:`labutils.metrics`."""
    from .metrics import compute_classification
    return compute_classification(predict_head(model, X), np.asarray(y), average=average)


# ============================================================================ learning-rate schedules
#: Names :func:`lr_multiplier` knows; the last three are the shapes transformers' ``get_*_schedule_with_warmup`` give.
SCHEDULES = ("constant", "constant_with_warmup", "linear", "cosine")


def lr_multiplier(kind: str, step: int, total_steps: int, warmup_steps: int = 0, num_cycles: float = 0.5) -> float:
    """The factor the base learning rate is multiplied by at optimizer step ``step`` (0-based).

    * ``constant``: 1 (``warmup_steps`` ignored).
    * ``constant_with_warmup``: ``step/warmup`` during warmup, then 1.
    * ``linear``: warmup, then a straight line from 1 down to 0 at ``total_steps``.
    * ``cosine``: warmup, then ``0.5·(1 + cos(π·2·num_cycles·progress))`` (half a cosine by default).

    Same formulas as ``transformers.get_constant_schedule_with_warmup``,
    ``get_linear_schedule_with_warmup`` and ``get_cosine_schedule_with_warmup``.
    """
    if kind not in SCHEDULES:
        raise ChallengeError(f"Unknown schedule {kind!r}; choose one of: {', '.join(SCHEDULES)}.")
    if total_steps < 1 or not 0 <= warmup_steps <= total_steps:
        raise ChallengeError(f"Need total_steps ≥ 1 and 0 ≤ warmup_steps ≤ total_steps; got {total_steps}, {warmup_steps}.")
    if kind == "constant":
        return 1.0
    if step < warmup_steps:
        return step / max(1, warmup_steps)
    if kind == "constant_with_warmup":
        return 1.0
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    if kind == "linear":
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * num_cycles * 2.0 * progress)))


def lr_at(kind: str, step: int, total_steps: int, warmup_steps: int = 0, base_lr: float = 5e-5,
          num_cycles: float = 0.5) -> float:
    """The learning rate at ``step``: ``base_lr × lr_multiplier(...)``."""
    return base_lr * lr_multiplier(kind, step, total_steps, warmup_steps, num_cycles)


def make_scheduler(optimizer, kind: str, total_steps: int, warmup_steps: int = 0, num_cycles: float = 0.5):
    """A ``torch.optim.lr_scheduler.LambdaLR`` following :func:`lr_multiplier` (call ``.step()`` after each optimizer step)."""
    import torch
    lr_multiplier(kind, 0, total_steps, warmup_steps)  # validate once, with a clear message
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_multiplier(kind, min(s, total_steps), total_steps, warmup_steps, num_cycles))


def schedule_figure(total_steps: int = 1000, warmup_steps: int = 100, base_lr: float = 5e-5,
                    kinds: str | Sequence[str] = "all", num_cycles: float = 0.5):
    """Plot learning rate against step for the schedules in ``kinds`` (``"all"`` or names from :data:`SCHEDULES`)."""
    import plotly.graph_objects as go
    names = list(SCHEDULES) if kinds == "all" else ([kinds] if isinstance(kinds, str) else list(kinds))
    total_steps, warmup_steps = int(total_steps), int(warmup_steps)
    if warmup_steps > total_steps:
        raise ChallengeError(f"warmup_steps ({warmup_steps}) cannot exceed total_steps ({total_steps}).")
    xs = np.unique(np.linspace(0, total_steps, min(total_steps + 1, 400)).astype(int))
    fig = go.Figure()
    for k in names:
        ys = [lr_at(k, int(s), total_steps, warmup_steps, base_lr, num_cycles) for s in xs]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=k))
    if warmup_steps > 0:
        fig.add_vline(x=warmup_steps, line_dash="dot", annotation_text="end of warmup")
    fig.update_layout(title=f"Learning-rate schedules (base lr {base_lr:.2g}, {warmup_steps} warmup of {total_steps} steps)",
                      xaxis_title="optimizer step", yaxis_title="learning rate", template="plotly_white",
                      height=380, margin=dict(l=60, r=20, t=50, b=40))
    return fig


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


# ============================================================================ fine-tuning the encoder
def _encoder_parts(model):
    base = getattr(model, "base_model", model)
    layers = list(base.encoder.layer)
    return base, layers


def unfreeze_top_k(model, k: int) -> int:
    """Freeze a BERT-style classifier except its top ``k`` Transformer layers, pooler and classifier head.

    ``k = 0`` trains only the head (pooler + classifier); ``k`` = number of layers also trains all
    layers (the embeddings stay frozen unless ``k`` exceeds the layer count by one). Returns the
    number of trainable parameters.
    """
    base, layers = _encoder_parts(model)
    n = len(layers)
    if not 0 <= k <= n + 1:
        raise ChallengeError(f"k must be between 0 and {n + 1} (this model has {n} layers; {n + 1} adds the embeddings).")
    for p in model.parameters():
        p.requires_grad = False
    for layer in layers[max(0, n - k):] if k > 0 else []:
        for p in layer.parameters():
            p.requires_grad = True
    if k == n + 1:
        for p in base.embeddings.parameters():
            p.requires_grad = True
    base_ids = {id(p) for p in base.encoder.parameters()} | {id(p) for p in base.embeddings.parameters()}
    for p in model.parameters():
        if id(p) not in base_ids:  # pooler and classifier head
            p.requires_grad = True
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def layerwise_lr_groups(model, base_lr: float, decay: float = 0.8, weight_decay: float = 0.01,
                        head_lr: float | None = None) -> list[dict]:
    """Optimizer parameter groups with layer-wise learning-rate decay (LLRD).

    The head (pooler + classifier) gets ``head_lr`` (default ``base_lr``), the top Transformer layer
    ``base_lr·decay``, the one below ``base_lr·decay²`` … and the embeddings ``base_lr·decay^(L+1)``.
    ``decay = 1`` is ordinary fine-tuning. Frozen parameters are left out. Each group carries a
    ``name`` key for display.
    """
    if not 0 < decay <= 1:
        raise ChallengeError(f"decay must be in (0, 1], got {decay}.")
    base, layers = _encoder_parts(model)
    n = len(layers)
    groups = [{"name": "embeddings", "params": list(base.embeddings.parameters()), "lr": base_lr * decay ** (n + 1)}]
    for i, layer in enumerate(layers):
        groups.append({"name": f"layer {i}", "params": list(layer.parameters()), "lr": base_lr * decay ** (n - i)})
    seen = {id(p) for g in groups for p in g["params"]}
    groups.append({"name": "head", "params": [p for p in model.parameters() if id(p) not in seen],
                   "lr": base_lr if head_lr is None else head_lr})
    for g in groups:
        g["weight_decay"] = weight_decay
        g["params"] = [p for p in g["params"] if p.requires_grad]
    return [g for g in groups if g["params"]]


def _batches(tokenizer, texts, labels, batch_size, max_length, device, order):
    import torch
    for i in range(0, len(order), batch_size):
        b = order[i:i + batch_size]
        enc = tokenizer([texts[j] for j in b], padding=True, truncation=True, max_length=max_length,
                        return_tensors="pt").to(device)
        yield enc, torch.as_tensor([labels[j] for j in b], dtype=torch.long, device=device)


def finetune_encoder(model, tokenizer, texts: Sequence[str], labels: Sequence[int], *, steps: int,
                     batch_size: int = 16, lr: float = 5e-5, param_groups: list | None = None,
                     warmup_frac: float = 0.1, max_length: int = 48, seed: int = 0, weight_decay: float = 0.01,
                     callback: Callable[[int, Any], None] | None = None, every: int = 0,
                     progress: bool = True) -> dict:
    """Fine-tune a sequence classifier for ``steps`` optimizer steps (AdamW, linear warmup + decay).

    Only parameters with ``requires_grad`` train (see :func:`unfreeze_top_k`); ``param_groups``
    (e.g. from :func:`layerwise_lr_groups`) replaces the single learning rate ``lr``.
    ``callback(step, model)`` runs before the first step and every ``every`` steps (and at the end).
    Returns ``{"step_loss": [...], "seconds": s}``.
    """
    import torch
    from tqdm.auto import tqdm
    if steps < 1:
        raise ChallengeError(f"steps must be ≥ 1, got {steps}.")
    device = next(model.parameters()).device
    texts, labels = list(texts), [int(v) for v in labels]
    groups = param_groups if param_groups is not None else [
        {"params": [p for p in model.parameters() if p.requires_grad], "lr": lr, "weight_decay": weight_decay}]
    groups = [{k: v for k, v in g.items() if k != "name"} for g in groups]
    opt = torch.optim.AdamW(groups)
    sched = make_scheduler(opt, "linear", steps, int(round(warmup_frac * steps)))
    rng = np.random.default_rng(seed)
    losses: list[float] = []
    t0 = time.perf_counter()
    if callback is not None:
        callback(0, model)
    step = 0
    bar = tqdm(total=steps, desc="fine-tuning", leave=False, disable=not progress)
    while step < steps:
        order = rng.permutation(len(texts)).tolist()
        for enc, yb in _batches(tokenizer, texts, labels, batch_size, max_length, device, order):
            model.train()
            loss = model(**enc, labels=yb).loss
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for g in groups for p in g["params"]], 1.0)
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            step += 1
            bar.update(1)
            if callback is not None and ((every and step % every == 0) or step == steps):
                callback(step, model)
            if step >= steps:
                break
    bar.close()
    model.eval()
    return {"step_loss": losses, "seconds": time.perf_counter() - t0}


def encoder_accuracy(model, tokenizer, texts: Sequence[str], labels: Sequence[int], *, max_length: int = 48,
                     batch_size: int = 64) -> float:
    """Accuracy of a sequence classifier on ``texts``."""
    import torch
    device = next(model.parameters()).device
    model.eval()
    correct = 0
    texts, labels = list(texts), list(labels)
    with torch.no_grad():
        for enc, yb in _batches(tokenizer, texts, labels, batch_size, max_length, device, list(range(len(texts)))):
            correct += int((model(**enc).logits.argmax(-1) == yb).sum())
    return correct / max(1, len(texts))


# ============================================================================ catastrophic forgetting
def similarity_probe(model, tokenizer, queries: Sequence[str], answers: Sequence[str], *, max_length: int = 64,
                     seed: int = 0) -> dict:
    """How well an encoder's mean-pooled sentence embeddings match each query to its own answer.

    Returns ``related`` (mean cosine of matching pairs), ``unrelated`` (mean cosine of each query
    with a shuffled answer), ``margin`` (related − unrelated) and ``retrieval_top1`` (fraction of
    queries whose most similar answer, among all answers, is their own).
    """
    from .models import embed
    q = embed(list(queries), model, tokenizer, max_length=max_length)
    a = embed(list(answers), model, tokenizer, max_length=max_length)
    sims = (q @ a.T).numpy()
    n = len(q)
    perm = np.random.default_rng(seed).permutation(n)
    perm = np.where(perm == np.arange(n), (perm + 1) % n, perm)
    related = float(np.diag(sims).mean())
    unrelated = float(sims[np.arange(n), perm].mean())
    top1 = float((sims.argmax(1) == np.arange(n)).mean())
    return {"related": related, "unrelated": unrelated, "margin": related - unrelated, "retrieval_top1": top1}


def neighbour_agreement(before, after, k: int = 5) -> float:
    """Mean overlap (|A∩B|/k) of each row's ``k`` nearest neighbours under two embeddings of the same sentences."""
    import torch
    before, after = torch.as_tensor(before, dtype=torch.float32), torch.as_tensor(after, dtype=torch.float32)
    if before.shape[0] != after.shape[0] or before.shape[0] <= k:
        raise ChallengeError(f"Need the same sentences (rows) in both, more than k={k}; got {before.shape[0]} and {after.shape[0]}.")

    def knn(e):
        e = torch.nn.functional.normalize(e, dim=-1)
        s = e @ e.T
        s.fill_diagonal_(-math.inf)
        return s.topk(k, dim=1).indices.numpy()
    nb, na = knn(before), knn(after)
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(nb, na)]))


# ============================================================================ distribution shift
#: Words that mark a negated sentence for :func:`has_negation` (lower case; "n't" matches any contraction).
NEGATION_WORDS = ("not", "no", "never", "nothing", "nobody", "none", "neither", "nor", "without", "n't",
                  "cannot", "hardly", "barely")


def has_negation(text: str) -> bool:
    """True if the sentence contains a negation word from :data:`NEGATION_WORDS` (e.g. "not", "never", "isn't")."""
    low = text.lower()
    if "n't" in low:
        return True
    words = set(re.findall(r"[a-z]+", low))
    return any(w in words for w in NEGATION_WORDS if w != "n't")


def word_count(text: str) -> int:
    """Number of whitespace-separated words."""
    return len(text.split())


# ============================================================================ class imbalance
def imbalanced_indices(labels: Sequence[int], ratio: float = 10.0, minority: int = 0, n_majority: int | None = None,
                       seed: int = 0) -> np.ndarray:
    """Indices of a subset where class ``minority`` is ``ratio`` times rarer than the other class (binary labels).

    Keeps ``n_majority`` majority examples (all of them by default) and ``round(n_majority/ratio)``
    minority examples, chosen at random; returned sorted.
    """
    labels = np.asarray(labels)
    if ratio < 1:
        raise ChallengeError(f"ratio must be ≥ 1 (majority : minority), got {ratio}.")
    rng = np.random.default_rng(seed)
    maj = np.flatnonzero(labels != minority)
    mino = np.flatnonzero(labels == minority)
    n_majority = len(maj) if n_majority is None else min(n_majority, len(maj))
    n_min = max(1, int(round(n_majority / ratio)))
    if n_min > len(mino):
        raise ChallengeError(f"Only {len(mino)} examples of class {minority}; ask for fewer majority examples.")
    keep = np.concatenate([rng.choice(maj, n_majority, replace=False), rng.choice(mino, n_min, replace=False)])
    return np.sort(keep)


def class_weights(labels: Sequence[int], n_classes: int | None = None):
    """Per-class loss weights ``N / (C · count_c)`` (the "balanced" rule): rare classes weigh more; a float tensor."""
    import torch
    labels = np.asarray(labels)
    n_classes = n_classes or int(labels.max()) + 1
    counts = np.bincount(labels, minlength=n_classes).astype(float)
    if (counts == 0).any():
        raise ChallengeError(f"Every class needs at least one example; counts are {counts.astype(int).tolist()}.")
    return torch.tensor(len(labels) / (n_classes * counts), dtype=torch.float32)


def oversample_indices(labels: Sequence[int], seed: int = 0) -> np.ndarray:
    """Indices that repeat each class's examples (sampling with replacement) until every class is as frequent as the largest."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    counts = np.bincount(labels)
    out = []
    for c, n in enumerate(counts):
        idx = np.flatnonzero(labels == c)
        if n == 0:
            continue
        extra = rng.choice(idx, counts.max() - n, replace=True) if n < counts.max() else np.array([], dtype=int)
        out.append(np.concatenate([idx, extra]))
    return np.concatenate(out)


# ============================================================================ data augmentation
#: A small synonym list written for this course (not WordNet): common words of movie-review
#: sentences, each mapped to near-synonyms of the *same polarity*, so a replacement keeps the label.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "movie": ("film", "picture", "feature"), "film": ("movie", "picture", "feature"),
    "story": ("plot", "tale", "narrative"), "plot": ("story", "storyline"), "director": ("filmmaker",),
    "actor": ("performer", "player"), "actors": ("performers", "cast"), "cast": ("actors", "ensemble"),
    "performance": ("portrayal", "turn", "acting"), "script": ("screenplay", "writing"),
    "character": ("role", "figure"), "characters": ("roles", "figures"), "scene": ("sequence", "moment"),
    "scenes": ("sequences", "moments"), "audience": ("viewers", "moviegoers"), "ending": ("finale", "conclusion"),
    "good": ("fine", "decent", "solid"), "great": ("excellent", "terrific", "superb"),
    "funny": ("amusing", "hilarious", "witty"), "beautiful": ("lovely", "gorgeous", "stunning"),
    "smart": ("clever", "intelligent", "sharp"), "enjoyable": ("entertaining", "pleasant", "fun"),
    "moving": ("touching", "affecting", "poignant"), "best": ("finest", "greatest"),
    "fun": ("enjoyable", "entertaining"), "charming": ("delightful", "engaging", "appealing"),
    "bad": ("poor", "awful", "lousy"), "boring": ("dull", "tedious", "tiresome"),
    "dull": ("boring", "tedious", "flat"), "stupid": ("dumb", "silly", "foolish"),
    "worst": ("poorest", "weakest"), "mess": ("muddle", "shambles"), "awful": ("terrible", "dreadful", "bad"),
    "terrible": ("awful", "dreadful", "horrible"), "weak": ("feeble", "thin", "lame"),
    "predictable": ("formulaic", "obvious"), "tedious": ("boring", "dull", "wearisome"),
    "big": ("large", "huge"), "small": ("little", "modest"), "little": ("small", "slight"),
    "very": ("really", "extremely", "quite"), "really": ("truly", "very"), "often": ("frequently",),
    "makes": ("renders", "leaves"), "feels": ("seems", "comes across as"), "seems": ("appears", "feels"),
    "watch": ("see", "view"), "see": ("watch", "view"), "life": ("existence",), "world": ("universe",),
    "new": ("fresh", "novel"), "old": ("aged", "familiar"), "work": ("piece", "effort"),
    "look": ("glance", "view"), "kind": ("sort", "type"), "things": ("matters", "stuff"),
}


def _rng(rng) -> random.Random:
    return rng if isinstance(rng, random.Random) else random.Random(rng)


def random_deletion(text: str, p: float = 0.1, rng=0) -> str:
    """Drop each word with probability ``p`` (always keeps at least one word) — EDA's random deletion."""
    if not 0 <= p < 1:
        raise ChallengeError(f"p must be in [0, 1), got {p}.")
    r = _rng(rng)
    words = text.split()
    if len(words) <= 1:
        return text
    kept = [w for w in words if r.random() >= p]
    return " ".join(kept) if kept else r.choice(words)


def random_swap(text: str, n: int = 1, rng=0) -> str:
    """Swap two random word positions, ``n`` times — EDA's random swap."""
    r = _rng(rng)
    words = text.split()
    if len(words) < 2:
        return text
    for _ in range(n):
        i, j = r.sample(range(len(words)), 2)
        words[i], words[j] = words[j], words[i]
    return " ".join(words)


def synonym_replacement(text: str, n: int = 1, rng=0, synonyms: Mapping[str, Sequence[str]] | None = None) -> str:
    """Replace up to ``n`` words that appear in :data:`SYNONYMS` by a random synonym (case kept for a capital first letter)."""
    r = _rng(rng)
    syn = SYNONYMS if synonyms is None else synonyms
    words = text.split()
    cands = [i for i, w in enumerate(words) if re.sub(r"\W", "", w.lower()) in syn]
    r.shuffle(cands)
    for i in cands[:n]:
        w = words[i]
        core = re.sub(r"\W", "", w.lower())
        new = r.choice(list(syn[core]))
        if w[:1].isupper():
            new = new[:1].upper() + new[1:]
        m = re.match(r"^(\W*)\w[\w'-]*(\W*)$", w)
        words[i] = (m.group(1) + new + m.group(2)) if m else new
    return " ".join(words)


AUGMENTERS: dict[str, Callable[..., str]] = {
    "deletion": lambda t, r: random_deletion(t, 0.15, r),
    "swap": lambda t, r: random_swap(t, 2, r),
    "synonym": lambda t, r: synonym_replacement(t, 2, r),
}


def augment(texts: Sequence[str], labels: Sequence[int], method: str = "all", copies: int = 2,
            seed: int = 0) -> tuple[list[str], list[int]]:
    """The original examples plus ``copies`` augmented copies of each (labels repeated).

    ``method``: a name in :data:`AUGMENTERS` or ``"all"`` (each copy uses a random one of them).
    Copies identical to their source sentence are kept (they happen when nothing could change).
    """
    if method != "all" and method not in AUGMENTERS:
        raise ChallengeError(f"Unknown augmentation {method!r}; choose one of: all, {', '.join(AUGMENTERS)}.")
    r = random.Random(seed)
    out_t, out_y = list(texts), [int(v) for v in labels]
    names = list(AUGMENTERS)
    for _ in range(copies):
        for t, y in zip(texts, labels):
            fn = AUGMENTERS[r.choice(names) if method == "all" else method]
            out_t.append(fn(t, r))
            out_y.append(int(y))
    return out_t, out_y


# ============================================================================ hyperparameter search
#: The random-search space: (kind, low, high) — "log" samples log-uniformly, "int" uniformly, "choice" from a list.
SEARCH_SPACE: dict[str, tuple] = {
    "lr": ("log", 1e-4, 3e-1),
    "weight_decay": ("log", 1e-5, 1.0),
    "epochs": ("int", 3, 60),
    "hidden": ("choice", (0, 64, 256)),
    "dropout": ("uniform", 0.0, 0.5),
}


def sample_config(rng: np.random.Generator, space: Mapping[str, tuple] | None = None) -> dict:
    """One random configuration from ``space`` (default :data:`SEARCH_SPACE`)."""
    space = SEARCH_SPACE if space is None else space
    cfg: dict[str, Any] = {}
    for name, spec in space.items():
        kind = spec[0]
        if kind == "log":
            cfg[name] = float(math.exp(rng.uniform(math.log(spec[1]), math.log(spec[2]))))
        elif kind == "uniform":
            cfg[name] = float(rng.uniform(spec[1], spec[2]))
        elif kind == "int":
            cfg[name] = int(rng.integers(spec[1], spec[2] + 1))
        elif kind == "choice":
            cfg[name] = spec[1][int(rng.integers(len(spec[1])))]
        else:
            raise ChallengeError(f"Unknown kind {kind!r} for {name}; use log, uniform, int or choice.")
    return cfg


def random_search(X, y, X_val, y_val, n_trials: int = 20, seed: int = 0, space: Mapping[str, tuple] | None = None,
                  batch_size: int = 64, progress: bool = True):
    """Random search over head hyperparameters, scored on the validation set.

    Returns a pandas DataFrame, one row per trial (the sampled values, ``val_acc``, ``train_acc``,
    ``seconds``), best first. The test set is not touched here.
    """
    import pandas as pd
    from tqdm.auto import tqdm
    rng = np.random.default_rng(seed)
    rows = []
    for trial in tqdm(range(n_trials), desc="random search", disable=not progress):
        cfg = sample_config(rng, space)
        res = fit_head(X, y, X_val, y_val, batch_size=batch_size, seed=seed + trial, **cfg)
        rows.append({"trial": trial, **cfg, "val_acc": res.history["val_acc"][-1],
                     "train_acc": res.history["train_acc"][-1], "seconds": res.seconds})
    return pd.DataFrame(rows).sort_values("val_acc", ascending=False).reset_index(drop=True)


def parallel_coordinates_figure(df, columns: Sequence[str] = ("lr", "weight_decay", "epochs", "hidden", "dropout"),
                                score: str = "val_acc", log_columns: Sequence[str] = ("lr", "weight_decay")):
    """A plotly parallel-coordinates plot of a search table, lines coloured by ``score`` (log axes as log10)."""
    import plotly.graph_objects as go
    dims = []
    for c in columns:
        vals = np.asarray(df[c], dtype=float)
        if c in log_columns:
            dims.append(dict(label=f"log10 {c}", values=np.log10(vals)))
        else:
            dims.append(dict(label=c, values=vals))
    dims.append(dict(label=score, values=np.asarray(df[score], dtype=float)))
    fig = go.Figure(go.Parcoords(line=dict(color=np.asarray(df[score], dtype=float), colorscale="Viridis",
                                           showscale=True), dimensions=dims))
    fig.update_layout(title=f"Random search: each line is one trial, colour = {score}", template="plotly_white",
                      height=420, margin=dict(l=60, r=40, t=70, b=30))
    return fig


# ============================================================================ small figures, exercises
def grouped_bar_figure(groups: Mapping[str, Mapping[str, float]], *, title: str = "", ylabel: str = "",
                       yrange: Sequence[float] | None = None):
    """Grouped bars from ``{series: {category: value}}`` with the values written on the bars."""
    import plotly.graph_objects as go
    fig = go.Figure()
    for name, vals in groups.items():
        fig.add_trace(go.Bar(name=name, x=list(vals), y=list(vals.values()),
                             text=[f"{v:.3f}" for v in vals.values()], textposition="auto"))
    fig.update_layout(barmode="group", title=title, yaxis_title=ylabel, template="plotly_white", height=380,
                      margin=dict(l=50, r=20, t=50, b=40))
    if yrange is not None:
        fig.update_yaxes(range=list(yrange))
    return fig


def macro_f1_from_confusion(cm) -> float:
    """Macro-F1 from a confusion matrix ``cm[true, predicted]``: the unweighted mean of per-class F1."""
    cm = np.asarray(cm, dtype=float)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ChallengeError(f"A confusion matrix is square (true × predicted); got shape {cm.shape}.")
    tp = np.diag(cm)
    prec = np.divide(tp, cm.sum(0), out=np.zeros_like(tp), where=cm.sum(0) > 0)
    rec = np.divide(tp, cm.sum(1), out=np.zeros_like(tp), where=cm.sum(1) > 0)
    f1 = np.divide(2 * prec * rec, prec + rec, out=np.zeros_like(tp), where=(prec + rec) > 0)
    return float(f1.mean())
