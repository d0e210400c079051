"""Honest bounds on notebook 11's figures (compression).

Every profile: per-channel beats per-tensor with an outlier; Conv1D→Linear is exact; by-hand int8 ≈ torchao.
cpu/gpu: the int8 classifier keeps accuracy within 1 point; the distilled student is faster than the teacher.
The issue's size (≥ 3.5×) and batch-1 speed (≥ 5×) targets need ONNX Runtime int8 (notebook 12's path); the
torchao figures recorded here are only asserted to be > 1× (honest: torchao on this CPU is not 5× eager).
"""


def check(fig: dict, profile: str) -> None:
    out = fig["outlier_rel_rms"]
    assert out["absmax per-channel"] < out["absmax per-tensor"]
    assert fig["conv1d_to_linear_max_diff"] <= 1e-5
    assert fig["hand_vs_torchao_max_diff"] < 0.1
    assert fig["pareto_variants"] >= 7
    assert fig["int8_size_ratio"] > 1.5
    assert max(fig["prune_curve"]["sparsity"]) >= 0.85
    if profile == "smoke":
        return
    assert fig["int8_acc_drop"] <= 0.01
    assert fig["distill_speedup_b1"] >= 2.0
    assert fig["distill_acc_drop"] <= 0.03          # the target: within 3 points of the teacher
