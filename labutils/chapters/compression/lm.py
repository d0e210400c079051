"""Notebook 11, section 3 · the chat LM came quantized: perplexity, size on disk and generation speed of the
pretrained chat LM as fp32 (the dequantized GGUF), int8 weight-only and int4 group-wise weight-only.

The int4 file is written for real (two 4-bit codes packed into each byte, one fp16 scale per group of 32), so its
size is measured, not computed; its quality is measured with the dequantized weights (fp32 arithmetic: this CPU has
no int4 kernel in eager PyTorch, so int4 buys size and memory here, not speed).
"""
from __future__ import annotations

import time
from pathlib import Path

import torch
from torch import nn

from labutils.chapters.compression.quant import CompressionError, int4_groupwise, int4_groupwise_asym


def held_out_ids(tokenizer, texts: list[str], n_tokens: int) -> torch.Tensor:
    """The first ``n_tokens`` tokens of ``texts`` joined by newlines, as one 1-D tensor (a fixed evaluation text)."""
    ids: list[int] = []
    for t in texts:
        ids.extend(tokenizer(t + "\n", add_special_tokens=False)["input_ids"])
        if len(ids) >= n_tokens:
            break
    if len(ids) < 16:
        raise CompressionError(f"The evaluation text has only {len(ids)} tokens; give at least 16.")
    return torch.tensor(ids[:n_tokens], dtype=torch.long)


def lm_perplexity(model, ids: torch.Tensor, block_size: int = 256, batch_size: int = 4) -> float:
    """``exp`` of the mean next-token cross-entropy over non-overlapping windows of ``ids`` (see
    ``lu.training.perplexity``); small batches, because a 49k-word vocabulary makes the logits large."""
    from labutils.train.lm import perplexity
    return perplexity(model, ids, block_size=min(block_size, len(ids) - 1), batch_size=batch_size, max_blocks=None)


def tokens_per_second(model, tokenizer, prompt: str, new_tokens: int = 32, repeats: int = 1) -> float:
    """Greedy generation speed with the KV cache (tokens generated per second, best of ``repeats``), exactly
    ``new_tokens`` tokens after ``prompt``."""
    enc = tokenizer(prompt, return_tensors="pt")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    best = 0.0
    with torch.inference_mode():
        model.generate(**enc, max_new_tokens=2, min_new_tokens=2, do_sample=False, pad_token_id=pad)  # warm-up
        for _ in range(max(1, repeats)):
            t = time.perf_counter()
            model.generate(**enc, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                           pad_token_id=pad)
            best = max(best, new_tokens / (time.perf_counter() - t))
    return best


def pack_int4(q: torch.Tensor) -> torch.Tensor:
    """Two 4-bit codes per byte, ``low | high << 4``: signed codes (−8…7, int8) are stored +8, unsigned ones
    (0…15, uint8) as they are. ``q.numel()`` must be even."""
    flat = q.flatten().to(torch.int16) + (8 if q.dtype == torch.int8 else 0)
    flat = flat.to(torch.uint8)
    if flat.numel() % 2:
        raise CompressionError("pack_int4 needs an even number of codes.")
    return flat[0::2] | (flat[1::2] << 4)


def unpack_int4(packed: torch.Tensor, shape, signed: bool = True) -> torch.Tensor:
    """Inverse of :func:`pack_int4`: int8 codes (``signed``) or uint8 codes 0…15 of ``shape``."""
    lo, hi = (packed & 0x0F).to(torch.int16), (packed >> 4).to(torch.int16)
    codes = torch.stack([lo, hi], dim=1).flatten()
    return (codes - 8).to(torch.int8).reshape(shape) if signed else codes.to(torch.uint8).reshape(shape)


def save_int4_packed(model: nn.Module, path: str | Path, group_size: int = 32,
                     skip: tuple[str, ...] = ("lm_head",), asymmetric: bool = False) -> Path:
    """Write ``model``'s state as a safetensors file with every ``nn.Linear`` weight in int4 group-wise form
    (packed codes + fp16 scales, and fp16 minimums if ``asymmetric``) and everything else in fp16; returns the
    path. Tied weights are stored once."""
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    linear = {f"{n}.weight": m for n, m in model.named_modules()
              if isinstance(m, nn.Linear) and not any(s in n for s in skip) and m.weight.shape[1] % group_size == 0}
    seen: set[int] = set()
    for name, t in model.state_dict().items():
        if t.data_ptr() in seen:
            continue
        seen.add(t.data_ptr())
        if name in linear:
            if asymmetric:
                q, scale, lo = int4_groupwise_asym(t.detach().float(), group_size)
                tensors[name + ".min"] = lo.to(torch.float16).contiguous()
            else:
                q, scale = int4_groupwise(t.detach().float(), group_size)
            tensors[name + ".q4"] = pack_int4(q)
            tensors[name + ".scale"] = scale.to(torch.float16).contiguous()
        else:
            tensors[name] = t.detach().to(torch.float16).contiguous() if t.is_floating_point() else t.contiguous()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path))
    return path
