"""Sampling from a causal LM (notebook 04, section on decoding): temperature, top-k, top-p, and generation.

:func:`sampling_distribution` is the pure function the sampling widget shows; :func:`generate_text` checks a prompt
against the model's context length and says the limit when it is too long."""
from __future__ import annotations

from typing import Iterable

import torch

from labutils.core.errors import TrainingError
from labutils.train.lm import model_context


# ------------------------------------------------------------------------------ sampling
def sampling_distribution(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                          top_p: float | None = None, repetition_penalty: float = 1.0,
                          previous: torch.Tensor | Iterable[int] | None = None) -> torch.Tensor:
    """Turn next-token ``logits`` (``(V,)`` or ``(B, V)``) into the probabilities a sampler draws from.

    In ``transformers``' order: (1) repetition penalty on every id in ``previous``: a positive logit
    is divided by the penalty, a negative one multiplied (CTRL, Keskar et al. 2019); (2) divide by
    ``temperature``; (3) keep the ``top_k`` largest logits; (4) keep the smallest set of most likely
    tokens whose probability adds up to at least ``top_p`` (nucleus sampling, Holtzman et al. 2020).
    ``temperature=0`` means greedy: all mass on the arg-max.
    """
    if temperature < 0:
        raise TrainingError(f"temperature must be ≥ 0 (0 = greedy), not {temperature}.")
    if top_k is not None and top_k < 1:
        raise TrainingError(f"top_k must be a positive integer or None, not {top_k}.")
    if top_p is not None and not 0 < top_p <= 1:
        raise TrainingError(f"top_p must lie in (0, 1] or be None, not {top_p}.")
    if repetition_penalty <= 0:
        raise TrainingError(f"repetition_penalty must be > 0 (1 = off), not {repetition_penalty}.")
    squeeze = logits.dim() == 1
    z = logits.float().clone().reshape(-1, logits.size(-1))
    if repetition_penalty != 1.0 and previous is not None:
        prev = previous if torch.is_tensor(previous) else torch.tensor(list(previous), dtype=torch.long)
        prev = prev.to(device=z.device, dtype=torch.long)
        prev = prev.reshape(1, -1).expand(z.size(0), -1) if prev.dim() == 1 else prev
        if prev.numel():
            score = torch.gather(z, 1, prev)
            score = torch.where(score < 0, score * repetition_penalty, score / repetition_penalty)
            z.scatter_(1, prev, score)
    if temperature == 0:
        probs = torch.zeros_like(z)
        probs.scatter_(1, z.argmax(-1, keepdim=True), 1.0)
        return probs[0] if squeeze else probs
    z = z / temperature
    if top_k is not None and top_k < z.size(-1):
        kth = torch.topk(z, top_k, dim=-1).values[:, -1:]
        z = z.masked_fill(z < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_z, order = torch.sort(z, descending=False)
        cum = sorted_z.softmax(-1).cumsum(-1)
        remove_sorted = cum <= (1 - top_p)
        remove_sorted[:, -1] = False                        # always keep the most likely token
        remove = remove_sorted.scatter(1, order, remove_sorted)
        z = z.masked_fill(remove, float("-inf"))
    probs = z.softmax(-1)
    return probs[0] if squeeze else probs


@torch.no_grad()
def generate_ids(model, ids: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None, repetition_penalty: float = 1.0,
                 generator: torch.Generator | None = None, eos_token_id: int | None = None) -> torch.Tensor:
    """Append ``max_new_tokens`` sampled ids to ``ids`` (``(1, T)``), with the KV cache.

    When the sequence reaches the model's context, the oldest tokens slide out of the window (the
    cache is then rebuilt each step). ``eos_token_id`` stops early when it is drawn.
    """
    ctx = model_context(model)
    device = next(model.parameters()).device
    ids = ids.to(device)
    past, fed = None, 0
    for _ in range(max_new_tokens):
        if ids.size(1) <= ctx:
            out = model(ids[:, fed:], past_key_values=past, use_cache=True)
            past, fed = out.past_key_values, ids.size(1)
        else:
            out = model(ids[:, -ctx:], use_cache=False)
        probs = sampling_distribution(out.logits[:, -1, :], temperature, top_k, top_p, repetition_penalty,
                                      ids if repetition_penalty != 1.0 else None)
        if temperature == 0:
            nxt = probs.argmax(-1, keepdim=True)
        else:
            nxt = torch.multinomial(probs, 1, generator=generator)
        ids = torch.cat([ids, nxt], dim=1)
        if ids.size(1) > ctx:
            past = None
        if eos_token_id is not None and int(nxt[0, 0]) == eos_token_id:
            break
    return ids


def generate_text(model, tokenizer, prompt: str, max_new_tokens: int = 200, temperature: float = 0.8,
                  top_k: int | None = None, top_p: float | None = None, repetition_penalty: float = 1.0,
                  seed: int | None = 0, truncate: bool = False, stop_at_eos: bool = True) -> str:
    """Continue ``prompt`` with the model and return the new text only (see :func:`sampling_distribution`).

    ``temperature=0`` is greedy decoding. A prompt longer than the model's context raises a
    ``TrainingError`` unless ``truncate=True`` (then only its last tokens are kept). ``seed`` makes
    sampling repeatable (None: a fresh draw each call).
    """
    ctx = model_context(model)
    ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
    if ids.size(1) == 0:
        ids = torch.tensor([[tokenizer.eos_token_id]])
    if ids.size(1) > ctx:
        if not truncate:
            raise TrainingError(f"The prompt is {ids.size(1)} tokens long but this model reads at most {ctx}; "
                                "shorten it or pass truncate=True to keep only its last tokens.")
        ids = ids[:, -ctx:]
    gen = torch.Generator(device=next(model.parameters()).device)
    if seed is not None:
        gen.manual_seed(seed)
    else:
        gen.seed()
    was_training = model.training
    model.eval()
    out = generate_ids(model, ids, max_new_tokens, temperature, top_k, top_p, repetition_penalty, gen,
                       tokenizer.eos_token_id if stop_at_eos else None)
    model.train(was_training)
    new = out[0, ids.size(1):].tolist()
    if stop_at_eos and new and new[-1] == tokenizer.eos_token_id:
        new = new[:-1]
    return tokenizer.decode(new, skip_special_tokens=True)
