"""vision_detector through real topics, with camera_source feeding it (two node processes).

Mechanics run on a tiny image model (test/tiny_image_model.py: bright frames pass the gate,
dark frames stop early); the shipped person/dog models are exercised in
test_vision_models_node.py.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import Image
from std_msgs.msg import String
from tiny_image_model import build_tiny_image_model

from gc_perception.events import parse_event

pytestmark = pytest.mark.integration


@pytest.fixture
def tiny_model(tmp_path: Path) -> Path:
    return build_tiny_image_model(tmp_path / "tiny_image")


@pytest.fixture
def bright_and_dark(tmp_path: Path) -> Path:
    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "a_bright.png"), np.full((48, 64, 3), 240, np.uint8))
    cv2.imwrite(str(folder / "b_dark.png"), np.full((48, 64, 3), 15, np.uint8))
    return folder


def events_of(collector, predicate=lambda e: True):
    return [e for e in (parse_event(m.data, "detection") for m in collector.messages)
            if predicate(e)]


def detector_values(message: DiagnosticArray, node: str) -> dict[str, str]:
    return {kv.key: kv.value for s in message.status if s.name == f"{node}: detector"
            for kv in s.values}


def test_camera_frames_cross_to_the_detector_and_gate_decides(
        launch_node, ros_probe, tiny_model, bright_and_dark):
    events = ros_probe.subscribe("/cam/det/detections", String)
    launch_node("camera_source", "camera", namespace="/cam",
                params={"source": str(bright_and_dark), "fps": 10.0, "frame_id": "cam_optical"})
    launch_node("vision_detector", "det", namespace="/cam", params={"model": str(tiny_model)})
    events.wait_for(lambda ms: len(events_of(events, lambda e: e["early_stopped"])) >= 2
                    and len(events_of(events, lambda e: e["detections"])) >= 2, timeout=20)
    passed = events_of(events, lambda e: e["detections"])[0]
    stopped = events_of(events, lambda e: e["early_stopped"])[0]
    assert passed["frame_id"] == "cam_optical" and passed["stamp"]["sec"] > 0
    assert passed["detections"][0]["label"] == "person"
    assert passed["detections"][0]["score"] > 0.9 and passed["gate_score"] > 0.5
    assert passed["branch"] == "full" and passed["mode"] == "gated"
    assert passed["latency_ms"]["stage_b"] is not None and passed["handoff_bytes"] > 0
    assert stopped["scores"] is None and stopped["latency_ms"]["stage_b"] is None
    assert stopped["handoff_bytes"] == 0 and stopped["detections"] == []
    assert 0 <= passed["latency_ms"]["since_stamp"] < 2000


def test_branch_switch_baseline_mode_and_bad_parameters(
        launch_node, ros_probe, tiny_model, bright_and_dark):
    events = ros_probe.subscribe("/cam/det/detections", String)
    launch_node("camera_source", "camera", namespace="/cam",
                params={"source": str(bright_and_dark), "fps": 20.0})
    launch_node("vision_detector", "det", namespace="/cam", params={"model": str(tiny_model)})
    events.wait_for_count(2, timeout=20)
    results = ros_probe.set_parameters("/cam/det", {"branch": "small"})
    assert results[0].successful, results[0].reason
    events.wait_for(lambda ms: len(events_of(events, lambda e: e["branch"] == "small")) >= 3)
    assert ros_probe.set_parameters("/cam/det", {"ungated": True})[0].successful
    events.wait_for(lambda ms: any(e["mode"] == "ungated" and e["gate_score"] < 0.5
                                   and e["scores"] is not None for e in events_of(events)))
    refused = {
        "branch": "no_such_branch", "stage_a_cpus": "0-99", "gate_threshold": 1.5,
        "model": "/no/such/manifest.json", "input_transport": "smoke_signals",
    }
    for name, value in refused.items():
        result = ros_probe.set_parameters("/cam/det", {name: value})[0]
        assert not result.successful and result.reason, name
    assert ros_probe.get_parameters("/cam/det", ["branch"]) == {"branch": "small"}
    diagnostics = ros_probe.wait_for_message(
        "/diagnostics", DiagnosticArray, timeout=10,
        predicate=lambda m: detector_values(m, "cam/det").get("rejected_parameters") == "5")
    values = detector_values(diagnostics, "cam/det")
    assert values["branch"] == "small" and values["mode"] == "ungated"


def test_malformed_frames_are_counted_and_the_node_survives(launch_node, ros_probe, tiny_model):
    node = launch_node("vision_detector", "det", params={"model": str(tiny_model)})
    events = ros_probe.subscribe("/det/detections", String)
    diagnostics = ros_probe.subscribe("/diagnostics", DiagnosticArray)
    publisher = ros_probe.publisher("/image_raw", Image)
    ros_probe.wait_for_subscribers(publisher, timeout=15)

    def rejected() -> int:
        counts = [detector_values(m, "det").get("rejected_inputs") for m in diagnostics.messages]
        return max((int(c) for c in counts if c), default=0)

    bad = [
        Image(height=4, width=4, encoding="bgr8", step=12, data=bytes(47)),  # short data
        Image(height=4, width=4, encoding="yuv9", step=12, data=bytes(48)),  # unknown encoding
        Image(height=0, width=0, encoding="bgr8", step=0, data=b""),  # empty
        Image(height=4, width=4, encoding="bgr8", step=6, data=bytes(24)),  # step too small
    ]
    for message in bad:
        before = rejected()
        ros_probe.publish_until(publisher, message, lambda b=before: rejected() > b, timeout=15)
    good = Image(height=8, width=8, encoding="bgr8", step=24, data=bytes([250]) * 192)
    ros_probe.publish_until(publisher, good, lambda: events.messages, timeout=10)
    assert node.alive()
    assert "input rejected" in node.log_text()
