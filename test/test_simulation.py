"""Simulation: scenario files, piecewise overlays in time, parameter overrides, flagging."""

from __future__ import annotations

from pathlib import Path

import pytest
from device_states import sample_state

from gc_perception.monitor.device_state import SimulatedState
from gc_perception.monitor.simulation import (
    Overlay,
    Simulation,
    load_scenario,
    overlay_from_parameters,
    parameter_specs,
    resolve_scenario,
)
from gc_perception.params import index

REAL = sample_state(simulated=SimulatedState())


def scenario_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    return path


def test_scenario_steps_hold_until_changed(tmp_path):
    scenario = load_scenario(scenario_file(tmp_path, """
name: drain
steps:
  - {at_s: 0, battery_percent: 60, battery_plugged: false}
  - {at_s: 10, battery_percent: 15}
  - {at_s: 20, battery_plugged: true}
"""))
    assert scenario.name == "drain"
    assert scenario.overlay_at(5) == Overlay(battery_percent=60.0, battery_plugged=False)
    assert scenario.overlay_at(10) == Overlay(battery_percent=15.0, battery_plugged=False)
    assert scenario.overlay_at(999) == Overlay(battery_percent=15.0, battery_plugged=True)


@pytest.mark.parametrize("steps, problem", [
    ("[]", "non-empty list of steps"),
    ("[{at_s: 0, battery_level: 5}]", "unknown keys"),
    ("[{at_s: 0, battery_percent: 150}]", "outside"),
    ("[{at_s: 0, throttling: 1}]", "expected true or false"),
    ("[{battery_percent: 5}]", "number at_s"),
    ("[{at_s: 5, cpu_percent: 5}, {at_s: 1, cpu_percent: 9}]", "time order"),
])
def test_bad_scenarios_are_refused_with_a_reason(tmp_path, steps, problem):
    with pytest.raises(ValueError, match=problem):
        load_scenario(scenario_file(tmp_path, f"steps: {steps}\n"))


def test_overlay_replaces_readings_and_lists_what_it_replaced():
    simulation = Simulation(overrides=Overlay(memory_percent=90.0, temperature_celsius=88.0,
                                              cpu_percent=99.0, throttling=True))
    state = simulation.apply(REAL, now=0.0)
    assert state.memory.percent == 90.0
    assert state.memory.available_bytes == int(REAL.memory.total_bytes * 0.1)
    assert state.thermal.max_celsius == 88.0 and state.thermal.throttling is True
    assert [s.name for s in state.thermal.sensors] == ["simulated"]
    assert state.cpu.per_core_percent == [99.0, 99.0]
    assert state.cpu.load_avg_1m == REAL.cpu.load_avg_1m  # not simulated: stays real
    assert set(state.simulated.fields) == {
        "memory.percent", "memory.available_bytes", "thermal.max_celsius", "thermal.sensors",
        "thermal.throttling", "cpu.total_percent", "cpu.per_core_percent"}
    assert state.simulated.scenario is None


def test_parameters_win_over_the_scenario_which_runs_from_its_start(tmp_path):
    scenario = load_scenario(scenario_file(tmp_path, """
name: hot
steps: [{at_s: 0, temperature_celsius: 70}, {at_s: 30, temperature_celsius: 95}]
"""))
    simulation = Simulation(scenario, scenario_started_at=100.0)
    assert simulation.apply(REAL, now=110.0).thermal.max_celsius == 70.0
    late = simulation.apply(REAL, now=131.0)
    assert late.thermal.max_celsius == 95.0
    assert (late.simulated.scenario, late.simulated.elapsed_s) == ("hot", 31.0)
    simulation.overrides = Overlay(temperature_celsius=40.0)
    assert simulation.apply(REAL, now=131.0).thermal.max_celsius == 40.0


def test_no_overlay_leaves_the_real_state_untouched():
    assert Simulation().apply(REAL, now=5.0) is REAL


def test_parameters_map_to_overlays_with_off_values():
    specs = index(parameter_specs())
    defaults = {name: spec.default for name, spec in specs.items()}
    assert overlay_from_parameters(defaults) == Overlay()
    chosen = {**defaults, "sim_battery_percent": 7, "sim_battery_plugged": "false",
              "sim_throttling": "true"}
    assert overlay_from_parameters(chosen) == Overlay(battery_percent=7.0, battery_plugged=False,
                                                      throttling=True)
    assert specs["sim_battery_percent"].check(-1.0) is None
    assert "neither -1" in specs["sim_battery_percent"].check(-0.5)
    assert specs["sim_temperature_celsius"].check(151.0)
    assert specs["sim_throttling"].check("maybe")


def test_packaged_scenarios_load_by_name():
    for name in ("low_battery", "overload_hot"):
        scenario = load_scenario(resolve_scenario(name))
        assert scenario.name == name and scenario.description
    assert resolve_scenario("/tmp/x.yaml") == Path("/tmp/x.yaml")
