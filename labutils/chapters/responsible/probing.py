"""Notebook 14, what the layers know: a linear probe per layer of an encoder (which layer separates positive from
negative sentences?) and the logit lens on a causal LM (nostalgebraist 2020: read every layer's hidden state
through the final norm and the output matrix, and watch the answer appear)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from labutils.chapters.responsible.errors import ResponsibleError


def layer_features(model, tokenizer, texts: Sequence[str], max_length: int = 64, batch_size: int = 32) -> np.ndarray:
    """Mean-pooled hidden states of every layer (embeddings = layer 0): shape ``(n_layers + 1, N, hidden)``.

    ``model`` is an encoder or a ``*ForSequenceClassification`` around one (``output_hidden_states=True``).
    """
    if not texts:
        raise ResponsibleError("layer_features needs at least one sentence.")
    dev = next(model.parameters()).device
    chunks = []
    model.eval()
    with torch.no_grad():
        for i in range(0, len(texts), batch_size):
            enc = tokenizer(list(texts[i:i + batch_size]), truncation=True, max_length=max_length, padding=True,
                            return_tensors="pt").to(dev)
            out = model(**enc, output_hidden_states=True)
            m = enc["attention_mask"][None, :, :, None].float()
            hs = torch.stack(out.hidden_states)                           # (L+1, B, T, H)
            chunks.append(((hs * m).sum(2) / m.sum(2)).cpu())
    return torch.cat(chunks, 1).numpy()


def probe_layers(features: np.ndarray, labels: Sequence[int], train_fraction: float = 0.6, seed: int = 0,
                 C: float = 1.0) -> list[dict]:
    """A logistic-regression probe (探针) on each layer's features: held-out accuracy per layer.

    The split is the same for every layer (seeded). A probe shows what is *linearly decodable* from a layer,
    not what the model uses. Returns ``[{"layer", "train_accuracy", "test_accuracy"}, ...]``.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    y = np.asarray(labels)
    if features.ndim != 3 or features.shape[1] != len(y):
        raise ResponsibleError(f"features must be (layers, N, hidden) with N = {len(y)} labels, "
                               f"got {features.shape}.")
    if len(set(y.tolist())) < 2:
        raise ResponsibleError("The probe needs sentences of both classes.")
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(y))
    cut = max(2, int(round(train_fraction * len(y))))
    tr, te = idx[:cut], idx[cut:]
    if len(te) == 0:
        raise ResponsibleError("No sentence is left for testing the probe; lower train_fraction or add sentences.")
    rows = []
    for layer, X in enumerate(features):
        sc = StandardScaler().fit(X[tr])
        clf = LogisticRegression(C=C, max_iter=2000).fit(sc.transform(X[tr]), y[tr])
        rows.append({"layer": layer, "train_accuracy": float(clf.score(sc.transform(X[tr]), y[tr])),
                     "test_accuracy": float(clf.score(sc.transform(X[te]), y[te]))})
    return rows


def _final_norm_and_head(model):
    base = getattr(model, "model", None) or getattr(model, "transformer", None)
    norm = getattr(base, "norm", None) or getattr(base, "ln_f", None)
    head = model.get_output_embeddings()
    if norm is None or head is None:
        raise ResponsibleError("The logit lens needs a causal LM with a final norm (model.norm or ln_f) and an "
                               "output matrix (Llama- or GPT-2-style).")
    return norm, head


def logit_lens(model, tokenizer, prompt: str, answer: str, top: int = 1) -> list[dict]:
    """The logit lens at the prompt's last position: for each layer, the top token(s) and the rank and probability
    of ``answer``'s first token when that layer's hidden state is decoded with the final norm + output matrix.

    The last row equals the model's own prediction (checked: ``matches_model``). Returns one dict per layer.
    """
    if not prompt:
        raise ResponsibleError("The logit lens needs a prompt.")
    norm, head = _final_norm_and_head(model)
    dev = next(model.parameters()).device
    ids = tokenizer(prompt, return_tensors="pt")["input_ids"].to(dev)
    target = tokenizer(answer, add_special_tokens=False)["input_ids"]
    if not target:
        raise ResponsibleError(f"The answer {answer!r} has no tokens.")
    target = int(target[0])
    with torch.no_grad():
        out = model(input_ids=ids, output_hidden_states=True)
        final = torch.log_softmax(out.logits[0, -1].float(), -1)
        hs = out.hidden_states
        rows = []
        for layer, h in enumerate(hs):
            h = h[0, -1]
            logp = torch.log_softmax(head(norm(h)).float(), -1)
            if layer == len(hs) - 1:
                # some transformers versions store the last hidden state after the final norm already: read it
                # whichever way reproduces the model's own logits
                raw = torch.log_softmax(head(h).float(), -1)
                if (raw - final).abs().max() < (logp - final).abs().max():
                    logp = raw
            order = torch.argsort(logp, descending=True)
            rank = int((order == target).nonzero()[0, 0]) + 1
            rows.append({"layer": layer, "top": tokenizer.convert_ids_to_tokens(order[:top].tolist()),
                         "answer_rank": rank, "answer_prob": float(logp[target].exp()),
                         "matches_model": bool(torch.allclose(logp, final, atol=1e-4)) if layer == len(hs) - 1
                         else None})
    return rows


def logit_lens_figure(rows: list[dict], answer: str):
    """Probability of the answer's token per layer (log scale), the top token written at each point."""
    import plotly.graph_objects as go
    fig = go.Figure(go.Scatter(x=[r["layer"] for r in rows], y=[r["answer_prob"] for r in rows],
                               mode="lines+markers+text", text=[r["top"][0] for r in rows], textposition="top center"))
    fig.update_layout(title=f"Logit lens: probability of {answer!r} read from each layer", xaxis_title="layer",
                      yaxis_title="probability", yaxis_type="log", height=380)
    return fig
