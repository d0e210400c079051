"""Exercises of notebook 01 · Neural-network maths (pure NumPy, no torch)."""
from __future__ import annotations

import math

import numpy as np

from labutils.exercises import Exercise, close_to


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


# ------------------------------------------------------------------ 01.sigmoid_derivative
_S2 = _sigmoid(2.0)
_SIGMOID_PRIME_2 = _S2 * (1 - _S2)

# ------------------------------------------------------------------ 01.bias_correction
_BC = 1 - 0.999 ** 10


# ------------------------------------------------------------------ 01.softmax_ce_grad
def _softmax_ce_grad_reference(logits, y):
    """dL/dlogits of L = mean_i -log softmax(logits_i)[y_i]: (softmax - onehot) / N."""
    z = np.asarray(logits, dtype=float)
    y = np.asarray(y)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(y)), y] -= 1.0
    return p / len(y)


def _ce_cases():
    rng = np.random.default_rng(1)
    return [(rng.standard_normal((4, 3)), np.array([0, 2, 1, 2])),
            (rng.standard_normal((7, 5)) * 3, rng.integers(0, 5, 7)),
            (np.array([[1000.0, 1001.0, 1002.0], [-5.0, 0.0, 5.0]]), np.array([2, 0]))]


def _softmax_ce_grad_checker(fn):
    if not callable(fn):
        return "Pass the function itself, e.g. check('01.softmax_ce_grad', softmax_ce_grad), not its result."
    for logits, y in _ce_cases():
        want = _softmax_ce_grad_reference(logits, y)
        with np.errstate(all="ignore"):
            got = np.asarray(fn(logits.copy(), y.copy()), dtype=float)
        if got.shape != want.shape:
            return f"For logits of shape {logits.shape} the gradient must have the same shape; got {got.shape}."
        if not np.all(np.isfinite(got)):
            return ("Your gradient has nan/inf for logits around 1000: exp overflows. Subtract each row's "
                    "maximum before exp (softmax does not change when you shift the logits).")
        if np.allclose(got, want, atol=1e-10):
            continue
        n = len(y)
        onehot = np.zeros_like(want)
        onehot[np.arange(n), y] = 1.0
        if np.allclose(got, want * n, atol=1e-10):
            return "Almost: the loss is a *mean* over the batch, so divide the gradient by N (the number of rows)."
        if np.allclose(got, -want, atol=1e-10):
            return "The sign is flipped: the gradient is softmax − onehot, not onehot − softmax."
        if np.allclose(got, want + onehot / n, atol=1e-10) or np.allclose(got, want * n + onehot, atol=1e-10):
            return "That is the softmax itself: subtract 1 at the true class of each row (softmax − onehot)."
        return f"For logits {np.round(logits, 2).tolist()} and y={y.tolist()} the gradient does not match."
    return None


# ------------------------------------------------------------------ 01.adam_step
def _adam_step_reference(theta, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam step; t counts from 1. Returns (theta, m, v)."""
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    return theta - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def _adam_no_correction(theta, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    return theta - lr * m / (np.sqrt(v) + eps), m, v


def _adam_eps_inside(theta, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
    return theta - lr * m_hat / np.sqrt(v_hat + eps), m, v


def _adam_v_from_g(theta, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * np.abs(g)
    m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
    return theta - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def _adam_run(fn, steps=5):
    rng = np.random.default_rng(3)
    theta = rng.standard_normal(6)
    m, v = np.zeros(6), np.zeros(6)
    scale = np.array([1.0, 0.1, 1e-2, 1e-3, 1e-4, 1e-5])  # tiny gradients make ε matter
    out = []
    for t in range(1, steps + 1):
        g = scale * (theta + rng.standard_normal(6))
        theta, m, v = fn(np.array(theta), g, np.array(m), np.array(v), t, lr=0.01)
        theta, m, v = (np.asarray(a, dtype=float) for a in (theta, m, v))
        out.append((theta, m, v))
    return out


def _adam_step_checker(fn):
    if not callable(fn):
        return "Pass the function itself, e.g. check('01.adam_step', adam_step), not its result."
    with np.errstate(all="ignore"):
        try:
            got = _adam_run(fn)
        except (TypeError, ValueError) as err:
            return f"adam_step(theta, g, m, v, t, lr=...) should return (theta, m, v); calling it failed: {err}"
    want = _adam_run(_adam_step_reference)
    for step, ((gt, gm, gv), (wt, wm, wv)) in enumerate(zip(got, want), start=1):
        if not (np.allclose(gm, wm, rtol=0, atol=1e-12) and np.allclose(gv, wv, rtol=0, atol=1e-12)):
            if np.allclose(got[0][2], _adam_run(_adam_v_from_g)[0][2]):
                return "v averages the *squared* gradient g², not |g| or g."
            return (f"The moments m, v differ after step {step}: m ← β₁m + (1−β₁)g and v ← β₂v + (1−β₂)g²; "
                    "return the new m and v.")
        if not np.allclose(gt, wt, rtol=0, atol=1e-12):
            for wrong, message in ((_adam_no_correction, "Bias correction is missing: divide m by (1−β₁ᵗ) and v by (1−β₂ᵗ)."),
                                   (_adam_eps_inside, "ε goes outside the square root: √v̂ + ε, as in the paper and torch.")):
                if np.allclose(got[0][0], _adam_run(wrong)[0][0], rtol=0, atol=1e-12):
                    return message
            return (f"θ differs after step {step}: θ ← θ − lr·m̂/(√v̂ + ε) with m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ), "
                    "and t counting from 1.")
    return None


EXERCISES = [
    Exercise(
        id="01.sigmoid_derivative",
        question="What is the derivative of the sigmoid σ(x) = 1/(1+e^{−x}) at x = 2?",
        checker=close_to(_SIGMOID_PRIME_2, rel=1e-3, mistakes=[
            (lambda v: abs(v - _S2) < 1e-3, "That is σ(2) itself; the derivative is σ(x)·(1 − σ(x))."),
            (lambda v: abs(v - (1 - _S2)) < 1e-3, "That is 1 − σ(2); multiply by σ(2) as well: σ' = σ(1 − σ)."),
            (lambda v: abs(v - (1 - math.tanh(2) ** 2)) < 1e-4, "That is tanh'(2) = 1 − tanh²(2); the sigmoid's derivative is σ(1 − σ)."),
            (lambda v: abs(v - math.exp(-2)) < 1e-4, "e^{−2} is only the numerator of σ'(x) = e^{−x}/(1+e^{−x})²."),
        ]),
        hint="Differentiate 1/(1+e^{−x}) with the chain rule and rewrite the result in terms of σ(x) itself.",
        solution=_SIGMOID_PRIME_2,
        solution_text="σ'(x) = e^{−x}/(1+e^{−x})² = σ(x)(1 − σ(x)); σ(2) = 0.8808, so σ'(2) = 0.8808 × 0.1192 ≈ 0.1050.",
        wrong=[_S2, 1 - _S2, 1 - math.tanh(2) ** 2, math.exp(-2), "0.1"],
    ),
    Exercise(
        id="01.bias_correction",
        question="Adam with β₂ = 0.999 after t = 10 steps: by what factor 1 − β₂ᵗ is v divided to get v̂?",
        checker=close_to(_BC, rel=1e-3, mistakes=[
            (lambda v: abs(v - 0.999 ** 10) < 1e-4, "0.999¹⁰ is β₂ᵗ; the factor is 1 − β₂ᵗ."),
            (lambda v: abs(v - 1 / _BC) < 0.05, "That is 1/(1 − β₂ᵗ), the multiplier; the question asks for the divisor 1 − β₂ᵗ."),
            (lambda v: abs(v - 0.001) < 1e-6, "0.001 = 1 − β₂ is the factor after one step; raise β₂ to the t-th power first."),
            (lambda v: abs(v - (1 - 0.9 ** 10)) < 1e-4, "That uses β₁ = 0.9; the second moment v uses β₂ = 0.999."),
        ]),
        hint="v starts at 0, so after t steps its weights sum to 1 − β₂ᵗ, not 1: compute 1 − 0.999**10.",
        solution=_BC,
        solution_text="1 − 0.999¹⁰ ≈ 0.00995: early on v is ~100× too small, and dividing by this factor undoes it.",
        wrong=[0.999 ** 10, 1 / _BC, 0.001, 1 - 0.9 ** 10],
    ),
    Exercise(
        id="01.softmax_ce_grad",
        question="Write softmax_ce_grad(logits, y): the gradient of mean cross-entropy w.r.t. logits (N×C), stable for large logits.",
        checker=_softmax_ce_grad_checker,
        hint="p = softmax of each row (subtract the row max first); then p[range(N), y] -= 1; divide by N.",
        solution=_softmax_ce_grad_reference,
        solution_text=(
            "def softmax_ce_grad(logits, y):\n"
            "    z = logits - logits.max(axis=1, keepdims=True)   # shift: no overflow\n"
            "    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)\n"
            "    p[np.arange(len(y)), y] -= 1.0                      # softmax - onehot\n"
            "    return p / len(y)                                   # the loss is a mean"),
        wrong=[
            lambda z, y: _softmax_ce_grad_reference(z, y) * len(y),
            lambda z, y: -_softmax_ce_grad_reference(z, y),
            lambda z, y: np.exp(z) / np.exp(z).sum(axis=1, keepdims=True),
            lambda z, y: (np.exp(z) / np.exp(z).sum(1, keepdims=True) - np.eye(z.shape[1])[y]) / len(y),
            np.zeros((2, 3)),
        ],
    ),
    Exercise(
        id="01.adam_step",
        question="Write adam_step(theta, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8) -> (theta, m, v), t counting from 1.",
        checker=_adam_step_checker,
        hint="Update m and v first, correct both by 1 − βᵗ, then θ ← θ − lr·m̂/(√v̂ + ε).",
        solution=_adam_step_reference,
        solution_text=(
            "def adam_step(theta, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):\n"
            "    m = beta1 * m + (1 - beta1) * g\n"
            "    v = beta2 * v + (1 - beta2) * g * g\n"
            "    m_hat = m / (1 - beta1 ** t)\n"
            "    v_hat = v / (1 - beta2 ** t)\n"
            "    return theta - lr * m_hat / (np.sqrt(v_hat) + eps), m, v"),
        wrong=[_adam_no_correction, _adam_eps_inside, _adam_v_from_g,
               lambda theta, g, m, v, t, **k: (theta - 0.01 * g, m, v), "adam"],
    ),
]
