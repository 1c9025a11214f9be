"""Figures of restorations: spectrograms of the input, the restored programme and the residual.

Used by the web page (``app.py``) and the command line's plot (:func:`write_spectrogram_plot`,
of the opening a :class:`PlotCapture` kept while a file streamed through): mono float arrays
at one sample rate. It builds a
``matplotlib.figure.Figure`` without pyplot, so it holds no global state and can be called
from the web server's worker threads; the caller saves or closes nothing.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DEFAULT_TITLES = ("input", "restored", "residual (removed)")
# The colour scale spans this many dB below the loudest bin of all panels: deep enough to
# show hiss 60-80 dB down, shallow enough that the residual's quiet parts are not a flat floor.
DYNAMIC_RANGE_DB = 100.0


def _frame_length(sample_rate: int) -> int:
    """STFT length: about 46 ms at 44.1/48 kHz (the same resolution as the command line's plot)."""
    return 2048 if sample_rate > 32000 else 1024


def spectrogram_figure(
    signals: Sequence[np.ndarray],
    sample_rate: int,
    titles: Sequence[str] | None = None,
    title: str | None = None,
) -> Figure:
    """Stacked spectrograms of ``signals`` (mono float arrays at ``sample_rate``), one panel each.

    Power in dB on one colour scale for all panels (so the residual's level reads against
    the input's), a logarithmic frequency axis (hum and rumble at the bottom get room) and
    time in seconds, drawn with ``librosa.display.specshow``. ``titles`` name the panels
    (default: input, restored, residual); ``title`` is the figure's. Raises ``ValueError``
    for a non-positive rate, a panel count that does not match ``titles`` or a signal that
    is not one-dimensional.
    """
    import librosa
    import librosa.display

    if int(sample_rate) <= 0:
        raise ValueError(f"sample_rate: must be positive, got {sample_rate}")
    titles = list(titles) if titles is not None else list(DEFAULT_TITLES[: len(signals)])
    if not signals or len(titles) != len(signals):
        raise ValueError(f"signals and titles: expected one title per signal, got {len(signals)} signals, {len(titles)} titles")
    n_fft = _frame_length(int(sample_rate))
    hop = n_fft // 4
    magnitudes = []
    for i, sig in enumerate(signals):
        sig = np.asarray(sig, dtype=np.float32)
        if sig.ndim != 1:
            raise ValueError(f"signals[{i}]: expected a mono array [samples], got shape {sig.shape}")
        if len(sig) < n_fft:  # librosa needs one full frame; silence keeps the picture honest
            sig = np.pad(sig, (0, n_fft - len(sig)))
        magnitudes.append(np.abs(librosa.stft(sig, n_fft=n_fft, hop_length=hop, window="hann")))
    # one reference for all panels: each panel scaled to its own peak would make the
    # residual look as loud as the programme
    ref = max(float(m.max()) for m in magnitudes)
    specs = [librosa.amplitude_to_db(m, ref=ref if ref > 0 else 1.0, amin=1e-10, top_db=None) for m in magnitudes]
    vmax = 0.0
    vmin = vmax - DYNAMIC_RANGE_DB

    fig = Figure(figsize=(11, 2.6 * len(signals) + 0.8), constrained_layout=True)
    FigureCanvasAgg(fig)  # PNG rendering without pyplot's global figure manager
    axes = fig.subplots(len(signals), 1, sharex=True, squeeze=False)[:, 0]
    image = None
    for ax, spec, name in zip(axes, specs, titles):
        image = librosa.display.specshow(
            spec, sr=int(sample_rate), hop_length=hop, n_fft=n_fft, x_axis="time", y_axis="log",
            ax=ax, cmap="magma", vmin=vmin, vmax=vmax,
        )  # fmt: skip
        ax.set_title(name, loc="left")
        ax.set_ylabel("frequency (Hz)")
        ax.label_outer()  # the shared time axis is labelled once, at the bottom
    axes[-1].set_xlabel("time (s)")
    fig.colorbar(image, ax=list(axes), format="%+.0f dB", label="power re. loudest bin", shrink=0.8)
    if title:
        fig.suptitle(title)
    return fig


class PlotCapture:
    """Keeps the first ``frames`` of input, output and residual (mixed to mono) for the plot,
    as blocks stream past."""

    def __init__(self, frames: int) -> None:
        self.frames = frames
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.count = 0

    def add(self, x: np.ndarray, out: np.ndarray, res: np.ndarray) -> None:
        """Keep what of these ``[n, channels]`` blocks falls within the first ``frames``."""
        k = min(len(x), self.frames - self.count)
        if k > 0:
            self.parts.append((x[:k].mean(axis=1), out[:k].mean(axis=1), res[:k].mean(axis=1)))
            self.count += k

    def signals(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Input, output and residual as kept (one zero sample each if nothing was)."""
        if not self.parts:
            z = np.zeros(1)
            return z, z, z
        return tuple(np.concatenate([p[i] for p in self.parts]) for i in range(3))  # type: ignore[return-value]


def write_spectrogram_plot(path: Path, signals: tuple[np.ndarray, np.ndarray, np.ndarray], sample_rate: int, title: str) -> None:
    """Input, restored and residual spectrograms (dB, one colour scale) as a PNG at ``path``."""
    fig = spectrogram_figure([np.asarray(s, dtype=np.float32) for s in signals], sample_rate, title=title)
    fig.savefig(path, format="png", dpi=100)
