"""``make lab`` / ``python -m labutils lab``: open the course in JupyterLab and print the URL to open.

What it does that a bare ``jupyter lab`` does not:

- passes ``--allow-root`` when it runs as root (a Docker container, a cloud VM, a workshop image),
  where JupyterLab otherwise stops with "Running as root is not recommended";
- makes a token (or takes ``JUPYTER_TOKEN``) and prints one line ``Open http://127.0.0.1:PORT/lab?token=…``
  before the server starts, so the URL is easy to find in a noisy terminal;
- picks a free port from 8888 upward (or ``LAB_PORT``) and tells JupyterLab not to wander to
  another one, so the printed URL is the one that answers;
- adds ``--no-browser`` where there is no display (a headless Linux box, ``LABUTILS_HEADLESS=1``);
- appends ``LAB_ARGS`` (split like a shell would) last, so a user can override anything,
  e.g. ``make lab LAB_ARGS="--ip=0.0.0.0"`` inside a container.

:func:`lab_command` is pure (tests call it); :func:`launch` prints and replaces this process
with JupyterLab, so Ctrl-C and a process-group kill reach the server directly.
"""
from __future__ import annotations

import importlib.util
import os
import secrets
import shlex
import socket
import sys
from dataclasses import dataclass

from labutils.core.errors import CLIError

DEFAULT_PORT = 8888
HOST = "127.0.0.1"


@dataclass(frozen=True)
class LabLaunch:
    """The command to run and the URL a person should open."""
    argv: list[str]
    url: str
    port: int
    token: str


def port_is_free(port: int, host: str = HOST) -> bool:
    """True when nothing listens on ``host:port`` and we may bind it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(start: int = DEFAULT_PORT, host: str = HOST, tries: int = 100) -> int:
    """The first port from ``start`` upward that is free on ``host``."""
    for port in range(start, start + tries):
        if port_is_free(port, host):
            return port
    raise CLIError(f"No free port between {start} and {start + tries - 1}; set LAB_PORT to one that is free.")


def has_display(env: dict | None = None, platform: str | None = None) -> bool:
    """Whether a browser can be opened here: always on macOS/Windows, on Linux only with X11 or Wayland."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    flag = env.get("LABUTILS_HEADLESS", "").strip().lower()
    if flag not in ("", "0", "false", "no"):
        return False
    if not platform.startswith("linux"):
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def parse_port(text: str | None) -> int | None:
    """``LAB_PORT`` as an int (None when unset or empty); a bad value is one clear sentence."""
    if text is None or not str(text).strip():
        return None
    try:
        port = int(str(text).strip())
    except ValueError:
        raise CLIError(f"LAB_PORT must be a port number such as 8888, not {text!r}.") from None
    if not 1 <= port <= 65535:
        raise CLIError(f"LAB_PORT must be between 1 and 65535, not {port}.")
    return port


def lab_command(paths: list[str], *, port: int, token: str, uid: int | None, display: bool,
                extra: list[str] | None = None, python: str | None = None) -> LabLaunch:
    """Build the JupyterLab command line for ``paths`` (files to open) and the URL to print.

    ``uid`` 0 adds ``--allow-root``; ``display`` False adds ``--no-browser``; ``extra`` comes last.
    """
    if not token or any(c.isspace() for c in token):
        raise CLIError("The JupyterLab token must be a non-empty word without spaces.")
    argv = [python or sys.executable, "-m", "jupyterlab", f"--ip={HOST}", f"--port={port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}"]
    if uid == 0:
        argv.append("--allow-root")
    if not display:
        argv.append("--no-browser")
    argv += list(extra or []) + list(paths)
    return LabLaunch(argv, f"http://{HOST}:{port}/lab?token={token}", port, token)


def plan(paths: list[str], env: dict | None = None) -> LabLaunch:
    """:func:`lab_command` filled in from this machine and the ``LAB_PORT``/``LAB_ARGS``/``JUPYTER_TOKEN`` variables."""
    env = os.environ if env is None else env
    port = parse_port(env.get("LAB_PORT"))
    if port is None:
        port = free_port()
    elif not port_is_free(port):
        raise CLIError(f"Port {port} (LAB_PORT) is already in use; pick another one or leave LAB_PORT unset.")
    token = env.get("JUPYTER_TOKEN") or secrets.token_hex(24)
    try:
        extra = shlex.split(env.get("LAB_ARGS", ""))
    except ValueError as err:
        raise CLIError(f"LAB_ARGS could not be split like a shell line: {err}.") from None
    uid = os.geteuid() if hasattr(os, "geteuid") else None
    return lab_command(paths, port=port, token=token, uid=uid, display=has_display(env), extra=extra)


def launch(paths: list[str]) -> int:
    """Print the URL, then become JupyterLab (``os.execv``; a child process on Windows)."""
    if importlib.util.find_spec("jupyterlab") is None:
        raise CLIError(f"JupyterLab is not installed for {sys.executable}; run "
                       f"`{sys.executable} -m pip install -c constraints.txt -e \".[lab]\"` (or `make setup`).")
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise CLIError(f"No such file or folder to open: {missing[0]}.")
    job = plan(paths)
    bar = "=" * min(100, len(job.url) + 6)
    print(f"\n{bar}\n  LLM Lab in JupyterLab{' (as root: --allow-root)' if '--allow-root' in job.argv else ''}\n"
          f"  Open {job.url}\n  Stop with Ctrl-C.\n{bar}\n", flush=True)
    if os.name == "posix":
        os.execv(job.argv[0], job.argv)
    import subprocess  # pragma: no cover - Windows
    return subprocess.call(job.argv)  # pragma: no cover
