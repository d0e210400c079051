"""Honest bounds on notebook 14's figures (responsible LLMs).

Every profile: integrated gradients by hand equal captum's (same quadrature) and satisfy completeness up to the
quadrature error; exposure rises with repetitions (the most repeated canary above the never-inserted control) and
falls under DP-SGD; DP-SGD's clipped gradient by hand equals opacus's; the PII regexes' misses were measured (the
disguised forms in the generated set are missed, standard forms mostly found); every WEAT p-value lies in [0, 1];
the injection filter never lets more attacks through than no defence; the unsafe load ran the payload and
weights_only=True refused it.
cpu/gpu: faithfulness (IG's top-k deletion drops confidence more than random deletion) and FGM lowering the typo
attack's success at a clean accuracy within 5 points. In smoke (a few fine-tuning steps, a dozen sentences) these two
are noise and are not asserted.
"""
import math


def check(fig: dict, profile: str) -> None:
    assert fig["ig_vs_captum_max_diff"] <= 1e-4, fig["ig_vs_captum_max_diff"]
    assert fig["ig_completeness_rel_gap"] <= 0.05, fig["ig_completeness_rel_gap"]
    exp = {int(k): v for k, v in fig["exposure_by_reps"].items()}
    assert exp[max(exp)] > exp[min(exp)] + 2.0, exp
    trade = fig["dp_tradeoff"]
    assert trade[0]["sigma"] == 0.0
    assert all(t["max_exposure"] < trade[0]["max_exposure"] for t in trade[1:]), trade
    assert all(math.isfinite(t["epsilon"]) and t["epsilon"] > 0 for t in trade[1:]), trade
    assert fig["dp_vs_opacus_max_diff"] <= 1e-5, fig["dp_vs_opacus_max_diff"]
    assert 0.0 < fig["pii_recall"] < 1.0, fig["pii_recall"]
    by_variant = fig["pii_recall_by_variant"]
    assert by_variant["standard"] > by_variant["disguised"], by_variant
    for r in fig["weat"].values():
        assert 0.0 <= r["p"] <= 1.0 and math.isfinite(r["d"]), r
    inj = fig["injection"]
    assert inj["filter"]["attack_success"] <= inj["none"]["attack_success"], inj
    assert fig["pickle_demo"]["refused_weights_only"] is True and fig["pickle_demo"]["code_ran_unsafe"] is True
    assert 0.0 <= fig["classifier_accuracy"] <= 1.0
    if profile == "smoke":
        return
    drop = fig["deletion_drop"]
    assert drop["integrated_gradients"] > drop["random"], drop
    rob = fig["robustness"]
    assert abs(rob["FGM"]["clean accuracy"] - rob["plain"]["clean accuracy"]) <= 0.05, rob
    assert rob["FGM"]["typo attack success"] < rob["plain"]["typo attack success"], rob
    assert fig["classifier_accuracy"] > 0.6, fig["classifier_accuracy"]
