"""Spectrograms of example noise of each family, for docs/DATA.md.

    .venv/bin/python scripts/plot_noise_families.py            # writes docs/figures/noise_families.png
    .venv/bin/python scripts/plot_noise_families.py --generic  # writes docs/figures/generic_family.png

With ``--generic`` the panels are consecutive draws of the generic family as training makes
them (each component with its configured probability), since what that family is for is
how much its examples differ.

Each synthetic panel has every component of its family switched on (levels and other
parameters still drawn from the config ranges), so that the figure shows what a family
can contain; training draws each component with its configured probability. The
frequency axis is logarithmic so that rumble, the 24/96 Hz buzz and hum are visible
beside the hiss.
"""
from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import scipy.signal  # noqa: E402
from PIL import Image  # noqa: E402

import audio_io  # noqa: E402
import degradations as dg  # noqa: E402

from paths import REPO_ROOT  # noqa: E402


def examples(seconds: float, sr: int, seed: int, recorded_dir: str | None) -> list[tuple[str, np.ndarray]]:
    """(title, noise) pairs: film 35 mm and 16 mm, gramophone, tape, film+tape, recorded."""
    n = int(seconds * sr)
    out = []
    film = dg.force_present(dg.load_noise_config("film")["film"])
    for gauge in ("35mm", "16mm"):
        params = dict(film, buzz=dict(film["buzz"], gauges={gauge: film["buzz"]["gauges"][gauge]}, level_db=[-12, -12]))
        perfs = film["buzz"]["gauges"][gauge]["perforations_per_frame"]
        x = dg.film_noise(n, sr, np.random.default_rng(seed), params)
        out.append((f"film, {gauge.replace('mm', ' mm')} ({24 * perfs} Hz perforation buzz)", x))
    gram = dg.force_present(dg.load_noise_config("gramophone")["gramophone"])
    # the recurring clicks at the loud, wide end of their ranges, so the 0.77 s period shows
    gram["clicks"] = dict(gram["clicks"], rpm=[78, 78], level_db=[35, 35], width_ms=[1.0, 2.0], persistence=[1, 1])
    x = dg.gramophone_noise(n, sr, np.random.default_rng(seed + 1), gram)
    out.append(("78 rpm gramophone (loud clicks recurring every 0.77 s)", x))
    tape = dg.force_present(dg.load_noise_config("tape")["tape"])
    out.append(("tape / cassette", dg.tape_noise(n, sr, np.random.default_rng(seed + 2), tape)))
    both = dict(dg.load_noise_config("synthetic"), family_weights={"film": 1.0, "tape": 1.0}, second_family_prob=1.0)
    source = dg.NoiseSource(both, sr)
    for s in range(seed, seed + 50):  # the first draw that starts with film
        x, label = source.sample(n, np.random.default_rng(s))
        if label == "film+tape":
            out.append(("film + tape (two families in one example)", x))
            break
    if recorded_dir:
        try:
            files, clips = dg.load_recorded_noise(recorded_dir, sr)
        except ValueError as exc:
            print(f"note: no recorded panel ({exc})", file=sys.stderr)
        else:
            pick = next((i for i, f in enumerate(files) if "vinyl" in f.name), 0)
            x = dg.loop_with_crossfade(clips[pick], n, min(sr // 2, clips[pick].size // 2))
            out.append((f"recorded: {files[pick].name}", x))
    return out


def generic_examples(seconds: float, sr: int, seed: int, count: int = 6) -> list[tuple[str, np.ndarray]]:
    """``count`` consecutive draws of the generic family, titled with what each contains."""
    n = int(seconds * sr)
    params = dg.load_noise_config("generic")["generic"]
    out = []
    for k in range(count):
        x = dg.generic_noise(n, sr, np.random.default_rng(seed + k), params)
        out.append((f"generic, seed {seed + k}", x))
    return out


def plot(panels: list[tuple[str, np.ndarray]], sr: int, path: Path, dpi: int) -> None:
    """One row per example: spectrogram with the model's frame (Hann 2048, hop 256) on the
    left, long-term spectrum with 2.7 Hz resolution (where the 24/96 Hz and hum lines
    separate) on the right; both on a log-frequency axis."""
    fig, axes = plt.subplots(
        len(panels), 2, figsize=(11, 2.1 * len(panels)), gridspec_kw={"width_ratios": [3.2, 1]}, squeeze=False,
        layout="constrained",
    )  # fmt: skip
    ticks = [20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000]
    labels = ["20", "50", "100", "200", "500", "1k", "2k", "5k", "10k", "20k"]
    image = None
    for (ax, ax_s), (title, x) in zip(axes, panels):
        f, t, s = scipy.signal.spectrogram(x, sr, window="hann", nperseg=2048, noverlap=2048 - 256, scaling="spectrum")
        db = 10 * np.log10(s + 1e-12)
        db -= db.max()
        keep = f >= 20
        image = ax.pcolormesh(t, f[keep], db[keep], vmin=-80, vmax=0, cmap="magma", shading="auto", rasterized=True)
        ax.set_yscale("log")
        ax.set_ylim(20, sr / 2)
        ax.set_yticks(ticks, labels)
        ax.set_ylabel("Hz")
        ax.set_title(title, fontsize=10, loc="left")
        fl, p = scipy.signal.welch(x, sr, nperseg=16384)
        pdb = 10 * np.log10(p + 1e-20)
        ax_s.semilogx(fl[1:], pdb[1:] - pdb.max(), lw=0.6, color="k")
        ax_s.set_xlim(10, sr / 2)
        ax_s.set_ylim(-90, 5)
        ax_s.set_xticks([10, 24, 96, 1000, 10000], ["10", "24", "96", "1k", "10k"])
        ax_s.grid(True, which="major", lw=0.3)
        ax_s.set_ylabel("dB")
    axes[-1, 0].set_xlabel("time (s)")
    axes[-1, 1].set_xlabel("Hz")
    axes[0, 1].set_title("long-term spectrum", fontsize=10)
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.3, pad=0.01, label="spectrogram dB (re. panel maximum)")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    # a 64-colour palette keeps the noisy textures small enough to commit
    img = Image.open(buf).convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    tmp, final = audio_io.atomic_output(path)
    try:
        img.save(tmp, format="PNG", optimize=True)
        final_mode = 0o644  # mkstemp makes 0600; a figure is for everyone to read
        tmp.chmod(final_mode)
        audio_io.commit_output(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="default docs/figures/noise_families.png (generic_family.png)")
    ap.add_argument("--generic", action="store_true", help="six draws of the generic family instead of the media families")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sample-rate", type=int, default=44100)
    ap.add_argument("--dpi", type=int, default=72)
    default_dir = dg.load_noise_config("mixed")["recorded_dirs"]
    ap.add_argument(
        "--recorded-dir", default=default_dir[0] if default_dir else None, help="folder of noise files for the last panel"
    )
    args = ap.parse_args(argv)
    figures = REPO_ROOT / "docs" / "figures"
    if args.generic:
        args.out = args.out or figures / "generic_family.png"
        panels = generic_examples(args.seconds, args.sample_rate, args.seed)
    else:
        args.out = args.out or figures / "noise_families.png"
        panels = examples(args.seconds, args.sample_rate, args.seed, args.recorded_dir)
    plot(panels, args.sample_rate, args.out, args.dpi)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
