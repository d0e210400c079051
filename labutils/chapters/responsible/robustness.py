"""Notebook 14, adversarial robustness (对抗鲁棒性) of a sentiment classifier.

Two black-box word-level attacks at a budget (greedy: at each round try every allowed edit, keep the one that
lowers the true class's probability most, stop when the label flips): character typos (swap, drop, repeat or
replace one letter of a word, as a typist would) and synonym substitution from a small hand-written table. The
attack success rate is the share of correctly classified sentences whose label flips within the budget.

Then FGM adversarial training (Miyato et al. 2017, "Adversarial training methods for semi-supervised text
classification"): each step adds the loss on inputs whose word embeddings are moved by ``ε·g/‖g‖`` (``g`` the
gradient of the loss with respect to the embeddings, per sentence), the direction that hurts most to first order.
"""
from __future__ import annotations

import random
import string
import time
from typing import Any, Callable, Sequence

import numpy as np
import torch

from labutils.chapters.responsible.errors import ResponsibleError

SYNONYMS = {
    "film": ["movie", "picture"], "movie": ["film", "picture"], "story": ["tale", "plot"], "plot": ["story", "storyline"],
    "good": ["decent", "fine", "nice"], "great": ["terrific", "grand", "big"], "bad": ["poor", "awful"],
    "funny": ["amusing", "comic"], "boring": ["tedious", "dull"], "dull": ["boring", "flat"],
    "beautiful": ["lovely", "pretty"], "very": ["really", "quite"], "really": ["very", "truly"],
    "best": ["finest", "top"], "worst": ["poorest", "lowest"], "love": ["like", "adore"], "like": ["enjoy", "love"],
    "smart": ["clever", "bright"], "stupid": ["dumb", "silly"], "silly": ["foolish", "goofy"], "fun": ["enjoyable", "amusing"],
    "moving": ["touching", "stirring"], "charming": ["delightful", "pleasant"], "mess": ["muddle", "jumble"],
    "long": ["lengthy", "extended"], "slow": ["sluggish", "unhurried"], "brilliant": ["excellent", "superb"],
    "excellent": ["superb", "outstanding"], "terrible": ["dreadful", "horrible"], "awful": ["dreadful", "terrible"],
    "performance": ["acting", "portrayal"], "performances": ["acting", "portrayals"], "characters": ["figures", "roles"],
    "director": ["filmmaker"], "script": ["screenplay"], "entertaining": ["amusing", "diverting"],
    "interesting": ["intriguing", "engaging"], "enjoyable": ["pleasant", "fun"], "hilarious": ["very funny", "riotous"],
    "powerful": ["strong", "potent"], "weak": ["feeble", "thin"], "predictable": ["foreseeable", "expected"],
    "fascinating": ["gripping", "absorbing"], "compelling": ["gripping", "convincing"], "clever": ["smart", "witty"],
    "original": ["fresh", "novel"], "fresh": ["new", "original"], "cliched": ["trite", "stale"], "flat": ["dull", "lifeless"],
    "sweet": ["kind", "gentle"], "warm": ["tender", "cordial"], "tired": ["weary", "stale"], "pretentious": ["showy", "affected"],
    "little": ["small", "slight"], "big": ["large", "huge"], "most": ["nearly all", "the majority of"], "often": ["frequently"],
    "never": ["not once"], "work": ["piece", "effort"], "time": ["moment", "occasion"], "hard": ["difficult", "tough"],
}
_KEYS = "qwertyuiop asdfghjkl zxcvbnm"


def _neighbours(c: str) -> str:
    rows = _KEYS.split()
    for r in rows:
        if c in r:
            i = r.index(c)
            return r[max(0, i - 1):i] + r[i + 1:i + 2]
    return ""


def typo_variants(word: str, rng: random.Random, per_word: int = 4) -> list[str]:
    """Up to ``per_word`` one-letter typos of ``word`` (swap two inner letters, drop, double, or hit a key next to
    one); words shorter than 3 letters or not alphabetic get none. Seeded by ``rng``."""
    if len(word) < 3 or not word.isalpha():
        return []
    out = set()
    for i in range(1, len(word) - 1):
        out.add(word[:i] + word[i + 1] + word[i] + word[i + 2:])      # swap
        out.add(word[:i] + word[i + 1:])                              # drop
        out.add(word[:i] + word[i] + word[i:])                        # double
        for n in _neighbours(word[i].lower()):
            out.add(word[:i] + n + word[i + 1:])                      # neighbouring key
    out.discard(word)
    out = sorted(out)
    rng.shuffle(out)
    return out[:per_word]


def synonym_variants(word: str, rng: random.Random | None = None, per_word: int = 4) -> list[str]:
    """Synonyms of ``word`` from :data:`SYNONYMS` (case kept for a capitalised word)."""
    subs = SYNONYMS.get(word.lower(), [])[:per_word]
    return [s.capitalize() if word[:1].isupper() else s for s in subs]


def _split(text: str) -> list[str]:
    return text.split(" ")


def _strip(w: str) -> tuple[str, str, str]:
    head = len(w) - len(w.lstrip(string.punctuation))
    tail = len(w.rstrip(string.punctuation))
    return w[:head], w[head:tail], w[tail:]


def greedy_attack(prob_fn: Callable[[list[str]], np.ndarray], text: str, label: int, variants: Callable,
                  budget: int = 2, per_word: int = 4, seed: int = 0) -> dict:
    """Greedy word-level attack: up to ``budget`` words edited, one per round, each round the candidate (from
    ``variants(word, rng, per_word)``) that lowers ``P(label)`` most. ``prob_fn(texts) -> (N, C)`` probabilities.

    Returns ``{"text", "adversarial", "success", "edits", "p_before", "p_after", "queries"}``."""
    if budget < 1:
        raise ResponsibleError(f"budget must be at least 1 edit, not {budget}.")
    rng = random.Random(seed)
    words = _split(text)
    p0 = float(prob_fn([text])[0, label])
    p, edited, queries = p0, set(), 1
    cur = list(words)
    for _ in range(budget):
        cands = []
        for i, w in enumerate(cur):
            if i in edited:
                continue
            pre, core, post = _strip(w)
            for v in variants(core, rng, per_word):
                new = cur[:i] + [pre + v + post] + cur[i + 1:]
                cands.append((i, new))
        if not cands:
            break
        probs = prob_fn([" ".join(c[1]) for c in cands])
        queries += len(cands)
        j = int(np.argmin(probs[:, label]))
        if probs[j, label] >= p:
            break
        edited.add(cands[j][0])
        cur, p = cands[j][1], float(probs[j, label])
        if int(np.argmax(probs[j])) != label:
            break
    adv = " ".join(cur)
    final = prob_fn([adv])[0]
    return {"text": text, "adversarial": adv, "success": int(np.argmax(final)) != label, "edits": len(edited),
            "p_before": p0, "p_after": float(final[label]), "queries": queries + 1}


def attack_success_rate(prob_fn: Callable[[list[str]], np.ndarray], texts: Sequence[str], labels: Sequence[int],
                        attack: str = "typo", budget: int = 2, per_word: int = 4, seed: int = 0) -> dict:
    """Run :func:`greedy_attack` (``attack`` = ``"typo"`` or ``"synonym"``) on every sentence the model gets right.

    Returns ``{"success_rate", "n_attacked", "clean_accuracy", "mean_edits", "examples": [...]}``."""
    variants = {"typo": typo_variants, "synonym": synonym_variants}
    if attack not in variants:
        raise ResponsibleError(f"Unknown attack {attack!r}; choose typo or synonym.")
    if len(texts) != len(labels) or not texts:
        raise ResponsibleError("Give as many labels as sentences (at least one).")
    pred = np.argmax(prob_fn(list(texts)), -1)
    right = [i for i in range(len(texts)) if pred[i] == labels[i]]
    results = [greedy_attack(prob_fn, texts[i], int(labels[i]), variants[attack], budget, per_word, seed + i)
               for i in right]
    ok = [r for r in results if r["success"]]
    return {"attack": attack, "budget": budget, "success_rate": len(ok) / len(results) if results else 0.0,
            "n_attacked": len(results), "clean_accuracy": len(right) / len(texts),
            "mean_edits": float(np.mean([r["edits"] for r in ok])) if ok else 0.0, "examples": results}


def prob_fn_for(model, tokenizer, max_length: int = 64, batch_size: int = 64) -> Callable[[list[str]], np.ndarray]:
    """``texts -> class probabilities`` for a classifier (no gradients, eval mode)."""
    dev = next(model.parameters()).device

    def fn(texts: list[str]) -> np.ndarray:
        model.eval()
        out = []
        with torch.no_grad():
            for i in range(0, len(texts), batch_size):
                enc = tokenizer(texts[i:i + batch_size], truncation=True, max_length=max_length, padding=True,
                                return_tensors="pt").to(dev)
                out.append(torch.softmax(model(**enc).logits.float(), -1).cpu())
        return torch.cat(out).numpy()
    return fn


def fgm_perturbation(grad: torch.Tensor, epsilon: float, mask: torch.Tensor | None = None) -> torch.Tensor:
    """FGM's perturbation ``r = ε·g/‖g‖₂`` per sentence (norm over its tokens and dimensions; padding masked)."""
    if mask is not None:
        grad = grad * mask[..., None].to(grad.dtype)
    norm = grad.flatten(1).norm(dim=1).clamp(min=1e-12)
    return epsilon * grad / norm[:, None, None]


def train_fgm(model, train_ds, *, steps: int, epsilon: float = 1.0, lr: float = 3e-5, batch_size: int = 16,
              seed: int = 0, max_grad_norm: float = 1.0, progress: bool = True) -> dict[str, Any]:
    """Fine-tune a classifier on a tokenized ``train_ds`` (``input_ids``, ``attention_mask``, ``labels``) for
    ``steps`` AdamW steps; with ``epsilon > 0`` each step adds FGM's adversarial loss on the word embeddings
    (``epsilon = 0``: plain fine-tuning, the same loop, for a fair comparison). Returns the loss history."""
    from labutils.chapters.finetune.loop import pad_collate
    from labutils.core.progress import tqdm
    if steps < 1 or epsilon < 0:
        raise ResponsibleError("steps must be ≥ 1 and epsilon ≥ 0.")
    dev = next(model.parameters()).device
    torch.manual_seed(seed)
    cols = [c for c in ("input_ids", "attention_mask", "labels") if c in train_ds.column_names]
    if "labels" not in cols:
        raise ResponsibleError("train_ds needs a 'labels' column (tokenize it with ft.tokenize_dataset).")
    loader = torch.utils.data.DataLoader(train_ds.with_format(columns=cols), batch_size=batch_size, shuffle=True,
                                         collate_fn=pad_collate(getattr(model.config, "pad_token_id", 0) or 0),
                                         generator=torch.Generator().manual_seed(seed))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.01)
    emb = model.get_input_embeddings()
    loss_fn = torch.nn.CrossEntropyLoss()
    hist = {"loss": [], "adv_loss": []}
    t0, step = time.perf_counter(), 0
    model.train()
    bar = tqdm(total=steps, desc=f"fine-tuning (FGM ε={epsilon})" if epsilon else "fine-tuning", disable=not progress,
               leave=False)
    while step < steps:
        for batch in loader:
            batch = {k: v.to(dev) for k, v in batch.items()}
            x = emb(batch["input_ids"])
            if epsilon > 0:
                x.retain_grad()
            loss = loss_fn(model(inputs_embeds=x, attention_mask=batch["attention_mask"]).logits.float(), batch["labels"])
            loss.backward()
            if epsilon > 0:
                r = fgm_perturbation(x.grad.detach(), epsilon, batch["attention_mask"])
                adv = loss_fn(model(inputs_embeds=emb(batch["input_ids"]) + r,
                                    attention_mask=batch["attention_mask"]).logits.float(), batch["labels"])
                adv.backward()
                hist["adv_loss"].append(float(adv.detach()))
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
            opt.step()
            opt.zero_grad(set_to_none=True)
            hist["loss"].append(float(loss.detach()))
            step += 1
            bar.update(1)
            if step >= steps:
                break
    bar.close()
    model.eval()
    hist.update(steps=step, epsilon=epsilon, seconds=time.perf_counter() - t0)
    return hist
