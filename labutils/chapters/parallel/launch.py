"""Notebook 10, starting processes that always end: a free port, ``mp.spawn`` with a deadline, ``torchrun``.

Every launcher here has a timeout; on timeout or on a failed worker the remaining workers are terminated
(``mp.spawn``'s process context kills the survivors, and ``torchrun`` runs in its own process group, which
we kill whole), so a crashed or stuck rank never leaves a hung process behind. Errors a learner can cause (a
port that is taken, a world size that cannot work) raise :class:`~labutils.core.errors.ParallelError`.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from typing import Any, Callable

from labutils.core.errors import ParallelError

MAX_WORLD = 8


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (bind port 0 and let the OS choose)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_port(port: int) -> int:
    """``port`` if nothing listens on it, else a :class:`ParallelError`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", int(port)))
        except OSError:
            raise ParallelError(f"Port {port} is already in use; pass port=None to pick a free one.") from None
    return int(port)


def check_world_size(world_size: Any, *, max_world: int = MAX_WORLD) -> int:
    """The world size as an int, if 1 ≤ it ≤ ``max_world``."""
    if not isinstance(world_size, int) or isinstance(world_size, bool) or not 1 <= world_size <= max_world:
        raise ParallelError(f"world_size must be an integer from 1 to {max_world}, got {world_size!r}.")
    return world_size


def _entry(rank: int, fn: Callable, world_size: int, port: int, args: tuple) -> None:
    import torch
    torch.set_num_threads(1)                    # 2 ranks on 2 cores: one thread each
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank))
    fn(*args)


_COLLATERAL = ("Connection closed by peer", "remote worker crashing", "Connection reset by peer", "Broken pipe")


def _root_cause(ctx, fallback: str) -> str:
    """The last line of the traceback of the worker that failed first in substance: when one rank crashes, the
    others fail too ("Connection closed by peer"), and whichever exits first is what ``join`` reports."""
    import pickle
    lines = []
    for path in getattr(ctx, "error_files", []):
        try:
            with open(path, "rb") as fh:
                tb = str(pickle.load(fh)).strip().splitlines()
        except (OSError, EOFError, pickle.UnpicklingError):
            continue
        if tb:
            lines.append(tb[-1])
    fallback_lines = fallback.strip().splitlines()
    lines = lines or ([fallback_lines[-1]] if fallback_lines else ["no message"])
    return next((m for m in lines if not any(c in m for c in _COLLATERAL)), lines[0])


def spawn(fn: Callable, world_size: int, *args: Any, port: int | None = None, timeout: float = 120.0) -> None:
    """Run ``fn(*args)`` in ``world_size`` processes (``torch.multiprocessing``, start method spawn).

    Each process gets ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` in its environment (so
    ``init_process_group(init_method="env://")`` works, as under ``torchrun``) and one CPU thread. ``fn`` must be
    importable (defined in a ``.py`` module, not in the notebook). A failed worker or the deadline raises
    :class:`ParallelError` after every worker is gone.
    """
    import torch.multiprocessing as mp

    world_size = check_world_size(world_size)
    port = free_port() if port is None else check_port(port)
    ctx = mp.start_processes(_entry, args=(fn, world_size, port, args), nprocs=world_size, join=False,
                             start_method="spawn")
    deadline = time.monotonic() + timeout
    try:
        while not ctx.join(timeout=0.5):
            if time.monotonic() > deadline:
                raise ParallelError(f"The {world_size} workers did not finish within {timeout:.0f} s; they were stopped.")
    except mp.ProcessRaisedException as err:
        msg = _root_cause(ctx, str(err))
        raise ParallelError(f"A worker failed ({msg}); the others were stopped.") from None
    except mp.ProcessExitedException as err:
        raise ParallelError(f"A worker exited with code {err.exit_code}; the others were stopped.") from None
    finally:
        for p in ctx.processes:
            if p.is_alive():
                p.terminate()
            p.join(5)
            if p.is_alive():
                p.kill()


def torchrun(module: str, script_args: list[str], nproc: int = 2, timeout: float = 120.0,
             threads: int = 1) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc_per_node nproc -m module script_args`` with a deadline.

    ``--standalone`` starts a local rendezvous on a free port. The launcher runs in its own process group;
    on timeout the whole group is killed. A non-zero exit raises :class:`ParallelError` with the last line of
    the workers' error output.
    """
    nproc = check_world_size(nproc)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", module, *map(str, script_args)]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise ParallelError(f"torchrun did not finish within {timeout:.0f} s; its process group was killed.") from None
    if proc.returncode != 0:
        lines = [ln for ln in err.strip().splitlines() if ln.strip()]
        raised = [ln for ln in lines if re.match(r"^\s*(\[rank\d+\]:\s*)?[\w.]*(Error|Exception): ", ln)
                  or "error: " in ln]
        raised = [ln for ln in raised if "ChildFailedError" not in ln] or raised   # the worker's own error first
        why = raised[-1] if raised else (lines[-1] if lines else "no output")
        raise ParallelError(f"torchrun exited with code {proc.returncode}: {why.strip()[:300]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)
