"""Unit tests of labutils.challenges (notebook 07): small, fast, no pretrained weights needed
except the bundled tokenizer files."""
from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

from labutils import challenges as ch


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
            assert math.isclose(ch.lr_at(kind, step, total, warmup, 3e-4), want, rel_tol=1e-9, abs_tol=1e-15), (kind, step)
            opt.step()
            sched.step()


def test_make_scheduler_follows_lr_multiplier():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = ch.make_scheduler(opt, "cosine", 50, 5)
    seen = []
    for _ in range(50):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == [ch.lr_multiplier("cosine", s, 50, 5) for s in range(50)]
    assert ch.lr_multiplier("constant", 3, 50, 5) == 1.0


def test_schedule_errors_and_figure():
    with pytest.raises(ch.ChallengeError, match="choose one of"):
        ch.lr_multiplier("step", 0, 10)
    with pytest.raises(ch.ChallengeError, match="warmup"):
        ch.lr_multiplier("linear", 0, 10, 20)
    with pytest.raises(ch.ChallengeError):
        ch.schedule_figure(100, 200)
    fig = ch.schedule_figure(200, 20, 1e-3)
    assert [t.name for t in fig.data] == list(ch.SCHEDULES)
    assert max(fig.data[2].y) == pytest.approx(1e-3)
    assert len(ch.schedule_figure(200, 0, 1e-3, kinds="linear").data) == 1


# ------------------------------------------------------------------ heads
def test_fit_head_learns_and_records_history():
    X, y = _blobs()
    res = ch.fit_head(X[:150], y[:150], X[150:], y[150:], hidden=8, lr=1e-2, epochs=20)
    assert res.history["train_loss"][-1] < res.history["train_loss"][0]
    assert res.history["val_acc"][-1] > 0.9 and not res.diverged
    assert len(res.step_loss) == len(res.step_lr) == 20 * math.ceil(150 / 32)
    assert ch.evaluate_head(res.model, X[150:], y[150:])["accuracy"] > 0.9
    assert ch.predict_head(res.model, X[:3]).shape == (3,)


def test_fit_head_early_stopping_restores_best_epoch():
    X, y = _blobs(n=60, d=64, sep=0.3, seed=1)
    res = ch.fit_head(X[:30], y[:30], X[30:], y[30:], hidden=64, lr=3e-2, epochs=200, patience=5)
    assert res.stopped_epoch < 200 and res.best_epoch == res.stopped_epoch - 5
    best = int(np.argmin(res.history["val_loss"])) + 1
    assert res.best_epoch == best
    import torch.nn.functional as F
    with torch.no_grad():
        assert float(F.cross_entropy(res.model(X[30:]), y[30:])) == pytest.approx(min(res.history["val_loss"]), rel=1e-5)


def test_fit_head_options_and_errors():
    X, y = _blobs(n=64)
    res = ch.fit_head(X, y, epochs=2, optimizer="sgd", schedule="linear", warmup_steps=2,
                      class_weight=ch.class_weights(y.numpy()), sample_indices=np.arange(32), dropout=0.2, hidden=4)
    assert res.step_lr[0] == 0.0 and len(res.step_loss) == 2
    with pytest.raises(ch.ChallengeError, match="validation"):
        ch.fit_head(X, y, patience=3)
    with pytest.raises(ch.ChallengeError, match="optimizer"):
        ch.fit_head(X, y, optimizer="lion")
    with pytest.raises(ch.ChallengeError):
        ch.make_head(hidden=-1)
    huge = ch.fit_head(X * 1e30, y, epochs=3, optimizer="sgd", lr=1e30, hidden=8)
    assert huge.diverged


# ------------------------------------------------------------------ batch size and accumulation
def test_effective_batch_size():
    assert ch.effective_batch_size(8, 4, 2) == 64
    with pytest.raises(ch.ChallengeError):
        ch.effective_batch_size(8, 0)


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_accumulation_equals_big_batch(optimizer):
    X, y = _blobs(n=200, d=12)
    same = ch.accumulation_max_abs_diff(X, y, micro_batch=5, accumulation_steps=4, steps=6, optimizer=optimizer)
    assert same < 1e-5
    exact = ch.accumulation_max_abs_diff(X, y, micro_batch=5, accumulation_steps=4, steps=6, optimizer="sgd",
                                         dtype=torch.float64)
    assert exact < 1e-12
    wrong = ch.accumulation_max_abs_diff(X, y, micro_batch=5, accumulation_steps=4, steps=6, optimizer="sgd", divide=False)
    assert wrong > 1e-3
    with pytest.raises(ch.ChallengeError, match="examples"):
        ch.accumulation_max_abs_diff(X[:10], y[:10], steps=6)


def test_activation_bytes_grow_with_batch(tiny_bert, tokenizer):
    rows = ch.batch_cost(tiny_bert, tokenizer, TEXTS, [1, 2, 4], max_length=16, repeats=1)
    acts = [r["activation_mb"] for r in rows]
    assert acts[0] > 0 and acts[2] / acts[0] == pytest.approx(4, rel=0.15)
    assert all(r["ms_per_example"] > 0 and r["cuda_peak_mb"] is None for r in rows)
    assert all(p.grad is None for p in tiny_bert.parameters())
    with pytest.raises(ch.ChallengeError):
        ch.batch_cost(tiny_bert, tokenizer, TEXTS, [100])


# ------------------------------------------------------------------ depth, LLRD, fine-tuning
def test_unfreeze_top_k(tiny_bert):
    n_head = sum(p.numel() for n, p in tiny_bert.named_parameters() if n.startswith(("classifier", "bert.pooler")))
    assert ch.unfreeze_top_k(tiny_bert, 0) == n_head
    one = ch.unfreeze_top_k(tiny_bert, 1)
    assert all(p.requires_grad for p in tiny_bert.bert.encoder.layer[1].parameters())
    assert not any(p.requires_grad for p in tiny_bert.bert.encoder.layer[0].parameters())
    both = ch.unfreeze_top_k(tiny_bert, 2)
    assert n_head < one < both
    assert not any(p.requires_grad for p in tiny_bert.bert.embeddings.parameters())
    assert ch.unfreeze_top_k(tiny_bert, 3) == sum(p.numel() for p in tiny_bert.parameters())
    with pytest.raises(ch.ChallengeError, match="layers"):
        ch.unfreeze_top_k(tiny_bert, 4)


def test_layerwise_lr_groups(tiny_bert):
    groups = ch.layerwise_lr_groups(tiny_bert, 1e-3, decay=0.5)
    lrs = {g["name"]: g["lr"] for g in groups}
    assert lrs == pytest.approx({"embeddings": 1e-3 * 0.125, "layer 0": 1e-3 * 0.25, "layer 1": 1e-3 * 0.5, "head": 1e-3})
    assert sum(len(g["params"]) for g in groups) == len(list(tiny_bert.parameters()))
    assert ch.layerwise_lr_groups(tiny_bert, 1e-3, head_lr=0.1)[-1]["lr"] == 0.1
    ch.unfreeze_top_k(tiny_bert, 0)
    assert [g["name"] for g in ch.layerwise_lr_groups(tiny_bert, 1e-3)] == ["head"]
    with pytest.raises(ch.ChallengeError):
        ch.layerwise_lr_groups(tiny_bert, 1e-3, decay=0)


def test_finetune_encoder_moves_only_trainable_layers(tiny_bert, tokenizer):
    ch.unfreeze_top_k(tiny_bert, 1)
    before = {n: p.detach().clone() for n, p in tiny_bert.named_parameters()}
    seen = []
    out = ch.finetune_encoder(tiny_bert, tokenizer, TEXTS, LABELS, steps=5, batch_size=4, lr=1e-3, max_length=16,
                              callback=lambda s, m: seen.append(s), every=2, progress=False)
    assert len(out["step_loss"]) == 5 and all(math.isfinite(v) for v in out["step_loss"])
    assert seen == [0, 2, 4, 5]
    moved = {n for n, p in tiny_bert.named_parameters() if not torch.equal(p, before[n])}
    assert any(n.startswith("bert.encoder.layer.1.") for n in moved)
    assert not any(n.startswith(("bert.encoder.layer.0.", "bert.embeddings")) for n in moved)
    acc = ch.encoder_accuracy(tiny_bert, tokenizer, TEXTS, LABELS, max_length=16)
    assert 0.0 <= acc <= 1.0
    groups = ch.layerwise_lr_groups(tiny_bert, 1e-3, 0.9)
    ch.finetune_encoder(tiny_bert, tokenizer, TEXTS, LABELS, steps=1, param_groups=groups, progress=False)


# ------------------------------------------------------------------ forgetting probes
def test_similarity_probe_and_neighbour_agreement(tiny_bert, tokenizer):
    q = ["what is a film", "who wrote the book", "where is the station", "how old are you"]
    out = ch.similarity_probe(tiny_bert, tokenizer, q, q)  # answers identical to queries: perfect retrieval
    assert out["retrieval_top1"] == 1.0 and out["related"] == pytest.approx(1.0, abs=1e-5)
    assert out["margin"] == pytest.approx(out["related"] - out["unrelated"])
    e = torch.randn(30, 8)
    assert ch.neighbour_agreement(e, e * 3, k=5) == 1.0
    assert ch.neighbour_agreement(e, torch.randn(30, 8), k=5) < 0.8
    with pytest.raises(ch.ChallengeError):
        ch.neighbour_agreement(e, e[:10])


def test_sentence_features_cache(tmp_home, tiny_bert, tokenizer, monkeypatch):
    ch._FEATURES.clear()
    a = ch.sentence_features(TEXTS[:3], model=tiny_bert, tokenizer=tokenizer)
    assert a.shape == (3, tiny_bert.config.hidden_size)
    assert list((tmp_home / "nb07" / "features").glob("*.npy"))
    ch._FEATURES.clear()

    def boom(*a, **k):
        raise AssertionError("should come from the disk cache")
    monkeypatch.setattr("labutils.models.embed", boom)
    b = ch.sentence_features(TEXTS[:3], model=tiny_bert, tokenizer=tokenizer)
    assert torch.equal(a, b)


# ------------------------------------------------------------------ shift, imbalance, augmentation
def test_has_negation():
    assert ch.has_negation("It isn't funny") and ch.has_negation("never again") and ch.has_negation("Not good.")
    assert not ch.has_negation("Nothingness aside, a notable film")  # words inside words do not count
    assert not ch.has_negation("a notable, knowing film")


def test_imbalance_tools():
    labels = np.array([0] * 300 + [1] * 300)
    idx = ch.imbalanced_indices(labels, ratio=10, minority=0, n_majority=200, seed=1)
    counts = np.bincount(labels[idx])
    assert counts.tolist() == [20, 200]
    w = ch.class_weights(labels[idx])
    assert float(w[0] / w[1]) == pytest.approx(10.0)
    over = ch.oversample_indices(labels[idx])
    assert np.bincount(labels[idx][over]).tolist() == [200, 200]
    with pytest.raises(ch.ChallengeError):
        ch.imbalanced_indices(labels, ratio=0.5)
    with pytest.raises(ch.ChallengeError):
        ch.class_weights(np.array([1, 1]), n_classes=2)


def test_augmentation_ops():
    s = "The movie is a great , funny ride through old Hollywood"
    assert ch.random_deletion(s, 0.0) == s
    d = ch.random_deletion(s, 0.5, rng=3)
    assert 1 <= len(d.split()) < len(s.split()) and set(d.split()) <= set(s.split())
    assert ch.random_deletion("word", 0.9) == "word"
    sw = ch.random_swap(s, 2, rng=1)
    assert sorted(sw.split()) == sorted(s.split()) and sw != s
    syn = ch.synonym_replacement(s, 3, rng=0)
    assert syn != s and len(syn.split()) >= len(s.split())
    assert ch.synonym_replacement("Movie!", 1, rng=0) in {"Film!", "Picture!", "Feature!"}
    assert ch.synonym_replacement("zzz qqq", 2) == "zzz qqq"
    texts, labels = ch.augment(["a good movie", "a bad film"], [1, 0], "synonym", copies=2)
    assert len(texts) == 6 and labels == [1, 0, 1, 0, 1, 0] and texts[:2] == ["a good movie", "a bad film"]
    assert ch.augment(["a b c"], [1], "all", copies=3, seed=5) == ch.augment(["a b c"], [1], "all", copies=3, seed=5)
    with pytest.raises(ch.ChallengeError, match="choose one of"):
        ch.augment(["x"], [0], "backtranslate")
    for key, values in ch.SYNONYMS.items():
        assert key not in values and all(v.strip() for v in values)


# ------------------------------------------------------------------ search, figures, exercises helpers
def test_sample_config_and_random_search():
    rng = np.random.default_rng(0)
    cfgs = [ch.sample_config(rng) for _ in range(200)]
    lrs = np.array([c["lr"] for c in cfgs])
    assert lrs.min() >= 1e-4 and lrs.max() <= 3e-1
    assert 0.3 < np.mean(lrs < math.sqrt(1e-4 * 3e-1)) < 0.7  # log-uniform: half below the geometric mean
    assert {c["hidden"] for c in cfgs} == {0, 64, 256}
    assert all(3 <= c["epochs"] <= 60 for c in cfgs)
    with pytest.raises(ch.ChallengeError):
        ch.sample_config(rng, {"x": ("normal", 0, 1)})
    X, y = _blobs(n=80)
    space = {"lr": ("log", 1e-3, 1e-1), "epochs": ("int", 1, 3)}
    df = ch.random_search(X[:60], y[:60], X[60:], y[60:], n_trials=3, space=space, progress=False)
    assert len(df) == 3 and list(df["val_acc"]) == sorted(df["val_acc"], reverse=True)
    fig = ch.parallel_coordinates_figure(df, columns=("lr", "epochs"))
    assert fig.data[0].dimensions[0].label == "log10 lr"


def test_grouped_bars_and_macro_f1():
    fig = ch.grouped_bar_figure({"a": {"x": 0.5, "y": 0.7}, "b": {"x": 0.6, "y": 0.8}}, yrange=(0, 1))
    assert len(fig.data) == 2
    from sklearn.metrics import f1_score
    rng = random.Random(0)
    for _ in range(5):
        cm = np.array([[rng.randint(0, 30) for _ in range(3)] for _ in range(3)])
        true = np.repeat(np.repeat(np.arange(3), 3), cm.ravel())
        pred = np.repeat(np.tile(np.arange(3), 3), cm.ravel())
        assert ch.macro_f1_from_confusion(cm) == pytest.approx(f1_score(true, pred, average="macro", zero_division=0))
    with pytest.raises(ch.ChallengeError):
        ch.macro_f1_from_confusion([[1, 2, 3]])


# ------------------------------------------------------------------ widget
def test_lr_schedule_widget(monkeypatch):
    from labutils import widgets
    monkeypatch.setenv("LABUTILS_HEADLESS", "1")
    shown = widgets.lr_schedule_widget(500, 50, 1e-3)
    assert len(shown.value.data) == len(ch.SCHEDULES)
    monkeypatch.setenv("LABUTILS_HEADLESS", "0")
    import ipywidgets as W
    assert isinstance(widgets.lr_schedule_widget().value, W.VBox)
    with pytest.raises(ch.ChallengeError):
        widgets.lr_schedule_widget(100, 200)
