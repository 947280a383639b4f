"""Writing evaluation results and drawing report plots.

* :func:`write_results` -- ``per_video.json``, ``summary.json``, ``summary.md``, ``summary.csv`` (atomic).
* :func:`load_summary`, :func:`markdown_table`, :func:`comparison_table` -- tables of one or several runs.
* :func:`checkpoint_step`, :func:`list_step_checkpoints` -- training step of a checkpoint from its name.
* :func:`read_loss_log` -- loss records from a JSONL log or TensorBoard event files.
* :func:`plot_metric_vs_step`, :func:`plot_loss_curves` -- PNG plots (matplotlib, Agg backend, imported lazily).
"""
from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import re
import textwrap
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence, Union

import numpy as np

from cotracker.io.atomic import atomic_path, atomic_write

__all__ = [
    "write_results",
    "result_to_dict",
    "load_summary",
    "markdown_table",
    "comparison_table",
    "checkpoint_step",
    "list_step_checkpoints",
    "read_loss_log",
    "plot_metric_vs_step",
    "plot_loss_curves",
    "iter_summaries",
    "CHECKPOINT_SUFFIXES",
]

logger = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]

CHECKPOINT_SUFFIXES = (".pth", ".pt", ".ckpt", ".safetensors")


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return x if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def result_to_dict(result) -> dict:
    """An :class:`~cotracker.evaluation.evaluator.EvalResult` as JSON-ready data (NaN -> null)."""
    return _plain({
        "format": "cotracker-eval/1",
        "dataset": result.dataset,
        "tracker": result.tracker,
        "step": result.step,
        "num_videos": len(result.per_video),
        "aggregate": result.aggregate,
        "headline": result.headline(),
        "config": result.config,
        "extra": result.extra,
    })


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.4f}"
    return str(v)


def markdown_table(rows: Sequence[dict], columns: Sequence[str]) -> str:
    """A Markdown table with one row per mapping in ``rows`` (missing cells are empty, NaN is ``n/a``)."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r[c]) if c in r else "" for c in columns) + " |")
    return "\n".join(lines) + "\n"


def _summary_markdown(result) -> str:
    head = result.headline()
    rest = [k for k in result.aggregate if k not in head]
    rows = [{"metric": k, "mean over videos": result.aggregate[k]} for k in list(head) + rest]
    title = f"# {result.dataset}: {result.tracker}\n\n"
    meta = f"{len(result.per_video)} videos, query protocol {result.config.get('query_protocol')}"
    if result.step is not None:
        meta += f", step {result.step}"
    return title + meta + "\n\n" + markdown_table(rows, ["metric", "mean over videos"])


def _summary_csv(result) -> str:
    keys = list(result.aggregate)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["video", "num_frames", "num_points", *keys])
    for r in result.per_video:
        w.writerow([r.name, r.num_frames, r.num_points, *[_csv_cell(r.metrics.get(k)) for k in keys]])
    w.writerow(["mean", "", "", *[_csv_cell(result.aggregate[k]) for k in keys]])
    return buf.getvalue()


def _csv_cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, (float, np.floating)):
        return "nan" if not math.isfinite(float(v)) else f"{float(v):.6g}"
    return str(v)


def write_results(result, out_dir: PathLike) -> dict[str, Path]:
    """Write a run's results into ``out_dir`` (created if needed), each file atomically.

    Files: ``per_video.json`` (a list of ``{name, num_frames, num_points, seconds, metrics}``),
    ``summary.json`` (:func:`result_to_dict`), ``summary.md`` (the aggregate table) and
    ``summary.csv`` (one row per video and a final ``mean`` row).

    Returns:
        file kind -> path.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    per_video = [
        _plain({"name": r.name, "num_frames": r.num_frames, "num_points": r.num_points, "seconds": r.seconds,
                "metrics": r.metrics})
        for r in result.per_video
    ]
    texts = {
        "per_video": ("per_video.json", json.dumps(per_video, indent=2) + "\n"),
        "summary": ("summary.json", json.dumps(result_to_dict(result), indent=2) + "\n"),
        "markdown": ("summary.md", _summary_markdown(result)),
        "csv": ("summary.csv", _summary_csv(result)),
    }
    paths = {}
    for kind, (name, text) in texts.items():
        with atomic_write(out / name) as f:
            f.write(text)
        paths[kind] = out / name
    return paths


def load_summary(path: PathLike) -> dict:
    """Read a ``summary.json`` (or the folder holding one)."""
    p = Path(path)
    if p.is_dir():
        p = p / "summary.json"
    if not p.is_file():
        raise FileNotFoundError(f"no evaluation summary at {p}; run `cotracker evaluate --out DIR` first")
    try:
        data = json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{p} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or "aggregate" not in data:
        raise ValueError(f"{p} is not an evaluation summary (no 'aggregate' field)")
    return data


def comparison_table(summaries: Sequence[dict], metrics: Optional[Sequence[str]] = None) -> str:
    """Markdown table comparing runs: one row per summary (dataset, tracker, step, then metrics)."""
    if not summaries:
        raise ValueError("comparison_table needs at least one summary")
    if metrics is None:
        metrics = []
        for s in summaries:
            for k in s.get("headline") or s["aggregate"]:
                if k not in metrics:
                    metrics.append(k)
    rows = []
    for s in summaries:
        row = {"dataset": s.get("dataset", ""), "tracker": s.get("tracker", ""), "videos": s.get("num_videos")}
        if s.get("step") is not None:
            row["step"] = s["step"]
        row.update({m: s["aggregate"].get(m) for m in metrics})
        rows.append(row)
    cols = ["dataset", "tracker", "videos"] + (["step"] if any("step" in r for r in rows) else []) + list(metrics)
    return markdown_table(rows, cols)


_STEP_PATTERNS = (re.compile(r"step[_-]?(\d+)", re.IGNORECASE), re.compile(r"(\d+)(?!.*\d)"))


def checkpoint_step(path: PathLike) -> Optional[int]:
    """The training step in a checkpoint file name (``step_00001000.ckpt`` -> 1000,
    ``model_cotracker_005000.pth`` -> 5000), or None when the name holds no number."""
    stem = Path(path).name
    for suffix in CHECKPOINT_SUFFIXES:
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    for pat in _STEP_PATTERNS:
        m = pat.search(stem)
        if m:
            return int(m.group(1))
    return None


def list_step_checkpoints(folder: PathLike) -> list[tuple[int, Path]]:
    """Checkpoint files of a folder with a step in their name, sorted by step (others are skipped with a warning)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"checkpoint folder {folder} does not exist or is not a folder")
    out = []
    for p in sorted(folder.iterdir()):
        if not p.is_file() or p.name.startswith(".") or p.suffix.lower() not in CHECKPOINT_SUFFIXES:
            continue
        step = checkpoint_step(p)
        if step is None:
            logger.warning("skipping %s: no training step in its name", p.name)
            continue
        out.append((step, p))
    if not out:
        raise FileNotFoundError(
            f"no checkpoints with a step in their name in {folder} (expected e.g. step_00001000.ckpt or model_x_001000.pth)"
        )
    return sorted(out, key=lambda sp: sp[0])


def _read_jsonl(path: Path) -> list[dict]:
    records = []
    for i, line in enumerate(path.read_text().splitlines()):
        line = line.strip()
        if not line:
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            logger.warning("%s:%d: skipping a malformed line", path, i + 1)
            continue
        if isinstance(rec, dict):
            records.append(rec)
    return records


def _read_csv_log(path: Path) -> list[dict]:
    out = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            rec = {}
            for k, v in row.items():
                try:
                    rec[k] = float(v)
                except (TypeError, ValueError):
                    rec[k] = v
            out.append(rec)
    return out


def _read_tensorboard(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: PLC0415
    except ImportError as exc:
        raise ImportError("reading TensorBoard event files needs the 'tensorboard' package: pip install tensorboard") from exc
    acc = EventAccumulator(str(path), size_guidance={"scalars": 0})
    acc.Reload()
    out = {}
    for tag in acc.Tags().get("scalars", []):
        ev = acc.Scalars(tag)
        out[tag] = (np.array([e.step for e in ev], np.int64), np.array([e.value for e in ev], np.float64))
    return out


def read_loss_log(path: PathLike, kind: Optional[str] = "train") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Loss curves from a training log.

    Args:
        path: a JSONL file of ``{"step": .., "loss": .., ...}`` records (``.jsonl``), a CSV with a
            ``step`` column, a TensorBoard event file, or a folder holding any of these (``log.jsonl``
            first, then event files).
        kind: for JSONL logs with a ``kind`` field, keep only these records (None keeps all).

    Returns:
        series name -> (steps (M,) int64, values (M,) float64), for every numeric field whose name
        contains "loss" (TensorBoard: every scalar tag containing "loss"), sorted by step. A step
        logged twice (a run stopped after its last checkpoint and resumed from it logs the steps in
        between again) keeps its last record in the file, the one of the run that continued.
    """
    p = Path(path)
    if p.is_dir():
        jsonl = sorted(p.glob("*.jsonl"))
        events = sorted(p.rglob("events.out.tfevents.*"))
        if jsonl:
            p = jsonl[0]
        elif events:
            return _read_tensorboard(events[0].parent)
        else:
            raise FileNotFoundError(f"no training log in {p}: expected a *.jsonl file or TensorBoard event files")
    if not p.is_file():
        raise FileNotFoundError(f"training log {p} not found")
    if p.name.startswith("events.out.tfevents."):
        series = _read_tensorboard(p.parent)
        return {k: v for k, v in series.items() if "loss" in k.lower()}
    records = _read_csv_log(p) if p.suffix.lower() == ".csv" else _read_jsonl(p)
    if kind is not None:
        records = [r for r in records if r.get("kind", kind) == kind]
    series: dict[str, dict[int, float]] = {}
    for r in records:
        step = r.get("step")
        if not isinstance(step, (int, float)) or isinstance(step, bool):
            continue
        for k, v in r.items():
            if "loss" in k.lower() and isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                series.setdefault(k, {})[int(step)] = float(v)  # a later record of the same step wins
    if not series:
        raise ValueError(f"{p}: no records with a 'step' and a numeric '*loss*' field")
    out = {}
    for k, by_step in series.items():
        steps = sorted(by_step)
        out[k] = (np.array(steps, np.int64), np.array([by_step[s] for s in steps], np.float64))
    return out


def _pyplot():
    try:
        import matplotlib  # noqa: PLC0415

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError as exc:
        raise ImportError("plots need matplotlib: pip install matplotlib (or the package's 'eval' extra)") from exc
    return plt


LEGEND_INSIDE_MAX = 6  # more legend entries than this go beside the axes instead of over the curves


def _legend(ax, entries: int, **kwargs) -> None:
    """Up to ``LEGEND_INSIDE_MAX`` entries inside the axes (``kwargs`` may choose where), more beside them, where
    they cannot hide a curve (the saved PNG grows to fit them)."""
    if entries > LEGEND_INSIDE_MAX:
        kwargs.update(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.legend(fontsize="small", **kwargs)


def _save_png(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    return path


def plot_metric_vs_step(
    points: Sequence[dict],
    metrics: Sequence[str],
    path: PathLike,
    title: str = "",
) -> Path:
    """Accuracy against training step: one line per metric, and per run when the summaries come from several
    (their ``tracker`` labels differ), so that two runs' curves are never joined into one line.

    Args:
        points: summaries (``{"step": int, "aggregate": {...}, "tracker": label}``), any order.
        metrics: aggregate keys to draw (missing or null values are skipped).
        path: output PNG.
        title: figure title.

    Returns:
        the PNG path.
    """
    pts = [s for s in points if s.get("step") is not None]
    if not pts:
        raise ValueError("no evaluation results with a training step to plot")
    pts.sort(key=lambda s: s["step"])
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    try:
        drawn = 0
        runs: dict = {}
        for s in pts:
            runs.setdefault(str(s.get("tracker") or ""), []).append(s)
        for run, run_pts in runs.items():
            for m in metrics:
                xs = [s["step"] for s in run_pts if s["aggregate"].get(m) is not None]
                ys = [s["aggregate"][m] for s in run_pts if s["aggregate"].get(m) is not None]
                if xs:
                    ax.plot(xs, ys, marker="o", label=f"{run}: {m}" if len(runs) > 1 else m)
                    drawn += 1
        if not drawn:
            raise ValueError(f"none of the metrics {list(metrics)} is present in the results")
        ax.set_xlabel("training step")
        ax.set_ylabel("metric (mean over videos)")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        _legend(ax, drawn, loc="lower right")  # accuracy rises with the step: the lower right stays empty
        return _save_png(fig, Path(path))
    finally:
        plt.close(fig)


def drawn_loss_series(series: dict[str, tuple[np.ndarray, np.ndarray]]
                      ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], list[str]]:
    """The series worth a line, and the names of those left out: a loss term that is exactly zero at
    every step (switched off in that run, e.g. the pose terms of a run without keypoints) is named in
    the plot's legend title instead of drawn as a flat line. If every series is zero, all are drawn."""
    zero = [k for k, (_, v) in series.items() if len(v) and not np.any(v)]
    if len(zero) == len(series):
        return dict(series), []
    return {k: sv for k, sv in series.items() if k not in zero}, zero


def plot_loss_curves(series: dict[str, tuple[np.ndarray, np.ndarray]], path: PathLike, title: str = "",
                     smooth: int = 1, log_y: bool = True) -> Path:
    """Loss against step, one line per series (optionally a running mean over ``smooth`` records).
    Series that are zero throughout are listed in the legend's title, not drawn (:func:`drawn_loss_series`)."""
    if not series:
        raise ValueError("no loss series to plot")
    if smooth < 1:
        raise ValueError(f"smooth must be >= 1, got {smooth}")
    series, zero = drawn_loss_series(series)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    try:
        for name, (steps, values) in series.items():
            if smooth > 1 and len(values) >= smooth:
                kernel = np.ones(smooth) / smooth
                values = np.convolve(values, kernel, mode="valid")
                steps = steps[smooth - 1:]
            ax.plot(steps, values, label=name, linewidth=1.2)
        if log_y and all((v > 0).all() for _, v in series.values()):
            ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_ylabel("loss")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        legend_title = textwrap.fill("zero throughout, not drawn: " + ", ".join(zero), 48) if zero else None
        _legend(ax, len(series), title=legend_title, title_fontsize="small")
        return _save_png(fig, Path(path))
    finally:
        plt.close(fig)


def read_step_table(path: PathLike) -> list[dict]:
    """The rows of an ``accuracy_vs_step.md`` that ``cotracker report`` wrote, as summaries (one per row).

    This extends a curve after the checkpoints and result folders it came from are gone: the table holds the
    numbers. Empty cells become missing metrics.
    """
    p = Path(path)
    lines = [ln.strip() for ln in p.read_text().splitlines() if ln.strip().startswith("|")]
    if len(lines) < 2:
        raise ValueError(f"{p} holds no Markdown table (expected the accuracy_vs_step.md of `cotracker report`)")

    def cells(line: str) -> list[str]:
        return [c.strip() for c in line.strip("|").split("|")]

    header = cells(lines[0])
    if header[:4] != ["dataset", "tracker", "videos", "step"]:
        raise ValueError(f"{p}: expected the columns dataset | tracker | videos | step | metrics..., got {header}")
    out = []
    for line in lines[2:]:
        row = dict(zip(header, cells(line)))
        try:
            aggregate = {m: float(row[m]) for m in header[4:] if row.get(m, "") not in ("", "n/a")}
            out.append({"dataset": row["dataset"], "tracker": row["tracker"], "num_videos": int(row["videos"]),
                        "step": int(row["step"]), "aggregate": aggregate, "headline": header[4:]})
        except (KeyError, ValueError) as exc:
            raise ValueError(f"{p}: cannot read the row {line!r} ({exc})") from None
    return out


def iter_summaries(folders: Iterable[PathLike]) -> list[dict]:
    """Every ``summary.json`` under the given folders (searched recursively); an ``.md`` file is read as the
    ``accuracy_vs_step.md`` table of an earlier report (:func:`read_step_table`)."""
    out = []
    for f in folders:
        f = Path(f)
        if f.is_file() and f.suffix == ".md":
            out += read_step_table(f)
            continue
        files = [f] if f.is_file() else sorted(f.rglob("summary.json"))
        for p in files:
            out.append(load_summary(p))
    if not out:
        raise FileNotFoundError(f"no summary.json found under {', '.join(str(f) for f in folders)}")
    return out
