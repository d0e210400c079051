"""Honest bounds on notebook 03's figures.

Equalities are float32 rounding (the same computation written twice); timings are noisy on shared
machines, so only their direction is bounded, and only where the contexts are long enough to show it.
"""


def check(fig: dict, profile: str) -> None:
    # the formula and two implementations agree to float32 rounding
    for name in ("sdpa_max_abs_diff", "sdpa_causal_max_abs_diff", "mha_max_abs_diff",
                 "permutation_equivariance_diff", "layernorm_max_abs_diff"):
        assert 0 <= fig[name] < 1e-5, f"{name} = {fig[name]}"
    assert fig["rope_relative_max_diff"] < 1e-9, "RoPE scores must depend on the offset only (float64)"
    assert fig["gpt_logits_max_abs_diff"] < 1e-4
    assert fig["gpt_greedy_tokens_identical"] is True
    assert fig["minilm_layer0_max_abs_diff"] < 1e-4
    assert fig["minilm_attention_weights_max_abs_diff"] < 1e-5
    # counting
    assert fig["params_by_formula"] == fig["params_by_code"] > 0
    assert abs(fig["flops_estimate_ratio"] - 1) < 0.01, "2N + 4LTd counts the same matmuls as FlopCounterMode"
    assert 2.9 < fig["train_to_forward_flops_ratio"] < 3.1
    assert fig["flops_forward_per_token_measured"] > 0
    # KV cache: in smoke the contexts are too short for a reliable direction
    assert fig["kv_speedup_at_longest"] > (0 if profile == "smoke" else 1.0)
    # attention patterns: a pretrained encoder has sharp heads, an untrained decoder is ~uniform
    assert fig["minilm_min_entropy_ratio"] < 0.3
    assert fig["minilm_max_previous_token_weight"] > 0.8
    assert 0.9 < fig["gpt_untrained_entropy_ratio"] <= 1.0 + 1e-6
