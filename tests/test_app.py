"""app.py, the web page, in a real headless browser (Debian's chromium driven by Playwright):
upload, strength, restore, players, spectrograms, download, a noise print with the classical
check, and bad files; plus the page's noise-print choices without a browser, its spectrogram
figure (plots.py) and the command's argument checks."""
from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
import soundfile as sf

import app
import configs
import inference
import plots

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = REPO_ROOT / "examples" / "film_reel_noisy.wav"
CHROMIUM = Path("/usr/bin/chromium")
# headless, and nothing that reaches outside the machine (updates, sync, QUIC probes)
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
STRENGTH = 0.5
# The page and restore_file run the same model on the same samples; a 16-bit output may
# still differ by one step where a sample lies on a rounding boundary
TOLERANCE_STEPS = 1
TIMEOUT_MS = 90_000


def chromium() -> str:
    """Debian's chromium; a missing one fails the test (CI must install it), except where no
    Debian package can exist."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the browser test drives Debian's chromium, which this platform cannot have")
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: the web page's browser test needs Debian's chromium; run "
                    "`bash scripts/setup.sh` as root (it installs it) or `apt-get install -y chromium chromium-driver`",
                    pytrace=False)  # fmt: skip
    return str(CHROMIUM)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(micro_checkpoint: Path) -> Iterator[tuple[str, app.PageRestorer]]:
    """The page, served in-process as `python app.py` would, with the micro model."""
    from hydra import compose, initialize_config_dir

    overrides = [f"inference.checkpoint='{micro_checkpoint}'", f"app.port={free_port()}"]
    with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="conf", overrides=overrides)
    assert cfg.app.host == "127.0.0.1"  # local unless asked otherwise
    demo, page = app.serve(cfg, block=False)
    try:
        yield demo.local_url, page
    finally:
        demo.close()
        page.close()


@pytest.fixture(scope="module")
def reference(micro_checkpoint: Path) -> inference.Restorer:
    """What the command line's code path restores with the same model and defaults."""
    return inference.Restorer.from_pretrained(micro_checkpoint)


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    path = chromium()
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, served) -> Iterator:
    """A fresh tab on the page, recording every request that leaves this machine."""
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    tab.outside = []
    tab.on("request", lambda r: tab.outside.append(r.url) if urlparse(r.url).scheme in ("http", "https", "ws", "wss")
           and urlparse(r.url).hostname not in ("127.0.0.1", "localhost") else None)  # fmt: skip
    tab.goto(served[0])
    try:
        yield tab
    finally:
        context.close()


def upload(tab, path: Path) -> None:
    from playwright.sync_api import expect

    tab.locator("#upload input[type=file]").set_input_files(str(path))
    expect(tab.locator("#upload")).to_contain_text(path.stem)  # the upload finished: the file is listed


def test_restore_in_the_browser_equals_the_command_line(page, served, reference, tmp_path):
    from playwright.sync_api import expect

    upload(page, EXAMPLE)
    number = page.locator("#strength input[type=number]")
    number.fill(str(STRENGTH))
    number.press("Enter")
    expect(page.locator("#strength input[type=range]")).to_have_value(str(STRENGTH))
    page.locator("#restore").click()
    expect(page.locator("#download_restored")).to_be_visible(timeout=TIMEOUT_MS)

    info = sf.info(str(EXAMPLE))
    shown = f"0:{int(info.duration):02d}"
    served_audio = {}
    for key in ("input_audio", "restored_audio", "residual_audio"):
        player = page.locator(f"#{key}")
        # the browser decoded each file: its player knows the input's duration
        expect(player.locator("#duration")).to_have_text(shown)
        response = page.request.get(player.get_by_test_id("download-link").get_attribute("href"))
        assert response.ok, key
        (tmp_path / f"{key}.wav").write_bytes(response.body())
        served_audio[key], _ = sf.read(str(tmp_path / f"{key}.wav"), dtype="int16", always_2d=True)
    image = page.locator("#spectrograms img")
    expect(image).to_be_visible()
    width, height = image.evaluate("i => [i.complete ? i.naturalWidth : 0, i.naturalHeight]")
    assert width > 500 and height > 500  # the three panels, not a broken-image icon
    expect(page.locator("#summary")).to_contain_text(f"strength {STRENGTH:g}")

    with page.expect_download() as caught:
        page.locator("#download_restored").click()
    download = caught.value
    assert download.suggested_filename == f"{EXAMPLE.stem}_denoised_s5.wav"  # the command line's name
    got_path = tmp_path / download.suggested_filename
    download.save_as(got_path)
    got_info = sf.info(str(got_path))
    assert (got_info.frames, got_info.samplerate, got_info.channels, got_info.subtype) == (info.frames, info.samplerate, info.channels, info.subtype)

    expected = reference.restore_file(EXAMPLE, output_dir=tmp_path / "cli", strength=STRENGTH)
    want, _ = sf.read(str(expected.denoised), dtype="int16", always_2d=True)
    got, _ = sf.read(str(got_path), dtype="int16", always_2d=True)
    difference = np.abs(got.astype(np.int32) - want.astype(np.int32))
    assert difference.max() <= TOLERANCE_STEPS
    x, _ = sf.read(str(EXAMPLE), dtype="int16", always_2d=True)
    assert np.abs(got.astype(np.int32) - x).max() > 100  # the model did change the programme
    # the players play the input and the outputs as written: restored + residual is the input
    np.testing.assert_array_equal(served_audio["input_audio"], x)
    np.testing.assert_array_equal(served_audio["restored_audio"], got)
    np.testing.assert_array_equal(served_audio["restored_audio"].astype(np.int32) + served_audio["residual_audio"], x)
    assert page.outside == []  # fonts and scripts come from this machine: the page works offline


def _bad_file(kind: str, folder: Path) -> Path:
    if kind == "text":
        path = folder / "notes.txt"
        path.write_text("Reel 3, take 2: hum from the projector, crackle at 1:20.\n")
    elif kind == "empty":
        path = folder / "empty.wav"
        sf.write(str(path), np.zeros((0, 1)), 44100, subtype="PCM_16")
    else:  # an interrupted copy: the header declares more frames than the file holds
        path = folder / "cut.wav"
        sf.write(str(path), 0.1 * np.ones((44100, 1)), 44100, subtype="PCM_16")
        path.write_bytes(path.read_bytes()[: 44 + 2 * 22050])
    return path


@pytest.mark.parametrize("kind", ["text", "empty", "truncated"])
def test_a_bad_file_shows_the_command_lines_one_line_message(page, served, reference, tmp_path, kind):
    from playwright.sync_api import expect

    path = _bad_file(kind, tmp_path)
    with pytest.raises(inference.InferenceError) as raised:
        reference.restore_file(path, output_dir=tmp_path / "cli")
    message = str(raised.value).replace(str(path), path.name)  # the page names the file, not its server path
    assert message.startswith(f"{path.name}: ") and "\n" not in message

    upload(page, path)
    page.locator("#restore").click()
    expect(page.get_by_text(message, exact=True)).to_be_visible(timeout=TIMEOUT_MS)
    body = page.locator("body").inner_text()
    assert "Traceback" not in body and "Error raised" not in body
    expect(page.locator("#download_restored")).to_have_count(0)
    expect(page.locator("#restored_audio #duration")).to_have_count(0)
    assert [p for p in served[1].work_dir.rglob("*") if p.is_file()] == []  # nothing half-written left


SR = 44100


def _hissy_reel(folder: Path) -> tuple[Path, Path, np.ndarray]:
    """A 7-s reel (2 s of hiss alone, then a tone in bursts under it) and a 4-s print of the
    same hiss: the untrained micro model leaves the hiss in, so the classical check hands the
    file to LSA."""
    t = np.arange(7 * SR) / SR
    clean = (0.2 * np.sin(2 * np.pi * 220 * t) * (t >= 2.0) * ((t % 2.0) < 1.4)).astype(np.float32)
    noisy = clean + (0.03 * np.random.default_rng(5).standard_normal(len(t))).astype(np.float32)
    reel, heard = folder / "reel.wav", folder / "hiss_print.wav"
    sf.write(reel, noisy, SR, subtype="FLOAT")
    sf.write(heard, (0.03 * np.random.default_rng(6).standard_normal(4 * SR)).astype(np.float32), SR, subtype="FLOAT")
    return reel, heard, clean


def _cli_restored(micro_checkpoint: Path, folder: Path, **overrides) -> np.ndarray:
    """What ``inference.py`` writes for these options, as float samples."""
    from omegaconf import OmegaConf

    cfg = OmegaConf.create(vars(configs.InferenceConfig()))
    cfg.update(quiet=True, checkpoint=str(micro_checkpoint), **overrides)
    assert inference.run(cfg) == 0
    source = Path(overrides["audio"])
    out = Path(overrides["output_dir"]) / f"{source.stem}_denoised_s10.wav"
    return sf.read(str(out), dtype="float32")[0]


def test_a_noise_print_file_with_the_classical_check_restores_as_the_command_line(page, served, micro_checkpoint, tmp_path):
    from playwright.sync_api import expect

    import metrics

    reel, heard, clean = _hissy_reel(tmp_path)
    upload(page, reel)
    page.locator("#noise_print").get_by_text("Noise print").first.click()  # the section starts closed (shipped-like model)
    page.locator("#print_source").get_by_text(app.PRINT_SOURCES["file"]).click()
    page.locator("#print_file input[type=file]").set_input_files(str(heard))
    expect(page.locator("#print_file")).to_contain_text(heard.stem)
    page.locator("#classical_check input[type=checkbox]").check()
    page.locator("#restore").click()
    expect(page.locator("#download_restored")).to_be_visible(timeout=TIMEOUT_MS)
    summary = page.locator("#summary")
    expect(summary).to_contain_text("the classical estimator restores this file")  # the check's decision, shown
    expect(summary).to_contain_text("noise print: a noise-only recording")
    assert "/tmp" not in summary.inner_text()  # the server's upload paths are not shown

    with page.expect_download() as caught:
        page.locator("#download_restored").click()
    got_path = tmp_path / caught.value.suggested_filename
    caught.value.save_as(got_path)
    got = sf.read(str(got_path), dtype="float32")[0]
    want = _cli_restored(micro_checkpoint, tmp_path, audio=str(reel), output_dir=str(tmp_path / "cli"), noise_print=str(heard),
                         classical_check=True)  # fmt: skip
    np.testing.assert_allclose(got, want, atol=1e-6)
    noisy = sf.read(str(reel), dtype="float32")[0]
    assert metrics.si_sdr(got, clean) - metrics.si_sdr(noisy, clean) > 5.0  # LSA took the hiss out
    # the next upload is restored untold, by the model
    assert served[1].restorer.classical_print is None and served[1].restorer.noise_power is None


@pytest.mark.parametrize("choice,problem", [
    (app.PrintChoice("auto"), "does not take a noise print"),
    (app.PrintChoice("none", classical_check=True), "needs a noise print"),
    (app.PrintChoice("range", "two to four", classical_check=True), "expected START-END"),
    (app.PrintChoice("range", "4-9", classical_check=True), "reel.wav: the print range 4-9 s lies outside the file"),
    (app.PrintChoice("range", "0-0.5", classical_check=True), "at least 1 s"),
    (app.PrintChoice("file", classical_check=True), "upload a noise-only recording"),
    (app.PrintChoice("file", file="notes.txt", classical_check=True), "notes.txt: "),
    (app.PrintChoice("cupboard"), "noise print: expected one of"),
])  # fmt: skip
def test_a_print_that_cannot_be_used_gets_one_line_and_leaves_nothing(served, tmp_path, choice, problem):
    reel, _, _ = _hissy_reel(tmp_path)
    if choice.file:
        (tmp_path / choice.file).write_text("Reel 3: hum from the projector.\n")
        choice.file = str(tmp_path / choice.file)
    page = served[1]
    with pytest.raises(inference.InferenceError) as raised:
        page.restore_upload(reel, 1.0, noise=choice)
    message = str(raised.value)
    assert problem in message and "\n" not in message and str(tmp_path) not in message, message
    assert [p for p in page.work_dir.rglob("*") if p.is_file()] == []
    assert page.restorer.classical_print is None and page.restorer.noise_power is None


def test_a_range_with_the_check_is_told_and_reported(served, micro_checkpoint, tmp_path):
    reel, _, _ = _hissy_reel(tmp_path)
    result = served[1].restore_upload(reel, 1.0, noise=app.PrintChoice("range", "0-2", classical_check=True))
    assert len(result.noise_lines) == 1 and result.noise_lines[0].startswith("reel.wav: classical check (held-out print")
    assert result.noise_lines[0].endswith("the classical estimator restores this file")
    assert "noise print: a range of the recording" in result.summary and result.noise_lines[0] in result.summary
    got = sf.read(str(result.restored), dtype="float32")[0]
    want = _cli_restored(micro_checkpoint, tmp_path, audio=str(reel), output_dir=str(tmp_path / "cli"), noise_print="0-2",
                         classical_check=True)  # fmt: skip
    np.testing.assert_allclose(got, want, atol=1e-6)
    # too short a range to hold part of it out: said, and the model restores
    result = served[1].restore_upload(reel, 1.0, noise=app.PrintChoice("range", "0-1.2", classical_check=True))
    assert result.noise_lines == ["reel.wav: the print is too short to hold part of it out; the model restores this file"]


def test_auto_models_restore_beside_a_conditioned_model_as_on_the_command_line(micro_checkpoint, tmp_path):
    from omegaconf import OmegaConf

    import unet

    cfg = {**OmegaConf.to_container(configs.group_config("model", "micro")), "conditioning": "noise_psd"}
    conditioned = unet.save_denoiser(unet.build_model(cfg), cfg, tmp_path / "conditioned")
    restorer = inference.Restorer.from_pretrained(conditioned, "float32", auto_models=[micro_checkpoint])
    page = app.PageRestorer(restorer, noise_print_check=False)
    try:
        reel, _, _ = _hissy_reel(tmp_path)
        result = page.restore_upload(reel, 1.0, noise=app.PrintChoice("auto"))
        assert result.noise_lines[-1] == ("reel.wav: restored 50% by the model told auto's print, the rest by the mean of "
                                          "1 model(s) without a print (inference.auto_models)")  # fmt: skip
        got = sf.read(str(result.restored), dtype="float32")[0]
        want = _cli_restored(conditioned, tmp_path, audio=str(reel), output_dir=str(tmp_path / "cli"), noise_print="auto",
                             noise_print_check=False, auto_models=[str(micro_checkpoint)], precision="float32")  # fmt: skip
        np.testing.assert_allclose(got, want, atol=1e-6)
    finally:
        page.close()


@pytest.mark.parametrize("noise_print,classical,expected", [
    (None, False, app.PrintChoice("none")),
    (None, True, app.PrintChoice("auto", classical_check=True)),
    ("0-4.5", True, app.PrintChoice("range", "0-4.5", classical_check=True)),
    ("none", False, app.PrintChoice("none")),
])  # fmt: skip
def test_the_pages_starting_print_follows_the_inference_options(noise_print, classical, expected):
    options = app.restoring_settings({"inference": {"noise_print": noise_print, "classical_check": classical}})
    assert app.PrintChoice.from_settings(options, conditioned=False) == expected
    if noise_print is None and not classical:
        assert app.PrintChoice.from_settings(options, conditioned=True) == app.PrintChoice("auto")


def test_spectrogram_panels_share_one_decibel_scale():
    rate = 16000
    t = np.arange(rate) / rate
    tone = 0.5 * np.sin(2 * np.pi * 1000 * t)
    fig = plots.spectrogram_figure([tone, tone, 0.01 * tone], rate)
    try:
        panels = [ax for ax in fig.axes if ax.get_title(loc="left")]
        assert [ax.get_title(loc="left") for ax in panels] == list(plots.DEFAULT_TITLES)
        assert all(ax.get_yscale() == "symlog" for ax in panels)  # the log-frequency axis
        peaks = [float(ax.collections[0].get_array().max()) for ax in panels]
        limits = {ax.collections[0].get_clim() for ax in panels}
        assert len(limits) == 1  # one colour scale
        assert peaks[0] == pytest.approx(0.0, abs=0.5)
        assert peaks[1] - peaks[2] == pytest.approx(40.0, abs=0.5)  # 1 % of the amplitude is 40 dB down
    finally:
        fig.clear()
    with pytest.raises(ValueError, match="one title per signal"):
        plots.spectrogram_figure([tone], rate, titles=["a", "b"])


@pytest.mark.parametrize("argument,problem", [("app.port=70000", "app.port: must be between 1 and 65535"),
                                              ("+app.prot=8000", "app.prot: unknown option"),
                                              ("inference.noise_print=README.md", "upload a print file on the page"),
                                              ("inference.classical_check=true inference.noise_print=none",
                                               "needs a noise print")])  # fmt: skip
def test_bad_arguments_exit_2_with_one_line(argument, problem):
    proc = subprocess.run([sys.executable, "app.py", *argument.split()], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and problem in lines[0], proc.stderr
