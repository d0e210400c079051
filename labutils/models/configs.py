"""Named small model configs the course trains itself (notebooks 03-05): :func:`tiny_gpt_config` (GPT-2 family)
and :func:`tiny_bert_config`; sizes ``nano``, ``micro``, ``small``."""
from __future__ import annotations

from typing import Any

from labutils.core.errors import ModelError

# name: (n_layer, n_embd, n_head, n_positions); parameter counts (vocab 256 / 4096) in tiny_gpt_config's docstring
GPT_SIZES: dict[str, tuple[int, int, int, int]] = {
    "nano": (2, 64, 2, 128),
    "micro": (4, 128, 4, 256),
    "small": (6, 256, 8, 256),
    "base": (8, 384, 8, 512),
}
BERT_SIZES: dict[str, tuple[int, int, int, int]] = {
    "nano": (2, 64, 2, 128),
    "micro": (4, 128, 4, 256),
    "small": (6, 256, 8, 256),
}


def _size(name: str, table: dict) -> tuple[int, int, int, int]:
    if name not in table:
        raise ModelError(f"Unknown size {name!r}; choose one of {', '.join(table)}.")
    return table[name]


def tiny_gpt_config(size: str = "micro", vocab_size: int = 256, n_positions: int | None = None,
                    bos_token_id: int | None = None, eos_token_id: int | None = None,
                    pad_token_id: int | None = None, dropout: float = 0.0, **overrides: Any):
    """A small GPT-2 style ``GPT2Config`` by name.

    ===== ====== ====== ====== ========= ==================== =====================
    size  layers d_model heads context   params (vocab 256)   params (vocab 4096)
    ===== ====== ====== ====== ========= ==================== =====================
    nano  2      64      2     128       0.12M                0.36M
    micro 4      128     4     256       0.83M                1.32M
    small 6      256     8     256       4.87M                5.85M
    base  8      384     8     512       14.5M                16.0M
    ===== ====== ====== ====== ========= ==================== =====================

    (Counts include the tied embedding once.) ``bos``/``eos`` default to the last id of the
    vocabulary, which transformers 5 requires to lie inside it; ``dropout`` sets every dropout
    (0 is best per minute on a CPU).
    """
    from transformers import GPT2Config

    n_layer, n_embd, n_head, ctx = _size(size, GPT_SIZES)
    last = vocab_size - 1
    cfg = dict(vocab_size=vocab_size, n_positions=n_positions or ctx, n_embd=n_embd, n_layer=n_layer,
               n_head=n_head, resid_pdrop=dropout, embd_pdrop=dropout, attn_pdrop=dropout,
               bos_token_id=last if bos_token_id is None else bos_token_id,
               eos_token_id=last if eos_token_id is None else eos_token_id,
               pad_token_id=pad_token_id)
    for key, value in (("bos_token_id", cfg["bos_token_id"]), ("eos_token_id", cfg["eos_token_id"])):
        if not 0 <= value < vocab_size:
            raise ModelError(f"{key}={value} must lie inside the vocabulary (0..{vocab_size - 1}).")
    cfg.update(overrides)
    return GPT2Config(**cfg)


def tiny_bert_config(size: str = "micro", vocab_size: int = 30522, pad_token_id: int = 0,
                     max_position_embeddings: int | None = None, dropout: float = 0.1, **overrides: Any):
    """A small ``BertConfig`` by name (``nano``, ``micro``, ``small``; same shapes as the GPT sizes).

    With the MiniLM WordPiece vocabulary (30,522) the embedding dominates: micro ≈ 4.8M
    parameters, of which 3.9M are the token embedding.
    """
    from transformers import BertConfig

    n_layer, hidden, heads, ctx = _size(size, BERT_SIZES)
    cfg = dict(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=n_layer,
               num_attention_heads=heads, intermediate_size=4 * hidden,
               max_position_embeddings=max_position_embeddings or ctx, pad_token_id=pad_token_id,
               hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    cfg.update(overrides)
    return BertConfig(**cfg)


def tiny_modernbert_config(size: str = "micro", vocab_size: int = 30522, pad_token_id: int = 0,
                           cls_token_id: int = 101, sep_token_id: int = 102, max_position_embeddings: int | None = None,
                           dropout: float = 0.0, **overrides: Any):
    """A small ``ModernBertConfig`` (Warner et al. 2024) with the same shapes as :func:`tiny_bert_config`.

    What differs from the 2018 BERT recipe: LayerNorm *before* each sublayer (pre-LN), rotary position
    embeddings instead of learned absolute ones, a gated (GeGLU) feed-forward, no biases. Every layer is
    given full attention here (ModernBERT alternates with a 128-token local window, which changes nothing
    on blocks this short). The intermediate size is chosen so the MLP has about BERT's parameter count.
    """
    from transformers import ModernBertConfig

    n_layer, hidden, heads, ctx = _size(size, BERT_SIZES)
    ids = dict(pad_token_id=pad_token_id, cls_token_id=cls_token_id, sep_token_id=sep_token_id,
               bos_token_id=cls_token_id, eos_token_id=sep_token_id)
    for key, value in ids.items():
        if not 0 <= value < vocab_size:
            raise ModelError(f"{key}={value} must lie inside the vocabulary (0..{vocab_size - 1}).")
    cfg = dict(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=n_layer, num_attention_heads=heads,
               intermediate_size=2 * hidden, max_position_embeddings=max_position_embeddings or ctx,
               layer_types=["full_attention"] * n_layer, embedding_dropout=dropout, mlp_dropout=dropout,
               attention_dropout=dropout, **ids)
    cfg.update(overrides)
    return ModernBertConfig(**cfg)
