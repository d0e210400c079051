"""Fine-tuning a pretrained encoder for text classification · 微调与文本分类 (notebooks 06, 07).

The five steps of fine-tuning, as small functions a notebook calls in order:

1. data: :func:`tokenize_dataset` (no padding; batches are padded on the fly), :func:`take`;
2. task head and what trains: :func:`freeze_encoder`, :func:`unfreeze_top_k`, :func:`unfreeze_all`,
   :func:`trainable_parameters`, :func:`encoder_layers`;
3.–4. hyperparameters and training with validation: :func:`train_classifier`, a hand-written
   loop (AdamW, warm-up + schedule, gradient accumulation, layer-wise LR decay, gradual unfreezing,
   class weights, evaluation every N steps, best-checkpoint selection, early stopping);
5. test and deploy: :func:`predict_proba`, :func:`evaluate_classifier`,
   :func:`confusion_matrix_figure`, :func:`expected_calibration_error`,
   :func:`reliability_figure`, :func:`most_confident_mistakes`, :func:`save_classifier`,
   :func:`classification_pipeline`, :func:`prediction_figure`.

Baselines and diagnostics: :func:`tfidf_baseline` (scikit-learn TF-IDF + logistic regression),
:func:`unk_rate` (how much of a text a tokenizer cannot represent).

Works with any ``*ForSequenceClassification`` model whose body is ``model.base_model`` (BERT
family: embeddings, ``encoder.layer``, pooler) and whose head is everything else. torch,
transformers and scikit-learn are imported inside the functions.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

__all__ = [
    "FinetuneError", "tokenize_dataset", "take", "pad_collate",
    "encoder_layers", "head_parameter_names", "freeze_encoder", "unfreeze_top_k", "unfreeze_all",
    "trainable_parameters", "gradual_schedule", "train_classifier",
    "predict_proba", "evaluate_classifier", "confusion_matrix_figure", "expected_calibration_error",
    "calibration_bins", "reliability_figure", "most_confident_mistakes", "tfidf_baseline", "unk_rate",
    "save_classifier", "classification_pipeline", "prediction_figure", "history_figure",
]

SCHEDULES = ("linear", "cosine", "constant", "constant_with_warmup")


class FinetuneError(ValueError):
    """A setting of the fine-tuning helpers that cannot work (the message says what is valid)."""


# ----------------------------------------------------------------------------- 1. data
def tokenize_dataset(dsdict, tokenizer, max_length: int = 64, text_column: str = "text",
                     label_column: str = "label"):
    """Tokenize a ``Dataset`` or ``DatasetDict`` for classification, without padding.

    Adds ``input_ids``, ``attention_mask`` (and ``token_type_ids`` if the tokenizer makes them) and
    a ``labels`` column (a copy of ``label_column``); keeps the original columns, so ``text`` stays
    available for error analysis. Sequences are truncated to ``max_length`` tokens; batches are
    padded to their own longest sequence later (:func:`pad_collate`, or ``DataCollatorWithPadding``
    in a ``Trainer``), which on short sentences is much cheaper than padding to ``max_length``.
    """
    if max_length < 2:
        raise FinetuneError(f"max_length must be at least 2 (room for [CLS] and [SEP]), not {max_length}.")
    probe = dsdict[next(iter(dsdict))] if hasattr(dsdict, "keys") else dsdict
    if text_column not in probe.column_names:
        raise FinetuneError(f"No column {text_column!r}; the data set has {', '.join(probe.column_names)}.")

    def encode(batch):
        enc = tokenizer(batch[text_column], truncation=True, max_length=max_length)
        if label_column in batch:
            enc["labels"] = batch[label_column]
        return dict(enc)

    return dsdict.map(encode, batched=True, batch_size=1000, desc=None)


def take(ds, n: int | None, seed: int = 0):
    """A seeded random subset of ``n`` rows (all rows, shuffled, if ``n`` is None or too large)."""
    n = len(ds) if n is None else min(int(n), len(ds))
    return ds.shuffle(seed=seed).select(range(n))


_MODEL_COLUMNS = ("input_ids", "attention_mask", "token_type_ids", "labels")


def pad_collate(pad_token_id: int = 0) -> Callable[[list[dict]], dict]:
    """A collate function padding ``input_ids`` (with ``pad_token_id``), ``attention_mask`` and
    ``token_type_ids`` (with 0) to the longest row of the batch; other columns are dropped."""
    import torch

    def collate(rows: list[dict]) -> dict:
        width = max(len(r["input_ids"]) for r in rows)
        out = {}
        for key in ("input_ids", "attention_mask", "token_type_ids"):
            if key not in rows[0]:
                continue
            fill = pad_token_id if key == "input_ids" else 0
            out[key] = torch.tensor([list(r[key]) + [fill] * (width - len(r[key])) for r in rows],
                                    dtype=torch.long)
        if "labels" in rows[0]:
            out["labels"] = torch.tensor([int(r["labels"]) for r in rows], dtype=torch.long)
        return out
    return collate


def _loader(ds, batch_size: int, shuffle: bool, seed: int, pad_token_id: int):
    import torch
    if "input_ids" not in ds.column_names:
        raise FinetuneError("The data set is not tokenized; call tokenize_dataset(ds, tokenizer, max_length) first.")
    cols = [c for c in _MODEL_COLUMNS if c in ds.column_names]
    gen = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(ds.select_columns(cols).with_format(None), batch_size=batch_size,
                                       shuffle=shuffle, generator=gen, collate_fn=pad_collate(pad_token_id))


def _pad_id(model) -> int:
    pid = getattr(model.config, "pad_token_id", None)
    return 0 if pid is None else int(pid)


# ----------------------------------------------------------------------------- 2. what trains
def encoder_layers(model):
    """The list of transformer blocks of the model's body (``model.base_model.encoder.layer`` for BERT)."""
    import torch.nn as nn
    base = model.base_model
    enc = getattr(base, "encoder", None)
    if enc is not None and isinstance(getattr(enc, "layer", None), nn.ModuleList):
        return enc.layer
    n = getattr(model.config, "num_hidden_layers", None)
    for module in base.modules():
        if isinstance(module, nn.ModuleList) and (n is None or len(module) == n):
            return module
    raise FinetuneError(f"Cannot find the transformer layers of {type(model).__name__}; "
                        "use a BERT-style *ForSequenceClassification model.")


def head_parameter_names(model) -> list[str]:
    """Names of the task head's parameters: everything outside ``model.base_model``."""
    prefix = getattr(model, "base_model_prefix", "") + "."
    return [n for n, _ in model.named_parameters() if not n.startswith(prefix)]


def _set_trainable(model, trainable: Callable[[str], bool]) -> int:
    for name, p in model.named_parameters():
        p.requires_grad_(bool(trainable(name)))
    return trainable_parameters(model)


def freeze_encoder(model) -> int:
    """Freeze the whole pretrained body; only the task head trains (for MiniLM with 2 classes, the
    384 × 2 weights + 2 biases = 770 numbers). Returns the number of trainable parameters."""
    head = set(head_parameter_names(model))
    return _set_trainable(model, lambda n: n in head)


def unfreeze_top_k(model, k: int) -> int:
    """Train the head plus the top ``k`` transformer layers (and the pooler, for ``k ≥ 1``).

    ``k = 0`` is :func:`freeze_encoder`; ``k`` = the number of layers also unfreezes the
    embeddings, which is full fine-tuning. Returns the number of trainable parameters.
    """
    layers = encoder_layers(model)
    n = len(layers)
    if not 0 <= int(k) <= n:
        raise FinetuneError(f"k must be between 0 (head only) and {n} (every layer), not {k}.")
    k = int(k)
    freeze_encoder(model)
    if k == 0:
        return trainable_parameters(model)
    for layer in list(layers)[n - k:]:
        layer.requires_grad_(True)
    pooler = getattr(model.base_model, "pooler", None)
    if pooler is not None:
        pooler.requires_grad_(True)
    if k == n:
        model.base_model.requires_grad_(True)
    return trainable_parameters(model)


def unfreeze_all(model) -> int:
    """Full fine-tuning: every parameter trains. Returns the number of trainable parameters."""
    model.requires_grad_(True)
    return trainable_parameters(model)


def trainable_parameters(model) -> int:
    """Number of parameters with ``requires_grad`` (shared tensors counted once)."""
    seen, total = set(), 0
    for p in model.parameters():
        if p.requires_grad and id(p) not in seen:
            seen.add(id(p))
            total += p.numel()
    return total


def gradual_schedule(n_layers: int, stages: int = 4) -> list[int]:
    """How many top layers are unfrozen in each stage of gradual unfreezing (ULMFiT): from 0 (head
    only) to ``n_layers`` (everything) in ``stages`` steps, e.g. ``gradual_schedule(6, 4) == [0, 2, 4, 6]``."""
    if stages < 2:
        raise FinetuneError(f"Gradual unfreezing needs at least 2 stages, not {stages}.")
    return sorted({int(round(i * n_layers / (stages - 1))) for i in range(stages)})


def _param_groups(model, lr: float, weight_decay: float, layer_lr_decay: float | None,
                  head_lr: float | None):
    """AdamW groups: no weight decay on biases and LayerNorm; optional layer-wise LR decay (the
    head gets ``lr``, the top layer ``lr·d``, the next ``lr·d²`` ..., the embeddings the smallest)."""
    layers = encoder_layers(model)
    n = len(layers)
    layer_of: dict[int, int] = {}
    for i, layer in enumerate(layers):
        for p in layer.parameters():
            layer_of[id(p)] = i
    head = set(head_parameter_names(model))
    pooler = getattr(model.base_model, "pooler", None)
    pooler_ids = {id(p) for p in pooler.parameters()} if pooler is not None else set()
    groups: dict[tuple, dict] = {}
    for name, p in model.named_parameters():
        if name in head:
            depth, scale = -1, 1.0
        elif id(p) in layer_of:
            depth = n - 1 - layer_of[id(p)]
            scale = layer_lr_decay ** (depth + 1) if layer_lr_decay else 1.0
        elif id(p) in pooler_ids:
            depth, scale = -1, (layer_lr_decay if layer_lr_decay else 1.0)
        else:  # embeddings
            depth, scale = n, (layer_lr_decay ** (n + 1) if layer_lr_decay else 1.0)
        group_lr = (head_lr if (head_lr is not None and name in head) else lr) * scale
        decay = 0.0 if (p.ndim < 2 or "LayerNorm" in name or "layer_norm" in name) else weight_decay
        key = (round(group_lr, 14), decay)
        groups.setdefault(key, {"params": [], "lr": group_lr, "weight_decay": decay})["params"].append(p)
    return list(groups.values())


# ----------------------------------------------------------------------------- 3.–4. training
def train_classifier(model, train_ds, val_ds=None, *, epochs: float = 1, lr: float = 5e-5,
                     batch_size: int = 16, weight_decay: float = 0.01, warmup_ratio: float = 0.1,
                     schedule: str = "linear", grad_accum: int = 1, layer_lr_decay: float | None = None,
                     head_lr: float | None = None, unfreeze: Any = None, class_weights: Sequence[float] | None = None,
                     max_steps: int | None = None, eval_every: int | None = None, keep_best: bool = False,
                     patience: int | None = None, seed: int = 0, progress: bool = True,
                     eval_batch_size: int = 64, device: Any = None, amp: bool | None = None,
                     on_eval: Callable[[dict], None] | None = None, max_grad_norm: float | None = 1.0) -> dict:
    """Fine-tune ``model`` on a tokenized ``train_ds`` with a hand-written loop; return a history dict.

    One optimizer step = ``grad_accum`` batches of ``batch_size`` examples. The loss is the
    cross-entropy of the logits (``class_weights`` weights it per class). AdamW with no decay on
    biases/LayerNorm, ``warmup_ratio`` of the steps of linear warm-up, then ``schedule`` (one of
    linear, cosine, constant, constant_with_warmup); gradients clipped to ``max_grad_norm``.

    ``unfreeze`` chooses what trains: ``None`` (leave ``requires_grad`` as it is), ``"all"``,
    ``"head"``, an int ``k`` (:func:`unfreeze_top_k`), ``"gradual"`` (stages from
    :func:`gradual_schedule`) or a list of ``k`` values, one per stage of equal length: gradual
    unfreezing from the top, ULMFiT style. ``layer_lr_decay`` ``d`` < 1 gives layer ``i`` from the
    top the learning rate ``lr·dⁱ⁺¹`` (the head keeps ``lr``, or ``head_lr``).

    ``max_steps`` caps the optimizer steps (else ``epochs`` × steps per epoch; fractional epochs
    allowed). ``val_ds`` is evaluated every ``eval_every`` steps (default: each epoch, and at the
    end); ``keep_best`` reloads the weights with the best validation accuracy at the end;
    ``patience`` stops after that many evaluations without improvement (early stopping).
    ``on_eval(history)`` is called after every evaluation (e.g. to update a live plot).

    Returns ``{"step", "train_loss", "lr", "eval_step", "val_loss", "val_accuracy", "val_f1",
    "trainable", "best_step", "best_val_accuracy", "stopped_early", "steps", "examples", "seconds"}``
    (lists of plain floats and ints, ready for ``lu.record`` or a plot).
    """
    import torch
    from tqdm.auto import tqdm
    from transformers import get_scheduler

    if schedule not in SCHEDULES:
        raise FinetuneError(f"Unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}.")
    if grad_accum < 1 or batch_size < 1:
        raise FinetuneError("batch_size and grad_accum must be at least 1.")
    if not 0 <= warmup_ratio < 1:
        raise FinetuneError(f"warmup_ratio must be in [0, 1), not {warmup_ratio}.")
    if layer_lr_decay is not None and not 0 < layer_lr_decay <= 1:
        raise FinetuneError(f"layer_lr_decay must be in (0, 1], not {layer_lr_decay}.")
    if (keep_best or patience) and val_ds is None:
        raise FinetuneError("keep_best and patience need a validation set (val_ds).")
    from .env import device as pick_device
    from .env import seed_everything
    seed_everything(seed)
    dev = torch.device(pick_device() if device is None else device)
    model.to(dev)
    use_amp = (dev.type == "cuda") if amp is None else bool(amp and dev.type == "cuda")
    amp_dtype = torch.bfloat16 if (use_amp and torch.cuda.is_bf16_supported()) else torch.float16

    n_layers = len(encoder_layers(model))
    stages = _stages(unfreeze, n_layers)
    loader = _loader(train_ds, batch_size, True, seed, _pad_id(model))
    per_epoch = max(1, len(loader) // grad_accum)
    total = int(max_steps) if max_steps else max(1, int(math.ceil(epochs * per_epoch)))
    if eval_every is None:
        eval_every = per_epoch
    if stages is not None:  # every parameter that trains in some stage goes into the optimizer
        model.requires_grad_(True)
    opt = torch.optim.AdamW(_param_groups(model, lr, weight_decay, layer_lr_decay, head_lr))
    if stages is None:  # frozen parameters must not take AdamW's weight-decay steps
        _drop_frozen(opt)
    sched = get_scheduler(schedule, opt, num_warmup_steps=int(round(warmup_ratio * total)),
                          num_training_steps=total)
    weight = None if class_weights is None else torch.tensor(list(class_weights), dtype=torch.float32, device=dev)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)

    hist: dict[str, Any] = {k: [] for k in ("step", "train_loss", "lr", "eval_step", "val_loss",
                                             "val_accuracy", "val_f1", "trainable")}
    best_acc, best_step, best_state, bad_evals = -1.0, 0, None, 0
    stopped_early = False
    stage_len = total / len(stages) if stages else None
    current_stage = -1
    step, examples, start = 0, 0, time.perf_counter()
    bar = tqdm(total=total, desc="fine-tuning", disable=not progress, leave=False)
    model.train()
    done = False
    while not done:
        accum, accum_loss = 0, 0.0
        for batch in loader:
            if stages is not None:
                want = min(len(stages) - 1, int(step // stage_len))
                if want != current_stage:
                    current_stage = want
                    unfreeze_top_k(model, stages[want])
            batch = {k: v.to(dev) for k, v in batch.items()}
            labels = batch.pop("labels")
            with torch.autocast(dev.type, dtype=amp_dtype, enabled=use_amp):
                logits = model(**batch).logits
            loss = loss_fn(logits.float(), labels) / grad_accum
            scaler.scale(loss).backward()
            accum += 1
            accum_loss += float(loss.detach())
            examples += len(labels)
            if accum < grad_accum:
                continue
            if max_grad_norm:
                scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], max_grad_norm)
            scaler.step(opt)
            scaler.update()
            opt.zero_grad(set_to_none=True)
            hist["lr"].append(float(sched.get_last_lr()[0]))
            sched.step()
            step += 1
            hist["step"].append(step)
            hist["train_loss"].append(accum_loss)
            hist["trainable"].append(trainable_parameters(model))
            bar.update(1)
            bar.set_postfix(loss=f"{accum_loss:.3f}")
            accum, accum_loss = 0, 0.0
            last = step >= total
            if val_ds is not None and (step % eval_every == 0 or last):
                res = evaluate_classifier(model, val_ds, batch_size=eval_batch_size, device=dev, details=False)
                model.train()
                hist["eval_step"].append(step)
                for key in ("loss", "accuracy", "f1"):
                    hist[f"val_{key}"].append(res[key])
                if res["accuracy"] > best_acc:
                    best_acc, best_step, bad_evals = res["accuracy"], step, 0
                    if keep_best:
                        best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
                else:
                    bad_evals += 1
                if on_eval is not None:
                    on_eval(hist)
                if patience and bad_evals >= patience:
                    stopped_early, last = True, True
            if last:
                done = True
                break
    bar.close()
    if keep_best and best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    hist.update(best_step=best_step, best_val_accuracy=(best_acc if best_acc >= 0 else None),
                stopped_early=stopped_early, steps=step, examples=examples,
                seconds=time.perf_counter() - start)
    return hist


def _stages(unfreeze: Any, n_layers: int) -> list[int] | None:
    """Translate ``unfreeze`` into None (leave as is) or a list of top-k values, one per stage."""
    if unfreeze is None:
        return None
    if unfreeze == "all":
        return [n_layers]
    if unfreeze == "head":
        return [0]
    if unfreeze == "gradual":
        return gradual_schedule(n_layers)
    if isinstance(unfreeze, (int, np.integer)) and not isinstance(unfreeze, bool):
        ks = [int(unfreeze)]
    elif isinstance(unfreeze, (list, tuple)) and unfreeze and all(isinstance(k, (int, np.integer)) for k in unfreeze):
        ks = [int(k) for k in unfreeze]
    else:
        raise FinetuneError(f"unfreeze must be None, 'all', 'head', 'gradual', an int k or a list of ints; not {unfreeze!r}.")
    if any(not 0 <= k <= n_layers for k in ks):
        raise FinetuneError(f"Each k in unfreeze must be between 0 and {n_layers}; got {ks}.")
    return ks


def _drop_frozen(opt) -> None:
    for group in opt.param_groups:
        group["params"] = [p for p in group["params"] if p.requires_grad]
    opt.param_groups[:] = [g for g in opt.param_groups if g["params"]]
    if not opt.param_groups:
        raise FinetuneError("No parameter is trainable; unfreeze something (unfreeze='head' trains the head).")


# ----------------------------------------------------------------------------- 5. evaluation
def predict_proba(model, tokenizer=None, texts_or_ds: Any = None, batch_size: int = 64,
                  max_length: int = 128, device: Any = None) -> np.ndarray:
    """Class probabilities, shape ``(N, num_labels)``, for a list of strings (needs ``tokenizer``)
    or a tokenized data set. The model is put in eval mode; no gradients."""
    import torch
    if texts_or_ds is None:
        raise FinetuneError("Pass texts (a list of strings) or a tokenized data set.")
    dev = next(model.parameters()).device if device is None else torch.device(device)
    model.eval()
    out = []
    if isinstance(texts_or_ds, str):
        texts_or_ds = [texts_or_ds]
    with torch.no_grad():
        if isinstance(texts_or_ds, (list, tuple)):
            if tokenizer is None:
                raise FinetuneError("Predicting from raw text needs the tokenizer: predict_proba(model, tokenizer, texts).")
            for i in range(0, len(texts_or_ds), batch_size):
                enc = tokenizer(list(texts_or_ds[i:i + batch_size]), truncation=True, max_length=max_length,
                                padding=True, return_tensors="pt").to(dev)
                out.append(torch.softmax(model(**enc).logits.float(), -1).cpu())
        else:
            for batch in _loader(texts_or_ds, batch_size, False, 0, _pad_id(model)):
                batch.pop("labels", None)
                logits = model(**{k: v.to(dev) for k, v in batch.items()}).logits
                out.append(torch.softmax(logits.float(), -1).cpu())
    if not out:
        return np.zeros((0, model.config.num_labels))
    return torch.cat(out).numpy().astype(np.float64)


def _label_names(model, n: int) -> list[str]:
    id2label = getattr(model.config, "id2label", None) or {}
    return [str(id2label.get(i, id2label.get(str(i), i))) for i in range(n)]


def evaluate_classifier(model, ds, tokenizer=None, batch_size: int = 64, device: Any = None,
                        details: bool = True) -> dict:
    """Accuracy, macro precision/recall/F1 and mean cross-entropy on a tokenized ``ds`` (with
    ``labels``), computed through ``lu.metrics``. With ``details`` also ``per_class`` (precision,
    recall, F1, support per label name), and the arrays ``probs``, ``preds``, ``labels`` for the
    confusion matrix, calibration and error analysis (no second pass over the data needed).
    ``tokenizer`` is accepted for symmetry and unused."""
    from . import metrics
    if device is not None:
        model.to(device)
    probs = predict_proba(model, None, ds, batch_size=batch_size, device=device)
    labels = np.asarray(list(ds["labels"] if "labels" in ds.column_names else ds["label"]), dtype=np.int64)
    preds = probs.argmax(-1)
    res = metrics.compute_classification(preds, labels, average="macro")
    eps = 1e-12
    res = {k: float(v) for k, v in res.items()}
    res["loss"] = float(-np.mean(np.log(probs[np.arange(len(labels)), labels] + eps))) if len(labels) else float("nan")
    if details:
        names = _label_names(model, probs.shape[1])
        per = _prf_module().compute(predictions=preds, references=labels, average=None,
                                    labels=list(range(probs.shape[1])))
        res["per_class"] = {names[i]: {"precision": float(per["precision"][i]), "recall": float(per["recall"][i]),
                                       "f1": float(per["f1"][i]), "support": int((labels == i).sum())}
                            for i in range(probs.shape[1])}
        res.update(probs=probs, preds=preds, labels=labels)
    return res


_PRF = None


def _prf_module():
    global _PRF
    if _PRF is None:
        from . import metrics
        _PRF = metrics.load("precision_recall_f1")
    return _PRF


def confusion_matrix_figure(labels: Sequence[int], preds: Sequence[int], label_names: Sequence[str] | None = None,
                            normalize: bool = False, title: str = "Confusion matrix"):
    """A plotly heatmap: rows = true class, columns = predicted class, counts (or row fractions
    with ``normalize``) written in each cell."""
    import plotly.graph_objects as go
    labels, preds = np.asarray(labels), np.asarray(preds)
    k = int(max(labels.max(initial=0), preds.max(initial=0))) + 1
    if label_names is not None:
        k = max(k, len(label_names))
    names = list(label_names) if label_names is not None else [str(i) for i in range(k)]
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (labels, preds), 1)
    z = cm / np.maximum(cm.sum(1, keepdims=True), 1) if normalize else cm
    text = [[(f"{z[i, j]:.2f}" if normalize else str(cm[i, j])) for j in range(k)] for i in range(k)]
    fig = go.Figure(go.Heatmap(z=z, x=[f"pred {n}" for n in names], y=[f"true {n}" for n in names],
                               text=text, texttemplate="%{text}", colorscale="Blues", showscale=False))
    fig.update_layout(title=title, template="plotly_white", height=340, width=420,
                      yaxis=dict(autorange="reversed"), margin=dict(l=80, r=20, t=50, b=40))
    return fig


def calibration_bins(probs: np.ndarray, labels: Sequence[int], n_bins: int = 10) -> list[dict]:
    """Equal-width bins of the confidence (the top probability): per bin the count, mean
    confidence and accuracy (empty bins are left out)."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels)
    if probs.ndim != 2 or len(probs) != len(labels):
        raise FinetuneError("probs must be an (N, classes) array with one row per label.")
    if n_bins < 1:
        raise FinetuneError(f"n_bins must be at least 1, not {n_bins}.")
    conf = probs.max(1)
    correct = (probs.argmax(1) == labels).astype(np.float64)
    idx = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    rows = []
    for b in range(n_bins):
        sel = idx == b
        if sel.any():
            rows.append({"bin": b, "low": b / n_bins, "high": (b + 1) / n_bins, "count": int(sel.sum()),
                         "confidence": float(conf[sel].mean()), "accuracy": float(correct[sel].mean())})
    return rows


def expected_calibration_error(probs: np.ndarray, labels: Sequence[int], n_bins: int = 10) -> float:
    """ECE (Guo et al., 2017): Σ_b (n_b / N) · |accuracy_b − confidence_b| over equal-width
    confidence bins. 0 = perfectly calibrated."""
    rows = calibration_bins(probs, labels, n_bins)
    n = sum(r["count"] for r in rows)
    return float(sum(r["count"] / n * abs(r["accuracy"] - r["confidence"]) for r in rows)) if n else 0.0


def reliability_figure(probs: np.ndarray, labels: Sequence[int], n_bins: int = 10, title: str | None = None):
    """Reliability diagram: accuracy per confidence bin (bars, with counts) against the diagonal of
    perfect calibration; the title carries the ECE."""
    import plotly.graph_objects as go
    rows = calibration_bins(probs, labels, n_bins)
    ece = expected_calibration_error(probs, labels, n_bins)
    centers = [(r["low"] + r["high"]) / 2 for r in rows]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=centers, y=[r["accuracy"] for r in rows], width=1 / n_bins * 0.9, name="accuracy",
                         text=[f"n={r['count']}" for r in rows], textposition="outside"))
    fig.add_trace(go.Scatter(x=centers, y=[r["confidence"] for r in rows], mode="markers", name="mean confidence",
                             marker=dict(symbol="x", size=9)))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect calibration",
                             line=dict(dash="dash", color="grey")))
    fig.update_layout(title=title or f"Reliability diagram (ECE = {ece:.3f})", xaxis_title="confidence (top probability)",
                      yaxis_title="accuracy", template="plotly_white", height=360,
                      xaxis=dict(range=[0, 1]), yaxis=dict(range=[0, 1.1]), margin=dict(l=50, r=20, t=50, b=40))
    return fig


def most_confident_mistakes(texts: Sequence[str], labels: Sequence[int], probs: np.ndarray, k: int = 10,
                            label_names: Sequence[str] | None = None):
    """The ``k`` wrong predictions the model was surest of, as a pandas DataFrame
    (text, true, predicted, confidence), most confident first."""
    import pandas as pd
    probs = np.asarray(probs)
    labels = np.asarray(labels)
    preds = probs.argmax(1)
    conf = probs.max(1)
    wrong = np.flatnonzero(preds != labels)
    order = wrong[np.argsort(-conf[wrong], kind="stable")][:k]
    name = (lambda i: label_names[i]) if label_names is not None else (lambda i: int(i))
    return pd.DataFrame({"text": [texts[i] for i in order], "true": [name(labels[i]) for i in order],
                         "predicted": [name(preds[i]) for i in order],
                         "confidence": [round(float(conf[i]), 3) for i in order]})


# ----------------------------------------------------------------------------- baselines, diagnostics
def tfidf_baseline(train, test, analyzer: str = "word", ngram_range: tuple[int, int] = (1, 2),
                   C: float = 4.0, max_features: int | None = 100_000, text_column: str = "text",
                   label_column: str = "label") -> dict:
    """TF-IDF features + logistic regression (scikit-learn), fitted on ``train``, scored on ``test``.

    ``analyzer="char"`` gives character n-grams (for Chinese, which has no spaces). Returns
    ``{"accuracy", "f1" (macro), "seconds", "probs", "pipeline"}``.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from . import metrics
    if analyzer not in ("word", "char", "char_wb"):
        raise FinetuneError(f"analyzer must be 'word', 'char' or 'char_wb', not {analyzer!r}.")
    t0 = time.perf_counter()
    pipe = make_pipeline(TfidfVectorizer(analyzer=analyzer, ngram_range=tuple(ngram_range), sublinear_tf=True,
                                         max_features=max_features, min_df=1),
                         LogisticRegression(C=C, max_iter=2000))
    pipe.fit(list(train[text_column]), list(train[label_column]))
    probs = pipe.predict_proba(list(test[text_column]))
    preds = pipe.classes_[probs.argmax(1)]
    res = metrics.compute_classification(preds, list(test[label_column]), average="macro")
    return {"accuracy": float(res["accuracy"]), "f1": float(res["f1"]), "seconds": time.perf_counter() - t0,
            "probs": probs, "pipeline": pipe}


def unk_rate(tokenizer, texts: Iterable[str]) -> dict:
    """How much of ``texts`` the tokenizer maps to its unknown token: ``{"unk_rate"`` (fraction of
    tokens, special tokens excluded), ``"texts_with_unk"`` (fraction of texts with at least one),
    ``"tokens_per_text"``, ``"examples"`` (a few input characters that became [UNK])}."""
    unk = tokenizer.unk_token_id
    if unk is None:
        raise FinetuneError("This tokenizer has no unknown token (byte-level tokenizers never need one).")
    n_tok = n_unk = n_texts = with_unk = 0
    seen: dict[str, int] = {}
    for text in texts:
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids = enc["input_ids"]
        n_texts += 1
        n_tok += len(ids)
        hits = [i for i, t in enumerate(ids) if t == unk]
        n_unk += len(hits)
        with_unk += bool(hits)
        for i in hits[:3]:
            a, b = enc["offset_mapping"][i]
            seen[text[a:b]] = seen.get(text[a:b], 0) + 1
    common = sorted(seen, key=lambda s: -seen[s])[:10]
    return {"unk_rate": n_unk / max(n_tok, 1), "texts_with_unk": with_unk / max(n_texts, 1),
            "tokens_per_text": n_tok / max(n_texts, 1), "examples": common}


# ----------------------------------------------------------------------------- deploy
def save_classifier(model, tokenizer, path: str | Path) -> Path:
    """``save_pretrained`` of model (safetensors) and tokenizer into ``path`` (created)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def classification_pipeline(path_or_model, tokenizer=None, device: Any = None):
    """A transformers ``pipeline("text-classification")`` returning every label's score
    (``top_k=None``), from a saved directory or a model + tokenizer."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline
    if isinstance(path_or_model, (str, Path)):
        model = AutoModelForSequenceClassification.from_pretrained(path_or_model)
        tokenizer = tokenizer or AutoTokenizer.from_pretrained(path_or_model)
    else:
        model = path_or_model
        if tokenizer is None:
            raise FinetuneError("Pass the tokenizer with the model, or a saved directory.")
    if device is None:
        device = next(model.parameters()).device
    return pipeline("text-classification", model=model, tokenizer=tokenizer, top_k=None, device=device)


def prediction_figure(model, tokenizer, text: str, max_length: int = 128):
    """One sentence → a bar chart of the class probabilities, titled with the predicted label
    (the pure function behind notebook 06's widget)."""
    import plotly.graph_objects as go
    text = (text or "").strip()
    if not text:
        raise FinetuneError("Type a sentence first.")
    probs = predict_proba(model, tokenizer, [text], max_length=max_length)[0]
    names = _label_names(model, len(probs))
    best = int(probs.argmax())
    fig = go.Figure(go.Bar(x=[float(p) for p in probs], y=names, orientation="h",
                           text=[f"{p:.1%}" for p in probs], textposition="auto",
                           marker_color=["#2a9d8f" if i == best else "#b0b0b0" for i in range(len(probs))]))
    short = text if len(text) <= 70 else text[:67] + "…"
    fig.update_layout(title=f"{names[best]} ({probs[best]:.1%}) · “{short}”", xaxis=dict(range=[0, 1]),
                      xaxis_title="probability", template="plotly_white", height=220,
                      margin=dict(l=90, r=20, t=50, b=40))
    return fig


def history_figure(histories: dict[str, dict], metric: str = "train_loss", title: str | None = None):
    """Curves of several :func:`train_classifier` histories: ``metric`` is ``train_loss`` (per
    step, smoothed over 5 steps) or ``val_accuracy`` / ``val_loss`` / ``val_f1`` (per evaluation)."""
    from .plots import loss_curve_figure
    series = {}
    for name, h in histories.items():
        if metric == "train_loss":
            ys = np.asarray(h["train_loss"], dtype=float)
            w = min(5, len(ys)) or 1
            smooth = np.convolve(ys, np.ones(w) / w, mode="valid") if len(ys) >= w else ys
            series[name] = (list(h["step"][w - 1:]) if len(ys) >= w else list(h["step"]), list(smooth))
        else:
            series[name] = (list(h["eval_step"]), list(h[metric]))
    return loss_curve_figure(series, title=title or metric.replace("_", " "), xlabel="optimizer step",
                             ylabel=metric.replace("_", " "))
