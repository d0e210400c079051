"""Neural-network maths by hand, in NumPy: the helpers of notebook 01.

Everything here is written from the equations so a learner can read it next to the maths:

- activations and their derivatives (:data:`ACTIVATIONS`), and a plot of both;
- a small multilayer perceptron (MLP, 多层感知机): :func:`init_mlp`, :func:`mlp_forward`,
  :func:`mlp_backward`, checked by :func:`numerical_gradient` (finite differences) and
  :func:`torch_loss_and_grads` (``torch.autograd``);
- losses: MSE, cross-entropy from logits (via a stable :func:`log_softmax`), binary
  cross-entropy, and a character n-gram model for a first look at perplexity;
- optimizers from their update equations (:class:`SGD`, :class:`RMSProp`, :class:`Adam`,
  :class:`AdamW`), matched step for step against ``torch.optim`` by :func:`compare_with_torch`;
- 2-D loss surfaces (:data:`SURFACES`) and :func:`optimizer_race_figure`;
- regularisation: L1/L2 penalties, inverted dropout, early stopping on a small over-fitting MLP.

Parameters are dicts of float64 NumPy arrays (``{"W1": ..., "b1": ...}``); optimizers update them
in place, like ``torch.optim`` does. torch is imported only inside the functions that compare with it.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Callable, Mapping

import numpy as np
import plotly.graph_objects as go

from labutils.chapters.nnmath.optimizers import Params


# ------------------------------------------------------------------------------- activations
def _sigmoid(x):
    # split by sign so that exp never overflows
    x = np.asarray(x, dtype=float)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    e = np.exp(x[~pos])
    out[~pos] = e / (1.0 + e)
    return out


_erf = np.vectorize(math.erf, otypes=[float])


def _gelu(x):
    x = np.asarray(x, dtype=float)
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def _gelu_grad(x):
    x = np.asarray(x, dtype=float)
    cdf = 0.5 * (1.0 + _erf(x / math.sqrt(2.0)))
    pdf = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    return cdf + x * pdf


#: name -> (f, f'): each derivative written from its formula, not by autograd.
ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    "sigmoid": (_sigmoid, lambda x: _sigmoid(x) * (1.0 - _sigmoid(x))),          # σ' = σ(1-σ)
    "tanh": (np.tanh, lambda x: 1.0 - np.tanh(x) ** 2),                         # tanh' = 1 - tanh²
    "relu": (lambda x: np.maximum(x, 0.0), lambda x: (np.asarray(x) > 0).astype(float)),  # 0 or 1
    "gelu": (_gelu, _gelu_grad),                                                # x·Φ(x) -> Φ + x·φ
}


def activation(name: str) -> tuple[Callable, Callable]:
    """``(f, f')`` for an activation name (sigmoid, tanh, relu, gelu)."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"Unknown activation {name!r}; choose one of: {', '.join(ACTIVATIONS)}.") from None


def activation_figure(names=("sigmoid", "tanh", "relu", "gelu"), lo: float = -4.0, hi: float = 4.0,
                      points: int = 401) -> go.Figure:
    """Each activation and its derivative, side by side."""
    from plotly.subplots import make_subplots
    x = np.linspace(lo, hi, points)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("activation f(x)", "derivative f'(x)"))
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"]
    for i, name in enumerate(names):
        f, df = activation(name)
        c = colors[i % len(colors)]
        fig.add_trace(go.Scatter(x=x, y=f(x), name=name, line=dict(color=c)), row=1, col=1)
        fig.add_trace(go.Scatter(x=x, y=df(x), name=name + "'", line=dict(color=c, dash="dot"),
                                 showlegend=False), row=1, col=2)
    fig.update_layout(template="plotly_white", height=340, margin=dict(l=40, r=20, t=50, b=40))
    return fig


# ------------------------------------------------------------------------------------- the MLP
def _n_layers(params: Mapping[str, np.ndarray]) -> int:
    n = sum(1 for k in params if k.startswith("W"))
    if n == 0 or any(f"W{i}" not in params or f"b{i}" not in params for i in range(1, n + 1)):
        raise ValueError("params must hold W1, b1, ..., WL, bL (as made by init_mlp).")
    return n


def init_mlp(sizes, seed: int = 0, dtype=np.float64) -> Params:
    """Weights ``W{l}`` of shape (fan_in, fan_out) ~ N(0, 1/fan_in) and zero biases ``b{l}``.

    ``sizes=[4, 16, 3]``: 4 inputs, one hidden layer of 16, 3 outputs.
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes needs at least two positive layer widths, got {sizes}.")
    rng = np.random.default_rng(seed)
    params: Params = {}
    for l, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        params[f"W{l}"] = (rng.standard_normal((fan_in, fan_out)) / math.sqrt(fan_in)).astype(dtype)
        params[f"b{l}"] = np.zeros(fan_out, dtype=dtype)
    return params


def mlp_forward(params: Params, X: np.ndarray, act: str = "tanh"):
    """Forward pass ``z_l = a_{l-1} W_l + b_l``, ``a_l = f(z_l)`` (the last layer stays linear).

    Returns ``(output, cache)``; the cache keeps every ``a_l`` and ``z_l`` for the backward pass.
    """
    f, _ = activation(act)
    L = _n_layers(params)
    a = np.asarray(X)
    cache = {"a0": a}
    for l in range(1, L + 1):
        z = a @ params[f"W{l}"] + params[f"b{l}"]
        a = f(z) if l < L else z
        cache[f"z{l}"], cache[f"a{l}"] = z, a
    return a, cache


def mlp_backward(params: Params, cache: dict, dout: np.ndarray, act: str = "tanh") -> Params:
    """Backpropagation (反向传播): the chain rule applied layer by layer, from the output back.

    ``dout`` is dLoss/d(output). For each layer: ``dz = da * f'(z)``, ``dW = a_prevᵀ dz``,
    ``db = Σ_batch dz``, ``da_prev = dz Wᵀ``.
    """
    _, df = activation(act)
    L = _n_layers(params)
    grads: Params = {}
    da = dout
    for l in range(L, 0, -1):
        dz = da if l == L else da * df(cache[f"z{l}"])
        grads[f"W{l}"] = cache[f"a{l - 1}"].T @ dz
        grads[f"b{l}"] = dz.sum(axis=0)
        da = dz @ params[f"W{l}"].T
    return {k: grads[k] for k in params}


def mse_loss(pred: np.ndarray, target: np.ndarray):
    """Mean squared error over all entries and its gradient: ``(loss, dloss/dpred)``."""
    pred, target = np.asarray(pred, dtype=float), np.asarray(target, dtype=float)
    if pred.shape != target.shape:
        raise ValueError(f"pred and target need the same shape, got {pred.shape} and {target.shape}.")
    diff = pred - target
    return float(np.mean(diff ** 2)), 2.0 * diff / diff.size


def softmax_naive(z: np.ndarray) -> np.ndarray:
    """``exp(z) / Σ exp(z)`` exactly as written: overflows to inf/nan for logits above ~709."""
    e = np.exp(np.asarray(z, dtype=float))
    return e / e.sum(axis=-1, keepdims=True)


def logsumexp(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """``log Σ exp(z)`` computed as ``m + log Σ exp(z - m)`` with ``m = max z``: never overflows."""
    z = np.asarray(z, dtype=float)
    m = z.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(z - m).sum(axis=axis, keepdims=True))).squeeze(axis)


def log_softmax(z: np.ndarray) -> np.ndarray:
    """``z - logsumexp(z)``: log-probabilities that stay finite for any finite logits."""
    z = np.asarray(z, dtype=float)
    return z - logsumexp(z)[..., None]


def softmax(z: np.ndarray) -> np.ndarray:
    """Stable softmax, ``exp(log_softmax(z))``."""
    return np.exp(log_softmax(z))


def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray):
    """Mean cross-entropy of integer labels ``y`` under ``softmax(logits)``, and its gradient.

    ``loss = -mean_i log p_i[y_i]``; ``dloss/dlogits = (softmax(logits) - onehot(y)) / N``.
    """
    logits = np.asarray(logits, dtype=float)
    y = np.asarray(y)
    if logits.ndim != 2 or y.shape != (logits.shape[0],):
        raise ValueError(f"logits must be (N, C) and y (N,), got {logits.shape} and {y.shape}.")
    n = logits.shape[0]
    logp = log_softmax(logits)
    loss = -logp[np.arange(n), y].mean()
    dlogits = np.exp(logp)
    dlogits[np.arange(n), y] -= 1.0
    return float(loss), dlogits / n


def binary_cross_entropy(p: np.ndarray, y: np.ndarray) -> float:
    """``-mean(y log p + (1-y) log(1-p))`` from probabilities (inf when p hits exactly 0 or 1)."""
    p, y = np.asarray(p, dtype=float), np.asarray(y, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def bce_with_logits(z: np.ndarray, y: np.ndarray) -> float:
    """Binary cross-entropy from a logit ``z`` (p = σ(z)), stable: ``max(z,0) - z·y + log(1+e^{-|z|})``."""
    z, y = np.asarray(z, dtype=float), np.asarray(y, dtype=float)
    return float(np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))))


def mlp_loss_and_grads(params: Params, X: np.ndarray, y: np.ndarray, act: str = "tanh", loss: str = "ce"):
    """Loss and hand-derived gradients of an MLP: ``loss="ce"`` (integer labels) or ``"mse"`` (targets)."""
    out, cache = mlp_forward(params, X, act)
    if loss == "ce":
        value, dout = softmax_cross_entropy(out, y)
    elif loss == "mse":
        value, dout = mse_loss(out, y)
    else:
        raise ValueError(f"Unknown loss {loss!r}; choose 'ce' or 'mse'.")
    return value, mlp_backward(params, cache, dout, act)


def numerical_gradient(f: Callable[[Params], float], params: Params, eps: float = 1e-6) -> Params:
    """Central finite differences ``(f(θ+ε e_i) - f(θ-ε e_i)) / 2ε`` for every entry of every array.

    Error ~ε² from truncation plus ~1e-16/ε from rounding, so ε≈1e-6 in float64 gives ~1e-10.
    """
    grads: Params = {}
    for name, p in params.items():
        g = np.zeros_like(p, dtype=float)
        it = np.nditer(p, flags=["multi_index"])
        for _ in it:
            i = it.multi_index
            old = p[i]
            p[i] = old + eps
            plus = f(params)
            p[i] = old - eps
            minus = f(params)
            p[i] = old
            g[i] = (plus - minus) / (2 * eps)
        grads[name] = g
    return grads


def rel_error(a, b) -> float:
    """Relative error of two arrays, ``‖a - b‖ / max(‖a‖ + ‖b‖, 1e-300)`` (0 when both are zero)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare shapes {a.shape} and {b.shape}.")
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / max(denom, 1e-300))


def gradcheck_fd(params: Params, X, y, act: str = "tanh", loss: str = "ce", eps: float = 1e-6) -> dict:
    """Per-array relative error between backprop and finite differences."""
    _, grads = mlp_loss_and_grads(params, X, y, act, loss)
    num = numerical_gradient(lambda p: mlp_loss_and_grads(p, X, y, act, loss)[0], params, eps)
    return {k: rel_error(grads[k], num[k]) for k in params}


def torch_loss_and_grads(params: Params, X, y, act: str = "tanh", loss: str = "ce"):
    """The same MLP and loss in torch (float64), gradients by ``torch.autograd``: ``(loss, grads)``."""
    import torch
    import torch.nn.functional as F
    acts = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu, "gelu": F.gelu}
    activation(act)  # validates the name
    L = _n_layers(params)
    tp = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    a = torch.as_tensor(np.asarray(X), dtype=torch.float64)
    for l in range(1, L + 1):
        a = a @ tp[f"W{l}"] + tp[f"b{l}"]
        if l < L:
            a = acts[act](a)
    if loss == "ce":
        value = F.cross_entropy(a, torch.as_tensor(np.asarray(y), dtype=torch.long))
    elif loss == "mse":
        value = F.mse_loss(a, torch.as_tensor(np.asarray(y), dtype=torch.float64))
    else:
        raise ValueError(f"Unknown loss {loss!r}; choose 'ce' or 'mse'.")
    value.backward()
    return float(value.detach()), {k: t.grad.numpy() for k, t in tp.items()}


def gradcheck_autograd(params: Params, X, y, act: str = "tanh", loss: str = "ce") -> dict:
    """Per-array relative error between backprop by hand and ``torch.autograd``."""
    _, ours = mlp_loss_and_grads(params, X, y, act, loss)
    _, theirs = torch_loss_and_grads(params, X, y, act, loss)
    return {k: rel_error(ours[k], theirs[k]) for k in params}


# --------------------------------------------------------------------- cross-entropy for text
def zen_of_python() -> str:
    """The Zen of Python (Tim Peters), a short English text that ships with every Python (``import this``)."""
    import codecs
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()):  # ``import this`` prints the text the first time
        import this
    return codecs.decode(this.s, "rot13")


def char_ngram_cross_entropy(train: str, test: str, context: int = 1, alpha: float = 1.0) -> float:
    """Mean cross-entropy (nats per character) of ``test`` under a character n-gram model.

    ``context=0`` is a unigram model, ``context=1`` a bigram, ``-1`` the uniform model over the
    vocabulary (all characters seen in either text). Counts come from ``train`` with add-``alpha``
    smoothing. ``exp`` of the result is the perplexity (困惑度).
    """
    if not train or not test:
        raise ValueError("train and test must both be non-empty strings.")
    if context < -1 or alpha <= 0:
        raise ValueError(f"context must be >= -1 and alpha > 0, got {context} and {alpha}.")
    vocab = sorted(set(train) | set(test))
    V = len(vocab)
    if context == -1:
        return math.log(V)
    counts: dict[str, Counter] = defaultdict(Counter)
    for i in range(context, len(train)):
        counts[train[i - context:i]][train[i]] += 1
    nll = 0.0
    for i in range(context, len(test)):
        c = counts.get(test[i - context:i], Counter())
        nll -= math.log((c[test[i]] + alpha) / (sum(c.values()) + alpha * V))
    return nll / (len(test) - context)


