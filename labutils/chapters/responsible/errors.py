"""Notebook 14's error: a bad input to a responsible-LLM helper gets one sentence, not a deep traceback."""
from __future__ import annotations

from labutils.core.errors import LabError


class ResponsibleError(LabError):
    """A bad input to a notebook-14 helper (one clear sentence)."""
