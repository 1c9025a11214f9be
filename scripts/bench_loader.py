"""Measure the data loader: start-up time and batches per second (docs/PERFORMANCE.md).

    .venv/bin/python scripts/bench_loader.py                       # default config
    .venv/bin/python scripts/bench_loader.py --batches 100 dset.cache_mb=0 dset.preload=true

Trailing ``key=value`` arguments are Hydra overrides of ``conf/conf.yaml``. Prints, for the
clean side alone (decode, resample, crop, silence redraws) and for the whole pipeline
(clean + ``degradations.NoiseSource`` + mixing, through tf.data): start-up time, batches
per second and CPU time per batch (what training loses to the loader); then the time to
build the validation set.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402

import configs  # noqa: E402,F401  (registers the schemas that conf/ names)
import dataset_loader  # noqa: E402
import paths  # noqa: E402
import stft  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """User + system CPU time of this process, all threads (what training loses to the loader)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def bench_clean(cfg, sample_rate: int, segment: int, batch_size: int, batches: int, seed: int) -> None:
    t0 = time.perf_counter()
    corpus = dataset_loader.CleanCorpus(cfg.dset, sample_rate, "train")
    startup = time.perf_counter() - t0
    print(f"clean only: {corpus!r}; start-up {startup:.2f} s (preload={corpus.preload}), "
          f"peak RSS {peak_rss_mb():.0f} MB")  # fmt: skip
    t0, c0 = time.perf_counter(), cpu_seconds()
    for index in range(batches * batch_size):
        rng = np.random.default_rng([seed, 0, index, 0])
        corpus.draw(dataset_loader.sample_category(corpus.weights, rng), segment, rng)
    elapsed, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    print(f"clean only: {batches} batches of {batch_size} in {elapsed:.2f} s = {batches / elapsed:.1f} batches/s, "
          f"{1000 * cpu / batches:.0f} ms CPU per batch (one thread; cache {corpus.cached_bytes / 2**20:.0f} MB), "
          f"peak RSS {peak_rss_mb():.0f} MB")  # fmt: skip


def bench_pipeline(cfg, sample_rate: int, segment: int, batch_size: int, batches: int, seed: int) -> None:
    t0 = time.perf_counter()
    ds = dataset_loader.make_train_dataset(cfg.dset, cfg.noise, sample_rate, segment, batch_size, seed)
    built = time.perf_counter() - t0
    it = iter(ds)
    next(it)
    first = time.perf_counter() - t0
    t1, c1 = time.perf_counter(), cpu_seconds()
    for _ in range(batches):
        noisy, clean = next(it)
    elapsed, cpu = time.perf_counter() - t1, cpu_seconds() - c1
    assert noisy.shape == (batch_size, segment)
    print(f"pipeline: built in {built:.2f} s, first batch after {first:.2f} s; {batches} batches of "
          f"{batch_size} x {segment} in {elapsed:.2f} s = {batches / elapsed:.1f} batches/s, "
          f"{1000 * cpu / batches:.0f} ms CPU per batch (num_parallel_calls={cfg.dset.get('num_parallel_calls')}), "
          f"peak RSS {peak_rss_mb():.0f} MB")  # fmt: skip


def bench_validation(cfg, sample_rate: int, seed: int) -> None:
    length = int(round(float(cfg.train.validation_seconds) * sample_rate))
    items = int(cfg.train.validation_items)
    t0 = time.perf_counter()
    val = dataset_loader.make_validation_set(cfg.dset, cfg.noise, sample_rate, length, items, seed)
    elapsed = time.perf_counter() - t0
    counts = {c: val["category"].count(c) for c in sorted(set(val["category"]))}
    print(f"validation set: {items} items of {length} samples built in {elapsed:.2f} s; categories {counts}; "
          f"SNRs {sorted(set(val['snr_db'].tolist()))}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=50, help="batches to time after the first")
    parser.add_argument("--part", choices=["clean", "pipeline", "validation", "all"], default="all")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. dset.cache_mb=0")
    args = parser.parse_args()
    with initialize_config_dir(config_dir=str(paths.REPO_ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="conf", overrides=args.overrides)
    sample_rate = int(cfg.model.sample_rate)
    n_fft, hop = int(cfg.model.n_fft), int(cfg.model.hop_length)
    segment = stft.samples_for_frames(int(cfg.train.segment_frames), n_fft, hop)
    batch_size, seed = int(cfg.batch_size), int(cfg.seed)
    print(f"{os.cpu_count()} CPUs; batch {batch_size} x {segment} samples at {sample_rate} Hz; "
          f"cache_mb={cfg.dset.cache_mb} preload={cfg.dset.preload}")  # fmt: skip
    if args.part in ("clean", "all"):
        bench_clean(cfg, sample_rate, segment, batch_size, args.batches, seed)
    if args.part in ("pipeline", "all"):
        bench_pipeline(cfg, sample_rate, segment, batch_size, args.batches, seed)
    if args.part in ("validation", "all"):
        bench_validation(cfg, sample_rate, seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
