"""Tiny, exact toy problems used to build intuition (pure functions, no torch needed)."""
from __future__ import annotations

import plotly.graph_objects as go


def gradient_descent_1d(lr: float, steps: int, *, curvature: float = 1.0, start: float = 4.0) -> list[float]:
    """Positions visited by gradient descent on ``f(x) = curvature * x**2`` (gradient ``2*curvature*x``).

    Each step multiplies x by ``1 - 2*lr*curvature``, so it converges iff ``lr < 1/curvature``.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}.")
    xs = [float(start)]
    for _ in range(int(steps)):
        x = xs[-1]
        xs.append(x - lr * 2.0 * curvature * x)
    return xs


def critical_learning_rate(curvature: float) -> float:
    """The learning rate above which gradient descent on ``curvature * x**2`` diverges."""
    return 1.0 / curvature


def gradient_descent_figure(lr: float = 0.1, steps: int = 20, curvature: float = 1.0,
                            start: float = 4.0) -> go.Figure:
    """The bowl, the path taken, and the loss per step, side by side."""
    from plotly.subplots import make_subplots
    xs = gradient_descent_1d(lr, steps, curvature=curvature, start=start)
    losses = [curvature * x * x for x in xs]
    span = max(abs(start) * 1.2, min(max(abs(x) for x in xs), 1e3))
    grid = [-span + 2 * span * i / 200 for i in range(201)]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("path on f(x) = a·x²", "loss per step (log)"))
    fig.add_trace(go.Scatter(x=grid, y=[curvature * g * g for g in grid], mode="lines",
                             name="f(x)", line=dict(color="lightgray")), row=1, col=1)
    fig.add_trace(go.Scatter(x=xs, y=losses, mode="lines+markers", name="steps",
                             marker=dict(size=6)), row=1, col=1)
    fig.add_trace(go.Scatter(x=list(range(len(losses))), y=[max(v, 1e-12) for v in losses],
                             mode="lines+markers", name="loss"), row=1, col=2)
    fig.update_yaxes(type="log", row=1, col=2)
    verdict = "converges" if lr < critical_learning_rate(curvature) else "diverges or oscillates"
    fig.update_layout(template="plotly_white", height=340, showlegend=False,
                      title=f"lr={lr:.3g}, a={curvature:.2g}: {verdict} (critical lr = 1/a = "
                            f"{critical_learning_rate(curvature):.3g})",
                      margin=dict(l=40, r=20, t=60, b=40))
    fig.update_yaxes(range=[0, curvature * span * span * 1.05], row=1, col=1)
    return fig
