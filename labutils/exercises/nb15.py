"""Exercises of notebook 15 · Capstone pipeline: the chance level a model must beat, and a leak check."""
from __future__ import annotations

import math

from labutils.exercises import Exercise, close_to

# 15.majority_chance: always predicting the largest class of a test split with 300 / 150 / 50 rows
_CHANCE = 300 / 500

# 15.find_leaks: hidden cases (train, test, expected count of test rows whose normalised text is in train)
_CASES = [
    (["A fine film.", "so dull", "Loved it!"], ["a fine film", "SO  DULL", "new text", "loved it"], 3),
    (["good"], ["good", "good", "Good.", "bad"], 3),            # each leaking test row counts, repeats too
    (["x y"], ["x  y", "xy"], 1),
    (["nothing shared"], ["at all"], 0),
]


def _reference(train, test) -> int:
    from labutils.chapters.capstone.data import norm
    keys = {norm(t) for t in train}
    return sum(norm(t) in keys for t in test)


def _check_leaks(fn) -> str | None:
    if not callable(fn):
        return f"Pass a function leaks(train_texts, test_texts) -> int, not a {type(fn).__name__}."
    for train, test, expected in _CASES:
        got = fn(list(train), list(test))
        if isinstance(got, bool) or not isinstance(got, int):
            return f"leaks(...) should return an int (a count of test rows), not {got!r}."
        if got == expected:
            continue
        exact = sum(t in set(train) for t in test)
        if got == exact:
            return ("You compare the texts exactly; 'A fine film.' and 'a fine film' are the same review. "
                    "Normalise both sides first (cap.norm: case-fold, collapse spaces, drop end punctuation).")
        if got == len({_key(t) for t in test} & {_key(t) for t in train}):
            return "You count distinct leaked texts; count every test row that leaks (a repeated review counts twice)."
        return f"On train={train!r}, test={test!r} the answer is {expected}, yours is {got}."
    return None


def _key(text: str) -> str:
    from labutils.chapters.capstone.data import norm
    return norm(text)


def _solution(train, test):
    from labutils.chapters.capstone import norm
    seen = {norm(t) for t in train}
    return sum(norm(t) in seen for t in test)


EXERCISES = [
    Exercise(
        id="15.majority_chance",
        question=("A test split has 300 'neg', 150 'pos' and 50 'neutral' rows. What accuracy does a model get that "
                  "always answers the largest class? (The floor a fine-tuned model must clear.)"),
        checker=close_to(_CHANCE, rel=1e-3, mistakes=[
            (lambda v: math.isclose(v, 1 / 3, rel_tol=1e-3), "1/3 is guessing uniformly; the classes are not equal."),
            (lambda v: math.isclose(v, 300, rel_tol=1e-3), "That is a count; accuracy is a share of the 500 rows."),
            (lambda v: math.isclose(v, 0.5, rel_tol=1e-3), "300 of 500 rows are 'neg', not half of them."),
        ]),
        hint="The model is right exactly on the rows of the class it always predicts.",
        solution=_CHANCE,
        solution_text="300 / (300 + 150 + 50) = 0.6: any accuracy near 0.6 on this split means nothing was learned.",
        wrong=[1 / 3, 300, 0.5, "0.6 percent"],
    ),
    Exercise(
        id="15.find_leaks",
        question=("Write leaks(train_texts, test_texts) -> int: how many test rows also appear in train once both are "
                  "normalised with cap.norm (case-folded, spaces collapsed, end punctuation dropped)."),
        checker=_check_leaks,
        hint="Build a set of the normalised training texts, then count the test rows whose normalised text is in it.",
        solution=_solution,
        solution_text=("def leaks(train, test):\n    seen = {cap.norm(t) for t in train}\n"
                       "    return sum(cap.norm(t) in seen for t in test)"),
        wrong=[lambda tr, te: sum(t in set(tr) for t in te),
               lambda tr, te: len({_key(t) for t in te} & {_key(t) for t in tr}),
               lambda tr, te: 0, 3],
    ),
]
