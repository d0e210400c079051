"""Notebook 08, parameter-efficient fine-tuning (参数高效微调): LoRA by hand and checked against ``peft``
(``lora``), a Houlsby adapter and BitFit by hand (``adapters``), every method side by side on MiniLM with one
training routine (``methods``), LoRA on causal LMs (``causal``), adapters as files (``files``), why low rank
works and what a rank costs (``lowrank``), and LoRA on an int8 base (``quant``)."""
from __future__ import annotations

from labutils.chapters.peft.adapters import BottleneckAdapter, WithAdapter, add_houlsby_adapters, bitfit  # noqa: F401
from labutils.chapters.peft.causal import (  # noqa: F401
    adapt_lm,
    continue_text,
    dialogue_text,
    lora_config_for,
    quick_gpt,
)
from labutils.chapters.peft.files import adapter_config, dir_bytes, load_adapter_checked  # noqa: F401
from labutils.chapters.peft.lora import (  # noqa: F401
    LoRALinear,
    apply_lora,
    copy_into_peft,
    lora_layers,
    max_logit_diff,
    set_merged,
)
from labutils.chapters.peft.lowrank import (  # noqa: F401
    delta_spectrum,
    energy_at_rank,
    lora_cost,
    random_energy_at_rank,
    rank_figure,
)
from labutils.chapters.peft.methods import (  # noqa: F401
    LABELS,
    METHODS,
    adalora_hook,
    build_method,
    length_grouped_batches,
    measure,
    methods_figure,
    run_methods,
    train_method,
    trainable_file_bytes,
    training_memory_bytes,
)
from labutils.chapters.peft.quant import Int8Linear, quantize_linears  # noqa: F401
from labutils.core.errors import PeftError  # noqa: F401
from labutils.train.freezing import encoder_layers  # noqa: F401


def get_peft_model(model, config):
    """``peft.get_peft_model`` (imported when first used), seeded so the adapter's initialisation repeats."""
    import peft
    import torch
    torch.manual_seed(0)
    return peft.get_peft_model(model, config)
