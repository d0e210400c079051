"""Notebook 12, deployment and serving: ONNX export and ONNX Runtime (``onnx``), eager vs ONNX Runtime timings
(``bench``), a FastAPI service with validation, limits, metrics and dynamic batching (``app``), which classifier it
serves (``models``), the service as a subprocess that always stops (``server``), the load tester, streaming client
and fuzz (``load``), the KV cache and continuous batching (``generation``), and cost per 1,000 requests (``cost``)."""
from __future__ import annotations

from labutils.chapters.serving.bench import (  # noqa: F401
    best_setting,
    eager_vs_ort,
    fixed_inputs,
    latency_figure,
    session_sweep,
    time_ms,
)
from labutils.chapters.serving.cost import (  # noqa: F401
    ENGINES,
    PRICE_PER_CORE_HOUR,
    capacity,
    capacity_figure,
    cost_per_1k,
    deployment_table,
)
from labutils.chapters.serving.generation import (  # noqa: F401
    batching_timeline,
    continuous_batching,
    greedy_decode,
    kv_cache_sweep,
    kv_figure,
    make_workload,
    static_batching,
)
from labutils.chapters.serving.load import (  # noqa: F401
    classify_requests,
    concurrency_sweep,
    fuzz,
    fuzz_cases,
    load_test,
    percentile,
    stream_chat,
    sweep_figure,
)
from labutils.chapters.serving.models import export_classifier, read_labels, served_classifier  # noqa: F401
from labutils.chapters.serving.onnx import (  # noqa: F401
    OPT_LEVELS,
    ServingError,
    eager_logits,
    export_onnx,
    inline_and_clean,
    onnx_size_mb,
    ort_classifier,
    ort_feeds,
    ort_run,
    ort_session,
    parity,
    quantize_dynamic_int8,
    quantize_static_int8,
    tiny_classifier,
)
from labutils.chapters.serving.server import ServerProcess, free_port, running_server, running_servers  # noqa: F401

__all__ = ['OPT_LEVELS', 'ServingError', 'eager_logits', 'export_onnx', 'inline_and_clean', 'onnx_size_mb',
           'ort_classifier', 'ort_feeds', 'ort_run', 'ort_session', 'parity', 'quantize_dynamic_int8',
           'quantize_static_int8', 'tiny_classifier',
           'best_setting', 'eager_vs_ort', 'fixed_inputs', 'latency_figure', 'session_sweep', 'time_ms',
           'ENGINES', 'PRICE_PER_CORE_HOUR', 'capacity', 'capacity_figure', 'cost_per_1k', 'deployment_table',
           'batching_timeline', 'continuous_batching', 'greedy_decode', 'kv_cache_sweep', 'kv_figure',
           'make_workload', 'static_batching', 'classify_requests', 'concurrency_sweep', 'fuzz', 'fuzz_cases',
           'load_test', 'percentile', 'stream_chat', 'sweep_figure', 'export_classifier', 'read_labels',
           'served_classifier', 'ServerProcess', 'free_port', 'running_server', 'running_servers']
