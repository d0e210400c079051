"""Notebook 07, fine-tuning the encoder itself: a short loop over the real MiniLM (depth, layer-wise rates) and
probes of catastrophic forgetting (similarity of question/answer pairs, neighbour agreement before and after)."""
from __future__ import annotations

import math
import time
from typing import Any, Callable, Sequence

import numpy as np

from labutils.core.errors import ChallengeError
from labutils.core.history import History
from labutils.train.optim import param_groups as decay_groups
from labutils.train.schedules import make_scheduler


def _batches(tokenizer, texts, labels, batch_size, max_length, device, order):
    import torch
    for i in range(0, len(order), batch_size):
        b = order[i:i + batch_size]
        enc = tokenizer([texts[j] for j in b], padding=True, truncation=True, max_length=max_length,
                        return_tensors="pt").to(device)
        yield enc, torch.as_tensor([labels[j] for j in b], dtype=torch.long, device=device)


def finetune_encoder(model, tokenizer, texts: Sequence[str], labels: Sequence[int], *, steps: int,
                     batch_size: int = 16, lr: float = 5e-5, param_groups: list | None = None,
                     warmup_frac: float = 0.1, max_length: int = 48, seed: int = 0, weight_decay: float = 0.01,
                     callback: Callable[[int, Any], None] | None = None, every: int = 0,
                     progress: bool = True) -> History:
    """Fine-tune a sequence classifier for ``steps`` optimizer steps (AdamW, linear warmup + decay).

    Only parameters with ``requires_grad`` train (see :func:`unfreeze_top_k`); ``param_groups``
    (e.g. from :func:`layerwise_lr_groups`) replaces the single learning rate ``lr``.
    ``callback(step, model)`` runs before the first step and every ``every`` steps (and at the end).
    Weight decay follows the package's rule (matrices only). Returns a :class:`~labutils.core.history.History`
    (``step``, ``train_loss``, ``lr``, ``seconds``).
    """
    import torch

    from labutils.core.progress import tqdm
    if steps < 1:
        raise ChallengeError(f"steps must be ≥ 1, got {steps}.")
    device = next(model.parameters()).device
    texts, labels = list(texts), [int(v) for v in labels]
    groups = param_groups if param_groups is not None else decay_groups(model, weight_decay)
    groups = [{k: v for k, v in g.items() if k != "name"} for g in groups]
    opt = torch.optim.AdamW(groups, lr=lr)
    sched = make_scheduler(opt, "linear", steps, int(round(warmup_frac * steps)))
    rng = np.random.default_rng(seed)
    hist = History()
    t0 = time.perf_counter()
    if callback is not None:
        callback(0, model)
    step = 0
    bar = tqdm(total=steps, desc="fine-tuning", leave=False, disable=not progress)
    while step < steps:
        order = rng.permutation(len(texts)).tolist()
        for enc, yb in _batches(tokenizer, texts, labels, batch_size, max_length, device, order):
            model.train()
            loss = model(**enc, labels=yb).loss
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for g in groups for p in g["params"]], 1.0)
            opt.step()
            hist.log(step, float(loss.detach()), sched.get_last_lr()[0])
            sched.step()
            step += 1
            bar.update(1)
            if callback is not None and ((every and step % every == 0) or step == steps):
                callback(step, model)
            if step >= steps:
                break
    bar.close()
    model.eval()
    hist["seconds"] = time.perf_counter() - t0
    return hist.check()


def encoder_accuracy(model, tokenizer, texts: Sequence[str], labels: Sequence[int], *, max_length: int = 48,
                     batch_size: int = 64) -> float:
    """Accuracy of a sequence classifier on ``texts``."""
    import torch
    device = next(model.parameters()).device
    model.eval()
    correct = 0
    texts, labels = list(texts), list(labels)
    with torch.no_grad():
        for enc, yb in _batches(tokenizer, texts, labels, batch_size, max_length, device, list(range(len(texts)))):
            correct += int((model(**enc).logits.argmax(-1) == yb).sum())
    return correct / max(1, len(texts))


# ============================================================================ catastrophic forgetting
def similarity_probe(model, tokenizer, queries: Sequence[str], answers: Sequence[str], *, max_length: int = 64,
                     seed: int = 0) -> dict:
    """How well an encoder's mean-pooled sentence embeddings match each query to its own answer.

    Returns ``related`` (mean cosine of matching pairs), ``unrelated`` (mean cosine of each query
    with a shuffled answer), ``margin`` (related − unrelated) and ``retrieval_top1`` (fraction of
    queries whose most similar answer, among all answers, is their own).
    """
    from labutils.models.encoder import embed
    q = embed(list(queries), model, tokenizer, max_length=max_length)
    a = embed(list(answers), model, tokenizer, max_length=max_length)
    sims = (q @ a.T).numpy()
    n = len(q)
    perm = np.random.default_rng(seed).permutation(n)
    perm = np.where(perm == np.arange(n), (perm + 1) % n, perm)
    related = float(np.diag(sims).mean())
    unrelated = float(sims[np.arange(n), perm].mean())
    top1 = float((sims.argmax(1) == np.arange(n)).mean())
    return {"related": related, "unrelated": unrelated, "margin": related - unrelated, "retrieval_top1": top1}


def neighbour_agreement(before, after, k: int = 5) -> float:
    """Mean overlap (|A∩B|/k) of each row's ``k`` nearest neighbours under two embeddings of the same sentences."""
    import torch
    before, after = torch.as_tensor(before, dtype=torch.float32), torch.as_tensor(after, dtype=torch.float32)
    if before.shape[0] != after.shape[0] or before.shape[0] <= k:
        raise ChallengeError(f"Need the same sentences (rows) in both, more than k={k}; got {before.shape[0]} and {after.shape[0]}.")

    def knn(e):
        e = torch.nn.functional.normalize(e, dim=-1)
        s = e @ e.T
        s.fill_diagonal_(-math.inf)
        return s.topk(k, dim=1).indices.numpy()
    nb, na = knn(before), knn(after)
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(nb, na)]))
