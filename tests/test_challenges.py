"""Unit tests of labutils.challenges (notebook 07): small, fast, no pretrained weights needed
except the bundled tokenizer files."""
from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

from labutils import train as TR
from labutils.chapters import augmentation as aug
from labutils.chapters import batching, forgetting, heads, hpo, imbalance
from labutils.core.errors import LabError


# ------------------------------------------------------------------ helpers
def _blobs(n=200, d=16, seed=0, sep=2.0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    X = torch.randn(n, d, generator=g) + sep * (y[:, None].float() * 2 - 1) * (torch.arange(d) < 2).float()
    return X, y


@pytest.fixture(scope="module")
def tokenizer():
    import transformers as tf

    from labutils.models import encoder_path
    return tf.AutoTokenizer.from_pretrained(encoder_path())


@pytest.fixture
def tiny_bert():
    import transformers as tf

    from labutils.models import tiny_bert_config
    torch.manual_seed(0)
    cfg = tiny_bert_config("nano", dropout=0.0, num_labels=2)
    return tf.BertForSequenceClassification(cfg)


TEXTS = ["a good film", "a dull, tedious movie", "great acting and a smart script", "the worst plot ever",
         "I did not like it", "charming and funny", "boring", "a beautiful story about life"]
LABELS = [1, 0, 1, 0, 0, 1, 0, 1]


# ------------------------------------------------------------------ schedules
@pytest.mark.parametrize("warmup", [0, 10, 37])
def test_schedules_match_transformers(warmup):
    import transformers as tf
    total = 120
    theirs = {
        "linear": tf.get_linear_schedule_with_warmup,
        "cosine": tf.get_cosine_schedule_with_warmup,
        "constant_with_warmup": lambda o, w, t: tf.get_constant_schedule_with_warmup(o, w),
    }
    for kind, make in theirs.items():
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=3e-4)
        sched = make(opt, warmup, total)
        for step in range(total + 1):  # past the end transformers' cosine rises again; ours stays at 0
            want = opt.param_groups[0]["lr"]
            assert math.isclose(TR.lr_at(kind, step, total, warmup, 3e-4), want, rel_tol=1e-9, abs_tol=1e-15), (kind, step)
            opt.step()
            sched.step()


def test_make_scheduler_follows_lr_multiplier():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = TR.make_scheduler(opt, "cosine", 50, 5)
    seen = []
    for _ in range(50):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == [TR.lr_multiplier("cosine", s, 50, 5) for s in range(50)]
    assert TR.lr_multiplier("constant", 3, 50, 5) == 1.0


def test_schedule_errors_and_figure():
    with pytest.raises(LabError, match="choose one of"):
        TR.lr_multiplier("step", 0, 10)
    with pytest.raises(LabError, match="warmup"):
        TR.lr_multiplier("linear", 0, 10, 20)
    with pytest.raises(LabError):
        TR.schedule_figure(100, 200)
    fig = TR.schedule_figure(200, 20, 1e-3)
    assert [t.name for t in fig.data] == list(TR.SCHEDULES)
    assert max(fig.data[2].y) == pytest.approx(1e-3)
    assert len(TR.schedule_figure(200, 0, 1e-3, kinds="linear").data) == 1


# ------------------------------------------------------------------ heads
def test_fit_head_learns_and_records_history():
    X, y = _blobs()
    res = heads.fit_head(X[:150], y[:150], X[150:], y[150:], hidden=8, lr=1e-2, epochs=20)
    assert res.history["train_eval_loss"][-1] < res.history["train_eval_loss"][0]
    assert res.history["val_accuracy"][-1] > 0.9 and not res.diverged
    assert len(res.step_loss) == len(res.step_lr) == 20 * math.ceil(150 / 32)
    assert heads.evaluate_head(res.model, X[150:], y[150:])["accuracy"] > 0.9
    assert heads.predict_head(res.model, X[:3]).shape == (3,)


def test_fit_head_early_stopping_restores_best_epoch():
    X, y = _blobs(n=60, d=64, sep=0.3, seed=1)
    res = heads.fit_head(X[:30], y[:30], X[30:], y[30:], hidden=64, lr=3e-2, epochs=200, patience=5)
    assert res.stopped_epoch < 200 and res.best_epoch == res.stopped_epoch - 5
    best = int(np.argmin(res.history["val_loss"])) + 1
    assert res.best_epoch == best
    import torch.nn.functional as F
    with torch.no_grad():
        assert float(F.cross_entropy(res.model(X[30:]), y[30:])) == pytest.approx(min(res.history["val_loss"]), rel=1e-5)


def test_fit_head_options_and_errors():
    X, y = _blobs(n=64)
    res = heads.fit_head(X, y, epochs=2, optimizer="sgd", schedule="linear", warmup_steps=2,
                      class_weight=imbalance.class_weights(y.numpy()), sample_indices=np.arange(32), dropout=0.2, hidden=4)
    assert res.step_lr[0] == 0.0 and len(res.step_loss) == 2
    with pytest.raises(LabError, match="validation"):
        heads.fit_head(X, y, patience=3)
    with pytest.raises(LabError, match="optimizer"):
        heads.fit_head(X, y, optimizer="lion")
    with pytest.raises(LabError):
        heads.make_head(hidden=-1)
    huge = heads.fit_head(X * 1e30, y, epochs=3, optimizer="sgd", lr=1e30, hidden=8)
    assert huge.diverged


# ------------------------------------------------------------------ batch size and accumulation
def test_effective_batch_size():
    assert batching.effective_batch_size(8, 4, 2) == 64
    with pytest.raises(LabError):
        batching.effective_batch_size(8, 0)


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_accumulation_equals_big_batch(optimizer):
    X, y = _blobs(n=200, d=12)
    same = batching.accumulation_max_abs_diff(X, y, micro_batch=5, accumulation_steps=4, steps=6, optimizer=optimizer)
    assert same < 1e-5
    exact = batching.accumulation_max_abs_diff(X, y, micro_batch=5, accumulation_steps=4, steps=6, optimizer="sgd",
                                         dtype=torch.float64)
    assert exact < 1e-12
    wrong = batching.accumulation_max_abs_diff(X, y, micro_batch=5, accumulation_steps=4, steps=6, optimizer="sgd", divide=False)
    assert wrong > 1e-3
    with pytest.raises(LabError, match="examples"):
        batching.accumulation_max_abs_diff(X[:10], y[:10], steps=6)


def test_activation_bytes_grow_with_batch(tiny_bert, tokenizer):
    rows = batching.batch_cost(tiny_bert, tokenizer, TEXTS, [1, 2, 4], max_length=16, repeats=1)
    acts = [r["activation_mb"] for r in rows]
    assert acts[0] > 0 and acts[2] / acts[0] == pytest.approx(4, rel=0.15)
    assert all(r["ms_per_example"] > 0 and r["cuda_peak_mb"] is None for r in rows)
    assert all(p.grad is None for p in tiny_bert.parameters())
    with pytest.raises(LabError):
        batching.batch_cost(tiny_bert, tokenizer, TEXTS, [100])


# ------------------------------------------------------------------ depth, LLRD, fine-tuning
def test_unfreeze_top_k_has_one_meaning(tiny_bert):
    """k = 0: the classifier alone; k ≥ 1: + pooler + top k layers; k = L: everything (embeddings too)."""
    n_cls = sum(p.numel() for n, p in tiny_bert.named_parameters() if n.startswith("classifier"))
    n_pool = sum(p.numel() for p in tiny_bert.bert.pooler.parameters())
    assert TR.unfreeze_top_k(tiny_bert, 0) == n_cls
    one = TR.unfreeze_top_k(tiny_bert, 1)
    assert one == n_cls + n_pool + sum(p.numel() for p in tiny_bert.bert.encoder.layer[1].parameters())
    assert not any(p.requires_grad for p in tiny_bert.bert.encoder.layer[0].parameters())
    assert not any(p.requires_grad for p in tiny_bert.bert.embeddings.parameters())
    assert TR.unfreeze_top_k(tiny_bert, 2) == TR.count_parameters(tiny_bert)   # k = L is full fine-tuning
    assert all(p.requires_grad for p in tiny_bert.bert.embeddings.parameters())
    with pytest.raises(LabError, match="every layer"):
        TR.unfreeze_top_k(tiny_bert, 3)


def test_layerwise_lr_groups(tiny_bert):
    TR.unfreeze_all(tiny_bert)
    groups = TR.layerwise_lr_groups(tiny_bert, 1e-3, decay=0.5)
    lrs = {g["name"]: g["lr"] for g in groups}
    assert lrs == pytest.approx({"embeddings (no decay)": 1e-3 * 0.125,
                                 "layer 0": 1e-3 * 0.25, "layer 0 (no decay)": 1e-3 * 0.25,
                                 "layer 1": 1e-3 * 0.5, "layer 1 (no decay)": 1e-3 * 0.5,
                                 "pooler": 1e-3, "pooler (no decay)": 1e-3,
                                 "head": 1e-3, "head (no decay)": 1e-3})
    assert sum(len(g["params"]) for g in groups) == len(list(tiny_bert.parameters()))
    for g in groups:   # the one decay rule: matrices only, never biases, LayerNorm or embeddings
        assert (g["weight_decay"] > 0) == all(p.dim() >= 2 for p in g["params"]), g["name"]
    emb = tiny_bert.bert.embeddings.word_embeddings.weight
    assert not any(p is emb for g in groups if g["weight_decay"] > 0 for p in g["params"])
    with_head = {g["name"]: g["lr"] for g in TR.layerwise_lr_groups(tiny_bert, 1e-3, head_lr=0.1)}
    assert with_head["head"] == with_head["pooler"] == 0.1 and with_head["layer 1"] == pytest.approx(1e-3 * 0.8)
    TR.unfreeze_top_k(tiny_bert, 0)
    assert [g["name"] for g in TR.layerwise_lr_groups(tiny_bert, 1e-3)] == ["head", "head (no decay)"]
    with pytest.raises(LabError):
        TR.layerwise_lr_groups(tiny_bert, 1e-3, decay=0)


def test_finetune_encoder_moves_only_trainable_layers(tiny_bert, tokenizer):
    TR.unfreeze_top_k(tiny_bert, 1)
    before = {n: p.detach().clone() for n, p in tiny_bert.named_parameters()}
    seen = []
    out = forgetting.finetune_encoder(tiny_bert, tokenizer, TEXTS, LABELS, steps=5, batch_size=4, lr=1e-3, max_length=16,
                              callback=lambda s, m: seen.append(s), every=2, progress=False)
    assert len(out["train_loss"]) == 5 and all(math.isfinite(v) for v in out["train_loss"])
    assert seen == [0, 2, 4, 5]
    moved = {n for n, p in tiny_bert.named_parameters() if not torch.equal(p, before[n])}
    assert any(n.startswith("bert.encoder.layer.1.") for n in moved)
    assert not any(n.startswith(("bert.encoder.layer.0.", "bert.embeddings")) for n in moved)
    acc = forgetting.encoder_accuracy(tiny_bert, tokenizer, TEXTS, LABELS, max_length=16)
    assert 0.0 <= acc <= 1.0
    groups = TR.layerwise_lr_groups(tiny_bert, 1e-3, 0.9)
    forgetting.finetune_encoder(tiny_bert, tokenizer, TEXTS, LABELS, steps=1, param_groups=groups, progress=False)


# ------------------------------------------------------------------ forgetting probes
def test_similarity_probe_and_neighbour_agreement(tiny_bert, tokenizer):
    q = ["what is a film", "who wrote the book", "where is the station", "how old are you"]
    out = forgetting.similarity_probe(tiny_bert, tokenizer, q, q)  # answers identical to queries: perfect retrieval
    assert out["retrieval_top1"] == 1.0 and out["related"] == pytest.approx(1.0, abs=1e-5)
    assert out["margin"] == pytest.approx(out["related"] - out["unrelated"])
    e = torch.randn(30, 8)
    assert forgetting.neighbour_agreement(e, e * 3, k=5) == 1.0
    assert forgetting.neighbour_agreement(e, torch.randn(30, 8), k=5) < 0.8
    with pytest.raises(LabError):
        forgetting.neighbour_agreement(e, e[:10])


def test_sentence_features_cache(tmp_home, tiny_bert, tokenizer, monkeypatch):
    heads._FEATURES.clear()
    a = heads.sentence_features(TEXTS[:3], model=tiny_bert, tokenizer=tokenizer)
    assert a.shape == (3, tiny_bert.config.hidden_size)
    assert list((tmp_home / "nb07" / "features").glob("*.npy"))
    heads._FEATURES.clear()

    def boom(*a, **k):
        raise AssertionError("should come from the disk cache")
    monkeypatch.setattr("labutils.models.embed", boom)
    b = heads.sentence_features(TEXTS[:3], model=tiny_bert, tokenizer=tokenizer)
    assert torch.equal(a, b)


# ------------------------------------------------------------------ shift, imbalance, augmentation
def test_has_negation():
    assert imbalance.has_negation("It isn't funny") and imbalance.has_negation("never again") and imbalance.has_negation("Not good.")
    assert not imbalance.has_negation("Nothingness aside, a notable film")  # words inside words do not count
    assert not imbalance.has_negation("a notable, knowing film")


def test_imbalance_tools():
    labels = np.array([0] * 300 + [1] * 300)
    idx = imbalance.imbalanced_indices(labels, ratio=10, minority=0, n_majority=200, seed=1)
    counts = np.bincount(labels[idx])
    assert counts.tolist() == [20, 200]
    w = imbalance.class_weights(labels[idx])
    assert float(w[0] / w[1]) == pytest.approx(10.0)
    over = imbalance.oversample_indices(labels[idx])
    assert np.bincount(labels[idx][over]).tolist() == [200, 200]
    with pytest.raises(LabError):
        imbalance.imbalanced_indices(labels, ratio=0.5)
    with pytest.raises(LabError):
        imbalance.class_weights(np.array([1, 1]), n_classes=2)


def test_augmentation_ops():
    s = "The movie is a great , funny ride through old Hollywood"
    assert aug.random_deletion(s, 0.0) == s
    d = aug.random_deletion(s, 0.5, rng=3)
    assert 1 <= len(d.split()) < len(s.split()) and set(d.split()) <= set(s.split())
    assert aug.random_deletion("word", 0.9) == "word"
    sw = aug.random_swap(s, 2, rng=1)
    assert sorted(sw.split()) == sorted(s.split()) and sw != s
    syn = aug.synonym_replacement(s, 3, rng=0)
    assert syn != s and len(syn.split()) >= len(s.split())
    assert aug.synonym_replacement("Movie!", 1, rng=0) in {"Film!", "Picture!", "Feature!"}
    assert aug.synonym_replacement("zzz qqq", 2) == "zzz qqq"
    texts, labels = aug.augment(["a good movie", "a bad film"], [1, 0], "synonym", copies=2)
    assert len(texts) == 6 and labels == [1, 0, 1, 0, 1, 0] and texts[:2] == ["a good movie", "a bad film"]
    assert aug.augment(["a b c"], [1], "all", copies=3, seed=5) == aug.augment(["a b c"], [1], "all", copies=3, seed=5)
    with pytest.raises(LabError, match="choose one of"):
        aug.augment(["x"], [0], "backtranslate")
    for key, values in aug.SYNONYMS.items():
        assert key not in values and all(v.strip() for v in values)


# ------------------------------------------------------------------ search, figures, exercises helpers
def test_sample_config_and_random_search():
    rng = np.random.default_rng(0)
    cfgs = [hpo.sample_config(rng) for _ in range(200)]
    lrs = np.array([c["lr"] for c in cfgs])
    assert lrs.min() >= 1e-4 and lrs.max() <= 3e-1
    assert 0.3 < np.mean(lrs < math.sqrt(1e-4 * 3e-1)) < 0.7  # log-uniform: half below the geometric mean
    assert {c["hidden"] for c in cfgs} == {0, 64, 256}
    assert all(3 <= c["epochs"] <= 60 for c in cfgs)
    with pytest.raises(LabError):
        hpo.sample_config(rng, {"x": ("normal", 0, 1)})
    X, y = _blobs(n=80)
    space = {"lr": ("log", 1e-3, 1e-1), "epochs": ("int", 1, 3)}
    df = hpo.random_search(X[:60], y[:60], X[60:], y[60:], n_trials=3, space=space, progress=False)
    assert len(df) == 3 and list(df["val_acc"]) == sorted(df["val_acc"], reverse=True)
    fig = hpo.parallel_coordinates_figure(df, columns=("lr", "epochs"))
    assert fig.data[0].dimensions[0].label == "log10 lr"


def test_grouped_bars_and_macro_f1():
    fig = heads.grouped_bar_figure({"a": {"x": 0.5, "y": 0.7}, "b": {"x": 0.6, "y": 0.8}}, yrange=(0, 1))
    assert len(fig.data) == 2
    from sklearn.metrics import f1_score
    rng = random.Random(0)
    for _ in range(5):
        cm = np.array([[rng.randint(0, 30) for _ in range(3)] for _ in range(3)])
        true = np.repeat(np.repeat(np.arange(3), 3), cm.ravel())
        pred = np.repeat(np.tile(np.arange(3), 3), cm.ravel())
        assert heads.macro_f1_from_confusion(cm) == pytest.approx(f1_score(true, pred, average="macro", zero_division=0))
    with pytest.raises(LabError):
        heads.macro_f1_from_confusion([[1, 2, 3]])


# ------------------------------------------------------------------ widget
def test_lr_schedule_widget(monkeypatch):
    from labutils import widgets
    monkeypatch.setenv("LABUTILS_HEADLESS", "1")
    shown = widgets.lr_schedule_widget(500, 50, 1e-3)
    assert len(shown.value.data) == len(TR.SCHEDULES)
    monkeypatch.setenv("LABUTILS_HEADLESS", "0")
    import ipywidgets as W
    assert isinstance(widgets.lr_schedule_widget().value, W.VBox)
    with pytest.raises(LabError):
        widgets.lr_schedule_widget(100, 200)
