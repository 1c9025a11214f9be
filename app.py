"""The restorer's web page: ``python app.py [app.KEY=VALUE ...] [inference.KEY=VALUE ...]``.

Serves a page at ``http://127.0.0.1:7860`` (``app.host``, ``app.port``; this machine only
by default, no public link): upload a recording, choose the denoising strength, press
Restore; the page plays the input, the restored programme and the residual (what was
removed), shows their spectrograms (the first ``inference.plot_seconds``) and offers the
restored and residual files for download, named as the command line names them
(``<stem>_denoised_s<N>.<ext>``, ``<stem>_residual_s<N>.<ext>``).

The model is loaded once, at start (``inference.checkpoint``, ``inference.precision``,
``inference.backend``; the other ``inference.*`` options set the segmentation, the slider's
starting strength and ``allow_truncated``; noise prints are not offered: a conditioned
model estimates the noise from each segment itself). Each upload is restored by
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

import audio_io
import configs
import inference
import naming
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


@dataclass
class PageResult:
    """What one restoration on the page produced (files in the page's temporary folder)."""

    source: Path
    restored: Path
    residual: Path
    spectrograms: Path
    summary: str
    warnings: list[str] = field(default_factory=list)


class PageRestorer:
    """Restores uploads one at a time with one loaded :class:`inference.Restorer`.

    Outputs go to a fresh subfolder of a private temporary folder; the previous upload's
    subfolder is removed when the next restoration starts (the web server has copied its
    files to its own cache by then), so the folder holds one restoration at most.
    """

    def __init__(self, restorer: inference.Restorer, plot_seconds: float = inference.DEFAULTS.plot_seconds,
                 allow_truncated: bool = inference.DEFAULTS.allow_truncated) -> None:
        self.restorer = restorer
        self.plot_seconds = float(plot_seconds)
        self.allow_truncated = bool(allow_truncated)
        self.work_dir = Path(tempfile.mkdtemp(prefix="restorer-page-"))

    def close(self) -> None:
        """Remove the temporary folder and everything in it."""
        shutil.rmtree(self.work_dir, ignore_errors=True)

    def restore_upload(self, upload: str | os.PathLike | None, strength: float, progress: Callable[[float, str], Any] | None = None) -> PageResult:
        """Restore the uploaded file at ``strength`` (0..1, kept to three decimals as output
        names need); ``progress(fraction, description)`` follows the blocks read.

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
        folder = Path(tempfile.mkdtemp(dir=self.work_dir))
        try:
            return self._restore(source, strength, folder, progress)
        except InferenceError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise InferenceError(self._named(str(exc), source, folder)) from None
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    @staticmethod
    def _named(message: str, source: Path, folder: Path) -> str:
        """``message`` with the server's paths replaced by the names the user knows."""
        message = message.replace(str(folder) + os.sep, "").replace(str(source), source.name)
        return " ".join(message.split())

    def _restore(self, source: Path, strength: float, folder: Path, progress: Callable[[float, str], Any] | None) -> PageResult:
        with audio_io.open_audio(source) as probe:  # a non-audio file fails here, before any work
            total, rate, channels = max(probe.frames, 0), probe.samplerate, probe.channels
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
        return PageResult(source, result.denoised, result.residual, plot_path, summary,
                          [self._named(w, source, folder) for w in result.warnings])  # fmt: skip


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

        def restore(upload_path: str | None, value: float, progress: gr.Progress = gr.Progress()) -> list[Any]:
            try:
                result = page.restore_upload(upload_path, value, lambda f, desc: progress(f, desc=desc))
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
            restore, inputs=[upload, slider], outputs=outputs, concurrency_limit=1, show_progress_on=[image]
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
    )  # fmt: skip
    return PageRestorer(restorer, options.plot_seconds, options.allow_truncated)


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
