"""``make lab``: the command line it builds (root, display, overrides) and the real server it starts.

The last test runs ``make lab`` itself (with ``LAB_SETUP=`` so the set-up step is skipped and
``VENV`` pointing at the interpreter running the tests), waits for the printed URL, checks that
JupyterLab answers ``/api/status`` with that token (and refuses without it), and kills the whole
process group, also when an assertion fails.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from labutils.core.errors import CLIError
from labutils.tools import lab

ROOT = Path(__file__).resolve().parent.parent


def test_root_gets_allow_root_and_a_normal_user_does_not():
    as_root = lab.lab_command(["nb.ipynb"], port=9001, token="abc", uid=0, display=True)
    as_user = lab.lab_command(["nb.ipynb"], port=9001, token="abc", uid=1000, display=True)
    assert "--allow-root" in as_root.argv and "--allow-root" not in as_user.argv
    assert as_root.url == "http://127.0.0.1:9001/lab?token=abc"
    assert "--IdentityProvider.token=abc" in as_user.argv and "--port=9001" in as_user.argv
    assert as_user.argv[-1] == "nb.ipynb"


def test_no_display_means_no_browser_and_extra_args_come_last():
    job = lab.lab_command(["x"], port=9002, token="t", uid=1000, display=False, extra=["--ip=0.0.0.0"])
    assert "--no-browser" in job.argv
    assert job.argv.index("--ip=0.0.0.0") > job.argv.index("--ip=127.0.0.1")   # the user's wins
    assert not lab.has_display({}, "linux")
    assert lab.has_display({"DISPLAY": ":0"}, "linux")
    assert lab.has_display({}, "darwin")
    assert not lab.has_display({"DISPLAY": ":0", "LABUTILS_HEADLESS": "1"}, "linux")


def test_plan_reads_lab_port_lab_args_and_token():
    port = lab.free_port(20000)
    job = lab.plan(["a.ipynb"], {"LAB_PORT": str(port), "LAB_ARGS": "--ServerApp.root_dir='/tmp/a b'",
                                 "JUPYTER_TOKEN": "secret1"})
    assert job.port == port and job.token == "secret1"
    assert "--ServerApp.root_dir=/tmp/a b" in job.argv
    generated = lab.plan([], {})
    assert len(generated.token) >= 32 and generated.token != lab.plan([], {}).token


def test_busy_port_is_skipped_or_refused():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1]
        assert not lab.port_is_free(busy)
        assert lab.free_port(busy) != busy
        with pytest.raises(CLIError, match="already in use"):
            lab.plan([], {"LAB_PORT": str(busy)})
    with pytest.raises(CLIError, match="port number"):
        lab.parse_port("eighty")
    with pytest.raises(CLIError, match="between 1 and 65535"):
        lab.parse_port("70000")


def _get(url: str, token: str | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(url, headers={"Authorization": f"token {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, {}
    except (urllib.error.URLError, OSError):    # not listening yet
        return 0, {}


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the process group, then SIGKILL what is left."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


@pytest.mark.skipif(shutil.which("make") is None, reason="`make` is not installed")
@pytest.mark.skipif(os.name != "posix", reason="process groups are POSIX")
def test_make_lab_starts_a_server_that_answers_with_the_printed_token(tmp_path):
    pytest.importorskip("jupyterlab")
    port = lab.free_port(18888)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "JUPYTER_TOKEN")}
    env.update(JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"), JUPYTER_DATA_DIR=str(tmp_path / "data"),
               TMPDIR=str(tmp_path), PYTHONUNBUFFERED="1")
    log = tmp_path / "lab.log"
    cmd = ["make", "--no-print-directory", "lab", "LAB_SETUP=", f"VENV={sys.prefix}", f"LAB_PORT={port}"]
    t0 = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        url = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            text = log.read_text(errors="replace")
            m = re.search(r"Open (http://127\.0\.0\.1:(\d+)/lab\?token=(\w+))", text)
            if m:
                url, token = m.group(1), m.group(3)
                if _get(f"http://127.0.0.1:{port}/api/status", token)[0] == 200:
                    break
            time.sleep(0.5)
        text = log.read_text(errors="replace")
        assert proc.poll() is None, f"make lab exited with {proc.returncode}:\n{text[-3000:]}"
        assert url is not None, f"no `Open http://…?token=…` line printed:\n{text[-3000:]}"
        assert int(re.search(r":(\d+)/", url).group(1)) == port
        status, body = _get(f"http://127.0.0.1:{port}/api/status", token)
        assert status == 200 and "started" in body, text[-3000:]
        assert _get(f"http://127.0.0.1:{port}/api/status")[0] in (401, 403)      # the token is needed
        if os.geteuid() == 0:
            assert "--allow-root" in text
        print(f"make lab answered after {time.perf_counter() - t0:.1f} s")
    finally:
        _stop(proc)
    assert _port_closes(port, within=20), "the server still answers 20 s after its process group was killed"


def _port_closes(port: int, within: float) -> bool:
    """True once nothing accepts on ``port``. SIGKILL is delivered asynchronously: right after
    ``killpg`` returns, the dying server can still hold its listening socket for a moment (CI
    once connected in that window on a loaded machine), so poll instead of probing once."""
    deadline = time.monotonic() + within
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)


def test_without_jupyterlab_or_with_a_missing_file_it_is_one_sentence(monkeypatch, tmp_path):
    with pytest.raises(CLIError, match="No such file"):
        lab.launch([str(tmp_path / "nope.ipynb")])
    real = lab.importlib.util.find_spec
    monkeypatch.setattr(lab.importlib.util, "find_spec", lambda name: None if name == "jupyterlab" else real(name))
    with pytest.raises(CLIError, match="JupyterLab is not installed"):
        lab.launch([])
