"""Notebook 09, the small base model for instruction tuning: a course GPT (GPT-2 family, character level) pretrained
from scratch on the King James Bible with the course loop (:func:`labutils.train.lm.pretrain_gpt`), its alphabet
widened to every character of the ``instructions`` data, then given ChatML special tokens and a chat template."""
from __future__ import annotations

from typing import Iterable

from labutils.chapters.instruct.templates import add_chat_tokens


def pretrain_base_gpt(extra_texts: Iterable[str], steps: int, size: str = "micro", block_size: int = 128,
                      batch_size: int = 24, lr: float = 3e-3, max_chars: int | None = 2_000_000, context: int = 384,
                      progress: bool = True, seed: int = 0):
    """Pretrain a small char-level GPT on KJV (next-token prediction), with an alphabet that also covers
    ``extra_texts``; returns ``(model, tokenizer, history)``, the tokenizer already carrying the chat template.

    The model has ``context`` positions (at least ``block_size``) so that an instruction example fits; the
    positions past ``block_size`` are first trained by SFT.
    """
    from labutils.data import tokenizers as T
    from labutils.models.course_gpt import pretrain_char_gpt
    train_text, val_text = T.load_corpus("kjv", max_chars=max_chars,
                                         max_val_chars=None if max_chars is None else max_chars // 10)
    model, tok, hist = pretrain_char_gpt(train_text, val_text, extra_texts, size=size, steps=steps,
                                         block_size=block_size, context=context, batch_size=batch_size, lr=lr,
                                         seed=seed, progress=progress, title="pretraining the base GPT on KJV")
    add_chat_tokens(tok, model)
    return model.eval(), tok, hist
