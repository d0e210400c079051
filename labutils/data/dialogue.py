"""Dialogue and QA pairs from ``chatterbot-corpus`` (BSD-3): ``dialogue`` (prompt/response turns, grouped so
a conversation never straddles splits) and ``qa_pairs`` (closed-book questions with answers)."""
from __future__ import annotations

import re

from labutils.core.errors import DataError
from labutils.data import packages
from labutils.data.packages import PIP_CHATTERBOT, SEED
from labutils.data.splits import _dd, _features, _group_split, _norm

_CHAT_LANGS = {"english": "en", "chinese": "zh"}


_QA_TOPICS = ("trivia", "history", "science", "literature", "computers", "food", "sports",
              "movies", "politics", "money", "health", "psychology")
_EN_Q = re.compile(r"^(what|who|whom|whose|when|where|which|why|how|is|are|was|were|do|does|did|"
                   r"can|could|name|in what|in which)\b", re.I)
_ZH_Q = re.compile(r"什么|谁|哪|几|多少|吗|怎么|怎样|如何|为什么|为何")


_ABOUT_BOT = re.compile(r"\byou(r|rs|rself)?\b|你", re.I)      # questions to the bot are chit-chat



def _chatterbot_conversations() -> list[dict]:
    """Every well-formed conversation (a list of >= 2 strings) of the English and Chinese yml files."""
    base = packages._package_dir("chatterbot_corpus")
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
