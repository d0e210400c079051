"""Notebook 12, serving generation: the KV cache on and off (tokens/s against generated length), and a small,
measured demonstration of continuous batching (Orca, Yu et al. 2022; vLLM, Kwon et al. 2023) against static
batching.

* :func:`greedy_decode` — greedy decoding by hand for exactly ``n`` new tokens, with ``use_cache`` on (each step
  feeds one token and the cached keys/values) or off (each step recomputes the whole sequence).
* :func:`kv_cache_sweep` — tokens/s with and without the cache at several generated lengths, and whether both
  produced the same tokens.
* :func:`static_batching` / :func:`continuous_batching` — the same requests (prompt, number of new tokens) through
  ``batch_size`` slots. Static: a batch runs until its longest request is done, finished rows keep computing
  (wasted slot-steps). Continuous: a finished slot is refilled with the next waiting request at the next step.
  Both recompute the padded batch each step (no KV cache: this isolates the scheduling effect).
"""
from __future__ import annotations

import random
import time
from typing import Sequence

from labutils.chapters.serving.onnx import ServingError


def greedy_decode(model, input_ids, n: int, use_cache: bool = True) -> list[int]:
    """Greedy decoding for exactly ``n`` new tokens (no stop at end-of-text); returns the new token ids."""
    import torch

    ids = input_ids if input_ids.dim() == 2 else input_ids[None]
    past, cur, out = None, ids, []
    with torch.inference_mode():
        for _ in range(int(n)):
            o = model(input_ids=cur if use_cache else ids, past_key_values=past, use_cache=use_cache)
            nxt = o.logits[:, -1, :].argmax(-1, keepdim=True)
            out.append(int(nxt[0, 0]))
            ids = torch.cat([ids, nxt], dim=1)
            if use_cache:
                past, cur = o.past_key_values, nxt
    return out


def kv_cache_sweep(model, input_ids, lengths: Sequence[int] = (16, 64, 128), repeats: int = 1) -> list[dict]:
    """Tokens/s of greedy decoding with and without the KV cache at each generated length (best of ``repeats``).

    Each row: ``new_tokens``, ``cache_tok_s``, ``no_cache_tok_s``, ``speedup`` and ``same_tokens`` (the two paths
    chose the same tokens: the cache changes the cost, not the result)."""
    limit = getattr(model.config, "max_position_embeddings", None) or getattr(model.config, "n_positions", None)
    rows = []
    greedy_decode(model, input_ids, 2, True)  # warm-up
    for n in lengths:
        if limit and input_ids.shape[-1] + n > limit:
            raise ServingError(f"A prompt of {input_ids.shape[-1]} tokens plus {n} new ones exceeds the model's "
                               f"{limit} positions; use shorter lengths.")
        row = {"new_tokens": int(n)}
        toks = {}
        for cache in (True, False):
            best = float("inf")
            for _ in range(max(1, repeats)):
                t0 = time.perf_counter()
                toks[cache] = greedy_decode(model, input_ids, n, cache)
                best = min(best, time.perf_counter() - t0)
            row["cache_tok_s" if cache else "no_cache_tok_s"] = n / best
        row["speedup"] = row["cache_tok_s"] / row["no_cache_tok_s"]
        row["same_tokens"] = toks[True] == toks[False]
        rows.append(row)
    return rows


def kv_figure(rows: Sequence[dict], title: str = "KV cache on vs off: generation speed"):
    """plotly: tokens/s against the number of generated tokens, with and without the cache."""
    import plotly.graph_objects as go

    x = [r["new_tokens"] for r in rows]
    fig = go.Figure()
    fig.add_scatter(x=x, y=[r["cache_tok_s"] for r in rows], name="use_cache=True", mode="lines+markers")
    fig.add_scatter(x=x, y=[r["no_cache_tok_s"] for r in rows], name="use_cache=False", mode="lines+markers")
    fig.update_layout(title=title, xaxis_title="generated tokens", yaxis_title="tokens/s", height=340,
                      yaxis_rangemode="tozero", margin={"t": 50})
    return fig


def make_workload(n_requests: int, min_new: int = 4, max_new: int = 40, seed: int = 0) -> list[int]:
    """Numbers of new tokens per request, long-tailed as real chat traffic (most short, a few long); seeded."""
    rng = random.Random(seed)
    return [min(max_new, min_new + int(rng.expovariate(1 / max(1.0, (max_new - min_new) / 4))))
            for _ in range(int(n_requests))]


def _step(model, seqs: list[list[int]], pad_id: int) -> list[int]:
    """One decode step for a batch of sequences of different lengths: left-pad, mask, positions, argmax."""
    import torch

    L = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), L), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), L), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, L - len(s):] = torch.tensor(s)
        mask[i, L - len(s):] = 1
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.inference_mode():
        logits = model(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=False).logits
    return logits[:, -1, :].argmax(-1).tolist()


def _check(prompts, lengths, batch_size):
    if len(prompts) != len(lengths) or not prompts:
        raise ServingError("Give one prompt per request length (and at least one request).")
    if int(batch_size) < 1:
        raise ServingError("batch_size must be at least 1.")


def _result(kind, outputs, steps, slot_steps, seconds, lengths, batch_size):
    useful = sum(lengths)
    return {"scheduler": kind, "requests": len(lengths), "batch_size": batch_size, "decode_steps": steps,
            "slot_steps": slot_steps, "useful_tokens": useful, "wasted_slot_steps": slot_steps - useful,
            "slot_utilisation": useful / slot_steps if slot_steps else 0.0, "seconds": seconds,
            "tokens_per_s": useful / seconds if seconds else 0.0, "outputs": outputs}


def static_batching(model, prompts: Sequence[Sequence[int]], lengths: Sequence[int], batch_size: int = 4,
                    pad_id: int = 0) -> dict:
    """Requests in arrival order, ``batch_size`` at a time; each batch decodes until its longest request is done."""
    _check(prompts, lengths, batch_size)
    outputs: list[list[int]] = [[] for _ in prompts]
    steps = slot_steps = 0
    t0 = time.perf_counter()
    for start in range(0, len(prompts), batch_size):
        idx = list(range(start, min(start + batch_size, len(prompts))))
        seqs = [list(prompts[i]) for i in idx]
        for _ in range(max(lengths[i] for i in idx)):
            nxt = _step(model, seqs, pad_id)
            steps += 1
            slot_steps += batch_size  # the batch holds its slots until its longest request ends
            for k, i in enumerate(idx):
                seqs[k].append(nxt[k])
                if len(outputs[i]) < lengths[i]:
                    outputs[i].append(nxt[k])
    return _result("static", outputs, steps, slot_steps, time.perf_counter() - t0, list(lengths), batch_size)


def continuous_batching(model, prompts: Sequence[Sequence[int]], lengths: Sequence[int], batch_size: int = 4,
                        pad_id: int = 0) -> dict:
    """``batch_size`` slots; after every step a finished request leaves and the next waiting one takes its slot."""
    _check(prompts, lengths, batch_size)
    outputs: list[list[int]] = [[] for _ in prompts]
    waiting = list(range(len(prompts)))
    slots: list[int] = []
    seqs: dict[int, list[int]] = {}
    steps = slot_steps = 0
    t0 = time.perf_counter()
    while waiting or slots:
        while waiting and len(slots) < batch_size:  # refill free slots
            i = waiting.pop(0)
            slots.append(i)
            seqs[i] = list(prompts[i])
        nxt = _step(model, [seqs[i] for i in slots], pad_id)
        steps += 1
        slot_steps += batch_size  # an empty slot (only at the tail) is wasted too
        for k, i in enumerate(slots):
            seqs[i].append(nxt[k])
            outputs[i].append(nxt[k])
        slots = [i for i in slots if len(outputs[i]) < lengths[i]]
    return _result("continuous", outputs, steps, slot_steps, time.perf_counter() - t0, list(lengths), batch_size)


def batching_timeline(result_static: dict, result_cont: dict, lengths: Sequence[int], batch_size: int):
    """plotly: which request occupies each slot at each decode step, static above, continuous below."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.12,
                        subplot_titles=(f"static: {result_static['decode_steps']} steps, "
                                        f"{result_static['slot_utilisation']:.0%} of slot-steps useful",
                                        f"continuous: {result_cont['decode_steps']} steps, "
                                        f"{result_cont['slot_utilisation']:.0%} useful"))
    # static: batch b starts after the previous batch's longest request
    t, bars = 0, []
    for start in range(0, len(lengths), batch_size):
        idx = list(range(start, min(start + batch_size, len(lengths))))
        for k, i in enumerate(idx):
            bars.append((1, k, t, lengths[i], i, max(lengths[j] for j in idx) - lengths[i]))
        t += max(lengths[j] for j in idx)
    # continuous: a slot is refilled as soon as it frees
    free = [0] * batch_size
    for i, n in enumerate(lengths):
        k = min(range(batch_size), key=lambda s: free[s])
        bars.append((2, k, free[k], n, i, 0))
        free[k] += n
    for row, slot, start, n, i, idle in bars:
        fig.add_bar(x=[n], y=[f"slot {slot}"], base=[start], orientation="h", row=row, col=1, showlegend=False,
                    marker_color=f"hsl({(i * 47) % 360},60%,60%)", text=[f"r{i}"], hovertext=f"request {i}: {n} tokens")
        if idle:
            fig.add_bar(x=[idle], y=[f"slot {slot}"], base=[start + n], orientation="h", row=row, col=1,
                        showlegend=False, marker_color="lightgrey", hovertext="wasted: waiting for the longest")
    fig.update_layout(barmode="overlay", height=420, title="Static vs continuous batching (grey: wasted slot-steps)",
                      margin={"t": 70})
    fig.update_xaxes(title_text="decode step", row=2, col=1)
    return fig
