"""Honest bounds on notebook 01's figures (all float64, so exactness checks can be tight)."""
import math


def check(fig: dict, profile: str) -> None:
    # hand-written derivatives, backprop and losses agree with torch to rounding error
    assert fig["activation_derivative_max_abs_diff"] < 1e-12
    assert fig["gradcheck_max_rel_error_fd"] < 1e-6, "backprop disagrees with finite differences"
    assert fig["gradcheck_max_rel_error_autograd"] < 1e-12, "backprop disagrees with torch.autograd"
    assert fig["loss_max_abs_diff_vs_torch"] < 1e-12
    # log-sum-exp keeps log-softmax finite where the naive formula overflows
    assert fig["naive_softmax_nonfinite"] is True
    assert fig["stable_log_softmax_diff_vs_torch"] < 1e-10
    # perplexity: uniform = vocabulary size; more context, lower perplexity
    assert 20 <= fig["perplexity_uniform"] <= 60 and float(fig["perplexity_uniform"]).is_integer()
    assert fig["perplexity_bigram"] < fig["perplexity_unigram"] < fig["perplexity_uniform"]
    # optimizers from their equations match torch.optim step for step
    for name in ("sgd", "momentum", "rmsprop", "adam", "adamw"):
        assert fig[f"optim_max_abs_diff_{name}"] < 1e-9, f"{name} drifts from torch.optim"
    race = fig["race_rosenbrock_final_loss"]
    assert set(race) == {"SGD", "Momentum", "RMSProp", "Adam", "AdamW"}
    assert all(isinstance(v, float) and math.isfinite(v) for v in race.values())
    assert min(race.values()) < 1e-3, "at the default settings some optimizer should reach the Rosenbrock minimum"
    # regularisation
    assert fig["l1_zero_weights"] >= 10 and fig["l2_zero_weights"] == 0
    assert fig["sgd_l2_vs_decoupled_max_diff"] < 1e-12, "for SGD, L2 and decoupled decay are the same update"
    assert fig["adam_l2_vs_adamw_max_diff"] > 1e-3, "Adam + L2 and AdamW should end in different places"
    tol = 0.05 if profile == "smoke" else 0.01
    assert abs(fig["dropout_mean_ratio_inverted"] - 1.0) < tol
    assert abs(fig["dropout_mean_ratio_plain"] - 0.5) < tol
    # early stopping: the best validation epoch comes early, and training on makes validation worse
    assert 1 <= fig["early_stopping_best_epoch"] < fig["early_stopping_stop_epoch"]
    assert fig["early_stopping_val_gap"] > 0.01
    assert fig["final_train_val_gap"] > 0.05
    assert fig["early_stopping_final_train_mse"] < 0.09, "the prose says training ends below the noise variance"
