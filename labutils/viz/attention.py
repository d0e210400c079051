"""Attention heatmaps: pure functions that take a model and a sentence and return plotly figures.

- :func:`attention_heatmap` draws one ``(queries × keys)`` weight matrix with the tokens on the axes;
- :class:`AttentionSource` wraps a model and its tokenizer so that ``source.run(sentence)`` gives the
  tokens and every layer's and head's weights; :func:`encoder_source` (a ``transformers`` BERT such as
  the bundled MiniLM) and :func:`gpt_source` (a :class:`labutils.scratch_gpt.ScratchGPT`) build one;
- :func:`attention_view` is what the notebook's widget calls: one layer and head of one source;
- :func:`head_statistics` and :func:`head_grid_figure` summarise every head at once (entropy,
  attention to the previous token, to ``[CLS]``/``[SEP]``);
- :func:`matrix_figure` is a plain heatmap for masks and positional encodings.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Callable, Sequence

import numpy as np
import plotly.graph_objects as go

TEMPLATE = "plotly_white"


def _as_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=float)


def attention_heatmap(weights, tokens: Sequence[str], *, key_tokens: Sequence[str] | None = None,
                      title: str = "", zmax: float | None = None) -> go.Figure:
    """Heatmap of a ``(T_q, T_k)`` attention matrix: row = query token, column = key token it looks at.

    Tokens label the axes by position, so repeated tokens (two "the") stay separate rows.
    """
    w = _as_numpy(weights)
    key_tokens = list(tokens) if key_tokens is None else list(key_tokens)
    if w.ndim != 2 or w.shape != (len(tokens), len(key_tokens)):
        raise ValueError(f"weights of shape {w.shape} do not match {len(tokens)} query and "
                         f"{len(key_tokens)} key tokens.")
    hover = [[f"query {i} {tokens[i]!r} → key {j} {key_tokens[j]!r}: {w[i, j]:.3f}"
              for j in range(w.shape[1])] for i in range(w.shape[0])]
    fig = go.Figure(go.Heatmap(z=w, x=list(range(w.shape[1])), y=list(range(w.shape[0])), text=hover,
                               hoverinfo="text", colorscale="Blues", zmin=0.0, zmax=zmax,
                               colorbar=dict(title="weight")))
    side = max(320, min(720, 28 * max(w.shape) + 140))
    fig.update_layout(title=title, template=TEMPLATE, height=side, width=side + 120,
                      margin=dict(l=90, r=20, t=50, b=90))
    fig.update_xaxes(title="key (attended to)", tickmode="array", tickvals=list(range(w.shape[1])),
                     ticktext=key_tokens, tickangle=-60)
    fig.update_yaxes(title="query", tickmode="array", tickvals=list(range(w.shape[0])), ticktext=list(tokens),
                     autorange="reversed")
    return fig


def matrix_figure(matrix, *, title: str = "", xlabel: str = "", ylabel: str = "",
                  colorscale: str = "RdBu", zmid: float | None = 0.0, reverse_y: bool = True) -> go.Figure:
    """A plain heatmap of a 2-D array (a causal mask, positional encodings, ...)."""
    m = _as_numpy(matrix)
    if m.ndim != 2:
        raise ValueError(f"matrix_figure needs a 2-D array; got shape {m.shape}.")
    fig = go.Figure(go.Heatmap(z=m, colorscale=colorscale, zmid=zmid))
    fig.update_layout(title=title, template=TEMPLATE, height=360, margin=dict(l=60, r=20, t=50, b=50),
                      xaxis_title=xlabel, yaxis_title=ylabel)
    if reverse_y:
        fig.update_yaxes(autorange="reversed")
    return fig


@dataclasses.dataclass
class AttentionSource:
    """A model that can show its attention: ``run(sentence) -> (tokens, weights[L, H, T, T])``."""

    name: str
    n_layers: int
    n_heads: int
    fn: Callable[[str], tuple[list[str], np.ndarray]]

    def __post_init__(self):
        self.run = functools.lru_cache(maxsize=32)(self._run)

    def _run(self, sentence: str) -> tuple[list[str], np.ndarray]:
        if not isinstance(sentence, str) or not sentence.strip():
            raise ValueError("Type a sentence: the text is empty.")
        tokens, weights = self.fn(sentence)
        return tokens, weights


def encoder_source(model, tokenizer, name: str = "MiniLM (encoder)", max_tokens: int = 48) -> AttentionSource:
    """An :class:`AttentionSource` over a ``transformers`` encoder (e.g. the bundled MiniLM).

    transformers' default SDPA attention does not return weights, so the model is switched to the
    "eager" implementation (same numbers, written out step by step).
    """
    import torch
    if getattr(model.config, "_attn_implementation", "eager") != "eager":
        model.set_attn_implementation("eager")
    model.eval()
    device = next(model.parameters()).device

    def fn(sentence: str):
        enc = tokenizer(sentence, return_tensors="pt", truncation=True, max_length=max_tokens).to(device)
        with torch.no_grad():
            out = model(**enc, output_attentions=True)
        if not out.attentions:
            raise ValueError("The model returned no attention weights; load it with attn_implementation='eager'.")
        tokens = tokenizer.convert_ids_to_tokens(enc["input_ids"][0].tolist())
        return tokens, np.stack([_as_numpy(a[0]) for a in out.attentions])

    return AttentionSource(name, model.config.num_hidden_layers, model.config.num_attention_heads, fn)


def gpt_source(model, tokenizer, name: str = "scratch GPT (decoder)", max_tokens: int = 48) -> AttentionSource:
    """An :class:`AttentionSource` over a :class:`~labutils.scratch_gpt.ScratchGPT`; ``tokenizer`` turns
    text into its token ids (no special tokens are added)."""
    import torch
    device = next(model.parameters()).device
    limit = min(max_tokens, model.cfg.n_positions)

    def fn(sentence: str):
        ids = tokenizer(sentence, add_special_tokens=False)["input_ids"][:limit]
        if not ids:
            raise ValueError("The sentence has no tokens.")
        with torch.no_grad():
            out = model(torch.tensor([ids], device=device), return_attn=True)
        tokens = tokenizer.convert_ids_to_tokens(ids)
        return tokens, np.stack([_as_numpy(a[0]) for a in out.attentions])

    return AttentionSource(name, model.cfg.n_layers, model.cfg.n_heads, fn)


def attention_view(source: AttentionSource, sentence: str, layer: int, head: int) -> go.Figure:
    """The heatmap of one layer and head of ``source`` on ``sentence`` (what the widget shows)."""
    if not 0 <= layer < source.n_layers:
        raise ValueError(f"{source.name} has {source.n_layers} layers: choose layer 0–{source.n_layers - 1}.")
    if not 0 <= head < source.n_heads:
        raise ValueError(f"{source.name} has {source.n_heads} heads: choose head 0–{source.n_heads - 1}.")
    tokens, weights = source.run(sentence)
    return attention_heatmap(weights[layer, head], tokens, title=f"{source.name} · layer {layer} · head {head}")


def head_statistics(weights, tokens: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Per-head summaries of ``weights[L, H, T, T]``, each an ``(L, H)`` array averaged over queries.

    ``entropy``: bits of the attention distribution (0 = looks at one token; log₂T = uniform);
    ``previous``: weight on the token just before the query; ``special``: weight on ``[CLS]``/``[SEP]``
    (only when ``tokens`` are given).
    """
    w = _as_numpy(weights)
    if w.ndim != 4 or w.shape[-1] != w.shape[-2]:
        raise ValueError(f"head_statistics needs weights of shape (layers, heads, T, T); got {w.shape}.")
    t = w.shape[-1]
    entropy = -(w * np.log2(np.clip(w, 1e-12, None))).sum(-1).mean(-1)
    previous = (np.stack([w[..., i, i - 1] for i in range(1, t)], -1).mean(-1) if t > 1
                else np.zeros(w.shape[:2]))
    out = {"entropy": entropy, "previous": previous}
    if tokens is not None:
        special = np.array([tok in ("[CLS]", "[SEP]") for tok in tokens])
        out["special"] = w[..., special].sum(-1).mean(-1)
    return out


def head_grid_figure(values, *, title: str = "", colorbar: str = "") -> go.Figure:
    """An ``(L, H)`` grid of one number per head (layers down, heads across)."""
    v = _as_numpy(values)
    if v.ndim != 2:
        raise ValueError(f"head_grid_figure needs an (layers, heads) array; got shape {v.shape}.")
    fig = go.Figure(go.Heatmap(z=v, x=list(range(v.shape[1])), y=list(range(v.shape[0])), colorscale="Viridis",
                               text=np.round(v, 2), texttemplate="%{text}", colorbar=dict(title=colorbar)))
    fig.update_layout(title=title, template=TEMPLATE, height=60 + 45 * v.shape[0] + 60,
                      margin=dict(l=60, r=20, t=50, b=40), xaxis_title="head", yaxis_title="layer")
    fig.update_yaxes(autorange="reversed", dtick=1)
    fig.update_xaxes(dtick=1)
    return fig
