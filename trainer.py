"""The training loop: a Trainer owning strategy, model, optimiser, data, checkpoints and logs.

Resuming is exact: every training example is a pure function of (seed, example index)
(see ``dataset_loader``), and the checkpoint holds the step, the optimiser state (the
learning-rate schedule is a function of the optimiser's step) and the best validation
score, so a resumed run sees the same batches it would have seen without interruption.
"""
from __future__ import annotations

import contextlib
import csv
import logging
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from omegaconf import DictConfig
from tqdm import tqdm

import dataset_loader
import losses
import precision
import stft
import unet
from configs import check_settings, is_chief  # noqa: F401  (trainer.check_settings, trainer.is_chief: pure, for train.py before TF)
from configs import plain as _plain

log = logging.getLogger(__name__)

CSV_FIELDS = [
    "epoch",
    "step",
    "train_loss",
    "val_loss",
    "val_si_sdr_i",
    "val_si_sdr_i_low_snr",
    "val_si_sdr_i_high_snr",
    # output/clean energy over the whole band, in dB (metrics.energy_ratio_db, which evaluate.py
    # reports, takes the clean signal's active band; this one was val_energy_ratio_db before
    # 2026-11-25, and metrics.csv files begun then keep that column, see FORMER_COLUMNS)
    "val_full_band_energy_db",
    "val_si_sdr_i_recorded",
    "val_si_sdr_i_synthetic",
    "lr",
    "seconds",
]


# Each validation SI-SDR score and the items it averages, from their input SNR (dB) and
# whether their noise is recorded. Recorded noise is held out of training, so its score is
# the one on noise the model has not heard.
SCORE_ITEMS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "val_si_sdr_i": lambda snr, recorded: np.ones_like(recorded),
    "val_si_sdr_i_synthetic": lambda snr, recorded: ~recorded,
    "val_si_sdr_i_recorded": lambda snr, recorded: recorded,
    "val_si_sdr_i_low_snr": lambda snr, recorded: snr <= 5.0,
    "val_si_sdr_i_high_snr": lambda snr, recorded: snr >= 20.0,
}
# metrics.csv columns of runs begun by an older version: {old name: the figure's name now}
FORMER_COLUMNS = {"val_energy_ratio_db": "val_full_band_energy_db"}
# the validation scores train.best_metric may choose best/ by: all of them
BEST_METRICS = tuple(SCORE_ITEMS)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


@keras.saving.register_keras_serializable(package="trainer")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up followed by a constant or cosine-decayed rate (a step decay was tried and
    lost to the cosine: docs/EXPERIMENTS.md)."""

    def __init__(
        self,
        lr: float,
        name: str = "constant",
        warmup_steps: int = 0,
        decay_steps: int = 100_000,
        min_lr_ratio: float = 0.0,
    ) -> None:
        if name not in ("constant", "cosine"):
            raise ValueError(f"schedule.name: expected constant or cosine, got {name!r}")
        self.lr, self.name, self.warmup_steps = float(lr), name, int(warmup_steps)
        self.decay_steps, self.min_lr_ratio = int(decay_steps), float(min_lr_ratio)

    def __call__(self, step: tf.Tensor) -> tf.Tensor:
        step = tf.cast(step, tf.float32)
        base = tf.constant(self.lr, tf.float32)
        after = tf.maximum(step - self.warmup_steps, 0.0)
        if self.name == "cosine":
            progress = tf.minimum(after / self.decay_steps, 1.0)
            cosine = 0.5 * (1.0 + tf.cos(math.pi * progress))
            base = base * (self.min_lr_ratio + (1.0 - self.min_lr_ratio) * cosine)
        if self.warmup_steps > 0:
            base = base * tf.minimum((step + 1.0) / self.warmup_steps, 1.0)
        return base

    def get_config(self) -> dict:
        return {
            "lr": self.lr,
            "name": self.name,
            "warmup_steps": self.warmup_steps,
            "decay_steps": self.decay_steps,
            "min_lr_ratio": self.min_lr_ratio,
        }


def gpu_capabilities() -> list[tuple]:
    """The compute capability of each GPU TensorFlow sees (empty without GPUs)."""
    gpus = tf.config.list_physical_devices("GPU")
    return [tuple(tf.config.experimental.get_device_details(g).get("compute_capability") or (0, 0)) for g in gpus]


STRATEGIES = ("default", "mirrored", "multiworker")


def make_strategy(name: str) -> tf.distribute.Strategy:
    """``default`` (one device: the GPU if there is one, else the CPU), ``mirrored`` (all
    local GPUs; without GPUs, every logical CPU device) or ``multiworker`` (several machines
    described by ``TF_CONFIG``, see :func:`is_chief`)."""
    if name not in STRATEGIES:
        raise ValueError(f"train.strategy: expected {', '.join(STRATEGIES)}, got {name!r}")
    if name == "mirrored":
        # MirroredStrategy() alone falls back to CPU:0 without GPUs; naming the logical CPU
        # devices (one, unless a process splits the CPU as the tests do) lets the mirrored
        # path run, and be tested, on a machine without GPUs
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if name == "multiworker":
        is_chief(name)  # a malformed TF_CONFIG is named here, not in TF's own parsing
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


@contextlib.contextmanager
def _scratch_folder() -> Iterator[str]:
    """A temporary folder, deleted on leaving (with what was written there)."""
    folder = tempfile.mkdtemp(prefix="restorer-worker-")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class Trainer:
    """Trains the two-stage U-Net on the configured data and keeps the experiment folder.

    Folder layout: ``config.yaml``, ``checkpoints/`` (resumable state), ``best/`` and
    ``last/`` (exported models for inference), ``metrics.csv``, ``tensorboard/``. In a
    multi-worker run only the chief writes it (:func:`is_chief`); every worker reads its
    checkpoints to resume.
    """

    def __init__(self, cfg: DictConfig, exp_dir: str | os.PathLike) -> None:
        self.cfg = cfg
        self.tcfg = cfg.train
        self.exp_dir = Path(exp_dir)
        check_settings(cfg)
        self.is_chief = is_chief(str(self.tcfg.strategy))
        if self.is_chief:
            self.exp_dir.mkdir(parents=True, exist_ok=True)
        self.best_metric = str(self.tcfg.get("best_metric") or "val_si_sdr_i")
        if self.best_metric not in BEST_METRICS:
            raise ValueError(f"train.best_metric: expected one of {', '.join(BEST_METRICS)}, got {self.best_metric!r}")
        self.precision = precision.keras_policy(precision.resolve_precision(str(self.tcfg.precision), "train.precision", gpu_capabilities()))
        log.info("precision: %s", self.precision)
        keras.mixed_precision.set_global_policy(self.precision)
        keras.utils.set_random_seed(int(cfg.seed))

        self.model_cfg = unet.model_config(cfg.model)
        self.n_fft = int(self.model_cfg["n_fft"])
        self.hop = int(self.model_cfg["hop_length"])
        self.sample_rate = int(self.model_cfg["sample_rate"])
        self.segment_samples = stft.samples_for_frames(int(self.tcfg.segment_frames), self.n_fft, self.hop)
        # a conditioned model is trained with a noise print per example (train.noise_print)
        self.print_cfg: dict | None = None
        if self.model_cfg["conditioning"] != "none":
            given = _plain(self.tcfg.get("noise_print")) or {}
            self.print_cfg = {**given, "sample_rate": self.sample_rate, "n_fft": self.n_fft, "hop": self.hop,
                              "statistics": unet.print_statistics(self.model_cfg)}  # fmt: skip

        self.strategy = make_strategy(str(self.tcfg.strategy))
        self.global_batch = int(cfg.batch_size)
        replicas = self.strategy.num_replicas_in_sync
        if self.global_batch % replicas:
            raise ValueError(f"batch_size: the global batch, {self.global_batch}, must split evenly "
                             f"across the {replicas} replicas of train.strategy={self.tcfg.strategy}")  # fmt: skip
        with self.strategy.scope():
            self.model = unet.build_model(self.model_cfg)
            # the loss and validation run the model as a waveform model (STFT and strides in it)
            self.denoiser = unet.WaveformDenoiser(self.model, self.model_cfg, transform="fft")
            s = self.tcfg.schedule
            self.schedule = WarmupSchedule(
                float(cfg.lr), s.name, s.warmup_steps, s.decay_steps, s.min_lr_ratio
            )
            o = self.tcfg.optimizer
            self.optimizer = keras.optimizers.Adam(
                learning_rate=self.schedule, beta_1=o.beta_1, beta_2=o.beta_2, global_clipnorm=o.clipnorm
            )
            self.optimizer.build(self.model.trainable_variables)
        # the loop's own counters, read in Python at every step and never by a replica: plain
        # variables, outside the scope (a MirroredVariable has no int() or float())
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.best_score = tf.Variable(-np.inf, dtype=tf.float64, trainable=False, name="best_si_sdr_i")

        self.checkpoint = tf.train.Checkpoint(
            model=self.model, optimizer=self.optimizer, step=self.step, best_score=self.best_score
        )
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, str(self.exp_dir / "checkpoints"), max_to_keep=int(self.tcfg.keep_checkpoints)
        )
        if self.is_chief:
            self.summary = tf.summary.create_file_writer(str(self.exp_dir / "tensorboard"))
        else:
            self.summary = tf.summary.create_noop_writer()
        self._validation: dict | None = None
        self._train_step = None
        self._or_step = None
        self.skipped_updates = 0

    # ----------------------------------------------------------------------------- data
    def validation_set(self) -> dict:
        """The fixed, seeded validation set (built once, from files disjoint from training)."""
        if self._validation is None:
            length = int(round(float(self.tcfg.validation_seconds) * self.sample_rate))
            self._validation = dataset_loader.make_validation_set(
                self.cfg.dset, self.cfg.noise, self.sample_rate, length, int(self.tcfg.validation_items), int(self.cfg.seed),
                print_cfg=self.print_cfg,
            )
        return self._validation

    def train_dataset(self, start_step: int, context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
        """The training batches from ``start_step`` on: whole global batches, or with an input
        ``context`` (a distributed run) the per-replica batches of that worker's pipeline.

        Each global batch holds the examples a single process would train on at that step,
        split into one batch per replica; worker ``k`` of ``n`` makes the ones of its replicas
        only, so the workers draw different examples and a resumed run the same ones.
        """
        replicas, pipelines, pipeline = 1, 1, 0
        if context is not None:
            replicas, pipelines, pipeline = context.num_replicas_in_sync, context.num_input_pipelines, context.input_pipeline_id
        # one batch per replica: global step s is per-replica batches s*replicas ... s*replicas + replicas - 1,
        # which the strategy hands to the replicas in turn, each pipeline to its own
        return dataset_loader.make_train_dataset(
            self.cfg.dset,
            self.cfg.noise,
            self.sample_rate,
            self.segment_samples,
            self.global_batch // replicas,
            int(self.cfg.seed),
            start_step=start_step * replicas,
            print_cfg=self.print_cfg,
            shard_index=pipeline,
            num_shards=pipelines,
        )

    def distributed_dataset(self, start_step: int) -> tf.distribute.DistributedDataset | tf.data.Dataset:
        """:meth:`train_dataset` as the strategy feeds it to the replicas (a plain dataset
        with the default strategy)."""
        return self.strategy.distribute_datasets_from_function(lambda context: self.train_dataset(start_step, context))

    # ----------------------------------------------------------------------------- loss
    def compute_loss(self, noisy: tf.Tensor, clean: tf.Tensor, training: bool,
                     noise_power: tf.Tensor | None = None) -> tuple[tf.Tensor, list[tf.Tensor]]:  # fmt: skip
        """Total loss for a batch of waveforms, and the restored waveforms.
        ``noise_power`` ``[B, bins]`` is the conditioned model's second input."""
        out = self.denoiser(noisy, noise_power, training=training, all_stages=False)
        estimates = out["spectrograms"]
        y = self.denoiser.analyse(clean)
        lc = self.tcfg.loss
        total = lc.mae_weight * losses.two_stage_mae(y, estimates, lc.stage1_weight)
        if lc.sisdr_weight:
            total += lc.sisdr_weight * losses.negative_si_sdr(out["restored"], clean)
        return total, out["restored"]

    def _build_train_step(self):
        replicas = self.strategy.num_replicas_in_sync

        def step_fn(noisy, clean, *power):
            with tf.GradientTape() as tape:
                loss, _ = self.compute_loss(noisy, clean, True, *power)
                scaled = loss / replicas
            return loss, tape.gradient(scaled, self.model.trainable_variables)

        @tf.function(reduce_retracing=True)
        def train_step(noisy, clean, *power):
            loss, grads = self.strategy.run(step_fn, args=(noisy, clean, *power))
            # summed over the replicas (onto each variable's devices) before the optimiser sees
            # them: its clipping by global norm and the check below then judge the whole batch's
            # gradient, as on one device; inside a replica, Keras would clip each share alone
            variables = [v.value for v in self.model.trainable_variables]  # the tf.Variables
            grads = self.strategy.extended.batch_reduce_to(tf.distribute.ReduceOp.SUM, list(zip(grads, variables)))
            # a non-finite gradient (a rare overflow in one batch) must not reach the weights:
            # the update is zeroed and the step counted as skipped
            finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(g)) for g in grads])
            grads = [tf.where(finite, g, tf.zeros_like(g)) for g in grads]
            self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables))
            loss = self.strategy.reduce(tf.distribute.ReduceOp.MEAN, loss, axis=None)
            return loss, tf.cast(tf.logical_not(finite), tf.float32)

        return train_step

    # ----------------------------------------------------------------------------- validation
    def validate(self) -> dict[str, float]:
        """Loss, SI-SDR improvement (all, low and high input SNR, recorded and synthetic noise) and
        output/clean energy."""
        val = self.validation_set()
        noisy_all, clean_all = val["noisy"], val["clean"]
        batch = int(self.tcfg.validation_batch)
        loss_sum, out_sisdr, in_sisdr, energy = 0.0, [], [], []
        for i in range(0, len(noisy_all), batch):
            noisy = tf.constant(noisy_all[i : i + batch])
            clean = tf.constant(clean_all[i : i + batch])
            power = [tf.constant(val["noise_power"][i : i + batch])] if "noise_power" in val else []
            loss, wave = self._eval_step(noisy, clean, *power)
            loss_sum += float(loss) * len(noisy)
            out_sisdr.append(losses.si_sdr(wave, clean).numpy())
            in_sisdr.append(losses.si_sdr(noisy, clean).numpy())
            e_out = tf.reduce_sum(tf.square(wave), axis=-1).numpy()
            e_clean = tf.reduce_sum(tf.square(clean), axis=-1).numpy()
            energy.append(10 * np.log10((e_out + 1e-12) / (e_clean + 1e-12)))
        improvement = np.concatenate(out_sisdr) - np.concatenate(in_sisdr)
        scores = {name: float(np.mean(improvement[mask])) if mask.any() else float("nan")
                  for name, mask in self._score_items().items()}  # fmt: skip
        energy_db = float(np.mean(np.concatenate(energy)))
        return {"val_loss": loss_sum / len(noisy_all), **scores, "val_full_band_energy_db": energy_db}

    def _score_items(self) -> dict[str, np.ndarray]:
        """For each SI-SDR score of :meth:`validate`, the validation items it averages."""
        val = self.validation_set()
        snr = np.asarray(val["snr_db"], dtype=float)
        recorded = np.array([f == "recorded" for f in val["family"]], dtype=bool)
        return {name: select(snr, recorded) for name, select in SCORE_ITEMS.items()}

    def check_best_metric(self) -> None:
        """Raise ValueError when ``train.best_metric`` averages no validation item, before any
        training time is spent (best/ would never be written)."""
        if not self._score_items()[self.best_metric].any():
            raise ValueError(f"train.best_metric={self.best_metric}: the validation set has no such items "
                             "(e.g. no recorded noise); choose another")  # fmt: skip

    @tf.function(reduce_retracing=True)
    def _eval_step(self, noisy: tf.Tensor, clean: tf.Tensor, *power: tf.Tensor):
        return self.compute_loss(noisy, clean, False, *power)

    # ----------------------------------------------------------------------------- state
    def restore(self) -> int:
        """Restore the latest checkpoint, if any; returns the step to continue from."""
        latest = self.manager.latest_checkpoint
        if latest:
            self.checkpoint.restore(latest).assert_existing_objects_matched()
            log.info("resumed from %s at step %d", latest, int(self.step))
        return int(self.step)

    def initialise_from(self, folder: str | os.PathLike, step: int = 0) -> int:
        """Start from the weights of a model saved by :func:`unet.save_denoiser`.

        For fine-tuning a shipped model on other material, or for continuing a run whose
        resumable state was not kept (only its exported weights were). ``step`` is where the
        step counter starts, and with it the learning-rate schedule and the data order: the
        step the source run stopped at continues that run, except for the optimiser's
        moments, which start again from zero. Returns the step.
        """
        source, source_cfg = unet.load_denoiser(folder)
        # the config's name is only a label: the same architecture under another name fits
        # a model may start one with more conditioning (unet.adopt_weights says which; it
        # refuses the rest): unet.transfer_weights
        grows = (source_cfg["conditioning"], unet.print_statistics(source_cfg)) != (
            self.model_cfg["conditioning"], unet.print_statistics(self.model_cfg))
        ignored = {"name", "conditioning", "print_statistics"} if grows else {"name"}
        differ = sorted(k for k in set(source_cfg) | set(self.model_cfg) if k not in ignored and source_cfg.get(k) != self.model_cfg.get(k))
        if differ:
            raise ValueError(f"train.init_from: {folder} holds a different model than this run builds "
                             f"(differs in {', '.join(differ)}); choose the matching model=...")  # fmt: skip
        if step < 0:
            raise ValueError(f"train.init_step: must be non-negative, got {step}")
        widened = unet.adopt_weights(source, source_cfg, self.model, self.model_cfg)
        if widened:
            log.info("conditioning added to %s: new input channels of %s start at zero", folder, ", ".join(widened))
        if grows:
            log.info("conditioning grown from %s (told the %s) to %s (told the %s)", source_cfg["conditioning"],
                     unet.print_statistics(source_cfg), self.model_cfg["conditioning"], unet.print_statistics(self.model_cfg))
        self.step.assign(int(step))
        self.optimizer.iterations.assign(int(step))  # the schedule reads the optimiser's count
        log.info("initialised from %s at step %d", folder, int(step))
        return int(step)

    def validate_initial(self) -> dict[str, float]:
        """Validate the starting weights (after :meth:`initialise_from`) as the run's first row.

        Their score becomes the best so far, so ``best/`` only changes to weights that beat
        the model the run started from, and a continuation on another validation set (new
        files, another noise mix) is judged against its own starting point, not an old log.
        """
        self.check_best_metric()
        return self._end_of_epoch(int(self.step), int(self.cfg.steps_per_epoch), [], 0.0)

    def save(self) -> str:
        """Save the resumable state in ``checkpoints/``; returns the checkpoint's path.

        The other workers of a multi-worker run save too, as TF advises (a save may read
        values all workers must take part in), but to a scratch folder they delete.
        """
        if self.is_chief:
            return self.manager.save(checkpoint_number=int(self.step))
        with _scratch_folder() as folder:
            return self.checkpoint.write(os.path.join(folder, f"ckpt-{int(self.step)}"))

    def export(self, name: str) -> None:
        """Save the model for inference in ``<experiment>/<name>`` (``best``, ``last``);
        elsewhere, then deleted, on a worker that is not the chief, as :meth:`save` does."""
        if self.is_chief:
            unet.save_denoiser(self.model, self.model_cfg, self.exp_dir / name)
            return
        with _scratch_folder() as folder:
            unet.save_denoiser(self.model, self.model_cfg, Path(folder) / name)

    def _log_row(self, row: Mapping[str, float]) -> None:
        if not self.is_chief:  # one log per run, the chief's
            return
        path = self.exp_dir / "metrics.csv"
        new = not path.exists()
        fields = CSV_FIELDS
        if not new:  # a run begun by an older version goes on with its own columns
            with open(path, newline="") as f:
                fields = next(csv.reader(f), None) or CSV_FIELDS
        with open(path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow({k: row.get(k, row.get(FORMER_COLUMNS.get(k, ""), "")) for k in fields})
        with self.summary.as_default(step=int(row["step"])):
            for key, value in row.items():
                if key not in ("epoch", "step") and value == value:  # skip NaN
                    tf.summary.scalar(key, value)
        self.summary.flush()

    # ----------------------------------------------------------------------------- loop
    def fit(self, quiet: bool = False) -> dict[str, float]:
        """Train to ``epochs x steps_per_epoch`` steps, validating after every epoch.

        Raises :class:`TrainingDiverged` on a non-finite loss, without saving the bad state.
        """
        epochs, per_epoch = int(self.cfg.epochs), int(self.cfg.steps_per_epoch)
        total = epochs * per_epoch
        start = int(self.step)
        if start >= total:
            log.info("already trained to step %d of %d", start, total)
            return {}
        self.check_best_metric()
        if self._train_step is None:
            self._train_step = self._build_train_step()
        data = iter(self.distributed_dataset(start))
        every = int(self.tcfg.checkpoint_every)
        budget = float(self.tcfg.get("max_seconds") or 0)
        bar = tqdm(total=total, initial=start, disable=quiet, unit="step", dynamic_ncols=True)
        t0, losses_epoch, last = time.time(), [], {}
        try:
            while int(self.step) < total:
                batch = next(data)
                loss, skipped = self._train_step(*batch)
                loss = float(loss)
                if float(skipped) > 0 and math.isfinite(loss):
                    self.skipped_updates += 1
                    log.warning("step %d: non-finite gradient, update skipped (%d so far)",
                                int(self.step) + 1, self.skipped_updates)  # fmt: skip
                if not math.isfinite(loss):
                    good = self.manager.latest_checkpoint or "none"
                    raise TrainingDiverged(
                        f"loss became {loss} at step {int(self.step) + 1}; stopped. Last good checkpoint: {good}"
                    )
                self.step.assign_add(1)
                step = int(self.step)
                losses_epoch.append(loss)
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4f}", epoch=f"{(step - 1) // per_epoch + 1}/{epochs}")
                if quiet and step % int(self.tcfg.get("log_every", 50)) == 0:
                    rate = (time.time() - t0) / max(step - start, 1)
                    log.info("step %d/%d loss %.4f (%.2f s/step)", step, total, loss, rate)
                if step % every == 0:
                    self.save()
                out_of_time = budget > 0 and self._any_worker(time.time() - t0 >= budget)
                if step % per_epoch == 0 or step == total or out_of_time:
                    last = self._end_of_epoch(step, per_epoch, losses_epoch, time.time() - t0)
                    losses_epoch = []
                if out_of_time:
                    # equal wall-clock budgets make recipes comparable on a shared machine
                    log.info("train.max_seconds=%g reached at step %d", budget, step)
                    break
        finally:
            bar.close()
        if int(self.step) % every:
            self.save()
        self.export("last")
        return last

    def _any_worker(self, flag: bool) -> bool:
        """``flag`` or'ed over the workers of a multi-worker run (else ``flag``): every worker
        must stop at the same step, or the others would wait for it forever in the next one."""
        if not isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return flag
        if self._or_step is None:

            @tf.function
            def or_step(value: tf.Tensor) -> tf.Tensor:
                per_replica = self.strategy.run(tf.identity, args=(value,))
                return self.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

            self._or_step = or_step
        return float(self._or_step(tf.constant(float(flag)))) > 0

    def _end_of_epoch(self, step: int, per_epoch: int, losses_epoch: list[float], seconds: float) -> dict:
        metrics = self.validate()
        row = {
            "epoch": (step - 1) // per_epoch + 1,
            "step": step,
            "train_loss": float(np.mean(losses_epoch)) if losses_epoch else float("nan"),
            "lr": float(self.schedule(self.optimizer.iterations)),
            "seconds": round(seconds, 1),
            **metrics,
        }
        score = metrics[self.best_metric]
        if score > float(self.best_score):
            # best by SI-SDR improvement, not by loss: the loss can fall while the model learns
            # to over-suppress; SI-SDR penalises removed signal and left-in noise alike
            self.best_score.assign(score)
            self.export("best")
        self.save()
        self._log_row(row)
        log.info(
            "epoch %d step %d: train %.4f val %.4f SI-SDRi %.2f dB (low %.2f, high %.2f, recorded %.2f, "
            "synthetic %.2f) energy %.2f dB",
            row["epoch"], step, row["train_loss"], metrics["val_loss"], metrics["val_si_sdr_i"],
            metrics["val_si_sdr_i_low_snr"], metrics["val_si_sdr_i_high_snr"], metrics["val_si_sdr_i_recorded"],
            metrics["val_si_sdr_i_synthetic"], metrics["val_full_band_energy_db"],
        )  # fmt: skip
        return row
