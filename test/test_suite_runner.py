"""`gc-perception up` from a suite config: a two-device fleet without crosstalk, and a killed
node restarted by the runner. Detectors use the tiny image model (fast to start)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from diagnostic_msgs.msg import DiagnosticArray
from ros_harness import VENV_BIN
from std_msgs.msg import String
from tiny_image_model import build_tiny_image_model

from gc_perception.events import parse_event

pytestmark = pytest.mark.integration
DEVICES = ("cam_a", "cam_b")


@pytest.fixture
def fleet_config(tmp_path: Path) -> Path:
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "bright.png"), np.full((48, 64, 3), 240, np.uint8))
    cv2.imwrite(str(frames / "dark.png"), np.full((48, 64, 3), 10, np.uint8))
    config = {
        "devices": [{"namespace": name} for name in DEVICES],
        "groups": ["vision", "monitor"],
        "nodes": {
            "camera": {"executable": "camera_source", "group": "vision",
                       "parameters": {"source": str(frames), "fps": 5.0}},
            "det": {"executable": "vision_detector", "group": "vision",
                    "parameters": {"model": str(build_tiny_image_model(tmp_path / "model"))}},
            "resource_monitor": {"executable": "resource_monitor", "group": "monitor",
                                 "parameters": {"rate_hz": 2.0}},
        },
    }
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def start_runner(launch_node, config: Path, run_dir: Path):
    argv = [str(VENV_BIN / "gc-perception"), "up", "--config", str(config),
            "--run-dir", str(run_dir)]
    return launch_node.command(argv, "runner")


def detector_pid(message: DiagnosticArray, node: str) -> int | None:
    for status in message.status:
        if status.name == f"{node}: detector":
            values = {kv.key: kv.value for kv in status.values}
            return int(values["pid"])
    return None


def test_fleet_runs_two_devices_without_crosstalk(launch_node, ros_probe, fleet_config, tmp_path):
    detections = {name: ros_probe.subscribe(f"/{name}/det/detections", String) for name in DEVICES}
    states = {name: ros_probe.subscribe(f"/{name}/device_state", String) for name in DEVICES}
    runner = start_runner(launch_node, fleet_config, tmp_path / "run")
    for name in DEVICES:
        detections[name].wait_for_count(3, timeout=40)
        states[name].wait_for_count(1, timeout=20)
        nodes = {parse_event(m.data, "detection")["node"] for m in detections[name].messages}
        assert nodes == {f"/{name}/det"}
    graph = ros_probe.node
    for name in DEVICES:
        publishers = graph.get_publishers_info_by_topic(f"/{name}/image_raw")
        subscribers = graph.get_subscriptions_info_by_topic(f"/{name}/image_raw")
        assert [p.node_namespace for p in publishers] == [f"/{name}"]
        assert {s.node_namespace for s in subscribers} == {f"/{name}"}
    assert runner.alive()
    assert "[cam_b/det]" in runner.log_text()


def test_a_killed_node_is_restarted(launch_node, ros_probe, fleet_config, tmp_path):
    runner = start_runner(launch_node, fleet_config, tmp_path / "run")
    first = ros_probe.wait_for_message(
        "/diagnostics", DiagnosticArray, timeout=40,
        predicate=lambda m: detector_pid(m, "cam_a/det") is not None)
    old_pid = detector_pid(first, "cam_a/det")
    os.kill(old_pid, signal.SIGKILL)  # a node process our runner started
    ros_probe.wait_for_message(
        "/diagnostics", DiagnosticArray, timeout=40,
        predicate=lambda m: detector_pid(m, "cam_a/det") not in (None, old_pid))
    events = ros_probe.subscribe("/cam_a/det/detections", String)
    events.wait_for_count(2, timeout=20)
    runner.wait_for_log("cam_a/det: died", timeout=5)
    runner.wait_for_log("cam_a/det: restarted", timeout=5)
