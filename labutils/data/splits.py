"""Seeded, leak-free splits shared by every data set: by item, stratified by label, or by group."""
from __future__ import annotations

import random
import re
from typing import Any


# ------------------------------------------------------------------------------ split helpers
def _cut(n: int, fractions: tuple[float, ...]) -> list[int]:
    """Sizes that add up to ``n``: round() for every split but the first, which takes the rest."""
    sizes = [round(n * f) for f in fractions[1:]]
    return [n - sum(sizes), *sizes]


def _split_items(items: list, fractions: tuple[float, ...], seed: int) -> list[list]:
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    out, start = [], 0
    for size in _cut(len(items), fractions):
        out.append([items[i] for i in sorted(order[start:start + size])])
        start += size
    return out


def _stratified(items: list, labels: list[int], fractions: tuple[float, ...], seed: int) -> list[list]:
    """Split each class on its own with the same fractions, then merge and shuffle each split (seeded).

    The shuffle matters: the sources list one class after the other, so without it ``train[:800]``
    would be nearly all one label.
    """
    parts: list[list[int]] = [[] for _ in fractions]
    for label in sorted(set(labels)):
        idx = [i for i, y in enumerate(labels) if y == label]
        for k, chunk in enumerate(_split_items(idx, fractions, seed + 7919 * label)):
            parts[k].extend(chunk)
    out = []
    for k, p in enumerate(parts):
        order = sorted(p)
        random.Random(seed + 104729 * (k + 1)).shuffle(order)
        out.append([items[i] for i in order])
    return out


def _group_split(groups: list[str], fractions: tuple[float, ...], seed: int) -> list[list[int]]:
    """Assign whole groups to splits so that each split gets about its fraction of the rows."""
    sizes: dict[str, int] = {}
    for g in groups:
        sizes[g] = sizes.get(g, 0) + 1
    keys = sorted(sizes)
    random.Random(seed).shuffle(keys)
    targets = [f * len(groups) for f in fractions]
    filled = [0] * len(fractions)
    where: dict[str, int] = {}
    for key in keys:   # the split furthest below its target takes the next group
        k = max(range(len(fractions)), key=lambda j: (targets[j] - filled[j]) / targets[j])
        where[key] = k
        filled[k] += sizes[key]
    parts: list[list[int]] = [[] for _ in fractions]
    for i, g in enumerate(groups):
        parts[where[g]].append(i)
    return parts


def _norm(text: str) -> str:
    """Key for deduplication and leak checks: case-folded, spaces collapsed, end punctuation dropped."""
    return re.sub(r"\s+", " ", text).strip().casefold().rstrip(" .!?。！？~～")


# ------------------------------------------------------------------------------ builders
def _features(**cols):
    import datasets
    return datasets.Features(cols)


def _dd(splits: dict[str, list[dict]], features) -> Any:
    import datasets
    return datasets.DatasetDict({
        name: datasets.Dataset.from_dict({c: [r[c] for r in rows] for c in features}, features=features)
        for name, rows in splits.items()})
