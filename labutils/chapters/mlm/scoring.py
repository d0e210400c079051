"""How well a masked LM fills blanks, against the unigram baseline (notebook 05).

The *unigram baseline* is the model that ignores context: it predicts every blank with the
frequencies of the training tokens. A masked LM that has learned only word frequencies sits on
this baseline (the MLM "plateau"); one that uses its neighbours goes below it in loss and above it in
fill accuracy. Both are measured on the same masked positions of held-out blocks.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from labutils.chapters.mlm.masking import IGNORE, mask_tokens, mlm_parts
from labutils.core.errors import MLMError

__all__ = ["unigram_log_probs", "mlm_scores"]


def unigram_log_probs(blocks: torch.Tensor, vocab, smoothing: float = 1.0) -> torch.Tensor:
    """Log-frequencies of the real (non-special) tokens in ``blocks`` over the whole vocabulary,
    add-``smoothing`` so that unseen tokens keep a finite loss; special tokens get probability 0."""
    counts = torch.bincount(blocks.flatten(), minlength=len(vocab)).double()
    special = torch.tensor(sorted(set(vocab.all_special_ids)))
    counts = counts + smoothing
    counts[special] = 0.0
    return (counts / counts.sum()).log().float()


@torch.no_grad()
def mlm_scores(model, blocks: torch.Tensor, vocab, unigram: torch.Tensor, seed: int = 0,
               mlm_probability: float = 0.15, batch_size: int = 32) -> dict:
    """Loss and top-1 fill accuracy of ``model`` (a ``BertForMaskedLM`` or ``ModernBertForMaskedLM``) and of the unigram
    baseline on the same blanks of ``blocks``: ``mlm_probability`` of the real tokens are chosen
    (seeded) and *all* of them become ``[MASK]`` (no 10 % left visible, which would flatter the model
    against a baseline that never sees the token).

    Returns ``{"loss", "top1", "unigram_loss", "unigram_top1", "n"}``; ``n`` is the number of
    scored positions. ``unigram`` comes from :func:`unigram_log_probs` of the *training* blocks.
    """
    if len(unigram) != len(vocab):
        raise MLMError(f"The unigram table has {len(unigram)} entries but the vocabulary {len(vocab)}.")
    g = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    loss_sum = uni_sum = 0.0
    hits = uni_hits = n = 0
    uni_best = int(unigram.argmax())
    for i in range(0, len(blocks), batch_size):
        inputs, labels = mask_tokens(blocks[i:i + batch_size], vocab, mlm_probability, g)
        selected = labels != IGNORE
        if not selected.any():
            continue
        inputs = inputs.masked_fill(selected, vocab.mask_token_id)
        encoder, head = mlm_parts(model)
        hidden = encoder(input_ids=inputs.to(device)).last_hidden_state
        logits = head(hidden[selected.to(device)]).float().cpu()
        target = labels[selected]
        loss_sum += F.cross_entropy(logits, target, reduction="sum").item()
        hits += (logits.argmax(-1) == target).sum().item()
        uni_sum += -unigram[target].double().sum().item()
        uni_hits += (target == uni_best).sum().item()
        n += int(selected.sum())
    model.train(was_training)
    if n == 0:
        raise MLMError("No position was masked: give more (or longer) blocks.")
    return {"loss": loss_sum / n, "top1": hits / n, "unigram_loss": uni_sum / n, "unigram_top1": uni_hits / n, "n": n}
