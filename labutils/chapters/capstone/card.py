"""Notebook 15, the model card (Mitchell et al. 2019, *Model Cards for Model Reporting*) and the report table,
generated from the stored stage results of one run: nothing in them is typed by hand.

:func:`collect_figures` flattens every measured figure into ``{name: value}``; :func:`model_card` writes markdown
with the data, the method, a table of *every* figure, limitations and intended use; :func:`report_table` one row per
stage (status, seconds, headline figures); :func:`card_lists_all` checks that each figure's value is in the card.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

# (stage, key in its result, figure name, what it is)
FIGURES = [
    ("data", "rows_used.train", "n_train", "training rows used"),
    ("data", "rows_used.validation", "n_validation", "validation rows used"),
    ("data", "rows_used.test", "n_test", "test rows used"),
    ("data", "checks_all.imbalance_ratio", "imbalance_ratio", "largest / smallest class in train (all rows)"),
    ("data", "checks_all.duplicates_train", "duplicates_train", "duplicate texts inside train (all rows)"),
    ("data", "checks_all.conflicting_labels_train", "conflicting_labels_train", "texts in train with two labels"),
    ("data", "checks_all.leak_test_in_train", "leak_test_in_train", "test texts also in train (dropped)"),
    ("data", "checks_all.leak_validation_in_train", "leak_validation_in_train", "validation texts also in train (dropped)"),
    ("data", "checks_all.lengths.train.p50", "length_p50_chars", "median text length (characters)"),
    ("data", "checks_all.lengths.train.p95", "length_p95_chars", "95th percentile text length (characters)"),
    ("baseline", "val_accuracy", "baseline_val_accuracy", "TF-IDF + logistic regression, validation accuracy"),
    ("finetune", "trainable_params", "trainable_params", "parameters that trained"),
    ("finetune", "total_params", "total_params", "parameters of the model"),
    ("finetune", "steps", "train_steps", "optimizer steps taken"),
    ("finetune", "best_step", "best_step", "step of the best validation accuracy (kept)"),
    ("finetune", "best_val_accuracy", "best_val_accuracy", "best validation accuracy"),
    ("finetune", "stopped_early", "stopped_early", "early stopping triggered"),
    ("finetune", "train_seconds", "train_seconds", "fine-tuning wall time (s)"),
    ("finetune", "unk_rate", "unk_rate", "share of tokens the tokenizer maps to [UNK]"),
    ("test", "accuracy", "test_accuracy", "test accuracy (the one look at the test split)"),
    ("test", "f1", "test_macro_f1", "test macro F1"),
    ("test", "ece", "test_ece", "expected calibration error on test (10 bins)"),
    ("test", "temperature", "temperature", "softmax temperature fitted on validation"),
    ("test", "ece_after_temperature", "test_ece_after_temperature", "test ECE after temperature scaling"),
    ("test", "baseline_accuracy", "baseline_test_accuracy", "TF-IDF baseline, test accuracy"),
    ("test", "majority_chance", "majority_chance", "accuracy of always predicting the largest class"),
    ("export", "parity_max_diff", "onnx_parity_max_diff", "largest |eager − ONNX Runtime| logit difference"),
    ("export", "onnx_mb", "onnx_fp32_mb", "ONNX fp32 size on disk (MB)"),
    ("export", "ort_test_accuracy", "ort_fp32_test_accuracy", "ONNX Runtime fp32, test accuracy"),
    ("compress", "size_ratio", "int8_size_ratio", "fp32 size / int8 size"),
    ("compress", "int8_mb", "int8_mb", "ONNX int8 size on disk (MB)"),
    ("compress", "int8_test_accuracy", "int8_test_accuracy", "ONNX Runtime int8, test accuracy"),
    ("compress", "agreement", "int8_agreement", "share of test predictions int8 and fp32 agree on"),
    ("compress", "fp32_b1_ms", "fp32_b1_ms", "ONNX Runtime fp32 latency, batch 1, p50 (ms)"),
    ("compress", "int8_b1_ms", "int8_b1_ms", "ONNX Runtime int8 latency, batch 1, p50 (ms)"),
    ("serve", "started_s", "server_start_s", "seconds until the service answered /health"),
    ("serve", "served_agreement", "served_agreement", "served labels equal to local ones (8 sentences)"),
    ("serve", "load.rps", "load_rps", "load test: successful requests per second"),
    ("serve", "load.p50_ms", "load_p50_ms", "load test: median latency (ms)"),
    ("serve", "load.p99_ms", "load_p99_ms", "load test: 99th percentile latency (ms)"),
    ("serve", "load.requests", "load_requests", "load test: requests sent"),
    ("serve", "load.n_5xx", "load_5xx", "load test: server errors (5xx)"),
    ("serve", "load.n_errors", "load_errors", "load test: failed connections or timeouts"),
]


def _get(d: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d


def collect_figures(results: dict[str, dict]) -> dict[str, Any]:
    """``{figure name: value}`` of every figure of :data:`FIGURES` the finished stages measured (in order)."""
    out = {}
    for stage, key, name, _ in FIGURES:
        value = _get(results.get(stage, {}), key)
        if value is not None:
            out[name] = value
    return out


def fmt(value: Any) -> str:
    """How the card writes a figure: 4 significant digits for floats, ints with thousands separators."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.3e}" if value and abs(value) < 1e-3 else f"{value:.4g}"
    return str(value)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _data_section(cfg, res: dict) -> list[str]:
    src, checks, used = res["source"], res["checks_all"], res["checks_used"]
    where = f"course data set `{src['name']}`" if src["kind"] == "course" else f"the file `{src['path']}`"
    lines = [f"- Source: {where}; text column `{cfg.text_column}`, label column `{cfg.label_column}`; "
             f"{src['rows']:,} labelled rows" + (f" ({src['dropped_empty']} without text or label dropped)"
                                                 if src.get("dropped_empty") else "") + ".",
             f"- Language: {res['language']}" + (" (detected from the text)" if res["language_detected"] else "") + ".",
             f"- Classes: {', '.join(checks['labels'])}. Rows used per split (profile `{cfg.profile}`): "
             + ", ".join(f"{k} {v:,}" for k, v in res["rows_used"].items()) + ".",
             f"- Leakage: {checks['leak_validation_in_train']} validation and {checks['leak_test_in_train']} test "
             f"texts were also in train ({checks['leak_test_in_validation']} test texts in validation); they were "
             f"dropped ({res['dropped_leaks']['validation']} + {res['dropped_leaks']['test']} rows) before anything "
             "was measured.",
             f"- Duplicates inside train: {checks['duplicates_train']}; texts with conflicting labels: "
             f"{checks['conflicting_labels_train']}.", "", "Class balance of the rows used:", ""]
    labels = checks["labels"]
    lines.append(_table(["split", *labels], [[s, *[used["balance"][s][n] for n in labels]] for s in used["balance"]]))
    lines += ["", "Text length in characters (rows used):", ""]
    lines.append(_table(["split", "mean", "p5", "median", "p95", "max"],
                        [[s, *[fmt(float(v[k])) for k in ("mean", "p5", "p50", "p95")], v["max"]]
                         for s, v in used["lengths"].items()]))
    return lines


def model_card(cfg, results: dict[str, dict], out: str | Path | None = None) -> str:
    """The markdown model card of one run, from the stage results (see the module docstring)."""
    d, b, f, t = (results.get(k, {}) for k in ("data", "baseline", "finetune", "test"))
    c, s = results.get("compress", {}), results.get("serve", {})
    figures = collect_figures(results)
    names = ", ".join(d.get("labels", []))
    method = ("LoRA (low-rank adapters on the query and value projections, rank "
              f"{f.get('lora_r')}, merged into the weights before export)" if cfg.method == "lora"
              else "full fine-tuning (every weight trains)")
    lines = [f"# Model card · {d.get('source', {}).get('name', cfg.data)} text classifier", "",
             f"Generated by the LLM Lab capstone pipeline (notebook 15) on {time.strftime('%Y-%m-%d %H:%M')}, profile "
             f"`{cfg.profile}`, seed {cfg.seed}" + (f"; outputs in `{out}`" if out else "") + ". Every number below "
             "was measured in this run.", "",
             "## Model details", "",
             f"- Task: classify a text into one of {len(d.get('labels', []))} classes ({names}).",
             f"- Base model: {f.get('base_model')}; method: {method}.",
             f"- Trainable parameters: {fmt(f.get('trainable_params'))} of {fmt(f.get('total_params'))}.",
             f"- Training: AdamW, learning rate {f.get('lr')} (head {f.get('head_lr')}), batch {f.get('batch_size')}, "
             f"at most {f.get('max_length')} tokens; validation accuracy every {f.get('eval_every')} steps, the best "
             f"checkpoint kept, early stopping after {f.get('patience')} evaluations without improvement "
             f"(stopped early: {f.get('stopped_early')}; best step {f.get('best_step')} of {f.get('steps')}).",
             "- Served as: ONNX" + (" int8 (ONNX Runtime dynamic quantization)" if c.get("enabled") else " fp32")
             + " behind the course's FastAPI service (`python -m labutils serve classifier --onnx ...`).", "",
             "## Intended use", "",
             "- Intended: teaching and experiments - sorting short texts like the training data into these classes, "
             "with a person reviewing low-confidence answers (see the calibration figures).",
             "- Not intended: decisions about people, texts from another domain or language than the training data, "
             "or any use where an error of the size measured below is unacceptable.", "",
             "## Data", ""]
    if d:
        lines += _data_section(cfg, d)
    lines += ["", "## Evaluation", "",
              f"The test split ({fmt(t.get('n_test'))} rows) was scored once, after every choice had been made on "
              "validation. Baselines on the same rows: TF-IDF + logistic regression "
              f"({b.get('analyzer')} n-grams) and always predicting the largest class.", ""]
    if t:
        lines.append(_table(["model", "test accuracy", "macro F1"],
                            [["fine-tuned", fmt(t["accuracy"]), fmt(t["f1"])],
                             ["TF-IDF baseline", fmt(t["baseline_accuracy"]), fmt(t["baseline_f1"])],
                             ["majority class", fmt(t["majority_chance"]), "-"]]))
        lines += ["", "Per class:", "",
                  _table(["class", "precision", "recall", "F1", "support"],
                         [[k, fmt(v["precision"]), fmt(v["recall"]), fmt(v["f1"]), v["support"]]
                          for k, v in t["per_class"].items()]),
                  "", f"Calibration: expected calibration error {fmt(t['ece'])} (10 equal-width confidence bins)"
                  + (f"; {fmt(t['ece_after_temperature'])} after dividing the logits by a temperature of "
                     f"{fmt(t['temperature'])} fitted on validation (the served model is not rescaled)"
                     if "temperature" in t else "") + ".",
                  "", "The most confident mistakes (more in `test/errors.csv`):", "",
                  _table(["text", "true", "predicted", "confidence"],
                         [[e["text"][:120], e["true"], e["predicted"], e["confidence"]] for e in t["errors"]])]
    e = results.get("export", {})
    if e:
        lines += ["", "## Export, compression and serving", "",
                  f"- ONNX (dynamo exporter): {fmt(e['onnx_mb'])} MB; largest logit difference to eager PyTorch "
                  f"{fmt(e['parity_max_diff'])}."]
        if c.get("enabled"):
            lines.append(f"- int8: {fmt(c['int8_mb'])} MB ({fmt(c['size_ratio'])}× smaller), test accuracy "
                         f"{fmt(c['int8_test_accuracy'])} vs {fmt(c['fp32_test_accuracy'])} for fp32, predictions "
                         f"agree on {fmt(c['agreement'])} of the test rows; batch-1 latency {fmt(c['int8_b1_ms'])} ms "
                         f"vs {fmt(c['fp32_b1_ms'])} ms.")
        if s:
            ld = s["load"]
            lines.append(f"- Service on 127.0.0.1 (ready after {fmt(s['started_s'])} s): {fmt(ld['requests'])} requests "
                         f"from {ld['concurrency']} clients, {fmt(ld['rps'])} requests/s, p50 {fmt(ld['p50_ms'])} ms, "
                         f"p99 {fmt(ld['p99_ms'])} ms, {ld['n_5xx']} server errors.")
    lines += ["", "## Figures measured in this run", "",
              _table(["figure", "value", "what it is"],
                     [[n, fmt(figures[n]), what] for _, _, n, what in FIGURES if n in figures]),
              "", "## Limitations", ""]
    lines += limitations(cfg, results)
    return "\n".join(lines) + "\n"


def limitations(cfg, results: dict[str, dict]) -> list[str]:
    """The limitations this run's own figures point to (small data, [UNK], imbalance, calibration, 2 cores)."""
    d, f, t, s = (results.get(k, {}) for k in ("data", "finetune", "test", "serve"))
    out = []
    if cfg.profile == "smoke":
        out.append("- This is a **smoke** run (a few steps on a few rows): it checks that every stage works; its "
                   "accuracy is not meant to be read.")
    n_test = t.get("n_test") or 0
    if n_test:
        se = (max(t["accuracy"] * (1 - t["accuracy"]), 1e-12) / n_test) ** 0.5
        out.append(f"- {n_test:,} test rows: one standard error of the test accuracy is about {fmt(se)}; smaller "
                   "differences between models are noise.")
    if (f.get("unk_rate") or 0) > 0.05:
        out.append(f"- The tokenizer maps {f['unk_rate']:.0%} of this text's tokens to [UNK] (an English WordPiece "
                   "on another script): the pretrained knowledge barely applies; a tokenizer that covers the "
                   "language would do better.")
    if d and d["checks_all"]["imbalance_ratio"] > 1.5:
        out.append(f"- Classes are imbalanced ({fmt(d['checks_all']['imbalance_ratio'])}:1 in train): read macro F1 "
                   "and per-class recall, not accuracy alone.")
    if t and t["ece"] > 0.05:
        out.append(f"- Probabilities are not calibrated (ECE {fmt(t['ece'])}): a score of 0.9 does not mean 90 % right.")
    out.append("- Trained on one source; performance on other domains, dialects or on adversarial text is unmeasured, "
               "and so is any bias the source carries.")
    if s:
        out.append("- Latency and throughput were measured on this machine with the load tester on the same cores: "
                   "a floor, not a capacity plan.")
    return out


def report_table(results: dict[str, dict], timings: dict[str, dict] | None = None) -> str:
    """Markdown: one row per stage with its status, wall seconds and headline figures."""
    from labutils.chapters.capstone.spec import STAGES, TITLES
    heads = {"data": ("n_train", "leak_test_in_train"), "baseline": ("baseline_val_accuracy",),
             "finetune": ("best_val_accuracy", "train_steps", "trainable_params"),
             "test": ("test_accuracy", "baseline_test_accuracy", "majority_chance", "test_ece"),
             "export": ("onnx_parity_max_diff", "onnx_fp32_mb"),
             "compress": ("int8_size_ratio", "int8_test_accuracy", "int8_b1_ms"),
             "serve": ("load_rps", "load_p99_ms", "load_5xx"), "card": ()}
    figures = collect_figures(results)
    rows = []
    for stage in STAGES:
        res = results.get(stage)
        status = (timings or {}).get(stage, {}).get("status", "done" if res else "not run")
        if stage == "compress" and res and not res.get("enabled", True):
            status = "off"
        if stage == "card" and not res:
            status = "this file"
        secs = fmt(float(res.get("seconds", 0.0))) if res else "-"
        shown = ", ".join(f"{k}={fmt(figures[k])}" for k in heads[stage] if k in figures) or "-"
        rows.append([TITLES[stage], status, secs, shown])
    return _table(["stage", "status", "seconds", "figures"], rows) + "\n"


def card_lists_all(card: str, figures: dict[str, Any]) -> bool:
    """Whether every figure appears in the card with its value as :func:`fmt` writes it."""
    return all(f"| {name} | {fmt(value)} |" in card for name, value in figures.items())
