"""Exercises of notebook 13 · Applications (plain Python, no torch)."""
from __future__ import annotations

import math

from labutils.exercises import Exercise, close_to

# 13.entity_f1: gold PER(0-1) LOC(3-4) ORG(6-8); predicted PER(0-1) ✓, LOC(3-3) boundary error, LOC(6-8) type error
GOLD = ["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O", "B-ORG", "I-ORG", "I-ORG"]
PRED = ["B-PER", "I-PER", "O", "B-LOC", "O", "O", "B-LOC", "I-LOC", "I-LOC"]
_F1 = 1 / 3                      # 1 exact match of 3 predicted and 3 gold entities: P = R = 1/3
_TOKEN_ACC = 5 / 9
# 13.bm25_idf: N = 1,000 chunks, the word occurs in n = 10 of them (rank_bm25's Okapi idf)
_IDF = math.log(1000 - 10 + 0.5) - math.log(10 + 0.5)
# 13.rrf: a chunk ranked 1st by the dense retriever and 3rd by BM25, k = 60
_RRF = 1 / (60 + 1) + 1 / (60 + 3)

EXERCISES = [
    Exercise(
        id="13.entity_f1",
        question=("Gold tags " + " ".join(GOLD) + "; predicted " + " ".join(PRED) + ". What is the entity-level "
                  "(exact match, micro) F1?"),
        checker=close_to(_F1, rel=1e-3, mistakes=[
            (lambda v: math.isclose(v, _TOKEN_ACC, rel_tol=1e-3), "That is the per-character tag accuracy; NER is "
             "scored per entity: read off the spans first."),
            (lambda v: math.isclose(v, 1.0), "Overlapping spans do not count: an entity is right only with the same "
             "type and both boundaries."),
            (lambda v: math.isclose(v, 2 / 3, rel_tol=1e-3), "The last predicted span has the right boundaries but "
             "the wrong type (LOC for ORG): it is wrong, and so is the too-short LOC."),
            (lambda v: math.isclose(v, 0.5, rel_tol=1e-3), "Count the predicted entities again: there are three."),
        ]),
        hint="List (type, start, end) for gold and prediction; P = correct/predicted, R = correct/gold.",
        solution=_F1,
        solution_text=("Gold: PER 0–1, LOC 3–4, ORG 6–8. Predicted: PER 0–1 (right), LOC 3–3 (boundary error), "
                       "LOC 6–8 (type error). P = R = 1/3, F1 = 1/3."),
        wrong=[_TOKEN_ACC, 1.0, 2 / 3, 0.5, "high"],
    ),
    Exercise(
        id="13.bm25_idf",
        question=("A document store has 1,000 chunks and the word 'gravitation' occurs in 10 of them. What is its BM25 "
                  "idf as rank_bm25's BM25Okapi computes it (natural log)?"),
        checker=close_to(_IDF, rel=1e-3, mistakes=[
            (lambda v: math.isclose(v, math.log(1000 / 10), rel_tol=1e-3), "That is the classic idf ln(N/n); Okapi "
             "BM25 uses ln((N − n + 0.5) / (n + 0.5))."),
            (lambda v: math.isclose(v, math.log10(990.5 / 10.5), rel_tol=1e-3), "Use the natural log, not log10."),
            (lambda v: math.isclose(v, math.log(1000.5 / 10.5), rel_tol=1e-3), "N − n in the numerator: the chunks "
             "*without* the word."),
        ]),
        hint="idf = ln(N − n + 0.5) − ln(n + 0.5).",
        solution=_IDF,
        solution_text="ln(990.5) − ln(10.5) = ln(94.33) ≈ 4.547.",
        wrong=[math.log(100), math.log10(990.5 / 10.5), math.log(1000.5 / 10.5), None],
    ),
    Exercise(
        id="13.rrf",
        question=("Reciprocal rank fusion with k = 60: a chunk is ranked 1st by the dense retriever and 3rd by BM25. "
                  "What is its fused score?"),
        checker=close_to(_RRF, rel=1e-4, mistakes=[
            (lambda v: math.isclose(v, 1 + 1 / 3, rel_tol=1e-3), "You left out k: each term is 1 / (k + rank)."),
            (lambda v: math.isclose(v, 1 / 60 + 1 / 62, rel_tol=1e-4), "Ranks start at 1, not 0."),
            (lambda v: math.isclose(v, 2 / (60 + 2), rel_tol=1e-4), "Sum the two reciprocal ranks; do not average "
             "the ranks first."),
        ]),
        hint="score(d) = Σ over rankers of 1 / (k + rank of d), ranks counted from 1.",
        solution=_RRF,
        solution_text="1/61 + 1/63 ≈ 0.03227 (A.rrf([[7, …], [.., .., 7]]) ranks it by exactly that).",
        wrong=[1 + 1 / 3, 1 / 60 + 1 / 62, 2 / 62, "first"],
    ),
]
