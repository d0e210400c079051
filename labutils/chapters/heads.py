"""Notebook 07 · Fine-tuning challenges: controlled experiments on a small head over *frozen* MiniLM features.

:func:`sentence_features` (mean-pooled, cached in memory and on disk), :func:`make_head` (logistic regression or a
one-hidden-layer MLP), :func:`fit_head` (the loop, with the package's schedule and parameter-group rule),
:func:`predict_head`/:func:`evaluate_head`, and a grouped bar chart. Cheap enough on a CPU to run dozens of
configurations: overfitting, learning rates, warm-up, shift and imbalance all use it."""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import math
import time
from typing import Any, Mapping, Sequence

import numpy as np

from labutils.core.errors import ChallengeError  # noqa: F401 (re-exported)
from labutils.core.history import History
from labutils.core.io import atomic_path
from labutils.train.optim import param_groups
from labutils.train.schedules import make_scheduler

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

    from labutils.core.env import cache_home
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
        from labutils.models.encoder import load_encoder
        model, tokenizer = load_encoder()
    from labutils.models.encoder import embed
    chunks = []
    step = max(batch_size * 4, 256)
    it = range(0, len(texts), step)
    if progress and len(texts) > step:
        from labutils.core.progress import tqdm
        it = tqdm(it, desc="embedding", unit="chunk")
    for i in it:
        chunks.append(embed(texts[i:i + step], model, tokenizer, batch_size=batch_size, max_length=max_length))
    out = torch.cat(chunks) if chunks else torch.empty(0, 384)
    if cache:
        with atomic_path(path) as tmp:
            np.save(tmp, out.numpy())
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

    ``history``: a :class:`~labutils.core.history.History`: every optimizer step's ``train_loss`` and ``lr``
    (at ``step``), and after each epoch (at ``eval_step``; the epoch in ``eval_epoch``) the full-pass
    ``train_eval_loss``/``train_eval_accuracy`` and, with validation data, ``val_loss``/``val_accuracy``.
    ``best_epoch``: the epoch whose weights the model holds (early stopping), else the last.
    ``diverged``: a loss became nan/inf (training stopped there).
    """

    model: Any
    history: History
    best_epoch: int
    stopped_epoch: int
    diverged: bool
    seconds: float

    @property
    def step_loss(self) -> list:
        """Every optimizer step's training loss (``history["train_loss"]``)."""
        return self.history["train_loss"]

    @property
    def step_lr(self) -> list:
        """Every optimizer step's learning rate (``history["lr"]``)."""
        return self.history["lr"]


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
    groups = param_groups(model, weight_decay)          # decay on the weight matrices only
    opt = (torch.optim.AdamW if optimizer == "adamw" else torch.optim.SGD)(groups, lr=lr)
    steps_per_epoch = math.ceil(len(idx) / batch_size)
    sched = make_scheduler(opt, schedule, epochs * steps_per_epoch, warmup_steps)
    gen = torch.Generator().manual_seed(seed)
    hist = History(eval_epoch=[], train_eval_loss=[], train_eval_accuracy=[])
    if X_val is not None:
        X_val = torch.as_tensor(X_val, dtype=torch.float32)
        y_val = torch.as_tensor(y_val, dtype=torch.long)
        hist.update(val_accuracy=[])
    step = 0
    best, best_state, best_epoch, bad, diverged, epoch = math.inf, None, 0, 0, False, 0
    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        order = idx[torch.randperm(len(idx), generator=gen)]
        for i in range(0, len(order), batch_size):
            b = order[i:i + batch_size]
            loss = loss_fn(model(X[b]), y[b])
            hist.log(step, float(loss.detach()), opt.param_groups[0]["lr"])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if not math.isfinite(hist["train_loss"][-1]):
                diverged = True
                break
        tl, ta = _loss_acc(model, X, y, eval_fn)
        figures = dict(eval_epoch=epoch, train_eval_loss=tl, train_eval_accuracy=ta)
        if X_val is not None:
            vl, va = _loss_acc(model, X_val, y_val, eval_fn)
            figures.update(val_loss=vl, val_accuracy=va)
        hist.log_eval(step, **figures)
        if X_val is not None:
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
    hist["seconds"] = time.perf_counter() - t0
    return FitResult(model, hist.check(), best_epoch, epoch, diverged, hist["seconds"])


def predict_head(model, X) -> np.ndarray:
    """Class ids predicted by a head for features ``X``."""
    import torch
    model.eval()
    with torch.no_grad():
        return model(torch.as_tensor(X, dtype=torch.float32)).argmax(-1).numpy()


def evaluate_head(model, X, y, average: str = "macro") -> dict:
    """Accuracy, precision, recall and F1 (``average``) of a head, through :mod:`labutils.metrics`."""
    from labutils.eval.metrics import compute_classification
    return compute_classification(predict_head(model, X), np.asarray(y), average=average)


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
