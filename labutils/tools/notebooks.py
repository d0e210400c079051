"""Upkeep of the course notebooks (maintainers, tests): build, freeze, sync the install cell.

- :func:`from_percent` turns a ``# %%``-style script into a notebook (how chapters are authored).
- :func:`freeze` executes a notebook in the smoke profile and stores only the outputs of cells
  marked ``# NBVAL_CHECK_OUTPUT`` (deterministic ones), so nbval can compare them and the
  committed notebook stays small.
- :func:`sync_install_cell` keeps every notebook's first code cell equal to
  :data:`labutils._meta.INSTALL_CELL` (the one place the repository URL lives).
"""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import nbformat

from labutils.core.errors import CLIError
from labutils.core.io import atomic_path
from labutils.core.meta import INSTALL_CELL

CHECK_MARK = "NBVAL_CHECK_OUTPUT"
_HEADER = re.compile(r"^# %%(?P<md> \[markdown\])?(?P<rest>.*)$")


def from_percent(text: str) -> nbformat.NotebookNode:
    """Build a notebook from ``# %%`` cells. ``# %% [markdown]`` cells have each line's ``# `` removed;
    ``# %% tags=["parameters"]`` sets tags. Text before the first marker is ignored."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                   "language_info": {"name": "python"}}
    current: dict | None = None

    def flush() -> None:
        if current is None:
            return
        lines = current["lines"]
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        if current["md"]:
            body = "\n".join(re.sub(r"^# ?", "", ln) for ln in lines)
            cell = nbformat.v4.new_markdown_cell(body)
        else:
            cell = nbformat.v4.new_code_cell("\n".join(lines))
        if current["tags"]:
            cell.metadata["tags"] = current["tags"]
        nb.cells.append(cell)

    for line in text.splitlines():
        m = _HEADER.match(line)
        if m:
            flush()
            tags = re.findall(r'"([^"]+)"', m.group("rest")) if "tags" in m.group("rest") else []
            current = {"md": bool(m.group("md")), "tags": tags, "lines": []}
        elif current is not None:
            current["lines"].append(line)
    flush()
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"c{i:03d}"
    return nb


def write_notebook(nb: nbformat.NotebookNode, path: str | os.PathLike) -> None:
    """Validate and write atomically."""
    nbformat.validate(nb)
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        nbformat.write(nb, fh)


def strip_outputs(nb: nbformat.NotebookNode, keep_checked: bool = True) -> None:
    """Remove outputs and execution counts, except on ``NBVAL_CHECK_OUTPUT`` cells if ``keep_checked``."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if not (keep_checked and CHECK_MARK in cell.source and cell.outputs):
            cell.outputs = []
            cell.execution_count = None
        else:  # nbval needs a checked cell to look run: keep a count, the same on every freeze
            cell.execution_count = 1
            for out in cell.outputs:
                if "execution_count" in out:
                    out["execution_count"] = 1
        cell.metadata.pop("execution", None)
        for key in ("papermill",):
            cell.metadata.pop(key, None)
    nb.metadata.pop("papermill", None)


def install_cell_index(nb: nbformat.NotebookNode) -> int | None:
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            return i if "find_spec(\"labutils\")" in cell.source else None
    return None


def sync_install_cell(path: str | os.PathLike) -> bool:
    """Make the first code cell the install cell; returns True if the file changed."""
    nb = nbformat.read(str(path), as_version=4)
    idx = install_cell_index(nb)
    if idx is not None and nb.cells[idx].source == INSTALL_CELL:
        return False
    if idx is not None:
        nb.cells[idx].source = INSTALL_CELL
    else:
        first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
        cell = nbformat.v4.new_code_cell(INSTALL_CELL)
        cell["id"] = "install"
        nb.cells.insert(first_code, cell)
    write_notebook(nb, path)
    return True


def freeze(path: str | os.PathLike, profile: str = "smoke") -> None:
    """Execute in ``profile`` (headless) and keep only the outputs of cells marked for nbval."""
    from labutils.tools.notebooks import execute_notebook
    path = Path(path)
    sync_install_cell(path)
    original = nbformat.read(str(path), as_version=4)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / path.name
        old = os.environ.get("LABUTILS_PROFILE")
        os.environ["LABUTILS_PROFILE"] = profile
        try:
            execute_notebook(path, profile, out)
        finally:
            if old is None:
                os.environ.pop("LABUTILS_PROFILE", None)
            else:
                os.environ["LABUTILS_PROFILE"] = old
        executed = nbformat.read(str(out), as_version=4)
    by_id = {c.get("id"): c for c in executed.cells}
    for cell in original.cells:
        if cell.cell_type == "code":
            cell.outputs = by_id[cell["id"]].outputs if CHECK_MARK in cell.source and cell.get("id") in by_id else []
    strip_outputs(original)
    write_notebook(original, path)


def _repo_notebooks() -> Path:
    here = Path(__file__).resolve().parent.parent / "notebooks"
    return here if here.is_dir() else Path.cwd() / "notebooks"


# -------------------------------------------------------------------------------------- run
def _find_notebooks(names: list[str]) -> list[Path]:
    base = _repo_notebooks()
    if not names:
        found = sorted(base.glob("[0-9][0-9]_*.ipynb"))
        if not found:
            raise CLIError(f"No notebooks found in {base}.")
        return found
    out = []
    for name in names:
        candidates = [Path(name), base / name, base / f"{name}.ipynb"]
        candidates += sorted(base.glob(f"{name}_*.ipynb")) if name.isdigit() else []
        hit = next((c for c in candidates if c.is_file()), None)
        if hit is None:
            known = ", ".join(p.stem for p in sorted(base.glob("*.ipynb")))
            raise CLIError(f"No notebook {name!r}; known notebooks: {known or '(none)'}.")
        out.append(hit.resolve())
    return out


def execute_notebook(path: Path, profile: str, output: Path, timeout: int | None = None) -> None:
    """Run one notebook with papermill in ``profile``, headless; raises on a failing cell."""
    import papermill as pm
    os.environ["LABUTILS_HEADLESS"] = "1"
    output.parent.mkdir(parents=True, exist_ok=True)
    pm.execute_notebook(str(path), str(output), parameters={"PROFILE": profile}, kernel_name="python3",
                        progress_bar=False, cwd=str(path.parent), execution_timeout=timeout,
                        log_output=False)
