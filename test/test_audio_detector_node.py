"""audio_detector through real topics: the shipped (SYNTHETIC) keyword stream via audio_source
gives the right keywords at the right times; silence stops early; a branch switch takes effect;
chunks that break the audio contract are counted and the node lives on."""

from __future__ import annotations

import json
from array import array

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from std_msgs.msg import Int16MultiArray, MultiArrayDimension, String

from gc_perception.events import parse_event
from gc_perception.gating.manifest import load_manifest
from gc_perception.nodes.audio_topic import AUDIO_QOS, chunk_message
from gc_perception.resources import find_media, find_model_manifest
from gc_perception.sources.audio_chunks import load_wav

pytestmark = pytest.mark.integration

STREAM = "audio/keywords_10s.wav"
WINDOWS_IN_STREAM = 91  # 10 s, 1 s windows every 0.1 s


def truth() -> list[dict]:
    return json.loads(find_media("audio/keywords_10s.json").read_text())["events"]


def detector_values(diagnostics, fqn: str, predicate) -> dict[str, str]:
    """Values of the newest /diagnostics status of `fqn` satisfying `predicate(values)`."""
    def matching(message):
        for status in message.status:
            if status.name.startswith(fqn.lstrip("/") + ":"):
                values = {kv.key: kv.value for kv in status.values}
                if predicate(values):
                    return values
        return None

    messages = diagnostics.wait_for(lambda ms: any(matching(m) for m in ms), timeout=30)
    return next(v for m in reversed(messages) if (v := matching(m)))


def keywords(collector) -> list[dict]:
    return [parse_event(m.data, "keyword") for m in collector.messages]


def publish_stream(ros_probe, topic: str, samples: np.ndarray, chunk: int = 1600) -> None:
    publisher = ros_probe.publisher(topic, Int16MultiArray, AUDIO_QOS)
    ros_probe.wait_for_subscribers(publisher)
    for start in range(0, samples.size, chunk):
        publisher.publish(chunk_message(samples[start : start + chunk], 16000))
    publisher.wait_for_all_acked()


# Label accuracy is the models' (synthetic training, held-out festival voice; see
# models/EVALUATION.md): on the shipped stream kws10 names 3 of its 5 keywords and mislabels 2
# spoken words. The pipeline guarantees are asserted strictly: events only where a word was
# spoken (none in silence or noise), one event per word, at least half the keywords named right.
@pytest.mark.parametrize("model", ["kws10", "kws35"])
def test_keyword_stream_gives_its_keywords_at_their_times(launch_node, ros_probe, model):
    manifest = load_manifest(find_model_manifest(model))
    ns = f"/{model}"
    events = ros_probe.subscribe(f"{ns}/keyword_detector/keywords", String)
    diagnostics = ros_probe.subscribe("/diagnostics", DiagnosticArray)
    detector = launch_node("audio_detector", "keyword_detector", namespace=ns,
                           params={"model": model})
    detector.wait_for_log("loaded", timeout=30)
    launch_node("audio_source", "microphone", namespace=ns, params={
        "source": str(find_media(STREAM)), "loop": False, "speed": 0.0,
        "wait_for_subscribers": 1,
    })
    values = detector_values(diagnostics, f"{ns}/keyword_detector",
                             lambda v: int(v["inputs"]) >= WINDOWS_IN_STREAM)
    assert values["lost_chunks"] == "0" and values["rejected_inputs"] == "0"
    assert values["dropped_audio_s"] == "0"
    words = truth()
    spoken = [w for w in words if w["word"] in manifest.positive_labels]

    def heard(event, word) -> bool:  # the word lies inside the window that made the event
        return event["window_start_s"] < word["end_s"] and event["window_end_s"] > word["start_s"]

    def named_right(found) -> list[dict]:
        return [e for e in found if any(heard(e, w) and w["word"] == e["keyword"] for w in words)]

    # an event is decided hold_s after its word: the last ones may still be in flight
    events.wait_for(lambda ms: 2 * len(named_right(keywords(events))) >= len(spoken), timeout=10)
    found = keywords(events)
    on_a_word = [next((w for w in words if heard(e, w)), None) for e in found]
    assert all(on_a_word), found  # no event in silence or noise
    assert len({w["start_s"] for w in on_a_word}) == len(found)  # one event per spoken word
    for event in found:
        assert event["model"] == model and event["keyword"] in manifest.positive_labels
        assert event["branch"] == manifest.default_branch and not event["early_stopped"]


def test_silence_stops_early_and_a_branch_switch_takes_effect(launch_node, ros_probe):
    diagnostics = ros_probe.subscribe("/diagnostics", DiagnosticArray)
    events = ros_probe.subscribe("/quiet/kws/keywords", String)
    detector = launch_node("audio_detector", "kws", namespace="/quiet")
    detector.wait_for_log("loaded", timeout=30)
    publish_stream(ros_probe, "/quiet/audio", np.zeros(16000 * 2, np.int16))  # 11 windows
    values = detector_values(diagnostics, "/quiet/kws", lambda v: int(v["inputs"]) >= 11)
    assert values["early_stopped_stage0"] == values["inputs"]  # digital silence: -inf dBFS

    manifest = load_manifest(find_model_manifest("kws10"))
    other = next(b for b in manifest.branches if b != manifest.default_branch)
    results = ros_probe.set_parameters("/quiet/kws", {"stage0_min_dbfs": float("-inf"),
                                                      "branch": other})
    assert all(r.successful for r in results), [r.reason for r in results]
    publish_stream(ros_probe, "/quiet/audio", np.zeros(16000, np.int16))  # 10 more windows
    values = detector_values(diagnostics, "/quiet/kws", lambda v: int(v["inputs"]) >= 21)
    assert values["branch"] == other and values["branch_switches"] == "1"
    assert int(values["early_stopped_gate"]) >= 1  # stage 0 off: the GC gate stops silence

    publish_stream(ros_probe, "/quiet/audio", load_wav(find_media(STREAM), 16000))
    found = events.wait_for_count(1, timeout=30)
    assert parse_event(found[0].data, "keyword")["branch"] == other


def bad_chunk(label: str, samples: list[int], size: int | None = None, dims: int = 1,
              offset: int = 0) -> Int16MultiArray:
    message = Int16MultiArray()
    count = len(samples) if size is None else size
    message.layout.dim = [MultiArrayDimension(label=label, size=count, stride=count)] * dims
    message.layout.data_offset = offset
    message.data = array("h", samples)
    return message


def test_bad_chunks_are_counted_and_the_node_lives(launch_node, ros_probe):
    diagnostics = ros_probe.subscribe("/diagnostics", DiagnosticArray)
    detector = launch_node("audio_detector", "kws", namespace="/bad")
    detector.wait_for_log("loaded", timeout=30)
    publisher = ros_probe.publisher("/bad/audio", Int16MultiArray, AUDIO_QOS)
    ros_probe.wait_for_subscribers(publisher)
    ten = list(range(10))
    for message in [
        bad_chunk("mono_s16_8000hz", ten),  # rate mismatch
        bad_chunk("stereo_s16_16000hz", ten),  # not our label
        bad_chunk("mono_s16_16000hz", []),  # empty
        bad_chunk("mono_s16_16000hz", ten, size=7),  # size does not match the data
        bad_chunk("mono_s16_16000hz", ten, dims=2),  # wrong layout
        bad_chunk("mono_s16_16000hz", ten, offset=3),  # padding we do not honour
        bad_chunk("mono_s16_16000hz", [0] * 16000 * 6),  # longer than MAX_CHUNK_S
    ]:
        publisher.publish(message)
    publisher.publish(bad_chunk("mono_s16_16000hz", [0] * 333))  # odd but valid size
    publisher.wait_for_all_acked()
    values = detector_values(diagnostics, "/bad/kws",
                             lambda v: v["rejected_inputs"] == "7"
                             and float(v["audio_s_received"]) > 0)
    assert float(values["audio_s_received"]) == pytest.approx(333 / 16000, abs=1e-3)
    detector.wait_for_log("input rejected")
    for name, value in [("hop_s", 0.0), ("stage0_min_dbfs", float("nan")), ("model", "nope")]:
        result = ros_probe.set_parameters("/bad/kws", {name: value})[0]
        assert not result.successful, name
    assert detector.alive()
