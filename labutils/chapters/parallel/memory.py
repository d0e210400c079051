"""Notebook 10, memory first: what a training step holds in memory, by formula, and measured.

:func:`training_memory` is the calculator (a pure function; the widget of notebook 10 is a view over it):
parameters, gradients and optimizer states for a precision and an optimizer, sharded over ``n_devices`` by
ZeRO stage 0-3 (Rajbhandari et al. 2020, *ZeRO: Memory Optimizations Toward Training Trillion Parameter
Models*: mixed-precision Adam holds 2 + 2 + 12 = 16 bytes per parameter), plus the activations of the
course GPT (:func:`gpt_activation_bytes`) with and without activation checkpointing.
:func:`measure_step_memory` measures the peak of one real training step with torch's own ``MemTracker``
(it follows every tensor storage that is created and freed, on CPU and GPU alike).
"""
from __future__ import annotations

from labutils.core.errors import ParallelError

PRECISIONS = ("fp32", "bf16", "mixed")
OPTIMIZERS = ("sgd", "sgd_momentum", "adam", "adam_8bit")
_STATE_BYTES = {"sgd": 0, "sgd_momentum": 4, "adam": 8, "adam_8bit": 2}   # per parameter, beside fp32 master weights


def per_parameter_bytes(precision: str = "fp32", optimizer: str = "adam") -> dict[str, int]:
    """Bytes per parameter for weights, gradients and optimizer states (unsharded).

    fp32: weights 4, gradients 4, states (Adam m and v) 8. bf16 (pure): weights 2, gradients 2, states in
    bf16 too (Adam 4). Mixed precision (the ZeRO paper's accounting): 16-bit weights 2 and gradients 2, and
    the optimizer keeps an fp32 master copy (4) beside its fp32 states (Adam 8): 2 + 2 + 12 = 16.
    """
    if precision not in PRECISIONS:
        raise ParallelError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}.")
    if optimizer not in OPTIMIZERS:
        raise ParallelError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {optimizer!r}.")
    state = _STATE_BYTES[optimizer]
    if precision == "fp32":
        return {"weights": 4, "gradients": 4, "optimizer": state}
    if precision == "bf16":
        return {"weights": 2, "gradients": 2, "optimizer": state // 2 if optimizer != "adam_8bit" else 2}
    return {"weights": 2, "gradients": 2, "optimizer": 4 + state}


def gpt_activation_bytes(batch: int, seq: int, n_layer: int, n_embd: int, n_head: int, vocab: int,
                         bytes_per_value: int = 4, checkpointing: bool = False) -> int:
    """Activations a GPT-2 (``GPT2LMHeadModel``, SDPA attention, no dropout, tanh-GELU) keeps for backward.

    Counted with autograd's saved-tensor hooks on transformers 5 and checked in ``tests/test_parallel.py``:
    per token and layer about 18·h numbers (the inputs of the two LayerNorms and four linear layers, q, k and v,
    the attention output, and the 4h-wide MLP twice) plus a + 4 (the attention's log-sum-exp per head, the
    LayerNorm statistics); per token once V + 2h + 6 (the log-softmax over the vocabulary, the final norm).
    The flash-style attention of SDPA keeps no s × s matrix. With activation checkpointing (激活检查点) a
    layer keeps only its input (h per token) and recomputes the rest in backward, one layer at a time.
    """
    for name, v in (("batch", batch), ("seq", seq), ("n_layer", n_layer), ("n_embd", n_embd), ("vocab", vocab)):
        if int(v) < 1:
            raise ParallelError(f"{name} must be a positive integer, got {v!r}.")
    per_layer = n_embd if checkpointing else 18 * n_embd + n_head + 4
    per_token = n_layer * per_layer + vocab + 2 * n_embd + 6
    return int(bytes_per_value * batch * seq * per_token) + 1024


def training_memory(n_params: int, *, precision: str = "fp32", optimizer: str = "adam", zero_stage: int = 0,
                    n_devices: int = 1, activation_bytes: int = 0, logits_workspace_bytes: int = 0) -> dict:
    """Memory of one training step per device, in bytes, by component.

    ZeRO stage 1 shards the optimizer states over ``n_devices``, stage 2 also the gradients, stage 3 (= FSDP's
    full sharding) also the weights. Activations are per device (each holds its own micro-batch) and are not
    sharded by ZeRO. ``peak`` is what a step reaches at the start of backward: weights + optimizer states +
    activations + the logits workspace (logits and their gradient, 2·b·s·V numbers); gradients appear while
    the activations are being freed, so ``peak`` counts ``max(gradients, activations + workspace)``.
    """
    if int(zero_stage) not in (0, 1, 2, 3):
        raise ParallelError(f"zero_stage must be 0, 1, 2 or 3, not {zero_stage!r}.")
    if int(n_devices) < 1 or int(n_params) < 0:
        raise ParallelError(f"Need n_devices ≥ 1 and n_params ≥ 0, got {n_devices} and {n_params}.")
    b = per_parameter_bytes(precision, optimizer)
    n = int(n_params)
    shard = {"optimizer": zero_stage >= 1, "gradients": zero_stage >= 2, "weights": zero_stage >= 3}
    out = {k: n * b[k] / (n_devices if shard[k] else 1) for k in ("weights", "gradients", "optimizer")}
    out["activations"] = float(activation_bytes)
    out["logits_workspace"] = float(logits_workspace_bytes)
    out["total_static"] = out["weights"] + out["gradients"] + out["optimizer"]
    out["peak"] = out["weights"] + out["optimizer"] + max(out["gradients"],
                                                          out["activations"] + out["logits_workspace"])
    return out


def gpt_step_memory(model_config, batch: int, seq: int, *, precision: str = "fp32", optimizer: str = "adam",
                    zero_stage: int = 0, n_devices: int = 1, checkpointing: bool = False,
                    n_params: int | None = None) -> dict:
    """:func:`training_memory` for a ``GPT2Config`` (the course GPT): activations by :func:`gpt_activation_bytes`."""
    c = model_config
    if n_params is None:
        h, V, L, P = c.n_embd, c.vocab_size, c.n_layer, c.n_positions
        n_params = V * h + P * h + L * (12 * h * h + 13 * h) + 2 * h     # tied lm_head counted once
    act_bytes = 2 if precision in ("bf16", "mixed") else 4
    acts = gpt_activation_bytes(batch, seq, c.n_layer, c.n_embd, c.n_head, c.vocab_size, act_bytes, checkpointing)
    workspace = 2 * batch * seq * c.vocab_size * 4                      # the loss is computed in fp32
    if checkpointing:                                                   # one layer recomputed at a time
        workspace = max(workspace, act_bytes * batch * seq * (18 * c.n_embd + c.n_head + 4))
    return training_memory(n_params, precision=precision, optimizer=optimizer, zero_stage=zero_stage,
                           n_devices=n_devices, activation_bytes=acts, logits_workspace_bytes=workspace)


def measure_step_memory(model, optimizer, input_ids, *, warmup: bool = True) -> dict:
    """Peak memory of one real training step (forward, backward, optimizer step), measured.

    Uses ``torch.distributed._tools.mem_tracker.MemTracker`` (a ``TorchDispatchMode`` that records every
    tensor storage created and freed, labelled parameter / gradient / optimizer state / activation / temporary).
    A first, untracked step creates the optimizer states, so the tracked step is a steady-state one.
    Returns bytes: ``peak`` and the labelled parts at the peak.
    """
    import torch
    from torch.distributed._tools.mem_tracker import MemTracker

    def step():
        loss = model(input_ids=input_ids, labels=input_ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    if warmup:
        step()
    tracker = MemTracker()
    tracker.track_external(model, optimizer)
    with tracker:
        step()
    dev = next(model.parameters()).device
    snap = tracker.get_tracker_snapshot("peak")
    parts = snap.get(dev) or snap.get(torch.device(dev.type)) or next(iter(snap.values()))
    out = {str(getattr(k, "value", k)).lower(): float(v) for k, v in parts.items()}
    out["peak"] = out.pop("total")
    return out


def memory_figure(n_params_m: float = 124.0, precision: str = "mixed", optimizer: str = "adam", zero_stage: int = 0,
                  n_devices: int = 1, batch: int = 8, seq: int = 1024, n_layer: int = 12, n_embd: int = 768,
                  n_head: int = 12, vocab: int = 50257, checkpointing: bool = False):
    """Notebook 10's widget: a bar per component of :func:`training_memory` (GB per device) for a GPT of
    ``n_params_m`` million parameters; the defaults are GPT-2 small at batch 8 × 1024."""
    import plotly.graph_objects as go
    act_bytes = 2 if precision in ("bf16", "mixed") else 4
    acts = gpt_activation_bytes(batch, seq, n_layer, n_embd, n_head, vocab, act_bytes, checkpointing)
    mem = training_memory(int(n_params_m * 1e6), precision=precision, optimizer=optimizer, zero_stage=zero_stage,
                          n_devices=n_devices, activation_bytes=acts, logits_workspace_bytes=2 * batch * seq * vocab * 4)
    parts = ["weights", "gradients", "optimizer", "activations", "logits_workspace"]
    fig = go.Figure(go.Bar(x=parts, y=[mem[p] / 1e9 for p in parts], text=[f"{mem[p] / 1e9:.2f}" for p in parts]))
    fig.update_layout(title=f"{n_params_m:g}M parameters, {precision}, {optimizer}, ZeRO-{zero_stage} on {n_devices} "
                            f"device(s): peak ≈ {mem['peak'] / 1e9:.2f} GB per device",
                      yaxis_title="GB per device", height=380, margin=dict(t=60, b=40))
    return fig
