"""Log-mel features in numpy, shared by the always-on runtime and by training.

One function computes the features on both sides, so a model never sees features at run time
that differ from the ones it was trained on. Parameters come from the manifest's "input" dict:

    {"kind": "audio", "sample_rate": 16000, "clip_samples": 16000, "layout": "N1FT",
     "features": {"type": "log_mel", "n_mels": 40, "n_fft": 512, "win_length": 480,
                  "hop_length": 160, "fmin": 20, "fmax": 7600, "log_floor": 1e-6}}

Frames are taken without padding: frames = 1 + (clip_samples - win_length) // hop_length
(98 for the dict above). Each frame is Hann-windowed, zero-padded to n_fft, and its power
spectrum is summed by triangular HTK-mel filters; the result is ln(max(mel, log_floor)).
int16 input is scaled by 1/32768, so int16 and float input in [-1, 1] give the same features.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

INT16_SCALE = 1.0 / 32768.0
LAYOUT = "N1FT"
FRAMES_PER_CHUNK = 16


@dataclass(frozen=True)
class LogMelSpec:
    """The feature parameters, validated once; hashable so the filterbank can be cached."""

    sample_rate: int
    clip_samples: int
    n_mels: int
    n_fft: int
    win_length: int
    hop_length: int
    fmin: float
    fmax: float
    log_floor: float

    def __post_init__(self) -> None:
        if not 0 < self.win_length <= self.n_fft:
            raise ValueError(f"need 0 < win_length <= n_fft, got {self.win_length}, {self.n_fft}")
        if self.hop_length <= 0 or self.clip_samples < self.win_length:
            raise ValueError("need hop_length > 0 and clip_samples >= win_length")
        if not 0 <= self.fmin < self.fmax <= self.sample_rate / 2:
            raise ValueError(f"need 0 <= fmin < fmax <= rate/2, got {self.fmin}, {self.fmax}")
        if self.log_floor <= 0 or self.n_mels <= 0:
            raise ValueError("need log_floor > 0 and n_mels > 0")

    @property
    def frames(self) -> int:
        return 1 + (self.clip_samples - self.win_length) // self.hop_length


def parse_spec(input_spec: Mapping[str, Any]) -> LogMelSpec:
    """The LogMelSpec of a manifest "input" dict (or an already parsed LogMelSpec)."""
    if isinstance(input_spec, LogMelSpec):
        return input_spec
    features = input_spec.get("features", {})
    if input_spec.get("kind") != "audio" or features.get("type") != "log_mel":
        raise ValueError(f"not an audio log_mel input spec: {dict(input_spec)}")
    if input_spec.get("layout", LAYOUT) != LAYOUT:
        raise ValueError(f"unsupported layout {input_spec['layout']!r}; expected {LAYOUT!r}")
    return LogMelSpec(
        sample_rate=int(input_spec["sample_rate"]),
        clip_samples=int(input_spec["clip_samples"]),
        n_mels=int(features["n_mels"]),
        n_fft=int(features["n_fft"]),
        win_length=int(features["win_length"]),
        hop_length=int(features["hop_length"]),
        fmin=float(features["fmin"]),
        fmax=float(features["fmax"]),
        log_floor=float(features["log_floor"]),
    )


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_band_edges(spec: LogMelSpec) -> np.ndarray:
    """n_mels + 2 frequencies (Hz): filter m rises from edge m, peaks at m+1, ends at m+2."""
    return mel_to_hz(np.linspace(hz_to_mel(spec.fmin), hz_to_mel(spec.fmax), spec.n_mels + 2))


@lru_cache(maxsize=8)
def _filterbank_and_window(spec: LogMelSpec) -> tuple[np.ndarray, np.ndarray]:
    """Mel filterbank [used bins, n_mels] and Hann window, built once per spec.

    FFT bins above the last filter carry no weight: they are cut off, and the spectrum with them.
    """
    edges = mel_band_edges(spec)
    bins = np.fft.rfftfreq(spec.n_fft, 1.0 / spec.sample_rate)[:, None]
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins - lower) / (centre - lower)
    falling = (upper - bins) / (upper - centre)
    filterbank = np.maximum(0.0, np.minimum(rising, falling))
    used_bins = int(np.flatnonzero(filterbank.any(axis=1))[-1]) + 1
    filterbank = filterbank[:used_bins]
    window = np.hanning(spec.win_length + 1)[:-1]  # periodic Hann
    return filterbank, window


def as_float_samples(samples: np.ndarray) -> np.ndarray:
    """float32 samples in [-1, 1]: int16 is scaled by 1/32768, floats are taken as they are."""
    samples = np.asarray(samples)
    if samples.dtype == np.int16:
        return samples.astype(np.float32) * np.float32(INT16_SCALE)
    if not np.issubdtype(samples.dtype, np.floating):
        raise TypeError(f"expected int16 or float samples, got {samples.dtype}")
    return samples.astype(np.float32, copy=False)


def fit_clip(samples: np.ndarray, clip_samples: int) -> np.ndarray:
    """The last `clip_samples` samples (the most recent audio), zero-padded at the end if short."""
    samples = samples[..., -clip_samples:]
    missing = clip_samples - samples.shape[-1]
    if missing:
        pad = [(0, 0)] * (samples.ndim - 1) + [(0, missing)]
        samples = np.pad(samples, pad)
    return samples


def _mel_energies(frames: np.ndarray, spec: LogMelSpec) -> np.ndarray:
    """Mel energies [..., frames, n_mels] of raw frames [..., frames, win_length].

    Works through FRAMES_PER_CHUNK frames at a time, for two reasons. Every temporary of a
    single clip then stays below glibc's mmap threshold, so a call makes no page faults (in one
    piece: about 300 per call, a third of the run time). And each filterbank matmul stays below
    OpenBLAS's threading threshold (m*n*k < 262144), so it runs on the calling thread: OpenBLAS
    worker threads spinning against the rest of a busy process cost several ms per clip.
    float64 on purpose: numpy's float64 rfft is about 5x faster than its float32 one.
    """
    filterbank, window = _filterbank_and_window(spec)
    chunks = []
    for first in range(0, frames.shape[-2], FRAMES_PER_CHUNK):
        chunk = frames[..., first : first + FRAMES_PER_CHUNK, :] * window
        spectrum = np.fft.rfft(chunk, n=spec.n_fft, axis=-1)[..., : filterbank.shape[0]]
        power = np.abs(spectrum)
        power *= power
        chunks.append(power @ filterbank)
    return np.concatenate(chunks, axis=-2)


def log_mel(samples: np.ndarray, input_spec: Mapping[str, Any] | LogMelSpec) -> np.ndarray:
    """Log-mel features [n_mels, frames] of one clip, or [N, n_mels, frames] of a batch [N, S].

    Accepts any length >= win_length; the frame count follows the length (98 for 1 s at the
    default spec). Use model_input() for the fixed-size network input.
    """
    spec = parse_spec(input_spec)
    audio = as_float_samples(samples)
    if audio.shape[-1] < spec.win_length:
        raise ValueError(f"need at least {spec.win_length} samples, got {audio.shape[-1]}")
    frames = np.lib.stride_tricks.sliding_window_view(audio, spec.win_length, axis=-1)
    mel = _mel_energies(frames[..., :: spec.hop_length, :], spec)
    floored = np.log(np.maximum(mel, spec.log_floor)).astype(np.float32)
    return floored.swapaxes(-1, -2)


def model_input(samples: np.ndarray, input_spec: Mapping[str, Any] | LogMelSpec) -> np.ndarray:
    """Network input in "N1FT" layout, float32: [1, 1, n_mels, frames] for one clip, or
    [N, 1, n_mels, frames] for a batch [N, S]. Clips are fitted to clip_samples first."""
    spec = parse_spec(input_spec)
    audio = fit_clip(as_float_samples(samples), spec.clip_samples)
    features = log_mel(audio, spec)
    if features.ndim == 2:
        features = features[None]
    return np.ascontiguousarray(features[:, None], dtype=np.float32)
