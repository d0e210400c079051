"""Exercises of notebook 08 · Parameter-efficient fine-tuning (plain Python, no torch)."""
from __future__ import annotations

from labutils.exercises import Exercise, close_to

# ------------------------------------------------------------------ 08.lora_params
# LoRA r = 8 on query and value (384 × 384) of the 6 MiniLM layers
_D, _R, _LAYERS = 384, 8, 6
_LORA = 2 * _LAYERS * _R * (_D + _D)

# ------------------------------------------------------------------ 08.break_even_rank
# a 4096 × 4096 projection: at which rank does LoRA train as many numbers as the matrix itself?
_BIG = 4096
_BREAK_EVEN = _BIG * _BIG / (_BIG + _BIG)

EXERCISES = [
    Exercise(
        id="08.lora_params",
        question=("LoRA with rank r = 8 on the query and value projections (each 384 × 384) of all 6 MiniLM layers: "
                  "how many LoRA parameters (A and B matrices, no head) train?"),
        checker=close_to(_LORA, rel=0, abs_tol=0.5, mistakes=[
            (lambda v: v == _LORA // 2, "That is one projection per layer; LoRA sits on query and on value."),
            (lambda v: v == _LORA // 12, "That is one matrix pair in one layer; there are 2 projections × 6 layers."),
            (lambda v: v == _LAYERS * 2 * _R * _D, "Each projection has A (r × 384) and B (384 × r): count both."),
            (lambda v: v == 2 * _LAYERS * _D * _D, "That is the size of the full query and value matrices, not of LoRA."),
        ]),
        hint="One adapted matrix d_out × d_in gets A (r × d_in) and B (d_out × r): r·(d_in + d_out) numbers.",
        solution=_LORA,
        solution_text=(f"Per matrix r·(d_in + d_out) = 8 · 768 = 6,144; two matrices per layer, six layers: "
                       f"12 · 6,144 = {_LORA:,} (compare the peft count printed above: it adds the 770 of the head)."),
        wrong=[_LORA // 2, _LORA // 12, _LAYERS * 2 * _R * _D, 2 * _LAYERS * _D * _D, "73k"],
    ),
    Exercise(
        id="08.break_even_rank",
        question=("A 4096 × 4096 attention projection (a 7B-scale model). Above which rank r would LoRA train more "
                  "numbers than the matrix has? Give the break-even r."),
        checker=close_to(_BREAK_EVEN, rel=1e-3, abs_tol=0, mistakes=[
            (lambda v: v == _BIG, "At r = 4096 LoRA trains twice the matrix: A and B each have 4096·r numbers."),
            (lambda v: v == _BIG / 4, "Solve r·(d_in + d_out) = d_in·d_out for r."),
        ]),
        hint="Set r·(d_in + d_out) equal to d_in·d_out and solve for r.",
        solution=_BREAK_EVEN,
        solution_text=("r = d_in·d_out / (d_in + d_out) = 4096² / 8192 = 2048. Real LoRA ranks (4–64) are tens to "
                       "hundreds of times below it, which is why LoRA files are megabytes, not gigabytes."),
        wrong=[4096, 1024, 64, "half"],
    ),
]
