"""Notebook 14's helpers (labutils.chapters.responsible) on tiny random models: fast, offline."""
from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch

from labutils.chapters import responsible as R
from labutils.chapters.responsible.errors import ResponsibleError


@pytest.fixture(scope="module")
def tiny_clf():
    from labutils.chapters.serving.onnx import tiny_classifier
    model, tok = tiny_classifier()
    model.set_attn_implementation("eager") if hasattr(model, "set_attn_implementation") else None
    return model.eval(), tok


@pytest.fixture(scope="module")
def char_gpt():
    from transformers import GPT2LMHeadModel

    from labutils.data import tokenizers as T
    from labutils.models.configs import tiny_gpt_config
    tok = T.char_tokenizer("the PIN of Alice Bruno is 0123456789.\n abcdefghijklmnopqrstuvwxyz", model_max_length=64)
    torch.manual_seed(0)
    return GPT2LMHeadModel(tiny_gpt_config("nano", len(tok), n_positions=64, dropout=0.0)).eval(), tok


# ----------------------------------------------------------------------------- attribution
def test_ig_equals_captum_and_is_complete(tiny_clf):
    model, tok = tiny_clf
    enc = R.encode(tok, "a warm and funny film")
    c, _ = R.predicted(model, enc)
    mine = R.integrated_gradients(model, tok, enc, c, n_steps=64, batch_size=16)
    theirs = R.captum_integrated_gradients(model, tok, enc, c, n_steps=64)
    assert np.abs(mine["attributions"] - theirs).max() < 1e-5
    assert mine["completeness_gap"] <= 0.02 * abs(mine["delta"]) + 1e-6
    assert R.grad_x_input(model, enc, c).shape == mine["attributions"].shape


def test_attention_and_rollout_are_distributions(tiny_clf):
    model, tok = tiny_clf
    enc = R.encode(tok, "dull and tired")
    for roll in (False, True):
        a = R.attention_scores(model, enc, rollout=roll)
        assert a.shape == (enc["input_ids"].shape[1],) and abs(a.sum() - 1) < 1e-4


def test_deletion_test_and_errors(tiny_clf):
    model, tok = tiny_clf
    out = R.deletion_test(model, tok, ["a very good film indeed", "bad"], k=1, n_random=2, n_steps=4)
    assert out["n"] == 1 and set(out["drop"]) == {"attention", "grad_x_input", "integrated_gradients", "random"}
    with pytest.raises(ResponsibleError):
        R.deletion_test(model, tok, ["bad"], k=3)
    with pytest.raises(ResponsibleError):
        R.encode(tok, "  ")
    ids = torch.tensor([[1, 2, 3, 4]])
    assert R.delete_positions(ids, [1, 2]).tolist() == [[1, 4]]
    assert "span" in R.attribution_html(["a", "b"], [0.5, -1.0])


# ----------------------------------------------------------------------------- probing
def test_probe_finds_a_separable_layer():
    rng = np.random.default_rng(0)
    y = np.array([0, 1] * 20)
    feats = rng.normal(size=(2, 40, 5))
    feats[1, :, 0] += 4 * y
    rows = R.probe_layers(feats, y)
    assert rows[1]["test_accuracy"] > 0.9 and rows[1]["test_accuracy"] > rows[0]["test_accuracy"]
    with pytest.raises(ResponsibleError):
        R.probe_layers(feats, np.zeros(40))


def test_layer_features_and_logit_lens(tiny_clf, char_gpt):
    model, tok = tiny_clf
    f = R.layer_features(model, tok, ["good", "a bad film"])
    assert f.shape[:2] == (model.config.num_hidden_layers + 1, 2)
    gpt, gtok = char_gpt
    rows = R.logit_lens(gpt, gtok, "the PIN of", " a")
    assert len(rows) == gpt.config.n_layer + 1 and rows[-1]["matches_model"] is True


# ----------------------------------------------------------------------------- memorisation
def test_canaries_and_exposure():
    can = R.make_canaries([0, 3], digits=2, seed=1)
    text = R.insert_canaries("one\ntwo\nthree", can)
    assert text.count(can[1]["text"]) == 3 and can[0]["text"] not in text
    lp = np.arange(100, dtype=float)  # candidate 99 most likely
    assert R.exposure(lp, "99")["exposure"] == pytest.approx(math.log2(100))
    assert R.exposure(lp, "00")["rank"] == 100 and R.exposure(lp, "00")["exposure"] == pytest.approx(0.0)
    with pytest.raises(ResponsibleError):
        R.exposure(lp, "123")


def test_secret_logprobs_match_direct_scoring(char_gpt):
    gpt, tok = char_gpt
    prefix = "the PIN of Alice is "
    lp = R.secret_logprobs(gpt, tok, prefix, 3, batch_size=7)
    assert lp.shape == (1000,) and np.isclose(np.exp(lp).sum(), np.exp(lp).sum())
    for secret in ("042", "907"):
        ids = torch.tensor([tok(prefix + secret)["input_ids"]])
        with torch.no_grad():
            logp = torch.log_softmax(gpt(ids).logits[0], -1)
        n = ids.shape[1]
        direct = sum(float(logp[i - 1, ids[0, i]]) for i in range(n - 3, n))
        assert lp[int(secret)] == pytest.approx(direct, abs=1e-4)
    # the digits' probabilities over all candidates sum to P(three digits follow) <= 1
    assert np.exp(lp).sum() <= 1.0 + 1e-6
    ext = R.extraction_attempt(gpt, tok, {"name": "Alice", "prefix": prefix, "secret": "042", "reps": 1}, n_samples=8)
    assert 0.0 <= ext["sample_hit_rate"] <= 1.0 and len(ext["greedy"]) >= 1


# ----------------------------------------------------------------------------- DP-SGD
def test_dp_by_hand_equals_opacus(char_gpt):
    gpt, tok = char_gpt
    torch.manual_seed(1)
    x = torch.randint(0, len(tok), (4, 17))
    hand = R.clip_and_noise(R.per_sample_grads(gpt, x[:, :-1], x[:, 1:]), 0.5, 0.0)
    theirs = R.opacus_clipped_gradient(gpt, x[:, :-1], x[:, 1:], 0.5)
    assert R.max_abs_difference(hand, theirs) < 1e-5
    # per-sample gradients average to the ordinary batch gradient
    g = R.per_sample_grads(gpt, x[:, :-1], x[:, 1:])
    gpt.zero_grad()
    torch.stack([R.lm_example_loss(gpt(x[i:i + 1, :-1]).logits[0], x[i, 1:]) for i in range(4)]).mean().backward()
    name = "transformer.h.0.mlp.c_fc.weight"
    assert torch.allclose(g[name].mean(0), dict(gpt.named_parameters())[name].grad, atol=1e-5)
    gpt.zero_grad()


def test_clip_bounds_each_example_and_noise_scale():
    grads = {"w": torch.tensor([[3.0, 4.0], [0.3, 0.4]])}
    out = R.clip_and_noise(grads, 1.0, 0.0)
    assert torch.allclose(out["w"], torch.tensor([(0.6 + 0.3) / 2, (0.8 + 0.4) / 2]), atol=1e-5)
    big = {"w": torch.zeros(2, 20000)}
    noisy = R.clip_and_noise(big, 2.0, 1.5, generator=torch.Generator().manual_seed(0))
    assert float(noisy["w"].std()) == pytest.approx(1.5 * 2.0 / 2, rel=0.05)
    with pytest.raises(ResponsibleError):
        R.clip_and_noise(grads, 0.0, 1.0)


def test_epsilon_decreases_with_noise():
    e1, e2 = R.epsilon(0.8, 0.02, 200), R.epsilon(2.0, 0.02, 200)
    assert e1 > e2 > 0 and R.epsilon(0, 0.02, 10) == float("inf")
    with pytest.raises(ResponsibleError):
        R.epsilon(1.0, 0.0, 10)


def test_train_gpt_dp_runs(char_gpt):
    import copy
    gpt, tok = char_gpt
    ids = torch.randint(0, len(tok), (600,))
    h = R.train_gpt_dp(copy.deepcopy(gpt), ids, ids, steps=2, batch_size=4, block_size=16, progress=False)
    assert math.isfinite(h["val_loss"]) and h["epsilon"] > 0 and len(h["train_loss"]) == 2


# ----------------------------------------------------------------------------- PII
def test_pii_regexes():
    assert R.cn_id_check_digit("11010519491231002") == "X"
    assert R.valid_cn_id("11010519491231002X") and not R.valid_cn_id("110105194912310021")
    text = "邮箱alice@example.com，电话13812345678，ID 11010519491231002X, call (415) 555-0134, SSN 123-45-6789."
    kinds = [f["type"] for f in R.detect_pii(text)]
    assert kinds == ["EMAIL", "PHONE", "CN_ID", "PHONE", "SSN"]
    assert R.redact("mail bob@example.org now") == "mail [EMAIL] now"
    assert R.detect_pii("version 1.2.3 on 2024-05-01 costs 12.50") == []
    with pytest.raises(ResponsibleError):
        R.detect_pii("x", kinds=["IBAN"])


def test_pii_evaluation_measures_misses():
    rows = R.generate_pii_set(10, disguised_share=0.5, n_negative=6, seed=3)
    assert len(rows) == 5 * 10 + 6
    ev = R.evaluate_detector(rows)
    assert ev["recall_by_variant"]["standard"] > ev["recall_by_variant"]["disguised"]
    assert ev["n_missed"] == len(ev["misses"]) > 0
    assert ev["recall"] < 1.0 and ev["precision"] > 0.8
    assert "mark" in R.redaction_html("a@b.example.com")


# ----------------------------------------------------------------------------- fairness
def test_weat_detects_a_planted_association_and_not_noise():
    rng = np.random.default_rng(0)
    e = np.eye(8)[0]
    A, B = rng.normal(size=(6, 8)) + 3 * e, rng.normal(size=(6, 8)) - 3 * e
    X, Y = rng.normal(size=(6, 8)) + 2 * e, rng.normal(size=(6, 8)) - 2 * e
    strong = R.weat(X, Y, A, B, n_permutations=2000)
    assert strong["effect_size"] > 1 and strong["p_value"] < 0.01
    noise = R.weat(rng.normal(size=(6, 8)), rng.normal(size=(6, 8)), A, B, n_permutations=2000)
    assert 0 < noise["p_value"] <= 1 and noise["p_value"] > strong["p_value"]
    with pytest.raises(ResponsibleError):
        R.weat(X[:1], Y, A, B)
    assert R.seat_sentences(["rose"], ["This is {}."]) == ["This is rose."]


def test_counterfactual_eval_finds_a_biased_scorer():
    def biased(texts):
        return np.array([0.9 if "she" in t.split() else 0.3 for t in texts])
    out = R.counterfactual_eval(biased, groups={"gender": ["he", "she"]})
    g = out["by_group"]["gender"]
    assert g["mean_gap"] == pytest.approx(0.6) and g["flip_share"] == 1.0
    fair = R.counterfactual_eval(lambda t: np.full(len(t), 0.7), groups={"gender": ["he", "she"]})
    assert fair["by_group"]["gender"]["mean_gap"] == 0.0
    assert R.fairness._article("An {} film.", "Chinese") == "A Chinese film."


def test_pronoun_gaps(char_gpt):
    gpt, tok = char_gpt
    rows = R.pronoun_gaps(gpt, tok, occupations=["nurse"], template="the {} is", pair=(" a", " b"))
    assert rows[0]["log_ratio"] == pytest.approx(math.log(rows[0]["p a"] / rows[0]["p b"]), abs=1e-4)


# ----------------------------------------------------------------------------- robustness
def test_typos_and_synonyms():
    import random
    v = R.typo_variants("boring", random.Random(0), per_word=4)
    assert len(v) == 4 and all(w != "boring" and abs(len(w) - 6) <= 1 for w in v)
    assert R.typo_variants("a", random.Random(0)) == []
    assert R.synonym_variants("Film") == ["Movie", "Picture"]


def test_greedy_attack_flips_a_keyword_model():
    def prob(texts):  # positive iff the exact word "good" appears
        p = np.array([0.9 if "good" in t.split() else 0.2 for t in texts])
        return np.stack([1 - p, p], 1)
    r = R.attack_success_rate(prob, ["a good film", "bad film"], [1, 0], attack="typo", budget=1)
    assert r["n_attacked"] == 2 and r["success_rate"] == 0.5
    assert r["examples"][0]["success"] and "good" not in r["examples"][0]["adversarial"].split()
    with pytest.raises(ResponsibleError):
        R.attack_success_rate(prob, ["x"], [1], attack="emoji")


def test_fgm_perturbation_and_training(tiny_clf):
    import copy

    import datasets
    g = torch.randn(2, 3, 4)
    r = R.fgm_perturbation(g, 0.5, torch.ones(2, 3))
    assert torch.allclose(r.flatten(1).norm(dim=1), torch.full((2,), 0.5))
    model, tok = tiny_clf
    ds = datasets.Dataset.from_dict({"text": ["good", "bad", "great fun", "awful"], "label": [1, 0, 1, 0]})
    enc = ds.map(lambda b: tok(b["text"]), batched=True).rename_column("label", "labels").remove_columns("text")
    h = R.train_fgm(copy.deepcopy(model), enc, steps=2, epsilon=0.5, batch_size=2, progress=False)
    assert h["steps"] == 2 and len(h["adv_loss"]) == 2


# ----------------------------------------------------------------------------- injection
def test_injection_filter_and_trial():
    assert R.looks_like_instruction(R.INJECTION) and not any(R.looks_like_instruction(d) for d in R.STORE)

    def embed(texts):  # bag of letters, normalised: enough to retrieve by overlap
        v = np.array([[t.lower().count(c) for c in "abcdefghijklmnopqrstuvwxyz"] for t in texts], dtype=np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def gullible(messages):  # follows any instruction it sees
        return f"Visit {R.MARKER}" if R.MARKER in messages[-1]["content"] else "9 am"
    out = R.injection_trial(gullible, embed, questions=R.QUESTIONS[:2], poisoned=range(len(R.STORE)))
    by = out["by_defence"]
    assert by["none"]["attack_success"] == 1.0 and by["filter"]["attack_success"] == 0.0
    assert R.messages("q", ["p"], "spotlight")[1]["content"].startswith("<document>")


# ----------------------------------------------------------------------------- security
def test_pickle_payload_is_refused_by_weights_only(tmp_path):
    marker, ck = tmp_path / "marker.txt", tmp_path / "m.pt"
    R.write_malicious_checkpoint(ck, marker)
    assert any("exec" in g for g in R.suspicious_imports(ck))
    assert R.try_load(ck, weights_only=True)["loaded"] is False and not marker.exists()
    assert R.try_load(ck, weights_only=False)["loaded"] is True and marker.exists()
    clean = tmp_path / "c.pt"
    torch.save({"w": torch.zeros(2)}, clean)
    assert R.suspicious_imports(clean) == []
    st = R.save_safetensors({"w": torch.ones(3)}, tmp_path / "w.safetensors", {"a": 1})
    assert R.safetensors_header(st)["w"]["shape"] == [3] and len(R.sha256(st)) == 64
    with pytest.raises(ResponsibleError):
        R.save_safetensors({"w": R.MarkerPayload(marker)}, tmp_path / "x.safetensors")
    assert os.path.getsize(st) > 0


def test_exercises_and_widgets():
    from labutils.exercises import get
    for ex_id in ("14.exposure", "14.dp_noise", "14.ig_completeness"):
        ex = get(ex_id)
        assert ex.checker(ex.solution) is None
        assert all(ex.checker(w) for w in ex.wrong)
    from labutils.widgets.nb14 import _redaction
    assert "[EMAIL]" in _redaction("x a@example.com").data


def test_attribution_view_changes_with_the_steps_slider(tiny_clf):
    """The widget's first control is the IG-steps slider: moving it must change what the view shows (the browser
    test moves it), so the view states the step count and the completeness gap of that quadrature."""
    from labutils.widgets.nb14 import _attribution
    model, tok = tiny_clf
    few = _attribution(model, tok, "a fine film", n_steps=2).data
    many = _attribution(model, tok, "a fine film", n_steps=48).data
    assert "with 2 steps" in few and "with 48 steps" in many and few != many
