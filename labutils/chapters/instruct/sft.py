"""Notebook 09, supervised fine-tuning (SFT, 监督微调) on ``instructions``: examples tokenized with the loss masked
on the prompt (labels −100) by hand, padding vs packing, a small training loop, and the same loss computed by
TRL's ``SFTTrainer`` (``completion_only_loss=True``) on the same batch."""
from __future__ import annotations

import math
import time
from typing import Sequence

import torch

from labutils.core.errors import InstructError
from labutils.core.history import History

IGNORE = -100


def sft_pair(tokenizer, row: dict, system: str | None = None) -> dict:
    """``{"prompt", "completion"}`` strings of one ``instructions`` example: the prompt is the chat template with
    the generation prompt, the completion is the answer and the end-of-turn token."""
    from labutils.chapters.instruct.prompts import instruction_messages
    msgs = instruction_messages(row, system=system)
    prompt = tokenizer.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    return {"prompt": prompt, "completion": row["output"] + tokenizer.eos_token}


def tokenize_sft(tokenizer, pair: dict, max_length: int | None = None) -> dict:
    """Token ids of prompt + completion and labels equal to them on the completion, −100 on the prompt."""
    prompt_ids = tokenizer(pair["prompt"], add_special_tokens=False)["input_ids"]
    ids = tokenizer(pair["prompt"] + pair["completion"], add_special_tokens=False)["input_ids"]
    n = 0
    while n < min(len(prompt_ids), len(ids)) and prompt_ids[n] == ids[n]:
        n += 1                      # where the two tokenizations diverge (as TRL does); normally len(prompt_ids)
    labels = [IGNORE] * n + ids[n:]
    if max_length is not None:
        ids, labels = ids[:max_length], labels[:max_length]
    return {"input_ids": ids, "labels": labels}


def pad_batch(examples: Sequence[dict], pad_id: int) -> dict:
    """Right-pad a list of tokenized examples: ``input_ids``, ``attention_mask``, ``labels`` (−100 on pads)."""
    width = max(len(e["input_ids"]) for e in examples)
    ids = [e["input_ids"] + [pad_id] * (width - len(e["input_ids"])) for e in examples]
    mask = [[1] * len(e["input_ids"]) + [0] * (width - len(e["input_ids"])) for e in examples]
    labels = [e["labels"] + [IGNORE] * (width - len(e["labels"])) for e in examples]
    return {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask), "labels": torch.tensor(labels)}


def pack_examples(examples: Sequence[dict], block_size: int) -> list[dict]:
    """Packing (打包): concatenate examples and cut the stream into full blocks of ``block_size`` tokens.

    No padding at all; the price is that an example can attend to the end of the previous one inside a block
    (libraries avoid it with per-example position ids and masks; TRL's ``padding_free``).
    """
    ids: list[int] = []
    labels: list[int] = []
    for e in examples:
        ids += e["input_ids"]
        labels += e["labels"]
    n = len(ids) // block_size
    if n == 0:
        raise InstructError(f"Not enough tokens ({len(ids)}) for one packed block of {block_size}.")
    return [{"input_ids": ids[i * block_size:(i + 1) * block_size],
             "labels": labels[i * block_size:(i + 1) * block_size]} for i in range(n)]


def masked_lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy, by hand: shift by one, −log p of each label token, mean over tokens ≠ −100."""
    logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    target = labels[:, 1:]
    keep = target != IGNORE
    nll = -logp.gather(-1, target.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (nll * keep).sum() / keep.sum().clamp(min=1)


def batch_loss(model, batch: dict) -> torch.Tensor:
    """:func:`masked_lm_loss` of a model on a batch from :func:`pad_batch` (or packed blocks)."""
    dev = next(model.parameters()).device
    kw = {"attention_mask": batch["attention_mask"].to(dev)} if "attention_mask" in batch else {}
    logits = model(input_ids=batch["input_ids"].to(dev), **kw).logits
    return masked_lm_loss(logits, batch["labels"].to(dev))


def train_sft(model, examples: Sequence[dict], pad_id: int, steps: int, batch_size: int = 16, lr: float = 1e-3,
              weight_decay: float = 0.0, seed: int = 0, packing_block: int | None = None,
              progress: bool = True, desc: str = "SFT") -> History:
    """A short SFT loop: AdamW on the trainable parameters, linear decay, random batches (seeded).

    ``packing_block`` trains on packed blocks instead of padded batches. Returns a History with
    ``train_loss`` per step, ``seconds`` and ``tokens_per_second`` (real tokens, pads not counted).
    """
    from labutils.core.progress import tqdm
    if steps < 1 or batch_size < 1:
        raise InstructError("steps and batch_size must be at least 1.")
    data = pack_examples(examples, packing_block) if packing_block else list(examples)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1 - s / steps)
    gen = torch.Generator().manual_seed(seed)
    hist = History()
    model.train()
    tokens, t0 = 0, time.perf_counter()
    for step in tqdm(range(steps), desc=desc, disable=not progress, mininterval=1.0):
        idx = torch.randint(len(data), (batch_size,), generator=gen).tolist()
        chunk = [data[i] for i in idx]
        batch = ({"input_ids": torch.tensor([c["input_ids"] for c in chunk]),
                  "labels": torch.tensor([c["labels"] for c in chunk])} if packing_block else pad_batch(chunk, pad_id))
        loss = batch_loss(model, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        hist.log(step, loss.item(), sched.get_last_lr()[0])
        sched.step()
        tokens += int(batch["attention_mask"].sum()) if "attention_mask" in batch else batch["input_ids"].numel()
    seconds = time.perf_counter() - t0
    model.eval()
    hist.update(seconds=seconds, tokens=tokens, tokens_per_second=tokens / seconds)
    return hist


def padding_waste(examples: Sequence[dict], batch_size: int) -> float:
    """The fraction of pad tokens when ``examples`` are batched in order, ``batch_size`` at a time."""
    total = real = 0
    for s in range(0, len(examples), batch_size):
        lens = [len(e["input_ids"]) for e in examples[s:s + batch_size]]
        total += max(lens) * len(lens)
        real += sum(lens)
    return 1 - real / total


def trl_sft_batch_loss(model, tokenizer, pairs: Sequence[dict], output_dir, max_length: int = 256) -> dict:
    """Let TRL's ``SFTTrainer`` (completion-only loss) prepare and collate ``pairs`` and compute its loss on that
    batch; return the batch, TRL's loss and our :func:`batch_loss` on the same batch (model in eval mode)."""
    import datasets
    from trl import SFTConfig, SFTTrainer

    cfg = SFTConfig(output_dir=str(output_dir), completion_only_loss=True, max_length=max_length,
                    per_device_train_batch_size=len(pairs), report_to=[], logging_strategy="no",
                    save_strategy="no", use_cpu=True, dataset_num_proc=None, disable_tqdm=True, seed=0)
    ds = datasets.Dataset.from_list([{"prompt": p["prompt"], "completion": p["completion"]} for p in pairs])
    trainer = SFTTrainer(model=model, args=cfg, train_dataset=ds, processing_class=tokenizer)
    rows = [trainer.train_dataset[i] for i in range(len(pairs))]
    batch = trainer.data_collator(rows)
    model.eval()
    with torch.no_grad():
        trl_loss = float(trainer.compute_loss(model, {k: v for k, v in batch.items()}))
        ours = float(batch_loss(model, {k: batch[k] for k in ("input_ids", "attention_mask", "labels")}))
    mine = pad_batch([tokenize_sft(tokenizer, p, max_length) for p in pairs], tokenizer.pad_token_id)
    return {"batch": batch, "trl_loss": trl_loss, "our_loss": ours, "abs_diff": abs(trl_loss - ours),
            "same_labels": bool(torch.equal(mine["labels"], batch["labels"]))}


def perplexity(loss: float) -> float:
    """exp(loss), guarded against overflow."""
    return math.exp(min(loss, 50.0))
