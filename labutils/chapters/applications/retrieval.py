"""Notebook 13, retrieval (检索) for RAG: chunking, a document store, exact dense top-k in torch and with FAISS,
BM25 by hand (the Okapi formula of ``rank_bm25``), reciprocal rank fusion, and recall@k / MRR."""
from __future__ import annotations

import math
import re
from typing import Sequence

import numpy as np

from labutils.core.errors import LabError


class RetrievalError(LabError):
    """Bad input to a retrieval helper (empty store, k too large, ...)."""


_WORD = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset("a an the of to in on at by for and or is are was were be been it its this that these those "
                      "what which who whom whose when where why how do does did with as from into than then there "
                      "their they them he she his her you your i me my we our us not no".split())


def tokenize(text: str, drop_stopwords: bool = True) -> list[str]:
    """Lower-case alphanumeric words, optionally without English stop words (the BM25 and grounding tokenizer)."""
    words = _WORD.findall(text.lower())
    return [w for w in words if w not in STOPWORDS] if drop_stopwords else words


def chunk_words(text: str, size: int = 60, overlap: int = 15) -> list[str]:
    """Cut ``text`` into windows of ``size`` words that overlap by ``overlap`` words (the last one may be shorter)."""
    if size < 1 or not 0 <= overlap < size:
        raise RetrievalError(f"Need size ≥ 1 and 0 ≤ overlap < size, got size={size}, overlap={overlap}.")
    words = text.split()
    if not words:
        return []
    step, out = size - overlap, []
    for start in range(0, len(words), step):
        out.append(" ".join(words[start:start + size]))
        if start + size >= len(words):
            break
    return out


def exact_topk(queries, docs, k: int):
    """Exact inner-product top-k in torch: ``(scores, ids)`` of shape ``(Q, k)``, best first (cosine when the
    embeddings are L2-normalised)."""
    import torch
    q, d = torch.as_tensor(queries, dtype=torch.float32), torch.as_tensor(docs, dtype=torch.float32)
    if k > d.shape[0]:
        raise RetrievalError(f"k={k} but the store has only {d.shape[0]} chunks.")
    scores, ids = (q @ d.T).topk(k, dim=1)
    return scores.numpy(), ids.numpy()


def faiss_topk(queries, docs, k: int):
    """The same search with a FAISS ``IndexFlatIP`` (exact, brute force): ``(scores, ids)``, best first."""
    import faiss
    d = np.ascontiguousarray(np.asarray(docs, dtype=np.float32))
    if k > d.shape[0]:
        raise RetrievalError(f"k={k} but the store has only {d.shape[0]} chunks.")
    index = faiss.IndexFlatIP(d.shape[1])
    index.add(d)
    scores, ids = index.search(np.ascontiguousarray(np.asarray(queries, dtype=np.float32)), k)
    return scores, ids


def same_neighbours(ids_a, ids_b, scores_a, tol: float = 1e-5) -> float:
    """Share of queries whose top-k lists agree rank by rank; at a rank whose score ties (within ``tol``) another
    score of the row or the last one (the k-th place may tie with the unseen (k+1)-th), any tied chunk is accepted."""
    ids_a, ids_b, scores_a = np.asarray(ids_a), np.asarray(ids_b), np.asarray(scores_a)
    same = 0
    for row_a, row_b, s in zip(ids_a, ids_b, scores_a):
        ok = True
        for j in range(len(s)):
            if row_a[j] == row_b[j]:
                continue
            tied = np.abs(s - s[j]) < tol
            if tied.sum() < 2 and abs(s[j] - s[-1]) >= tol:
                ok = False
                break
        same += ok
    return same / max(len(ids_a), 1)


class BM25:
    """Okapi BM25 by hand, with ``rank_bm25.BM25Okapi``'s choices: idf = ln(N − n + 0.5) − ln(n + 0.5), negative
    idfs raised to ``epsilon`` × the mean idf; score = Σ idf · f·(k1+1) / (f + k1·(1 − b + b·|d|/avgdl))."""

    def __init__(self, corpus: Sequence[Sequence[str]], k1: float = 1.5, b: float = 0.75, epsilon: float = 0.25):
        if not corpus:
            raise RetrievalError("BM25 needs at least one document.")
        self.k1, self.b = k1, b
        self.doc_len = np.array([len(d) for d in corpus], dtype=float)
        self.avgdl = float(self.doc_len.mean())
        self.tf: list[dict[str, int]] = []
        df: dict[str, int] = {}
        for doc in corpus:
            counts: dict[str, int] = {}
            for w in doc:
                counts[w] = counts.get(w, 0) + 1
            self.tf.append(counts)
            for w in counts:
                df[w] = df.get(w, 0) + 1
        n = len(corpus)
        self.idf = {w: math.log(n - f + 0.5) - math.log(f + 0.5) for w, f in df.items()}
        floor = epsilon * (sum(self.idf.values()) / len(self.idf)) if self.idf else 0.0
        self.idf = {w: (v if v >= 0 else floor) for w, v in self.idf.items()}

    def scores(self, query: Sequence[str]) -> np.ndarray:
        """BM25 score of every document for the tokenized ``query`` (repeated query words count again)."""
        out = np.zeros(len(self.tf))
        norm = self.k1 * (1 - self.b + self.b * self.doc_len / self.avgdl)
        for q in query:
            if q not in self.idf:
                continue
            f = np.array([d.get(q, 0) for d in self.tf], dtype=float)
            out += self.idf[q] * f * (self.k1 + 1) / (f + norm)
        return out

    def topk(self, query: Sequence[str], k: int) -> list[int]:
        """Ids of the ``k`` best documents (stable order on ties: lower id first)."""
        s = self.scores(query)
        return [int(i) for i in np.argsort(-s, kind="stable")[:k]]


def rrf(rankings: Sequence[Sequence[int]], k: int = 60, top: int | None = None) -> list[int]:
    """Reciprocal rank fusion (Cormack et al. 2009): score(d) = Σ_r 1 / (k + rank_r(d)), ranks from 1."""
    score: dict[int, float] = {}
    for ranking in rankings:
        for rank, doc in enumerate(ranking, start=1):
            score[int(doc)] = score.get(int(doc), 0.0) + 1.0 / (k + rank)
    fused = sorted(score, key=lambda d: (-score[d], d))
    return fused[:top] if top else fused


def recall_at_k(rankings: Sequence[Sequence[int]], relevant: Sequence[set], k: int) -> float:
    """Share of queries with at least one relevant chunk among the first ``k`` retrieved."""
    if len(rankings) != len(relevant) or not rankings:
        raise RetrievalError("recall_at_k needs one ranking per query and at least one query.")
    return sum(bool(set(r[:k]) & rel) for r, rel in zip(rankings, relevant)) / len(rankings)


def mrr(rankings: Sequence[Sequence[int]], relevant: Sequence[set]) -> float:
    """Mean reciprocal rank of the first relevant chunk (0 for a query whose ranking holds none)."""
    if len(rankings) != len(relevant) or not rankings:
        raise RetrievalError("mrr needs one ranking per query and at least one query.")
    total = 0.0
    for ranking, rel in zip(rankings, relevant):
        for rank, doc in enumerate(ranking, start=1):
            if doc in rel:
                total += 1.0 / rank
                break
    return total / len(rankings)


def build_store(qa_rows: Sequence[dict], distractors: Sequence[tuple[str, str]] = ()) -> tuple[list[dict], list[set]]:
    """The document store: one chunk per distinct answer of ``qa_rows`` (source ``qa``), then the ``distractors``
    ``(source, text)``. Returns ``(chunks, relevant)``: ``relevant[i]`` is the set of chunk ids holding question
    ``i``'s answer (answers that normalise to the same text are one chunk)."""
    chunks: list[dict] = []
    by_text: dict[str, int] = {}
    relevant = []
    for row in qa_rows:
        key = " ".join(tokenize(row["answer"], drop_stopwords=False)) or row["answer"].strip().lower()
        if key not in by_text:
            by_text[key] = len(chunks)
            chunks.append({"id": len(chunks), "source": "qa", "text": row["answer"].strip()})
        relevant.append({by_text[key]})
    for source, text in distractors:     # a distractor equal to a chunk already stored is left out
        key = " ".join(tokenize(text, drop_stopwords=False)) or text.strip().lower()
        if text.strip() and key not in by_text:
            by_text[key] = len(chunks)
            chunks.append({"id": len(chunks), "source": source, "text": text.strip()})
    if not chunks:
        raise RetrievalError("The document store is empty.")
    return chunks, relevant
