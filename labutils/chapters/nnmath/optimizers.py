"""Notebook 01, optimizers from their update rules (SGD with momentum, RMSProp, Adam, AdamW), checked
against ``torch.optim``, racing on classic loss surfaces (Rosenbrock, Beale, a tilted bowl)."""
from __future__ import annotations

import dataclasses
import math
from typing import Callable

import numpy as np
import plotly.graph_objects as go

Params = dict  # name -> np.ndarray
_C, _S = math.cos(math.pi / 6), math.sin(math.pi / 6)   # the bowl's axes are turned by 30°


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
