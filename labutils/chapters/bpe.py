"""Byte-pair encoding (BPE, 字节对编码) from scratch: train merges step by step, encode, decode.

The teaching version of what ``tokenizers.models.BPE`` does, in plain Python::

    >>> model = train_bpe("low low lower newest newest widest", num_merges=4)
    >>> [f"{a}+{b}" for a, b in model.merges]
    ['l+o', 'lo+w', 'e+s', 'es+t']
    >>> model.encode("lowest")
    ['low', 'est']

Training (Sennrich et al., 2016): split the text into words (pre-tokenization, 预分词), start
every word as a sequence of characters, then repeat ``num_merges`` times: count every adjacent
pair of symbols (weighted by how often the word occurs), merge the most frequent pair everywhere,
and remember the merge. Encoding replays the merges in the order they were learned.

Two rules decide which pair wins a tie (equal counts):

- ``tie_break="lexical"``: the pair whose (left, right) strings sort first. Simple to explain.
- ``tie_break="library"``: the pair whose (left id, right id) sorts first, where ids number the
  characters by code point and then every merged token in the order it was created. This is the
  rule of Hugging Face ``tokenizers``' ``BpeTrainer``, so with it (and the same pre-tokenizer,
  no byte level, no special tokens) the merges come out identical: :func:`library_merges`
  trains the library that way and :func:`compare_merges` lines the two lists up.
"""
from __future__ import annotations

import collections
import dataclasses
import heapq
import json
import re
from typing import Iterable, Sequence

# The pattern of tokenizers' `pre_tokenizers.Whitespace`: runs of word characters, or runs of
# anything else that is not a space. (Python's \w and Rust's \w differ on a few combining marks.)
WHITESPACE_PATTERN = re.compile(r"\w+|[^\w\s]+")
SPACE_MARK = "▁"  # U+2581, SentencePiece's visible space
PRETOKENIZERS = ("whitespace", "metaspace")
TIE_BREAKS = ("lexical", "library")


def pretokenize(text: str, mode: str = "whitespace") -> list[str]:
    """Split ``text`` into the words BPE works inside.

    ``"whitespace"``: like tokenizers' ``Whitespace`` pre-tokenizer: ``"Hi, you"`` → ``["Hi", ",", "you"]``;
    the spaces are thrown away. ``"metaspace"``: split at spaces and keep each one as a visible
    ``▁`` at the start of the next word (SentencePiece style): ``["▁Hi,", "▁you"]``; decoding is
    then lossless.
    """
    if not isinstance(text, str):
        raise TypeError(f"pretokenize() needs a string, got {type(text).__name__}.")
    if mode == "whitespace":
        return WHITESPACE_PATTERN.findall(text)
    if mode == "metaspace":
        marked = SPACE_MARK + text.replace(" ", SPACE_MARK)
        return [w for w in re.split(f"(?={SPACE_MARK})", marked) if w]
    raise ValueError(f"Unknown pre-tokenizer {mode!r}; choose one of: {', '.join(PRETOKENIZERS)}.")


def merge_pair(symbols: Sequence[str], pair: tuple[str, str]) -> list[str]:
    """Merge every occurrence of ``pair`` in ``symbols``, scanning left to right.

    Overlaps resolve from the left: ``merge_pair(list("aaa"), ("a", "a"))`` → ``["aa", "a"]``.
    """
    a, b = pair
    out: list[str] = []
    i = 0
    while i < len(symbols):
        if i + 1 < len(symbols) and symbols[i] == a and symbols[i + 1] == b:
            out.append(a + b)
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out


@dataclasses.dataclass
class MergeStep:
    """One training step: which pair was merged, how often it occurred, and the state after it."""

    step: int
    pair: tuple[str, str]
    count: int
    token: str
    vocab_size: int
    corpus_tokens: int
    tied_with: int  # how many other pairs had the same count (0: no tie to break)


@dataclasses.dataclass
class BPEModel:
    """A trained BPE: the alphabet, the ordered merges, the vocabulary and the training trace."""

    alphabet: list[str]
    merges: list[tuple[str, str]]
    steps: list[MergeStep]
    pretokenizer: str = "whitespace"
    unk_token: str = "<unk>"

    def __post_init__(self) -> None:
        self.ranks = {pair: i for i, pair in enumerate(self.merges)}
        vocab: dict[str, int] = {self.unk_token: 0}
        for tok in self.alphabet + [a + b for a, b in self.merges]:
            vocab.setdefault(tok, len(vocab))
        self.vocab = vocab
        self.id_to_token = {i: t for t, i in vocab.items()}
        self._cache: dict[str, list[str]] = {}

    @property
    def vocab_size(self) -> int:
        """Tokens the model can emit, the unknown token included."""
        return len(self.vocab)

    def encode_word(self, word: str) -> list[str]:
        """Apply the merges to one pre-tokenized word, lowest rank first (as learned)."""
        if word in self._cache:
            return self._cache[word]
        symbols = [c if c in self.vocab else self.unk_token for c in word]
        while len(symbols) > 1:
            ranked = [(self.ranks.get(p, None), p) for p in zip(symbols, symbols[1:])]
            ranked = [(r, p) for r, p in ranked if r is not None]
            if not ranked:
                break
            symbols = merge_pair(symbols, min(ranked)[1])
        if len(self._cache) < 200_000:
            self._cache[word] = symbols
        return symbols

    def encode(self, text: str) -> list[str]:
        """Tokens of ``text``: pre-tokenize, then merge inside each word."""
        return [t for w in pretokenize(text, self.pretokenizer) for t in self.encode_word(w)]

    def encode_pieces(self, text: str) -> list[tuple[str, str]]:
        """``(shown, token)`` pairs: each token with the text it covers (an unknown token covers one character)."""
        out = []
        for w in pretokenize(text, self.pretokenizer):
            i = 0
            for tok in self.encode_word(w):
                n = 1 if tok == self.unk_token else len(tok)
                out.append((w[i:i + n], tok))
                i += n
        return out

    def encode_ids(self, text: str) -> list[int]:
        """Token ids of ``text`` (characters never seen in training become the unknown token)."""
        return [self.vocab[t] for t in self.encode(text)]

    def decode(self, ids_or_tokens: Iterable) -> str:
        """Join the tokens back into text.

        With the ``metaspace`` pre-tokenizer this gives the text back (``▁`` becomes a space).
        With ``whitespace`` the spaces were discarded before BPE ever saw them, so they stay lost.
        """
        toks = [self.id_to_token[t] if isinstance(t, int) else t for t in ids_or_tokens]
        text = "".join(toks)
        if self.pretokenizer == "metaspace":
            text = text.replace(SPACE_MARK, " ")
            text = text[1:] if text.startswith(" ") else text
        return text

    def steps_table(self, limit: int | None = None):
        """The training trace as a pandas DataFrame (one row per merge)."""
        import pandas as pd
        rows = [dataclasses.asdict(s) for s in self.steps[:limit]]
        for r in rows:
            r["pair"] = f"{r['pair'][0]} + {r['pair'][1]}"
        return pd.DataFrame(rows).set_index("step") if rows else pd.DataFrame()


def _word_counts(texts: str | Iterable[str], mode: str) -> collections.Counter:
    if isinstance(texts, str):
        texts = [texts]
    counts: collections.Counter = collections.Counter()
    for t in texts:
        counts.update(pretokenize(t, mode))
    return counts


def train_bpe(texts: str | Iterable[str], num_merges: int | None = None, *, vocab_size: int | None = None,
              tie_break: str = "lexical", pretokenizer: str = "whitespace", min_count: int = 1,
              progress: bool = False) -> BPEModel:
    """Learn BPE merges on ``texts`` (a string or an iterable of strings).

    Give either ``num_merges`` or ``vocab_size`` (alphabet + merges, as tokenizers counts it, the
    unknown token not included). Training stops early when no pair occurs ``min_count`` times.
    Pair counts are updated incrementally (only words containing the merged pair are touched),
    so a few thousand merges on a megabyte of text take seconds.
    """
    if tie_break not in TIE_BREAKS:
        raise ValueError(f"Unknown tie_break {tie_break!r}; choose one of: {', '.join(TIE_BREAKS)}.")
    if (num_merges is None) == (vocab_size is None):
        raise ValueError("Give exactly one of num_merges or vocab_size.")
    counts = _word_counts(texts, pretokenizer)
    if not counts:
        raise ValueError("train_bpe() got no text to learn from.")
    alphabet = sorted({c for w in counts for c in w})
    if num_merges is None:
        num_merges = vocab_size - len(alphabet)
    if num_merges < 0:
        raise ValueError(f"vocab_size={vocab_size} is smaller than the alphabet ({len(alphabet)} characters).")

    words = [list(w) for w in counts]
    freqs = list(counts.values())
    ids = {c: i for i, c in enumerate(alphabet)}  # the library's numbering: code points, then creation order
    pair_counts: collections.Counter = collections.Counter()
    where: dict[tuple[str, str], set[int]] = collections.defaultdict(set)
    for wi, (w, f) in enumerate(zip(words, freqs)):
        for p in zip(w, w[1:]):
            pair_counts[p] += f
            where[p].add(wi)
    n_with_count = collections.Counter(pair_counts.values())  # how many pairs have each count (for ties)
    total_tokens = sum(len(w) * f for w, f in zip(words, freqs))

    def key(p):
        return (-pair_counts[p], *(p if tie_break == "lexical" else (ids[p[0]], ids[p[1]])))

    # A heap with lazy updates: an entry whose count is out of date is fixed when it reaches the top.
    heap = [(key(p), p) for p in pair_counts]
    heapq.heapify(heap)
    merges: list[tuple[str, str]] = []
    steps: list[MergeStep] = []
    bar = None
    if progress:
        from labutils.core.progress import tqdm
        bar = tqdm(total=num_merges, desc="BPE merges")
    while len(merges) < num_merges and heap:
        k, best = heapq.heappop(heap)
        count = pair_counts.get(best, 0)
        if count <= 0:
            continue
        if -k[0] != count:
            heapq.heappush(heap, (key(best), best))
            continue
        if count < max(1, min_count):
            break
        tied = n_with_count[count] - 1
        new = best[0] + best[1]
        ids.setdefault(new, len(ids))
        delta: collections.Counter = collections.Counter()
        for wi in where.pop(best):
            w, f = words[wi], freqs[wi]
            merged = merge_pair(w, best)
            if len(merged) == len(w):
                continue
            for p in zip(w, w[1:]):
                delta[p] -= f
            for p in zip(merged, merged[1:]):
                delta[p] += f
                where[p].add(wi)
            total_tokens -= (len(w) - len(merged)) * f
            words[wi] = merged
        for p, d in delta.items():
            if d == 0:
                continue
            old = pair_counts.get(p, 0)
            n_with_count[old] -= 1 if old > 0 else 0
            if old + d > 0:
                pair_counts[p] = old + d
                n_with_count[old + d] += 1
                if d > 0:
                    heapq.heappush(heap, (key(p), p))
            else:
                pair_counts.pop(p, None)
        merges.append(best)
        steps.append(MergeStep(len(merges), best, count, new, len(alphabet) + len(merges), total_tokens, tied))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return BPEModel(alphabet, merges, steps, pretokenizer=pretokenizer)


def library_bpe_tokenizer(texts: str | Iterable[str], vocab_size: int, *, unk_token: str | None = None,
                          min_frequency: int = 0):
    """Train ``tokenizers``' BPE configured like :func:`train_bpe`: Whitespace pre-tokenizer,
    characters (not bytes), no end-of-word suffix, no special tokens unless ``unk_token`` is given.

    Returns a ``tokenizers.Tokenizer``. ``vocab_size`` counts the alphabet, the merges and the
    unknown token if there is one.
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    if isinstance(texts, str):
        texts = [texts]
    tok = Tokenizer(models.BPE(unk_token=unk_token))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, show_progress=False,
                                  special_tokens=[unk_token] if unk_token else [])
    tok.train_from_iterator(texts, trainer)
    return tok


def library_merges(tokenizer) -> list[tuple[str, str]]:
    """The ordered merges of a trained ``tokenizers`` BPE (a ``Tokenizer`` or a fast HF tokenizer)."""
    backend = getattr(tokenizer, "backend_tokenizer", tokenizer)
    model = json.loads(backend.to_str())["model"]
    if model.get("type") != "BPE":
        raise ValueError(f"This tokenizer's model is {model.get('type')}, not BPE; it has no merges.")
    out = []
    for m in model["merges"]:
        a, b = m if isinstance(m, (list, tuple)) else m.split(" ", 1)
        out.append((a, b))
    return out


def compare_merges(mine: BPEModel | Sequence[tuple[str, str]], theirs: Sequence[tuple[str, str]]):
    """Line two merge lists up rank by rank.

    Returns ``(summary, rows)``: ``summary`` has ``same_rank`` (fraction of ranks with the same
    merge), ``same_set`` (fraction of merges found in both lists, at any rank), ``first_difference``
    (1-based rank, or None) and ``n``; ``rows`` has one dict per rank where they differ, with the
    count and the number of tied pairs from ``mine``'s trace when it is a :class:`BPEModel`.
    """
    steps = mine.steps if isinstance(mine, BPEModel) else None
    a = list(mine.merges if isinstance(mine, BPEModel) else mine)
    b = [tuple(m) for m in theirs]
    n = max(len(a), len(b))
    if n == 0:
        raise ValueError("compare_merges() got two empty merge lists.")
    same = [i < len(a) and i < len(b) and a[i] == b[i] for i in range(n)]
    rows = []
    for i in range(n):
        if not same[i]:
            row = {"rank": i + 1, "ours": " + ".join(a[i]) if i < len(a) else "–",
                   "library": " + ".join(b[i]) if i < len(b) else "–"}
            if steps is not None and i < len(steps):
                row["count"] = steps[i].count
                row["tied pairs"] = steps[i].tied_with
            rows.append(row)
    diff = [i + 1 for i, s in enumerate(same) if not s]
    summary = {"n": n, "same_rank": sum(same) / n, "same_set": len(set(a) & set(b)) / n,
               "first_difference": diff[0] if diff else None}
    return summary, rows
