"""Notebook 14, interpretability of a sequence classifier: which input tokens made the prediction?

Three attributions of the same prediction, one score per token: the attention the ``[CLS]`` position pays in the
last layer (and attention rollout), gradient × input, and integrated gradients (Sundararajan et al. 2017) by hand
(midpoint Riemann sum over a straight path from a ``[PAD]`` baseline), checked against ``captum``. Then the
faithfulness test: delete the top-k attributed tokens and compare the drop in confidence with deleting k random ones.

All functions take a Hugging Face ``*ForSequenceClassification`` model and its tokenizer; nothing is trained here.
"""
from __future__ import annotations

import html
from typing import Sequence

import numpy as np
import torch

from labutils.chapters.responsible.errors import ResponsibleError


def encode(tokenizer, text: str, max_length: int = 64, device=None) -> dict:
    """Tokenize one sentence (no padding): ``{"input_ids", "attention_mask", "tokens"}``, batch of one."""
    if not isinstance(text, str) or not text.strip():
        raise ResponsibleError("Give a non-empty sentence to explain.")
    enc = tokenizer([text], truncation=True, max_length=max_length, return_tensors="pt")
    out = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
    if device is not None:
        out = {k: v.to(device) for k, v in out.items()}
    out["tokens"] = tokenizer.convert_ids_to_tokens(enc["input_ids"][0].tolist())
    return out


def _special_mask(tokenizer, ids: torch.Tensor) -> torch.Tensor:
    special = set(tokenizer.all_special_ids)
    return torch.tensor([int(i) in special for i in ids.tolist()], dtype=torch.bool)


def class_prob(model, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor, target: int) -> torch.Tensor:
    """Softmax probability of class ``target`` for a batch of input embeddings, shape ``(B,)``: the function
    every attribution here explains."""
    logits = model(inputs_embeds=inputs_embeds, attention_mask=attention_mask).logits
    return torch.softmax(logits.float(), -1)[:, target]


def baseline_embeds(model, tokenizer, input_ids: torch.Tensor) -> torch.Tensor:
    """The IG baseline: every ordinary token replaced by ``[PAD]``, the special tokens (``[CLS]``, ``[SEP]``) kept."""
    emb = model.get_input_embeddings()
    keep = _special_mask(tokenizer, input_ids[0]).to(input_ids.device)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    base_ids = torch.where(keep, input_ids[0], torch.full_like(input_ids[0], pad))[None]
    return emb(base_ids).detach()


def predicted(model, enc: dict) -> tuple[int, float]:
    """``(class, probability)`` the model predicts for an encoded sentence."""
    with torch.no_grad():
        p = torch.softmax(model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits.float(), -1)[0]
    return int(p.argmax()), float(p.max())


def grad_x_input(model, enc: dict, target: int) -> np.ndarray:
    """Gradient × input per token: ``Σ_d x_d · ∂p_target/∂x_d`` over the word-embedding dimensions."""
    x = model.get_input_embeddings()(enc["input_ids"]).detach().requires_grad_(True)
    p = class_prob(model, x, enc["attention_mask"], target)
    (g,) = torch.autograd.grad(p.sum(), x)
    return (g * x).sum(-1)[0].detach().cpu().numpy()


def integrated_gradients(model, tokenizer, enc: dict, target: int, n_steps: int = 32,
                         batch_size: int = 32) -> dict:
    """Integrated gradients by hand: ``(x - x')·∫₀¹ ∂p(x' + α(x - x'))/∂x dα``, midpoint rule with ``n_steps``.

    Returns ``{"attributions": per-token scores (summed over embedding dims), "sum": their total,
    "delta": f(x) - f(x'), "completeness_gap": |sum - delta|}``. Completeness (the attributions add up to
    ``f(x) - f(x')``) holds exactly for the integral; the gap measures the quadrature error.
    """
    if n_steps < 1:
        raise ResponsibleError(f"n_steps must be at least 1, not {n_steps}.")
    x = model.get_input_embeddings()(enc["input_ids"]).detach()
    x0 = baseline_embeds(model, tokenizer, enc["input_ids"])
    alphas = (torch.arange(n_steps, dtype=x.dtype, device=x.device) + 0.5) / n_steps
    total = torch.zeros_like(x[0])
    for i in range(0, n_steps, batch_size):
        a = alphas[i:i + batch_size][:, None, None]
        path = (x0 + a * (x - x0)).requires_grad_(True)
        mask = enc["attention_mask"].expand(len(a), -1)
        p = class_prob(model, path, mask, target)
        (g,) = torch.autograd.grad(p.sum(), path)
        total += g.sum(0)
    attr = ((x - x0)[0] * total / n_steps).sum(-1)
    with torch.no_grad():
        fx = class_prob(model, x, enc["attention_mask"], target)[0]
        fb = class_prob(model, x0, enc["attention_mask"], target)[0]
    s, delta = float(attr.sum()), float(fx - fb)
    return {"attributions": attr.detach().cpu().numpy(), "sum": s, "delta": delta,
            "completeness_gap": abs(s - delta)}


def captum_integrated_gradients(model, tokenizer, enc: dict, target: int, n_steps: int = 32) -> np.ndarray:
    """The same integrated gradients through ``captum.attr.IntegratedGradients`` (``method="riemann_middle"``, the
    midpoint rule :func:`integrated_gradients` uses), summed per token."""
    from captum.attr import IntegratedGradients
    x = model.get_input_embeddings()(enc["input_ids"]).detach()
    x0 = baseline_embeds(model, tokenizer, enc["input_ids"])

    def forward(embeds, mask):
        return class_prob(model, embeds, mask.expand(len(embeds), -1), target)

    ig = IntegratedGradients(forward)
    attr = ig.attribute(x, baselines=x0, additional_forward_args=(enc["attention_mask"],), n_steps=n_steps,
                        method="riemann_middle", internal_batch_size=n_steps)
    return attr.sum(-1)[0].detach().cpu().numpy()


def attention_scores(model, enc: dict, rollout: bool = False) -> np.ndarray:
    """Attention as an "explanation": what ``[CLS]`` attends to in the last layer (mean over heads), or with
    ``rollout=True`` attention rollout (Abnar & Zuidema 2020: ``Π (0.5·A + 0.5·I)`` over layers, row-normalised).

    The model must return attentions: load it with ``attn_implementation="eager"``.
    """
    with torch.no_grad():
        out = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], output_attentions=True)
    atts = out.attentions
    if not atts or atts[0] is None:
        raise ResponsibleError("The model returned no attentions; load it with attn_implementation='eager'.")
    if not rollout:
        return atts[-1][0].mean(0)[0].cpu().numpy()
    n = atts[0].shape[-1]
    eye = torch.eye(n)
    joint = eye.clone()
    for a in atts:
        a = 0.5 * a[0].mean(0).cpu() + 0.5 * eye
        joint = (a / a.sum(-1, keepdim=True)) @ joint
    return joint[0].numpy()


def explain(model, tokenizer, text: str, n_steps: int = 32, max_length: int = 64) -> dict:
    """Every attribution of one sentence side by side: tokens, predicted class and probability, and the scores
    of ``attention``, ``rollout``, ``grad_x_input`` and ``integrated_gradients`` (special tokens included)."""
    enc = encode(tokenizer, text, max_length, device=next(model.parameters()).device)
    cls, prob = predicted(model, enc)
    ig = integrated_gradients(model, tokenizer, enc, cls, n_steps=n_steps)
    return {"text": text, "tokens": enc["tokens"], "class": cls, "prob": prob,
            "attention": attention_scores(model, enc), "rollout": attention_scores(model, enc, rollout=True),
            "grad_x_input": grad_x_input(model, enc, cls), "integrated_gradients": ig["attributions"],
            "completeness_gap": ig["completeness_gap"], "ig_delta": ig["delta"], "n_steps": int(n_steps)}


def _ranked_positions(scores: np.ndarray, special: np.ndarray) -> list[int]:
    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")
    return [int(i) for i in order if not special[i]]


def delete_positions(input_ids: torch.Tensor, positions: Sequence[int]) -> torch.Tensor:
    """``input_ids`` (batch of one) with the tokens at ``positions`` removed."""
    drop = set(int(p) for p in positions)
    keep = [i for i in range(input_ids.shape[1]) if i not in drop]
    return input_ids[:, keep]


def _prob_of(model, ids: torch.Tensor, target: int) -> float:
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
    return float(torch.softmax(logits.float(), -1)[0, target])


def deletion_test(model, tokenizer, texts: Sequence[str], methods: Sequence[str] = ("attention", "grad_x_input",
                  "integrated_gradients"), k: int = 2, n_random: int = 5, n_steps: int = 16, seed: int = 0,
                  max_length: int = 64) -> dict:
    """Faithfulness (忠实度): delete each sentence's top-``k`` tokens by each method, and ``k`` random ones
    (``n_random`` draws), and measure the mean drop of the predicted class's probability.

    A faithful attribution removes what the model used, so its drop beats the random one. Returns
    ``{"drop": {method: mean drop, ..., "random": ...}, "per_sentence": [...], "k": k, "n": n}``; sentences
    with fewer than ``k + 1`` ordinary tokens are skipped.
    """
    if k < 1:
        raise ResponsibleError(f"k must be at least 1, not {k}.")
    rng = np.random.default_rng(seed)
    rows = []
    for text in texts:
        ex = explain(model, tokenizer, text, n_steps=n_steps, max_length=max_length)
        enc = encode(tokenizer, text, max_length, device=next(model.parameters()).device)
        special = _special_mask(tokenizer, enc["input_ids"][0].cpu()).numpy()
        ordinary = [i for i in range(len(special)) if not special[i]]
        if len(ordinary) < k + 1:
            continue
        row = {"text": text, "prob": ex["prob"]}
        for m in methods:
            top = _ranked_positions(ex[m], special)[:k]
            row[m] = ex["prob"] - _prob_of(model, delete_positions(enc["input_ids"], top), ex["class"])
        drops = [ex["prob"] - _prob_of(model, delete_positions(enc["input_ids"], rng.choice(ordinary, k, replace=False)),
                                       ex["class"]) for _ in range(n_random)]
        row["random"] = float(np.mean(drops))
        rows.append(row)
    if not rows:
        raise ResponsibleError(f"No sentence has more than k={k} ordinary tokens; give longer sentences.")
    keys = list(methods) + ["random"]
    return {"drop": {m: float(np.mean([r[m] for r in rows])) for m in keys}, "per_sentence": rows,
            "k": k, "n": len(rows)}


def attribution_html(tokens: Sequence[str], scores: Sequence[float], title: str = "") -> str:
    """Tokens as coloured boxes: green pushes towards the predicted class, red against (scaled to the largest |score|)."""
    s = np.asarray(scores, dtype=float)
    top = float(np.abs(s).max()) or 1.0
    spans = []
    for t, v in zip(tokens, s):
        a = min(1.0, abs(v) / top)
        color = f"rgba(46,160,67,{a:.2f})" if v >= 0 else f"rgba(215,58,73,{a:.2f})"
        spans.append(f"<span title='{v:+.3f}' style='background:{color};padding:1px 3px;margin:1px;"
                     f"border-radius:3px'>{html.escape(t)}</span>")
    head = f"<b>{html.escape(title)}</b> " if title else ""
    return f"<div style='line-height:1.9'>{head}{''.join(spans)}</div>"


def explanation_html(ex: dict, methods: Sequence[str] = ("attention", "rollout", "grad_x_input",
                                                          "integrated_gradients")) -> str:
    """One row of coloured tokens per method for an :func:`explain` result."""
    rows = [attribution_html(ex["tokens"], ex[m], m) for m in methods]
    head = f"<p>{html.escape(ex['text'])} → class {ex['class']} ({ex['prob']:.2f})</p>"
    if "n_steps" in ex:  # the quadrature's error: more steps, a smaller gap (what the widget's slider shows)
        head += (f"<p>integrated gradients with {ex['n_steps']} steps: the attributions add up to f(x) − f(baseline) "
                 f"= {ex['ig_delta']:.4f} within {ex['completeness_gap']:.2e}</p>")
    return head + "".join(rows)
