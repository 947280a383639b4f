"""``cotracker report``: plots of accuracy against training step and loss curves, as PNG.

Heavy imports happen inside :func:`run`, so ``cotracker --help`` stays fast.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_parser", "run"]

DESCRIPTION = """\
Draw training reports into --out:
  accuracy_vs_step.png  benchmark metrics against training step, from
                          --checkpoints DIR (each checkpoint evaluated now on --dataset) and/or
                          --results DIR... (summary.json files written by `cotracker evaluate --step`)
  accuracy_vs_step.md/.csv  the same numbers as tables
  loss.png              loss curves from --log (a JSONL log of {"step", "loss", ...} records, a CSV
                          with a step column, or TensorBoard event files / their folder)
"""

EPILOG = """\
examples:
  cotracker report --log runs/exp1/log.jsonl --out report/
  cotracker report --checkpoints runs/exp1/checkpoints --dataset synthetic --out report/
  cotracker report --results eval/step_* --metric average_jaccard --out report/
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``report`` sub-command to ``subparsers`` and set its ``func``."""
    p = subparsers.add_parser(
        "report",
        help="plot accuracy against training step and loss curves (PNG)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the plots and tables")
    p.add_argument("--checkpoints", metavar="DIR", default=None, help="folder of checkpoints with the step in their names")
    p.add_argument("--dataset", default="synthetic", help="benchmark to evaluate checkpoints on (default synthetic)")
    p.add_argument("--data-root", metavar="PATH", default=None, help="the benchmark's data (see `cotracker evaluate`)")
    p.add_argument("--max-videos", type=int, default=None, metavar="N", help="evaluate only the first N videos per checkpoint")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="device of the models (default auto)")
    p.add_argument("--results", nargs="+", metavar="DIR", default=None,
                   help="folders (searched recursively) or summary.json files of earlier evaluations with a step, "
                        "or the accuracy_vs_step.md of an earlier report")
    p.add_argument("--metric", nargs="+", default=None,
                   help="metrics to plot (default: the dataset's headline metrics)")
    p.add_argument("--log", nargs="+", metavar="PATH", default=None, help="training log(s) for the loss curves")
    p.add_argument("--smooth", type=int, default=1, help="running mean over this many log records (default 1)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from cotracker.evaluation.report import (  # noqa: PLC0415
        comparison_table, iter_summaries, list_step_checkpoints, plot_loss_curves, plot_metric_vs_step,
        read_loss_log, result_to_dict, write_results,
    )

    if not (args.checkpoints or args.results or args.log):
        raise ValueError("nothing to report: give --checkpoints DIR, --results DIR... and/or --log PATH")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    summaries = []
    if args.checkpoints:
        from cotracker.api import resolve_device  # noqa: PLC0415
        from cotracker.evaluation import make_tracker  # noqa: PLC0415
        from cotracker.evaluation.evaluator import EvalConfig, evaluate  # noqa: PLC0415

        config = EvalConfig(dataset=args.dataset, data_root=args.data_root, max_videos=args.max_videos,
                            progress=not args.no_progress)
        device = resolve_device(args.device)
        for step, path in list_step_checkpoints(args.checkpoints):
            tracker = make_tracker(None, str(path), device=device, backward_tracking=args.dataset.endswith("_strided"))
            result = evaluate(tracker, config, tracker_name=path.name, step=step)
            write_results(result, out / "evaluations" / path.stem)
            summaries.append(result_to_dict(result))
    if args.results:
        summaries += iter_summaries(args.results)
    if summaries:
        # one point per (dataset, tracker, step): a later source (a fresh evaluation after an old table) wins
        unique = {(s.get("dataset"), s.get("tracker"), s["step"]): s for s in summaries if s.get("step") is not None}
        with_step = sorted(unique.values(), key=lambda s: s["step"])
        if not with_step:
            raise ValueError("none of the evaluation results carries a training step; pass --step to `cotracker evaluate`")
        metrics = args.metric or list(with_step[0].get("headline") or with_step[0]["aggregate"])[:3]
        written.append(plot_metric_vs_step(with_step, metrics, out / "accuracy_vs_step.png",
                                           title=f"{with_step[0].get('dataset', '')}"))
        from cotracker.io.atomic import atomic_write  # noqa: PLC0415

        table = comparison_table(with_step, metrics)
        with atomic_write(out / "accuracy_vs_step.md") as f:
            f.write(table)
        with atomic_write(out / "accuracy_vs_step.csv") as f:
            f.write("step," + ",".join(metrics) + "\n")
            for s in with_step:
                vals = ["" if s["aggregate"].get(m) is None else f"{s['aggregate'][m]:.6g}" for m in metrics]
                f.write(f"{s['step']}," + ",".join(vals) + "\n")
        written += [out / "accuracy_vs_step.md", out / "accuracy_vs_step.csv"]
        print(table, end="")
    if args.log:
        series = {}
        for log in args.log:
            for name, sv in read_loss_log(log).items():
                label = name if len(args.log) == 1 else f"{Path(log).parent.name or Path(log).stem}/{name}"
                series[label] = sv
        written.append(plot_loss_curves(series, out / "loss.png", smooth=args.smooth))
    print(f"wrote {', '.join(str(p) for p in written)}", file=sys.stderr)
    return 0
