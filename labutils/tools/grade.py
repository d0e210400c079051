"""Workshop grading: ``python -m labutils grade SUBMISSIONS_DIR [--timeout S] [--csv FILE] [--profile P]``.

Every ``*.ipynb`` under ``SUBMISSIONS_DIR`` is one submission; the learner is the first folder below it
(``subs/alice/06_x.ipynb`` → ``alice``) or, for a notebook directly in it, the file's stem. Each submission
is executed offline, headless, in a **separate worker process** (``python -m labutils.tools.grade --worker``)
that runs it with papermill in its own Jupyter kernel, in a private temporary working directory, with its own
``LABUTILS_GRADE_LOG``, ``LABUTILS_RESULTS``, Jupyter runtime and IPython directories. Submissions run one
after the other, and a submission's log is created just before its run and read and deleted right after, so
no other submission's log exists while it runs. No code of a submission ever runs in the grader's process.

:func:`labutils.exercises.check` appends each result to ``$LABUTILS_GRADE_LOG`` (``labutils.core.gradelog``);
an exercise of the notebook that was never checked is *not attempted*. The notebook's exercises are those of
the course notebook it is (the number in ``lu.start("NN_...")`` or in the file name) plus any id it checks.
A file that is not a notebook, a cell that raises, and a run past ``--timeout`` (seconds for the whole
notebook) are reported in the table and the CSV, never fatal to the grading of the others.

Limits (said plainly): a learner can always forge their *own* result (the log is a file the kernel can write);
this is isolation between submissions, not an anti-cheating device.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from labutils.core.errors import CLIError

PASS, FAIL, NOT_ATTEMPTED = "pass", "fail", "not attempted"
OK, ERROR, TIMEOUT, INVALID = "ok", "error", "timeout", "invalid"
_START = re.compile(r"""start\(\s*["'](\d\d)_""")
_CHECK = re.compile(r"""check\(\s*["'](\d\d\.[\w.-]+)["']""")
_KILL_GRACE_S = 10
_STARTUP_MARGIN_S = 90  # the worker's own start and the kernel's start-up, on top of --timeout


@dataclasses.dataclass
class Submission:
    """One notebook to grade: who handed it in and where it is."""

    learner: str
    path: Path


@dataclasses.dataclass
class Result:
    """The outcome of one submission: run status, one-line detail, seconds, and each exercise's result."""

    learner: str
    notebook: str
    status: str
    detail: str
    seconds: float
    exercises: dict[str, str]
    figures: int = 0

    @property
    def passed(self) -> int:
        return sum(v == PASS for v in self.exercises.values())

    @property
    def attempted(self) -> int:
        return sum(v != NOT_ATTEMPTED for v in self.exercises.values())


def find_submissions(root: str | os.PathLike) -> list[Submission]:
    """Every notebook under ``root`` (checkpoint copies skipped), with its learner's name, sorted."""
    root = Path(root)
    if not root.is_dir():
        raise CLIError(f"No submissions folder at {root}; name a folder that holds the learners' notebooks.")
    subs = []
    for path in sorted(root.rglob("*.ipynb")):
        rel = path.relative_to(root)
        if ".ipynb_checkpoints" in rel.parts or not path.is_file():
            continue
        subs.append(Submission(rel.parts[0] if len(rel.parts) > 1 else path.stem, path))
    if not subs:
        raise CLIError(f"No notebooks (*.ipynb) under {root}.")
    return subs


def expected_exercises(nb: dict, path: Path) -> list[str]:
    """The exercise ids a submission is graded on: its course notebook's exercises plus any id it checks."""
    from labutils.exercises import all_exercises
    code = "\n".join(_source(c) for c in nb.get("cells", []) if c.get("cell_type") == "code")
    started = _START.search(code)
    number = started.group(1) if started else (path.name[:2] if re.match(r"\d\d_", path.name) else None)
    ids = set(_CHECK.findall(code))
    if number:
        ids |= {i for i in all_exercises() if i.startswith(f"{number}.")}
    return sorted(ids)


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def _read_notebook(path: Path) -> tuple[dict | None, str]:
    """The notebook as JSON, or None and one sentence saying why it is not one."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        return None, "not a notebook: the file is not UTF-8 text"
    except ValueError as err:
        return None, f"not a notebook: invalid JSON ({str(err).splitlines()[0]})"
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return None, "not a notebook: the JSON has no list of cells"
    return nb, ""


def grade_one(sub: Submission, timeout: float, profile: str, out_dir: Path) -> Result:
    """Execute one submission in a fresh worker process and read back its exercise results."""
    t0 = time.perf_counter()
    nb, why = _read_notebook(sub.path)
    if nb is None:
        return Result(sub.learner, sub.path.stem, INVALID, why, 0.0, {})
    ids = expected_exercises(nb, sub.path)
    executed = out_dir / sub.learner / sub.path.name
    executed.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="labutils-grade-") as tmp:
        work = Path(tmp)
        shutil.copy2(sub.path, work / sub.path.name)
        status_file, log_file, results_file = work / "_status.json", work / "_grade.jsonl", work / "_results.jsonl"
        env = dict(os.environ, LABUTILS_GRADE_LOG=str(log_file), LABUTILS_RESULTS=str(results_file),
                   LABUTILS_PROFILE=profile, LABUTILS_HEADLESS="1", HF_HUB_OFFLINE="1",
                   JUPYTER_RUNTIME_DIR=str(work / "_jupyter"), IPYTHONDIR=str(work / "_ipython"),
                   PYTHONUNBUFFERED="1")
        cmd = [sys.executable, "-m", "labutils.tools.grade", "--worker", str(work / sub.path.name), str(executed),
               str(status_file), str(timeout), profile]
        proc = subprocess.Popen(cmd, env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)
        try:
            _, err = proc.communicate(timeout=timeout + _STARTUP_MARGIN_S)
        except subprocess.TimeoutExpired:
            _stop(proc)
            _, err = proc.communicate()
            status = {"status": TIMEOUT, "detail": f"stopped after {timeout:g} s (the worker did not finish)"}
        else:
            status = _load_status(status_file, proc.returncode, err)
        _kill_leftovers(f"LABUTILS_GRADE_LOG={log_file}".encode())  # a submission's background processes
        from labutils.core import gradelog, results
        logged = gradelog.read(log_file)
        figures = len(results.read(results_file))
    marks = {i: NOT_ATTEMPTED for i in ids}
    marks.update({i: PASS if ok else FAIL for i, ok in logged.items()})
    return Result(sub.learner, sub.path.stem, status["status"], status["detail"],
                  round(time.perf_counter() - t0, 1), dict(sorted(marks.items())), figures)


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the worker's process group (it then shuts its kernel down), SIGKILL if it lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=_KILL_GRACE_S)
            return
        except subprocess.TimeoutExpired:
            continue


def _kill_leftovers(marker: bytes) -> int:
    """SIGKILL every process still carrying this submission's environment (Linux ``/proc``); returns how many.

    A submission may start processes that outlive its kernel (``subprocess.Popen(..., start_new_session=True)``);
    they inherit ``LABUTILS_GRADE_LOG`` and would otherwise still run while the next submission is graded.
    """
    killed = 0
    for proc_dir in Path("/proc").glob("[0-9]*"):
        try:
            pid = int(proc_dir.name)
            if pid != os.getpid() and marker in (proc_dir / "environ").read_bytes().split(b"\0"):
                os.kill(pid, signal.SIGKILL)
                killed += 1
        except (OSError, ValueError):
            continue
    return killed


def _load_status(path: Path, returncode: int, stderr: bytes | None) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        tail = (stderr or b"").decode("utf-8", "replace").strip().splitlines()
        return {"status": ERROR, "detail": f"the worker exited with status {returncode}"
                + (f": {tail[-1][:160]}" if tail else "")}


def grade(root: str | os.PathLike, timeout: float = 600, profile: str = "smoke",
          out_dir: str | os.PathLike | None = None, progress: bool = True) -> list[Result]:
    """Grade every submission under ``root``; executed notebooks go to ``out_dir`` (default under the cache)."""
    from labutils.core import env, profiles
    profile = profiles.explain(profile)[0]
    if timeout <= 0:
        raise CLIError(f"--timeout must be a positive number of seconds, got {timeout:g}.")
    subs = find_submissions(root)
    out = Path(out_dir) if out_dir else env.cache_home("grade", time.strftime("%Y%m%d-%H%M%S"))
    rows = []
    for sub in subs:
        rows.append(grade_one(sub, timeout, profile, out))
        if progress:
            r = rows[-1]
            print(f"  {r.learner}/{r.notebook}: {r.status}, {r.passed}/{len(r.exercises)} passed, {r.seconds:.1f}s",
                  flush=True)
    return rows


def exercise_columns(rows: list[Result]) -> list[str]:
    return sorted({i for r in rows for i in r.exercises})


def write_csv(rows: list[Result], path: str | os.PathLike) -> Path:
    """One row per submission: status, detail, seconds, counts, then pass/fail/not attempted per exercise."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ids = exercise_columns(rows)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["learner", "notebook", "status", "detail", "seconds", "passed", "attempted", "exercises",
                    "figures", *ids])
        for r in rows:
            w.writerow([r.learner, r.notebook, r.status, r.detail, f"{r.seconds:.1f}", r.passed, r.attempted,
                        len(r.exercises), r.figures, *[r.exercises.get(i, "") for i in ids]])
    return path


def table_rows(rows: list[Result]) -> list[tuple]:
    """Rows for the printed table: ✓ passed, ✗ failed, · not attempted."""
    sign = {PASS: "✓", FAIL: "✗", NOT_ATTEMPTED: "·"}
    out = []
    for r in rows:
        marks = " ".join(f"{sign[v]}{i}" for i, v in r.exercises.items()) or "-"
        status = r.status if r.status == OK else f"{r.status}: {r.detail}"
        out.append((r.learner, r.notebook, status[:70], f"{r.seconds:.1f}", f"{r.passed}/{len(r.exercises)}", marks))
    return out


def cmd_grade(args: argparse.Namespace) -> int:
    """The ``grade`` command: grade, print the table, write the CSV."""
    from labutils.core import env
    from labutils.tools.report import print_table
    out = Path(args.out) if args.out else env.cache_home("grade", time.strftime("%Y%m%d-%H%M%S"))
    rows = grade(args.submissions, timeout=args.timeout, profile=args.profile, out_dir=out)
    print()
    print_table(("learner", "notebook", "run", "seconds", "passed", "exercises (✓ pass ✗ fail · not attempted)"),
           table_rows(rows))
    target = Path(args.csv) if args.csv else out / "grades.csv"
    print(f"\nCSV: {write_csv(rows, target)}; executed notebooks in {out}")
    return 0


def add_parser(sub) -> None:
    """Register ``grade`` on the CLI's subparsers."""
    p = sub.add_parser("grade", help="(teaching assistants) execute learners' notebooks and tabulate exercises")
    p.add_argument("submissions", help="folder of submissions: *.ipynb, or one folder per learner")
    p.add_argument("--timeout", type=float, default=600, help="seconds per notebook (whole run; default 600)")
    p.add_argument("--csv", default=None, help="CSV to write (default: grades.csv in --out or here)")
    p.add_argument("--profile", default="smoke", help="run profile of the submissions (default smoke)")
    p.add_argument("--out", default=None, help="folder for the executed notebooks (default: under the cache home)")
    p.set_defaults(fn=cmd_grade)


# ---------------------------------------------------------------------------------------------- worker
def _worker(notebook: str, output: str, status_file: str, timeout: str, profile: str) -> int:
    """Run one notebook with papermill (in the worker process); write ``{"status", "detail"}`` to ``status_file``."""
    import papermill as pm
    deadline = time.monotonic() + float(timeout)

    def on_term(signum, frame):  # the grader's backstop: unwind so papermill shuts the kernel down
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    status = {"status": OK, "detail": ""}
    try:
        pm.execute_notebook(notebook, output, parameters={"PROFILE": profile}, kernel_name="python3",
                            language="python", progress_bar=False, cwd=str(Path(notebook).parent), log_output=False,
                            execution_timeout=max(1, int(float(timeout))),
                            timeout_func=lambda cell: max(1.0, deadline - time.monotonic()))
    except KeyboardInterrupt:
        status = {"status": TIMEOUT, "detail": f"stopped after {float(timeout):g} s"}
    except Exception as err:  # noqa: BLE001 - every failure of a learner's notebook is a row, not a crash
        name = type(err).__name__
        if "Timeout" in name or (time.monotonic() >= deadline and "timed out" in str(err).lower()):
            status = {"status": TIMEOUT, "detail": f"a cell ran past the {float(timeout):g} s limit"}
        else:
            ename, evalue = getattr(err, "ename", name), getattr(err, "evalue", str(err))
            cell = getattr(err, "exec_count", None)
            where = f" in cell [{cell}]" if cell is not None else ""
            first = str(evalue).strip().splitlines()
            status = {"status": ERROR, "detail": f"{ename}{where}: {first[0][:120] if first else ''}".rstrip(": ")}
    Path(status_file).write_text(json.dumps(status), encoding="utf-8")
    return 0


if __name__ == "__main__":  # python -m labutils.tools.grade --worker IN OUT STATUS TIMEOUT PROFILE
    if len(sys.argv) == 7 and sys.argv[1] == "--worker":
        sys.exit(_worker(*sys.argv[2:]))
    sys.exit("This module is the grader's worker; run `python -m labutils grade SUBMISSIONS_DIR`.")
