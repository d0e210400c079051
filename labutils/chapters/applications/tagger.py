"""Notebook 13, a neural character tagger for Chinese NER: a character vocabulary, a BiLSTM tagger
(embedding → bidirectional LSTM → linear over the BIO labels, softmax per character, no CRF), its training loop
and batched prediction. MiniLM is not used here: its WordPiece vocabulary turns most Chinese characters into [UNK]."""
from __future__ import annotations

import collections
import random
import time
from typing import Sequence

import torch
from torch import nn

from labutils.chapters.applications.ner import NERError

PAD, UNK = "<pad>", "<unk>"


class CharVocab:
    """Characters seen at least ``min_freq`` times in training get an id; ``<pad>`` is 0, ``<unk>`` is 1."""

    def __init__(self, sentences: Sequence[Sequence[str]], min_freq: int = 2):
        counts = collections.Counter(c for s in sentences for c in s)
        self.itos = [PAD, UNK] + sorted(c for c, n in counts.items() if n >= min_freq)
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, chars: Sequence[str]) -> list[int]:
        """Character ids (unknown characters → 1)."""
        return [self.stoi.get(c, 1) for c in chars]

    def unk_rate(self, sentences: Sequence[Sequence[str]]) -> float:
        """Share of characters in ``sentences`` that map to ``<unk>``."""
        n = sum(len(s) for s in sentences)
        return sum(c not in self.stoi for s in sentences for c in s) / max(n, 1)


class BiLSTMTagger(nn.Module):
    """Embedding → BiLSTM (``layers``) → dropout → linear to ``n_labels`` logits per character.

    ``n_features`` > 0 adds a second, small embedding of one categorical feature per character (here: the
    dictionary's BIO tag for it, a *lexicon feature*), concatenated to the character embedding."""

    def __init__(self, vocab_size: int, n_labels: int, emb: int = 64, hidden: int = 128, layers: int = 1,
                 dropout: float = 0.1, n_features: int = 0, feat_emb: int = 16):
        super().__init__()
        self.emb = nn.Embedding(vocab_size, emb, padding_idx=0)
        self.feat = nn.Embedding(n_features + 1, feat_emb, padding_idx=0) if n_features else None
        self.lstm = nn.LSTM(emb + (feat_emb if n_features else 0), hidden, num_layers=layers, batch_first=True,
                            bidirectional=True)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(2 * hidden, n_labels)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor, feats: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(B, T, n_labels)`` for padded ``ids`` ``(B, T)`` with true ``lengths`` ``(B,)``; ``feats``
        ``(B, T)`` holds feature ids + 1 (0 is padding) when the model has a feature embedding."""
        x = self.emb(ids)
        if self.feat is not None:
            if feats is None:
                raise NERError("This tagger was built with n_features > 0: pass feats.")
            x = torch.cat([x, self.feat(feats)], dim=-1)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        h, _ = self.lstm(packed)
        h, _ = nn.utils.rnn.pad_packed_sequence(h, batch_first=True, total_length=ids.shape[1])
        return self.out(self.drop(h))


def pad_batch(seqs: Sequence[Sequence[int]], value: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad lists of ids to one tensor ``(B, T)``; also return the lengths ``(B,)``."""
    if not seqs or min(len(s) for s in seqs) == 0:
        raise NERError("pad_batch needs at least one sequence and no empty ones.")
    lengths = torch.tensor([len(s) for s in seqs])
    out = torch.full((len(seqs), int(lengths.max())), value, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = torch.tensor(s)
    return out, lengths


def train_tagger(model: BiLSTMTagger, vocab: CharVocab, chars: Sequence[Sequence[str]],
                 labels: Sequence[Sequence[int]], steps: int, batch_size: int = 32, lr: float = 3e-3,
                 max_len: int = 80, seed: int = 0, progress: bool = False,
                 features: Sequence[Sequence[int]] | None = None) -> dict:
    """Train with AdamW on random batches (sentences cut to ``max_len`` characters); cross-entropy per character,
    padding ignored; ``features`` are per-character feature ids (0-based) for a tagger with ``n_features``.
    Returns ``{"loss": [per step], "seconds", "chars_per_s"}``."""
    if len(chars) != len(labels) or not chars:
        raise NERError("train_tagger needs as many label sequences as sentences, and at least one.")
    rng = random.Random(seed)
    torch.manual_seed(seed)
    feats = features if features is not None else [None] * len(chars)
    data = [(vocab.encode(c[:max_len]), list(y[:max_len]), None if f is None else [v + 1 for v in f[:max_len]])
            for c, y, f in zip(chars, labels, feats) if len(c)]
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    loss_fn = nn.CrossEntropyLoss(ignore_index=-100)
    model.train()
    losses, n_chars, t0 = [], 0, time.perf_counter()
    it = range(steps)
    if progress:
        from labutils.core.progress import tqdm
        it = tqdm(it, desc="BiLSTM tagger", leave=False)
    for _ in it:
        batch = rng.sample(data, min(batch_size, len(data)))
        ids, lengths = pad_batch([b[0] for b in batch])
        y, _ = pad_batch([b[1] for b in batch], value=-100)
        fx = pad_batch([b[2] for b in batch])[0] if features is not None else None
        logits = model(ids, lengths, fx)
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        n_chars += int(lengths.sum())
    model.eval()
    seconds = time.perf_counter() - t0
    return {"loss": losses, "seconds": seconds, "chars_per_s": n_chars / max(seconds, 1e-9)}


def predict_tags(model: BiLSTMTagger, vocab: CharVocab, chars: Sequence[Sequence[str]], names: Sequence[str],
                 batch_size: int = 128, features: Sequence[Sequence[int]] | None = None) -> list[list[str]]:
    """BIO tag strings (``names[argmax]``) for each sentence, full length, in the input order (``features`` as in
    :func:`train_tagger`)."""
    order = sorted(range(len(chars)), key=lambda i: len(chars[i]))
    out: list[list[str]] = [[] for _ in chars]
    model.eval()
    with torch.inference_mode():
        for k in range(0, len(order), batch_size):
            idx = [i for i in order[k:k + batch_size] if len(chars[i])]
            if not idx:
                continue
            ids, lengths = pad_batch([vocab.encode(chars[i]) for i in idx])
            fx = pad_batch([[v + 1 for v in features[i]] for i in idx])[0] if features is not None else None
            pred = model(ids, lengths, fx).argmax(-1)
            for row, i in enumerate(idx):
                out[i] = [names[j] for j in pred[row, :len(chars[i])].tolist()]
    return out
