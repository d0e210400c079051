"""Notebook 13, Chinese NER (命名实体识别) with character-level BIO tags: entity spans the way seqeval's default
(conlleval) mode reads them, entity-level precision/recall/F1 per type by hand, a dictionary baseline learnt from
the training set (longest match), error analysis (boundary vs type errors) and an HTML entity highlighter."""
from __future__ import annotations

import collections
import html
from typing import Iterable, Sequence

from labutils.core.errors import LabError

NER_TYPES = ("PER", "LOC", "ORG")
COLOURS = {"PER": "#fde2e4", "LOC": "#e2f0cb", "ORG": "#dbe7fb"}


class NERError(LabError):
    """Bad input to the NER helpers (mismatched lengths, unknown tags)."""


def _split_tag(tag: str) -> tuple[str, str]:
    if tag == "O":
        return "O", ""
    if len(tag) < 3 or tag[1] != "-" or tag[0] not in "BI":
        raise NERError(f"Tag {tag!r} is not BIO (use 'O', 'B-TYPE' or 'I-TYPE').")
    return tag[0], tag[2:]


def entities(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """Entity spans ``(type, start, end)`` (``end`` inclusive) of one BIO sequence, read like conlleval/seqeval's
    default mode: an ``I-X`` after ``O`` or after another type starts a new entity (it is not dropped)."""
    out: list[tuple[str, int, int]] = []
    prev_tag, prev_type, begin = "O", "", 0
    for i, tag in enumerate(list(tags) + ["O"]):
        t, typ = _split_tag(tag)
        ends = prev_tag != "O" and (t in ("B", "O") or typ != prev_type)
        if ends:
            out.append((prev_type, begin, i - 1))
        starts = t == "B" or (t == "I" and (prev_tag == "O" or typ != prev_type))
        if starts:
            begin = i
        prev_tag, prev_type = t, typ
    return out


def entity_prf(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict:
    """Entity-level precision, recall, F1 and support per type and micro-averaged (``"micro"``), by hand.

    An entity counts as correct only if its type and both boundaries match (exact match, as in CoNLL)."""
    if len(gold) != len(pred):
        raise NERError(f"{len(gold)} gold sequences but {len(pred)} predicted ones.")
    tp: collections.Counter = collections.Counter()
    n_pred: collections.Counter = collections.Counter()
    n_gold: collections.Counter = collections.Counter()
    for g, p in zip(gold, pred):
        if len(g) != len(p):
            raise NERError(f"A gold sequence has {len(g)} tags but its prediction {len(p)}.")
        ge, pe = set(entities(g)), set(entities(p))
        for typ, *_ in ge:
            n_gold[typ] += 1
        for typ, *_ in pe:
            n_pred[typ] += 1
        for typ, *_ in ge & pe:
            tp[typ] += 1

    def prf(t, np_, ng):
        p = t / np_ if np_ else 0.0
        r = t / ng if ng else 0.0
        return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0, "support": ng}
    types = sorted(set(n_gold) | set(n_pred))
    out = {typ: prf(tp[typ], n_pred[typ], n_gold[typ]) for typ in types}
    out["micro"] = prf(sum(tp.values()), sum(n_pred.values()), sum(n_gold.values()))
    return out


def seqeval_prf(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict:
    """The same table from the ``seqeval`` package (default mode), for the check against :func:`entity_prf`."""
    from seqeval.metrics import classification_report
    rep = classification_report([list(g) for g in gold], [list(p) for p in pred], output_dict=True,
                                zero_division=0)
    out = {k: {"precision": v["precision"], "recall": v["recall"], "f1": v["f1-score"], "support": int(v["support"])}
           for k, v in rep.items() if k not in ("macro avg", "weighted avg", "micro avg")}
    m = rep["micro avg"]
    out["micro"] = {"precision": m["precision"], "recall": m["recall"], "f1": m["f1-score"], "support": int(m["support"])}
    return out


def max_abs_diff(ours: dict, theirs: dict) -> float:
    """The largest difference of any P/R/F1 between two tables of :func:`entity_prf` form (same keys required)."""
    if set(ours) != set(theirs):
        raise NERError(f"The tables have different rows: {sorted(ours)} vs {sorted(theirs)}.")
    return max(abs(ours[k][m] - theirs[k][m]) for k in ours for m in ("precision", "recall", "f1"))


# ----------------------------------------------------------------------------------------- dictionary baseline
def build_dictionary(sentences: Iterable[tuple[Sequence[str], Sequence[str]]], min_len: int = 2,
                     min_precision: float = 0.5, max_len: int = 12) -> dict[str, str]:
    """A gazetteer from training data: each entity string (``min_len``–``max_len`` characters) → its most frequent
    type.

    Strings that appear as plain text more often than ``1 - min_precision`` of the time they are seen
    are dropped (a name that is usually not a name would only add false positives)."""
    as_entity: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    sents = [("".join(c), list(t)) for c, t in sentences]
    for text, tags in sents:
        for typ, s, e in entities(tags):
            if min_len <= e - s + 1 <= max_len:
                as_entity[text[s:e + 1]][typ] += 1
    longest = max((len(k) for k in as_entity), default=0)
    seen: collections.Counter = collections.Counter()
    for text, _ in sents:               # every occurrence of a known name, entity or not (n-gram lookups)
        for i in range(len(text)):
            for n in range(min_len, min(longest, len(text) - i) + 1):
                if text[i:i + n] in as_entity:
                    seen[text[i:i + n]] += 1
    out = {}
    for name, types in as_entity.items():
        typ, n = types.most_common(1)[0]
        if sum(types.values()) >= min_precision * max(seen[name], 1):
            out[name] = typ
    return out


def dictionary_tag(chars: Sequence[str], dictionary: dict[str, str]) -> list[str]:
    """BIO tags from greedy left-to-right longest match of ``dictionary`` entries in the characters."""
    text = "".join(chars)
    if len(text) != len(chars):
        raise NERError("dictionary_tag expects one character per token.")
    longest = max((len(k) for k in dictionary), default=0)
    tags = ["O"] * len(chars)
    i = 0
    while i < len(text):
        for n in range(min(longest, len(text) - i), 0, -1):
            typ = dictionary.get(text[i:i + n])
            if typ:
                tags[i:i + n] = [f"B-{typ}"] + [f"I-{typ}"] * (n - 1)
                i += n
                break
        else:
            i += 1
    return tags


def lexicon_features(chars: Sequence[Sequence[str]], dictionary: dict[str, str], names: Sequence[str]) -> list[list[int]]:
    """Per-character feature ids: the index in ``names`` of the dictionary's BIO tag (a lexicon feature)."""
    index = {n: i for i, n in enumerate(names)}
    return [[index[t] for t in dictionary_tag(c, dictionary)] for c in chars]


def crossfit_lexicon(chars: Sequence[Sequence[str]], tags: Sequence[Sequence[str]], names: Sequence[str],
                     folds: int = 2, **kw) -> list[list[int]]:
    """Lexicon features for *training* sentences from dictionaries built on the other folds (cross-fitting).

    A dictionary built on a sentence always finds that sentence's entities, so a tagger trained on such features
    would learn to trust the dictionary blindly and never find an unseen name. Fold ``i`` (every ``folds``-th
    sentence) gets its features from the dictionary of the remaining sentences, as unseen test text would."""
    if folds < 2:
        raise NERError("Cross-fitting needs at least 2 folds.")
    out: list[list[int]] = [[] for _ in chars]
    for f in range(folds):
        rest = [(c, t) for i, (c, t) in enumerate(zip(chars, tags)) if i % folds != f]
        dic = build_dictionary(rest, **kw)
        idx = [i for i in range(len(chars)) if i % folds == f]
        for i, feat in zip(idx, lexicon_features([chars[i] for i in idx], dic, names)):
            out[i] = feat
    return out


# ------------------------------------------------------------------------------------------------ error analysis
ERROR_KINDS = ("correct", "type", "boundary", "boundary+type", "spurious", "missed")


def error_analysis(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, int]:
    """Count predicted entities as ``correct`` (exact), ``type`` (same span, wrong type), ``boundary`` (overlaps a
    gold entity of the same type, other span), ``boundary+type`` (overlaps one of another type) or ``spurious`` (no
    overlap); gold entities no prediction overlaps are ``missed``."""
    counts = dict.fromkeys(ERROR_KINDS, 0)
    for g, p in zip(gold, pred):
        ge, pe = entities(g), entities(p)
        gset = set(ge)
        for typ, s, e in pe:
            if (typ, s, e) in gset:
                counts["correct"] += 1
                continue
            over = [(gt, gs, gend) for gt, gs, gend in ge if gs <= e and s <= gend]
            if any(gs == s and gend == e for _, gs, gend in over):
                counts["type"] += 1
            elif any(gt == typ for gt, _, _ in over):
                counts["boundary"] += 1
            elif over:
                counts["boundary+type"] += 1
            else:
                counts["spurious"] += 1
        for _, gs, gend in ge:
            if not any(s <= gend and gs <= e for _, s, e in pe):
                counts["missed"] += 1
    return counts


def highlight_html(chars: Sequence[str], tags: Sequence[str]) -> str:
    """The text with each entity on a coloured background and its type as a small label (HTML)."""
    if len(chars) != len(tags):
        raise NERError(f"{len(chars)} characters but {len(tags)} tags.")
    spans = {s: (typ, e) for typ, s, e in entities(tags)}
    parts, i = [], 0
    while i < len(chars):
        if i in spans:
            typ, e = spans[i]
            word = html.escape("".join(chars[i:e + 1]))
            parts.append(f'<span style="background:{COLOURS.get(typ, "#eee")};padding:1px 3px;border-radius:4px">'
                         f'{word}<sub style="font-size:0.6em">{typ}</sub></span>')
            i = e + 1
        else:
            parts.append(html.escape(chars[i]))
            i += 1
    return '<div style="font-size:1.1em;line-height:1.8">' + "".join(parts) + "</div>"
