"""Notebook 05, transfer: a pretrained encoder's features: embeddings by length, cosine neighbours, linear
probes (pretrained vs random weights) and multi-task heads on one frozen body."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from labutils.core.errors import MLMError
from labutils.core.history import History
from labutils.train.optim import param_groups


# ---------------------------------------------------------------------------------------- transfer
def embed_by_length(texts: Sequence[str], model, tokenizer, batch_size: int = 64, max_length: int = 64):
    """:func:`labutils.models.embed` on texts sorted by length (far less padding), returned in the
    original order: an ``(N, D)`` float tensor of L2-normalised mean-pooled vectors."""
    from labutils.models.encoder import embed
    texts = list(texts)
    if not texts:
        raise MLMError("Give at least one text to embed.")
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vecs = embed([texts[i] for i in order], model=model, tokenizer=tokenizer, batch_size=batch_size,
                 max_length=max_length)
    out = torch.empty_like(vecs)
    out[torch.tensor(order)] = vecs
    return out


def cosine(a, b) -> float:
    """Cosine similarity of two vectors: a·b / (|a| |b|)."""
    a, b = torch.as_tensor(a, dtype=torch.float64).flatten(), torch.as_tensor(b, dtype=torch.float64).flatten()
    if a.shape != b.shape:
        raise MLMError(f"Both vectors need the same length, got {a.numel()} and {b.numel()}.")
    return float(a @ b / (a.norm() * b.norm()).clamp(min=1e-12))


def linear_probe(train_x, train_y, test_x, test_y, C: float = 1.0, seed: int = 0) -> dict:
    """Standardise the frozen features and fit a logistic regression on them (a *linear probe*).

    Returns ``{"train_acc", "test_acc", "majority"}``: the probe's accuracy on both splits and the
    accuracy of always answering the most common training label, the floor to beat.
    """
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    X, Xt = np.asarray(train_x, dtype=np.float64), np.asarray(test_x, dtype=np.float64)
    y, yt = np.asarray(train_y), np.asarray(test_y)
    if len(X) != len(y) or len(Xt) != len(yt):
        raise MLMError("Features and labels must have the same number of rows.")
    if len(set(y.tolist())) < 2:
        raise MLMError("The training labels need at least two classes.")
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000, random_state=seed))
    probe.fit(X, y)
    values, counts = np.unique(y, return_counts=True)
    return {"train_acc": float(probe.score(X, y)), "test_acc": float(probe.score(Xt, yt)),
            "majority": float(np.mean(yt == values[counts.argmax()]))}


def nearest(query_vecs: torch.Tensor, index_vecs: torch.Tensor, k: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine top-``k`` of each query among the index rows (both L2-normalised): ``(scores, indices)``."""
    if k < 1 or k > len(index_vecs):
        raise MLMError(f"k must be between 1 and the index size {len(index_vecs)}, got {k}.")
    return (query_vecs @ index_vecs.T).topk(k, dim=-1)


def neighbours_table(query: str, index_vecs: torch.Tensor, index_texts: Sequence[str], model, tokenizer,
                     k: int = 5, index_sources: Sequence[str] | None = None):
    """Embed ``query`` with the encoder and list its ``k`` nearest index sentences by cosine (a DataFrame)."""
    import pandas as pd

    from labutils.models.encoder import embed
    if not query or not query.strip():
        raise MLMError("Type a sentence to search for.")
    if len(index_texts) != len(index_vecs):
        raise MLMError("index_texts and index_vecs must have the same number of rows.")
    scores, hits = nearest(embed([query], model=model, tokenizer=tokenizer), index_vecs, k)
    rows = {"cosine": [round(float(s), 3) for s in scores[0]], "sentence": [index_texts[i] for i in hits[0].tolist()]}
    if index_sources is not None:
        rows["source"] = [index_sources[i] for i in hits[0].tolist()]
    return pd.DataFrame(rows, index=pd.RangeIndex(1, k + 1, name="rank"))


class MultiTaskHeads(torch.nn.Module):
    """A shared trainable layer on frozen sentence features, then one linear head per task."""

    def __init__(self, dim_in: int, n_classes: Sequence[int], hidden: int = 128, dropout: float = 0.1):
        super().__init__()
        self.shared = torch.nn.Sequential(torch.nn.Linear(dim_in, hidden), torch.nn.GELU(), torch.nn.Dropout(dropout))
        self.heads = torch.nn.ModuleList(torch.nn.Linear(hidden, c) for c in n_classes)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = self.shared(x)
        return [head(h) for head in self.heads]


def train_multitask(train_x: torch.Tensor, train_ys: Sequence[torch.Tensor], test_x: torch.Tensor,
                    test_ys: Sequence[torch.Tensor], weights: Sequence[float], steps: int = 300,
                    lr: float = 3e-3, hidden: int = 128, seed: int = 0) -> dict:
    """Train :class:`MultiTaskHeads` with the loss ``Σ_t weights[t] · CE_t`` (full batch, AdamW).

    Returns a :class:`~labutils.core.history.History`: the combined ``train_loss`` per step, and
    ``test_acc`` (one accuracy per task) and ``model``. A task with weight 0
    gets no gradient, so its head stays at its random start: the control for 'did sharing help'.
    """
    if len(weights) != len(train_ys) or len(test_ys) != len(train_ys):
        raise MLMError("Give one weight and one label tensor (train and test) per task.")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise MLMError("Task weights must be ≥ 0 with a positive sum.")
    torch.manual_seed(seed)
    n_classes = [int(max(int(y.max()), int(t.max()))) + 1 for y, t in zip(train_ys, test_ys)]
    model = MultiTaskHeads(train_x.shape[1], n_classes, hidden=hidden)
    opt = torch.optim.AdamW(param_groups(model, 0.01), lr=lr)
    hist = History()
    for step in range(steps):
        model.train()
        outs = model(train_x)
        loss = sum(w * F.cross_entropy(o, y) for w, o, y in zip(weights, outs, train_ys))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        hist.log(step, loss.item(), lr)
    model.eval()
    with torch.no_grad():
        outs = model(test_x)
    acc = [float((o.argmax(-1) == y).float().mean()) for o, y in zip(outs, test_ys)]
    hist.update(test_acc=acc, model=model)
    return hist.check()
