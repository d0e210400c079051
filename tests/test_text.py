"""labutils.text: corpora, the two tokenizers, encoding and packing."""
import pytest
import torch

from labutils.data import tokenizers as T

SAMPLE = ("In the beginning God created the heaven and the earth.\n"
          "And the earth was without form, and void; and darkness was upon the face of the deep.\n") * 20


def test_char_tokenizer_round_trip_and_eot_last(tmp_path):
    tok = T.char_tokenizer(SAMPLE)
    n_chars = len(set(SAMPLE))
    assert len(tok) == n_chars + 2
    assert tok.convert_ids_to_tokens(len(tok) - 1) == T.EOT == tok.eos_token
    assert tok.eos_token_id == tok.bos_token_id == tok.pad_token_id == len(tok) - 1
    s = "And God said, Let there be light.\n"
    s = "".join(c for c in s if c in SAMPLE)
    ids = tok(s)["input_ids"]
    assert len(ids) == len(s) and tok.decode(ids) == s
    assert tok("é")["input_ids"] == [tok.unk_token_id]          # unseen character → <|unk|>
    tok.save_pretrained(tmp_path)
    from transformers import AutoTokenizer
    again = AutoTokenizer.from_pretrained(tmp_path)
    assert again(s)["input_ids"] == ids and len(again) == len(tok) and again.eos_token == T.EOT


def test_char_fast_path_equals_tokenizer():
    tok = T.char_tokenizer(SAMPLE)
    text = SAMPLE[:500] + "é€ and more\n"
    fast = T.encode_corpus(tok, text)
    slow = torch.tensor(tok.backend_tokenizer.encode(text, add_special_tokens=False).ids)
    assert fast.dtype == torch.long and torch.equal(fast, slow)
    with pytest.raises(T.TextDataError):
        T.char_tokenizer("")


def test_bpe_tokenizer_byte_level(tmp_path):
    tok = T.train_bpe_tokenizer(SAMPLE, vocab_size=300)
    assert len(tok) <= 300
    assert tok.convert_ids_to_tokens(len(tok) - 1) == T.EOT == tok.eos_token
    for s in ("the earth was void", "中文 🙂 unseen text"):
        assert tok.decode(tok(s)["input_ids"]) == s             # byte level: nothing is unknown
    assert len(tok("the earth")["input_ids"]) < len("the earth")  # merges shorten common words
    ids = T.encode_corpus(tok, SAMPLE)
    assert torch.equal(ids, torch.tensor(tok(SAMPLE)["input_ids"]))
    tok.save_pretrained(tmp_path)
    from transformers import AutoTokenizer
    assert AutoTokenizer.from_pretrained(tmp_path)("the earth")["input_ids"] == tok("the earth")["input_ids"]
    with pytest.raises(T.TextDataError):
        T.train_bpe_tokenizer(SAMPLE, vocab_size=100)


def test_pack_blocks_shapes_and_coverage():
    ids = torch.arange(1000)
    ds = T.pack_blocks(ids, 64)
    assert len(ds) == (1000 - 65) // 64 + 1
    first, second = ds[0]["input_ids"], ds[1]["input_ids"]
    assert first.shape == (65,) and first[-1] == second[0]      # neighbours share one token
    assert len(T.pack_blocks(ids, 64, max_blocks=5)) == 5
    with pytest.raises(T.TextDataError):
        T.pack_blocks(torch.arange(10), 64)


def test_split_text_is_contiguous_and_load_corpus_errors(tmp_path):
    text = "".join(f"line {i}\n" for i in range(1000))
    train, val = T.split_text(text, 0.1)
    assert train + val == text and train.endswith("\n") and 0.08 < len(val) / len(text) < 0.12
    with pytest.raises(T.TextDataError, match="does not exist"):
        T.load_corpus(text_file=tmp_path / "nope.txt")
    small = tmp_path / "small.txt"
    small.write_text("too short", encoding="utf-8")
    with pytest.raises(T.TextDataError, match="at least"):
        T.load_corpus(text_file=small)
    good = tmp_path / "good.txt"
    good.write_text(text, encoding="utf-8")
    tr, va = T.load_corpus(text_file=good, max_chars=1000)
    assert len(tr) <= 1000 and va == val
    with pytest.raises(T.TextDataError, match="Unknown corpus"):
        T.load_corpus("shakespeare")
