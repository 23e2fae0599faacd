"""adascale_manager with a real vision_detector: overload -> lighter branch, back after the dwell
time, and the choice is applied again when the detector restarts.

Deterministic by construction: the device state is published by the test probe (transient-local,
flagged simulated), and the profile cache is written by the test with fixed figures for two of
the model's branches (keyed like a real cache, so the manager loads it instead of profiling);
online refinement is off. Uses person_lite0 when it is built, else the tiny image model.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import onnxruntime
import pytest
import yaml
from diagnostic_msgs.msg import DiagnosticArray
from std_msgs.msg import String
from tiny_image_model import build_tiny_image_model

from gc_perception.adascale.energy import default_device_config
from gc_perception.adascale.profiles import (
    BranchProfile,
    ModelProfile,
    StageCost,
    cpu_model_name,
    profile_key,
    save_profile,
    with_evaluation,
)
from gc_perception.adascale.topology import load_topology
from gc_perception.events import parse_event
from gc_perception.gating.manifest import load_manifest
from gc_perception.monitor.device_state import (
    CpuState,
    DeviceState,
    MemoryState,
    SimulatedState,
)
from gc_perception.nodes.resource_monitor import STATE_QOS
from gc_perception.resources import SOURCE_ROOT

pytestmark = pytest.mark.integration

NAMESPACE = "/it"
DETECTOR = f"{NAMESPACE}/vision_detector"
DWELL_S = 3.0
BUDGET_MS = 20.0
COSTS_MS = {"heavy": (3.0, 9.0), "light": (1.0, 3.0)}  # stage A, stage B on every core class


@pytest.fixture
def manifest_path(tmp_path: Path) -> Path:
    shipped = SOURCE_ROOT / "models" / "person_lite0" / "manifest.json"
    if shipped.exists():
        return shipped
    tiny = build_tiny_image_model(tmp_path / "tiny_image")
    (tiny.parent / "evaluation.json").write_text(json.dumps(
        {"branches": {"full": {"accuracy": 0.9}, "small": {"accuracy": 0.8}}}))
    return tiny


def heavy_and_light(manifest_path: Path) -> dict[str, str]:
    """The most accurate branch as 'heavy' and the least accurate other one as 'light'."""
    manifest = load_manifest(manifest_path)
    names = sorted(manifest.branches)
    probe = ModelProfile(manifest.model_id, "", "", 0.0, 0, {
        n: BranchProfile(n, {"a": {}, "b": {}}, 0, 0, 0) for n in names})
    accuracy = {n: b.accuracy or 0.0 for n, b in with_evaluation(probe, manifest).branches.items()}
    heavy = max(names, key=lambda n: accuracy[n])
    light = min((n for n in names if n != heavy), key=lambda n: accuracy[n])
    assert accuracy[light] <= accuracy[heavy]
    return {"heavy": heavy, "light": light}


def write_profile_cache(cache: Path, manifest_path: Path, roles: dict[str, str]) -> None:
    manifest = load_manifest(manifest_path)
    topology = load_topology(default_device_config())
    key = profile_key(manifest, cpu_model_name(), topology, onnxruntime.__version__)
    branches = {}
    for role, branch in roles.items():
        a_ms, b_ms = COSTS_MS[role]
        costs = {stage: {cls: StageCost(ms, ms, ms) for cls in topology.classes}
                 for stage, ms in (("a", a_ms), ("b", b_ms))}
        branches[branch] = BranchProfile(branch, costs, 10_000_000, 0, 10_000_000)
    save_profile(ModelProfile(manifest.model_id, key, cpu_model_name(), time.time(), 1,
                              branches), cache)


def device_state(busy_percent: float) -> String:
    cores = os.cpu_count() or 1
    state = DeviceState(
        stamp=time.time(),
        cpu=CpuState(busy_percent, [busy_percent] * cores, None, [None] * cores, "config",
                     None, None, None),
        memory=MemoryState(8_000_000_000, 6_000_000_000, 25.0, None, 0, 0, 0.0),
        simulated=SimulatedState(["cpu.total_percent", "cpu.per_core_percent"], "test", None),
    )
    return String(data=state.to_json())


def detector_values(message: DiagnosticArray) -> dict[str, str]:
    name = f"{DETECTOR.lstrip('/')}: detector"
    return {kv.key: kv.value for s in message.status if s.name == name for kv in s.values}


def wait_for_detector(diagnostics, predicate, timeout: float = 20.0) -> dict[str, str]:
    """The first detector status from now on that satisfies `predicate`."""
    start = len(diagnostics.messages)

    def matching(messages):
        return next((v for v in map(detector_values, messages[start:]) if v and predicate(v)),
                    None)
    return matching(diagnostics.wait_for(matching, timeout))


def decisions_of(collector) -> list[dict]:
    return [parse_event(m.data, "decision") for m in collector.messages]


def test_overload_switches_branch_and_back_after_dwell(launch_node, ros_probe, tmp_path,
                                                       manifest_path):
    roles = heavy_and_light(manifest_path)
    write_profile_cache(tmp_path / "profiles", manifest_path, roles)
    goals = tmp_path / "goals.yaml"
    goals.write_text(yaml.safe_dump({"nodes": {"vision_detector": {
        "latency_budget_ms": BUDGET_MS, "priority": 1}}}))
    state_pub = ros_probe.publisher(f"{NAMESPACE}/device_state", String, STATE_QOS)
    state_pub.publish(device_state(5.0))
    decisions = ros_probe.subscribe(f"{NAMESPACE}/adascale/decisions", String)
    diagnostics = ros_probe.subscribe("/diagnostics", DiagnosticArray)
    launch_node("adascale_manager", "adascale_manager", namespace=NAMESPACE, params={
        "goals_file": str(goals), "profile_cache_dir": str(tmp_path / "profiles"),
        "profile_on_start": False, "dwell_s": DWELL_S, "period_s": 0.25, "refine_weight": 0.0,
        "load_smoothing": 1.0})
    detector = launch_node("vision_detector", "vision_detector", namespace=NAMESPACE,
                           params={"model": str(manifest_path)})  # starts after the manager

    # Idle: the most accurate branch, placed (CPU lists set) by the manager.
    idle = wait_for_detector(diagnostics, lambda v: v["branch"] == roles["heavy"]
                             and v["stage_a_cpus"] != "all")
    first = decisions.wait_for(lambda ms: decisions_of(decisions))
    assert parse_event(first[0].data)["to"]["branch"] == roles["heavy"]

    # Overload (95% on every core): heavy 12 ms x 1.95 > 20 ms -> light.
    state_pub.publish(device_state(95.0))
    down = wait_for_detector(diagnostics, lambda v: v["branch"] == roles["light"])
    assert ros_probe.get_parameters(DETECTOR, ["branch"]) == {"branch": roles["light"]}
    switch = next(e for e in decisions_of(decisions) if e["to"]["branch"] == roles["light"])
    assert "budget" in switch["reason"] and switch["from"]["branch"] == roles["heavy"]
    assert switch["predicted"]["latency_ms"] <= BUDGET_MS
    assert switch["simulated"] == ["cpu.total_percent", "cpu.per_core_percent"]

    # Load gone: back to heavy, but not before the dwell time since the last switch.
    state_pub.publish(device_state(5.0))
    wait_for_detector(diagnostics, lambda v: v["branch"] == roles["heavy"])
    back = next(e for e in decisions_of(decisions)
                if e["to"]["branch"] == roles["heavy"] and e["time"] > switch["time"])
    assert back["time"] - switch["time"] >= DWELL_S - 0.05
    assert "better on accuracy" in back["reason"]
    assert len(decisions_of(decisions)) == 3  # no flapping

    # Restart: the new process starts on its defaults; the manager applies its choice again.
    old_pid = idle["pid"]
    detector.stop()
    launch_node("vision_detector", "vision_detector", namespace=NAMESPACE,
                params={"model": str(manifest_path)})
    again = wait_for_detector(diagnostics, lambda v: v["pid"] != old_pid
                              and v["branch"] == roles["heavy"]
                              and v["stage_a_cpus"] == idle["stage_a_cpus"])
    assert again["stage_b_cpus"] == idle["stage_b_cpus"] and down["pid"] == old_pid
    assert len(decisions_of(decisions)) == 3  # re-applied, not re-decided
