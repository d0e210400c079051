"""Atomic writes: the one way the course writes a file or a directory that something later reads.

A file or directory is built under a temporary name next to its target and moved into place with
``os.replace`` only when it is complete, so a crash, a killed kernel or a full disk never leaves a half-written
checkpoint, data set or model where a loader would take it for a good one (notebook 04 teaches why).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Iterator

STALE_S = 600   # temporary directories older than this were left by a killed run and are removed


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; write it, and it replaces ``target`` when the block ends.

    If the block raises, the temporary file is removed and ``target`` is left as it was.

        >>> with atomic_path(cache_home("x.json")) as tmp:   # doctest: +SKIP
        ...     tmp.write_text("{}")
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{target.name}-", suffix=target.suffix if suffix is None else suffix,
                               dir=target.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_bytes(target: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically; returns the target path."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def atomic_write_text(target: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``target`` atomically; returns the target path."""
    return atomic_write_bytes(target, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike, complete: str | None = None) -> Iterator[Path]:
    """Yield a temporary directory next to ``target``; fill it, and it becomes ``target`` when the block ends.

    An existing ``target`` is moved aside first (a directory cannot be replaced in one step) and deleted after
    the swap. ``complete`` names the file that marks a finished directory: if another process finished the
    same target in between, its copy is kept. Temporary directories older than :data:`STALE_S` seconds
    (from a killed run) are removed. If the block raises, nothing is left behind and ``target`` is untouched.
    """
    target = Path(target)
    root = target.parent
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(f".tmp-{target.name}-*"):
        with contextlib.suppress(OSError):
            if time.time() - stale.stat().st_mtime > STALE_S:
                shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{target.name}-", dir=root))
    os.chmod(tmp, 0o755)                                 # mkdtemp makes it 0700
    try:
        yield tmp
        old = root / f".tmp-{target.name}-old-{os.getpid()}-{time.time_ns()}"
        try:
            os.replace(target, old)
        except FileNotFoundError:
            old = None
        try:
            os.replace(tmp, target)
        except OSError:                                  # someone else put a finished copy there meanwhile?
            if complete is None or not (target / complete).is_file():
                if old is not None and not target.exists():
                    os.replace(old, target)              # no: put the old copy back before raising
                raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
