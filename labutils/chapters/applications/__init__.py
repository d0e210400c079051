"""Notebook 13, applications end to end on the course's small models: Chinese NER with character BIO tags
(``ner``: spans, metrics by hand, dictionary baseline, error analysis, highlighter; ``tagger``: a BiLSTM tagger),
retrieval for RAG (``retrieval``: chunking, torch/FAISS search, BM25, fusion, recall@k, MRR), answering with the chat
LM (``qa``: prompts, EM/F1, grounding), a chatbot with a token budget and a retrieval tool (``chat``), and generation
(``generation``: ROUGE-L, rewriting references, translation measurements)."""
from __future__ import annotations

from labutils.chapters.applications import chat, generation, ner, qa, retrieval, tagger  # noqa: F401
from labutils.chapters.applications.chat import ChatApp, count_tokens, transcript_html  # noqa: F401
from labutils.chapters.applications.generation import (  # noqa: F401
    cjk_share,
    lcs_length,
    rewrite_items,
    rouge_l,
    rouge_l_package,
    tokens_per_char,
)
from labutils.chapters.applications.ner import (  # noqa: F401
    build_dictionary,
    dictionary_tag,
    entities,
    entity_prf,
    error_analysis,
    highlight_html,
    max_abs_diff,
    seqeval_prf,
)
from labutils.chapters.applications.qa import (  # noqa: F401
    answer_questions,
    exact_match,
    grounded,
    rag_messages,
    summarize_answers,
    timed,
    token_f1,
)
from labutils.chapters.applications.retrieval import (  # noqa: F401
    BM25,
    build_store,
    chunk_words,
    exact_topk,
    faiss_topk,
    mrr,
    recall_at_k,
    rrf,
    same_neighbours,
    tokenize,
)
from labutils.chapters.applications.tagger import BiLSTMTagger, CharVocab, predict_tags, train_tagger  # noqa: F401
