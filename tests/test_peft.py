"""Notebook 08's helpers (labutils.chapters.peft), on tiny BERT/GPT-2 configs: each test a few seconds."""
from __future__ import annotations

import copy

import pytest
import torch

from labutils.chapters import peft as P
from labutils.widgets.nb08 import lora_rank_widget


def _tiny_bert(hidden: int = 32, seed: int = 0):
    from transformers import BertConfig, BertForSequenceClassification
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=50, hidden_size=hidden, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=2 * hidden, max_position_embeddings=32, num_labels=2,
                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    return BertForSequenceClassification(cfg).eval()


def _batch(n: int = 4, t: int = 7):
    g = torch.Generator().manual_seed(1)
    return {"input_ids": torch.randint(1, 50, (n, t), generator=g), "attention_mask": torch.ones(n, t, dtype=torch.long)}


def _randomise_b(model):
    with torch.no_grad():
        for layer in P.lora_layers(model).values():
            layer.lora_B.normal_(0, 0.1)


def test_lora_linear_starts_at_base_and_merges_exactly():
    lin = torch.nn.Linear(6, 5)
    x = torch.randn(3, 6)
    ref = lin(x).detach()
    layer = P.LoRALinear(lin, r=2, alpha=4)
    assert torch.allclose(layer(x), ref)                       # B = 0: the pretrained layer
    assert layer.scale == 2 and not lin.weight.requires_grad
    with torch.no_grad():
        layer.lora_B.normal_()
    y = layer(x).detach()
    w0 = lin.weight.detach().clone()
    layer.merge()
    assert torch.allclose(layer(x), y, atol=1e-5)
    layer.unmerge()
    assert torch.allclose(lin.weight, w0, atol=1e-6)
    assert torch.linalg.matrix_rank(layer.delta_weight().detach()) <= 2
    with pytest.raises(P.PeftError):
        P.LoRALinear(lin, r=0)


def test_by_hand_equals_peft_on_a_tiny_bert():
    base = _tiny_bert()
    hand = copy.deepcopy(base)
    names = P.apply_lora(hand, targets=("query", "value"), r=4, alpha=8)
    assert len(names) == 4
    _randomise_b(hand)
    lib = P.build_method("lora", base, r=4, alpha=8)
    assert P.copy_into_peft(hand, lib) >= 8
    assert P.max_logit_diff(hand, lib, _batch()) < 1e-5
    # trainable: LoRA (4 matrices of r·(32+32)) plus the head (32·2 + 2)
    assert sum(p.numel() for p in hand.parameters() if p.requires_grad) == 4 * 4 * 64 + 66
    with pytest.raises(P.PeftError):
        P.apply_lora(copy.deepcopy(base), targets=("no_such_layer",))
    with pytest.raises(P.PeftError):
        P.copy_into_peft(hand, P.build_method("lora", base, r=2, alpha=4))


def test_adapters_and_bitfit_start_at_the_base_and_count():
    base = _tiny_bert()
    b = _batch()
    with torch.no_grad():
        ref = base(**b).logits
    ad = copy.deepcopy(base)
    n = P.add_houlsby_adapters(ad, bottleneck=4)
    with torch.no_grad():
        assert torch.allclose(ad(**b).logits, ref, atol=1e-6)   # W_up = 0: the pretrained model
    per_adapter = 32 * 4 + 4 + 4 * 32 + 32
    layernorms = 2 * 2 * 2 * 32
    assert n == 2 * 2 * per_adapter + layernorms + 66
    with pytest.raises(P.PeftError):
        P.add_houlsby_adapters(ad)
    bf = copy.deepcopy(base)
    assert P.bitfit(bf) == sum(p.numel() for name, p in bf.named_parameters()
                               if name.endswith(".bias") or name.startswith("classifier"))


@pytest.mark.parametrize("name", ["full", "head", "lora", "adalora", "ia3", "prompt", "prefix", "adapter", "bitfit"])
def test_every_method_trains_with_the_shared_routine(name):
    import datasets
    base = _tiny_bert()
    g = torch.Generator().manual_seed(0)
    rows = [{"input_ids": torch.randint(1, 50, (int(torch.randint(3, 9, (1,), generator=g)),), generator=g).tolist(),
             "labels": i % 2} for i in range(16)]
    for r in rows:
        r["attention_mask"] = [1] * len(r["input_ids"])
    ds = datasets.Dataset.from_list(rows)
    model = P.build_method(name, base, r=2, virtual_tokens=3, bottleneck=4, total_steps=4)
    hist = P.train_method(model, ds, steps=4, lr=1e-2, batch_size=4, progress=False,
                          on_step=P.adalora_hook if name == "adalora" else None)
    assert hist["steps"] == 4 and hist["seconds_per_step"] > 0 and hist["trainable"] > 0
    assert all(torch.isfinite(torch.tensor(hist["train_loss"])))
    mem = P.training_memory_bytes(model, {k: v[:2] for k, v in _batch().items()})
    assert mem["total"] >= mem["weights"] > 0
    assert P.trainable_file_bytes(model) > 0
    with pytest.raises(P.PeftError):
        P.build_method("no-such-method", base)


def test_length_grouped_batches_cover_every_example_once():
    lengths = [5, 1, 9, 3, 7, 2, 8, 4, 6, 10]
    batches = P.length_grouped_batches(lengths, 3, seed=0, group=2)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(10))
    assert batches == P.length_grouped_batches(lengths, 3, seed=0, group=2)


def test_lowrank_pure_functions():
    c = P.lora_cost(384, 384, r=8, alpha=16, n_matrices=12)
    assert c["lora_params"] == 73_728 and c["full_params"] == 12 * 384 * 384
    assert c["scale"] == 2 and c["break_even_rank"] == 192 and c["lora_train_mb"] < c["full_train_mb"]
    assert P.lora_cost(4096, 4096, r=8, base_dtype="nf4")["lora_train_mb"] < P.lora_cost(4096, 4096, r=8)["lora_train_mb"]
    for bad in (dict(r=0), dict(r=500), dict(base_dtype="fp8")):
        with pytest.raises(P.PeftError):
            P.lora_cost(**bad)
    w0 = torch.randn(20, 30).numpy()
    s = P.delta_spectrum(w0 + torch.randn(20, 2).numpy() @ torch.randn(2, 30).numpy(), w0)
    assert P.energy_at_rank(s, 2) == pytest.approx(1.0) and P.energy_at_rank(s, 1) < 1
    assert 0 < P.random_energy_at_rank((64, 64), 8) < 0.5
    with pytest.raises(P.PeftError):
        P.delta_spectrum(w0, w0.T)
    fig = P.rank_figure(measured={1: 0.7, 8: 0.8}, full_acc=0.82)
    assert len(fig.data) == 5


def test_widget_is_static_when_headless(monkeypatch):
    monkeypatch.setenv("LABUTILS_HEADLESS", "1")
    shown = lora_rank_widget(measured={1: 0.7, 8: 0.8}, full_acc=0.8)
    assert shown.value.layout.title is not None or len(shown.value.data) >= 3


def test_int8_base_keeps_outputs_and_gradients():
    model = _tiny_bert()
    P.apply_lora(model, r=2)
    _randomise_b(model)
    b = _batch()
    with torch.no_grad():
        ref = model(**b).logits
    info = P.quantize_linears(model.bert)
    assert info["layers"] == 2 * 6 + 1 and 3 < info["fp32_bytes"] / info["int8_bytes"] <= 4
    out = model(**b).logits
    assert (out - ref).abs().max() < 0.05
    out.sum().backward()
    a = next(iter(P.lora_layers(model).values())).lora_A
    assert a.grad is not None and a.grad.abs().sum() > 0
    with pytest.raises(P.PeftError):
        next(iter(P.lora_layers(model).values())).merge()


def test_adapter_files_roundtrip_switch_and_mismatch(tmp_path):
    import peft
    base = _tiny_bert()
    lib = P.build_method("lora", base, r=2)
    with torch.no_grad():
        for n, p in lib.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.1)
    lib.save_pretrained(tmp_path / "a")
    assert P.dir_bytes(tmp_path / "a") > 0 and P.adapter_config(tmp_path / "a")["r"] == 2
    back = P.load_adapter_checked(copy.deepcopy(base), tmp_path / "a", adapter_name="one")
    assert P.max_logit_diff(back, lib, _batch()) < 1e-6
    merged = back.merge_and_unload()
    assert not isinstance(merged, peft.PeftModel) and P.max_logit_diff(merged, lib, _batch()) < 1e-5
    # an adapter for another width: same module names, other shapes -> one sentence
    other = P.build_method("lora", _tiny_bert(hidden=16), r=2)
    other.save_pretrained(tmp_path / "b")
    with pytest.raises(P.PeftError, match="does not fit"):
        P.load_adapter_checked(copy.deepcopy(base), tmp_path / "b")
    # an adapter whose target modules the base lacks
    from transformers import GPT2Config, GPT2LMHeadModel
    gpt = GPT2LMHeadModel(GPT2Config(vocab_size=20, n_positions=16, n_embd=16, n_layer=1, n_head=2,
                                     bos_token_id=19, eos_token_id=19))
    with pytest.raises(P.PeftError, match="query"):
        P.load_adapter_checked(gpt, tmp_path / "a")
    with pytest.raises(P.PeftError):
        P.adapter_config(tmp_path)
    # two adapters on one base, switched
    multi = P.load_adapter_checked(copy.deepcopy(base), tmp_path / "a", adapter_name="x")
    lib.save_pretrained(tmp_path / "c")
    multi = P.load_adapter_checked(multi, tmp_path / "c", adapter_name="y")
    multi.set_adapter("y")
    assert multi.active_adapter == "y"


def test_causal_lora_configs_and_a_short_adaptation():
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM
    torch.manual_seed(0)
    gpt = GPT2LMHeadModel(GPT2Config(vocab_size=20, n_positions=16, n_embd=16, n_layer=1, n_head=2,
                                     bos_token_id=19, eos_token_id=19))
    cfg = P.lora_config_for(gpt, r=2)
    assert cfg.fan_in_fan_out and set(cfg.target_modules) == {"c_attn"}
    llama = LlamaForCausalLM(LlamaConfig(vocab_size=20, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=32))
    assert set(P.lora_config_for(llama).target_modules) == {"q_proj", "v_proj"}
    with pytest.raises(P.PeftError):
        P.lora_config_for(torch.nn.Sequential(torch.nn.Linear(2, 2)))
    model = P.get_peft_model(gpt, cfg)
    ids = torch.randint(0, 19, (400,))
    hist = P.adapt_lm(model, ids, ids, steps=3, block_size=8, batch_size=4, lr=1e-2, eval_blocks=4, progress=False)
    assert hist["val_loss_before"] > 0 and hist["final_val_loss"] > 0
