"""Notebook 09's helpers (labutils.chapters.instruct) on tiny random GPT-2 / Llama models: each test takes seconds."""
from __future__ import annotations

import copy
import random

import numpy as np
import pytest
import torch

from labutils.chapters.instruct import chat, dpo, sft
from labutils.chapters.instruct import encoder_zeroshot as ez
from labutils.chapters.instruct import prompts as P
from labutils.chapters.instruct import templates as TP
from labutils.core.errors import InstructError
from labutils.data.instructions import check_instruction_answer, generate_instructions


@pytest.fixture(scope="module")
def rows():
    return generate_instructions(64, seed=3)


@pytest.fixture(scope="module")
def tiny_gpt(rows):
    """A random char-level GPT-2 with the ChatML tokens and template (what notebook 09's base model has)."""
    from transformers import GPT2LMHeadModel

    from labutils.data.tokenizers import char_tokenizer
    from labutils.models.configs import tiny_gpt_config
    tok = char_tokenizer(["abc"] + [r["instruction"] + r["input"] + r["output"] for r in rows], model_max_length=384)
    torch.manual_seed(0)
    model = GPT2LMHeadModel(tiny_gpt_config("nano", len(tok), n_positions=384)).eval()
    TP.add_chat_tokens(tok, model)
    return model, tok


@pytest.fixture(scope="module")
def tiny_llama():
    """A random tiny Llama with a word-level tokenizer (for the prompt-scoring tests)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
    words = ["<pad>", "<unk>", "Review", ":", "Sentiment", "positive", "negative", "great", "terrible", "good",
             "bad", "film", "a", "fine", "dull", "\n", "N/A", "[MASK]", "movie", "opinion"]
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                                     pre_tokenizers.Split(":", behavior="isolated")])
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", unk_token="<unk>")
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(words), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                      bos_token_id=0, eos_token_id=0, pad_token_id=0)
    return LlamaForCausalLM(cfg).eval(), tok


# ------------------------------------------------------------------ prompts
def test_balanced_demos_and_prompt():
    texts = [f"t{i}" for i in range(20)]
    labels = [i % 2 for i in range(20)]
    d = P.balanced_demos(texts, labels, 4, seed=1)
    assert len(d) == 4 and sorted(y for _, y in d) == [0, 0, 1, 1]
    assert P.balanced_demos(texts, labels, 4, seed=1) == d           # seeded
    prompt = P.build_prompt("new", d)
    assert prompt.count("Sentiment:") == 5 and prompt.endswith("Review: new\nSentiment:")
    with pytest.raises(InstructError):
        P.balanced_demos(texts, labels, -1)


def test_score_labels_cache_equals_full_prompt(tiny_llama):
    model, tok = tiny_llama
    texts = ["a fine film", "a dull movie", "film"]
    demos = [("a good film", 1), ("a bad movie", 0)]
    cached = P.score_labels(model, tok, texts, demos, batch_size=2)
    full = P.score_labels(model, tok, texts, demos, use_cache=False)
    assert cached.shape == (3, 2) and np.abs(cached - full).max() < 1e-5
    # and equal to one unbatched, uncached forward of the whole prompt
    ids = tok(P.build_prompt(texts[1], demos), add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logp = torch.log_softmax(model(ids).logits[0, -1], -1)
    want = logp[P.label_token_ids(tok, P.VERBALIZERS["positive/negative"])].numpy()
    assert np.abs(cached[1] - want).max() < 1e-5


def test_label_words_must_differ(tiny_llama):
    _, tok = tiny_llama
    with pytest.raises(InstructError):
        P.label_token_ids(tok, (" film", " film"))


def test_calibration_makes_content_free_uniform():
    p_cf = np.array([0.2, 0.8])
    assert np.allclose(P.calibrate(p_cf[None], p_cf), 0.5)
    q = P.calibrate(np.array([[0.3, 0.7]]), p_cf)
    assert np.isclose(q.sum(), 1) and q[0, 0] > q[0, 1]              # 0.3/0.2 > 0.7/0.8
    assert np.allclose(P.label_probs(np.log([[0.1, 0.3]])), [[0.25, 0.75]])
    with pytest.raises(InstructError):
        P.calibrate(np.array([[0.5, 0.5]]), np.array([0.0, 1.0]))


def test_final_answer_and_demos(rows):
    assert P.final_answer("3 + 4 = 7. Answer: 7") == "7"
    assert P.final_answer("first 3 then 12") == "12"
    demos = P.demos_by_task(rows, 2, seed=0)
    assert all(len(v) == 2 for v in demos.values())
    msgs = P.instruction_messages(rows[0], demos[rows[0]["task"]])
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user", "assistant", "user"]


# ------------------------------------------------------------------ templates
def test_chat_template_on_char_tokenizer(tiny_gpt, rows):
    model, tok = tiny_gpt
    text = TP.render(tok, [{"role": "user", "content": "hi"}])
    assert text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert ids[0] == tok.convert_tokens_to_ids(TP.IM_START) and tok.eos_token == TP.IM_END
    assert model.get_input_embeddings().weight.shape[0] == len(tok)
    assert "### Instruction" in TP.render(tok, [{"role": "user", "content": "hi"}], template=TP.ALPACA_TEMPLATE)
    html = TP.show_template(tok, [{"role": "user", "content": "hi"}])
    assert "tokens" in html and "&lt;|im_start|&gt;" in html


# ------------------------------------------------------------------ SFT
def test_prompt_is_masked(tiny_gpt, rows):
    _, tok = tiny_gpt
    pair = sft.sft_pair(tok, rows[0])
    ex = sft.tokenize_sft(tok, pair)
    n_prompt = len(tok(pair["prompt"], add_special_tokens=False)["input_ids"])
    assert all(lab == -100 for lab in ex["labels"][:n_prompt])
    assert ex["labels"][n_prompt:] == ex["input_ids"][n_prompt:]
    assert tok.decode(ex["input_ids"][n_prompt:]) == rows[0]["output"] + tok.eos_token


def test_masked_loss_equals_cross_entropy():
    torch.manual_seed(0)
    logits = torch.randn(2, 6, 11)
    labels = torch.tensor([[-100, -100, 3, 4, 5, -100], [-100, 1, 2, -100, -100, -100]])
    want = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, 11), labels[:, 1:].reshape(-1),
                                             ignore_index=-100)
    assert torch.allclose(sft.masked_lm_loss(logits, labels), want, atol=1e-6)


def test_padding_and_packing(tiny_gpt, rows):
    _, tok = tiny_gpt
    ex = [sft.tokenize_sft(tok, sft.sft_pair(tok, r)) for r in rows[:8]]
    batch = sft.pad_batch(ex, tok.pad_token_id)
    assert batch["input_ids"].shape == batch["labels"].shape
    assert int(batch["attention_mask"].sum()) == sum(len(e["input_ids"]) for e in ex)
    assert (batch["labels"][batch["attention_mask"] == 0] == -100).all()
    blocks = sft.pack_examples(ex, 64)
    assert all(len(b["input_ids"]) == 64 for b in blocks) and len(blocks) == sum(len(e["input_ids"]) for e in ex) // 64
    assert 0 < sft.padding_waste(ex, 4) < 1
    with pytest.raises(InstructError):
        sft.pack_examples(ex[:1], 10_000)


def test_sft_loop_lowers_loss(tiny_gpt, rows):
    model, tok = copy.deepcopy(tiny_gpt[0]), tiny_gpt[1]
    ex = [sft.tokenize_sft(tok, sft.sft_pair(tok, r)) for r in rows[:8]]
    h = sft.train_sft(model, ex, tok.pad_token_id, steps=15, batch_size=8, lr=3e-3, progress=False)
    assert h["train_loss"][-1] < h["train_loss"][0] and h["tokens_per_second"] > 0


def test_trl_sft_loss_equals_ours(tiny_gpt, rows, tmp_path):
    model, tok = copy.deepcopy(tiny_gpt[0]), tiny_gpt[1]
    pairs = [sft.sft_pair(tok, r) for r in rows[:4]]
    out = sft.trl_sft_batch_loss(model, tok, pairs, tmp_path, max_length=384)
    assert out["same_labels"] and out["abs_diff"] < 1e-5


# ------------------------------------------------------------------ DPO
def test_corrupted_answers_are_wrong(rows):
    rng = random.Random(0)
    for r in rows:
        bad = dpo.corrupt_answer(r["task"], r["output"], rng)
        assert not check_instruction_answer(r["task"], r["input"], bad), (r, bad)


def test_dpo_loss_by_hand():
    loss, c, r = dpo.dpo_loss(torch.tensor([2.0]), torch.tensor([-3.0]), torch.tensor([0.0]), torch.tensor([0.0]), 0.1)
    assert abs(float(loss) - float(torch.log1p(torch.exp(torch.tensor(-0.5))))) < 1e-6
    assert float(c) == pytest.approx(0.2) and float(r) == pytest.approx(-0.3)


def test_dpo_equal_policy_gives_log2_and_training_helps(tiny_gpt, rows):
    policy, tok = copy.deepcopy(tiny_gpt[0]), tiny_gpt[1]
    ref = copy.deepcopy(policy)
    pairs = dpo.preference_pairs(tok, rows[:16])
    m0 = dpo.preference_metrics(policy, ref, tok, pairs)
    assert m0["accuracy"] == 0.5 and abs(m0["loss"] - np.log(2)) < 1e-6
    dpo.train_dpo(policy, ref, tok, pairs, steps=8, batch_size=8, lr=3e-3)
    m1 = dpo.preference_metrics(policy, ref, tok, pairs)
    assert m1["accuracy"] > 0.5 and m1["margin"] > 0


def test_trl_dpo_loss_equals_ours(tiny_gpt, rows, tmp_path):
    policy, tok = copy.deepcopy(tiny_gpt[0]), tiny_gpt[1]
    ref = copy.deepcopy(policy)
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(0.02 * torch.randn_like(p))
    pairs = dpo.preference_pairs(tok, rows[:6])[:4]
    out = dpo.trl_dpo_batch_loss(policy, ref, tok, pairs, tmp_path)
    assert out["same_batch"] and out["abs_diff"] < 1e-4 and abs(out["trl_loss"] - np.log(2)) > 1e-3


# ------------------------------------------------------------------ chat and widget
def test_chat_turn_is_pure_and_truncates(tiny_gpt):
    model, tok = tiny_gpt
    history = [{"role": "user", "content": "a" * 80}, {"role": "assistant", "content": "b" * 80}]
    before = copy.deepcopy(history)
    out = chat.chat_turn(model, tok, history, "hello", max_new_tokens=4, max_context_tokens=60)
    assert history == before and out["dropped_turns"] == 2 and out["prompt_tokens"] <= 60
    assert out["history"][-1]["role"] == "assistant" and out["history"][-2]["content"] == "hello"
    again = chat.chat_turn(model, tok, history, "hello", max_new_tokens=4, max_context_tokens=60)
    assert again["reply"] == out["reply"]                                # greedy: repeatable
    with pytest.raises(InstructError):
        chat.chat_turn(model, tok, [], "x" * 200, max_context_tokens=60)
    with pytest.raises(InstructError):
        chat.chat_turn(model, tok, [], "  ")


def test_chat_view_and_widget_static(tiny_gpt, monkeypatch):
    from labutils.widgets import chat_view, chat_widget
    model, tok = tiny_gpt
    html = chat_view(model, tok, "hi", max_new_tokens=3)
    assert "assistant" in html.data
    monkeypatch.setenv("LABUTILS_HEADLESS", "1")
    shown = chat_widget(model, tok, message="hi")
    assert "assistant" in shown.value.data


def test_exact_match_by_task_runs(tiny_gpt, rows):
    model, tok = tiny_gpt
    res = P.exact_match_by_task(model, tok, rows[:8], max_new_tokens=3, system=None,
                                render=lambda m: TP.render(tok, m))
    assert 0 <= res["overall"] <= 1 and len(res["answers"]) == 8 and set(res["by_task"]) == {r["task"] for r in rows[:8]}
    with pytest.raises(InstructError):
        P.exact_match_by_task(model, tok, [])


# ------------------------------------------------------------------ encoder zero-shot
def test_encoder_zero_shot_with_fake_embeddings(monkeypatch):
    import labutils.models.encoder as enc
    table = {"neg": [1.0, 0.0], "pos": [0.0, 1.0]}
    monkeypatch.setattr(enc, "embed", lambda s, model=None, tokenizer=None: torch.tensor([table[x] for x in s]))
    pred = ez.zero_shot_predict(np.array([[0.9, 0.1], [0.2, 0.8]]), {0: ["neg"], 1: ["pos"]})
    assert pred.tolist() == [0, 1]
    with pytest.raises(InstructError):
        ez.label_embeddings({0: [], 1: ["pos"]})


# ------------------------------------------------------------------ the real chat LM (skipped if not prepared)
def test_real_chat_lm_cached_scoring():
    from labutils.models.chat import chat_lm, chat_lm_info
    if not chat_lm_info()["prepared"]:
        pytest.skip("the chat LM is not prepared here (python -m labutils data prepare chat_lm)")
    model, tok = chat_lm()
    demos = [("A wonderful film.", 1), ("Dull and long.", 0)]
    texts = ["Great acting.", "A waste of time."]
    a = P.score_labels(model, tok, texts, demos)
    b = P.score_labels(model, tok, texts, demos, use_cache=False)
    assert np.abs(a - b).max() < 1e-3
    assert P.label_probs(a)[0, 1] > 0.5 > P.label_probs(a)[1, 1]
