"""Notebook 12, deployment and serving: ONNX export and ONNX Runtime (``onnx``), a FastAPI service with
validation, limits, metrics and dynamic batching (``app``), and its load-test client (``client``)."""
from __future__ import annotations

from labutils.chapters.serving.onnx import (  # noqa: F401
    OPT_LEVELS,
    ServingError,
    eager_logits,
    export_onnx,
    inline_and_clean,
    onnx_size_mb,
    ort_feeds,
    ort_run,
    ort_session,
    parity,
    quantize_dynamic_int8,
    tiny_classifier,
)

__all__ = ['OPT_LEVELS', 'ServingError', 'eager_logits', 'export_onnx', 'inline_and_clean', 'onnx_size_mb',
           'ort_feeds', 'ort_run', 'ort_session', 'parity', 'quantize_dynamic_int8', 'tiny_classifier']
