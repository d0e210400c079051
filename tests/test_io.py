"""Atomic writes (labutils.core.io): nothing half-written survives a failure."""
from __future__ import annotations

import pytest

from labutils.core.io import atomic_dir, atomic_path, atomic_write_text


def test_atomic_file_replaces_only_on_success(tmp_path):
    target = tmp_path / "a" / "x.json"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in target.parent.iterdir()] == ["x.json"]      # no temporary file left
    atomic_write_text(target, "new")
    assert target.read_text() == "new"


def test_atomic_dir_swaps_whole_directories(tmp_path):
    target = tmp_path / "model"
    with atomic_dir(target) as tmp:
        (tmp / "weights").write_text("v1")
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            (tmp / "weights").write_text("half")
            raise RuntimeError("killed")
    assert (target / "weights").read_text() == "v1"
    with atomic_dir(target) as tmp:
        (tmp / "weights").write_text("v2")
    assert (target / "weights").read_text() == "v2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]       # the old copy and temp dirs are gone
