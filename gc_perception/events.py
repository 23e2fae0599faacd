"""JSON events the suite publishes on std_msgs/String topics: one schema module for all of them.

No standard ROS message carries gate facts, so detections, keyword events and AdaScale decisions
are JSON with a `schema` name and `schema_version`. Consumers should check both (`parse_event`).

detection (topic `~/detections` of each vision_detector), one per processed frame:
  stamp {sec, nanosec}, frame_id, node, task, model, branch, mode ("gated"|"ungated"),
  gate_score, gate_threshold, early_stopped, detections [{label, score}] (scores >= the node's
  score_threshold, positive labels only), scores {label: p} or null when early-stopped,
  activation_sparsity (share of zeros handed to stage B) or null, handoff_bytes (bitmap-sparse
  size actually handed over; 0 when stopped), handoff_dense_bytes, latency_ms {preprocess,
  stage_a, stage_b|null, total, since_stamp}, cpu_ms {stage_a, stage_b|null}, cpus {stage_a,
  stage_b}, energy_mj (estimate, see gc_perception.adascale.energy) or null.
keyword (topic `~/keywords` of each audio_detector), one per spoken keyword (the best window
of the word, see gc_perception.gating.keyword_spotting):
  stamp (time of the window's last sample, from the audio chunks' source timestamps),
  frame_id ("": audio carries no frame), node, task, model, branch, mode, keyword, score,
  gate_score, gate_threshold, early_stopped (false for events; stopped windows are counted in
  diagnostics), window_start_s, window_end_s (stream seconds since the detector's first
  sample), level_dbfs (stage-0 level of the window), latency_ms {features, total (of the window
  that decided the event, hold_s later), stage_a, stage_b (of the event's window), since_stamp},
  cpu_ms {stage_a, stage_b}, energy_mj (estimate).
decision (topic `adascale/decisions`, adascale_manager), one per change:
  time (Unix s), node, from {branch, stage_a_cpus, stage_b_cpus, threads {stage_a, stage_b},
  placement} (null: not decided before; CPU lists and threads null: as the node started),
  to {...}, reason (human-readable), predicted {latency_ms (stage A + B, under the current
  load), accuracy, energy_mj (estimate), memory_mb}, goal {latency_budget_ms, min_accuracy,
  priority, memory_budget_mb}, mode ("normal" | "energy saving" | "memory saving" | both),
  causes [text], conditions (text summary of the device state used), simulated [dotted paths
  of device_state readings that were simulated; empty = all real].
"""

from __future__ import annotations

import json
from typing import Any

SCHEMA_VERSION = 1
KINDS = ("detection", "keyword", "decision")


class EventError(ValueError):
    """Text that is not a gc_perception event of a version we understand."""


def make_event(kind: str, **fields: Any) -> dict[str, Any]:
    """An event dict with its schema header (fields are taken as given)."""
    if kind not in KINDS:
        raise ValueError(f"unknown event kind {kind!r}; known: {KINDS}")
    return {"schema": f"gc_perception/{kind}", "schema_version": SCHEMA_VERSION, **fields}


def to_json(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"), allow_nan=False, default=_plain)


def _plain(value: Any) -> Any:
    """numpy scalars and sets become JSON numbers and lists."""
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def parse_event(text: str, kind: str | None = None) -> dict[str, Any]:
    """Decode and check an event; EventError for junk, another schema or a newer version."""
    try:
        event = json.loads(text)
    except json.JSONDecodeError as error:
        raise EventError(f"not JSON: {error}") from error
    if not isinstance(event, dict) or not str(event.get("schema", "")).startswith("gc_perception/"):
        raise EventError("not a gc_perception event (no schema field)")
    version = event.get("schema_version")
    if version != SCHEMA_VERSION:
        raise EventError(f"schema_version {version!r}, expected {SCHEMA_VERSION}")
    if kind is not None and event["schema"] != f"gc_perception/{kind}":
        raise EventError(f"expected a {kind} event, got {event['schema']}")
    return event


def stamp_dict(sec: int, nanosec: int) -> dict[str, int]:
    return {"sec": int(sec), "nanosec": int(nanosec)}
