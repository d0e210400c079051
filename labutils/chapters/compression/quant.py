"""Quantization by hand (absmax and zero-point int8, per-tensor and per-channel, int4 group-wise) and the library
paths that compute the same thing: torchao ``quantize_`` and the deprecated ``torch.ao.quantization.quantize_dynamic``.

Every function returns plain tensors (codes, scales, zero points) so a learner can look at them; ``dequantize``
turns them back into floats and :func:`quant_error` measures what was lost.
"""
from __future__ import annotations

import warnings

import torch
from torch import nn

from labutils.core.errors import LabError


class CompressionError(LabError):
    """A compression helper was given something it cannot work with."""


def _reduce_dims(w: torch.Tensor, axis: int | None):
    return None if axis is None else tuple(d for d in range(w.dim()) if d != axis % w.dim())


def absmax_quantize(w: torch.Tensor, bits: int = 8, axis: int | None = None):
    """Symmetric (absmax) quantization: ``q = round(w / s)``, ``s = max|w| / (2^(bits-1) - 1)``.

    ``axis=None`` is per-tensor (one scale); ``axis=0`` gives one scale per output row (per-channel).
    Returns ``(q, scale)`` with ``q`` int8 (also for bits < 8) and ``scale`` broadcastable to ``w``."""
    if not 2 <= bits <= 8:
        raise CompressionError(f"bits must be between 2 and 8, got {bits}.")
    qmax = 2 ** (bits - 1) - 1
    dims = _reduce_dims(w, axis)
    amax = w.abs().amax() if dims is None else w.abs().amax(dim=dims, keepdim=True)
    scale = amax.clamp(min=1e-12) / qmax
    q = torch.round(w / scale).clamp(-qmax, qmax).to(torch.int8)
    return q, scale


def zeropoint_quantize(w: torch.Tensor, bits: int = 8, axis: int | None = None):
    """Asymmetric (zero-point) quantization onto ``[0, 2^bits - 1]``: ``q = round(w / s) + z``.

    Uses the full range ``[min, max]`` (better for one-sided data such as post-ReLU activations).
    Returns ``(q, scale, zero_point)``; ``q`` is uint8."""
    if not 2 <= bits <= 8:
        raise CompressionError(f"bits must be between 2 and 8, got {bits}.")
    qmax = 2 ** bits - 1
    dims = _reduce_dims(w, axis)
    lo = w.amin() if dims is None else w.amin(dim=dims, keepdim=True)
    hi = w.amax() if dims is None else w.amax(dim=dims, keepdim=True)
    lo, hi = lo.clamp(max=0), hi.clamp(min=0)              # zero must be exactly representable
    scale = (hi - lo).clamp(min=1e-12) / qmax
    zero = torch.round(-lo / scale).clamp(0, qmax)
    q = (torch.round(w / scale) + zero).clamp(0, qmax).to(torch.uint8)
    return q, scale, zero


def dequantize(q: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor | None = None) -> torch.Tensor:
    """Back to float: ``s · (q − z)`` (``z = 0`` for absmax)."""
    q = q.to(torch.float32)
    return scale * (q - (0 if zero_point is None else zero_point))


def int4_groupwise(w: torch.Tensor, group_size: int = 32):
    """Weight-only int4 with one absmax scale per group of ``group_size`` consecutive input weights of a row
    (what GPTQ/AWQ/llama.cpp's Q4 formats store). Returns ``(q, scale)`` with ``q`` of shape
    ``(rows, cols // group_size, group_size)``; :func:`int4_dequantize` restores ``w``'s shape."""
    if w.dim() != 2 or w.shape[1] % group_size:
        raise CompressionError(f"int4 group-wise needs a 2-D weight whose columns divide by {group_size}; "
                               f"got shape {tuple(w.shape)}.")
    g = w.reshape(w.shape[0], -1, group_size)
    return _group_absmax(g)


def _group_absmax(g: torch.Tensor):
    scale = g.abs().amax(dim=-1, keepdim=True).clamp(min=1e-12) / 7
    q = torch.round(g / scale).clamp(-7, 7).to(torch.int8)
    return q, scale


def int4_dequantize(q: torch.Tensor, scale: torch.Tensor, minimum: torch.Tensor | None = None) -> torch.Tensor:
    """Inverse of :func:`int4_groupwise` (``scale · q``) or of :func:`int4_groupwise_asym` (``scale · q + min``):
    a ``(rows, cols)`` float weight."""
    w = q.float() * scale + (0 if minimum is None else minimum)
    return w.reshape(q.shape[0], -1)


def int4_groupwise_asym(w: torch.Tensor, group_size: int = 32):
    """Asymmetric int4 per group (llama.cpp's Q4_1): codes 0…15 on ``[min, max]`` of each group,
    ``w ≈ scale · q + min``. All 16 levels are used and a one-sided group loses nothing to symmetry.
    Returns ``(q, scale, minimum)``; :func:`int4_dequantize` restores ``w``."""
    if w.dim() != 2 or w.shape[1] % group_size:
        raise CompressionError(f"int4 group-wise needs a 2-D weight whose columns divide by {group_size}; "
                               f"got shape {tuple(w.shape)}.")
    g = w.reshape(w.shape[0], -1, group_size)
    lo, hi = g.amin(dim=-1, keepdim=True), g.amax(dim=-1, keepdim=True)
    scale = (hi - lo).clamp(min=1e-12) / 15
    q = torch.round((g - lo) / scale).clamp(0, 15).to(torch.uint8)
    return q, scale, lo


def quant_error(w: torch.Tensor, w_hat: torch.Tensor) -> dict:
    """How much a quantized copy lost: max and mean absolute error, relative RMS error, and SQNR in dB."""
    err = (w - w_hat).float()
    rms = err.pow(2).mean().sqrt()
    return {"max_abs": float(err.abs().max()), "mean_abs": float(err.abs().mean()),
            "rel_rms": float(rms / w.float().pow(2).mean().sqrt().clamp(min=1e-12)),
            "sqnr_db": float(10 * torch.log10(w.float().pow(2).mean() / err.pow(2).mean().clamp(min=1e-30)))}


def fake_quantize_linears(model: nn.Module, method: str = "per_channel", group_size: int = 32,
                          skip: tuple[str, ...] = ("classifier", "lm_head")) -> nn.Module:
    """Replace every ``nn.Linear`` weight (in place) by its quantize→dequantize copy: ``per_tensor`` or
    ``per_channel`` int8 absmax, or ``int4`` group-wise (symmetric; ``int4_asym``: with a minimum, as Q4_1). Accuracy of the result = accuracy of weight-only
    quantization (the arithmetic stays fp32). Modules whose name contains one of ``skip`` stay as they are."""
    with torch.no_grad():
        for name, mod in model.named_modules():
            if not isinstance(mod, nn.Linear) or any(s in name for s in skip):
                continue
            w = mod.weight
            if method == "per_tensor":
                w.copy_(dequantize(*absmax_quantize(w)))
            elif method == "per_channel":
                w.copy_(dequantize(*absmax_quantize(w, axis=0)))
            elif method in ("int4", "int4_asym"):
                if w.shape[1] % group_size:
                    continue
                fn = int4_groupwise if method == "int4" else int4_groupwise_asym
                w.copy_(int4_dequantize(*fn(w, group_size)))
            else:
                raise CompressionError(f"Unknown method {method!r}; choose per_tensor, per_channel, int4 or int4_asym.")
    return model


def int8_matmul_by_hand(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """Dynamic int8 linear layer by hand: activations quantized per row (per token) at run time, weights per
    output channel, an integer matrix product accumulated in int32, then one rescale. torchao's
    ``Int8DynamicActivationInt8WeightConfig`` computes the same kind of product (close, not bit-equal: its
    activation quantization differs in detail)."""
    qx, sx = absmax_quantize(x, axis=0) if x.dim() == 2 else absmax_quantize(x.reshape(-1, x.shape[-1]), axis=0)
    qw, sw = absmax_quantize(weight, axis=0)
    acc = qx.to(torch.int32) @ qw.to(torch.int32).T
    y = acc.to(torch.float32) * sx * sw.reshape(1, -1)
    y = y.reshape(*x.shape[:-1], weight.shape[0])
    return y if bias is None else y + bias


# ---------------------------------------------------------------- GPT-2's Conv1D
def conv1d_to_linear(model: nn.Module) -> int:
    """Replace every transformers ``Conv1D`` (GPT-2's ``c_attn``, ``c_proj``, ``c_fc``: weight stored as
    ``(in, out)``) by an equal ``nn.Linear`` (weight ``(out, in)``), in place; returns how many were replaced.
    Dynamic quantizers only see ``nn.Linear``, so a GPT-2 is invisible to them until this runs."""
    from transformers.pytorch_utils import Conv1D
    n = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, Conv1D):
                lin = nn.Linear(child.weight.shape[0], child.weight.shape[1])
                with torch.no_grad():
                    lin.weight.copy_(child.weight.T)
                    lin.bias.copy_(child.bias)
                setattr(parent, name, lin)
                n += 1
    return n


# ---------------------------------------------------------------- library paths
TORCHAO_CONFIGS = ("int8_dynamic", "int8_weight_only", "int4_weight_only")


def import_torchao():
    """Import torchao with its import-time noise quieted (the "Failed to load …cutlass… .so" lines a CPU torch
    prints, and torch's pytree deprecation notice); returns the ``torchao.quantization`` module.
    See :func:`labutils.core.env.import_torchao_quietly`."""
    from labutils.core.env import import_torchao_quietly
    tq = import_torchao_quietly()
    if tq is None:
        raise CompressionError("torchao is not installed; run `make setup` (it is a course dependency).")
    return tq


def torchao_quantize(model: nn.Module, config: str = "int8_dynamic", group_size: int = 32,
                     skip: tuple[str, ...] = ()) -> nn.Module:
    """torchao's ``quantize_`` in place on every ``nn.Linear`` (except names containing one of ``skip``):
    ``int8_dynamic`` (int8 weights and per-token int8 activations), ``int8_weight_only``, or
    ``int4_weight_only`` (group-wise; needs an int4 CPU kernel layout, so it may be unavailable)."""
    tq = import_torchao()
    if config == "int8_dynamic":
        cfg = tq.Int8DynamicActivationInt8WeightConfig()
    elif config == "int8_weight_only":
        cfg = tq.Int8WeightOnlyConfig()
    elif config == "int4_weight_only":
        cfg = tq.Int4WeightOnlyConfig(group_size=group_size)
    else:
        raise CompressionError(f"Unknown torchao config {config!r}; choose one of {', '.join(TORCHAO_CONFIGS)}.")

    def keep(mod, fqn):
        return isinstance(mod, nn.Linear) and not any(s in fqn for s in skip)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tq.quantize_(model, cfg, filter_fn=keep)
    return model


def legacy_quantize_dynamic(model: nn.Module) -> nn.Module:
    """The old API, ``torch.ao.quantization.quantize_dynamic`` on ``nn.Linear`` (deprecated since torch 2.10 in
    favour of torchao; it still works and warns). Returns a new model; the warning is caught and re-raised
    nowhere, so call it knowingly."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.ao.quantization import quantize_dynamic
        return quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
