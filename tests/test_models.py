"""labutils.models: the bundled encoder offline, embeddings, tiny configs, clear errors."""
import pytest
import torch

from labutils import models


@pytest.fixture(scope="module")
def encoder():
    return models.load_encoder()


def test_encoder_path_is_a_pretrained_dir():
    d = models.encoder_path()
    assert (d / "config.json").exists() and (d / "vocab.txt").exists()


def test_load_encoder_offline(encoder, monkeypatch):
    model, tok = encoder
    assert model.config.hidden_size == 384 and model.config.num_hidden_layers == 6
    assert tok.vocab_size == 30522
    assert 22_000_000 < models.count_parameters(model) < 23_500_000


def test_load_tokenizer_matches_encoder(encoder):
    assert models.load_tokenizer()("hello world")["input_ids"] == encoder[1]("hello world")["input_ids"]


def test_embeddings_related_sentences_score_higher(encoder):
    model, tok = encoder
    e = models.embed(["A man is playing a guitar.", "Someone plays an instrument.",
                      "The stock market fell sharply today."], model, tok)
    assert e.shape == (3, 384)
    assert torch.allclose(e.norm(dim=-1), torch.ones(3), atol=1e-5)
    sim = e @ e.T
    assert sim[0, 1] > sim[0, 2] + 0.2


def test_embed_matches_manual_mean_pooling(encoder):
    model, tok = encoder
    batch = tok(["short", "a somewhat longer sentence here"], padding=True, return_tensors="pt")
    with torch.no_grad():
        h = model(**batch).last_hidden_state
    manual = torch.nn.functional.normalize(models.mean_pool(h, batch["attention_mask"]), dim=-1)
    single = torch.cat([models.embed(s, model, tok) for s in ["short", "a somewhat longer sentence here"]])
    assert torch.allclose(manual, single, atol=1e-5), "padding must not change an embedding"


def test_task_heads():
    model, _ = models.load_encoder(task="sequence-classification", num_labels=3,
                                   id2label={0: "a", 1: "b", 2: "c"})
    assert model.config.num_labels == 3 and model.config.id2label[2] == "c"
    out = model(input_ids=torch.tensor([[101, 2023, 102]]))
    assert out.logits.shape == (1, 3)
    tok_model, _ = models.load_encoder(task="token-classification", num_labels=7)
    assert tok_model(input_ids=torch.tensor([[101, 2023, 102]])).logits.shape == (1, 3, 7)


def test_bad_task_and_offline_hub_name(capsys, monkeypatch):
    with pytest.raises(models.ModelError, match="sequence-classification"):
        models.load_encoder(task="regression")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model, _ = models.load_encoder("bert-base-uncased")
    assert "bundled MiniLM" in capsys.readouterr().out
    assert model.config.hidden_size == 384


def test_tiny_gpt_config_sizes_and_ids():
    from transformers import GPT2LMHeadModel
    cfg = models.tiny_gpt_config("nano", vocab_size=256)
    assert (cfg.n_layer, cfg.n_embd, cfg.bos_token_id, cfg.eos_token_id) == (2, 64, 255, 255)
    n = models.count_parameters(GPT2LMHeadModel(cfg))
    assert 0.10e6 < n < 0.14e6  # docstring says 0.12M
    micro = models.count_parameters(GPT2LMHeadModel(models.tiny_gpt_config("micro", vocab_size=4096)))
    assert 1.2e6 < micro < 1.45e6
    with pytest.raises(models.ModelError, match="nano, micro, small, base"):
        models.tiny_gpt_config("huge")
    with pytest.raises(models.ModelError, match="inside the vocabulary"):
        models.tiny_gpt_config("nano", vocab_size=100, eos_token_id=100)


def test_tiny_bert_config():
    from transformers import BertForMaskedLM
    cfg = models.tiny_bert_config("micro")
    assert cfg.hidden_size == 128 and cfg.intermediate_size == 512
    assert 4.0e6 < models.count_parameters(BertForMaskedLM(cfg)) < 5.5e6
