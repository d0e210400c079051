"""Notebook 05 · Masked language models and transfer learning: the pieces, small and tested.

* :func:`mask_tokens` - BERT's masking by hand (select 15 % of the real tokens; of those 80 % become
  ``[MASK]``, 10 % a random token, 10 % stay as they are), and :func:`masking_stats` to measure it.
* :class:`TrimmedVocab` - the WordPiece ids that actually occur in a corpus, renumbered ``0..V-1``,
  so a tiny model does not pay for 30,522 embedding rows it never sees.
* :func:`make_blocks`, :func:`lm_loss`, :func:`train_lm` - one small training loop for both objectives,
  MLM (``BertForMaskedLM``) and CLM (``GPT2LMHeadModel``), on the same batches.
* :func:`fill_mask` - top-k guesses for every ``[MASK]`` of a sentence.
* :func:`attention_masks_figure`, :func:`masking_html` - pictures of what each objective sees.
* :func:`embed_by_length`, :func:`linear_probe`, :func:`nearest`, :func:`train_multitask` - transfer
  learning with frozen sentence features.
"""
from __future__ import annotations

import html
import math
import time
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from labutils.core.errors import MLMError  # noqa: F401 (re-exported)
from labutils.core.history import History
from labutils.train.optim import param_groups
from labutils.train.schedules import make_scheduler

IGNORE = -100          # the label value that cross-entropy skips (transformers' convention)
FATES = ("mask", "random", "unchanged")


# ---------------------------------------------------------------------------------------- masking
def _special_ids(tokenizer) -> list[int]:
    ids = getattr(tokenizer, "all_special_ids", None)
    if ids is None:
        raise MLMError("The tokenizer needs `all_special_ids`, `mask_token_id` and a length (len(tokenizer)).")
    return list(ids)


def mask_tokens(input_ids: torch.Tensor, tokenizer, mlm_probability: float = 0.15,
                generator: torch.Generator | None = None, mask_fraction: float = 0.8,
                random_fraction: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masking, by hand: returns ``(inputs, labels)`` like transformers' collator.

    Every real token (not ``[CLS]``/``[SEP]``/``[PAD]``/...) is *selected* with probability
    ``mlm_probability``. A selected token becomes ``[MASK]`` with probability ``mask_fraction``,
    a uniformly random token with probability ``random_fraction``, and stays unchanged otherwise.
    ``labels`` holds the original id at selected positions and :data:`IGNORE` (-100) elsewhere, so
    the loss is computed on selected positions only. ``tokenizer`` is anything with
    ``mask_token_id``, ``all_special_ids`` and ``len()`` (a transformers tokenizer or a
    :class:`TrimmedVocab`). Two uniform draws per token: one decides *whether*, one decides *how*.
    """
    if not 0.0 < mlm_probability < 1.0:
        raise MLMError(f"mlm_probability must lie strictly between 0 and 1, got {mlm_probability!r}.")
    if mask_fraction < 0 or random_fraction < 0 or mask_fraction + random_fraction > 1:
        raise MLMError("mask_fraction and random_fraction must be ≥ 0 and add up to at most 1.")
    if not isinstance(input_ids, torch.Tensor) or input_ids.dtype != torch.long:
        raise MLMError("input_ids must be a torch.long tensor of token ids, e.g. tokenizer(..., return_tensors='pt').")
    mask_id = tokenizer.mask_token_id
    if mask_id is None:
        raise MLMError("This tokenizer has no [MASK] token; masked language modelling needs one.")
    dev = input_ids.device  # random numbers come from a CPU generator, then move to the ids' device
    special = torch.tensor(_special_ids(tokenizer), dtype=torch.long, device=dev)
    eligible = ~torch.isin(input_ids, special)
    select = (torch.rand(input_ids.shape, generator=generator).to(dev) < mlm_probability) & eligible
    how = torch.rand(input_ids.shape, generator=generator).to(dev)
    to_mask = select & (how < mask_fraction)
    to_random = select & (how >= mask_fraction) & (how < mask_fraction + random_fraction)
    random_ids = torch.randint(len(tokenizer), input_ids.shape, generator=generator).to(dev)
    inputs = input_ids.clone()
    inputs[to_mask] = mask_id
    inputs[to_random] = random_ids[to_random]
    labels = torch.where(select, input_ids, torch.full_like(input_ids, IGNORE))
    return inputs, labels


def masking_stats(original: torch.Tensor, inputs: torch.Tensor, labels: torch.Tensor, tokenizer) -> dict:
    """Measure a masking: the fraction of real tokens selected, and of those the share that became
    ``[MASK]``, a different token (``random``) or stayed the same (``unchanged``; a random draw that
    happens to hit the original token counts here, 1 time in ``len(tokenizer)``)."""
    special = torch.tensor(_special_ids(tokenizer), dtype=torch.long, device=original.device)
    eligible = ~torch.isin(original, special)
    selected = labels != IGNORE
    n_sel = int(selected.sum())
    if n_sel == 0:
        raise MLMError("No token was selected; use more tokens or a larger mlm_probability.")
    masked = selected & (inputs == tokenizer.mask_token_id)
    unchanged = selected & (inputs == original) & ~masked
    random = selected & ~masked & ~unchanged
    return {"selected": n_sel / int(eligible.sum()), "n_selected": n_sel, "n_eligible": int(eligible.sum()),
            "mask": int(masked.sum()) / n_sel, "random": int(random.sum()) / n_sel,
            "unchanged": int(unchanged.sum()) / n_sel}


def masking_html(tokens: Sequence[str], new_tokens: Sequence[str], labels: Sequence[int]) -> str:
    """One sentence as coloured tokens: red = ``[MASK]``, orange = random replacement (old→new),
    green = selected but unchanged (still predicted), plain = not selected (no loss there)."""
    if not len(tokens) == len(new_tokens) == len(labels):
        raise MLMError("tokens, new_tokens and labels must have the same length.")
    style = {"mask": "background:#f8b4b4", "random": "background:#fcd9a8", "unchanged": "background:#b7e4c7"}
    parts = []
    for old, new, lab in zip(tokens, new_tokens, labels):
        if lab == IGNORE:
            parts.append(f"<span style='padding:1px 2px'>{html.escape(old)}</span>")
            continue
        fate = "mask" if new == "[MASK]" else ("unchanged" if new == old else "random")
        text = html.escape(new) if fate != "random" else f"{html.escape(old)}→{html.escape(new)}"
        parts.append(f"<span title='{fate}; the model must predict “{html.escape(old)}”' "
                     f"style='{style[fate]};padding:1px 3px;border-radius:3px'>{text}</span>")
    legend = " ".join(f"<span style='{s};padding:1px 4px;border-radius:3px'>{k}</span>" for k, s in style.items())
    return f"<div style='line-height:1.9;font-family:monospace'>{' '.join(parts)}</div><div>{legend} · plain: not predicted</div>"


# --------------------------------------------------------------------------------------- vocabulary
class TrimmedVocab:
    """The tokenizer's ids that occur in ``id_lists`` (plus every special token), renumbered ``0..V-1``.

    ``encode`` maps original ids to new ones (ids never seen become ``[UNK]``); ``decode`` maps back.
    It quacks like a tokenizer for :func:`mask_tokens`: ``mask_token_id``, ``all_special_ids``, ``len``.
    """

    def __init__(self, tokenizer, id_lists: Sequence[Sequence[int]]):
        seen: set[int] = set()
        for ids in id_lists:
            seen.update(ids)
        specials = list(dict.fromkeys(tokenizer.all_special_ids))
        pad = tokenizer.pad_token_id
        if pad is not None:  # keep [PAD] at 0 when it is 0, as BERT configs expect
            specials = [pad] + [s for s in specials if s != pad]
        self.tokenizer = tokenizer
        self.old_ids = specials + sorted(seen - set(specials))
        self._to_new = torch.full((len(tokenizer),), -1, dtype=torch.long)
        self._to_new[torch.tensor(self.old_ids)] = torch.arange(len(self.old_ids))
        self._to_old = torch.tensor(self.old_ids, dtype=torch.long)
        self.unk_token_id = int(self._to_new[tokenizer.unk_token_id])
        self._to_new[self._to_new < 0] = self.unk_token_id
        for name in ("pad", "mask", "cls", "sep"):
            old = getattr(tokenizer, f"{name}_token_id")
            setattr(self, f"{name}_token_id", None if old is None else int(self._to_new[old]))
        self.all_special_ids = [int(self._to_new[s]) for s in specials]

    def __len__(self) -> int:
        return len(self.old_ids)

    def encode(self, ids) -> torch.Tensor:
        """Original tokenizer ids (list or tensor) → trimmed ids (a tensor of the same shape)."""
        return self._to_new[torch.as_tensor(ids, dtype=torch.long)]

    def decode(self, ids) -> torch.Tensor:
        """Trimmed ids → the tokenizer's original ids."""
        return self._to_old[torch.as_tensor(ids, dtype=torch.long)]

    def tokens(self, ids) -> list[str]:
        """Trimmed ids → token strings."""
        return self.tokenizer.convert_ids_to_tokens(self.decode(ids).reshape(-1).tolist())

    def __call__(self, text: str) -> torch.Tensor:
        """Tokenise ``text`` (with ``[CLS]``/``[SEP]``) straight into trimmed ids, shape ``(1, T)``."""
        return self.encode(self.tokenizer(text, return_tensors="pt")["input_ids"])

    def __repr__(self) -> str:
        return f"TrimmedVocab({len(self):,} of {len(self.tokenizer):,} ids)"


def make_blocks(id_lists: Sequence[Sequence[int]], block_size: int, cls_id: int, sep_id: int,
                max_blocks: int | None = None) -> torch.Tensor:
    """Concatenate the id lists into one stream and cut it into ``[CLS] … [SEP]`` blocks of
    ``block_size`` tokens: a ``(N, block_size)`` long tensor, the same for the MLM and the CLM."""
    if block_size < 4:
        raise MLMError(f"block_size must be at least 4 tokens, got {block_size}.")
    inner = block_size - 2
    stream = torch.tensor([i for ids in id_lists for i in ids], dtype=torch.long)
    n = len(stream) // inner
    if max_blocks is not None:
        n = min(n, max_blocks)
    if n == 0:
        raise MLMError(f"The text has {len(stream)} tokens, fewer than one block of {inner}; give more text.")
    body = stream[: n * inner].view(n, inner)
    return torch.cat([torch.full((n, 1), cls_id), body, torch.full((n, 1), sep_id)], dim=1)


# ---------------------------------------------------------------------------------------- training
def lm_loss(model, batch: torch.Tensor, objective: str, vocab=None, generator: torch.Generator | None = None,
            mlm_probability: float = 0.15) -> torch.Tensor:
    """The loss of one batch of blocks.

    ``"clm"``: a ``GPT2LMHeadModel`` predicts every next token (``labels = inputs``; transformers
    shifts them). ``"mlm"``: a ``BertForMaskedLM`` or ``ModernBertForMaskedLM`` sees the masked blocks; the output layer is applied
    only at the selected positions (about 15 %), which gives exactly the loss of
    ``model(input_ids, labels=labels)`` without computing ~85 % of the vocabulary logits for nothing.
    """
    if objective == "clm":
        return model(input_ids=batch, labels=batch).loss
    if objective != "mlm":
        raise MLMError(f"objective must be 'mlm' or 'clm', got {objective!r}.")
    if vocab is None:
        raise MLMError("The MLM objective needs the vocabulary (for [MASK] and the special tokens).")
    inputs, labels = mask_tokens(batch, vocab, mlm_probability, generator)
    selected = labels != IGNORE
    if not selected.any():
        return model(input_ids=inputs, labels=labels).loss
    encoder, head = mlm_parts(model)
    logits = head(encoder(input_ids=inputs).last_hidden_state[selected])
    return F.cross_entropy(logits, labels[selected])


def mlm_parts(model):
    """``(encoder, head)`` of a masked LM: the body that gives one vector per position and the output layer
    that turns vectors into vocabulary logits. ``BertForMaskedLM``: ``bert`` and ``cls``;
    ``ModernBertForMaskedLM``: ``model`` and ``head`` → ``decoder``."""
    if hasattr(model, "bert") and hasattr(model, "cls"):
        return model.bert, model.cls
    if hasattr(model, "model") and hasattr(model, "head") and hasattr(model, "decoder"):
        return model.model, lambda h: model.decoder(model.head(h))
    raise MLMError(f"{type(model).__name__} is not a masked LM this course knows (BertForMaskedLM or "
                   "ModernBertForMaskedLM).")


def train_lm(model, blocks: torch.Tensor, objective: str, steps: int, batch_size: int = 16, lr: float = 1e-3,
             vocab=None, seed: int = 0, warmup: int = 10, log_every: int = 1,
             callback: Callable[[int, float], None] | None = None, progress: bool = True) -> dict:
    """Train ``model`` for ``steps`` AdamW steps on random batches of ``blocks``.

    The batches depend only on ``seed``, so two models trained with the same seed see the same
    token stream in the same order. Linear warm-up over ``warmup`` steps, then a constant rate.
    Returns a :class:`~labutils.core.history.History` (``step``, ``train_loss``, ``lr``, ``seconds``, ``tokens_per_s``); ``callback(step, loss)`` is called
    every ``log_every`` steps (e.g. a live plot's update).
    """
    if steps < 1 or batch_size < 1:
        raise MLMError(f"steps and batch_size must be at least 1, got {steps} and {batch_size}.")
    from labutils.core.progress import tqdm
    device = next(model.parameters()).device
    batches = torch.Generator().manual_seed(seed)
    masking = torch.Generator().manual_seed(seed + 1)
    opt = torch.optim.AdamW(param_groups(model, 0.01), lr=lr, betas=(0.9, 0.98))   # β₂ = 0.98 as RoBERTa
    sched = make_scheduler(opt, "constant_with_warmup", steps, min(warmup, steps))
    model.train()
    hist = History()
    t0 = time.perf_counter()
    bar = tqdm(range(steps), desc=objective.upper(), disable=not progress, leave=False)
    for step in bar:
        idx = torch.randint(len(blocks), (batch_size,), generator=batches)
        batch = blocks[idx].to(device)
        loss = lm_loss(model, batch, objective, vocab=vocab, generator=masking)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        lr_now = sched.get_last_lr()[0]
        sched.step()
        value = loss.item()
        if not math.isfinite(value):
            raise MLMError(f"The {objective} loss became {value} at step {step}; lower the learning rate.")
        if step % log_every == 0 or step == steps - 1:
            hist.log(step, value, lr_now)
            if callback is not None:
                callback(step, value)
        bar.set_postfix(loss=f"{value:.3f}")
    model.eval()
    hist["seconds"] = time.perf_counter() - t0
    hist["tokens_per_s"] = steps * batch_size * blocks.shape[1] / hist["seconds"]
    return hist.check()


@torch.no_grad()
def same_position_accuracy(bert, gpt, blocks: torch.Tensor, vocab, mlm_probability: float = 0.15,
                           seed: int = 0, batch_size: int = 32) -> dict:
    """Top-1 accuracy of both models on the *same* held-out tokens.

    A random ``mlm_probability`` of the real tokens is chosen. The MLM sees each block with all
    chosen tokens replaced by ``[MASK]`` (context on both sides, minus the other blanks); the CLM
    predicts each chosen token from the tokens before it only. Returns ``{"mlm", "clm", "n"}``.
    """
    g = torch.Generator().manual_seed(seed)
    special = torch.tensor(vocab.all_special_ids)
    hits_m = hits_c = n = 0
    bert.eval(), gpt.eval()
    device = next(bert.parameters()).device
    for i in range(0, len(blocks), batch_size):
        ids = blocks[i:i + batch_size]
        chosen = (torch.rand(ids.shape, generator=g) < mlm_probability) & ~torch.isin(ids, special)
        chosen[:, 0] = False  # the CLM cannot predict position 0 (it is [CLS] anyway)
        masked = ids.masked_fill(chosen, vocab.mask_token_id)
        pred_m = bert(input_ids=masked.to(device)).logits.argmax(-1).cpu()
        pred_c = gpt(input_ids=ids.to(device)).logits.argmax(-1).cpu()   # position t predicts t+1
        pred_c = torch.cat([torch.full_like(pred_c[:, :1], -1), pred_c[:, :-1]], dim=1)
        hits_m += int((pred_m == ids)[chosen].sum())
        hits_c += int((pred_c == ids)[chosen].sum())
        n += int(chosen.sum())
    if n == 0:
        raise MLMError("No token was chosen; give more blocks.")
    return {"mlm": hits_m / n, "clm": hits_c / n, "n": n}


def tail_mean(values: Sequence[float], frac: float = 0.1) -> float:
    """Mean of the last ``frac`` of a loss curve (at least one point): a less noisy 'final loss'."""
    k = max(1, int(len(values) * frac))
    return float(sum(values[-k:]) / k)


# ---------------------------------------------------------------------------------------- fill-mask
@torch.no_grad()
def fill_mask(model, vocab: TrimmedVocab, text: str, top_k: int = 5) -> list[list[tuple[str, float]]]:
    """For each ``[MASK]`` in ``text`` (in order), the ``top_k`` tokens and their probabilities."""
    if "[MASK]" not in text:
        raise MLMError("Write [MASK] (capitals, in square brackets) where the model should guess a word.")
    if not 1 <= top_k <= 50:
        raise MLMError(f"top_k must be between 1 and 50, got {top_k}.")
    ids = vocab(text)
    device = next(model.parameters()).device
    model.eval()
    logits = model(input_ids=ids.to(device)).logits[0].float().cpu()
    positions = (ids[0] == vocab.mask_token_id).nonzero().flatten().tolist()
    banned = torch.tensor(vocab.all_special_ids)
    out = []
    for pos in positions:
        scores = logits[pos].clone()
        scores[banned] = float("-inf")          # never suggest [CLS], [MASK], ... as a word
        probs = scores.softmax(-1)
        p, i = probs.topk(top_k)
        out.append(list(zip(vocab.tokens(i), p.tolist())))
    return out


def fill_mask_table(model, vocab: TrimmedVocab, text: str, top_k: int = 5):
    """:func:`fill_mask` as a DataFrame: one row per rank, columns ``[MASK] n`` and ``p n``, and the
    sentence with each mask replaced by its top guess as the caption."""
    import pandas as pd
    guesses = fill_mask(model, vocab, text, top_k)
    table = {}
    for n, g in enumerate(guesses, start=1):
        table[f"[MASK] {n}"] = [tok for tok, _ in g]
        table[f"p {n}"] = [round(p, 3) for _, p in g]
    df = pd.DataFrame(table, index=pd.RangeIndex(1, top_k + 1, name="rank"))
    filled = text
    for g in guesses:
        filled = filled.replace("[MASK]", f"«{g[0][0]}»", 1)
    return df.style.set_caption(html.escape(filled)).format(precision=3)


# ---------------------------------------------------------------------------------------- pictures
def attention_masks_figure(tokens: Sequence[str]):
    """Two heatmaps side by side: who may attend to whom under a causal mask (GPT, CLM) and a
    bidirectional one (BERT, MLM). Rows are queries, columns keys; 1 = allowed."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots
    n = len(tokens)
    if n == 0:
        raise MLMError("Give at least one token.")
    labels = [f"{i}:{t}" for i, t in enumerate(tokens)]
    causal = torch.tril(torch.ones(n, n)).tolist()
    full = torch.ones(n, n).tolist()
    fig = make_subplots(1, 2, subplot_titles=("causal (GPT, CLM): only the past", "bidirectional (BERT, MLM): everything"),
                        horizontal_spacing=0.12)
    for col, z in ((1, causal), (2, full)):
        fig.add_trace(go.Heatmap(z=z, x=labels, y=labels, zmin=0, zmax=1, showscale=False,
                                 colorscale=[[0, "#f4f4f4"], [1, "#3b6fb6"]], xgap=1, ygap=1,
                                 hovertemplate="query %{y}<br>key %{x}<br>allowed %{z}<extra></extra>"),
                      1, col)
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(template="plotly_white", height=420, margin=dict(l=60, r=20, t=50, b=60),
                      title="Attention masks: rows = queries (who looks), columns = keys (who is seen)")
    return fig
