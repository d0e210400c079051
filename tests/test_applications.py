"""Notebook 13: NER spans/metrics/dictionary/tagger, retrieval (torch vs FAISS, BM25 vs rank_bm25, RRF, recall, MRR),
QA metrics and grounding, the chat app (budget, tool), ROUGE-L vs rouge_score, the widgets (tiny inputs)."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from labutils.chapters import applications as A
from labutils.chapters.applications.ner import NERError
from labutils.chapters.applications.retrieval import RetrievalError

NAMES = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]


def _random_tags(rng, n):
    return [rng.choice(NAMES) for _ in range(n)]


# ------------------------------------------------------------------ NER
def test_entities_conlleval_rules():
    assert A.entities(["B-PER", "I-PER", "O", "B-LOC"]) == [("PER", 0, 1), ("LOC", 3, 3)]
    assert A.entities(["O", "I-LOC", "I-LOC", "B-LOC"]) == [("LOC", 1, 2), ("LOC", 3, 3)]   # I after O starts
    assert A.entities(["B-PER", "I-LOC"]) == [("PER", 0, 0), ("LOC", 1, 1)]                 # type change
    with pytest.raises(NERError):
        A.entities(["X-PER"])


def test_entity_prf_equals_seqeval_on_random_tags():
    rng = random.Random(0)
    gold = [_random_tags(rng, rng.randint(1, 12)) for _ in range(60)]
    pred = [_random_tags(rng, len(g)) for g in gold]
    ours, theirs = A.entity_prf(gold, pred), A.seqeval_prf(gold, pred)
    assert A.max_abs_diff(ours, theirs) < 1e-12
    assert 0 < ours["micro"]["f1"] < 1
    assert A.entity_prf(gold, gold)["micro"]["f1"] == 1.0
    with pytest.raises(NERError):
        A.entity_prf(gold, pred[:-1])


def test_dictionary_baseline_and_error_analysis():
    train = [(list("张三在北京"), ["B-PER", "I-PER", "O", "B-LOC", "I-LOC"]),
             (list("北京大学很好"), ["B-ORG", "I-ORG", "I-ORG", "I-ORG", "O", "O"])]
    dic = A.build_dictionary(train)
    assert dic == {"张三": "PER", "北京": "LOC", "北京大学": "ORG"}
    assert A.dictionary_tag(list("北京大学的张三"), dic) == ["B-ORG", "I-ORG", "I-ORG", "I-ORG", "O", "B-PER", "I-PER"]
    gold = [["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O", "B-ORG", "I-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-LOC", "O", "O", "B-LOC", "I-LOC", "B-PER"]]
    e = A.error_analysis(gold, pred)
    assert (e["correct"], e["boundary"], e["type"], e["spurious"], e["missed"]) == (1, 1, 1, 1, 0)
    twice = [train[0], train[0], train[1], train[1]]            # fold 0 = sentences 0, 2; fold 1 = 1, 3
    feats = A.ner.crossfit_lexicon([c for c, _ in twice], [t for _, t in twice], NAMES)
    assert len(feats[0]) == 5 and feats[0][0] == NAMES.index("B-PER")
    alone = A.ner.crossfit_lexicon([c for c, _ in train], [t for _, t in train], NAMES)
    assert alone[0] == [0] * 5                                   # its own names are unseen by the other fold
    html = A.highlight_html(list("张三在北京"), ["B-PER", "I-PER", "O", "B-LOC", "I-LOC"])
    assert "张三<sub" in html and "LOC" in html


def test_bilstm_tagger_learns_a_toy_pattern():
    rng = random.Random(0)
    chars, labels = [], []
    for _ in range(40):                      # "王" starts a two-character person name
        s = [rng.choice("天地人和") for _ in range(6)]
        i = rng.randint(0, 4)
        s[i], s[i + 1] = "王", rng.choice("明红")
        y = [0] * 6
        y[i], y[i + 1] = 1, 2
        chars.append(s)
        labels.append(y)
    vocab = A.CharVocab(chars)
    model = A.BiLSTMTagger(len(vocab), len(NAMES), emb=16, hidden=16, n_features=len(NAMES))
    feats = [[0] * 6 for _ in chars]
    hist = A.train_tagger(model, vocab, chars, labels, steps=60, batch_size=16, lr=1e-2, features=feats)
    assert hist["loss"][-1] < hist["loss"][0] / 3
    pred = A.predict_tags(model, vocab, chars[:5], NAMES, features=feats[:5])
    gold = [[NAMES[j] for j in y] for y in labels[:5]]
    assert A.entity_prf(gold, pred)["micro"]["f1"] > 0.8
    assert vocab.unk_rate([list("龙")]) == 1.0
    with pytest.raises(NERError):
        model(torch.zeros(1, 3, dtype=torch.long), torch.tensor([3]))


# ------------------------------------------------------------------ retrieval
def test_chunk_words_overlaps():
    chunks = A.chunk_words(" ".join(str(i) for i in range(10)), size=4, overlap=1)
    assert chunks == ["0 1 2 3", "3 4 5 6", "6 7 8 9"]
    with pytest.raises(RetrievalError):
        A.chunk_words("a b", size=2, overlap=2)


def test_torch_and_faiss_same_neighbours():
    rng = np.random.default_rng(0)
    docs = torch.nn.functional.normalize(torch.tensor(rng.normal(size=(50, 8)), dtype=torch.float32), dim=-1)
    docs = torch.cat([docs, docs[:1]])            # an exact duplicate: a tie
    q = docs[:5] + 0.01
    s, ids = A.exact_topk(q, docs, 5)
    fs, fids = A.faiss_topk(q.numpy(), docs.numpy(), 5)
    assert np.abs(s - fs).max() < 1e-5 and A.same_neighbours(ids, fids, s) == 1.0
    shuffled = ids.copy()
    shuffled[0, [1, 2]] = shuffled[0, [2, 1]]
    assert A.same_neighbours(ids, shuffled, s) < 1.0 or abs(s[0, 1] - s[0, 2]) < 1e-5
    with pytest.raises(RetrievalError):
        A.exact_topk(q, docs, 100)


def test_bm25_by_hand_equals_rank_bm25():
    from rank_bm25 import BM25Okapi
    corpus = [A.tokenize(t) for t in ["the cat sat on the mat", "dogs chase cats", "a cat and a dog",
                                      "gravitation attracts every mass", "mass and energy", "cat cat cat"]]
    mine, ref = A.BM25(corpus), BM25Okapi(corpus)
    for query in (["cat"], ["mass", "gravitation"], ["unknown"], ["cat", "cat"]):
        assert np.abs(mine.scores(query) - ref.get_scores(query)).max() < 1e-12
    assert mine.topk(["gravitation"], 1) == [3]


def test_rrf_recall_mrr():
    assert A.rrf([[1, 2, 3], [3, 1]], k=60)[0] == 1
    assert A.rrf([[5], [5]], k=0) == [5]
    rankings, rel = [[1, 2, 3], [4, 5, 6]], [{2}, {9}]
    assert A.recall_at_k(rankings, rel, 1) == 0.0 and A.recall_at_k(rankings, rel, 2) == 0.5
    assert A.mrr(rankings, rel) == pytest.approx(0.25)
    with pytest.raises(RetrievalError):
        A.recall_at_k([], [], 1)


def test_build_store_dedupes_and_maps_relevance():
    qa = [{"question": "q1", "answer": "Three."}, {"question": "q2", "answer": "three"}, {"question": "q3", "answer": "Red"}]
    chunks, rel = A.build_store(qa, [("kjv", "In the beginning"), ("dialogue", "red"), ("dialogue", " ")])
    assert [c["text"] for c in chunks] == ["Three.", "Red", "In the beginning"]
    assert rel == [{0}, {0}, {1}]


# ------------------------------------------------------------------ QA metrics
def test_em_f1_grounding():
    assert A.exact_match("The Pacific Ocean.", "pacific ocean") == 1.0
    assert A.token_f1("the pacific", "The Pacific Ocean") == pytest.approx(2 / 3)   # P = 1, R = 1/2
    assert A.token_f1("", "x") == 0.0
    assert A.grounded("Mercury", "[1] Mercury is a liquid metal")
    assert not A.grounded("I don't know.", "Mercury")
    assert not A.grounded("Venus", "Mercury")
    msgs = A.rag_messages("Why?", ["p1", "p2"])
    assert "[2] p2" in msgs[1]["content"] and A.rag_messages("Why?", None)[1]["content"] == "Why?"
    rows = A.answer_questions(lambda m: "Mercury", [{"question": "q", "answer": "mercury", "passages": ["Mercury"]}],
                              with_context=True)
    s = A.summarize_answers(rows)
    assert s["em"] == 1.0 and s["grounded_rate"] == 1.0 and s["ms"] >= 0


# ------------------------------------------------------------------ chat app and widgets
@pytest.fixture(scope="module")
def tiny_gpt():
    """A random char-level GPT-2 with the ChatML tokens and template."""
    from transformers import GPT2LMHeadModel

    from labutils.chapters.instruct import templates as TP
    from labutils.data.tokenizers import char_tokenizer
    from labutils.models.configs import tiny_gpt_config
    tok = char_tokenizer(["abcdefghijklmnopqrstuvwxyz ?:.,ABCDEFGHIJKLMNOPQRSTUVWXYZ"], model_max_length=512)
    torch.manual_seed(0)
    model = GPT2LMHeadModel(tiny_gpt_config("nano", len(tok), n_positions=512)).eval()
    TP.add_chat_tokens(tok, model)
    return model, tok


def test_chat_app_budget_and_tool(tiny_gpt):
    model, tok = tiny_gpt
    calls = []

    def search(q):
        calls.append(q)
        return 0.9, "gravity pulls"
    app = A.ChatApp(model, tok, search=search, max_context_tokens=320, max_new_tokens=3)
    t1 = app.send("hello there " * 4)
    assert t1["tool"] is None and t1["dropped"] == 0 and not t1["notice"]
    t2 = app.send("what is gravity?")
    assert calls and t2["tool"]["used"] and len(app.history) == 4
    assert "gravity pulls" not in app.history[2]["content"]          # the passage is not kept in the history
    for _ in range(3):
        last = app.send("tell me more about it please " * 2)
    assert last["dropped"] > 0 and "dropped" in last["notice"] and last["prompt_tokens"] <= 320
    assert A.count_tokens(tok, [{"role": "user", "content": "hi"}]) > 2
    assert "🔎" in A.transcript_html(app.log)
    with pytest.raises(A.chat.ChatAppError):
        app.send(" ")


def test_widgets_static(tiny_gpt, monkeypatch):
    from labutils.widgets import chatbot_view, chatbot_widget, entity_view, entity_widget
    taggers = {"all O": lambda c: ["O"] * len(c), "first PER": lambda c: ["B-PER"] + ["O"] * (len(c) - 1)}
    assert "PER" in entity_view(taggers, "张三", "first PER").data
    with pytest.raises(NERError):
        entity_view(taggers, "张三", "nope")
    monkeypatch.setenv("LABUTILS_HEADLESS", "1")
    assert "<sub" in entity_widget(taggers, "王五").value.data
    model, tok = tiny_gpt
    html = chatbot_view(model, tok, "hi?", history=[{"role": "user", "content": "a"},
                                                    {"role": "assistant", "content": "b"}],
                        search=lambda q: (0.1, "x"), max_new_tokens=2)
    assert "below the threshold" in html.data
    assert "assistant" in chatbot_widget(model, tok, message="hi").value.data


# ------------------------------------------------------------------ generation
def test_rouge_l_equals_rouge_score():
    pairs = [("the cat sat on the mat", "the cat is on the mat"), ("A B C D", "d c b a"), ("", "x y"),
             ("apple, banana; cherry!", "Apple banana cherry"), ("Zebra tiger 42", "zebra 42 tiger lion")]
    for pred, ref in pairs:
        ours, theirs = A.rouge_l(pred, ref), A.rouge_l_package(pred, ref)
        assert all(abs(ours[k] - theirs[k]) < 1e-12 for k in ours), (pred, ref)
    assert A.lcs_length(list("abcbdab"), list("bdcaba")) == 4


def test_rewrite_items_and_translation_measures():
    items = A.rewrite_items(6, seed=1)
    assert [i["task"] for i in items[:3]] == list(A.generation.REWRITE_TASKS)
    sort = next(i for i in items if i["task"] == "sort_words")
    assert sort["reference"].split() == sorted(sort["input"].split())
    assert A.cjk_share("我爱 you") == pytest.approx(2 / 5) and A.cjk_share("") == 0.0

    class Tok:
        def __call__(self, t, add_special_tokens=False):
            return {"input_ids": list(t.replace(" ", "")) * 2}
    assert A.tokens_per_char(Tok(), ["ab c"]) == 2.0
    with pytest.raises(A.generation.GenerationError):
        A.rewrite_items(2, tasks=("poetry",))
