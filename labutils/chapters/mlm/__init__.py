"""Notebook 05, masked language modelling and transfer: BERT's 80/10/10 masking and a tiny BERT vs GPT
trained on the same tokens (``masking``), then a real pretrained encoder's features: embeddings,
neighbours, linear probes and multi-task heads (``transfer``)."""
from __future__ import annotations

from labutils.chapters.mlm.masking import (  # noqa: F401
    FATES,
    IGNORE,
    TrimmedVocab,
    attention_masks_figure,
    fill_mask,
    fill_mask_table,
    lm_loss,
    make_blocks,
    mask_tokens,
    masking_html,
    masking_stats,
    mlm_parts,
    same_position_accuracy,
    tail_mean,
    train_lm,
)
from labutils.chapters.mlm.scoring import mlm_scores, unigram_log_probs  # noqa: F401
from labutils.chapters.mlm.transfer import (  # noqa: F401
    MultiTaskHeads,
    cosine,
    embed_by_length,
    linear_probe,
    nearest,
    neighbours_table,
    train_multitask,
)
from labutils.core.errors import MLMError  # noqa: F401

__all__ = [
    'MLMError',
    'IGNORE', 'FATES', 'mask_tokens', 'masking_stats', 'masking_html', 'TrimmedVocab', 'make_blocks',
    'lm_loss', 'train_lm', 'same_position_accuracy', 'tail_mean', 'fill_mask', 'fill_mask_table',
    'attention_masks_figure', 'embed_by_length', 'cosine', 'linear_probe', 'nearest', 'neighbours_table',
    'MultiTaskHeads', 'train_multitask', 'mlm_scores', 'unigram_log_probs', 'mlm_parts',
]
