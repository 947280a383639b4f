"""``cotracker track-pose VIDEO --keypoints FILE``: track people's 17 keypoints through a video.

Heavy imports (torch, the model) happen inside :func:`run`, so ``cotracker --help`` stays fast.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Optional, Union

from cotracker.commands._args import add_no_polish_option, add_refine_options, non_negative_int, refine_choice

__all__ = ["add_parser", "run", "parse_frames", "parse_query_frame", "NPZ_NAME", "JSON_NAME", "OVERLAY_NAME"]

logger = logging.getLogger(__name__)

NPZ_NAME = "pose_tracks.npz"
JSON_NAME = "pose_tracks_posetrack.json"
OVERLAY_NAME = "overlay.mp4"

DESCRIPTION = f"""\
Track the 17 keypoints of one or several people through a video, starting from keypoints given at a
query frame, and write, into --out (default ./cotracker_out/<video name>_pose/):
  {NPZ_NAME}       tracks (P,T,17,2) x,y pixels (NaN where not tracked), visibility (P,T,17), tracked
                        (P,T,17), query_frames (P,17), person_ids (P,), layout, keypoint_names, frame_offset, fps
  {JSON_NAME}  the predictions as a PoseTrack18 JSON (images / annotations with track_id, keypoints
                        [x, y, v]*17 in PoseTrack order, per-keypoint scores): scorable with PoseTrack tools and
                        readable by cotracker.data.PoseTrackDataset
  {OVERLAY_NAME}           the video with one coloured skeleton per person (hollow joints = occluded)

--keypoints FILE is one of:
  a PoseTrack18/21 video JSON   (images + annotations with track_id): the people of the query frame are tracked
  a COCO keypoints JSON          (images + annotations): likewise
  a simple list                  [{{"person": id, "keypoints": [x, y, v]*17, "frame": t}}, ...]
                                 (each keypoint is tracked from the first frame it is given at)
A keypoint is given where v > 0. The layout (COCO or PoseTrack order) is read from the file's keypoint
names; a simple list is taken as PoseTrack order; --layout overrides. Frame numbers are those of the
source video; x, y are its pixels (x = 0 is the centre of the leftmost pixel).
"""

EPILOG = """\
examples:
  cotracker track-pose clip.mp4 --keypoints 000342_mpii_test.json --out results/000342
  cotracker track-pose clip.mp4 --keypoints people.json --layout coco --smooth --backward
  cotracker track-pose clip.mp4 --keypoints gt.json --frames 20:80 --query-frame first
"""


def parse_frames(text: Optional[str]) -> tuple[int, Optional[int]]:
    """``"START:END"`` (END exclusive, either may be empty) -> ``(start, end)``; None -> ``(0, None)``."""
    if text is None:
        return 0, None
    parts = text.split(":")
    try:
        if len(parts) != 2:
            raise ValueError
        start = int(parts[0]) if parts[0].strip() else 0
        end = int(parts[1]) if parts[1].strip() else None
    except ValueError:
        raise ValueError(f"--frames must be START:END (e.g. 10:50, 10: or :50; END exclusive), got {text!r}") from None
    if start < 0 or (end is not None and end <= start):
        raise ValueError(f"--frames {text!r}: expected 0 <= START < END")
    return start, end


def parse_query_frame(text: Optional[str]) -> Union[int, str, None]:
    """``--query-frame``: a frame number, ``first`` (each keypoint at its first appearance) or None."""
    if text is None or text == "first":
        return text
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"--query-frame must be a frame number or 'first', got {text!r}") from None
    if value < 0:
        raise ValueError(f"--query-frame must be >= 0, got {value}")
    return value


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``track-pose`` sub-command to ``subparsers`` and set its ``func``."""
    p = subparsers.add_parser(
        "track-pose",
        help=f"track people's 17 keypoints through a video ({NPZ_NAME}, PoseTrack JSON, overlay)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("video", metavar="VIDEO", help="video file, folder of frames or quoted glob ('frames/*.jpg')")
    what = p.add_argument_group("keypoints")
    what.add_argument("--keypoints", metavar="FILE", required=True,
                      help="PoseTrack / COCO keypoints JSON, or a list of people (see above)")
    what.add_argument("--layout", choices=("coco", "posetrack"), default=None,
                      help="keypoint order of FILE (default: detected from the file)")
    what.add_argument("--drop-outside", action="store_true",
                      help="do not track keypoints that lie outside the frame (default: stop with an error)")
    what.add_argument("--query-frame", metavar="T|first", default=None,
                      help="source frame whose annotations are tracked, or 'first' for each keypoint's first "
                           "appearance (default: the first annotated frame; 'first' for a simple list)")
    model = p.add_argument_group("model")
    model.add_argument("--checkpoint", metavar="PATH|NAME", default=None,
                       help="weights file (.pth / .safetensors) or registry name (default: the pose checkpoint)")
    model.add_argument("--device", default="auto", help="auto (cuda if available), cpu or cuda[:N] (default auto)")
    model.add_argument("--backward", action="store_true",
                       help="also track backwards in time, so keypoints have positions before their query frame")
    model.add_argument("--no-support-grid", action="store_true", help="track the keypoints without context points")
    add_refine_options(model)
    model.add_argument("--no-ensemble", action="store_true", help="track with one tracker instead of the flip ensemble the shipped weights use by default (3x faster, more lost points)")
    add_no_polish_option(model)
    model.add_argument("--local-grid", type=non_negative_int, default=None, metavar="K",
                       help="track a KxK grid of extra points around every keypoint as context (default: the weights' "
                            "setting, 3 for the shipped pose weights; 0 turns it off: faster)")
    smooth = p.add_argument_group("smoothing (One-Euro filter)")
    smooth.add_argument("--smooth", action="store_true", help="smooth the tracks over time (removes jitter, little lag)")
    smooth.add_argument("--smooth-min-cutoff", type=float, default=1.0, metavar="HZ",
                        help="cut-off frequency for still joints; lower smooths more (default 1.0)")
    smooth.add_argument("--smooth-beta", type=float, default=0.05, metavar="B",
                        help="cut-off increase per pixel/second of speed; higher lags less (default 0.05)")
    frames = p.add_argument_group("frames")
    frames.add_argument("--frames", metavar="START:END", default=None,
                        help="track source frames START..END-1 only (default: all)")
    output = p.add_argument_group("output")
    output.add_argument("--out", metavar="DIR", default=None,
                        help="output folder (default ./cotracker_out/<video name>_pose/)")
    output.add_argument("--overwrite", action="store_true",
                        help="replace an existing output folder (the old one is removed only after the new one is complete)")
    output.add_argument("--no-overlay", action="store_true", help=f"do not write {OVERLAY_NAME}")
    output.add_argument("--no-progress", action="store_true", help="hide the progress bars (decoding, tracking, overlay)")
    p.set_defaults(func=run)
    return p


def _video_name(source: str) -> str:
    path = Path(source.rstrip("/"))
    name = path.stem if path.suffix else path.name
    return name.replace("*", "") or "video"


def _build_predictor(checkpoint: Optional[str], device: str, refine: Union[bool, tuple] = True,
                     ensemble: bool = True, local_grid: Optional[int] = None, polish: bool = True):
    """A predictor for ``checkpoint`` (default: the hub's pose checkpoint; the hub explains a missing file)."""
    from cotracker import hub
    from cotracker.predictor import CoTrackerPredictor, inference_overrides

    if checkpoint is None:
        checkpoint = getattr(hub, "DEFAULT_POSE_CHECKPOINT", "cotracker2-synth-pose")
    return CoTrackerPredictor(checkpoint=checkpoint, device=device,
                              **inference_overrides(refine=refine, flip_ensemble=ensemble, local_grid=local_grid,
                                                    polish=polish))


def run(args: argparse.Namespace) -> int:
    """Run ``cotracker track-pose`` with parsed arguments; returns the exit code."""
    import numpy as np
    import torch

    from cotracker.api import DEFAULT_OUT_ROOT, _progress, resolve_device
    from cotracker.io.atomic import atomic_output_dir, check_output_dir
    from cotracker.io.video import FrameSelection, VideoWriter, probe_video, read_video
    from cotracker.pose.files import posetrack_prediction_json, read_keypoints_file, select_queries
    from cotracker.pose.keypoints import COCO_SKELETON, SKELETON
    from cotracker.pose.layouts import layout_keypoint_names
    from cotracker.pose.smoothing import OneEuroConfig
    from cotracker.pose.tracking import PoseTrackConfig, prepare_pose_queries, track_pose
    from cotracker.viz.colors import person_colors
    from cotracker.viz.skeleton import draw_skeleton

    start, end = parse_frames(args.frames)
    query_frame = parse_query_frame(args.query_frame)
    out_dir = Path(args.out) if args.out else Path(DEFAULT_OUT_ROOT) / f"{_video_name(args.video)}_pose"
    check_output_dir(out_dir, args.overwrite)  # fail before any work
    kfile = read_keypoints_file(args.keypoints, layout=args.layout)
    device = resolve_device(args.device)
    predictor = _build_predictor(args.checkpoint, device, refine=refine_choice(args), ensemble=not args.no_ensemble,
                                 local_grid=args.local_grid, polish=not args.no_polish)  # a missing checkpoint fails fast

    show = not args.no_progress and sys.stderr.isatty()  # the same bars as `cotracker track`
    expected = FrameSelection(start, end).count(probe_video(args.video).num_frames)
    with _progress(expected, "decoding", show) as bar:
        video = read_video(args.video, start=start, end=end, on_frame=lambda _: bar.update(1))
    T, H, W = video.frames.shape[:3]
    stop = start + T
    if end is not None and stop < end:
        logger.warning("the video ends at frame %d, before --frames END %d", stop, end)
    if isinstance(query_frame, int) and not start <= query_frame < stop:
        raise ValueError(f"--query-frame {query_frame} is outside the tracked frames [{start}, {stop})")
    qs = select_queries(kfile, query_frame, (start, stop))

    smoothing = None
    if args.smooth:
        smoothing = OneEuroConfig(min_cutoff=args.smooth_min_cutoff, beta=args.smooth_beta, fps=video.fps or 30.0)
    config = PoseTrackConfig(support_grid=not args.no_support_grid, backward_tracking=args.backward,
                             smoothing=smoothing, outside="drop" if args.drop_outside else "error")
    clip = torch.from_numpy(video.frames).permute(0, 3, 1, 2)[None]  # (1, T, 3, H, W) uint8
    try:  # validate against the video first, so that the message names the keypoint file
        prepare_pose_queries(qs.keypoints, qs.query_frames, T, (H, W), kfile.layout, config.outside)
    except ValueError as exc:
        raise ValueError(f"{args.keypoints}: {exc}") from None
    with _progress(1, "tracking", show) as bar:
        result = track_pose(clip, qs.keypoints, qs.query_frames, layout=kfile.layout, person_ids=qs.person_ids,
                            predictor=predictor, config=config)
        bar.update(1)
    posetrack = result.to_layout("posetrack")
    doc = posetrack_prediction_json(
        posetrack.tracks.numpy(), posetrack.visibility.numpy(), posetrack.tracked.numpy(), posetrack.person_ids.numpy(),
        video_name=_video_name(args.video), frame_offset=start,
        source_images=kfile.images if kfile.kind == "posetrack" else (),
    )

    with atomic_output_dir(out_dir, overwrite=args.overwrite) as tmp:
        np.savez(
            tmp / NPZ_NAME,
            tracks=result.tracks.numpy(),
            visibility=result.visibility.numpy(),
            tracked=result.tracked.numpy(),
            query_frames=result.query_frames.numpy(),
            person_ids=result.person_ids.numpy(),
            layout=np.array(result.layout),
            keypoint_names=np.array(layout_keypoint_names(result.layout)),
            frame_offset=np.array(start),
            frame_size=np.array([H, W]),
            fps=np.array(float(video.fps)),
            smoothed=np.array(bool(args.smooth)),
        )
        with open(tmp / JSON_NAME, "w", encoding="utf-8") as fh:
            json.dump(doc, fh)
        if not args.no_overlay:
            skeleton = SKELETON if result.layout == "posetrack" else COCO_SKELETON
            colors = person_colors(result.person_ids.numpy())
            tracks, vis, tracked = result.tracks.numpy(), result.visibility.numpy(), result.tracked.numpy()
            with VideoWriter(tmp / OVERLAY_NAME, video.fps or 30.0) as writer, _progress(T, "writing overlay", show) as bar:
                for t in range(T):
                    writer.write(draw_skeleton(video.frames[t], tracks[:, t], vis[:, t], colors=colors,
                                               skeleton=skeleton, valid=tracked[:, t]))
                    bar.update(1)
    print(f"tracked {int((result.query_frames >= 0).sum())} keypoints of {result.num_people} people through {T} frames "
          f"-> {out_dir}")
    return 0
