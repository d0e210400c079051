"""Exercises of notebook 02 · Tokenization."""
from __future__ import annotations

from labutils.exercises import Exercise, close_to

# The state of a BPE training run after its first merge (u + g), as word -> (symbols, count).
# Hugging Face's course uses the same toy corpus.
BPE_STATE = {
    "hug": (["h", "ug"], 10),
    "pug": (["p", "ug"], 5),
    "pun": (["p", "u", "n"], 12),
    "bun": (["b", "u", "n"], 4),
    "hugs": (["h", "ug", "s"], 5),
}

OOV_TRAIN = "the cat sat on the mat"
OOV_VALID = "the dog chased the other dog"


def _pair_counts(state, weighted=True):
    counts = {}
    for symbols, n in state.values():
        for p in zip(symbols, symbols[1:]):
            counts[p] = counts.get(p, 0) + (n if weighted else 1)
    return counts


def _next_merge_checker(answer):
    counts = _pair_counts(BPE_STATE)
    best = max(counts, key=counts.get)
    if isinstance(answer, str):
        if answer.replace(" ", "").replace("+", "") == "".join(best):
            return ("Right symbols, but give the pair as a tuple of the two symbols, e.g. ('a', 'b'): "
                    "the merge is the pair, the new token is their concatenation.")
        return f"Give the pair as a tuple of two symbols, e.g. ('a', 'b'), not the string {answer!r}."
    try:
        pair = tuple(answer)
    except TypeError:
        return f"Give the pair as a tuple of two symbols, e.g. ('a', 'b'); got {answer!r}."
    if len(pair) != 2 or not all(isinstance(s, str) for s in pair):
        return f"A merge joins exactly two symbols (strings); got {answer!r}."
    if pair == best:
        return None
    if pair == ("u", "g"):
        return "u + g was the first merge and is already applied: 'ug' is one symbol now. Recount the pairs of the current segmentation."
    if pair == best[::-1]:
        return f"Order matters: {pair[0]!r} is never followed by {pair[1]!r}. Which symbol comes first in the words?"
    if pair in counts:
        return (f"{pair} occurs {counts[pair]} times (weighted by word counts), but another pair occurs more often. "
                "Weight each word's pairs by how often the word occurs.")
    return f"{pair} never occurs as adjacent symbols in the current segmentation; list the neighbouring pairs of each word."


def _merge_reference(symbols, pair):
    """The reference answer is the library's own :func:`labutils.bpe.merge_pair`."""
    from labutils.chapters.bpe import merge_pair
    return merge_pair(symbols, pair)


_MERGE_CASES = [
    (["l", "o", "w", "e", "r"], ("l", "o")),
    (["n", "e", "w", "e", "s", "t"], ("e", "s")),
    (["b", "a", "n", "a", "n", "a"], ("a", "n")),
    (["a", "a", "a"], ("a", "a")),
    (["x", "y"], ("y", "x")),
    (["h", "ug", "s"], ("ug", "s")),
    ([], ("a", "b")),
]


def _merge_checker(fn):
    if not callable(fn):
        return "Pass the function itself, e.g. check('02.merge_pair', merge_pair), not its result."
    for symbols, pair in _MERGE_CASES:
        before = list(symbols)
        got = fn(list(symbols), pair)
        want = _merge_reference(symbols, pair)
        if got is None:
            return "Your function returns None: build and return a new list of symbols."
        if list(got) != want:
            if symbols == ["a", "a", "a"]:
                return (f"merge_pair({before}, {pair}) should be {want}: after merging a pair, skip past it "
                        f"(overlaps resolve from the left); you returned {list(got)}.")
            if before == ["b", "a", "n", "a", "n", "a"]:
                return f"merge_pair({before}, {pair}) should merge every occurrence: {want}; you returned {list(got)}."
            return f"merge_pair({before}, {pair}) should be {want}; you returned {list(got)}."
    return None


def _first_only(symbols, pair):
    """A typical slip: merge only the first occurrence."""
    for i in range(len(symbols) - 1):
        if (symbols[i], symbols[i + 1]) == tuple(pair):
            return symbols[:i] + [symbols[i] + symbols[i + 1]] + symbols[i + 2:]
    return list(symbols)


EXERCISES = [
    Exercise(
        id="02.next_merge",
        question=("BPE has learned its first merge, u + g. Given the current segmentation and word counts in "
                  "BPE_STATE, which pair does it merge next? Answer with a tuple of two symbols."),
        checker=_next_merge_checker,
        hint=("Count every pair of neighbouring symbols, each word's pairs weighted by the word's count: "
              "'pun' (12) contributes 12 to ('p', 'u') and 12 to ('u', 'n')."),
        solution=("u", "n"),
        solution_text=("('u', 'n'): it occurs in pun (12) and bun (4), 16 times; the runner-up ('h', 'ug') occurs "
                       "in hug (10) and hugs (5), 15 times. In code:\n"
                       "counts = collections.Counter()\n"
                       "for symbols, n in BPE_STATE.values():\n"
                       "    for pair in zip(symbols, symbols[1:]):\n"
                       "        counts[pair] += n\n"
                       "counts.most_common(1)"),
        wrong=[("h", "ug"), ("u", "g"), ("n", "u"), "un", ("p", "u"), ("x", "y"), 42],
    ),
    Exercise(
        id="02.merge_pair",
        question=("Write merge_pair(symbols, pair) -> list: merge every occurrence of the adjacent pair in the list "
                  "of symbols, left to right, e.g. merge_pair(['l','o','w'], ('l','o')) -> ['lo', 'w']."),
        checker=_merge_checker,
        hint=("Walk an index i through the list: if symbols[i], symbols[i+1] is the pair, append the merged symbol "
              "and jump by 2; otherwise append symbols[i] and step by 1."),
        solution=_merge_reference,
        solution_text=(
            "def merge_pair(symbols, pair):\n"
            "    a, b = pair\n"
            "    out, i = [], 0\n"
            "    while i < len(symbols):\n"
            "        if i + 1 < len(symbols) and symbols[i] == a and symbols[i + 1] == b:\n"
            "            out.append(a + b)\n"
            "            i += 2\n"
            "        else:\n"
            "            out.append(symbols[i])\n"
            "            i += 1\n"
            "    return out"),
        wrong=[
            lambda symbols, pair: symbols,
            lambda symbols, pair: None,
            _first_only,
            # merges overlapping occurrences twice ('a','a','a' -> 'aa','aa')
            lambda symbols, pair: [x + y if (x, y) == tuple(pair) else x for x, y in zip(symbols, symbols[1:] + [""])],
            "['lo', 'w']",
        ],
    ),
    Exercise(
        id="02.oov_rate",
        question=(f"Build a word vocabulary from the training text {OOV_TRAIN!r} (split at spaces). What fraction "
                  f"of the tokens of the validation text {OOV_VALID!r} is out of vocabulary? Give a fraction in [0, 1]."),
        checker=close_to(4 / 6, rel=1e-3, mistakes=[
            (lambda v: abs(v - 3 / 4) < 1e-3, "0.75 counts word types (distinct words: 3 of 4 are unknown). "
                                              "The OOV rate counts tokens: 'dog' appears twice and is unknown both times."),
            (lambda v: abs(v - 2 / 6) < 1e-3, "That is the coverage (tokens that *are* in the vocabulary); the OOV rate is the rest."),
            (lambda v: abs(v - 400 / 6) < 0.1, "Give a fraction between 0 and 1, not a percentage."),
            (lambda v: abs(v - 4) < 1e-9, "4 is the number of unknown tokens; divide by the number of validation tokens."),
            (lambda v: abs(v - 4 / 5) < 1e-3, "Divide by the validation tokens (6), not by the vocabulary size (5)."),
        ]),
        hint="vocab = set(train.split()); tokens = valid.split(); count the tokens not in vocab and divide by len(tokens).",
        solution=4 / 6,
        solution_text=("vocab = {the, cat, sat, on, mat}; validation tokens: the dog chased the other dog → "
                       "dog, chased, other, dog are unknown: 4 / 6 ≈ 0.667.\n"
                       "vocab = set(OOV_TRAIN.split())\n"
                       "tokens = OOV_VALID.split()\n"
                       "sum(t not in vocab for t in tokens) / len(tokens)"),
        wrong=[0.75, 2 / 6, 66.67, 4, 0.8, "two thirds"],
    ),
]
