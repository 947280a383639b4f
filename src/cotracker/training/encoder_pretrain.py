# SPDX-License-Identifier: Apache-2.0
"""Contrastive correspondence pretraining of the CNN encoder (the optional first training stage).

Why: trained end to end from scratch, the tracker spends its first thousands of steps learning features that
make the correlation volume informative; on 2 CPU cores that is most of a session (after 600 tracker steps,
the global argmax of a query's correlation fell within 1.5 feature cells of the truth for 17% of tracks).
Training the encoder alone on the same ground-truth tracks is ~5x cheaper per clip and reaches 36% in ~400 steps.

Objective, for a clip's features ``f_t`` (L2-normalised over channels) and tracks ``p_t`` (feature cells)::

    q_n      = f_r(p_r,n)                         bilinear sample at the track's reference-frame position
    logit    = <q_n, f_t(c)> / temperature        for every cell c of every other encoded frame t
    loss     = cross-entropy(logit, cell nearest to p_t,n)   over tracks visible at r and t, inside frame t

``cotracker train`` runs this stage first when ``encoder_pretrain.steps > 0`` and writes
``<out_dir>/encoder.safetensors``; the tracker then starts from it (``model.init_encoder``).
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F

from cotracker.geometry import pixels_to_features, sample_features4d

__all__ = ["CorrespondenceLoss", "EncoderPretrainResult", "correspondence_loss", "pretrain_encoder",
           "load_encoder_weights", "ENCODER_PREFIX"]

logger = logging.getLogger(__name__)

#: state-dict prefix of the encoder inside CoTracker2 (``fnet.conv1.weight`` ...)
ENCODER_PREFIX = "fnet."


class CorrespondenceLoss(NamedTuple):
    """loss: scalar; accuracy: share of scored tracks whose arg-max cell is the true cell; scored: how many."""

    loss: torch.Tensor
    accuracy: float
    scored: int


class EncoderPretrainResult(NamedTuple):
    steps: int
    loss: float
    accuracy: float
    path: Path
    seconds: float


def correspondence_loss(feats: torch.Tensor, xy: torch.Tensor, visible: torch.Tensor, ref: int,
                        temperature: float = 0.1) -> CorrespondenceLoss:
    """Cross-entropy of finding each track's reference-frame feature at its true cell in the other frames.

    Args:
        feats: (B, T, C, h, w) encoder features (any scale; normalised here).
        xy: (B, T, N, 2) track positions in feature-map cells ``(x, y)`` (pixel / stride).
        visible: (B, T, N) bool, visible (and valid) ground truth.
        ref: index of the reference frame in ``0..T-1``.
        temperature: softmax temperature (> 0).

    Returns:
        :class:`CorrespondenceLoss`; a zero loss (still differentiable) when no track is scored.
    """
    if feats.dim() != 5 or xy.dim() != 4 or visible.dim() != 3:
        raise ValueError(f"expected feats (B,T,C,h,w), xy (B,T,N,2), visible (B,T,N); got {tuple(feats.shape)}, "
                         f"{tuple(xy.shape)}, {tuple(visible.shape)}")
    B, T, C, h, w = feats.shape
    if xy.shape[:2] != (B, T) or visible.shape != xy.shape[:3] or xy.shape[-1] != 2:
        raise ValueError(f"xy {tuple(xy.shape)} and visible {tuple(visible.shape)} do not fit feats {tuple(feats.shape)}")
    if not 0 <= ref < T:
        raise ValueError(f"ref must lie in [0, {T - 1}], got {ref}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    f = F.normalize(feats.float(), dim=2)
    q = sample_features4d(f[:, ref], xy[:, ref].float())  # (B, N, C)
    others = [t for t in range(T) if t != ref]
    tgt = f[:, others].flatten(3)  # (B, T-1, C, h*w)
    logits = torch.einsum("bnc,btcm->btnm", q, tgt) / temperature  # (B, T-1, N, h*w)
    p = xy[:, others]  # (B, T-1, N, 2)
    cx, cy = p[..., 0].round(), p[..., 1].round()
    inside = (cx >= 0) & (cx <= w - 1) & (cy >= 0) & (cy <= h - 1)
    mask = visible[:, ref][:, None].bool() & visible[:, others].bool() & inside  # (B, T-1, N)
    n = int(mask.sum())
    if n == 0:
        return CorrespondenceLoss(logits.sum() * 0.0, float("nan"), 0)
    target = (cy.clamp(0, h - 1) * w + cx.clamp(0, w - 1)).long()  # (B, T-1, N)
    loss = F.cross_entropy(logits[mask], target[mask])
    acc = float((logits[mask].argmax(-1) == target[mask]).float().mean())
    return CorrespondenceLoss(loss, acc, n)


def load_encoder_weights(model, path) -> None:
    """Load an ``encoder.safetensors`` (``fnet.*`` keys only) into ``model.fnet``, strictly."""
    from safetensors.torch import load_file  # noqa: PLC0415

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"encoder weights {path} not found (written by the encoder_pretrain stage)")
    sd = load_file(str(path))
    bad = [k for k in sd if not k.startswith(ENCODER_PREFIX)]
    if bad:
        raise ValueError(f"{path} is not an encoder file: keys without the '{ENCODER_PREFIX}' prefix, e.g. {bad[:3]}")
    own = model.fnet.state_dict()
    enc = {k[len(ENCODER_PREFIX):]: v for k, v in sd.items()}
    mism = [k for k in own if k in enc and tuple(enc[k].shape) != tuple(own[k].shape)]
    if set(enc) != set(own) or mism:
        raise ValueError(
            f"{path} does not fit this model's encoder (missing {sorted(set(own) - set(enc))[:3]}, unexpected "
            f"{sorted(set(enc) - set(own))[:3]}, shape mismatches {mism[:3]}); pretrain with the same model preset"
        )
    model.fnet.load_state_dict(enc, strict=True)


def _pick_frames(T: int, k: int, g: torch.Generator) -> list[int]:
    """``k`` distinct sorted frame indices of ``0..T-1`` (all when ``k >= T``)."""
    if k >= T:
        return list(range(T))
    return sorted(torch.randperm(T, generator=g)[:k].tolist())


def pretrain_encoder(cfg, out_path, device: Optional[torch.device] = None) -> EncoderPretrainResult:
    """Run the encoder stage of ``cfg`` (a :class:`~cotracker.training.config.TrainConfig`) and save the encoder.

    The encoder starts from the seeded initialisation of the run's model (``build_model``), sees the run's
    training mixture (same sampler, ``trainer.seed``), and is written atomically to ``out_path`` as safetensors
    with ``fnet.*`` keys. Progress goes to the log every ``trainer.log_every`` steps.
    """
    from cotracker.io.safetensors_file import save_safetensors  # noqa: PLC0415
    from cotracker.training.data import mix_seed  # noqa: PLC0415
    from cotracker.training.trainer import _make_loader, build_model  # noqa: PLC0415

    pc = cfg.encoder_pretrain
    if pc.steps < 1:
        raise ValueError("encoder_pretrain.steps must be >= 1 to run the encoder stage")
    device = torch.device(device or "cpu")
    model = build_model(cfg).to(device)
    fnet = model.fnet.train()
    stride = model.config.stride
    opt = torch.optim.AdamW(fnet.parameters(), lr=pc.lr, weight_decay=cfg.optim.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=pc.lr, total_steps=pc.steps, pct_start=0.05,
                                                anneal_strategy="cos")
    loader, _ = _make_loader(cfg, rank=0, start_micro=0)
    batches = iter(loader)
    bf16 = cfg.trainer.precision.startswith("bf16")
    t0 = time.perf_counter()
    run_loss, run_acc, n_rec = 0.0, 0.0, 0
    last = CorrespondenceLoss(torch.zeros(()), float("nan"), 0)
    for k in range(pc.steps):
        batch = next(batches)
        g = torch.Generator().manual_seed(mix_seed(cfg.trainer.seed, k, 0xE7C))
        frames = _pick_frames(batch.video.shape[1], pc.frames_per_sample, g)
        ref = int(torch.randint(len(frames), (1,), generator=g))
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            f = model.encode(batch.video[:, frames]).float()  # (B, K, C, h, w), the tracker's own normalisation
        xy = pixels_to_features(batch.trajectory[:, frames].to(device).float(), stride)
        vis = (batch.visibility.bool() & batch.valid.bool())[:, frames].to(device)
        last = correspondence_loss(f, xy, vis, ref, pc.temperature)
        opt.zero_grad(set_to_none=True)
        if last.scored:
            last.loss.backward()
            torch.nn.utils.clip_grad_norm_(fnet.parameters(), cfg.optim.clip_grad_norm or 1e9)
            opt.step()
            run_loss, run_acc, n_rec = run_loss + float(last.loss.detach()), run_acc + last.accuracy, n_rec + 1
        sched.step()
        if (k + 1) % cfg.trainer.log_every == 0 and n_rec:
            logger.info("encoder pretraining %d/%d: loss %.3f, exact-cell accuracy %.3f, %.2f s/step", k + 1, pc.steps,
                        run_loss / n_rec, run_acc / n_rec, (time.perf_counter() - t0) / (k + 1))
            run_loss, run_acc, n_rec = 0.0, 0.0, 0
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    sd = {ENCODER_PREFIX + k: v.detach().cpu().contiguous() for k, v in fnet.state_dict().items()}
    save_safetensors(sd, out_path, metadata={"format": "pt", "stage": "encoder_pretrain", "steps": str(pc.steps)})
    return EncoderPretrainResult(pc.steps, float(last.loss.detach()), last.accuracy, out_path, time.perf_counter() - t0)
