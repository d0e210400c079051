"""Notebook 10, parallel and efficient training (并行与高效训练): the memory calculator (``memory``), gradient
accumulation (``accumulation``), launchers that always end (``launch``), the DDP training script
(``ddp_train``, run by ``torchrun`` and ``mp.spawn``), collectives and a ring all-reduce by hand
(``collectives``), FSDP2, tensor and pipeline parallelism (``sharded``), mixed precision (``precision``)."""
from __future__ import annotations

from labutils.chapters.parallel.accumulation import (  # noqa: F401
    accumulated_grad,
    accumulation_diffs,
    lm_loss_sum,
    padded_batch,
    sequence_vs_token_mean,
)
from labutils.chapters.parallel.collectives import (  # noqa: F401
    collective_bytes,
    ring_all_reduce,
    ring_bytes_per_rank,
)
from labutils.chapters.parallel.launch import (  # noqa: F401
    check_port,
    check_world_size,
    free_port,
    spawn,
    torchrun,
)
from labutils.chapters.parallel.memory import (  # noqa: F401
    gpt_activation_bytes,
    gpt_step_memory,
    measure_step_memory,
    per_parameter_bytes,
    training_memory,
)
from labutils.chapters.parallel.precision import (  # noqa: F401
    fp16_underflow,
    step_time_and_memory,
    train_steps,
)
from labutils.chapters.parallel.sharded import bubble_fraction, mlp, mlp_weights  # noqa: F401
from labutils.core.errors import ParallelError  # noqa: F401
