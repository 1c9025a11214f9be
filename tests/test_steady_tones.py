"""steady_tones.py: steady lines found, told from programme, followed block by block, notched."""
from __future__ import annotations

import numpy as np
import pytest

import steady_tones

RATE = 44100


def programme(seconds: float, seed: int = 0) -> np.ndarray:
    """Notes that come and go: a new pitch and level every 0.4 s over a little hiss."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    note = int(0.4 * RATE)
    out = 0.003 * rng.standard_normal(n)
    for start in range(0, n, note):
        end = min(n, start + note)
        f = rng.uniform(80.0, 2000.0)
        envelope = np.hanning(end - start)
        out[start:end] += rng.uniform(0.05, 0.3) * envelope * np.sin(2 * np.pi * f * t[start:end])
    return out


def hum(seconds: float, f0: float = 50.0, amp: float = 0.01) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return amp * np.sin(2 * np.pi * f0 * t) + 0.5 * amp * np.sin(2 * np.pi * 3 * f0 * t + 1.0)


def line_power_db(x: np.ndarray, f0: float) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / RATE)
    return float(10 * np.log10(spectrum[np.abs(freqs - f0) < 1.0].sum()))


@pytest.mark.parametrize("rate,size", [(8000, 4096), (22050, 8192), (44100, 16384), (48000, 16384), (96000, 32768)])
def test_fft_size_gives_bins_of_about_three_hertz(rate, size):
    assert steady_tones.fft_size(rate) == size
    assert 1.3 < rate / size < 3.0


def test_hum_under_programme_is_found_at_its_frequencies():
    tones = steady_tones.steady_tones(programme(12.0) + hum(12.0), RATE)
    found = sorted(t.frequency_hz for t in tones)
    assert len(found) == 2
    assert found[0] == pytest.approx(50.0, abs=0.5) and found[1] == pytest.approx(150.0, abs=0.5)
    assert all(t.prominence_db >= steady_tones.MIN_PROMINENCE_DB and t.spread_db <= steady_tones.MAX_SPREAD_DB for t in tones)
    assert tones[0].prominence_db >= tones[1].prominence_db  # strongest first


def test_programme_alone_and_a_note_that_swells_give_none():
    assert steady_tones.steady_tones(programme(12.0), RATE) == []
    t = np.arange(12 * RATE) / RATE
    swelling = 0.2 * (0.55 + 0.45 * np.sin(2 * np.pi * 0.3 * t)) * np.sin(2 * np.pi * 220.0 * t)  # 20 dB of swell
    assert steady_tones.steady_tones(swelling + programme(12.0, seed=1), RATE) == []


def test_too_short_silent_and_empty_inputs_give_none():
    assert steady_tones.steady_tones(programme(2.0) + hum(2.0), RATE) == []  # under MIN_SECONDS
    assert steady_tones.steady_tones(np.zeros(10 * RATE), RATE) == []
    assert steady_tones.steady_tones(np.zeros(0), RATE) == []


def test_blocks_of_any_size_and_channels_give_what_the_whole_gives():
    mono = programme(8.0) + hum(8.0, f0=60.0)
    whole = steady_tones.steady_tones(mono, RATE)
    watch = steady_tones.SteadyToneWatch(RATE)
    rng = np.random.default_rng(3)
    start = 0
    stereo = np.stack([mono, mono], axis=1)
    while start < len(stereo):
        size = int(rng.integers(1, 30000))
        watch.add(stereo[start:start + size])
        start += size
    assert [round(t.frequency_hz, 3) for t in watch.tones()] == [round(t.frequency_hz, 3) for t in whole]
    assert len(whole) == 2


def test_the_watch_keeps_only_its_first_seconds():
    watch = steady_tones.SteadyToneWatch(RATE, max_seconds=5.0)
    watch.add(programme(5.0))
    kept = watch.frame_db().shape[1]
    watch.add(hum(20.0, amp=0.3))  # after the limit: not looked at
    assert watch.full and watch.frame_db().shape[1] == kept and watch.tones() == []


def _watched(audio: np.ndarray) -> steady_tones.SteadyToneWatch:
    watch = steady_tones.SteadyToneWatch(RATE)
    watch.add(audio)
    return watch


def test_hum_taken_out_is_not_reported_and_hum_left_is():
    prog, h = programme(12.0), hum(12.0)
    before = _watched(prog + h)
    assert steady_tones.left_in_restoration(before, _watched(prog)) == []
    left = steady_tones.left_in_restoration(before, _watched(prog + 0.5 * h))
    assert sorted(round(t.frequency_hz) for t in left) == [50, 150]
    # taken out in one second of six and halved in two: unsteady in the restoration, still there
    gate = np.repeat(np.resize([1.0, 0.3, 1.0, 0.3, 1.0, 0.0], 12), RATE)
    assert steady_tones.steady_tones(prog + gate * h, RATE) == []
    uneven = steady_tones.left_in_restoration(before, _watched(prog + gate * h))
    assert [round(t.frequency_hz) for t in uneven][:1] == [50]


def test_tones_left_of_two_whole_signals_is_what_two_watches_find():
    prog, h = programme(8.0), hum(8.0)
    given = np.stack([prog + h, prog + h], axis=1)  # two channels, mixed down as the watch mixes them
    left = steady_tones.tones_left(given, prog + 0.5 * h, RATE)
    assert left == steady_tones.left_in_restoration(_watched(prog + h), _watched(prog + 0.5 * h))
    assert sorted(round(t.frequency_hz) for t in left) == [50, 150]
    assert steady_tones.tones_left(given, prog, RATE) == []


def test_notch_takes_out_the_lines_and_leaves_the_rest():
    prog, h = programme(12.0), hum(12.0)
    mixed = prog + h
    notched = steady_tones.notch(mixed, RATE, steady_tones.steady_tones(mixed, RATE))
    assert notched.dtype == mixed.dtype and notched.shape == mixed.shape
    assert line_power_db(notched, 50.0) < line_power_db(h, 50.0) - 20.0
    assert steady_tones.steady_tones(notched, RATE) == []
    above = np.fft.rfftfreq(len(mixed), 1 / RATE) > 200.0  # the programme's notes there, no line
    kept = (np.abs(np.fft.rfft(notched)) ** 2)[above].sum() / (np.abs(np.fft.rfft(mixed)) ** 2)[above].sum()
    assert 10 * np.log10(kept) == pytest.approx(0.0, abs=0.05)
    assert steady_tones.notch(mixed.astype(np.float32), RATE, []).dtype == np.float32


def test_warning_names_the_lines_and_says_nothing_without_them():
    assert steady_tones.warning("reel.wav", []) is None
    tones = [steady_tones.SteadyTone(f, 30.0 - i, 1.0) for i, f in enumerate([100.2, 50.1, 150.0, 200.0, 250.0, 300.0, 350.0])]
    line = steady_tones.warning("reel.wav", tones)
    assert line.startswith("reel.wav: steady tones at 50, 100, 150, 200, 250 Hz and 2 more")
    assert "30 dB above" in line and "noise print" in line and "\n" not in line
