"""The one parameter counter of the course (notebooks 03, 04, 06 and 08 count with it)."""
from __future__ import annotations


def count_parameters(model, trainable_only: bool = False) -> int:
    """Number of (trainable) parameters, counting a shared (tied) tensor once.

    ``model.parameters()`` already yields a tied tensor once; the identity check also covers lists of
    modules that share a tensor. Notebook 03 checks this count against the formula of
    :func:`labutils.models.scratch.costs.gpt_param_breakdown`.
    """
    seen, total = set(), 0
    for p in model.parameters():
        if id(p) in seen or (trainable_only and not p.requires_grad):
            continue
        seen.add(id(p))
        total += p.numel()
    return total
