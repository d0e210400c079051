"""Knowledge distillation (Hinton et al. 2015, *Distilling the Knowledge in a Neural Network*) and a
DistilBERT-style student initialised from the teacher's layers (Sanh et al. 2019)."""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F


def distillation_loss(student_logits, teacher_logits, labels, temperature: float = 2.0, alpha: float = 0.5):
    """``alpha · T² · KL(softmax(t/T) ‖ softmax(s/T)) + (1 − alpha) · CE(s, labels)``.

    The T² keeps the soft term's gradients the same size as T changes (they scale as 1/T²)."""
    T = temperature
    soft = F.kl_div(F.log_softmax(student_logits / T, dim=-1), F.softmax(teacher_logits / T, dim=-1),
                    reduction="batchmean") * T * T
    hard = F.cross_entropy(student_logits, labels)
    return alpha * soft + (1 - alpha) * hard


def student_from_teacher(teacher, layers: list[int] | None = None, n_layers: int = 2, from_scratch: bool = False):
    """A BERT classifier with ``n_layers`` encoder layers: copies of the teacher's ``layers`` (default every
    k-th, DistilBERT style) with its embeddings and head, or freshly initialised weights (``from_scratch``)."""
    n_t = teacher.config.num_hidden_layers
    layers = layers or [round(i * (n_t - 1) / max(1, n_layers - 1)) for i in range(n_layers)]
    student = copy.deepcopy(teacher)
    student.bert.encoder.layer = torch.nn.ModuleList([student.bert.encoder.layer[i] for i in layers])
    student.config.num_hidden_layers = len(layers)
    if from_scratch:
        torch.manual_seed(0)
        student.apply(student._init_weights)
    return student


def train_student(student, teacher, batches, epochs: int = 1, lr: float = 1e-4, temperature: float = 2.0,
                  alpha: float = 0.5, seed: int = 0) -> list[float]:
    """Train ``student`` on ``batches`` (dicts with input_ids, attention_mask, labels) with
    :func:`distillation_loss` (``alpha = 0``: labels alone); the teacher's logits come without gradients.
    Returns the loss per step."""
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(student.parameters(), lr=lr)
    teacher.eval()
    student.train()
    losses = []
    for _ in range(epochs):
        for b in batches:
            inputs = {k: v for k, v in b.items() if k != "labels"}
            with torch.no_grad():
                t_logits = teacher(**inputs).logits if alpha > 0 else None
            s_logits = student(**inputs).logits
            loss = (distillation_loss(s_logits, t_logits, b["labels"], temperature, alpha) if alpha > 0
                    else F.cross_entropy(s_logits, b["labels"]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
    student.eval()
    return losses
