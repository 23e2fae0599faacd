"""camera_source through real topics: frames arrive with the right size, stamps and frame_id."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import CompressedImage, Image

from gc_perception.imaging import decode_compressed, decode_raw

pytestmark = pytest.mark.integration


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    for index in range(3):
        frame = np.full((60, 80, 3), (index * 60, 100, 200 - index * 50), np.uint8)
        cv2.imwrite(str(tmp_path / f"frame_{index}.png"), frame)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    return tmp_path


def test_folder_frames_reach_a_subscriber(launch_node, ros_probe, image_folder):
    raw = ros_probe.subscribe("/cam/image_raw", Image)
    compressed = ros_probe.subscribe("/cam/image_raw/compressed", CompressedImage)
    launch_node("camera_source", "camera_source", namespace="/cam", params={
        "source": str(image_folder), "fps": 20.0, "width": 40, "frame_id": "cam_optical",
        "publish_compressed": True, "compressed_format": "png",
    })
    frames = raw.wait_for_count(4, timeout=15)
    first = frames[0]
    assert (first.width, first.height, first.encoding) == (40, 30, "bgr8")
    assert first.header.frame_id == "cam_optical"
    assert first.header.stamp.sec > 0
    image = decode_raw(first.encoding, first.height, first.width, first.step, bytes(first.data))
    assert image.shape == (30, 40, 3)
    png = compressed.wait_for_count(1, timeout=10)[0]
    assert png.format == "png"
    assert decode_compressed(bytes(png.data)).shape == (30, 40, 3)


def test_end_of_stream_and_bad_parameter(launch_node, ros_probe, image_folder):
    launch_node("camera_source", "cam_once", params={
        "source": str(image_folder), "fps": 50.0, "loop": False,
    })
    ended = ros_probe.wait_for_message(
        "/diagnostics", DiagnosticArray, timeout=15,
        predicate=lambda m: any("cam_once" in s.name and s.message == "end_of_stream"
                                for s in m.status),
    )
    values = {kv.key: kv.value for s in ended.status for kv in s.values if "cam_once" in s.name}
    assert values["frames_published"] == "3"
    assert values["unreadable_images"] == "1"
    results = ros_probe.set_parameters("/cam_once", {"source": "/no/such/video.mp4"})
    assert not results[0].successful and "no such file" in results[0].reason
    results = ros_probe.set_parameters("/cam_once", {"fps": -3.0})
    assert not results[0].successful and "minimum" in results[0].reason
    assert ros_probe.get_parameters("/cam_once", ["fps"]) == {"fps": 50.0}
    counted = ros_probe.wait_for_message(
        "/diagnostics", DiagnosticArray, timeout=5,
        predicate=lambda m: any(kv.key == "rejected_parameters" and kv.value == "2"
                                for s in m.status if "cam_once" in s.name for kv in s.values),
    )
    assert counted.status
