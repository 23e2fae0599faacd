"""vision_detector: a GC-gated image model (person or dog) on a camera stream.

Topics (inputs relative to the namespace, so detectors share one camera; outputs private to
the node, so a person and a dog detector on one camera stay apart):
  image_raw               sensor_msgs/Image           in  (input_transport=raw, sensor QoS)
  image_raw/compressed    sensor_msgs/CompressedImage in  (input_transport=compressed)
  ~/detections            std_msgs/String             out (JSON, gc_perception.events 'detection')
  ~/detections/overlay    sensor_msgs/Image           out (only while it has subscribers)
  /diagnostics            diagnostic_msgs/DiagnosticArray
Only the newest frame is processed: frames that arrive while the model is busy are dropped
(counted), so a slow branch never builds a queue. Frames are taken serialized and read in place
(gc_perception.imaging.parse_image): no copy of the pixels into a Python message.
"""

from __future__ import annotations

import threading
from typing import Any

import cv2
import numpy as np
from rclpy.qos import qos_profile_sensor_data
from rclpy.time import Time
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import String

from gc_perception.events import make_event, stamp_dict, to_json
from gc_perception.gating.gated_model import InferenceResult
from gc_perception.gating.image_preprocess import preprocess_image
from gc_perception.imaging import (
    BadImage,
    ImageMessage,
    decode_message,
    encode_raw,
    parse_compressed_image,
    parse_image,
)
from gc_perception.latest_slot import LatestSlot
from gc_perception.nodes.detector_base import GatedDetectorNode, monotonic_ms
from gc_perception.nodes.node_support import run
from gc_perception.params import ParamSpec

VISION_SPECS = [
    ParamSpec("input_transport", "raw", "Subscribe to image_raw (raw) or image_raw/compressed",
              choices=("raw", "compressed")),
    ParamSpec("publish_overlay", True, "Publish detections/overlay while it has subscribers"),
]


class VisionDetectorNode(GatedDetectorNode):
    """Subscribes to frames, runs the gated model on the newest one, publishes detections."""

    def __init__(self) -> None:
        super().__init__("vision_detector", "person_lite0", VISION_SPECS)
        self._slot: LatestSlot[tuple[bytes, bool]] = LatestSlot()  # (serialized, compressed)
        self._detections_pub = self.create_publisher(String, "~/detections", 10)
        self._overlay_pub = self.create_publisher(
            Image, "~/detections/overlay", qos_profile_sensor_data
        )
        self._subscription = None
        self._subscribe()
        self._running = True
        self._worker = threading.Thread(target=self._work, name="vision_worker", daemon=True)
        self._worker.start()
        self._params.ready()

    def _subscribe(self) -> None:
        if self._subscription is not None:
            self.destroy_subscription(self._subscription)
        compressed = self.config["input_transport"] == "compressed"
        kind, topic = (CompressedImage, "image_raw/compressed") if compressed else (
            Image, "image_raw")
        self._subscription = self.create_subscription(
            kind, topic, lambda serialized: self._on_frame(serialized, compressed),
            qos_profile_sensor_data, raw=True,
        )

    def on_config_changed(self, changes: dict[str, Any]) -> str | None:
        if "input_transport" in changes:
            self._subscribe()
        return None

    def _on_frame(self, serialized: bytes, compressed: bool) -> None:
        if self.config["enabled"]:
            self.stats.rate_in.tick()
            self._slot.put((serialized, compressed))

    def _work(self) -> None:
        while self._running:
            item = self._slot.take(timeout=0.5)
            if item is not None:
                self._process(*item)

    def _process(self, serialized: bytes, compressed: bool) -> None:
        started = monotonic_ms()
        try:
            message = (parse_compressed_image if compressed else parse_image)(serialized)
            frame = decode_message(message, compressed)
            prepared = self._prepare_and_infer(frame)
        except (BadImage, ValueError) as error:
            self.reject_input(str(error))
            return
        if prepared is None:
            return
        preprocess_ms, result = prepared
        total_ms = monotonic_ms() - started
        detections = self._detections(result)
        energy = self.energy_mj(result)
        self.stats.record(result, preprocess_ms, total_ms, bool(detections), energy)
        self._publish_detection(message, result, detections, preprocess_ms, total_ms, energy)
        if self.config["publish_overlay"] and self._overlay_pub.get_subscription_count() > 0:
            self._publish_overlay(message, frame, result, detections)

    def _prepare_and_infer(self, frame: np.ndarray) -> tuple[float, InferenceResult] | None:
        """Preprocess for the current branch's input size and infer; if the branch switched in
        between (the size no longer fits), prepare once more for the new branch."""
        for attempt in range(2):
            model = self.model
            if model is None:
                return None
            started = monotonic_ms()
            branch = model.branch
            size = model.manifest.branches[branch].input_shape[2:4]  # (height, width), NCHW
            tensor = preprocess_image(frame, model.manifest.input, size)
            preprocess_ms = monotonic_ms() - started
            try:
                result = self.infer(tensor)
            except ValueError:
                if attempt == 0 and self.model is not None and self.model.branch != branch:
                    continue
                raise
            return (preprocess_ms, result) if result is not None else None
        return None

    def _detections(self, result: InferenceResult) -> list[dict[str, Any]]:
        if result.scores is None:
            return []
        positive = self.model.manifest.positive_labels if self.model else []
        threshold = self.config["score_threshold"]
        return [{"label": label, "score": score} for label, score in result.scores.items()
                if label in positive and score >= threshold]

    def _publish_detection(self, message: ImageMessage, result: InferenceResult, detections,
                           preprocess_ms, total_ms, energy_mj) -> None:
        clock = self.get_clock()
        stamp = Time(seconds=message.sec, nanoseconds=message.nanosec,
                     clock_type=clock.clock_type)
        since_stamp = (clock.now() - stamp).nanoseconds
        event = make_event(
            "detection",
            stamp=stamp_dict(message.sec, message.nanosec),
            frame_id=message.frame_id,
            node=self.get_fully_qualified_name(),
            task=self.model.manifest.task if self.model else None,
            model=self.config["model"],
            branch=result.branch,
            mode="ungated" if self.config["ungated"] else "gated",
            gate_score=result.gate_score,
            gate_threshold=result.gate_threshold,
            early_stopped=result.early_stopped,
            detections=detections,
            scores=result.scores,
            activation_sparsity=result.activation_sparsity,
            handoff_bytes=result.handoff_bytes,
            handoff_dense_bytes=result.handoff_dense_bytes,
            latency_ms={
                "preprocess": preprocess_ms,
                "stage_a": result.stage_a.wall_ms,
                "stage_b": result.stage_b.wall_ms if result.stage_b else None,
                "total": total_ms,
                "since_stamp": since_stamp / 1e6,
            },
            cpu_ms={"stage_a": result.stage_a.cpu_ms,
                    "stage_b": result.stage_b.cpu_ms if result.stage_b else None},
            cpus={"stage_a": sorted(result.stage_a.cpus or []),
                  "stage_b": sorted(result.stage_b.cpus or []) if result.stage_b else None},
            energy_mj=energy_mj,
        )
        self._detections_pub.publish(String(data=to_json(event)))

    def _publish_overlay(self, message: ImageMessage, frame, result: InferenceResult,
                         detections) -> None:
        overlay = draw_overlay(frame, result, detections)
        height, width, step, data = encode_raw(overlay)
        image = Image(height=height, width=width, encoding="bgr8", step=step, data=data)
        image.header.stamp.sec, image.header.stamp.nanosec = message.sec, message.nanosec
        image.header.frame_id = message.frame_id
        self._overlay_pub.publish(image)

    def diagnostics_values(self) -> dict[str, Any]:
        values = super().diagnostics_values()
        values["dropped_frames"] = self._slot.dropped
        values["input_transport"] = self.config["input_transport"]
        return values

    def destroy_node(self) -> None:
        self._running = False
        self._slot.close()
        self._worker.join(timeout=5.0)
        super().destroy_node()


def draw_overlay(frame: np.ndarray, result: InferenceResult, detections) -> np.ndarray:
    """The frame with a coloured border (green: detection, grey: early stop) and the facts."""
    overlay = frame.copy()
    if detections:
        colour = (0, 200, 0)
    else:
        colour = (128, 128, 128) if result.early_stopped else (0, 160, 255)
    cv2.rectangle(overlay, (0, 0), (overlay.shape[1] - 1, overlay.shape[0] - 1), colour, 6)
    lines = [f"{result.branch} gate {result.gate_score:.2f}"
             + (" STOP" if result.early_stopped else "")]
    lines += [f"{d['label']} {d['score']:.2f}" for d in detections]
    for row, text in enumerate(lines):
        cv2.putText(overlay, text, (10, 28 + 24 * row), cv2.FONT_HERSHEY_SIMPLEX, 0.7, colour, 2)
    return overlay


def main(args: list[str] | None = None) -> None:
    # One executor thread: frames reach the worker sooner. Inference runs on the worker, so only
    # a model load (a parameter change) holds up frames and diagnostics, for its duration.
    run(VisionDetectorNode, args, threads=1)

