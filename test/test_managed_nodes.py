"""Manager bookkeeping: detector reports, restarts, drift, retries with back-off, events."""

from __future__ import annotations

import numpy as np
import pytest

from gc_perception.adascale.managed_nodes import (
    MIN_FRAMES,
    SETTLE_INPUTS,
    SWITCH_TRANSIENT_S,
    ManagedNode,
    decision_event,
    parse_detector_status,
)
from gc_perception.adascale.policy import (
    Choice,
    Conditions,
    Decision,
    Goal,
    Modes,
    Placement,
    Prediction,
)
from gc_perception.adascale.profiles import BranchProfile, ModelProfile, StageCost
from gc_perception.adascale.topology import CoreTopology
from gc_perception.diagnostics import format_value
from gc_perception.events import parse_event, to_json

TOPOLOGY = CoreTopology({"efficiency": [0], "performance": [1]}, "config")
SPLIT = Choice("int8_160", Placement("efficiency", "performance"))
TIMEOUT = 5.0


def values(**changes) -> dict[str, str]:
    """Detector status values as they arrive (strings made by diagnostics.format_value)."""
    figures = {
        "model": "person_lite0", "task": "person", "branch": "fp32_224", "enabled": True,
        "stage_a_cpus": "all", "stage_b_cpus": "all", "pid": 100, "inputs": 0,
        "latency_stage_a_p95_ms": 2.5, "latency_stage_b_p95_ms": 7.5,
        "early_stop_rate_recent": 0.75, "cpu_ms_mean": 4.0, "fps_out": 10.0,
    }
    figures.update(changes)
    return {key: format_value(value) for key, value in figures.items()}


def report(**changes):
    return parse_detector_status("robot/vision_detector: detector", values(**changes))


def test_parse_detector_status():
    parsed = report()
    assert parsed.node == "/robot/vision_detector"
    assert (parsed.model, parsed.branch, parsed.pid, parsed.enabled) == (
        "person_lite0", "fp32_224", 100, True)
    assert parsed.worst_path_ms == pytest.approx(10.0)
    assert parsed.own_load_cores == pytest.approx(0.04)
    unmeasured = report(latency_stage_b_p95_ms=None, cpu_ms_mean=None)
    assert unmeasured.worst_path_ms is None and unmeasured.own_load_cores == 0.0
    assert parse_detector_status("robot/monitor: cpu", values()) is None


def test_report_tells_whether_a_choice_runs():
    assert report(branch="int8_160", stage_a_cpus="0", stage_b_cpus="1").runs(SPLIT, TOPOLOGY)
    assert not report(branch="int8_160").runs(SPLIT, TOPOLOGY)


def applied_node(now: float = 0.0) -> ManagedNode:
    node = ManagedNode("/robot/vision_detector", Goal(30.0))
    node.on_report(report(), now, TOPOLOGY)
    node.want(SPLIT, now)
    assert node.needs_apply(now, TIMEOUT)
    node.start_apply(now)
    assert not node.needs_apply(now, TIMEOUT)  # one call in flight at a time
    node.finish_apply(SPLIT, 100, "", now)
    return node


def test_confirmed_choice_settles_after_enough_inputs():
    node = applied_node()
    assert not node.needs_apply(1.0, TIMEOUT)
    running = {"branch": "int8_160", "stage_a_cpus": "0", "stage_b_cpus": "1"}
    node.on_report(report(**running, inputs=50), 1.0, TOPOLOGY)
    assert not node.settled()
    node.on_report(report(**running, inputs=50 + SETTLE_INPUTS), 2.0, TOPOLOGY)
    assert node.settled()
    assert "applied" in node.state(2.0, TIMEOUT)


def detection(branch: str = "int8_160", a: float = 2.0, b: float | None = 3.0,
              cpus: tuple[list, list] = ([0], [1]), total: float | None = None) -> dict:
    latency = {"stage_a": a, "stage_b": b, **({"total": total} if total else {})}
    return {"branch": branch, "latency_ms": latency,
            "cpus": {"stage_a": cpus[0], "stage_b": cpus[1]}}


PREDICTED = (2.0, 3.0)  # the load model's stage A and stage B ms
T = SWITCH_TRANSIENT_S  # inputs before it are a switch's transient, not counted


def test_observed_ratio_from_recent_inputs_of_the_confirmed_choice():
    node = applied_node()
    for event in (detection(), detection(a=4.0), detection("fp32_224"),
                  detection(cpus=([0], [0]))):
        node.on_detection(event, T + 1.0, TOPOLOGY)
    assert node.observed_ratio(T + 1.0, PREDICTED) is None  # 2 usable inputs: too few
    for a in (2.0, 2.0, 10.0):
        node.on_detection(detection(a=a), T + 1.5, TOPOLOGY)
    ratios = np.array([5, 7, 5, 5, 13]) / 5.0
    assert node.observed_ratio(T + 1.5, PREDICTED) == pytest.approx(np.percentile(ratios, 95))
    assert node.observed_ratio(T + 10.0, PREDICTED) is None  # too old, and diagnostics not settled


def test_inputs_the_gate_stopped_are_compared_on_stage_a():
    node = applied_node()
    for _ in range(MIN_FRAMES):
        node.on_detection(detection(a=6.0, b=None), T + 1.5, TOPOLOGY)
    assert node.observed_ratio(T + 1.5, PREDICTED) == pytest.approx(3.0)  # 6 ms / 2 ms


def test_without_per_input_events_the_settled_diagnostics_give_the_ratio():
    node = applied_node()
    running = {"branch": "int8_160", "stage_a_cpus": "0", "stage_b_cpus": "1"}
    node.on_report(report(**running, inputs=1), 1.0, TOPOLOGY)
    assert node.observed_ratio(1.0, PREDICTED) is None  # not settled on the new choice yet
    node.on_report(report(**running, inputs=1 + SETTLE_INPUTS), 2.0, TOPOLOGY)
    assert node.observed_ratio(2.0, PREDICTED) == pytest.approx((2.5 + 7.5) / 5.0)
    node.on_report(report(**running, inputs=2 + SETTLE_INPUTS, latency_stage_b_p95_ms=None),
                   3.0, TOPOLOGY)
    assert node.observed_ratio(3.0, PREDICTED) == pytest.approx(2.5 / 2.0)


def test_the_path_outside_the_stages_is_kept_as_overhead():
    node = applied_node()
    assert node.overhead_ms(T + 1.5) == 0.0
    for _ in range(MIN_FRAMES):
        node.on_detection(detection(a=2.0, b=3.0, total=9.0), T + 1.5, TOPOLOGY)
    assert node.observed_ratio(T + 1.5, PREDICTED) == pytest.approx(1.0)
    assert node.overhead_ms(T + 1.5) == pytest.approx(4.0)
    assert node.view(_profile(), {}, T + 1.5).overhead_ms == pytest.approx(4.0)


def test_restart_means_apply_again():
    node = applied_node()
    why = node.on_report(report(pid=200), 1.0, TOPOLOGY)
    assert "restarted" in why and node.restarts == 1
    assert node.needs_apply(1.0, TIMEOUT)


def test_drift_is_corrected_after_a_grace_period():
    node = applied_node()
    assert node.on_report(report(branch="fp32_224"), 1.0, TOPOLOGY) is None  # not yet applied
    why = node.on_report(report(branch="fp32_224"), 10.0, TOPOLOGY)
    assert "not int8_160" in why and node.needs_apply(10.0, TIMEOUT)


def test_failures_back_off_and_a_silent_node_is_left_alone():
    node = ManagedNode("/det", Goal(30.0))
    node.on_report(report(), 0.0, TOPOLOGY)
    node.want(SPLIT, 0.0)
    delays = []
    now = 0.0
    for _ in range(4):
        node.start_apply(now)
        node.finish_apply(SPLIT, None, "refused: busy", now)
        delays.append(node.retry_at - now)
        assert not node.needs_apply(now, TIMEOUT)
        now = node.retry_at
    assert delays == [0.5, 1.0, 2.0, 4.0]
    assert "failing (4x): refused: busy" in node.state(now, 1e9)
    assert not node.needs_apply(now + 100.0, TIMEOUT)  # silent for too long
    assert "absent" in node.state(now + 100.0, TIMEOUT)


def test_current_choice_before_any_decision_is_what_the_node_runs():
    node = ManagedNode("/det", Goal(30.0))
    assert node.current() is None
    node.on_report(report(), 0.0, TOPOLOGY)
    assert node.current() == Choice("fp32_224", None)
    assert node.view(_profile(), {}, 0.0).pass_rate == pytest.approx(0.25)


def _profile() -> ModelProfile:
    cost = {"performance": StageCost(1.0, 1.0, 1.0)}
    branch = BranchProfile("fp32_224", {"a": cost, "b": cost}, 1, 1, 1)
    return ModelProfile("m", "k", "cpu", 0.0, 1, {"fp32_224": branch})


def test_decision_event_is_a_valid_event():
    decision = Decision("/det", SPLIT, Choice("fp32_224", None), True, "overload",
                        Prediction(12.0, 0.9, 3.5, 9_000_000))
    event = decision_event(decision, Goal(30.0, 0.8), TOPOLOGY, Conditions((0.9, 0.9)),
                           Modes(), ["cpu.per_core_percent"], 123.0)
    parsed = parse_event(to_json(event), "decision")
    assert parsed["from"] == {"branch": "fp32_224", "stage_a_cpus": None, "stage_b_cpus": None,
                              "threads": None}
    assert parsed["to"]["stage_a_cpus"] == "0" and parsed["to"]["threads"]["stage_b"] == 1
    assert parsed["predicted"]["latency_ms"] == 12.0 and parsed["predicted"]["memory_mb"] == 9.0
    assert parsed["simulated"] == ["cpu.per_core_percent"] and parsed["mode"] == "normal"
