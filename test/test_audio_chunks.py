"""Audio sources: PCM WAV decoding, downmix, resampling, chunking, folders, looping, microphone
errors and pacing."""

import wave
from pathlib import Path

import numpy as np
import pytest

from gc_perception.sources import audio_chunks
from gc_perception.sources.audio_chunks import (
    AudioSource,
    AudioSourceError,
    Pacer,
    audio_source_kind,
    downmix,
    load_wav,
    read_wav,
    resample,
)


def write_wav(path: Path, samples: np.ndarray, rate: int, width: int = 2) -> Path:
    """samples: float [frames] or [frames, channels] in [-1, 1]."""
    frames = samples if samples.ndim == 2 else samples[:, None]
    if width == 1:
        raw = np.round(frames * 127 + 128).astype(np.uint8).tobytes()
    elif width == 3:
        ints = np.round(frames * (2**23 - 1)).astype("<i4").reshape(-1)
        raw = np.stack([(ints >> s) & 0xFF for s in (0, 8, 16)], axis=1).astype(np.uint8)
        raw = raw.tobytes()
    else:
        raw = np.round(frames * (2 ** (8 * width - 1) - 1)).astype(f"<i{width}").tobytes()
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(frames.shape[1])
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(raw)
    return path


def tone(hz: float, rate: int, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(rate * seconds)) / rate
    return amplitude * np.sin(2 * np.pi * hz * t)


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_pcm_widths_decode_to_the_same_signal(tmp_path, width):
    signal = tone(440, 8000, 0.05)
    samples, rate = read_wav(write_wav(tmp_path / "t.wav", signal, 8000, width))
    assert rate == 8000 and samples.shape == (signal.size, 1)
    assert np.abs(samples[:, 0] - signal).max() < (0.01 if width == 1 else 1e-4)


def test_stereo_is_downmixed_to_the_channel_mean(tmp_path):
    left, right = tone(440, 16000, 0.1, 0.4), tone(440, 16000, 0.1, 0.2)
    samples, _ = read_wav(write_wav(tmp_path / "s.wav", np.stack([left, right], 1), 16000))
    assert np.allclose(downmix(samples), (left + right) / 2, atol=1e-4)


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(samples.size, 1 / rate)[spectrum.argmax()])


def test_resampling_keeps_pitch_and_length():
    up = resample(tone(1000, 8000, 1.0).astype(np.float32), 8000, 16000)
    assert up.size == 16000 and dominant_hz(up, 16000) == pytest.approx(1000, abs=2)
    down = resample(tone(1000, 44100, 1.0).astype(np.float32), 44100, 16000)
    assert down.size == 16000 and dominant_hz(down, 16000) == pytest.approx(1000, abs=2)
    assert np.abs(down).max() == pytest.approx(0.5, abs=0.02)


def test_resampling_removes_what_the_new_rate_cannot_hold():
    down = resample(tone(7000, 44100, 1.0).astype(np.float32), 44100, 8000)
    assert np.abs(down).max() < 0.01  # 7 kHz is above the 4 kHz Nyquist: gone, not aliased


def test_load_wav_gives_mono_int16_at_the_wanted_rate(tmp_path):
    path = write_wav(tmp_path / "s.wav", np.stack([tone(300, 22050, 0.5)] * 2, 1), 22050)
    samples = load_wav(path, 16000)
    assert samples.dtype == np.int16 and samples.size == 8000
    assert np.abs(samples).max() == pytest.approx(16384, rel=0.03)


def test_source_kinds(tmp_path):
    assert audio_source_kind(str(tmp_path)) == "folder"
    assert audio_source_kind(str(write_wav(tmp_path / "a.wav", tone(1, 8000, 0.01), 8000))) == \
        "file"
    assert audio_source_kind("mic") == audio_source_kind("mic:hw:1,0") == "microphone"
    for bad in ("", "/no/such.wav"):
        with pytest.raises(AudioSourceError):
            audio_source_kind(bad)


def read_all(source: AudioSource, limit: int = 1000) -> list[np.ndarray]:
    chunks = []
    while len(chunks) < limit and (chunk := source.read()) is not None:
        chunks.append(chunk)
    return chunks


def test_file_is_chunked_with_a_short_last_chunk_then_ends(tmp_path):
    path = write_wav(tmp_path / "a.wav", tone(440, 16000, 0.25), 16000)
    source = AudioSource(str(path), 16000, chunk=1000)
    source.open()
    chunks = read_all(source)
    assert [c.size for c in chunks] == [1000] * 4
    source = AudioSource(str(path), 16000, chunk=1500)
    source.open()
    assert [c.size for c in read_all(source)] == [1500, 1500, 1000]


def test_folder_plays_files_in_order_skips_broken_ones_and_loops(tmp_path):
    write_wav(tmp_path / "b.wav", np.full(100, 0.5), 16000)
    write_wav(tmp_path / "a.wav", np.full(100, -0.5), 16000)
    (tmp_path / "c.wav").write_bytes(b"RIFF junk")
    (tmp_path / "notes.txt").write_text("not audio")
    source = AudioSource(str(tmp_path), 16000, chunk=150, loop=True)
    source.open()
    chunks = read_all(source, limit=4)
    stream = np.concatenate(chunks)
    assert stream.size == 600 and source.loops >= 1
    assert (stream[:100] < 0).all() and (stream[100:200] > 0).all() and (stream[200:300] < 0).all()
    assert source.unreadable >= 1


def test_empty_folder_and_broken_file_fail_to_open(tmp_path):
    with pytest.raises(AudioSourceError, match="no WAV"):
        AudioSource(str(tmp_path), 16000, 100).open()
    broken = tmp_path / "x.wav"
    broken.write_bytes(b"RIFF junk")
    with pytest.raises(AudioSourceError, match="not a PCM WAV"):
        AudioSource(str(broken), 16000, 100).open()


def test_microphone_without_devices_says_so(monkeypatch):
    class Listing:
        stdout, stderr = "", "arecord: device_list:274: no soundcards found..."

    monkeypatch.setattr(audio_chunks.shutil, "which", lambda name: "/usr/bin/arecord")
    monkeypatch.setattr(audio_chunks.subprocess, "run", lambda *a, **k: Listing())
    source = AudioSource("mic", 16000, 1600)
    assert source.live
    with pytest.raises(AudioSourceError, match=r"no audio capture device.*no soundcards"):
        source.open()


def test_microphone_without_arecord_says_what_to_install(monkeypatch):
    monkeypatch.setattr(audio_chunks.shutil, "which", lambda name: None)
    with pytest.raises(AudioSourceError, match="alsa-utils"):
        AudioSource("mic:hw:0", 16000, 1600).open()


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_pacer_schedules_chunk_ends_at_speed_and_resyncs_after_a_stall():
    clock = FakeClock()
    pacer = Pacer(16000, speed=2.0, clock=clock)
    assert pacer.wait_s(1600) == pytest.approx(0.05)  # 0.1 s of audio at 2x
    clock.now += 0.05
    assert pacer.wait_s(3200) == pytest.approx(0.05)
    clock.now += 5.0  # paused
    assert pacer.wait_s(4800) == 0.0 and pacer.resyncs == 1
    assert pacer.wait_s(6400) == pytest.approx(0.05)
    assert Pacer(16000, speed=0.0, clock=clock).wait_s(16000) == 0.0
