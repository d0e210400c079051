"""Notebook 13, generation (文本生成) and translation (机器翻译): ROUGE-L by hand (longest common subsequence,
``rouge_score``'s tokenizer), rewriting tasks whose references a program computes, and the measurements that show
why a 135M English model is not a translator (tokens per Chinese character, share of Chinese in its output)."""
from __future__ import annotations

import re
from typing import Sequence

from labutils.core.errors import LabError

_ROUGE_TOKEN = re.compile(r"[a-z0-9]+")
_CJK = re.compile(r"[\u4e00-\u9fff]")


class GenerationError(LabError):
    """Bad input to a generation helper."""


def rouge_tokenize(text: str) -> list[str]:
    """``rouge_score``'s default tokenizer (no stemming): lower case, runs of ``[a-z0-9]`` are the tokens."""
    return _ROUGE_TOKEN.findall(text.lower())


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token lists (dynamic programming, O(|a|·|b|))."""
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b, start=1):
            cur[j] = prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1])
        prev = cur
    return prev[-1]


def rouge_l(prediction: str, reference: str) -> dict:
    """ROUGE-L (Lin 2004): P = LCS/|prediction|, R = LCS/|reference|, F = 2PR/(P+R), on rouge tokens."""
    p, r = rouge_tokenize(prediction), rouge_tokenize(reference)
    lcs = lcs_length(p, r)
    prec = lcs / len(p) if p else 0.0
    rec = lcs / len(r) if r else 0.0
    return {"precision": prec, "recall": rec, "fmeasure": 2 * prec * rec / (prec + rec) if prec + rec else 0.0}


def rouge_l_package(prediction: str, reference: str) -> dict:
    """The same score from the ``rouge_score`` package (``RougeScorer(["rougeL"])``), for the check."""
    from rouge_score import rouge_scorer
    s = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False).score(reference, prediction)["rougeL"]
    return {"precision": s.precision, "recall": s.recall, "fmeasure": s.fmeasure}


REWRITE_TASKS = ("sort_words", "reverse_words", "uppercase")


def rewrite_items(n: int, seed: int = 0, tasks: Sequence[str] = REWRITE_TASKS) -> list[dict]:
    """``n`` rewriting requests (English) from the course's instruction generator, round robin over ``tasks``,
    each with its program-computed reference: ``task``, ``instruction``, ``input``, ``reference``."""
    from labutils.data.instructions import generate_instructions
    unknown = set(tasks) - set(REWRITE_TASKS)
    if unknown:
        raise GenerationError(f"Unknown rewriting task(s) {sorted(unknown)}; choose from {REWRITE_TASKS}.")
    rows = generate_instructions(n=min(40 * max(n, 1), 50_000), seed=seed)
    pool = [r for r in rows if r["task"] in tasks and not _CJK.search(r["instruction"] + r["input"])]
    by_task = {t: [r for r in pool if r["task"] == t] for t in tasks}
    out = []
    for i in range(n):
        t = tasks[i % len(tasks)]
        if not by_task[t]:
            raise GenerationError(f"The generator gave no English {t!r} examples; ask for more.")
        r = by_task[t].pop(0)
        out.append({"task": t, "instruction": r["instruction"], "input": r["input"], "reference": r["output"]})
    return out


def cjk_share(text: str) -> float:
    """Share of non-space characters that are CJK ideographs (0 for an empty text)."""
    chars = [c for c in text if not c.isspace()]
    return sum(bool(_CJK.match(c)) for c in chars) / len(chars) if chars else 0.0


def tokens_per_char(tokenizer, texts: Sequence[str]) -> float:
    """Tokens the tokenizer needs per non-space character, over ``texts`` (no special tokens)."""
    n_tok = sum(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts)
    n_chr = sum(len([c for c in t if not c.isspace()]) for t in texts)
    if n_chr == 0:
        raise GenerationError("tokens_per_char needs some text.")
    return n_tok / n_chr
