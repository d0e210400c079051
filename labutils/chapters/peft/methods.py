"""Notebook 08, the parameter-efficient methods side by side on MiniLM / ``sentiment_en``.

:func:`build_method` turns a fresh copy of the classifier into one method's model (``peft`` configs for LoRA,
AdaLoRA, IA³, prompt and prefix tuning; the by-hand Houlsby adapter and BitFit from
:mod:`labutils.chapters.peft.adapters`); :func:`train_method` is the one training routine every method runs
(same data order, same number of steps, AdamW + warm-up/linear decay from :mod:`labutils.train`);
:func:`measure` adds the figures of the method table (parameters, accuracy, time per step, memory, disk).
"""
from __future__ import annotations

import copy
import os
import tempfile
import time
from typing import Any, Callable

import numpy as np
import torch

from labutils.core.errors import PeftError
from labutils.core.history import History
from labutils.train.grouping import length_grouped_batches  # noqa: F401 (re-exported)
from labutils.train.optim import param_groups
from labutils.train.params import count_parameters
from labutils.train.schedules import make_scheduler

METHODS = ("full", "head", "lora", "adalora", "ia3", "prompt", "prefix", "adapter", "bitfit")
LABELS = {"full": "full fine-tuning", "head": "head only", "lora": "LoRA", "adalora": "AdaLoRA", "ia3": "IA³",
          "prompt": "prompt tuning", "prefix": "prefix tuning (P-tuning v2)", "adapter": "adapter (Houlsby)",
          "bitfit": "BitFit"}
# IA³ (Liu et al. 2022) rescales keys, values and the input of the second feed-forward layer
_IA3_TARGETS = r".*layer\.\d+\.(attention\.self\.(key|value)|output\.dense)$"
_IA3_FF = r".*layer\.\d+\.output\.dense$"


def build_method(name: str, base, *, r: int = 8, alpha: float | None = None, dropout: float = 0.0,
                 targets=("query", "value"), virtual_tokens: int = 20, init_text: str | None = None,
                 tokenizer_path: str | None = None, bottleneck: int = 64, total_steps: int = 100):
    """A fresh copy of ``base`` (a BERT-style ``*ForSequenceClassification``) set up for method ``name``.

    ``full``/``head``/``bitfit``/``adapter`` change ``requires_grad`` (and insert adapters); the others wrap
    the copy in a ``peft`` model (its task head trains too: ``modules_to_save``). ``alpha`` defaults to
    ``2r``; ``init_text`` initialises prompt tuning from the embeddings of those words (needs
    ``tokenizer_path``); ``total_steps`` is AdaLoRA's budget schedule length.
    """
    from labutils.chapters.peft.adapters import add_houlsby_adapters, bitfit
    from labutils.train.freezing import freeze_encoder
    if name not in METHODS:
        raise PeftError(f"Unknown method {name!r}; choose one of {', '.join(METHODS)}.")
    model = copy.deepcopy(base)
    alpha = 2 * r if alpha is None else alpha
    if name == "full":
        model.requires_grad_(True)
        return model
    if name == "head":
        freeze_encoder(model)
        return model
    if name == "bitfit":
        bitfit(model)
        return model
    if name == "adapter":
        add_houlsby_adapters(model, bottleneck=bottleneck)
        return model
    import peft
    T = peft.TaskType.SEQ_CLS
    if name == "lora":
        cfg = peft.LoraConfig(task_type=T, r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=list(targets))
    elif name == "adalora":
        cfg = peft.AdaLoraConfig(task_type=T, init_r=int(r * 1.5), target_r=r, lora_alpha=alpha,
                                 lora_dropout=dropout, target_modules=list(targets), total_step=total_steps,
                                 tinit=max(1, total_steps // 10), tfinal=max(1, total_steps // 5),
                                 deltaT=max(1, total_steps // 20))
    elif name == "ia3":
        cfg = peft.IA3Config(task_type=T, target_modules=_IA3_TARGETS, feedforward_modules=_IA3_FF)
    elif name == "prompt":
        if init_text:
            if not tokenizer_path:
                raise PeftError("Prompt tuning from text needs tokenizer_path (the encoder's directory).")
            cfg = peft.PromptTuningConfig(task_type=T, num_virtual_tokens=virtual_tokens,
                                          prompt_tuning_init=peft.PromptTuningInit.TEXT,
                                          prompt_tuning_init_text=init_text, tokenizer_name_or_path=str(tokenizer_path))
        else:
            cfg = peft.PromptTuningConfig(task_type=T, num_virtual_tokens=virtual_tokens)
    else:  # prefix tuning with a prefix per layer and no reparametrisation: P-tuning v2 (Liu et al. 2022)
        cfg = peft.PrefixTuningConfig(task_type=T, num_virtual_tokens=virtual_tokens, prefix_projection=False)
    torch.manual_seed(0)
    return peft.get_peft_model(model, cfg)


# ----------------------------------------------------------------------------- the one training routine
def _is_head(name: str) -> bool:
    return "classifier" in name


def train_method(model, train_ds, *, steps: int, lr: float, batch_size: int = 16, head_lr: float | None = None,
                 weight_decay: float = 0.01, warmup_ratio: float = 0.1, seed: int = 0, max_grad_norm: float = 1.0,
                 on_step: Callable[[Any, int], None] | None = None, progress: bool = True, desc: str = "training",
                 device: Any = None) -> History:
    """Train whatever ``requires_grad`` for ``steps`` AdamW steps on ``train_ds`` (tokenized, with ``labels``).

    The loss is the model's own (``model(**batch, labels=...)``: cross-entropy, plus AdaLoRA's orthogonality
    term). Length-grouped, seeded batches (the same for every method), warm-up then linear decay
    (``train.schedules``), decay on matrices only (``train.optim.param_groups``); the head can take its own
    ``head_lr``. ``on_step(model, step)`` runs after each backward pass, before the update (AdaLoRA's
    rank allocation). Returns a :class:`History` with ``seconds_per_step`` (the median step).
    """
    from labutils.chapters.finetune import pad_collate
    from labutils.core.env import device as pick_device
    from labutils.core.env import seed_everything
    from labutils.core.progress import tqdm
    if steps < 1 or batch_size < 1:
        raise PeftError("steps and batch_size must be at least 1.")
    seed_everything(seed)
    dev = torch.device(pick_device() if device is None else device)
    model.to(dev).train()
    groups = []
    for g in param_groups(model, weight_decay):
        for is_head in (False, True):
            ps = [p for n, p in model.named_parameters() if p.requires_grad and _is_head(n) == is_head
                  and any(p is q for q in g["params"])]
            if ps:
                groups.append({"params": ps, "weight_decay": g["weight_decay"],
                               "lr": head_lr if (is_head and head_lr is not None) else lr})
    if not groups:
        raise PeftError("Nothing is trainable; the method set requires_grad on no parameter.")
    opt = torch.optim.AdamW(groups, lr=lr, fused=dev.type in ("cpu", "cuda"))   # one kernel per update, as Trainer
    sched = make_scheduler(opt, "linear", steps, int(round(warmup_ratio * steps)))
    cols = [c for c in ("input_ids", "attention_mask", "token_type_ids", "labels") if c in train_ds.column_names]
    rows = train_ds.select_columns(cols).with_format(None)
    lengths = [len(x) for x in rows["input_ids"]]
    collate = pad_collate(int(getattr(model.config, "pad_token_id", 0) or 0))
    hist = History(seconds=[])
    trainable = [p for p in model.parameters() if p.requires_grad]
    bar = tqdm(total=steps, desc=desc, disable=not progress, leave=False)
    step, epoch = 0, 0
    while step < steps:
        for idx in length_grouped_batches(lengths, batch_size, seed + epoch):
            t0 = time.perf_counter()
            batch = {k: v.to(dev) for k, v in collate([rows[i] for i in idx]).items()}
            loss = model(**batch).loss
            loss.backward()
            if on_step is not None:
                on_step(model, step)
            if max_grad_norm:
                torch.nn.utils.clip_grad_norm_(trainable, max_grad_norm)
            opt.step()
            opt.zero_grad(set_to_none=True)
            hist["lr"].append(float(sched.get_last_lr()[0]))
            sched.step()
            hist["step"].append(step)
            hist["train_loss"].append(float(loss.detach()))
            hist["seconds"].append(time.perf_counter() - t0)
            step += 1
            bar.update(1)
            if step >= steps:
                break
        epoch += 1
    bar.close()
    model.eval()
    hist.update(steps=step, seconds_per_step=float(np.median(hist["seconds"])),
                train_seconds=float(sum(hist["seconds"])), trainable=count_parameters(model, trainable_only=True))
    return hist.check()


def adalora_hook(model, step: int) -> None:
    """AdaLoRA's budget step: prune the least important singular values (call after backward)."""
    model.base_model.update_and_allocate(step)


# ----------------------------------------------------------------------------- the table's figures
def training_memory_bytes(model, batch: dict) -> dict:
    """What one training step holds in memory: every weight, a gradient and two AdamW moments per trainable
    parameter, and the activations autograd saves for backward on ``batch`` (measured with
    ``saved_tensors_hooks``). On a GPU, ``peak_cuda`` is the allocator's measured peak."""
    from labutils.chapters.batching import saved_activation_bytes
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    trainable = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    dev = next(model.parameters()).device
    batch = {k: v.to(dev) for k, v in batch.items()}
    model.train()
    acts = saved_activation_bytes(model, batch)
    model.eval()
    out = {"weights": weights, "grads_and_adam": 3 * trainable, "activations": acts,
           "total": weights + 3 * trainable + acts}
    if dev.type == "cuda":
        out["peak_cuda"] = int(torch.cuda.max_memory_allocated(dev))
    return out


def trainable_file_bytes(model) -> int:
    """Size on disk of what a method must store: its trainable tensors as safetensors (all weights for full
    fine-tuning; for peft models the same tensors ``save_pretrained`` writes)."""
    from safetensors.torch import save_file
    tensors = {n: p.detach().contiguous().cpu() for n, p in model.named_parameters() if p.requires_grad}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "trainable.safetensors")
        save_file(tensors, path)
        return os.path.getsize(path)


def measure(name: str, model, hist: History, enc, *, total_params: int, probe_batch: dict,
            label: str | None = None) -> dict:
    """One row of the method table: trainable parameters (count and % of the base model), validation and
    test accuracy, median seconds per step, training memory (MB), stored size (MB)."""
    from labutils.chapters.finetune import evaluate_classifier
    val = evaluate_classifier(model, enc["validation"], details=False)
    test = evaluate_classifier(model, enc["test"], details=False)
    mem = training_memory_bytes(model, probe_batch)
    trainable = hist["trainable"]
    return {"method": label or LABELS.get(name, name), "trainable": int(trainable),
            "trainable_pct": 100.0 * trainable / total_params, "val_acc": val["accuracy"], "test_acc": test["accuracy"],
            "s_per_step": hist["seconds_per_step"], "memory_mb": mem["total"] / 2**20,
            "activation_mb": mem["activations"] / 2**20, "disk_mb": trainable_file_bytes(model) / 2**20,
            "steps": hist["steps"]}


def run_methods(specs: dict, base, enc, *, steps: int, batch_size: int, probe_batch: dict,
                tokenizer_path: str | None = None, keep: tuple[str, ...] = (), progress: bool = True):
    """Build, train and measure every method of ``specs`` (``{row label: {"method": name, "lr": …,
    "head_lr": …, **build_method kwargs}}``) with the same data, steps and batch size. Returns
    ``(rows, models, histories)``; only the models named in ``keep`` are kept (memory)."""
    from labutils.core.progress import tqdm
    total = count_parameters(base)
    rows, models, hists = [], {}, {}
    for label, spec in tqdm(list(specs.items()), desc="methods", disable=not progress):
        spec = dict(spec)
        name, lr, head_lr = spec.pop("method"), spec.pop("lr"), spec.pop("head_lr", None)
        if spec.get("init_text"):
            spec.setdefault("tokenizer_path", tokenizer_path)
        model = build_method(name, base, total_steps=steps, **spec)
        hist = train_method(model, enc["train"], steps=steps, lr=lr, head_lr=head_lr, batch_size=batch_size,
                            on_step=adalora_hook if name == "adalora" else None, progress=False, desc=label)
        row = measure(name, model, hist, enc, total_params=total, probe_batch=probe_batch, label=label)
        row["lr"] = lr
        rows.append(row)
        hists[label] = hist
        if label in keep:
            models[label] = model
        else:
            del model
    return rows, models, hists


def methods_figure(table, majority_acc: float | None = None):
    """Test accuracy against the share of trainable parameters (log scale), one point per method, with the
    majority baseline and full fine-tuning as lines; the marker size grows with the seconds per step."""
    import plotly.graph_objects as go
    fig = go.Figure()
    pct = [max(float(v), 1e-4) for v in table["trainable_pct"]]
    fig.add_trace(go.Scatter(x=pct, y=list(table["test_acc"]), mode="markers+text", text=list(table.index),
                             textposition="top center", textfont=dict(size=10), name="method",
                             marker=dict(size=[8 + 40 * float(s) for s in table["s_per_step"]], opacity=0.7),
                             customdata=list(zip(table["s_per_step"], table["memory_mb"], table["disk_mb"])),
                             hovertemplate="%{text}<br>%{x:.3f} %% trainable<br>test %{y:.3f}<br>"
                                           "%{customdata[0]:.3f} s/step · %{customdata[1]:.0f} MB · "
                                           "%{customdata[2]:.3f} MB on disk<extra></extra>"))
    if majority_acc is not None:
        fig.add_hline(y=majority_acc, line_dash="dot", annotation_text="majority baseline")
    if "full fine-tuning" in table.index:
        fig.add_hline(y=float(table.loc["full fine-tuning", "test_acc"]), line_dash="dash",
                      annotation_text="full fine-tuning")
    fig.update_xaxes(type="log", title_text="trainable parameters (% of MiniLM, log scale)")
    fig.update_yaxes(title_text="test accuracy")
    fig.update_layout(title="Accuracy against trainable share (marker size: seconds per step)", height=450,
                      showlegend=False, margin=dict(t=50, l=50, r=20, b=50))
    return fig
