"""``python -m labutils report``: the text table, the HTML page, and the README's course map."""
from __future__ import annotations

import json
import re

import pytest

from labutils.core.meta import COURSE_MAP
from labutils.tools import report
from labutils.tools.cli import main

ENTRIES = [
    {"notebook": "04_pretraining_a_gpt", "name": "final_val_loss", "value": 1.42, "profile": "smoke", "time": 1.0},
    {"notebook": "04_pretraining_a_gpt", "name": "final_val_loss", "value": 1.11, "profile": "cpu", "time": 2.0,
     "steps": 1100},
    {"notebook": "04_pretraining_a_gpt", "name": "tokens_per_second", "value": 15800.0, "profile": "cpu", "time": 2.0},
    {"notebook": "04_pretraining_a_gpt", "name": "time_to_val_loss", "value": {"2.0": 31.5, "1.5": 80.2},
     "profile": "cpu", "time": 2.0},
    {"notebook": "04_pretraining_a_gpt", "name": "scaling_val_losses", "value": [2.9, 2.4, 2.1], "profile": "cpu",
     "time": 2.0},
    {"notebook": "04_pretraining_a_gpt", "name": "resume_matches", "value": True, "profile": "cpu", "time": 2.0},
    {"notebook": "04_pretraining_a_gpt", "name": "run_seconds", "value": 130.4, "profile": "cpu", "time": 3.0,
     "status": "ok", "cpu_count": 2},
    {"notebook": "06_finetuning_for_classification", "name": "test_acc_final", "value": 0.834, "profile": "cpu",
     "time": 4.0},
    {"notebook": "06_finetuning_for_classification", "name": "run_seconds", "value": 400.0, "profile": "cpu",
     "time": 5.0, "status": "failed", "cpu_count": 2},
    {"notebook": "13_applications", "name": "label", "value": "<b>not html</b>", "profile": "cpu", "time": 6.0},
    {"notebook": "13_applications", "name": "ner_f1", "value": 0.61, "profile": "cpu", "time": 6.0},
]


@pytest.fixture
def results_file(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in ENTRIES), encoding="utf-8")
    return path


def test_text_table_still_works(results_file, capsys):
    assert main(["report", str(results_file)]) == 0
    out = capsys.readouterr().out
    assert "final_val_loss" in out and "1.11" in out and "06_finetuning_for_classification" in out


def test_html_page_has_every_figure_and_plotly_once(results_file, tmp_path, capsys):
    from plotly.offline import get_plotlyjs
    out = tmp_path / "page" / "report.html"
    assert main(["report", str(results_file), "--html", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    js = get_plotlyjs()
    assert page.count(js) == 1                                # plotly.js inline, exactly once: works offline
    rest = page.replace(js, "")
    assert "cdn.plot.ly" not in rest and "<script src=" not in rest and "https://" not in rest
    for e in ENTRIES:
        assert e["name"] in page and f"id='{e['notebook']}'" in page
    assert "&lt;b&gt;not html&lt;/b&gt;" in page and "<b>not html</b>" not in page   # values are escaped
    # plots: run time; a scalar chart per notebook (3); time_to_val_loss (bars) and scaling_val_losses (line)
    assert page.count("Plotly.newPlot") == 1 + 3 + 2
    assert "Run time per notebook" in page and "scaling_val_losses" in page
    section = page[page.index("id='04_pretraining_a_gpt'"):page.index("id='06_finetuning")]
    assert re.search(r"<th>smoke</th><th>cpu</th>", section)   # profiles side by side
    assert re.search(r"<th>final_val_loss</th><td class='num'>1.42</td><td class='num'>1.11</td>", section)


def test_bad_results_files_are_one_sentence(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("LABUTILS_RESULTS", raising=False)
    assert main(["report", "--html", str(tmp_path / "x.html")]) == 2
    assert "Name a results file" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n", encoding="utf-8")
    assert main(["report", str(bad), "--html", str(tmp_path / "x.html")]) == 2
    err = capsys.readouterr().err
    assert "not a results file" in err and "Traceback" not in err
    assert not (tmp_path / "x.html").exists()


def test_course_map_block_from_recorded_entries(monkeypatch):
    monkeypatch.delitem(report.HEADLINES, "13_applications")      # 13 shows the fallback: numeric scalars
    block = report.course_map_block(ENTRIES, "data/recorded/cpu-results.jsonl")
    rows = {line.split(" | ")[0].strip("| "): line for line in block.splitlines() if re.match(r"\| \d\d \|", line)}
    assert list(rows) == [stem[:2] for stem, *_ in COURSE_MAP]
    assert "2.2 min *measured*" in rows["04"]                                # 130.4 s recorded
    assert "`final_val_loss` 1.11, `tokens_per_second` 1.58e+04" in rows["04"]  # cpu, not smoke
    assert "*measured*" not in rows["06"] and "~6 min" in rows["06"]         # a failed run is not a time
    assert "`ner_f1` 0.61" in rows["13"] and "label" not in rows["13"]       # no declared headline: numbers only
    assert rows["00"].endswith("| – |")
    assert "1 of 16 notebooks recorded, on 2 cores" in block


def test_a_headline_can_be_one_number_of_a_mapping():
    figs = {"acc": {"value": {"plain": 0.5, "weighted loss": 0.7}}, "f1": {"value": 0.61},
            "words": {"value": {"a": "b"}}}
    assert report._headline_value(figs, "acc[weighted loss]") == 0.7
    assert report._headline_value(figs, "acc[nope]") is None          # a missing key or figure is left out
    assert report._headline_value(figs, "f1[x]") is None and report._headline_value(figs, "words[a]") is None
    assert report._headline_value(figs, "acc") is None                 # a mapping itself is not a number
    assert report._headline_value(figs, "f1") == 0.61 and report._headline_value(figs, "gone") is None


def test_every_declared_headline_is_in_the_recorded_run():
    recorded = report.ROOT / report.RECORDED_CPU
    if not recorded.is_file():
        pytest.skip("no recorded cpu run yet (make record-cpu)")
    figs: dict[str, dict] = {}
    for e in report.load(recorded):
        figs.setdefault(e["notebook"], {})[e["name"]] = e
    missing = [f"{nb}: {n}" for nb, names in report.HEADLINES.items() for n in names
               if report._headline_value(figs.get(nb, {}), n) is None]
    assert not missing, f"headline figures the recorded run lacks (renamed?): {missing}"


def test_readme_course_map_is_generated_from_the_recorded_run():
    readme = (report.ROOT / "README.md").read_text(encoding="utf-8")
    recorded = report.ROOT / report.RECORDED_CPU
    entries = report.load(recorded) if recorded.is_file() else []
    expected = report.course_map_block(entries, str(report.RECORDED_CPU))
    assert report.replace_block(readme, expected) == readme, \
        "README's course map differs from the recorded run: run `python -m labutils report --readme`"


def test_update_readme_replaces_only_the_block(tmp_path, results_file):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nbefore\n{report.BEGIN}\nold table\n{report.END}\nafter\n", encoding="utf-8")
    assert report.update_readme(results_file, readme) is True
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# Title\n\nbefore\n") and text.endswith("\nafter\n") and "old table" not in text
    assert "2.2 min *measured*" in text
    assert report.update_readme(results_file, readme) is False               # idempotent
    readme.write_text("no markers\n", encoding="utf-8")
    with pytest.raises(report.CLIError, match="markers"):
        report.update_readme(results_file, readme)


def test_record_run_appends_a_run_seconds_line(tmp_path):
    target = tmp_path / "runs" / "r.jsonl"
    report.record_run(target, "00_welcome_and_setup", "cpu", 61.26, "ok")
    (entry,) = report.load(target)
    assert entry["name"] == report.RUN_FIGURE and entry["value"] == 61.3 and entry["status"] == "ok"
    assert entry["profile"] == "cpu" and entry["cpu_count"] >= 1
