"""audio_source through real topics: contract-conforming chunks, pacing, end of stream, refused
parameters, and a microphone that does not exist."""

from __future__ import annotations

import time
import wave
from pathlib import Path

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from std_msgs.msg import Int16MultiArray

from gc_perception.nodes.audio_topic import AUDIO_QOS, message_samples
from gc_perception.sources.audio_chunks import load_wav

pytestmark = pytest.mark.integration


@pytest.fixture
def stereo_wav(tmp_path: Path) -> Path:
    """0.5 s of a stereo 22.05 kHz tone pair: the source must resample and downmix it."""
    t = np.arange(11025) / 22050
    frames = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.25 * np.sin(2 * np.pi * 660 * t)], 1)
    path = tmp_path / "tones.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(22050)
        wav.writeframes(np.round(frames * 32767).astype("<i2").tobytes())
    return path


def source_values(message: DiagnosticArray, name: str) -> dict[str, str]:
    return {kv.key: kv.value for s in message.status if name in s.name for kv in s.values}


def test_a_file_arrives_resampled_downmixed_paced_and_whole(launch_node, ros_probe, stereo_wav):
    chunks = ros_probe.subscribe("/src/audio", Int16MultiArray, qos=AUDIO_QOS)
    launch_node("audio_source", "audio_source", namespace="/src", params={
        "source": str(stereo_wav), "loop": False, "chunk_ms": 100.0, "speed": 1.0,
        "wait_for_subscribers": 1,
    })
    ended = ros_probe.wait_for_message(
        "/diagnostics", DiagnosticArray, timeout=15,
        predicate=lambda m: any("src/audio_source" in s.name and s.message == "end_of_stream"
                                for s in m.status),
    )
    assert source_values(ended, "src/audio_source")["chunks_published"] == "5"
    messages = chunks.wait_for_count(5, timeout=5)
    received = [message_samples(m, 16000) for m in messages]
    assert [m.layout.dim[0].label for m in messages] == ["mono_s16_16000hz"] * 5
    assert [r.size for r in received] == [1600] * 5
    assert np.array_equal(np.concatenate(received), load_wav(stereo_wav, 16000))


def test_paced_in_real_time(launch_node, ros_probe, stereo_wav):
    arrivals = []
    ros_probe.node.create_subscription(
        Int16MultiArray, "/paced/audio", lambda _m: arrivals.append(time.monotonic()), AUDIO_QOS
    )
    launch_node("audio_source", "audio_source", namespace="/paced", params={
        "source": str(stereo_wav), "loop": False, "chunk_ms": 50.0, "wait_for_subscribers": 1,
    })
    deadline = time.monotonic() + 15
    while len(arrivals) < 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(arrivals) == 10
    assert 0.35 <= arrivals[-1] - arrivals[0] <= 1.5  # 9 chunk periods of 50 ms, busy host


def test_bad_parameters_are_refused_and_a_missing_microphone_is_reported(launch_node, ros_probe):
    process = launch_node("audio_source", "mic_source", params={"source": "mic"})
    reported = ros_probe.wait_for_message(
        "/diagnostics", DiagnosticArray, timeout=15,
        predicate=lambda m: any("mic_source" in s.name and s.message == "reconnecting"
                                for s in m.status),
    )
    assert source_values(reported, "mic_source")["read_failures"] != "0"
    process.wait_for_log("no audio capture device")
    for name, value, reason in [("sample_rate", 100, "minimum"), ("chunk_ms", 0.0, "minimum"),
                                ("speed", -1.0, "minimum"), ("source", "/no/such.wav", "no such")]:
        result = ros_probe.set_parameters("/mic_source", {name: value})[0]
        assert not result.successful and reason in result.reason
    assert ros_probe.set_parameters("/mic_source", {"source": ""})[0].successful
    ros_probe.wait_for_message(
        "/diagnostics", DiagnosticArray, timeout=10,
        predicate=lambda m: any("mic_source" in s.name and s.message == "idle" for s in m.status),
    )
    assert process.alive()
