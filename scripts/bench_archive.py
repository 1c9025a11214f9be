"""Throughput and memory of archive restoration: plain ``inference.py`` against ``archive.py``
on 1 and 2 local workers, on the same files (a benchmark, not a test; it holds the CPU for
its whole run, so run it on an otherwise idle machine).

    .venv/bin/python scripts/bench_archive.py                              # 8 files x 1 min, workers 1 and 2
    .venv/bin/python scripts/bench_archive.py --files 16 --minutes 3 --workers 1 2 4
    .venv/bin/python scripts/bench_archive.py --checkpoint models/default --precision bfloat16

The script writes ``--files`` synthetic stereo programmes of ``--minutes`` each (tones, hiss,
clicks; 16-bit WAV, 44.1 kHz, as scripts/bench_inference.py writes them) into a temporary
folder, in two subfolders, and restores them with each method in a child process: the real
commands, with an untrained model of ``--model-config`` unless ``--checkpoint`` is given
(speed does not depend on the weights). Every run starts from an empty output folder, so
nothing is skipped. Reported per run:

* **audio h per wall h**: hours of audio restored per hour of wall-clock time, start-up
  (Python, TensorFlow, the model, Beam's workers) included, as an archive run sees it;
* **CPU s per audio s**: user + system seconds of the command and all its descendants
  (``os.wait4``) per second of audio;
* **peak RSS per worker**: the highest ``VmHWM`` of a Beam worker process (``/proc``, read
  every 0.2 s while the run lasts; for inference.py the process itself), and of the launcher.

The table is printed in Markdown, ready for docs/PERFORMANCE.md ("Archive restoration").
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

# a sibling script: Python puts the folder of the script it runs (scripts/) first on sys.path
from bench_inference import SAMPLE_RATE, cpu_name, prepare_models, write_programme

from paths import REPO_ROOT  # noqa: E402


@dataclass
class Measurement:
    """One run of one method."""

    method: str
    wall: float
    cpu: float
    status: int
    worker_peak_mb: float = 0.0
    launcher_peak_mb: float = 0.0
    workers_seen: int = 0
    restored: int | None = None
    notes: list[str] = field(default_factory=list)


def _children(pid: int) -> list[int]:
    """All descendants of ``pid`` (from /proc/<pid>/task/*/children)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    kids = [int(k) for k in f.read().split()]
                found += kids
                todo += kids
        except OSError:
            continue
    return found


def _peak_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _is_worker(pid: int) -> bool:
    """True for a Beam SDK worker (the local runner starts them with ``-m ...sdk_worker_main``)."""
    try:
        return b"sdk_worker_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def run_measured(method: str, cmd: list[str], cwd: Path) -> Measurement:
    """Run ``cmd``; wall time, CPU of it and its descendants, and the peak RSS of each process."""
    peaks: dict[int, tuple[int, bool]] = {}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    done = threading.Event()

    def watch() -> None:  # VmHWM disappears with the process: read it while the run lasts
        while not done.is_set():
            for pid in [proc.pid, *_children(proc.pid)]:
                kb = _peak_kb(pid)
                if kb:
                    seen = peaks.get(pid, (0, _is_worker(pid)))
                    peaks[pid] = (max(kb, seen[0]), seen[1])
            done.wait(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    out, err = proc.communicate()  # drains the pipes; the usage comes from wait4 below
    done.set()
    watcher.join()
    # communicate() reaped the child already; its rusage (children included) is in RUSAGE_CHILDREN
    m = Measurement(method, time.perf_counter() - start, 0.0, proc.returncode)
    workers = [kb for pid, (kb, worker) in peaks.items() if worker]
    m.worker_peak_mb = max(workers, default=peaks.get(proc.pid, (0, False))[0]) / 1024
    m.launcher_peak_mb = peaks.get(proc.pid, (0, False))[0] / 1024
    m.workers_seen = len(workers)
    if proc.returncode:
        m.notes.append(f"exit {proc.returncode}: {(err.strip().splitlines() or [''])[-1][:200]}")
    return m


def cpu_of_children() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=8, help="number of programmes (default 8)")
    ap.add_argument("--minutes", type=float, default=1.0, help="length of each (default 1)")
    ap.add_argument("--channels", type=int, default=2)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="archive.workers to measure (default 1 2)")
    ap.add_argument("--model-config", default="small", help="a model of conf/model/ (small, paper, tiny)")
    ap.add_argument("--checkpoint", default=None, help="a trained model folder instead of an untrained --model-config")
    ap.add_argument("--precision", default="float32", choices=["auto", "float32", "bfloat16"])
    ap.add_argument("--backend", default="tensorflow", choices=["tensorflow", "onnxruntime"],
                    help="inference.backend (default tensorflow; onnxruntime exports the model first, untimed)")
    ap.add_argument("--no-inference", action="store_true", help="skip the plain inference.py run")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (printed)")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-archive-"))
    try:
        model_name, folders = prepare_models(args.checkpoint, args.model_config, str(work), [args.backend])
        checkpoint = folders[args.backend]
        reels = work / "reels"
        for i in range(args.files):
            folder = reels / f"reel{i % 2 + 1}"
            folder.mkdir(parents=True, exist_ok=True)
            write_programme(folder / f"side{i:03d}.wav", args.minutes * 60, args.channels, seed=i)
        audio_seconds = args.files * args.minutes * 60
        common = [f"inference.checkpoint={checkpoint}", f"inference.precision={args.precision}", f"inference.backend={args.backend}",
                  "inference.quiet=true"]  # fmt: skip
        runs: list[tuple[str, list[str], Path | None]] = []
        if not args.no_inference:
            out = work / "out-inference"
            runs.append(("inference.py", [sys.executable, str(REPO_ROOT / "inference.py"), f"inference.audio={reels}",
                                          f"inference.output_dir={out}", *common], None))  # fmt: skip
        for n in args.workers:
            out = work / f"out-archive-{n}"
            runs.append((f"archive.py, {n} worker{'s' if n > 1 else ''}", [sys.executable, str(REPO_ROOT / "archive.py"),
                         f"archive.input={reels}", f"archive.output_dir={out}", f"archive.workers={n}", *common], out))  # fmt: skip
        results = []
        for method, cmd, out in runs:
            before = cpu_of_children()
            print(f"running {method} ...", file=sys.stderr, flush=True)
            m = run_measured(method, cmd, work)
            m.cpu = cpu_of_children() - before
            if out is not None and (out / "manifest.jsonl").exists():
                entries = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
                m.restored = sum(e["status"] == "restored" for e in entries)
            results.append(m)

        print(f"\n{args.files} files x {args.minutes:g} min, {args.channels} channels, 16-bit WAV at {SAMPLE_RATE} Hz "
              f"({audio_seconds / 3600:.2f} h of audio); model {model_name}; precision {args.precision}, backend {args.backend}")  # fmt: skip
        print(f"machine: {cpu_name()}, {os.cpu_count()} CPUs, {platform.system()}; load average at the end "
              f"{os.getloadavg()[0]:.1f}; measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")  # fmt: skip
        print("| method | wall time | audio h per wall h | CPU s per audio s | peak RSS per worker | launcher peak RSS | notes |")
        print("|---|---|---|---|---|---|---|")
        for m in results:
            notes = list(m.notes)
            if m.restored is not None:
                notes.append(f"{m.restored} restored, {m.workers_seen} worker processes seen")
            print(f"| {m.method} | {m.wall:.1f} s | {audio_seconds / m.wall:.2f} | {m.cpu / audio_seconds:.3f} | "
                  f"{m.worker_peak_mb:.0f} MB | {m.launcher_peak_mb:.0f} MB | {'; '.join(notes)} |")  # fmt: skip
        return 0 if all(m.status == 0 for m in results) else 1
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
