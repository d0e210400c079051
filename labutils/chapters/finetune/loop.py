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
from typing import Any, Callable, Sequence

import numpy as np

from labutils.core.errors import FinetuneError  # noqa: F401 (re-exported)
from labutils.core.history import History
from labutils.train.freezing import encoder_layers, gradual_schedule, trainable_parameters, unfreeze_top_k
from labutils.train.grouping import length_grouped_batches
from labutils.train.optim import param_groups
from labutils.train.schedules import SCHEDULES, make_scheduler


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


class _GroupedSampler:
    """Length-grouped batches, re-drawn with a new seed every epoch (see :func:`length_grouped_batches`)."""

    def __init__(self, lengths, batch_size: int, seed: int):
        self.lengths, self.batch_size, self.seed, self.epoch = list(lengths), batch_size, seed, 0

    def __iter__(self):
        batches = length_grouped_batches(self.lengths, self.batch_size, self.seed + self.epoch)
        self.epoch += 1
        return iter(batches)

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)


def _loader(ds, batch_size: int, shuffle: bool, seed: int, pad_token_id: int, group_by_length: bool = False):
    import torch
    if "input_ids" not in ds.column_names:
        raise FinetuneError("The data set is not tokenized; call tokenize_dataset(ds, tokenizer, max_length) first.")
    cols = [c for c in _MODEL_COLUMNS if c in ds.column_names]
    data = ds.select_columns(cols).with_format(None)
    if shuffle and group_by_length:
        sampler = _GroupedSampler([len(ids) for ids in ds["input_ids"]], batch_size, seed)
        return torch.utils.data.DataLoader(data, batch_sampler=sampler, collate_fn=pad_collate(pad_token_id))
    gen = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=shuffle, generator=gen,
                                       collate_fn=pad_collate(pad_token_id))


def _pad_id(model) -> int:
    pid = getattr(model.config, "pad_token_id", None)
    return 0 if pid is None else int(pid)


# ----------------------------------------------------------------------------- 3.–4. training
def train_classifier(model, train_ds, val_ds=None, *, epochs: float = 1, lr: float = 5e-5,
                     batch_size: int = 16, weight_decay: float = 0.01, warmup_ratio: float = 0.1,
                     schedule: str = "linear", grad_accum: int = 1, layer_lr_decay: float | None = None,
                     head_lr: float | None = None, unfreeze: Any = None, class_weights: Sequence[float] | None = None,
                     max_steps: int | None = None, eval_every: int | None = None, keep_best: bool = False,
                     patience: int | None = None, seed: int = 0, progress: bool = True,
                     eval_batch_size: int = 64, device: Any = None, amp: bool | None = None,
                     on_eval: Callable[[dict], None] | None = None, max_grad_norm: float | None = 1.0,
                     group_by_length: bool = False) -> dict:
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
    ``group_by_length`` batches sentences of similar length together (less padding, the same examples in
    another order: on short sentences a CPU epoch gets noticeably faster; ``Trainer``'s option of that name).

    Returns a :class:`~labutils.core.history.History`: ``{"step", "train_loss", "lr", "eval_step", "val_loss", "val_accuracy", "val_f1",
    "trainable", "best_step", "best_val_accuracy", "stopped_early", "steps", "examples", "seconds"}``
    (lists of plain floats and ints, ready for ``lu.record`` or a plot).
    """
    import torch

    from labutils.core.progress import tqdm

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
    from labutils.core.env import device as pick_device
    from labutils.core.env import seed_everything
    seed_everything(seed)
    dev = torch.device(pick_device() if device is None else device)
    model.to(dev)
    use_amp = (dev.type == "cuda") if amp is None else bool(amp and dev.type == "cuda")
    amp_dtype = torch.bfloat16 if (use_amp and torch.cuda.is_bf16_supported()) else torch.float16

    n_layers = len(encoder_layers(model))
    stages = _stages(unfreeze, n_layers)
    loader = _loader(train_ds, batch_size, True, seed, _pad_id(model), group_by_length)
    per_epoch = max(1, len(loader) // grad_accum)
    total = int(max_steps) if max_steps else max(1, int(math.ceil(epochs * per_epoch)))
    if eval_every is None:
        eval_every = per_epoch
    if stages is not None:  # every parameter that trains in some stage goes into the optimizer
        model.requires_grad_(True)
    # fused=True: one kernel for the whole update (what Trainer's default "adamw_torch_fused" uses); on 2 CPU
    # cores it saves about a tenth of a second per step of MiniLM's 22.7M parameters
    opt = torch.optim.AdamW(param_groups(model, weight_decay, lr=lr, layer_lr_decay=layer_lr_decay, head_lr=head_lr),
                            lr=lr, fused=dev.type in ("cpu", "cuda"))
    if stages is None:  # frozen parameters must not take AdamW's weight-decay steps
        _drop_frozen(opt)
    sched = make_scheduler(opt, schedule, total, int(round(warmup_ratio * total)))
    weight = None if class_weights is None else torch.tensor(list(class_weights), dtype=torch.float32, device=dev)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)

    hist = History(val_accuracy=[], val_f1=[], trainable=[])
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
            hist["step"].append(step)                 # 0-based, as every History
            hist["train_loss"].append(accum_loss)
            step += 1
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
    return hist.check()


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
    from labutils.eval import metrics
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
        from labutils.eval import metrics
        _PRF = metrics.load("precision_recall_f1")
    return _PRF
