"""Honest bounds on notebook 15's figures (the capstone pipeline: sentiment_zh in smoke, sentiment_en in cpu/gpu).

Every profile: the ONNX export is exact (parity ≤ 1e-4); the served model answers like the local one; the bounded
load test saw no 5xx and no failed connection; the model card lists every figure of the run with its value; the
headless rerun found every stage finished; no leaked row survives the data stage; training lowered the loss on
training rows. cpu/gpu: the test accuracy is well above the majority class and the int8 model is ≥ 3× smaller and
within 2 points of fp32 accuracy.
"""


def check(fig: dict, profile: str) -> None:
    assert fig["onnx_parity_max_diff"] <= 1e-4, fig["onnx_parity_max_diff"]
    assert fig["served_agreement"] >= 0.875, fig["served_agreement"]
    assert fig["load_5xx"] == 0, fig["load_5xx"]
    assert fig["load_rps"] > 0
    assert fig["card_has_all_figures"] is True
    assert fig["card_figures"] >= 35, fig["card_figures"]
    assert fig["headless_resume_skipped"] == 8, fig["headless_resume_skipped"]
    for key in ("test_accuracy", "baseline_test_accuracy", "majority_chance", "test_macro_f1", "test_ece",
                "baseline_val_accuracy", "best_val_accuracy"):
        assert 0.0 <= fig[key] <= 1.0, f"{key}={fig[key]} is not a fraction"
    # the majority class of a two-class, balanced split is about one half
    assert 0.4 <= fig["majority_chance"] <= 0.65, fig["majority_chance"]
    # fine-tuning learned something on the rows it saw (smoke: a dozen steps)
    assert fig["probe_loss_after"] < fig["probe_loss_before"], (fig["probe_loss_before"], fig["probe_loss_after"])
    if "int8_size_ratio" in fig:
        assert fig["int8_size_ratio"] >= 3.0, fig["int8_size_ratio"]
    if profile == "smoke":
        return
    # the real claims: clearly above chance, and compression keeps the model
    assert fig["test_accuracy"] >= fig["majority_chance"] + 0.15, (fig["test_accuracy"], fig["majority_chance"])
    assert fig["best_val_accuracy"] >= fig["majority_chance"] + 0.15
    if "int8_accuracy_drop" in fig:
        assert fig["int8_accuracy_drop"] <= 0.02, fig["int8_accuracy_drop"]
