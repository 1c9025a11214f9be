"""Speed and memory of ``inference.py`` on long stereo programmes (a benchmark, not a test).

    .venv/bin/python scripts/bench_inference.py                    # 1 minute of stereo audio
    .venv/bin/python scripts/bench_inference.py --minutes 1 60     # also an hour (about 15+ min)
    .venv/bin/python scripts/bench_inference.py --precision bfloat16 --seam-check
    .venv/bin/python scripts/bench_inference.py --backends tensorflow onnxruntime --checkpoint models/default

Each case writes a synthetic stereo programme (tones, hiss, crackle; 16-bit WAV, 44.1 kHz)
into a temporary folder and runs the real command on it in a child process, with an
untrained model of ``--model-config`` (speed does not depend on the weights). Reported per
run: wall time, real-time factor (wall time / audio duration; below 1 is faster than real
time), the same without the fixed start-up cost (Python and TensorFlow import, model build,
graph tracing; measured on a 1-second file), CPU seconds (user + system, start-up removed)
per second of audio, which other jobs on the machine disturb less than wall time, and the
child's peak resident memory (from ``os.wait4``, so each run is measured alone). ``--seam-check`` also compares the default
segmentation with one-piece processing of 20 s (in this process). With several
``--backends`` the same files are restored by each (onnxruntime runs an export of the same
model, written first by export.py's ``export_model`` and not timed) and the outputs of the
first length are compared.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from paths import REPO_ROOT  # noqa: E402
SAMPLE_RATE = 44100


def write_programme(path: Path, seconds: float, channels: int, seed: int = 0) -> None:
    """A stereo programme with tones, hiss and crackle, written block by block."""
    rng = np.random.default_rng(seed)
    block = 10 * SAMPLE_RATE
    total = int(seconds * SAMPLE_RATE)
    with sf.SoundFile(str(path), "w", SAMPLE_RATE, channels, "PCM_16", format="WAV") as f:
        for start in range(0, total, block):
            n = min(block, total - start)
            t = (start + np.arange(n)) / SAMPLE_RATE
            tone = 0.2 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.3 * t))
            x = np.repeat(tone[:, None], channels, axis=1) + 0.02 * rng.standard_normal((n, channels))
            clicks = rng.random((n, channels)) < 2e-4
            x[clicks] += rng.uniform(-0.5, 0.5, clicks.sum())
            f.write(np.clip(x, -1, 1))


def run_inference(audio: Path, checkpoint: Path, extra: list[str]) -> tuple[float, float, float, int]:
    """Run the command on ``audio``; returns (wall seconds, CPU seconds, peak RSS in MB, exit status)."""
    cmd = [
        sys.executable,
        str(REPO_ROOT / "inference.py"),
        f"inference.audio={audio}",
        f"inference.checkpoint={checkpoint}",
        "inference.quiet=true",
        "inference.overwrite=true",
        *extra,
    ]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=audio.parent)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, usage.ru_maxrss / 1024.0, proc.returncode  # ru_maxrss is in KiB on Linux


def prepare_models(checkpoint: str | None, model_config: str, work: str, backends: list[str]) -> tuple[str, dict[str, str]]:
    """The model folder per backend: ``checkpoint``, or an untrained ``model_config`` saved in
    ``work``; for onnxruntime its export (export.py). Returns (a description, folders)."""
    import keras

    import unet

    if checkpoint:
        folder = Path(checkpoint).resolve()
        name = f"{folder} (trained)"
    else:
        import configs

        cfg = configs.group_config("model", model_config)  # a name in conf/model/
        keras.utils.set_random_seed(0)
        folder = unet.save_denoiser(unet.build_model(cfg), cfg, Path(work) / "model")
        name = f"{cfg.name} (conf/model/{model_config}.yaml, untrained)"
    folders = {"tensorflow": str(folder)}
    if "onnxruntime" in backends:
        import export

        export.export_model(folder, Path(work) / "export", ["onnx"], check_seconds=2.0)
        folders["onnxruntime"] = str(Path(work) / "export")
    return name, folders


def seam_check(checkpoint: Path, precision: str, segment_seconds: float, overlap_seconds: float) -> str:
    import inference

    model, cfg = inference.load_model(checkpoint, precision)
    rng = np.random.default_rng(1)
    t = np.arange(20 * SAMPLE_RATE) / SAMPLE_RATE
    x = (0.3 * np.sin(2 * np.pi * 330 * t) + 0.05 * rng.standard_normal(len(t))).astype(np.float32)
    whole = inference.denoise_array(model, cfg, x, SAMPLE_RATE, segment_seconds=30.0, overlap_seconds=1.0)
    seg = inference.denoise_array(model, cfg, x, SAMPLE_RATE, segment_seconds=segment_seconds, overlap_seconds=overlap_seconds)
    lines = [f"seam check (20 s, {segment_seconds:g} s segments / {overlap_seconds:g} s overlap vs one piece): " + _compare(x, seg, whole)]
    if precision != "float32":
        model32, _ = inference.load_model(checkpoint, "float32")
        ref = inference.denoise_array(model32, cfg, x, SAMPLE_RATE, segment_seconds=segment_seconds, overlap_seconds=overlap_seconds)
        lines.append(f"{precision} vs float32 (same 20 s): " + _compare(x, seg, ref))
    return "\n".join(lines)


def _compare(x: np.ndarray, y: np.ndarray, reference: np.ndarray) -> str:
    """How far ``y`` is from ``reference``, relative to the noise the reference removes."""
    noise, diff = x - reference, y - reference
    rms = lambda v: float(np.sqrt(np.mean(np.square(v, dtype=np.float64))))  # noqa: E731
    return (
        f"difference rms {100 * rms(diff) / rms(noise):.2f} % and max {100 * np.abs(diff).max() / np.abs(noise).max():.2f} % "
        f"of the estimated noise; max {20 * np.log10(max(np.abs(diff).max(), 1e-12)):.1f} dBFS"
    )


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def bench_backend(backend: str, folder: Path, run_extra: list[str], args: argparse.Namespace, work: Path,
                  kept: dict[str, np.ndarray]) -> int:  # fmt: skip
    """Print one backend's table (a 1 s start-up run, then each programme length); the first
    length's restored audio goes to ``kept[backend]``. Returns 1 when a run fails."""
    startup_file = work / "startup.wav"
    write_programme(startup_file, 1.0, args.channels)
    startup, startup_cpu, startup_rss, code = run_inference(startup_file, folder, run_extra)
    if code:
        print(f"error: the start-up run failed with exit status {code}", file=sys.stderr)
        return 1
    print(f"{backend}: start-up (1 s file): {startup:.1f} s wall, {startup_cpu:.1f} s CPU, peak RSS {startup_rss:.0f} MB")
    print("| backend | audio | wall time | real-time factor | RTF without start-up | CPU s per audio s | peak RSS |")
    print("|---|---|---|---|---|---|---|")
    for minutes in args.minutes:
        audio = work / f"programme_{minutes:g}min.wav"
        if not audio.exists():
            write_programme(audio, minutes * 60, args.channels)
        wall, cpu, rss, code = run_inference(audio, folder, run_extra)
        if code:
            print(f"error: the {minutes:g}-minute run failed with exit status {code}", file=sys.stderr)
            return 1
        seconds = minutes * 60
        denoised = work / f"programme_{minutes:g}min_denoised_s10.wav"
        out = sf.info(str(denoised))
        assert out.frames == int(seconds * SAMPLE_RATE) and out.channels == args.channels
        print(f"| {backend} | {minutes:g} min | {wall:.1f} s | {wall / seconds:.3f} | {(wall - startup) / seconds:.3f} "
              f"| {(cpu - startup_cpu) / seconds:.2f} | {rss:.0f} MB |", flush=True)  # fmt: skip
        if minutes == args.minutes[0]:
            kept[backend] = sf.read(str(denoised), dtype="float32")[0]
        for p in work.glob(f"programme_{minutes:g}min_*.wav"):
            p.unlink()  # an hour of stereo is 3 x 600 MB
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[1.0], help="programme lengths (default: 1)")
    ap.add_argument("--channels", type=int, default=2)
    ap.add_argument("--model-config", default="small", help="a model of conf/model/ (small, paper, tiny)")
    ap.add_argument("--precision", choices=["float32", "bfloat16"], default="float32")
    ap.add_argument("--backends", nargs="+", choices=["tensorflow", "onnxruntime"], default=["tensorflow"])
    ap.add_argument("--checkpoint", default=None, help="a trained model folder (default: an untrained --model-config)")
    ap.add_argument("--segment-seconds", type=float, default=None, help="default: configs.InferenceConfig")
    ap.add_argument("--overlap-seconds", type=float, default=None)
    ap.add_argument("--batch-segments", type=int, default=None, help="default: the command's (1 on a CPU)")
    ap.add_argument("--seam-check", action="store_true", help="also measure segment-boundary differences")
    ap.add_argument("--workdir", default=None, help="keep audio and outputs here (default: a temporary folder, removed)")
    args = ap.parse_args()

    import configs

    defaults = configs.InferenceConfig()
    seg = args.segment_seconds or float(defaults.segment_seconds)
    ov = args.overlap_seconds if args.overlap_seconds is not None else float(defaults.overlap_seconds)
    batch = args.batch_segments or defaults.batch_segments  # None: the command's own default
    extra = [f"inference.precision={args.precision}", f"inference.segment_seconds={seg}", f"inference.overlap_seconds={ov}"]
    if batch is not None:
        extra.append(f"inference.batch_segments={batch}")

    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="bench_inference_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        # in a fresh process: the children's peak RSS (os.wait4) counts the pages a fork copies,
        # so this process must never hold TensorFlow while it starts them
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            name, folders = pool.apply(prepare_models, (args.checkpoint, args.model_config, str(work), args.backends))
        folders = {k: Path(v) for k, v in folders.items()}
        checkpoint = folders["tensorflow"]
        print(f"# bench_inference: {cpu_name()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
        print(f"# model {name}, precision {args.precision}, "
              f"segments {seg:g} s / overlap {ov:g} s, batch {batch or 'default'}, {args.channels} channels 16-bit 44.1 kHz")  # fmt: skip
        kept: dict[str, np.ndarray] = {}
        for backend in args.backends:
            code = bench_backend(backend, folders[backend], extra + [f"inference.backend={backend}"], args, work, kept)
            if code:
                return code
        if len(kept) > 1:
            a, b = (kept[k] for k in args.backends[:2])
            print(f"{args.backends[1]} vs {args.backends[0]} ({args.minutes[0]:g} min, 16-bit outputs): "
                  f"max difference {np.abs(a - b).max():.2e} ({np.abs(a - b).max() * 32768:.1f} LSB)")
        if args.seam_check:
            print(seam_check(checkpoint, args.precision, seg, ov))
        print(f"# load average {os.getloadavg()[0]:.1f} at end")
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
