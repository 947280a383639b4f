"""Attention blocks and the ``EfficientUpdateFormer`` (time attention + space attention via virtual tracks).

Parameter names match the official checkpoints: ``attn.to_q``, fused ``attn.to_kv`` (keys first, then
values), ``attn.to_out``, ``mlp.fc1/fc2``, ``norm_context`` (the only affine LayerNorm), and the misspelled
``virual_tracks``.

Masking uses an additive bias of ``-finfo(dtype).max`` where a mask is False, as the official model does.
A query row whose every key is masked therefore gets a *uniform* softmax (every score is the same huge
negative number after rounding), i.e. the mean of the values, never NaN.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .config import TransformerConfig

__all__ = ["Mlp", "Attention", "AttnBlock", "CrossAttnBlock", "EfficientUpdateFormer", "mask_to_bias"]


def mask_to_bias(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Bool keep-mask -> additive float bias: 0 where True, ``-finfo(dtype).max`` where False."""
    return (~mask).to(dtype) * -torch.finfo(dtype).max


class Mlp(nn.Module):
    """fc1 -> GELU -> fc2 (no dropout)."""

    def __init__(self, in_features: int, hidden_features: int, approximate: str = "tanh"):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = nn.GELU(approximate=approximate)
        self.fc2 = nn.Linear(hidden_features, in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Attention(nn.Module):
    """Multi-head (cross-)attention with a fused key/value projection.

    Args:
        dim: query (and context) width.
        num_heads: heads; each has ``dim // num_heads`` channels and scale ``head_dim ** -0.5``.
    """

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.heads = num_heads
        self.head_dim = dim // num_heads
        self.to_q = nn.Linear(dim, dim)
        self.to_kv = nn.Linear(dim, 2 * dim)
        self.to_out = nn.Linear(dim, dim)

    def forward(
        self, x: torch.Tensor, context: Optional[torch.Tensor] = None, attn_bias: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """Attend.

        Args:
            x: (M, Lq, dim) queries.
            context: (M, Lk, dim) keys/values source; defaults to ``x``.
            attn_bias: optional additive bias broadcastable to (M, heads, Lq, Lk).

        Returns:
            (M, Lq, dim).
        """
        context = x if context is None else context
        M, Lq, D = x.shape
        Lk = context.shape[1]
        q = self.to_q(x).reshape(M, Lq, self.heads, self.head_dim).transpose(1, 2)  # (M, h, Lq, d)
        k, v = self.to_kv(context).chunk(2, dim=-1)  # (M, Lk, dim) each
        k = k.reshape(M, Lk, self.heads, self.head_dim).transpose(1, 2)  # (M, h, Lk, d)
        v = v.reshape(M, Lk, self.heads, self.head_dim).transpose(1, 2)  # (M, h, Lk, d)
        if attn_bias is not None and attn_bias.dtype != q.dtype:
            # e.g. under autocast: -finfo(float32).max would round to -inf in bf16/fp16 (NaN for a fully
            # masked row); clamp to the target dtype's range first.
            attn_bias = attn_bias.clamp(min=torch.finfo(q.dtype).min).to(q.dtype)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_bias, scale=self.head_dim**-0.5)
        return self.to_out(out.transpose(1, 2).reshape(M, Lq, D))  # (M, Lq, dim)


class AttnBlock(nn.Module):
    """Pre-norm self-attention block: ``x += Attn(LN(x)); x += MLP(LN(x))`` (LayerNorms without affine)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), approximate="tanh")

    def forward(self, x: torch.Tensor, attn_bias: Optional[torch.Tensor] = None) -> torch.Tensor:
        """x: (M, L, dim); attn_bias: optional additive bias broadcastable to (M, heads, L, L)."""
        x = x + self.attn(self.norm1(x), attn_bias=attn_bias)
        return x + self.mlp(self.norm2(x))


class CrossAttnBlock(nn.Module):
    """Pre-norm cross-attention block: ``x += Attn(LN(x), LN_ctx(context)); x += MLP(LN(x))``.

    ``norm_context`` is a LayerNorm with affine parameters and eps 1e-5; the other two have neither.

    Deliberate fix of an official defect: the official block decides whether its mask applies to the
    query rows or to the key columns by comparing ``mask.shape[1]`` with ``x.shape[1]``, which picks the
    wrong branch when exactly 64 points (= virtual tracks) are tracked. Here the caller says which with
    ``mask_queries`` (True: mask query rows, used for point -> virtual; False: mask key columns, used for
    virtual -> point). For every N != 64 this is identical to the official behaviour.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.norm_context = nn.LayerNorm(dim)
        self.cross_attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), approximate="tanh")

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor,
        mask: Optional[torch.Tensor] = None,
        mask_queries: bool = False,
    ) -> torch.Tensor:
        """Cross-attend.

        Args:
            x: (M, Lq, dim) queries.
            context: (M, Lk, dim) keys/values.
            mask: optional (M, Lq) bool if ``mask_queries`` else (M, Lk) bool; True = keep.
            mask_queries: which axis ``mask`` applies to (rows of queries or columns of keys).

        Returns:
            (M, Lq, dim).
        """
        bias = None
        if mask is not None:
            expected = x.shape[1] if mask_queries else context.shape[1]
            if mask.shape != (x.shape[0], expected):
                raise ValueError(f"CrossAttnBlock mask must be {(x.shape[0], expected)}, got {tuple(mask.shape)}")
            b = mask_to_bias(mask, x.dtype)  # (M, L)
            bias = b[:, None, :, None] if mask_queries else b[:, None, None, :]  # (M, 1, Lq, 1) | (M, 1, 1, Lk)
            # SDPA wants a full-size bias; a query-row mask is expanded along the keys.
            bias = bias.expand(x.shape[0], 1, x.shape[1], context.shape[1])
        x = x + self.cross_attn(self.norm1(x), context=self.norm_context(context), attn_bias=bias)
        return x + self.mlp(self.norm2(x))


class EfficientUpdateFormer(nn.Module):
    """Transformer over (point, frame) tokens: attention along time per track, then space attention
    through ``num_virtual_tracks`` learned tokens (points never attend to each other directly).

    Args:
        config: sizes.
        input_dim: token input width (456).
        output_dim: output width (130 = dx, dy, 128 feature deltas).
    """

    def __init__(self, config: TransformerConfig, input_dim: int, output_dim: int):
        super().__init__()
        hid, heads, ratio = config.hidden_size, config.num_heads, config.mlp_ratio
        self.num_virtual_tracks = config.num_virtual_tracks
        self.input_transform = nn.Linear(input_dim, hid)
        self.flow_head = nn.Linear(hid, output_dim)
        # (sic) the official key name is misspelled; kept for checkpoint compatibility.
        self.virual_tracks = nn.Parameter(torch.randn(1, config.num_virtual_tracks, 1, hid))
        self.time_blocks = nn.ModuleList([AttnBlock(hid, heads, ratio) for _ in range(config.time_depth)])
        self.space_virtual_blocks = nn.ModuleList([AttnBlock(hid, heads, ratio) for _ in range(config.space_depth)])
        self.space_point2virtual_blocks = nn.ModuleList(
            [CrossAttnBlock(hid, heads, ratio) for _ in range(config.space_depth)]
        )
        self.space_virtual2point_blocks = nn.ModuleList(
            [CrossAttnBlock(hid, heads, ratio) for _ in range(config.space_depth)]
        )
        self._space_every = config.time_depth // config.space_depth
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.trunc_normal_(self.flow_head.weight, std=0.001)

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Refine.

        Args:
            x: (B, N, T, input_dim) tokens.
            mask: optional (B*T, N) bool, True where the point takes part in space attention in that frame.

        Returns:
            (B, N, T, output_dim).
        """
        tokens = self.input_transform(x)  # (B, N, T, hid)
        B, N, T, D = tokens.shape
        V = self.num_virtual_tracks
        virtual = self.virual_tracks.expand(B, V, T, D)
        tokens = torch.cat([tokens, virtual], dim=1)  # (B, N+V, T, hid)
        j = 0
        for i, time_block in enumerate(self.time_blocks):
            tokens = time_block(tokens.reshape(B * (N + V), T, D)).reshape(B, N + V, T, D)
            if i % self._space_every == 0:
                space = tokens.permute(0, 2, 1, 3).reshape(B * T, N + V, D)  # (B*T, N+V, hid)
                points, virt = space[:, :N], space[:, N:]
                virt = self.space_virtual2point_blocks[j](virt, points, mask=mask, mask_queries=False)
                virt = self.space_virtual_blocks[j](virt)
                points = self.space_point2virtual_blocks[j](points, virt, mask=mask, mask_queries=True)
                space = torch.cat([points, virt], dim=1)  # (B*T, N+V, hid)
                tokens = space.reshape(B, T, N + V, D).permute(0, 2, 1, 3)  # (B, N+V, T, hid)
                j += 1
        return self.flow_head(tokens[:, :N])  # (B, N, T, out)
