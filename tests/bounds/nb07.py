"""Honest bounds on notebook 07's figures (fine-tuning challenges).

Recorded figures (all accuracies are fractions in [0, 1]):
- overfit_val_acc_by_size / overfit_train_acc_by_size: {n: acc} of the MLP head on n training sentences
- overfit_fix_val_acc / overfit_fix_gap: {fix: validation acc / train−validation gap} at fix_n examples
- lr_sweep_val_acc, lr_sweep_final_train_loss, lr_sweep_diverged: {lr: ...}; lr_sweep_best_lr
- warmup_first_epoch_max_loss, warmup_val_acc: {"no warmup"|"10% warmup": ...} at the first rate above the best one
- accum_max_abs_diff (batch 32 vs 8×4 accumulated), accum_no_divide_max_abs_diff (losses not divided by 4)
- batch_ms_per_example, batch_activation_mb: {batch size: ...} for a MiniLM training step
- depth_val_acc, depth_trainable_params: {k: ...} top-k layers trainable; depth_losses_finite
- llrd_val_acc: {"decay 1.0"|"decay 0.7": acc}
- forgetting_retrieval_top1, forgetting_margin: {model state: ...}, "pretrained" first; forgetting_sentiment_acc
- shift_acc {run: {"short"|"long": acc}}, shift_drop {run: target-trained − run accuracy on long sentences}
- imbalance_macro_f1, imbalance_negative_recall: {"plain"|"weighted loss"|"oversampling": ...}
- augmentation_val_acc: {"none"|"deletion"|"swap"|"synonym"|"all": acc}
- hpo_best_val_acc, hpo_val_acc_spread, hpo_test_acc
- stored_prefix_positive_share: positive share of the first 200 stored training rows (shuffled splits)
"""
import math


def _finite(values) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


def check(fig: dict, profile: str) -> None:
    # the prose says the stored splits are shuffled: a class-ordered prefix would be ~0 or ~1
    assert 0.3 < fig["stored_prefix_positive_share"] < 0.7, "the stored split looks class-ordered"
    # everything ran and produced finite numbers in [0, 1]
    for key in ("overfit_val_acc_by_size", "overfit_fix_val_acc", "lr_sweep_val_acc", "warmup_val_acc",
                "depth_val_acc", "llrd_val_acc", "imbalance_macro_f1", "augmentation_val_acc",
                "forgetting_retrieval_top1", "forgetting_sentiment_acc"):
        vals = list(fig[key].values())
        assert vals and _finite(vals) and all(0.0 <= v <= 1.0 for v in vals), key
    assert all(0 <= v <= 1 for side in fig["shift_acc"].values() for v in side.values())
    assert _finite(fig["warmup_first_epoch_max_loss"].values())
    assert fig["depth_losses_finite"] is True
    # gradient accumulation with divided losses is the large-batch update, up to rounding: in float64 the two
    # agree to ~1e-15 (the real test of equality); in float32 rounding grows with the AdamW steps and the thread
    # count (cpu, 2 threads: 3.7e-5 and 1.0e-4 measured on two days), so that bound only says "rounding-sized"
    assert fig["accum_max_abs_diff_fp64"] < 1e-10
    assert fig["accum_max_abs_diff"] < 1e-3
    assert fig["accum_no_divide_max_abs_diff"] > 100 * fig["accum_max_abs_diff"]
    # activation memory grows with the batch (it is proportional to it)
    act = {int(k): v for k, v in fig["batch_activation_mb"].items()}
    sizes = sorted(act)
    assert act[sizes[-1]] > act[sizes[0]] * sizes[-1] / sizes[0] * 0.8
    assert all(v > 0 for v in fig["batch_ms_per_example"].values())
    # training more layers means more trainable parameters
    params = {int(k): v for k, v in fig["depth_trainable_params"].items()}
    ks = sorted(params)
    assert all(params[a] < params[b] for a, b in zip(ks, ks[1:]))
    assert 0 <= fig["hpo_test_acc"] <= 1 and 0 <= fig["hpo_best_val_acc"] <= 1
    if profile == "smoke":
        return

    # ---- the claims the prose makes, measured on cpu (2 cores) ----
    by_size = {int(k): v for k, v in fig["overfit_val_acc_by_size"].items()}
    train_by_size = {int(k): v for k, v in fig["overfit_train_acc_by_size"].items()}
    small, large = min(by_size), max(by_size)
    assert by_size[large] >= by_size[small] + 0.05, "more data should give better validation accuracy"
    assert train_by_size[small] - by_size[small] > train_by_size[large] - by_size[large], "the gap shrinks with data"
    assert train_by_size[small] >= 0.95, "the MLP fits a small training set (nearly) perfectly"
    # learning rate: too large is worse than the best
    lr_val = {float(k): v for k, v in fig["lr_sweep_val_acc"].items()}
    assert lr_val[max(lr_val)] < max(lr_val.values()) - 0.05
    loss = {float(k): v for k, v in fig["lr_sweep_final_train_loss"].items()}
    assert loss[max(loss)] > min(loss.values()) + 0.3, "the largest learning rate ends far above the best training loss"
    # the sweep reaches real divergence (the prose marks those rows), and below it the rates do not diverge
    div = {float(k): v for k, v in fig["lr_sweep_diverged"].items()}
    assert any(div.values()), "no learning rate of the sweep diverged: the prose about divergence has nothing to show"
    assert not div[float(fig["lr_sweep_best_lr"])]
    # warmup tames the first epoch at a too-large (not diverged) learning rate: a clearly smaller spike
    w = fig["warmup_first_epoch_max_loss"]
    assert w["10% warmup"] < 0.5 * w["no warmup"]
    # fine-tuning MiniLM (short runs, [CLS] pooler) learns sentiment above chance; training every layer beats the head
    # alone (cpu run: 0.62 head only, 0.68 all layers; k = 1, 2 were below k = 0, so no monotone claim)
    assert fig["depth_val_acc"]["6"] > 0.6 and fig["depth_val_acc"]["6"] > fig["depth_val_acc"]["0"]
    # forgetting: the 5x smaller learning rate moves the old skill (q→a similarity margin) less than lr 1e-4
    margin = fig["forgetting_margin"]
    steps = max(int(k.split(", ")[1].split()[0]) for k in margin if k.startswith("lr 1e-4, "))
    assert abs(margin["pretrained"] - margin[f"lr 2e-5, {steps} steps"]) <= abs(margin["pretrained"] - margin[f"lr 1e-4, {steps} steps"])
    # imbalance: both fixes beat plain training on macro-F1 and on the rare class's recall
    f1 = fig["imbalance_macro_f1"]
    assert f1["weighted loss"] >= f1["plain"] and f1["oversampling"] >= f1["plain"]
    rec = fig["imbalance_negative_recall"]
    assert rec["weighted loss"] > rec["plain"] and rec["oversampling"] > rec["plain"]
    # random search: the best configuration is well above chance, on validation and on test
    assert fig["hpo_best_val_acc"] > 0.7 and fig["hpo_test_acc"] > 0.7
