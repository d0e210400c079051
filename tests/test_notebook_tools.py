import nbformat

from labutils.core.meta import COURSE_MAP, INSTALL_CELL, REPO_URL
from labutils.tools import notebooks as nt

SRC = '''# %% [markdown]
# # Title · 标题
#
# text
# %%
x = 1
# %% tags=["parameters"]
PROFILE = None
# %%
# NBVAL_CHECK_OUTPUT
x + 1
'''


def test_from_percent_builds_cells_with_tags():
    nb = nt.from_percent(SRC)
    assert [c.cell_type for c in nb.cells] == ["markdown", "code", "code", "code"]
    assert nb.cells[0].source == "# Title · 标题\n\ntext"
    assert nb.cells[2].metadata["tags"] == ["parameters"]
    nbformat.validate(nb)


def test_sync_install_cell_inserts_then_is_stable(tmp_path):
    path = tmp_path / "nb.ipynb"
    nt.write_notebook(nt.from_percent(SRC), path)
    assert nt.sync_install_cell(path) is True
    nb = nbformat.read(str(path), as_version=4)
    assert nb.cells[1].source == INSTALL_CELL and REPO_URL in INSTALL_CELL
    assert nt.sync_install_cell(path) is False


def test_strip_outputs_keeps_only_checked_cells():
    nb = nt.from_percent(SRC)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("stream", text="hi")]
            cell.execution_count = 7
    nt.strip_outputs(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [len(c.outputs) for c in code] == [0, 0, 1]
    assert code[0].execution_count is None and code[2].execution_count == 1


def test_course_map_has_16_numbered_notebooks():
    stems = [row[0] for row in COURSE_MAP]
    assert len(stems) == 16 and stems == sorted(stems)
    assert [s[:2] for s in stems] == [f"{i:02d}" for i in range(16)]


def test_readme_lists_every_notebook_of_the_map():
    from pathlib import Path
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for stem, *_ in COURSE_MAP:
        assert stem in readme, f"README's course map lacks {stem}"
