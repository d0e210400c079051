"""A GPT (and a BERT encoder layer) written from scratch in PyTorch: the helpers of notebook 03.

Every piece follows its equation so it can be read next to the maths:

- :func:`attention` — scaled dot-product attention, :math:`\\mathrm{softmax}(QK^\\top/\\sqrt{d_k})V`,
  with a boolean mask (``True`` = may attend); :func:`causal_mask` builds the decoder's mask;
- :class:`MultiHeadAttention` (with an optional key/value cache), :class:`LayerNorm`, :class:`MLP`,
  :func:`sinusoidal_positions`, :func:`apply_rope` (rotary position embedding, RoPE);
- :class:`GPTBlock` (pre-LayerNorm, residual connections) and :class:`ScratchGPT`, a whole GPT-2 style
  model with tied input/output embeddings and greedy :meth:`ScratchGPT.generate`;
- :func:`load_from_hf` copies the weights of a ``transformers`` ``GPT2LMHeadModel`` (GPT-2's ``Conv1D``
  stores weights as ``(in, out)``, so they are transposed into ``nn.Linear``'s ``(out, in)``);
- :class:`EncoderLayer` — a post-LayerNorm BERT layer — and :func:`load_bert_layer` for a ``BertLayer``;
- counting: :func:`gpt_param_breakdown` (by formula), :func:`count_parameters` (by code),
  :func:`forward_flops_per_token` (estimate) and :func:`measure_flops` (``FlopCounterMode``);
- :func:`generation_time_per_token`: seconds per generated token with and without the KV cache.

Nothing here touches the hub or writes files.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
import torch.nn as nn


def max_abs_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    """The largest absolute difference between two tensors of the same shape, as a float."""
    if a.shape != b.shape:
        raise ValueError(f"Cannot compare tensors of shapes {tuple(a.shape)} and {tuple(b.shape)}.")
    return float((a.detach().float() - b.detach().float()).abs().max())


# ----------------------------------------------------------------------------------- attention
def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
              mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled dot-product attention: returns ``(softmax(q kᵀ / √d_k + mask) v, attention weights)``.

    ``q`` is ``(..., T_q, d_k)``, ``k`` ``(..., T_k, d_k)``, ``v`` ``(..., T_k, d_v)``. ``mask`` is
    boolean and broadcasts to ``(..., T_q, T_k)``: ``True`` where query i may look at key j.
    """
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"attention needs q (...,T_q,d), k (...,T_k,d), v (...,T_k,d_v); got "
                         f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}.")
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])       # (..., T_q, T_k)
    if mask is not None:
        if mask.dtype != torch.bool:
            raise ValueError("mask must be boolean (True = may attend), e.g. causal_mask(T).")
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)                          # each row sums to 1
    return weights @ v, weights


def causal_mask(t_q: int, t_k: int | None = None, device: Any = None) -> torch.Tensor:
    """Boolean ``(t_q, t_k)`` mask, ``True`` where query i may attend to key j, i.e. j ≤ i.

    With a cache the ``t_q`` queries are the *last* positions of ``t_k`` keys, so query i sits at
    position ``i + t_k - t_q`` and may see keys up to there.
    """
    t_k = t_q if t_k is None else t_k
    if t_q < 1 or t_k < t_q:
        raise ValueError(f"causal_mask needs 1 ≤ t_q ≤ t_k; got t_q={t_q}, t_k={t_k}.")
    return torch.ones(t_q, t_k, dtype=torch.bool, device=device).tril(diagonal=t_k - t_q)


def split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """``(B, T, D)`` → ``(B, n_heads, T, D / n_heads)``."""
    b, t, d = x.shape
    if d % n_heads:
        raise ValueError(f"d_model={d} is not divisible by n_heads={n_heads}.")
    return x.view(b, t, n_heads, d // n_heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """``(B, H, T, d_head)`` → ``(B, T, H·d_head)``: the heads' outputs side by side."""
    b, h, t, dh = x.shape
    return x.transpose(1, 2).reshape(b, t, h * dh)


class MultiHeadAttention(nn.Module):
    """Multi-head self-attention with one fused q/k/v projection (``c_attn``) and an output ``c_proj``.

    ``forward(x, past=None, use_cache=False)`` returns ``(y, present, weights)``: ``present`` is the
    ``(k, v)`` pair to pass as ``past`` next time (the KV cache), ``weights`` is ``(B, H, T_q, T_k)``.
    """

    def __init__(self, d_model: int, n_heads: int, causal: bool = True, bias: bool = True):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}.")
        self.d_model, self.n_heads, self.causal = d_model, n_heads, causal
        self.c_attn = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.c_proj = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, x: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None = None,
                use_cache: bool = False):
        q, k, v = self.c_attn(x).split(self.d_model, dim=-1)
        q, k, v = (split_heads(t, self.n_heads) for t in (q, k, v))
        if past is not None:                       # keys/values of earlier tokens, computed once
            k = torch.cat([past[0], k], dim=-2)
            v = torch.cat([past[1], v], dim=-2)
        mask = causal_mask(q.shape[-2], k.shape[-2], device=x.device) if self.causal else None
        out, weights = attention(q, k, v, mask)
        y = self.c_proj(merge_heads(out))
        return y, ((k, v) if use_cache else None), weights


# ----------------------------------------------------------------------- normalisation and MLP
class LayerNorm(nn.Module):
    """LayerNorm (层归一化) over the last dimension: ``γ · (x − μ) / √(σ² + ε) + β``."""

    def __init__(self, d: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))
        self.bias = nn.Parameter(torch.zeros(d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu = x.mean(dim=-1, keepdim=True)
        var = x.var(dim=-1, keepdim=True, unbiased=False)   # the biased variance, as nn.LayerNorm
        return self.weight * (x - mu) / torch.sqrt(var + self.eps) + self.bias


def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    """GPT-2's GELU (``gelu_new``): ``½x(1 + tanh(√(2/π)(x + 0.044715x³)))``."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


def gelu_erf(x: torch.Tensor) -> torch.Tensor:
    """BERT's exact GELU: ``x · Φ(x) = ½x(1 + erf(x/√2))``."""
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


class MLP(nn.Module):
    """The position-wise feed-forward block (前馈网络): ``W₂ · GELU(W₁ x + b₁) + b₂``, d → d_ff → d."""

    def __init__(self, d_model: int, d_ff: int, activation=gelu_tanh):
        super().__init__()
        self.c_fc = nn.Linear(d_model, d_ff)
        self.c_proj = nn.Linear(d_ff, d_model)
        self.act = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(self.act(self.c_fc(x)))


# ------------------------------------------------------------------------------------ positions
def sinusoidal_positions(n_positions: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """The Transformer paper's fixed encodings ``(n_positions, d_model)``.

    ``PE[p, 2i] = sin(p / base^(2i/d))`` and ``PE[p, 2i+1] = cos(p / base^(2i/d))``.
    """
    if d_model % 2 or n_positions < 1:
        raise ValueError(f"sinusoidal_positions needs n_positions ≥ 1 and an even d_model; got "
                         f"{n_positions}, {d_model}.")
    pos = torch.arange(n_positions, dtype=torch.float32).unsqueeze(1)          # (P, 1)
    freq = base ** (-torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)  # (d/2,)
    pe = torch.zeros(n_positions, d_model)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq)
    return pe


def apply_rope(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """Rotary position embedding (RoPE, 旋转位置编码), the "rotate-half" layout used by Llama.

    ``x`` is ``(..., T, d)`` with even ``d``; ``positions`` holds T integer positions. Dimension pair
    ``(i, i + d/2)`` is rotated by the angle ``p · base^(−2i/d)``, so ``⟨rope(q, m), rope(k, n)⟩``
    depends on ``m − n`` only.
    """
    d = x.shape[-1]
    if d % 2:
        raise ValueError(f"apply_rope needs an even last dimension; got {d}.")
    positions = torch.as_tensor(positions, device=x.device)
    if positions.shape[-1] != x.shape[-2]:
        raise ValueError(f"apply_rope got {positions.shape[-1]} positions for {x.shape[-2]} tokens.")
    freq = base ** (-torch.arange(0, d, 2, device=x.device, dtype=torch.float64) / d)   # (d/2,)
    angle = positions.to(torch.float64).unsqueeze(-1) * freq                          # (T, d/2)
    cos = torch.cat([angle.cos(), angle.cos()], dim=-1).to(x.dtype)
    sin = torch.cat([angle.sin(), angle.sin()], dim=-1).to(x.dtype)
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    rotated_half = torch.cat([-x2, x1], dim=-1)
    return x * cos + rotated_half * sin


# ------------------------------------------------------------------------------------------ GPT
@dataclasses.dataclass
class GPTConfig:
    """The sizes of a GPT: vocabulary, context length, width, depth, heads, MLP width (default 4·d)."""

    vocab_size: int
    n_positions: int
    d_model: int
    n_layers: int
    n_heads: int
    d_ff: int | None = None
    eps: float = 1e-5
    positions: str = "learned"          # or "sinusoidal"

    def __post_init__(self):
        self.d_ff = 4 * self.d_model if self.d_ff is None else self.d_ff
        if self.positions not in ("learned", "sinusoidal"):
            raise ValueError(f"positions must be 'learned' or 'sinusoidal'; got {self.positions!r}.")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}.")

    @classmethod
    def from_hf(cls, config) -> "GPTConfig":
        """The same sizes as a ``transformers.GPT2Config``."""
        if getattr(config, "scale_attn_by_inverse_layer_idx", False) or not getattr(config, "scale_attn_weights", True):
            raise ValueError("Only GPT-2 configs with the standard 1/√d_head attention scaling are supported.")
        act = getattr(config, "activation_function", "gelu_new")
        if act not in ("gelu_new", "gelu_pytorch_tanh"):
            raise ValueError(f"ScratchGPT uses the tanh GELU; this config uses {act!r}.")
        return cls(vocab_size=config.vocab_size, n_positions=config.n_positions, d_model=config.n_embd,
                   n_layers=config.n_layer, n_heads=config.n_head, d_ff=config.n_inner,
                   eps=config.layer_norm_epsilon)


class GPTBlock(nn.Module):
    """One decoder block, pre-LayerNorm: ``x + Attn(LN₁(x))``, then ``x + MLP(LN₂(x))``."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln_1 = LayerNorm(cfg.d_model, cfg.eps)
        self.attn = MultiHeadAttention(cfg.d_model, cfg.n_heads, causal=True)
        self.ln_2 = LayerNorm(cfg.d_model, cfg.eps)
        self.mlp = MLP(cfg.d_model, cfg.d_ff, gelu_tanh)

    def forward(self, x, past=None, use_cache: bool = False):
        a, present, weights = self.attn(self.ln_1(x), past=past, use_cache=use_cache)
        x = x + a                        # residual connection (残差连接)
        x = x + self.mlp(self.ln_2(x))
        return x, present, weights


@dataclasses.dataclass
class GPTOutput:
    """What :class:`ScratchGPT` returns: logits ``(B, T, V)``, the KV cache, per-layer attention weights."""

    logits: torch.Tensor
    past: list | None = None
    attentions: list | None = None


class ScratchGPT(nn.Module):
    """A GPT-2 style decoder: token + position embeddings, ``n_layers`` blocks, final LayerNorm, and an
    output layer whose weight *is* the token embedding (weight tying, 权重共享)."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.d_model)
        if cfg.positions == "learned":
            self.wpe = nn.Embedding(cfg.n_positions, cfg.d_model)
        else:
            self.register_buffer("pe", sinusoidal_positions(cfg.n_positions, cfg.d_model), persistent=False)
        self.blocks = nn.ModuleList(GPTBlock(cfg) for _ in range(cfg.n_layers))
        self.ln_f = LayerNorm(cfg.d_model, cfg.eps)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight            # tied
        self.apply(self._init)

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)

    def forward(self, idx: torch.Tensor, past: list | None = None, use_cache: bool = False,
                return_attn: bool = False) -> GPTOutput:
        """``idx`` is ``(B, T)`` token ids; with ``past`` (the cache of earlier calls) only new tokens."""
        if idx.dim() != 2:
            raise ValueError(f"idx must be (batch, time) token ids; got shape {tuple(idx.shape)}.")
        start = 0 if past is None else past[0][0].shape[-2]
        t = idx.shape[1]
        if start + t > self.cfg.n_positions:
            raise ValueError(f"{start + t} tokens exceed the context length n_positions={self.cfg.n_positions}.")
        pos = torch.arange(start, start + t, device=idx.device)
        x = self.wte(idx) + (self.wpe(pos) if self.cfg.positions == "learned" else self.pe[pos])
        presents, attns = [], []
        for i, block in enumerate(self.blocks):
            x, present, weights = block(x, past=None if past is None else past[i], use_cache=use_cache)
            presents.append(present)
            if return_attn:
                attns.append(weights)
        logits = self.lm_head(self.ln_f(x))
        return GPTOutput(logits, presents if use_cache else None, attns if return_attn else None)

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, n_new: int, use_cache: bool = True) -> torch.Tensor:
        """Greedy decoding of ``n_new`` tokens; with ``use_cache`` each step feeds only the newest token."""
        past, nxt = None, idx
        for _ in range(n_new):
            if use_cache:
                out = self(nxt, past=past, use_cache=True)
                past = out.past
            else:
                out = self(idx)                         # recompute the whole prefix every step
            nxt = out.logits[:, -1:].argmax(dim=-1)
            idx = torch.cat([idx, nxt], dim=1)
        return idx


def load_from_hf(scratch: ScratchGPT, hf_model) -> ScratchGPT:
    """Copy a ``transformers`` ``GPT2LMHeadModel``'s weights into ``scratch`` (same sizes); returns it.

    GPT-2's ``Conv1D`` keeps its weight as ``(in_features, out_features)``; ``nn.Linear`` keeps
    ``(out, in)``, so every ``Conv1D`` weight is transposed on the way.
    """
    cfg = GPTConfig.from_hf(hf_model.config)
    mine = scratch.cfg
    for field in ("vocab_size", "n_positions", "d_model", "n_layers", "n_heads", "d_ff"):
        if getattr(cfg, field) != getattr(mine, field):
            raise ValueError(f"The models differ in {field}: {getattr(mine, field)} (scratch) vs "
                             f"{getattr(cfg, field)} (transformers).")
    if mine.positions != "learned":
        raise ValueError("GPT-2 learns its positions: build the ScratchGPT with positions='learned'.")
    tr = hf_model.transformer
    with torch.no_grad():
        scratch.wte.weight.copy_(tr.wte.weight)
        scratch.wpe.weight.copy_(tr.wpe.weight)
        for mine_b, hf_b in zip(scratch.blocks, tr.h):
            for a, b in ((mine_b.ln_1, hf_b.ln_1), (mine_b.ln_2, hf_b.ln_2)):
                a.weight.copy_(b.weight)
                a.bias.copy_(b.bias)
            for a, b in ((mine_b.attn.c_attn, hf_b.attn.c_attn), (mine_b.attn.c_proj, hf_b.attn.c_proj),
                         (mine_b.mlp.c_fc, hf_b.mlp.c_fc), (mine_b.mlp.c_proj, hf_b.mlp.c_proj)):
                a.weight.copy_(b.weight.t())           # Conv1D (in, out) → Linear (out, in)
                a.bias.copy_(b.bias)
        scratch.ln_f.weight.copy_(tr.ln_f.weight)
        scratch.ln_f.bias.copy_(tr.ln_f.bias)
        if hf_model.lm_head.weight.data_ptr() != tr.wte.weight.data_ptr():
            raise ValueError("This GPT2LMHeadModel does not tie lm_head to wte; ScratchGPT always ties them.")
    for module in scratch.modules():
        if isinstance(module, LayerNorm):
            module.eps = cfg.eps
    return scratch


def scratch_from_hf(hf_model) -> ScratchGPT:
    """A :class:`ScratchGPT` of the same sizes as ``hf_model``, holding its weights."""
    param = next(hf_model.parameters())
    model = ScratchGPT(GPTConfig.from_hf(hf_model.config)).to(device=param.device, dtype=param.dtype)
    return load_from_hf(model, hf_model).eval()
