"""labutils.mlm: masking statistics, trimmed vocabulary, the two LM losses, fill-mask, transfer helpers."""
import math

import pytest
import torch

from labutils.chapters import mlm


class ToyTokenizer:
    """Just enough of a tokenizer for mask_tokens: ids 0-4 special, 5-99 words."""
    all_special_ids = [0, 1, 2, 3, 4]
    pad_token_id, unk_token_id, cls_token_id, sep_token_id, mask_token_id = 0, 1, 2, 3, 4

    def __len__(self):
        return 100


def _batch(n=400, t=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 100, (n, t), generator=g)
    ids[:, 0], ids[:, -1] = 2, 3
    ids[:5, -10:] = 0  # some padding
    return ids


def test_mask_tokens_proportions_and_labels():
    tok, ids = ToyTokenizer(), _batch()
    inputs, labels = mlm.mask_tokens(ids, tok, 0.15, torch.Generator().manual_seed(1))
    assert inputs.shape == ids.shape and ids.max() < 100
    special = torch.isin(ids, torch.tensor(tok.all_special_ids))
    assert (labels[special] == mlm.IGNORE).all() and torch.equal(inputs[special], ids[special])
    sel = labels != mlm.IGNORE
    assert torch.equal(labels[sel], ids[sel])
    assert torch.equal(inputs[~sel], ids[~sel])  # nothing outside the selection changes
    s = mlm.masking_stats(ids, inputs, labels, tok)
    assert abs(s["selected"] - 0.15) < 0.01
    assert abs(s["mask"] - 0.8) < 0.03 and abs(s["random"] - 0.1 * 94 / 95) < 0.03
    assert abs(s["unchanged"] - (0.1 + 0.1 / 95)) < 0.03
    assert math.isclose(s["mask"] + s["random"] + s["unchanged"], 1.0)


def test_mask_tokens_is_seeded_and_checks_arguments():
    tok, ids = ToyTokenizer(), _batch(20)
    a = mlm.mask_tokens(ids, tok, 0.15, torch.Generator().manual_seed(3))
    b = mlm.mask_tokens(ids, tok, 0.15, torch.Generator().manual_seed(3))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    all_mask, _ = mlm.mask_tokens(ids, tok, 0.5, torch.Generator().manual_seed(0), mask_fraction=1.0, random_fraction=0.0)
    changed = all_mask != ids
    assert (all_mask[changed] == tok.mask_token_id).all()
    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(mlm.MLMError):
            mlm.mask_tokens(ids, tok, bad)
    with pytest.raises(mlm.MLMError):
        mlm.mask_tokens(ids, tok, 0.15, mask_fraction=0.8, random_fraction=0.3)
    with pytest.raises(mlm.MLMError):
        mlm.mask_tokens(ids.float(), tok, 0.15)


def test_masking_html_marks_each_fate():
    out = mlm.masking_html(["a", "b", "c", "d"], ["[MASK]", "x", "c", "d"], [5, 6, 7, mlm.IGNORE])
    assert "b→x" in out and "[MASK]" in out and "unchanged" in out
    with pytest.raises(mlm.MLMError):
        mlm.masking_html(["a"], ["a", "b"], [1])


@pytest.fixture(scope="module")
def wordpiece():
    from labutils.models import load_tokenizer
    return load_tokenizer()


def test_trimmed_vocab_round_trip(wordpiece):
    lists = wordpiece(["In the beginning God created the heaven and the earth."], add_special_tokens=False)["input_ids"]
    v = mlm.TrimmedVocab(wordpiece, lists)
    assert len(v) == len(set(lists[0])) + len(set(wordpiece.all_special_ids))
    assert v.pad_token_id == 0 and v.mask_token_id in v.all_special_ids
    ids = v("In the beginning [MASK] created")
    assert ids.shape[0] == 1 and int(ids[0, 0]) == v.cls_token_id and int(ids[0, -1]) == v.sep_token_id
    assert int(ids[0, 4]) == v.mask_token_id
    assert v.tokens(v.encode(lists[0])) == wordpiece.convert_ids_to_tokens(lists[0])
    assert int(v("zebra")[0, 1]) == v.unk_token_id  # never seen → [UNK]
    assert torch.equal(v.decode(v.encode(lists[0])), torch.tensor(lists[0]))


def test_make_blocks():
    blocks = mlm.make_blocks([[10, 11, 12], [13, 14], [15, 16, 17, 18]], block_size=5, cls_id=2, sep_id=3)
    assert blocks.tolist() == [[2, 10, 11, 12, 3], [2, 13, 14, 15, 3], [2, 16, 17, 18, 3]]
    assert mlm.make_blocks([[9] * 30], 5, 2, 3, max_blocks=2).shape == (2, 5)
    with pytest.raises(mlm.MLMError):
        mlm.make_blocks([[1, 2]], 8, 2, 3)


@pytest.fixture(scope="module")
def tiny_models():
    from transformers import BertForMaskedLM, GPT2LMHeadModel

    from labutils.models import tiny_bert_config, tiny_gpt_config
    torch.manual_seed(0)
    bert = BertForMaskedLM(tiny_bert_config("nano", vocab_size=100, dropout=0.0))
    gpt = GPT2LMHeadModel(tiny_gpt_config("nano", vocab_size=100))
    return bert, gpt


def test_gathered_mlm_loss_equals_the_models_own(tiny_models):
    bert, _ = tiny_models
    tok, ids = ToyTokenizer(), _batch(8, 32)
    fast = mlm.lm_loss(bert, ids, "mlm", vocab=tok, generator=torch.Generator().manual_seed(5))
    inputs, labels = mlm.mask_tokens(ids, tok, 0.15, torch.Generator().manual_seed(5))
    full = bert(input_ids=inputs, labels=labels).loss
    assert abs(fast.item() - full.item()) < 1e-5
    with pytest.raises(mlm.MLMError):
        mlm.lm_loss(bert, ids, "span")
    with pytest.raises(mlm.MLMError):
        mlm.lm_loss(bert, ids, "mlm")


def test_train_lm_lowers_both_losses_on_a_repetitive_stream(tiny_models):
    bert, gpt = tiny_models
    tok = ToyTokenizer()
    stream = [[5 + (i % 7) for i in range(3000)]]
    blocks = mlm.make_blocks(stream, 24, tok.cls_token_id, tok.sep_token_id)
    seen = []
    h_mlm = mlm.train_lm(bert, blocks, "mlm", steps=30, batch_size=8, lr=5e-3, vocab=tok, progress=False,
                         callback=lambda s, v: seen.append(s))
    h_clm = mlm.train_lm(gpt, blocks, "clm", steps=30, batch_size=8, lr=5e-3, progress=False)
    assert seen == list(range(30)) and h_mlm["tokens_per_s"] > 0
    for h in (h_mlm, h_clm):
        assert mlm.tail_mean(h["train_loss"]) < 0.5 * h["train_loss"][0]
        assert h["step"] == list(range(30)) and len(h["lr"]) == 30   # the one History schema
    assert not bert.training  # left in eval mode
    with pytest.raises(mlm.MLMError):
        mlm.train_lm(gpt, blocks, "clm", steps=0)


def test_fill_mask_and_table(tiny_models, wordpiece):
    from transformers import BertForMaskedLM

    from labutils.models import tiny_bert_config
    lists = wordpiece(["the lord is my shepherd ; i shall not want"], add_special_tokens=False)["input_ids"]
    v = mlm.TrimmedVocab(wordpiece, lists)
    torch.manual_seed(0)
    model = BertForMaskedLM(tiny_bert_config("nano", vocab_size=len(v), dropout=0.0))
    out = mlm.fill_mask(model, v, "the lord is my [MASK] ; i shall [MASK] want", top_k=3)
    assert len(out) == 2 and all(len(g) == 3 for g in out)
    assert all(tok not in ("[MASK]", "[CLS]", "[SEP]", "[PAD]", "[UNK]") for g in out for tok, _ in g)
    assert all(p1 >= p2 for g in out for (_, p1), (_, p2) in zip(g, g[1:]))
    table = mlm.fill_mask_table(model, v, "the lord is my [MASK]", top_k=4)
    assert list(table.data.columns) == ["[MASK] 1", "p 1"] and len(table.data) == 4
    with pytest.raises(mlm.MLMError):
        mlm.fill_mask(model, v, "no mask here")


def test_attention_masks_figure():
    fig = mlm.attention_masks_figure(["[CLS]", "a", "b", "[SEP]"])
    causal, full = fig.data[0].z, fig.data[1].z
    assert [list(r) for r in causal] == [[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]]
    assert all(all(x == 1 for x in r) for r in full)


def test_cosine_probe_nearest_multitask():
    assert mlm.cosine([1, 0], [0, 1]) == 0.0 and math.isclose(mlm.cosine([1, 2, 2], [2, 4, 4]), 1.0)
    with pytest.raises(mlm.MLMError):
        mlm.cosine([1, 2], [1, 2, 3])
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (300,), generator=g)
    x = torch.randn(300, 8, generator=g)
    x[:, 0] += 2.0 * y  # one informative feature
    res = mlm.linear_probe(x[:200], y[:200], x[200:], y[200:])
    assert res["test_acc"] > 0.75 and 0.4 < res["majority"] < 0.65
    idx = torch.nn.functional.normalize(torch.randn(10, 4, generator=g), dim=-1)
    scores, hits = mlm.nearest(idx[:2], idx, k=3)
    assert hits[:, 0].tolist() == [0, 1] and torch.allclose(scores[:, 0], torch.ones(2))
    y2 = (x[:, 1] > 0).long()  # a second task, on another feature
    both = mlm.train_multitask(x[:200], [y[:200], y2[:200]], x[200:], [y[200:], y2[200:]], [0.5, 0.5], steps=150)
    only_first = mlm.train_multitask(x[:200], [y[:200], y2[:200]], x[200:], [y[200:], y2[200:]], [1.0, 0.0], steps=150)
    assert min(both["test_acc"]) > 0.75 and both["train_loss"][-1] < both["train_loss"][0]
    assert only_first["test_acc"][1] < both["test_acc"][1]
    with pytest.raises(mlm.MLMError):
        mlm.train_multitask(x, [y], x, [y], [0.0])


def test_same_position_accuracy_on_trained_toys(tiny_models):
    bert, gpt = tiny_models
    tok = ToyTokenizer()
    blocks = mlm.make_blocks([[5 + (i % 7) for i in range(700)]], 32, tok.cls_token_id, tok.sep_token_id)
    res = mlm.same_position_accuracy(bert, gpt, blocks, tok, seed=1)
    assert res["n"] > 50 and 0.0 <= res["mlm"] <= 1.0 and 0.0 <= res["clm"] <= 1.0


def test_neighbours_table_finds_the_paraphrase():
    from labutils.models import load_encoder
    model, tok = load_encoder()
    texts = ["The film was wonderful.", "It rained all day.", "The stock market crashed."]
    vecs = mlm.embed_by_length(texts, model, tok)
    assert vecs.shape == (3, 384) and torch.allclose(vecs.norm(dim=-1), torch.ones(3), atol=1e-5)
    df = mlm.neighbours_table("What a great movie!", vecs, texts, model, tok, k=2, index_sources=["a", "b", "c"])
    assert df["sentence"].iloc[0] == texts[0] and list(df.columns) == ["cosine", "sentence", "source"]
    with pytest.raises(mlm.MLMError):
        mlm.neighbours_table("  ", vecs, texts, model, tok)


def test_widgets_headless(monkeypatch, tiny_models, wordpiece):
    from transformers import BertForMaskedLM

    from labutils import widgets
    from labutils.models import tiny_bert_config
    monkeypatch.setenv("LABUTILS_HEADLESS", "1")
    v = mlm.TrimmedVocab(wordpiece, wordpiece(["in the beginning god created"], add_special_tokens=False)["input_ids"])
    model = BertForMaskedLM(tiny_bert_config("nano", vocab_size=len(v), dropout=0.0))
    shown = widgets.fill_mask_widget(model, v, "in the [MASK] god", top_k=3)
    assert len(shown.value.data) == 3
    with pytest.raises(ValueError):
        widgets.fill_mask_widget(model, v, "no blank")
    vecs = torch.nn.functional.normalize(torch.randn(4, 384), dim=-1)
    with pytest.raises(ValueError):
        widgets.neighbours_widget(vecs, ["a", "b", "c", "d"], None, None, k=9)


def test_modernbert_gathered_loss_and_scores_beat_unigram_on_a_learnable_stream():
    """The pre-LN, rotary-position encoder: the gathered loss equals the model's own, and once trained on a
    periodic stream it fills blanks from context better than the unigram baseline can."""
    from transformers import ModernBertForMaskedLM

    from labutils.models import tiny_modernbert_config
    tok = ToyTokenizer()
    torch.manual_seed(0)
    model = ModernBertForMaskedLM(tiny_modernbert_config("nano", vocab_size=100, cls_token_id=2, sep_token_id=3,
                                                         max_position_embeddings=24))
    ids = _batch(8, 24)
    fast = mlm.lm_loss(model, ids, "mlm", vocab=tok, generator=torch.Generator().manual_seed(5))
    inputs, labels = mlm.mask_tokens(ids, tok, 0.15, torch.Generator().manual_seed(5))
    assert abs(fast.item() - model(input_ids=inputs, labels=labels).loss.item()) < 1e-5
    stream = [[5 + (i % 7) for i in range(3000)]]
    blocks = mlm.make_blocks(stream, 24, tok.cls_token_id, tok.sep_token_id)
    uni = mlm.unigram_log_probs(blocks, tok)
    before = mlm.mlm_scores(model, blocks[:40], tok, uni, seed=1)
    mlm.train_lm(model, blocks, "mlm", steps=100, batch_size=16, lr=3e-3, vocab=tok, progress=False)
    after = mlm.mlm_scores(model, blocks[:40], tok, uni, seed=1)
    # seven equally frequent tokens: the unigram baseline scores ln 7 and guesses one in seven
    assert abs(after["unigram_loss"] - math.log(7)) < 0.05 and after["unigram_top1"] < 0.25
    assert after == {**after, "n": before["n"]} and after["n"] > 50
    # measured: loss 1.82 vs 1.97, top-1 0.26 vs 0.15 (the 2018 BERT recipe: 1.95 and 0.17, still on the plateau)
    assert after["loss"] < after["unigram_loss"] - 0.08 and after["top1"] > after["unigram_top1"] + 0.06
    with pytest.raises(mlm.MLMError):
        mlm.mlm_scores(model, blocks[:4], tok, uni[:10])
    with pytest.raises(mlm.MLMError):
        mlm.mlm_parts(torch.nn.Linear(2, 2))


def test_unigram_log_probs_are_a_distribution_without_specials():
    tok, ids = ToyTokenizer(), _batch(20, 16)
    lp = mlm.unigram_log_probs(ids, tok)
    assert lp.shape == (100,) and abs(lp.exp().sum().item() - 1) < 1e-5
    assert torch.isinf(lp[tok.all_special_ids]).all()
