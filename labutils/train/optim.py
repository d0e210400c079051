"""One parameter-group rule for every optimizer of the course (notebooks 04, 06 and 07 teach it).

Weight decay goes on weight matrices only; biases, LayerNorm gains and embedding rows are not decayed.
Optionally the learning rate decays layer by layer from the head down (layer-wise LR decay, LLRD).
"""
from __future__ import annotations

import torch

from labutils.core.errors import TrainingError
from labutils.train.freezing import encoder_layers, head_parameter_names


def _decays(p, emb_ids: set[int]) -> bool:
    return p.dim() >= 2 and id(p) not in emb_ids


def param_groups(model, weight_decay: float = 0.1, *, lr: float | None = None,
                 layer_lr_decay: float | None = None, head_lr: float | None = None) -> list[dict]:
    """Optimizer parameter groups: decay on matrices only, and optionally layer-wise learning rates.

    Weight decay (权重衰减) pulls parameters towards 0. That is a sensible prior for the matrices of
    linear layers, but not for a bias or a LayerNorm gain (0 is not "simple" for a gain, 1 is), nor for
    embedding rows: a rare token's row gets few gradient updates and decay would shrink it between them.
    GPT-2's ``lm_head`` is tied to the token embedding, so it counts as an embedding. Tensors are matched
    by identity, so a tied tensor appears once; frozen tensors are left out.

    Without ``layer_lr_decay``/``head_lr``: two groups, ``"decay"`` and ``"no decay"`` (their ``lr`` is
    the optimizer's). With them (BERT-style encoders; needs ``lr``): the task head and the pooler (which only
    the head reads) get ``head_lr`` (default ``lr``), the top layer ``lr·d``, the layer below ``lr·d²`` …, the embeddings
    ``lr·d^(L+1)`` (Howard & Ruder, *ULMFiT*, 2018; Clark et al., *ELECTRA*, 2020). Each group carries a
    ``name`` for display, from the embeddings up to the head.
    """
    emb_ids = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Embedding)}
    seen: set[int] = set()
    params = []
    for name, p in model.named_parameters():
        if p.requires_grad and id(p) not in seen:
            seen.add(id(p))
            params.append((name, p))
    if layer_lr_decay is None and head_lr is None:
        return [{"name": "decay", "params": [p for _, p in params if _decays(p, emb_ids)], "weight_decay": weight_decay},
                {"name": "no decay", "params": [p for _, p in params if not _decays(p, emb_ids)], "weight_decay": 0.0}]
    if lr is None:
        raise TrainingError("Layer-wise learning rates need the peak rate: pass lr=... with layer_lr_decay/head_lr.")
    d = 1.0 if layer_lr_decay is None else float(layer_lr_decay)
    if not 0 < d <= 1:
        raise TrainingError(f"layer_lr_decay must be in (0, 1], got {layer_lr_decay}.")
    layers = list(encoder_layers(model))
    n = len(layers)
    layer_of = {id(p): i for i, layer in enumerate(layers) for p in layer.parameters()}
    head = set(head_parameter_names(model))
    pooler = getattr(model.base_model, "pooler", None)
    pooler_ids = {id(p) for p in pooler.parameters()} if pooler is not None else set()
    groups: dict[tuple[int, str, bool], dict] = {}
    for name, p in params:
        if name in head:
            rank, label, group_lr = n + 2, "head", lr if head_lr is None else head_lr
        elif id(p) in pooler_ids:            # the pooler feeds only the task head: it learns at the head's rate
            rank, label, group_lr = n + 1, "pooler", lr if head_lr is None else head_lr
        elif id(p) in layer_of:
            i = layer_of[id(p)]
            rank, label, group_lr = i + 1, f"layer {i}", lr * d ** (n - i)
        else:
            rank, label, group_lr = 0, "embeddings", lr * d ** (n + 1)
        dec = _decays(p, emb_ids)
        key = (rank, label, not dec)
        g = groups.setdefault(key, {"name": label if dec else f"{label} (no decay)", "params": [], "lr": group_lr,
                                    "weight_decay": weight_decay if dec else 0.0})
        g["params"].append(p)
    return [groups[k] for k in sorted(groups)]


def layerwise_lr_groups(model, base_lr: float, decay: float = 0.8, weight_decay: float = 0.01,
                        head_lr: float | None = None) -> list[dict]:
    """:func:`param_groups` with layer-wise learning-rate decay ``decay`` (``decay = 1``: one rate for all)."""
    return param_groups(model, weight_decay, lr=base_lr, layer_lr_decay=decay, head_lr=head_lr)


def make_optimizer(model, lr: float, weight_decay: float = 0.1, betas: tuple[float, float] = (0.9, 0.95),
                   fused: bool | str = "auto", **group_kw):
    """AdamW over :func:`param_groups`; ``fused="auto"`` uses the fused kernel on a GPU.

    ``group_kw`` (``layer_lr_decay``, ``head_lr``) goes to :func:`param_groups`.
    """
    device = next(model.parameters()).device
    if fused == "auto":
        fused = device.type == "cuda"
    groups = param_groups(model, weight_decay, lr=lr if group_kw else None, **group_kw)
    return torch.optim.AdamW(groups, lr=lr, betas=betas, fused=bool(fused) or None)
