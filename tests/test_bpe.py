"""BPE from scratch: training trace, encode/decode, and agreement with Hugging Face tokenizers."""
import random

import pytest

from labutils.chapters import bpe

TINY = " ".join(["low"] * 5 + ["lower"] * 2 + ["newest"] * 6 + ["widest"] * 3)


def test_pretokenize_modes():
    assert bpe.pretokenize("Hi, you!") == ["Hi", ",", "you", "!"]
    assert bpe.pretokenize("Hi, you", "metaspace") == ["▁Hi,", "▁you"]
    with pytest.raises(ValueError, match="whitespace"):
        bpe.pretokenize("x", "bytes")


def test_merge_pair_left_to_right():
    assert bpe.merge_pair(list("aaa"), ("a", "a")) == ["aa", "a"]
    assert bpe.merge_pair(list("banana"), ("a", "n")) == ["b", "an", "an", "a"]
    assert bpe.merge_pair([], ("a", "b")) == []


def test_first_merges_on_the_classic_example():
    model = bpe.train_bpe(TINY, 4)
    assert model.merges == [("e", "s"), ("es", "t"), ("l", "o"), ("lo", "w")]
    first = model.steps[0]
    assert first.count == 9 and first.token == "es"          # newest 6 + widest 3
    # every merge removes exactly `count` symbols from the corpus
    totals = [sum(len(w) for w in TINY.split())] + [s.corpus_tokens for s in model.steps]
    assert all(a - b == s.count for a, b, s in zip(totals, totals[1:], model.steps))
    assert model.encode("lowest") == ["low", "est"]
    assert model.vocab_size == 1 + len(model.alphabet) + 4


def test_vocab_size_budget_and_errors():
    model = bpe.train_bpe(TINY, vocab_size=13)
    assert len(model.alphabet) + len(model.merges) == 13
    with pytest.raises(ValueError, match="exactly one"):
        bpe.train_bpe(TINY)
    with pytest.raises(ValueError, match="alphabet"):
        bpe.train_bpe(TINY, vocab_size=3)
    with pytest.raises(ValueError, match="tie_break"):
        bpe.train_bpe(TINY, 3, tie_break="random")


def test_training_stops_when_every_word_is_one_token():
    model = bpe.train_bpe("ab ab cd", 50)
    assert model.merges == [("a", "b"), ("c", "d")]


def test_unknown_characters_and_decode():
    model = bpe.train_bpe("the cat sat on the mat", 10, pretokenizer="metaspace")
    text = "the cat sat on the hat"
    assert model.decode(model.encode_ids(text)) == text.replace("h", "h")  # h is known
    assert "<unk>" in model.encode("the dog")                               # d, o, g were never seen
    pieces = model.encode_pieces("the dog")
    assert "".join(shown for shown, _ in pieces) == "▁the▁dog" and ("d", "<unk>") in pieces
    ws = bpe.train_bpe("the cat sat", 5)
    assert ws.decode(ws.encode("the cat")) == "thecat"                      # whitespace mode loses spaces


def test_incremental_counts_match_a_full_recount():
    random.seed(1)
    text = " ".join("".join(random.choice("abc") for _ in range(random.randint(1, 7))) for _ in range(200))
    model = bpe.train_bpe(text, 25)
    words = [list(w) for w in text.split()]
    for step in model.steps:
        counts = {}
        for w in words:
            for p in zip(w, w[1:]):
                counts[p] = counts.get(p, 0) + 1
        best = max(counts.values())
        assert counts[step.pair] == step.count == best
        assert sum(1 for c in counts.values() if c == best) - 1 == step.tied_with
        words = [bpe.merge_pair(w, step.pair) for w in words]


@pytest.mark.parametrize("text", [TINY, "aaa aa a aaaa ab ba abab", "the cat sat on the mat with the hat"])
def test_library_tie_break_reproduces_tokenizers_exactly(text):
    alphabet = len({c for w in bpe.pretokenize(text) for c in w})
    lib = bpe.library_merges(bpe.library_bpe_tokenizer(text, alphabet + 30))
    ours = bpe.train_bpe(text, 30, tie_break="library")
    summary, rows = bpe.compare_merges(ours, lib)
    assert summary["same_rank"] == 1.0 and rows == []


def test_lexical_tie_break_differs_only_at_ties():
    alphabet = len({c for w in bpe.pretokenize(TINY) for c in w})
    lib = bpe.library_merges(bpe.library_bpe_tokenizer(TINY, alphabet + 12))
    ours = bpe.train_bpe(TINY, 12, tie_break="lexical")
    summary, rows = bpe.compare_merges(ours, lib)
    assert 0 < summary["same_rank"] < 1 and summary["first_difference"] == 6
    assert rows[0]["rank"] == 6 and rows[0]["tied pairs"] > 0    # the first difference is a tie
    assert {"n" + "ew" + "est", "new" + "est"} & {r["ours"].replace(" + ", "") for r in rows} == {"newest"}


def test_encode_matches_library_with_its_merges():
    text = "In the beginning God created the heaven and the earth. And the earth was without form, and void."
    alphabet = len({c for w in bpe.pretokenize(text) for c in w})
    tok = bpe.library_bpe_tokenizer(text, alphabet + 40)
    ours = bpe.train_bpe(text, 40, tie_break="library")
    for probe in ["the heaven and the earth", "God created", "earthen void"]:
        assert ours.encode(probe) == tok.encode(probe).tokens


def test_compare_merges_counts_sets_and_ranks():
    summary, rows = bpe.compare_merges([("a", "b"), ("c", "d")], [("c", "d"), ("a", "b")])
    assert summary == {"n": 2, "same_rank": 0.0, "same_set": 1.0, "first_difference": 1}
    assert rows[0]["ours"] == "a + b"
    with pytest.raises(ValueError):
        bpe.compare_merges([], [])


def test_steps_table():
    table = bpe.train_bpe(TINY, 3).steps_table()
    assert list(table.index) == [1, 2, 3] and table.loc[1, "pair"] == "e + s"
