"""DeviceState: what the resource monitor publishes on `device_state` (std_msgs/String, JSON).

This module is the contract between the resource monitor and its consumers (the AdaScale
manager). Every key is always present; a reading the machine does not expose (no battery, no
thermal sensor, no cpufreq, no PSI) is `null`, never an invented number. Units are in the names.

    {
      "schema_version": 1,
      "stamp": 1760000000.25,            # wall-clock seconds (Unix epoch) of the sample
      "cpu": {
        "total_percent": 37.5,           # mean of per_core_percent, 0-100
        "per_core_percent": [30.0, 45.0],# since the previous sample, index = CPU id
        "per_core_freq_mhz": [2445.4, 2445.4] | null,
        "per_core_class": ["efficiency", "performance"],  # null entries: class unknown
        "topology_source": "config",     # "sysfs:hybrid" | "sysfs:capacity" | "sysfs:maxfreq"
        "load_avg_1m": 0.4, "load_avg_5m": 0.3, "load_avg_15m": 0.2 | null
      },
      "memory": {
        "total_bytes": 25276063744, "available_bytes": 24836927488,
        "percent": 1.7,                  # used share, 0-100
        "psi_some_avg10": 0.0 | null,    # Linux /proc/pressure/memory "some avg10", 0-100
        "swap_total_bytes": 0, "swap_used_bytes": 0, "swap_percent": 0.0
      },
      "thermal": {
        "max_celsius": 61.0 | null,
        "sensors": [{"name": "coretemp/Package id 0", "celsius": 61.0, "high_celsius": 80.0}],
        "throttling": false | null       # kernel throttle counter rose since the last sample,
                                         # or a sensor at its high mark; null: no such signal
      },
      "battery": {"percent": 54.0 | null, "plugged": true | null, "secs_left": 7200 | null},
      "processes": [                     # the suite's own node processes
        {"pid": 4242, "name": "resource_monitor", "cpu_percent": 0.4 | null, "rss_bytes": 61e6}
      ],                                 # cpu_percent is null on the first sample of a process
      "simulated": {
        "fields": ["battery.percent", "battery.plugged"],  # dotted paths overlaid by simulation
        "scenario": "low_battery" | null,                   # scenario file name, if any
        "elapsed_s": 12.5 | null                            # time into the scenario
      }
    }

`simulated.fields` empty means every value is a real reading. A consumer that must not act on
simulated data checks it; a human sees it in the JSON and in the /diagnostics messages.
Compatibility: a consumer accepts any state whose schema_version it knows (SCHEMA_VERSION);
keys are only ever added within a version.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class CpuState:
    total_percent: float
    per_core_percent: list[float]
    per_core_freq_mhz: list[float] | None
    per_core_class: list[str | None]
    topology_source: str
    load_avg_1m: float | None
    load_avg_5m: float | None
    load_avg_15m: float | None


@dataclass(frozen=True)
class MemoryState:
    total_bytes: int
    available_bytes: int
    percent: float
    psi_some_avg10: float | None
    swap_total_bytes: int
    swap_used_bytes: int
    swap_percent: float


@dataclass(frozen=True)
class SensorReading:
    name: str
    celsius: float
    high_celsius: float | None = None


@dataclass(frozen=True)
class ThermalState:
    max_celsius: float | None = None
    sensors: list[SensorReading] = field(default_factory=list)
    throttling: bool | None = None


@dataclass(frozen=True)
class BatteryState:
    percent: float | None = None
    plugged: bool | None = None
    secs_left: int | None = None


@dataclass(frozen=True)
class ProcessState:
    pid: int
    name: str
    cpu_percent: float | None
    rss_bytes: int


@dataclass(frozen=True)
class SimulatedState:
    fields: list[str] = field(default_factory=list)
    scenario: str | None = None
    elapsed_s: float | None = None


@dataclass(frozen=True)
class DeviceState:
    """One sample of the device (see the module docstring for the JSON schema)."""

    stamp: float
    cpu: CpuState
    memory: MemoryState
    thermal: ThermalState = field(default_factory=ThermalState)
    battery: BatteryState = field(default_factory=BatteryState)
    processes: list[ProcessState] = field(default_factory=list)
    simulated: SimulatedState = field(default_factory=SimulatedState)
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> DeviceState:
        """Parse a published state; refuses a schema_version this code does not know."""
        data = json.loads(text)
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ValueError(f"device_state schema_version {version!r}, expected {SCHEMA_VERSION}")
        thermal = _known(ThermalState, data["thermal"])
        thermal["sensors"] = [SensorReading(**_known(SensorReading, s)) for s in thermal["sensors"]]
        return cls(
            stamp=data["stamp"],
            cpu=CpuState(**_known(CpuState, data["cpu"])),
            memory=MemoryState(**_known(MemoryState, data["memory"])),
            thermal=ThermalState(**thermal),
            battery=BatteryState(**_known(BatteryState, data["battery"])),
            processes=[ProcessState(**_known(ProcessState, p)) for p in data["processes"]],
            simulated=SimulatedState(**_known(SimulatedState, data["simulated"])),
        )


def _known(block: type, data: dict[str, Any]) -> dict[str, Any]:
    """The keys of `data` that `block` has: keys added later in the same version are skipped."""
    names = {f.name for f in fields(block)}
    return {key: value for key, value in data.items() if key in names}
