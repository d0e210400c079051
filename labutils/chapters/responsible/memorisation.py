"""Notebook 14, memorisation (记忆) of secrets: canaries in the training text, their exposure, extraction by sampling.

Carlini et al. 2019 ("The Secret Sharer"): insert a canary such as ``"the PIN of Alice is 4829"`` into the
training data ``r`` times, train, then rank the true secret among every candidate of the same format by the model's
log-likelihood. **Exposure** = ``log₂|R| - log₂ rank``: 0 bits when the secret is the least likely candidate,
``log₂|R|`` (13.3 bits for 4 digits) when it is the most likely. A secret the model never saw has an expected
exposure of about 1.44 bits (rank uniform), whatever the model.

A secret of ``d`` digits has ``10^d`` candidates; all their log-likelihoods come from ``10^(d-1)`` forward passes
(the logits at the last ``d`` positions give every digit's probability), so exposure here is exact, not sampled.
"""
from __future__ import annotations

import math
import random
from typing import Sequence

import numpy as np
import torch

from labutils.chapters.responsible.errors import ResponsibleError

NAMES = ["Alice", "Bruno", "Chen", "Dara", "Emeka", "Freya", "Goran", "Hana", "Ivo", "Jun"]
DIGITS = "0123456789"


def make_canaries(repetitions: Sequence[int], digits: int = 4, seed: int = 0) -> list[dict]:
    """One canary per repetition count: ``{"prefix": "the PIN of Alice is ", "secret": "4829", "reps": r,
    "text": prefix + secret + "."}``; each has its own name and a random secret. Use ``reps=0`` for a control
    canary that is never inserted (its exposure is chance level)."""
    if len(repetitions) > len(NAMES):
        raise ResponsibleError(f"At most {len(NAMES)} canaries, got {len(repetitions)}.")
    if digits < 1 or digits > 6:
        raise ResponsibleError(f"digits must be between 1 and 6 (10^digits candidates), not {digits}.")
    rng = random.Random(seed)
    out = []
    for name, r in zip(NAMES, repetitions):
        if int(r) < 0:
            raise ResponsibleError(f"A repetition count cannot be negative: {r}.")
        secret = "".join(rng.choice(DIGITS) for _ in range(digits))
        prefix = f"the PIN of {name} is "
        out.append({"name": name, "prefix": prefix, "secret": secret, "reps": int(r), "text": prefix + secret + "."})
    return out


def insert_canaries(text: str, canaries: Sequence[dict], seed: int = 0) -> str:
    """``text`` with each canary's sentence inserted ``reps`` times, each time as its own line at a random line
    break (seeded)."""
    lines = text.split("\n")
    rng = random.Random(seed)
    for c in canaries:
        for _ in range(c["reps"]):
            lines.insert(rng.randrange(len(lines) + 1), c["text"])
    return "\n".join(lines)


def _digit_ids(tokenizer) -> list[int]:
    ids = []
    for d in DIGITS:
        enc = tokenizer(d, add_special_tokens=False)["input_ids"]
        if len(enc) != 1:
            raise ResponsibleError(f"The tokenizer splits the digit {d!r} into {len(enc)} tokens; exposure here needs "
                                   "one token per digit (a character tokenizer whose alphabet has 0-9).")
        ids.append(int(enc[0]))
    return ids


@torch.no_grad()
def secret_logprobs(model, tokenizer, prefix: str, digits: int, batch_size: int = 500) -> np.ndarray:
    """Log-likelihood (nats) of every ``digits``-digit secret after ``prefix``: an array of ``10^digits``, index =
    the secret read as an integer (``"0042"`` → 42)."""
    dig = _digit_ids(tokenizer)
    pre = tokenizer(prefix, add_special_tokens=False)["input_ids"]
    if not pre:
        raise ResponsibleError("The canary prefix has no tokens.")
    dev = next(model.parameters()).device
    n_ctx = getattr(model.config, "n_positions", None) or getattr(model.config, "max_position_embeddings", 10 ** 9)
    if len(pre) + digits > n_ctx:
        raise ResponsibleError(f"prefix + secret is {len(pre) + digits} tokens; the model reads at most {n_ctx}.")
    dig_t = torch.tensor(dig, device=dev)
    heads = np.array(np.meshgrid(*[np.arange(10)] * (digits - 1), indexing="ij")).reshape(digits - 1, -1).T \
        if digits > 1 else np.zeros((1, 0), dtype=int)
    out = np.empty(10 ** digits)
    was = model.training
    model.eval()
    for i in range(0, len(heads), batch_size):
        h = torch.as_tensor(heads[i:i + batch_size], device=dev)
        ids = torch.cat([torch.tensor(pre, device=dev).expand(len(h), -1), dig_t[h]], 1)
        logp = torch.log_softmax(model(ids).logits.float(), -1)[:, len(pre) - 1:, :][:, :, dig_t]  # (b, digits, 10)
        so_far = torch.zeros(len(h), device=dev)
        for j in range(digits - 1):
            so_far += logp[:, j].gather(1, h[:, j:j + 1])[:, 0]
        full = so_far[:, None] + logp[:, digits - 1]                      # (b, 10): last digit free
        base = torch.as_tensor(heads[i:i + batch_size] @ (10 ** np.arange(digits - 2, -1, -1)) * 10 if digits > 1
                               else np.zeros(len(h), dtype=int))
        for d in range(10):
            out[(base + d).numpy()] = full[:, d].cpu().numpy()
    model.train(was)
    return out


def exposure(logprobs: np.ndarray, secret: str) -> dict:
    """Exposure of ``secret`` among all candidates: ``log₂ N - log₂ rank`` with rank 1 = the most likely.

    Ties count against the secret (rank = 1 + number of candidates at least as likely, other than itself).
    Returns ``{"exposure", "rank", "candidates", "max_exposure"}``."""
    lp = np.asarray(logprobs, dtype=float)
    if not secret.isdigit() or 10 ** len(secret) != len(lp):
        raise ResponsibleError(f"secret {secret!r} does not index {len(lp):,} candidates of {len(secret)} digits.")
    s = lp[int(secret)]
    rank = int((lp >= s).sum())  # itself included
    return {"exposure": math.log2(len(lp)) - math.log2(rank), "rank": rank, "candidates": len(lp),
            "max_exposure": math.log2(len(lp))}


def canary_exposures(model, tokenizer, canaries: Sequence[dict]) -> list[dict]:
    """Exposure and rank of every canary (one row each, with ``reps``), and the most likely candidate
    (``top_candidate``: what an attacker who ranks all candidates would guess)."""
    rows = []
    for c in canaries:
        lp = secret_logprobs(model, tokenizer, c["prefix"], len(c["secret"]))
        top = str(int(np.argmax(lp))).zfill(len(c["secret"]))
        rows.append({"name": c["name"], "reps": c["reps"], "secret": c["secret"], **exposure(lp, c["secret"]),
                     "top_candidate": top})
    return rows


@torch.no_grad()
def extraction_attempt(model, tokenizer, canary: dict, n_samples: int = 64, temperature: float = 1.0,
                       seed: int = 0) -> dict:
    """Try to extract a canary's secret by sampling: ``n_samples`` completions of its prefix (``temperature``),
    plus the greedy one. Returns the share of samples that reproduce the secret, whether greedy does, and the
    most frequent sampled secret."""
    if n_samples < 1 or temperature <= 0:
        raise ResponsibleError("n_samples must be ≥ 1 and temperature > 0.")
    dev = next(model.parameters()).device
    digits = len(canary["secret"])
    pre = torch.tensor(tokenizer(canary["prefix"], add_special_tokens=False)["input_ids"], device=dev)
    g = torch.Generator(device="cpu").manual_seed(seed)
    ids = pre.expand(n_samples + 1, -1).clone()
    for _ in range(digits):
        logits = model(ids).logits[:, -1].float()
        probs = torch.softmax(logits[1:] / temperature, -1).cpu()
        nxt = torch.multinomial(probs, 1, generator=g).to(dev)
        greedy = logits[:1].argmax(-1, keepdim=True)
        ids = torch.cat([ids, torch.cat([greedy, nxt])], 1)
    texts = [tokenizer.decode(r[len(pre):].tolist()) for r in ids]
    sampled = texts[1:]
    counts: dict[str, int] = {}
    for t in sampled:
        counts[t] = counts.get(t, 0) + 1
    common = max(counts, key=counts.get)
    return {"name": canary["name"], "reps": canary["reps"], "secret": canary["secret"], "greedy": texts[0],
            "greedy_hit": texts[0] == canary["secret"], "sample_hit_rate": sum(t == canary["secret"] for t in sampled)
            / n_samples, "most_common": common, "most_common_count": counts[common]}


def exposure_figure(runs: dict[str, list[dict]]):
    """Exposure (bits) against repetitions, one line per model (``{"no DP": rows, "DP-SGD σ=1": rows}``)."""
    import plotly.graph_objects as go
    fig = go.Figure()
    top = None
    for name, rows in runs.items():
        rows = sorted(rows, key=lambda r: r["reps"])
        top = rows[0]["max_exposure"]
        fig.add_trace(go.Scatter(x=[max(r["reps"], 0.5) for r in rows], y=[r["exposure"] for r in rows],
                                 mode="lines+markers", name=name))
    if top is not None:
        fig.add_hline(y=top, line_dash="dot", annotation_text="fully memorised (log₂ N)")
        fig.add_hline(y=1 / math.log(2), line_dash="dash", annotation_text="chance ≈ 1.44 bits")
    fig.update_layout(title="Exposure of each canary vs how often it was in the training text (0 shown at 0.5)",
                      xaxis_title="repetitions in the training text", xaxis_type="log",
                      yaxis_title="exposure (bits)", height=400)
    return fig
