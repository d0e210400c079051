"""Exercises of notebook 11 · Model compression (plain Python, no torch)."""
from __future__ import annotations

import math

from labutils.exercises import Exercise, close_to

# 11.scale: absmax int8 scale of a tensor whose largest |w| is 2.54
_SCALE = 2.54 / 127
# 11.int4_bytes: a 7e9-parameter model in int4 group-wise (group 32, one fp16 scale per group), in GB
_INT4_GB = 7e9 * (0.5 + 2 / 32) / 1e9
# 11.t2: the gradient of the soft term scales as 1/T²; the factor that restores it at T = 4
_T2 = 16.0

EXERCISES = [
    Exercise(
        id="11.scale",
        question="Absmax int8 quantization of a weight tensor whose largest absolute value is 2.54: the scale s?",
        checker=close_to(_SCALE, rel=1e-3, mistakes=[
            (lambda v: math.isclose(v, 2.54 / 128, rel_tol=1e-3), "Symmetric int8 uses ±127, not 128."),
            (lambda v: math.isclose(v, 2.54 / 255, rel_tol=1e-3), "255 levels is the zero-point (asymmetric) range."),
            (lambda v: math.isclose(v, 127 / 2.54, rel_tol=1e-3), "That is 1/s: the scale maps codes back to floats."),
        ]),
        hint="s = max|w| / (2^(bits−1) − 1).",
        solution=_SCALE,
        solution_text="2.54 / 127 = 0.02; C.absmax_quantize(w)[1] gives it.",
        wrong=[2.54 / 128, 2.54 / 255, 50.0, "0.02x"],
    ),
    Exercise(
        id="11.int4_bytes",
        question=("A 7-billion-parameter model stored int4 group-wise (groups of 32 weights, one fp16 scale per "
                  "group): how many GB (10⁹ bytes)?"),
        checker=close_to(_INT4_GB, rel=1e-3, mistakes=[
            (lambda v: math.isclose(v, 3.5, rel_tol=1e-3), "That forgets the scales: 2 bytes per group of 32."),
            (lambda v: math.isclose(v, 7.0, rel_tol=1e-3), "4 bits is half a byte, not a byte."),
        ]),
        hint="Half a byte per weight plus 2 bytes per 32 weights.",
        solution=_INT4_GB,
        solution_text="7e9 × (0.5 + 2/32) bytes = 3.94 GB: the scales cost 12.5 % on top of the codes.",
        wrong=[3.5, 7.0, 14.0],
    ),
    Exercise(
        id="11.t2",
        question=("Hinton et al. multiply the soft-target loss by T². At temperature T = 4, by how much would the "
                  "soft term's gradients shrink without that factor?"),
        checker=close_to(_T2, rel=1e-6, mistakes=[
            (lambda v: math.isclose(v, 4.0), "The gradients scale as 1/T², not 1/T."),
            (lambda v: math.isclose(v, 1 / 16), "As a factor by which they shrink: 16, i.e. they become 1/16."),
        ]),
        hint="Softening by T divides the logits by T, and the KL's gradient picks up another 1/T.",
        solution=_T2,
        solution_text="T² = 16: without it the soft term would count 16× less than the hard-label term.",
        wrong=[4.0, 1 / 16, 2.0],
    ),
]
