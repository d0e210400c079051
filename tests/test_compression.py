"""Unit tests of labutils.chapters.compression (tiny random models, no notebook)."""
import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification, GPT2Config, GPT2LMHeadModel

from labutils.chapters import compression as C


def _bert(layers=4):
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=layers, num_attention_heads=4,
                     intermediate_size=64, num_labels=2)
    return BertForSequenceClassification(cfg).eval()


def _batch():
    g = torch.Generator().manual_seed(0)
    return {"input_ids": torch.randint(0, 50, (4, 8), generator=g), "attention_mask": torch.ones(4, 8, dtype=torch.long),
            "labels": torch.tensor([0, 1, 0, 1])}


def test_absmax_and_zeropoint_roundtrip():
    w = torch.randn(16, 32)
    q, s = C.absmax_quantize(w)
    assert q.dtype == torch.int8 and C.quant_error(w, C.dequantize(q, s))["max_abs"] <= float(s) / 2 + 1e-6
    q, s, z = C.zeropoint_quantize(w.relu())
    assert q.dtype == torch.uint8 and C.quant_error(w.relu(), C.dequantize(q, s, z))["max_abs"] <= float(s) / 2 + 1e-6
    with pytest.raises(C.CompressionError):
        C.absmax_quantize(w, bits=1)


def test_per_channel_beats_per_tensor_with_an_outlier():
    w = torch.randn(16, 32)
    w[3, 5] = 100.0
    per_t = C.quant_error(w, C.dequantize(*C.absmax_quantize(w)))
    per_c = C.quant_error(w, C.dequantize(*C.absmax_quantize(w, axis=0)))
    assert per_c["rel_rms"] < per_t["rel_rms"]


def test_int4_groupwise_shape_and_error():
    w = torch.randn(8, 64)
    q, s = C.int4_groupwise(w, 32)
    assert q.shape == (8, 2, 32) and int(q.abs().max()) <= 7
    back = C.int4_dequantize(q, s)
    assert back.shape == w.shape and C.quant_error(w, back)["rel_rms"] < 0.2
    with pytest.raises(C.CompressionError):
        C.int4_groupwise(torch.randn(8, 30), 32)


def test_int8_by_hand_matches_torchao_dynamic():
    torch.manual_seed(0)
    lin = torch.nn.Linear(64, 32)
    x = torch.randn(5, 64)
    hand = C.int8_matmul_by_hand(x, lin.weight.detach(), lin.bias.detach())
    m = C.torchao_quantize(torch.nn.Sequential(lin), "int8_dynamic")
    with torch.no_grad():
        lib = m(x)
    exact = lin(x).detach()
    # close to torchao, not bit-equal (its activation quantization scheme differs in detail)
    assert (hand - lib).abs().max() < 0.05 and (hand - exact).abs().max() < 0.05
    with pytest.raises(C.CompressionError):
        C.torchao_quantize(torch.nn.Sequential(torch.nn.Linear(4, 4)), "int3")


def test_legacy_quantize_dynamic_runs():
    m = C.legacy_quantize_dynamic(torch.nn.Sequential(torch.nn.Linear(8, 8)))
    assert m(torch.randn(2, 8)).shape == (2, 8)


def test_conv1d_to_linear_keeps_outputs():
    cfg = GPT2Config(vocab_size=40, n_positions=16, n_embd=32, n_layer=2, n_head=2, bos_token_id=0, eos_token_id=0)
    torch.manual_seed(0)
    m = GPT2LMHeadModel(cfg).eval()
    x = torch.randint(0, 40, (2, 8))
    with torch.no_grad():
        before = m(x).logits
        assert C.conv1d_to_linear(m) == 8
        after = m(x).logits
    assert (before - after).abs().max() < 1e-5


def test_fake_quantize_and_pruning():
    m = _bert()
    C.fake_quantize_linears(m, "int4", group_size=32)
    m = C.magnitude_prune(_bert(), 0.5)
    assert abs(C.sparsity(m) - 0.5) < 0.01
    m = C.magnitude_prune(_bert(), 0.3, scope="layer")
    assert abs(C.sparsity(m) - 0.3) < 0.01


def test_structured_pruning_keeps_model_running():
    m = _bert()
    imp = C.head_importance(m, [_batch()])
    assert imp.shape == (4, 4) and (imp >= 0).all()
    plan = C.prune_heads_by_importance(m, imp, 6)
    assert sum(len(v) for v in plan.values()) == 6
    assert C.prune_ffn_neurons(m, 0.5) == 4 * 32
    b = _batch()
    assert m(**b).logits.shape == (4, 2)


def test_distillation_loss_and_student():
    s, t, y = torch.randn(4, 2), torch.randn(4, 2), torch.tensor([0, 1, 0, 1])
    assert torch.isclose(C.distillation_loss(s, t, y, alpha=0.0), torch.nn.functional.cross_entropy(s, y))
    assert float(C.distillation_loss(t, t, y, alpha=1.0)) == pytest.approx(0.0, abs=1e-6)
    teacher = _bert()
    student = C.student_from_teacher(teacher, n_layers=2)
    assert len(student.bert.encoder.layer) == 2
    assert torch.equal(student.bert.encoder.layer[1].output.dense.weight, teacher.bert.encoder.layer[3].output.dense.weight)
    losses = C.train_student(student, teacher, [_batch()] * 3)
    assert len(losses) == 3 and all(v == v for v in losses)


def test_measure_and_pareto():
    rows = [dict(variant="a", size_mb=10, latency_b1_ms=5, accuracy=0.9),
            dict(variant="b", size_mb=3, latency_b1_ms=1, accuracy=0.88),
            dict(variant="c", size_mb=5, latency_b1_ms=6, accuracy=0.8)]
    assert C.pareto_front(rows) == ["a", "b"]
    assert C.pick_variant(rows, max_latency_ms=2)["variant"] == "b"
    assert C.pick_variant(rows, max_latency_ms=0.5) is None
    assert C.pick_variant(rows)["variant"] == "a"
    assert len(C.pareto_figure(rows, max_latency_ms=2).data) == 3
    assert C.size_on_disk_mb(torch.nn.Linear(100, 100)) > 0.04
    assert C.latency_p50_ms(lambda: None, repeats=3) >= 0


def test_int4_asym_is_lossless_on_its_own_grid_and_packs():
    torch.manual_seed(0)
    w = torch.randn(8, 64)
    q, s, lo = C.int4_groupwise_asym(w, 32)
    assert q.dtype == torch.uint8 and int(q.max()) <= 15
    back = C.int4_dequantize(q, s, lo)
    assert C.quant_error(w, back)["rel_rms"] < C.quant_error(w, C.int4_dequantize(*C.int4_groupwise(w, 32)))["rel_rms"]
    again = C.int4_dequantize(*C.int4_groupwise_asym(back, 32))      # values already on a Q4_1-like grid
    assert (again - back).abs().max() < 1e-5
    for codes in (q, C.int4_groupwise(w, 32)[0]):
        packed = C.pack_int4(codes)
        assert packed.numel() == codes.numel() // 2
        assert torch.equal(C.unpack_int4(packed, codes.shape, signed=codes.dtype == torch.int8), codes)


def test_save_int4_packed_is_smaller_and_lm_helpers(tmp_path):
    cfg = GPT2Config(vocab_size=40, n_positions=32, n_embd=64, n_layer=2, n_head=2, bos_token_id=0, eos_token_id=0)
    torch.manual_seed(0)
    m = GPT2LMHeadModel(cfg).eval()
    C.conv1d_to_linear(m)
    p = C.save_int4_packed(m, tmp_path / "m.safetensors")
    p2 = C.save_int4_packed(m, tmp_path / "m2.safetensors", asymmetric=True)
    assert C.size_on_disk_mb(p) < C.size_on_disk_mb(p2) < C.size_on_disk_mb(m) / 3
    ids = torch.randint(0, 40, (100,))
    ppl = C.lm_perplexity(m, ids, block_size=16)
    assert 1 < ppl < 200

    class Tok:
        pad_token_id = eos_token_id = 0

        def __call__(self, text, return_tensors=None, add_special_tokens=True):
            ids = [1 + ord(c) % 39 for c in text]
            return {"input_ids": torch.tensor([ids])} if return_tensors else {"input_ids": ids}
    assert C.tokens_per_second(m, Tok(), "hello", new_tokens=3) > 0
    assert len(C.held_out_ids(Tok(), ["a" * 30, "b" * 30], 40)) == 40
    with pytest.raises(C.CompressionError):
        C.held_out_ids(Tok(), ["ab"], 40)


def test_ort_static_and_dynamic_int8_and_wrapper(tmp_path):
    from labutils.chapters.serving import onnx as S
    model, tok = S.tiny_classifier()
    enc = tok(["a short sentence", "another one here"], padding=True, return_tensors="pt")
    src = S.export_onnx(model, enc, tmp_path / "fp32.onnx")
    dyn = S.quantize_dynamic_int8(src, tmp_path / "dyn.onnx")
    sta = S.quantize_static_int8(src, tmp_path / "sta.onnx", [enc, enc])
    with pytest.raises(S.ServingError):
        S.quantize_static_int8(src, tmp_path / "x.onnx", [])
    ref = model(**enc).logits.detach()
    for path in (src, dyn, sta):
        wrapped = S.ort_classifier(path, config=model.config)
        out = wrapped(**enc).logits
        assert out.shape == ref.shape and (out - ref).abs().max() < 0.5
        assert C.size_on_disk_mb(wrapped) > 0
    assert C.size_on_disk_mb(S.ort_classifier(dyn)) < C.size_on_disk_mb(S.ort_classifier(src))
