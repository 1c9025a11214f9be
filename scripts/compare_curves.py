"""Compare training runs' validation curves at equal wall time (model size, recipes).

Each run is ``NAME=PATH`` to its ``metrics.csv``. The ``seconds`` column counts from the start
of each ``train.py`` call, so a run resumed later or unparked on another machine starts
counting again; its segments are joined here into cumulative hours (the time between a
segment's last validation and its stop is not counted: with ``train.max_seconds`` a run
validates when it stops). Prints, per metric, each run's value at a grid of equal wall times
(the last validation at or before each), the value where the curves stand at the common
budget (the shortest run's hours: the last validation and the mean of the last three), and
writes the curves side by side over hours and over steps.

    .venv/bin/python scripts/compare_curves.py --png docs/figures/size_curves.png \\
        small=/work/runs/size_small/metrics.csv 6m=/work/runs/size_6m/metrics.csv
"""
from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path

METRICS = ("val_si_sdr_i", "val_si_sdr_i_recorded", "val_si_sdr_i_synthetic", "val_si_sdr_i_high_snr")
# validations averaged for "where the curve stands": one validation moves by a few tenths of
# a dB from one epoch to the next on the fixed 48-item set
LAST_N = 3
# runs stopped by the same train.max_seconds validate up to one step after it (a few seconds
# apart): a validation this close after a time still counts as at it
TOLERANCE_HOURS = 60.0 / 3600.0


def read_curve(path: str | Path) -> list[dict[str, float]]:
    """The rows of a metrics.csv as floats (empty cells NaN), each with ``hours``: cumulative
    wall time over the run's segments. Raises ``ValueError`` for a file without rows or
    without the ``seconds`` or ``step`` columns."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{path}: no rows")
    for column in ("step", "seconds"):
        if column not in rows[0]:
            raise ValueError(f"{path}: no {column!r} column")
    curve, offset, previous = [], 0.0, 0.0
    for row in rows:
        values = {k: float(v) if v not in ("", None) else math.nan for k, v in row.items() if k}
        seconds = values["seconds"]
        if seconds < previous:  # a new segment (resume=true, or an unparked run)
            offset += previous
        previous = seconds
        values["hours"] = (offset + seconds) / 3600.0
        curve.append(values)
    return curve


def value_at(curve: list[dict[str, float]], hours: float, metric: str, last_n: int = 1) -> float:
    """The mean of ``metric`` over the last ``last_n`` validations at or before ``hours``
    (within :data:`TOLERANCE_HOURS`; NaN before the first one)."""
    seen = [row[metric] for row in curve if row["hours"] <= hours + TOLERANCE_HOURS and metric in row]
    seen = [v for v in seen if v == v]
    if not seen:
        return math.nan
    tail = seen[-last_n:]
    return sum(tail) / len(tail)


def step_at(curve: list[dict[str, float]], hours: float) -> int:
    """The step of the last validation at or before ``hours`` (0 before the first)."""
    steps = [row["step"] for row in curve if row["hours"] <= hours + TOLERANCE_HOURS]
    return int(steps[-1]) if steps else 0


def table(curves: dict[str, list[dict[str, float]]], metrics: tuple[str, ...] = METRICS, points: int = 6) -> str:
    """A markdown report: for each metric, each run's value at ``points`` equal wall times up
    to the common budget, then at the budget (last validation, mean of the last three)."""
    budget = min(curve[-1]["hours"] for curve in curves.values())
    grid = [budget * (i + 1) / points for i in range(points)]
    names = list(curves)
    lines = [f"common budget: {budget:.2f} h of wall time (the shortest run)", ""]
    lines.append("| run | steps at the budget | hours in all |")
    lines.append("|---|---|---|")
    for name in names:
        lines.append(f"| {name} | {step_at(curves[name], budget)} | {curves[name][-1]['hours']:.2f} |")
    for metric in metrics:
        lines += ["", f"**{metric}** (dB) at equal wall time", ""]
        lines.append("| hours | " + " | ".join(names) + " |")
        lines.append("|---" * (len(names) + 1) + "|")
        for h in grid:
            lines.append(f"| {h:.2f} | " + " | ".join(f"{value_at(curves[n], h, metric):.2f}" for n in names) + " |")
        lines.append(f"| at the budget, mean of the last {LAST_N} | "
                     + " | ".join(f"{value_at(curves[n], budget, metric, LAST_N):.2f}" for n in names) + " |")  # fmt: skip
    return "\n".join(lines)


def plot(curves: dict[str, list[dict[str, float]]], png_path: str, metrics: tuple[str, ...] = METRICS) -> None:
    """The curves side by side: each metric over wall hours (top) and over steps (bottom)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from audio_io import atomic_output, commit_output

    fig, axes = plt.subplots(2, len(metrics), figsize=(4.2 * len(metrics), 6.4), squeeze=False)
    for j, metric in enumerate(metrics):
        for name, curve in curves.items():
            for i, x in enumerate(("hours", "step")):
                axes[i][j].plot([r[x] for r in curve], [r.get(metric, math.nan) for r in curve], marker=".", label=name)
        axes[0][j].set(title=metric, xlabel="wall time (h)")
        axes[1][j].set(xlabel="step")
    for ax in axes.flat:
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    tmp, final = atomic_output(png_path)
    fig.savefig(tmp, dpi=90, format="png")
    commit_output(tmp, final)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", help="NAME=path/to/metrics.csv, two or more")
    parser.add_argument("--png", help="write the curves here")
    parser.add_argument("--points", type=int, default=6, help="equal wall times in the table")
    args = parser.parse_args(argv)
    curves = {}
    for spec in args.runs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            print(f"error: {spec!r}: expected NAME=path/to/metrics.csv", file=sys.stderr)
            return 2
        try:
            curves[name] = read_curve(path)
        except (OSError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    if len(curves) < 2:
        print("error: give two or more runs to compare", file=sys.stderr)
        return 2
    print(table(curves, points=args.points))
    if args.png:
        plot(curves, args.png)
        print(f"wrote {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
