"""Make media/audio/keywords_10s.wav (+ .json truth): a short SYNTHETIC test stream.

    python -m gc_perception.training.make_audio_media

Keywords and non-keywords spoken by festival's cmu_us_slt_arctic_hts voice (a synthesizer
never used in training), separated by quiet room noise with one louder noise burst. 16 kHz
mono S16, about 320 KB. Needs the Debian packages festival and festvox-us-slt-hts.
"""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np

from gc_perception.training import tts_data as td

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "media" / "audio"
VOICE = td.Voice("festival", "cmu_us_slt_arctic_hts", 1.0)
SECONDS = 10.0
# (word, start second): "tiger" and "water" are no keyword of either model; "marvin" is one of
# the 35 Speech Commands words only.
SCRIPT = (
    ("yes", 0.6), ("down", 1.8), ("tiger", 3.0), ("left", 4.2), ("stop", 5.4),
    ("water", 6.6), ("marvin", 7.7), ("go", 8.9),
)  # fmt: skip
NOISE_DBFS, BURST_DBFS, SPEECH_PEAK = -55.0, -32.0, 0.5
BURST = (2.4, 2.9)  # seconds of louder noise, no speech


def stream(seed: int = 0) -> tuple[np.ndarray, list[dict]]:
    """The stream as float32 samples and its truth events."""
    rng = np.random.default_rng(seed)
    total = int(SECONDS * td.SAMPLE_RATE)
    audio = td.colored_noise(rng, total, 1.0) * 10 ** (NOISE_DBFS / 20)
    first, last = (int(t * td.SAMPLE_RATE) for t in BURST)
    audio[first:last] += td.colored_noise(rng, last - first, 0.5) * 10 ** (BURST_DBFS / 20)
    words = td.synthesize_festival_batch(VOICE, [w for w, _ in SCRIPT])
    events = []
    for (word, start_s), clip in zip(SCRIPT, words, strict=True):
        start = int(start_s * td.SAMPLE_RATE)
        audio[start : start + clip.size] += clip / np.abs(clip).max() * SPEECH_PEAK
        end_s = (start + clip.size) / td.SAMPLE_RATE
        events.append({"word": word, "start_s": round(start_s, 3), "end_s": round(end_s, 3)})
    return np.clip(audio, -1, 1), events


def main() -> None:
    td.require_synthesizer("festival")
    audio, events = stream()
    OUT.mkdir(parents=True, exist_ok=True)
    with wave.open(str(OUT / "keywords_10s.wav"), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(td.SAMPLE_RATE)
        wav.writeframes(np.round(audio * 32767).astype("<i2").tobytes())
    truth = {
        "file": "keywords_10s.wav",
        "synthetic": True,
        "synthesizer": f"festival voice {VOICE.name} (held out: never used in training)",
        "sample_rate": td.SAMPLE_RATE,
        "format": "mono S16",
        "noise_burst_s": list(BURST),
        "events": events,
    }
    (OUT / "keywords_10s.json").write_text(json.dumps(truth, indent=2) + "\n")
    print(json.dumps(events))


if __name__ == "__main__":
    main()
