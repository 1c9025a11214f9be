"""Restore a file with one of the classical denoisers evaluate.py compares the model with.

    .venv/bin/python scripts/classical_denoise.py reel.wav                 # -> reel_lsa.wav
    .venv/bin/python scripts/classical_denoise.py reel.wav --method noisereduce_stationary -o out.wav

For a second opinion next to the model's: on real noise unlike the training noise the
Ephraim-Malah estimator (``lsa``, the default) did better than the shipped model
(docs/RESULTS.md), so on such material listen to both before choosing. Each channel is
restored on its own; the whole file is held in memory (about 50 MB per channel-hour of
float32 input, several times that while the STFT is computed). WAV and FLAC keep their
container and sample format, other inputs become WAV (as with inference.py). The output
is written atomically and never over the input; an existing output needs ``--overwrite``.
Errors are one line on stderr with exit status 1 (2 for bad arguments).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import audio_io  # noqa: E402
import baselines  # noqa: E402
from inference import CLIPPING_SUBTYPES, InferenceError, open_audio, output_format  # noqa: E402

METHODS = [name for name in baselines.BASELINES if name != "input"]


def restore(audio: np.ndarray, sample_rate: int, method: str) -> np.ndarray:
    """``audio`` [samples, channels] restored channel by channel with ``method``."""
    denoise = baselines.BASELINES[method]
    return np.stack([denoise(audio[:, c], sample_rate) for c in range(audio.shape[1])], axis=1)


def default_output(source: Path, method: str, extension: str) -> Path:
    """``<stem>_<method><extension>`` next to the input."""
    return source.with_name(f"{source.stem}_{method}{extension}")


def run(source: Path, output: Path | None, method: str, overwrite: bool) -> Path:
    """Restore ``source`` into ``output`` (or the default name); returns the path written."""
    with open_audio(source) as info:
        fmt = output_format(info)
    output = output or default_output(source, method, fmt.extension)
    if output.resolve() == source.resolve():
        raise audio_io.AudioError(f"{output}: is the input; choose another output")
    if output.exists() and not overwrite:
        raise audio_io.AudioError(f"{output}: exists; pass --overwrite to replace it")
    audio, sr = audio_io.load_audio(source, mono=False)
    if not np.all(np.isfinite(audio)):
        raise audio_io.AudioError(f"{source}: holds NaN or infinite samples")
    restored = restore(audio, sr, method)
    peak = float(np.abs(restored).max(initial=0.0))
    if fmt.subtype in CLIPPING_SUBTYPES and peak > 1.0:
        print(f"warning: {output}: peaks at {20 * np.log10(peak):+.1f} dBFS, clipped in {fmt.subtype}", file=sys.stderr)
    return audio_io.write_audio_atomic(output, restored, sr, subtype=fmt.subtype, format=fmt.format)


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
