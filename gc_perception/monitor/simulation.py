"""Simulated device conditions, overlaid on the real readings and flagged as simulated.

Test machines and VMs have no battery and no thermal sensor, yet the adaptation loop must be
shown reacting to a draining battery or a hot, throttled SoC. Two sources of overlay:

- a scenario file (config/scenarios/*.yaml): piecewise-constant steps in time, "at t seconds
  set X"; a value holds until a later step changes it, the last values hold after the end:

      name: low_battery
      description: unplugged, the battery drains; the charger is connected at 60 s
      steps:
        - {at_s: 0, battery_percent: 40, battery_plugged: false}
        - {at_s: 20, battery_percent: 15}
        - {at_s: 60, battery_plugged: true}

- direct overrides (the node's `sim_*` parameters, settable at run time); they win over the
  scenario. A number of -1 or a switch of "off" means "no overlay".

Every overlaid value is listed by its dotted path in DeviceState.simulated.fields. Overlaying
a reading also overlays what must agree with it (memory percent -> available bytes; a
simulated temperature replaces the sensor list; a simulated battery level drops the real
time-left estimate), and those paths are listed too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml

from gc_perception.monitor.device_state import DeviceState, SensorReading, SimulatedState
from gc_perception.params import ParamSpec
from gc_perception.ros_env import find_config

PARAM_PREFIX = "sim_"
OFF_NUMBER = -1.0
SWITCH_CHOICES = ("off", "true", "false")


@dataclass(frozen=True)
class Overlay:
    """Simulated values; None leaves the real reading in place."""

    battery_percent: float | None = None
    battery_plugged: bool | None = None
    temperature_celsius: float | None = None
    throttling: bool | None = None
    memory_percent: float | None = None
    memory_psi: float | None = None
    cpu_percent: float | None = None

    def over(self, base: Overlay) -> Overlay:
        """This overlay's values on top of `base`'s."""
        mine = {name: value for name, value in self.values().items() if value is not None}
        return replace(base, **mine)

    def values(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


# Valid range of each numeric overlay (booleans have none).
NUMBER_RANGES: dict[str, tuple[float, float]] = {
    "battery_percent": (0.0, 100.0),
    "temperature_celsius": (0.0, 150.0),
    "memory_percent": (0.0, 100.0),
    "memory_psi": (0.0, 100.0),
    "cpu_percent": (0.0, 100.0),
}
SWITCHES = ("battery_plugged", "throttling")


@dataclass(frozen=True)
class Scenario:
    """Named piecewise-constant overlays: (start second, overlay set from then on)."""

    name: str
    description: str
    steps: tuple[tuple[float, Overlay], ...]

    def overlay_at(self, elapsed_s: float) -> Overlay:
        current = Overlay()
        for at_s, overlay in self.steps:
            if at_s > elapsed_s:
                break
            current = overlay.over(current)
        return current


@dataclass
class Simulation:
    """What the node overlays now: a running scenario (optional) under direct overrides."""

    scenario: Scenario | None = None
    scenario_started_at: float = 0.0
    overrides: Overlay = field(default_factory=Overlay)

    def apply(self, state: DeviceState, now: float) -> DeviceState:
        """`state` with the current overlay applied and listed in `state.simulated`."""
        elapsed = None if self.scenario is None else now - self.scenario_started_at
        base = Overlay() if self.scenario is None else self.scenario.overlay_at(elapsed)
        overlay = self.overrides.over(base)
        overlaid, paths = apply_overlay(state, overlay)
        if not paths:
            return state
        name = None if self.scenario is None else self.scenario.name
        return replace(overlaid, simulated=SimulatedState(paths, name, elapsed))


def apply_overlay(state: DeviceState, overlay: Overlay) -> tuple[DeviceState, list[str]]:
    """`state` with `overlay`'s values in place, and the dotted paths that were replaced."""
    paths: list[str] = []
    for name, value in overlay.values().items():
        if value is not None:
            state, replaced = _OVERLAYS[name](state, value)
            paths.extend(replaced)
    return state, paths


def _battery_percent(state: DeviceState, value: float) -> tuple[DeviceState, list[str]]:
    battery = replace(state.battery, percent=float(value), secs_left=None)
    return replace(state, battery=battery), ["battery.percent", "battery.secs_left"]


def _battery_plugged(state: DeviceState, value: bool) -> tuple[DeviceState, list[str]]:
    return replace(state, battery=replace(state.battery, plugged=value)), ["battery.plugged"]


def _temperature(state: DeviceState, value: float) -> tuple[DeviceState, list[str]]:
    sensors = [SensorReading("simulated", float(value))]
    thermal = replace(state.thermal, max_celsius=float(value), sensors=sensors)
    return replace(state, thermal=thermal), ["thermal.max_celsius", "thermal.sensors"]


def _throttling(state: DeviceState, value: bool) -> tuple[DeviceState, list[str]]:
    return replace(state, thermal=replace(state.thermal, throttling=value)), ["thermal.throttling"]


def _memory_percent(state: DeviceState, value: float) -> tuple[DeviceState, list[str]]:
    available = round(state.memory.total_bytes * (100.0 - value) / 100.0)
    memory = replace(state.memory, percent=float(value), available_bytes=available)
    return replace(state, memory=memory), ["memory.percent", "memory.available_bytes"]


def _memory_psi(state: DeviceState, value: float) -> tuple[DeviceState, list[str]]:
    memory = replace(state.memory, psi_some_avg10=float(value))
    return replace(state, memory=memory), ["memory.psi_some_avg10"]


def _cpu_percent(state: DeviceState, value: float) -> tuple[DeviceState, list[str]]:
    per_core = [float(value)] * len(state.cpu.per_core_percent)
    cpu = replace(state.cpu, total_percent=float(value), per_core_percent=per_core)
    return replace(state, cpu=cpu), ["cpu.total_percent", "cpu.per_core_percent"]


_OVERLAYS = {
    "battery_percent": _battery_percent,
    "battery_plugged": _battery_plugged,
    "temperature_celsius": _temperature,
    "throttling": _throttling,
    "memory_percent": _memory_percent,
    "memory_psi": _memory_psi,
    "cpu_percent": _cpu_percent,
}


def resolve_scenario(name_or_path: str) -> Path:
    """A scenario file from a path, or from a bare name in config/scenarios ("low_battery")."""
    if "/" in name_or_path or name_or_path.endswith((".yaml", ".yml")):
        return Path(name_or_path)
    return find_config(f"scenarios/{name_or_path}.yaml")


def load_scenario(path: str | Path) -> Scenario:
    """A scenario file, checked: known keys, values in range, steps in time order."""
    path = Path(path)
    data = yaml.safe_load(path.read_text()) or {}
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise ValueError(f"{path}: a scenario needs a non-empty list of steps")
    steps = tuple(_step(step, f"{path} step {number}") for number, step in enumerate(raw_steps))
    if any(later[0] < earlier[0] for earlier, later in pairwise(steps)):
        raise ValueError(f"{path}: steps must be in time order (at_s)")
    return Scenario(str(data.get("name", path.stem)), str(data.get("description", "")), steps)


def _step(step: Any, where: str) -> tuple[float, Overlay]:
    if not isinstance(step, Mapping) or not isinstance(step.get("at_s"), int | float):
        raise ValueError(f"{where}: expected a mapping with a number at_s")
    values = {key: value for key, value in step.items() if key != "at_s"}
    unknown = set(values) - set(_OVERLAYS)
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(_OVERLAYS)}")
    for key, value in values.items():
        reason = _value_problem(key, value)
        if reason:
            raise ValueError(f"{where}: {key}: {reason}")
    return float(step["at_s"]), Overlay(**values)


def _value_problem(key: str, value: Any) -> str | None:
    if key in SWITCHES:
        return None if isinstance(value, bool) else f"expected true or false, got {value!r}"
    low, high = NUMBER_RANGES[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"expected a number, got {value!r}"
    return None if low <= value <= high else f"{value} is outside [{low}, {high}]"


def parameter_specs() -> list[ParamSpec]:
    """The node's `sim_*` parameters: one per overlay, off by default."""
    numbers = [
        ParamSpec(
            PARAM_PREFIX + name,
            OFF_NUMBER,
            f"simulated {name.replace('_', ' ')} in [{low:g}, {high:g}]; -1 = real reading",
            min_value=OFF_NUMBER,
            max_value=high,
            validator=lambda value, low=low, high=high: _number_problem(value, low, high),
        )
        for name, (low, high) in NUMBER_RANGES.items()
    ]
    switches = [
        ParamSpec(
            PARAM_PREFIX + name,
            "off",
            f"simulated {name.replace('_', ' ')}: true/false; off = real reading",
            choices=SWITCH_CHOICES,
        )
        for name in SWITCHES
    ]
    return numbers + switches


def _number_problem(value: float, low: float, high: float) -> str | None:
    if value == OFF_NUMBER or low <= value <= high:
        return None
    return f"{value} is neither -1 (off) nor in [{low:g}, {high:g}]"


def overlay_from_parameters(values: Mapping[str, Any]) -> Overlay:
    """The Overlay the `sim_*` parameter values ask for (other keys ignored)."""
    overlay: dict[str, Any] = {}
    for name in NUMBER_RANGES:
        value = values.get(PARAM_PREFIX + name, OFF_NUMBER)
        overlay[name] = None if value == OFF_NUMBER else float(value)
    for name in SWITCHES:
        value = values.get(PARAM_PREFIX + name, "off")
        overlay[name] = None if value == "off" else value == "true"
    return Overlay(**overlay)
