"""Exercises of notebook 14 · Responsible LLMs (plain Python, no torch)."""
from __future__ import annotations

import math

from labutils.exercises import Exercise, close_to

# 14.exposure: a 4-digit PIN ranked 3rd of all 10,000 candidates
_EXPOSURE = math.log2(10_000) - math.log2(3)
# 14.dp_noise: sigma 1.1, clipping bound C = 1, batch 32 -> std of the noise on the averaged gradient
_NOISE = 1.1 * 1.0 / 32
# 14.ig_completeness: p(x) = 0.92, p(baseline) = 0.55 -> the IG attributions add up to the difference
_IG_SUM = 0.92 - 0.55

EXERCISES = [
    Exercise(
        id="14.exposure",
        question=("A model ranks a canary's 4-digit PIN 3rd among all 10,000 candidates. What is its exposure "
                  "in bits (log₂ of the candidate space minus log₂ of the rank)?"),
        checker=close_to(_EXPOSURE, rel=1e-3, mistakes=[
            (lambda v: math.isclose(v, math.log2(10_000), rel_tol=1e-3), "Subtract log₂ of the rank (3)."),
            (lambda v: math.isclose(v, math.log(10_000) - math.log(3), rel_tol=1e-3), "Use log base 2, not e."),
            (lambda v: math.isclose(v, math.log10(10_000) - math.log10(3), rel_tol=1e-3), "Use log base 2, not 10."),
        ]),
        hint="exposure = log₂|R| − log₂ rank; |R| = 10⁴ candidates.",
        solution=_EXPOSURE,
        solution_text="log₂ 10000 − log₂ 3 = 13.29 − 1.58 = 11.70 bits (R.exposure computes it).",
        wrong=[math.log2(10_000), math.log(10_000) - math.log(3), 0.0, "high"],
    ),
    Exercise(
        id="14.dp_noise",
        question=("DP-SGD with noise multiplier σ = 1.1, clipping bound C = 1 and batch size 32: what is the standard "
                  "deviation of the noise on each coordinate of the *averaged* gradient?"),
        checker=close_to(_NOISE, rel=1e-3, mistakes=[
            (lambda v: math.isclose(v, 1.1, rel_tol=1e-3), "The noise σ·C is added to the sum; divide by the batch."),
            (lambda v: math.isclose(v, 1.1 / math.sqrt(32), rel_tol=1e-3), "One noise draw per step, not per "
             "example: divide by B, not √B."),
            (lambda v: math.isclose(v, 1.1 * 32, rel_tol=1e-3), "Divide by the batch size, do not multiply."),
        ]),
        hint="Noise N(0, σ²C²) is added once to the sum of clipped gradients, then the sum is divided by B.",
        solution=_NOISE,
        solution_text="σ·C / B = 1.1 × 1 / 32 ≈ 0.0344.",
        wrong=[1.1, 1.1 / math.sqrt(32), 1.1 * 32, None],
    ),
    Exercise(
        id="14.ig_completeness",
        question=("A classifier gives the positive class probability 0.92 for a sentence and 0.55 for the all-[PAD] "
                  "baseline. What do the exact integrated-gradients attributions of all tokens add up to?"),
        checker=close_to(_IG_SUM, rel=1e-3, mistakes=[
            (lambda v: math.isclose(v, 0.92, rel_tol=1e-3), "Completeness is relative to the baseline: subtract 0.55."),
            (lambda v: math.isclose(v, 1.0, rel_tol=1e-3), "They do not sum to 1; they sum to f(x) − f(baseline)."),
            (lambda v: math.isclose(v, -_IG_SUM, rel_tol=1e-3), "f(x) − f(x'), not the other way round."),
        ]),
        hint="Completeness (Sundararajan et al. 2017): Σᵢ IGᵢ = f(x) − f(x').",
        solution=_IG_SUM,
        solution_text="0.92 − 0.55 = 0.37; the notebook's completeness_gap measures how far the quadrature is from it.",
        wrong=[0.92, 1.0, -_IG_SUM, "0.37 maybe"],
    ),
]
