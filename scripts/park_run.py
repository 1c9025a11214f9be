"""Park a training run in the repository, or take a parked run up again (parking.py).

    .venv/bin/python scripts/park_run.py park /work/runs/mine             # -> parked_runs/mine, commit it
    .venv/bin/python scripts/park_run.py unpark parked_runs/mine --experiments-root /work/runs

``park`` keeps the last checkpoint's weights, the settings and the metrics (under 5 MB;
``--dest`` parks elsewhere). A run started from a saved model (``train.init_from``) is parked
as its difference from that model (``--reference``, default ``auto``; ``none`` keeps the
float32 weights whole). ``unpark`` rebuilds the experiment folder and prints the
train.py command that continues the run. docs/TRAINING.md, "Runs that outlast one machine".
"""
from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # as train.py: unpark builds the trainer

from cli import print_error  # noqa: E402
from paths import repo_path  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("park", help="park an experiment folder")
    p.add_argument("experiment_dir")
    p.add_argument("--dest", default="parked_runs", help="where parked runs live (default: parked_runs)")
    p.add_argument("--limit-mb", type=float, default=None, help="size limit of the parked run (default 5)")
    p.add_argument("--reference", default="auto",
                   help="model folder to park the weights as a difference from: auto (the run's train.init_from), "
                        "none (whole float32 weights), or a folder")  # fmt: skip
    u = sub.add_parser("unpark", help="rebuild a parked run's experiment folder")
    u.add_argument("parked_dir")
    u.add_argument("--experiments-root", default="experiments", help="as train.py's experiments_root")
    args = parser.parse_args(argv)
    import parking

    try:  # what needs no TensorFlow is refused before its import (several seconds)
        if args.command == "park":
            parking.check_park(repo_path(args.experiment_dir))
        else:
            parking.check_unpark(repo_path(args.parked_dir), args.experiments_root)
    except parking.ParkingError as exc:
        print_error(exc)
        return 2

    from cli import native_stderr_silenced

    with native_stderr_silenced():  # TF's C++ start-up lines, as train.py keeps them out
        import tensorflow  # noqa: F401
    from unet import CheckpointError

    try:
        if args.command == "park":
            limit = parking.LIMIT_MB if args.limit_mb is None else args.limit_mb
            folder = parking.park(repo_path(args.experiment_dir), repo_path(args.dest), limit, reference=args.reference)
            info = parking.read_parked(folder)
            weights = info["weights"]
            how = (f", as a difference from {weights['reference']} (largest error {weights['max_error']:.1e})"
                   if weights["format"] == "float16_delta" else "")  # fmt: skip
            print(f"parked step {info['step']} of {info['experiment']} in {folder} ({parking.folder_mb(folder):.1f} MB{how})")
        else:
            exp_dir, command = parking.unpark(repo_path(args.parked_dir), args.experiments_root)
            print(f"unparked into {exp_dir}")
            print(f"continue with: {command}" if command else
                  "continue with: python train.py <the run's overrides> "
                  f"experiment={exp_dir.name} experiments_root={args.experiments_root} resume=true")  # fmt: skip
    except (parking.ParkingError, CheckpointError, ValueError, OSError) as exc:
        print_error(exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
