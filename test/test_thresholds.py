"""Thresholds and hysteresis: levels move only after N agreeing samples, clear past a margin."""

from __future__ import annotations

from dataclasses import replace

import pytest
from device_states import sample_state

from gc_perception.diagnostics import Level
from gc_perception.monitor.device_state import BatteryState, SimulatedState, ThermalState
from gc_perception.monitor.thresholds import (
    DeviceHealth,
    HysteresisLevel,
    Threshold,
    ThresholdSettings,
    parameter_specs,
    settings_from_parameters,
)

CPU = Threshold(warn=85.0, error=95.0, clear_margin=10.0)
BATTERY = Threshold(warn=20.0, error=10.0, clear_margin=5.0, higher_is_worse=False)


def feed(level: HysteresisLevel, values: list[float | None]) -> list[Level]:
    return [level.update(value) for value in values]


def test_grade_against_marks_and_clear_margin():
    assert [CPU.grade(v) for v in (50, 85, 94.9, 95)] == [Level.OK, Level.WARN, Level.WARN,
                                                         Level.ERROR]
    assert CPU.grade(80, margin=10) == Level.WARN  # still above the 75% clear level
    assert [BATTERY.grade(v) for v in (50, 20, 10)] == [Level.OK, Level.WARN, Level.ERROR]
    assert BATTERY.grade(24, margin=5) == Level.WARN  # not yet above the 25% clear level


def test_level_rises_only_after_n_consecutive_samples():
    level = HysteresisLevel(CPU, samples=3)
    assert feed(level, [90, 90, 50, 90, 90]) == [Level.OK] * 5  # a dip restarts the count
    assert level.update(90) == Level.WARN


def test_a_streak_moves_only_as_far_as_all_its_samples_agree():
    level = HysteresisLevel(CPU, samples=3)
    assert feed(level, [99, 90, 99]) == [Level.OK, Level.OK, Level.WARN]
    assert feed(level, [99, 99, 99]) == [Level.WARN, Level.WARN, Level.ERROR]


def test_level_clears_only_below_the_clear_level_for_n_samples():
    level = HysteresisLevel(CPU, samples=2)
    feed(level, [90, 90])
    assert level.level == Level.WARN
    assert feed(level, [80, 80, 80]) == [Level.WARN] * 3  # below warn but above 75: held
    assert feed(level, [70, 70]) == [Level.WARN, Level.OK]


def test_missing_readings_keep_the_level_and_break_the_streak():
    level = HysteresisLevel(CPU, samples=2)
    assert feed(level, [90, None, 90, 90]) == [Level.OK, Level.OK, Level.OK, Level.WARN]


def test_battery_is_lower_is_worse():
    level = HysteresisLevel(BATTERY, samples=1)
    assert feed(level, [50, 15, 5, 12, 16, 26]) == [
        Level.OK, Level.WARN, Level.ERROR, Level.ERROR, Level.WARN, Level.OK]


def test_inconsistent_marks_are_refused():
    with pytest.raises(ValueError, match="must be at or below"):
        Threshold(warn=96.0, error=95.0, clear_margin=1.0)
    with pytest.raises(ValueError, match="must be at or above"):
        Threshold(warn=5.0, error=10.0, clear_margin=1.0, higher_is_worse=False)
    values = {spec.name: spec.default for spec in parameter_specs()}
    assert settings_from_parameters(values) == ThresholdSettings()
    with pytest.raises(ValueError, match="battery thresholds"):
        settings_from_parameters({**values, "battery_warn_percent": 5.0})


def test_statuses_for_a_device_without_sensors_are_ok_and_say_not_available():
    health = DeviceHealth(ThresholdSettings(samples=1), lambda part: f"monitor: {part}")
    state = sample_state(thermal=ThermalState(), battery=BatteryState(),
                         simulated=SimulatedState())
    statuses = {s.name: s for s in health.evaluate(state)}
    assert list(statuses) == ["monitor: cpu", "monitor: memory", "monitor: temperature",
                              "monitor: battery", "monitor: suite processes"]
    assert statuses["monitor: battery"].message == "not available"
    assert statuses["monitor: temperature"].level == Level.OK
    assert statuses["monitor: cpu"].message == "ok: 37.5%"
    assert statuses["monitor: suite processes"].values == {
        "resource_monitor[4242]": "cpu n/a%, rss 61.0 MB"}


def test_simulated_low_battery_and_throttling_are_graded_and_flagged():
    health = DeviceHealth(ThresholdSettings(samples=1))
    state = sample_state(
        battery=BatteryState(8.0, True, None),
        thermal=replace(ThermalState(), throttling=True),
        simulated=SimulatedState(["battery.percent", "thermal.throttling"], "demo", 3.0),
    )
    statuses = {s.name: s for s in health.evaluate(state)}
    battery, temperature = statuses["battery"], statuses["temperature"]
    assert battery.level == Level.ERROR
    assert battery.message == "[simulated] low: 8.0% (error at 10%), charging"
    assert (temperature.level, temperature.message) == (Level.WARN, "[simulated] throttling")
    assert not statuses["cpu"].message.startswith("[simulated]")
