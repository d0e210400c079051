"""Exercises of notebook 05 · Masked language models and transfer learning (plain Python, no torch)."""
from __future__ import annotations

import math

from labutils.exercises import Exercise, close_to

# ------------------------------------------------------------------ 05.mask_budget
_SELECTED = 512 * 0.15          # 76.8 tokens the loss is computed on
_UNCHANGED = _SELECTED * 0.10   # 7.68 of them stay as they were


def _pair(answer):
    try:
        a, b = answer
        return float(a), float(b)
    except (TypeError, ValueError):
        return None


def _mask_budget_checker(answer) -> "str | None":
    pair = _pair(answer)
    if pair is None:
        return "Answer with a pair of numbers: (tokens predicted, of those unchanged), e.g. (10.0, 1.0)."
    sel, unch = pair
    if not math.isclose(sel, _SELECTED, rel_tol=1e-3):
        if math.isclose(sel, _SELECTED * 0.8, rel_tol=1e-3):
            return "61.44 is the number of [MASK] tokens; the loss covers every selected token, 15 % of 512."
        if math.isclose(sel, 512 * 0.85, rel_tol=1e-3):
            return "That is the number of tokens *not* selected; the model predicts the 15 % that are."
        if math.isclose(sel, 15, rel_tol=1e-3) or math.isclose(sel, 0.15, rel_tol=1e-3):
            return "15 % is a fraction of the 512 tokens: multiply."
        return f"{sel:g} tokens predicted is not right: each of the 512 tokens is selected with probability 0.15."
    if not math.isclose(unch, _UNCHANGED, rel_tol=1e-3):
        if math.isclose(unch, 512 * 0.10, rel_tol=1e-3):
            return "The 10 % 'unchanged' applies to the selected tokens, not to all 512."
        if math.isclose(unch, _SELECTED * 0.2, rel_tol=1e-3):
            return "20 % of the selected are not [MASK], but half of those get a random token; only 10 % stay unchanged."
        if math.isclose(unch, 512 * 0.85, rel_tol=1e-3):
            return "Those are the unselected tokens; the question asks about selected tokens that stay as they were."
        return f"{unch:g} unchanged is not right: of the selected tokens 80 % → [MASK], 10 % → random, 10 % stay."
    return None


# ------------------------------------------------------------------ 05.which_mask
_MASK_SOLUTION = {"clm": "B", "mlm": "A"}


def _which_mask_checker(answer) -> "str | None":
    if not isinstance(answer, dict) or set(answer) != {"clm", "mlm"}:
        return "Answer with a dict {'clm': letter, 'mlm': letter}, each letter one of 'A', 'B', 'C'."
    got = {k: str(v).strip().upper() for k, v in answer.items()}
    if any(v not in ("A", "B", "C") for v in got.values()):
        return "Each letter must be 'A', 'B' or 'C'."
    if got["clm"] == "C":
        return "C lets a token see only the tokens *after* it; a GPT predicts the next token from the ones before."
    if got["clm"] == "A":
        return "With A the GPT could read the very token it must predict next; its mask hides the future."
    if got["mlm"] != "A":
        return "BERT's [MASK] hides the answer already, so every token may attend to every other: all ones."
    return None


# ------------------------------------------------------------------ 05.cosine
_A, _B = (1.0, 2.0, 2.0), (2.0, 0.0, 1.0)
_DOT = sum(x * y for x, y in zip(_A, _B))
_NA, _NB = math.sqrt(sum(x * x for x in _A)), math.sqrt(sum(x * x for x in _B))
_COS = _DOT / (_NA * _NB)
_DIST = math.sqrt(sum((x - y) ** 2 for x, y in zip(_A, _B)))


EXERCISES = [
    Exercise(
        id="05.mask_budget",
        question=("BERT masking (15 %, then 80/10/10) of a 512-token sequence with no special tokens: in expectation, "
                  "(a) at how many positions is the MLM loss computed, and (b) how many of those positions still "
                  "show the original token? Answer (a, b)."),
        checker=_mask_budget_checker,
        hint="(a) 512 × 0.15. (b) Of the selected tokens, 80 % become [MASK], 10 % a random token, 10 % stay.",
        solution=(_SELECTED, _UNCHANGED),
        solution_text=("(a) 512 × 0.15 = 76.8 positions carry a label. (b) 10 % of them are left unchanged: 7.68 "
                       "(61.44 become [MASK], 7.68 a random token). The model must predict all 76.8, so it cannot "
                       "trust that a visible token is the right one."),
        wrong=[(61.44, 7.68), (76.8, 51.2), (76.8, 15.36), (435.2, 7.68), (15, 1.5), 76.8, "a lot"],
    ),
    Exercise(
        id="05.which_mask",
        question=("Three 4×4 attention masks (row = query, column = key, 1 = may attend): A is all ones; B is lower "
                  "triangular (ones on and below the diagonal); C is upper triangular. Which one does a GPT trained "
                  "with CLM use, and which BERT trained with MLM? Answer {'clm': letter, 'mlm': letter}."),
        checker=_which_mask_checker,
        hint="A GPT predicts token t+1 at position t: may position t see position t+1? BERT hides its targets with [MASK].",
        solution=dict(_MASK_SOLUTION),
        solution_text=("{'clm': 'B', 'mlm': 'A'}: the causal (lower-triangular) mask lets position t see 0…t only, so "
                       "the next token stays hidden; BERT removes the answers from the *input* instead, so attention "
                       "can be bidirectional (all ones, apart from padding)."),
        wrong=[{"clm": "A", "mlm": "B"}, {"clm": "C", "mlm": "A"}, {"clm": "B", "mlm": "B"}, {"clm": "B"},
               {"clm": "B", "mlm": "D"}, "B"],
    ),
    Exercise(
        id="05.cosine",
        question="What is the cosine similarity of a = (1, 2, 2) and b = (2, 0, 1)?",
        checker=close_to(_COS, rel=1e-3, mistakes=[
            (lambda v: abs(v - _DOT) < 1e-6, "4 is the dot product a·b; divide by |a|·|b| = 3·√5."),
            (lambda v: abs(v - _DOT / _NA) < 1e-4 or abs(v - _DOT / _NB) < 1e-4,
             "Divide by the lengths of *both* vectors: |a| = 3 and |b| = √5."),
            (lambda v: abs(v - _DOT / (_NA * _NA * _NB * _NB)) < 1e-4, "Divide by |a|·|b|, not by |a|²·|b|²."),
            (lambda v: abs(v - _DIST) < 1e-4, "That is the Euclidean distance |a − b|; cosine is a·b/(|a||b|)."),
            (lambda v: abs(v - math.degrees(math.acos(_COS))) < 0.1, "That is the angle in degrees; give its cosine."),
        ]),
        hint="cos(a, b) = a·b / (|a| |b|): compute the dot product and both lengths.",
        solution=_COS,
        solution_text="a·b = 2 + 0 + 2 = 4; |a| = √9 = 3; |b| = √5 ≈ 2.236; cos = 4 / (3·2.236) ≈ 0.596.",
        wrong=[_DOT, _DOT / _NA, _DOT / 45, _DIST, math.degrees(math.acos(_COS)), "0.6x"],
    ),
]
