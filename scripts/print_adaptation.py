"""The conditioned model fine-tuned on each item's own print before restoring it (a probe).

``python scripts/print_adaptation.py OUT.csv CHECKPOINT [--steps 40] [--lr 5e-5] [--programme corpus]
[--precision bfloat16] [--items N] [evaluate.KEY=VALUE ...]`` builds evaluate.py's test items (its
Hydra overrides; ``evaluate.print_seconds`` must be > 0) and, for each, restores it with the
conditioned ``CHECKPOINT`` told the item's print (the model alone, the post-filter as the restorer
has it), then fine-tunes a copy of the model for ``--steps`` steps on examples made of that print
alone (random crops of it under programme at the item's estimated SNR, give or take
``--snr-spread`` dB, the model told the whole print's power, the training loss of the run) and
restores the item again. ``--programme corpus`` draws the programme from the training side of the
clean corpus; ``self`` from the item's own first restoration (what a restorer without a corpus
has). One row per item: ``before``, ``after`` (SI-SDR improvement, dB), the loss over the first
and last five steps and the seconds the fine-tune took. The model is reset before every item.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

PROGRAMMES = ("corpus", "self")


def adaptation_batch(draw: Callable[[np.random.Generator, int], np.ndarray], print_audio: np.ndarray, snr_db: float,
                     spread_db: float, batch: int, samples: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``(noisy, clean)``, each ``[batch, samples]`` float32: a programme crop from ``draw(rng,
    samples)`` scaled to an SNR uniform in ``snr_db`` +- ``spread_db`` against a random crop of
    ``print_audio`` (looped from a random point where it is shorter), which keeps its own level,
    the level the model is told."""
    noisy, clean = [], []
    for _ in range(batch):
        programme = np.asarray(draw(rng, samples), dtype=np.float64)
        if len(print_audio) >= samples:
            at = int(rng.integers(0, len(print_audio) - samples + 1))
            noise = np.asarray(print_audio[at : at + samples], dtype=np.float64)
        else:
            noise = np.resize(np.roll(np.asarray(print_audio, dtype=np.float64), int(rng.integers(len(print_audio)))), samples)
        snr = snr_db + rng.uniform(-spread_db, spread_db)
        p_programme, p_noise = float(np.mean(programme**2)), float(np.mean(noise**2))
        gain = np.sqrt(p_noise * 10.0 ** (snr / 10.0) / p_programme) if p_programme > 0 else 0.0
        clean.append(gain * programme)
        noisy.append(gain * programme + noise)
    return np.stack(noisy).astype(np.float32), np.stack(clean).astype(np.float32)


def crop_of(audio: np.ndarray) -> Callable[[np.random.Generator, int], np.ndarray]:
    """``draw(rng, samples)``: a random crop of ``audio``, zero-padded where it is shorter."""

    def draw(rng: np.random.Generator, samples: int) -> np.ndarray:
        at = int(rng.integers(0, max(1, len(audio) - samples + 1)))
        piece = np.asarray(audio[at : at + samples], dtype=np.float32)
        return np.pad(piece, (0, samples - len(piece)))

    return draw


class PrintAdapter:
    """Fine-tunes a conditioned Keras model in place on one print, and puts it back.

    The loss is the training runs' (the two-stage spectral MAE plus ``sisdr_weight`` times the
    negative SI-SDR, 0.1 as ``train.loss`` of the conditioned runs), the optimiser Adam at ``lr``
    with their betas and gradient clipping. :meth:`reset` restores the weights and the optimiser's state."""

    def __init__(self, model, model_cfg: dict, lr: float, sisdr_weight: float = 0.1, stage1_weight: float = 1.0) -> None:
        import keras
        import tensorflow as tf

        import losses
        import unet

        self.model, self.model_cfg = model, model_cfg
        self.denoiser = unet.WaveformDenoiser(model, model_cfg, transform="fft")
        self.optimizer = keras.optimizers.Adam(lr, beta_1=0.5, beta_2=0.9, clipnorm=1.0)
        self.optimizer.build(model.trainable_variables)
        self.weights = [w.copy() for w in model.get_weights()]
        self.state = [v.numpy().copy() for v in self.optimizer.variables]

        @tf.function(reduce_retracing=True)
        def step(noisy: tf.Tensor, clean: tf.Tensor, power: tf.Tensor) -> tf.Tensor:
            with tf.GradientTape() as tape:
                out = self.denoiser(noisy, power, training=True, all_stages=False)
                loss = losses.two_stage_mae(self.denoiser.analyse(clean), out["spectrograms"], stage1_weight)
                loss += sisdr_weight * losses.negative_si_sdr(out["restored"], clean)
            grads = tape.gradient(loss, model.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return loss

        self._step = step

    def reset(self) -> None:
        self.model.set_weights(self.weights)
        for variable, value in zip(self.optimizer.variables, self.state):
            variable.assign(value)

    def adapt(self, draw: Callable, print_audio: np.ndarray, power: np.ndarray, snr_db: float, steps: int,
              rng: np.random.Generator, spread_db: float = 5.0, batch: int = 4, frames: int = 96) -> list[float]:  # fmt: skip
        """``steps`` updates on :func:`adaptation_batch` examples of ``frames`` hops, the model
        told ``power`` (``[bins]``); returns each step's loss."""
        samples = frames * int(self.model_cfg["hop_length"])
        told = np.repeat(np.asarray(power, dtype=np.float32)[None], batch, axis=0)
        out = []
        for _ in range(steps):
            noisy, clean = adaptation_batch(draw, print_audio, snr_db, spread_db, batch, samples, rng)
            out.append(float(self._step(noisy, clean, told)))
        return out


def adaptation_rows(items: list[dict], restorer, adapter: PrintAdapter, sample_rate: int, steps: int,
                    programme: str, corpus_draw: Callable | None = None, spread_db: float = 5.0) -> list[dict]:  # fmt: skip
    """One row per item (see the module's docstring); ``restorer`` an ``inference.Restorer`` of
    ``adapter``'s model with ``classical_blend=0`` (the model alone)."""
    import metrics
    import noise_print

    if programme not in PROGRAMMES:
        raise ValueError(f"programme: expected one of {PROGRAMMES}, got {programme!r}")
    rows = []
    for i, item in enumerate(items):
        adapter.reset()
        heard, noisy = item["print"], item["noisy"]
        restorer.set_noise_print(heard, sample_rate)
        first = restorer.denoise_array(noisy, sample_rate)
        draw = crop_of(first) if programme == "self" else corpus_draw
        snr = noise_print.estimated_snr_db(noisy, heard)
        start = time.perf_counter()
        losses = adapter.adapt(draw, heard, restorer.noise_power, snr, steps, np.random.default_rng(i), spread_db)
        seconds = time.perf_counter() - start
        second = restorer.denoise_array(noisy, sample_rate)
        rows.append({"item": i, "category": item["category"], "family": item["family"], "snr_db": item["snr_db"],
                     "file": item["file"], "estimated_snr_db": round(snr, 2),
                     "before": round(metrics.si_sdr_improvement(first, noisy, item["clean"]), 4),
                     "after": round(metrics.si_sdr_improvement(second, noisy, item["clean"]), 4),
                     "loss_first": round(float(np.mean(losses[:5])), 4), "loss_last": round(float(np.mean(losses[-5:])), 4),
                     "seconds": round(seconds, 1)})  # fmt: skip
    adapter.reset()
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="print_adaptation.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("checkpoint")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--programme", choices=PROGRAMMES, default="corpus")
    parser.add_argument("--precision", choices=("float32", "bfloat16"), default="bfloat16")
    parser.add_argument("--snr-spread", type=float, default=5.0)
    parser.add_argument("--items", type=int, default=None, help="the first N items, taken across the categories in turn")
    args, overrides = parser.parse_known_args(argv)
    from hydra import compose, initialize_config_dir

    import dataset_loader
    import evaluate
    import inference

    with initialize_config_dir(config_dir=str(Path(__file__).resolve().parent.parent / "conf"), version_base=None):
        cfg = compose(config_name="conf", overrides=overrides)
    if not float(cfg.evaluate.get("print_seconds") or 0.0) > 0:
        print("error: print_adaptation.py needs evaluate.print_seconds > 0 (each item's print)", file=sys.stderr)
        return 2
    model, model_cfg = inference.load_model(args.checkpoint, args.precision)
    if str(model_cfg.get("conditioning") or "none") == "none":
        print(f"error: {args.checkpoint}: needs a conditioned model", file=sys.stderr)
        return 2
    rate = int(model_cfg["sample_rate"])
    items = evaluate.build_test_set(cfg, rate)
    if args.items is not None:  # the categories in turn, so a short run still covers each
        by = [[it for it in items if it["category"] == c] for c in dict.fromkeys(it["category"] for it in items)]
        items = [group[k] for k in range(max(map(len, by))) for group in by if k < len(group)][: args.items]
    corpus_draw = None
    if args.programme == "corpus":
        corpus = dataset_loader.CleanCorpus(cfg.dset, rate, split="train")

        def corpus_draw(rng: np.random.Generator, samples: int) -> np.ndarray:
            return corpus.draw(dataset_loader.sample_category(corpus.weights, rng), samples, rng)[0]

    restorer = inference.Restorer(model, model_cfg, 1.0, batch_segments=1, classical_blend=0.0)
    adapter = PrintAdapter(model, model_cfg, args.lr)
    rows = adaptation_rows(items, restorer, adapter, rate, args.steps, args.programme, corpus_draw, args.snr_spread)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    evaluate.write_csv(rows, args.out)
    gain = np.array([r["after"] - r["before"] for r in rows])
    print(f"wrote {args.out} ({len(rows)} items): before {np.mean([r['before'] for r in rows]):.2f}, "
          f"after {np.mean([r['after'] for r in rows]):.2f}, paired {gain.mean():+.2f} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
