"""The synthetic noise families, and the registry that makes a function a family.

A family is a function ``(num_samples, sample_rate, rng, params) -> float32 noise`` that
draws every parameter of its components (``noise_components.py``) from the ``[low, high]``
ranges of its section of the noise config, ``conf/noise/<family>.yaml``, and sums the
components at levels relative to its main stationary part at unit RMS. The decorator
:func:`noise_family` registers it under the name of its config section; everything else
(the loader's ``NoiseSource``, the check of ``family_weights``, evaluate.py's families)
reads the registry, so adding a family is one function here and one YAML file
(docs/ARCHITECTURE.md, "Adding a noise family").
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import scipy.fft

from noise_components import (
    buzz,
    crackle,
    db_to_gain,
    drifting_tone,
    envelope_response,
    frame_scratch,
    heavy_tailed_amplitudes,
    hiss,
    highpass_response,
    hum,
    level_flutter,
    log_uniform_array,
    lowpass_response,
    modulation_noise,
    poisson_times,
    random_envelope,
    recurring_click_times,
    recurring_clicks,
    render_pulses,
    rumble,
    smooth_random,
    soft_clip,
    spectral_noise,
    thumps,
    unit_rms,
)

FamilyFunction = Callable[[int, float, np.random.Generator, Mapping], np.ndarray]

# name -> function, in the order of registration: NoiseSource draws a family by its index in
# this order, so the built-in families keep the order film, gramophone, tape, generic.
FAMILY_FUNCTIONS: dict[str, FamilyFunction] = {}

# Names a family may not take: the label of recorded noise and the mixing keys' own names
# would make a section and a key of the noise config the same thing.
RESERVED_NAMES = ("recorded",)


def noise_family(name: str) -> Callable[[FamilyFunction], FamilyFunction]:
    """Register the decorated function as the noise family ``name`` (its config section).

    Raises ``ValueError`` for a name already registered or reserved (``recorded``); the
    function itself is returned unchanged, so it can still be called directly.
    """

    def register(function: FamilyFunction) -> FamilyFunction:
        if not name.isidentifier() or name in RESERVED_NAMES:
            raise ValueError(f"noise family {name!r}: expected an identifier other than {RESERVED_NAMES}")
        if name in FAMILY_FUNCTIONS and FAMILY_FUNCTIONS[name] is not function:
            raise ValueError(f"noise family {name!r} is already registered ({FAMILY_FUNCTIONS[name].__qualname__})")
        FAMILY_FUNCTIONS[name] = function
        return function

    return register


def families() -> tuple[str, ...]:
    """The registered family names, in registration order."""
    return tuple(FAMILY_FUNCTIONS)


class Params:
    """A read-only config section that draws values and names the full key in errors."""

    def __init__(self, mapping: Any, path: str):
        if not isinstance(mapping, Mapping):
            raise ValueError(f"noise.{path or '(root)'}: expected a section of parameters, got {mapping!r}")
        self._m = mapping
        self.path = path

    def key(self, key: str) -> str:
        """The full name of ``key`` as written in messages, e.g. ``noise.film.crackle.rate_hz``."""
        return f"noise.{self.path}.{key}" if self.path else f"noise.{key}"

    def has(self, key: str) -> bool:
        """Whether the section sets ``key`` (for optional parameters)."""
        return key in self._m

    def section(self, key: str) -> Params:
        """The nested section ``key`` (a component), which must be there."""
        if key not in self._m:
            raise ValueError(f"{self.key(key)}: missing section")
        return Params(self._m[key], f"{self.path}.{key}")

    def value(self, key: str, default: Any = None) -> Any:
        """The raw value of ``key``; ``default`` when it is absent, or an error without one."""
        if key not in self._m:
            if default is None:
                raise ValueError(f"{self.key(key)}: missing")
            return default
        return self._m[key]

    def number(self, key: str, default: float | None = None) -> float:
        """A fixed number (not a range)."""
        v = self.value(key, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"{self.key(key)}: expected a number, got {v!r}")
        return float(v)

    def range(self, key: str, positive: bool = False) -> tuple[float, float]:
        """``[low, high]`` (a single number means a fixed value)."""
        v = self.value(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            lo = hi = float(v)
        elif isinstance(v, Sequence) and not isinstance(v, str) and len(v) == 2 and all(
            isinstance(e, (int, float)) and not isinstance(e, bool) for e in v
        ):
            lo, hi = float(v[0]), float(v[1])
        else:
            raise ValueError(f"{self.key(key)}: expected [low, high], got {v!r}")
        if lo > hi:
            raise ValueError(f"{self.key(key)}: low {lo:g} is above high {hi:g}")
        if positive and lo <= 0:
            raise ValueError(f"{self.key(key)}: expected positive values, got {v!r}")
        return lo, hi

    def uniform(self, key: str, rng: np.random.Generator, positive: bool = False) -> float:
        """A value drawn uniformly from the range ``key``."""
        lo, hi = self.range(key, positive)
        return float(rng.uniform(lo, hi))

    def log_uniform(self, key: str, rng: np.random.Generator) -> float:
        """Uniform in the logarithm: rates, widths and corner frequencies span decades."""
        lo, hi = self.range(key, positive=True)
        return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))

    def integer(self, key: str, rng: np.random.Generator) -> int:
        """A whole number drawn uniformly from the range ``key``, both ends included."""
        lo, hi = self.range(key)
        return int(rng.integers(int(math.ceil(lo)), int(math.floor(hi)) + 1))

    def present(self, rng: np.random.Generator) -> bool:
        """Whether this component is in the example (``prob``, default 1)."""
        prob = self.number("prob", 1.0)
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"{self.key('prob')}: expected a value in [0, 1], got {prob:g}")
        return bool(rng.random() < prob)


# ---------------------------------------------------------------------------------------------
# families: parameters drawn from config ranges


def _with_hum(p: Params, out: np.ndarray, n: int, sr: float, rng: np.random.Generator) -> np.ndarray:
    """``out`` plus the optional hum of the playback chain (the family's ``hum`` section), float32:
    the last part of the film, gramophone and tape families."""
    h = p.section("hum")
    if h.present(rng):
        out = out + _hum_from(h, n, sr, rng)
    return out.astype(np.float32, copy=False)


def _hum_from(p: Params, n: int, sr: float, rng: np.random.Generator) -> np.ndarray:
    mains = p.value("mains_frequencies_hz")
    if isinstance(mains, (int, float)):
        mains = [mains]
    if not isinstance(mains, Sequence) or not mains:
        raise ValueError(f"{p.key('mains_frequencies_hz')}: expected a list such as [50, 60], got {mains!r}")
    f0 = float(mains[int(rng.integers(len(mains)))]) * (1.0 + p.uniform("frequency_deviation", rng))
    tone = hum(
        n,
        sr,
        rng,
        f0,
        p.integer("harmonics", rng),
        p.uniform("decay_db_per_harmonic", rng),
        p.uniform("even_harmonic_db", rng),
    )
    return tone * np.float32(db_to_gain(p.uniform("level_db", rng)))


def _hiss_from(p: Params, n: int, sr: float, rng: np.random.Generator) -> np.ndarray:
    slope = p.uniform("slope_db_per_octave", rng)
    highpass = p.log_uniform("highpass_hz", rng)
    lowpass = p.log_uniform("lowpass_hz", rng)
    shelf_hz, shelf_db = None, 0.0
    if p.has("shelf_hz"):
        shelf_hz, shelf_db = p.log_uniform("shelf_hz", rng), p.uniform("shelf_db", rng)
    return hiss(n, sr, rng, slope, highpass, lowpass, shelf_hz, shelf_db)


def _crackle_from(p: Params, n: int, sr: float, rng: np.random.Generator) -> np.ndarray:
    x = crackle(
        n,
        sr,
        rng,
        p.log_uniform("rate_hz", rng),
        p.range("width_ms", positive=True),
        p.uniform("tail_alpha", rng, positive=True),
        db_to_gain(p.number("cap_db")),
    )
    return x * np.float32(db_to_gain(p.uniform("level_db", rng)))


@noise_family("film")
def film_noise(num_samples: int, sample_rate: float, rng: np.random.Generator, params: Mapping) -> np.ndarray:
    """Noise of an optical film soundtrack (the ``film`` section of the noise config).

    Grain hiss with a sloped spectrum, perforation buzz (96 Hz for 35 mm, 24 Hz for 16 mm),
    both under a slow level flutter; dust crackle; splice thumps; scratch pops repeating
    every frame; mains hum. Levels are relative to the hiss at unit RMS; float32.
    """
    p = Params(params, "film")
    n, sr = int(num_samples), float(sample_rate)
    frame_rate = p.number("frame_rate_hz")
    optical = _hiss_from(p.section("hiss"), n, sr, rng)
    b = p.section("buzz")
    if b.present(rng):
        gauges = b.value("gauges")
        if not isinstance(gauges, Mapping) or not gauges:
            raise ValueError(f"{b.key('gauges')}: expected a mapping such as {{35mm: {{perforations_per_frame: 4, weight: 1}}}}")
        names = sorted(gauges)
        g = [Params(gauges[k], f"{b.path}.gauges.{k}") for k in names]
        w = np.array([x.number("weight") for x in g])
        if (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"{b.key('gauges')}: weights must be non-negative with a positive sum")
        # every gauge's rate is read (not only the drawn one's), so that a bad value fails the first time
        perforations = [x.number("perforations_per_frame") for x in g]
        f0 = frame_rate * perforations[int(rng.choice(len(g), p=w / w.sum()))] * (1.0 + b.uniform("speed_deviation", rng))
        tone = buzz(n, sr, rng, f0, b.integer("harmonics", rng), b.uniform("rolloff", rng))
        optical = optical + tone * np.float32(db_to_gain(b.uniform("level_db", rng)))
    f = p.section("flutter")
    if f.present(rng):
        optical = optical * level_flutter(n, sr, rng, f.log_uniform("rate_hz", rng), f.uniform("depth", rng))
    out = optical
    c = p.section("crackle")
    if c.present(rng):
        out = out + _crackle_from(c, n, sr, rng)
    t = p.section("thumps")
    if t.present(rng):
        x = thumps(n, sr, rng, t.log_uniform("rate_hz", rng), t.range("duration_ms", positive=True))
        out = out + x * np.float32(db_to_gain(t.uniform("level_db", rng)))
    s = p.section("scratch")
    if s.present(rng):
        x = frame_scratch(n, sr, rng, s.log_uniform("rate_hz", rng), frame_rate, s.range("burst_s", positive=True),
                          s.range("duration_ms", positive=True))  # fmt: skip
        out = out + x * np.float32(db_to_gain(s.uniform("level_db", rng)))
    return _with_hum(p, out, n, sr, rng)


@noise_family("gramophone")
def gramophone_noise(num_samples: int, sample_rate: float, rng: np.random.Generator, params: Mapping) -> np.ndarray:
    """Noise of a 78 rpm disc (the ``gramophone`` section): surface hiss, crackle, clicks
    recurring every revolution, rumble below about 40 Hz, and optional hum of the
    playback chain. Levels are relative to the hiss at unit RMS; float32.
    """
    p = Params(params, "gramophone")
    n, sr = int(num_samples), float(sample_rate)
    out = _hiss_from(p.section("hiss"), n, sr, rng)
    c = p.section("crackle")
    if c.present(rng):
        out = out + _crackle_from(c, n, sr, rng)
    k = p.section("clicks")
    if k.present(rng):
        # keyword arguments in the order the draws were always made (they use rng)
        x = recurring_clicks(
            n,
            sr,
            rng,
            60.0 / k.uniform("rpm", rng, positive=True),
            num_defects=k.integer("defects", rng),
            persistence=k.uniform("persistence", rng),
            width_ms=k.range("width_ms", positive=True),
            jitter_s=k.number("jitter_ms") * 1e-3,
        )
        out = out + x * np.float32(db_to_gain(k.uniform("level_db", rng)))
    r = p.section("rumble")
    if r.present(rng):
        x = rumble(n, sr, rng, r.uniform("cutoff_hz", rng, positive=True), r.number("highpass_hz"))
        out = out + x * np.float32(db_to_gain(r.uniform("level_db", rng)))
    return _with_hum(p, out, n, sr, rng)


@noise_family("tape")
def tape_noise(num_samples: int, sample_rate: float, rng: np.random.Generator, params: Mapping) -> np.ndarray:
    """Noise of tape and cassette (the ``tape`` section): hiss with high-frequency emphasis,
    modulation noise under a slow random envelope, and mains hum. Levels are relative
    to the hiss at unit RMS; float32.
    """
    p = Params(params, "tape")
    n, sr = int(num_samples), float(sample_rate)
    out = _hiss_from(p.section("hiss"), n, sr, rng)
    m = p.section("modulation")
    if m.present(rng):
        x = modulation_noise(
            n,
            sr,
            rng,
            m.log_uniform("bandwidth_hz", rng),
            m.uniform("depth_db", rng),
            m.uniform("slope_db_per_octave", rng),
            m.number("highpass_hz"),
            m.log_uniform("lowpass_hz", rng),
        )
        out = out + x * np.float32(db_to_gain(m.uniform("level_db", rng)))
    return _with_hum(p, out, n, sr, rng)



# ---------------------------------------------------------------------------------------------
# the generic family: wide distributions instead of one medium's recipe


def _envelope_peaks(p: Params, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Resonances and notches of a smooth envelope: ``(hz, gains_db, widths_oct)`` drawn from
    ``peaks``, ``peak_hz`` (log-uniform), ``peak_gain_db`` and ``peak_width_oct``."""
    count = p.integer("peaks", rng)
    lo, hi = p.range("peak_hz", positive=True)
    hz = log_uniform_array(rng, lo, hi, count)
    gains = rng.uniform(*p.range("peak_gain_db"), size=count)
    widths = rng.uniform(*p.range("peak_width_oct", positive=True), size=count)
    return hz, gains, widths


def _generic_stationary(p: Params, n: int, sr: float, rng: np.random.Generator, slope: float) -> np.ndarray:
    hz, gains, widths = _envelope_peaks(p, rng)
    highpass = p.log_uniform("highpass_hz", rng)
    lowpass = p.log_uniform("lowpass_hz", rng)
    return spectral_noise(n, sr, rng, lambda f: envelope_response(f, slope, hz, gains, widths, highpass, lowpass, sr))


def _generic_tones(p: Params, n: int, sr: float, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(n, dtype=np.float32)
    for _ in range(p.integer("count", rng)):
        k = np.arange(p.integer("harmonics", rng))
        level_db = -p.uniform("decay_db_per_harmonic", rng) * k + rng.uniform(*p.range("harmonic_jitter_db"), size=k.size)
        level_db[0] = 0.0
        tone = drifting_tone(
            n, sr, rng, p.log_uniform("fundamental_hz", rng), 10.0 ** (level_db / 20.0),
            p.uniform("drift", rng), p.log_uniform("drift_rate_hz", rng),
        )  # fmt: skip
        out += tone * np.float32(db_to_gain(p.uniform("level_db", rng)))
    return out


def _generic_impulses(p: Params, n: int, sr: float, rng: np.random.Generator) -> np.ndarray:
    rate = p.log_uniform("rate_hz", rng)
    if rng.random() < p.number("periodic_prob"):
        # defects that recur once per revolution or frame of some mechanism
        period = p.log_uniform("period_s", rng)
        pos, who = recurring_click_times(n, sr, rng, period, p.integer("defects", rng), p.uniform("persistence", rng), 0.0005)
    else:
        pos = poisson_times(n, sr, rate, rng)
        who = np.arange(pos.size)
    events = int(who.max(initial=-1)) + 1
    # one width range per example around a log-uniform centre: sparse ticks or wide pops
    centre = p.log_uniform("width_ms", rng)
    spread = p.uniform("width_spread", rng)
    widths = centre * np.exp(rng.uniform(-spread, spread, events) * math.log(2.0))
    lengths = np.round(widths * 1e-3 * sr)
    amps = heavy_tailed_amplitudes(events, rng, p.uniform("tail_alpha", rng, positive=True), db_to_gain(p.number("cap_db")))
    cycles = rng.uniform(*p.range("colour_cycles"), size=events)  # more cycles: energy higher up
    x = render_pulses(n, pos, lengths[who], amps[who] * rng.uniform(0.75, 1.25, pos.size), cycles[who], rng.uniform(0, 2 * np.pi, events)[who])
    return x * np.float32(db_to_gain(p.uniform("level_db", rng)))


def _chain_filter(x: np.ndarray, sr: float, highpass_hz: float, lowpass_hz: float) -> np.ndarray:
    length = scipy.fft.next_fast_len(x.size, real=True)
    spec = scipy.fft.rfft(x, length)
    f = np.arange(spec.size, dtype=np.float32) * np.float32(sr / length)
    spec *= highpass_response(f, highpass_hz, 2) * (lowpass_response(f, lowpass_hz, 4) if lowpass_hz < 0.98 * sr / 2 else 1.0)
    return scipy.fft.irfft(spec, length)[: x.size].astype(np.float32)


@noise_family("generic")
def generic_noise(num_samples: int, sample_rate: float, rng: np.random.Generator, params: Mapping) -> np.ndarray:
    """Noise drawn from wide distributions (the ``generic`` section of the noise config).

    Not one medium's recipe but "whatever is not programme": stationary noise under a
    random smooth spectral envelope (tilt, resonances and notches, band limits), whose
    colour may drift between two such envelopes; harmonic tones at random fundamentals
    with slow drift; impulses from sparse ticks to dense crackle, aperiodic or recurring
    once per period of some mechanism; a slow random level modulation; and a worn
    playback chain (band-limiting and soft saturation) applied to the noise alone.
    Levels are relative to the stationary part at unit RMS; float32.
    """
    p = Params(params, "generic")
    n, sr = int(num_samples), float(sample_rate)
    s = p.section("stationary")
    slope = s.uniform("slope_db_per_octave", rng)
    out = _generic_stationary(s, n, sr, rng, slope)
    c = p.section("colour_modulation")
    if c.present(rng):
        other = _generic_stationary(s, n, sr, rng, slope + c.uniform("slope_change_db_per_octave", rng))
        w = 0.5 + 0.5 * np.tanh(2.0 * smooth_random(n, sr, rng, c.log_uniform("rate_hz", rng)))
        out = np.sqrt(w) * out + np.sqrt(1.0 - w) * other
    m = p.section("level_modulation")
    if m.present(rng):
        out = out * random_envelope(n, sr, rng, m.log_uniform("rate_hz", rng), m.uniform("depth_db", rng))
    t = p.section("tones")
    if t.present(rng):
        out = out + _generic_tones(t, n, sr, rng)
    i = p.section("impulses")
    if i.present(rng):
        out = out + _generic_impulses(i, n, sr, rng)
    ch = p.section("chain")
    if ch.present(rng):
        out = _chain_filter(out, sr, ch.log_uniform("highpass_hz", rng), ch.log_uniform("lowpass_hz", rng))
        d = ch.section("saturation")
        if d.present(rng):
            out = soft_clip(unit_rms(out), d.uniform("drive_db", rng))
    return out.astype(np.float32, copy=False)


# ---------------------------------------------------------------------------------------------
# recorded noise, varied: the same texture at another speed and colour


_VARIATION_MARGIN = 2048  # samples dropped at each end of a varied stretch


@dataclasses.dataclass(frozen=True)
class RecordingVariation:
    """One draw of ``noise.recorded_variation``: a recording replayed ``speed`` times faster
    (its spectrum and its events' rates scaled by ``speed``) and filtered by a smooth envelope
    (:func:`envelope_response` without band limits). Apply one draw to a noise and its print
    so that the print still describes the noise."""

    speed: float
    slope_db_per_octave: float
    peaks_hz: tuple[float, ...] = ()
    peak_gains_db: tuple[float, ...] = ()
    peak_widths_oct: tuple[float, ...] = ()

    @classmethod
    def draw(cls, params: Mapping, rng: np.random.Generator) -> RecordingVariation | None:
        """A variation, or None when this example keeps the recording as it is (``prob``)."""
        p = Params(params, "recorded_variation")
        if not p.present(rng):
            return None
        speed, slope = p.log_uniform("speed", rng), p.uniform("slope_db_per_octave", rng)
        hz, gains, widths = (tuple(float(v) for v in a) for a in _envelope_peaks(p, rng))
        return cls(speed, slope, hz, gains, widths)

    def source_samples(self, num_samples: int) -> int:
        """How many samples of the recording make ``num_samples`` after the speed change."""
        return int(math.ceil((num_samples + 2 * _VARIATION_MARGIN) * self.speed)) + 1

    def apply(self, x: np.ndarray, num_samples: int, sample_rate: float) -> np.ndarray:
        """``x`` (at least :meth:`source_samples` long) replayed and recoloured: float32 [num_samples]."""
        n = int(num_samples)
        if x.size < self.source_samples(n):
            raise ValueError(f"recorded_variation: needs {self.source_samples(n)} samples for {n}, got {x.size}")
        # one FFT does both: the band-limited resampling (scipy.signal.resample truncates or
        # zero-pads the spectrum, so a faster replay cannot alias) and the envelope
        length = int(round(x.size / self.speed))
        spec = scipy.fft.rfft(x.astype(np.float32, copy=False))
        bins = length // 2 + 1
        if spec.size >= bins:
            spec = spec[:bins]
        else:
            spec = np.concatenate([spec, np.zeros(bins - spec.size, dtype=spec.dtype)])
        f = np.arange(bins, dtype=np.float32) * np.float32(sample_rate / length)
        spec = spec * envelope_response(f, self.slope_db_per_octave, self.peaks_hz, self.peak_gains_db, self.peak_widths_oct)
        # the margins absorb the FFT's wrap-around (the stretch's two ends meet there)
        y = scipy.fft.irfft(spec, length)[_VARIATION_MARGIN : _VARIATION_MARGIN + n]
        y *= np.float32(length / x.size)  # irfft divides by the new length: keep the level
        return y.astype(np.float32, copy=False)
