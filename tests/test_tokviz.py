"""Token views and tokenization statistics."""
import plotly.graph_objects as go
import pytest

from labutils.chapters import bpe
from labutils.viz import tokens as tokviz

TRAIN = ["the cat sat on the mat", "the dog sat"]
VALID = ["the cat ate the fish"]


def test_build_vocab_orders_by_frequency_and_caps():
    vocab = tokviz.build_vocab([["a", "b", "a"], ["c", "a", "b"]])
    assert vocab == {"<unk>": 0, "a": 1, "b": 2, "c": 3}
    assert len(tokviz.build_vocab([["a", "b", "c"]], max_size=2)) == 2
    with pytest.raises(ValueError):
        tokviz.build_vocab([["a"]], max_size=1)


def test_word_scheme_oov_and_measure():
    scheme = tokviz.word_scheme(TRAIN)
    pieces, ids, unknown = scheme.encode("the fish sat")
    assert pieces == ["the", "fish", "sat"] and unknown == [False, True, False]
    assert ids[1] == scheme.vocab["<unk>"]
    assert tokviz.oov_rate(scheme, VALID) == pytest.approx(2 / 5)     # ate, fish
    m = tokviz.measure(scheme, VALID)
    assert m["tokens"] == 5 and m["mean_tokens"] == 5 and m["oov_rate"] == pytest.approx(0.4)
    assert m["chars_per_token"] == pytest.approx(len(VALID[0]) / 5)
    capped = tokviz.word_scheme(TRAIN, max_size=2)                      # <unk> + "the"
    assert tokviz.oov_rate(capped, VALID) == pytest.approx(3 / 5)


def test_char_scheme_counts_spaces():
    scheme = tokviz.char_scheme(TRAIN)
    assert tokviz.measure(scheme, ["ab c"])["tokens"] == 4
    assert tokviz.oov_rate(scheme, ["zz"]) == 1.0


def test_jieba_scheme_segments_words():
    scheme = tokviz.jieba_scheme(["我们在学习自然语言处理", "今天天气很好"])
    toks = scheme.tokens("我们学习自然语言处理")
    assert "".join(toks) == "我们学习自然语言处理" and len(toks) < 10


def test_bpe_and_hf_schemes_agree_on_tokens():
    text = "the cat sat on the mat the cat"
    model = bpe.train_bpe(text, 8, tie_break="library")
    lib = bpe.library_bpe_tokenizer(text, len(model.alphabet) + 8, unk_token="[UNK]")
    ours, theirs = tokviz.bpe_scheme(model), tokviz.hf_scheme(lib, name="lib")
    assert ours.tokens("the mat") == theirs.tokens("the mat")
    assert theirs.unk == "[UNK]" and tokviz.oov_rate(theirs, ["the dog"]) > 0


def test_token_view_and_html():
    scheme = tokviz.word_scheme(TRAIN)
    view = tokviz.token_view("the <cat> fish", "word", {"word": scheme})
    assert view.n_tokens == 5 and view.n_unknown == 3 and view.unknown == [False, True, False, True, True]
    html = view._repr_html_()
    assert "&lt;" in html and "outline:2px solid" in html and "5 tokens" in html
    with pytest.raises(ValueError, match="word"):
        tokviz.token_view("x", "nope", {"word": scheme})
    both = tokviz.token_view("the cat", "all", {"word": scheme, "char": tokviz.char_scheme(TRAIN)})
    assert [v.n_tokens for v in both.views] == [2, 7] and "<hr" in both._repr_html_()
    assert "␣" in tokviz.token_html([" "]) and "more" in tokviz.token_html(["a"] * 5, max_tokens=2)


def test_normalize_examples():
    assert tokviz.normalize("ＡＢＣ１２３") == "ABC123"
    assert tokviz.normalize("ﬁnance") == "finance"
    assert tokviz.normalize("Straße", casefold=True) == "strasse"
    assert tokviz.normalize("café", accents=False) == "cafe"
    assert tokviz.normalize("a\u3000 b\n", whitespace=True) == "a b"
    assert tokviz.normalize("x²") == "x2" and tokviz.normalize("x²", form="NFC") == "x²"
    with pytest.raises(ValueError):
        tokviz.normalize("a", form="NFX")
    table = tokviz.normalization_table({"ligature": "ﬁ", "plain": "abc"})
    assert bool(table.loc["ligature", "NFKC changed it"]) and not bool(table.loc["plain", "NFKC changed it"])


def test_tradeoff_figure():
    rows = [{"scheme": "w1", "family": "word", "vocab_size": 10, "mean_tokens": 5, "oov_rate": 0.2},
            {"scheme": "w2", "family": "word", "vocab_size": 100, "mean_tokens": 5, "oov_rate": 0.1},
            {"scheme": "char", "vocab_size": 30, "mean_tokens": 20, "oov_rate": 0.0}]
    fig = tokviz.tradeoff_figure(rows)
    assert isinstance(fig, go.Figure) and len(fig.data) == 4
    assert list(fig.data[0].x) == [10, 100]
    with pytest.raises(ValueError):
        tokviz.tradeoff_figure([])


def test_tokenizer_widget_headless_and_watched(monkeypatch):
    from labutils import widgets
    schemes = {"word": tokviz.word_scheme(TRAIN), "char": tokviz.char_scheme(TRAIN)}
    monkeypatch.setenv("LABUTILS_HEADLESS", "1")
    out = widgets.tokenizer_widget(schemes, text="the cat").value
    assert [v.n_tokens for v in out.views] == [2, 7]
    one = widgets.tokenizer_widget(schemes, text="the cat", start="char").value
    assert one.n_tokens == 7
    with pytest.raises(ValueError, match="char"):
        widgets.tokenizer_widget(schemes, start="bytes")
    monkeypatch.setenv("LABUTILS_HEADLESS", "0")
    import ipywidgets as W
    box = widgets.tokenizer_widget(schemes, text="the cat").value
    assert isinstance(box, W.VBox)
