"""Make the bundled example: a few seconds of CC BY 4.0 speech and orchestra under
synthetic optical-film noise (hiss, crackle, scratches, 96 Hz frame buzz, hum).

    .venv/bin/python scripts/make_example.py

Writes examples/film_reel_noisy.wav (and, with --clean, the clean reference beside it,
for checking; it is not committed). Deterministic: the same command gives the same file.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import audio_io
import dataset_loader
import degradations

SR = 44100
from paths import REPO_ROOT  # noqa: E402
CORPUS = REPO_ROOT.parent / "shared" / "corpus"
SOURCES = [  # (file, start s, length s): MTG sms-tools sounds, CC BY 4.0
    ("speech/smstools-speech-male.wav", 0.0, 4.0),
    ("music/smstools-orchestra.wav", 0.5, 3.0),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snr", type=float, default=12.0, help="SNR of the noise in dB")
    parser.add_argument("--clean", action="store_true", help="also write the clean reference")
    args = parser.parse_args()

    parts = []
    for name, start, length in SOURCES:
        audio, _ = audio_io.load_audio(CORPUS / name, sample_rate=SR)
        seg = audio[int(start * SR) : int((start + length) * SR)]
        fade = np.linspace(0, 1, int(0.05 * SR), dtype=np.float32)
        seg[: fade.size] *= fade
        seg[-fade.size :] *= fade[::-1]
        parts.append(0.5 * seg / np.abs(seg).max())
        parts.append(np.zeros(int(0.4 * SR), dtype=np.float32))
    clean = np.concatenate(parts[:-1]).astype(np.float32)

    rng = np.random.default_rng(78)
    source = degradations.NoiseSource(degradations.load_noise_config("film"), SR)
    noise, _ = source.sample(clean.size, rng)
    noisy, clean = dataset_loader.mix(clean, noise, args.snr, -3.0)
    peak = np.abs(noisy).max()
    if peak > 0.99:
        noisy, clean = noisy * 0.99 / peak, clean * 0.99 / peak
    out = REPO_ROOT / "examples" / "film_reel_noisy.wav"
    audio_io.write_audio_atomic(out, noisy, SR, subtype="PCM_16")
    if args.clean:
        audio_io.write_audio_atomic(out.with_name("film_reel_clean.wav"), clean, SR, subtype="PCM_16")
    print(f"wrote {out} ({noisy.size / SR:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
