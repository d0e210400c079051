"""Pruning: unstructured magnitude pruning with ``torch.nn.utils.prune`` (global or per layer) and structured
pruning of attention heads and FFN neurons by importance (Michel et al. 2019, *Are Sixteen Heads Really Better
than One?*)."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import prune


def _linears(model: nn.Module, skip=("classifier", "pooler")):
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear) and not any(s in n for s in skip)]


def magnitude_prune(model: nn.Module, amount: float, scope: str = "global") -> nn.Module:
    """Zero the ``amount`` share of smallest-magnitude Linear weights, over all layers together (``global``) or in
    each layer (``layer``), then make it permanent (``prune.remove``). In place."""
    lins = _linears(model)
    if scope == "global":
        prune.global_unstructured([(m, "weight") for _, m in lins], pruning_method=prune.L1Unstructured, amount=amount)
    else:
        for _, m in lins:
            prune.l1_unstructured(m, "weight", amount=amount)
    for _, m in lins:
        prune.remove(m, "weight")
    return model


def sparsity(model: nn.Module) -> float:
    """Share of exact zeros among the pruned (Linear, non-head) weights."""
    lins = _linears(model)
    zeros = sum(int((m.weight == 0).sum()) for _, m in lins)
    return zeros / max(1, sum(m.weight.numel() for _, m in lins))


def head_importance(model, batches) -> torch.Tensor:
    """Michel et al.'s importance of each attention head: the mean |∂loss/∂mask| of a head mask of ones,
    accumulated over ``batches`` (dicts with ``input_ids``, ``attention_mask``, ``labels``). Shape (layers, heads)."""
    cfg = model.config
    mask = torch.ones(cfg.num_hidden_layers, cfg.num_attention_heads, requires_grad=True)
    hooks = []
    for i, layer in enumerate(model.bert.encoder.layer):
        att = layer.attention.self
        hd = att.attention_head_size

        def hook(mod, args, out, i=i, hd=hd):
            ctx = out[0] if isinstance(out, tuple) else out
            shaped = ctx.reshape(*ctx.shape[:-1], -1, hd) * mask[i].reshape(1, 1, -1, 1)
            shaped = shaped.reshape(ctx.shape)
            return (shaped, *out[1:]) if isinstance(out, tuple) else shaped
        hooks.append(att.register_forward_hook(hook))
    model.eval()
    try:
        for b in batches:
            model(**b).loss.backward()
    finally:
        for h in hooks:
            h.remove()
    model.zero_grad()
    return mask.grad.abs() / max(1, len(batches))


def prune_heads_by_importance(model, importance: torch.Tensor, n_prune: int) -> dict:
    """Remove the ``n_prune`` least important heads (transformers' ``prune_heads``, at least one head kept per
    layer). Returns ``{layer: [heads]}`` removed."""
    order = importance.flatten().argsort().tolist()
    n_heads = importance.shape[1]
    plan: dict[int, list[int]] = {}
    for idx in order:
        if sum(len(v) for v in plan.values()) >= n_prune:
            break
        layer, head = divmod(idx, n_heads)
        if len(plan.get(layer, [])) < n_heads - 1:
            plan.setdefault(layer, []).append(head)
    for layer, heads in plan.items():
        _remove_heads(model.bert.encoder.layer[layer].attention, heads)
    return plan


def _shrink(lin: nn.Linear, idx: torch.Tensor, dim: int) -> nn.Linear:
    w = lin.weight.index_select(dim, idx)
    new = nn.Linear(w.shape[1], w.shape[0], bias=lin.bias is not None)
    with torch.no_grad():
        new.weight.copy_(w)
        if lin.bias is not None:
            new.bias.copy_(lin.bias if dim == 1 else lin.bias[idx])
    return new


def _remove_heads(attention, heads: list[int]) -> None:
    """Rebuild a BERT attention block without ``heads`` (query/key/value rows and the output columns),
    by hand: transformers 5 no longer has ``prune_heads``."""
    att = attention.self
    hd = att.attention_head_size
    n = att.num_attention_heads
    keep = torch.tensor([h * hd + j for h in range(n) if h not in heads for j in range(hd)])
    att.query, att.key, att.value = (_shrink(m, keep, 0) for m in (att.query, att.key, att.value))
    attention.output.dense = _shrink(attention.output.dense, keep, 1)
    att.num_attention_heads = n - len(heads)
    att.all_head_size = att.num_attention_heads * hd


def prune_ffn_neurons(model, keep: float) -> int:
    """Structured FFN pruning: in every layer keep the ``keep`` share of intermediate neurons with the largest
    ‖w_in‖·‖w_out‖ and rebuild both matrices smaller (dense kernels then really do less work). Returns neurons removed."""
    removed = 0
    for layer in model.bert.encoder.layer:
        fc_in, fc_out = layer.intermediate.dense, layer.output.dense
        score = fc_in.weight.norm(dim=1) * fc_out.weight.norm(dim=0)
        k = max(1, int(round(keep * score.numel())))
        idx = score.topk(k).indices.sort().values
        new_in = nn.Linear(fc_in.in_features, k)
        new_out = nn.Linear(k, fc_out.out_features)
        with torch.no_grad():
            new_in.weight.copy_(fc_in.weight[idx])
            new_in.bias.copy_(fc_in.bias[idx])
            new_out.weight.copy_(fc_out.weight[:, idx])
            new_out.bias.copy_(fc_out.bias)
        layer.intermediate.dense, layer.output.dense = new_in, new_out
        removed += score.numel() - k
    return removed
