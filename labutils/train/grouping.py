"""Length-grouped batches: less padding, the same examples (as ``Trainer``'s ``group_by_length``)."""
from __future__ import annotations

import numpy as np

__all__ = ["length_grouped_batches"]


def length_grouped_batches(lengths, batch_size: int, seed: int = 0, group: int = 32) -> list[list[int]]:
    """Shuffled batches of similar length: shuffle, cut into groups of ``group`` batches, sort each group by
    length, split into batches, shuffle the batches. Every index appears exactly once; seeded."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(lengths))
    lengths = np.asarray(lengths)
    batches = []
    for i in range(0, len(order), batch_size * group):
        chunk = order[i:i + batch_size * group]
        chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
        batches += [chunk[j:j + batch_size].tolist() for j in range(0, len(chunk), batch_size)]
    return [batches[k] for k in rng.permutation(len(batches))]
