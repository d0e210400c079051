"""Notebook 15, the capstone pipeline (综合项目：端到端流水线): data → checks → baseline → fine-tuning (full or
LoRA) → test once → int8 → ONNX → HTTP service → load test → model card, on a course data set or the learner's
own CSV/JSONL file. ``pipeline`` (config, resumable stages), ``data`` (strict reading, checks), ``stages`` and
``deploy`` (what each stage does, reusing the package), ``card`` (model card, report), ``views`` (plots).
The same pipeline runs headless as ``python -m labutils pipeline --data FILE ...``."""
from __future__ import annotations

from labutils.chapters.capstone.card import card_lists_all, collect_figures, fmt, model_card, report_table  # noqa: F401
from labutils.chapters.capstone.data import (  # noqa: F401
    MAX_CLASSES,
    PipelineError,
    data_checks,
    detect_language,
    drop_leaks,
    load_labelled,
    norm,
    read_table,
)
from labutils.chapters.capstone.pipeline import (  # noqa: F401
    SETTINGS,
    STAGES,
    TITLES,
    Pipeline,
    PipelineConfig,
    default_out,
)
from labutils.chapters.capstone.stages import selective_accuracy  # noqa: F401
from labutils.chapters.capstone.views import (  # noqa: F401
    balance_figure,
    comparison_figure,
    length_figure,
    load_figure,
    selective_figure,
    training_figure,
)

__all__ = ["PipelineError", "PipelineConfig", "Pipeline", "STAGES", "TITLES", "SETTINGS", "default_out",
           "read_table", "load_labelled", "data_checks", "drop_leaks", "detect_language", "norm", "MAX_CLASSES",
           "collect_figures", "model_card", "report_table", "card_lists_all", "fmt", "selective_accuracy",
           "balance_figure", "length_figure", "training_figure", "comparison_figure", "load_figure",
           "selective_figure"]
