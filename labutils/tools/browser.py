"""A JupyterLab server for browser tests: private directories, a token, a free loopback port, and a clean stop.

:class:`LabServer` starts ``python -m jupyterlab`` through the same command line that ``make lab`` uses
(:func:`labutils.tools.lab.lab_command`, so ``--allow-root`` for root), with every directory Jupyter and
IPython write to (runtime, config, data, settings, workspaces) inside one temporary folder, JupyterLab
settings that suit a robot (no autosave, no windowing of cells, no news), and the app exposed to the page
as ``window.jupyterapp``. Every process it starts carries the environment variable ``LABUTILS_LAB_RUN``
with a run id, so :meth:`LabServer.stray_processes` finds kernels and anything a notebook started even
after they have left the server's process tree. :meth:`LabServer.stop` shuts the kernels down through the
REST API, then ends the server's process group and kills whatever is left, one process id at a time.

:func:`find_chromium` locates a system Chromium (Playwright's own browser download is not needed).
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from labutils.core.errors import CLIError
from labutils.tools.lab import HOST, lab_command

__all__ = ["find_chromium", "random_free_port", "LabServer", "ROBOT_SETTINGS"]

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/lib/chromium/chromium", "/snap/bin/chromium")

# JupyterLab user settings for a test robot: {plugin id: settings}.
ROBOT_SETTINGS = {
    # every cell stays in the DOM (the default windowing detaches cells that are out of view)
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
    # never write the executed notebook back
    "@jupyterlab/docmanager-extension:plugin": {"autosave": False},
    # no news or update checks (offline), no extension manager
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/extensionmanager-extension:plugin": {"enabled": False},
}


def find_chromium(env: dict | None = None) -> str | None:
    """The path of a Chromium to drive: ``$LABUTILS_CHROMIUM``, else one on ``PATH``, else a usual place; or None.

    A ``LABUTILS_CHROMIUM`` that names no executable file is one clear sentence (a :class:`CLIError`).
    """
    env = os.environ if env is None else env
    named = (env.get("LABUTILS_CHROMIUM") or "").strip()
    if named:
        path = shutil.which(named, path=env.get("PATH")) or (named if os.access(named, os.X_OK) else None)
        if path is None or not os.path.isfile(path):
            raise CLIError(f"LABUTILS_CHROMIUM={named!r} is not an executable Chromium; unset it or point it at one.")
        return path
    for name in CHROMIUM_NAMES:
        path = shutil.which(name, path=env.get("PATH"))
        if path:
            return path
    return next((p for p in CHROMIUM_PATHS if os.path.isfile(p) and os.access(p, os.X_OK)), None)


def random_free_port(host: str = HOST) -> int:
    """A port the OS reports free on ``host`` right now (random, so parallel runs do not collide)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _write_settings(folder: Path, settings: dict) -> None:
    for plugin, values in settings.items():
        package, _, name = plugin.partition(":")
        target = folder.joinpath(*package.split("/"), f"{name}.jupyterlab-settings")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values, indent=1), encoding="utf-8")


class LabServer:
    """One JupyterLab on loopback, serving ``root``; use as a context manager or call start()/stop().

    ``env`` is added to the server's (and so every kernel's) environment; a value of None removes
    that variable. After :meth:`start`: ``url`` (no token), ``token``, ``port``, ``tmp`` (the private folder).
    """

    def __init__(self, root: str | os.PathLike, *, env: dict | None = None, settings: dict | None = None,
                 startup_timeout: float = 120.0, python: str | None = None):
        self.root = Path(root).resolve()
        self.extra_env = dict(env or {})
        self.settings = ROBOT_SETTINGS if settings is None else settings
        self.startup_timeout = startup_timeout
        self.python = python or sys.executable
        self.run_id = secrets.token_hex(8)
        self.token = secrets.token_hex(24)
        self.proc: subprocess.Popen | None = None
        self.tmp: Path | None = None
        self.port: int | None = None
        self.killed: list[str] = []     # processes stop() had to kill (they did not end by themselves)

    # ---------------------------------------------------------------- start
    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.tmp / "server.log"

    def environment(self) -> dict:
        """The server's environment: ours, private Jupyter/IPython folders, the run marker, then ``env``."""
        env = dict(os.environ)
        dirs = {"JUPYTER_RUNTIME_DIR": "runtime", "JUPYTER_CONFIG_DIR": "config", "JUPYTER_DATA_DIR": "data",
                "IPYTHONDIR": "ipython", "JUPYTERLAB_SETTINGS_DIR": "settings",
                "JUPYTERLAB_WORKSPACES_DIR": "workspaces", "MPLCONFIGDIR": "mpl"}
        for var, name in dirs.items():
            env[var] = str(self.tmp / name)
        env["JUPYTER_PLATFORM_DIRS"] = "1"
        env["LABUTILS_LAB_RUN"] = self.run_id
        for key, value in self.extra_env.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = str(value)
        return env

    def start(self) -> "LabServer":
        """Start the server and wait until ``/api/status`` answers with the token."""
        self.tmp = Path(tempfile.mkdtemp(prefix="lu-lab-"))
        _write_settings(self.tmp / "settings", self.settings)
        self.port = random_free_port()
        uid = os.geteuid() if hasattr(os, "geteuid") else None
        extra = [f"--ServerApp.root_dir={self.root}", "--LabApp.expose_app_in_browser=True",
                 "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.news_url=",
                 "--ServerApp.terminals_enabled=False", "--ServerApp.shutdown_no_activity_timeout=0"]
        argv = lab_command([], port=self.port, token=self.token, uid=uid, display=False, extra=extra,
                           python=self.python).argv
        log = open(self.log_path, "wb")
        try:
            self.proc = subprocess.Popen(argv, cwd=self.root, env=self.environment(), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log.close()
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise CLIError(f"JupyterLab stopped at start (exit {self.proc.returncode}): {self.log_tail()}")
            try:
                self.api("GET", "/api/status", timeout=5)
                return self
            except (OSError, urllib.error.URLError):
                time.sleep(0.3)
        raise CLIError(f"JupyterLab did not answer within {self.startup_timeout:.0f} s: {self.log_tail()}")

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return "(no server log)"

    # ---------------------------------------------------------------- the REST API
    def api(self, method: str, path: str, body: dict | None = None, timeout: float = 30.0):
        """One authenticated call to the server's REST API; the decoded JSON (None for an empty answer)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Authorization": f"token {self.token}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def kernels(self) -> list[dict]:
        return self.api("GET", "/api/kernels") or []

    def shutdown_kernels(self, timeout: float = 30.0) -> None:
        """Ask the server to shut every kernel down (it kills one that does not stop in time)."""
        for kernel in self.kernels():
            try:
                self.api("DELETE", f"/api/kernels/{kernel['id']}", timeout=timeout)
            except (OSError, urllib.error.URLError):
                pass

    # ---------------------------------------------------------------- processes
    def _tree(self) -> list:
        import psutil
        if self.proc is None:
            return []
        try:
            top = psutil.Process(self.proc.pid)
            return [top, *top.children(recursive=True)]
        except psutil.Error:
            return []

    def marked_processes(self) -> list:
        """Every live process whose environment carries this run's marker (the server, kernels, their children)."""
        import psutil
        found = []
        for proc in psutil.process_iter(["pid"]):
            try:
                if proc.environ().get("LABUTILS_LAB_RUN") == self.run_id and proc.status() != psutil.STATUS_ZOMBIE:
                    found.append(proc)
            except psutil.Error:
                continue
        return found

    def stray_processes(self) -> list:
        """Marked processes other than the server itself: kernels and whatever they started."""
        server = self.proc.pid if self.proc is not None else None
        return [p for p in self.marked_processes() if p.pid != server]

    @staticmethod
    def describe(proc) -> str:
        try:
            return f"{proc.pid} {' '.join(proc.cmdline())[:160]}"
        except Exception:  # noqa: BLE001 - it may have ended meanwhile
            return str(proc.pid)

    def kill(self, procs: list, grace: float = 5.0) -> list[str]:
        """SIGTERM each process (by pid), SIGKILL those alive after ``grace`` s; what had to be signalled."""
        import psutil
        procs = [p for p in procs if p.is_running()]
        names = [self.describe(p) for p in procs]
        for p in procs:
            try:
                p.terminate()
            except psutil.Error:
                pass
        _, alive = psutil.wait_procs(procs, timeout=grace)
        for p in alive:
            try:
                p.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(alive, timeout=grace)
        return names

    def stop(self) -> list[str]:
        """Stop kernels and server, kill what remains; returns processes still alive afterwards (should be [])."""
        if self.proc is None:
            return []
        tree = self._tree()
        if self.proc.poll() is None:
            try:
                self.shutdown_kernels()
            except (OSError, urllib.error.URLError):
                pass
            tree += [p for p in self._tree() if p not in tree]
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                self.proc.wait(timeout=10)
        rest = [p for p in tree if p.pid != self.proc.pid and p.is_running()] + self.marked_processes()
        self.killed += self.kill(list({p.pid: p for p in rest}.values()))
        left = [self.describe(p) for p in self.marked_processes()]
        if self.tmp is not None and not left:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return left

    def __enter__(self) -> "LabServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
