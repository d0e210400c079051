"""Honest bounds on notebook 04's figures.

Every profile: the model beats the unigram baseline (it uses context), the loss went down, the written-out
loop equals lu.training.pretrain_gpt, resuming is exact, and the hand-written sampler matches transformers.
cpu/gpu: the real claim, a validation loss clearly below the baseline.
"""
import math


def check(fig: dict, profile: str) -> None:
    base, final = fig["unigram_baseline_loss"], fig["final_val_loss"]
    assert 0 < final < base, f"val loss {final} should beat the unigram baseline {base}"
    assert final < fig["initial_val_loss"] - 0.3, "the loss should have gone down"
    assert fig["tokens_per_second"] > 0 and fig["train_wall_seconds"] > 0
    if profile != "gpu":
        assert fig["mfu"] is None, "MFU is only reported on a GPU"
    else:
        assert fig["mfu"] is None or 0 < fig["mfu"] < 1
    assert abs(math.log(fig["val_perplexity"]) - fig["perplexity_loss"]) < 1e-6
    assert 1 < fig["val_perplexity"] < fig["vocab_size"]
    # the notebook's loop and the library's are the same computation; resuming is exact
    assert fig["loop_vs_library_max_diff"] < (1e-3 if profile == "gpu" else 1e-6)
    assert fig["resume_matches"] is True
    # the hand-written sampler follows transformers' semantics
    assert fig["greedy_matches_generate"] is True
    assert fig["sampling_processors_max_diff"] < 1e-5
    assert fig["char_chars_per_token"] == 1.0
    assert fig["bpe_chars_per_token"] > 0.5    # kjv: > 2 (English words); Chinese: ~1 (3 bytes per character)
    scaling = fig["scaling_val_losses"]
    assert 3 <= len(scaling) <= 4 and all(math.isfinite(v) for v in scaling.values())
    assert min(scaling.values()) < fig["uniform_loss"]
    if profile == "cpu" and fig.get("run_name") == "kjv-char":
        # the cpu recipe is tuned for time to quality: today's target is val <= 1.45 (a benchmark figure; the
        # seconds are recorded, not asserted: timings are not a test)
        assert final <= 1.45, f"cpu kjv-char should reach val loss 1.45, got {final:.3f}"
        assert fig["time_to_val_loss"]["1.45"] is not None
    if profile != "smoke":
        assert final < 0.7 * base, "cpu/gpu: the val loss should be clearly below the unigram baseline"
        assert min(scaling.values()) < base
