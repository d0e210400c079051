"""Notebook 03: a GPT block and a BERT layer written from scratch (``gpt``, ``bert``), loaded with a library
model's weights and checked equal to it, and what they cost (``costs``: parameters, FLOPs, time per token)."""
from __future__ import annotations

from labutils.models.scratch.bert import (  # noqa: F401
    EncoderLayer,
    encoder_layer_from_hf,
    load_bert_layer,
)
from labutils.models.scratch.costs import (  # noqa: F401
    forward_flops_per_token,
    generation_time_per_token,
    gpt_param_breakdown,
    measure_flops,
)
from labutils.models.scratch.gpt import (  # noqa: F401
    MLP,
    GPTBlock,
    GPTConfig,
    GPTOutput,
    LayerNorm,
    MultiHeadAttention,
    ScratchGPT,
    apply_rope,
    attention,
    causal_mask,
    gelu_erf,
    gelu_tanh,
    load_from_hf,
    max_abs_diff,
    merge_heads,
    scratch_from_hf,
    sinusoidal_positions,
    split_heads,
)
from labutils.train.params import count_parameters  # noqa: F401

__all__ = [
    'count_parameters',
    'max_abs_diff', 'attention', 'causal_mask', 'split_heads', 'merge_heads', 'MultiHeadAttention',
    'LayerNorm', 'gelu_tanh', 'gelu_erf', 'MLP', 'sinusoidal_positions', 'apply_rope', 'GPTConfig',
    'GPTBlock', 'GPTOutput', 'ScratchGPT', 'load_from_hf', 'scratch_from_hf', 'EncoderLayer',
    'load_bert_layer', 'encoder_layer_from_hf', 'gpt_param_breakdown', 'forward_flops_per_token',
    'measure_flops', 'generation_time_per_token',
]
