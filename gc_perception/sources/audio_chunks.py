"""Audio from a WAV file, a folder of WAV files or a microphone (ALSA `arecord`), as int16 chunks.

Pure (no ROS). The audio_source node paces and publishes; this module opens, converts (any PCM
WAV -> mono int16 at the wanted rate, with numpy only), chunks, loops and says what it is.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

MIC_PREFIX = "mic"
WAV_SUFFIXES = {".wav", ".wave"}


class AudioSourceError(RuntimeError):
    """The source cannot be opened or read; the message says what was tried."""


def audio_source_kind(uri: str) -> str:
    """'microphone', 'folder' or 'file' (AudioSourceError for an unusable value)."""
    uri = uri.strip()
    if not uri:
        raise AudioSourceError("empty source: give a WAV file, a folder of WAVs or 'mic[:device]'")
    if uri == MIC_PREFIX or uri.startswith(MIC_PREFIX + ":"):
        return "microphone"
    path = Path(uri).expanduser()
    if path.is_dir():
        return "folder"
    if path.is_file():
        return "file"
    raise AudioSourceError(f"source {uri!r}: no such file or folder, and not 'mic[:device]'")


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """float32 samples [frames, channels] in [-1, 1] and the rate of a PCM WAV (8-32 bit)."""
    try:
        with wave.open(str(path), "rb") as wav:
            width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as error:
        raise AudioSourceError(f"{path}: not a PCM WAV file ({error})") from error
    return pcm_to_float(raw, width).reshape(-1, channels), rate


def pcm_to_float(raw: bytes, width: int) -> np.ndarray:
    """Little-endian PCM bytes (unsigned 8-bit, signed 16/24/32-bit) as float32 in [-1, 1]."""
    if width == 1:
        return (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    if width == 3:
        triples = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        values = triples[:, 0] | (triples[:, 1] << 8) | (triples[:, 2] << 16)
        values = np.where(values >= 1 << 23, values - (1 << 24), values)
        return (values / float(1 << 23)).astype(np.float32)
    if width in (2, 4):
        values = np.frombuffer(raw, f"<i{width}")
        return (values / float(1 << (8 * width - 1))).astype(np.float32)
    raise AudioSourceError(f"unsupported sample width of {width} bytes")


def downmix(samples: np.ndarray) -> np.ndarray:
    """Mono [frames] from [frames, channels] (the mean of the channels)."""
    return samples.mean(axis=1, dtype=np.float32) if samples.ndim == 2 else samples


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Band-limited resampling by FFT (whole signal): no aliasing above the lower Nyquist."""
    if from_rate == to_rate or samples.size == 0:
        return samples.astype(np.float32, copy=False)
    length = max(1, round(samples.size * to_rate / from_rate))
    spectrum = np.fft.rfft(samples.astype(np.float64))
    kept = min(spectrum.size, length // 2 + 1)
    resized = np.zeros(length // 2 + 1, dtype=spectrum.dtype)
    resized[:kept] = spectrum[:kept]
    return (np.fft.irfft(resized, n=length) * (length / samples.size)).astype(np.float32)


def to_int16(samples: np.ndarray) -> np.ndarray:
    """float samples in [-1, 1] as int16 (clipped, rounded)."""
    return np.clip(np.round(samples * 32768.0), -32768, 32767).astype(np.int16)


def load_wav(path: str | Path, sample_rate: int) -> np.ndarray:
    """A WAV file as mono int16 at `sample_rate`."""
    samples, rate = read_wav(path)
    return to_int16(resample(downmix(samples), rate, sample_rate))


def wav_files(folder: str | Path) -> list[Path]:
    return sorted(p for p in Path(folder).expanduser().iterdir()
                  if p.is_file() and p.suffix.lower() in WAV_SUFFIXES)


class AudioSource:
    """int16 chunks; `read()` returns None at the end of a file or folder (unless looping)."""

    def __init__(self, uri: str, sample_rate: int, chunk: int, loop: bool = False) -> None:
        self.uri = uri.strip()
        self.kind = audio_source_kind(self.uri)
        self.sample_rate, self.chunk, self.loop = sample_rate, chunk, loop
        self.unreadable = 0  # WAV files of a folder that could not be read (skipped)
        self.loops = 0
        self._files: list[Path] = []
        self._next_file = 0
        self._buffer = np.zeros(0, np.int16)
        self._recorder: subprocess.Popen | None = None

    @property
    def live(self) -> bool:
        """A microphone never ends; files and folders do."""
        return self.kind == "microphone"

    def open(self) -> None:
        self.close()
        if self.kind == "microphone":
            self._recorder = start_recorder(self.uri, self.sample_rate)
            return
        self._files = [Path(self.uri)] if self.kind == "file" else wav_files(self.uri)
        if not self._files:
            raise AudioSourceError(f"folder {self.uri!r} holds no WAV files")
        if self.kind == "file":
            self._buffer = load_wav(self._files[0], self.sample_rate)  # an unreadable file fails
        self._next_file = 1 if self.kind == "file" else 0

    def read(self) -> np.ndarray | None:
        """The next chunk (`chunk` samples; the last one of a stream may be shorter)."""
        if self._recorder is not None:
            return self._read_recorder()
        while self._buffer.size < self.chunk and self._refill():
            pass
        if self._buffer.size == 0:
            return None
        chunk, self._buffer = self._buffer[: self.chunk], self._buffer[self.chunk :]
        return chunk

    def _refill(self) -> bool:
        """Append the next readable file's samples; False at the end of the stream."""
        for _attempt in range(len(self._files)):
            if self._next_file >= len(self._files):
                if not self.loop:
                    return False
                self._next_file = 0
                self.loops += 1
            path = self._files[self._next_file]
            self._next_file += 1
            try:
                samples = load_wav(path, self.sample_rate)
            except AudioSourceError:
                self.unreadable += 1
                continue
            self._buffer = np.concatenate([self._buffer, samples])
            return True
        return False

    def _read_recorder(self) -> np.ndarray | None:
        assert self._recorder is not None and self._recorder.stdout is not None
        raw = self._recorder.stdout.read(2 * self.chunk)
        if len(raw) < 2:
            return None
        return np.frombuffer(raw[: len(raw) // 2 * 2], "<i2").astype(np.int16)

    def close(self) -> None:
        if self._recorder is not None:
            self._recorder.terminate()
            try:
                self._recorder.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                self._recorder.kill()
            self._recorder = None
        self._buffer = np.zeros(0, np.int16)


def start_recorder(uri: str, sample_rate: int) -> subprocess.Popen:
    """`arecord` writing raw mono S16_LE at `sample_rate` to a pipe ('mic' or 'mic:<device>')."""
    if shutil.which("arecord") is None:
        raise AudioSourceError("microphone needs ALSA's `arecord` (apt-get install alsa-utils)")
    listing = subprocess.run(["arecord", "-l"], capture_output=True, text=True, timeout=10)
    if "card " not in listing.stdout:
        reason = (listing.stderr or listing.stdout).strip() or "no capture devices"
        raise AudioSourceError(f"no audio capture device (arecord -l: {reason})")
    device = uri.partition(":")[2] or "default"
    command = ["arecord", "-q", "-D", device, "-t", "raw", "-f", "S16_LE", "-c", "1",
               "-r", str(sample_rate)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


class Pacer:
    """When each chunk is due at `speed` x real time (0 = at once), drift-free.

    A chunk is due when its last sample would have been captured: start + samples sent up to
    and including it / rate / speed. After a pause or a stall longer than `max_lag_s` the
    schedule restarts from now (counted in `resyncs`) rather than bursting to catch up.
    """

    def __init__(self, sample_rate: int, speed: float, max_lag_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.sample_rate, self.speed, self.max_lag_s = sample_rate, speed, max_lag_s
        self._clock = clock
        self._start = clock()
        self.resyncs = 0

    def wait_s(self, samples_through_chunk: int) -> float:
        """Seconds to wait before publishing the chunk that ends at sample `samples_through_chunk`
        of the stream."""
        if self.speed <= 0:
            return 0.0
        now = self._clock()
        offset = samples_through_chunk / self.sample_rate / self.speed
        if now - (self._start + offset) > self.max_lag_s:
            self.resyncs += 1
            self._start = now - offset
        return max(0.0, self._start + offset - now)
