"""Honest bounds on notebook 06's figures (fine-tuning MiniLM on sentiment_en / sentiment_zh)."""
import math

ACCS = ("tfidf_acc", "frozen_acc", "full_ft_acc", "gradual_acc", "trainer_acc", "zh_acc", "zh_tfidf_acc",
        "test_acc_final", "tfidf_test_acc", "tfidf_full_train_acc")


def check(fig: dict, profile: str) -> None:
    # the Trainer table shows each evaluation once (the final trainer.evaluate() is not a second row)
    steps = fig["trainer_eval_steps"]
    assert steps and len(steps) == len(set(steps)), f"duplicate evaluation rows: {steps}"
    for key in ACCS + ("tfidf_f1", "frozen_f1", "full_ft_f1", "gradual_f1", "test_f1_final"):
        assert 0.0 <= fig[key] <= 1.0, f"{key}={fig[key]} is not a fraction"
    # trainable parameters: the head alone is 384·2 + 2; full fine-tuning trains all of MiniLM
    assert fig["frozen_params"] == 770
    assert fig["full_ft_params"] == 22_713_986
    assert fig["gradual_params"] == fig["full_ft_params"], "gradual unfreezing ends with everything trainable"
    for key in ("frozen_seconds", "full_ft_seconds", "gradual_seconds", "trainer_seconds"):
        assert 0 < fig[key] < 3600
    assert 0.0 <= fig["ece"] <= 1.0 and 0.0 <= fig["test_ece_final"] <= 1.0
    # the English WordPiece leaves much of Chinese as [UNK] (measured: about 60 % of tokens)
    assert 0.2 < fig["zh_unk_rate"] < 0.95
    # the saved and reloaded pipeline predicts what the model in memory predicts
    assert fig["pipeline_max_abs_diff"] < 1e-4
    assert math.isfinite(fig["full_ft_loss_last"]) and math.isfinite(fig["full_ft_loss_first"])
    if profile == "smoke":
        # a few steps: the loss on the training sentences themselves must have gone down
        assert fig["full_ft_loss_after"] < fig["full_ft_loss_before"], "full fine-tuning's loss did not decrease"
        return
    # full fine-tuning learned something: the training loss of its last quarter is below its first quarter's
    assert fig["full_ft_loss_last"] < fig["full_ft_loss_first"], "full fine-tuning's loss did not decrease"
    # the real claims (cpu and gpu): the fine-tuned model is good and beats the baseline on the same data.
    # Measured (cpu, 4,800 training sentences, one epoch, length-grouped batches): test 0.855, validation 0.840,
    # TF-IDF test 0.775; with 2,400 sentences test was 0.834. The target (test >= 0.85 within 5 minutes) is a
    # benchmark figure reported in the closing note; the bound keeps a margin for other machines' float noise.
    floor = 0.84
    assert fig["test_acc_final"] >= floor, f"fine-tuned MiniLM should reach {floor:.0%} test accuracy"
    assert fig["test_acc_final"] > fig["tfidf_test_acc"], "fine-tuning should beat TF-IDF on the same sentences"
    assert fig["full_ft_acc"] >= floor and fig["full_ft_acc"] > fig["tfidf_acc"]
    assert fig["full_ft_acc"] > fig["frozen_acc"], "full fine-tuning should beat a frozen encoder + linear head"
    # the frozen head on mean-pooled features (what this checkpoint was trained for) is well above chance
    # (measured 0.778; a head on the [CLS] pooler, notebook 08's "head only" row, reached 0.60)
    assert fig["frozen_acc"] > 0.7, "the frozen mean-pooled features should carry sentiment"
    assert abs(fig["trainer_acc"] - fig["full_ft_acc"]) < 0.03, "Trainer and the hand-written loop should agree"
    assert fig["tfidf_acc"] > 0.65 and fig["zh_tfidf_acc"] > 0.75
