"""Benchmark the two-stage U-Net on this machine: size, forward and training-step speed, memory.

Every (model config, precision) pair runs in its own subprocess, so the global Keras
precision policy, the TensorFlow graph caches and the peak resident memory of one
measurement never leak into the next. The parent prints a markdown table.

    .venv/bin/python scripts/bench_model.py                       # tiny, small, paper x both precisions
    .venv/bin/python scripts/bench_model.py --configs small --precisions bfloat16

Timed work (inputs are random; speed does not depend on content):
- forward: STFT -> model (inference) -> inverse STFT of one 5 s mono clip (batch 1), as a
  tf.function; median of ``--forward-runs`` after one warm-up call (graph tracing).
- training step: STFT of noisy and clean waveforms, both stage outputs, MAE of each against
  the clean spectrogram, Adam update, as one tf.function; batch ``--batch`` x ``--frames``
  frames; median of ``--steps`` steps after ``--warmup`` warm-up steps.
- peak RSS: ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of the subprocess, read once after
  the forward runs and once at the end (training included).

If a training run fails or times out at ``--batch`` for a config listed in
``--fallback-batch-one`` (default: paper), it is repeated at batch 1 and the table says so.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from paths import REPO_ROOT  # noqa: E402
RESULT_PREFIX = "BENCH_RESULT "
SAMPLE_RATE = 44100


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else 0.5 * (ordered[mid - 1] + ordered[mid])


def _peak_rss_gb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # kB on Linux


def _time_forward(denoiser, args: argparse.Namespace, rng) -> dict:
    """Seconds per second of audio of the waveform model on one clip (median of the runs)."""
    import numpy as np
    import tensorflow as tf

    import stft

    n = int(round(args.forward_seconds * SAMPLE_RATE))
    clip = tf.constant(0.1 * rng.standard_normal((1, n)).astype(np.float32))

    @tf.function
    def restore(audio: tf.Tensor) -> tf.Tensor:
        return denoiser(audio, all_stages=False)["restored"]

    t0 = time.perf_counter()
    restore(clip).numpy()
    first = time.perf_counter() - t0
    times = []
    for _ in range(args.forward_runs):
        t0 = time.perf_counter()
        restore(clip).numpy()
        times.append(time.perf_counter() - t0)
    return {"forward_first_s": first, "forward_s": _median(times), "forward_rtf": _median(times) / args.forward_seconds,
            "forward_frames": stft.num_frames(n), "rss_forward_gb": _peak_rss_gb()}  # fmt: skip


def _time_training(denoiser, model, args: argparse.Namespace, rng) -> dict:
    """Seconds per Adam step (MAE on both stages, as the published loss) after the warm-up steps."""
    import keras
    import numpy as np
    import tensorflow as tf

    import stft

    batch, n = args.batch, stft.samples_for_frames(args.frames)
    clean = tf.constant(0.1 * rng.standard_normal((batch, n)).astype(np.float32))
    noisy = tf.constant(0.1 * rng.standard_normal((batch, n)).astype(np.float32)) + clean
    optimizer = keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9)

    @tf.function
    def train_step(noisy: tf.Tensor, clean: tf.Tensor) -> tf.Tensor:
        y = denoiser.analyse(clean)
        with tf.GradientTape() as tape:
            outputs = denoiser(noisy, training=True, all_stages=False)["spectrograms"]
            loss = tf.add_n([tf.reduce_mean(tf.abs(tf.cast(o, tf.float32) - y)) for o in outputs])
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    warm, times, losses = [], [], []
    for i in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        losses.append(float(train_step(noisy, clean)))
        (warm if i < args.warmup else times).append(time.perf_counter() - t0)
    record = {"train_batch": batch, "train_frames": args.frames, "train_samples": n, "train_warmup_s": warm,
              "train_step_s": _median(times), "train_steps_s": times,
              "train_s_per_audio_s": _median(times) / (batch * n / SAMPLE_RATE), "train_losses": losses,
              "train_loss_finite": bool(np.all(np.isfinite(losses)))}  # fmt: skip
    if not record["train_loss_finite"]:
        record["nonfinite_variables"] = [v.path for v in model.trainable_variables if not np.all(np.isfinite(v.numpy()))]
    return record


def run_worker(args: argparse.Namespace) -> dict:
    """Measure one (config, precision) pair in this process; returns the result record."""
    import keras
    import numpy as np
    import tensorflow as tf
    from omegaconf import OmegaConf

    import configs
    import precision
    import unet

    keras.mixed_precision.set_global_policy(precision.keras_policy(precision.resolve_precision(args.precision, "--precisions")))
    cfg = OmegaConf.to_container(configs.group_config("model", args.config))
    keras.utils.set_random_seed(0)
    model = unet.build_model(cfg)
    # the chain training and the TensorFlow restorer run: the model's STFT (tf.signal) and strides
    denoiser = unet.WaveformDenoiser(model, cfg, transform="fft")
    record: dict = {"config": args.config, "precision": args.precision, "params": int(model.count_params()),
                    "tf": tf.__version__, "keras": keras.__version__, "load_start": os.getloadavg()[0]}  # fmt: skip
    rng = np.random.default_rng(0)
    if not args.skip_forward:
        record.update(_time_forward(denoiser, args, rng))
    if not args.skip_train:
        record.update(_time_training(denoiser, model, args, rng))
    record["rss_peak_gb"] = _peak_rss_gb()
    record["load_end"] = os.getloadavg()[0]
    return record


def _spawn(args: argparse.Namespace, config: str, precision: str, batch: int, skip_forward: bool) -> dict:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        "--config", config,
        "--precision", precision,
        "--batch", str(batch),
        "--frames", str(args.frames),
        "--steps", str(args.steps),
        "--warmup", str(args.warmup),
        "--forward-seconds", str(args.forward_seconds),
        "--forward-runs", str(args.forward_runs),
    ]
    if skip_forward:
        cmd.append("--skip-forward")
    if args.skip_train:
        cmd.append("--skip-train")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO_ROOT)}
    started = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, env=env, cwd=REPO_ROOT)
    except subprocess.TimeoutExpired:
        return {"config": config, "precision": precision, "error": f"timed out after {args.timeout:.0f} s", "train_batch": batch}
    wall = time.perf_counter() - started
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            record = json.loads(line[len(RESULT_PREFIX):])
            record["wall_s"] = wall
            return record
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return {"config": config, "precision": precision, "error": f"exit {proc.returncode}: {tail}", "train_batch": batch}


def _fmt(value: float | None, spec: str, unit: str = "") -> str:
    return "—" if value is None else format(value, spec) + unit


def markdown_table(records: list[dict], args: argparse.Namespace) -> str:
    seconds = args.forward_seconds
    lines = [
        f"| model | params | precision | forward, 1 x {seconds:g} s: s per s of audio | "
        f"train step: batch x frames | train step (median) | train: s per s of audio | "
        f"peak RSS forward | peak RSS with training | notes |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        notes = list(r.get("notes", []))
        if "error" in r:
            notes.append(r["error"])
        if "load_start" in r:
            notes.append(f"load avg {r['load_start']:.1f}->{r['load_end']:.1f}")
        if r.get("train_loss_finite") is False:
            notes.append("NON-FINITE LOSS: " + ", ".join(f"{v:.3g}" for v in r["train_losses"]))
            notes.append(f"{len(r.get('nonfinite_variables', []))} non-finite variables after the steps")
        if "train_warmup_s" in r:
            notes.append("warm-up steps " + ", ".join(f"{w:.1f}" for w in r["train_warmup_s"]) + " s")
        train_shape = f"{r['train_batch']} x {r['train_frames']}" if "train_frames" in r else "—"
        params = f"{r['params']:,}" if "params" in r else "—"
        lines.append(
            f"| {r['config']} | {params} | {r['precision']} | {_fmt(r.get('forward_rtf'), '.3f')} | "
            f"{train_shape} | {_fmt(r.get('train_step_s'), '.2f', ' s')} | {_fmt(r.get('train_s_per_audio_s'), '.3f')} | "
            f"{_fmt(r.get('rss_forward_gb'), '.2f', ' GB')} | {_fmt(r.get('rss_peak_gb'), '.2f', ' GB')} | {'; '.join(notes)} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", nargs="+", default=["tiny", "small", "paper"], help="conf/model/<name>.yaml")
    parser.add_argument("--precisions", nargs="+", default=["float32", "bfloat16"])
    parser.add_argument("--batch", type=int, default=4, help="training batch size")
    parser.add_argument("--frames", type=int, default=96, help="training segment length in STFT frames")
    parser.add_argument("--steps", type=int, default=4, help="timed training steps")
    parser.add_argument("--warmup", type=int, default=2, help="untimed training steps first (tracing)")
    parser.add_argument("--forward-seconds", type=float, default=5.0)
    parser.add_argument("--forward-runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per subprocess")
    parser.add_argument("--fallback-batch-one", nargs="*", default=["paper"],
                        help="configs re-measured at training batch 1 if batch --batch fails or times out")
    parser.add_argument("--skip-train", action="store_true")
    # internal: one measurement in this process
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--precision", help=argparse.SUPPRESS)
    parser.add_argument("--skip-forward", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        print(RESULT_PREFIX + json.dumps(run_worker(args)), flush=True)
        return

    for name in args.configs:
        if not (REPO_ROOT / "conf" / "model" / f"{name}.yaml").is_file():
            parser.error(f"--configs: conf/model/{name}.yaml not found")
    records = []
    for config in args.configs:
        for precision in args.precisions:
            print(f"measuring {config} / {precision} ...", file=sys.stderr, flush=True)
            record = _spawn(args, config, precision, args.batch, skip_forward=False)
            if "error" in record and config in args.fallback_batch_one and args.batch > 1 and not args.skip_train:
                first_error = record["error"]
                print(f"  batch {args.batch} failed ({first_error}); retrying at batch 1", file=sys.stderr, flush=True)
                record = _spawn(args, config, precision, 1, skip_forward=False)
                record.setdefault("notes", []).append(f"batch {args.batch}: {first_error}; measured at batch 1")
            print(f"  {json.dumps(record)}", file=sys.stderr, flush=True)
            records.append(record)
    print(markdown_table(records, args))


if __name__ == "__main__":
    main()
