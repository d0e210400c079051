"""Honest bounds on notebook 12's figures (deployment and serving).

Every profile: the exports are exact (fp32 parity ≤ 1e-4 for the classifier and the course GPT); the int8 model is
≥ 3× smaller; the fuzz of bad requests gives zero 5xx (and no dropped connection) and a valid request afterwards
answers 200; no load test saw a 5xx; the KV cache and no-cache paths choose the same tokens; continuous batching
needs fewer decode steps than static batching for the same requests; the stream produced tokens.
cpu/gpu (speed ratios): ORT fp32 faster than eager at batch 1, int8 faster than fp32, the KV cache ≥ 2× at the
longest generated length, continuous batching more tokens/s than static, int8 accuracy within 1 point.
The issue's benchmark targets (ORT fp32 ≥ 3× eager at b1; ≥ 200 req/s and p99 ≤ 100 ms at concurrency 16;
dynamic batching raising throughput) are recorded with their targets (``target`` in the entry) and reported as
met or missed; they are not asserted here because a 2-core machine shared with the load tester decides them.
"""
import math


def check(fig: dict, profile: str) -> None:
    assert fig["parity_classifier_max_diff"] <= 1e-4, fig["parity_classifier_max_diff"]
    assert fig["parity_gpt_max_diff"] <= 1e-4, fig["parity_gpt_max_diff"]
    assert fig["int8_size_ratio"] >= 3.0, fig["int8_size_ratio"]
    assert fig["fuzz_5xx"] == 0, fig["fuzz_5xx"]
    assert fig["valid_after_fuzz"] is True
    assert fig["load_5xx"] == 0, fig["load_5xx"]
    assert fig["rps_c16"] > 0 and math.isfinite(fig["p99_c16_ms"])
    assert fig["rps_batched_c16"] > 0 and fig["rps_unbatched_c16"] > 0
    assert fig["ttft_ms"] > 0 and math.isfinite(fig["ttft_ms"])
    assert fig["kv_same_tokens"] is True
    steps = fig["cb_steps"]
    assert steps["continuous"] < steps["static"], steps
    util = fig["cb_utilisation"]
    assert util["continuous"] > util["static"], util
    assert len(fig["deployment_table"]) >= 4
    assert all(r["cost_per_1k_usd"] > 0 for r in fig["deployment_table"])
    if profile == "smoke":
        return
    assert fig["ort_speedup_b1"] > 1.0, fig["ort_speedup_b1"]
    assert fig["int8_speedup_b1"] > fig["ort_speedup_b1"], (fig["int8_speedup_b1"], fig["ort_speedup_b1"])
    kv = {int(k): v for k, v in fig["kv_speedup"].items()}
    assert kv[max(kv)] >= 2.0, kv
    assert fig["cb_throughput_gain"] > 1.0, fig["cb_throughput_gain"]
    assert fig["int8_acc_drop"] <= 0.01, fig["int8_acc_drop"]
