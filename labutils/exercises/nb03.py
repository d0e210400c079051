"""Exercises of notebook 03 · Attention and the Transformer."""
from __future__ import annotations

from labutils.exercises import Exercise, close_to

_D = 512  # d_model of the block-parameter exercise (d_ff = 4·d)


def _block_params(d: int) -> int:
    return 12 * d * d + 13 * d


def _shape_checker(answer):
    want = (2, 8, 10, 10)
    try:
        got = tuple(int(x) for x in answer)
    except (TypeError, ValueError):
        return f"Give the shape as a tuple of four integers, e.g. (1, 2, 3, 4); got {answer!r}."
    if got == want:
        return None
    if got == (2, 10, 10):
        return "That is one head's worth: the heads are a separate dimension, (batch, heads, T_q, T_k)."
    if got in ((2, 10, 8, 10), (2, 10, 10, 8)):
        return "The heads come right after the batch (q and k are split into (B, H, T, d_head) first)."
    if len(got) == 4 and got[:3] == (2, 8, 10) and got[3] == 64:
        return "d_head = 64 is the size of q and k, but q·kᵀ contracts it away: the last two axes are query × key."
    if len(got) == 4 and got[2:] == (512, 512):
        return "The score matrix is tokens × tokens, not d_model × d_model."
    return f"{got} is not the shape of q @ k.transpose(-2, -1) for q, k of shape (2, 8, 10, 64)."


def _mask_reference(i: int, j: int) -> bool:
    return j <= i


def _mask_checker(fn):
    if not callable(fn):
        return "Pass the function itself, e.g. check('03.causal_mask', may_attend), not its result."
    cases = [(i, j) for i in range(5) for j in range(5)]
    got = {(i, j): fn(i, j) for i, j in cases}
    if any(not isinstance(v, (bool,)) and v not in (0, 1) for v in got.values()):
        return "Return True (may attend) or False (masked) for each (i, j)."
    got = {k: bool(v) for k, v in got.items()}
    if all(got[(i, j)] == (j < i) for i, j in cases):
        return "Query i must also see itself: with j < i the first token sees nothing and its softmax is all −∞ (NaN)."
    if all(got[(i, j)] == (j >= i) for i, j in cases):
        return "That is the transposed mask: query i (a row) may look at keys j up to i, the past, not the future."
    if all(got.values()):
        return "Everything visible is an encoder's (BERT's) attention; a decoder must not see the tokens it predicts."
    for i, j in cases:
        if got[(i, j)] != _mask_reference(i, j):
            return f"For query i={i}, key j={j} you return {got[(i, j)]}, expected {_mask_reference(i, j)}."
    return None


def _gpt_total(vocab: int, n_pos: int, d: int, layers: int) -> int:
    return vocab * d + n_pos * d + layers * _block_params(d) + 2 * d


EXERCISES = [
    Exercise(
        id="03.block_params",
        question=(f"How many parameters does one GPT-2 block have for d_model = {_D} and d_ff = 4·d_model? "
                  "Count weights and biases of q/k/v, the output projection, the MLP and both LayerNorms."),
        checker=close_to(_block_params(_D), rel=1e-9, mistakes=[
            (lambda v: v == 12 * _D * _D, "12·d² counts the weight matrices only: add the biases (3d + d + 4d + d) and the two LayerNorms (2·2d)."),
            (lambda v: v == 12 * _D * _D + 9 * _D, "You have the biases but not the LayerNorms: each has a gain γ and a shift β of size d."),
            (lambda v: v == 4 * _D * _D + 4 * _D, "That is attention only (q, k, v and the output): the MLP (d → 4d → d) holds twice as much again."),
            (lambda v: v == 8 * _D * _D + 5 * _D, "That is the MLP only; add attention (4d² + 4d) and the LayerNorms (4d)."),
            (lambda v: v == 6 * _D * _D + 13 * _D, "With d_ff = 4d the MLP has 2·d·4d = 8d² weights, not 2d²."),
        ]),
        hint="Attention: 4 matrices d×d plus 4 bias vectors. MLP: d×4d and 4d×d plus biases 4d and d. LayerNorm: 2d each.",
        solution=_block_params(_D),
        solution_text=(f"12·d² + 13·d with d = {_D}: 12·{_D}² + 13·{_D} = {_block_params(_D):,}. "
                       "Compare gpt_param_breakdown(...) in the notebook."),
        wrong=[12 * _D * _D, 12 * _D * _D + 9 * _D, 4 * _D * _D + 4 * _D, 6 * _D * _D + 13 * _D, "many"],
    ),
    Exercise(
        id="03.score_shape",
        question=("Batch 2, 8 heads, 10 tokens, d_model 512 (d_head 64): what is the shape of the attention score "
                  "tensor q @ k.transpose(-2, -1)?"),
        checker=_shape_checker,
        hint="q and k are (batch, heads, T, d_head); the matrix product contracts d_head and keeps query × key.",
        solution=(2, 8, 10, 10),
        solution_text="(2, 8, 10, 10): one T × T matrix of scores per sequence and per head.",
        wrong=[(2, 10, 10), (2, 10, 8, 10), (2, 8, 10, 64), (2, 8, 512, 512), "square"],
    ),
    Exercise(
        id="03.causal_mask",
        question="Write may_attend(i, j) -> bool: in a causal (decoder) mask, may query position i attend to key position j?",
        checker=_mask_checker,
        hint="A token may use itself and everything before it, nothing after it.",
        solution=_mask_reference,
        solution_text="def may_attend(i, j):\n    return j <= i   # the lower triangle, diagonal included: torch.ones(T, T).tril()",
        wrong=[lambda i, j: j < i, lambda i, j: j >= i, lambda i, j: True, lambda i, j: abs(i - j) <= 1, 7],
    ),
    Exercise(
        id="03.gpt_params",
        question=("A GPT with vocabulary 8,000, context 256, d_model 128, 4 blocks (d_ff = 4·d), output layer tied "
                  "to the token embedding: how many parameters in total?"),
        checker=close_to(_gpt_total(8000, 256, 128, 4), rel=1e-9, mistakes=[
            (lambda v: v == _gpt_total(8000, 256, 128, 4) + 8000 * 128,
             "The output layer is tied to the token embedding: the same V×d matrix, counted once."),
            (lambda v: v == _gpt_total(8000, 256, 128, 4) - 256 * 128,
             "You left out the learned position embedding (one d-vector per position)."),
            (lambda v: v == _gpt_total(8000, 256, 128, 4) - 2 * 128,
             "Almost: GPT-2 has a final LayerNorm after the last block (2d)."),
            (lambda v: v == 4 * _block_params(128), "That is the blocks only; add the embeddings V·d and P·d and the final LayerNorm."),
        ]),
        hint="V·d + P·d + n_layers·(12d² + 13d) + 2d, with the output layer sharing the token embedding.",
        solution=_gpt_total(8000, 256, 128, 4),
        solution_text=(f"8000·128 + 256·128 + 4·(12·128² + 13·128) + 2·128 = {_gpt_total(8000, 256, 128, 4):,}; "
                       "more than half of it is the token embedding."),
        wrong=[_gpt_total(8000, 256, 128, 4) + 8000 * 128, _gpt_total(8000, 256, 128, 4) - 256 * 128,
               _gpt_total(8000, 256, 128, 4) - 256, 4 * _block_params(128)],
    ),
]
