"""Energy ESTIMATE: per-core-class power figures (config) x measured CPU time on that class.

    energy_joules = sum over stages of cpu_seconds(stage) * busy_watts(core class of stage)

The power figures are configuration, not measurements (config/device.yaml); every figure made
with this module is an estimate and must be labelled so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from gc_perception.resources import find_config

FORMULA = "E = sum_stages cpu_seconds(stage) x busy_watts(core_class(stage))"


@dataclass(frozen=True)
class CorePower:
    """Watts drawn by one core of a class when busy and when idle."""

    busy: float
    idle: float

    def __post_init__(self) -> None:
        if self.busy < 0 or self.idle < 0:
            raise ValueError(f"power figures must be >= 0, got busy={self.busy} idle={self.idle}")


def load_power_table(path: str | Path) -> dict[str, CorePower]:
    """Per-class power figures from the `power_watts` section of a device YAML file."""
    data = yaml.safe_load(Path(path).read_text()) or {}
    table = data.get("power_watts")
    if not isinstance(table, Mapping) or not table:
        raise ValueError(f"{path}: no power_watts section")
    return {name: CorePower(float(v["busy"]), float(v["idle"])) for name, v in table.items()}


def default_device_config() -> Path:
    """config/device.yaml of the source tree or of the installed share folder."""
    return find_config("device.yaml")


def stage_energy_joules(
    cpu_seconds: float, core_class: str, power: Mapping[str, CorePower]
) -> float:
    """Energy estimate of `cpu_seconds` of work on one core class."""
    if core_class not in power:
        raise KeyError(f"no power figure for core class {core_class!r}; known: {sorted(power)}")
    return cpu_seconds * power[core_class].busy


def inference_energy_joules(
    cpu_seconds_by_class: Mapping[str, float], power: Mapping[str, CorePower]
) -> float:
    """Energy estimate of one input whose stages ran on the given core classes."""
    return sum(stage_energy_joules(s, c, power) for c, s in cpu_seconds_by_class.items())
