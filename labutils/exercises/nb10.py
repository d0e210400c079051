"""Exercises of notebook 10 · Parallel and efficient training (plain Python, no torch)."""
from __future__ import annotations

import math

from labutils.exercises import Exercise, close_to

# ------------------------------------------------------------------ 10.adam_bytes
# mixed-precision Adam for a 1.5-billion-parameter model: the optimizer's own bytes (fp32 master + m + v)
_N = 1.5e9
_ADAM_GB = _N * 12 / 1e9

# ------------------------------------------------------------------ 10.tokens_per_step
# 4 GPUs, per-GPU batch 16 sequences of 1,024 tokens, 8 accumulation steps
_TOKENS = 4 * 16 * 1024 * 8

# ------------------------------------------------------------------ 10.bubble
_P, _M = 4, 12
_BUBBLE = (_P - 1) / (_M + _P - 1)

EXERCISES = [
    Exercise(
        id="10.adam_bytes",
        question=("Mixed-precision training with Adam keeps, besides the 16-bit weights and gradients, an fp32 master "
                  "copy of the weights and Adam's two fp32 moments. How many GB (10⁹ bytes) do those three take for a "
                  "1.5-billion-parameter model on one device (no ZeRO)?"),
        checker=close_to(_ADAM_GB, rel=1e-3, mistakes=[
            (lambda v: math.isclose(v, _N * 8 / 1e9, rel_tol=1e-3), "8 bytes counts m and v only; add the fp32 master copy."),
            (lambda v: math.isclose(v, _N * 16 / 1e9, rel_tol=1e-3), "16 bytes per parameter is the whole step (weights and "
             "gradients too); the question asks for the optimizer's part."),
            (lambda v: math.isclose(v, _N * 12 / 2 ** 30, rel_tol=1e-3), "That is GiB (2³⁰); the question asks for GB (10⁹)."),
            (lambda v: math.isclose(v, _N * 6 / 1e9, rel_tol=1e-3), "The master copy and both moments are fp32: 4 bytes each."),
        ]),
        hint="Three fp32 tensors of the model's size: 3 × 4 bytes per parameter.",
        solution=_ADAM_GB,
        solution_text=("12 bytes per parameter (4 master + 4 m + 4 v) × 1.5e9 = 18 GB; "
                       "P.per_parameter_bytes('mixed', 'adam')['optimizer'] gives the 12."),
        wrong=[12.0, 24.0, 16.76, 9.0, "eighteen"],
    ),
    Exercise(
        id="10.tokens_per_step",
        question=("A DDP run on 4 GPUs uses a per-GPU batch of 16 sequences of 1,024 tokens and accumulates gradients "
                  "over 8 micro-batches. How many tokens stand behind one optimizer step?"),
        checker=close_to(_TOKENS, rel=0, abs_tol=0.5, mistakes=[
            (lambda v: v == 4 * 16 * 1024, "That forgets the 8 accumulated micro-batches."),
            (lambda v: v == 16 * 1024 * 8, "That is one GPU's share; DDP averages the gradients of all 4."),
            (lambda v: v == 4 * 16 * 8, "That counts sequences; multiply by 1,024 tokens each."),
        ]),
        hint="GPUs × sequences per GPU × tokens per sequence × accumulation steps.",
        solution=_TOKENS,
        solution_text="4 × 16 × 1,024 × 8 = 524,288 tokens (about half a million, a typical pretraining batch).",
        wrong=[65536, 131072, 512, 1000],
    ),
    Exercise(
        id="10.bubble",
        question=("A GPipe pipeline has 4 stages and splits each batch into 12 micro-batches. What fraction of the "
                  "time does a stage sit idle (the bubble), ignoring communication?"),
        checker=close_to(_BUBBLE, rel=1e-3, mistakes=[
            (lambda v: math.isclose(v, (_P - 1) / _M, rel_tol=1e-3), "(p−1)/m is the bubble relative to the useful time; "
             "as a share of the whole schedule divide by m + p − 1."),
            (lambda v: math.isclose(v, (_P - 1) / _P, rel_tol=1e-3), "(p−1)/p is the bubble with a single micro-batch."),
        ]),
        hint="The schedule takes m + p − 1 slots; each stage works in m of them.",
        solution=_BUBBLE,
        solution_text="(p − 1)/(m + p − 1) = 3/15 = 0.2; P.bubble_fraction(4, 12) gives the same.",
        wrong=[0.25, 0.75, 3 / 12, 0.5],
    ),
]
