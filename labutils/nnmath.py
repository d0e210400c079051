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

import dataclasses
import math
from collections import Counter, defaultdict
from typing import Callable, Mapping

import numpy as np
import plotly.graph_objects as go

__all__ = [
    "ACTIVATIONS", "activation", "activation_figure",
    "init_mlp", "mlp_forward", "mlp_backward", "mlp_loss_and_grads", "numerical_gradient", "rel_error",
    "gradcheck_fd", "torch_loss_and_grads", "gradcheck_autograd",
    "softmax_naive", "logsumexp", "log_softmax", "softmax", "softmax_cross_entropy", "mse_loss",
    "binary_cross_entropy", "bce_with_logits", "zen_of_python", "char_ngram_cross_entropy",
    "SGD", "RMSProp", "Adam", "AdamW", "make_optimizer", "torch_optimizer", "compare_with_torch",
    "Surface", "SURFACES", "run_on_surface", "optimizer_race", "optimizer_race_figure",
    "l1_penalty", "l2_penalty", "make_sparse_regression", "fit_linear_regularized",
    "weight_decay_comparison", "dropout", "make_curve_data", "train_mlp_regression", "early_stopping",
]

Params = dict  # name -> np.ndarray


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


# -------------------------------------------------------------------------------- optimizers
class _Optimizer:
    """Base: keeps per-parameter state by name; :meth:`step` updates ``params`` in place."""

    def __init__(self, lr: float, weight_decay: float = 0.0):
        if not lr > 0:
            raise ValueError(f"lr must be positive, got {lr}.")
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}.")
        self.lr, self.weight_decay = float(lr), float(weight_decay)
        self.state: dict[str, dict] = {}
        self.t = 0

    def step(self, params: Params, grads: Params) -> Params:
        self.t += 1
        for name, p in params.items():
            p[...] = self._update(name, p, np.asarray(grads[name], dtype=p.dtype))
        return params

    def _update(self, name, p, g):  # pragma: no cover - abstract
        raise NotImplementedError


class SGD(_Optimizer):
    """SGD, with optional (heavy-ball) momentum, as torch writes it.

    ``g ← g + λθ`` (L2 in the gradient); ``v ← μv + g``; ``θ ← θ - ηv`` (μ=0: plain ``θ ← θ - ηg``).
    ``decoupled=True`` instead shrinks the weights directly, ``θ ← θ(1 - ηλ)``, then steps.
    """

    def __init__(self, lr: float, momentum: float = 0.0, weight_decay: float = 0.0, decoupled: bool = False):
        super().__init__(lr, weight_decay)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}.")
        self.momentum, self.decoupled = float(momentum), bool(decoupled)

    def _update(self, name, p, g):
        if self.weight_decay and self.decoupled:
            p = p * (1 - self.lr * self.weight_decay)
        elif self.weight_decay:
            g = g + self.weight_decay * p
        if self.momentum:
            st = self.state.setdefault(name, {"v": np.zeros_like(p)})
            st["v"] = self.momentum * st["v"] + g
            g = st["v"]
        return p - self.lr * g


class RMSProp(_Optimizer):
    """RMSProp: ``s ← αs + (1-α)g²``; ``θ ← θ - η g / (√s + ε)`` (each coordinate gets its own step)."""

    def __init__(self, lr: float, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(lr, weight_decay)
        if not 0 <= alpha < 1:
            raise ValueError(f"alpha must be in [0, 1), got {alpha}.")
        self.alpha, self.eps = float(alpha), float(eps)

    def _update(self, name, p, g):
        if self.weight_decay:
            g = g + self.weight_decay * p
        st = self.state.setdefault(name, {"s": np.zeros_like(p)})
        st["s"] = self.alpha * st["s"] + (1 - self.alpha) * g * g
        return p - self.lr * g / (np.sqrt(st["s"]) + self.eps)


class Adam(_Optimizer):
    """Adam (Kingma & Ba, 2015), with ``weight_decay`` as L2 added to the gradient (torch's Adam):

    ``g ← g + λθ``; ``m ← β₁m + (1-β₁)g``; ``v ← β₂v + (1-β₂)g²``;
    ``m̂ = m/(1-β₁ᵗ)``, ``v̂ = v/(1-β₂ᵗ)``; ``θ ← θ - η m̂ / (√v̂ + ε)``.
    """

    decoupled = False

    def __init__(self, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(lr, weight_decay)
        b1, b2 = (float(b) for b in betas)
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"betas must lie in [0, 1), got {betas}.")
        self.beta1, self.beta2, self.eps = b1, b2, float(eps)

    def _update(self, name, p, g):
        if self.weight_decay and self.decoupled:
            p = p * (1 - self.lr * self.weight_decay)          # AdamW: shrink θ itself
        elif self.weight_decay:
            g = g + self.weight_decay * p                      # Adam + L2: decay goes through m and v
        st = self.state.setdefault(name, {"m": np.zeros_like(p), "v": np.zeros_like(p)})
        st["m"] = self.beta1 * st["m"] + (1 - self.beta1) * g
        st["v"] = self.beta2 * st["v"] + (1 - self.beta2) * g * g
        m_hat = st["m"] / (1 - self.beta1 ** self.t)
        v_hat = st["v"] / (1 - self.beta2 ** self.t)
        return p - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter, 2019): decoupled weight decay ``θ ← θ(1 - ηλ)`` before the Adam step."""

    decoupled = True

    def __init__(self, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2):
        super().__init__(lr, betas, eps, weight_decay)


OPTIMIZERS = {"SGD": SGD, "Momentum": SGD, "RMSProp": RMSProp, "Adam": Adam, "AdamW": AdamW}


def make_optimizer(name: str, **hyper):
    """An optimizer by name (SGD, Momentum, RMSProp, Adam, AdamW); ``Momentum`` defaults to μ=0.9."""
    if name not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer {name!r}; choose one of: {', '.join(OPTIMIZERS)}.")
    if name == "Momentum":
        hyper.setdefault("momentum", 0.9)
    return OPTIMIZERS[name](**hyper)


def torch_optimizer(name: str, tensors, **hyper):
    """The matching ``torch.optim`` optimizer with the same hyper-parameters."""
    import torch
    if name in ("SGD", "Momentum"):
        if name == "Momentum":
            hyper.setdefault("momentum", 0.9)
        return torch.optim.SGD(tensors, **hyper)
    table = {"RMSProp": torch.optim.RMSprop, "Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW}
    if name not in table:
        raise ValueError(f"Unknown optimizer {name!r}; choose one of: {', '.join(OPTIMIZERS)}.")
    return table[name](tensors, **hyper)


def compare_with_torch(name: str, params0: Params, grad_fn: Callable[[Params], Params], steps: int = 20,
                       **hyper) -> np.ndarray:
    """Run our optimizer and ``torch.optim``'s side by side from the same start, each on its own
    trajectory (gradients from ``grad_fn`` at its own current parameters).

    Returns the max absolute parameter difference after each step (length ``steps``).
    """
    import torch
    ours = {k: np.array(v, dtype=np.float64) for k, v in params0.items()}
    opt = make_optimizer(name, **dict(hyper))
    tp = {k: torch.tensor(np.array(v, dtype=np.float64), requires_grad=True) for k, v in params0.items()}
    topt = torch_optimizer(name, list(tp.values()), **dict(hyper))
    diffs = []
    for _ in range(int(steps)):
        opt.step(ours, grad_fn(ours))
        g = grad_fn({k: t.detach().numpy().copy() for k, t in tp.items()})
        for k, t in tp.items():
            t.grad = torch.from_numpy(np.array(g[k], dtype=np.float64))
        topt.step()
        diffs.append(max(float(np.max(np.abs(ours[k] - tp[k].detach().numpy()))) for k in ours))
    return np.array(diffs)


# ------------------------------------------------------------------------------ loss surfaces
@dataclasses.dataclass(frozen=True)
class Surface:
    """A 2-D loss surface with its gradient, a start point, a plotting window and the minimum."""

    name: str
    f: Callable[[np.ndarray, np.ndarray], np.ndarray]
    grad: Callable[[float, float], np.ndarray]
    start: tuple[float, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    minimum: tuple[float, float]


def _rosen(x, y):
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


def _rosen_grad(x, y):
    return np.array([-2 * (1 - x) - 400 * x * (y - x ** 2), 200 * (y - x ** 2)])


_C, _S = math.cos(math.pi / 6), math.sin(math.pi / 6)   # the bowl's axes are turned by 30°


def _bowl(x, y):
    u, v = _C * x + _S * y, -_S * x + _C * y
    return 0.5 * (u ** 2 + 20 * v ** 2)


def _bowl_grad(x, y):
    u, v = _C * x + _S * y, -_S * x + _C * y
    du, dv = u, 20 * v
    return np.array([_C * du - _S * dv, _S * du + _C * dv])


def _beale(x, y):
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y ** 2) ** 2 + (2.625 - x + x * y ** 3) ** 2


def _beale_grad(x, y):
    a, b, c = 1.5 - x + x * y, 2.25 - x + x * y ** 2, 2.625 - x + x * y ** 3
    return np.array([2 * a * (y - 1) + 2 * b * (y ** 2 - 1) + 2 * c * (y ** 3 - 1),
                     2 * a * x + 2 * b * 2 * x * y + 2 * c * 3 * x * y ** 2])


SURFACES: dict[str, Surface] = {
    "rosenbrock": Surface("Rosenbrock (1-x)² + 100(y-x²)²", _rosen, _rosen_grad, (-1.5, 2.0),
                          (-2.0, 2.0), (-1.0, 3.0), (1.0, 1.0)),
    "ill_bowl": Surface("tilted bowl, curvatures 1 and 20", _bowl, _bowl_grad, (-3.5, 2.5),
                        (-4.0, 4.0), (-4.0, 4.0), (0.0, 0.0)),
    "beale": Surface("Beale", _beale, _beale_grad, (-1.0, -1.0), (-4.5, 4.5), (-4.5, 4.5), (3.0, 0.5)),
}


def _surface(name: str) -> Surface:
    if name not in SURFACES:
        raise ValueError(f"Unknown surface {name!r}; choose one of: {', '.join(SURFACES)}.")
    return SURFACES[name]


def run_on_surface(surface: str, optimizer, steps: int, start=None):
    """Positions visited (``(k+1, 2)`` array) and whether the run blew up (|θ| > 1e6 or non-finite)."""
    s = _surface(surface)
    params = {"xy": np.array(start if start is not None else s.start, dtype=float)}
    path = [params["xy"].copy()]
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(int(steps)):
            optimizer.step(params, {"xy": s.grad(*params["xy"])})
            xy = params["xy"].copy()
            if not np.all(np.isfinite(xy)) or np.max(np.abs(xy)) > 1e6:
                return np.array(path), True
            path.append(xy)
    return np.array(path), False


def optimizer_race(surface: str = "rosenbrock", lr_sgd: float = 1e-3, lr_adaptive: float = 0.05,
                   beta1: float = 0.9, beta2: float = 0.999, weight_decay: float = 0.0, steps: int = 300,
                   names=("SGD", "Momentum", "RMSProp", "Adam", "AdamW")) -> dict:
    """Race the optimizers from the same start. ``lr_sgd`` drives SGD and momentum (μ = ``beta1``),
    ``lr_adaptive`` drives RMSProp (α = ``beta2``), Adam and AdamW (β₁, β₂; AdamW also gets
    ``weight_decay``). Returns ``{name: {"path", "loss", "diverged", "dist"}}``, ``dist`` being the
    final distance to the minimum.
    """
    s = _surface(surface)
    builders = {
        "SGD": lambda: SGD(lr_sgd),
        "Momentum": lambda: SGD(lr_sgd, momentum=beta1),
        "RMSProp": lambda: RMSProp(lr_adaptive, alpha=beta2),
        "Adam": lambda: Adam(lr_adaptive, betas=(beta1, beta2)),
        "AdamW": lambda: AdamW(lr_adaptive, betas=(beta1, beta2), weight_decay=weight_decay),
    }
    out = {}
    for name in names:
        if name not in builders:
            raise ValueError(f"Unknown optimizer {name!r}; choose from {', '.join(builders)}.")
        path, diverged = run_on_surface(surface, builders[name](), steps)
        x, y = path[-1]
        out[name] = {"path": path, "diverged": diverged, "loss": float(s.f(x, y)),
                     "dist": float(math.hypot(x - s.minimum[0], y - s.minimum[1]))}
    return out


def optimizer_race_figure(surface: str = "rosenbrock", lr_sgd: float = 1e-3, lr_adaptive: float = 0.05,
                          beta1: float = 0.9, beta2: float = 0.999, weight_decay: float = 0.0,
                          steps: int = 300) -> go.Figure:
    """Contour of ``log(1 + f)`` with each optimizer's path; the legend gives the final loss."""
    s = _surface(surface)
    race = optimizer_race(surface, lr_sgd, lr_adaptive, beta1, beta2, weight_decay, steps)
    xs = np.linspace(*s.xlim, 160)
    ys = np.linspace(*s.ylim, 160)
    X, Y = np.meshgrid(xs, ys)
    fig = go.Figure(go.Contour(x=xs, y=ys, z=np.log1p(s.f(X, Y)), colorscale="Greys", showscale=False,
                               ncontours=30, contours=dict(coloring="lines"), hoverinfo="skip"))
    for name, r in race.items():
        p = r["path"]
        label = f"{name}: diverged at step {len(p)}" if r["diverged"] else f"{name}: f = {r['loss']:.2e}"
        fig.add_trace(go.Scatter(x=p[:, 0], y=p[:, 1], mode="lines+markers", name=label,
                                 marker=dict(size=3), line=dict(width=2)))
    fig.add_trace(go.Scatter(x=[s.minimum[0]], y=[s.minimum[1]], mode="markers", name="minimum",
                             marker=dict(symbol="star", size=14, color="gold", line=dict(color="black", width=1))))
    fig.update_layout(template="plotly_white", height=480,
                      title=f"{s.name}: {steps} steps, lr SGD/momentum {lr_sgd:.2g}, lr adaptive {lr_adaptive:.2g}",
                      xaxis=dict(range=list(s.xlim), title="x"), yaxis=dict(range=list(s.ylim), title="y"),
                      margin=dict(l=50, r=20, t=50, b=40))
    return fig


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
                         lr: float = 0.01, act: str = "tanh", seed: int = 0, progress=None) -> dict:
    """Full-batch training of an MLP with our :class:`Adam`, recording train and validation MSE.

    Returns ``{"train": [...], "val": [...], "params": final}``; entry ``e`` is after ``e`` updates
    (entry 0 is the untrained network).
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
    return {"train": train, "val": val, "params": params}


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
