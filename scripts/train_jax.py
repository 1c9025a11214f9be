"""Train on a GPU machine that has Keras on JAX and no TensorFlow: pack a run's corpus, then train.

    .venv/bin/python scripts/train_jax.py pack parked_runs/refine1/config.yaml .gpu/pack
    KERAS_BACKEND=jax python3 scripts/train_jax.py train --init parked_runs/refine1 \
        --config parked_runs/refine1/config.yaml --corpus /tmp/pack --out OUT --max-seconds 420

``pack`` (here, with the project's venv) writes the training-side files of a run's config,
never a validation-side or held-out one: a seeded subset of the clean files of each category,
each at most 60 s, as mono Ogg Vorbis, and the training-side recorded-noise files as they are,
within ``--mib`` (by default what a GPU call's 64 MiB leave beside what travels of the repository
and its ``.whl`` folder of wheels). ``train`` (there)
continues ``--init`` (a model folder or a parked run) with the config's dset, noise, loss,
optimiser and ``train.noise_print``, the corpus read from the pack: examples from
``dataset_loader.ExampleMaker`` in a pool of processes, a jit-compiled JAX step around
``model.stateless_call`` with trainer.py's loss and non-finite guard, the STFT of
``unet.WaveformDenoiser``'s ``dft`` transform, mixed bfloat16, a constant learning rate or
(``--lr-final``, ``--decay-steps``) a cosine to a lower one; ``--filters`` first widens ``--init``
to more filters per scale, computing what it computes (``unet.widen_weights``). It
writes OUT/model.weights.h5 and OUT/config.json (a model folder) every ``--save-every``
seconds and at the end, and OUT/log.txt. docs/TRAINING.md, "On a GPU machine without
TensorFlow", has what it measured.
"""
from __future__ import annotations

import argparse
import collections
import dataclasses
import importlib.util
import json
import math
import multiprocessing as mp
import os
import signal
import sys
import time
import types
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import configs  # noqa: E402  (dataclasses and Hydra schemas, no TensorFlow)
import stft  # noqa: E402  (numpy only at import; TensorFlow inside its tf functions)

CLIP_SECONDS = 60.0  # a clean file longer than this is packed as a random minute of it

_MAKER = None


def import_dataset_loader():
    """dataset_loader.py, with a stand-in for TensorFlow where there is none (only its
    ``make_train_dataset`` uses TensorFlow, and this script does not call it)."""
    if "dataset_loader" in sys.modules or importlib.util.find_spec("tensorflow") is not None:
        import dataset_loader

        return dataset_loader
    sys.modules["tensorflow"] = types.ModuleType("tensorflow")
    try:
        import dataset_loader
    finally:
        del sys.modules["tensorflow"]  # Keras must not take the stand-in for TensorFlow
    return dataset_loader


def recipe(config: dict, corpus: Path, auto_share: float | None = None) -> dict:
    """The run's sections with every folder read from the pack ``corpus``: ``{"dset", "noise",
    "print" (None for an unconditioned model), "model", "train"}``. No file is held out there:
    the pack holds training-side files only."""
    dset, noise = json.loads(json.dumps(config["dset"])), json.loads(json.dumps(config["noise"]))
    for name, entry in dset["categories"].items():
        entry["dirs"] = [str(corpus / name)]
    dset["validation_fraction"] = 0.0
    dset["preload"] = False
    if float(noise.get("recorded_share") or 0.0) > 0:
        noise["recorded_dirs"] = [str(corpus / "noise")]
    noise["recorded_validation_fraction"] = 0.0
    m = config["model"]
    pc = None
    if str(m.get("conditioning") or "none") != "none":
        # the defaults filled in (an older run's config lacks the newer keys), so that the log and
        # args.json record the settings the examples are really made with
        pc = {**dataclasses.asdict(configs.NoisePrintConfig()), **(config["train"].get("noise_print") or {})}
        if auto_share is not None:
            pc["auto_share"] = float(auto_share)
        pc.update(sample_rate=int(m["sample_rate"]), n_fft=int(m["n_fft"]), hop=int(m["hop_length"]),
                  statistics=str(m.get("print_statistics") or "mean"))  # fmt: skip
    return {"dset": dset, "noise": noise, "print": pc, "model": m, "train": config["train"]}


CALL_MIB = 64.0  # what one GPU call carries: the working tree and the carried folders together


def room_left_mib(root: Path, carried: tuple[str, ...] = (".whl",), margin: float = 1.0) -> float:
    """MiB a pack may take in one GPU call: ``CALL_MIB`` less what travels of the repository
    (tracked files and untracked ones git does not ignore), the ``carried`` folders (the
    wheels) and ``margin``; below 0 where nothing fits."""
    import subprocess

    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=root, capture_output=True)  # fmt: skip
    if listed.returncode != 0:
        raise ValueError(f"{root} is not a git checkout (git ls-files failed): give --mib")
    names = listed.stdout.split(b"\0")
    used = sum((root / n.decode()).stat().st_size for n in names if n and (root / n.decode()).is_file())
    for folder in carried:
        used += sum(f.stat().st_size for f in (root / folder).rglob("*") if f.is_file())
    return CALL_MIB - used / 2**20 - margin


def pack(config: dict, out: Path, mib: float, seed: int = 7) -> dict[str, tuple[int, float]]:
    """Write the pack; returns ``{folder: (files, MiB)}``. The recorded noise's training-side
    files go first (whole, in name order, those that fit in half the budget); the rest is
    shared equally by the clean categories, each of which gets at least one file."""
    import shutil
    import warnings

    import soundfile as sf

    import recorded_noise

    dl = import_dataset_loader()
    sr = int(config["model"]["sample_rate"])
    out.mkdir(parents=True, exist_ok=True)
    budget, written = mib * 2**20, {}
    noise = config["noise"]
    if float(noise.get("recorded_share") or 0.0) > 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kept, _ = recorded_noise.load_recorded_noise(noise["recorded_dirs"], sr, "train",
                                                         float(noise.get("recorded_validation_fraction") or 0.0))  # fmt: skip
        (out / "noise").mkdir(exist_ok=True)
        size = 0
        for f in sorted(kept, key=lambda p: p.name):
            if size + f.stat().st_size > budget / 2:
                continue
            shutil.copy(f, out / "noise" / f.name)
            size += f.stat().st_size
        written["noise"] = (len(list((out / "noise").iterdir())), size / 2**20)
        budget -= size
    corpus = dl.CleanCorpus(config["dset"], sr, "train")
    rng = np.random.default_rng(seed)
    share = budget / len(corpus.categories)
    for name in corpus.categories:
        folder = out / name
        folder.mkdir(exist_ok=True)
        size, count = 0, 0
        for i in rng.permutation(len(corpus.files[name])):
            audio = corpus.load(corpus.files[name][i])
            if audio is None:
                continue
            limit = int(CLIP_SECONDS * sr)
            if len(audio) > limit:
                start = int(rng.integers(0, len(audio) - limit))
                audio = audio[start : start + limit]
            path = folder / f"{count:04d}.ogg"
            with sf.SoundFile(path, "w", sr, 1, format="OGG", subtype="VORBIS") as fh:
                for s in range(0, len(audio), 32768):  # libsndfile's Vorbis writer fails on long single writes
                    fh.write(audio[s : s + 32768])
            if size + path.stat().st_size > share and count:
                path.unlink()
                break
            size += path.stat().st_size
            count += 1
        written[name] = (count, size / 2**20)
    return written


def _init_worker(rec: dict, segment: int, seed: int) -> None:
    global _MAKER
    import warnings

    if mp.current_process().name != "MainProcess":
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent saves, then ends the pool
    warnings.filterwarnings("ignore")
    dl = import_dataset_loader()
    sr = int(rec["model"]["sample_rate"])
    corpus = dl.CleanCorpus(rec["dset"], sr, "train")
    _MAKER = dl.ExampleMaker(corpus, dl._noise_source(rec["noise"], sr, "train"), rec["noise"], rec["dset"], segment, seed,
                             print_cfg=rec["print"])  # fmt: skip


def make_example(index: int) -> tuple[np.ndarray, ...]:
    """Training example ``index``: ``(noisy, clean[, noise power])`` float32."""
    return tuple(np.asarray(a, np.float32) for a in _MAKER.train_example(index))


class Batches:
    """Batches ``start_step, start_step + 1, ...`` made by a pool of processes, in order."""

    def __init__(self, rec: dict, segment: int, seed: int, batch: int, workers: int, start_step: int) -> None:
        self.pool = mp.get_context("spawn").Pool(workers, _init_worker, (rec, segment, seed))
        self.batch, self.next_index = batch, start_step * batch
        self.pending: collections.deque = collections.deque()
        self.depth = max(6 * batch, 4 * workers)
        self._fill()

    def _fill(self) -> None:
        while len(self.pending) < self.depth:
            self.pending.append(self.pool.apply_async(make_example, (self.next_index,)))
            self.next_index += 1

    def next(self) -> tuple[np.ndarray, ...]:
        items = [self.pending.popleft().get(600) for _ in range(self.batch)]
        self._fill()
        return tuple(np.stack(p) for p in zip(*items))

    def fixed(self, first: int, n: int) -> tuple[np.ndarray, ...]:
        items = self.pool.map(make_example, range(first, first + n))
        return tuple(np.stack(p) for p in zip(*items))

    def close(self) -> None:
        self.pool.terminate()
        self.pool.join()


def load_start(folder: Path):
    """``(model, model config)`` from a model folder or a parked run."""
    import parking
    import unet

    if (folder / parking.INFO_FILE).is_file():
        return parking.load_parked_model(folder)
    return unet.load_denoiser(folder)


def widened(model, model_cfg: dict, filters: list[int], log=print):
    """``(model, config)`` with ``filters`` per scale, computing what ``model`` computes
    (``unet.widen_weights``: the new filters start silent): a larger model that starts where a
    trained one stands, rather than from scratch."""
    import unet

    if len(filters) != len(model_cfg["filters"]) or any(a < b for a, b in zip(filters, model_cfg["filters"])):
        raise SystemExit(f"--filters {list(filters)}: needs one entry per scale, none below {model_cfg['filters']}")
    cfg = unet.model_config({**model_cfg, "filters": list(filters)})
    wide = unet.build_model(cfg)
    names = unet.widen_weights(model, wide)
    log(f"widened {model_cfg['filters']} -> {cfg['filters']}: {len(names)} layers, "
        f"{model.count_params():,} -> {wide.count_params():,} parameters")  # fmt: skip
    return wide, cfg


def learning_rate(lr: float, lr_final: float | None = None, decay_steps: int = 0):
    """The optimiser's learning rate: ``lr`` throughout, or, with ``lr_final``, a cosine from
    ``lr`` to ``lr_final`` over ``decay_steps`` steps and ``lr_final`` after (an annealed
    continuation, as refine4's on the CPU: the rate's fall is what gained there)."""
    if lr <= 0:
        raise ValueError(f"--lr must be above 0, got {lr}")
    if lr_final is None:
        return lr
    if not 0 < lr_final <= lr or decay_steps < 1:
        raise ValueError(f"--lr-final needs 0 < lr-final <= lr and --decay-steps >= 1, got {lr_final}, {decay_steps}")
    import keras

    return keras.optimizers.schedules.CosineDecay(lr, decay_steps, alpha=lr_final / lr)


def train(args: argparse.Namespace) -> int:
    args.out.mkdir(parents=True, exist_ok=True)
    logf = open(args.out / "log.txt", "a")

    def log(msg: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, flush=True)
        logf.write(line + "\n")
        logf.flush()

    rec = recipe(yaml.safe_load(args.config.read_text()), args.corpus.resolve(), args.auto_share)
    tc, m = rec["train"], rec["model"]
    n_fft, hop = int(m["n_fft"]), int(m["hop_length"])
    segment = stft.samples_for_frames(args.segment_frames, n_fft, hop)
    log(f"args {vars(args)}; segment {segment} samples; noise_print {rec['print']}")
    t_pool = time.time()
    # one example in this process first: a bad folder or setting fails here, at once, rather
    # than in pool workers that multiprocessing would start again for ever
    _init_worker(rec, segment, args.seed)
    log(f"example check: shapes {[a.shape for a in make_example(0)]} in {time.time() - t_pool:.0f} s")
    data = Batches(rec, segment, args.seed, args.batch, args.workers, args.start_step)
    probe = data.fixed(2**40, args.probe) if args.probe else None

    import jax
    import jax.numpy as jnp
    import keras
    from keras import ops

    import losses
    import unet

    if keras.backend.backend() != "jax":
        raise SystemExit(f"train needs KERAS_BACKEND=jax, got {keras.backend.backend()}")
    log(f"keras {keras.__version__}, jax {jax.__version__}, {jax.devices()}")
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    keras.utils.set_random_seed(args.seed)
    model, model_cfg = load_start(args.init)
    if model_cfg["conditioning"] != str(m.get("conditioning") or "none"):
        raise SystemExit(f"{args.init} is a {model_cfg['conditioning']} model; the config's is {m.get('conditioning')}")
    if str(model_cfg.get("print_statistics") or "mean") != str(m.get("print_statistics") or "mean"):
        raise SystemExit(f"{args.init} is told the {model_cfg.get('print_statistics') or 'mean'} of its print; "
                         f"the config's model the {m.get('print_statistics') or 'mean'}")  # fmt: skip
    if args.filters:
        model, model_cfg = widened(model, model_cfg, args.filters, log)
    conditioned = model_cfg["conditioning"] != "none"
    den = unet.WaveformDenoiser(model, model_cfg, transform="dft")
    log(f"{model.name}: {model.count_params():,} parameters from {args.init}")
    lc, o = tc["loss"], tc["optimizer"]
    opt = keras.optimizers.Adam(learning_rate=learning_rate(args.lr, args.lr_final, args.decay_steps),
                                beta_1=o["beta_1"], beta_2=o["beta_2"], global_clipnorm=o["clipnorm"])
    opt.build(model.trainable_variables)

    def loss_fn(tv, ntv, noisy, clean, *power, training=True):  # Trainer.compute_loss
        spec, y = den.analyse(noisy), den.analyse(clean)
        outputs, ntv = model.stateless_call(tv, ntv, [spec, *power] if conditioned else spec, training=training)
        est = unet.stage_outputs(outputs)
        total = float(lc["mae_weight"]) * losses.two_stage_mae(y, est, float(lc["stage1_weight"]))
        restored = den.synthesise(est[-1], noisy.shape[-1])
        if float(lc.get("sisdr_weight", 0.0)):
            total = total + float(lc["sisdr_weight"]) * losses.negative_si_sdr(restored, clean)
        return total, (ntv, restored)

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    def train_step(state, *batch):
        tv, ntv, ov = state
        (loss, (ntv, _)), grads = grad_fn(tv, ntv, *batch)
        # as trainer.py: a non-finite gradient is zeroed (the update skipped), not applied
        finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(g)) for g in grads]))
        grads = [jnp.where(finite, g, 0.0) for g in grads]
        tv, ov = opt.stateless_apply(ov, grads, tv)
        return (tv, ntv, ov), loss, 1.0 - finite.astype("float32")

    train_step = jax.jit(train_step, donate_argnums=0)

    @jax.jit
    def eval_fn(tv, ntv, noisy, clean, *power):
        loss, (_, restored) = loss_fn(tv, ntv, noisy, clean, *power, training=False)
        return loss, ops.mean(losses.si_sdr(restored, clean) - losses.si_sdr(noisy, clean))

    state = ([v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables],
             [v.value for v in opt.variables])  # fmt: skip

    def probe_text() -> str:
        if probe is None:
            return ""
        res = [eval_fn(state[0], state[1], *(p[i : i + args.batch] for p in probe)) for i in range(0, args.probe, args.batch)]
        return f"; probe loss {np.mean([float(r[0]) for r in res]):.4f} SI-SDRi {np.mean([float(r[1]) for r in res]):.2f} dB"

    step = args.start_step

    def save(tag: str) -> None:
        tv, ntv = jax.device_get((state[0], state[1]))
        for v, a in zip(model.trainable_variables, tv):
            v.assign(np.asarray(a))
        for v, a in zip(model.non_trainable_variables, ntv):
            v.assign(np.asarray(a))
        unet.save_denoiser(model, model_cfg, args.out)
        log(f"saved {args.out} ({tag}, step {step}){probe_text()}")

    stop: dict = {"why": None}
    signal.signal(signal.SIGTERM, lambda s, f: stop.update(why="SIGTERM"))
    signal.signal(signal.SIGINT, lambda s, f: stop.update(why="SIGINT"))
    log(f"start{probe_text()}; pool and model ready in {time.time() - t_pool:.0f} s")
    t0 = last_log = last_save = time.time()
    in_flight: collections.deque = collections.deque()

    def new_window() -> dict:
        return {"n": 0, "loss": 0.0, "wait": 0.0, "skipped": 0.0}

    win, first = new_window(), True
    while stop["why"] is None and time.time() - t0 < args.max_seconds:
        tw = time.time()
        batch = [jax.device_put(a) for a in data.next()]
        win["wait"] += time.time() - tw
        state, loss, skipped = train_step(state, *batch)
        in_flight.append((loss, skipped))
        step += 1
        while len(in_flight) > (0 if first else 2):  # the device stays at most two steps ahead
            lv, sk = (float(v) for v in in_flight.popleft())
            if not math.isfinite(lv):
                log(f"non-finite loss at step {step}; stopped without saving (the last save is kept)")
                data.close()
                return 1
            win["loss"] += lv
            win["n"] += 1
            win["skipped"] += sk
        now = time.time()
        if first:
            log(f"first step (compile) {now - t0:.0f} s")
            first, last_log, last_save, win = False, now, now, new_window()
            continue
        if now - last_log >= args.log_every:
            dt = now - last_log
            log(f"step {step} loss {win['loss'] / max(win['n'], 1):.4f} {win['n'] / dt:.2f} steps/s "
                f"data-wait {100 * win['wait'] / dt:.0f}% skipped {int(win['skipped'])} elapsed {now - t0:.0f} s")  # fmt: skip
            last_log, win = now, new_window()
        if now - last_save >= args.save_every and now - t0 < args.max_seconds - 30:
            save("periodic")
            last_save = time.time()
    data.close()
    log(f"stopping at step {step}: {stop['why'] or 'time budget reached'}; {step - args.start_step} steps "
        f"x {args.batch} examples in {time.time() - t0:.0f} s")  # fmt: skip
    save("final")
    (args.out / "args.json").write_text(json.dumps({**{k: str(v) for k, v in vars(args).items()}, "final_step": step,
                                                    "noise_print": rec["print"]}, indent=1))  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="the training-side files of a run's config, within a size")
    p.add_argument("config", type=Path, help="a run's config.yaml")
    p.add_argument("out", type=Path)
    p.add_argument("--mib", type=float, default=None,
                   help="default: what a GPU call's 64 MiB leave beside the repository and .whl")
    p.add_argument("--seed", type=int, default=7)
    t = sub.add_parser("train", help="continue a model on Keras/JAX from a pack")
    t.add_argument("--init", type=Path, required=True, help="a model folder or a parked run")
    t.add_argument("--config", type=Path, required=True, help="the run's config.yaml (dset, noise, train)")
    t.add_argument("--corpus", type=Path, required=True, help="a folder written by pack")
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--max-seconds", type=float, required=True, help="from the first step, compile included")
    t.add_argument("--batch", type=int, default=16)
    t.add_argument("--segment-frames", type=int, default=96)
    t.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 2))
    t.add_argument("--lr", type=float, default=1e-4)
    t.add_argument("--lr-final", type=float, default=None, help="a cosine from --lr to this over --decay-steps")
    t.add_argument("--decay-steps", type=int, default=0)
    t.add_argument("--auto-share", type=float, default=None, help="default: the config's train.noise_print.auto_share")
    t.add_argument("--seed", type=int, default=1)
    t.add_argument("--filters", type=int, nargs="+", default=None,
                   help="widen --init to these filters per scale first (unet.widen_weights), e.g. 24 48 48 96 80")
    t.add_argument("--start-step", type=int, default=0, help="first batch index (which examples)")
    t.add_argument("--probe", type=int, default=32, help="fixed examples scored at each save (0: none)")
    t.add_argument("--save-every", type=float, default=120.0)
    t.add_argument("--log-every", type=float, default=20.0)
    args = parser.parse_args(argv)
    if args.command == "pack":
        config = yaml.safe_load(args.config.read_text())
        mib = args.mib
        if mib is None:
            try:
                mib = room_left_mib(Path(__file__).resolve().parents[1])
            except (ValueError, OSError) as e:
                print(f"error: {e}", file=sys.stderr)
                return 2
            if mib < 1:
                print(f"error: the repository and .whl leave {mib:.1f} MiB of a GPU call's {CALL_MIB:.0f}; "
                      "give --mib for a pack carried otherwise", file=sys.stderr)  # fmt: skip
                return 2
            print(f"pack budget {mib:.1f} MiB: what a GPU call's {CALL_MIB:.0f} MiB leave beside the repository and .whl")
        for name, (count, size) in pack(config, args.out, mib, args.seed).items():
            print(f"{name}: {count} files, {size:.1f} MiB")
        return 0
    try:
        learning_rate(args.lr, args.lr_final, args.decay_steps)
    except ValueError as e:
        parser.error(str(e))
    return train(args)


if __name__ == "__main__":
    sys.exit(main())
