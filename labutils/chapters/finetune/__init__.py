"""Notebook 06, fine-tuning a pretrained encoder for classification: the loop (``loop``: tokenize, train,
predict, evaluate, save) and the report (``report``: baseline, confusion matrix, calibration, mistakes).
The freezing rule and calibration live in ``labutils.train.freezing`` and ``labutils.eval.calibration``;
they are re-exported here so ``ft.unfreeze_top_k`` reads as the lesson uses it."""
from __future__ import annotations

from labutils.chapters.finetune.loop import (  # noqa: F401
    evaluate_classifier,
    pad_collate,
    predict_proba,
    take,
    tokenize_dataset,
    train_classifier,
)
from labutils.chapters.finetune.pooling import MeanPoolingClassifier  # noqa: F401
from labutils.chapters.finetune.report import (  # noqa: F401
    confusion_matrix_figure,
    history_figure,
    most_confident_mistakes,
    prediction_figure,
    reliability_figure,
    tfidf_baseline,
    unk_rate,
)
from labutils.chapters.finetune.saving import classification_pipeline, classifier_dir, save_classifier  # noqa: F401
from labutils.core.errors import FinetuneError  # noqa: F401
from labutils.eval.calibration import (  # noqa: F401
    calibration_bins,
    expected_calibration_error,
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

__all__ = [
    'FinetuneError',
    'tokenize_dataset', 'take', 'pad_collate', 'train_classifier', 'predict_proba', 'evaluate_classifier',
    'classifier_dir', 'save_classifier', 'classification_pipeline', 'confusion_matrix_figure', 'reliability_figure',
    'most_confident_mistakes', 'tfidf_baseline', 'unk_rate', 'prediction_figure', 'history_figure',
    'encoder_layers', 'head_parameter_names', 'freeze_encoder', 'unfreeze_top_k', 'unfreeze_all',
    'trainable_parameters', 'gradual_schedule', 'calibration_bins', 'expected_calibration_error',
]
