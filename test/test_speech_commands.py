"""Speech Commands loader on a tiny fake tree in the dataset's layout."""

import wave
from pathlib import Path

import numpy as np
import pytest

from gc_perception.training.speech_commands import (
    background_clips,
    index_dataset,
    load_split,
    speaker_of,
)


def write_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes((samples * 32767).astype("<i2").tobytes())


@pytest.fixture
def fake_tree(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    for word in ("yes", "no", "marvin"):
        for speaker in ("0a7c2a8d", "1b4c9b89", "2c5d8e11"):
            write_wav(tmp_path / word / f"{speaker}_nohash_0.wav", rng.uniform(-0.5, 0.5, 16000))
    write_wav(tmp_path / "_background_noise_" / "white_noise.wav", rng.uniform(-0.1, 0.1, 48000))
    (tmp_path / "validation_list.txt").write_text("yes/1b4c9b89_nohash_0.wav\n")
    (tmp_path / "testing_list.txt").write_text(
        "yes/2c5d8e11_nohash_0.wav\nno/2c5d8e11_nohash_0.wav\n"
    )
    (tmp_path / "README.md").write_text("not a clip")
    return tmp_path


def test_splits_follow_the_list_files(fake_tree):
    index = index_dataset(fake_tree)
    assert index.splits["validation"] == ("yes/1b4c9b89_nohash_0.wav",)
    assert set(index.splits["test"]) == {"yes/2c5d8e11_nohash_0.wav", "no/2c5d8e11_nohash_0.wav"}
    assert len(index.splits["train"]) == 9 - 3
    assert not set(index.splits["train"]) & set(index.splits["test"])
    assert index.words == ("marvin", "no", "yes")


def test_a_split_loads_as_word_clips_with_speakers(fake_tree):
    clips = load_split(index_dataset(fake_tree), "test")
    assert sorted(clips.words) == ["no", "yes"]
    assert all(c.shape == (16000,) and c.dtype == np.float32 for c in clips.clips)
    assert set(clips.voice_ids) == {"speech_commands:2c5d8e11"}
    assert speaker_of("yes/0a7c2a8d_nohash_3.wav") == "0a7c2a8d"


def test_background_noise_gives_one_second_segments(fake_tree):
    segments = background_clips(index_dataset(fake_tree), 5, seed=0)
    assert segments.shape == (5, 16000)
    assert np.abs(segments).max() <= 0.11


def test_missing_pieces_are_reported(tmp_path, fake_tree):
    with pytest.raises(ValueError, match="no <word>"):
        index_dataset(tmp_path / "_background_noise_")
    (fake_tree / "testing_list.txt").unlink()
    with pytest.raises(ValueError, match="testing_list"):
        index_dataset(fake_tree)


def test_other_sample_rates_are_refused(fake_tree):
    write_wav(fake_tree / "no" / "3d6e7f22_nohash_0.wav", np.zeros(8000), rate=8000)
    index = index_dataset(fake_tree)
    with pytest.raises(ValueError, match="8000 Hz"):
        load_split(index, "train")
