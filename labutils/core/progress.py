"""Progress bars that read well both live and in a stored notebook.

Live (JupyterLab, a terminal) :func:`tqdm` is ``tqdm.auto.tqdm``: a widget or a text bar that
moves. Headless (papermill, nbval, CI: :func:`labutils.core.env.is_headless`) a widget bar would be
stored as its first frame, ``0%| 0/800``, which is all GitHub, nbviewer or a static HTML export can
show. There each bar draws nothing while it runs and prints **one finished line** when it closes,
e.g. ``MLM: 100%|██████████| 800/800 [00:45<00:00, 17.6it/s, loss=5.21]``.
"""
from __future__ import annotations

import io
import sys

from labutils.core.env import is_headless

__all__ = ["tqdm", "SummaryBar"]


def _summary_class():
    from tqdm.std import tqdm as std_tqdm

    class SummaryBar(std_tqdm):
        """A tqdm that stays silent while it runs and prints its final state once, on close."""

        def __init__(self, *args, **kwargs):
            kwargs.pop("file", None)
            kwargs.setdefault("ncols", 80)
            kwargs.setdefault("ascii", False)
            kwargs["mininterval"] = float("inf")   # never redraw while running
            kwargs["file"] = io.StringIO()
            super().__init__(*args, **kwargs)
            self._summary_done = False

        def close(self):
            if not self.disable and not self._summary_done and self.n > 0:
                self._summary_done = True
                line = self.format_meter(**{**self.format_dict, "ncols": 80})
                print(line.strip(), file=sys.stdout, flush=True)
            super().close()

    return SummaryBar


def SummaryBar(*args, **kwargs):  # noqa: N802 - a class factory that reads as the class
    """Build the headless bar (see the module docstring)."""
    return _summary_class()(*args, **kwargs)


def tqdm(*args, **kwargs):
    """``tqdm.auto.tqdm`` when someone watches, else a bar that prints one finished line at the end."""
    if is_headless():
        return SummaryBar(*args, **kwargs)
    from tqdm.auto import tqdm as auto_tqdm
    return auto_tqdm(*args, **kwargs)
