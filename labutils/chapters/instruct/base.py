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
    import torch
    from transformers import GPT2LMHeadModel

    from labutils.core.env import seed_everything
    from labutils.data import tokenizers as T
    from labutils.models.configs import tiny_gpt_config
    from labutils.train.lm import pretrain_gpt
    seed_everything(seed)
    train_text, val_text = T.load_corpus("kjv", max_chars=max_chars,
                                         max_val_chars=None if max_chars is None else max_chars // 10)
    tok = T.char_tokenizer([train_text, *extra_texts], model_max_length=max(context, block_size))
    train_ids, val_ids = T.encode_corpus(tok, train_text), T.encode_corpus(tok, val_text)
    torch.manual_seed(seed)
    cfg = tiny_gpt_config(size, len(tok), n_positions=max(context, block_size), dropout=0.0, attn_implementation="sdpa")
    model = GPT2LMHeadModel(cfg)
    hist = pretrain_gpt(model, train_ids, val_ids, steps=steps, batch_size=batch_size, block_size=block_size,
                        lr=lr, eval_every=max(1, steps // 4), eval_blocks=32, live_plot=False, progress=progress,
                        title="pretraining the base GPT on KJV")
    add_chat_tokens(tok, model)
    return model.eval(), tok, hist
