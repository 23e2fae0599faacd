"""audio_detector: GC-gated keyword spotting (kws10 or kws35) on an audio stream.

Topics (input relative to the namespace; outputs private to the node):
  audio          std_msgs/Int16MultiArray  in  (contract: gc_perception.audio_contract)
  ~/keywords     std_msgs/String           out (JSON, gc_perception.events 'keyword')
  /diagnostics   diagnostic_msgs/DiagnosticArray
Every hop of the stream is examined: chunks go into a WindowedStream and a worker thread takes
each window in turn (stage 0 energy -> log-mel -> gated model -> one event per word). If the
model falls behind, audio waits (backlog, reported); beyond max_backlog_s the oldest is skipped
and counted.
Chunks lost in transport (publication sequence gaps) and chunks that break the contract
(wrong rate label, layout, empty, too long) are counted; the node keeps running.
"""

from __future__ import annotations

import threading
from typing import Any

from rclpy.subscription import MessageInfo
from rclpy.time import Time
from std_msgs.msg import Int16MultiArray, String

from gc_perception.audio_contract import BadChunk, layout_label
from gc_perception.events import make_event, stamp_dict, to_json
from gc_perception.gating.audio_features import parse_spec
from gc_perception.gating.audio_stream import LossCounter, Window, WindowedStream
from gc_perception.gating.gated_model import GatedModel
from gc_perception.gating.keyword_spotting import (
    DEFAULT_STAGE0_DBFS,
    KeywordEvent,
    KeywordSpotter,
    SpotterSettings,
    WindowOutcome,
)
from gc_perception.gating.manifest import ManifestError, load_manifest
from gc_perception.nodes.audio_topic import AUDIO_SUBSCRIBER_QOS, AUDIO_TOPIC, message_samples
from gc_perception.nodes.detector_base import GatedDetectorNode
from gc_perception.nodes.node_support import run
from gc_perception.params import ParamSpec
from gc_perception.resources import find_model_manifest

BEHIND_S = 1.0  # a window taken with more than this much audio waiting after it is "behind"


def _not_nan(value: float) -> str | None:
    return "must be a number (use -.inf to switch stage 0 off)" if value != value else None


AUDIO_SPECS = [
    ParamSpec("hop_s", 0.1, "Window hop (s); every hop of the stream is examined",
              min_value=0.01, max_value=1.0),
    ParamSpec("window_s", 0.0, "Window length (s); 0 or more than the model's clip length = "
              "the clip length", min_value=0.0, max_value=10.0),
    ParamSpec("stage0_min_dbfs", DEFAULT_STAGE0_DBFS, "Stage 0: windows whose loudest 100 ms "
              "is below this level (dBFS) stop before the model; -inf = stage 0 off",
              max_value=0.0, validator=_not_nan),
    ParamSpec("hold_s", SpotterSettings.hold_s, "Decision delay: from a word's first window "
              "above score_threshold, the best window within this time is the event",
              min_value=0.0, max_value=2.0),
    ParamSpec("refractory_s", SpotterSettings.refractory_s, "No event from windows starting "
              "within this time after an event's window, so one word gives one event",
              min_value=0.0, max_value=10.0),
    ParamSpec("max_backlog_s", 10.0, "Audio that may wait for the model (s); older audio beyond "
              "it is skipped and counted", min_value=0.5, max_value=600.0),
]


def audio_model_problem(model: str) -> str | None:
    """Why `model` cannot spot keywords (not found, or not an audio log-mel model), or None."""
    try:
        parse_spec(load_manifest(find_model_manifest(model)).input)
    except (FileNotFoundError, ManifestError, ValueError, KeyError) as error:
        return f"model {model!r} is not usable for keyword spotting: {error}"
    return None


class AudioDetectorNode(GatedDetectorNode):
    """Subscribes to audio chunks, examines every window, publishes keyword events."""

    def __init__(self) -> None:
        super().__init__("audio_detector", "kws10", AUDIO_SPECS)
        self._losses = LossCounter()
        self._stream = WindowedStream(1, 1, 0, 1)
        self._configure_stream()
        self._spotter: KeywordSpotter | None = None
        self._spotter_model: GatedModel | None = None
        self._behind_windows = 0
        self._failed_windows = 0
        self._events = 0
        self._last_keyword: str | None = None
        self._keywords_pub = self.create_publisher(String, "~/keywords", 10)
        self.create_subscription(Int16MultiArray, AUDIO_TOPIC, self._on_chunk,
                                 AUDIO_SUBSCRIBER_QOS)
        self._running = True
        self._worker = threading.Thread(target=self._work, name="audio_worker", daemon=True)
        self._worker.start()
        self._params.ready()

    # --- parameters -------------------------------------------------------------------------
    def _apply(self, changes: dict[str, Any]) -> str | None:
        if "model" in changes:
            reason = audio_model_problem(changes["model"])
            if reason:
                return reason
        return super()._apply(changes)

    def on_config_changed(self, changes: dict[str, Any]) -> str | None:
        if {"model", "window_s", "hop_s", "max_backlog_s", "enabled"} & changes.keys():
            self._configure_stream()
        return None

    def _configure_stream(self) -> None:
        """Window/hop/backlog in samples of the model's rate; a rate change drops old audio."""
        model = self.model
        if model is None:
            return
        spec = parse_spec(model.manifest.input)
        rate, clip = spec.sample_rate, spec.clip_samples
        window_s = self.config["window_s"]
        window = min(round(window_s * rate), clip) if window_s > 0 else clip
        if rate != self._stream.sample_rate or not self.config["enabled"]:
            self._stream.clear()
            self._stream.sample_rate = rate
        self._stream.configure(window, max(1, round(self.config["hop_s"] * rate)),
                               round(self.config["max_backlog_s"] * rate))

    # --- input ------------------------------------------------------------------------------
    def _on_chunk(self, message: Int16MultiArray, info: MessageInfo) -> None:
        gid = info.get("publisher_gid") or {}
        lost = self._losses.see(bytes(gid.get("data", b"")),
                                info.get("publication_sequence_number"))
        if lost:
            self.get_logger().warning(f"{lost} audio chunk(s) lost in transport",
                                      throttle_duration_sec=5.0)
        if not self.config["enabled"] or self.model is None:
            return
        try:
            samples = message_samples(message, self._stream.sample_rate)
        except BadChunk as error:
            self.reject_input(str(error))
            return
        self.stats.rate_in.tick()
        self._stream.push(samples, info.get("source_timestamp"))

    def _work(self) -> None:
        while self._running:
            window = self._stream.take(timeout=0.5)
            if window is None:
                continue
            try:
                self._process(window)
            except Exception as error:  # e.g. the model changed under it: log, count, go on
                self._failed_windows += 1
                self.get_logger().error(f"window at {window.start} failed: {error!r}",
                                        throttle_duration_sec=5.0)

    def _process(self, window: Window) -> None:
        spotter = self._current_spotter()
        if spotter is None:
            return
        outcome = spotter.process(window.samples, window.start)
        self._behind_windows += window.behind > BEHIND_S * self._stream.sample_rate
        if outcome.stage0_stopped:
            self.stats.record_stage0_stop(outcome.total_ms)
        elif outcome.result is not None:
            self.stats.record(outcome.result, outcome.features_ms, outcome.total_ms,
                              outcome.candidate is not None, self.energy_mj(outcome.result))
        for event in outcome.events:
            self._publish_keyword(window, outcome, event)

    def _current_spotter(self) -> KeywordSpotter | None:
        """The spotter of the current model (rebuilt after a model change), settings updated."""
        model = self.model
        if model is None:
            return None
        settings = SpotterSettings(self.config["stage0_min_dbfs"], self.config["score_threshold"],
                                   self.config["refractory_s"], self.config["hold_s"])
        if model is not self._spotter_model:
            self._spotter = KeywordSpotter(self.infer, model.manifest.input,
                                           model.manifest.positive_labels, settings)
            self._spotter_model = model
        assert self._spotter is not None
        self._spotter.update(settings)
        return self._spotter

    # --- output -----------------------------------------------------------------------------
    def _publish_keyword(self, window: Window, outcome: WindowOutcome,
                         event: KeywordEvent) -> None:
        """The event of `event`'s window, decided at `window` (stamps: time of a window's
        last sample; the event's is derived from the current window's)."""
        result = event.result
        now = self.get_clock().now()
        stamp_ns = window.stamp_ns - round((outcome.start_s - event.start_s) * 1e9) if (
            window.stamp_ns) else now.nanoseconds
        stamp = Time(nanoseconds=stamp_ns, clock_type=now.clock_type)
        sec, nanosec = stamp.seconds_nanoseconds()
        message = make_event(
            "keyword",
            stamp=stamp_dict(sec, nanosec),
            frame_id="",
            node=self.get_fully_qualified_name(),
            task=self.model.manifest.task if self.model else None,
            model=self.config["model"],
            branch=result.branch,
            mode="ungated" if self.config["ungated"] else "gated",
            keyword=event.keyword,
            score=event.score,
            gate_score=result.gate_score,
            gate_threshold=result.gate_threshold,
            early_stopped=result.early_stopped,
            window_start_s=event.start_s,
            window_end_s=event.end_s,
            level_dbfs=event.dbfs,
            latency_ms={
                "features": outcome.features_ms,
                "stage_a": result.stage_a.wall_ms,
                "stage_b": result.stage_b.wall_ms if result.stage_b else None,
                "total": outcome.total_ms,
                "since_stamp": (now - stamp).nanoseconds / 1e6,
            },
            cpu_ms={"stage_a": result.stage_a.cpu_ms,
                    "stage_b": result.stage_b.cpu_ms if result.stage_b else None},
            energy_mj=self.energy_mj(result),
        )
        self._keywords_pub.publish(String(data=to_json(message)))
        self._events += 1
        self._last_keyword = event.keyword
        self.get_logger().info(f"keyword {event.keyword} ({event.score:.2f}) in "
                               f"{event.start_s:.2f}-{event.end_s:.2f} s")

    def diagnostics_values(self) -> dict[str, Any]:
        values = super().diagnostics_values()
        stream, rate = self._stream, self._stream.sample_rate
        values.update({
            "expected_layout": layout_label(rate),
            "window_s": stream.window / rate,
            "hop_s": stream.hop / rate,
            "stage0_min_dbfs": self.config["stage0_min_dbfs"],
            "audio_s_received": stream.received / rate,
            "backlog_s": stream.backlog / rate,
            "max_behind_s": stream.max_behind / rate,
            "behind_windows": self._behind_windows,
            "failed_windows": self._failed_windows,
            "dropped_audio_s": stream.dropped / rate,
            "lost_chunks": self._losses.lost,
            "keyword_events": self._events,
            "last_keyword": self._last_keyword,
        })
        return values

    def destroy_node(self) -> None:
        self._running = False
        self._stream.close()
        self._worker.join(timeout=5.0)
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    run(AudioDetectorNode, args)
