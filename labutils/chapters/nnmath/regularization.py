"""Notebook 01, regularisation: L1/L2 penalties, weight decay vs L2 inside Adam (AdamW), dropout and early stopping."""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from labutils.chapters.nnmath.backprop import init_mlp, mlp_forward, mlp_loss_and_grads, mse_loss
from labutils.chapters.nnmath.optimizers import SGD, Adam, AdamW, Params
from labutils.core.history import History


# ---------------------------------------------------------------------------- regularisation
def l1_penalty(w: np.ndarray, lam: float):
    """``λ Σ|w|`` and its (sub)gradient ``λ sign(w)``."""
    w = np.asarray(w, dtype=float)
    return float(lam * np.abs(w).sum()), lam * np.sign(w)


def l2_penalty(w: np.ndarray, lam: float):
    """``(λ/2) Σ w²`` and its gradient ``λ w``."""
    w = np.asarray(w, dtype=float)
    return float(0.5 * lam * (w * w).sum()), lam * w


def make_sparse_regression(n: int = 60, d: int = 20, k: int = 3, noise: float = 0.1, seed: int = 0):
    """``y = X w* + noise`` where only ``k`` of the ``d`` true weights are non-zero: ``(X, y, w*)``."""
    if not 0 < k <= d or n < 1:
        raise ValueError(f"need n >= 1 and 0 < k <= d, got n={n}, d={d}, k={k}.")
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = np.zeros(d)
    w[rng.choice(d, size=k, replace=False)] = rng.choice([-1.0, 1.0], size=k) * rng.uniform(1.0, 3.0, size=k)
    return X, X @ w + noise * rng.standard_normal(n), w


def fit_linear_regularized(X, y, l1: float = 0.0, l2: float = 0.0, steps: int = 500) -> np.ndarray:
    """Minimise ``½·mean((Xw - y)²) + l1·Σ|w| + (l2/2)·Σw²`` by (proximal) gradient descent.

    The L1 part uses the proximal step (soft-thresholding, 软阈值) ``w ← sign(w)·max(|w| - η·l1, 0)``,
    which lands exactly on zero; a plain subgradient step would only jitter around it.
    """
    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    n = X.shape[0]
    lr = 1.0 / (np.linalg.norm(X, 2) ** 2 / n + l2)        # 1 / Lipschitz constant: always stable
    w = np.zeros(X.shape[1])
    for _ in range(int(steps)):
        g = X.T @ (X @ w - y) / n + l2 * w
        w = w - lr * g
        if l1:
            w = np.sign(w) * np.maximum(np.abs(w) - lr * l1, 0.0)
    return w


def weight_decay_comparison(params0: Params, grad_fn: Callable[[Params], Params], lr: float,
                            weight_decay: float, steps: int) -> dict:
    """Same start, same gradients, same λ: L2-in-the-gradient vs decoupled decay, for SGD and for Adam.

    Returns the final max |Δθ| between the two variants of each (``sgd_diff``, ``adam_diff``) and the
    final parameters of Adam+L2 and AdamW (``adam_l2``, ``adamw``).
    """
    def run(opt):
        p = {k: np.array(v, dtype=float) for k, v in params0.items()}
        for _ in range(int(steps)):
            opt.step(p, grad_fn(p))
        return p

    sgd_l2 = run(SGD(lr, weight_decay=weight_decay))
    sgd_dec = run(SGD(lr, weight_decay=weight_decay, decoupled=True))
    adam_l2 = run(Adam(lr, weight_decay=weight_decay))
    adamw = run(AdamW(lr, weight_decay=weight_decay))
    diff = lambda a, b: max(float(np.max(np.abs(a[k] - b[k]))) for k in a)  # noqa: E731
    return {"sgd_diff": diff(sgd_l2, sgd_dec), "adam_diff": diff(adam_l2, adamw),
            "adam_l2": adam_l2, "adamw": adamw}


def dropout(x: np.ndarray, p: float, train: bool = True, rng=None, inverted: bool = True) -> np.ndarray:
    """Dropout (随机失活): zero each entry with probability ``p`` while training.

    ``inverted=True`` scales the survivors by ``1/(1-p)`` so the expected value is unchanged and
    evaluation is the identity; ``inverted=False`` shows what goes wrong without it.
    """
    if not 0 <= p < 1:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}.")
    x = np.asarray(x, dtype=float)
    if not train or p == 0:
        return x
    rng = np.random.default_rng() if rng is None else rng
    keep = rng.random(x.shape) >= p
    return x * keep / (1 - p) if inverted else x * keep


def make_curve_data(n_train: int = 16, n_val: int = 200, noise: float = 0.3, seed: int = 0):
    """Few noisy points of ``sin(3x)`` on [-1, 1] to train on, and many to validate: ``(xt, yt, xv, yv)``."""
    rng = np.random.default_rng(seed)

    def sample(n):
        x = rng.uniform(-1, 1, size=(n, 1))
        return x, np.sin(3 * x) + noise * rng.standard_normal((n, 1))
    xt, yt = sample(n_train)
    xv, yv = sample(n_val)
    return xt, yt, xv, yv


def train_mlp_regression(xt, yt, xv, yv, hidden: int = 64, layers: int = 2, epochs: int = 2000,
                         lr: float = 0.01, act: str = "tanh", seed: int = 0, progress=None) -> History:
    """Full-batch training of an MLP with our :class:`Adam`, recording train and validation MSE.

    Returns a :class:`~labutils.core.history.History`: ``train_loss`` and ``val_loss`` (MSE) after ``e``
    updates at ``step``/``eval_step`` ``e`` (entry 0 is the untrained network), and the final ``params``.
    """
    params = init_mlp([xt.shape[1]] + [hidden] * layers + [yt.shape[1]], seed=seed)
    opt = Adam(lr)
    train, val = [], []
    epochs_iter = range(int(epochs) + 1)
    if progress is not None:
        epochs_iter = progress(epochs_iter)
    for e in epochs_iter:
        loss, grads = mlp_loss_and_grads(params, xt, yt, act, "mse")
        train.append(loss)
        val.append(mse_loss(mlp_forward(params, xv, act)[0], yv)[0])
        if e < epochs:
            opt.step(params, grads)
    return History(step=list(range(len(train))), train_loss=train, eval_step=list(range(len(val))), val_loss=val,
                   params=params).check()


def early_stopping(val_losses, patience: int = 50) -> tuple[int, int]:
    """Stop once the validation loss has not improved for ``patience`` epochs.

    Returns ``(best_epoch, stop_epoch)``; ``stop_epoch`` is the last epoch looked at (the end of the
    list if patience never ran out). Ties do not count as improvements.
    """
    if patience < 1:
        raise ValueError(f"patience must be at least 1, got {patience}.")
    losses = list(val_losses)
    if not losses:
        raise ValueError("val_losses is empty.")
    best, best_epoch = math.inf, 0
    for epoch, loss in enumerate(losses):
        if loss < best:
            best, best_epoch = loss, epoch
        elif epoch - best_epoch >= patience:
            return best_epoch, epoch
    return best_epoch, len(losses) - 1
