"""Notebook 11 · Model compression: quantization by hand and with libraries, pruning, distillation, and the
size/latency/accuracy table that weighs them."""
from labutils.chapters.compression.distill import distillation_loss, student_from_teacher, train_student  # noqa: F401
from labutils.chapters.compression.lm import (  # noqa: F401
    held_out_ids,
    lm_perplexity,
    pack_int4,
    save_int4_packed,
    tokens_per_second,
    unpack_int4,
)
from labutils.chapters.compression.measure import (  # noqa: F401
    latency_p50_ms,
    pareto_figure,
    pareto_front,
    pick_variant,
    size_on_disk_mb,
)
from labutils.chapters.compression.prune import (  # noqa: F401
    head_importance,
    magnitude_prune,
    prune_ffn_neurons,
    prune_heads_by_importance,
    sparsity,
)
from labutils.chapters.compression.quant import (  # noqa: F401
    CompressionError,
    absmax_quantize,
    conv1d_to_linear,
    dequantize,
    fake_quantize_linears,
    import_torchao,
    int4_dequantize,
    int4_groupwise,
    int4_groupwise_asym,
    int8_matmul_by_hand,
    legacy_quantize_dynamic,
    quant_error,
    torchao_quantize,
    zeropoint_quantize,
)
