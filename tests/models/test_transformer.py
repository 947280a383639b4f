import pytest
import torch

from cotracker.models.config import TransformerConfig
from cotracker.models.transformer import Attention, CrossAttnBlock, EfficientUpdateFormer, mask_to_bias


def _manual_attention(attn, x, ctx, bias):
    """Reference attention written out: softmax(q k^T / sqrt(d) + bias) v."""
    M, Lq, D = x.shape
    h, d = attn.heads, attn.head_dim
    q = attn.to_q(x).reshape(M, Lq, h, d).transpose(1, 2)
    kv = attn.to_kv(ctx)
    k, v = kv[..., :D], kv[..., D:]
    k = k.reshape(M, -1, h, d).transpose(1, 2)
    v = v.reshape(M, -1, h, d).transpose(1, 2)
    s = q @ k.transpose(-1, -2) * d**-0.5
    if bias is not None:
        s = s + bias
    out = s.softmax(-1) @ v
    return attn.to_out(out.transpose(1, 2).reshape(M, Lq, D))


def test_attention_matches_manual_and_kv_order():
    torch.manual_seed(0)
    attn = Attention(16, 2)
    x, ctx = torch.randn(3, 4, 16), torch.randn(3, 5, 16)
    mask = torch.rand(3, 5) > 0.3
    mask[:, 0] = True
    bias = mask_to_bias(mask, torch.float32)[:, None, None, :]
    torch.testing.assert_close(attn(x, ctx, bias), _manual_attention(attn, x, ctx, bias), atol=1e-5, rtol=1e-5)


def test_fully_masked_query_row_is_mean_of_values():
    torch.manual_seed(0)
    blk = CrossAttnBlock(16, 2)
    x, ctx = torch.randn(2, 3, 16), torch.randn(2, 6, 16)
    mask = torch.tensor([[True, False, True], [False, False, False]])
    out = blk.cross_attn(blk.norm1(x), blk.norm_context(ctx), mask_to_bias(mask, x.dtype)[:, None, :, None].expand(2, 1, 3, 6))
    assert torch.isfinite(out).all()
    # masked rows: uniform weights -> to_out(mean over keys of v)
    v = blk.cross_attn.to_kv(blk.norm_context(ctx))[..., 16:]
    expected = blk.cross_attn.to_out(v.mean(1))  # (2, 16)
    torch.testing.assert_close(out[0, 1], expected[0], atol=1e-5, rtol=1e-5)
    for r in range(3):
        torch.testing.assert_close(out[1, r], expected[1], atol=1e-5, rtol=1e-5)


def test_key_mask_excludes_masked_keys():
    torch.manual_seed(0)
    blk = CrossAttnBlock(16, 2)
    x, ctx = torch.randn(1, 3, 16), torch.randn(1, 6, 16)
    keep = torch.tensor([[True, True, False, True, False, False]])
    out = blk(x, ctx, mask=keep, mask_queries=False)
    ref = blk(x, ctx[:, keep[0]])
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_mask_branch_explicit_when_sizes_coincide():
    # N points == number of virtual tokens: the official shape test would pick the wrong branch.
    torch.manual_seed(0)
    blk = CrossAttnBlock(8, 2)
    virt, points = torch.randn(1, 4, 8), torch.randn(1, 4, 8)
    keep = torch.tensor([[True, False, True, True]])
    out = blk(virt, points, mask=keep, mask_queries=False)  # virtual <- point: mask key columns
    torch.testing.assert_close(out, blk(virt, points[:, keep[0]]), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="mask must be"):
        blk(virt, torch.randn(1, 5, 8), mask=keep, mask_queries=False)


def test_updateformer_shapes_and_backward():
    cfg = TransformerConfig(hidden_size=32, num_heads=4, time_depth=2, space_depth=1, mlp_ratio=2, num_virtual_tracks=3)
    f = EfficientUpdateFormer(cfg, input_dim=12, output_dim=5)
    x = torch.randn(2, 4, 6, 12)
    mask = torch.ones(2 * 6, 4, dtype=torch.bool)
    mask[:, 1] = False
    out = f(x, mask)
    assert out.shape == (2, 4, 6, 5)
    out.square().sum().backward()
    for name, p in f.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_updateformer_points_interact_only_through_virtual_tokens_masked():
    # A masked point cannot influence the other points (it is excluded as a key for the virtual tokens).
    torch.manual_seed(0)
    cfg = TransformerConfig(hidden_size=16, num_heads=2, time_depth=1, space_depth=1, mlp_ratio=2, num_virtual_tracks=2)
    f = EfficientUpdateFormer(cfg, 8, 3)
    x = torch.randn(1, 3, 4, 8)
    mask = torch.tensor([True, True, False]).repeat(4, 1)
    a = f(x, mask)
    x2 = x.clone()
    x2[:, 2] += 5.0
    b = f(x2, mask)
    torch.testing.assert_close(a[:, :2], b[:, :2])


def test_masks_stay_finite_in_bfloat16():
    torch.manual_seed(0)
    blk = CrossAttnBlock(16, 2)
    x, ctx = torch.randn(1, 3, 16), torch.randn(1, 4, 16)
    mask = torch.tensor([[True, False, False]])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = blk(x, ctx, mask=mask, mask_queries=True)
    assert torch.isfinite(out).all()
