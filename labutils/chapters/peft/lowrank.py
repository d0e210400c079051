"""Notebook 08, why low rank works: the singular values of a learned update ΔW, and what a LoRA of rank r
costs for any layer size (the pure function behind the rank/α widget).

Aghajanyan et al. (2021, *Intrinsic Dimensionality Explains the Effectiveness of Language Model
Fine-Tuning*) found that fine-tuning can be done in a random subspace of a few hundred dimensions; Hu et al.
(2021, LoRA) found the update of full fine-tuning to have a few dominant directions. :func:`delta_spectrum`
measures that on our own runs.
"""
from __future__ import annotations

import numpy as np

from labutils.core.errors import PeftError


def delta_spectrum(w_after, w_before) -> np.ndarray:
    """Singular values of ΔW = W_after − W_before (descending, float64)."""
    a = np.asarray(w_after, dtype=np.float64)
    b = np.asarray(w_before, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise PeftError(f"Need two matrices of the same shape; got {a.shape} and {b.shape}.")
    return np.linalg.svd(a - b, compute_uv=False)


def energy_at_rank(s, r: int) -> float:
    """Share of ‖ΔW‖²_F carried by the top ``r`` singular values: how well the best rank-r matrix
    (Eckart–Young) reproduces ΔW. 1.0 = exactly rank ≤ r."""
    s = np.asarray(s, dtype=np.float64)
    total = float((s ** 2).sum())
    if total == 0:
        return 1.0
    return float((s[: int(r)] ** 2).sum() / total)


def random_energy_at_rank(shape: tuple[int, int], r: int, seed: int = 0) -> float:
    """The same share for a Gaussian matrix of that shape: what 'no low-rank structure' looks like."""
    rng = np.random.default_rng(seed)
    return energy_at_rank(np.linalg.svd(rng.standard_normal(shape), compute_uv=False), r)


_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2, "int8": 1, "nf4": 0.5}


def lora_cost(d_in: int = 384, d_out: int = 384, r: int = 8, alpha: float = 16, n_matrices: int = 12,
              base_dtype: str = "fp32") -> dict:
    """What LoRA of rank ``r`` on ``n_matrices`` layers of size ``d_out × d_in`` costs, against training
    those matrices fully. Pure arithmetic (no torch): the widget of notebook 08 shows it.

    Trainable numbers per matrix: full ``d_in·d_out``, LoRA ``r·(d_in + d_out)``. Training memory of the
    adapted matrices: the frozen base weights in ``base_dtype`` plus, for every trainable fp32 number, the
    number itself, its gradient and AdamW's two moments (16 bytes). ``scale = α / r`` multiplies ``BA``.
    """
    for name, v in (("d_in", d_in), ("d_out", d_out), ("r", r), ("n_matrices", n_matrices)):
        if int(v) < 1:
            raise PeftError(f"{name} must be a positive integer, not {v}.")
    if base_dtype not in _BYTES:
        raise PeftError(f"Unknown base dtype {base_dtype!r}; choose one of {', '.join(_BYTES)}.")
    if int(r) > min(d_in, d_out):
        raise PeftError(f"A rank above min(d_in, d_out) = {min(d_in, d_out)} adds nothing; choose r ≤ that.")
    full = d_in * d_out * n_matrices
    lora = r * (d_in + d_out) * n_matrices
    base_bytes = full * _BYTES[base_dtype]
    return {
        "full_params": full, "lora_params": lora, "ratio": lora / full, "scale": alpha / r,
        "full_train_mb": full * 16 / 2**20,
        "lora_train_mb": (base_bytes + lora * 16) / 2**20,
        "lora_file_mb": lora * 4 / 2**20,
        "break_even_rank": d_in * d_out / (d_in + d_out),
    }


def rank_figure(d_in: int = 384, d_out: int = 384, r: int = 8, alpha: float = 16, n_matrices: int = 12,
                base_dtype: str = "fp32", measured: dict | None = None, full_acc: float | None = None):
    """Plotly figure for the widget: trainable parameters against rank (log axes) with ``r`` marked, and the
    accuracy measured at each rank in this notebook (``measured``: {rank: accuracy}) next to full FT."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots
    c = lora_cost(d_in, d_out, r, alpha, n_matrices, base_dtype)
    ranks = [k for k in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024) if k <= min(d_in, d_out)]
    fig = make_subplots(rows=1, cols=2, subplot_titles=(
        f"r={r}: {c['lora_params']:,} trainable ({c['ratio']:.2%} of {c['full_params']:,}), "
        f"train memory {c['lora_train_mb']:.1f} vs {c['full_train_mb']:.1f} MB, α/r={c['scale']:.2g}",
        "accuracy measured in this notebook"))
    fig.add_trace(go.Scatter(x=ranks, y=[k * (d_in + d_out) * n_matrices for k in ranks], name="LoRA params",
                             mode="lines+markers"), 1, 1)
    fig.add_trace(go.Scatter(x=ranks, y=[c["full_params"]] * len(ranks), name="full matrices", mode="lines",
                             line=dict(dash="dash")), 1, 1)
    fig.add_trace(go.Scatter(x=[r], y=[c["lora_params"]], name=f"r = {r}", mode="markers",
                             marker=dict(size=14, symbol="star")), 1, 1)
    if measured:
        ks = sorted(int(k) for k in measured)
        fig.add_trace(go.Scatter(x=ks, y=[measured[k] if k in measured else measured[str(k)] for k in ks],
                                 name="LoRA (measured)", mode="lines+markers"), 1, 2)
        if full_acc is not None:
            fig.add_trace(go.Scatter(x=[ks[0], ks[-1]], y=[full_acc] * 2, name="full fine-tuning", mode="lines",
                                     line=dict(dash="dot")), 1, 2)
    fig.update_xaxes(type="log", title_text="rank r")
    fig.update_yaxes(type="log", title_text="trainable parameters", row=1, col=1)
    fig.update_yaxes(title_text="test accuracy", row=1, col=2)
    fig.update_layout(height=380, margin=dict(t=60, l=40, r=20, b=40), title_font_size=12)
    fig.layout.annotations[0].font.size = 11
    return fig
