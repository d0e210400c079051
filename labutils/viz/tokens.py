"""Looking at tokenizers: coloured tokens, ids, and the numbers that compare tokenization schemes.

Every tokenizer of notebook 02 is wrapped in a :class:`Scheme` (a name, a ``tokenize`` function
and a vocabulary), so character, word, jieba, BPE and WordPiece tokenizers can be measured the
same way (:func:`measure`: vocabulary size, tokens per text, out-of-vocabulary rate, characters
per token) and shown the same way (:func:`token_view`: coloured tokens with their ids).

Everything here is pure: functions take text and return numbers, strings or figures.
"""
from __future__ import annotations

import collections
import dataclasses
import html
import re
import unicodedata
from typing import Callable, Iterable, Mapping, Sequence

WORD_PATTERN = re.compile(r"\w+|[^\w\s]")  # a word is a run of letters/digits; each punctuation mark stands alone
UNK = "<unk>"
# Pastel backgrounds that stay readable with black text; neighbouring tokens alternate.
COLOURS = ["#ffd6a5", "#caffbf", "#9bf6ff", "#bdb2ff", "#ffc6ff", "#fdffb6", "#a0c4ff", "#ffadad"]


@dataclasses.dataclass
class Scheme:
    """A tokenizer seen from outside: text in, pieces out, and a vocabulary to give them ids.

    ``tokenize(text)`` returns the pieces as ``(shown, token)`` pairs: ``shown`` is the text the
    piece covers (what a reader sees) and ``token`` the vocabulary entry it becomes (``"##ing"``,
    ``"Ġthe"``, or the unknown token). ``vocab`` maps tokens to ids; a token missing from it is
    out of vocabulary (未登录词, OOV) and gets the id of ``unk``.
    """

    name: str
    tokenize: Callable[[str], list[tuple[str, str]]]
    vocab: Mapping[str, int]
    unk: str = UNK
    note: str = ""

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> tuple[list[str], list[int], list[bool]]:
        """``(pieces, ids, is_unknown)`` for ``text``.

        A piece is the vocabulary entry (``"##ing"``), or, for an unknown token, the text it covers.
        """
        pieces, ids, unknown = [], [], []
        unk_id = self.vocab.get(self.unk, -1)
        for shown, token in self.tokenize(text):
            tid = self.vocab.get(token)
            is_unk = tid is None or token == self.unk
            pieces.append(shown if is_unk else token)
            ids.append(unk_id if tid is None else tid)
            unknown.append(is_unk)
        return pieces, ids, unknown

    def tokens(self, text: str) -> list[str]:
        """The vocabulary entries of ``text`` (unknown ones replaced by ``unk``)."""
        return [t if t in self.vocab else self.unk for _, t in self.tokenize(text)]


def build_vocab(token_lists: Iterable[Sequence[str]], *, max_size: int | None = None, min_count: int = 1,
                specials: Sequence[str] = (UNK,)) -> dict[str, int]:
    """A vocabulary from tokenized training texts: ``specials`` first, then the most frequent tokens.

    ``max_size`` counts the special tokens too. Ties in frequency keep first-seen order.
    """
    if max_size is not None and max_size <= len(specials):
        raise ValueError(f"max_size={max_size} leaves no room beside the {len(specials)} special tokens.")
    counts = collections.Counter()
    for toks in token_lists:
        counts.update(toks)
    vocab = {s: i for i, s in enumerate(specials)}
    for tok, c in counts.most_common():
        if c < min_count or (max_size is not None and len(vocab) >= max_size):
            break
        vocab.setdefault(tok, len(vocab))
    return vocab


def _listify(texts: str | Iterable[str]) -> list[str]:
    return [texts] if isinstance(texts, str) else list(texts)


def char_scheme(train_texts: str | Iterable[str], *, max_size: int | None = None, name: str = "char") -> Scheme:
    """Every character is a token (spaces included); the vocabulary is the characters seen in training."""
    texts = _listify(train_texts)
    vocab = build_vocab((list(t) for t in texts), max_size=max_size)

    def tokenize(text: str) -> list[tuple[str, str]]:
        return [(c, c) for c in text]
    return Scheme(name, tokenize, vocab, note="one token per character")


def word_scheme(train_texts: str | Iterable[str], *, max_size: int | None = None, min_count: int = 1,
                lowercase: bool = False, name: str = "word") -> Scheme:
    """Words and punctuation marks (``\\w+|[^\\w\\s]``) are tokens; the vocabulary keeps the most frequent."""
    texts = _listify(train_texts)
    norm = (lambda s: s.lower()) if lowercase else (lambda s: s)
    vocab = build_vocab((WORD_PATTERN.findall(norm(t)) for t in texts), max_size=max_size, min_count=min_count)

    def tokenize(text: str) -> list[tuple[str, str]]:
        return [(w, norm(w)) for w in WORD_PATTERN.findall(text)]
    return Scheme(name, tokenize, vocab, note="split at spaces and punctuation")


def jieba_scheme(train_texts: str | Iterable[str], *, max_size: int | None = None, name: str = "jieba") -> Scheme:
    """Chinese word segmentation (中文分词) with jieba's default dictionary; spaces are dropped."""
    import jieba
    texts = _listify(train_texts)

    def cut(text: str) -> list[str]:
        return [w for w in jieba.lcut(text) if w.strip()]
    vocab = build_vocab((cut(t) for t in texts), max_size=max_size)

    def tokenize(text: str) -> list[tuple[str, str]]:
        return [(w, w) for w in cut(text)]
    return Scheme(name, tokenize, vocab, note="jieba dictionary + HMM word segmentation")


def bpe_scheme(model, *, name: str = "BPE (ours)") -> Scheme:
    """Wrap a :class:`labutils.bpe.BPEModel`."""
    return Scheme(name, model.encode_pieces, model.vocab, unk=model.unk_token, note=f"{len(model.merges)} merges")


def hf_scheme(tokenizer, *, name: str, add_special_tokens: bool = False) -> Scheme:
    """Wrap a ``tokenizers.Tokenizer`` or a fast ``transformers`` tokenizer.

    Pieces are shown as the original text they cover (from the offsets), so an ``[UNK]`` still
    shows which characters it swallowed.
    """
    backend = getattr(tokenizer, "backend_tokenizer", tokenizer)
    if not hasattr(backend, "encode") or not hasattr(backend, "get_vocab"):
        raise TypeError(f"hf_scheme() needs a tokenizers.Tokenizer or a fast HF tokenizer, got {type(tokenizer).__name__}.")
    from tokenizers import Tokenizer
    backend = Tokenizer.from_str(backend.to_str())  # a private copy: a saved tokenizer may pad to a fixed length
    backend.no_padding()
    backend.no_truncation()
    vocab = backend.get_vocab()
    unk = getattr(tokenizer, "unk_token", None) or getattr(backend.model, "unk_token", None) or UNK

    def tokenize(text: str) -> list[tuple[str, str]]:
        enc = backend.encode(text, add_special_tokens=add_special_tokens)
        return [((text[a:b] if b > a else tok), tok) for tok, (a, b) in zip(enc.tokens, enc.offsets)]
    return Scheme(name, tokenize, vocab, unk=unk, note=type(backend.model).__name__)


def oov_rate(scheme: Scheme, texts: str | Iterable[str]) -> float:
    """Fraction of the tokens of ``texts`` that are out of ``scheme``'s vocabulary (unknown)."""
    total = unknown = 0
    for t in _listify(texts):
        _, _, unk = scheme.encode(t)
        total += len(unk)
        unknown += sum(unk)
    if total == 0:
        raise ValueError("oov_rate() got texts without a single token.")
    return unknown / total


def measure(scheme: Scheme, texts: str | Iterable[str]) -> dict:
    """Vocabulary size, total and mean tokens per text, OOV rate and characters per token on ``texts``.

    Characters per token counts every character of the texts, spaces included (the compression ratio).
    """
    texts = _listify(texts)
    if not texts:
        raise ValueError("measure() needs at least one text.")
    n_tok = n_unk = 0
    for t in texts:
        _, _, unk = scheme.encode(t)
        n_tok += len(unk)
        n_unk += sum(unk)
    n_chars = sum(len(t) for t in texts)
    return {"scheme": scheme.name, "vocab_size": scheme.vocab_size, "tokens": n_tok,
            "mean_tokens": n_tok / len(texts), "oov_rate": n_unk / max(n_tok, 1),
            "chars_per_token": n_chars / max(n_tok, 1)}


def _shown(piece: str) -> str:
    if piece == "":
        return "∅"
    return piece.replace(" ", "␣").replace("\n", "⏎").replace("\t", "⇥")


def token_html(pieces: Sequence[str], ids: Sequence[int] | None = None,
               unknown: Sequence[bool] | None = None, *, max_tokens: int = 400) -> str:
    """Coloured spans, one per token (hover for the id); unknown tokens get a red frame."""
    spans = []
    for i, piece in enumerate(pieces[:max_tokens]):
        unk = bool(unknown[i]) if unknown is not None else False
        style = (f"background:{COLOURS[i % len(COLOURS)]};padding:1px 2px;margin:1px;border-radius:3px;"
                 "display:inline-block;font-family:monospace;color:#000;"
                 + ("outline:2px solid #d00;" if unk else ""))
        title = f"id {ids[i]}" if ids is not None else f"token {i}"
        title += " (unknown)" if unk else ""
        spans.append(f"<span title='{html.escape(title)}' style='{style}'>{html.escape(_shown(piece))}</span>")
    more = f" <i>… {len(pieces) - max_tokens} more</i>" if len(pieces) > max_tokens else ""
    return "<div style='line-height:1.9'>" + "".join(spans) + more + "</div>"


@dataclasses.dataclass
class TokenView:
    """What :func:`token_view` returns: the pieces, ids and counts, displayed as coloured HTML."""

    scheme: str
    text: str
    pieces: list[str]
    ids: list[int]
    unknown: list[bool]
    vocab_size: int

    @property
    def n_tokens(self) -> int:
        return len(self.pieces)

    @property
    def n_unknown(self) -> int:
        return sum(self.unknown)

    @property
    def chars_per_token(self) -> float:
        return len(self.text) / max(self.n_tokens, 1)

    def summary(self) -> str:
        return (f"{self.scheme}: {self.n_tokens} tokens for {len(self.text)} characters "
                f"({self.chars_per_token:.2f} chars/token), {self.n_unknown} unknown, vocabulary {self.vocab_size:,}")

    def _repr_html_(self) -> str:
        ids = " ".join(str(i) for i in self.ids[:60]) + (" …" if len(self.ids) > 60 else "")
        return (f"<p><b>{html.escape(self.summary())}</b></p>"
                + token_html(self.pieces, self.ids, self.unknown)
                + f"<p style='font-family:monospace;font-size:90%'>ids: {html.escape(ids)}</p>")

    def __str__(self) -> str:
        return self.summary() + "\n" + " | ".join(_shown(p) for p in self.pieces)


@dataclasses.dataclass
class TokenViews:
    """Several :class:`TokenView` of the same text, one under the other."""

    views: list[TokenView]

    def _repr_html_(self) -> str:
        return "<hr style='margin:4px 0'>".join(v._repr_html_() for v in self.views)

    def __str__(self) -> str:
        return "\n\n".join(str(v) for v in self.views)


def token_view(text: str, scheme: str | Scheme, schemes: Mapping[str, Scheme] | None = None):
    """Tokenize ``text`` with ``scheme`` (a :class:`Scheme`, or a name looked up in ``schemes``).

    ``scheme="all"`` returns a :class:`TokenViews` with every scheme in ``schemes``.
    """
    if not isinstance(text, str):
        raise TypeError(f"token_view() needs the text as a string, got {type(text).__name__}.")
    if scheme == "all" and schemes:
        return TokenViews([token_view(text, s) for s in schemes.values()])
    if isinstance(scheme, str):
        if not schemes or scheme not in schemes:
            raise ValueError(f"Unknown tokenizer {scheme!r}; choose one of: {', '.join(schemes or {})}.")
        scheme = schemes[scheme]
    pieces, ids, unknown = scheme.encode(text)
    return TokenView(scheme.name, text, pieces, ids, unknown, scheme.vocab_size)


# --- normalisation -------------------------------------------------------------------------------

def strip_accents(text: str) -> str:
    """Remove combining marks after NFD decomposition: ``"café"`` → ``"cafe"``."""
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def normalize(text: str, *, form: str | None = "NFKC", casefold: bool = False, accents: bool = True,
              whitespace: bool = False) -> str:
    """Clean ``text`` step by step: Unicode normal form, case folding, accent removal, whitespace.

    ``form``: ``"NFC"``, ``"NFKC"`` (compatibility: full-width → ASCII, ligatures split, ...) or None.
    ``accents=False`` strips accents. ``whitespace=True`` collapses every run of white space
    (tabs, newlines, no-break and ideographic spaces) into one space and trims the ends.
    """
    if form is not None:
        if form not in ("NFC", "NFD", "NFKC", "NFKD"):
            raise ValueError(f"Unknown Unicode form {form!r}; choose NFC, NFD, NFKC, NFKD or None.")
        text = unicodedata.normalize(form, text)
    if casefold:
        text = text.casefold()
    if not accents:
        text = strip_accents(text)
    if whitespace:
        text = " ".join(text.split())
    return text


def normalization_table(examples: Mapping[str, str]):
    """A DataFrame: each example through NFKC, case folding, accent stripping and whitespace clean-up."""
    import pandas as pd
    rows = []
    for label, text in examples.items():
        nfkc = normalize(text)
        rows.append({"example": label, "original": text, "NFKC": nfkc,
                     "+ casefold": normalize(text, casefold=True),
                     "+ strip accents": normalize(text, casefold=True, accents=False),
                     "+ whitespace": normalize(text, casefold=True, accents=False, whitespace=True),
                     "NFKC changed it": nfkc != text})
    return pd.DataFrame(rows).set_index("example")


# --- plots ---------------------------------------------------------------------------------------

def tradeoff_figure(rows: Sequence[Mapping], *, title: str = "Vocabulary size vs sequence length vs OOV"):
    """Two panels from :func:`measure` rows grouped by ``family``: tokens per text and OOV rate vs vocab size."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots
    if not rows:
        raise ValueError("tradeoff_figure() needs at least one measured row.")
    fig = make_subplots(rows=1, cols=2, subplot_titles=("tokens per text (mean)", "out-of-vocabulary rate"))
    families: dict[str, list[Mapping]] = {}
    for r in rows:
        families.setdefault(r.get("family", r["scheme"]), []).append(r)
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
    for i, (fam, rs) in enumerate(families.items()):
        rs = sorted(rs, key=lambda r: r["vocab_size"])
        colour = palette[i % len(palette)]
        text = [r["scheme"] for r in rs]
        for col, key in ((1, "mean_tokens"), (2, "oov_rate")):
            fig.add_trace(go.Scatter(x=[r["vocab_size"] for r in rs], y=[r[key] for r in rs], text=text,
                                     mode="lines+markers", name=fam, legendgroup=fam, showlegend=col == 1,
                                     line=dict(color=colour),
                                     hovertemplate="%{text}<br>vocab %{x:,}<br>%{y:.4g}<extra></extra>"),
                          row=1, col=col)
    fig.update_xaxes(type="log", title_text="vocabulary size (log)")
    fig.update_layout(title=title, template="plotly_white", height=400, margin=dict(l=50, r=20, t=70, b=40))
    return fig
