"""Notebook 07, data augmentation (数据增强) for text: random deletion, random swap and synonym replacement
(EDA, Wei & Zou 2019), with a small polarity-preserving synonym list written for the course."""
from __future__ import annotations

import random
import re
from typing import Callable, Mapping, Sequence

from labutils.core.errors import ChallengeError

# ============================================================================ data augmentation
#: A small synonym list written for this course (not WordNet): common words of movie-review
#: sentences, each mapped to near-synonyms of the *same polarity*, so a replacement keeps the label.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "movie": ("film", "picture", "feature"), "film": ("movie", "picture", "feature"),
    "story": ("plot", "tale", "narrative"), "plot": ("story", "storyline"), "director": ("filmmaker",),
    "actor": ("performer", "player"), "actors": ("performers", "cast"), "cast": ("actors", "ensemble"),
    "performance": ("portrayal", "turn", "acting"), "script": ("screenplay", "writing"),
    "character": ("role", "figure"), "characters": ("roles", "figures"), "scene": ("sequence", "moment"),
    "scenes": ("sequences", "moments"), "audience": ("viewers", "moviegoers"), "ending": ("finale", "conclusion"),
    "good": ("fine", "decent", "solid"), "great": ("excellent", "terrific", "superb"),
    "funny": ("amusing", "hilarious", "witty"), "beautiful": ("lovely", "gorgeous", "stunning"),
    "smart": ("clever", "intelligent", "sharp"), "enjoyable": ("entertaining", "pleasant", "fun"),
    "moving": ("touching", "affecting", "poignant"), "best": ("finest", "greatest"),
    "fun": ("enjoyable", "entertaining"), "charming": ("delightful", "engaging", "appealing"),
    "bad": ("poor", "awful", "lousy"), "boring": ("dull", "tedious", "tiresome"),
    "dull": ("boring", "tedious", "flat"), "stupid": ("dumb", "silly", "foolish"),
    "worst": ("poorest", "weakest"), "mess": ("muddle", "shambles"), "awful": ("terrible", "dreadful", "bad"),
    "terrible": ("awful", "dreadful", "horrible"), "weak": ("feeble", "thin", "lame"),
    "predictable": ("formulaic", "obvious"), "tedious": ("boring", "dull", "wearisome"),
    "big": ("large", "huge"), "small": ("little", "modest"), "little": ("small", "slight"),
    "very": ("really", "extremely", "quite"), "really": ("truly", "very"), "often": ("frequently",),
    "makes": ("renders", "leaves"), "feels": ("seems", "comes across as"), "seems": ("appears", "feels"),
    "watch": ("see", "view"), "see": ("watch", "view"), "life": ("existence",), "world": ("universe",),
    "new": ("fresh", "novel"), "old": ("aged", "familiar"), "work": ("piece", "effort"),
    "look": ("glance", "view"), "kind": ("sort", "type"), "things": ("matters", "stuff"),
}


def _rng(rng) -> random.Random:
    return rng if isinstance(rng, random.Random) else random.Random(rng)


def random_deletion(text: str, p: float = 0.1, rng=0) -> str:
    """Drop each word with probability ``p`` (always keeps at least one word) — EDA's random deletion."""
    if not 0 <= p < 1:
        raise ChallengeError(f"p must be in [0, 1), got {p}.")
    r = _rng(rng)
    words = text.split()
    if len(words) <= 1:
        return text
    kept = [w for w in words if r.random() >= p]
    return " ".join(kept) if kept else r.choice(words)


def random_swap(text: str, n: int = 1, rng=0) -> str:
    """Swap two random word positions, ``n`` times — EDA's random swap."""
    r = _rng(rng)
    words = text.split()
    if len(words) < 2:
        return text
    for _ in range(n):
        i, j = r.sample(range(len(words)), 2)
        words[i], words[j] = words[j], words[i]
    return " ".join(words)


def synonym_replacement(text: str, n: int = 1, rng=0, synonyms: Mapping[str, Sequence[str]] | None = None) -> str:
    """Replace up to ``n`` words that appear in :data:`SYNONYMS` by a random synonym (case kept for a capital first letter)."""
    r = _rng(rng)
    syn = SYNONYMS if synonyms is None else synonyms
    words = text.split()
    cands = [i for i, w in enumerate(words) if re.sub(r"\W", "", w.lower()) in syn]
    r.shuffle(cands)
    for i in cands[:n]:
        w = words[i]
        core = re.sub(r"\W", "", w.lower())
        new = r.choice(list(syn[core]))
        if w[:1].isupper():
            new = new[:1].upper() + new[1:]
        m = re.match(r"^(\W*)\w[\w'-]*(\W*)$", w)
        words[i] = (m.group(1) + new + m.group(2)) if m else new
    return " ".join(words)


AUGMENTERS: dict[str, Callable[..., str]] = {
    "deletion": lambda t, r: random_deletion(t, 0.15, r),
    "swap": lambda t, r: random_swap(t, 2, r),
    "synonym": lambda t, r: synonym_replacement(t, 2, r),
}


def augment(texts: Sequence[str], labels: Sequence[int], method: str = "all", copies: int = 2,
            seed: int = 0) -> tuple[list[str], list[int]]:
    """The original examples plus ``copies`` augmented copies of each (labels repeated).

    ``method``: a name in :data:`AUGMENTERS` or ``"all"`` (each copy uses a random one of them).
    Copies identical to their source sentence are kept (they happen when nothing could change).
    """
    if method != "all" and method not in AUGMENTERS:
        raise ChallengeError(f"Unknown augmentation {method!r}; choose one of: all, {', '.join(AUGMENTERS)}.")
    r = random.Random(seed)
    out_t, out_y = list(texts), [int(v) for v in labels]
    names = list(AUGMENTERS)
    for _ in range(copies):
        for t, y in zip(texts, labels):
            fn = AUGMENTERS[r.choice(names) if method == "all" else method]
            out_t.append(fn(t, r))
            out_y.append(int(y))
    return out_t, out_y
