"""What a noise print adds to restore time: ``python scripts/bench_noise_print.py CHECKPOINT``.

Restores one synthetic recording (a tone programme with pauses under film noise, ``--seconds``
long) with the command's own code path, ``inference.run``, once per setting of
``inference.noise_print`` (none, a 5 s print file, a START-END range, auto), each after a
warm-up run, ``--repeats`` times, and prints the median wall time of each and its ratio to
``none``. The held-out check is on, as by default. With ``--no-print-models FOLDER ...``
also ``none`` restored by the mean of those models (``inference.no_print_models``). With
``--classical-blend S ...`` also the file print restored without the held-out check (which may
refuse the print, and then no share applies) with each of those shares for the classical
estimator (``inference.classical_blend``). With ``--share-check`` also the share check alone
(``noise_print.share_check``, which chooses the share per file where ``classical_blend`` is
null), timed on the same recording and print, beside the one-pass restoration with the print.
With ``--print-models FOLDER ...`` also the file print restored with those conditioned models
joining the checkpoint (``inference.print_models``): with the checks on (the print-models check
decides) and without (all of them told the print, with the share 0.25). With
``--postfilter-off`` also the file print without the Wiener post-filter (``inference.postfilter=0``),
with the checks on and without them (the share 0.25), beside the same with it (the default).
With ``--auto-models FOLDER ...`` also ``auto`` with the mean of those models restoring beside the
checkpoint told auto's print (``inference.auto_models``); with ``--postfilter-off`` as well, also
that without the post-filter (auto's print passes it, gated, where the held-out check keeps it).
With ``--check-reference REF`` also the file print with the held-out check mixing the held-out
print into REF (``noise_print.CHECK_REFERENCES``; the restorer's own for a given print is
``noise_print.GIVEN_CHECK_REFERENCE``, the loudest passage restored with and without the print;
``recording``: as before 2026-11-28). With ``--half-rate HZ`` also the file print (the checks on,
and without them with the share 0.25) and, with ``--auto-models``, auto beside them, each with
``inference.half_rate_below_hz=HZ`` (0: the half-rate pass off).
Run it on an otherwise idle machine.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

SR = 44100


def recording(seconds: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(programme + film noise, 5 s of the same noise alone)."""
    import degradations

    rng = np.random.default_rng(seed)
    source = degradations.NoiseSource(degradations.load_noise_config("film"), SR)
    n = int(seconds * SR)
    noise, heard, _ = source.sample_with_print(n, 5 * SR, rng)
    t = np.arange(n) / SR
    programme = 0.2 * np.sin(2 * np.pi * 220 * t) * ((t % 4.0) < 3.0)
    return (programme + 0.02 * noise).astype(np.float32), (0.02 * heard).astype(np.float32)


def main() -> None:
    import noise_print

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="a conditioned model folder")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-print-models", nargs="+", default=[], metavar="FOLDER",
                        help="also time noise_print=none restored by the mean of these model folders")  # fmt: skip
    parser.add_argument("--classical-blend", nargs="+", type=float, default=[], metavar="SHARE",
                        help="also time the file print with these shares for the classical estimator")  # fmt: skip
    parser.add_argument("--print-models", nargs="+", default=[], metavar="FOLDER",
                        help="also time the file print with these conditioned models joining the checkpoint")  # fmt: skip
    parser.add_argument("--postfilter-off", action="store_true",
                        help="also time the file print without the post-filter (inference.postfilter=0)")  # fmt: skip
    parser.add_argument("--auto-models", nargs="+", default=[], metavar="FOLDER",
                        help="also time auto with these model folders restoring beside the checkpoint")  # fmt: skip
    parser.add_argument("--check-reference", choices=noise_print.CHECK_REFERENCES, default=None,
                        help="also time the file print with the given print's held-out check against this programme")  # fmt: skip
    parser.add_argument("--half-rate", type=float, default=None, metavar="HZ",
                        help="also time the file print and auto with inference.half_rate_below_hz=HZ")  # fmt: skip
    parser.add_argument("--share-check", action="store_true",
                        help="also time the share check on the recording and the 5 s print")  # fmt: skip
    args = parser.parse_args()
    import configs
    import inference

    folder = Path(tempfile.mkdtemp(prefix="bench_print_"))
    audio, heard = recording(args.seconds)
    sf.write(folder / "reel.wav", audio, SR, subtype="PCM_24")
    sf.write(folder / "print.wav", heard, SR, subtype="PCM_24")
    base = OmegaConf.structured(configs.InferenceConfig)
    settings = {"none": "none", "file (5 s)": str(folder / "print.wav"), "range 3-4 s": "3-4", "auto": "auto"}
    if args.no_print_models:
        settings[f"none, the mean of {len(args.no_print_models)} models"] = "none"
    shares = {f"file (5 s), no check, classical_blend={share:g}": share for share in args.classical_blend}
    settings.update({name: settings["file (5 s)"] for name in shares})
    joined = {}
    if args.print_models:
        n = len(args.print_models) + 1
        joined = {f"file (5 s), the checks on, print_models ({n} models)": True,
                  f"file (5 s), no check, classical_blend=0.25, print_models ({n} models)": False}  # fmt: skip
        settings.update({name: settings["file (5 s)"] for name in joined})
    unfiltered = {}
    if args.postfilter_off:
        unfiltered = {"file (5 s), postfilter=0": True, "file (5 s), no check, classical_blend=0.25, postfilter=0": False,
                      "file (5 s), no check, classical_blend=0.25": False}  # fmt: skip
        settings.update({name: settings["file (5 s)"] for name in unfiltered})
    reference = f"file (5 s), the held-out check against reference={args.check_reference}" if args.check_reference else None
    if reference:
        settings[reference] = settings["file (5 s)"]
    beside = f"auto, auto_models ({len(args.auto_models)} models)" if args.auto_models else None
    if beside:
        settings[beside] = "auto"
    beside_off = f"{beside}, postfilter=0" if beside and args.postfilter_off else None
    if beside_off:
        settings[beside_off] = "auto"
    halved = {}
    if args.half_rate is not None:
        tag = f"half_rate_below_hz={args.half_rate:g}"
        halved = {f"file (5 s), {tag}": (settings["file (5 s)"], True),
                  f"file (5 s), no check, classical_blend=0.25, {tag}": (settings["file (5 s)"], False)}  # fmt: skip
        if beside:
            halved[f"{beside}, {tag}"] = ("auto", True)
        settings.update({name: value for name, (value, _) in halved.items()})
    times: dict[str, float] = {}
    for name, value in settings.items():
        cfg = base.copy()
        cfg.update({"audio": str(folder / "reel.wav"), "checkpoint": args.checkpoint, "noise_print": value,
                    "overwrite": True, "quiet": True})  # fmt: skip
        if name.startswith("none, the mean"):
            cfg.no_print_models = list(args.no_print_models)
        if name in (beside, beside_off) or (beside and name.startswith(beside)):
            cfg.auto_models = list(args.auto_models)
        if name in halved:
            cfg.half_rate_below_hz = float(args.half_rate)
            if not halved[name][1]:
                cfg.classical_blend, cfg.noise_print_check = 0.25, False
        if name == beside_off:
            cfg.postfilter = 0.0
        if name in shares:
            cfg.classical_blend, cfg.noise_print_check = shares[name], False
        if name in joined:
            cfg.print_models = list(args.print_models)
            if not joined[name]:
                cfg.classical_blend, cfg.noise_print_check = 0.25, False
        if name in unfiltered:
            cfg.postfilter = 0.0 if name.endswith("postfilter=0") else cfg.postfilter
            if not unfiltered[name]:
                cfg.classical_blend, cfg.noise_print_check = 0.25, False
        runs = []
        given = noise_print.GIVEN_CHECK_REFERENCE
        noise_print.GIVEN_CHECK_REFERENCE = args.check_reference if name == reference else given
        try:
            for k in range(args.repeats + 1):  # the first is a warm-up (model load, tracing)
                start = time.perf_counter()
                if inference.run(cfg) != 0:
                    raise SystemExit(f"{name}: inference failed")
                if k:
                    runs.append(time.perf_counter() - start)
        finally:
            noise_print.GIVEN_CHECK_REFERENCE = given
        times[name] = statistics.median(runs)
    print(f"{args.seconds:g} s recording, {args.repeats} runs each (median), checkpoint {args.checkpoint}")
    print("| noise_print | seconds | vs none |")
    print("|---|---|---|")
    for name, seconds in times.items():
        print(f"| {name} | {seconds:.2f} | {seconds / times['none'] - 1:+.1%} |")
    if args.share_check:
        seconds, share = time_share_check(args.checkpoint, audio, heard, args.repeats)
        base = times.get("file (5 s), no check, classical_blend=0.25")
        against = f", {seconds / base:.1%} of the file's one-pass restoration with the share" if base else ""
        print(f"share check alone: {seconds:.2f} s (median of {args.repeats}; chose {share:.0%}){against}")


def time_share_check(checkpoint: str, audio: np.ndarray, heard: np.ndarray, repeats: int) -> tuple[float, float]:
    """Median seconds of ``noise_print.share_check`` as the restorer runs it (after a warm-up), and its choice."""
    import baselines
    import inference
    import noise_print

    restorer = inference.Restorer.from_pretrained(checkpoint)
    runs, share = [], 0.0
    for k in range(repeats + 1):
        start = time.perf_counter()
        result = noise_print.share_check(
            restorer.restore_told, lambda mix, fit: baselines.ephraim_malah_lsa(mix, SR, noise_print=fit), audio, heard, SR,
            restorer.classical_blend, restorer.n_fft, restorer.hop_length, restorer.print_statistics)  # fmt: skip
        if k:
            runs.append(time.perf_counter() - start)
        share = result.share if result is not None else restorer.classical_blend
    return statistics.median(runs), share


if __name__ == "__main__":
    main()
