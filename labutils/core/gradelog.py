"""The grading log: where :func:`labutils.exercises.check` records each result for ``labutils grade``.

When the environment variable ``LABUTILS_GRADE_LOG`` names a file, every ``check(id, answer)`` appends one
JSON line ``{"id", "ok", "notebook", "time"}``. The grader (``python -m labutils grade``) sets the variable to a
fresh file for each submission it executes, and reads it back with :func:`read` once that run has ended.
Without the variable nothing is written, so a learner's own session is unaffected.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

ENV_VAR = "LABUTILS_GRADE_LOG"


def log(exercise_id: str, ok: bool) -> None:
    """Append one check result to ``$LABUTILS_GRADE_LOG`` (nothing happens when it is unset)."""
    target = os.environ.get(ENV_VAR)
    if not target:
        return
    from labutils.core.results import current_notebook
    entry = {"id": str(exercise_id), "ok": bool(ok), "notebook": current_notebook(), "time": round(time.time(), 3)}
    try:
        with open(Path(target).expanduser(), "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")
    except OSError:  # grading must never break a learner's notebook
        pass


def read(path: str | os.PathLike) -> dict[str, bool]:
    """``{exercise id: passed}`` from a grading log; the last check of an id wins; bad lines are skipped."""
    out: dict[str, bool] = {}
    p = Path(path)
    if not p.is_file():
        return out
    for line in p.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
            out[str(entry["id"])] = entry["ok"] is True
        except (ValueError, KeyError, TypeError):
            continue
    return out
