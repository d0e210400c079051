"""Exercises of notebook 07 · Fine-tuning challenges (pure Python, no torch)."""
from __future__ import annotations

import math

from labutils.exercises import Exercise, close_to

# ------------------------------------------------------------------ 07.effective_batch
_EFFECTIVE = 8 * 4 * 2

# ------------------------------------------------------------------ 07.warmup_lr
# linear warmup for 100 steps to 5e-5, then linear decay to 0 at step 1000; the lr at step 400
_BASE, _WARM, _TOTAL, _STEP = 5e-5, 100, 1000, 400
_WARMUP_LR = _BASE * (_TOTAL - _STEP) / (_TOTAL - _WARM)

# ------------------------------------------------------------------ 07.macro_f1
# confusion matrix, rows = true class, columns = predicted class (negative, positive)
_CM = [[10, 40],
       [5, 445]]


def _f1(tp: float, fp: float, fn: float) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


_F1_NEG = _f1(10, 5, 40)
_F1_POS = _f1(445, 40, 5)
_MACRO_F1 = (_F1_NEG + _F1_POS) / 2
_ACCURACY = (10 + 445) / 500
_WEIGHTED_F1 = (50 * _F1_NEG + 450 * _F1_POS) / 500


EXERCISES = [
    Exercise(
        id="07.effective_batch",
        question=("You train on 2 GPUs, each with a per-device batch of 8, and accumulate gradients over 4 "
                  "micro-batches before each optimizer step. How many examples stand behind one optimizer step?"),
        checker=close_to(_EFFECTIVE, rel=0, abs_tol=1e-9, mistakes=[
            (lambda v: v == 32, "32 = 8 × 4 is one GPU's share; data parallelism averages the gradients of both GPUs."),
            (lambda v: v == 16, "16 = 8 × 2 forgets the 4 accumulated micro-batches."),
            (lambda v: v == 8, "8 is one micro-batch on one GPU; multiply by the accumulation steps and the GPUs."),
            (lambda v: v in (14, 12), "The three factors multiply, they do not add."),
        ]),
        hint="Effective batch = per-device batch × accumulation steps × number of devices.",
        solution=_EFFECTIVE,
        solution_text="8 examples × 4 accumulation steps × 2 GPUs = 64 examples per optimizer step.",
        wrong=[32, 16, 8, 14, "sixty-four"],
    ),
    Exercise(
        id="07.warmup_lr",
        question=("A linear schedule with warmup (transformers' get_linear_schedule_with_warmup): base lr 5e-5, "
                  "100 warmup steps, 1000 steps in all. What is the learning rate at step 400?"),
        checker=close_to(_WARMUP_LR, rel=1e-3, abs_tol=0, mistakes=[
            (lambda v: math.isclose(v, _BASE * (_TOTAL - _STEP) / _TOTAL, rel_tol=1e-3),
             "The decay runs over the 900 steps after warmup: divide by (total − warmup), not by total."),
            (lambda v: math.isclose(v, _BASE, rel_tol=1e-3), "5e-5 is the peak, reached at step 100; after it the rate decays."),
            (lambda v: math.isclose(v, _BASE * (_STEP - _WARM) / (_TOTAL - _WARM), rel_tol=1e-3),
             "That is the fraction of the decay already done; the lr is what is left: (1000 − 400)/(1000 − 100)."),
            (lambda v: math.isclose(v, _BASE * _STEP / _WARM, rel_tol=1e-3), "Warmup ended at step 100; step 400 is in the decay."),
        ]),
        hint="After warmup the multiplier falls linearly from 1 at step 100 to 0 at step 1000.",
        solution=_WARMUP_LR,
        solution_text=("Step 400 is past warmup, so lr = 5e-5 × (1000 − 400)/(1000 − 100) = 5e-5 × 2/3 ≈ 3.33e-5 "
                       "(ch.lr_at('linear', 400, 1000, 100, 5e-5) gives the same)."),
        wrong=[_BASE * 0.6, _BASE, _BASE / 3, _BASE * 4, 0.0],
    ),
    Exercise(
        id="07.macro_f1",
        question=("A classifier on an imbalanced test set has the confusion matrix [[10, 40], [5, 445]] "
                  "(rows = true negative/positive, columns = predicted). What is its macro-F1?"),
        checker=close_to(_MACRO_F1, rel=1e-3, abs_tol=0, mistakes=[
            (lambda v: math.isclose(v, _ACCURACY, rel_tol=1e-3), "That is the accuracy, 455/500; macro-F1 averages the two classes' F1."),
            (lambda v: math.isclose(v, _WEIGHTED_F1, rel_tol=1e-3), "That is the support-weighted F1; macro-F1 weighs both classes equally."),
            (lambda v: math.isclose(v, _F1_POS, rel_tol=1e-3), "That is the F1 of the positive class only; average it with the negative class's F1."),
            (lambda v: math.isclose(v, _F1_NEG, rel_tol=1e-3), "That is the F1 of the negative class only; average it with the positive class's F1."),
        ]),
        hint="For each class: precision = TP/(TP+FP), recall = TP/(TP+FN), F1 = 2PR/(P+R). Macro-F1 is their plain mean.",
        solution=_MACRO_F1,
        solution_text=(f"Negative: P = 10/15, R = 10/50, F1 = {_F1_NEG:.4f}. Positive: P = 445/485, R = 445/450, "
                       f"F1 = {_F1_POS:.4f}. Macro-F1 = ({_F1_NEG:.4f} + {_F1_POS:.4f})/2 = {_MACRO_F1:.4f}, "
                       f"far below the accuracy {_ACCURACY:.2f}: the rare class is mostly missed."),
        wrong=[_ACCURACY, _WEIGHTED_F1, _F1_POS, _F1_NEG, "0.6"],
    ),
]
