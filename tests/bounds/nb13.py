"""Honest bounds on notebook 13's figures (applications).

Every profile: our entity-level P/R/F1 equals seqeval's (< 1e-9); FAISS and torch exact search return the same
neighbours (ties aside) and scores; BM25 by hand equals rank_bm25 (< 1e-9); our ROUGE-L equals rouge_score's
(< 1e-9); all rates lie in [0, 1]; the taggers' loss went down; dense recall@5 beats a random ranker; the chat
budget dropped old messages (the notebook sets it small on purpose) and the retrieval tool was called.
cpu/gpu: the neural NER tagger (BiLSTM + lexicon) beats the dictionary baseline's entity F1, and the plain
BiLSTM finds unseen names (the dictionary cannot); dense recall@5 ≥ 0.3; the classifier beats the majority class.
Smoke trains each tagger for 40 steps, so it asserts no F1 ordering.
"""


def _rate(x) -> bool:
    return 0.0 <= float(x) <= 1.0


def check(fig: dict, profile: str) -> None:
    assert fig["ner_seqeval_max_diff"] < 1e-9, fig["ner_seqeval_max_diff"]
    assert fig["faiss_same_neighbours"] == 1.0, fig["faiss_same_neighbours"]
    assert fig["faiss_score_max_diff"] < 1e-4, fig["faiss_score_max_diff"]
    assert fig["bm25_max_diff"] < 1e-9, fig["bm25_max_diff"]
    assert fig["rouge_max_diff"] < 1e-9, fig["rouge_max_diff"]
    for key in ("ner_f1_baseline", "ner_f1_bilstm", "ner_f1_neural", "rag_grounded_rate", "clf_accuracy"):
        assert _rate(fig[key]), (key, fig[key])
    for key in ("qa_f1", "qa_em", "rag_recall_at_5", "rag_mrr", "rewrite_rougeL", "ner_unseen_recall"):
        assert all(_rate(v) for v in fig[key].values()), (key, fig[key])
    assert all(v > 0 for v in fig["ner_loss_drop"].values()), fig["ner_loss_drop"]
    recall = fig["rag_recall_at_5"]
    assert recall["dense (MiniLM)"] > 2 * 5 / 150, recall  # far above random (5 / chunks, < 5/150 in every profile)
    assert fig["chat_dropped_messages"] >= 1, fig["chat_dropped_messages"]
    assert fig["chat_tool_calls"] >= 1, fig["chat_tool_calls"]
    assert fig["mt_tokens_per_char"]["zh"] > fig["mt_tokens_per_char"]["en"], fig["mt_tokens_per_char"]
    assert len(fig["final_table"]) >= 8
    assert all(r["latency per request (ms)"] > 0 for r in fig["final_table"])
    if profile == "smoke":
        return
    assert fig["ner_f1_neural"] > fig["ner_f1_baseline"], (fig["ner_f1_neural"], fig["ner_f1_baseline"])
    unseen = fig["ner_unseen_recall"]
    assert unseen["dictionary"] == 0.0 and unseen["BiLSTM"] > 0.1, unseen
    assert recall["dense (MiniLM)"] >= 0.3, recall
    assert fig["clf_accuracy"] > 0.7, fig["clf_accuracy"]
