"""The shipped person and dog models side by side on one camera, through real topics: each
detects its object and stops early on an empty scene (default branches, real photos)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import cv2
import pytest
from sensor_msgs.msg import Image
from std_msgs.msg import String

from gc_perception.events import parse_event
from gc_perception.resources import find_media

pytestmark = pytest.mark.integration
PHOTOS = ("person_1.jpg", "dog_1.jpg", "empty_1.jpg")


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in PHOTOS:
        shutil.copy(find_media(f"images/{name}"), folder / name)
    return folder


def digest(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def test_person_and_dog_detectors_share_a_camera(launch_node, ros_probe, photos):
    by_pixels = {digest(cv2.imread(str(photos / n)).tobytes()): n.split("_")[0] for n in PHOTOS}
    frames = ros_probe.subscribe("/cam/image_raw", Image)
    person = ros_probe.subscribe("/cam/person_detector/detections", String)
    dog = ros_probe.subscribe("/cam/dog_detector/detections", String)
    launch_node("vision_detector", "person_detector", namespace="/cam",
                params={"model": "person_lite0"})
    launch_node("vision_detector", "dog_detector", namespace="/cam", params={"model": "dog_lite0"})
    launch_node("camera_source", "camera", namespace="/cam",
                params={"source": str(photos), "fps": 3.0})

    def kinds_seen(collector) -> dict[str, dict]:
        """Scene kind -> the latest event on a frame of that kind."""
        kind_of = {(m.header.stamp.sec, m.header.stamp.nanosec): by_pixels.get(digest(
            bytes(m.data))) for m in frames.messages}
        events = [parse_event(m.data, "detection") for m in collector.messages]
        return {kind_of[key]: e for e in events
                if (key := (e["stamp"]["sec"], e["stamp"]["nanosec"])) in kind_of}

    for collector, task, other in ((person, "person", "dog"), (dog, "dog", "person")):
        collector.wait_for(lambda ms, c=collector: len(kinds_seen(c)) == 3, timeout=40)
        seen = kinds_seen(collector)
        assert [d["label"] for d in seen[task]["detections"]] == [task], seen[task]
        assert not seen[task]["early_stopped"] and seen[task]["gate_score"] >= seen[task][
            "gate_threshold"]
        assert seen["empty"]["early_stopped"] and seen["empty"]["scores"] is None
        assert seen[other]["detections"] == []
        assert seen[task]["node"] == f"/cam/{task}_detector" and seen[task]["task"] == task
