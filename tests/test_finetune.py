"""Unit tests of labutils.finetune on a tiny random BERT (fast; the real MiniLM runs in notebook 06)."""
from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
datasets = pytest.importorskip("datasets")

from labutils import models  # noqa: E402
from labutils.chapters import finetune as ft  # noqa: E402
from labutils.core.errors import LabError  # noqa: E402

POS = ["good", "great", "fine film", "lovely", "superb acting", "a joy", "wonderful", "great fun"]
NEG = ["bad", "awful", "dull film", "boring", "terrible acting", "a mess", "horrible", "bad fun"]


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(models.encoder_path())


def tiny_model(num_labels=2, seed=0):
    from transformers import BertForSequenceClassification
    torch.manual_seed(seed)
    cfg = models.tiny_bert_config("nano", dropout=0.0, num_labels=num_labels,
                                  id2label={0: "negative", 1: "positive"}, label2id={"negative": 0, "positive": 1})
    return BertForSequenceClassification(cfg)


@pytest.fixture
def toy(tokenizer):
    rows = [{"text": t, "label": 1} for t in POS] + [{"text": t, "label": 0} for t in NEG]
    dd = datasets.DatasetDict(train=datasets.Dataset.from_list(rows * 4), validation=datasets.Dataset.from_list(rows))
    return ft.tokenize_dataset(dd, tokenizer, max_length=16)


def test_tokenize_dataset_adds_columns_and_truncates(toy, tokenizer):
    assert {"input_ids", "attention_mask", "labels", "text"} <= set(toy["train"].column_names)
    assert len(toy["train"]) == 64
    long = datasets.Dataset.from_list([{"text": "word " * 100, "label": 0}])
    enc = ft.tokenize_dataset(long, tokenizer, max_length=10)
    assert len(enc[0]["input_ids"]) == 10
    with pytest.raises(LabError):
        ft.tokenize_dataset(long, tokenizer, max_length=1)
    with pytest.raises(LabError):
        ft.tokenize_dataset(long, tokenizer, text_column="sentence")


def test_pad_collate_pads_to_longest():
    batch = ft.pad_collate(0)([{"input_ids": [101, 5, 102], "attention_mask": [1, 1, 1], "labels": 1},
                               {"input_ids": [101, 102], "attention_mask": [1, 1], "labels": 0}])
    assert batch["input_ids"].tolist() == [[101, 5, 102], [101, 102, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert batch["labels"].tolist() == [1, 0]


def test_freezing_counts():
    m = tiny_model()
    h = m.config.hidden_size
    assert ft.freeze_encoder(m) == h * 2 + 2
    assert ft.unfreeze_top_k(m, 0) == h * 2 + 2
    one = ft.unfreeze_top_k(m, 1)
    layer = sum(p.numel() for p in ft.encoder_layers(m)[-1].parameters())
    pooler = sum(p.numel() for p in m.bert.pooler.parameters())
    assert one == h * 2 + 2 + layer + pooler
    assert ft.unfreeze_top_k(m, 2) == ft.unfreeze_all(m) == models.count_parameters(m)
    assert ft.trainable_parameters(m) == models.count_parameters(m)
    with pytest.raises(LabError):
        ft.unfreeze_top_k(m, 3)
    assert ft.head_parameter_names(m) == ["classifier.weight", "classifier.bias"]


def test_gradual_schedule():
    assert ft.gradual_schedule(6, 4) == [0, 2, 4, 6]
    assert ft.gradual_schedule(2, 3) == [0, 1, 2]
    with pytest.raises(LabError):
        ft.gradual_schedule(6, 1)


def test_train_classifier_learns_and_reports(toy):
    m = tiny_model()
    hist = ft.train_classifier(m, toy["train"], toy["validation"], epochs=6, lr=1e-3, batch_size=8,
                               unfreeze="all", progress=False, device="cpu", keep_best=True, seed=0)
    assert hist["steps"] == 6 * 8 and len(hist["train_loss"]) == hist["steps"]
    assert np.mean(hist["train_loss"][-8:]) < np.mean(hist["train_loss"][:8])
    assert hist["eval_step"] == [8, 16, 24, 32, 40, 48]
    assert hist["best_val_accuracy"] == max(hist["val_accuracy"]) >= 0.75
    assert all(0 <= a <= 1 for a in hist["val_accuracy"])
    # keep_best restored the best weights
    res = ft.evaluate_classifier(m, toy["validation"])
    assert res["accuracy"] == pytest.approx(hist["best_val_accuracy"])
    # warm-up then linear decay
    assert hist["lr"][0] < hist["lr"][5] and hist["lr"][-1] < hist["lr"][5]


def test_train_classifier_head_only_changes_only_the_head(toy):
    m = tiny_model()
    before = {n: p.detach().clone() for n, p in m.named_parameters()}
    hist = ft.train_classifier(m, toy["train"], None, max_steps=3, lr=1e-2, batch_size=8, unfreeze="head",
                               weight_decay=0.1, progress=False, device="cpu")
    assert hist["steps"] == 3 and hist["trainable"] == [2 * m.config.hidden_size + 2] * 3
    changed = {n for n, p in m.named_parameters() if not torch.equal(p, before[n])}
    assert changed == {"classifier.weight", "classifier.bias"}


def test_train_classifier_gradual_unfreezing_grows(toy):
    m = tiny_model()
    hist = ft.train_classifier(m, toy["train"], None, max_steps=6, batch_size=8, unfreeze=[0, 1, 2],
                               grad_accum=1, progress=False, device="cpu", layer_lr_decay=0.8,
                               class_weights=[1.0, 2.0], schedule="cosine")
    t = hist["trainable"]
    assert t[0] < t[2] < t[4] and t[4] == models.count_parameters(m)


def test_train_classifier_grad_accum_and_early_stop(toy):
    m = tiny_model()
    hist = ft.train_classifier(m, toy["train"], toy["validation"], max_steps=20, lr=0.0, batch_size=4,
                               grad_accum=2, eval_every=2, patience=2, progress=False, device="cpu",
                               warmup_ratio=0.0)
    assert hist["examples"] == hist["steps"] * 8
    assert hist["stopped_early"] and hist["steps"] == 6  # lr 0: never improves after the first evaluation


def test_train_classifier_rejects_bad_settings(toy):
    m = tiny_model()
    for kwargs in (dict(schedule="exp"), dict(unfreeze="bottom"), dict(unfreeze=7), dict(layer_lr_decay=1.5),
                   dict(keep_best=True), dict(warmup_ratio=1.0)):
        with pytest.raises(LabError):
            ft.train_classifier(m, toy["train"], None, max_steps=1, progress=False, device="cpu", **kwargs)
    with pytest.raises(LabError):
        ft.train_classifier(m, datasets.Dataset.from_list([{"text": "x", "label": 0}]), None, max_steps=1,
                            progress=False)


def test_predict_proba_texts_and_dataset_agree(toy, tokenizer):
    m = tiny_model()
    texts = list(toy["validation"]["text"])
    a = ft.predict_proba(m, tokenizer, texts, max_length=16)
    b = ft.predict_proba(m, None, toy["validation"])
    assert a.shape == (16, 2) and np.allclose(a.sum(1), 1)
    assert np.allclose(a, b, atol=1e-5)
    with pytest.raises(LabError):
        ft.predict_proba(m, None, texts)


def test_evaluate_classifier_details(toy):
    m = tiny_model()
    res = ft.evaluate_classifier(m, toy["validation"])
    assert set(res["per_class"]) == {"negative", "positive"}
    assert sum(v["support"] for v in res["per_class"].values()) == 16
    assert res["accuracy"] == pytest.approx(float(np.mean(res["preds"] == res["labels"])))
    assert math.isfinite(res["loss"])


def test_ece_by_hand():
    probs = np.array([[0.1, 0.9], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]])
    labels = np.array([1, 0, 1, 1])
    # bins of width 0.1: 0.9 → bin 9 (right, conf .9), 0.8 → bin 8 (wrong), 0.6 → bin 6 (right), 0.7 → bin 7 (right)
    want = (abs(1 - 0.9) + abs(0 - 0.8) + abs(1 - 0.6) + abs(1 - 0.7)) / 4
    assert ft.expected_calibration_error(probs, labels) == pytest.approx(want)
    assert ft.expected_calibration_error(probs, labels, n_bins=1) == pytest.approx(abs(0.75 - 0.75))
    perfect = np.array([[0.0, 1.0]] * 5)
    assert ft.expected_calibration_error(perfect, np.ones(5, int)) == pytest.approx(0.0)
    fig = ft.reliability_figure(probs, labels)
    assert "ECE" in fig.layout.title.text and len(fig.data) == 3
    with pytest.raises(LabError):
        ft.calibration_bins(probs, labels[:2])


def test_confusion_and_mistakes():
    labels, preds = [0, 0, 1, 1, 1], [0, 1, 1, 1, 0]
    fig = ft.confusion_matrix_figure(labels, preds, ["neg", "pos"])
    assert np.asarray(fig.data[0].z).tolist() == [[1, 1], [1, 2]]
    probs = np.array([[0.9, 0.1], [0.3, 0.7], [0.2, 0.8], [0.4, 0.6], [0.95, 0.05]])
    df = ft.most_confident_mistakes(list("abcde"), labels, probs, k=5, label_names=["neg", "pos"])
    assert list(df["text"]) == ["e", "b"] and list(df["true"]) == ["pos", "neg"]


def test_tfidf_baseline_and_unk_rate(tokenizer):
    train = datasets.Dataset.from_list([{"text": t, "label": 1} for t in POS] + [{"text": t, "label": 0} for t in NEG])
    res = ft.tfidf_baseline(train, train)
    assert res["accuracy"] >= 0.9 and 0 <= res["f1"] <= 1 and res["probs"].shape == (16, 2)
    zh = ft.tfidf_baseline(train, train, analyzer="char", ngram_range=(1, 2))
    assert zh["accuracy"] >= 0.8
    with pytest.raises(LabError):
        ft.tfidf_baseline(train, train, analyzer="bytes")
    u = ft.unk_rate(tokenizer, ["good film", "a film"])
    assert u["unk_rate"] == 0.0 and u["tokens_per_text"] == 2.0 and u["texts_with_unk"] == 0.0
    u = ft.unk_rate(tokenizer, ["good film 🤖"])
    assert u["unk_rate"] == pytest.approx(1 / 3) and u["texts_with_unk"] == 1.0 and u["examples"] == ["🤖"]


def test_save_reload_pipeline_and_prediction_figure(tmp_home, tokenizer):
    from labutils.core.env import cache_home
    m = tiny_model()
    path = ft.save_classifier(m, tokenizer, cache_home("test_finetune", "clf"))
    assert (path / "config.json").exists() and any(path.glob("*.safetensors"))
    pipe = ft.classification_pipeline(path)
    out = pipe(["good film"])[0]
    assert {d["label"] for d in out} == {"negative", "positive"}
    assert sum(d["score"] for d in out) == pytest.approx(1.0, abs=1e-5)
    want = ft.predict_proba(m, tokenizer, ["good film"])[0]
    assert {d["label"]: d["score"] for d in out}["positive"] == pytest.approx(want[1], abs=1e-5)
    fig = ft.prediction_figure(m, tokenizer, "good film")
    assert list(fig.data[0].y) == ["negative", "positive"]
    with pytest.raises(LabError):
        ft.prediction_figure(m, tokenizer, "   ")


def test_classifier_dir_is_keyed_by_profile(tmp_home):
    """A smoke run of notebook 06 must not overwrite the classifier a cpu run trained (notebooks 11, 12, 15 load it)."""
    dirs = {p: ft.classifier_dir("minilm-sentiment-en", p) for p in ("smoke", "cpu", "gpu")}
    assert len(set(dirs.values())) == 3 and all(p in d.name for p, d in dirs.items())
    with pytest.raises(LabError, match="profile"):
        ft.classifier_dir(profile="laptop")


def test_history_figure():
    h = {"step": [1, 2, 3, 4, 5, 6], "train_loss": [1, 1, 1, 1, 1, 1.0], "eval_step": [3, 6],
         "val_accuracy": [0.5, 0.6]}
    assert len(ft.history_figure({"a": h}).data[0].x) == 2
    assert list(ft.history_figure({"a": h}, "val_accuracy").data[0].y) == [0.5, 0.6]


def test_classifier_widget_headless(monkeypatch, tokenizer):
    import plotly.graph_objects as go

    from labutils import widgets
    monkeypatch.setenv("LABUTILS_HEADLESS", "1")
    shown = widgets.classifier_widget(tiny_model(), tokenizer, "good film")
    assert isinstance(shown.value, go.Figure) and "good film" in shown.value.layout.title.text


def test_mean_pooling_classifier_ignores_padding_and_trains_only_its_head(toy, tokenizer):
    m = ft.MeanPoolingClassifier.from_classifier(tiny_model())
    assert ft.freeze_encoder(m) == 2 * m.config.hidden_size + 2
    assert ft.head_parameter_names(m) == ["classifier.weight", "classifier.bias"]
    m.eval()
    alone = tokenizer(["a joy"], return_tensors="pt")
    padded = tokenizer(["a joy", "terrible acting, a mess from start to end"], padding=True, return_tensors="pt")
    with torch.no_grad():
        diff = (m(**alone).logits[0] - m(**padded).logits[0]).abs().max().item()
    assert diff < 1e-5, "padding leaked into the mean"
    before = {n: p.detach().clone() for n, p in m.named_parameters()}
    hist = ft.train_classifier(m, toy["train"], toy["validation"], max_steps=4, lr=1e-2, batch_size=8,
                               unfreeze="head", progress=False, device="cpu")
    assert hist["steps"] == 4
    assert {n for n, p in m.named_parameters() if not torch.equal(p, before[n])} == {"classifier.weight",
                                                                                     "classifier.bias"}


def test_group_by_length_sees_every_example_once_per_epoch(toy):
    from labutils.chapters.finetune.loop import _loader
    loader = _loader(toy["train"], 5, True, 0, 0, group_by_length=True)
    lengths = sorted(len(r) for r in toy["train"]["input_ids"])
    for _ in range(2):   # two epochs, each a permutation of the data
        seen = sorted(int(m.sum()) for b in loader for m in b["attention_mask"])
        assert seen == lengths
    widths = [b["input_ids"].shape[1] for b in loader]
    assert len(widths) == len(loader) == math.ceil(len(lengths) / 5)
    m = tiny_model()
    hist = ft.train_classifier(m, toy["train"], None, max_steps=3, lr=1e-3, batch_size=8, unfreeze="all",
                               progress=False, device="cpu", group_by_length=True)
    assert hist["steps"] == 3
