"""Restore a file with one of the classical denoisers evaluate.py compares the model with.

    .venv/bin/python scripts/classical_denoise.py reel.wav                 # -> reel_lsa.wav
    .venv/bin/python scripts/classical_denoise.py reel.wav --method noisereduce_stationary -o out.wav

For a second opinion next to the model's: on real noise unlike the training noise the
Ephraim-Malah estimator (``lsa``, the default) did better than the shipped model
(docs/RESULTS.md), so on such material listen to both before choosing. Each channel is
restored on its own, in segments of a minute joined by 2 s crossfades (inference.py's
overlap-add), so memory stays bounded on a reel of any length; each segment estimates its
own noise, which also follows noise that drifts over a long reel. A file of a minute or less
is one segment, restored exactly as evaluate.py restores its items. WAV and FLAC keep their
container and sample format, other inputs become WAV (as with inference.py). The output
is written atomically and never over the input; an existing output needs ``--overwrite``.
Errors are one line on stderr with exit status 1 (2 for bad arguments).
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

import audio_io
import baselines
from audio_io import CLIPPING_SUBTYPES, checked_blocks, open_audio, output_format
from cli import InferenceError
from streaming import NoiseStream, SegmentPlan

METHODS = [name for name in baselines.BASELINES if name != "input"]
SEGMENT_SECONDS = 60.0  # each segment has its own noise estimate; longer ones cost memory
OVERLAP_SECONDS = 2.0
BLOCK_SECONDS = 10.0  # read and written at a time


def noise_function(method: str, sample_rate: int) -> Callable[[np.ndarray], np.ndarray]:
    """What ``method`` removes from each row of ``[items, samples]``: the overlap-add's noise."""
    denoise = baselines.BASELINES[method]

    def noise(items: np.ndarray) -> np.ndarray:
        return np.stack([item - denoise(item, sample_rate) for item in items])

    return noise


def restore_stream(reader: sf.SoundFile, writer: sf.SoundFile, source: Path, method: str,
                   segment_seconds: float = SEGMENT_SECONDS) -> float:  # fmt: skip
    """Restore ``reader`` (the file ``source``) into ``writer`` block by block; returns the
    output's peak."""
    sr, channels = reader.samplerate, reader.channels
    plan = SegmentPlan.from_seconds(segment_seconds, min(OVERLAP_SECONDS, segment_seconds / 2), sr, align=1)
    stream = NoiseStream(noise_function(method, sr), plan, sr, sr, channels, batch_items=channels)
    peak, frames_in = 0.0, 0

    def write(pairs: list[tuple[np.ndarray, np.ndarray]]) -> None:
        nonlocal peak
        for x, noise in pairs:
            out = x - noise.astype(np.float64)
            writer.write(out)
            peak = max(peak, float(np.abs(out).max(initial=0.0)))

    for x in checked_blocks(reader, source, max(1, int(BLOCK_SECONDS * sr))):
        frames_in += len(x)
        write(stream.push(x))
    if frames_in == 0:
        raise InferenceError(f"{source}: the file holds no samples")
    write(stream.close())
    return peak


def default_output(source: Path, method: str, extension: str) -> Path:
    """``<stem>_<method><extension>`` next to the input."""
    return source.with_name(f"{source.stem}_{method}{extension}")


def run(source: Path, output: Path | None, method: str, overwrite: bool, segment_seconds: float = SEGMENT_SECONDS) -> Path:
    """Restore ``source`` into ``output`` (or the default name); returns the path written."""
    with open_audio(source) as reader:
        fmt = output_format(reader)
        output = output or default_output(source, method, fmt.extension)
        if output.resolve() == source.resolve():
            raise audio_io.AudioError(f"{output}: is the input; choose another output")
        if output.exists() and not overwrite:
            raise audio_io.AudioError(f"{output}: exists; pass --overwrite to replace it")
        tmp, final = audio_io.atomic_output(output)
        try:
            with sf.SoundFile(str(tmp), "w", samplerate=reader.samplerate, channels=reader.channels,
                              subtype=fmt.subtype, format=fmt.format) as writer:  # fmt: skip
                peak = restore_stream(reader, writer, source, method, segment_seconds)
            audio_io.commit_output(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    if fmt.subtype in CLIPPING_SUBTYPES and peak > 1.0:
        print(f"warning: {output}: peaks at {audio_io.peak_dbfs(peak)}, clipped in {fmt.subtype}", file=sys.stderr)
    return final


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input", type=Path, help="the audio file to restore")
    parser.add_argument("-o", "--output", type=Path, default=None, help="default: <stem>_<method> next to the input")
    parser.add_argument("--method", choices=METHODS, default="lsa")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = parser.parse_args(argv)
    if not args.input.is_file():
        print(f"error: {args.input}: no such file", file=sys.stderr)
        return 2
    try:
        written = run(args.input, args.output, args.method, args.overwrite)
    except (audio_io.AudioError, InferenceError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{args.input} -> {written} ({args.method})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
