"""Compare the model rows of two evaluate.py result files, item set for item set.

    .venv/bin/python scripts/compare_models.py CANDIDATE.csv REFERENCE.csv [--system model] [--reference-system S]

Prints, as markdown, the candidate's SI-SDR improvement by noise family and input SNR with
the reference's in brackets, the mean over the synthetic families (film, gramophone, tape)
and over all, then PESQ, STOI and output/clean energy at each SNR, and the candidate's mean
gain over the reference on the synthetic families, for each category and over all, with a
paired bootstrap interval (an interval that straddles zero is a tie). This is how a new model
is judged against the shipped one (docs/RESULTS.md): the synthetic families can be compared
between any two models, the recorded family only between models that never heard its files.
Both files must come from the same test set (same seed and settings); otherwise it exits 1.
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from evaluate import bootstrap_interval, cell_mean, paired_differences

TEXT_FIELDS = ("system", "category", "family", "file")
RECORDED = "recorded"
ITEM_KEY = ("item", "category", "family", "snr_db", "file")


def read_rows(path: Path, system: str = "model") -> list[dict]:
    """The rows of ``system`` in an evaluate.py CSV, with numbers as floats."""
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("system") == system]
    if not rows:
        raise ValueError(f"{path}: no rows of system {system!r}")
    for r in rows:
        for k, v in r.items():
            if k not in TEXT_FIELDS:
                r[k] = float(v) if v not in ("", None) else float("nan")
    return rows


def same_items(a: list[dict], b: list[dict]) -> bool:
    """True when both row sets score the same test items."""
    def keys(rows: list[dict]) -> list[tuple]:
        return sorted(tuple(r[k] for k in ITEM_KEY) for r in rows)

    return keys(a) == keys(b)


def summary(rows: list[dict], snr: float, metric: str = "si_sdr_i") -> dict[str, float]:
    """``metric`` at one input SNR: per family, the synthetic families' mean and the mean of all."""
    at = [r for r in rows if r["snr_db"] == snr]
    out = {fam: cell_mean(at, metric, family=fam) for fam in dict.fromkeys(r["family"] for r in rows)}
    out["synthetic mean"] = cell_mean([r for r in at if r["family"] != RECORDED], metric)
    out["all"] = cell_mean(at, metric)
    return out


def report(candidate: list[dict], reference: list[dict]) -> str:
    """Markdown tables: candidate (reference) by family and SNR, then the other metrics."""
    snrs = sorted({r["snr_db"] for r in candidate})
    columns = list(summary(candidate, snrs[0]))
    out = ["SI-SDR improvement (dB), candidate (reference):", "",
           "| input SNR | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]  # fmt: skip
    for snr in snrs:
        c, r = summary(candidate, snr), summary(reference, snr)
        out.append(f"| {snr:g} dB | " + " | ".join(f"{c[k]:.2f} ({r[k]:.2f})" for k in columns) + " |")
    metrics = [m for m in ("pesq", "stoi", "energy_ratio_db") if m in candidate[0]]
    out += ["", "All families, candidate (reference):", "",
            "| input SNR | " + " | ".join(metrics) + " |", "|---|" + "---|" * len(metrics)]  # fmt: skip
    for snr in snrs:
        cells = [f"{cell_mean(candidate, m, snr_db=snr):.2f} ({cell_mean(reference, m, snr_db=snr):.2f})" for m in metrics]
        out.append(f"| {snr:g} dB | " + " | ".join(cells) + " |")
    out += ["", "Synthetic families by category, candidate minus reference, mean over input SNRs:", ""]
    for cat in dict.fromkeys(r["category"] for r in candidate):
        mine, theirs = ([r for r in rows if r["category"] == cat] for rows in (candidate, reference))
        out.append(f"- {cat}: {gain_line(mine, theirs, snrs)}")
    out += ["", "Synthetic families, candidate minus reference, mean over input SNRs: "
            + gain_line(candidate, reference, snrs)]  # fmt: skip
    return "\n".join(out) + "\n"


def gain_line(candidate: list[dict], reference: list[dict], snrs: list[float]) -> str:
    """The candidate's mean SI-SDR gain over the reference on the synthetic families, with
    its paired bootstrap interval, as one line of text."""
    gain = [summary(candidate, s)["synthetic mean"] - summary(reference, s)["synthetic mean"] for s in snrs]
    # each (category, family, SNR) cell weighs the same, as in the mean over SNRs of cell means
    synthetic = [r for r in candidate if r["family"] != RECORDED]
    low, high = bootstrap_interval(paired_differences(synthetic, reference, "si_sdr_i", match=ITEM_KEY,
                                                      by=("category", "family", "snr_db")))  # fmt: skip
    return f"{sum(gain) / len(gain):+.2f} dB (95 % CI {low:+.2f} to {high:+.2f}, paired bootstrap over items)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("candidate", type=Path)
    parser.add_argument("reference", type=Path)
    parser.add_argument("--system", default="model", help="the system to compare (default: model)")
    parser.add_argument("--reference-system", default=None,
                        help="the reference's system when it differs (e.g. compare conditioned_print with model "
                             "in one file: give the file twice)")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        cand = read_rows(args.candidate, args.system)
        ref = read_rows(args.reference, args.reference_system or args.system)
    except (OSError, ValueError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if not same_items(cand, ref):
        print(f"error: {args.candidate} and {args.reference} score different test items; "
              "evaluate both with the same evaluate.* settings", file=sys.stderr)  # fmt: skip
        return 1
    print(report(cand, ref), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
