"""Loader for a local copy of the Speech Commands dataset (Warden 2018), for users who have it.

It is not shipped and cannot be downloaded here; the shipped models are trained on synthetic
speech (tts_data). Expected layout (v1 or v2, as extracted from the tarball):

    <root>/<word>/<speaker>_nohash_<n>.wav     one folder per word, 16 kHz mono 16-bit
    <root>/_background_noise_/*.wav            long noise recordings (source of _silence_)
    <root>/validation_list.txt                 relative paths of the validation clips
    <root>/testing_list.txt                    relative paths of the test clips

Clips not listed in either file form the training split, as the dataset prescribes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gc_perception.training.tts_data import CLIP_SAMPLES, SAMPLE_RATE, ClipSet, read_wav

BACKGROUND_DIR = "_background_noise_"
SPLIT_LISTS = {"validation": "validation_list.txt", "test": "testing_list.txt"}
SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class SpeechCommandsIndex:
    """Relative clip paths per split, and the background noise files."""

    root: Path
    splits: dict[str, tuple[str, ...]]
    background: tuple[Path, ...]

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(sorted({word_of(p) for paths in self.splits.values() for p in paths}))


def word_of(relative_path: str) -> str:
    return relative_path.split("/", 1)[0]


def speaker_of(relative_path: str) -> str:
    """The speaker hash: the file name up to '_nohash_' (the dataset's own convention)."""
    return Path(relative_path).name.split("_nohash_", 1)[0]


def index_dataset(root: str | Path) -> SpeechCommandsIndex:
    """Index a Speech Commands folder; ValueError says what is missing."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"{root}: not a directory")
    clips = sorted(
        p.relative_to(root).as_posix()
        for word_dir in root.iterdir()
        if word_dir.is_dir() and not word_dir.name.startswith("_")
        for p in word_dir.glob("*.wav")
    )
    if not clips:
        raise ValueError(f"{root}: no <word>/*.wav clips; is this a Speech Commands folder?")
    listed = {split: _read_list(root / name) for split, name in SPLIT_LISTS.items()}
    held_out = listed["validation"] | listed["test"]
    splits = {
        "train": tuple(p for p in clips if p not in held_out),
        "validation": tuple(p for p in clips if p in listed["validation"]),
        "test": tuple(p for p in clips if p in listed["test"]),
    }
    background = tuple(sorted((root / BACKGROUND_DIR).glob("*.wav")))
    return SpeechCommandsIndex(root, splits, background)


def _read_list(path: Path) -> set[str]:
    if not path.is_file():
        raise ValueError(f"{path}: missing (the dataset's split list)")
    return {line.strip() for line in path.read_text().splitlines() if line.strip()}


def load_wav_16k(path: Path) -> np.ndarray:
    """float32 samples of a 16 kHz WAV; other rates are refused rather than resampled."""
    samples, rate = read_wav(path.read_bytes())
    if rate != SAMPLE_RATE:
        raise ValueError(f"{path}: {rate} Hz, expected {SAMPLE_RATE}")
    return samples


def load_split(index: SpeechCommandsIndex, split: str) -> ClipSet:
    """The clips of one split (at most 1 s each, as stored), with word and speaker."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; known: {SPLITS}")
    paths = index.splits[split]
    return ClipSet(
        clips=[load_wav_16k(index.root / p)[:CLIP_SAMPLES] for p in paths],
        words=[word_of(p) for p in paths],
        voice_ids=[f"speech_commands:{speaker_of(p)}" for p in paths],
    )


def background_clips(index: SpeechCommandsIndex, count: int, seed: int) -> np.ndarray:
    """`count` random 1 s segments [count, 16000] of the background noise recordings."""
    if not index.background:
        raise ValueError(f"{index.root / BACKGROUND_DIR}: no noise recordings")
    recordings = [r for r in map(load_wav_16k, index.background) if r.size >= CLIP_SAMPLES]
    if not recordings:
        raise ValueError("every background noise recording is shorter than 1 s")
    rng = np.random.default_rng(seed)
    segments = []
    for _ in range(count):
        recording = recordings[rng.integers(len(recordings))]
        start = int(rng.integers(0, recording.size - CLIP_SAMPLES + 1))
        segments.append(recording[start : start + CLIP_SAMPLES])
    return np.stack(segments).astype(np.float32)
