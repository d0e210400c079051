"""The course in a real browser: every notebook runs in JupyterLab in headless Chromium, driven by Playwright.

One JupyterLab (loopback, random port, a token, private Jupyter folders; see
:class:`labutils.tools.browser.LabServer`) and one Chromium serve all notebooks; each notebook
(``notebooks/[0-9][0-9]_*.ipynb``, copied to a temporary root so the repository is never written) is a
test of its own. Its kernel runs with ``LABUTILS_PROFILE=smoke`` and ``LABUTILS_HEADLESS=0`` (so widgets and
live plots take their live path, as for a learner), offline. For each notebook the test asserts:

- every code cell ran (Run All), and no output is an error or a stream with a Python traceback;
- every cell that calls ``lu.widgets.…(`` shows live ipywidgets (a ``.widget-vbox`` holding controls and a
  ``.widget-output``, as :func:`labutils.viz.interactive.interactive_view` builds it), never the static
  fallback text, and no widget output shows the "⚠" sentence of a failed redraw;
- moving one control of the notebook's first widget (a slider, else a dropdown, a checkbox or a text box)
  changes that widget's output (its text, and the data and layout of any plotly figure in it);
- live training plots update: a "live plot" is a plotly figure that the kernel sent two or more times,
  with the same title, while one cell ran (read from the kernel's iopub messages in the page). A notebook
  whose code makes a ``LiveLossPlot`` must have one; for each, the points grew from one figure to the
  next, and the browser shows exactly one plot under that title in the cell, holding the last figure's
  points (redrawn in place: neither appended figures nor a stale first frame). The distinct point counts
  a 0.2 s DOM sampler saw drawn there go to the report (a smoke loop may be faster than the sampler);
- the run recorded figures in the smoke profile (``LABUTILS_RESULTS``), so the kernel saw our environment.

A screenshot per notebook goes to ``cache_home("browser-test")``, with ``report.json`` (times, counts).
When server or kernels end, no process of this run may be left (checked after each notebook and at the end).

No Chromium (``$LABUTILS_CHROMIUM``, ``chromium`` on PATH, ``/usr/bin/chromium``) or no ``playwright``:
skipped with one line. ``LABUTILS_BROWSER_NOTEBOOKS=00,04`` limits the run to those notebooks;
``LABUTILS_BROWSER_TIMEOUT`` (seconds, default 300) bounds each notebook's Run All.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from labutils.core.env import cache_home
from labutils.tools.browser import LabServer, find_chromium

ROOT = Path(__file__).resolve().parent.parent
_ONLY = [p.strip() for p in os.environ.get("LABUTILS_BROWSER_NOTEBOOKS", "").split(",") if p.strip()]
NOTEBOOKS = [p for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
             if not _ONLY or any(p.stem.startswith(o) for o in _ONLY)]
TIMEOUT_S = float(os.environ.get("LABUTILS_BROWSER_TIMEOUT", "300"))
WIDGET_CALL = re.compile(r"^[^#\n]*\blu\.widgets\.\w+\(", re.M)
LIVE_PLOT = re.compile(r"^[^#\n]*\bLiveLossPlot\(", re.M)
STATIC_FALLBACK = "Interactive widget (static here"
CONTROLS = ".widget-slider, .widget-dropdown, .widget-checkbox, .widget-text, .widget-textarea, .widget-toggle-buttons"
JS = (Path(__file__).with_name("browser_hooks.js")).read_text(encoding="utf-8")


# ------------------------------------------------------------------ unit tests of the helpers (always run)
def test_find_chromium_honours_the_variable_and_refuses_a_bad_one(tmp_path):
    from labutils.core.errors import CLIError
    fake = tmp_path / "my-chromium"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    assert find_chromium({"LABUTILS_CHROMIUM": str(fake), "PATH": ""}) == str(fake)
    with pytest.raises(CLIError, match="LABUTILS_CHROMIUM"):
        find_chromium({"LABUTILS_CHROMIUM": str(tmp_path / "missing"), "PATH": ""})


def test_widget_and_live_plot_cells_are_recognised():
    assert WIDGET_CALL.search("x = 1\n_ = lu.widgets.sampling_widget(model)")
    assert not WIDGET_CALL.search("# lu.widgets.sampling_widget(model) is below")
    assert LIVE_PLOT.search("plot = lu.plots.LiveLossPlot('x')")
    assert not LIVE_PLOT.search("# a lu.plots.LiveLossPlot('x') would go here")


# ------------------------------------------------------------------ fixtures: one server and one browser
@pytest.fixture(scope="module")
def chromium():
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e .[dev])")
    path = find_chromium()
    if path is None:
        pytest.skip("no Chromium found: install Debian's chromium or set LABUTILS_CHROMIUM to one")
    return path


@pytest.fixture(scope="module")
def lab(chromium, tmp_path_factory):
    root = tmp_path_factory.mktemp("lab-root")
    (root / "notebooks").mkdir()
    results = root / "results.jsonl"
    server = LabServer(root, env={"LABUTILS_PROFILE": "smoke", "LABUTILS_HEADLESS": "0",
                                  "LABUTILS_RESULTS": str(results), "HF_HUB_OFFLINE": "1",
                                  "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    try:
        server.start()
        server.results = results
        yield server
    finally:
        left = server.stop()
        assert not left, f"processes left behind after the server stopped: {left}"


@pytest.fixture(scope="module")
def browser_page(chromium, lab):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True,
                                     args=["--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"])
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.goto(f"{lab.url}/lab?token={lab.token}", wait_until="domcontentloaded")  # sets the login cookie
            page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=120_000)
            page.evaluate("async () => { await window.jupyterapp.restored; }")
            yield page
        finally:
            browser.close()


REPORT: dict = {}


def _write_report() -> None:
    target = cache_home("browser-test") / "report.json"
    target.write_text(json.dumps(REPORT, indent=1), encoding="utf-8")


# ------------------------------------------------------------------ the notebook test
def _cells(nb_path: Path) -> list[dict]:
    import nbformat
    nb = nbformat.read(str(nb_path), as_version=4)
    return [{"type": c.cell_type, "source": c.source} for c in nb.cells]


def _ansi_free(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def _open_and_run(page, lab, name: str, timeout_s: float) -> dict:
    """Open notebooks/<name>, wait for its kernel, Run All, and wait until every cell has finished."""
    page.evaluate("async (path) => { const app = window.jupyterapp;"
                  " await app.commands.execute('docmanager:open', {path, factory: 'Notebook'}); }",
                  f"notebooks/{name}")
    page.wait_for_function("(path) => window.luReady(path)", arg=f"notebooks/{name}", timeout=180_000)
    page.evaluate("(path) => window.luRunAll(path)", f"notebooks/{name}")
    deadline = time.monotonic() + timeout_s
    state = None
    while time.monotonic() < deadline:
        state = page.evaluate("() => window.luState()")
        if state["done"] and state["idle"] and not state["running"]:
            return state
        time.sleep(0.5)
    raise AssertionError(f"{name}: Run All did not finish within {timeout_s:.0f} s "
                         f"(set LABUTILS_BROWSER_TIMEOUT); last state {state}")


def _move_first_control(page, cell: int) -> str:
    """Change one control of the first widget in cell ``cell``; returns what was done."""
    box = page.locator(f'[data-lu-cell="{cell}"] .widget-vbox:has(> .widget-output)').first
    box.scroll_into_view_if_needed()
    slider = box.locator(".widget-slider").first
    if slider.count():
        track = slider.locator(".noUi-target").first
        readout = slider.locator(".widget-readout").first
        before = readout.inner_text()
        bb = track.bounding_box()
        for frac in (0.25, 0.75, 0.5):
            page.mouse.click(bb["x"] + frac * bb["width"], bb["y"] + bb["height"] / 2)
            page.wait_for_timeout(200)
            if readout.inner_text() != before:
                return f"slider {slider.inner_text().splitlines()[0]!r}: {before} -> {readout.inner_text()}"
        raise AssertionError(f"clicking the slider track did not move it (readout stayed {before})")
    select = box.locator(".widget-dropdown select").first
    if select.count():
        options = select.locator("option").all_inner_texts()
        current = select.evaluate("s => s.options[s.selectedIndex].text")
        choice = next(o for o in options if o != current)
        select.select_option(label=choice)
        return f"dropdown: {current} -> {choice}"
    checkbox = box.locator(".widget-checkbox input").first
    if checkbox.count():
        checkbox.click()
        return "checkbox toggled"
    text = box.locator(".widget-text input, .widget-textarea textarea").first
    if text.count():
        old = text.input_value()
        text.fill(old + " and a new ending")
        text.press("Tab")
        return "text edited"
    raise AssertionError("the first widget has no control this test knows how to move")


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_in_browser(nb_path, lab, browser_page):
    page = browser_page
    name = nb_path.name
    shutil.copy(nb_path, lab.root / "notebooks" / name)
    cells = _cells(nb_path)
    widget_cells = [i for i, c in enumerate(cells) if c["type"] == "code" and WIDGET_CALL.search(c["source"])]
    has_live_plot = any(c["type"] == "code" and LIVE_PLOT.search(c["source"]) for c in cells)
    info = REPORT.setdefault(nb_path.stem, {})
    t0 = time.perf_counter()
    try:
        page.evaluate(JS)
        page.evaluate("() => window.luWatch()")
        state = _open_and_run(page, lab, name, TIMEOUT_S)
        info["run_all_s"] = round(time.perf_counter() - t0, 1)
        result = page.evaluate("() => window.luCollect()")
        # 1. every code cell ran, no error, no traceback
        assert len(result["cells"]) == len(cells), "the browser shows a different number of cells"
        problems = []
        for i, cell in enumerate(result["cells"]):
            if cell["type"] != "code":
                continue
            if cell["execution_count"] is None and cell["source"].strip():
                problems.append(f"cell {i} did not run")
            for out in cell["outputs"]:
                if out["output_type"] == "error":
                    tb = _ansi_free("\n".join(out.get("traceback", [])))[-1500:]
                    problems.append(f"cell {i} raised {out.get('ename')}: {out.get('evalue')}\n{tb}")
                elif "Traceback (most recent call last)" in out.get("text", ""):
                    problems.append(f"cell {i} printed a traceback:\n{out['text'][-1500:]}")
        assert not problems, "\n".join(problems)
        assert state["ok"] is not False, f"Run All reported a failure: {state}"
        # 2. widgets are live
        try:
            page.wait_for_function("(cells) => window.luWidgetsRendered(cells)", arg=widget_cells, timeout=60_000)
        except Exception:  # noqa: BLE001 - the assertions below say which widget is missing
            pass
        widgets = page.evaluate("(cells) => window.luWidgets(cells)", widget_cells)
        info["widgets"] = widgets
        assert STATIC_FALLBACK not in page.evaluate("() => window.luNotebookText()"), "a widget fell back to static"
        for i in widget_cells:
            w = widgets[str(i)]
            calls = len(WIDGET_CALL.findall(cells[i]["source"]))
            assert w["boxes"] >= calls, f"cell {i}: {calls} widget call(s) but {w['boxes']} live widget(s): {w}"
            assert all(b["controls"] > 0 for b in w["detail"]), f"cell {i}: a widget without controls: {w}"
            assert all(b["output_chars"] > 0 for b in w["detail"]), f"cell {i}: a widget with an empty output: {w}"
            assert not any(b["warning"] for b in w["detail"]), f"cell {i}: a widget redraw failed: {w}"
        # 3. moving a control of the first widget changes its output
        if widget_cells:
            first = widget_cells[0]
            before = page.evaluate("(c) => window.luSignature(c)", first)
            info["moved"] = _move_first_control(page, first)
            try:
                page.wait_for_function("([c, s]) => window.luSignature(c) !== s && window.luKernelIdle()",
                                       arg=[first, before], timeout=90_000)
            except Exception as err:  # noqa: BLE001 - say which widget did not react
                raise AssertionError(f"cell {first}: {info['moved']}, but the widget's output did not change") from err
            after = page.evaluate("(c) => window.luWidgets([c])", [first])[str(first)]
            assert not any(b["warning"] for b in after["detail"]), f"cell {first}: the redraw failed: {after}"
        # 4. live plots update in place
        live = page.evaluate("() => window.luLivePlots()")
        info["live_plots"] = live
        if has_live_plot:
            assert live, "the notebook makes a LiveLossPlot, but no cell redrew a plotly figure while it ran"
        for i, figs in live.items():
            for f in figs:
                assert f["points"] == sorted(f["points"]) and f["points"][-1] > f["points"][0], \
                    f"cell {i}: the live plot {f['title']!r} did not grow: {f}"
                assert f["drawn"] == [f["points"][-1]], \
                    f"cell {i}: the browser should show one {f['title']!r} plot with the last redraw's points: {f}"
        # 5. the kernel ran in the smoke profile and recorded figures
        from labutils.core import results
        entries = results.read(lab.results, notebook=nb_path.stem) if lab.results.exists() else []
        assert entries and {e["profile"] for e in entries} == {"smoke"}, f"recorded figures: {entries[:3]}"
        info["ok"] = True
    finally:
        info["wall_s"] = round(time.perf_counter() - t0, 1)
        shot = cache_home("browser-test") / f"{nb_path.stem}.png"
        try:
            page.evaluate("(cells) => window.luScrollTo(cells)", widget_cells)
            page.wait_for_timeout(300)
            page.screenshot(path=str(shot))
            info["screenshot"] = str(shot)
        except Exception as err:  # noqa: BLE001 - a screenshot must not hide the real failure
            info["screenshot_error"] = str(err)[:200]
        try:
            page.evaluate("() => window.luClose()")
        except Exception:  # noqa: BLE001
            pass
        lab.shutdown_kernels()
        stray = lab.stray_processes()
        killed = lab.kill(stray) if stray else []
        info["stray_processes"] = killed
        _write_report()
    assert not killed, f"{name} left processes behind after its kernel shut down: {killed}"
