"""The training core: one loop contract, one history record, one schedule, one parameter-group rule,
one freezing rule, checkpoints, efficiency figures and sampling.

``lu.training`` is the same package (its old name). Notebook 04 teaches the loop; 06 and 07 the rest."""
from __future__ import annotations

from labutils.core.errors import TrainingError  # noqa: F401
from labutils.core.history import History, as_history  # noqa: F401
from labutils.train.checkpoints import (  # noqa: F401
    CHECKPOINT_FILE,
    checkpoint_info,
    load_checkpoint,
    save_checkpoint,
)
from labutils.train.efficiency import (  # noqa: F401
    amp_dtype,
    estimate_mfu,
    peak_flops,
    training_flops_per_token,
)
from labutils.train.freezing import (  # noqa: F401
    encoder_layers,
    freeze_encoder,
    gradual_schedule,
    head_parameter_names,
    trainable_parameters,
    unfreeze_all,
    unfreeze_top_k,
)
from labutils.train.lm import (  # noqa: F401
    estimate_loss,
    eval_windows,
    get_batch,
    measure_tokens_per_second,
    model_context,
    perplexity,
    pretrain_gpt,
    unigram_baseline_loss,
)
from labutils.train.optim import (  # noqa: F401
    layerwise_lr_groups,
    make_optimizer,
    param_groups,
)
from labutils.train.params import (  # noqa: F401
    count_parameters,
)
from labutils.train.sampling import (  # noqa: F401
    generate_ids,
    generate_text,
    sampling_distribution,
)
from labutils.train.schedules import (  # noqa: F401
    SCHEDULES,
    lr_at,
    lr_multiplier,
    lr_schedule,
    make_scheduler,
    schedule_figure,
    warmup_cosine,
)

__all__ = [
    'History', 'as_history',
    'TrainingError',
    'get_batch', 'eval_windows', 'model_context', 'estimate_loss', 'perplexity', 'unigram_baseline_loss',
    'pretrain_gpt', 'measure_tokens_per_second', 'param_groups', 'layerwise_lr_groups', 'make_optimizer',
    'SCHEDULES', 'lr_multiplier', 'lr_at', 'lr_schedule', 'make_scheduler', 'warmup_cosine',
    'schedule_figure', 'amp_dtype', 'peak_flops', 'training_flops_per_token', 'estimate_mfu',
    'CHECKPOINT_FILE', 'save_checkpoint', 'checkpoint_info', 'load_checkpoint', 'sampling_distribution',
    'generate_ids', 'generate_text', 'encoder_layers', 'head_parameter_names', 'freeze_encoder',
    'unfreeze_top_k', 'unfreeze_all', 'trainable_parameters', 'gradual_schedule', 'count_parameters',
]
