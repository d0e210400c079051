"""Notebook 15's capstone pipeline: the CLI on a small CSV (tiny model, smoke sizes), resuming, the model card,
the data checks, and one sentence (and nothing written) for every kind of bad input."""
from __future__ import annotations

import json
import random
import re

import pytest

from labutils.chapters import capstone as cap
from labutils.tools.cli import EXIT_USAGE, main

POS = ["great", "wonderful", "lovely", "excellent", "moving", "funny", "brilliant", "superb"]
NEG = ["awful", "boring", "dull", "terrible", "bad", "tedious", "weak", "poor"]


def write_csv(path, n=120, seed=0):
    rng = random.Random(seed)
    lines = ["review,sentiment"]
    for i in range(n):
        y = i % 2
        a, b = rng.sample(POS if y else NEG, 2)
        lines.append(f'"a {a} and {b} film, number {i}",{"pos" if y else "neg"}')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_cli(capsys, *args):
    code = main(["pipeline", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ------------------------------------------------------------------------------ the CLI end to end, resumed
def test_cli_on_a_small_csv_runs_every_stage_and_resumes(tmp_path, tmp_home, capsys):
    data = write_csv(tmp_path / "reviews.csv")
    out = tmp_path / "run"
    common = ["--data", data, "--text-column", "review", "--label-column", "sentiment", "--tiny", "--method", "lora",
              "--profile", "smoke", "--out", out]
    # an "interrupted" run: only the first three stages
    code, text, _ = run_cli(capsys, *common, "--stages", "data,baseline,finetune")
    assert code == 0, text
    assert (out / "finetune" / "result.json").is_file() and not (out / "test").exists()
    model_mtime = (out / "finetune" / "model" / "model.safetensors").stat().st_mtime_ns
    # the full run continues: the three finished stages are skipped, the rest run
    code, text, _ = run_cli(capsys, *common)
    assert code == 0, text
    assert len(re.findall(r"done before, skipped", text)) == 3
    assert (out / "finetune" / "model" / "model.safetensors").stat().st_mtime_ns == model_mtime
    for stage in cap.STAGES:
        assert (out / stage / "result.json").is_file(), stage
    assert not list(out.glob(".tmp-*")), "no temporary directory may be left behind"
    card = (out / "model_card.md").read_text(encoding="utf-8")
    figures = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert cap.card_lists_all(card, figures) and len(figures) >= 35
    for heading in ("## Data", "## Intended use", "## Limitations", "## Evaluation", "## Figures measured in this run"):
        assert heading in card
    assert figures["onnx_parity_max_diff"] <= 1e-4
    assert figures["load_5xx"] == 0 and figures["load_errors"] == 0 and figures["load_requests"] > 0
    assert figures["int8_size_ratio"] > 2.5
    assert figures["served_agreement"] == 1.0
    assert 0 <= figures["test_accuracy"] <= 1 and figures["majority_chance"] == 0.5
    assert 0 < figures["trainable_params"] < figures["total_params"] / 10, "LoRA trains adapters and the head only"
    assert json.loads((out / "finetune" / "result.json").read_text())["lora_merged"] > 0
    assert figures["baseline_test_accuracy"] >= 0.9, "the words decide the class: TF-IDF must find them"
    assert (out / "test" / "errors.csv").is_file() and (out / "report.md").is_file()
    # a third run does nothing at all
    code, text, _ = run_cli(capsys, *common)
    assert code == 0 and len(re.findall(r"done before, skipped", text)) == len(cap.STAGES)
    # the same directory with other settings is refused (one sentence), not mixed
    code, _, err = run_cli(capsys, *["full" if a == "lora" else a for a in common])
    assert code == EXIT_USAGE and "another method" in err


# ------------------------------------------------------------------------------ bad input: one sentence, nothing written
def _bad_cases(tmp_path):
    cases = {}
    cases["missing file"] = (tmp_path / "nope.csv", "review", "sentiment", "No file at")
    good = write_csv(tmp_path / "good.csv")
    cases["misnamed text column"] = (good, "text", "sentiment", "columns found: 'review', 'sentiment'")
    cases["misnamed label column"] = (good, "review", "stars", "columns found: 'review', 'sentiment'")
    one = tmp_path / "one.csv"
    one.write_text("review,sentiment\n" + "".join(f"nice film {i},pos\n" for i in range(20)), encoding="utf-8")
    cases["one class only"] = (one, "review", "sentiment", "only one class ('pos')")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    cases["empty file"] = (empty, "review", "sentiment", "is empty")
    header = tmp_path / "header.csv"
    header.write_text("review,sentiment\n", encoding="utf-8")
    cases["header only"] = (header, "review", "sentiment", "no rows")
    latin = tmp_path / "latin1.csv"
    latin.write_bytes("review,sentiment\ntrès bien,pos\nmauvais,neg\n".encode("latin-1"))
    cases["not UTF-8"] = (latin, "review", "sentiment", "not UTF-8")
    ids = tmp_path / "ids.csv"
    ids.write_text("review,sentiment\n" + "".join(f"film {i},{i}\n" for i in range(300)), encoding="utf-8")
    cases["hundreds of labels"] = (ids, "review", "sentiment", "300 distinct values")
    jsonl = tmp_path / "broken.jsonl"
    jsonl.write_text('{"review": "fine", "sentiment": "pos"}\n{"review": oops\n', encoding="utf-8")
    cases["broken JSONL"] = (jsonl, "review", "sentiment", "not valid JSONL")
    cases["unknown name"] = ("sentiment_xx", "text", "label", "No file or course data set")
    return cases


CASES = ["missing file", "misnamed text column", "misnamed label column", "one class only", "empty file",
         "header only", "not UTF-8", "hundreds of labels", "broken JSONL", "unknown name"]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_sentence_and_writes_nothing(case, tmp_path, tmp_home, capsys):
    data, text_col, label_col, expected = _bad_cases(tmp_path)[case]
    out = tmp_path / "out"
    code, stdout, err = run_cli(capsys, "--data", data, "--text-column", text_col, "--label-column", label_col,
                                "--tiny", "--profile", "smoke", "--out", out)
    assert code == EXIT_USAGE
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    message = lines[0][len("error: "):]
    assert expected in message, message
    assert message.endswith(".") and not re.search(r"\.\s+[A-Z]", message), f"more than one sentence: {message}"
    assert "Traceback" not in err + stdout
    assert not out.exists(), "bad input must leave no output directory behind"


def test_a_directory_that_is_not_a_run_is_refused(tmp_path, tmp_home, capsys):
    data = write_csv(tmp_path / "reviews.csv")
    out = tmp_path / "busy"
    out.mkdir()
    (out / "thesis.txt").write_text("mine", encoding="utf-8")
    code, _, err = run_cli(capsys, "--data", data, "--text-column", "review", "--label-column", "sentiment",
                           "--tiny", "--profile", "smoke", "--out", out)
    assert code == EXIT_USAGE and "is not a pipeline run" in err
    assert sorted(p.name for p in out.iterdir()) == ["thesis.txt"]


# ------------------------------------------------------------------------------ the pure parts
def _dd(train, validation, test):
    import datasets
    feats = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])})
    mk = lambda rows: datasets.Dataset.from_dict({"text": [t for t, _ in rows], "label": [y for _, y in rows]},  # noqa: E731
                                                 features=feats)
    return datasets.DatasetDict(train=mk(train), validation=mk(validation), test=mk(test))


def test_data_checks_find_duplicates_conflicts_and_leaks():
    dd = _dd([("Good film.", 1), ("good  film", 1), ("bad film", 0), ("ok film", 1), ("ok film", 0)],
             [("GOOD FILM!", 1), ("new one", 0)], [("bad film", 0), ("new one", 0), ("fresh", 1)])
    checks = cap.data_checks(dd)
    assert checks["duplicates_train"] == 2            # "good  film" repeats "Good film."; "ok film" repeats
    assert checks["conflicting_labels_train"] == 1    # "ok film" is both pos and neg
    assert checks["leak_validation_in_train"] == 1 and checks["leak_test_in_train"] == 1
    assert checks["leak_test_in_validation"] == 1
    assert checks["balance"]["train"] == {"neg": 2, "pos": 3} and checks["imbalance_ratio"] == 1.5
    clean, dropped = cap.drop_leaks(dd)
    assert dropped == {"validation": 1, "test": 2} and list(clean["test"]["text"]) == ["fresh"]


def test_load_labelled_splits_a_file_stratified_and_detects_chinese(tmp_path):
    path = tmp_path / "zh.jsonl"
    rows = [{"t": f"这部电影很好看{i}" if i % 2 else f"太无聊了，浪费时间{i}", "y": "好" if i % 2 else "差"}
            for i in range(60)]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    dd, source = cap.load_labelled(path, "t", "y")
    assert {k: len(v) for k, v in dd.items()} == {"train": 48, "validation": 6, "test": 6}
    assert sorted(source["labels"]) == ["好", "差"] and source["kind"] == "file"
    for split in dd.values():
        assert sorted(split["label"]).count(0) == len(split) // 2
    assert cap.detect_language(list(dd["train"]["text"])) == "zh"
    assert cap.detect_language(["a fine film", "so dull"]) == "en"


def test_selective_accuracy_and_card_table():
    probs = [[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.55, 0.45]]
    labels = [0, 0, 1, 1]
    r = cap.selective_accuracy(probs, labels, 0.7)
    assert r["coverage"] == 0.5 and r["accuracy_answered"] == 1.0 and r["to_person"] == 2
    assert cap.selective_accuracy(probs, labels, 0.0)["accuracy_answered"] == 0.5
    fig = cap.selective_figure(probs, labels, 0.7)
    assert "2 of 4 to a person" in fig.layout.title.text
    assert cap.fmt(0.123456) == "0.1235" and cap.fmt(3e-8) == "3.000e-08" and cap.fmt(12345) == "12,345"
    assert not cap.card_lists_all("| a | 1 |", {"a": 1, "b": 2.0}) and cap.card_lists_all("| a | 1 |", {"a": 1})


def test_compression_off_is_reported_and_the_fp32_model_served(tmp_path):
    from labutils.chapters.capstone import deploy

    class Bar:
        n = 0

        def update(self, k=1):
            self.n += k
    pipe = cap.Pipeline(cap.PipelineConfig("sentiment_zh", profile="smoke", compress=False), out=tmp_path / "r")
    bar = Bar()
    assert deploy.stage_compress(pipe, tmp_path, bar) == {"enabled": False} and bar.n == deploy.stage_compress.steps
    assert deploy.served_model(pipe) == tmp_path / "r" / "export" / "model.onnx"
    table = cap.report_table({"compress": {"enabled": False, "seconds": 0.0}})
    assert "| int8 compression | off |" in table and "| data checks | not run |" in table


def test_config_rejects_unknown_settings():
    with pytest.raises(cap.PipelineError, match="choose 'full' or 'lora'"):
        cap.PipelineConfig("sentiment_zh", method="qlora", profile="smoke")
    with pytest.raises(cap.PipelineError, match="Unknown setting 'stepz'"):
        cap.PipelineConfig("sentiment_zh", profile="smoke", overrides={"stepz": 3})
    cfg = cap.PipelineConfig("/data/my reviews.csv", profile="smoke", method="lora")
    assert cap.default_out(cfg).name == "my-reviews-lora-smoke"


def test_threshold_widget_is_a_view_over_the_pure_function(monkeypatch):
    monkeypatch.setenv("LABUTILS_HEADLESS", "1")
    from labutils.widgets import threshold_widget
    shown = threshold_widget([[0.9, 0.1], [0.3, 0.7]], [0, 1], threshold=0.8)
    assert "1 of 2 to a person" in shown.value.layout.title.text


def test_temperature_scaling_softens_an_overconfident_model():
    from labutils.chapters.capstone.stages import apply_temperature, fit_temperature
    from labutils.eval.calibration import expected_calibration_error
    rng = random.Random(0)
    labels = [rng.randrange(2) for _ in range(400)]
    # right 70 % of the time but always 99 % sure
    probs = [[0.99, 0.01] if (y == 0) == (rng.random() < 0.7) else [0.01, 0.99] for y in labels]
    t = fit_temperature(probs, labels)
    assert t > 2.0
    scaled = apply_temperature(probs, t)
    assert (scaled.argmax(1) == [max(range(2), key=lambda k: p[k]) for p in probs]).all(), "predictions unchanged"
    assert expected_calibration_error(scaled, labels) < expected_calibration_error(probs, labels) / 3
