"""How fast the noise is generated, in multiples of real time, on one CPU core.

    .venv/bin/python scripts/bench_degradations.py                 # 1.08 s examples (96 STFT frames)
    .venv/bin/python scripts/bench_degradations.py --seconds 10 --examples 30

Prints one line per noise config (``NoiseSource.sample`` with every component drawn as
configured, recorded noise included where the config has it) and one per family with
every component switched on (the slowest case), each the median of several timed rounds
so that other load on the machine counts less.
"""
from __future__ import annotations

import os

# one core: BLAS/FFT thread pools must be limited before numpy is imported
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import degradations as dg  # noqa: E402


def times_real_time(generate, num_samples: int, sample_rate: int, examples: int, rounds: int) -> float:
    """Median over ``rounds`` of (audio seconds generated) / (seconds spent)."""
    speeds = []
    for r in range(rounds):
        rng = np.random.default_rng(r)
        start = time.perf_counter()
        for _ in range(examples):
            generate(num_samples, rng)
        spent = time.perf_counter() - start
        speeds.append(examples * num_samples / sample_rate / spent)
    return statistics.median(speeds)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=47616 / 44100, help="length of one example (default 96 frames)")
    ap.add_argument("--examples", type=int, default=100, help="examples per timed round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--sample-rate", type=int, default=44100)
    ap.add_argument("--configs", nargs="*", default=["film", "gramophone", "tape", "synthetic", "mixed"])
    args = ap.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    sr = args.sample_rate
    n = int(round(args.seconds * sr))
    print(f"examples of {n} samples ({n / sr:.2f} s) at {sr} Hz, {args.examples} x {args.rounds} rounds, one core")
    for name in args.configs:
        try:
            cfg = dg.load_noise_config(name)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        start = time.perf_counter()
        try:
            source = dg.NoiseSource(cfg, sr)
        except ValueError as exc:
            print(f"error: noise={name}: {exc}", file=sys.stderr)
            return 2
        built = time.perf_counter() - start
        speed = times_real_time(lambda k, rng: source.sample(k, rng), n, sr, args.examples, args.rounds)
        extra = f"  (construction {built:.2f} s, {len(source.recorded_files)} recorded files)" if source.recorded_files else ""
        print(f"noise={name:<14} {speed:5.0f}x real time{extra}")
    for family in dg.FAMILIES:
        params = dg.force_present(dg.load_noise_config(family)[family])
        fn = dg.FAMILY_FUNCTIONS[family]
        speed = times_real_time(lambda k, rng: fn(k, sr, rng, params), n, sr, args.examples, args.rounds)
        print(f"{family + ', all on':<20} {speed:5.0f}x real time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
