"""One freezing rule (冻结) for every fine-tuning lesson (notebooks 06 and 07), and the one parameter counter.

``unfreeze_top_k(model, k)`` means the same everywhere: the task head always trains; ``k = 0`` trains the
head alone; ``k ≥ 1`` adds the pooler and the top ``k`` Transformer layers; ``k = L`` (all layers) also
unfreezes the embeddings, which is full fine-tuning.
"""
from __future__ import annotations

from typing import Callable

from labutils.core.errors import TrainingError
from labutils.train.params import count_parameters


# ----------------------------------------------------------------------------- 2. what trains
def encoder_layers(model):
    """The list of transformer blocks of the model's body (``model.base_model.encoder.layer`` for BERT)."""
    import torch.nn as nn
    base = model.base_model
    enc = getattr(base, "encoder", None)
    if enc is not None and isinstance(getattr(enc, "layer", None), nn.ModuleList):
        return enc.layer
    n = getattr(model.config, "num_hidden_layers", None)
    for module in base.modules():
        if isinstance(module, nn.ModuleList) and (n is None or len(module) == n):
            return module
    raise TrainingError(f"Cannot find the transformer layers of {type(model).__name__}; "
                        "use a BERT-style *ForSequenceClassification model.")


def head_parameter_names(model) -> list[str]:
    """Names of the task head's parameters: everything outside ``model.base_model``."""
    prefix = getattr(model, "base_model_prefix", "") + "."
    return [n for n, _ in model.named_parameters() if not n.startswith(prefix)]


def _set_trainable(model, trainable: Callable[[str], bool]) -> int:
    for name, p in model.named_parameters():
        p.requires_grad_(bool(trainable(name)))
    return trainable_parameters(model)


def freeze_encoder(model) -> int:
    """Freeze the whole pretrained body; only the task head trains (for MiniLM with 2 classes, the
    384 × 2 weights + 2 biases = 770 numbers). Returns the number of trainable parameters."""
    head = set(head_parameter_names(model))
    return _set_trainable(model, lambda n: n in head)


def unfreeze_top_k(model, k: int) -> int:
    """Train the head plus the top ``k`` transformer layers (and the pooler, for ``k ≥ 1``).

    ``k = 0`` is :func:`freeze_encoder`; ``k`` = the number of layers also unfreezes the
    embeddings, which is full fine-tuning. Returns the number of trainable parameters.
    """
    layers = encoder_layers(model)
    n = len(layers)
    if not 0 <= int(k) <= n:
        raise TrainingError(f"k must be between 0 (head only) and {n} (every layer), not {k}.")
    k = int(k)
    freeze_encoder(model)
    if k == 0:
        return trainable_parameters(model)
    for layer in list(layers)[n - k:]:
        layer.requires_grad_(True)
    pooler = getattr(model.base_model, "pooler", None)
    if pooler is not None:
        pooler.requires_grad_(True)
    if k == n:
        model.base_model.requires_grad_(True)
    return trainable_parameters(model)


def unfreeze_all(model) -> int:
    """Full fine-tuning: every parameter trains. Returns the number of trainable parameters."""
    model.requires_grad_(True)
    return trainable_parameters(model)


def trainable_parameters(model) -> int:
    """Number of parameters with ``requires_grad``: :func:`count_parameters` ``(model, trainable_only=True)``."""
    return count_parameters(model, trainable_only=True)


def gradual_schedule(n_layers: int, stages: int = 4) -> list[int]:
    """How many top layers are unfrozen in each stage of gradual unfreezing (ULMFiT): from 0 (head
    only) to ``n_layers`` (everything) in ``stages`` steps, e.g. ``gradual_schedule(6, 4) == [0, 2, 4, 6]``."""
    if stages < 2:
        raise TrainingError(f"Gradual unfreezing needs at least 2 stages, not {stages}.")
    return sorted({int(round(i * n_layers / (stages - 1))) for i in range(stages)})
