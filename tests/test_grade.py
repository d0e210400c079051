"""``python -m labutils grade``: tiny generated submissions, each executed in its own worker and kernel."""
from __future__ import annotations

import csv
import os
import textwrap

import nbformat
import pytest

from labutils.core import gradelog
from labutils.tools import grade
from labutils.tools.cli import main

IDS = ["00.ci_profile", "00.critical_lr", "00.steps_needed"]  # notebook 00's exercises


def _notebook(path, *cells, kernelspec=True):
    nb = nbformat.v4.new_notebook()
    if kernelspec:  # a notebook written by hand may carry no kernel metadata at all
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(textwrap.dedent(c)) for c in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("subs")
    pidfile = root.parent / "mallory.pid"
    name = "00_welcome_and_setup.ipynb"
    _notebook(root / "alice" / name, "import labutils as lu",
              'lu.check("00.ci_profile", "smoke")', 'lu.check("00.critical_lr", 0.4)')
    _notebook(root / "bob" / name, "import labutils as lu", 'lu.check("00.ci_profile", "cpu")', kernelspec=False)
    _notebook(root / "carol" / name, "import labutils as lu", 'lu.check("00.ci_profile", "smoke")',
              "1 / 0", 'lu.check("00.critical_lr", 0.4)')
    (root / "dave").mkdir()
    (root / "dave" / name).write_text("{ this is not json", encoding="utf-8")
    # mallory tries to reach the others: a module-level marker, an env var, and a detached process that keeps
    # appending forged passes to every grading log it can find for a minute (it would hit zoe's, run after her).
    _notebook(root / "mallory" / name, "import labutils as lu", f"""
        import builtins, os, subprocess, sys, tempfile
        builtins.MALLORY = True
        os.environ["MALLORY"] = "1"
        spy = '''
        import glob, json, os, tempfile, time
        for _ in range(300):
            for log in glob.glob(os.path.join(tempfile.gettempdir(), 'labutils-grade-*', '_grade.jsonl')):
                if log != os.environ['LABUTILS_GRADE_LOG']:
                    with open(log, 'a') as fh:
                        fh.write(json.dumps({{'id': '00.ci_profile', 'ok': True}}) + chr(10))
            time.sleep(0.2)
        '''
        p = subprocess.Popen([sys.executable, "-c", spy], start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        open({str(pidfile)!r}, "w").write(str(p.pid))
        lu.check("00.ci_profile", "smoke")""")
    _notebook(root / "zoe" / name, "import labutils as lu", """
        import builtins, os, time
        time.sleep(2)  # give a leftover spy time to strike
        clean = not hasattr(builtins, "MALLORY") and "MALLORY" not in os.environ
        lu.check("00.critical_lr", 0.4 if clean else 99.0)""", 'lu.check("00.ci_profile", "gpu")')
    out, table = root.parent / "out", root.parent / "grades.csv"
    code = main(["grade", str(root), "--timeout", "60", "--csv", str(table), "--out", str(out)])
    with open(table, newline="", encoding="utf-8") as fh:
        rows = {r["learner"]: r for r in csv.DictReader(fh)}
    return code, rows, pidfile, out


def test_grade_table_and_csv(graded, capsys):
    code, rows, _, out = graded
    assert code == 0
    assert set(rows) == {"alice", "bob", "carol", "dave", "mallory", "zoe"}
    alice = rows["alice"]
    assert alice["status"] == "ok" and alice["passed"] == "2" and alice["exercises"] == "3"
    assert [alice[i] for i in IDS] == ["pass", "pass", "not attempted"]
    assert rows["bob"]["status"] == "ok" and rows["bob"]["00.ci_profile"] == "fail"
    assert rows["bob"]["00.critical_lr"] == "not attempted"
    assert (out / "alice" / "00_welcome_and_setup.ipynb").is_file()  # the executed copy, for the TA


def test_a_cell_that_raises_is_a_row(graded):
    carol = graded[1]["carol"]
    assert carol["status"] == "error" and "ZeroDivisionError" in carol["detail"]
    assert carol["00.ci_profile"] == "pass" and carol["00.critical_lr"] == "not attempted"


def test_invalid_json_is_a_row(graded):
    dave = graded[1]["dave"]
    assert dave["status"] == "invalid" and "invalid JSON" in dave["detail"]


def test_one_submission_cannot_reach_another(graded):
    _, rows, pidfile, _ = graded
    zoe = rows["zoe"]
    assert zoe["status"] == "ok"
    assert zoe["00.ci_profile"] == "fail"      # her own wrong answer; the spy's forged passes never reached her
    assert zoe["00.critical_lr"] == "pass"
    pid = int(pidfile.read_text())
    with pytest.raises(ProcessLookupError):   # the grader killed mallory's detached process
        os.kill(pid, 0)


def test_timeout_is_a_row_and_keeps_earlier_results(tmp_path, capsys):
    _notebook(tmp_path / "subs" / "00_welcome_and_setup.ipynb", "import labutils as lu",
              'lu.check("00.ci_profile", "smoke")', "import time\ntime.sleep(300)")
    rows = grade.grade(tmp_path / "subs", timeout=6, out_dir=tmp_path / "out", progress=False)
    (r,) = rows
    assert r.learner == "00_welcome_and_setup" and r.status == "timeout", (r.status, r.detail)
    assert r.exercises["00.ci_profile"] == "pass" and r.seconds < 6 + 40
    assert "timeout" in grade.table_rows(rows)[0][2]


def test_bad_folder_and_bad_timeout_are_one_sentence(tmp_path, capsys):
    assert main(["grade", str(tmp_path / "nowhere")]) == 2
    assert "No submissions folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["grade", str(tmp_path / "empty")]) == 2
    assert "No notebooks" in capsys.readouterr().err
    _notebook(tmp_path / "one" / "x.ipynb", "1")
    assert main(["grade", str(tmp_path / "one"), "--timeout", "0"]) == 2
    assert "positive" in capsys.readouterr().err


def test_expected_exercises_from_start_call_and_checks(tmp_path):
    nb = {"cells": [{"cell_type": "code", "source": 'lu.start("00_welcome_and_setup")\nlu.check("01.softmax", f)'}]}
    ids = grade.expected_exercises(nb, tmp_path / "my_work.ipynb")
    assert set(IDS) <= set(ids) and "01.softmax" in ids


def test_gradelog_writes_only_when_asked(tmp_path, monkeypatch):
    from labutils.exercises import check
    log = tmp_path / "g.jsonl"
    monkeypatch.delenv(gradelog.ENV_VAR, raising=False)
    check("00.ci_profile", "smoke", quiet=True)
    assert not log.exists()
    monkeypatch.setenv(gradelog.ENV_VAR, str(log))
    check("00.ci_profile", "cpu", quiet=True)
    check("00.ci_profile", "smoke", quiet=True)  # the last check of an id wins
    check("00.critical_lr", 1.0, quiet=True)
    log.write_text(log.read_text() + "not json\n")
    assert gradelog.read(log) == {"00.ci_profile": True, "00.critical_lr": False}
