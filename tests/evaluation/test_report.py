"""Tables, step parsing, loss-log reading and the report plots."""
import json

import numpy as np
import pytest

from cotracker.cli import main
from cotracker.evaluation.report import (
    LEGEND_INSIDE_MAX,
    checkpoint_step,
    comparison_table,
    drawn_loss_series,
    list_step_checkpoints,
    markdown_table,
    plot_loss_curves,
    plot_metric_vs_step,
    read_loss_log,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_checkpoint_step_from_names(tmp_path):
    assert checkpoint_step("step_00001000.ckpt") == 1000
    assert checkpoint_step("model_cotracker_005000.pth") == 5000
    assert checkpoint_step("cotracker_final.pth") is None
    for name in ("step_00000200.ckpt", "step_00000010.ckpt", "final.pth", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert [s for s, _ in list_step_checkpoints(tmp_path)] == [10, 200]
    with pytest.raises(NotADirectoryError, match="does not exist"):
        list_step_checkpoints(tmp_path / "nope")


def test_markdown_tables():
    t = markdown_table([{"a": 1, "b": 0.5}, {"a": 2, "b": float("nan")}], ["a", "b"])
    assert t.splitlines() == ["| a | b |", "|---|---|", "| 1 | 0.5000 |", "| 2 | n/a |"]
    s = [{"dataset": "badja", "tracker": "lk", "num_videos": 2, "aggregate": {"pck_mask": 0.25}, "headline": {"pck_mask": 0.25}}]
    assert "| badja | lk | 2 | 0.2500 |" in comparison_table(s)


def test_read_jsonl_loss_log(tmp_path):
    log = tmp_path / "log.jsonl"
    recs = [{"step": 2, "kind": "train", "loss": 3.0, "loss_flow": 2.0, "lr": 1e-4},
            {"step": 1, "kind": "train", "loss": 4.0, "loss_flow": 2.5},
            {"step": 2, "kind": "val", "loss": 9.0},
            ]
    log.write_text("\n".join(json.dumps(r) for r in recs) + "\n{torn")
    series = read_loss_log(log)
    assert set(series) == {"loss", "loss_flow"}
    steps, values = series["loss"]
    np.testing.assert_array_equal(steps, [1, 2])
    np.testing.assert_array_equal(values, [4.0, 3.0])
    assert read_loss_log(tmp_path)["loss"][1].tolist() == [4.0, 3.0]  # the folder form
    (tmp_path / "empty.jsonl").write_text(json.dumps({"step": 1, "lr": 0.1}) + "\n")
    with pytest.raises(ValueError, match="no records with a 'step' and a numeric"):
        read_loss_log(tmp_path / "empty.jsonl")


def test_read_jsonl_loss_log_of_a_resumed_run(tmp_path):
    # the first run logged steps 1-3 and was stopped after its checkpoint at step 2; the resumed run
    # logs step 3 again (and 4): the curve keeps one point per step, the resumed run's
    recs = [{"step": s, "kind": "train", "loss": v} for s, v in [(1, 5.0), (2, 4.0), (3, 3.5), (3, 3.0), (4, 2.0)]]
    log = tmp_path / "log.jsonl"
    log.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    steps, values = read_loss_log(log)["loss"]
    np.testing.assert_array_equal(steps, [1, 2, 3, 4])
    np.testing.assert_array_equal(values, [5.0, 4.0, 3.0, 2.0])


def test_read_tensorboard_loss_log(tmp_path):
    tb = pytest.importorskip("torch.utils.tensorboard")
    w = tb.SummaryWriter(str(tmp_path / "tb"))
    for s in range(3):
        w.add_scalar("train/loss", 1.0 / (s + 1), s)
        w.add_scalar("train/lr", 0.1, s)
    w.close()
    series = read_loss_log(tmp_path / "tb")
    assert "train/loss" in series
    np.testing.assert_allclose(series["train/loss"][1], [1.0, 0.5, 1 / 3], rtol=1e-6)


def test_loss_plot_is_a_png(tmp_path):
    path = plot_loss_curves({"loss": (np.arange(10), np.linspace(2, 1, 10))}, tmp_path / "loss.png", smooth=3)
    assert path.read_bytes()[:8] == PNG_MAGIC
    with pytest.raises(ValueError, match="no loss series"):
        plot_loss_curves({}, tmp_path / "x.png")


def test_loss_terms_that_are_zero_throughout_are_named_not_drawn(tmp_path):
    steps = np.arange(4)
    series = {"loss": (steps, np.array([2.0, 1.5, 1.2, 1.0])), "loss_bone": (steps, np.zeros(4)),
              "loss_vis": (steps, np.array([0.0, 0.1, 0.0, 0.0]))}  # zero at some steps only: drawn
    drawn, left_out = drawn_loss_series(series)
    assert list(drawn) == ["loss", "loss_vis"] and left_out == ["loss_bone"]
    only_zero = {"loss_bone": (steps, np.zeros(4))}
    assert drawn_loss_series(only_zero) == (only_zero, [])  # nothing else to draw: keep it
    many = {f"run{i}/loss": (steps, np.linspace(2, 1, 4) + i) for i in range(8)}  # legend beside the axes
    assert plot_loss_curves({**many, **series}, tmp_path / "many.png").read_bytes()[:8] == PNG_MAGIC


def _png_width(path):
    return int.from_bytes(path.read_bytes()[16:20], "big")  # the IHDR chunk's width


def test_a_long_legend_goes_beside_the_axes(tmp_path):
    steps = np.arange(4)
    few = {f"run{i}/loss": (steps, np.linspace(2, 1, 4) + i) for i in range(2)}
    many = {f"run{i}/loss": (steps, np.linspace(2, 1, 4) + i) for i in range(LEGEND_INSIDE_MAX + 1)}
    assert _png_width(plot_loss_curves(many, tmp_path / "many.png")) > 1.1 * _png_width(
        plot_loss_curves(few, tmp_path / "few.png"))
    points = [{"step": s, "tracker": f"run{i}", "aggregate": {"average_jaccard": 0.1 * s + i}}
              for s in (100, 200) for i in range(LEGEND_INSIDE_MAX + 1)]
    assert _png_width(plot_metric_vs_step(points, ["average_jaccard"], tmp_path / "many_steps.png")) > 1.1 * _png_width(
        plot_metric_vs_step(points[:2], ["average_jaccard"], tmp_path / "few_steps.png"))


def _summary(folder, step, aj):
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps({
        "dataset": "synthetic", "tracker": f"step_{step}", "step": step, "num_videos": 1,
        "aggregate": {"average_jaccard": aj, "occlusion_accuracy": 0.9}, "headline": {"average_jaccard": aj},
    }))


def test_cli_report_from_results_and_log(tmp_path, capsys):
    _summary(tmp_path / "res" / "b", 200, 0.4)
    _summary(tmp_path / "res" / "a", 100, 0.3)
    log = tmp_path / "log.jsonl"
    log.write_text("\n".join(json.dumps({"step": s, "loss": 1.0 / (s + 1)}) for s in range(5)))
    out = tmp_path / "report"
    assert main(["report", "--results", str(tmp_path / "res"), "--log", str(log), "--out", str(out)]) == 0
    for name in ("accuracy_vs_step.png", "loss.png"):
        assert (out / name).read_bytes()[:8] == PNG_MAGIC
    csv_lines = (out / "accuracy_vs_step.csv").read_text().splitlines()
    assert csv_lines == ["step,average_jaccard", "100,0.3", "200,0.4"]
    assert "| synthetic | step_100 | 1 | 100 | 0.3000 |" in capsys.readouterr().out


def test_report_extends_an_earlier_reports_table(tmp_path, capsys):
    from cotracker.evaluation.report import read_step_table

    _summary(tmp_path / "old" / "a", 100, 0.3)
    _summary(tmp_path / "old" / "b", 200, 0.4)
    first = tmp_path / "first"
    assert main(["report", "--results", str(tmp_path / "old"), "--out", str(first)]) == 0
    rows = read_step_table(first / "accuracy_vs_step.md")
    assert [(r["step"], r["tracker"], r["num_videos"], r["aggregate"]) for r in rows] == [
        (100, "step_100", 1, {"average_jaccard": 0.3}), (200, "step_200", 1, {"average_jaccard": 0.4})]
    # the old folders are gone; the table and a new evaluation make the longer curve
    _summary(tmp_path / "new" / "c", 300, 0.5)
    _summary(tmp_path / "new" / "d", 200, 0.45)  # step 200 evaluated again: the later source wins
    second = tmp_path / "second"
    assert main(["report", "--results", str(first / "accuracy_vs_step.md"), str(tmp_path / "new"),
                 "--out", str(second)]) == 0
    csv_lines = (second / "accuracy_vs_step.csv").read_text().splitlines()
    assert csv_lines == ["step,average_jaccard", "100,0.3", "200,0.45", "300,0.5"]
    bad = tmp_path / "bad.md"
    bad.write_text("| a | b |\n|---|---|\n| 1 | 2 |\n")
    with pytest.raises(ValueError, match="expected the columns dataset"):
        read_step_table(bad)
    capsys.readouterr()


def test_cli_report_runs_the_evaluator_per_checkpoint(tmp_path, monkeypatch):
    import cotracker.evaluation as ev

    seen = []

    def fake_make_tracker(tracker, checkpoint, device="cpu", **kwargs):
        seen.append(checkpoint)
        return ev.StaticTracker()

    monkeypatch.setattr(ev, "make_tracker", fake_make_tracker)
    ck = tmp_path / "ckpts"
    ck.mkdir()
    for s in (20, 10):
        (ck / f"step_{s:08d}.ckpt").write_bytes(b"")
    out = tmp_path / "report"
    rc = main(["report", "--checkpoints", str(ck), "--dataset", "synthetic", "--max-videos", "1",
               "--no-progress", "--device", "cpu", "--out", str(out)])
    assert rc == 0
    assert [p.split("/")[-1] for p in seen] == ["step_00000010.ckpt", "step_00000020.ckpt"]
    assert (out / "accuracy_vs_step.png").is_file()
    assert (out / "evaluations" / "step_00000010" / "summary.json").is_file()


def test_cli_report_needs_an_input(tmp_path, capsys):
    assert main(["report", "--out", str(tmp_path)]) == 2
    assert "nothing to report" in capsys.readouterr().err


def test_missing_optional_dependencies_give_clear_errors(monkeypatch, tmp_path):
    import sys

    from cotracker.evaluation.baselines import LucasKanadeTracker

    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(ImportError, match="pip install opencv-python-headless"):
        LucasKanadeTracker()
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match="plots need matplotlib"):
        plot_loss_curves({"loss": (np.arange(3), np.ones(3))}, tmp_path / "x.png")


def test_two_runs_are_drawn_as_separate_lines(tmp_path, monkeypatch):
    """Summaries of two runs (different tracker labels) must not be joined into one curve."""
    from cotracker.evaluation import report

    drawn = []

    class _Ax:
        def plot(self, xs, ys, marker=None, label=None):
            drawn.append((label, list(xs), list(ys)))

        def __getattr__(self, name):
            return lambda *a, **k: None

    class _Plt:
        def subplots(self, figsize=None):
            return object(), _Ax()

        def close(self, fig):
            pass

    monkeypatch.setattr(report, "_pyplot", lambda: _Plt())
    monkeypatch.setattr(report, "_save_png", lambda fig, path: path)
    pts = [{"step": 200, "tracker": "a", "aggregate": {"m": 0.1}}, {"step": 400, "tracker": "a", "aggregate": {"m": 0.3}},
           {"step": 200, "tracker": "b", "aggregate": {"m": 0.2}}]
    report.plot_metric_vs_step(pts, ["m"], tmp_path / "x.png")
    assert sorted(drawn) == [("a: m", [200, 400], [0.1, 0.3]), ("b: m", [200], [0.2])]
    drawn.clear()
    report.plot_metric_vs_step(pts[:2], ["m"], tmp_path / "x.png")
    assert drawn == [("m", [200, 400], [0.1, 0.3])]
