"""A complete DeviceState for tests that need one, changed field by field."""

from __future__ import annotations

from gc_perception.monitor.device_state import (
    BatteryState,
    CpuState,
    DeviceState,
    MemoryState,
    ProcessState,
    SensorReading,
    SimulatedState,
    ThermalState,
)


def sample_state(**changes) -> DeviceState:
    fields = dict(
        stamp=1760000000.25,
        cpu=CpuState(37.5, [30.0, 45.0], None, ["efficiency", "performance"], "config",
                     0.4, 0.3, 0.2),
        memory=MemoryState(8_000_000_000, 6_000_000_000, 25.0, None, 0, 0, 0.0),
        thermal=ThermalState(61.0, [SensorReading("coretemp/Package id 0", 61.0, 80.0)], False),
        battery=BatteryState(54.0, True, None),
        processes=[ProcessState(4242, "resource_monitor", None, 61_000_000)],
        simulated=SimulatedState(["battery.percent"], "low_battery", 12.5),
    )
    fields.update(changes)
    return DeviceState(**fields)
