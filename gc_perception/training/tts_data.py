"""Synthetic keyword clips: text-to-speech from Debian synthesizers, augmentation, log-mel sets.

All speech here is SYNTHETIC. Training uses espeak-ng (many voice variants, rates and pitches)
and flite (5 voices, stretched and pitched); festival (3 voices) is held out whole for
evaluation, so the test measures transfer to a synthesizer the model never heard.

Needs the Debian packages: apt-get install -y espeak-ng flite festival festvox-kallpc16k
festvox-kdlpc16k festvox-us-slt-hts. Synthesized clips and feature sets are cached under
$GC_AUDIO_CACHE (default /work/cache/audio), outside the repository.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gc_perception.gating.audio_features import model_input

SAMPLE_RATE = 16000
CLIP_SAMPLES = 16000
INPUT_SPEC = {
    "kind": "audio",
    "sample_rate": SAMPLE_RATE,
    "clip_samples": CLIP_SAMPLES,
    "layout": "N1FT",
    "features": {
        "type": "log_mel",
        "n_mels": 40,
        "n_fft": 512,
        "win_length": 480,
        "hop_length": 160,
        "fmin": 20,
        "fmax": 7600,
        "log_floor": 1e-6,
    },
}
SILENCE, UNKNOWN = "_silence_", "_unknown_"
KEYWORDS_10 = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
SPEECH_COMMANDS_WORDS = (
    "backward",
    "bed",
    "bird",
    "cat",
    "dog",
    "down",
    "eight",
    "five",
    "follow",
    "forward",
    "four",
    "go",
    "happy",
    "house",
    "learn",
    "left",
    "marvin",
    "nine",
    "no",
    "off",
    "on",
    "one",
    "right",
    "seven",
    "sheila",
    "six",
    "stop",
    "three",
    "tree",
    "two",
    "up",
    "visual",
    "wow",
    "yes",
    "zero",
)
# Non-keywords for _unknown_: many sound like a keyword (night/right, yet/yes, cup/up, ...),
# but no homophone of one (no "know"): the model cannot tell those apart, nor can a listener.
FILLER_WORDS_TRAIN = (
    "hello",
    "water",
    "table",
    "paper",
    "window",
    "computer",
    "orange",
    "morning",
    "number",
    "yellow",
    "music",
    "garden",
    "apple",
    "little",
    "people",
    "never",
    "over",
    "under",
    "maybe",
    "open",
    "close",
    "thanks",
    "please",
    "today",
    "sister",
    "doctor",
    "coffee",
    "pencil",
    "monkey",
    "dinner",
    "light",
    "night",
    "start",
    "step",
    "yet",
    "note",
    "cup",
    "dawn",
    "lift",
    "bright",
    "often",
    "top",
    "toe",
    "got",
    "bus",
    "fish",
    "chair",
    "green",
    "blue",
)
# Never used in training: the evaluation's unknown words are unseen words too.
FILLER_WORDS_HELD_OUT = (
    "tiger",
    "rabbit",
    "pizza",
    "silver",
    "jacket",
    "kitchen",
    "purple",
    "guitar",
    "ocean",
    "summer",
    "winter",
    "basket",
    "rocket",
    "candle",
    "button",
    "sun",
    "gold",
    "stock",
    "yam",
    "town",
)

ESPEAK_BASES = (
    "en-us",
    "en",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-029",
    "en-us-nyc",
)
FLITE_VOICES = ("kal", "kal16", "awb", "rms", "slt")
FESTIVAL_VOICES = ("kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts")
TOOLS = {"espeak": "espeak-ng", "flite": "flite", "festival": "festival"}
APT_HINT = (
    "apt-get install -y espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k "
    "festvox-us-slt-hts"
)


def _progress(iterable, **options):
    """tqdm progress bar, imported late: tqdm is a training extra, and speech_commands (which
    the runtime tests import) uses this module's WAV helpers without it."""
    from tqdm import tqdm

    return tqdm(iterable, **options)


def cache_root() -> Path:
    return Path(os.environ.get("GC_AUDIO_CACHE", "/work/cache/audio"))


def require_synthesizer(synth: str) -> None:
    """Fail early, saying which Debian packages to install, when a synthesizer is missing."""
    if shutil.which(TOOLS[synth]) is None:
        raise RuntimeError(f"{TOOLS[synth]} is not installed; synthetic speech needs: {APT_HINT}")


@dataclass(frozen=True)
class Voice:
    """One synthesizer setting: `synth` in espeak/flite/festival, `name` its voice, plus
    speaking-rate factor (>1 slower) and pitch (espeak 0-99, flite Hz, festival unused)."""

    synth: str
    name: str
    stretch: float = 1.0
    pitch: int = 0

    @property
    def voice_id(self) -> str:
        return f"{self.synth}:{self.name}:{self.stretch:.2f}:{self.pitch}"


def espeak_voices(count: int, seed: int) -> list[Voice]:
    """`count` distinct espeak-ng settings: accent base + voice variant, rate and pitch."""
    variants_dir = Path("/usr/lib/x86_64-linux-gnu/espeak-ng-data/voices/!v")
    if not variants_dir.is_dir():
        variants_dir = next(Path("/usr/lib").glob("*/espeak-ng-data/voices/!v"), variants_dir)
    variants = sorted(p.name for p in variants_dir.iterdir()) if variants_dir.is_dir() else []
    if not variants:
        raise RuntimeError(f"no espeak-ng voice variants found; install: {APT_HINT}")
    rng = np.random.default_rng(seed)
    voices: dict[str, Voice] = {}
    while len(voices) < count:
        name = f"{rng.choice(ESPEAK_BASES)}+{rng.choice(variants)}"
        stretch, pitch = round(float(rng.uniform(0.75, 1.35)), 2), int(rng.integers(20, 80))
        voice = Voice("espeak", name, stretch, pitch)
        voices[voice.voice_id] = voice
    return list(voices.values())


def flite_voices() -> list[Voice]:
    """Each flite voice at three rates and three pitch targets (9 settings per voice)."""
    return [
        Voice("flite", name, stretch, pitch)
        for name in FLITE_VOICES
        for stretch in (0.85, 1.0, 1.2)
        for pitch in (95, 120, 170)
    ]


def festival_voices() -> list[Voice]:
    """The held-out synthesizer: 3 festival voices at 4 speaking rates."""
    return [Voice("festival", name, s) for name in FESTIVAL_VOICES for s in (0.85, 1.0, 1.1, 1.25)]


def read_wav(data: bytes) -> tuple[np.ndarray, int]:
    """Mono float32 samples and rate of a 16-bit PCM WAV (what all three synthesizers write)."""
    with wave.open(io.BytesIO(data)) as wav:
        rate, channels = wav.getframerate(), wav.getnchannels()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    samples = samples.reshape(-1, channels).mean(axis=1) / 32768.0
    return samples.astype(np.float32), rate


def resample(samples: np.ndarray, factor: float) -> np.ndarray:
    """Band-limited resampling by FFT to round(len x factor) samples (factor < 1 shortens)."""
    length = max(1, round(samples.shape[-1] * factor))
    spectrum = np.fft.rfft(samples)
    kept = min(spectrum.shape[-1], length // 2 + 1)
    resized = np.zeros(length // 2 + 1, dtype=spectrum.dtype)
    resized[:kept] = spectrum[:kept]
    return (np.fft.irfft(resized, n=length) * (length / samples.shape[-1])).astype(np.float32)


def trim_silence(samples: np.ndarray, relative_db: float = -35.0) -> np.ndarray:
    """Cut leading/trailing parts quieter than `relative_db` below the loudest 10 ms."""
    hop = SAMPLE_RATE // 100
    usable = samples[: samples.size // hop * hop]
    if usable.size == 0:
        return samples
    energy = (usable.reshape(-1, hop) ** 2).mean(axis=1)
    loud = np.flatnonzero(energy > energy.max() * 10 ** (relative_db / 10))
    return samples[loud[0] * hop : (loud[-1] + 1) * hop]


def normalized_word(samples: np.ndarray, rate: int) -> np.ndarray:
    """A synthesizer's output as a 16 kHz word of at most 0.95 s, peak 0.9."""
    audio = trim_silence(resample(samples, SAMPLE_RATE / rate))
    limit = int(0.95 * SAMPLE_RATE)
    if audio.size > limit:  # too slow to fit a 1 s window: speed it up to fit
        audio = resample(audio, limit / audio.size)
    peak = float(np.abs(audio).max())
    return audio / peak * 0.9 if peak > 0 else audio


def _run(command: Sequence[str]) -> bytes:
    return subprocess.run(command, capture_output=True, check=True).stdout


def synthesize_espeak(voice: Voice, word: str) -> np.ndarray:
    rate = round(175 / voice.stretch)
    wav = _run(
        ["espeak-ng", "-v", voice.name, "-s", str(rate), "-p", str(voice.pitch), "--stdout", word]
    )
    return normalized_word(*read_wav(wav))


def synthesize_flite(voice: Voice, word: str) -> np.ndarray:
    with tempfile.NamedTemporaryFile(suffix=".wav") as out:
        _run(
            [
                "flite",
                "-voice",
                voice.name,
                "--setf",
                f"duration_stretch={voice.stretch}",
                "--setf",
                f"int_f0_target_mean={voice.pitch}",
                "-t",
                word,
                "-o",
                out.name,
            ]
        )
        return normalized_word(*read_wav(Path(out.name).read_bytes()))


def synthesize_festival_batch(voice: Voice, words: Sequence[str]) -> list[np.ndarray]:
    """All words of one festival voice in one process (festival takes ~0.4 s to start)."""
    with tempfile.TemporaryDirectory() as tmp:
        lines = [f"(voice_{voice.name})", f"(Parameter.set 'Duration_Stretch {voice.stretch})"]
        for i, word in enumerate(words):
            lines.append(
                f'(utt.save.wave (utt.synth (Utterance Text "{word}")) "{tmp}/{i}.wav" \'riff)'
            )
        script = Path(tmp) / "words.scm"
        script.write_text("\n".join(lines) + "\n")
        _run(["festival", "-b", str(script)])
        return [
            normalized_word(*read_wav((Path(tmp) / f"{i}.wav").read_bytes()))
            for i in range(len(words))
        ]


@dataclass
class ClipSet:
    """Variable-length word clips (float32, 16 kHz) with their word and voice."""

    clips: list[np.ndarray]
    words: list[str]
    voice_ids: list[str]

    def save(self, path: Path) -> None:
        lengths = np.array([c.size for c in self.clips])
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(
            path.with_suffix(".partial.npz"),
            samples=(np.concatenate(self.clips) * 32767).astype(np.int16),
            lengths=lengths,
            words=np.array(self.words),
            voices=np.array(self.voice_ids),
        )
        os.replace(path.with_suffix(".partial.npz"), path)

    @classmethod
    def load(cls, path: Path) -> ClipSet:
        data = np.load(path)
        bounds = np.cumsum(data["lengths"])[:-1]
        clips = [c.astype(np.float32) / 32767 for c in np.split(data["samples"], bounds)]
        return cls(clips, data["words"].tolist(), data["voices"].tolist())


def _cache_key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def synthesize_corpus(voices: Sequence[Voice], words: Sequence[str], name: str) -> ClipSet:
    """Every word in every voice, cached on disk; two worker threads drive the synthesizers."""
    path = cache_root() / "clips" / f"{name}-{_cache_key([v.voice_id for v in voices], words)}.npz"
    if path.exists():
        return ClipSet.load(path)
    for synth in {v.synth for v in voices}:
        require_synthesizer(synth)
    jobs = _synthesis_jobs(voices, words)
    clip_set = ClipSet([], [], [])
    with ThreadPoolExecutor(max_workers=2) as pool:
        for (voice, batch_words, _), clips in _progress(
            zip(jobs, pool.map(lambda job: job[2](), jobs), strict=True),
            total=len(jobs),
            desc=f"synthesize {name}",
            unit="job",
        ):
            clip_set.clips += clips
            clip_set.words += list(batch_words)
            clip_set.voice_ids += [voice.voice_id] * len(batch_words)
    clip_set.save(path)
    return clip_set


def _synthesis_jobs(
    voices: Sequence[Voice], words: Sequence[str]
) -> list[tuple[Voice, tuple[str, ...], Callable[[], list[np.ndarray]]]]:
    """(voice, words, thunk) per festival voice, or per voice and word for the fast synths."""
    single = {"espeak": synthesize_espeak, "flite": synthesize_flite}
    jobs = []
    for voice in voices:
        if voice.synth == "festival":
            jobs.append((voice, tuple(words), lambda v=voice: synthesize_festival_batch(v, words)))
        else:
            jobs += [(voice, (w,), lambda v=voice, w=w: [single[v.synth](v, w)]) for w in words]
    return jobs


# ---- augmentation ---------------------------------------------------------------------------


def colored_noise(rng: np.random.Generator, size: int, exponent: float) -> np.ndarray:
    """Unit-RMS noise with power falling as 1/f^exponent (0 white, 1 pink, 2 brown)."""
    spectrum = np.fft.rfft(rng.standard_normal(size))
    freqs = np.maximum(np.fft.rfftfreq(size), 1.0 / size)
    noise = np.fft.irfft(spectrum / freqs ** (exponent / 2), n=size)
    return (noise / (noise.std() + 1e-12)).astype(np.float32)


def hum(rng: np.random.Generator, size: int) -> np.ndarray:
    """Unit-RMS mains hum (50 or 60 Hz with a few harmonics)."""
    t = np.arange(size) / SAMPLE_RATE
    base = rng.choice([50.0, 60.0])
    wave_ = sum(
        rng.uniform(0.1, 1) * np.sin(2 * np.pi * base * k * t + rng.uniform(0, 6.3))
        for k in range(1, 6)
    )
    return (wave_ / (wave_.std() + 1e-12)).astype(np.float32)


def background(rng: np.random.Generator, size: int = CLIP_SAMPLES) -> np.ndarray:
    """Unit-RMS background: colored noise, hum, or both."""
    kind = rng.random()
    if kind < 0.15:
        return hum(rng, size)
    noise = colored_noise(rng, size, rng.uniform(0.0, 2.0))
    if kind < 0.3:
        noise = noise + hum(rng, size) * rng.uniform(0.2, 1.0)
    return noise / (noise.std() + 1e-12)


def silence_clip(rng: np.random.Generator) -> np.ndarray:
    """A _silence_ example: digital silence, or background at -75 to -15 dBFS RMS."""
    if rng.random() < 0.05:
        return np.zeros(CLIP_SAMPLES, np.float32)
    level = 10 ** (rng.uniform(-75, -15) / 20)
    return np.clip(background(rng) * level, -1, 1).astype(np.float32)


def _room(rng: np.random.Generator, audio: np.ndarray) -> np.ndarray:
    """A crude room: convolve with exponentially decaying noise (RT60 0.1-0.5 s)."""
    rt60 = rng.uniform(0.1, 0.5)
    t = np.arange(int(rt60 * SAMPLE_RATE)) / SAMPLE_RATE
    response = rng.standard_normal(t.size) * np.exp(-6.9 * t / rt60)
    response[0] = rng.uniform(2, 8)  # direct path
    wet = np.convolve(audio, response)[: audio.size]
    return wet / (np.abs(wet).max() + 1e-9) * np.abs(audio).max()


def _tilt(rng: np.random.Generator, audio: np.ndarray) -> np.ndarray:
    """A microphone-like spectral tilt: a random first-order low- or high-pass blend."""
    spectrum = np.fft.rfft(audio)
    freqs = np.fft.rfftfreq(audio.size, 1.0 / SAMPLE_RATE)
    corner = rng.uniform(300, 4000)
    lowpass = 1.0 / np.sqrt(1.0 + (freqs / corner) ** 2)
    shape = lowpass if rng.random() < 0.5 else np.sqrt(1.0 - lowpass**2) + 0.1
    mix = rng.uniform(0.3, 1.0)
    return np.fft.irfft(spectrum * (mix * shape + 1 - mix), n=audio.size).astype(np.float32)


def augment_word(rng: np.random.Generator, word: np.ndarray) -> np.ndarray:
    """A 1 s training clip from a word clip: speed, room, tilt, gain, time shift and noise."""
    audio = resample(word, 1.0 / rng.uniform(0.85, 1.15))[:CLIP_SAMPLES]
    if rng.random() < 0.3:
        audio = _room(rng, audio)
    if rng.random() < 0.4:
        audio = _tilt(rng, audio)
    audio = audio / (np.abs(audio).max() + 1e-9) * 10 ** (rng.uniform(-30, -1) / 20)
    clip = np.zeros(CLIP_SAMPLES, np.float32)
    start = int(rng.integers(0, CLIP_SAMPLES - audio.size + 1))
    clip[start : start + audio.size] = audio
    if rng.random() < 0.85:
        speech_rms = float(np.sqrt((audio**2).mean()))
        clip += background(rng) * speech_rms * 10 ** (-rng.uniform(5, 40) / 20)
    return np.clip(clip, -1, 1)


# ---- augmented sets -------------------------------------------------------------------------


@dataclass
class LabelledSet:
    """Rows of 1 s inputs (log-mel features or int16 audio) with word and voice per row."""

    data: np.ndarray
    words: np.ndarray
    voice_ids: np.ndarray

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial.npz")
        np.savez(partial, data=self.data, words=self.words, voices=self.voice_ids)
        os.replace(partial, path)

    @classmethod
    def load(cls, path: Path) -> LabelledSet:
        stored = np.load(path)
        return cls(stored["data"], stored["words"], stored["voices"])


def augmented_batches(
    clip_set: ClipSet,
    copies: int,
    n_silence: int,
    seed: int,
    batch: int = 1024,
) -> Iterator[tuple[np.ndarray, list[str], list[str]]]:
    """`copies` augmented 1 s versions of every clip, then `n_silence` silence clips, in
    batches of float32 audio [b, 16000] (all of it at once would not fit in memory)."""
    rng = np.random.default_rng(seed)
    rows = [
        (c, w, v)
        for _ in range(copies)
        for c, w, v in zip(clip_set.clips, clip_set.words, clip_set.voice_ids, strict=True)
    ]
    rows += [(None, SILENCE, "noise")] * n_silence
    for first in range(0, len(rows), batch):
        chunk = rows[first : first + batch]
        audio = [silence_clip(rng) if c is None else augment_word(rng, c) for c, _, _ in chunk]
        yield np.stack(audio), [w for _, w, _ in chunk], [v for _, _, v in chunk]


def augmented_set(
    clip_set: ClipSet,
    copies: int,
    n_silence: int,
    seed: int,
    name: str,
    as_features: bool,
) -> LabelledSet:
    """Augmented clips as log-mel features (float16, for training) or int16 audio (for tests
    that time the feature extraction too); cached. Features come from model_input(), the very
    function the runtime uses."""
    key = _cache_key(name, clip_set.voice_ids, copies, n_silence, seed, as_features, INPUT_SPEC)
    path = cache_root() / "sets" / f"{name}-{key}.npz"
    if path.exists():
        return LabelledSet.load(path)
    parts, words, voices = [], [], []
    total = -(-(len(clip_set.words) * copies + n_silence) // 1024)
    batches = augmented_batches(clip_set, copies, n_silence, seed)
    for audio, batch_words, batch_voices in _progress(batches, total=total, desc=f"augment {name}"):
        if as_features:
            parts.append(model_input(audio, INPUT_SPEC).astype(np.float16))
        else:
            parts.append(np.round(audio * 32767).astype(np.int16))
        words += batch_words
        voices += batch_voices
    result = LabelledSet(np.concatenate(parts), np.array(words), np.array(voices))
    result.save(path)
    return result


# ---- the corpora of the KWS models ----------------------------------------------------------

ESPEAK_TRAIN_VOICES, ESPEAK_VALIDATION_VOICES = 150, 30


@dataclass
class Corpora:
    """train: espeak + flite; validation: espeak voices not trained on; test: festival."""

    train: ClipSet
    validation: ClipSet
    test: ClipSet


def kws_corpora(seed: int = 0) -> Corpora:
    """The synthetic corpora (cached). Every split holds the 35 Speech Commands words; the
    unknown filler words of the test split were never used in training or validation."""
    espeak = espeak_voices(ESPEAK_TRAIN_VOICES + ESPEAK_VALIDATION_VOICES, seed)
    train_words = SPEECH_COMMANDS_WORDS + FILLER_WORDS_TRAIN
    return Corpora(
        train=synthesize_corpus(
            espeak[:ESPEAK_TRAIN_VOICES] + flite_voices(), train_words, "train"
        ),
        validation=synthesize_corpus(espeak[ESPEAK_TRAIN_VOICES:], train_words, "validation"),
        test=synthesize_corpus(festival_voices(), train_words + FILLER_WORDS_HELD_OUT, "festival"),
    )


if __name__ == "__main__":
    corpora = kws_corpora()
    for split in ("train", "validation", "test"):
        print(split, len(getattr(corpora, split).words), "clips")
