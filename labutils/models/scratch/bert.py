"""A BERT encoder layer from scratch (notebook 03), loaded with a library layer's weights and checked equal to it."""
from __future__ import annotations

import torch
import torch.nn as nn

from labutils.models.scratch.gpt import LayerNorm, attention, gelu_erf, merge_heads, split_heads


# ------------------------------------------------------------------------------ BERT's encoder
class EncoderLayer(nn.Module):
    """A BERT encoder layer, post-LayerNorm and bidirectional (no causal mask)::

        a = LN₁(x + W_o · MHA(x))        h = LN₂(a + W₂ · GELU(W₁ a))

    ``forward(x, key_padding_mask=None)`` returns ``(h, a, weights)``; ``key_padding_mask`` is
    ``(B, T)`` boolean, ``True`` for real tokens.
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, eps: float = 1e-12):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}.")
        self.n_heads = n_heads
        self.query, self.key, self.value = (nn.Linear(d_model, d_model) for _ in range(3))
        self.attn_out = nn.Linear(d_model, d_model)
        self.ln_1 = LayerNorm(d_model, eps)
        self.ff_in = nn.Linear(d_model, d_ff)
        self.ff_out = nn.Linear(d_ff, d_model)
        self.ln_2 = LayerNorm(d_model, eps)

    def forward(self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None):
        q, k, v = (split_heads(f(x), self.n_heads) for f in (self.query, self.key, self.value))
        mask = None if key_padding_mask is None else key_padding_mask.bool()[:, None, None, :]
        out, weights = attention(q, k, v, mask)
        a = self.ln_1(x + self.attn_out(merge_heads(out)))       # post-LN: normalise after adding
        h = self.ln_2(a + self.ff_out(gelu_erf(self.ff_in(a))))
        return h, a, weights


def load_bert_layer(layer: EncoderLayer, hf_layer) -> EncoderLayer:
    """Copy a ``transformers`` ``BertLayer``'s weights into ``layer`` (``nn.Linear`` on both sides)."""
    pairs = [(layer.query, hf_layer.attention.self.query), (layer.key, hf_layer.attention.self.key),
             (layer.value, hf_layer.attention.self.value), (layer.attn_out, hf_layer.attention.output.dense),
             (layer.ln_1, hf_layer.attention.output.LayerNorm), (layer.ff_in, hf_layer.intermediate.dense),
             (layer.ff_out, hf_layer.output.dense), (layer.ln_2, hf_layer.output.LayerNorm)]
    with torch.no_grad():
        for a, b in pairs:
            if a.weight.shape != b.weight.shape:
                raise ValueError(f"Shape mismatch: {tuple(a.weight.shape)} vs {tuple(b.weight.shape)}.")
            a.weight.copy_(b.weight)
            a.bias.copy_(b.bias)
    layer.ln_1.eps = hf_layer.attention.output.LayerNorm.eps
    layer.ln_2.eps = hf_layer.output.LayerNorm.eps
    return layer


def encoder_layer_from_hf(hf_layer, config) -> EncoderLayer:
    """An :class:`EncoderLayer` sized by a ``BertConfig`` and holding ``hf_layer``'s weights."""
    if getattr(config, "hidden_act", "gelu") != "gelu":
        raise ValueError(f"EncoderLayer uses the exact (erf) GELU; this config uses {config.hidden_act!r}.")
    layer = EncoderLayer(config.hidden_size, config.num_attention_heads, config.intermediate_size,
                         config.layer_norm_eps)
    param = next(hf_layer.parameters())
    return load_bert_layer(layer.to(device=param.device, dtype=param.dtype), hf_layer).eval()
