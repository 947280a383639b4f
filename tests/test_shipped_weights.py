"""The weights that ship inside the package: present, pinned, loadable, and actually tracking.

These tests fail (never skip) when a shipped file is missing: the README's main command depends on them.
"""
import pytest
import torch

from cotracker.hub import DEFAULT_CHECKPOINT, REGISTRY, build_cotracker, resolve_checkpoint, sha256_file

PACKAGED = sorted(name for name, entry in REGISTRY.items() if entry.packaged)


def test_the_registry_ships_the_general_and_the_pose_model():
    assert PACKAGED == ["cotracker2-synth", "cotracker2-synth-pose"]
    assert DEFAULT_CHECKPOINT == "cotracker2-synth"


@pytest.mark.parametrize("name", PACKAGED)
def test_shipped_file_is_present_pinned_and_small(name):
    path = resolve_checkpoint(name)
    entry = REGISTRY[name]
    assert entry.sha256 is not None, f"{name}: pin its sha256 in cotracker.hub.REGISTRY"
    assert sha256_file(path) == entry.sha256
    assert path.stat().st_size < 20e6  # the package stays pip-installable from a git checkout


@pytest.mark.parametrize("name, keypoints", [("cotracker2-synth", 0), ("cotracker2-synth-pose", 17)])
def test_shipped_models_build_with_their_own_config(name, keypoints):
    model = build_cotracker(name)
    assert model.config.num_keypoints == keypoints
    assert model.config.model_resolution == (192, 256)  # the `small` preset they were trained with
    assert model.config.transformer.num_heads == 4
    assert ("kp_emb" in model.state_dict()) == (keypoints > 0)


def _translating_clip(T=12, H=192, W=256, dx=3.0, dy=-2.0, seed=0):
    """A smooth random texture shifted by (dx, dy) px per frame (integer-free, bilinear) and its true tracks."""
    g = torch.Generator().manual_seed(seed)
    base = torch.nn.functional.interpolate(torch.rand(1, 3, H // 8 + 8, W // 8 + 8, generator=g), scale_factor=8,
                                           mode="bicubic", align_corners=False).clamp(0, 1) * 255
    big_h, big_w = base.shape[-2:]
    frames = []
    for t in range(T):
        ys = torch.arange(H, dtype=torch.float32) + 32 - dy * t
        xs = torch.arange(W, dtype=torch.float32) + 32 - dx * t
        gy = (ys / (big_h - 1)) * 2 - 1
        gx = (xs / (big_w - 1)) * 2 - 1
        grid = torch.stack(torch.meshgrid(gy, gx, indexing="ij")[::-1], dim=-1)[None]
        frames.append(torch.nn.functional.grid_sample(base, grid, align_corners=True)[0])
    video = torch.stack(frames)[None]  # (1, T, 3, H, W)
    q_xy = torch.tensor([[x, y] for x in (60.0, 110.0, 150.0, 200.0) for y in (50.0, 90.0, 130.0)])
    queries = torch.cat([torch.zeros(len(q_xy), 1), q_xy], dim=1)[None]  # (1, N, 3) at frame 0
    steps = torch.arange(T, dtype=torch.float32)[:, None, None] * torch.tensor([dx, dy])
    truth = q_xy[None] + steps  # (T, N, 2)
    return video, queries, truth


def test_the_shipped_general_model_tracks_a_translation():
    from cotracker.predictor import CoTrackerPredictor

    video, queries, truth = _translating_clip()
    predictor = CoTrackerPredictor(checkpoint=DEFAULT_CHECKPOINT)
    with torch.no_grad():
        tracks, vis = predictor(video, queries=queries)
    err = (tracks[0] - truth).norm(dim=-1)  # (T, N)
    static_err = (truth - truth[:1]).norm(dim=-1)
    assert float(err.mean()) < 1.5, f"mean error {float(err.mean()):.2f} px"
    assert float(err.mean()) < 0.2 * float(static_err.mean())
    assert float(vis.float().mean()) > 0.9  # nothing is occluded


def test_the_shipped_second_pass_is_more_precise():
    """The coarse-to-fine settings ship with the weights, and the second pass beats the first on sub-pixel motion."""
    from cotracker.predictor import CoTrackerPredictor

    video, queries, truth = _translating_clip()
    refined = CoTrackerPredictor(checkpoint=DEFAULT_CHECKPOINT, polish=False)  # the passes alone
    assert refined.refine_shape == (384, 512) and refined.iters == 4 and refined.flip_ensemble and refined.feedback
    assert (refined.local_grid_size, refined.local_grid_extent) == (3, 0.1)  # NOTES.md, "Session 9"
    first_only = CoTrackerPredictor(model=refined.model, refine_resolution=False, polish=False)
    with torch.no_grad():
        err_fine = (refined(video, queries=queries).tracks[0] - truth).norm(dim=-1).mean()
        err_first = (first_only(video, queries=queries).tracks[0] - truth).norm(dim=-1).mean()
    # measured with the shipped synth_small_hires2 weights and their 3x3 local grid (session 12): 0.33 px against
    # 0.60 px for the first pass alone (synth_small_hires: 0.36 against 0.59; synth_small_cont7: 0.37 against 0.56)
    assert float(err_fine) < 0.6 and float(err_fine) < 0.75 * float(err_first), (float(err_fine), float(err_first))


def test_the_shipped_polish_is_more_precise():
    """The general file carries the Lucas-Kanade polish chosen in session 18 (the pose file none), and on sub-pixel
    motion of a textured clip the polished tracks are closer to the truth than the passes alone."""
    from cotracker.polish import PolishConfig
    from cotracker.predictor import CoTrackerPredictor

    polished = CoTrackerPredictor(checkpoint=DEFAULT_CHECKPOINT)
    assert polished.polish == PolishConfig(radius=0.06, fb_threshold=0.25, window=11, levels=2)  # NOTES.md, "Session 18"
    assert CoTrackerPredictor(checkpoint="cotracker2-synth-pose").polish is None
    video, queries, truth = _translating_clip(dx=2.3, dy=-1.7, seed=2)
    plain = CoTrackerPredictor(model=polished.model, polish=False)
    with torch.no_grad():
        err_pol = (polished(video, queries=queries).tracks[0] - truth).norm(dim=-1)[1:].mean()
        err_plain = (plain(video, queries=queries).tracks[0] - truth).norm(dim=-1)[1:].mean()
    assert float(err_pol) < 0.5 * float(err_plain), (float(err_pol), float(err_plain))


def test_the_shipped_pose_model_tracks_with_keypoint_ids():
    from cotracker.predictor import CoTrackerPredictor

    video, queries, truth = _translating_clip(dx=-2.5, dy=1.5, seed=1)
    predictor = CoTrackerPredictor(checkpoint="cotracker2-synth-pose")
    assert predictor.flip_ensemble and predictor.feedback and predictor.refine_shape == (384, 512)  # the settings ship with the weights
    assert (predictor.local_grid_size, predictor.local_grid_extent) == (3, 0.1)  # since session 17 (NOTES.md)
    ids = torch.arange(queries.shape[1])[None] % 17
    with torch.no_grad():
        tracks, _ = predictor(video, queries=queries, keypoint_ids=ids)
    err = (tracks[0] - truth).norm(dim=-1)
    assert float(err.mean()) < 2.0, f"mean error {float(err.mean()):.2f} px"
