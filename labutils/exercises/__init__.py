"""Graded exercises: ``check(id, answer)``, ``hint(id)``, ``solution(id)``.

Each notebook's exercises live in their own module, ``labutils/exercises/nbNN.py``, as a list
``EXERCISES`` of :class:`Exercise`. An id is ``"NN.short_name"`` (``"00.pick_profile"``), so the
module is found from the id. A checker returns ``None`` when the answer is right, or a *targeted*
message saying what looks wrong (never just "wrong").
"""
from __future__ import annotations

import dataclasses
import importlib
import math
import pkgutil
from typing import Any, Callable, Iterable

from labutils.core.errors import ExerciseError  # noqa: F401 (re-exported)

__all__ = ["Exercise", "Grade", "check", "hint", "solution", "all_exercises", "get", "close_to", "ExerciseError"]


@dataclasses.dataclass
class Exercise:
    """One graded exercise.

    checker:  ``f(answer) -> None | str``: None if right, else a targeted hint about this answer.
    solution: the reference answer (a value or a callable, exactly what a learner would pass to check).
    solution_text: how to get there, shown by :func:`solution`.
    wrong:    sample wrong answers; the unit tests assert each one gets feedback, so the checker can fail.
    """

    id: str
    question: str
    checker: Callable[[Any], "str | None"]
    hint: str
    solution: Any
    solution_text: str
    wrong: list = dataclasses.field(default_factory=list)


def close_to(expected: float, rel: float = 1e-3, abs_tol: float = 1e-9,
             mistakes: Iterable[tuple[Callable[[float], bool], str]] = ()) -> Callable[[Any], "str | None"]:
    """A checker for a number: right within ``rel``/``abs_tol``; ``mistakes`` map common slips to hints."""
    mistakes = list(mistakes)

    def checker(answer: Any) -> "str | None":
        try:
            value = float(answer)
        except (TypeError, ValueError):
            return f"Expected a number, got {type(answer).__name__} {answer!r}."
        if math.isclose(value, expected, rel_tol=rel, abs_tol=abs_tol):
            return None
        for test, message in mistakes:
            try:
                if test(value):
                    return message
            except Exception:  # noqa: BLE001 - a slip detector must never crash the check
                continue
        direction = "too large" if value > expected else "too small"
        return f"{value:.6g} is {direction}; recompute it step by step."
    return checker


def _module_for(exercise_id: str) -> str:
    prefix = exercise_id.split(".", 1)[0]
    return f"{__name__}.nb{prefix}"


def all_exercises() -> dict[str, Exercise]:
    """Every exercise of every notebook, by id."""
    out: dict[str, Exercise] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("nb"):
            mod = importlib.import_module(f"{__name__}.{info.name}")
            for ex in getattr(mod, "EXERCISES", []):
                out[ex.id] = ex
    return out


def get(exercise_id: str) -> Exercise:
    """The exercise with this id; an unknown id raises one sentence listing the valid ones."""
    try:
        mod = importlib.import_module(_module_for(exercise_id))
        for ex in getattr(mod, "EXERCISES", []):
            if ex.id == exercise_id:
                return ex
    except ImportError:
        pass
    ids = sorted(all_exercises())
    raise ExerciseError(f"No exercise {exercise_id!r}; known exercises: {', '.join(ids)}.")


class Grade:
    """The outcome of :func:`check`: truthy when correct; shows nothing extra in a notebook."""

    def __init__(self, ok: bool, message: "str | None"):
        self.ok, self.message = ok, message

    def __bool__(self) -> bool:
        return self.ok

    def __eq__(self, other: Any) -> bool:
        return bool(self) == bool(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Grade(ok={self.ok})"

    def _ipython_display_(self) -> None:  # the printed line already said it
        pass


def check(exercise_id: str, answer: Any, *, quiet: bool = False) -> Grade:
    """Grade ``answer``: prints ✓ or a targeted hint; returns a :class:`Grade` (truthy when right)."""
    ex = get(exercise_id)
    try:
        message = ex.checker(answer)
    except Exception as err:  # noqa: BLE001 - a learner's function may raise anything
        message = f"Your answer raised {type(err).__name__}: {err}"
    ok = message is None
    from labutils.core import gradelog
    gradelog.log(exercise_id, ok)  # only when $LABUTILS_GRADE_LOG is set (python -m labutils grade)
    if not quiet:
        if ok:
            print(f"✓ {exercise_id}: correct.")
        else:
            print(f"✗ {exercise_id}: not yet. {message}\n  (hint('{exercise_id}') for a nudge, "
                  f"solution('{exercise_id}') to see one way)")
    return Grade(ok, message)


def hint(exercise_id: str) -> None:
    """Print the exercise's hint."""
    print(f"💡 {get(exercise_id).hint}")


def solution(exercise_id: str) -> None:
    """Print how to solve the exercise (the reference answer itself is ``get(id).solution``)."""
    print(get(exercise_id).solution_text)
