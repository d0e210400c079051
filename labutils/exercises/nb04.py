"""Exercises of notebook 04 · Pretraining a GPT (plain Python; no torch needed)."""
from __future__ import annotations

import math

from labutils.exercises import Exercise, close_to


# ------------------------------------------------------------------ 04.lr_at_step
def _lr(step, warmup=100, total=1000, max_lr=3e-3, min_lr=3e-4):
    if step < warmup:
        return max_lr * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / (total - warmup))
    return min_lr + 0.5 * (max_lr - min_lr) * (1 + math.cos(math.pi * progress))


_LR_700 = _lr(700)                                                     # 9.75e-4
_LR_NO_MIN = 0.5 * 3e-3 * (1 + math.cos(math.pi * 600 / 900))          # forgot min_lr
_LR_PLAIN_PROGRESS = 3e-4 + 0.5 * 2.7e-3 * (1 + math.cos(math.pi * 0.7))  # progress = step/total

# ------------------------------------------------------------------ 04.temperature_zero
_LOGITS = [2.0, 1.0, 3.0, 0.5]


def _softmax(z, t=1.0):
    m = max(v / t for v in z)
    e = [math.exp(v / t - m) for v in z]
    s = sum(e)
    return [x / s for x in e]


def _temperature_checker(answer):
    try:
        got = [float(x) for x in answer]
    except (TypeError, ValueError):
        return f"Give four probabilities, e.g. [0.1, 0.2, 0.3, 0.4]; got {answer!r}."
    if len(got) != 4:
        return f"There are 4 logits, so give 4 probabilities; you gave {len(got)}."
    want = _softmax(_LOGITS, 0.01)
    if all(abs(a - b) < 1e-6 for a, b in zip(got, want)):
        return None
    if abs(sum(got) - 1) > 1e-3:
        return f"Probabilities must add up to 1; yours add up to {sum(got):.4g}."
    if all(abs(a - b) < 1e-3 for a, b in zip(got, _softmax(_LOGITS))):
        return "That is the softmax at temperature 1: divide the logits by T = 0.01 first."
    if all(abs(a - 0.25) < 1e-3 for a in got):
        return "A uniform distribution is what a very HIGH temperature gives; a tiny T sharpens instead."
    if all(abs(a - b) < 1e-3 for a, b in zip(got, [0, 0, 0, 1])) or got.index(max(got)) != 2:
        return "Which logit is largest? Dividing by a small T multiplies the gaps, and the largest logit wins."
    return "Compute softmax(z / 0.01): subtract the largest value first so exp does not overflow."


# ------------------------------------------------------------------ 04.tokens_for_budget
_C, _N = 1e15, 2.5e6
_D = _C / (6 * _N)

EXERCISES = [
    Exercise(
        id="04.lr_at_step",
        question=("A run uses `lr_schedule(step, warmup=100, total=1000, max_lr=3e-3, min_lr=3e-4)`: linear "
                  "warm-up, then cosine from max_lr down to min_lr. What is the learning rate at step 700? "
                  "Compute it by hand (with `math.cos`), not with `lu.training.lr_schedule`."),
        checker=close_to(_LR_700, rel=1e-6, mistakes=[
            (lambda v: math.isclose(v, _LR_NO_MIN, rel_tol=1e-3),
             "The cosine goes from max_lr down to min_lr, not to 0: lr = min_lr + ½(max_lr − min_lr)(1 + cos(π·progress))."),
            (lambda v: math.isclose(v, _LR_PLAIN_PROGRESS, rel_tol=1e-3),
             "Progress counts from the end of the warm-up: (700 − 100) / (1000 − 100), not 700 / 1000."),
            (lambda v: math.isclose(v, 3e-3, rel_tol=1e-3), "3e-3 is the peak, reached at the end of the warm-up; "
             "by step 700 the cosine has brought it down."),
        ]),
        hint="progress = (step − warmup) / (total − warmup); lr = min_lr + ½·(max_lr − min_lr)·(1 + cos(π·progress)).",
        solution=_LR_700,
        solution_text=("progress = 600/900 = 2/3, cos(2π/3) = −0.5, so lr = 3e-4 + ½·2.7e-3·0.5 = 9.75e-4. "
                       "Check: `lu.training.lr_schedule(700, 100, 1000, 3e-3, 3e-4)`."),
        wrong=[_LR_NO_MIN, _LR_PLAIN_PROGRESS, 3e-3, 3e-4, "fast"],
    ),
    Exercise(
        id="04.temperature_zero",
        question=("Sampling divides the logits by a temperature T before the softmax. For the logits "
                  f"{_LOGITS}, give the four probabilities at T = 0.01 (as a list). What decoding rule does "
                  "T → 0 turn sampling into?"),
        checker=_temperature_checker,
        hint="softmax(z/T): a small T multiplies every gap between logits by 1/T = 100.",
        solution=_softmax(_LOGITS, 0.01),
        solution_text=("The gaps become 100 and more, so exp(−100) ≈ 4e-44: essentially [0, 0, 1, 0]. All the "
                       "mass goes to the largest logit: T → 0 is greedy decoding (argmax), which is why "
                       "`lu.training.sampling_distribution(..., temperature=0)` returns a one-hot vector."),
        wrong=[_softmax(_LOGITS), [0.25] * 4, [1, 0, 0, 0], [0.5, 0.5], "greedy"],
    ),
    Exercise(
        id="04.tokens_for_budget",
        question=("Training costs about 6·N FLOPs per token for a model with N parameters (2N forward, 4N "
                  "backward). With a compute budget of C = 1e15 FLOPs, how many tokens D can a model with "
                  "N = 2.5 million parameters train on?"),
        checker=close_to(_D, rel=1e-6, mistakes=[
            (lambda v: math.isclose(v, _C / _N, rel_tol=1e-3), "Each token costs 6N FLOPs, not N: divide by 6 as well."),
            (lambda v: math.isclose(v, _C / (2 * _N), rel_tol=1e-3),
             "2N is the forward pass only; training adds the backward pass (about 4N): 6N per token."),
            (lambda v: math.isclose(v, 6 * _N * _C, rel_tol=1e-3) or v > 1e18,
             "C = 6·N·D, so D = C / (6·N): divide, do not multiply."),
        ]),
        hint="C ≈ 6·N·D; solve for D.",
        solution=_D,
        solution_text="D = C / (6N) = 1e15 / 1.5e7 ≈ 6.67e7 tokens (67 million).",
        wrong=[_C / _N, _C / (2 * _N), 6 * _N * _C, 1e6, "many"],
    ),
]
