import os
import subprocess
import sys
from pathlib import Path

import pytest

from labutils.tools.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_doctor_reports_ok(capsys):
    code = main(["doctor"])
    out = capsys.readouterr().out
    assert "Hardware and platform" in out and "torch" in out and "Cache home" in out
    assert code in (0, 1)  # 1 only if data is not prepared; the message then says how to fix it
    if code == 1:
        assert "data prepare" in out


def test_doctor_without_torch_is_one_clear_sentence():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-S", "-m", "labutils", "doctor"], capture_output=True,
                          text=True, env=env, cwd=ROOT)
    assert proc.returncode == 1
    assert "torch is not installed" in proc.stdout and "make setup" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_run_with_bad_profile(capsys):
    assert main(["run", "00", "--profile", "turbo"]) == 2
    err = capsys.readouterr().err
    assert "turbo" in err and "smoke, cpu, gpu" in err and "Traceback" not in err


def test_run_with_missing_notebook(capsys):
    assert main(["run", "nonexistent_notebook", "--profile", "smoke"]) == 2
    err = capsys.readouterr().err
    assert "nonexistent_notebook" in err and "00_welcome_and_setup" in err


def test_report_needs_a_file(capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("LABUTILS_RESULTS", raising=False)
    assert main(["report"]) == 2
    assert main(["report", str(tmp_path / "none.jsonl")]) == 2
    f = tmp_path / "r.jsonl"
    f.write_text('{"notebook": "00_x", "name": "acc", "value": 0.5, "profile": "smoke"}\n')
    assert main(["report", str(f)]) == 0
    assert "acc" in capsys.readouterr().out


def test_cli_as_subprocess_bad_profile_exit_code():
    proc = subprocess.run([sys.executable, "-m", "labutils", "run", "--profile", "nope"], capture_output=True,
                          text=True, cwd=ROOT)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "nope" in proc.stderr


@pytest.mark.parametrize("argv", [["data"], ["frobnicate"]])
def test_usage_errors_exit_2(argv):
    with pytest.raises(SystemExit) as err:
        main(argv)
    assert err.value.code == 2


def test_data_prepare_unknown_name_lists_the_valid_ones(capsys):
    assert main(["data", "prepare", "nonsense"]) == 2
    err = capsys.readouterr().err
    assert "nonsense" in err and "kjv" in err and "chat_lm" in err and "Traceback" not in err
