"""A static HTML rendering of the executed course: ``make site`` / ``python -m labutils site``.

The executed notebooks are the ones ``python -m labutils run`` writes (``cache_home("runs", PROFILE)``).
:func:`build_site` runs the notebooks that have no executed copy there yet, or whose copy is stale
(its cells differ from the source notebook's), renders each with nbconvert's ``lab`` template and
writes an ``index.html`` with one row per notebook (title, status, run time, figures).

Offline by construction:

- plotly figures (stored as ``application/vnd.plotly.v1+json``, which nbconvert does not draw) are
  turned into ``<div>``\\ s, and the pages load one local ``plotly.min.js`` copied next to them from
  the installed plotly package, instead of a CDN;
- require.js (a CDN script in nbconvert's template, and one that would hide ``window.Plotly``) is
  removed; CSS is inlined by nbconvert; images are embedded in the outputs already;
- MathJax stays as an online extra: without a network the LaTeX source is shown as written.
"""
from __future__ import annotations

import html
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from labutils.core.errors import CLIError

PLOTLY_MIME = "application/vnd.plotly.v1+json"
PLOTLY_JS = "plotly.min.js"
_REQUIRE_JS = re.compile(r'<script src="[^"]*require(?:\.min)?\.js"></script>')
_EXTERNAL_SCRIPT = re.compile(r'<script[^>]+src="(https?://[^"]+)"')
MODES = ("missing", "all", "none")


@dataclass
class Page:
    """One notebook of the site: where it came from, what happened to it, what it shows."""
    stem: str
    status: str                       # ok | failed | stale | not executed
    title: str = ""
    html: str | None = None           # file name in the site folder
    seconds: float | None = None
    executed_at: str = ""
    figures: int = 0
    errors: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------- notebooks
def _cells(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    """(type, source) of every cell but papermill's injected-parameters cell."""
    return [(c.cell_type, c.source) for c in nb.cells
            if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]


def is_current(source: Path, executed: Path) -> bool:
    """True when ``executed`` exists and holds the same cells as ``source`` (outputs aside)."""
    if not executed.is_file():
        return False
    try:
        return _cells(nbformat.read(str(executed), as_version=4)) == _cells(nbformat.read(str(source), as_version=4))
    except Exception:  # noqa: BLE001 - an unreadable executed copy is simply not current
        return False


def title_of(nb: nbformat.NotebookNode, fallback: str) -> str:
    """The first markdown heading (``# Title · 标题``), else ``fallback``."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#{1,2}\s+(.+)$", cell.source, flags=re.M)
            if m:
                return m.group(1).strip()
    return fallback


def error_lines(nb: nbformat.NotebookNode) -> list[str]:
    """``ename: evalue`` of every error output."""
    return [f"{o.get('ename', 'Error')}: {str(o.get('evalue', ''))[:200]}" for c in nb.cells
            if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]


def plotly_outputs_to_html(nb: nbformat.NotebookNode) -> int:
    """Replace each plotly JSON output by an HTML ``<div>`` that draws it with a global ``Plotly``.

    Returns the number of figures converted. The JSON is dropped from the output (the page is
    for reading); the notebook object is changed in place.
    """
    import plotly.io as pio
    count = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            data = out.get("data", {})
            if PLOTLY_MIME not in data:
                continue
            fig = data[PLOTLY_MIME]
            fig = json.loads(fig) if isinstance(fig, str) else dict(fig)
            div = pio.to_html(fig, include_plotlyjs=False, full_html=False, validate=False,
                              config={"displaylogo": False, "responsive": True})
            out["data"] = {"text/html": div, "text/plain": data.get("text/plain", "<plotly figure>")}
            count += 1
    return count


def render_notebook(executed: Path, target: Path, stem: str | None = None) -> Page:
    """Render one executed notebook to ``target`` (HTML, lab template); returns its :class:`Page`."""
    from nbconvert import HTMLExporter
    nb = nbformat.read(str(executed), as_version=4)
    stem = stem or executed.stem
    figures = plotly_outputs_to_html(nb)
    exporter = HTMLExporter(template_name="lab")
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title_of(nb, stem)}})
    body = _REQUIRE_JS.sub("", body)
    if figures:
        body = body.replace("</head>", f'<script src="{PLOTLY_JS}" charset="utf-8"></script>\n</head>', 1)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(body, encoding="utf-8")
    meta = nb.metadata.get("papermill", {})
    errors = error_lines(nb)
    return Page(stem=stem, status="failed" if errors or meta.get("exception") else "ok",
                title=title_of(nb, stem), html=target.name, seconds=meta.get("duration"),
                executed_at=str(meta.get("end_time") or "")[:19].replace("T", " "), figures=figures, errors=errors)


def external_scripts(text: str) -> list[str]:
    """The ``http(s)`` URLs of ``<script src=…>`` tags in a page (MathJax is the only one expected)."""
    return _EXTERNAL_SCRIPT.findall(text)


# ----------------------------------------------------------------------------------- site
def write_plotly_js(out_dir: Path) -> Path:
    """Copy the installed plotly.js (the version the figures were made with) next to the pages."""
    from plotly.offline import get_plotlyjs
    path = out_dir / PLOTLY_JS
    path.write_text(get_plotlyjs(), encoding="utf-8")
    return path


_INDEX_CSS = """body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1000px;margin:2em auto;
padding:0 1em;color:#222}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.4em .6em;
border-bottom:1px solid #ddd;vertical-align:top}th{background:#f5f5f5}.ok{color:#1a7f37}.failed{color:#c62828}
.missing{color:#888}small{color:#666}code{background:#f5f5f5;padding:0 .2em}"""


def write_index(pages: list[Page], out_dir: Path, profile: str) -> Path:
    """``index.html``: one row per notebook, linking to its page."""
    rows = []
    for p in pages:
        cls = {"ok": "ok", "failed": "failed"}.get(p.status, "missing")
        name = (f'<a href="{html.escape(p.html)}">{html.escape(p.title or p.stem)}</a>' if p.html
                else html.escape(p.title or p.stem))
        secs = f"{p.seconds:.0f} s" if isinstance(p.seconds, (int, float)) else ""
        err = f"<br><small>{html.escape(p.errors[0])}</small>" if p.errors else ""
        rows.append(f"<tr><td><code>{html.escape(p.stem)}</code></td><td>{name}{err}</td>"
                    f'<td class="{cls}">{html.escape(p.status)}</td><td>{secs}</td><td>{p.figures}</td>'
                    f"<td><small>{html.escape(p.executed_at)}</small></td></tr>")
    n_ok = sum(p.status == "ok" for p in pages)
    text = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>LLM Lab · 大语言模型原理与工程实践 — executed course ({html.escape(profile)})</title>
<style>{_INDEX_CSS}</style></head><body>
<h1>LLM Lab · 大语言模型原理与工程实践</h1>
<p>The course as executed in the <b>{html.escape(profile)}</b> profile: {n_ok} of {len(pages)} notebooks ran
without error. Each page is static HTML that reads offline (plotly figures are drawn by the local
<code>{PLOTLY_JS}</code>; formulae are typeset only when MathJax can be reached). Built {time.strftime("%Y-%m-%d %H:%M")}
with <code>make site</code>.</p>
<table><tr><th>notebook</th><th>title</th><th>status</th><th>run time</th><th>figures</th><th>executed</th></tr>
{chr(10).join(rows)}
</table></body></html>
"""
    path = out_dir / "index.html"
    path.write_text(text, encoding="utf-8")
    return path


def build_site(out_dir: str | Path, profile: str = "cpu", notebooks: list[str] | None = None,
               execute: str = "missing", timeout: int | None = None, progress=print) -> Path:
    """Execute what is missing or stale (``execute``: missing, all or none), render, index; returns index.html.

    Executed copies live where ``python -m labutils run`` puts them, so a recorded run is reused.
    A notebook that fails still gets a page (up to its failing cell) and a red row in the index.
    """
    if execute not in MODES:
        raise CLIError(f"--execute must be one of {', '.join(MODES)}, not {execute!r}.")
    progress = progress or (lambda *_: None)
    import os

    from labutils.core import env, profiles
    from labutils.tools.notebooks import _find_notebooks, execute_notebook
    profile = profiles.explain(profile)[0]
    sources = _find_notebooks(list(notebooks or []))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = env.cache_home("runs", profile)
    pages: list[Page] = []
    old = os.environ.get("LABUTILS_PROFILE")
    os.environ["LABUTILS_PROFILE"] = profile
    try:
        for src in sources:
            executed = runs / src.name
            stale = not is_current(src, executed)
            if execute == "all" or (execute == "missing" and stale):
                t0 = time.perf_counter()
                progress(f"  running {src.stem} ({profile}) …")
                try:
                    execute_notebook(src, profile, executed, timeout=timeout)
                except Exception as err:  # noqa: BLE001 - a failing notebook still gets its page
                    progress(f"  {src.stem}: FAILED ({type(err).__name__}) after {time.perf_counter() - t0:.0f} s")
            if not executed.is_file():
                pages.append(Page(stem=src.stem, status="not executed",
                                  title=title_of(nbformat.read(str(src), as_version=4), src.stem)))
                continue
            page = render_notebook(executed, out_dir / f"{src.stem}.html", stem=src.stem)
            if page.status == "ok" and not is_current(src, executed):
                page.status = "stale"             # rendered, but the source notebook changed since that run
            pages.append(page)
            progress(f"  {src.stem}: {page.status}, {page.figures} figure(s) -> {out_dir / page.html}")
    finally:
        if old is None:
            os.environ.pop("LABUTILS_PROFILE", None)
        else:
            os.environ["LABUTILS_PROFILE"] = old
    if any(p.figures for p in pages):
        write_plotly_js(out_dir)
    index = write_index(pages, out_dir, profile)
    progress(f"site: {sum(p.status == 'ok' for p in pages)}/{len(pages)} ok; open {index}")
    return index
