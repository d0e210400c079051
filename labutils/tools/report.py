"""``python -m labutils report [FILE] [--html OUT] [--readme]``: a results file as a table, a page, a course map.

A results file is the JSON lines that :func:`labutils.core.results.record` appends (``LABUTILS_RESULTS``), plus
one ``run_seconds`` line per notebook that ``python -m labutils run`` adds (:func:`record_run`).

- no flag: the text table of every figure (notebook, profile, figure, value);
- ``--html OUT``: one self-contained HTML page (plotly.js inline, once; works offline) with, for every notebook,
  a table of its figures side by side per profile and plots: run time per notebook, every scalar on a log scale,
  and a chart for each figure whose value is a list or a ``{name: number}`` mapping (:func:`write_html`);
- ``--readme``: regenerate the course map between the markers in ``README.md`` from the recorded cpu run
  ``data/recorded/cpu-results.jsonl`` (:func:`course_map_block`); a test keeps the two equal.
"""
from __future__ import annotations

import argparse
import html
import json
import math
import os
import platform
import time
from collections import defaultdict
from pathlib import Path

from labutils.core.errors import CLIError

RUN_FIGURE = "run_seconds"
ROOT = Path(__file__).resolve().parent.parent.parent
RECORDED_CPU = Path("data") / "recorded" / "cpu-results.jsonl"
BEGIN, END = "<!-- course-map:begin (generated: python -m labutils report --readme) -->", "<!-- course-map:end -->"
PROFILES = ("smoke", "cpu", "gpu")

# The figures the README shows for each notebook (the first two numeric scalars recorded for any other).
# ``name[key]`` picks one number out of a ``{key: number}`` figure.
HEADLINES = {
    "00_welcome_and_setup": ["matmul_gflops"],
    "01_neural_network_math": ["gradcheck_max_rel_error_fd"],
    "02_tokenization": ["bpe_chars_per_token"],
    "03_attention_and_transformer": ["gpt_logits_max_abs_diff", "kv_speedup_at_longest"],
    "04_pretraining_a_gpt": ["final_val_loss", "tokens_per_second"],
    "05_masked_lm_and_transfer": ["probe_acc_pretrained", "mlm_fill_top1"],
    "06_finetuning_for_classification": ["test_acc_final", "test_ece_final"],
    "07_finetuning_challenges": ["hpo_test_acc", "imbalance_macro_f1[weighted loss]"],
    "08_parameter_efficient_finetuning": ["lora_test_acc", "lora_trainable_pct"],
    "09_prompting_and_instruction_tuning": ["lora_sft_exact_match[after]", "dpo_pref_accuracy[after]"],
    "10_parallel_and_efficient_training": ["ddp_max_diff", "memory_calc_max_rel_error"],
    "11_compression": ["int8_size_ratio", "int8_speedup_b1"],
    "12_deployment_and_serving": ["rps_c16", "p99_c16_ms"],
    "13_applications": ["ner_f1_neural", "rag_recall_at_5[dense (MiniLM)]", "rag_grounded_rate"],
    "14_responsible_llms": ["ig_vs_captum_max_diff", "dp_vs_opacus_max_diff", "pii_recall"],
    "15_capstone_pipeline": ["test_accuracy", "int8_size_ratio", "load_rps"],
}


def record_run(target: str | os.PathLike, notebook: str, profile: str, seconds: float, status: str) -> None:
    """Append the wall time of one notebook run to a results file (``labutils run`` calls this)."""
    entry = {"notebook": notebook, "name": RUN_FIGURE, "value": round(float(seconds), 1), "profile": profile,
             "time": round(time.time(), 3), "status": status, "cpu_count": os.cpu_count(),
             "machine": platform.machine()}
    path = Path(target).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, ensure_ascii=False) + "\n")


def print_table(header: tuple, rows: list[tuple], last_width: int = 100) -> None:
    """Print rows as aligned text columns (the last one cut at ``last_width`` characters)."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    widths[-1] = min(widths[-1], last_width)
    line = "  ".join("{:<%d}" % w for w in widths)
    print(line.format(*header))
    print(line.format(*["-" * w for w in widths]))
    for r in rows:
        print(line.format(*[str(c)[:last_width] for c in r]).rstrip())


def load(path: str | os.PathLike | None) -> list[dict]:
    """The entries of a results file; a missing or malformed file is one sentence (CLIError)."""
    from labutils.core import results
    path = path or os.environ.get("LABUTILS_RESULTS")
    if not path:
        raise CLIError("Name a results file (python -m labutils report FILE) or set LABUTILS_RESULTS.")
    if not Path(path).is_file():
        raise CLIError(f"No results file at {path}.")
    try:
        entries = results.read(path)
    except ValueError as err:
        raise CLIError(f"{path} is not a results file (JSON lines): {str(err).splitlines()[0]}.") from None
    bad = [i for i, e in enumerate(entries, 1) if not isinstance(e, dict) or not {"notebook", "name"} <= set(e)]
    if bad:
        raise CLIError(f"{path} line {bad[0]} is not a recorded figure (it needs 'notebook' and 'name').")
    return entries


def _num(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _numeric_series(value) -> tuple[list, list[float]] | None:
    """(x, y) for a list of numbers or a ``{name: number}`` mapping; None for anything else."""
    if isinstance(value, list) and len(value) > 1 and all(_num(v) is not None for v in value):
        return list(range(len(value))), [float(v) for v in value]
    if isinstance(value, dict) and len(value) > 1 and all(_num(v) is not None for v in value.values()):
        return [str(k) for k in value], [float(v) for v in value.values()]
    return None


def latest(entries: list[dict]) -> dict[tuple[str, str], dict[str, dict]]:
    """``{(notebook, profile): {figure name: last entry}}`` keeping the order of first appearance."""
    out: dict[tuple[str, str], dict[str, dict]] = defaultdict(dict)
    for e in entries:
        out[(e["notebook"], e.get("profile") or "?")][e["name"]] = e
    return out


# ------------------------------------------------------------------------------------------------ HTML
def _fig_html(fig) -> str:
    fig.update_layout(template="plotly_white", margin=dict(l=40, r=20, t=50, b=40))
    return fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})


def _value_text(value) -> str:
    from labutils.core.results import _fmt
    text = _fmt(value) if not isinstance(value, (dict, list)) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 160 else text[:157] + "…"


def build_html(entries: list[dict], title: str = "LLM Lab · recorded run") -> str:
    """The whole page as a string: plotly.js inline once, then one section per notebook."""
    import plotly.graph_objects as go
    from plotly.offline import get_plotlyjs
    by_group = latest(entries)
    notebooks = sorted({nb for nb, _ in by_group})
    profiles = [p for p in PROFILES if any(p == pr for _, pr in by_group)]
    profiles += sorted({pr for _, pr in by_group} - set(profiles))
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p>{len(entries)} recorded figures · {len(notebooks)} notebooks · profiles {', '.join(profiles)}</p>"]
    runs = [(nb, pr, e) for (nb, pr), figs in by_group.items() for name, e in figs.items() if name == RUN_FIGURE]
    if runs:
        fig = go.Figure()
        for pr in profiles:
            pts = sorted((nb, e["value"], e.get("status", "ok")) for nb, p, e in runs if p == pr)
            if pts:
                fig.add_bar(name=pr, x=[nb[:2] + ("" if st == "ok" else " ✗") for nb, _, st in pts],
                            y=[v / 60 for _, v, _ in pts], hovertext=[f"{nb}: {st}" for nb, _, st in pts])
        fig.update_layout(title="Run time per notebook (minutes; ✗ = the run failed)", barmode="group", height=360,
                          xaxis=dict(type="category", categoryorder="category ascending"))
        parts.append(_fig_html(fig))
    parts.append("<nav>" + " · ".join(f'<a href="#{html.escape(nb)}">{html.escape(nb[:2])}</a>'
                                      for nb in notebooks) + "</nav>")
    for nb in notebooks:
        parts.append(_notebook_section(nb, [p for p in profiles if (nb, p) in by_group], by_group, go))
    body = "\n".join(parts)
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style>"
            f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>{body}</body></html>")


_CSS = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px} table{border-collapse:collapse;"
        "font-size:90%} td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}"
        " th{background:#f4f4f4} section{margin-top:2.5em} td.num{text-align:right;font-family:monospace}")


def _notebook_section(nb: str, profiles: list[str], by_group: dict, go) -> str:
    names: list[str] = []
    for p in profiles:
        names += [n for n in by_group[(nb, p)] if n not in names]
    rows = []
    for n in names:
        cells = "".join(f"<td class='num'>{html.escape(_value_text(by_group[(nb, p)][n]['value']))}</td>"
                        if n in by_group[(nb, p)] else "<td></td>" for p in profiles)
        rows.append(f"<tr><th>{html.escape(n)}</th>{cells}</tr>")
    head = "".join(f"<th>{html.escape(p)}</th>" for p in profiles)
    runs = [f"{p} {by_group[(nb, p)][RUN_FIGURE]['value']:g} s ({by_group[(nb, p)][RUN_FIGURE].get('status', 'ok')})"
            for p in profiles if RUN_FIGURE in by_group[(nb, p)]]
    out = [f"<section id='{html.escape(nb)}'><h2>{html.escape(nb)}</h2>",
           f"<p>run: {html.escape('; '.join(runs))}</p>" if runs else "",
           f"<table><tr><th>figure</th>{head}</tr>{''.join(rows)}</table>"]
    scalar = go.Figure()
    for p in profiles:
        pts = [(n, _num(e["value"])) for n, e in by_group[(nb, p)].items() if _num(e["value"]) not in (None, 0.0)]
        if pts:
            scalar.add_scatter(name=p, mode="markers", x=[abs(v) for _, v in pts], y=[n for n, _ in pts],
                               hovertext=[f"{n} = {v:.4g}" for n, v in pts], marker=dict(size=9))
    if scalar.data:
        scalar.update_layout(title="Every non-zero scalar (|value|, log scale)", xaxis_type="log",
                             height=max(260, 22 * len(names) + 100))
        out.append(_fig_html(scalar))
    for n in names:
        series = [(p, _numeric_series(by_group[(nb, p)][n]["value"])) for p in profiles if n in by_group[(nb, p)]]
        series = [(p, s) for p, s in series if s]
        if series:
            fig = go.Figure()
            for p, (x, y) in series:
                (fig.add_scatter(name=p, x=x, y=y, mode="lines+markers") if isinstance(x[0], int)
                 else fig.add_bar(name=p, x=x, y=y))
            fig.update_layout(title=n, height=320, barmode="group")
            out.append(_fig_html(fig))
    return "\n".join(out) + "</section>"


def write_html(entries: list[dict], out: str | os.PathLike, title: str | None = None) -> Path:
    """Write the page atomically to ``out``; returns its path."""
    from labutils.core.io import atomic_path
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    page = build_html(entries, title or "LLM Lab · recorded run")
    with atomic_path(out) as tmp:
        Path(tmp).write_text(page, encoding="utf-8")
    out.chmod(0o644)  # a page to share with learners, not a private temp file
    return out


# --------------------------------------------------------------------------------------- course map
def _headline_value(figs: dict[str, dict], name: str) -> float | None:
    """The number ``name`` (or ``name[key]`` inside a mapping) stands for in ``figs``; None when absent."""
    base, _, key = name.partition("[")
    if base not in figs:
        return None
    value = figs[base]["value"]
    if key:
        value = value.get(key[:-1]) if isinstance(value, dict) else None
    return _num(value)


def _headlines(nb: str, figs: dict[str, dict]) -> list[tuple[str, float]]:
    names = HEADLINES.get(nb)
    if names is None:
        names = [n for n, e in figs.items() if n != RUN_FIGURE and _num(e["value"]) is not None][:2]
    pairs = [(n, _headline_value(figs, n)) for n in names]
    return [(n, v) for n, v in pairs if v is not None]


def _minutes(m: float) -> str:
    return f"{m:g} min"


def course_map_block(entries: list[dict], source: str = str(RECORDED_CPU)) -> str:
    """The README's course map (between the markers) from COURSE_MAP and the recorded cpu entries."""
    from labutils.core.meta import COURSE_MAP
    from labutils.core.results import _fmt
    by_group = latest(entries)
    cpu_runs = [e for (_, p), figs in by_group.items() if p == "cpu" for n, e in figs.items() if n == RUN_FIGURE]
    ok_runs = [e for e in cpu_runs if e.get("status", "ok") == "ok"]
    where = ""
    if ok_runs:
        cores = sorted({str(e.get("cpu_count", "?")) for e in ok_runs})
        days = sorted({time.strftime("%Y-%m-%d", time.gmtime(e.get("time", 0))) for e in ok_runs})
        where = f", on {'/'.join(cores)} cores, {days[0]}" + (f" to {days[-1]}" if len(days) > 1 else "")
    if entries:
        origin = (f"The **cpu** times marked *measured* and the headline figures come from the recorded cpu run "
                  f"[`{source}`]({source}) ({len(ok_runs)} of {len(COURSE_MAP)} notebooks recorded{where}).")
    else:
        origin = f"No cpu run is recorded yet (`make record-cpu` writes `{source}`), so no time here is *measured*."
    lines = [BEGIN, "", f"Wall time of one top-to-bottom run per profile. {origin} Unmarked times are the course's "
             "expected budgets (`COURSE_MAP`; smoke is checked by CI). Regenerate this table with "
             "`python -m labutils report --readme`.", "",
             "| # | notebook | you will | smoke | cpu | gpu | headline figures (cpu) |",
             "|---|---|---|---|---|---|---|"]
    for stem, en, zh, line, (smoke, cpu, gpu) in COURSE_MAP:
        figs = by_group.get((stem, "cpu"), {})
        run = figs.get(RUN_FIGURE)
        if run and run.get("status", "ok") == "ok":
            cpu_text = f"{run['value'] / 60:.1f} min *measured*"
        else:
            cpu_text = f"~{_minutes(cpu)}"
        heads = ", ".join(f"`{n}` {_fmt(v)}" for n, v in _headlines(stem, figs)) or "–"
        lines.append(f"| {stem[:2]} | [`{stem}`](notebooks/{stem}.ipynb) {en} · {zh} | {line} | "
                     f"< {_minutes(smoke)} | {cpu_text} | ~{_minutes(gpu)} | {heads} |")
    lines += ["", END]
    return "\n".join(lines)


def replace_block(readme_text: str, block: str) -> str:
    """README text with the marked block replaced; one sentence if the markers are missing."""
    start, end = readme_text.find(BEGIN), readme_text.find(END)
    if start < 0 or end < start:
        raise CLIError(f"README.md has no course-map markers ({BEGIN} … {END}); add them around the table.")
    return readme_text[:start] + block + readme_text[end + len(END):]


def update_readme(results_file: str | os.PathLike | None = None, readme: str | os.PathLike | None = None) -> bool:
    """Regenerate the README's course map from the recorded cpu run; returns True if the README changed."""
    results_file = Path(results_file) if results_file else ROOT / RECORDED_CPU
    readme = Path(readme) if readme else ROOT / "README.md"
    entries = load(results_file) if results_file.is_file() else []
    try:
        source = str(results_file.resolve().relative_to(ROOT))
    except ValueError:
        source = str(results_file)
    text = readme.read_text(encoding="utf-8")
    new = replace_block(text, course_map_block(entries, source))
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text


# ------------------------------------------------------------------------------------------------ CLI
def cmd_report(args: argparse.Namespace) -> int:
    """The ``report`` command."""
    if args.readme:
        changed = update_readme(args.file)
        print(f"README.md course map {'regenerated' if changed else 'already up to date'}.")
        return 0
    from labutils.core.results import _fmt
    entries = load(args.file)
    if args.html:
        print(f"wrote {write_html(entries, args.html)} ({len(entries)} figures)")
        return 0
    print_table(("notebook", "profile", "figure", "value"),
           [(e["notebook"], e.get("profile"), e["name"], _fmt(e["value"])) for e in entries])
    return 0


def add_parser(sub) -> None:
    """Register ``report`` on the CLI's subparsers."""
    p = sub.add_parser("report", help="tabulate a results file; --html: one page with every figure and plot; "
                       "--readme: regenerate the README's course map from the recorded cpu run")
    p.add_argument("file", nargs="?", help="results file (default $LABUTILS_RESULTS; with --readme the "
                   f"recorded cpu run {RECORDED_CPU})")
    p.add_argument("--html", default=None, metavar="OUT", help="write an HTML page (plots work offline)")
    p.add_argument("--readme", action="store_true", help="regenerate README.md's course map block")
    p.set_defaults(fn=cmd_report)
