"""Notebook 08, LoRA on causal LMs: a small course GPT (GPT-2 ``Conv1D``: ``fan_in_fan_out=True``) and the
chat LM SmolLM2-135M-Instruct (Llama ``q_proj``/``v_proj``), adapted to a new domain with the course's
pretraining loop (:func:`labutils.train.lm.pretrain_gpt`, which trains whatever ``requires_grad``)."""
from __future__ import annotations

import torch

from labutils.core.errors import PeftError


def dialogue_text(split: str = "train", lang: str = "en", max_chars: int | None = None) -> str:
    """The ``dialogue`` data set as plain text: ``"Q: …\\nA: …\\n\\n"`` per turn pair, one language."""
    from labutils.data.registry import load
    ds = load("dialogue")[split]
    text = "".join(f"Q: {r['prompt']}\nA: {r['response']}\n\n" for r in ds if r["lang"] == lang)
    return text if max_chars is None else text[:max_chars]


def quick_gpt(pretrain_text: str, val_text: str, extra_text: str = "", *, size: str = "nano", steps: int = 300,
              block_size: int = 64, batch_size: int = 24, lr: float = 8e-3, seed: int = 0, progress: bool = True):
    """A small GPT-2 (course sizes, :func:`labutils.models.configs.tiny_gpt_config`) pretrained on
    ``pretrain_text`` with the notebook-04 loop, so notebook 08 does not depend on notebook 04 having run.

    The character tokenizer covers ``pretrain_text`` and ``extra_text`` (the text we adapt to later), so
    the new domain needs no new tokens; the model has only seen ``pretrain_text``. Returns
    ``(model, tokenizer, history)``.
    """
    from labutils.models.course_gpt import pretrain_char_gpt
    return pretrain_char_gpt(pretrain_text, val_text, [extra_text], size=size, steps=steps, block_size=block_size,
                             batch_size=batch_size, lr=lr, seed=seed, progress=progress,
                             title="pretraining a small GPT")


def lora_config_for(model, r: int = 8, alpha: float | None = None, dropout: float = 0.0):
    """A ``peft.LoraConfig`` for a causal LM: GPT-2's fused ``c_attn`` (a ``Conv1D``, whose weight is stored
    in × out, hence ``fan_in_fan_out=True``) or Llama's ``q_proj``/``v_proj`` (``nn.Linear``)."""
    import peft
    names = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
    alpha = 2 * r if alpha is None else alpha
    if "c_attn" in names:
        return peft.LoraConfig(task_type=peft.TaskType.CAUSAL_LM, r=r, lora_alpha=alpha, lora_dropout=dropout,
                               target_modules=["c_attn"], fan_in_fan_out=True)
    if {"q_proj", "v_proj"} <= names:
        return peft.LoraConfig(task_type=peft.TaskType.CAUSAL_LM, r=r, lora_alpha=alpha, lora_dropout=dropout,
                               target_modules=["q_proj", "v_proj"])
    raise PeftError(f"No c_attn (GPT-2) or q_proj/v_proj (Llama) in {type(model).__name__}; pass target_modules yourself.")


def adapt_lm(peft_model, train_ids, val_ids, *, steps: int, block_size: int, batch_size: int, lr: float = 2e-3,
             eval_blocks: int = 16, progress: bool = True, seed: int = 0) -> dict:
    """LoRA-train ``peft_model`` on ``train_ids`` with :func:`~labutils.train.lm.pretrain_gpt`; returns its
    history plus ``val_loss_before`` (same windows, adapter as initialised, i.e. the base model)."""
    from labutils.train.lm import estimate_loss, pretrain_gpt
    before = estimate_loss(peft_model, val_ids, block_size, batch_size=batch_size, max_blocks=eval_blocks)
    hist = pretrain_gpt(peft_model, train_ids, val_ids, steps=steps, batch_size=batch_size, block_size=block_size,
                        lr=lr, warmup=max(1, steps // 10), weight_decay=0.0, eval_every=max(1, steps // 2),
                        eval_blocks=eval_blocks, live_plot=False, progress=progress, title="LoRA", seed=seed)
    hist["val_loss_before"] = before
    return hist


@torch.no_grad()
def continue_text(model, tokenizer, prompt: str, max_new_tokens: int = 40) -> str:
    """Greedy continuation of ``prompt`` (raw text, no chat template), at most up to the model's context; only
    the new text."""
    enc = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    dev = next(model.parameters()).device
    enc = {k: v.to(dev) for k, v in enc.items() if k in ("input_ids", "attention_mask")}
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    from labutils.train.lm import model_context
    room = model_context(model) - enc["input_ids"].shape[1]
    if room < 1:
        raise PeftError(f"The prompt has {enc['input_ids'].shape[1]} tokens and fills the model's context; shorten it.")
    out = model.generate(**enc, max_new_tokens=min(max_new_tokens, room), do_sample=False, pad_token_id=pad)
    return tokenizer.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)
