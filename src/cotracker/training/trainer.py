"""The training loop on Lightning Fabric: one process, or DDP across GPUs and nodes.

``train(cfg)`` builds the model and data, resumes from the newest checkpoint in
``<out_dir>/checkpoints`` if there is one, and runs to ``trainer.num_steps``. Launch it

* directly (one process; ``trainer.devices=N`` on one machine makes Fabric start the other processes),
* under ``torchrun --nproc_per_node N`` or SLURM ``srun`` (Fabric reads the environment; set
  ``trainer.devices`` to the processes per node and ``trainer.num_nodes``).

Run folder::

    <out_dir>/config.yaml          the resolved config
    <out_dir>/log.jsonl            {"step", "kind", "loss", ...} records (cotracker report plots them)
    <out_dir>/tensorboard/         TensorBoard events (losses, lr, grad norm, track overlays, validation)
    <out_dir>/checkpoints/         step_XXXXXXXX.ckpt, the last ``keep_last`` kept
    <out_dir>/model_final.safetensors   the trained weights (loadable by cotracker.hub)

Each step: ``accumulate`` micro-batches (forward, losses, backward; gradient sync only on the last),
gradient clipping, AdamW, one-cycle LR step. Randomness is explicit: micro-batch ``k`` of rank ``r``
uses generators seeded by ``(seed, r, k)`` for its samples and queries, so resuming reproduces the
uninterrupted run.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Optional, Union

import numpy as np
import torch
import yaml

from cotracker.training.checkpointing import (
    CHECKPOINT_FORMAT,
    capture_rng_state,
    checkpoint_path,
    latest_checkpoint,
    load_training_checkpoint,
    prune_checkpoints,
    restore_rng_state,
    save_checkpoint_atomic,
)
from cotracker.training.config import TrainConfig, check_data_paths, config_to_dict
from cotracker.training.data import MixtureBatchSampler, SourceMixture, build_dataset, fit_sample, mix_seed
from cotracker.training.logging import JsonlLogger, TensorBoardLogger
from cotracker.training.losses import balanced_vis_loss, slice_windows, track_loss
from cotracker.training.pose_losses import (
    bone_length_loss,
    bone_pairs,
    occlusion_aware_vis_loss,
    trajectory_continuity_loss,
)
from cotracker.training.queries import sample_training_queries
from cotracker.types import CoTrackerData, collate_samples

__all__ = ["LossTerms", "TrainResult", "build_model", "compute_losses", "train"]

logger = logging.getLogger(__name__)


class LossTerms(NamedTuple):
    """The weighted objective and its (unweighted) terms, each a scalar tensor."""

    total: torch.Tensor
    track: torch.Tensor
    vis: torch.Tensor
    continuity: torch.Tensor
    bone: torch.Tensor
    occlusion_vis: torch.Tensor

    def as_floats(self) -> dict[str, float]:
        return {f"loss_{k}" if k != "total" else "loss": float(v.detach()) for k, v in self._asdict().items()}


@dataclass
class TrainResult:
    """What :func:`train` returns (on every rank).

    Attributes:
        step: the last completed optimiser step.
        last_loss: the mean loss of that step on this rank (NaN if no step ran).
        out_dir: the run folder.
        final_checkpoint: path of the last checkpoint written (None if none).
        stopped_early: True when ``stop_after`` or ``trainer.max_minutes`` ended the run before ``num_steps``.
    """

    step: int
    last_loss: float
    out_dir: Path
    final_checkpoint: Optional[Path]
    stopped_early: bool


# ------------------------------------------------------------------------------------------------- model


def build_model(cfg: TrainConfig, encoder: Optional[Union[str, Path]] = None):
    """The tracker to train, with weights from ``model.init_checkpoint`` when given, then the encoder from
    ``encoder`` (the pretraining stage's file) or ``model.init_encoder`` when given.

    The model's random initialisation is seeded by ``trainer.seed`` inside a forked RNG (global state is
    left alone). When fine-tuning a checkpoint without keypoint embedding into a model with one, the new
    ``kp_emb`` keeps its initialisation; every other key must match.
    """
    from cotracker.models import config as model_config
    from cotracker.models.config import TrackerConfig
    from cotracker.models.cotracker2 import CoTracker2

    base = model_config.PRESETS[cfg.model.preset]().to_dict()
    merged = _merge(base, cfg.model.overrides, "model.overrides")
    merged["num_keypoints"] = cfg.model.num_keypoints
    try:
        tracker_cfg = TrackerConfig.from_dict(merged)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"model.overrides: {exc}") from None
    if tuple(cfg.data.crop_size) != tuple(tracker_cfg.model_resolution):
        raise ValueError(
            f"data.crop_size {tuple(cfg.data.crop_size)} differs from the model resolution "
            f"{tuple(tracker_cfg.model_resolution)}; set data.crop_size={list(tracker_cfg.model_resolution)} "
            "or model.overrides.model_resolution to match"
        )
    if cfg.data.seq_len <= tracker_cfg.step:
        raise ValueError(
            f"data.seq_len {cfg.data.seq_len} is too short for window_len {tracker_cfg.window_len}: the model runs no "
            f"window on clips of <= {tracker_cfg.step} frames; use data.seq_len >= {tracker_cfg.window_len}"
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.trainer.seed)
        model = CoTracker2(tracker_cfg)
    if cfg.model.init_checkpoint:
        from cotracker.hub import adapt_pos_emb, load_state_dict_file, load_state_dict_strict, resolve_checkpoint

        path = resolve_checkpoint(cfg.model.init_checkpoint)
        if path.suffix == ".ckpt":  # one of our training checkpoints: take its model weights
            sd = load_training_checkpoint(path)["model"]
        else:
            sd, _ = load_state_dict_file(path)
        own = model.state_dict()
        if "kp_emb" in own and "kp_emb" not in sd:
            logger.info("%s has no keypoint embedding; kp_emb starts from its initialisation", path)
            sd = dict(sd, kp_emb=own["kp_emb"])
        sd = adapt_pos_emb(sd, own, path)
        try:
            load_state_dict_strict(model, sd)
        except ValueError as exc:
            raise ValueError(
                f"model.init_checkpoint {str(path)!r} does not fit the configured model ({exc}); "
                "match model.preset / model.overrides (e.g. window_len) to the checkpoint"
            ) from None
        logger.info("initialised the model from %s", path)
    encoder = encoder if encoder is not None else cfg.model.init_encoder
    if encoder:
        from cotracker.training.encoder_pretrain import load_encoder_weights  # noqa: PLC0415

        load_encoder_weights(model, encoder)
        logger.info("initialised the encoder from %s", encoder)
    if cfg.model.freeze_vis_head:
        model.vis_predictor.requires_grad_(False)
    return model


def _merge(base: dict, over: dict, where: str) -> dict:
    out = dict(base)
    for k, v in over.items():
        if k not in out:
            raise ValueError(f"unknown key {where}.{k}; valid keys: {', '.join(sorted(base))}")
        if isinstance(out[k], dict) and isinstance(v, dict):
            out[k] = _merge(out[k], v, f"{where}.{k}")
        else:
            out[k] = v
    return out


# ------------------------------------------------------------------------------------------------- losses


def compute_losses(train_data, batch: CoTrackerData, cfg: TrainConfig) -> LossTerms:
    """The training objective for one micro-batch.

    Args:
        train_data: the model's :class:`~cotracker.models.cotracker2.TrainData`.
        batch: the collated batch, at model resolution: trajectory (B, T, N, 2), visibility and valid
            (B, T, N), keypoint_ids / person_ids (B, N) (-1 = none).
        cfg: the run config (loss weights and options).

    Returns:
        :class:`LossTerms`; see :class:`~cotracker.training.config.LossConfig` for the formula.
    """
    lc = cfg.loss
    coords = [[c.float() for c in win] for win in train_data.coords]
    logits = [z.float() for z in train_data.vis_logits]
    starts = list(train_data.window_starts)
    lens = [win[0].shape[1] for win in coords]
    valid = batch.valid.bool() & train_data.mask.bool()  # (B, T, N)
    gt_w = slice_windows(batch.trajectory.float(), starts, lens)
    vis_w = slice_windows(batch.visibility.bool(), starts, lens)
    valid_w = slice_windows(valid, starts, lens)
    l_track = track_loss(
        coords, gt_w, vis_w, valid_w, gamma=lc.gamma, huber_delta=lc.huber_delta, visible_weight=lc.visible_weight,
        occluded_weight=lc.occluded_weight, normalization=lc.normalization,
    )
    l_vis = balanced_vis_loss(logits, vis_w, valid_w, normalization=lc.normalization)
    zero = coords[0][0].sum() * 0.0
    l_cont, l_bone, l_occ = zero, zero, zero
    kp = batch.keypoint_ids
    has_kp = kp is not None and bool((kp >= 0).any())
    if has_kp and (lc.continuity_weight > 0 or lc.bone_weight > 0 or lc.occlusion_vis_weight > 0):
        kp_mask = (kp >= 0)[:, None, :]  # (B, 1, N)
        finals = [win[-1] for win in coords]
        cont, bone, occ = [], [], []
        pairs = None
        if lc.bone_weight > 0:
            pid = batch.person_ids if batch.person_ids is not None else torch.full_like(kp, -1)
            pairs = [bone_pairs(kp[b], torch.where(pid[b] >= 0, pid[b], torch.zeros_like(pid[b]))) for b in range(kp.shape[0])]
        for pred, gt, vis, val, z in zip(finals, gt_w, vis_w, valid_w, logits):
            m = val & kp_mask
            if lc.continuity_weight > 0:
                cont.append(trajectory_continuity_loss(pred, gt, m))
            if lc.bone_weight > 0:
                bone.append(bone_length_loss(pred, gt, vis & m, pairs))
            if lc.occlusion_vis_weight > 0:
                occ.append(occlusion_aware_vis_loss(z, vis, m, kp))
        l_cont = torch.stack(cont).mean() if cont else zero
        l_bone = torch.stack(bone).mean() if bone else zero
        l_occ = torch.stack(occ).mean() if occ else zero
    total = (
        l_track + lc.vis_weight * l_vis + lc.continuity_weight * l_cont + lc.bone_weight * l_bone
        + lc.occlusion_vis_weight * l_occ
    )
    return LossTerms(total, l_track, l_vis, l_cont, l_bone, l_occ)


# ------------------------------------------------------------------------------------------------- helpers


def _batch_to(batch: CoTrackerData, device) -> CoTrackerData:
    kwargs = {}
    for name in ("video", "trajectory", "visibility", "valid", "keypoint_ids", "person_ids"):
        v = getattr(batch, name)
        kwargs[name] = v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v
    return CoTrackerData(seq_name=batch.seq_name, extra=batch.extra, query_points=None, **kwargs)


def _grad_norm(params) -> torch.Tensor:
    norms = [p.grad.detach().float().norm() for p in params if p.grad is not None]
    return torch.stack(norms).norm() if norms else torch.zeros(())


def _build_sources(cfg: TrainConfig) -> list:
    return [build_dataset(e, cfg.data, seed=mix_seed(cfg.trainer.seed, i)) for i, e in enumerate(cfg.data.train)]


def _make_loader(cfg: TrainConfig, rank: int, start_micro: int, datasets: Optional[list] = None):
    from torch.utils.data import DataLoader

    entries = cfg.data.train
    datasets = _build_sources(cfg) if datasets is None else datasets
    mixture = SourceMixture(datasets, [e.name for e in entries], [e.keypoint_ids for e in entries],
                            seq_len=cfg.data.seq_len, num_tracks=cfg.data.traj_per_sample)
    sampler = MixtureBatchSampler(
        [len(d) for d in datasets], [e.weight for e in entries], cfg.data.batch_size, cfg.trainer.seed, rank,
        start=start_micro,
    )
    loader = DataLoader(
        mixture, batch_sampler=sampler, num_workers=cfg.data.num_workers, collate_fn=collate_samples,
        persistent_workers=False, pin_memory=False, worker_init_fn=_one_thread_per_worker,
    )
    return loader, sampler


def _one_thread_per_worker(worker_id: int) -> None:
    """Data workers each use one thread: N workers with a thread per core each would oversubscribe the cores N-fold
    (the scene generator's torch and OpenCV calls are small)."""
    torch.set_num_threads(1)
    try:
        import cv2  # noqa: PLC0415

        cv2.setNumThreads(1)
    except ImportError:  # OpenCV is optional for training
        pass


def _overlay_frames(batch: CoTrackerData, coords: torch.Tensor, vis: torch.Tensor, queries: torch.Tensor) -> np.ndarray:
    """Predicted tracks of sample 0 drawn on its frames: (T, H, W, 3) uint8."""
    from cotracker.viz.draw import TrackPainter

    video = batch.video[0].detach().float().clamp(0, 255).byte().permute(0, 2, 3, 1).cpu().numpy()  # (T, H, W, 3)
    painter = TrackPainter(
        coords[0].detach().float().cpu().numpy(), (vis[0] > 0.5).cpu().numpy(),
        query_frames=queries[0, :, 0].long().cpu().numpy(), trail=4,
    )
    return np.stack([painter.draw(t, video[t]) for t in range(video.shape[0])])


# ------------------------------------------------------------------------------------------------- validation


def validate(model, cfg: TrainConfig, device, step: int) -> dict[str, float]:
    """TAP-Vid metrics ("first" queries, 256x256 scale) on ``data.val_samples`` clips of each val source,
    plus PCK/OKS where the source carries keypoints. Returns ``{source/metric: value}``."""
    from cotracker.geometry import rescale_points

    results: dict[str, float] = {}
    if not cfg.data.val:
        return results
    from cotracker.evaluation.metrics import compute_tapvid_metrics
    was_training = model.training
    model.eval()
    H, W = cfg.data.crop_size
    with torch.no_grad():
        for i, entry in enumerate(cfg.data.val):
            ds = build_dataset(entry, cfg.data, seed=mix_seed(cfg.trainer.seed, 1000 + i))
            per_metric: dict[str, list[float]] = {}
            for k in range(min(cfg.data.val_samples, len(ds))):
                s = fit_sample(ds[k], cfg.data.seq_len, cfg.data.traj_per_sample)
                b = _batch_to(collate_samples([s]), device)
                g = torch.Generator().manual_seed(mix_seed(cfg.trainer.seed, 777, k))
                q = sample_training_queries(b.trajectory, b.visibility, b.valid, 0.0, g).to(device)
                kp = None
                if model.config.num_keypoints > 0 and s.keypoint_ids is not None and entry.keypoint_ids:
                    kp = s.keypoint_ids[None].long().to(device)
                out = model(b.video, q, iters=cfg.model.train_iters, keypoint_ids=kp)
                pred = rescale_points(out.coords.float(), (H, W), (256, 256))[0].permute(1, 0, 2).cpu().numpy()
                gt = rescale_points(b.trajectory.float(), (H, W), (256, 256))[0].permute(1, 0, 2).cpu().numpy()
                qs = q[0].cpu().numpy()
                q_tyx = np.stack([qs[:, 0], qs[:, 2] * 255 / max(H - 1, 1), qs[:, 1] * 255 / max(W - 1, 1)], -1)
                gt_occ = (~b.visibility[0].bool()).T.cpu().numpy()
                pred_occ = (out.vis[0] <= 0.5).T.cpu().numpy()
                m = compute_tapvid_metrics(
                    q_tyx[None], gt_occ[None], gt[None], pred_occ[None], pred[None], query_mode="first"
                )
                for name in ("average_jaccard", "average_pts_within_thresh", "occlusion_accuracy"):
                    if name in m:
                        per_metric.setdefault(name, []).append(float(np.mean(m[name])))
                if s.keypoint_ids is not None and (s.keypoint_ids >= 0).any():
                    try:
                        _pose_metrics(out.coords[0], b.trajectory[0], b.visibility[0].bool(), b.valid[0].bool(), s,
                                      per_metric)
                    except (ImportError, ValueError) as exc:
                        logger.warning("pose metrics failed: %s", exc)
            for name, vals in per_metric.items():
                results[f"{entry.name}/{name}"] = float(np.mean(vals))
    model.train(was_training)
    return results


def _pose_metrics(pred: torch.Tensor, gt: torch.Tensor, vis: torch.Tensor, valid: torch.Tensor, sample: CoTrackerData,
                  per_metric: dict[str, list[float]]) -> None:
    """PCK@0.2 (bounding-box size) and OKS of every person and frame of one clip.

    Args:
        pred, gt: (T, N, 2) pixels; vis, valid: (T, N) bool; sample: holds keypoint_ids / person_ids (N,).
    """
    from cotracker.evaluation.pose_metrics import (
        bbox_size,
        keypoint_box_area,
        object_keypoint_similarity,
        pck,
    )
    from cotracker.pose.keypoints import NUM_KEYPOINTS

    kp = sample.keypoint_ids.cpu()
    pid = sample.person_ids.cpu() if sample.person_ids is not None else torch.zeros_like(kp)
    people = sorted(set(pid[kp >= 0].tolist()))
    if not people:
        return
    T = gt.shape[0]
    P = np.zeros((len(people), T, NUM_KEYPOINTS, 2))
    G = np.zeros_like(P)
    V = np.zeros((len(people), T, NUM_KEYPOINTS), bool)
    pr, g, v = pred.float().cpu().numpy(), gt.float().cpu().numpy(), (vis & valid).cpu().numpy()
    for a, person in enumerate(people):
        for n in ((pid == person) & (kp >= 0)).nonzero().flatten().tolist():
            j = int(kp[n])
            P[a, :, j], G[a, :, j], V[a, :, j] = pr[:, n], g[:, n], v[:, n]
    res = pck(P, G, V, bbox_size(G, V), alpha=0.2)
    if np.isfinite(res.pck):
        per_metric.setdefault("pck@0.2", []).append(res.pck)
    oks = object_keypoint_similarity(P, G, V, keypoint_box_area(G, V))  # PoseTrack slots, COCO sigmas
    if np.isfinite(oks).any():
        per_metric.setdefault("oks", []).append(float(np.nanmean(oks)))


# ------------------------------------------------------------------------------------------------- loop


def make_scheduler(optimizer, cfg: TrainConfig):
    """One-cycle LR over ``num_steps + schedule_extra_steps`` steps, no momentum cycling.

    torch's OneCycleLR needs at least two warm-up steps; a shorter warm-up (tiny runs, ``pct_start: 0``)
    is raised to two steps.
    """
    total = cfg.trainer.num_steps + cfg.optim.schedule_extra_steps
    pct = min(max(cfg.optim.pct_start, 2.0 / total), 0.5)
    if pct != cfg.optim.pct_start:
        logger.info("optim.pct_start %.4g raised to %.4g (two warm-up steps)", cfg.optim.pct_start, pct)
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=cfg.optim.lr, total_steps=total, pct_start=pct, cycle_momentum=False,
        anneal_strategy=cfg.optim.anneal,
    )


def cpu_lacks_native_bf16(cpuinfo: Optional[str] = None) -> bool:
    """True when the CPU flags (``/proc/cpuinfo``) show no native bf16 arithmetic (``avx512_bf16`` or ``amx_bf16``).

    Without them torch emulates bf16 on the CPU and ``bf16-mixed`` training runs many times slower than ``32-true``
    (a 2-core AVX2 host: minutes per 384x512 step, against about 10 s in float32). False when the flags
    cannot be read (not Linux): no claim either way.
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return False
    flags = [line for line in cpuinfo.splitlines() if line.startswith("flags")]
    if not flags:
        return False
    return not any(f in line.split() for line in flags for f in ("avx512_bf16", "amx_bf16"))


def _warn_slow_precision(cfg: TrainConfig, device: torch.device) -> None:
    if device.type == "cpu" and cfg.trainer.precision.startswith("bf16") and cpu_lacks_native_bf16():
        logger.warning("trainer.precision=%s on a CPU without native bf16 (no avx512_bf16 / amx_bf16 flag): torch "
                       "emulates it and steps can be tens of times slower; use trainer.precision=32-true "
                       "(cotracker train --precision 32-true)", cfg.trainer.precision)


def _make_fabric(cfg: TrainConfig):
    from lightning.fabric import Fabric

    tc = cfg.trainer
    return Fabric(accelerator=tc.accelerator, devices=tc.devices, num_nodes=tc.num_nodes, strategy=tc.strategy,
                  precision=tc.precision)


def train(cfg: TrainConfig, stop_after: Optional[int] = None, fabric=None) -> TrainResult:
    """Run (or resume) training.

    Args:
        cfg: the run config.
        stop_after: stop once this many optimiser steps have been completed in total (the schedule still
            spans ``num_steps``); used to split a run into parts and to test resuming.
        fabric: an already launched ``lightning.fabric.Fabric`` (default: built from ``cfg.trainer`` and launched).

    Returns:
        :class:`TrainResult`.
    """
    t_begin = time.perf_counter()  # trainer.max_minutes counts from here
    check_data_paths(cfg)
    if fabric is None:
        fabric = _make_fabric(cfg)
        fabric.launch()
    _warn_slow_precision(cfg, fabric.device)
    tc = cfg.trainer
    sources = _build_sources(cfg)  # fail on bad data before anything is written
    out_dir = Path(tc.out_dir)
    ckpt_dir = out_dir / "checkpoints"
    rank0 = fabric.global_rank == 0
    if rank0:
        out_dir.mkdir(parents=True, exist_ok=True)
        from cotracker.io.atomic import atomic_write

        with atomic_write(out_dir / "config.yaml") as fh:
            yaml.safe_dump(config_to_dict(cfg), fh, sort_keys=False)
    fabric.barrier()

    resume = latest_checkpoint(ckpt_dir)
    encoder_path, encoder_record = None, None
    if cfg.encoder_pretrain.steps > 0 and resume is None:  # stage 1 (resuming runs already hold trained weights)
        encoder_path = out_dir / "encoder.safetensors"
        if rank0 and not encoder_path.is_file():
            from cotracker.training.encoder_pretrain import pretrain_encoder  # noqa: PLC0415

            res = pretrain_encoder(cfg, encoder_path, device=fabric.device)
            encoder_record = {"step": 0, "kind": "encoder_pretrain", "steps": res.steps, "loss": res.loss,
                              "accuracy": res.accuracy, "seconds": res.seconds}
        fabric.barrier()
    model = build_model(cfg, encoder=encoder_path)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay, eps=cfg.optim.eps)
    scheduler = make_scheduler(optimizer, cfg)

    # resume before wrapping (plain module, plain optimiser state)
    start_step = 0
    if resume is not None:
        state = load_training_checkpoint(resume)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start_step = int(state["step"])
        if state["scheduler"].get("total_steps") != tc.num_steps + cfg.optim.schedule_extra_steps:
            logger.warning("trainer.num_steps changed since the checkpoint; the LR schedule keeps its original length")
        if rank0 and state.get("rng") is not None:
            restore_rng_state(state["rng"])
        if state.get("train_config", {}).get("model") != config_to_dict(cfg).get("model"):
            logger.warning("the model section of the config differs from the checkpoint's; using the checkpoint weights")
        logger.info("resuming from %s (step %d)", resume, start_step)
    model, optimizer = fabric.setup(model, optimizer)
    module = model.module if hasattr(model, "module") else model

    jsonl = JsonlLogger(out_dir / "log.jsonl", resume_step=start_step if resume is not None else None, enabled=rank0)
    tb = TensorBoardLogger(out_dir / "tensorboard", enabled=rank0 and tc.tensorboard)
    if encoder_record is not None:
        jsonl.log(encoder_record)
    accumulate = cfg.optim.accumulate
    loader, _ = _make_loader(cfg, fabric.global_rank, start_micro=start_step * accumulate, datasets=sources)
    batches = iter(loader)
    use_kp = module.config.num_keypoints > 0
    last_loss = float("nan")
    last_ckpt: Optional[Path] = resume
    end_step = tc.num_steps if stop_after is None else min(tc.num_steps, stop_after)
    t_last = time.perf_counter()
    model.train()

    step = start_step
    interval: dict[str, float] = {}
    interval_steps = 0
    while step < end_step:
        terms_acc: dict[str, float] = {}
        for micro in range(accumulate):
            k = step * accumulate + micro
            batch = _batch_to(next(batches), fabric.device)
            g = torch.Generator().manual_seed(mix_seed(tc.seed, fabric.global_rank, k, 0x9E))
            queries = sample_training_queries(
                batch.trajectory, batch.visibility, batch.valid, cfg.loss.query_random_fraction, g
            ).to(fabric.device)
            kp = batch.keypoint_ids if use_kp else None
            with fabric.no_backward_sync(model, enabled=micro < accumulate - 1):
                out = model(batch.video, queries, iters=cfg.model.train_iters, is_train=True, keypoint_ids=kp)
                terms = compute_losses(out.train_data, batch, cfg)
                fabric.backward(terms.total / accumulate)
            for name, v in terms.as_floats().items():
                terms_acc[name] = terms_acc.get(name, 0.0) + v / accumulate
        if cfg.optim.clip_grad_norm:
            grad_norm = fabric.clip_gradients(model, optimizer, max_norm=cfg.optim.clip_grad_norm)
        else:
            grad_norm = _grad_norm(params)
        lr = optimizer.param_groups[0]["lr"]
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        last_loss = terms_acc["loss"]
        for name, v in terms_acc.items():
            interval[name] = interval.get(name, 0.0) + v
        interval_steps += 1
        if not math.isfinite(last_loss):
            raise FloatingPointError(f"the loss became {last_loss} at step {step}; lower optim.lr or check the data")
        if tc.max_minutes and step < end_step and _out_of_time(fabric, t_begin, tc.max_minutes):
            logger.info("trainer.max_minutes (%g) spent at step %d: saving a checkpoint and stopping; run the same "
                        "command again to resume", tc.max_minutes, step)
            end_step = step  # logs, checkpoints and ends below

        if step % tc.log_every == 0 or step == end_step:
            names = sorted(interval)
            mean = fabric.all_reduce(
                torch.tensor([interval[k] / interval_steps for k in names], device=fabric.device), reduce_op="mean"
            )
            now = time.perf_counter()
            # losses: mean over the steps since the last record and over ranks; lr, grad_norm: this step
            record = {"step": step, "kind": "train", **dict(zip(names, mean.tolist())), "lr": lr,
                      "grad_norm": float(grad_norm), "sec_per_step": (now - t_last) / interval_steps}
            t_last = now
            interval, interval_steps = {}, 0
            jsonl.log(record)
            tb.scalars({k: v for k, v in record.items() if k not in ("step", "kind")}, step, prefix="train/")

        if rank0 and tc.video_every and step % tc.video_every == 0:
            try:
                tb.frames("train/tracks", _overlay_frames(batch, out.coords, out.vis, queries), step)
            except Exception as exc:  # drawing must never stop training
                logger.warning("could not draw the track overlay: %s", exc)

        if tc.val_every and step % tc.val_every == 0:
            if rank0:
                metrics = validate(module, cfg, fabric.device, step)
                if metrics:
                    jsonl.log({"step": step, "kind": "val", **metrics})
                    tb.scalars(metrics, step, prefix="val/")
            fabric.barrier()

        if step % tc.checkpoint_every == 0 or step == end_step:
            last_ckpt = _save(fabric, module, optimizer, scheduler, step, cfg, ckpt_dir)

    # replicas must hold identical weights: check it once at the end
    flat = torch.cat([p.detach().float().flatten() for p in module.parameters()])
    digest = torch.stack([flat.sum(), flat.pow(2).sum(), (flat * torch.linspace(0, 1, flat.numel(), device=flat.device)).sum()])
    gathered = fabric.all_gather(digest).reshape(-1, 3)
    spread = float((gathered - gathered[0:1]).abs().max())
    if step >= tc.num_steps and rank0:
        from cotracker.hub import save_checkpoint

        save_checkpoint(module, out_dir / "model_final.safetensors")
    jsonl.log({"step": step, "kind": "end", "world_size": fabric.world_size, "replica_weight_spread": spread,
               "finished": step >= tc.num_steps})
    tb.close()
    fabric.barrier()
    return TrainResult(step, last_loss, out_dir, last_ckpt, step < tc.num_steps)


def _out_of_time(fabric, t_begin: float, max_minutes: float) -> bool:
    """Whether ``max_minutes`` have passed since ``t_begin``: rank 0's clock decides for every rank."""
    spent = time.perf_counter() - t_begin >= 60.0 * max_minutes
    return bool(fabric.broadcast(spent, src=0)) if fabric.world_size > 1 else spent


def _save(fabric, module, optimizer, scheduler, step: int, cfg: TrainConfig, ckpt_dir: Path) -> Path:
    path = checkpoint_path(ckpt_dir, step)
    if fabric.global_rank == 0:
        state = {
            "format": CHECKPOINT_FORMAT,
            "step": step,
            "model": {k: v.detach().cpu() for k, v in module.state_dict().items()},
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "train_config": config_to_dict(cfg),
            "model_config": module.config.to_dict(),
            "rng": capture_rng_state(),
        }
        save_checkpoint_atomic(state, path)
        prune_checkpoints(ckpt_dir, cfg.trainer.keep_last)
    fabric.barrier()
    return path
