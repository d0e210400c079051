"""Text → token ids → training blocks: the data pipeline of notebook 04 (and of ``course_gpt()``).

* :func:`load_corpus` - ``(train_text, val_text)`` from a course corpus (``kjv`` is split by whole
  books, ``zh_news`` by paragraph) or from any UTF-8 file (cut once, train = the first part,
  validation = the last part, so no window of text is in both).
* :func:`char_tokenizer` - a character-level ``PreTrainedTokenizerFast`` (one id per character).
* :func:`train_bpe_tokenizer` - a byte-level BPE ``PreTrainedTokenizerFast`` trained on your text.
* :func:`encode_corpus` - a whole text as one 1-D ``torch.long`` tensor of ids.
* :func:`pack_blocks` - those ids cut into ``block_size + 1`` windows, as a ``datasets.Dataset``.

Both tokenizers end their vocabulary with ``<|endoftext|>`` (the LAST id, which is also what
``labutils.models.tiny_gpt_config`` uses for bos/eos by default), and both round-trip through
``save_pretrained`` / ``AutoTokenizer.from_pretrained``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

from labutils.core.errors import TextDataError  # noqa: F401 (re-exported)

EOT = "<|endoftext|>"
UNK = "<|unk|>"
CORPORA = ("kjv", "zh_news")
MIN_CHARS = 2_000          # a text file shorter than this cannot fill train and validation blocks


# ------------------------------------------------------------------------------ corpora
def split_text(text: str, val_fraction: float = 0.1) -> tuple[str, str]:
    """Cut ``text`` once, at the line break nearest to ``1 - val_fraction`` of its length.

    Train is everything before the cut, validation everything after: a contiguous split, so no
    training window overlaps a validation window (a random split of lines or of windows would let
    the model see the validation text's neighbourhood).
    """
    if not 0 < val_fraction < 1:
        raise TextDataError(f"val_fraction must lie strictly between 0 and 1, not {val_fraction!r}.")
    cut = int(len(text) * (1 - val_fraction))
    nl = text.rfind("\n", 0, cut)
    if nl > len(text) * (1 - 2 * val_fraction):    # a line break close enough to the target
        cut = nl + 1
    return text[:cut], text[cut:]


def load_corpus(corpus: str = "kjv", text_file: str | os.PathLike | None = None,
                max_chars: int | None = None, val_fraction: float = 0.1,
                max_val_chars: int | None = None) -> tuple[str, str]:
    """``(train_text, val_text)`` for pretraining.

    ``text_file=None``: the course corpus ``corpus`` (``"kjv"``: King James Bible, validation =
    whole held-out books; ``"zh_news"``: People's Daily 1998, validation = held-out paragraphs).
    Otherwise any UTF-8 text file, split with :func:`split_text`. ``max_chars`` caps the training
    text and ``max_val_chars`` the validation text (whole lines, from the start).
    """
    if text_file is not None:
        path = Path(text_file).expanduser()
        if not path.is_file():
            raise TextDataError(f"TEXT_FILE {str(path)!r} does not exist; give the path of a UTF-8 text "
                                "file, or None for the course corpus.")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise TextDataError(f"TEXT_FILE {str(path)!r} is not UTF-8 text; convert it (e.g. "
                                "`iconv -t utf-8`) or use None for the course corpus.") from None
        if len(text) < MIN_CHARS:
            raise TextDataError(f"TEXT_FILE {str(path)!r} has {len(text):,} characters; pretraining needs "
                                f"at least {MIN_CHARS:,} (better 100,000 or more).")
        train, val = split_text(text, val_fraction)
    else:
        if corpus not in CORPORA:
            raise TextDataError(f"Unknown corpus {corpus!r}; choose one of: {', '.join(CORPORA)} "
                                "(or set TEXT_FILE to a UTF-8 file).")
        from labutils.data.registry import corpus_text
        train = corpus_text(corpus, "train", max_chars)
        val = corpus_text(corpus, "validation", max_val_chars)
        return train, val
    return _cap(train, max_chars), _cap(val, max_val_chars)


def _cap(text: str, max_chars: int | None) -> str:
    if max_chars is None or len(text) <= max_chars:
        return text
    nl = text.rfind("\n", 0, max_chars)
    return text[:nl + 1] if nl > max_chars // 2 else text[:max_chars]


# ------------------------------------------------------------------------------ tokenizers
def _wrap(backend, model_max_length: int | None = None):
    from transformers import PreTrainedTokenizerFast
    kw: dict[str, Any] = dict(tokenizer_object=backend, eos_token=EOT, bos_token=EOT, pad_token=EOT)
    if backend.token_to_id(UNK) is not None:
        kw["unk_token"] = UNK
    if model_max_length:
        kw["model_max_length"] = model_max_length
    return PreTrainedTokenizerFast(**kw)


def char_tokenizer(text: str | Iterable[str], model_max_length: int | None = None):
    """A character-level tokenizer: one id per distinct character of ``text``, sorted by code point.

    The vocabulary is ``[chars..., "<|unk|>", "<|endoftext|>"]``: a character that was not in
    ``text`` becomes ``<|unk|>``, and ``<|endoftext|>`` is the last id (bos = eos = pad).
    Decoding concatenates characters, so ``decode(encode(s)) == s`` for text in the alphabet.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    chars: set[str] = set()
    for piece in ([text] if isinstance(text, str) else text):
        chars.update(piece)
    if not chars:
        raise TextDataError("char_tokenizer needs a non-empty text to take its alphabet from.")
    vocab = {c: i for i, c in enumerate(sorted(chars))}
    vocab[UNK] = len(vocab)
    vocab[EOT] = len(vocab)
    backend = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    backend.decoder = decoders.Fuse()
    backend.add_special_tokens([UNK, EOT])
    return _wrap(backend, model_max_length)


def train_bpe_tokenizer(text: str | Iterable[str], vocab_size: int = 2048,
                        model_max_length: int | None = None, min_frequency: int = 2):
    """A byte-level BPE tokenizer (GPT-2's scheme) trained on ``text``; ``<|endoftext|>`` is the last id.

    Byte level means no unknown tokens: any string (Chinese, emoji) falls back to its UTF-8 bytes.
    ``vocab_size`` counts the 256 byte symbols, the merges and the special token.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    if vocab_size < 258:
        raise TextDataError(f"A byte-level BPE needs vocab_size ≥ 258 (256 bytes + merges + {EOT}), "
                            f"not {vocab_size}.")
    texts = text.splitlines(keepends=True) if isinstance(text, str) else list(text)
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size - 1, min_frequency=min_frequency, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=[])
    backend.train_from_iterator(texts, trainer)
    backend.add_special_tokens([EOT])          # appended: the last id
    return _wrap(backend, model_max_length)


# ------------------------------------------------------------------------------ ids and blocks
def encode_corpus(tokenizer, text: str, chunk_lines: int = 2_000):
    """The whole ``text`` as a 1-D ``torch.long`` tensor of token ids (no special tokens added).

    The text is encoded in chunks of whole lines (fast, and the same ids as encoding it in one
    piece for both course tokenizers, whose pre-tokenizers split at line breaks anyway).
    """
    import numpy as np
    import torch
    backend = getattr(tokenizer, "backend_tokenizer", tokenizer)
    table = _char_table(backend)
    if table is not None:          # character level: a lookup table over code points (100× faster)
        points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        unk = table[-1]
        ids = np.full(len(points), unk, dtype=np.int64)
        inside = points < len(table) - 1
        ids[inside] = table[points[inside]]
        return torch.from_numpy(ids)
    lines = text.splitlines(keepends=True)
    chunks = ["".join(lines[i:i + chunk_lines]) for i in range(0, len(lines), chunk_lines)]
    parts = [np.asarray(e.ids, dtype=np.int64) for e in backend.encode_batch(chunks, add_special_tokens=False)]
    if not parts:
        return torch.zeros(0, dtype=torch.long)
    return torch.from_numpy(np.concatenate(parts))


def _char_table(backend):
    """For a :func:`char_tokenizer`: an array mapping code point → id (last entry: the unknown id); else None."""
    import json

    import numpy as np
    cached = getattr(backend, "_labutils_char_table", None)
    if cached is not None:
        return cached
    state = json.loads(backend.to_str())
    model = state.get("model", {})
    if model.get("type") != "WordLevel" or (state.get("decoder") or {}).get("type") != "Fuse":
        return None
    vocab = model["vocab"]
    chars = {k: v for k, v in vocab.items() if len(k) == 1}
    if UNK not in vocab or not chars:
        return None
    table = np.full(max(map(ord, chars)) + 2, vocab[UNK], dtype=np.int64)
    for ch, i in chars.items():
        table[ord(ch)] = i
    try:
        backend._labutils_char_table = table
    except AttributeError:  # a Rust object may refuse new attributes; then we recompute next time
        pass
    return table


def pack_blocks(ids, block_size: int, stride: int | None = None, max_blocks: int | None = None):
    """Cut a 1-D id sequence into windows of ``block_size + 1`` tokens, as a ``datasets.Dataset``.

    Each row has ``input_ids`` (``block_size + 1`` ids): a model reads the first ``block_size`` and
    predicts the last ``block_size`` (the same window shifted by one). ``stride`` defaults to
    ``block_size``, so neighbouring windows share exactly one token and every token is predicted
    once. The tail that does not fill a window is dropped. ``max_blocks`` keeps that many windows
    spread evenly over the sequence.
    """
    import datasets
    import torch
    ids = torch.as_tensor(ids, dtype=torch.long).flatten()
    stride = block_size if stride is None else stride
    if block_size < 1 or stride < 1:
        raise TextDataError(f"block_size and stride must be positive, not {block_size} and {stride}.")
    n = (len(ids) - block_size - 1) // stride + 1 if len(ids) > block_size else 0
    if n <= 0:
        raise TextDataError(f"The text has {len(ids):,} tokens, fewer than one block of {block_size + 1}; "
                            "use a longer text or a smaller block_size.")
    starts = torch.arange(n) * stride
    if max_blocks is not None and n > max_blocks:
        starts = starts[torch.linspace(0, n - 1, max_blocks).round().long()]
    windows = ids[starts[:, None] + torch.arange(block_size + 1)[None, :]]
    ds = datasets.Dataset.from_dict({"input_ids": windows.numpy()})
    return ds.with_format("torch")
