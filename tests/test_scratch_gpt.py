"""The from-scratch GPT and BERT layer agree with torch and transformers, and the counts add up."""
import math

import pytest
import torch
import torch.nn.functional as F

from labutils.models import scratch as sg


@pytest.fixture(scope="module")
def hf_gpt():
    from transformers import GPT2Config, GPT2LMHeadModel
    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=97, n_positions=32, n_embd=32, n_layer=2, n_head=4,
                     bos_token_id=0, eos_token_id=0)
    return GPT2LMHeadModel(cfg).eval()


def test_attention_matches_sdpa_with_and_without_causal_mask():
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 3, 7, 8) for _ in range(3))
    out, w = sg.attention(q, k, v)
    assert sg.max_abs_diff(out, F.scaled_dot_product_attention(q, k, v)) < 1e-5
    assert torch.allclose(w.sum(-1), torch.ones(2, 3, 7))
    out_c, w_c = sg.attention(q, k, v, sg.causal_mask(7))
    assert sg.max_abs_diff(out_c, F.scaled_dot_product_attention(q, k, v, is_causal=True)) < 1e-5
    assert float(w_c.triu(1).abs().max()) == 0.0          # nothing from the future
    with pytest.raises(ValueError):
        sg.attention(q, k[..., :4], v)
    with pytest.raises(ValueError):
        sg.attention(q, k, v, torch.ones(7, 7))           # a float mask is a mistake


def test_causal_mask_shape_and_cache_offset():
    m = sg.causal_mask(4)
    assert m.dtype == torch.bool and m.tolist()[1] == [True, True, False, False]
    last = sg.causal_mask(1, 5)                            # one new query sees all 5 keys
    assert last.tolist() == [[True] * 5]
    assert sg.causal_mask(2, 4).tolist() == [[True, True, True, False], [True] * 4]
    with pytest.raises(ValueError):
        sg.causal_mask(5, 3)


def test_layernorm_and_gelus_match_torch():
    torch.manual_seed(1)
    x = torch.randn(3, 5, 16) * 3 + 1
    ln = sg.LayerNorm(16)
    with torch.no_grad():
        ln.weight.normal_()
        ln.bias.normal_()
    ref = F.layer_norm(x, (16,), ln.weight, ln.bias, 1e-5)
    assert sg.max_abs_diff(ln(x), ref) < 1e-5
    assert sg.max_abs_diff(sg.gelu_tanh(x), F.gelu(x, approximate="tanh")) < 1e-5
    assert sg.max_abs_diff(sg.gelu_erf(x), F.gelu(x)) < 1e-5


def test_sinusoidal_and_rope_properties():
    pe = sg.sinusoidal_positions(50, 16)
    assert pe.shape == (50, 16) and float(pe[0, 0]) == 0.0 and float(pe[0, 1]) == 1.0
    assert math.isclose(float(pe[3, 2]), math.sin(3 / 10000 ** (2 / 16)), rel_tol=1e-5)
    with pytest.raises(ValueError):
        sg.sinusoidal_positions(10, 7)
    torch.manual_seed(2)
    q, k = torch.randn(1, 16, dtype=torch.float64), torch.randn(1, 16, dtype=torch.float64)

    def score(m, n):
        return float(sg.apply_rope(q, [m]) @ sg.apply_rope(k, [n]).T)
    assert abs(score(5, 2) - score(105, 102)) < 1e-9          # depends on m - n only
    assert abs(score(5, 2) - score(2, 5)) > 1e-6              # but not symmetric in it
    # rotation keeps lengths
    assert math.isclose(float(sg.apply_rope(q, [7]).norm()), float(q.norm()), rel_tol=1e-9)


def test_scratch_gpt_equals_transformers_gpt2(hf_gpt):
    model = sg.scratch_from_hf(hf_gpt)
    idx = torch.randint(0, 97, (2, 12))
    with torch.no_grad():
        diff = sg.max_abs_diff(model(idx).logits, hf_gpt(idx).logits)
    assert diff < 1e-4
    # a block alone, too (HF's blocks get their causal mask from the model; ours builds it)
    assert sg.count_parameters(model) == sg.count_parameters(hf_gpt)


def test_load_checks_sizes_and_transposes(hf_gpt):
    wrong = sg.ScratchGPT(sg.GPTConfig(97, 32, 32, 3, 4))
    with pytest.raises(ValueError, match="n_layers"):
        sg.load_from_hf(wrong, hf_gpt)
    model = sg.scratch_from_hf(hf_gpt)
    # Conv1D (in, out) became Linear (out, in)
    assert torch.equal(model.blocks[0].attn.c_attn.weight, hf_gpt.transformer.h[0].attn.c_attn.weight.T)
    assert model.lm_head.weight is model.wte.weight


def test_kv_cache_gives_the_same_tokens_and_logits(hf_gpt):
    model = sg.scratch_from_hf(hf_gpt)
    idx = torch.randint(0, 97, (1, 5))
    a, b = model.generate(idx, 8, use_cache=True), model.generate(idx, 8, use_cache=False)
    assert torch.equal(a, b) and a.shape == (1, 13)
    ref = hf_gpt.generate(idx, max_new_tokens=8, do_sample=False, pad_token_id=0,
                          attention_mask=torch.ones_like(idx))
    assert torch.equal(a, ref)
    with torch.no_grad():
        full = model(a).logits
        first = model(a[:, :6], use_cache=True)
        step = model(a[:, 6:7], past=first.past, use_cache=True)
    assert sg.max_abs_diff(step.logits[:, -1], full[:, 6]) < 1e-5
    with pytest.raises(ValueError, match="context"):
        model(torch.zeros(1, 33, dtype=torch.long))


def test_sinusoidal_gpt_runs_and_returns_attentions():
    model = sg.ScratchGPT(sg.GPTConfig(50, 16, 32, 2, 4, positions="sinusoidal"))
    out = model(torch.randint(0, 50, (1, 6)), return_attn=True)
    assert out.logits.shape == (1, 6, 50) and len(out.attentions) == 2
    assert out.attentions[0].shape == (1, 4, 6, 6)
    with pytest.raises(ValueError):
        sg.GPTConfig(50, 16, 30, 2, 4)               # 30 not divisible by 4
    with pytest.raises(ValueError):
        sg.GPTConfig(50, 16, 32, 2, 4, positions="rotary")


def test_param_formula_equals_code(hf_gpt):
    b = sg.gpt_param_breakdown(97, 32, 32, 2)
    assert b["total"] == sg.count_parameters(hf_gpt)
    assert b["output layer"] == 0 and sg.gpt_param_breakdown(97, 32, 32, 2, tied=False)["total"] == b["total"] + 97 * 32
    d = 768                                           # GPT-2 small: 124,439,808 parameters
    assert sg.gpt_param_breakdown(50257, 1024, d, 12)["total"] == 124_439_808
    with pytest.raises(ValueError):
        sg.gpt_param_breakdown(0, 10, 8, 1)


def test_flops_estimate_matches_flop_counter():
    cfg = sg.GPTConfig(101, 32, 32, 2, 4)
    model = sg.ScratchGPT(cfg)
    t = 16
    idx = torch.randint(0, 101, (1, t))
    est = sg.forward_flops_per_token(2, 32, t, 101)
    fwd = sg.measure_flops(model, idx)
    assert fwd == pytest.approx(est["forward"] * t, rel=1e-9)
    assert sg.measure_flops(model, idx, backward=True) == pytest.approx(3 * fwd, rel=0.01)
    assert est["weights"] == 2 * est["matmul_params"]


def test_encoder_layer_equals_bert_layer():
    from transformers import BertConfig
    from transformers.models.bert.modeling_bert import BertLayer
    torch.manual_seed(3)
    cfg = BertConfig(hidden_size=32, num_attention_heads=4, intermediate_size=64)
    hf_layer = BertLayer(cfg).eval()
    mine = sg.encoder_layer_from_hf(hf_layer, cfg)
    x = torch.randn(2, 9, 32)
    with torch.no_grad():
        ref = hf_layer(x)
        ref = ref[0] if isinstance(ref, tuple) else ref
        h, a, w = mine(x)
    assert sg.max_abs_diff(h, ref) < 1e-4 and w.shape == (2, 4, 9, 9)
    pad = torch.ones(2, 9, dtype=torch.bool)
    pad[1, 6:] = False
    with torch.no_grad():
        _, _, w_pad = mine(x, key_padding_mask=pad)
    assert float(w_pad[1, :, :, 6:].abs().max()) == 0.0


def test_generation_time_per_token_is_positive_and_checks_input(hf_gpt):
    assert sg.generation_time_per_token(hf_gpt, 4, 2, True, repeats=1) > 0
    with pytest.raises(ValueError):
        sg.generation_time_per_token(hf_gpt, 30, 10, True)
