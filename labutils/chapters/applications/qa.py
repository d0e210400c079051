"""Notebook 13, answering with the chat LM (问答): prompts with and without retrieved context, SQuAD-style exact
match and token F1, whether an answer is grounded in the retrieved text, and timing of one request."""
from __future__ import annotations

import collections
import re
import string
import time
from typing import Callable, Sequence

from labutils.chapters.applications.retrieval import tokenize

SYSTEM_RAG = ("Answer the question in a few words, using only the context. "
              "If the context does not contain the answer, say: I don't know.")
SYSTEM_CLOSED = "Answer the question in a few words."
ABSTAIN = re.compile(r"\b(i don'?t know|not (?:in|mentioned in) the context|cannot answer)\b", re.I)


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, no punctuation, no articles (a/an/the), single spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation) | {"’", "‘", "“", "”"})
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(prediction: str, gold: str) -> float:
    """1.0 if the normalised strings are equal, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD token F1: harmonic mean of precision and recall of the normalised words (multiset overlap)."""
    p, g = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not p or not g:
        return float(p == g)
    common = sum((collections.Counter(p) & collections.Counter(g)).values())
    if common == 0:
        return 0.0
    prec, rec = common / len(p), common / len(g)
    return 2 * prec * rec / (prec + rec)


def is_abstention(answer: str) -> bool:
    """Did the model say it does not know (or give nothing)?"""
    return not answer.strip() or bool(ABSTAIN.search(answer))


def grounded(answer: str, context: str, threshold: float = 0.5) -> bool:
    """An answer is *grounded* when it is not an abstention and at least ``threshold`` of its content words
    (stop words dropped) occur in the retrieved ``context``; an answer of stop words only must appear verbatim."""
    if is_abstention(answer):
        return False
    words = tokenize(answer)
    ctx = set(tokenize(context, drop_stopwords=False))
    if not words:
        return normalize_answer(answer) in normalize_answer(context)
    return sum(w in ctx for w in words) / len(words) >= threshold


def rag_messages(question: str, passages: Sequence[str] | None) -> list[dict]:
    """Chat messages: with ``passages`` a system prompt that asks to use only the numbered context, else a
    closed-book prompt (the model's own knowledge)."""
    if passages is None:
        return [{"role": "system", "content": SYSTEM_CLOSED}, {"role": "user", "content": question}]
    ctx = "\n".join(f"[{i + 1}] {p}" for i, p in enumerate(passages))
    return [{"role": "system", "content": SYSTEM_RAG},
            {"role": "user", "content": f"Context:\n{ctx}\n\nQuestion: {question}"}]


def timed(fn: Callable, *args, **kw) -> tuple[object, float]:
    """``(fn(*args, **kw), milliseconds)`` measured with ``time.perf_counter``."""
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return out, (time.perf_counter() - t0) * 1000


def answer_questions(generate: Callable[[list[dict]], str], items: Sequence[dict], with_context: bool) -> list[dict]:
    """Ask ``generate(messages) -> text`` every item (``question``, ``answer``, ``passages``, ``hit``); returns one
    row per item with the answer, EM, F1, abstained, grounded (in the passages) and ``ms``."""
    rows = []
    for it in items:
        msgs = rag_messages(it["question"], it["passages"] if with_context else None)
        ans, ms = timed(generate, msgs)
        ctx = "\n".join(it["passages"])
        rows.append({"question": it["question"], "gold": it["answer"], "answer": ans, "hit": it.get("hit"),
                     "em": exact_match(ans, it["answer"]), "f1": token_f1(ans, it["answer"]),
                     "abstained": is_abstention(ans), "grounded": grounded(ans, ctx), "ms": ms})
    return rows


def summarize_answers(rows: Sequence[dict]) -> dict:
    """Means of EM, F1, abstention and grounded rate, and the mean latency, over answered rows."""
    n = max(len(rows), 1)
    return {"em": sum(r["em"] for r in rows) / n, "f1": sum(r["f1"] for r in rows) / n,
            "abstain_rate": sum(r["abstained"] for r in rows) / n, "grounded_rate": sum(r["grounded"] for r in rows) / n,
            "ms": sum(r["ms"] for r in rows) / n, "n": len(rows)}
