"""Notebook 09, preference tuning with DPO (Rafailov et al. 2023, "Direct Preference Optimization"): pairs built
from ``instructions`` (the correct answer is chosen, a corrupted one rejected), the loss by hand, the same loss
from TRL's ``DPOTrainer`` on the same batch, preference accuracy and reward margin, and a short training run."""
from __future__ import annotations

import random
import re
from typing import Sequence

import torch
import torch.nn.functional as F

from labutils.core.errors import InstructError
from labutils.core.history import History


def corrupt_answer(task: str, output: str, rng: random.Random) -> str:
    """A plausible wrong answer: a number off by a little, words in another order or with one dropped,
    the other sentiment label, lower case instead of upper case, a wrong field value."""
    if task in ("arithmetic", "unit_conversion", "count_words"):
        x = float(output)
        delta = rng.choice([1, 2, 3, 10]) * rng.choice([-1, 1])
        y = x + delta if task != "unit_conversion" else x * rng.choice([10, 0.1, 2])
        return f"{y:.4f}".rstrip("0").rstrip(".")
    if task == "sentiment":
        return {"positive": "negative", "negative": "positive", "正面": "负面", "负面": "正面"}[output]
    if task == "uppercase":
        return output.lower() if rng.random() < 0.5 else output.title()
    if task in ("reverse_words", "sort_words"):
        words = output.split()
        if len(words) > 2 and rng.random() < 0.5:
            del words[rng.randrange(len(words))]
        else:
            while words == output.split():
                rng.shuffle(words)
        return " ".join(words)
    if task == "extract_field":
        bad = output[::-1]
        return bad if bad.casefold() != output.casefold() else output + output[-1]
    raise InstructError(f"No corruption for task {task!r}.")


def preference_pairs(tokenizer, rows: Sequence[dict], seed: int = 0, system: str | None = None) -> list[dict]:
    """``{"prompt", "chosen", "rejected", "task"}`` per example, the prompt rendered with the chat template and
    both answers ending with the end-of-turn token (the format TRL's ``DPOTrainer`` takes as it is)."""
    from labutils.chapters.instruct.sft import sft_pair
    rng = random.Random(seed)
    out = []
    for r in rows:
        p = sft_pair(tokenizer, r, system)
        bad = corrupt_answer(r["task"], r["output"], rng)
        if re.sub(r"\s+", " ", bad) == r["output"]:
            continue
        out.append({"prompt": p["prompt"], "chosen": p["completion"], "rejected": bad + tokenizer.eos_token,
                    "task": r["task"]})
    return out


def collate_pairs(tokenizer, pairs: Sequence[dict]) -> dict:
    """A batch like TRL's ``DataCollatorForPreference``: chosen rows first, then rejected, right padded, with a
    ``completion_mask`` on the answer tokens."""
    seqs, masks = [], []
    for key in ("chosen", "rejected"):
        for p in pairs:
            pr = tokenizer(p["prompt"], add_special_tokens=False)["input_ids"]
            full = tokenizer(p["prompt"] + p[key], add_special_tokens=False)["input_ids"]
            n = 0
            while n < len(pr) and pr[n] == full[n]:
                n += 1
            seqs.append(full)
            masks.append([0] * n + [1] * (len(full) - n))
    width = max(map(len, seqs))
    pad = tokenizer.pad_token_id
    return {"input_ids": torch.tensor([s + [pad] * (width - len(s)) for s in seqs]),
            "attention_mask": torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in seqs]),
            "completion_mask": torch.tensor([m + [0] * (width - len(m)) for m in masks])}


def sequence_logps(model, batch: dict) -> torch.Tensor:
    """Σ log π(answer token | everything before it) over the completion tokens of each row."""
    dev = next(model.parameters()).device
    ids, att = batch["input_ids"].to(dev), batch["attention_mask"].to(dev)
    logits = model(input_ids=ids, attention_mask=att).logits[:, :-1].float()
    logp = torch.log_softmax(logits, -1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    return (logp * batch["completion_mask"][:, 1:].to(dev)).sum(1)


def dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta: float = 0.1):
    """The DPO loss by hand: −log σ(β[(log π_c − log π_ref,c) − (log π_r − log π_ref,r)]), mean over pairs.

    Returns ``(loss, chosen_rewards, rejected_rewards)``; a reward is β times the log-ratio to the reference."""
    chosen_r = beta * (policy_chosen - ref_chosen)
    rejected_r = beta * (policy_rejected - ref_rejected)
    return -F.logsigmoid(chosen_r - rejected_r).mean(), chosen_r, rejected_r


def dpo_batch(policy, ref, batch: dict, beta: float = 0.1):
    """:func:`dpo_loss` of a policy against a frozen reference on a batch from :func:`collate_pairs`."""
    lp = sequence_logps(policy, batch)
    with torch.no_grad():
        lr = sequence_logps(ref, batch)
    c, r = lp.chunk(2)
    rc, rr = lr.chunk(2)
    return dpo_loss(c, r, rc, rr, beta)


@torch.no_grad()
def preference_metrics(policy, ref, tokenizer, pairs: Sequence[dict], beta: float = 0.1,
                       batch_size: int = 32) -> dict:
    """Preference accuracy (share of pairs whose chosen answer gets the larger reward; ties count half),
    mean reward margin and mean loss on ``pairs``."""
    acc, margin, loss, n = 0.0, 0.0, 0.0, 0
    for s in range(0, len(pairs), batch_size):
        chunk = pairs[s:s + batch_size]
        lo, c, r = dpo_batch(policy, ref, collate_pairs(tokenizer, chunk), beta)
        d = c - r
        acc += float((d > 0).float().sum() + 0.5 * (d == 0).float().sum())
        margin += float(d.sum())
        loss += float(lo) * len(chunk)
        n += len(chunk)
    return {"accuracy": acc / n, "margin": margin / n, "loss": loss / n}


def train_dpo(policy, ref, tokenizer, pairs: Sequence[dict], steps: int, batch_size: int = 8, lr: float = 1e-4,
              beta: float = 0.1, seed: int = 0) -> History:
    """A short DPO loop by hand (AdamW, seeded random batches); History with ``train_loss`` and ``margin``."""
    if steps < 1:
        raise InstructError("steps must be at least 1.")
    params = [p for p in policy.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    rng = random.Random(seed)
    hist = History(margin=[])
    policy.train()
    for step in range(steps):
        chunk = rng.sample(list(pairs), min(batch_size, len(pairs)))
        loss, c, r = dpo_batch(policy, ref, collate_pairs(tokenizer, chunk), beta)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        hist.log(step, loss.item(), lr)
        hist["margin"].append(float((c - r).mean()))
    policy.eval()
    return hist


def trl_dpo_batch_loss(policy, ref, tokenizer, pairs: Sequence[dict], output_dir, beta: float = 0.1) -> dict:
    """TRL's ``DPOTrainer`` prepares and collates ``pairs`` and computes its loss; our :func:`dpo_batch` on the
    same collated batch. Both models in eval mode (no dropout), no gradients."""
    import datasets
    from trl import DPOConfig, DPOTrainer

    cfg = DPOConfig(output_dir=str(output_dir), beta=beta, per_device_train_batch_size=len(pairs), report_to=[],
                    logging_strategy="no", save_strategy="no", use_cpu=True, disable_tqdm=True, seed=0,
                    max_length=None)
    ds = datasets.Dataset.from_list([{k: p[k] for k in ("prompt", "chosen", "rejected")} for p in pairs])
    trainer = DPOTrainer(model=policy, ref_model=ref, args=cfg, train_dataset=ds, processing_class=tokenizer)
    rows = [trainer.train_dataset[i] for i in range(len(pairs))]
    batch = trainer.data_collator(rows)
    policy.eval()
    ref.eval()
    with torch.no_grad():
        trl_loss = float(trainer.compute_loss(policy, dict(batch)))
        ours, c, r = dpo_batch(policy, ref, batch, beta)
    mine = collate_pairs(tokenizer, pairs)
    same = all(torch.equal(mine[k], batch[k]) for k in ("input_ids", "completion_mask"))
    return {"trl_loss": trl_loss, "our_loss": float(ours), "abs_diff": abs(trl_loss - float(ours)),
            "same_batch": same, "margin": float((c - r).mean())}
