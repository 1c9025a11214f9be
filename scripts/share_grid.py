"""Every classical share on evaluate.py's items, and what the share check would choose.

``python scripts/share_grid.py OUT.csv CHECKPOINT [evaluate.KEY=VALUE ...]`` builds evaluate.py's
test items (its Hydra overrides: ``evaluate.families``, ``evaluate.snr_db``, ``evaluate.seed``,
``evaluate.items_per_cell``; ``evaluate.print_seconds`` must be > 0), restores each with the
conditioned ``CHECKPOINT`` told the item's print and with LSA told the same print, and writes
one row per item: the SI-SDR improvement (dB) of every mix ``(1 - s) * model + s * LSA`` for s
in 0, 0.05, ..., 1 (columns ``s0`` ... ``s1``), the best of them (``oracle``, the share), and the
share :func:`noise_print.share_check` chooses from the print alone over the whole grid
(``check_any``) and over its own grid from ``SHARE_FLOOR`` (``check``). What a rule would score
is then a lookup: the column of the share it picks.
"""
from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

ALL_SHARES = tuple(round(0.05 * k, 2) for k in range(21))


def share_rows(items: list[dict], restorer, sample_rate: int) -> list[dict]:
    """One row per item (see the module's docstring); ``restorer`` an ``inference.Restorer`` of
    a conditioned model with ``classical_blend=0`` (the model alone)."""
    import baselines
    import metrics
    import noise_print

    def lsa(mix: np.ndarray, fit: np.ndarray) -> np.ndarray:
        return baselines.ephraim_malah_lsa(mix, sample_rate, noise_print=fit)

    rows = []
    for i, item in enumerate(items):
        heard = item["print"]
        restorer.set_noise_print(heard, sample_rate)
        ours = np.asarray(restorer.denoise_array(item["noisy"], sample_rate), dtype=np.float64)
        theirs = np.asarray(lsa(item["noisy"], heard), dtype=np.float64)
        before = metrics.si_sdr(item["noisy"], item["clean"])
        scores = {s: float(metrics.si_sdr((1 - s) * ours + s * theirs, item["clean"]) - before) for s in ALL_SHARES}
        best = max(scores, key=scores.get)
        picks = {}
        for name, grid in (("check_any", ALL_SHARES), ("check", noise_print.SHARE_GRID)):
            result = noise_print.share_check(restorer.restore_told, lsa, item["noisy"], heard, sample_rate, restorer.classical_blend,
                                             restorer.n_fft, restorer.hop_length, restorer.print_statistics, grid)  # fmt: skip
            picks[name] = None if result is None else result.share
        rows.append({"item": i, "category": item["category"], "family": item["family"], "snr_db": item["snr_db"],
                     "file": item["file"], **{f"s{s:g}": round(v, 4) for s, v in scores.items()},
                     "oracle": best, **picks})  # fmt: skip
    return rows


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: share_grid.py OUT.csv CHECKPOINT [evaluate.KEY=VALUE ...]", file=sys.stderr)
        return 2
    out, checkpoint, overrides = Path(argv[0]), argv[1], argv[2:]
    from hydra import compose, initialize_config_dir

    import evaluate
    import inference

    with initialize_config_dir(config_dir=str(Path(__file__).resolve().parent.parent / "conf"), version_base=None):
        cfg = compose(config_name="conf", overrides=overrides)
    if not float(cfg.evaluate.get("print_seconds") or 0.0) > 0:
        print("error: share_grid.py needs evaluate.print_seconds > 0 (each item's print)", file=sys.stderr)
        return 2
    model, model_cfg = inference.load_model(checkpoint)
    restorer = inference.Restorer(model, model_cfg, 1.0, batch_segments=1, classical_blend=0.0)
    rate = int(model_cfg["sample_rate"])
    rows = share_rows(evaluate.build_test_set(cfg, rate), restorer, rate)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(out)
    print(f"wrote {out} ({len(rows)} items)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
