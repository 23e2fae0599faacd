"""audio_source: publishes mono int16 audio chunks from a WAV file, a WAV folder or a microphone.

Topics (relative, so namespaces and remaps work):
  audio          std_msgs/Int16MultiArray  (reliable, keep last 50; contract in
                 gc_perception.audio_contract: dim[0].label "mono_s16_<rate>hz")
  /diagnostics   diagnostic_msgs/DiagnosticArray, 1 Hz
Files are resampled to `sample_rate` and downmixed to mono. A worker thread reads and paces the
chunks (`speed` x real time; 0 = as fast as reliable subscribers acknowledge, never more than
half the queue depth ahead of them), so a blocking
microphone read never stalls the executor. A microphone that cannot be opened (no device, no
arecord) is reported and retried with back-off; the node stays up.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from rclpy.duration import Duration
from rclpy.node import Node
from std_msgs.msg import Int16MultiArray

from gc_perception.audio_contract import QUEUE_DEPTH, chunk_samples, layout_label
from gc_perception.diagnostics import Level, Status
from gc_perception.nodes.audio_topic import AUDIO_QOS, AUDIO_TOPIC, chunk_message
from gc_perception.nodes.node_support import DiagnosticsPublisher, NodeParameters, run
from gc_perception.params import ParamSpec
from gc_perception.sources.audio_chunks import (
    AudioSource,
    AudioSourceError,
    Pacer,
    audio_source_kind,
)
from gc_perception.sources.frames import Backoff
from gc_perception.stats import RateMeter

ACK_TIMEOUT = Duration(seconds=1)
ACK_EVERY = QUEUE_DEPTH // 2  # at speed 0, at most this many chunks wait for acknowledgement
STATE_LEVELS = {"streaming": Level.OK, "idle": Level.OK, "waiting_for_subscribers": Level.OK,
                "end_of_stream": Level.WARN, "reconnecting": Level.WARN, "error": Level.ERROR}


def _source_problem(uri: str) -> str | None:
    try:
        audio_source_kind(uri)
    except AudioSourceError as error:
        return str(error)
    return None


SPECS = [
    ParamSpec("source", "", "WAV file, folder of WAV files (sorted, played in turn) or "
              "'mic[:alsa_device]'; '' = no source (idle)",
              validator=lambda uri: _source_problem(uri) if uri else None),
    ParamSpec("sample_rate", 16000, "Published sample rate (Hz); files are resampled to it",
              min_value=4000, max_value=192000),
    ParamSpec("chunk_ms", 100.0, "Chunk length (ms)", min_value=1.0, max_value=1000.0),
    ParamSpec("speed", 1.0, "Pace of file sources: 1 = real time, 0 = as fast as subscribers "
              "acknowledge", min_value=0.0, max_value=1000.0),
    ParamSpec("loop", True, "Restart a file or folder at its end"),
    ParamSpec("wait_for_subscribers", 0, "Hold a file or folder until this many subscribers "
              "are matched on `audio` (0 = start at once)", min_value=0, max_value=1000),
    ParamSpec("reconnect_max_s", 10.0, "Longest wait between attempts to reopen a microphone; "
              "waits double from 0.5 s", min_value=0.5, max_value=300.0),
    ParamSpec("enabled", True, "Publish audio (false = paused, source kept open)"),
]
RESTART_KEYS = {"source", "sample_rate", "chunk_ms", "speed", "loop", "reconnect_max_s"}


class AudioSourceNode(Node):
    """Reads chunks on a worker thread, paces them and publishes them on `audio`."""

    def __init__(self) -> None:
        super().__init__("audio_source")
        self._params = NodeParameters(self, SPECS, apply=self._apply)
        self._config: dict[str, Any] = self._params.values()
        self._publisher = self.create_publisher(Int16MultiArray, AUDIO_TOPIC, AUDIO_QOS)
        self._diagnostics = DiagnosticsPublisher(self)
        self._rate = RateMeter()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._restart = True
        self._running = True
        self._state = "idle"
        self._source: AudioSource | None = None
        self._pending: np.ndarray | None = None  # read, not yet published (pacing interrupted)
        self._pacer = Pacer(self._config["sample_rate"], self._config["speed"])
        self._backoff = Backoff(maximum=self._config["reconnect_max_s"])
        self._chunks = 0
        self._samples = 0
        self._read_failures = 0
        self._worker = threading.Thread(target=self._work, name="audio_source", daemon=True)
        self._worker.start()
        self.create_timer(1.0, self._publish_diagnostics)
        self._params.ready()

    def _apply(self, changes: dict[str, Any]) -> str | None:
        with self._lock:
            self._config.update(changes)
            self._restart = self._restart or bool(RESTART_KEYS & changes.keys())
        self._wake.set()
        return None

    # --- worker -----------------------------------------------------------------------------
    def _work(self) -> None:
        while self._running:
            with self._lock:
                restart, self._restart = self._restart, False
                config = dict(self._config)
                self._wake.clear()
            if restart:
                self._backoff = Backoff(maximum=config["reconnect_max_s"])
                self._open(config)
            elif self._state == "reconnecting":
                if not self._wake.wait(self._backoff.next_delay()):
                    self._open(config)
            elif self._may_publish(config):
                self._publish_next(config)
            else:
                self._wake.wait(0.1)

    def _open(self, config: dict[str, Any]) -> None:
        if self._source is not None:
            self._source.close()
        self._source, self._state, self._pending = None, "idle", None
        self._chunks = self._samples = 0
        self._pacer = Pacer(config["sample_rate"], config["speed"])
        if not config["source"]:
            return
        samples = chunk_samples(config["sample_rate"], config["chunk_ms"])
        source = AudioSource(config["source"], config["sample_rate"], samples, config["loop"])
        try:
            source.open()
        except AudioSourceError as error:
            self._read_failures += 1
            self._state = "reconnecting" if source.live else "error"
            self.get_logger().error(f"{error}{'; retrying' if source.live else ''}")
            return
        self._backoff.reset()
        self._source = source
        self._state = "streaming" if source.live else "waiting_for_subscribers"
        self.get_logger().info(
            f"opened {source.kind} {config['source']}: {layout_label(config['sample_rate'])} "
            f"in {samples}-sample chunks"
        )

    def _may_publish(self, config: dict[str, Any]) -> bool:
        """Enabled, streaming, and (for a file's first chunk) enough subscribers matched."""
        if not config["enabled"] or self._source is None:
            return False
        if self._state == "waiting_for_subscribers":
            if self._publisher.get_subscription_count() < config["wait_for_subscribers"]:
                return False
            self._state = "streaming"
            self._pacer = Pacer(config["sample_rate"], config["speed"])
        return self._state == "streaming"

    def _publish_next(self, config: dict[str, Any]) -> None:
        source = self._source
        assert source is not None
        chunk = self._pending if self._pending is not None else source.read()
        self._pending = None
        if chunk is None:
            self._end_of_stream(source)
            return
        if not source.live and self._wake.wait(self._pacer.wait_s(self._samples + chunk.size)):
            self._pending = chunk  # a parameter change came first: it may restart or pause
            return
        self._publisher.publish(chunk_message(chunk, config["sample_rate"]))
        self._chunks += 1
        if config["speed"] <= 0 and not source.live and self._chunks % ACK_EVERY == 0:
            self._publisher.wait_for_all_acked(ACK_TIMEOUT)
        self._samples += chunk.size
        self._rate.tick()

    def _end_of_stream(self, source: AudioSource) -> None:
        if source.live:
            self._read_failures += 1
            self._state = "reconnecting"
            self.get_logger().warning(f"microphone {source.uri} stopped delivering; retrying")
            return
        self._state = "end_of_stream"
        self.get_logger().info(
            f"end of stream after {self._chunks} chunks ({self._seconds():.2f} s of audio)"
        )

    def _seconds(self) -> float:
        return self._samples / self._config["sample_rate"]

    # --- diagnostics ------------------------------------------------------------------------
    def _publish_diagnostics(self) -> None:
        enabled = self._config["enabled"]
        source = self._source
        self._diagnostics.publish([Status(
            name=self._diagnostics.status_name("source"),
            level=STATE_LEVELS[self._state] if enabled else Level.OK,
            message=self._state if enabled else "paused",
            values={
                "source": self._config["source"] or "none",
                "kind": source.kind if source else None,
                "state": self._state,
                "layout_label": layout_label(self._config["sample_rate"]),
                "chunk_ms": self._config["chunk_ms"],
                "speed": self._config["speed"],
                "chunks_published": self._chunks,
                "audio_s_published": self._seconds(),
                "chunks_per_s": self._rate.rate(),
                "subscribers": self._publisher.get_subscription_count(),
                "loops": source.loops if source else 0,
                "unreadable_files": source.unreadable if source else 0,
                "pacing_resyncs": self._pacer.resyncs,
                "read_failures": self._read_failures,
                "rejected_parameters": self._params.rejected,
            },
        )])

    def destroy_node(self) -> None:
        self._running = False
        self._wake.set()
        source = self._source
        if source is not None and source.live:
            source.close()  # ends a blocking microphone read
        self._worker.join(timeout=5.0)
        if self._source is not None:
            self._source.close()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    run(AudioSourceNode, args)
