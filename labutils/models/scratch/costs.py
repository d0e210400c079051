"""What a Transformer costs (notebook 03): parameters by formula vs by code, forward FLOPs per token, measured
FLOPs, and the time per generated token with and without the key/value cache."""
from __future__ import annotations

import time

import torch
import torch.nn as nn

from labutils.train.efficiency import _sync
from labutils.train.params import count_parameters  # noqa: F401 (notebook 03 uses it from here)


# ---------------------------------------------------------------------------- counting things
def gpt_param_breakdown(vocab_size: int, n_positions: int, d_model: int, n_layers: int,
                        d_ff: int | None = None, tied: bool = True) -> dict[str, int]:
    """Parameters of a GPT-2 style model by formula, one entry per component (biases included).

    Per block: two LayerNorms ``2·2d``, q/k/v ``3d² + 3d``, output projection ``d² + d``, MLP
    ``d·d_ff + d_ff + d_ff·d + d``. Plus token ``V·d`` and position ``P·d`` embeddings, the final
    LayerNorm ``2d``, and the output layer ``V·d`` unless it is tied to the token embedding.
    """
    for name, v in dict(vocab_size=vocab_size, n_positions=n_positions, d_model=d_model, n_layers=n_layers).items():
        if int(v) != v or v < 1:
            raise ValueError(f"{name} must be a positive integer; got {v!r}.")
    d, f = d_model, 4 * d_model if d_ff is None else d_ff
    block = {"ln_1 + ln_2": 4 * d, "attention q,k,v": 3 * d * d + 3 * d, "attention output": d * d + d,
             "MLP": d * f + f + f * d + d}
    out = {"token embedding": vocab_size * d, "position embedding": n_positions * d}
    out.update({f"{k} (× {n_layers} blocks)": n_layers * v for k, v in block.items()})
    out["final LayerNorm"] = 2 * d
    out["output layer"] = 0 if tied else vocab_size * d
    out["total"] = sum(out.values())
    return out


def forward_flops_per_token(n_layers: int, d_model: int, n_ctx: int, vocab_size: int,
                            d_ff: int | None = None) -> dict[str, float]:
    """Forward-pass FLOPs per token of a GPT, counting matrix multiplies (2 FLOPs per multiply-add).

    ``matmul_params`` is N, the weights each token multiplies through (``n_layers·(4d² + 2·d·d_ff)``
    plus the output layer ``V·d``), so ``weights = 2N``. ``attention = 4·n_layers·n_ctx·d`` is ``QKᵀ``
    and ``weights·V`` over a full ``n_ctx × n_ctx`` score matrix (a causal kernel could skip half).
    Training costs about 3× the forward pass (backward ≈ 2× forward): ≈ ``6N`` per token.
    """
    d, f = d_model, 4 * d_model if d_ff is None else d_ff
    n = n_layers * (4 * d * d + 2 * d * f) + vocab_size * d
    weights, attn = 2.0 * n, 4.0 * n_layers * n_ctx * d
    return {"matmul_params": n, "weights": weights, "attention": attn, "forward": weights + attn,
            "train": 3 * (weights + attn)}


def measure_flops(model: nn.Module, idx: torch.Tensor, backward: bool = False) -> int:
    """FLOPs of one forward (and backward) pass on ``idx``, counted by ``torch.utils.flop_counter``."""
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False)
    with counter:
        out = model(idx)
        logits = out.logits if hasattr(out, "logits") else out
        if backward:
            logits.float().pow(2).mean().backward()
    if backward:
        model.zero_grad(set_to_none=True)
    return int(counter.get_total_flops())


@torch.no_grad()
def generation_time_per_token(model, prompt_len: int, n_new: int, use_cache: bool,
                              repeats: int = 3, seed: int = 0, batch_size: int = 1) -> float:
    """Seconds per decoding step (best of ``repeats``) for ``model.generate`` from random prompts.

    ``model`` is a ``transformers`` causal LM. Greedy decoding of exactly ``n_new`` tokens after
    ``batch_size`` prompts of ``prompt_len`` tokens; each step adds one token to every sequence. The
    prompt's own pass (prefill) is included, spread over the new tokens.
    """
    if min(prompt_len, n_new, repeats, batch_size) < 1:
        raise ValueError("prompt_len, n_new, repeats and batch_size must all be at least 1.")
    cfg = model.config
    if prompt_len + n_new > cfg.n_positions:
        raise ValueError(f"prompt_len + n_new = {prompt_len + n_new} exceeds n_positions={cfg.n_positions}.")
    device = next(model.parameters()).device
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, cfg.vocab_size, (batch_size, prompt_len), generator=g).to(device)
    kwargs = dict(max_new_tokens=n_new, min_new_tokens=n_new, do_sample=False, use_cache=use_cache,
                  pad_token_id=cfg.eos_token_id, attention_mask=torch.ones_like(ids))
    model.generate(ids, **{**kwargs, "max_new_tokens": 2, "min_new_tokens": 2})   # warm-up
    best = float("inf")
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        model.generate(ids, **kwargs)
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return best / n_new
