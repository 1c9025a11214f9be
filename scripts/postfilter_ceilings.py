"""Where a conditioned model told a print leaves its error: Wiener filters with each power known
or estimated. ``python scripts/postfilter_ceilings.py CHECKPOINT [evaluate overrides ...]``.

Builds evaluate.py's test set (its overrides select it; the print cut beside each item's noise,
``evaluate.print_seconds``), restores each item with the conditioned ``CHECKPOINT`` told the
print (no classical share, no post-filter), and filters the noisy input with
``G = P / (P + N)`` for each pair of programme power ``P`` (the restoration's or the clean
programme's, averaged over 5 frames) and noise power ``N`` (the print's, or the true noise's),
the post-filter's form (``baselines.wiener_postfilter``). Prints the mean SI-SDR improvement of
each, and of the restoration, LSA given the print and the restoration post-filtered as the
restorer does it (at twice the model's window and hop), its gain applied to each of
``INPUT_SHARES`` of the noisy input (the rest the restoration). The filters of the pairs are at
the model's window and hop.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import scipy.ndimage  # noqa: E402
import scipy.signal  # noqa: E402

FRAMES = 5
# the post-filter's gain applied to this share of the noisy input, the rest the restoration
# (the restorer's own: baselines.POSTFILTER_INPUT_SHARE, 1)
INPUT_SHARES = (1.0, 0.75, 0.5, 0.0)


def _stft(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    return scipy.signal.stft(x, window="hamming", nperseg=n_fft, noverlap=n_fft - hop)[2]


def _filtered(noisy: np.ndarray, gain: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    spec = _stft(noisy, n_fft, hop)
    return scipy.signal.istft(spec * gain, window="hamming", nperseg=n_fft, noverlap=n_fft - hop)[1][: len(noisy)]


def ceilings(noisy: np.ndarray, clean: np.ndarray, restored: np.ndarray, print_power: np.ndarray,
             n_fft: int, hop: int) -> dict[str, np.ndarray]:  # fmt: skip
    """The filtered inputs of each (programme power, noise power) pair, by name."""
    window = scipy.signal.get_window("hamming", n_fft)
    smooth = lambda p: scipy.ndimage.uniform_filter1d(p, FRAMES, axis=1, mode="nearest")  # noqa: E731
    model_p = smooth(np.abs(_stft(restored, n_fft, hop)) ** 2)
    clean_p = np.abs(_stft(clean, n_fft, hop)) ** 2
    noise_p = np.abs(_stft(noisy - clean, n_fft, hop)) ** 2
    heard = print_power.astype(np.float64)[:, None] / window.sum() ** 2  # the plain rfft's units -> scipy's
    tiny = np.finfo(np.float64).tiny
    pairs = {
        "restoration (5 frames) / print x 1.5": (model_p, 1.5 * heard),
        "restoration (5 frames) / true noise (5 frames)": (model_p, smooth(noise_p)),
        "clean programme (5 frames) / print": (smooth(clean_p), heard),
        "clean programme (5 frames) / true noise (5 frames)": (smooth(clean_p), smooth(noise_p)),
        "clean programme / true noise (the oracle Wiener mask)": (clean_p, noise_p),
    }
    return {name: _filtered(noisy, p / np.maximum(p + n, tiny), n_fft, hop) for name, (p, n) in pairs.items()}


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit(__doc__.splitlines()[1].strip())
    from hydra import compose, initialize_config_dir

    import baselines
    import evaluate
    import inference
    import metrics
    import noise_print

    root = Path(__file__).resolve().parents[1]
    with initialize_config_dir(config_dir=str(root / "conf"), version_base=None):
        cfg = compose(config_name="conf", overrides=sys.argv[2:])
    model, mcfg = inference.load_model(sys.argv[1])
    rate, n_fft, hop = int(mcfg["sample_rate"]), int(mcfg["n_fft"]), int(mcfg["hop_length"])
    restorer = inference.Restorer(model, mcfg, 1.0, batch_segments=1, classical_blend=0.0, postfilter=0.0)
    scores: dict[str, list[float]] = {}
    items = evaluate.build_test_set(cfg, rate)
    for item in items:
        noisy, clean, heard = (np.asarray(item[k], np.float64) for k in ("noisy", "clean", "print"))
        restorer.set_noise_print(heard.astype(np.float32), rate)
        restored = np.asarray(restorer.denoise_array(noisy.astype(np.float32), rate), np.float64)
        power = noise_print.noise_power(heard, n_fft, hop)
        # the restorer's post-filter, at its own resolution (twice the model's window and hop)
        filter_stft = (baselines.POSTFILTER_RESOLUTION * n_fft, baselines.POSTFILTER_RESOLUTION * hop)
        filter_power = noise_print.noise_power(heard, *filter_stft)
        outputs = {"the restoration": restored,
                   "LSA given the print": baselines.ephraim_malah_lsa(noisy, rate, noise_print=heard),
                   **{f"the restoration post-filtered (baselines.wiener_postfilter), input share {share:g}":
                          baselines.wiener_postfilter(noisy, restored, filter_power, *filter_stft, input_share=share)
                      for share in INPUT_SHARES},
                   **ceilings(noisy, clean, restored, power, n_fft, hop)}  # fmt: skip
        before = metrics.si_sdr(noisy, clean)
        for name, out in outputs.items():
            scores.setdefault(name, []).append(metrics.si_sdr(np.asarray(out, np.float64), clean) - before)
    print(f"{len(items)} items; {sys.argv[1]}; SI-SDR improvement, dB")
    print("| system (programme power / noise power) | SI-SDRi |")
    print("|---|---|")
    for name, values in scores.items():
        print(f"| {name} | {np.mean(values):.2f} |")


if __name__ == "__main__":
    main()
