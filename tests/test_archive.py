"""archive.py: the Beam pipeline over a small archive on the local runner with two workers
(outputs as inference.py writes them, the manifest, bad files, reruns and resuming), and its
arguments. The micro untrained model keeps it fast; its output differs from its input, so
equal outputs mean the same computation."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from omegaconf import OmegaConf

import archive
import baselines
import configs
import inference
import manifest as bookkeeping  # the module; manifest() below reads a run's manifest
import noise_print

REPO_ROOT = Path(__file__).resolve().parent.parent
STRENGTH = 0.7
# short segments, so that files of up to a second are cut and joined as long ones are
RESTORING = {"denoising_strength": STRENGTH, "segment_seconds": 0.6, "overlap_seconds": 0.2, "precision": "float32", "quiet": True}
# (relative path, seconds, rate, channels, subtype, format)
GOOD = [
    ("a.wav", 0.3, 8000, 1, "PCM_16", "WAV"),
    ("b.wav", 1.0, 16000, 2, "FLOAT", "WAV"),
    ("c.flac", 0.7, 22050, 1, "PCM_24", "FLAC"),
    ("d.ogg", 0.5, 16000, 1, "VORBIS", "OGG"),
    ("e.wav", 0.4, 44100, 1, "PCM_24", "WAV"),
    ("reel1/f.wav", 0.8, 8000, 2, "PCM_16", "WAV"),
    ("reel1/g.flac", 0.3, 16000, 2, "PCM_16", "FLAC"),
    ("reel1/h.wav", 0.6, 11025, 1, "PCM_32", "WAV"),
    ("reel1/side b/i.wav", 0.5, 8000, 1, "FLOAT", "WAV"),
    ("reel1/side b/j.flac", 0.9, 22050, 1, "PCM_16", "FLAC"),
    ("reel1/side b/k.aiff", 0.4, 16000, 1, "PCM_16", "AIFF"),
    ("reel2/l.wav", 0.3, 44100, 2, "PCM_16", "WAV"),
    ("reel2/m.wav", 1.0, 8000, 1, "PCM_16", "WAV"),
    ("reel2/n.flac", 0.5, 16000, 1, "PCM_24", "FLAC"),
    ("reel2/deep/o.wav", 0.7, 16000, 1, "PCM_16", "WAV"),
    ("reel2/deep/p.wav", 0.35, 22050, 2, "FLOAT", "WAV"),
    ("take.ogg", 0.3, 8000, 1, "VORBIS", "OGG"),
]
BAD = {  # relative path -> what its one-line error says
    "corrupt.wav": "cannot be read as audio",
    "reel1/notes.wav": "cannot be read as audio",
    "reel2/empty.flac": "cannot be read as audio",
    "reel2/noise.mp3": "cannot be read as audio",
    "take.wav": "same names as those of",  # take.ogg comes first and gives the same output names
}


def sha256(path: Path | str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def make_archive(folder: Path) -> None:
    rng = np.random.default_rng(7)
    for i, (rel, seconds, rate, channels, subtype, fmt) in enumerate(GOOD):
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        t = np.arange(int(seconds * rate)) / rate
        x = np.stack([0.3 * np.sin(2 * np.pi * (150 + 70 * i + 40 * c) * t) + 0.03 * rng.standard_normal(len(t)) for c in range(channels)], 1)
        sf.write(str(path), x, rate, subtype=subtype, format=fmt)
    good = (folder / "a.wav").read_bytes()
    (folder / "corrupt.wav").write_bytes(good[:40])  # a header cut off before the data
    (folder / "reel1" / "notes.wav").write_text("a transfer note, not audio\n")
    (folder / "reel2" / "empty.flac").write_bytes(b"")
    (folder / "reel2" / "noise.mp3").write_bytes(rng.bytes(3000))
    shutil.copy(folder / "a.wav", folder / "take.wav")
    (folder / "reel1" / "readme.txt").write_text("not an audio name: never matched")
    shutil.copy(folder / "a.wav", folder / "reel2" / ".hidden.wav")
    shutil.copy(folder / "a.wav", folder / "a_denoised_s10.wav")  # an earlier inference.py output


def archive_args(reels: Path, out: Path, checkpoint: Path, **extra) -> list[str]:
    args = [f"archive.input={reels}", f"archive.output_dir={out}", f"inference.checkpoint={checkpoint}", "archive.workers=2"]
    args += [f"inference.{k}={v}" for k, v in RESTORING.items()]
    return args + [f"{k}={v}" for k, v in extra.items()]


def compose(args: list[str]) -> OmegaConf:
    from hydra import compose as hydra_compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
        return hydra_compose("conf", overrides=args)


def run_in_process(capsys, args: list[str]) -> tuple[int, list[str], list[str]]:
    code = archive.run(compose(args))
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), [line for line in captured.err.splitlines() if line.strip()]


def manifest(out: Path) -> dict[str, dict]:
    entries = bookkeeping.read_manifest(str(out))
    assert len(entries) == len({e["input"] for e in entries}), "one entry per input and strength"
    return {str(Path(e["input"]).relative_to(e["input"].split("/reels/")[0] + "/reels")): e for e in entries}


def without_peak_time(data: bytes) -> bytes:
    """A file's bytes with the time stamp of a WAV's PEAK chunk zeroed: libsndfile writes the
    current time there in float WAVs, so two runs of inference.py differ in those 4 bytes too."""
    i = data.find(b"PEAK", 12, 512)
    return data if i < 0 else data[: i + 12] + bytes(4) + data[i + 16 :]


def outputs_of(out: Path) -> dict[str, float]:
    """Output file -> modification time (a rewritten file gets a new one)."""
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and p.name != bookkeeping.MANIFEST_NAME}


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, micro_checkpoint):
    """The command, as a user runs it, over the archive: (reels, out, checkpoint, process)."""
    root = tmp_path_factory.mktemp("archive")
    reels, out = root / "reels", root / "restored"
    make_archive(reels)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYDRA_")}
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "archive.py"), *archive_args(reels, out, micro_checkpoint)],
                          cwd=root, capture_output=True, text=True, timeout=400, env=env)  # fmt: skip
    return reels, out, micro_checkpoint, proc


def expected_outputs() -> set[str]:
    names = set()
    for rel, *_ in GOOD:
        stem, ext = os.path.splitext(rel)
        ext = ".flac" if ext == ".flac" else ".wav"
        names |= {f"{stem}_denoised_s7{ext}", f"{stem}_residual_s7{ext}"}
    return names


def test_pipeline_restores_the_archive_and_records_bad_files(first_run):
    reels, out, _, proc = first_run
    assert proc.returncode == 1, proc.stderr  # some files failed
    assert "Traceback" not in proc.stderr
    errors = proc.stderr.splitlines()
    assert len(errors) == len(BAD) and all(line.startswith("error: ") for line in errors), proc.stderr
    for rel, problem in BAD.items():
        assert any(line.startswith(f"error: {reels / rel}: ") and problem in line for line in errors), (rel, errors)
    assert proc.stdout.splitlines()[-1] == (
        f"archive: {len(GOOD)} restored, 0 skipped, {len(BAD)} failed of {len(GOOD) + len(BAD)} files; manifest: {out / 'manifest.jsonl'}"
    )
    # outputs mirror the subfolders; nothing else is left (no .part files, no per-file records)
    assert set(outputs_of(out)) == expected_outputs()
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []
    for rel, seconds, rate, channels, subtype, fmt in GOOD:
        stem = os.path.splitext(rel)[0]
        (denoised,) = out.glob(f"{stem}_denoised_s7.*")
        info = sf.info(str(denoised))
        assert (info.frames, info.samplerate, info.channels) == (int(seconds * rate), rate, channels), rel


def test_outputs_are_those_of_inference_py_bit_for_bit(first_run, tmp_path, capsys):
    reels, out, checkpoint, _ = first_run
    cfg = OmegaConf.create(dataclasses.asdict(configs.InferenceConfig()))
    for key, value in {**RESTORING, "audio": str(reels), "output_dir": str(tmp_path), "checkpoint": str(checkpoint)}.items():
        cfg[key] = value
    assert inference.run(cfg) == 1  # the same bad files
    capsys.readouterr()
    reference = outputs_of(tmp_path)
    assert set(reference) == set(outputs_of(out)) == expected_outputs()
    different = [name for name in reference if without_peak_time((tmp_path / name).read_bytes()) != without_peak_time((out / name).read_bytes())]
    assert different == []
    assert sum((tmp_path / name).read_bytes() == (out / name).read_bytes() for name in reference) >= 10  # the integer formats, whole


def test_manifest_records_provenance_and_hashes(first_run):
    reels, out, checkpoint, _ = first_run
    entries = manifest(out)
    assert set(entries) == {rel for rel, *_ in GOOD} | set(BAD)
    weights = sha256(checkpoint / "model.weights.h5")
    for rel, seconds, rate, channels, *_ in GOOD:
        e = entries[rel]
        source = reels / rel
        assert e["status"] == "restored" and e["error"] is None, e
        assert e["input"] == str(source) and e["size"] == source.stat().st_size and e["sha256"] == sha256(source)
        assert (e["duration"], e["rate"], e["channels"]) == (pytest.approx(int(seconds * rate) / rate), rate, channels)
        assert e["model"] == str(checkpoint.resolve()) and e["weights_sha256"] == weights
        assert e["strength"] == STRENGTH and e["noise_print"] is None and e["noise_print_used"] is False
        assert set(e["outputs"]) == {"denoised", "residual"}
        for kind, path in e["outputs"].items():
            assert Path(path).parent == out / Path(rel).parent and e["output_sha256"][kind] == sha256(path)
        assert e["seconds"] > 0
    for rel, problem in BAD.items():
        e = entries[rel]
        assert e["status"] == "failed" and e["outputs"] == {} and e["duration"] is None
        assert e["error"].startswith(f"{reels / rel}: ") and problem in e["error"] and "\n" not in e["error"]
        assert e["size"] == (reels / rel).stat().st_size and e["sha256"] == sha256(reels / rel)
    assert len({e["run"] for e in entries.values()}) == 1


def test_rerun_skips_every_restored_file(first_run, capsys):
    reels, out, checkpoint, _ = first_run
    before = outputs_of(out)
    code, stdout, stderr = run_in_process(capsys, archive_args(reels, out, checkpoint))
    assert code == 1 and len(stderr) == len(BAD)  # the bad files are tried again, and fail again
    assert stdout[-1].startswith(f"archive: 0 restored, {len(GOOD)} skipped, {len(BAD)} failed")
    assert outputs_of(out) == before  # not one output rewritten
    entries = manifest(out)
    assert {e["status"] for rel, e in entries.items() if rel not in BAD} == {"skipped"}
    assert all(e["output_sha256"]["denoised"] == sha256(e["outputs"]["denoised"]) for rel, e in entries.items() if rel not in BAD)


def test_an_interrupted_run_resumes_with_only_the_missing_files(first_run, capsys):
    """What a run stopped part-way leaves: some files without outputs or entries, a record
    not yet merged into the manifest, an output damaged after it was recorded."""
    reels, out, checkpoint, _ = first_run
    entries = manifest(out)
    (out / "a_denoised_s7.wav").unlink()  # outputs gone, entry still there
    (out / "reel2" / "deep" / "o_residual_s7.wav").unlink()
    Path(entries["reel1/f.wav"]["outputs"]["residual"]).write_bytes(b"damaged")  # no longer the recorded output
    gone = {"b.wav", "reel1/side b/j.flac"}  # not recorded: restored again, over outputs of unknown origin
    unmerged = "reel2/m.wav"  # recorded by a worker of the stopped run, not merged yet
    (out / bookkeeping.RECORDS_DIR).mkdir()
    (out / bookkeeping.RECORDS_DIR / "m.json").write_text(json.dumps(entries[unmerged]) + "\n")
    (out / bookkeeping.RECORDS_DIR / "cut.json").write_text('{"input": "' + str(reels / "a.wav"))  # a crash mid-write
    kept = [e for rel, e in entries.items() if rel not in gone | {unmerged}]
    (out / bookkeeping.MANIFEST_NAME).write_text("".join(json.dumps(e) + "\n" for e in kept))
    before = outputs_of(out)

    code, stdout, stderr = run_in_process(capsys, archive_args(reels, out, checkpoint))
    redone = {"a.wav", "reel2/deep/o.wav", "reel1/f.wav"} | gone
    assert code == 1 and len(stderr) == len(BAD), stderr
    assert stdout[-1].startswith(f"archive: {len(redone)} restored, {len(GOOD) - len(redone)} skipped, {len(BAD)} failed")
    after = manifest(out)
    assert {rel for rel, e in after.items() if e["status"] == "restored"} == redone
    assert after[unmerged]["status"] == "skipped"
    assert not (out / bookkeeping.RECORDS_DIR).exists()
    rewritten = {name for name, stamp in outputs_of(out).items() if before.get(name) != stamp}
    assert {str(Path(n).parent / Path(n).name.split("_")[0]) for n in rewritten} == {str(Path(r).with_suffix("")) for r in redone}
    for rel, e in after.items():
        for kind, path in e["outputs"].items():
            assert e["output_sha256"][kind] == sha256(path), rel


def test_a_run_stopped_part_way_leaves_a_readable_manifest(tmp_path, micro_checkpoint):
    """SIGTERM (as Ctrl-C) while files are being restored: exit 130, the files finished so far
    are in the manifest with their outputs, the one stopped leaves nothing behind."""
    reels, out = tmp_path / "reels", tmp_path / "restored"
    reels.mkdir()
    t = np.arange(int(1.5 * 44100)) / 44100
    for i in range(20):
        sf.write(str(reels / f"side{i:02d}.wav"), 0.3 * np.sin(2 * np.pi * (200 + 10 * i) * t), 44100, subtype="PCM_16")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYDRA_")}
    args = archive_args(reels, out, micro_checkpoint, **{"archive.workers": 1, "archive.running_mode": "in_memory"})
    proc = subprocess.Popen([sys.executable, str(REPO_ROOT / "archive.py"), *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    records = out / bookkeeping.RECORDS_DIR
    deadline = time.monotonic() + 240
    while not (records.is_dir() and any(records.glob("*.json"))) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, (stdout, stderr)
    assert f"error: {reels}: interrupted; run the same command again to restore the rest" in stderr.splitlines()
    assert "Traceback" not in stderr
    entries = bookkeeping.read_manifest(str(out))
    assert 1 <= len(entries) < 20 and {e["status"] for e in entries} == {"restored"}
    assert not records.exists()
    written = set()
    for e in entries:
        for kind, path in e["outputs"].items():
            assert e["output_sha256"][kind] == sha256(path)
            written.add(Path(path).name)
    # the file stopped leaves no .part; stopped between its outputs' rename and its record, it
    # leaves both outputs, which the next run restores again (they have no matching entry)
    extra = {p.name for p in out.iterdir()} - written - {bookkeeping.MANIFEST_NAME}
    assert extra == set() or (len(extra) == 2 and len({n.split("_")[0] for n in extra}) == 1), extra


# --------------------------------------------------------------------------- arguments


def test_bad_arguments_exit_2_with_one_line_and_touch_nothing(tmp_path, micro_checkpoint, capsys):
    src = tmp_path / "in"
    src.mkdir()
    sf.write(str(src / "a.wav"), np.zeros(800), 8000)
    out = tmp_path / "out"
    ck = f"inference.checkpoint={micro_checkpoint}"
    for args, problem in [
        ([f"archive.output_dir={out}"], "archive.input: missing"),
        ([f"archive.input={src}"], "archive.output_dir: missing"),
        ([f"archive.input={tmp_path / 'nowhere'}", f"archive.output_dir={out}"], "no such file, folder or pattern"),
        ([f"archive.input={src}", f"archive.output_dir={out}", "archive.workers=0"], "at least 1"),
        ([f"archive.input={src}", f"archive.output_dir={out}", "archive.running_mode=threads"], "multi_processing"),
        ([f"archive.input={src}", f"archive.output_dir={out}", "+archive.worker=3"], "archive.worker: unknown option"),
        ([f"archive.input={src}", f"archive.output_dir={out}", "archive.beam_options=['runner=Flink']"], "Beam flags"),
        ([f"archive.input={src}", f"archive.output_dir={out}", "inference.denoising_strength=1.5"], "between 0.0 and 1.0"),
        ([f"archive.input={src}", f"archive.output_dir={src / 'a.wav'}"], "is a file, not a folder"),
        ([f"archive.input={src}", f"archive.output_dir={out}", f"inference.no_print_models=[{micro_checkpoint}]"],
         "restores with one model"),
        ([f"archive.input={src}", f"archive.output_dir={out}", f"inference.print_models=[{micro_checkpoint}]"],
         "average others told the print"),
        ([f"archive.input={src}", f"archive.output_dir={out}", f"inference.auto_models=[{micro_checkpoint}]"],
         "others beside auto's print"),
    ]:
        code, stdout, stderr = run_in_process(capsys, [*args, ck])
        assert code == 2, args
        assert len(stderr) == 1 and stderr[0].startswith("error: ") and problem in stderr[0], (args, stderr)
    code, _, stderr = run_in_process(capsys, [f"archive.input={src}", f"archive.output_dir={out}", f"inference.checkpoint={tmp_path}"])
    assert code == 1 and len(stderr) == 1 and "model.weights.h5" in stderr[0], stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_output_names_mirror_folders_on_any_file_system(tmp_path):
    """Remote paths get the names inference.py gives local ones."""
    local = bookkeeping.output_names(str(tmp_path / "in" / "r1" / "x.mp3"), 0.72, str(tmp_path / "out"), str(tmp_path / "in"))
    assert local == {"denoised": str(tmp_path / "out" / "r1" / "x_denoised_s7p2.wav"),
                     "residual": str(tmp_path / "out" / "r1" / "x_residual_s7p2.wav")}  # fmt: skip
    remote = bookkeeping.output_names("gs://b/in/r1/x.flac", 1.0, "gs://b/out", "gs://b/in", plot=True)
    assert remote == {"denoised": "gs://b/out/r1/x_denoised_s10.flac", "residual": "gs://b/out/r1/x_residual_s10.flac",
                      "plot": "gs://b/out/r1/x_spectrograms_s10.png"}  # fmt: skip
    assert bookkeeping.plan_input(archive.archive_settings({"input": "gs://b/in/**/*.wav", "output_dir": "gs://b/out"}))[1:] == ("gs://b/in", False)


def test_beam_options_are_passed_as_typed_on_the_command_line():
    """Hydra refuses '=' in an unquoted list item; the command quotes each flag, so the
    documented forms reach Beam unchanged."""
    quoted = archive.quote_beam_options(["archive.beam_options=[--runner=FlinkRunner, --flink_master=host:8081]",
                                         "archive.beam_options=--runner=SparkRunner", "archive.input=x", "archive.beam_options=[]"])  # fmt: skip
    flags = [list(compose([arg]).archive.beam_options) for arg in quoted[:2]]
    assert flags == [["--runner=FlinkRunner", "--flink_master=host:8081"], ["--runner=SparkRunner"]]
    assert quoted[2:] == ["archive.input=x", "archive.beam_options=[]"]
    options = archive.pipeline_options(archive.archive_settings({"input": "in", "output_dir": "out", "workers": 3})).get_all_options()
    assert (options["runner"], options["direct_num_workers"], options["direct_running_mode"]) == ("DirectRunner", 3, "multi_processing")
    options = archive.pipeline_options(archive.archive_settings({"input": "in", "output_dir": "out", "beam_options": ["--runner=FlinkRunner"]})).get_all_options()
    assert options["runner"] == "FlinkRunner" and options["direct_num_workers"] != 3


def test_a_worker_whose_model_differs_from_the_launchers_restores_nothing(tmp_path, micro_checkpoint):
    """The manifest names the weights the run started with: a worker that finds other weights
    (another image, a model folder changed meanwhile) records the file as failed."""
    source = tmp_path / "a.wav"
    sf.write(str(source), np.zeros(800), 8000, subtype="PCM_16")
    settings = inference.settings_from_config({"audio": str(source), "checkpoint": str(micro_checkpoint)})
    job = archive.ArchiveJob(settings, str(tmp_path / "out"), None, "run-1", "0" * 64, str(micro_checkpoint))
    record = archive.restore_item(archive.Item(str(source)), archive.LazyRestorer(job), job)
    assert record["status"] == "failed" and "not the model the run started with" in record["error"]
    assert record["error"].startswith(f"{source}: {micro_checkpoint / 'model.weights.h5'}: ")  # the file, then the cause
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [bookkeeping.RECORDS_DIR]  # the record, no outputs


def test_noise_print_of_a_conditioned_model_is_recorded_and_used_as_inference_py_uses_it(tmp_path, capsys):
    """A file restored by a worker (restore_item, as RunInference calls it) with a noise print
    range: the same outputs as inference.py, and the manifest says which print and whether it
    was used."""
    import keras
    import unet

    cfg = OmegaConf.to_container(configs.group_config("model", "micro"))
    cfg["conditioning"] = "noise_psd"
    keras.utils.set_random_seed(7)
    checkpoint = unet.save_denoiser(unet.build_model(cfg), cfg, tmp_path / "conditioned")
    rng = np.random.default_rng(3)
    t = np.arange(3 * 16000) / 16000
    x = 0.05 * rng.standard_normal(len(t)) + np.where(t > 1.0, 0.3 * np.sin(2 * np.pi * 330 * t), 0.0)  # hiss alone first
    source = tmp_path / "in" / "reel.wav"
    source.parent.mkdir()
    sf.write(str(source), x, 16000, subtype="PCM_16")
    options = {**RESTORING, "checkpoint": str(checkpoint), "noise_print": "0-1"}
    settings = inference.settings_from_config({**options, "audio": str(source)})
    job = archive.ArchiveJob(settings, str(tmp_path / "out"), str(source.parent), "run-1", sha256(checkpoint / "model.weights.h5"), str(checkpoint))
    record = archive.restore_item(archive.Item(str(source)), archive.LazyRestorer(job), job)
    assert record["status"] == "restored", record
    # a one-second print is too short to hold a part out for the check: told to the model unchecked
    assert record["noise_print"] == "0-1" and record["noise_print_used"] is True
    # a given print too short for the share check: a quarter of the restoration is the classical estimator's (loading.CLASSICAL_BLEND)
    assert record["classical_check"] is False and record["restored_by"] == "model and classical"
    assert record["classical_blend"] == 0.25 and record["classical_share"] == 0.25 and record["share_check"] is True
    # a given print passes the Wiener post-filter (inference.postfilter), recorded with its weight
    assert record["postfilter"] == 1.5 and record["postfiltered"] is True
    # and with its frames against the model's: the same entry matches, one made before (the filter
    # at the model's own frames, no such field) does not and is redone
    assert record["postfilter_resolution"] == baselines.POSTFILTER_RESOLUTION == 2
    assert archive.restore_item(archive.Item(str(source), previous=record), archive.LazyRestorer(job), job)["status"] == "skipped"
    older = {k: v for k, v in record.items() if k != "postfilter_resolution"}
    assert archive.restore_item(archive.Item(str(source), previous=older), archive.LazyRestorer(job), job)["status"] == "restored"
    # and with the held-out check's programme for a given print: an entry made before it is redone
    assert record["check_reference"] == noise_print.GIVEN_CHECK_REFERENCE == "restored"
    older = {k: v for k, v in record.items() if k != "check_reference"}
    assert archive.restore_item(archive.Item(str(source), previous=older), archive.LazyRestorer(job), job)["status"] == "restored"
    # and with the post-filter's low band: an entry made before it is redone
    assert record["low_band_hz"] == baselines.LOW_BAND_HZ == 150.0
    older = {k: v for k, v in record.items() if k != "low_band_hz"}
    assert archive.restore_item(archive.Item(str(source), previous=older), archive.LazyRestorer(job), job)["status"] == "restored"
    assert len(record["noise_print_notes"]) == 1 and "used unchecked" in record["noise_print_notes"][0]
    cli_cfg = OmegaConf.create(dataclasses.asdict(configs.InferenceConfig()))
    for key, value in {**options, "audio": str(source), "output_dir": str(tmp_path / "reference")}.items():
        cli_cfg[key] = value
    assert inference.run(cli_cfg) == 0
    capsys.readouterr()
    for kind, path in record["outputs"].items():
        assert (tmp_path / "reference" / Path(path).name).read_bytes() == Path(path).read_bytes(), kind
    # the model alone: recorded, and the entry with the default share is not a match
    settings = inference.settings_from_config({**options, "audio": str(source), "classical_blend": 0.0})
    job = archive.ArchiveJob(settings, str(tmp_path / "out"), str(source.parent), "run-2", job.weights_sha256, str(checkpoint))
    item = archive.Item(str(source), previous=record)
    blended = archive.restore_item(item, archive.LazyRestorer(job), job)
    assert blended["status"] == "restored" and blended["classical_blend"] == 0.0, blended
    assert blended["restored_by"] == "model" and blended["classical_share"] == 0.0 and blended["share_check"] is False
    reference = tmp_path / "reference" / Path(record["outputs"]["denoised"]).name
    assert Path(blended["outputs"]["denoised"]).read_bytes() != reference.read_bytes()
    # without the post-filter: recorded, and the entry made with it is not a match
    filtered_bytes = Path(blended["outputs"]["denoised"]).read_bytes()
    settings = inference.settings_from_config({**options, "audio": str(source), "classical_blend": 0.0, "postfilter": 0.0})
    job = archive.ArchiveJob(settings, str(tmp_path / "out"), str(source.parent), "run-3", job.weights_sha256, str(checkpoint))
    plain = archive.restore_item(archive.Item(str(source), previous=blended), archive.LazyRestorer(job), job)
    assert plain["status"] == "restored" and plain["postfilter"] == 0.0 and plain["postfiltered"] is False, plain
    assert plain["low_band_hz"] is None  # the low band is the post-filter's
    assert Path(plain["outputs"]["denoised"]).read_bytes() != filtered_bytes
    # auto's print passes the gated filter where the held-out check runs (the default): its weight is
    # recorded there, so an entry of auto's print made before (weight 0) is redone; without the check, not
    for value, check, weight in (("auto", True, 1.5), (None, True, 1.5), ("auto", False, 0.0), ("none", True, 0.0)):
        settings = inference.settings_from_config({**options, "audio": str(source), "noise_print": value,
                                                   "noise_print_check": check})  # fmt: skip
        job = archive.ArchiveJob(settings, str(tmp_path / "out"), str(source.parent), "run-4", job.weights_sha256, str(checkpoint))
        assert archive._postfilter(job) == weight, (value, check)
        assert archive._postfilter_resolution(job) == (2 if weight else None)
        assert archive._check_reference(job) is None  # auto's check and none: no given print's check
        assert archive._low_band_hz(job) is None  # nor a given print's low band
    for check, reference in ((True, "restored"), (False, None)):
        settings = inference.settings_from_config({**options, "audio": str(source), "noise_print_check": check})
        job = archive.ArchiveJob(settings, str(tmp_path / "out"), str(source.parent), "run-5", job.weights_sha256, str(checkpoint))
        assert archive._check_reference(job) == reference, check
    # the low band made again at half rate (inference.half_rate_below_hz, on by default): recorded where it can
    # apply, so an entry made before the field, or with the pass off, is redone
    assert record["half_rate_below_hz"] == 150.0
    older = {k: v for k, v in record.items() if k != "half_rate_below_hz"}
    assert archive.restore_item(archive.Item(str(source), previous=older), archive.LazyRestorer(job), job)["status"] == "restored"
    settings = inference.settings_from_config({**options, "audio": str(source), "half_rate_below_hz": 0.0})
    job = archive.ArchiveJob(settings, str(tmp_path / "out"), str(source.parent), "run-6", job.weights_sha256, str(checkpoint))
    whole = archive.restore_item(archive.Item(str(source), previous=record), archive.LazyRestorer(job), job)
    assert whole["status"] == "restored" and whole["half_rate_below_hz"] is None, whole
    assert archive.restore_item(archive.Item(str(source), previous=whole), archive.LazyRestorer(job), job)["status"] == "skipped"
    reference = tmp_path / "reference" / Path(record["outputs"]["denoised"]).name  # the command's, by default
    assert Path(whole["outputs"]["denoised"]).read_bytes() != reference.read_bytes()
    for value, check, edge in (("auto", True, 150.0), ("auto", False, None), ("none", True, None), ("0-1", False, 150.0)):
        settings = inference.settings_from_config({**options, "audio": str(source), "noise_print": value,
                                                   "noise_print_check": check})  # fmt: skip
        job = archive.ArchiveJob(settings, str(tmp_path / "out"), str(source.parent), "run-7", job.weights_sha256, str(checkpoint))
        assert archive._half_rate_below_hz(job) == edge, (value, check)


def test_resume_check_needs_only_the_outputs_asked_for_and_loads_no_model(tmp_path, micro_checkpoint):
    """Restored with a spectrogram plot, a file is skipped by a run without inference.plot (its
    earlier plot is kept in the entry) without loading the model; a run with inference.plot
    redoes it once the plot no longer matches."""
    source = tmp_path / "in" / "a.wav"
    source.parent.mkdir()
    sf.write(str(source), 0.3 * np.sin(np.arange(4000) / 5.0), 8000, subtype="PCM_16")
    settings = inference.settings_from_config({**RESTORING, "audio": str(source), "checkpoint": str(micro_checkpoint), "plot": True})
    weights = sha256(micro_checkpoint / "model.weights.h5")
    job = archive.ArchiveJob(settings, str(tmp_path / "out"), str(source.parent), "run-1", weights, str(micro_checkpoint))
    first = archive.restore_item(archive.Item(str(source)), archive.LazyRestorer(job), job)
    assert first["status"] == "restored" and set(first["outputs"]) == {"denoised", "residual", "plot"}
    without_plot = dataclasses.replace(job, inference=dataclasses.replace(settings, plot=False), run_id="run-2")
    loaded = archive.LazyRestorer(without_plot)
    second = archive.restore_item(archive.Item(str(source), previous=first), loaded, without_plot)
    assert second["status"] == "skipped" and second["outputs"] == first["outputs"] and loaded.restorer is None
    # the post-filter cannot apply to an unconditioned model: a record made before the option still matches
    assert first["postfilter"] == 0.0 and first["postfiltered"] is False
    assert first["postfilter_resolution"] is None and first["check_reference"] is None and first["low_band_hz"] is None
    assert first["half_rate_below_hz"] is None  # nor the half-rate pass
    older = {k: v for k, v in first.items()
             if k not in ("postfilter", "postfiltered", "postfilter_resolution", "check_reference", "low_band_hz",
                          "half_rate_below_hz")}  # fmt: skip
    assert archive.restore_item(archive.Item(str(source), previous=older), archive.LazyRestorer(without_plot),
                                without_plot)["status"] == "skipped"  # fmt: skip
    Path(first["outputs"]["plot"]).write_bytes(b"not the plot")
    third = archive.restore_item(archive.Item(str(source), previous=second), archive.LazyRestorer(job), job)
    assert third["status"] == "restored" and third["output_sha256"]["plot"] == sha256(first["outputs"]["plot"])
