"""The AdaScale policy, table-driven: load, headroom, battery, heat, memory, dwell, noise."""

from __future__ import annotations

import random
from dataclasses import replace
from itertools import pairwise

import pytest

from gc_perception.adascale.energy import CorePower
from gc_perception.adascale.policy import (
    Choice,
    Conditions,
    Goal,
    Modes,
    NodeView,
    Placement,
    Settings,
    conditions_from_state,
    decide,
    goals_from_config,
    resolve_modes,
    smooth,
    stage_parameters,
)
from gc_perception.adascale.profiles import BranchProfile, StageCost
from gc_perception.adascale.topology import CoreTopology
from gc_perception.monitor.device_state import CpuState, DeviceState, MemoryState

TOPOLOGY = CoreTopology({"efficiency": [0], "performance": [1]}, "config")
POWER = {"efficiency": CorePower(0.35, 0.02), "performance": CorePower(1.8, 0.08)}
EE = Placement("efficiency", "efficiency")
EP = Placement("efficiency", "performance")
PP = Placement("performance", "performance")
ANY = Placement("any", "any")
MB = 1_000_000


def branch(name: str, a_ms: float, b_ms: float, accuracy: float, memory_mb: int) -> BranchProfile:
    """Efficiency cores take twice as long as performance cores (a big.LITTLE-like device), an
    unpinned stage 20% longer (it sometimes lands on a slow core); the policy plans with the
    median latency, given here as `a_ms`/`b_ms` on the performance class."""
    def costs(ms: float) -> dict[str, StageCost]:
        return {"efficiency": StageCost(2 * ms, 2.4 * ms, 2 * ms),
                "performance": StageCost(ms, 1.2 * ms, ms),
                "any": StageCost(1.2 * ms, 1.5 * ms, 1.2 * ms)}
    return BranchProfile(name, {"a": costs(a_ms), "b": costs(b_ms)}, memory_mb * MB,
                         memory_mb * MB, memory_mb * MB, accuracy, "test", 1.0)


PROFILES = {
    "heavy": branch("heavy", 4, 16, 0.95, 40),  # EP 24 ms, PP 20 ms
    "mid": branch("mid", 2, 8, 0.92, 20),  # EP 12 ms, PP 10 ms
    "light": branch("light", 1, 4, 0.85, 10),  # EE 10 ms, EP 6 ms, PP 5 ms
}
GOAL = Goal(latency_budget_ms=30.0, min_accuracy=0.8)
SETTINGS = Settings(dwell_s=10.0, switch_margin=0.15)
IDLE = Conditions(cpu_busy=(0.05, 0.05), memory_percent=40.0, memory_total_bytes=1000 * MB)
NOW = 1000.0


def view(current: Choice | None = None, changed_at: float | None = 0.0, **changes) -> NodeView:
    base = NodeView("/det", GOAL, PROFILES, current=current, changed_at=changed_at)
    return replace(base, **changes)


def decide_one(node: NodeView, conditions: Conditions = IDLE, settings: Settings = SETTINGS):
    modes = resolve_modes(conditions, settings, Modes())
    [decision] = decide([node], conditions, TOPOLOGY, POWER, settings, modes, NOW)
    return decision


CASES = [
    # (case, current, conditions, goal changes, expected choice, words in the reason)
    ("first, idle: most accurate, then fastest",
     None, IDLE, {}, Choice("heavy", PP), ["first assignment"]),
    ("overload -> lighter branch",
     Choice("heavy", PP), replace(IDLE, cpu_busy=(0.9, 0.9)), {}, Choice("mid", PP),
     ["fails", "ms > budget 30"]),
    ("headroom -> heavier branch",
     Choice("mid", PP), IDLE, {}, Choice("heavy", PP), ["better on accuracy"]),
    ("low battery, unplugged -> least energy",
     Choice("heavy", PP), replace(IDLE, battery_percent=12.0, battery_plugged=False), {},
     Choice("light", EE), ["energy saving", "better on energy"]),
    ("low battery, tight budget -> the GC split: gate on the efficiency core",
     Choice("heavy", PP), replace(IDLE, battery_percent=12.0, battery_plugged=False),
     {"latency_budget_ms": 10.0}, Choice("light", EP), ["energy saving"]),
    ("low battery but plugged -> normal",
     Choice("heavy", PP), replace(IDLE, battery_percent=12.0, battery_plugged=True), {},
     Choice("heavy", PP), ["still best"]),
    ("hot -> least energy",
     Choice("heavy", PP), replace(IDLE, temperature_celsius=91.0), {}, Choice("light", EE),
     ["energy saving"]),
    ("throttling -> least energy",
     Choice("heavy", PP), replace(IDLE, throttling=True), {}, Choice("light", EE),
     ["energy saving"]),
    ("memory pressure -> smallest footprint",
     Choice("heavy", PP), replace(IDLE, memory_percent=92.0), {}, Choice("light", PP),
     ["memory saving", "better on memory"]),
    ("near the memory mark: no growth past it",
     Choice("light", PP), replace(IDLE, memory_percent=84.0), {}, Choice("mid", PP),
     ["better on accuracy"]),
    ("memory budget of the node",
     Choice("mid", PP), IDLE, {"memory_budget_mb": 25.0}, Choice("mid", PP), ["still best"]),
    ("accuracy floor unreachable in time: keep the deadline",
     Choice("heavy", PP), IDLE, {"latency_budget_ms": 8.0, "min_accuracy": 0.9},
     Choice("light", PP), ["no branch meets both"]),
    ("no branch fits the budget: fastest",
     Choice("heavy", PP), IDLE, {"latency_budget_ms": 3.0}, Choice("light", PP),
     ["no branch meets the 3 ms budget"]),
    ("load on the efficiency core only: the gate moves off it",
     Choice("heavy", EP), replace(IDLE, cpu_busy=(1.0, 0.0)), {}, Choice("heavy", PP),
     ["fails: 32.0 ms > budget 30"]),
    ("load on one core: an unpinned stage goes to the other",
     Choice("heavy", PP), replace(IDLE, cpu_busy=(0.0, 0.6)), {}, Choice("heavy", ANY),
     ["fails: 32.0 ms > budget 30"]),
]


@pytest.mark.parametrize(("case", "current", "conditions", "goal", "expected", "words"), CASES,
                         ids=[c[0] for c in CASES])
def test_policy_table(case, current, conditions, goal, expected, words):
    node = view(current, goal=replace(GOAL, **goal))
    decision = decide_one(node, conditions)
    assert decision.choice == expected, decision.reason
    assert decision.changed == (expected != current)
    for word in words:
        assert word in decision.reason, decision.reason
    assert decision.predicted.latency_ms > 0


def test_dwell_time_is_respected_then_the_switch_happens():
    overload = replace(IDLE, cpu_busy=(0.9, 0.9))
    held = decide_one(view(Choice("heavy", PP), changed_at=NOW - 3.0), overload)
    assert not held.changed and held.choice == Choice("heavy", PP)
    assert "dwell" in held.reason
    moved = decide_one(view(Choice("heavy", PP), changed_at=NOW - 10.0), overload)
    assert moved.changed and moved.choice.branch == "mid"


def test_switch_margin_keeps_a_choice_that_still_fits():
    # heavy PP at 20 x 1.4 = 28 ms still fits 30 ms: kept; as a new choice it would not be
    # (28 > 30 x 0.85), which is the dead band that stops flapping.
    loaded = replace(IDLE, cpu_busy=(0.4, 0.4))
    kept = decide_one(view(Choice("heavy", PP)), loaded)
    assert kept.choice == Choice("heavy", PP) and not kept.changed
    fresh = decide_one(view(None), loaded)
    assert fresh.choice.branch != "heavy"


def test_no_flapping_on_noisy_load():
    """Per-core load at 2 Hz, noisy (sd 10 points) around 40%, where heavy's 20 ms x (1 + u)
    sits between the switch-back mark (u <= 0.275) and the budget (u > 0.5); smoothed as the
    manager does (load_smoothing 0.3), one decision a second for 5 minutes."""
    rng = random.Random(1)
    node = view(Choice("heavy", PP), changed_at=None)
    modes, smoothed, changes = Modes(), None, []
    for step in range(600):
        busy = min(1.0, max(0.0, rng.gauss(0.4, 0.1)))
        smoothed = smooth(smoothed, replace(IDLE, cpu_busy=(busy, busy)), 0.3)
        if step % 2:
            continue
        now = NOW + step / 2
        modes = resolve_modes(smoothed, SETTINGS, modes)
        [decision] = decide([node], smoothed, TOPOLOGY, POWER, SETTINGS, modes, now)
        if decision.changed:
            changes.append(now)
            node = replace(node, current=decision.choice, changed_at=now)
    assert len(changes) <= 2, changes
    assert all(b - a >= SETTINGS.dwell_s for a, b in pairwise(changes))


def test_priority_decides_first_and_its_load_counts_for_the_others():
    high = replace(view(None), name="/high", goal=replace(GOAL, priority=2), input_rate_hz=30.0)
    low = replace(view(None), name="/low", goal=replace(GOAL, priority=1), input_rate_hz=30.0)
    one_core = CoreTopology({"efficiency": [], "performance": [0]}, "config")
    decisions = decide([low, high], IDLE, one_core, POWER, SETTINGS, Modes(), NOW)
    assert [d.node for d in decisions] == ["/high", "/low"]
    assert decisions[0].choice == Choice("heavy", PP)
    assert decisions[1].choice.branch == "mid"  # /high keeps the core 60% busy


def test_own_load_is_not_contention():
    node = view(Choice("heavy", PP), own_load_cores=0.72)
    busy_with_itself = replace(IDLE, cpu_busy=(0.0, 0.72))
    decision = decide_one(node, busy_with_itself)
    assert decision.choice == Choice("heavy", PP)
    assert decision.predicted.latency_ms == pytest.approx(20.0)


ALL_X1_5 = {"heavy": 1.5, "mid": 1.5, "light": 1.5}


def test_online_correction_scales_the_prediction():
    node = view(Choice("heavy", PP), latency_corrections=ALL_X1_5)
    decision = decide_one(node)
    assert "31.5 ms > budget" in decision.reason  # 20 ms x 1.05 (5% load) x 1.5
    assert decision.choice == Choice("mid", PP)
    assert decision.predicted.latency_ms == pytest.approx(10 * 1.05 * 1.5)


def test_a_branch_correction_applies_to_that_branch_only():
    node = view(Choice("mid", PP), latency_corrections={"mid": 3.5})
    decision = decide_one(node)
    assert decision.choice.branch == "heavy"  # mid's 10 ms x 3.5 says nothing of heavy
    assert "mid @ A:perf/B:perf fails: 36.8 ms" in decision.reason
    assert decision.predicted.latency_ms == pytest.approx(20 * 1.05)


def test_overhead_outside_the_stages_is_added_unscaled():
    node = view(Choice("heavy", PP), latency_corrections=ALL_X1_5, overhead_ms=4.0)
    decision = decide_one(node)
    assert "35.5 ms > budget" in decision.reason  # 20 ms x 1.05 x 1.5 + 4
    stages = decision.predicted.stages_ms
    assert decision.choice.branch == "mid"
    assert decision.predicted.latency_ms == pytest.approx(sum(stages) * 1.5 + 4.0)


def test_look_alike_cores_are_pinned_for_energy_only_when_saving_it():
    """A declared efficiency class as fast as the performance class (a homogeneous VM): normal
    mode leaves the node unpinned (pinning buys no speed, and the energy gap is only declared);
    low battery pins it on the efficiency core."""
    same = StageCost(4.0, 5.0, 5.0)
    flat = BranchProfile("flat", {stage: {"efficiency": same, "performance": same, "any": same}
                                  for stage in ("a", "b")}, MB, MB, MB, 0.9, "test", 1.0)
    node = view(None, profiles={"flat": flat})
    assert decide_one(node).choice == Choice("flat", ANY)
    saving = decide_one(node, replace(IDLE, battery_percent=5.0, battery_plugged=False))
    assert saving.choice == Choice("flat", EE)


def test_unpinned_placement_is_charged_at_the_costliest_class():
    decision = decide_one(view(Choice("heavy", PP)), replace(IDLE, cpu_busy=(0.0, 0.6)))
    assert decision.choice == Choice("heavy", ANY)
    assert decision.predicted.energy_mj == pytest.approx(24 * 1.8)
    assert stage_parameters(decision.choice, TOPOLOGY) == {
        "branch": "heavy", "stage_a_cpus": "0-1", "stage_a_threads": 1,
        "stage_b_cpus": "0-1", "stage_b_threads": 1}


def test_energy_estimate_uses_the_pass_rate():
    node = view(None, pass_rate=0.25, goal=replace(GOAL, latency_budget_ms=100.0))
    decision = decide_one(node, replace(IDLE, battery_percent=5.0))
    # light EE: A 2 ms + 0.25 x B 8 ms on the efficiency core at 0.35 W
    assert decision.predicted.energy_mj == pytest.approx((2 + 0.25 * 8) * 0.35)


def test_homogeneous_topology_offers_performance_placements_only():
    topology = CoreTopology({"efficiency": [], "performance": [0, 1]}, "config")
    modes = Modes()
    [decision] = decide([view(None)], IDLE, topology, POWER, SETTINGS, modes, NOW)
    assert decision.choice == Choice("heavy", PP)
    assert stage_parameters(decision.choice, topology) == {
        "branch": "heavy", "stage_a_cpus": "0-1", "stage_a_threads": 2,
        "stage_b_cpus": "0-1", "stage_b_threads": 2}


def test_stage_parameters_of_a_split_placement():
    assert stage_parameters(Choice("mid", EP), TOPOLOGY) == {
        "branch": "mid", "stage_a_cpus": "0", "stage_a_threads": 1,
        "stage_b_cpus": "1", "stage_b_threads": 1}


def test_unmanaged_current_placement_is_taken_over():
    decision = decide_one(view(Choice("heavy", None), changed_at=None))
    assert decision.changed and decision.choice == Choice("heavy", PP)
    assert "taking over" in decision.reason


def test_nodes_without_profiles_are_skipped():
    assert decide([view(profiles={})], IDLE, TOPOLOGY, POWER, SETTINGS, Modes(), NOW) == []


@pytest.mark.parametrize(("battery", "was_saving", "saving"), [
    (22.0, False, False), (20.0, False, True), (22.0, True, True), (26.0, True, False),
])
def test_battery_mode_has_a_clear_margin(battery, was_saving, saving):
    conditions = replace(IDLE, battery_percent=battery, battery_plugged=False)
    modes = resolve_modes(conditions, SETTINGS, Modes(energy_saving=was_saving))
    assert modes.energy_saving == saving


@pytest.mark.parametrize(("memory", "was_saving", "saving"), [
    (84.0, False, False), (85.0, False, True), (81.0, True, True), (79.0, True, False),
])
def test_memory_mode_has_a_clear_margin(memory, was_saving, saving):
    modes = resolve_modes(replace(IDLE, memory_percent=memory), SETTINGS,
                          Modes(memory_saving=was_saving))
    assert modes.memory_saving == saving


def test_goals_from_config_resolves_relative_names_in_the_namespace():
    goals = goals_from_config({"nodes": {
        "person_detector": {"latency_budget_ms": 40, "min_accuracy": 0.8, "priority": 2,
                            "model": "person_lite0"},
        "/other/audio": {"latency_budget_ms": 20},
    }}, namespace="/robot1")
    assert goals == {"/robot1/person_detector": Goal(40, 0.8, 2), "/other/audio": Goal(20)}
    assert list(goals_from_config({"nodes": {"det": {"latency_budget_ms": 5}}})) == ["/det"]


@pytest.mark.parametrize(("data", "message"), [
    ({}, "nodes"),
    ({"nodes": {"a": {"latency_budget_ms": -1}}}, "'a'.*> 0"),
    ({"nodes": {"a": {"latency_budget_ms": 10, "speed": 1}}}, "unknown keys"),
    ({"nodes": {"a": {"min_accuracy": 0.5}}}, "'a'"),
])
def test_bad_goals_are_refused(data, message):
    with pytest.raises(ValueError, match=message):
        goals_from_config(data)


def test_conditions_from_state_and_smoothing():
    state = DeviceState(
        stamp=1.0,
        cpu=CpuState(50.0, [20.0, 80.0], None, ["efficiency", "performance"], "config",
                     None, None, None),
        memory=MemoryState(1000, 400, 60.0, None, 0, 0, 0.0),
    )
    conditions = conditions_from_state(state)
    assert conditions.cpu_busy == (0.2, 0.8)
    assert conditions.memory_percent == 60.0 and conditions.battery_percent is None
    smoothed = smooth(conditions, replace(conditions, cpu_busy=(1.0, 0.0)), 0.5)
    assert smoothed.cpu_busy == pytest.approx((0.6, 0.4))
    assert "cpu1 80%" in conditions.summary()
