"""Shared fixtures: a private cache home and a clean profile/results state for every test."""
from __future__ import annotations

import pytest


@pytest.fixture
def tmp_home(tmp_path, monkeypatch):
    """Point LABUTILS_HOME at a fresh directory."""
    home = tmp_path / "labhome"
    monkeypatch.setenv("LABUTILS_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def _reset_state(monkeypatch):
    from labutils.core import profiles, results
    saved_profile, saved_nb = profiles._current, results._notebook
    yield
    profiles._current = saved_profile
    results._notebook = saved_nb
