"""camera_source: publishes frames from a video file, image folder, V4L2 device or stream URL.

Topics (relative, so namespaces and remaps work):
  image_raw             sensor_msgs/Image            (sensor QoS) when publish_raw
  image_raw/compressed  sensor_msgs/CompressedImage  (sensor QoS) when publish_compressed
  /diagnostics          diagnostic_msgs/DiagnosticArray, 1 Hz
"""

from __future__ import annotations

import time
from typing import Any

from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image

from gc_perception.diagnostics import Level, Status
from gc_perception.imaging import COMPRESSED_FORMATS, encode_compressed, encode_raw
from gc_perception.nodes.node_support import DiagnosticsPublisher, NodeParameters, run
from gc_perception.params import ParamSpec, rejects
from gc_perception.sources.frames import (
    Backoff,
    FrameSource,
    SourceError,
    resize_frame,
    source_kind,
)
from gc_perception.stats import RateMeter

SPECS = [
    ParamSpec(
        "source", "", "Video file, image folder, V4L2 device ('0', 'device:0', '/dev/video0') "
        "or stream URL (rtsp://, http://); '' = no source (idle)",
        validator=rejects(source_kind),
    ),
    ParamSpec("fps", 10.0, "Publish rate (Hz); 0 = as fast as possible", min_value=0.0,
              max_value=240.0),
    ParamSpec("loop", True, "Restart a file or folder at its end"),
    ParamSpec("max_frames", 0, "Stop after this many frames (0 = no limit)", min_value=0,
              max_value=2**31 - 1),
    ParamSpec("frame_id", "camera", "header.frame_id of published frames"),
    ParamSpec("width", 0, "Resize to this width (0 = keep; keeps aspect if height set)",
              min_value=0, max_value=8192),
    ParamSpec("height", 0, "Resize to this height (0 = keep; keeps aspect if width set)",
              min_value=0, max_value=8192),
    ParamSpec("encoding", "bgr8", "Encoding of image_raw", choices=("bgr8", "rgb8")),
    ParamSpec("publish_raw", True, "Publish sensor_msgs/Image on image_raw"),
    ParamSpec("publish_compressed", False, "Publish sensor_msgs/CompressedImage too"),
    ParamSpec("compressed_format", "jpeg", "Format of image_raw/compressed",
              choices=tuple(COMPRESSED_FORMATS)),
    ParamSpec("jpeg_quality", 90, "JPEG quality", min_value=1, max_value=100),
    ParamSpec("reconnect_max_s", 10.0, "Longest wait between reconnect attempts to a live "
              "source (device/stream); waits double from 0.5 s", min_value=0.5, max_value=300.0),
    ParamSpec("enabled", True, "Publish frames (false = paused, source kept open)"),
]


class CameraSourceNode(Node):
    """Paces frames from a FrameSource onto image topics and reports its state."""

    def __init__(self) -> None:
        super().__init__("camera_source")
        self._params = NodeParameters(self, SPECS, apply=self._apply)
        self._config: dict[str, Any] = self._params.values()
        self._raw_pub = self.create_publisher(Image, "image_raw", qos_profile_sensor_data)
        self._compressed_pub = self.create_publisher(
            CompressedImage, "image_raw/compressed", qos_profile_sensor_data
        )
        self._diagnostics = DiagnosticsPublisher(self)
        self._rate = RateMeter()
        self._published = 0
        self._read_failures = 0
        self._reconnects = 0
        self._state = "idle"
        self._source: FrameSource | None = None
        self._backoff = Backoff(maximum=self._config["reconnect_max_s"])
        self._retry_at = 0.0
        self._open_source()
        self._timer = self.create_timer(self._period(), self._tick)
        self.create_timer(1.0, self._publish_diagnostics)
        self._params.ready()

    def _period(self) -> float:
        fps = self._config["fps"]
        return 1.0 / fps if fps > 0 else 0.001

    def _apply(self, changes: dict[str, Any]) -> str | None:
        self._config.update(changes)
        if {"source", "loop"} & changes.keys():
            self._published = 0
            self._open_source()
        if "reconnect_max_s" in changes:
            self._backoff = Backoff(maximum=changes["reconnect_max_s"])
        if "fps" in changes:
            self._timer.cancel()
            self._timer = self.create_timer(self._period(), self._tick)
        return None

    def _open_source(self) -> None:
        if self._source is not None:
            self._source.close()
        self._source = None
        uri = self._config["source"]
        if not uri:
            self._state = "idle"
            return
        source = FrameSource(uri, loop=self._config["loop"])
        try:
            source.open()
        except SourceError as error:
            self._fail(str(error), live=source.live)
            self._source = source if source.live else None
            return
        self._source, self._state = source, "streaming"
        self._backoff.reset()
        self.get_logger().info(f"streaming {source.kind} {uri}")

    def _fail(self, reason: str, live: bool) -> None:
        self._read_failures += 1
        if live:
            delay = self._backoff.next_delay()
            self._retry_at = time.monotonic() + delay
            self._state = "reconnecting"
            self.get_logger().warning(f"{reason}; reconnecting in {delay:.1f} s")
        else:
            self._state = "error"
            self.get_logger().error(reason)

    def _tick(self) -> None:
        if not self._config["enabled"] or self._source is None:
            return
        if self._state == "reconnecting":
            if time.monotonic() >= self._retry_at:
                self._reconnects += 1
                self._open_source()
            return
        if self._state != "streaming":
            return
        limit = self._config["max_frames"]
        if limit and self._published >= limit:
            self._end("reached max_frames")
            return
        frame = self._source.read()
        if frame is None:
            if self._source.live:
                self._fail(f"{self._source.kind} {self._source.uri} stopped delivering", True)
            else:
                self._end("end of stream")
            return
        self._publish(resize_frame(frame, self._config["width"], self._config["height"]))

    def _end(self, why: str) -> None:
        self._state = "end_of_stream"
        self.get_logger().info(f"{why} after {self._published} frames")

    def _publish(self, frame) -> None:
        stamp = self.get_clock().now().to_msg()
        frame_id = self._config["frame_id"]
        if self._config["publish_raw"]:
            height, width, step, data = encode_raw(frame, self._config["encoding"])
            message = Image(height=height, width=width, encoding=self._config["encoding"],
                            is_bigendian=0, step=step, data=data)
            message.header.stamp, message.header.frame_id = stamp, frame_id
            self._raw_pub.publish(message)
        if self._config["publish_compressed"]:
            fmt = self._config["compressed_format"]
            message = CompressedImage(
                format=fmt, data=encode_compressed(frame, fmt, self._config["jpeg_quality"])
            )
            message.header.stamp, message.header.frame_id = stamp, frame_id
            self._compressed_pub.publish(message)
        self._published += 1
        self._rate.tick()

    def _publish_diagnostics(self) -> None:
        level = {"streaming": Level.OK, "idle": Level.OK, "end_of_stream": Level.WARN,
                 "reconnecting": Level.WARN, "error": Level.ERROR}[self._state]
        if not self._config["enabled"]:
            level = Level.OK
        source = self._source
        self._diagnostics.publish([Status(
            name=self._diagnostics.status_name("source"),
            level=level,
            message=self._state if self._config["enabled"] else "paused",
            values={
                "source": self._config["source"] or "none",
                "kind": source.kind if source else None,
                "state": self._state,
                "frames_published": self._published,
                "fps_out": self._rate.rate(),
                "fps_target": self._config["fps"],
                "read_failures": self._read_failures,
                "reconnects": self._reconnects,
                "unreadable_images": source.unreadable if source else 0,
                "rejected_parameters": self._params.rejected,
            },
        )])

    def destroy_node(self) -> None:
        if self._source is not None:
            self._source.close()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    run(CameraSourceNode, args)
