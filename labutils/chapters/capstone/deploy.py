"""Notebook 15, the pipeline's last four stages: ONNX export with a parity check, int8 compression (ONNX Runtime
dynamic quantization), the course's HTTP service started on a free port with a bounded load test, and the model
card. Everything goes through ``chapters.serving`` (export, sessions, int8, the server process, the load tester)
and ``chapters.compression`` (size on disk, p50 latency); the card is written by :mod:`.card`.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from labutils.chapters.capstone.stages import _steps, load_classifier


def _test_texts(pipe, n: int | None = None) -> tuple[list[str], np.ndarray]:
    dd = pipe.dataset()
    texts, labels = list(dd["test"]["text"]), np.asarray(dd["test"]["label"])
    return (texts, labels) if n is None else (texts[:n], labels[:n])


def _ort_accuracy(session, tok, texts, labels, max_length: int, batch: int = 64) -> tuple[float, np.ndarray]:
    from labutils.chapters.serving.onnx import ort_run
    preds = []
    for i in range(0, len(texts), batch):
        enc = tok(texts[i:i + batch], padding=True, truncation=True, max_length=max_length, return_tensors="np")
        preds.append(ort_run(session, enc).argmax(-1))
    preds = np.concatenate(preds) if preds else np.zeros(0, dtype=int)
    return float((preds == labels).mean()) if len(labels) else float("nan"), preds


def _b1_ms(session, tok, text: str, repeats: int = 20) -> float:
    from labutils.chapters.serving.bench import ort_fn, time_ms
    one = tok([text], return_tensors="np")
    return time_ms(ort_fn(session, {"input_ids": one["input_ids"], "attention_mask": one["attention_mask"]}), repeats)


# ------------------------------------------------------------------------------ 5. export
@_steps(3)
def stage_export(pipe, tmp: Path, bar) -> dict:
    """``torch.onnx.export(dynamo=True)`` with dynamic batch and sequence axes; parity = the largest logit difference
    between eager PyTorch and ONNX Runtime on a padded batch of 8 test sentences and on one unpadded sentence."""
    from labutils.chapters.serving.models import write_labels
    from labutils.chapters.serving.onnx import export_onnx, onnx_size_mb, ort_session, parity
    s = pipe.cfg.settings
    model, tok = load_classifier(pipe)
    texts, labels = _test_texts(pipe)
    batch = tok(texts[:8], padding=True, truncation=True, max_length=s["max_length"], return_tensors="pt")
    onnx_path = export_onnx(model, batch, tmp / "model.onnx")
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    write_labels(tmp, names)
    bar.update(1)
    sess = ort_session(onnx_path, intra_threads=2)
    single = tok([max(texts[:8], key=len)], truncation=True, max_length=s["max_length"], return_tensors="pt")
    diff = max(parity(model, sess, batch), parity(model, sess, single))
    bar.update(1)
    acc, _ = _ort_accuracy(sess, tok, texts, labels, s["max_length"])
    bar.update(1)
    return {"parity_max_diff": diff, "onnx_mb": onnx_size_mb(onnx_path), "ort_test_accuracy": acc,
            "opset": "dynamo default", "inputs": ["input_ids", "attention_mask"], "labels": names}


# ------------------------------------------------------------------------------ 6. compression
@_steps(3)
def stage_compress(pipe, tmp: Path, bar) -> dict:
    """ONNX Runtime dynamic int8 (weights int8, activations quantized on the fly; embeddings too) of the export:
    size ratio, test accuracy of both, agreement, and batch-1 latency (p50) of both. Off: a result that says so."""
    if not pipe.cfg.compress:
        bar.update(3)
        return {"enabled": False}
    from labutils.chapters.serving.onnx import onnx_size_mb, ort_session, quantize_dynamic_int8
    from labutils.models.encoder import load_tokenizer
    s = pipe.cfg.settings
    src = pipe.path("export", "model.onnx")
    dst = quantize_dynamic_int8(src, tmp / "model.int8.onnx")
    shutil.copy(pipe.path("export", "labels.json"), tmp / "labels.json")
    bar.update(1)
    tok = load_tokenizer()
    texts, labels = _test_texts(pipe)
    fp32, int8 = ort_session(src, intra_threads=2), ort_session(dst, intra_threads=2)
    acc32, p32 = _ort_accuracy(fp32, tok, texts, labels, s["max_length"])
    acc8, p8 = _ort_accuracy(int8, tok, texts, labels, s["max_length"])
    bar.update(1)
    median = sorted(texts, key=len)[len(texts) // 2]
    ms32, ms8 = _b1_ms(fp32, tok, median), _b1_ms(int8, tok, median)
    bar.update(1)
    mb32, mb8 = onnx_size_mb(src), onnx_size_mb(dst)
    return {"enabled": True, "fp32_mb": mb32, "int8_mb": mb8, "size_ratio": mb32 / mb8,
            "fp32_test_accuracy": acc32, "int8_test_accuracy": acc8, "int8_accuracy_drop": acc32 - acc8,
            "agreement": float((p32 == p8).mean()), "fp32_b1_ms": ms32, "int8_b1_ms": ms8, "int8_speedup_b1": ms32 / ms8}


# ------------------------------------------------------------------------------ 7. service and load test
def served_model(pipe) -> Path:
    """The ONNX file the service runs: the int8 model when compression is on, else the fp32 export."""
    return pipe.path("compress", "model.int8.onnx") if pipe.cfg.compress else pipe.path("export", "model.onnx")


@_steps(3)
def stage_serve(pipe, tmp: Path, bar) -> dict:
    """``python -m labutils serve classifier --onnx MODEL`` on a free loopback port (started and always stopped by
    ``serving.running_server``); 8 test sentences through ``/v1/classify`` compared with local predictions; then
    a bounded load test (``concurrency`` clients, at most ``load_requests`` requests or ``load_s`` seconds)."""
    import httpx

    from labutils.chapters.serving.load import classify_requests, load_test
    from labutils.chapters.serving.onnx import ort_session
    from labutils.chapters.serving.server import ServerProcess
    from labutils.models.encoder import load_tokenizer
    s = pipe.cfg.settings
    model_path = served_model(pipe)
    texts, labels = _test_texts(pipe)
    server = ServerProcess(["classifier", "--onnx", str(model_path), "--threads", "1"],
                           env={"LABUTILS_PROFILE": pipe.cfg.profile}).start()
    try:
        url = server.wait_ready(180)
        bar.update(1)
        sample = texts[:8]
        served = httpx.post(url + "/v1/classify", json={"texts": sample}, timeout=30).json()["results"]
        names = json.loads(pipe.path("export", "labels.json").read_text(encoding="utf-8"))
        _, local = _ort_accuracy(ort_session(model_path, intra_threads=1), load_tokenizer(), sample,
                                 labels[:8], 128)
        agree = float(np.mean([r["label"] == names[int(p)] for r, p in zip(served, local)]))
        bad = httpx.post(url + "/v1/classify", json={"texts": []}, timeout=30).status_code
        bar.update(1)
        load = load_test(url, classify_requests(texts), concurrency=s["concurrency"], n_requests=s["load_requests"],
                         time_limit_s=s["load_s"])
        metrics = httpx.get(url + "/metrics", timeout=30).json()
        bar.update(1)
    finally:
        server.stop()
    return {"model": model_path.name, "port": server.port, "started_s": server.started_s,
            "served_agreement": agree, "empty_request_status": bad,
            "load": {k: load[k] for k in ("concurrency", "requests", "ok", "seconds", "rps", "p50_ms", "p95_ms",
                                          "p99_ms", "mean_ms", "status", "n_5xx", "n_errors")},
            "batch_sizes": metrics.get("batch_sizes", {})}


# ------------------------------------------------------------------------------ 8. model card
@_steps(2)
def stage_card(pipe, tmp: Path, bar) -> dict:
    """The model card (markdown: data, method, every figure of this run, limitations, intended use) and the report
    table (one row per stage), from the stored results only."""
    from labutils.chapters.capstone.card import collect_figures, model_card, report_table
    results = pipe.results()
    card = model_card(pipe.cfg, results, pipe.out)
    (tmp / "model_card.md").write_text(card, encoding="utf-8")
    bar.update(1)
    report = report_table(results, pipe.timings)
    (tmp / "report.md").write_text(report, encoding="utf-8")
    figures = collect_figures(results)
    (tmp / "report.json").write_text(json.dumps(figures, indent=1, ensure_ascii=False), encoding="utf-8")
    bar.update(1)
    return {"figures": len(figures), "card_chars": len(card)}


def publish_card(pipe) -> None:
    """Copy the card, the report table and the flat figures to the top of the output directory (atomically)."""
    from labutils.core.io import atomic_write_bytes
    for name in ("report.json", "report.md", "model_card.md"):     # the card last: it marks the stage finished
        atomic_write_bytes(pipe.path(name), pipe.path("card", name).read_bytes())
