"""Distributed training: ``train.strategy=mirrored`` on two logical CPU devices, and
``train.strategy=multiworker`` with two local worker processes of train.py.

TensorFlow fixes its devices when it starts, so the mirrored runs have a process of their own:
this file run as a script, which splits the CPU in two before anything else.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

REPO = Path(__file__).resolve().parents[1]
# a worker whose partner never answers waits in its first all-reduce for ever: bounded here
TIMEOUT_S = 240
# steps_per_epoch=2 with a checkpoint every 2 steps: one checkpoint and one log row per epoch
COMMON = ["steps_per_epoch=2", "train.checkpoint_every=2", "lr=1e-3"]


def _mirrored_runs(corpus: dict[str, Path], root: Path) -> None:
    """In a fresh process: a single-device run of two epochs, the same run resumed after its
    first epoch on two mirrored devices, and the data both saw; arrays to root/result.npz.

    (Two runs, two train-step traces, the largest part of these tests' time: the mirrored run
    resumes from the single-device run's checkpoint, and its own is read back below.)
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import trainer
    from conftest import compose_config, quick_train_overrides

    # a clipnorm below every step's gradient norm (and each replica's share of it): where the
    # gradients are clipped, the whole batch's or each share alone, changes the weights
    common = [*COMMON, "epochs=2", "train.optimizer.clipnorm=0.05"]

    def make(name: str, extra: list[str] = ()) -> trainer.Trainer:
        return trainer.Trainer(compose_config(quick_train_overrides(corpus, root, [*common, *extra])), root / name)

    single = make("single")
    single.fit(quiet=True)
    saved, stopped = root / "single" / "checkpoints", root / "mirrored" / "checkpoints"
    stopped.mkdir(parents=True)
    for part in saved.glob("ckpt-2.*"):
        shutil.copy(part, stopped / part.name)
    tf.compat.v1.train.update_checkpoint_state(str(stopped), str(stopped / "ckpt-2"))
    mirrored = make("mirrored", ["train.strategy=mirrored"])
    restored = mirrored.restore()
    row = mirrored.fit(quiet=True)
    # the mirrored run's own checkpoint, read by a single-device trainer
    reader = make("reader")
    reader.checkpoint.restore(tf.train.latest_checkpoint(str(stopped))).assert_existing_objects_matched()
    # the data of step 3: per replica for the mirrored run, whole for the single-device one
    noisy = next(iter(mirrored.distributed_dataset(3)))[0].values
    np.savez(
        root / "result.npz",
        replicas=mirrored.strategy.num_replicas_in_sync,
        devices=[v.device for v in noisy],
        restored=restored,
        step=int(mirrored.step),
        train_loss=row["train_loss"],
        reread=int(reader.step),
        replica_batches=np.stack([v.numpy() for v in noisy]),
        single_batch=next(iter(single.train_dataset(3)))[0].numpy(),
        **{f"weights_mirrored_{i}": w.numpy() for i, w in enumerate(mirrored.model.weights)},
        **{f"weights_single_{i}": w.numpy() for i, w in enumerate(single.model.weights)},
        **{f"weights_reread_{i}": w.numpy() for i, w in enumerate(reader.model.weights)},
    )


@pytest.fixture(scope="module")
def mirrored(corpus, tmp_path_factory) -> tuple[Path, dict]:
    """The experiment root of :func:`_mirrored_runs` and its results (one process for all the
    mirrored tests)."""
    root = tmp_path_factory.mktemp("mirrored")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, __file__, json.dumps({k: str(v) for k, v in corpus.items()}), str(root)],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    with np.load(root / "result.npz") as saved:
        return root, dict(saved)


def test_mirrored_run_resumes_on_two_devices(mirrored):
    root, result = mirrored
    assert result["replicas"] == 2 and [d.rsplit(":", 1)[1] for d in result["devices"]] == ["0", "1"]
    assert result["restored"] == 2 and result["step"] == 4 and np.isfinite(result["train_loss"])
    exp = root / "mirrored"
    assert tf.train.latest_checkpoint(str(exp / "checkpoints")).endswith("ckpt-4")
    assert [line.split(",")[1] for line in (exp / "metrics.csv").read_text().splitlines()[1:]] == ["4"]
    assert (exp / "best" / "model.weights.h5").is_file() and (exp / "last" / "model.weights.h5").is_file()
    # what it saved is what it trained
    assert result["reread"] == 4
    for name in (k for k in result if k.startswith("weights_reread_")):
        np.testing.assert_array_equal(result[name], result[name.replace("_reread_", "_mirrored_")])


def test_mirrored_run_trains_as_a_single_device(mirrored):
    """The replicas split each batch and their gradients are summed before clipping, so the
    two mirrored steps end where the single-device ones do."""
    _, result = mirrored
    np.testing.assert_array_equal(np.concatenate(result["replica_batches"]), result["single_batch"])
    names = [k for k in result if k.startswith("weights_single_")]
    assert names
    for name in names:
        np.testing.assert_allclose(result[name.replace("_single_", "_mirrored_")], result[name], rtol=1e-4, atol=1e-5,
                                   err_msg=name)  # fmt: skip


def test_workers_draw_different_examples(corpus, tmp_path):
    """Each worker of a multi-worker run makes its own replicas' share of every global batch:
    their first batches differ and together are the single process's batch, from any step."""
    import trainer
    from conftest import compose_config, quick_train_overrides

    tr = trainer.Trainer(compose_config(quick_train_overrides(corpus, tmp_path, ["batch_size=4"])), tmp_path / "exp")
    for start in (0, 3):
        shares = []
        for worker in (0, 1):
            context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=worker, num_replicas_in_sync=2)
            shares.append(next(iter(tr.train_dataset(start, context)))[0].numpy())
        whole = next(iter(tr.train_dataset(start)))[0].numpy()
        assert shares[0].shape == (2, whole.shape[1])
        assert not np.allclose(shares[0], shares[1])
        np.testing.assert_array_equal(np.concatenate(shares), whole)


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def test_multiworker_trains_and_only_the_chief_writes(corpus, tmp_path):
    """Two train.py workers on the loopback address, each with its own TF_CONFIG, experiments
    root and temporary folder: the chief's root gets the whole experiment folder, the other
    worker's stays empty, and what it saved in its temporary folder is gone."""
    from conftest import quick_train_overrides

    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    workers = []
    for index in (0, 1):
        (tmp_path / f"tmp{index}").mkdir()
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TMPDIR": str(tmp_path / f"tmp{index}"),
               "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}  # fmt: skip
        # with a time budget the workers agree at every step whether to stop (an all-reduce of its own)
        args = quick_train_overrides(corpus, tmp_path / f"root{index}", [*COMMON, "epochs=1", "quiet=true", "experiment=mw",
                                                                       "train.strategy=multiworker", "train.max_seconds=600"])  # fmt: skip
        workers.append(subprocess.Popen([sys.executable, str(REPO / "train.py"), *args], cwd=REPO, env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))  # fmt: skip
    try:
        outputs = [w.communicate(timeout=TIMEOUT_S) for w in workers]
    except subprocess.TimeoutExpired:
        pytest.fail(f"the workers did not finish within {TIMEOUT_S} s")
    finally:
        for w in workers:  # only ours, by their handles
            if w.poll() is None:
                w.kill()
                w.wait()
    for w, (out, err) in zip(workers, outputs):
        assert w.returncode == 0, err[-3000:]
    chief = tmp_path / "root0" / "mw"
    assert sorted(p.name for p in chief.iterdir()) == ["best", "checkpoints", "config.yaml", "last", "metrics.csv", "overrides.yaml",
                                                         "tensorboard"]
    assert tf.train.latest_checkpoint(str(chief / "checkpoints")).endswith("ckpt-2")
    rows = (chief / "metrics.csv").read_text().splitlines()[1:]
    assert [r.split(",")[1] for r in rows] == ["2"] and np.isfinite(float(rows[0].split(",")[2]))
    assert not (tmp_path / "root1").exists()
    assert not [p.name for p in (tmp_path / "tmp1").iterdir() if p.name.startswith("restorer-worker-")]
    # both saw the same all-reduced loss; the chief names its models, the other worker the chief
    assert outputs[0][0].splitlines()[-1].startswith(f"done: best model in {chief / 'best'}")
    assert outputs[1][0].splitlines()[-1].startswith("done: the chief wrote the models")
    epoch_lines = [next(line for line in out.splitlines() if line.startswith("epoch 1 step 2")) for out, _ in outputs]
    assert epoch_lines[0] == epoch_lines[1]


@pytest.mark.parametrize(
    "tf_config, message",
    [
        (None, "TF_CONFIG: not set"),
        ("{cluster", "TF_CONFIG: not valid JSON"),
        ('{"cluster": {"worker": ["a:1"]}}', "TF_CONFIG: expected"),
        ('{"cluster": {"worker": "a:1"}, "task": {"type": "worker", "index": 0}}', "TF_CONFIG: cluster.worker: expected"),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "ps", "index": 0}}', "TF_CONFIG: task.type: expected one of worker"),
        ('{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 2}}', "TF_CONFIG: task.index: expected 0 to 1"),
    ],
)
def test_malformed_tf_config_is_named(monkeypatch, tf_config, message):
    import trainer

    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match=message):
        trainer.is_chief("multiworker", tf_config)
    assert trainer.is_chief("mirrored", tf_config) and trainer.is_chief("default", tf_config)


def test_chief_is_the_chief_task_or_else_worker_0():
    import trainer

    def config(cluster: dict, kind: str, index: int) -> str:
        return json.dumps({"cluster": cluster, "task": {"type": kind, "index": index}})

    workers = {"worker": ["a:1", "b:1"]}
    assert trainer.is_chief("multiworker", config(workers, "worker", 0))
    assert not trainer.is_chief("multiworker", config(workers, "worker", 1))
    with_chief = {"chief": ["c:1"], **workers}
    assert trainer.is_chief("multiworker", config(with_chief, "chief", 0))
    assert not trainer.is_chief("multiworker", config(with_chief, "worker", 0))


def test_train_cli_malformed_tf_config_is_one_line_and_exit_2(corpus, tmp_path):
    from conftest import quick_train_overrides

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TF_CONFIG": '{"cluster": {"worker": ["127.0.0.1:1"]}'}
    args = quick_train_overrides(corpus, tmp_path / "exps", ["epochs=1", "steps_per_epoch=1", "train.strategy=multiworker"])
    result = subprocess.run([sys.executable, str(REPO / "train.py"), *args], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=TIMEOUT_S)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith("error: TF_CONFIG: not valid JSON") and result.stderr.count("\n") == 1, result.stderr
    assert not (tmp_path / "exps").exists()


if __name__ == "__main__":  # the mirrored runs' own process (see the mirrored fixture)
    sys.path[:0] = [str(REPO), str(REPO / "tests")]
    _mirrored_runs({k: Path(v) for k, v in json.loads(sys.argv[1]).items()}, Path(sys.argv[2]))
