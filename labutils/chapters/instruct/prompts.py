"""Notebook 09, prompting a real LM: templates, verbalizers, few-shot prompts, label scoring by the
next-token logits (one forward pass per example, the shared few-shot prefix computed once and reused
from the KV cache), contextual calibration (Zhao et al. 2021, "Calibrate before use") and batched greedy
generation for the tasks scored by exact match."""
from __future__ import annotations

import copy
import random
from typing import Sequence

import numpy as np
import torch

from labutils.core.errors import InstructError

# A template turns a sentence into the text the LM continues; the verbalizer (标签词) maps each class to the
# word that should come next. Index = class id of sentiment_en (0 negative, 1 positive).
SENTIMENT_TEMPLATES = {
    "review": "Review: {text}\nSentiment:",
    "question": "{text}\nQuestion: is this review positive or negative?\nAnswer:",
    "movie": "Movie review: \"{text}\"\nThe reviewer's opinion was",
}
VERBALIZERS = {
    "positive/negative": (" negative", " positive"),
    "great/terrible": (" terrible", " great"),
    "good/bad": (" bad", " good"),
}
CONTENT_FREE = ("N/A", "", "[MASK]")  # Zhao et al.'s content-free inputs


def balanced_demos(texts: Sequence[str], labels: Sequence[int], k: int, seed: int = 0,
                   max_words: int | None = 25) -> list[tuple[str, int]]:
    """``k`` demonstrations (示例) drawn with ``seed``: classes alternate as evenly as k allows, order shuffled.

    Short sentences only (``max_words``) so that an 8-shot prompt stays cheap.
    """
    if k < 0:
        raise InstructError(f"k must be 0 or more, not {k}.")
    rng = random.Random(seed)
    pool = [i for i, t in enumerate(texts) if max_words is None or len(t.split()) <= max_words]
    by_class: dict[int, list[int]] = {}
    for i in pool:
        by_class.setdefault(int(labels[i]), []).append(i)
    classes = sorted(by_class)
    picks = []
    for j in range(k):
        c = classes[(j + seed) % len(classes)]
        picks.append(by_class[c].pop(rng.randrange(len(by_class[c]))))
    rng.shuffle(picks)
    return [(texts[i], int(labels[i])) for i in picks]


def build_prompt(text: str, demos: Sequence[tuple[str, int]] = (), template: str = SENTIMENT_TEMPLATES["review"],
                 verbalizer: Sequence[str] = VERBALIZERS["positive/negative"], sep: str = "\n\n") -> str:
    """The whole prompt as one string: each demonstration with its label word, then the query."""
    parts = [template.format(text=t) + verbalizer[y] for t, y in demos]
    return sep.join(parts + [template.format(text=text)])


def label_token_ids(tokenizer, verbalizer: Sequence[str]) -> list[int]:
    """The first token of each label word; raises if two labels share it (they could not be told apart)."""
    ids = []
    for word in verbalizer:
        toks = tokenizer(word, add_special_tokens=False)["input_ids"]
        if not toks:
            raise InstructError(f"The label word {word!r} has no tokens.")
        ids.append(toks[0])
    if len(set(ids)) != len(ids):
        raise InstructError(f"The label words {list(verbalizer)} start with the same token; pick words that differ.")
    return ids


def _last_logits(model, input_ids, attention_mask, past=None) -> torch.Tensor:
    """Logits at the last real position of each row (right padding), computing the LM head there only."""
    kw = {"past_key_values": past, "use_cache": past is not None}
    if past is None:
        kw["attention_mask"] = attention_mask
    h = model.base_model(input_ids=input_ids, **kw).last_hidden_state
    last = attention_mask.sum(1) - 1
    return model.get_output_embeddings()(h[torch.arange(len(h)), last]).float()


@torch.inference_mode()
def score_labels(model, tokenizer, texts: Sequence[str], demos: Sequence[tuple[str, int]] = (),
                 template: str = SENTIMENT_TEMPLATES["review"],
                 verbalizer: Sequence[str] = VERBALIZERS["positive/negative"], sep: str = "\n\n",
                 batch_size: int = 16, use_cache: bool = True) -> np.ndarray:
    """Log-probabilities (over the whole vocabulary) of each label word after each prompt: ``(n, classes)``.

    The few-shot prefix (the demonstrations) is the same for every text: it is run once and its keys and
    values are reused for every batch (``use_cache``). The prefix ends on a label word and every suffix
    starts with ``sep``, so tokenizing the two parts apart gives the same tokens as the whole prompt.
    """
    ids = label_token_ids(tokenizer, verbalizer)
    dev = next(model.parameters()).device
    prefix = build_prompt("", demos, template, verbalizer, sep).rsplit(sep, 1)[0] if demos else ""
    past = None
    if demos and use_cache:
        p_ids = tokenizer(prefix, add_special_tokens=False, return_tensors="pt")["input_ids"].to(dev)
        past = model.base_model(input_ids=p_ids, use_cache=True).past_key_values
    out = []
    for s in range(0, len(texts), batch_size):
        chunk = texts[s:s + batch_size]
        if demos and use_cache:
            suffixes = [sep + template.format(text=t) for t in chunk]
        else:
            suffixes = [build_prompt(t, demos, template, verbalizer, sep) for t in chunk]
        enc = [tokenizer(x, add_special_tokens=False)["input_ids"] for x in suffixes]
        width = max(map(len, enc))
        pad = tokenizer.pad_token_id or 0
        input_ids = torch.tensor([e + [pad] * (width - len(e)) for e in enc], device=dev)
        mask = torch.tensor([[1] * len(e) + [0] * (width - len(e)) for e in enc], device=dev)
        cache = None
        if past is not None:
            cache = copy.deepcopy(past)
            cache.batch_repeat_interleave(len(chunk))
        logp = torch.log_softmax(_last_logits(model, input_ids, mask, cache), dim=-1)
        out.append(logp[:, ids].cpu().numpy())
    return np.concatenate(out)


def label_probs(logp: np.ndarray) -> np.ndarray:
    """Renormalise the label words' probabilities so each row sums to 1."""
    z = logp - logp.max(1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(1, keepdims=True)


def content_free_probs(model, tokenizer, demos=(), template=SENTIMENT_TEMPLATES["review"],
                       verbalizer=VERBALIZERS["positive/negative"], sep="\n\n",
                       inputs: Sequence[str] = CONTENT_FREE) -> np.ndarray:
    """The label probabilities of the prompt filled with content-free inputs ("N/A", "", "[MASK]"), averaged:
    the bias the prompt itself carries (Zhao et al. 2021)."""
    return label_probs(score_labels(model, tokenizer, list(inputs), demos, template, verbalizer, sep)).mean(0)


def calibrate(probs: np.ndarray, p_cf: np.ndarray) -> np.ndarray:
    """Contextual calibration: divide by the content-free probabilities and renormalise, i.e. ``W = diag(p_cf)⁻¹``,
    ``b = 0`` in Zhao et al.'s notation. A content-free input then gets a uniform prediction."""
    p_cf = np.asarray(p_cf, dtype=float)
    if p_cf.shape[-1] != probs.shape[-1] or np.any(p_cf <= 0):
        raise InstructError("p_cf needs one positive probability per class.")
    q = np.asarray(probs, dtype=float) / p_cf
    return q / q.sum(-1, keepdims=True)


# ------------------------------------------------------------------------------ instruction tasks
SYSTEM = "You are a helpful assistant. Reply with the answer only."


def instruction_user_text(row: dict) -> str:
    """The user turn of an ``instructions`` example: the instruction, then the input."""
    return f"{row['instruction']}\n{row['input']}"


def instruction_messages(row: dict, demos: Sequence[dict] = (), system: str | None = SYSTEM) -> list[dict]:
    """Chat messages for one example; few-shot demonstrations become earlier user/assistant turns."""
    msgs = [{"role": "system", "content": system}] if system else []
    for d in demos:
        msgs += [{"role": "user", "content": instruction_user_text(d)}, {"role": "assistant", "content": d["output"]}]
    return msgs + [{"role": "user", "content": instruction_user_text(row)}]


def demos_by_task(rows: Sequence[dict], k: int, seed: int = 0) -> dict[str, list[dict]]:
    """``k`` demonstrations per task, drawn with ``seed`` from ``rows`` (the training split)."""
    rng = random.Random(seed)
    tasks: dict[str, list[dict]] = {}
    for r in rows:
        tasks.setdefault(r["task"], []).append(r)
    return {t: rng.sample(v, min(k, len(v))) for t, v in tasks.items()}


@torch.inference_mode()
def generate_batch(model, tokenizer, prompts: Sequence[str], max_new_tokens: int = 16,
                   batch_size: int = 16) -> list[str]:
    """Greedy continuations of rendered prompt strings, batched with left padding; new text only."""
    dev = next(model.parameters()).device
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    outs: list[str] = []
    try:
        for s in range(0, len(prompts), batch_size):
            enc = tokenizer(list(prompts[s:s + batch_size]), return_tensors="pt", padding=True,
                            add_special_tokens=False).to(dev)
            gen = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, temperature=None,
                                 top_p=None, top_k=None, pad_token_id=tokenizer.pad_token_id,
                                 eos_token_id=tokenizer.eos_token_id)
            outs += tokenizer.batch_decode(gen[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    finally:
        tokenizer.padding_side = side
    return [o.strip() for o in outs]


def exact_match_by_task(model, tokenizer, rows: Sequence[dict], demos: dict | None = None,
                        max_new_tokens: int = 16, batch_size: int = 16, system: str | None = SYSTEM,
                        render=None) -> dict:
    """Exact match per task (``check_instruction_answer``: lenient in form, strict in substance) of greedy answers.

    ``render(messages) -> str`` builds the prompt (default: the tokenizer's chat template with the generation
    prompt). Returns ``{"by_task": {task: acc}, "overall": acc, "answers": [...]}``.
    """
    from labutils.data.instructions import check_instruction_answer
    if not rows:
        raise InstructError("exact_match_by_task needs at least one example.")
    render = render or (lambda m: tokenizer.apply_chat_template(m, add_generation_prompt=True, tokenize=False))
    prompts = [render(instruction_messages(r, (demos or {}).get(r["task"], ()), system)) for r in rows]
    answers = generate_batch(model, tokenizer, prompts, max_new_tokens, batch_size)
    right = [check_instruction_answer(r["task"], r["input"], a) for r, a in zip(rows, answers)]
    by: dict[str, list[bool]] = {}
    for r, ok in zip(rows, right):
        by.setdefault(r["task"], []).append(ok)
    return {"by_task": {t: float(np.mean(v)) for t, v in by.items()}, "overall": float(np.mean(right)),
            "answers": answers, "right": right}


def per_task_sample(split, per_task: int, tasks: Sequence[str] | None = None, seed: int = 0) -> list[dict]:
    """``per_task`` examples of each task from a split (seeded), in task order."""
    rng = random.Random(seed)
    rows = [dict(r) for r in split]
    out = []
    for t in tasks or sorted({r["task"] for r in rows}):
        pool = [r for r in rows if r["task"] == t]
        out += rng.sample(pool, min(per_task, len(pool)))
    return out


COT_SUFFIX = "\nThink step by step, then write the final answer after 'Answer:'."


def final_answer(text: str) -> str:
    """What comes after the last 'Answer:' of a chain-of-thought reply, else the last number, else the text."""
    import re
    if "Answer:" in text:
        return text.rsplit("Answer:", 1)[1].strip()
    nums = re.findall(r"-?\d+(?:\.\d+)?", text)
    return nums[-1] if nums else text


def chain_of_thought(model, tokenizer, rows: Sequence[dict], max_new_tokens: int = 96, batch_size: int = 8) -> dict:
    """Chain-of-thought (思维链, Wei et al. 2022) on ``rows``: ask for steps, then score the final answer only."""
    from labutils.data.instructions import check_instruction_answer
    prompts = [tokenizer.apply_chat_template(
        [{"role": "user", "content": instruction_user_text(r) + COT_SUFFIX}], add_generation_prompt=True,
        tokenize=False) for r in rows]
    replies = generate_batch(model, tokenizer, prompts, max_new_tokens, batch_size)
    right = [check_instruction_answer(r["task"], r["input"], final_answer(a)) for r, a in zip(rows, replies)]
    return {"accuracy": float(np.mean(right)), "replies": replies, "right": right}
