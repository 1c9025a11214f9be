"""Constructed test signals shared by the metric and baseline tests."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SR = 44100


def tone_sequence(seconds: float = 3.0, sample_rate: int = SR, pitches: Sequence[float] = (220.0, 262.0, 330.0, 196.0)) -> np.ndarray:
    """Harmonic notes (8 partials, sin^2 envelope, 0.25 s) separated by 0.1 s pauses.

    Speech-like enough for PESQ's voice-activity detection; the pitches cycle in order.
    """
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    x = np.zeros_like(t)
    start, index, note = 0.0, 0, 0.25
    while start + note < seconds:
        mask = (t >= start) & (t < start + note)
        local = t[mask] - start
        f0 = pitches[index % len(pitches)]
        x[mask] += np.sin(np.pi * local / note) ** 2 * sum(0.6**k * np.sin(2 * np.pi * f0 * (k + 1) * local) for k in range(8))
        index += 1
        start += note + 0.1
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


def add_white_noise(clean: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    """``clean`` plus seeded white Gaussian noise at exactly ``snr_db``."""
    noise = np.random.default_rng(seed).standard_normal(clean.size)
    noise *= np.sqrt(np.sum(clean.astype(np.float64) ** 2) / np.sum(noise**2) / 10 ** (snr_db / 10))
    return (clean + noise).astype(np.float32)
