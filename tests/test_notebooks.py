"""Every notebook runs top to bottom in the smoke profile, within budget, and its figures are honest.

New notebooks are picked up automatically; each needs a bounds file tests/bounds/nbNN.py with
``def check(fig: dict, profile: str)`` asserting on the figures it recorded.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import time
from pathlib import Path

import nbformat
import pytest

from labutils.core import results
from labutils.core.meta import INSTALL_CELL
from labutils.tools.notebooks import execute_notebook

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
BUDGET_S = float(os.environ.get("LABUTILS_NB_BUDGET", "90"))


def _bounds(stem: str):
    path = ROOT / "tests" / "bounds" / f"nb{stem[:2]}.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location(f"bounds_nb{stem[:2]}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_notebooks_exist():
    assert NOTEBOOKS, "no notebooks found"


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_structure(nb_path):
    nb = nbformat.read(str(nb_path), as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and re.search(r"[\u4e00-\u9fff]", first.source), "bilingual title"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].source == INSTALL_CELL, "run `python -m labutils sync-notebooks`"
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and re.search(r"^PROFILE = None", params[0].source, re.M)
    import papermill
    assert "PROFILE" in papermill.inspect_notebook(str(nb_path)), "papermill cannot parse the parameters cell"
    text = "\n".join(c.source for c in nb.cells)
    assert f'lu.start("{nb_path.stem}"' in text, "start() must name the notebook"
    assert re.search(r"(?i)learning objectives", text) and re.search(r"(?i)summary", text)
    for cell in code:
        if "NBVAL_CHECK_OUTPUT" not in cell.source:
            assert not cell.outputs, "commit notebooks with outputs cleared (python -m labutils freeze)"
        assert not any(o.get("output_type") == "error" for o in cell.outputs)
    assert _bounds(nb_path.stem) is not None, f"add tests/bounds/nb{nb_path.stem[:2]}.py"


_STALE_BAR = re.compile(r"(?<![0-9])0%\|[^\n]*\b0/[1-9][0-9]*")


def _stale_progress_bars(executed: Path) -> list[str]:
    """Outputs of an executed notebook that show a progress bar at 0 % (what a widget bar stores headless)."""
    nb = nbformat.read(str(executed), as_version=4)
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            texts = [out.get("text", "")] + [str(v) for k, v in out.get("data", {}).items() if k == "text/plain"]
            found += [m.group(0) for t in texts for m in _STALE_BAR.finditer("".join(t))]
    return found


def test_stale_progress_bar_detector(tmp_path):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/plain": "MLM:   0%|          | 0/600 [00:00<?, ?it/s]"}),
                    nbformat.v4.new_output("stream", text="MLM: 100%|██████| 600/600 [01:10<00:00, 8.57it/s]\n")]
    nb.cells.append(cell)
    nbformat.write(nb, str(tmp_path / "x.ipynb"))
    assert _stale_progress_bars(tmp_path / "x.ipynb") == ["0%|          | 0/600"]


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_smoke(nb_path, tmp_path, monkeypatch):
    target = tmp_path / "results.jsonl"
    monkeypatch.setenv("LABUTILS_RESULTS", str(target))
    monkeypatch.setenv("LABUTILS_PROFILE", "smoke")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    execute_notebook(nb_path, "smoke", tmp_path / nb_path.name, timeout=600)
    seconds = time.perf_counter() - t0
    entries = results.read(target, notebook=nb_path.stem)
    bench = os.environ.get("LABUTILS_BENCH")
    if bench:  # benchmarks collect run times here; the budget below is the test
        with open(bench, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"notebook": nb_path.stem, "profile": "smoke", "seconds": round(seconds, 1)}) + "\n")
    assert entries, "the notebook recorded no figure"
    assert {e["profile"] for e in entries} == {"smoke"}
    # a stored progress bar must be a finished line, never the first frame of a widget ("  0%|  0/800")
    stale = _stale_progress_bars(tmp_path / nb_path.name)
    assert not stale, f"stored progress bars show their first frame: {stale[:3]}"
    _bounds(nb_path.stem).check(results.latest(entries), "smoke")
    assert seconds < BUDGET_S, f"{nb_path.stem} took {seconds:.0f}s in smoke (budget {BUDGET_S:.0f}s)"
