"""Honest bounds on notebook 09's figures (prompting and instruction tuning).

Recorded figures (accuracies and exact matches are fractions in [0, 1]):
- fewshot_acc, fewshot_pred_pos_share, calibrated_acc, calibrated_pred_pos_share: {k: ...} on sentiment_en test
- sensitivity_acc {variant: acc}, sensitivity_range {"template"|"verbalizer"|"4-shot": max − min}
- prompt_exact_match {k: exact match of SmolLM2 on the instruction tasks}; cot_accuracy {"direct"|"chain-of-thought"}
- encoder_zeroshot_acc {label-prompt wording: acc} (MiniLM)
- base_gpt_val_loss; sft_trl_loss_abs_diff, sft_trl_same_labels; padding_waste; tokens_per_s {"padding"|"packing"}
- gpt_sft_exact_match, lora_sft_exact_match: {"before"|"after"|"held-out task before"|"held-out task after"...}
- dpo_pref_accuracy, dpo_reward_margin {"before"|"after"}; dpo_trl_loss_abs_diff; dpo_exact_match
"""
import math


def _frac(d) -> bool:
    return all(isinstance(v, (int, float)) and 0.0 <= v <= 1.0 for v in d.values())


def check(fig: dict, profile: str) -> None:
    for key in ("fewshot_acc", "fewshot_pred_pos_share", "calibrated_acc", "sensitivity_acc", "prompt_exact_match",
                "cot_accuracy", "encoder_zeroshot_acc", "gpt_sft_exact_match", "lora_sft_exact_match",
                "dpo_pref_accuracy", "dpo_exact_match"):
        assert fig[key] and _frac(fig[key]), key
    # by-hand losses equal the libraries' on the same batch (float32 rounding only)
    assert fig["sft_trl_same_labels"] is True
    assert fig["sft_trl_loss_abs_diff"] < 1e-4, fig["sft_trl_loss_abs_diff"]
    assert fig["dpo_trl_loss_abs_diff"] < 1e-4, fig["dpo_trl_loss_abs_diff"]
    # before DPO the policy is the reference: every reward is 0, accuracy 0.5 (ties count half), margin 0
    assert abs(fig["dpo_pref_accuracy"]["before"] - 0.5) < 1e-6 and abs(fig["dpo_reward_margin"]["before"]) < 1e-4
    assert math.isfinite(fig["base_gpt_val_loss"]) and 0 < fig["padding_waste"] < 1
    assert all(v > 0 for v in fig["tokens_per_s"].values())
    if profile == "smoke":
        return
    # a real LM classifies sentiment well above chance, zero-shot, and calibration never collapses it
    assert fig["fewshot_acc"]["0"] > 0.7, fig["fewshot_acc"]
    assert min(fig["calibrated_acc"].values()) > 0.6, fig["calibrated_acc"]
    # the encoder's best label prompt is above chance
    assert max(fig["encoder_zeroshot_acc"].values()) > 0.6, fig["encoder_zeroshot_acc"]
    # SFT raises exact match on held-out examples of the trained tasks (both models)
    g, lo = fig["gpt_sft_exact_match"], fig["lora_sft_exact_match"]
    assert g["after"] > g["before"] + 0.05, g  # cpu: 0.000 → 0.095 (42 examples of 7 tasks)
    assert lo["after"] > lo["before"] + 0.1, lo
    # the template mismatch costs the small GPT (it only ever saw ChatML)
    assert g["after, other template"] < g["after"], g
    # DPO raises held-out preference accuracy above 0.5 with a positive margin
    assert fig["dpo_pref_accuracy"]["after"] > 0.6, fig["dpo_pref_accuracy"]
    assert fig["dpo_reward_margin"]["after"] > 0, fig["dpo_reward_margin"]
    # packing wastes no compute on pads: at least as many real tokens/s (timing noise allowed)
    assert fig["tokens_per_s"]["packing"] > 0.8 * fig["tokens_per_s"]["padding"], fig["tokens_per_s"]
