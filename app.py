"""The restorer's web page: ``python app.py [app.KEY=VALUE ...] [inference.KEY=VALUE ...]``.

Serves a page at ``http://127.0.0.1:7860`` (``app.host``, ``app.port``; this machine only
by default, no public link): upload a recording, choose the denoising strength, press
Restore; the page plays the input, the restored programme and the residual (what was
removed), shows their spectrograms (the first ``inference.plot_seconds``) and offers the
restored and residual files for download, named as the command line names them
(``<stem>_denoised_s<N>.<ext>``, ``<stem>_residual_s<N>.<ext>``).

The model is loaded once, at start (``inference.checkpoint``, ``inference.precision``,
``inference.backend``; the other ``inference.*`` options set the segmentation, the slider's
starting strength, ``allow_truncated``, ``noise_print_check``, ``classical_blend``,
``postfilter``, ``half_rate_below_hz`` and the starting noise print and classical check). Under "Noise print" the page offers what
``inference.noise_print`` and ``inference.classical_check`` offer on the command line: auto
(the quietest passages), a range of the recording, an uploaded noise-only recording, or none; and the classical check,
which lets the print decide between the model and the classical estimator. What the print
did (the duration auto found, each check's scores and decision) is shown beside the result,
as the command line prints it (docs/RESTORATION_GUIDE.md). Each upload is restored by
:meth:`inference.Restorer.restore_file`, block by block into a private temporary folder,
so memory stays bounded as on the command line and a failed restoration leaves no output;
a progress bar follows the blocks read. A file that cannot be restored (not audio,
damaged, empty, truncated) gets the command line's one-line message on the page, never a
traceback.

Exit status: 0 after Ctrl-C; 1 the model cannot be loaded or the port cannot be used;
2 bad arguments.
"""
from __future__ import annotations

import html
import logging
import os
import shutil
import tempfile
import time
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

import audio_io
import configs
import inference
import loading
import naming
import noise_print
import plots
from cli import InferenceError, UsageError, config_group, hydra_entry, native_stderr_silenced, print_error
from paths import DEFAULT_CHECKPOINT

log = logging.getLogger("app")

UPLOAD_HINT = f"upload a recording first ({', '.join(e[1:].upper() for e in audio_io.AUDIO_EXTENSIONS)})"


# The validated ``app`` group: the schema's dataclass, its values checked by :func:`app_settings`.
AppSettings = configs.AppConfig


def app_settings(cfg: Mapping) -> AppSettings:
    """Validate the ``app`` group (of the root config or the group itself); raises
    :class:`cli.UsageError` for an unknown key or a value out of range."""
    settings = config_group(cfg, "app", configs.AppConfig, marker="host")
    settings.host = str(settings.host or "").strip()
    if not settings.host:
        raise UsageError("app.host: must name an address, e.g. 127.0.0.1")
    if not 1 <= settings.port <= 65535:
        raise UsageError(f"app.port: must be between 1 and 65535, got {settings.port}")
    return settings


def restoring_settings(cfg: Mapping) -> inference.InferenceSettings:
    """The ``inference`` group validated as the command line validates it; ``inference.audio``
    plays no part (files come from uploads), so it may be left unset."""
    from omegaconf import OmegaConf

    group: Any = cfg.get("inference", {}) if "inference" in cfg else cfg
    group = OmegaConf.to_container(group, resolve=True) if OmegaConf.is_config(group) else dict(group or {})
    group["audio"] = group.get("audio") or "uploads"
    return inference.settings_from_config(group)


# The page's noise-print sources (inference.noise_print's kinds) and their labels
PRINT_SOURCES = {
    "auto": "auto: the quietest passages of the recording",
    "range": "a range of the recording",
    "file": "a noise-only recording",
    "none": "none",
}


@dataclass
class PrintChoice:
    """The noise print asked for on the page: ``source`` (a key of :data:`PRINT_SOURCES`), the
    range ``seconds`` (``START-END``) or the uploaded ``file``, and the classical check."""

    source: str = "none"
    seconds: str = ""
    file: str | None = None
    classical_check: bool = False

    @classmethod
    def from_settings(cls, options: inference.InferenceSettings, conditioned: bool) -> "PrintChoice":
        """The page's starting choice from the ``inference`` group, as the command line resolves
        it (null: auto for a conditioned model or with the classical check, else none). Raises
        :class:`UsageError` for a print file (upload it on the page) or a bad value."""
        classical = bool(options.classical_check)
        value = options.noise_print
        if value is None:
            return cls("auto" if conditioned or classical else "none", classical_check=classical)
        text = str(value).strip()
        if text.lower() == "none" and classical:
            raise UsageError("inference.classical_check=true needs a noise print to compare with: "
                             "inference.noise_print=auto or START-END")  # fmt: skip
        if text.lower() in ("auto", "none"):
            return cls(text.lower(), classical_check=classical)
        if noise_print.parse_range(text) is None:
            raise UsageError(f"inference.noise_print={text}: the page takes auto, none or START-END (seconds); "
                             "upload a print file on the page itself")  # fmt: skip
        return cls("range", seconds=text, classical_check=classical)


@dataclass
class PageResult:
    """What one restoration on the page produced (files in the page's temporary folder)."""

    source: Path
    restored: Path
    residual: Path
    spectrograms: Path
    summary: str
    warnings: list[str] = field(default_factory=list)
    noise_lines: list[str] = field(default_factory=list)  # what the print did: auto's finding, the checks


class PageRestorer:
    """Restores uploads one at a time with one loaded :class:`inference.Restorer`.

    Outputs go to a fresh subfolder of a private temporary folder; the previous upload's
    subfolder is removed when the next restoration starts (the web server has copied its
    files to its own cache by then), so the folder holds one restoration at most.
    """

    def __init__(self, restorer: inference.Restorer, plot_seconds: float = inference.DEFAULTS.plot_seconds,
                 allow_truncated: bool = inference.DEFAULTS.allow_truncated,
                 noise_print_check: bool = inference.DEFAULTS.noise_print_check,
                 start_print: PrintChoice | None = None) -> None:  # fmt: skip
        self.restorer = restorer
        self.plot_seconds = float(plot_seconds)
        self.allow_truncated = bool(allow_truncated)
        self.noise_print_check = bool(noise_print_check)
        # what the page's noise-print controls show at first
        self.start_print = start_print or PrintChoice("auto" if restorer.conditioned else "none")
        self.work_dir = Path(tempfile.mkdtemp(prefix="restorer-page-"))

    def close(self) -> None:
        """Remove the temporary folder and everything in it."""
        shutil.rmtree(self.work_dir, ignore_errors=True)

    def restore_upload(self, upload: str | os.PathLike | None, strength: float, progress: Callable[[float, str], Any] | None = None,
                       noise: PrintChoice | None = None) -> PageResult:  # fmt: skip
        """Restore the uploaded file at ``strength`` (0..1, kept to three decimals as output
        names need), told the noise print ``noise`` (None: none) as the command line tells it;
        ``progress(fraction, description)`` follows the blocks read.

        Raises :class:`InferenceError` with the command line's one-line message,
        naming the file by its name rather than the server's upload path; nothing of a
        failed restoration is left behind.
        """
        if upload is None or str(upload) == "":
            raise InferenceError(UPLOAD_HINT)
        source = Path(upload)
        try:
            strength = round(float(strength), 3)
        except (TypeError, ValueError):
            raise InferenceError(f"strength: expected a number between 0 and 1, got {strength!r}") from None
        if not 0.0 <= strength <= 1.0:
            raise InferenceError(f"strength: must be between 0 and 1, got {strength:g}")
        for old in self.work_dir.iterdir():
            shutil.rmtree(old, ignore_errors=True)
        noise = noise or PrintChoice()
        folder = Path(tempfile.mkdtemp(dir=self.work_dir))
        uploads = [source] + ([Path(noise.file)] if noise.file else [])  # paths a message names by their names
        try:
            return self._restore(source, strength, folder, progress, noise, uploads)
        except InferenceError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise InferenceError(self._named(str(exc), uploads, folder)) from None
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        finally:
            self.restorer.tell(loading.Told())  # the next upload starts untold

    @staticmethod
    def _named(message: str, uploads: list[Path], folder: Path) -> str:
        """``message`` with the server's paths replaced by the names the user knows."""
        message = message.replace(str(folder) + os.sep, "")
        for path in uploads:
            message = message.replace(str(path), path.name)
        return " ".join(message.split())

    def _tell(self, source: Path, noise: PrintChoice, warnings: list[str]) -> list[str]:
        """Tell the restorer ``source``'s noise as ``noise`` asks (``loading.print_spec`` and
        ``loading.file_noise_power``, the command line's code); returns the lines saying what
        the print did. Raises :class:`InferenceError` with a one-line message for a choice that
        cannot be used."""
        if noise.source not in PRINT_SOURCES:
            raise InferenceError(f"noise print: expected one of {', '.join(PRINT_SOURCES)}, got {noise.source!r}")
        if noise.source == "none":
            if noise.classical_check:
                raise InferenceError("the classical check needs a noise print to compare with: choose auto, "
                                     "a range of the recording or a noise-only recording")  # fmt: skip
            return []
        if not self.restorer.conditioned and not noise.classical_check:
            raise InferenceError("this model does not take a noise print (its conditioning is none): tick the "
                                 "classical check, which lets the print choose between the model and the classical "
                                 "estimator, or choose none")  # fmt: skip
        if noise.source == "range":
            value = (noise.seconds or "").strip()
            if noise_print.parse_range(value) is None:
                raise InferenceError(f"noise print range: expected START-END in seconds of the recording, e.g. 0-4.5, got {value!r}")
        elif noise.source == "file":
            if not noise.file:
                raise InferenceError("upload a noise-only recording for the print, or choose another noise print")
            value = str(noise.file)
        else:
            value = "auto"
        asked = types.SimpleNamespace(noise_print=value, classical_check=noise.classical_check)
        try:
            spec, file_print = loading.print_spec(asked, self.restorer.model_cfg, Path("the model"), warn=warnings.append)
            told, info, warns = loading.file_noise_power(self.restorer, spec, source, file_print, self.noise_print_check,
                                                         noise.classical_check)  # fmt: skip
        except ValueError as exc:  # noise_print.NoisePrintError: a range outside the file, a silent print
            raise InferenceError(str(exc)) from None
        warnings.extend(warns)
        self.restorer.tell(told)
        if self.restorer.half_rated:  # inference.half_rate_below_hz, as on the command line
            info.append(self.restorer.half_rate_line(source.name))
        if self.restorer.auto_mixed:  # inference.auto_models restore beside the model, as on the command line
            info.append(self.restorer.auto_line(source.name))
        return info

    def _restore(self, source: Path, strength: float, folder: Path, progress: Callable[[float, str], Any] | None,
                 noise: PrintChoice, uploads: list[Path]) -> PageResult:  # fmt: skip
        with audio_io.open_audio(source) as probe:  # a non-audio file fails here, before any work
            total, rate, channels = max(probe.frames, 0), probe.samplerate, probe.channels
        warnings: list[str] = []
        if noise.source != "none" and progress is not None:
            progress(0.0, "reading the noise print")
        noise_lines = self._tell(source, noise, warnings)
        done = 0

        def advance(frames: float) -> None:
            nonlocal done
            done += int(frames)
            if progress is not None and total:
                # compressed formats only estimate their length: never past the end
                progress(min(done / total, 1.0), f"restoring: {done / rate:.0f} of {total / rate:.0f} s")

        if progress is not None:
            progress(0.0, "restoring")
        started = time.perf_counter()
        result = self.restorer.restore_file(source, output_dir=folder, strength=strength, progress=advance,
                                            allow_truncated=self.allow_truncated)  # fmt: skip
        seconds = time.perf_counter() - started
        if progress is not None:
            progress(1.0, "drawing the spectrograms")
        plot_path = naming.output_paths(source, strength, result.denoised.suffix, folder).plot
        frames = max(1, int(self.plot_seconds * rate))
        signals = [_mono_opening(p, frames) for p in (source, result.denoised, result.residual)]
        shown = len(signals[0]) / rate
        title = f"{source.name}: first {shown:.1f} s, strength {strength:g}" + (", channels mixed" if channels > 1 else "")
        _write_figure(plot_path, plots.spectrogram_figure(signals, rate, title=title))
        duration = result.frames / rate
        summary = (f"**{source.name}**: {duration:.1f} s, {rate} Hz, {channels} channel{'s' if channels > 1 else ''}, "
                   f"strength {strength:g}; restored in {seconds:.1f} s "
                   f"(real-time factor {seconds / max(duration, 1e-9):.2f})")  # fmt: skip
        noise_lines = [self._named(line, uploads, folder) for line in noise_lines]
        if noise.source != "none":
            summary += f"; noise print: {PRINT_SOURCES[noise.source].split(':')[0]}"
            summary += "\n" + "".join(f"\n- {line}" for line in noise_lines)
        return PageResult(source, result.denoised, result.residual, plot_path, summary,
                          [self._named(w, uploads, folder) for w in warnings + result.warnings], noise_lines)  # fmt: skip


def _mono_opening(path: Path, frames: int) -> np.ndarray:
    """The first ``frames`` frames of ``path``, channels mixed; only they are read."""
    audio, _ = sf.read(str(path), frames=frames, dtype="float32", always_2d=True)
    return audio.mean(axis=1)


def _write_figure(path: Path, figure: Any) -> None:
    """Save ``figure`` as a PNG at ``path``, complete or not at all."""
    tmp, final = audio_io.atomic_output(path)
    try:
        figure.savefig(str(tmp), format="png", dpi=90)
        audio_io.commit_output(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def build_page(page: PageRestorer, strength: float = 1.0) -> Any:
    """The page (a ``gradio.Blocks``) for ``page``; ``strength`` is the slider's start."""
    import gradio as gr

    with gr.Blocks(title="Historical audio restorer", analytics_enabled=False, delete_cache=(3600, 86400)) as demo:
        gr.Markdown("# Historical audio restorer\nRemoves hiss, crackle, clicks, hum and rumble from old recordings. "
                    "The residual is exactly what was removed: listen to it to hear that nothing of the programme went "
                    "with the noise.")  # fmt: skip
        with gr.Row():
            with gr.Column(scale=2):
                upload = gr.File(label="Recording (WAV, FLAC, OGG, MP3, AIFF; any rate and channels)", type="filepath",
                                 file_count="single", elem_id="upload")  # fmt: skip
                slider = gr.Slider(0.0, 1.0, value=strength, step=0.01, label="Denoising strength",
                                   info="the fraction of the estimated noise removed: 0 the input, 1 the model's full restoration",
                                   elem_id="strength")  # fmt: skip
                start = page.start_print
                # open where the print matters from the start: a conditioned model or the check asked for
                with gr.Accordion("Noise print", open=start.source != "none", elem_id="noise_print"):
                    print_source = gr.Radio([(label, key) for key, label in PRINT_SOURCES.items()], value=start.source,
                                            label="Where the noise can be heard alone",
                                            info="a conditioned model is told it; the classical check uses it to choose "
                                                 "between the model and the classical estimator",
                                            elem_id="print_source")  # fmt: skip
                    print_seconds = gr.Textbox(start.seconds, label="Range of the recording (seconds)", placeholder="0-4.5",
                                               info="noise alone: a run-in groove, a reel's leader, a pause",
                                               elem_id="print_range")  # fmt: skip
                    print_file = gr.File(label="Noise-only recording", type="filepath", file_count="single",
                                         elem_id="print_file")  # fmt: skip
                    classical = gr.Checkbox(start.classical_check, label="Classical check",
                                            info="restore with the classical estimator told the print where it scores "
                                                 "higher than the model on a held-out part of the print",
                                            elem_id="classical_check")  # fmt: skip
                button = gr.Button("Restore", variant="primary", elem_id="restore")
            with gr.Column(scale=3):
                summary = gr.Markdown(elem_id="summary")
        with gr.Row():
            players = [
                gr.Audio(label=name, type="filepath", interactive=False, buttons=["download"], elem_id=key)
                for key, name in (("input_audio", "Input"), ("restored_audio", "Restored"), ("residual_audio", "Residual (removed)"))
            ]
        image = gr.Image(label="Spectrograms", type="filepath", interactive=False, buttons=["download", "fullscreen"],
                         elem_id="spectrograms")  # fmt: skip
        with gr.Row():
            downloads = [
                gr.DownloadButton(label, visible=False, elem_id=key)
                for key, label in (("download_restored", "Download the restored file"), ("download_residual", "Download the residual"))
            ]
        outputs = [*players, image, *downloads, summary]

        def cleared() -> list[Any]:
            # an error must not stand beside the previous file's results
            return [None, None, None, None, gr.DownloadButton(visible=False), gr.DownloadButton(visible=False), ""]

        def restore(upload_path: str | None, value: float, source: str, seconds: str, print_path: str | None,
                    check: bool, progress: gr.Progress = gr.Progress()) -> list[Any]:  # fmt: skip
            noise = PrintChoice(source, seconds or "", print_path, bool(check))
            try:
                result = page.restore_upload(upload_path, value, lambda f, desc: progress(f, desc=desc), noise)
            except InferenceError as exc:
                # gr.Error renders HTML: a file name must show as typed, not be markup
                raise gr.Error(html.escape(str(exc), quote=False), print_exception=False) from None
            except Exception as exc:  # unforeseen: one line on the page, the traceback in the server's log
                log.exception("restoring %s failed", upload_path)
                name = Path(upload_path).name if upload_path else "upload"
                message = " ".join(f"{name}: unexpected failure ({type(exc).__name__}: {exc})".split())
                raise gr.Error(html.escape(message, quote=False), print_exception=False) from None
            for line in result.warnings:
                gr.Warning(html.escape(line, quote=False))
            return [
                str(result.source), str(result.restored), str(result.residual), str(result.spectrograms),
                gr.DownloadButton(value=str(result.restored), visible=True),
                gr.DownloadButton(value=str(result.residual), visible=True),
                result.summary,
            ]  # fmt: skip

        # one restoration at a time: the restorer is not reentrant (restore_file swaps its
        # strength) and one already uses every core
        # one progress bar, where the spectrograms will be, rather than one in every output
        button.click(cleared, outputs=outputs, queue=False).then(
            restore, inputs=[upload, slider, print_source, print_seconds, print_file, classical], outputs=outputs, concurrency_limit=1, show_progress_on=[image]
        )
        upload.change(cleared, outputs=outputs, queue=False)
    return demo


def _theme() -> Any:
    """Gradio's default look with the system's fonts: the page loads nothing from outside
    the machine (the default theme fetches its fonts from the web)."""
    import gradio as gr

    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])


def load_page(options: inference.InferenceSettings) -> PageRestorer:
    """Load the model of ``options`` (the validated ``inference`` group) once, for the page.

    Raises ``unet.CheckpointError`` for a missing or incompatible checkpoint folder.
    """
    with native_stderr_silenced(not options.verbose):
        import tensorflow  # noqa: F401  (its C++ start-up lines would bury the page's address)
    restorer = inference.Restorer.from_pretrained(
        options.checkpoint, options.precision, strength=options.denoising_strength, backend=options.backend,
        segment_seconds=options.segment_seconds, overlap_seconds=options.overlap_seconds,
        block_seconds=options.block_seconds, batch_segments=options.batch_segments,
        no_print_models=options.no_print_models, classical_blend=options.classical_blend,
        print_models=options.print_models, postfilter=options.postfilter, auto_models=options.auto_models,
        half_rate_below_hz=options.half_rate_below_hz,
    )  # fmt: skip
    start = PrintChoice.from_settings(options, restorer.conditioned)
    return PageRestorer(restorer, options.plot_seconds, options.allow_truncated, options.noise_print_check, start)


def launch(page: PageRestorer, settings: AppSettings, strength: float = 1.0, block: bool = True) -> Any:
    """Serve the page at ``settings.host:settings.port``, never with a public link; with
    ``block`` until Ctrl-C, else return the running ``gradio.Blocks`` at once (its
    ``close()`` stops it). Raises ``OSError`` when the address cannot be served."""
    demo = build_page(page, strength)
    # quiet: gradio's own lines suggest share=True, which this page never offers
    demo.launch(server_name=settings.host, server_port=settings.port, share=False, prevent_thread_lock=True,
                show_error=False, ssr_mode=False, theme=_theme(), quiet=True)  # fmt: skip
    if block:
        print(f"The restorer's page is at {demo.local_url} (Ctrl-C stops it)", flush=True)
        try:
            while demo.is_running:
                time.sleep(0.2)
        except KeyboardInterrupt:  # Ctrl-C, or `kill` (cli.hydra_entry turns SIGTERM into it)
            pass
        finally:
            demo.close()
    return demo


def serve(cfg: Mapping, block: bool = True) -> tuple[Any, PageRestorer]:
    """Validate ``cfg`` (the root config), load the model and serve the page; returns the
    ``gradio.Blocks`` and the :class:`PageRestorer`, whose ``close()`` removes its folder.
    Raises :class:`UsageError` for bad options, ``OSError`` for an address that
    cannot be served and ``unet.CheckpointError`` for a model that cannot be loaded."""
    settings = app_settings(cfg)
    options = restoring_settings(cfg)
    PrintChoice.from_settings(options, conditioned=False)  # a bad print option fails before the model loads
    page = load_page(options)
    try:
        return launch(page, settings, options.denoising_strength, block), page
    except BaseException:
        page.close()
        raise


def run(cfg: Mapping) -> int:
    """The whole command for a composed config: serve until Ctrl-C; returns the exit status.
    Errors are printed as one ``error:`` line, never raised."""
    # the command's stdout logging would print matplotlib's font-cache notice and every request
    # the page's own client makes; neither is news to its user
    for name in ("matplotlib", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        settings = app_settings(cfg)
        options = restoring_settings(cfg)
        PrintChoice.from_settings(options, conditioned=False)  # a bad print option fails before the model loads
    except UsageError as exc:
        print_error(exc)
        return 2
    checkpoint = options.checkpoint
    try:
        if checkpoint == DEFAULT_CHECKPOINT and not checkpoint.exists():
            raise FileNotFoundError("the shipped model is not installed; pass inference.checkpoint=FOLDER "
                                    "(a folder with config.json and model.weights.h5)")  # fmt: skip
        page = load_page(options)
    except Exception as exc:  # unet.CheckpointError, or a config.json the model cannot use
        print_error(str(exc) if type(exc).__name__ == "CheckpointError" else f"{checkpoint}: cannot load the model ({exc})")
        return 1
    try:
        launch(page, settings, options.denoising_strength, block=True)
    except KeyboardInterrupt:
        return 0
    except OSError:  # gradio's own message names its environment variables, not this command's options
        print_error(f"app: cannot serve on {settings.host}:{settings.port}: the port is in use or the host is no "
                     "address of this machine (choose others with app.port=... app.host=...)")  # fmt: skip
        return 1
    finally:
        page.close()
    return 0


def _main() -> None:
    hydra_entry(run)


if __name__ == "__main__":
    _main()
