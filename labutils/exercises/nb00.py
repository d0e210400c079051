"""Exercises of notebook 00 · Welcome and set-up."""
from __future__ import annotations

from labutils.exercises import Exercise, close_to


def _profile_checker(answer):
    value = str(answer).strip().lower()
    if value == "smoke":
        return None
    if value == "cpu":
        return "cpu is the laptop profile: minutes per notebook. CI runs all 16 notebooks on every change, so it needs the one that takes seconds."
    if value == "gpu":
        return "CI machines have no GPU, and gpu is the slowest, full-scale profile. Look at the profile table: which one is meant for checks?"
    return f"{answer!r} is not a profile name; the profiles are smoke, cpu and gpu."


def _steps_needed_reference(lr: float, a: float, start: float, tol: float) -> int:
    """Steps of gradient descent on a*x**2 from `start` until |x| < tol (None if it never gets there in 10,000)."""
    x, steps = start, 0
    while not abs(x) < tol:  # also stops on nan
        if steps >= 10_000 or abs(x) > 1e12:
            return None
        x -= lr * 2 * a * x
        steps += 1
    return steps


def _steps_checker(fn):
    if not callable(fn):
        return "Pass the function itself, e.g. check('00.steps_needed', steps_needed), not its result."
    cases = [(0.1, 1.0, 4.0, 1e-3), (0.4, 1.0, 4.0, 1e-3), (0.05, 2.0, -3.0, 1e-2), (0.25, 1.0, 1.0, 0.5)]
    for case in cases:
        want, got = _steps_needed_reference(*case), fn(*case)
        if got != want:
            lr, a, start, tol = case
            if isinstance(got, int) and want is not None and got == want + 1:
                return (f"For lr={lr}, a={a}, start={start}, tol={tol} you return {got} but {want} steps suffice: "
                        "test |x| < tol *before* taking another step.")
            return f"For lr={lr}, a={a}, start={start}, tol={tol} expected {want} steps, got {got}."
    if fn(1.5, 1.0, 4.0, 1e-3) is not None:
        return "With lr=1.5 and a=1 the steps grow without bound: return None instead of looping forever."
    return None


EXERCISES = [
    Exercise(
        id="00.ci_profile",
        question="Which run profile does CI use to execute every notebook? Answer with its name.",
        checker=_profile_checker,
        hint="Look at the table of profiles: one is meant to check that every cell still runs, not to give results.",
        solution="smoke",
        solution_text="'smoke': tiny sizes and few steps, so all notebooks run on 2 CPU cores in minutes.",
        wrong=["cpu", "gpu", "fast"],
    ),
    Exercise(
        id="00.critical_lr",
        question="For f(x) = a·x² with a = 2.5, above which learning rate does gradient descent stop converging?",
        checker=close_to(0.4, rel=1e-3, mistakes=[
            (lambda v: abs(v - 0.8) < 1e-3, "0.8 = 2/a forgets that the gradient of a·x² is 2a·x, not a·x."),
            (lambda v: abs(v - 0.2) < 1e-3, "0.2 = 1/(2a) is where one step lands exactly on the minimum; convergence holds up to twice that."),
            (lambda v: abs(v - 2.5) < 1e-3, "2.5 is a itself; write one step as x ← x − lr·2a·x = (1 − 2a·lr)·x and ask when |1 − 2a·lr| < 1."),
        ]),
        hint="One step multiplies x by (1 − 2·a·lr). It shrinks towards 0 only while that factor lies between −1 and 1.",
        solution=0.4,
        solution_text="|1 − 2a·lr| < 1  ⇔  0 < lr < 1/a = 1/2.5 = 0.4. Try lr = 0.39 and 0.41 in the widget.",
        wrong=[0.8, 0.2, 2.5, "fast"],
    ),
    Exercise(
        id="00.steps_needed",
        question="Write steps_needed(lr, a, start, tol) -> int | None: how many gradient-descent steps on a·x² until |x| < tol; None if it diverges (give up after 10,000 steps).",
        checker=_steps_checker,
        hint="Loop: while abs(x) >= tol, do x -= lr * 2 * a * x and count; return None after 10,000 steps or once |x| explodes (it reaches inf, then nan).",
        solution=_steps_needed_reference,
        solution_text=(
            "def steps_needed(lr, a, start, tol):\n"
            "    x, steps = start, 0\n"
            "    while not abs(x) < tol:\n"
            "        if steps >= 10_000 or abs(x) > 1e12:  # diverged\n"
            "            return None\n"
            "        x -= lr * 2 * a * x\n"
            "        steps += 1\n"
            "    return steps"),
        wrong=[lambda lr, a, start, tol: 10, lambda lr, a, start, tol: _steps_needed_reference(lr, a, start, tol) + 1, 42],
    ),
]
