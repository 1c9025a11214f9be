"""Auto's print through the Wiener post-filter, gated by what the model took out: a probe.
``python scripts/auto_postfilter_gate.py CHECKPOINT AUTO_MODEL CSV [evaluate overrides ...]``.

Builds evaluate.py's test set (its overrides select it; reels: ``evaluate.reel=true``) and
restores each item as ``inference.noise_print=auto`` with ``inference.auto_models=[AUTO_MODEL]``
restores a file (the held-out check on; ``loading.auto_told``): the conditioned ``CHECKPOINT``
told auto's print where the check passes it, half of the restoration the mean of the auto
models' without a print (``loading.AUTO_MODELS_SHARE``; they alone where auto's print was too
short for the check). Where auto's print was used, it also filters with the restorer's Wiener
post-filter (``baselines.wiener_postfilter`` at ``POSTFILTER_RESOLUTION`` times the model's
window and hop, told auto's print), its gain on a share of the noisy input (the rest the
restoration filtered):
- ``cond_pf_a``: the conditioned model's restoration alone, filtered (the auto models left out);
- ``mean_pf_a``: the default restoration (with the auto models' half), filtered.

The gate is what the model took out over auto's print's power, ``10 log10(mean((x -
restoration)^2) / mean(print^2))`` (dB, ``loading.residual_over_print_db``; measured here on
the whole item, by the restorer segment by segment): near 0 or below where the model took out
about what the print says is noise or less (noise it does not know: the filter takes out what it left); far above where the
quietest passages understate the noise (impulsive or modulated noise, which the model knows: a
filter told too little noise gives back what the model removed). Writes one row per item and
system (``default``, ``shipped`` = the auto models' mean alone, ``cond`` = the conditioned
model alone as told, and the filtered ones where auto's print was used) with the gate, and
prints the mean change over ``default`` where the gate is under each of ``THRESHOLDS_DB``.
Measured in docs/EXPERIMENTS.md, "2026-11-27: auto's print through the post-filter, gated by the
model's residual".
"""
from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

INPUT_SHARES = (1.0, 0.5, 0.0)
THRESHOLDS_DB = (0.0, 1.0, 2.0, 3.0, 4.0, float("inf"))


def main() -> None:
    if len(sys.argv) < 4:
        raise SystemExit(__doc__.splitlines()[1].strip())
    from hydra import compose, initialize_config_dir

    import baselines
    import evaluate
    import inference
    import loading
    import metrics
    import noise_print

    checkpoint, auto_model, out = sys.argv[1:4]
    root = Path(__file__).resolve().parents[1]
    with initialize_config_dir(config_dir=str(root / "conf"), version_base=None):
        cfg = compose(config_name="conf", overrides=sys.argv[4:])
    model, mcfg = inference.load_model(checkpoint)
    beside, bcfg = inference.load_model(auto_model)
    rate, n_fft, hop = int(mcfg["sample_rate"]), int(mcfg["n_fft"]), int(mcfg["hop_length"])
    # the model's own restoration: the restorer's post-filter (gated on auto's print) off
    conditioned = inference.Restorer(model, mcfg, 1.0, batch_segments=1, postfilter=0.0)
    untold = inference.Restorer(beside, bcfg, 1.0, batch_segments=1)
    f_fft, f_hop = baselines.POSTFILTER_RESOLUTION * n_fft, baselines.POSTFILTER_RESOLUTION * hop
    changes: dict[tuple[str, float], list[float]] = {}
    with open(out, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["item", "category", "family", "snr_db", "print_seconds", "used", "gate_db", "system", "si_sdr_i"])
        items = evaluate.build_test_set(cfg, rate)
        for i, item in enumerate(items):
            noisy, clean = item["noisy"].astype(np.float32), item["clean"].astype(np.float64)
            told = loading.auto_told(conditioned, noisy, True, False, Path("item"))[0]
            conditioned.tell(told)
            cond = np.asarray(conditioned.denoise_array(noisy, rate), np.float64)
            shipped = np.asarray(untold.denoise_array(noisy, rate), np.float64)
            share = 0.0 if told.unchecked else loading.AUTO_MODELS_SHARE
            default = share * cond + (1.0 - share) * shipped
            heard = noise_print.auto_print(noisy, rate, n_fft, hop)[0]
            used = told.power is not None and not told.unchecked
            print_power = float(np.mean(np.square(heard, dtype=np.float64)))
            gate = loading.residual_over_print_db(noisy, cond, print_power) if used else float("nan")
            outputs = {"default": default, "shipped": shipped, "cond": cond}
            if used:
                power = noise_print.noise_power(heard, f_fft, f_hop)
                for a in INPUT_SHARES:
                    outputs[f"cond_pf_{a:g}"] = baselines.wiener_postfilter(noisy, cond, power, f_fft, f_hop, input_share=a)
                    outputs[f"mean_pf_{a:g}"] = baselines.wiener_postfilter(noisy, default, power, f_fft, f_hop, input_share=a)
            before = metrics.si_sdr(noisy.astype(np.float64), clean)
            scores = {k: metrics.si_sdr(np.asarray(v, np.float64), clean) - before for k, v in outputs.items()}
            for name, score in scores.items():
                writer.writerow([i, item["category"], item["family"], item["snr_db"], round(len(heard) / rate, 2), int(used),
                                 round(gate, 3), name, round(score, 4)])  # fmt: skip
            for name in (k for k in scores if "_pf_" in k or k == "default"):
                for t in THRESHOLDS_DB:
                    fired = used and gate < t
                    changes.setdefault((name, t), []).append(scores[name] - scores["default"] if fired else 0.0)
            handle.flush()
    print(f"{len(items)} items; {checkpoint} with {auto_model} beside; mean SI-SDRi change over the default auto path, dB, "
          "where the gate is under each threshold")  # fmt: skip
    print("| system | " + " | ".join(f"gate < {t:g} dB" for t in THRESHOLDS_DB) + " |")
    print("|---|" + "---|" * len(THRESHOLDS_DB))
    for name in sorted({k for k, _ in changes if k != "default"}):
        print(f"| {name} | " + " | ".join(f"{np.mean(changes[(name, t)]):+.2f}" for t in THRESHOLDS_DB) + " |")


if __name__ == "__main__":
    main()
