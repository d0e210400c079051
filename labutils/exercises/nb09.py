"""Exercises of notebook 09 · Prompting and instruction tuning (plain Python, no torch)."""
from __future__ import annotations

import math

from labutils.exercises import Exercise, close_to

# ------------------------------------------------------------------ 09.calibrate
# label probabilities (negative, positive) of a test sentence, and of the content-free input "N/A"
_P, _PCF = (0.30, 0.70), (0.20, 0.80)
_Q = (_P[0] / _PCF[0], _P[1] / _PCF[1])
_CAL_POS = _Q[1] / (_Q[0] + _Q[1])

# ------------------------------------------------------------------ 09.masked_tokens
# a batch of 3 examples: (prompt tokens, completion tokens incl. end token), padded to the longest
_EXAMPLES = [(40, 6), (52, 3), (35, 12)]
_WIDTH = max(p + c for p, c in _EXAMPLES)
# labels shift by one: the first label predicted is position 1, so every completion token counts
_COUNTED = sum(c for _, c in _EXAMPLES)

# ------------------------------------------------------------------ 09.dpo_loss
# log-ratios log π/π_ref of the chosen and rejected answers, beta
_LC, _LR, _BETA = 2.0, -3.0, 0.1
_DPO = -math.log(1 / (1 + math.exp(-_BETA * (_LC - _LR))))

EXERCISES = [
    Exercise(
        id="09.calibrate",
        question=("A prompt gives a test sentence the label probabilities (negative, positive) = (0.30, 0.70); the "
                  "same prompt with the content-free input 'N/A' gives (0.20, 0.80). After contextual calibration "
                  "(divide by the content-free probabilities, renormalise), what is the probability of positive?"),
        checker=close_to(_CAL_POS, rel=1e-3, abs_tol=0, mistakes=[
            (lambda v: math.isclose(v, 0.70, rel_tol=1e-3), "0.70 is the uncalibrated probability; divide by p_cf first."),
            (lambda v: math.isclose(v, 0.70 / 0.80, rel_tol=1e-3), "0.875 = 0.7/0.8 is not renormalised: divide by the sum over both classes."),
            (lambda v: math.isclose(v, 1 - _CAL_POS, rel_tol=1e-3), "That is the calibrated probability of negative."),
            (lambda v: math.isclose(v, 0.5, rel_tol=1e-3), "0.5 is what the content-free input itself gets after calibration, not this sentence."),
        ]),
        hint="q_c = p_c / p_cf,c for each class, then q_pos / (q_neg + q_pos).",
        solution=_CAL_POS,
        solution_text=(f"q = (0.30/0.20, 0.70/0.80) = (1.5, 0.875); positive = 0.875 / 2.375 = {_CAL_POS:.4f}: the "
                       "prompt's lean towards positive is removed, and this sentence now leans negative."),
        wrong=[0.70, 0.875, 1 - _CAL_POS, 0.5, "positive"],
    ),
    Exercise(
        id="09.masked_tokens",
        question=("Three SFT examples have (prompt, completion) lengths (40, 6), (52, 3) and (35, 12) tokens, the "
                  "completion including the end-of-turn token. They are right-padded to the longest. With the "
                  "prompt and the pads set to −100, how many tokens does the loss average over?"),
        checker=close_to(_COUNTED, rel=0, abs_tol=1e-9, mistakes=[
            (lambda v: v == 3 * _WIDTH, "That counts every position of the padded batch; prompts and pads are −100."),
            (lambda v: v == sum(p + c for p, c in _EXAMPLES), "That counts the prompt tokens too; only the completions are trained on."),
            (lambda v: v == _COUNTED - 3, "The end-of-turn token is part of each completion and is trained on too "
                                          "(the model must learn to stop)."),
        ]),
        hint="Only completion tokens keep their label; prompt tokens and padding are ignored (−100).",
        solution=_COUNTED,
        solution_text=f"6 + 3 + 12 = {_COUNTED}: the prompts (127 tokens) and the pads are masked with −100.",
        wrong=[3 * _WIDTH, sum(p + c for p, c in _EXAMPLES), _COUNTED - 3, 0],
    ),
    Exercise(
        id="09.dpo_loss",
        question=("The policy's log-ratio to the reference, log π/π_ref, is +2.0 on the chosen answer and −3.0 on the "
                  "rejected one; β = 0.1. What is the DPO loss of this pair?"),
        checker=close_to(_DPO, rel=1e-3, abs_tol=0, mistakes=[
            (lambda v: math.isclose(v, math.log(2), rel_tol=1e-3), "log 2 is the loss when policy = reference; here the ratios differ."),
            (lambda v: math.isclose(v, -math.log(1 / (1 + math.exp(-(_LC - _LR)))), rel_tol=1e-3), "Multiply the difference by β = 0.1 first."),
            (lambda v: math.isclose(v, -math.log(1 / (1 + math.exp(_BETA * (_LC - _LR)))), rel_tol=1e-3),
             "The sign is flipped: the loss is small when the chosen answer wins."),
        ]),
        hint="loss = −log σ(β · (chosen log-ratio − rejected log-ratio)), σ(x) = 1/(1 + e^(−x)).",
        solution=_DPO,
        solution_text=f"β · (2 − (−3)) = 0.5; −log σ(0.5) = log(1 + e^(−0.5)) = {_DPO:.4f}.",
        wrong=[math.log(2), -math.log(1 / (1 + math.exp(-5))), -math.log(1 / (1 + math.exp(0.5))), 0.5],
    ),
]
