"""Notebook 15, stage 1 of the capstone pipeline: the learner's data, read strictly and checked.

* :func:`read_table` - rows of a CSV/TSV/JSONL/JSON file, decoded as strict UTF-8 (a BOM is allowed);
* :func:`load_labelled` - a course data set name (``sentiment_zh``, ``sentiment_en`` ...) or a file path, with a
  text and a label column, as a ``DatasetDict`` ``train / validation / test`` with columns ``text`` and ``label``
  (a ``ClassLabel``); a file is split 80/10/10 stratified by label (seeded) unless it has a ``split`` column;
* :func:`data_checks` - class balance, duplicates, conflicting labels, leakage between splits, lengths;
* :func:`drop_leaks` - remove validation/test rows whose text (normalised) is also in train.

Every mistake in the input is one sentence (:class:`PipelineError`), raised before anything is written.
"""
from __future__ import annotations

import csv
import io
import json
import random
import re
from pathlib import Path
from typing import Any

import numpy as np

from labutils.core.errors import LabError

MAX_CLASSES = 50          # a "label" column with more distinct values is an id or a text column
MIN_PER_CLASS = 3         # each class needs a row in train, validation and test
SPLITS = ("train", "validation", "test")
FRACTIONS = (0.8, 0.1, 0.1)
SUFFIXES = (".csv", ".tsv", ".jsonl", ".json")


class PipelineError(LabError):
    """Input or a setting the capstone pipeline cannot use (notebook 15); one sentence."""


# ------------------------------------------------------------------------------ reading
def _decode(path: Path) -> str:
    raw = path.read_bytes()
    if not raw.strip():
        raise PipelineError(f"{path} is empty; give a file with a header row and at least one row per class.")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise PipelineError(f"{path} is not UTF-8 text (byte 0x{raw[err.start]:02x} at position {err.start}); "
                            "save it as UTF-8 and try again.") from None


def read_table(path: str | Path) -> tuple[list[dict], list[str]]:
    """``(rows, columns)`` of a ``.csv``/``.tsv`` (header row), ``.jsonl`` (one object a line) or ``.json`` (a list
    of objects) file. Values stay as read (strings for CSV). Raises :class:`PipelineError` with one sentence."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise PipelineError(f"No file at {path}; give the path of a CSV or JSONL file, or a course data set name.")
    if path.suffix.lower() not in SUFFIXES:
        raise PipelineError(f"{path.name} is neither CSV nor JSONL; use a file ending in {', '.join(SUFFIXES)}.")
    text = _decode(path)
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        reader = csv.DictReader(io.StringIO(text), delimiter="\t" if suffix == ".tsv" else ",")
        columns = [c for c in (reader.fieldnames or []) if c is not None]
        rows = [r for r in reader if any((v or "").strip() for k, v in r.items() if k is not None)]
    else:
        try:
            if suffix == ".json":
                rows = json.loads(text)
                if not isinstance(rows, list):
                    raise ValueError("not a list")
            else:
                rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError as err:
            raise PipelineError(f"{path.name} is not valid {'JSON' if suffix == '.json' else 'JSONL'} "
                                f"({str(err).split(':')[0]}); write one JSON object per line.") from None
        if not all(isinstance(r, dict) for r in rows):
            raise PipelineError(f"{path.name} must hold JSON objects (one per line) with named fields.")
        columns = list(dict.fromkeys(k for r in rows for k in r))
    if not rows:
        raise PipelineError(f"{path} has a header but no rows; add at least {MIN_PER_CLASS} rows per class.")
    return rows, columns


# ------------------------------------------------------------------------------ loading
def _course_names() -> list[str]:
    from labutils.data.registry import _REGISTRY
    return list(_REGISTRY)


def _check_columns(columns: list[str], text_column: str, label_column: str, where: str) -> None:
    found = ", ".join(repr(c) for c in columns) or "none"
    for role, col in (("text", text_column), ("label", label_column)):
        if col not in columns:
            raise PipelineError(f"{where} has no {role} column {col!r}; columns found: {found}.")
    if text_column == label_column:
        raise PipelineError(f"The text and the label column are both {text_column!r}; name two different columns.")


def _check_labels(labels: list[str], label_column: str, where: str) -> list[str]:
    names = sorted(set(labels), key=lambda s: (len(s), s) if s.isdigit() else (10**9, s))
    if len(names) < 2:
        only = repr(names[0]) if names else "none"
        raise PipelineError(f"The label column {label_column!r} of {where} has only one class ({only}); "
                            "a classifier needs at least two.")
    if len(names) > MAX_CLASSES:
        raise PipelineError(f"The label column {label_column!r} of {where} has {len(names)} distinct values "
                            f"(at most {MAX_CLASSES} make sense), so it looks like an id or a text column rather than a label.")
    counts = {n: labels.count(n) for n in names}
    small = [n for n, c in counts.items() if c < MIN_PER_CLASS]
    if small:
        raise PipelineError(f"Class {small[0]!r} of {label_column!r} has {counts[small[0]]} row(s); each class needs "
                            f"at least {MIN_PER_CLASS} (one each for train, validation and test).")
    return names


def _split_rows(rows: list[dict], names: list[str], seed: int) -> dict[str, list[dict]]:
    from labutils.data.splits import _stratified
    if all(str(r.get("split", "")).strip() in SPLITS for r in rows) and "split" in rows[0]:
        parts = {s: [r for r in rows if r["split"] == s] for s in SPLITS}
        if all(parts.values()):
            return parts
    ids = [names.index(r["label"]) for r in rows]
    return dict(zip(SPLITS, _stratified(rows, ids, FRACTIONS, seed)))


def load_labelled(data: str | Path, text_column: str = "text", label_column: str = "label",
                  seed: int = 0) -> tuple[Any, dict]:
    """``(DatasetDict, source)`` for a course data set name or a CSV/JSONL path (see the module docstring).

    ``source`` says where the data came from: ``{"kind": "course"|"file", "name", "path", "columns",
    "labels", "rows", "dropped_empty"}``. All validation happens here, before the pipeline writes anything.
    """
    import datasets
    if data is None or not str(data).strip():
        raise PipelineError("Name the data: a course data set (e.g. sentiment_zh) or the path of a CSV/JSONL file.")
    data = str(data).strip()
    names_known = _course_names()
    if data in names_known and not Path(data).exists():
        from labutils.data import load
        dd = load(data)
        first = dd[next(iter(dd))]
        _check_columns(list(first.column_names), text_column, label_column, f"course data set {data!r}")
        feat = first.features[label_column]
        if not isinstance(feat, datasets.ClassLabel):
            raise PipelineError(f"Column {label_column!r} of {data!r} is not a class label; choose a labelled set "
                                "such as sentiment_en or sentiment_zh.")
        if not all(s in dd for s in SPLITS):
            raise PipelineError(f"Course data set {data!r} has splits {', '.join(dd)}; it needs {', '.join(SPLITS)}.")
        out = {}
        for s in SPLITS:
            part = dd[s].select_columns([text_column, label_column])
            if text_column != "text":
                part = part.rename_column(text_column, "text")
            if label_column != "label":
                part = part.rename_column(label_column, "label")
            out[s] = part
        out = datasets.DatasetDict(out)
        return out, {"kind": "course", "name": data, "path": None, "columns": list(first.column_names),
                     "labels": list(feat.names), "rows": sum(len(v) for v in out.values()), "dropped_empty": 0}
    path = Path(data).expanduser()
    if not path.exists() and path.suffix.lower() not in SUFFIXES:
        raise PipelineError(f"No file or course data set {data!r}; give a CSV/JSONL path or one of "
                            f"{', '.join(n for n in names_known if n.startswith('sentiment'))}.")
    rows, columns = read_table(path)
    _check_columns(columns, text_column, label_column, path.name)
    kept = []
    for r in rows:
        text, label = r.get(text_column), r.get(label_column)
        text = "" if text is None else str(text).strip()
        label = "" if label is None else str(label).strip()
        if text and label:
            kept.append({"text": text, "label": label, **({"split": str(r["split"]).strip()} if "split" in r else {})})
    if not kept:
        raise PipelineError(f"{path.name} has no row with both a text in {text_column!r} and a label in "
                            f"{label_column!r}.")
    names = _check_labels([r["label"] for r in kept], label_column, path.name)
    parts = _split_rows(kept, names, seed)
    feats = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=names)})
    out = datasets.DatasetDict({s: datasets.Dataset.from_dict(
        {"text": [r["text"] for r in parts[s]], "label": [names.index(r["label"]) for r in parts[s]]}, features=feats)
        for s in SPLITS})
    return out, {"kind": "file", "name": path.stem, "path": str(path.resolve()), "columns": columns,
                 "labels": names, "rows": len(kept), "dropped_empty": len(rows) - len(kept)}


def subsample(dd, caps: dict[str, int | None], seed: int = 0):
    """Each split shuffled (seeded) and cut to ``caps[split]`` rows (None: all); the order is fixed by ``seed``."""
    import datasets
    out = {}
    for s in SPLITS:
        n = caps.get(s)
        ds = dd[s].shuffle(seed=seed)
        out[s] = ds.select(range(min(int(n), len(ds)))) if n is not None else ds
    return datasets.DatasetDict(out)


# ------------------------------------------------------------------------------ checks
def norm(text: str) -> str:
    """The key for duplicate and leak checks: case-folded, spaces collapsed, end punctuation dropped."""
    from labutils.data.splits import _norm
    return _norm(text)


def detect_language(texts: list[str]) -> str:
    """``"zh"`` when CJK characters are at least 30 % of the letters of ``texts``, else ``"en"``."""
    sample = "".join(texts[:500])
    cjk = len(re.findall(r"[\u4e00-\u9fff]", sample))
    letters = cjk + len(re.findall(r"[A-Za-z]", sample))
    return "zh" if letters and cjk / letters >= 0.3 else "en"


def _lengths(texts: list[str]) -> dict:
    n = np.array([len(t) for t in texts] or [0])
    return {"mean": float(n.mean()), "p5": float(np.percentile(n, 5)), "p50": float(np.percentile(n, 50)),
            "p95": float(np.percentile(n, 95)), "max": int(n.max())}


def data_checks(dd) -> dict:
    """Class balance per split, duplicates and conflicting labels inside train, leakage between splits (texts of
    validation/test whose normalised form is in train, and test in validation), and character lengths."""
    names = dd["train"].features["label"].names
    out: dict[str, Any] = {"labels": list(names), "rows": {s: len(dd[s]) for s in SPLITS}}
    balance = {s: {names[i]: int(c) for i, c in enumerate(np.bincount(dd[s]["label"], minlength=len(names)))}
               for s in SPLITS}
    out["balance"] = balance
    train_counts = [c for c in balance["train"].values()]
    out["imbalance_ratio"] = float(max(train_counts) / max(min(train_counts), 1))
    out["majority_share_test"] = float(max(balance["test"].values()) / max(len(dd["test"]), 1))
    keys = {s: [norm(t) for t in dd[s]["text"]] for s in SPLITS}
    seen: dict[str, set] = {}
    dups = 0
    for k, y in zip(keys["train"], dd["train"]["label"]):
        dups += k in seen
        seen.setdefault(k, set()).add(y)
    out["duplicates_train"] = int(dups)
    out["conflicting_labels_train"] = int(sum(len(v) > 1 for v in seen.values()))
    train_keys, val_keys = set(keys["train"]), set(keys["validation"])
    out["leak_validation_in_train"] = int(sum(k in train_keys for k in keys["validation"]))
    out["leak_test_in_train"] = int(sum(k in train_keys for k in keys["test"]))
    out["leak_test_in_validation"] = int(sum(k in val_keys for k in keys["test"]))
    out["lengths"] = {s: _lengths(dd[s]["text"]) for s in SPLITS}
    return out


def drop_leaks(dd):
    """``(dd, dropped)``: validation and test without rows whose normalised text is in train (test also without
    validation's), so the held-out figures measure unseen text."""
    import datasets
    train_keys = {norm(t) for t in dd["train"]["text"]}
    val_texts = [norm(t) for t in dd["validation"]["text"]]
    val = dd["validation"].select([i for i, k in enumerate(val_texts) if k not in train_keys])
    val_keys = {norm(t) for t in val["text"]}
    test_texts = [norm(t) for t in dd["test"]["text"]]
    test = dd["test"].select([i for i, k in enumerate(test_texts) if k not in train_keys and k not in val_keys])
    dropped = {"validation": len(dd["validation"]) - len(val), "test": len(dd["test"]) - len(test)}
    return datasets.DatasetDict(train=dd["train"], validation=val, test=test), dropped


def length_sample(texts: list[str], k: int = 2000, seed: int = 0) -> list[int]:
    """Character lengths of at most ``k`` texts (a seeded sample), for a histogram."""
    idx = list(range(len(texts)))
    random.Random(seed).shuffle(idx)
    return [len(texts[i]) for i in idx[:k]]
