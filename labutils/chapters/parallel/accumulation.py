"""Notebook 10, gradient accumulation (梯度累积): k micro-batches give the gradient of one big batch, if the
losses are weighted right.

A language-model loss is a mean over *tokens*. Splitting a batch into k micro-batches and calling
``backward()`` on each adds the gradients, so each micro-batch loss must be scaled so that the sum is the big
batch's mean: divide by k when every micro-batch has the same number of tokens; with padding, sum the token
losses and divide by the total number of real tokens of the whole step (what ``transformers.Trainer`` does
with ``num_items_in_batch``). Not dividing at all gives k times the gradient: the classic bug.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from labutils.core.errors import ParallelError

IGNORE = -100
WEIGHTINGS = ("big batch", "divide by k", "no division", "token-weighted")


def lm_loss_sum(model, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, int]:
    """Sum of next-token cross-entropies over the real (non-padding) tokens, and how many there are."""
    labels = input_ids.clone()
    if attention_mask is not None:
        labels[attention_mask == 0] = IGNORE
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits
    target = labels[:, 1:]
    loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)).float(), target.reshape(-1),
                           ignore_index=IGNORE, reduction="sum")
    return loss, int((target != IGNORE).sum())


def flat_grad(model) -> torch.Tensor:
    """All gradients of ``model`` as one vector (zeros where a parameter got none)."""
    return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
                      for p in model.parameters()]).detach().clone()


def accumulated_grad(model, input_ids: torch.Tensor, attention_mask: torch.Tensor | None, k: int,
                     weighting: str = "divide by k") -> torch.Tensor:
    """The gradient after one step over ``input_ids`` split into ``k`` micro-batches, with one loss weighting.

    ``"big batch"``: one backward on the whole batch, token mean (the reference). ``"divide by k"``: each
    micro-batch's token mean / k. ``"no division"``: each micro-batch's token mean (the bug). ``"token-weighted"``:
    each micro-batch's token *sum* / the number of real tokens in the whole batch.
    """
    if weighting not in WEIGHTINGS:
        raise ParallelError(f"weighting must be one of {', '.join(WEIGHTINGS)}, not {weighting!r}.")
    n = input_ids.size(0)
    if k < 1 or n % k:
        raise ParallelError(f"k={k} must divide the batch of {n} sequences into equal micro-batches.")
    model.zero_grad(set_to_none=True)
    mask = attention_mask if attention_mask is not None else torch.ones_like(input_ids)
    if weighting == "big batch":
        loss, count = lm_loss_sum(model, input_ids, mask)
        (loss / count).backward()
        return flat_grad(model)
    total = int((mask[:, 1:] != 0).sum())
    for ids, m in zip(input_ids.chunk(k), mask.chunk(k)):
        loss, count = lm_loss_sum(model, ids, m)
        scale = {"divide by k": 1.0 / (count * k), "no division": 1.0 / count, "token-weighted": 1.0 / total}[weighting]
        (loss * scale).backward()
    return flat_grad(model)


def accumulation_diffs(model, input_ids: torch.Tensor, attention_mask: torch.Tensor | None, k: int) -> dict:
    """Max |Δ| between the big-batch gradient and each accumulated weighting, and their norm ratio."""
    ref = accumulated_grad(model, input_ids, attention_mask, k, "big batch")
    out = {}
    for w in WEIGHTINGS[1:]:
        g = accumulated_grad(model, input_ids, attention_mask, k, w)
        out[w] = {"max_abs_diff": float((g - ref).abs().max()), "norm_ratio": float(g.norm() / ref.norm())}
    model.zero_grad(set_to_none=True)
    return out


def sequence_vs_token_mean(model, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> dict:
    """The two ways to average a padded batch's loss: over all real tokens, or per sequence then over sequences."""
    with torch.no_grad():
        sums, counts = zip(*(lm_loss_sum(model, ids[None], m[None]) for ids, m in zip(input_ids, attention_mask)))
    sums = torch.stack(sums)
    counts = torch.tensor(counts, dtype=sums.dtype)
    return {"token_mean": float(sums.sum() / counts.sum()), "sequence_mean": float((sums / counts).mean()),
            "tokens_per_sequence": [int(c) for c in counts]}


def padded_batch(ids: torch.Tensor, lengths: list[int], pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad rows of ``ids`` to their full width after ``lengths[i]`` tokens: ``(input_ids, attention_mask)``."""
    if len(lengths) != ids.size(0) or min(lengths) < 2 or max(lengths) > ids.size(1):
        raise ParallelError(f"Need one length in 2..{ids.size(1)} per row; got {lengths}.")
    mask = (torch.arange(ids.size(1))[None] < torch.tensor(lengths)[:, None]).long()
    return ids.masked_fill(mask == 0, pad_id), mask
