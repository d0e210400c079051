"""Notebook 12, which classifier ``python -m labutils serve classifier`` serves: notebook 06's fine-tuned
classifier of the current profile when it exists (exported to ONNX once and cached under ``cache_home``), else a
tiny random one (seconds; tests). ``int8=True`` serves the ONNX Runtime dynamic-int8 model of the same export.

An export directory holds ``model.onnx`` (+ ``model.onnx.data``), optionally ``model.int8.onnx``,
``labels.json`` (the label names in logit order) and ``source.json`` (what it was exported from, so a re-trained
classifier is re-exported).
"""
from __future__ import annotations

import json
from pathlib import Path

from labutils.chapters.serving.onnx import ServingError, export_onnx, quantize_dynamic_int8

EXAMPLE = ["a warm, funny and moving film", "dull"]


def write_labels(directory: str | Path, labels: list[str]) -> Path:
    """``labels.json`` next to an exported model: the label name of each logit, in order."""
    from labutils.core.io import atomic_write_text
    return atomic_write_text(Path(directory) / "labels.json", json.dumps(list(labels)))


def read_labels(onnx_path: str | Path) -> list[str] | None:
    """The label names stored next to ``onnx_path`` (``labels.json``), or None."""
    p = Path(onnx_path).with_name("labels.json")
    return json.loads(p.read_text(encoding="utf-8")) if p.is_file() else None


def model_labels(config_dir: str | Path) -> list[str]:
    """Label names from a saved model's ``config.json`` (``id2label``), in logit order."""
    cfg = json.loads((Path(config_dir) / "config.json").read_text(encoding="utf-8"))
    id2 = cfg.get("id2label") or {}
    return [id2.get(str(i), f"LABEL_{i}") for i in range(len(id2) or 2)]


def export_classifier(model, tokenizer, directory: str | Path, labels: list[str] | None = None,
                      int8: bool = False, source: dict | None = None) -> dict:
    """Export a sequence classifier to ``directory/model.onnx`` (dynamic batch and sequence), write its
    labels, and (``int8``) its ONNX Runtime int8 model. Written atomically; returns the paths."""
    from labutils.core.io import atomic_dir
    directory = Path(directory)
    enc = tokenizer(EXAMPLE, padding=True, return_tensors="pt")
    with atomic_dir(directory, complete="source.json") as tmp:
        export_onnx(model, enc, tmp / "model.onnx")
        if int8:
            quantize_dynamic_int8(tmp / "model.onnx", tmp / "model.int8.onnx")
        n = int(model.config.num_labels)
        id2 = getattr(model.config, "id2label", None) or {}
        names = labels or [id2.get(i, f"LABEL_{i}") for i in range(n)]
        (tmp / "labels.json").write_text(json.dumps(list(names)), encoding="utf-8")
        (tmp / "source.json").write_text(json.dumps(source or {}), encoding="utf-8")
    return {"onnx": directory / "model.onnx", "int8": directory / "model.int8.onnx" if int8 else None,
            "labels": names}


def _stamp(src: Path) -> dict:
    w = src / "model.safetensors"
    return {"source": str(src), "mtime": w.stat().st_mtime if w.is_file() else None}


def served_classifier(profile: str | None = None, int8: bool = False, tiny: bool = False) -> dict:
    """The ONNX file ``serve classifier`` serves, exporting (and quantizing) only when the cache is missing or stale.

    Returns ``{"onnx": path, "labels": [...], "source": "notebook 06 (<profile>)" | "tiny random"}``.
    """
    from labutils.chapters.finetune.saving import classifier_dir
    from labutils.core.env import cache_home
    from labutils.core.profiles import current

    p = profile or current()
    src = classifier_dir(profile=p)
    use_06 = not tiny and (src / "config.json").is_file()
    out = cache_home("serving", f"classifier-{p}" if use_06 else "tiny-classifier-v2")
    stamp = _stamp(src) if use_06 else {"source": "tiny"}
    fresh = (out / "source.json").is_file() and json.loads((out / "source.json").read_text()) == stamp
    if not fresh or (int8 and not (out / "model.int8.onnx").is_file()):
        if use_06:
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
            model = AutoModelForSequenceClassification.from_pretrained(src).eval()
            tok = AutoTokenizer.from_pretrained(src)
        else:
            from labutils.chapters.serving.onnx import tiny_classifier
            model, tok = tiny_classifier()
        export_classifier(model, tok, out, labels=model_labels(src) if use_06 else None, int8=int8, source=stamp)
    path = out / ("model.int8.onnx" if int8 else "model.onnx")
    if not path.is_file():
        raise ServingError(f"No exported classifier at {path}; delete {out} and start the server again.")
    return {"onnx": path, "labels": read_labels(path),
            "source": f"notebook 06 ({p})" if use_06 else "tiny random"}
