"""Notebook 12, the service as a real process: start ``python -m labutils serve ...`` on a free loopback port,
wait until ``GET /health`` answers 200, and always stop it again.

:func:`running_server` is a context manager (``with running_server("classifier") as url: ...``): the process
is terminated (then killed) when the block ends, also when the body raises or the cell is interrupted, and an
``atexit`` hook stops any server a crashed kernel left behind. :func:`running_servers` starts several at once
(their start-up overlaps) and stops them all. The server's output goes to a log file; a server that dies or
never answers raises :class:`~labutils.chapters.serving.onnx.ServingError` with the log's last lines.
"""
from __future__ import annotations

import atexit
import contextlib
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from labutils.chapters.serving.onnx import ServingError

_LIVE: set["ServerProcess"] = set()
PARENT_ENV = "LABUTILS_SERVE_PARENT"


def watch_parent(interval: float = 1.0) -> None:
    """In the server: if started by :class:`ServerProcess`, stop (SIGTERM to itself) once the parent is gone,
    so even a kernel killed with SIGKILL (no ``atexit``) leaves no server behind."""
    import threading

    parent = os.environ.get(PARENT_ENV)
    if not parent or not parent.isdigit():
        return

    def loop():
        while True:
            time.sleep(interval)
            if not server_pid_alive(int(parent)):
                os.kill(os.getpid(), signal.SIGTERM)
                return
    threading.Thread(target=loop, daemon=True, name="watch-parent").start()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (bind port 0 and let the OS choose)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _args(kind_or_args: str | Sequence[str]) -> list[str]:
    args = shlex.split(kind_or_args) if isinstance(kind_or_args, str) else [str(a) for a in kind_or_args]
    if not args:
        raise ServingError("Name the service to start, e.g. 'classifier' or ['lm', '--token', 'x'].")
    if "--port" in args:
        raise ServingError("Pass the port as running_server(..., port=P), not inside the arguments.")
    return args


class ServerProcess:
    """One ``python -m labutils serve ...`` subprocess on 127.0.0.1: :meth:`start`, :meth:`wait_ready`, :meth:`stop`."""

    def __init__(self, kind_or_args: str | Sequence[str], port: int | None = None,
                 env: Mapping[str, str] | None = None, log_dir: str | Path | None = None):
        self.args = _args(kind_or_args)
        self.port = int(port) if port else free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", **(env or {}),
                    PARENT_ENV: str(os.getpid())}
        if log_dir is None:
            from labutils.core.env import cache_home
            log_dir = cache_home("serving", "logs")
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        self.log_path = Path(log_dir) / f"server-{self.port}.log"
        self.proc: subprocess.Popen | None = None
        self.started_s: float | None = None

    def start(self) -> "ServerProcess":
        cmd = [sys.executable, "-m", "labutils", "serve", *self.args, "--port", str(self.port), "--host", "127.0.0.1"]
        self._log = open(self.log_path, "wb")
        self._t0 = time.perf_counter()
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=self.env, start_new_session=True)
        _LIVE.add(self)
        return self

    def log_tail(self, n: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def wait_ready(self, timeout: float = 120.0) -> str:
        """Poll ``GET /health`` until it answers 200; returns the base URL. Raises if the process dies or times out."""
        import httpx

        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                code = None if self.proc is None else self.proc.returncode
                self.stop()
                raise ServingError(f"The server 'serve {' '.join(self.args)}' exited with code {code} before it "
                                   f"answered; its log ends:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + "/health", timeout=2.0).status_code == 200:
                    self.started_s = time.perf_counter() - self._t0
                    return self.url
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise ServingError(f"The server 'serve {' '.join(self.args)}' did not answer /health within {timeout:.0f} s; "
                           f"its log ends:\n{self.log_tail()}")

    def stop(self, grace: float = 10.0) -> int | None:
        """Terminate the process group (SIGTERM), wait ``grace`` seconds, then kill it. Safe to call twice."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(proc.pid, sig)
                except (ProcessLookupError, PermissionError):
                    break
                try:
                    proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if getattr(self, "_log", None) is not None:
            self._log.close()
        _LIVE.discard(self)
        return None if proc is None else proc.poll()

    def rss_mb(self) -> float | None:
        """Resident memory of the server process in MB (Linux ``/proc``; None elsewhere or when stopped)."""
        if not self.running:
            return None
        try:
            with open(f"/proc/{self.proc.pid}/status", encoding="ascii") as fh:
                kb = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
            return kb / 1024
        except (OSError, StopIteration, ValueError):
            return None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"ServerProcess(serve {' '.join(self.args)} at {self.url}, {state})"


@contextlib.contextmanager
def running_server(kind_or_args: str | Sequence[str], port: int | None = None, env: Mapping[str, str] | None = None,
                   timeout: float = 120.0) -> Iterator[str]:
    """Start ``python -m labutils serve <kind_or_args>`` on 127.0.0.1 (a free port unless ``port``), wait for
    ``/health``, yield the base URL (``http://127.0.0.1:PORT``), and always stop the process at the end.

    ``kind_or_args``: ``"classifier"``, ``"lm"``, or the full argument list (``["classifier", "--int8"]``).
    ``env`` is added to this process's environment (e.g. ``{"LABUTILS_PROFILE": "cpu"}``).
    """
    server = ServerProcess(kind_or_args, port=port, env=env).start()
    try:
        yield server.wait_ready(timeout)
    finally:
        server.stop()


@contextlib.contextmanager
def running_servers(*specs: str | Sequence[str], env: Mapping[str, str] | None = None,
                    timeout: float = 180.0) -> Iterator[list["ServerProcess"]]:
    """Start several servers at once (their start-up overlaps), yield the ready :class:`ServerProcess` objects in
    order (``.url``, ``.rss_mb()``, ``.started_s``), and stop them all when the block ends."""
    servers = [ServerProcess(s, env=env) for s in specs]
    try:
        for s in servers:
            s.start()
        for s in servers:
            s.wait_ready(timeout)
        yield servers
    finally:
        for s in servers:
            s.stop()


def server_pid_alive(pid: int) -> bool:
    """Whether a process with this id still exists (tests check a stopped server is gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped) counts as gone
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


@atexit.register
def _stop_all() -> None:  # the safety net: a kernel that exits never leaves a server behind
    for s in list(_LIVE):
        s.stop(grace=3.0)
