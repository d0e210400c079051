"""Honest bounds on notebook 02's figures (tokenization)."""


def check(fig: dict, profile: str) -> None:
    full = profile != "smoke"
    # normalisation: the KJV is plain text; People's Daily writes digits and Latin letters in full width
    assert fig["kjv_nfkc_changed_frac"] < 0.05
    assert fig["zh_news_nfkc_changed_frac"] > 0.02

    # BPE from scratch vs tokenizers: identical with the library's tie rule, different only through ties without it
    assert fig["bpe_merges_agree"] == 1.0, "our BPE with the library's tie-breaking must reproduce its merges exactly"
    assert 0.5 < fig["bpe_merges_agree_lexical"] < 1.0, "the tiny input has a tie the two rules break differently"
    assert fig["bpe_merges_agree_kjv"] == 1.0
    assert fig["bpe_encode_mismatches_kjv"] == 0
    assert (3.5 if full else 2.5) < fig["bpe_chars_per_token"] < 6.0
    assert fig["bytelevel_roundtrip_exact"] is True

    # English: the character / subword / word ordering of vocabulary, length and OOV
    assert fig["kjv_char_vocab"] < 120
    assert fig["kjv_char_vocab"] < fig["kjv_bpe_vocab"] < fig["kjv_word_vocab"]
    assert fig["kjv_char_mean_tokens"] > fig["kjv_bpe_mean_tokens"] > fig["kjv_word_mean_tokens"]
    assert fig["kjv_char_mean_tokens"] > 3 * fig["kjv_word_mean_tokens"]
    assert fig["kjv_word_oov"] > 0.002, "whole held-out books bring new names"
    assert fig["kjv_bpe_oov"] < 0.001 and fig["kjv_char_oov"] < 0.001
    assert fig["kjv_word_oov"] > 10 * fig["kjv_bpe_oov"]

    # Chinese: characters longest, jieba shortest, BPE in between; jieba's vocabulary has the most OOV
    assert fig["zh_char_mean_tokens"] > fig["zh_bpe_mean_tokens"] > fig["zh_jieba_mean_tokens"]
    assert fig["zh_char_mean_tokens"] > 1.2 * fig["zh_jieba_mean_tokens"]
    assert fig["zh_jieba_vocab"] > fig["zh_char_vocab"]
    assert fig["zh_jieba_oov"] > fig["zh_char_oov"]

    # MiniLM's English WordPiece on Chinese and emoji
    assert 0.2 < fig["minilm_zh_unk_rate"] < 0.95
    assert 0.9 < fig["minilm_zh_chars_per_token"] < 1.3, "about one Chinese character per token"
    assert fig["minilm_emoji_unk"] is True
