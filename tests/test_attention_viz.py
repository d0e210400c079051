"""Attention heatmaps and sources: shapes, labels, errors, and the widget's static path."""
import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from labutils.models import scratch as sg
from labutils.viz import attention as av


class _CharTokenizer:
    """A stand-in for a transformers tokenizer: one token per character."""

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [ord(c) % 50 for c in text]}

    def convert_ids_to_tokens(self, ids):
        return [f"t{i}" for i in ids]


@pytest.fixture(scope="module")
def source():
    torch.manual_seed(0)
    model = sg.ScratchGPT(sg.GPTConfig(50, 16, 16, 2, 2)).eval()
    return av.gpt_source(model, _CharTokenizer(), max_tokens=10)


def test_heatmap_keeps_repeated_tokens_apart():
    w = np.full((3, 3), 1 / 3)
    fig = av.attention_heatmap(w, ["the", "cat", "the"], title="t")
    assert isinstance(fig, go.Figure)
    assert list(fig.layout.yaxis.ticktext) == ["the", "cat", "the"] and list(fig.data[0].y) == [0, 1, 2]
    assert "0.333" in fig.data[0].text[2][0]
    with pytest.raises(ValueError):
        av.attention_heatmap(np.ones((2, 3)), ["a", "b", "c"])


def test_gpt_source_is_causal_and_truncates(source):
    tokens, w = source.run("abcdefghijklmnop")
    assert len(tokens) == 10 and w.shape == (2, 2, 10, 10)
    assert np.allclose(w.sum(-1), 1.0, atol=1e-5) and np.abs(np.triu(w[0, 0], 1)).max() == 0.0
    fig = av.attention_view(source, "abc", layer=1, head=0)
    assert "layer 1" in fig.layout.title.text and fig.data[0].z.shape == (3, 3)


def test_attention_view_rejects_bad_layer_head_and_empty_text(source):
    with pytest.raises(ValueError, match="layers"):
        av.attention_view(source, "abc", layer=5, head=0)
    with pytest.raises(ValueError, match="heads"):
        av.attention_view(source, "abc", layer=0, head=2)
    with pytest.raises(ValueError, match="empty"):
        av.attention_view(source, "  ", layer=0, head=0)


def test_head_statistics_on_known_patterns():
    t = 4
    uniform = np.tril(np.ones((t, t)))
    uniform /= uniform.sum(-1, keepdims=True)
    prev = np.eye(t, k=-1)
    prev[0, 0] = 1.0
    w = np.stack([np.stack([uniform, prev])])                    # (1 layer, 2 heads, T, T)
    stats = av.head_statistics(w, tokens=["[CLS]", "a", "b", "[SEP]"])
    assert stats["entropy"].shape == (1, 2)
    assert stats["entropy"][0, 1] == pytest.approx(0.0, abs=1e-6)
    assert stats["entropy"][0, 0] == pytest.approx(np.mean([0, 1, np.log2(3), 2]))
    assert stats["previous"][0, 1] == pytest.approx(1.0)
    assert stats["special"][0, 1] == pytest.approx(np.mean([1, 1, 0, 0]))
    fig = av.head_grid_figure(stats["entropy"], title="entropy")
    assert fig.data[0].z.shape == (1, 2)
    with pytest.raises(ValueError):
        av.head_statistics(np.ones((2, 3)))


def test_matrix_figure():
    fig = av.matrix_figure(sg.causal_mask(4).int(), title="mask")
    assert fig.data[0].z.shape == (4, 4)
    with pytest.raises(ValueError):
        av.matrix_figure(np.ones(3))


def test_attention_widget_headless_shows_static_figure(source, monkeypatch):
    from labutils import widgets
    monkeypatch.setenv("LABUTILS_HEADLESS", "1")
    fig = widgets.attention_widget({"gpt": source}, sentence="hello").value
    assert isinstance(fig, go.Figure) and "layer 0" in fig.layout.title.text
    with pytest.raises(ValueError):
        widgets.attention_widget({"gpt": source}, start="nope")
    with pytest.raises(ValueError, match="heads 0–1"):
        widgets.attention_widget({"gpt": source}, head=2)
    fig = widgets.attention_widget({"gpt": source}, sentence="hello", layer=1, head=1).value
    assert "layer 1 · head 1" in fig.layout.title.text


def test_attention_widget_sliders_follow_the_model(source, monkeypatch):
    import ipywidgets as W

    from labutils import widgets
    monkeypatch.setenv("LABUTILS_HEADLESS", "0")
    big = av.AttentionSource("big", 6, 12, source.fn)
    box = widgets.attention_widget({"gpt": source, "big": big}).value
    controls = box.children[0].children
    model, layer, head = controls[0], controls[1], controls[2]
    assert isinstance(model, W.Dropdown) and layer.max == 1 and head.max == 1
    model.value = "big"
    assert layer.max == 5 and head.max == 11
    head.value = 11
    model.value = "gpt"
    assert head.value == 1 and head.max == 1
