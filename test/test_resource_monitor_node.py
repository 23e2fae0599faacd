"""resource_monitor through real topics: state and diagnostics at rate, simulation, bad values."""

from __future__ import annotations

import json
import os

import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import String

pytestmark = pytest.mark.integration

LATCHED = QoSProfile(
    depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
)
PARTS = ("cpu", "memory", "temperature", "battery", "suite processes")


def states(collector) -> list[dict]:
    return [json.loads(message.data) for message in collector.messages]


def statuses_of(array: DiagnosticArray, node: str) -> dict[str, DiagnosticStatus]:
    prefix = f"{node}: "
    return {s.name[len(prefix):]: s for s in array.status if s.name.startswith(prefix)}


def test_state_and_diagnostics_arrive_at_rate_and_latch(launch_node, ros_probe):
    state_topic = ros_probe.subscribe("/dev_a/device_state", String, LATCHED)
    diagnostics = ros_probe.subscribe("/diagnostics", DiagnosticArray)
    node = launch_node("resource_monitor", "monitor", namespace="/dev_a",
                       params={"rate_hz": 4.0})
    state_topic.wait_for_count(9, timeout=20)
    samples = states(state_topic)
    stamps = [s["stamp"] for s in samples]
    rate = (len(stamps) - 1) / (stamps[-1] - stamps[0])
    assert 2.5 < rate < 6.0, f"{rate:.2f} Hz for rate_hz 4.0"
    last = samples[-1]
    assert last["schema_version"] == 1 and last["simulated"]["fields"] == []
    assert len(last["cpu"]["per_core_percent"]) == os.cpu_count()
    assert all(0.0 <= p <= 100.0 for p in last["cpu"]["per_core_percent"])
    assert len(last["cpu"]["per_core_class"]) == os.cpu_count()
    assert set(last["cpu"]["per_core_class"]) <= {"efficiency", "performance", None}
    assert 0 < last["memory"]["available_bytes"] <= last["memory"]["total_bytes"]
    assert any(p["pid"] == node.pid and p["name"] == "monitor" for p in last["processes"])

    def complete(array: DiagnosticArray) -> bool:
        return set(statuses_of(array, "dev_a/monitor")) == set(PARTS)

    arrays = diagnostics.wait_for(lambda arrays: any(map(complete, arrays)))
    parts = statuses_of(next(filter(complete, arrays)), "dev_a/monitor")
    assert parts["cpu"].message.startswith(("ok:", "high:"))

    assert ros_probe.set_parameters("/dev_a/monitor", {"enabled": False})[0].successful
    paused_at = len(state_topic.messages)
    late = ros_probe.wait_for_message("/dev_a/device_state", String, qos=LATCHED, timeout=10)
    assert json.loads(late.data)["schema_version"] == 1  # a late joiner gets the last state
    assert len(state_topic.messages) <= paused_at + 1


def test_simulated_conditions_from_scenario_and_parameters(launch_node, ros_probe, tmp_path):
    scenario = tmp_path / "drain.yaml"
    scenario.write_text("name: drain\nsteps: [{at_s: 0, battery_percent: 50, "
                        "battery_plugged: false}, {at_s: 1.5, battery_percent: 15}]\n")
    state_topic = ros_probe.subscribe("/dev_b/device_state", String, LATCHED)
    diagnostics = ros_probe.subscribe("/diagnostics", DiagnosticArray)
    launch_node("resource_monitor", "monitor", namespace="/dev_b",
                params={"rate_hz": 5.0, "scenario": str(scenario), "threshold_samples": 1})

    drained = state_topic.wait_for(
        lambda ms: any(json.loads(m.data)["battery"]["percent"] == 15.0 for m in ms), timeout=20)
    first = json.loads(drained[0].data)
    assert first["battery"] == {"percent": 50.0, "plugged": False, "secs_left": None}
    assert first["simulated"]["scenario"] == "drain"
    assert "battery.percent" in first["simulated"]["fields"]

    assert ros_probe.set_parameters("/dev_b/monitor", {"sim_battery_percent": 4.0})[0].successful
    state_topic.wait_for(lambda ms: json.loads(ms[-1].data)["battery"]["percent"] == 4.0)

    def battery_error(arrays):
        return any(
            (status := statuses_of(a, "dev_b/monitor").get("battery")) is not None
            and status.level == DiagnosticStatus.ERROR
            and status.message.startswith("[simulated] low: 4.0%")
            for a in arrays
        )

    diagnostics.wait_for(battery_error)


def test_bad_parameter_values_are_refused_and_the_node_keeps_publishing(launch_node, ros_probe):
    state_topic = ros_probe.subscribe("/dev_c/device_state", String, LATCHED)
    node = launch_node("resource_monitor", "monitor", namespace="/dev_c")
    state_topic.wait_for_count(1, timeout=20)
    refusals = {
        "rate_hz": (-1.0, "below the minimum"),
        "scenario": ("/no/such/scenario.yaml", "No such file"),
        "cpu_warn_percent": (99.0, "warn 99 must be at or below error 95"),
        "sim_battery_percent": (-0.5, "neither -1"),
        "watch_pids": ("12,x", "comma-separated PIDs"),
    }
    for name, (value, reason) in refusals.items():
        result = ros_probe.set_parameters("/dev_c/monitor", {name: value})[0]
        assert not result.successful and reason in result.reason, (name, result.reason)
    assert ros_probe.get_parameters("/dev_c/monitor", ["rate_hz"]) == {"rate_hz": 2.0}
    seen = len(state_topic.messages)
    state_topic.wait_for_count(seen + 2, timeout=10)
    assert node.alive()
