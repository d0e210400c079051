"""A sequence classifier that pools by the *mean* of the token vectors (notebook 06's frozen variant).

``BertForSequenceClassification`` classifies from the ``[CLS]`` vector passed through the pooler (a dense
layer + tanh). all-MiniLM-L6-v2 was trained as a sentence encoder with **mean pooling**: its ``[CLS]``
vector and pooler were never trained for sentence meaning, so a frozen MiniLM + linear head should read the
average of the token vectors (padding excluded), as :func:`labutils.models.embed` does.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["MeanPoolingClassifier"]


class MeanPoolingClassifier(nn.Module):
    """``encoder`` (a ``BertModel``) + dropout + ``nn.Linear(hidden, num_labels)`` on the masked mean of the
    last hidden states. It looks enough like a transformers classifier for the course's loop, freezing
    rule and evaluation: ``base_model``/``base_model_prefix``, ``config``, ``classifier``, and
    ``forward(input_ids, attention_mask, ..., labels=None)`` returning an object with ``.logits``/``.loss``.

    Build it from a ``*ForSequenceClassification`` model with :meth:`from_classifier`, which reuses its
    body and its (freshly initialised) head.
    """

    base_model_prefix = "bert"

    def __init__(self, encoder: nn.Module, num_labels: int = 2, dropout: float = 0.0):
        super().__init__()
        self.bert = encoder
        self.config = encoder.config
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(self.config.hidden_size, num_labels)

    @classmethod
    def from_classifier(cls, model) -> "MeanPoolingClassifier":
        out = cls(model.base_model, model.config.num_labels, getattr(model.config, "hidden_dropout_prob", 0.0))
        out.classifier.load_state_dict(model.classifier.state_dict())
        out.config = model.config
        return out

    @property
    def base_model(self) -> nn.Module:
        return self.bert

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kwargs):
        from transformers.modeling_outputs import SequenceClassifierOutput
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1.0)
        logits = self.classifier(self.dropout(pooled))
        loss = None if labels is None else nn.functional.cross_entropy(logits, labels)
        return SequenceClassifierOutput(loss=loss, logits=logits)
