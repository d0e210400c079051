"""``make site``: executed notebooks become offline HTML pages plus an index (labutils.tools.site)."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from labutils.core.errors import CLIError
from labutils.tools import site

FIGURE = {"data": [{"type": "scatter", "x": [1, 2, 3], "y": [3, 1, 2], "name": "loss"}],
          "layout": {"title": {"text": "a tiny curve"}}}


def _source(path, extra_code: str = "") -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}
    params = nbformat.v4.new_code_cell("PROFILE = None")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Tiny notebook · 小笔记本\n\nThe loss $L = -\\log p$."), params,
                nbformat.v4.new_code_cell(
                    "import plotly.graph_objects as go\nfrom IPython.display import display\n"
                    f"display(go.Figure({FIGURE!r}))\nprint('profile', PROFILE){extra_code}")]
    for i, c in enumerate(nb.cells):
        c["id"] = f"c{i}"
    nbformat.write(nb, str(path))
    return nb


def _fake_executed(src_nb, path, error: bool = False) -> None:
    """What papermill leaves: an injected-parameters cell, outputs, papermill metadata."""
    nb = nbformat.from_dict(json.loads(json.dumps(src_nb)))
    inj = nbformat.v4.new_code_cell('PROFILE = "smoke"')
    inj.metadata["tags"] = ["injected-parameters"]
    inj["id"] = "inj"
    nb.cells.insert(2, inj)
    outs = [nbformat.v4.new_output("display_data", data={site.PLOTLY_MIME: FIGURE}),
            nbformat.v4.new_output("stream", name="stdout", text="profile smoke\n")]
    if error:
        outs.append(nbformat.v4.new_output("error", ename="ValueError", evalue="bad input", traceback=[]))
    nb.cells[3].outputs = outs
    nb.metadata["papermill"] = {"duration": 4.2, "end_time": "2026-12-04T01:30:00.000000", "exception": error}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


def test_renderer_turns_an_executed_notebook_into_an_offline_page_and_an_index(tmp_home, tmp_path):
    src = tmp_path / "nbs" / "98_tiny.ipynb"
    src.parent.mkdir()
    nb = _source(src)
    _fake_executed(nb, tmp_home / "runs" / "smoke" / src.name)
    out = tmp_path / "site"
    index = site.build_site(out, profile="smoke", notebooks=[str(src)], execute="none", progress=None)
    text = index.read_text(encoding="utf-8")
    assert 'href="98_tiny.html"' in text and "Tiny notebook · 小笔记本" in text and ">ok<" in text
    page = (out / "98_tiny.html").read_text(encoding="utf-8")
    assert "Plotly.newPlot" in page and "a tiny curve" in page           # the figure is drawn, not dropped
    assert f'<script src="{site.PLOTLY_JS}"' in page and "require.min.js" not in page
    assert all("mathjax" in url.lower() for url in site.external_scripts(page)), site.external_scripts(page)
    assert "profile smoke" in page and "L = -\\log p" in page
    plotly_js = out / site.PLOTLY_JS
    assert plotly_js.stat().st_size > 1_000_000 and "newPlot" in plotly_js.read_text(encoding="utf-8")[:5_000_000]


def test_stale_failed_and_missing_notebooks_are_marked(tmp_home, tmp_path):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    ok, bad, gone = nbs / "95_ok.ipynb", nbs / "96_bad.ipynb", nbs / "97_gone.ipynb"
    _fake_executed(_source(ok), tmp_home / "runs" / "smoke" / ok.name)
    _source(ok, extra_code="\nprint('changed since the run')")              # source edited after the run
    _fake_executed(_source(bad), tmp_home / "runs" / "smoke" / bad.name, error=True)
    _source(gone)
    pages = {}
    site.build_site(tmp_path / "site", "smoke", [str(ok), str(bad), str(gone)], execute="none",
                    progress=lambda line: pages.setdefault("log", []).append(line))
    text = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert ">stale<" in text and ">failed<" in text and ">not executed<" in text
    assert "ValueError: bad input" in text and not (tmp_path / "site" / "97_gone.html").exists()
    assert site.is_current(bad, tmp_home / "runs" / "smoke" / bad.name)
    assert not site.is_current(ok, tmp_home / "runs" / "smoke" / ok.name)
    with pytest.raises(CLIError, match="--execute"):
        site.build_site(tmp_path / "x", "smoke", [str(ok)], execute="sometimes")


def test_missing_notebooks_are_executed_for_real_then_rendered(tmp_home, tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "jr"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipy"))
    src = tmp_path / "99_run.ipynb"
    _source(src)
    site.build_site(tmp_path / "site", "smoke", [str(src)], execute="missing", progress=None)
    executed = tmp_home / "runs" / "smoke" / src.name
    assert site.is_current(src, executed)                                   # where `labutils run` puts it
    page = (tmp_path / "site" / "99_run.html").read_text(encoding="utf-8")
    assert "profile smoke" in page and "Plotly.newPlot" in page
    assert ">ok<" in (tmp_path / "site" / "index.html").read_text(encoding="utf-8")


@pytest.mark.skipif(shutil.which("make") is None, reason="`make` is not installed")
def test_make_site_runs_this_renderer():
    root = Path(__file__).resolve().parent.parent
    dry = subprocess.run(["make", "-n", "--no-print-directory", "site", "SITE_PROFILE=smoke", "SITE_DIR=/tmp/x"],
                         cwd=root, capture_output=True, text=True, check=True).stdout
    assert "-m labutils site --profile smoke --out /tmp/x" in dry and "HF_HUB_OFFLINE=1" in dry
