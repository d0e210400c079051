"""Exercises of notebook 06 · Fine-tuning for classification (plain Python, no torch)."""
from __future__ import annotations

from labutils.exercises import Exercise, close_to

# ------------------------------------------------------------------ 06.head_params
_D, _C = 384, 2
_HEAD = _D * _C + _C  # 770

# ------------------------------------------------------------------ 06.layer_params
_FF = 4 * _D
_ATTN = 4 * (_D * _D + _D)
_MLP = _D * _FF + _FF + _FF * _D + _D
_LN = 2 * (2 * _D)
_LAYER = _ATTN + _MLP + _LN  # 1,774,464

# ------------------------------------------------------------------ 06.ece_table
#: (confidence of the predicted class, was the prediction right?)
ECE_TABLE = [(0.60, True), (0.65, True), (0.70, True), (0.80, False), (0.90, True), (0.95, False), (0.99, True)]
ECE_BINS = [(0.5, 0.75), (0.75, 1.0)]


def _ece(table, bins):
    n = len(table)
    total = 0.0
    for lo, hi in bins:
        rows = [(c, ok) for c, ok in table if lo <= c < hi or (hi == 1.0 and c == 1.0)]
        if rows:
            conf = sum(c for c, _ in rows) / len(rows)
            acc = sum(ok for _, ok in rows) / len(rows)
            total += len(rows) / n * abs(acc - conf)
    return total


_ECE = _ece(ECE_TABLE, ECE_BINS)  # (3·0.35 + 4·0.41) / 7 ≈ 0.3843
_MEAN_CONF = sum(c for c, _ in ECE_TABLE) / len(ECE_TABLE)
_ACC = sum(ok for _, ok in ECE_TABLE) / len(ECE_TABLE)


# ------------------------------------------------------------------ 06.early_stopping_split
def _split_checker(answer):
    if not isinstance(answer, str):
        return f"Answer with the name of a split as a string ('train', 'validation' or 'test'), not {type(answer).__name__}."
    key = answer.strip().lower()
    if key in ("validation", "val", "valid", "dev", "development"):
        return None
    if key == "test":
        return ("Choosing the stopping point on the test split tunes the model to it: its test number is then "
                "optimistic. The test split is touched once, at the very end.")
    if key in ("train", "training"):
        return ("The training loss keeps falling while the model overfits, so it cannot tell you when to stop; "
                "you need data the optimizer never sees.")
    return f"{answer!r} is not one of the splits; choose 'train', 'validation' or 'test'."


EXERCISES = [
    Exercise(
        id="06.head_params",
        question=("A linear classification head maps a 384-dimensional sentence vector to 2 classes (weights and "
                  "biases). How many trainable parameters does it have?"),
        checker=close_to(_HEAD, rel=0, abs_tol=0.5, mistakes=[
            (lambda v: v == _D * _C, "That is the weight matrix only; each class also has a bias."),
            (lambda v: v in (_D + _C, _D + 1), "A linear layer has one weight per (input, class) pair: 384 × 2, plus the biases."),
            (lambda v: v == _HEAD + _D * _D + _D, "That adds BERT's pooler (384×384 + 384); the question asks for the linear head alone."),
            (lambda v: v == 2 * _HEAD, "Each of the 2 classes has 384 weights and 1 bias: 2 × 385, not twice that."),
        ]),
        hint="A Linear(384, 2) layer holds a 2 × 384 weight matrix and a bias vector of length 2.",
        solution=_HEAD,
        solution_text="384 × 2 weights + 2 biases = 770: that is all that trains when the encoder is frozen.",
        wrong=[_D * _C, _D + _C, _HEAD + _D * _D + _D, 2 * _HEAD, "770 params"],
    ),
    Exercise(
        id="06.layer_params",
        question=("One MiniLM transformer layer: width d = 384, feed-forward width 4d = 1536, Q/K/V/output projections "
                  "with biases, two linear layers of the MLP with biases, two LayerNorms (a scale and a shift each). "
                  "How many parameters?"),
        checker=close_to(_LAYER, rel=0, abs_tol=0.5, mistakes=[
            (lambda v: v == 12 * _D * _D, "12·d² counts the weight matrices only; add the biases and the LayerNorms."),
            (lambda v: v == _LAYER - _LN, "Almost: the two LayerNorms each have a scale and a shift of width 384."),
            (lambda v: v == _ATTN + _MLP + _LN // 2, "Each LayerNorm has both a scale γ and a shift β (2 × 384 numbers)."),
            (lambda v: v == _ATTN, "That is the attention part only; add the MLP (384→1536→384) and the LayerNorms."),
        ]),
        hint="Attention: 4 × (384·384 + 384). MLP: 384·1536 + 1536 + 1536·384 + 384. LayerNorms: 2 × (384 + 384).",
        solution=_LAYER,
        solution_text=(f"attention 4·(384² + 384) = {_ATTN:,}; MLP 2·384·1536 + 1536 + 384 = {_MLP:,}; "
                       f"LayerNorms 2·2·384 = {_LN:,}; total {_LAYER:,}. unfreeze_top_k(model, 1) − freeze_encoder(model) "
                       "equals this plus the pooler (384² + 384)."),
        wrong=[12 * _D * _D, _LAYER - _LN, _ATTN + _MLP + _LN // 2, _ATTN],
    ),
    Exercise(
        id="06.ece_table",
        question=("Seven predictions, as (confidence, correct?): " + ", ".join(f"({c:.2f}, {'✓' if ok else '✗'})"
                  for c, ok in ECE_TABLE) + ". With two confidence bins [0.5, 0.75) and [0.75, 1.0], what is the "
                  "expected calibration error ECE = Σ_b (n_b / N) · |accuracy_b − confidence_b|?"),
        checker=close_to(_ECE, rel=2e-3, mistakes=[
            (lambda v: abs(v - (0.35 + 0.41) / 2) < 2e-3, "You averaged the two bins' gaps equally; weight each by its share of the predictions (3/7 and 4/7)."),
            (lambda v: abs(v - abs(_MEAN_CONF - _ACC)) < 2e-3, "That is |overall accuracy − overall confidence|: the under-confident low bin and the over-confident high bin cancel. Take the absolute gap per bin first."),
            (lambda v: abs(v - 0.35) < 2e-3 or abs(v - 0.41) < 2e-3, "That is one bin's gap; ECE sums both, weighted by the bins' sizes."),
        ]),
        hint=("Low bin: 0.60, 0.65, 0.70, all right: accuracy 1, confidence 0.65. High bin: 0.80 ✗, 0.90 ✓, 0.95 ✗, 0.99 ✓: "
              "accuracy 0.5, confidence 0.91. Then weight the two gaps by 3/7 and 4/7."),
        solution=_ECE,
        solution_text=("low bin |1 − 0.65| = 0.35 with 3 of 7 predictions; high bin |0.5 − 0.91| = 0.41 with 4 of 7; "
                       f"ECE = (3·0.35 + 4·0.41)/7 ≈ {_ECE:.4f}. Check: finetune.expected_calibration_error with n_bins=2."),
        wrong=[(0.35 + 0.41) / 2, abs(_MEAN_CONF - _ACC), 0.35, 0.41, "0.38?"],
    ),
    Exercise(
        id="06.early_stopping_split",
        question="Which split decides when to stop training and which checkpoint to keep: 'train', 'validation' or 'test'?",
        checker=_split_checker,
        hint="Which split does the optimizer never see, and is still allowed to influence your choices?",
        solution="validation",
        solution_text=("'validation': the optimizer never sees it, so it shows overfitting, and it is the split you may "
                       "use for choices. The test split is used once at the end, for a number nobody tuned against."),
        wrong=["test", "train", "holdout", 3],
    ),
]
