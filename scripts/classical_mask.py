"""How far a conditioned model with the classical path goes towards spectral subtraction:
``python scripts/classical_mask.py CHECKPOINT AUDIO [--print NOISE_FILE] [--seconds S]``.

Prints the blend mask's mean, 90th percentile and largest value over the bins and frames of
AUDIO (its first ``--seconds``, mono, at the model's rate), told the noise power of
NOISE_FILE or, without one, the auto rule's estimate from AUDIO itself, and the mask's bias
logit. A mask near its starting value (sigmoid(-4) = 0.018) means the model barely uses the
path (docs/ARCHITECTURE.md, "The classical path"; docs/EXPERIMENTS.md, "gain1").
"""
from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def mask_figures(checkpoint: str, audio_path: str, print_path: str | None = None, seconds: float = 20.0) -> dict:
    """``{"mean", "p90", "max", "bias_logit"}`` of the blend mask on ``audio_path``."""
    import tensorflow as tf

    import audio_io
    import loading
    import noise_print
    import unet

    model, cfg = loading.load_model(checkpoint)
    probe = unet.classical_mask_model(model)
    rate, n_fft, hop = int(cfg["sample_rate"]), int(cfg["n_fft"]), int(cfg["hop_length"])
    audio, _ = audio_io.load_audio(audio_path, rate)
    audio = np.asarray(audio, np.float32)[: int(seconds * rate)]
    if print_path:
        heard, _ = audio_io.load_audio(print_path, rate)
        power = noise_print.noise_power(np.asarray(heard, np.float32), n_fft, hop, unet.print_statistics(cfg))
    else:
        power = noise_print.auto_noise_power(audio, n_fft, hop, statistics=unet.print_statistics(cfg))[0]
    spec = unet.WaveformDenoiser(model, cfg, transform="fft").analyse(tf.constant(audio[None]))
    mask = np.asarray(probe([spec, tf.constant(np.asarray(power, np.float32)[None])]))
    bias = float(model.get_layer("s2_blend").get_weights()[1][0]) * unet.BLEND_LOGIT_SCALE
    return {"mean": float(mask.mean()), "p90": float(np.percentile(mask, 90)), "max": float(mask.max()), "bias_logit": bias}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("audio")
    parser.add_argument("--print", dest="print_path", help="a noise-only recording (default: the auto estimate)")
    parser.add_argument("--seconds", type=float, default=20.0, help="how much of AUDIO to read (default 20)")
    args = parser.parse_args(argv)
    import unet

    try:
        f = mask_figures(args.checkpoint, args.audio, args.print_path, args.seconds)
    except (ValueError, OSError, unet.CheckpointError) as exc:
        print(f"classical_mask: {exc}", file=sys.stderr)
        return 1
    print(f"{args.checkpoint}: mask mean {f['mean']:.4f}, 90th percentile {f['p90']:.4f}, "
          f"largest {f['max']:.4f}; bias logit {f['bias_logit']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
