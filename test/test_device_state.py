"""DeviceState JSON: every documented key present, nulls kept, versions checked."""

from __future__ import annotations

import json

import pytest
from device_states import sample_state

from gc_perception.monitor.device_state import (
    SCHEMA_VERSION,
    BatteryState,
    DeviceState,
    SimulatedState,
    ThermalState,
)


def test_json_round_trip_keeps_every_value():
    state = sample_state()
    assert DeviceState.from_json(state.to_json()) == state


def test_json_has_the_documented_keys_and_nulls_for_missing_readings():
    state = sample_state(thermal=ThermalState(), battery=BatteryState(), simulated=SimulatedState())
    data = json.loads(state.to_json())
    assert data["schema_version"] == SCHEMA_VERSION
    assert set(data) == {"schema_version", "stamp", "cpu", "memory", "thermal", "battery",
                         "processes", "simulated"}
    assert set(data["cpu"]) == {"total_percent", "per_core_percent", "per_core_freq_mhz",
                                "per_core_class", "topology_source", "load_avg_1m",
                                "load_avg_5m", "load_avg_15m"}
    assert data["cpu"]["per_core_freq_mhz"] is None
    assert data["memory"]["psi_some_avg10"] is None
    assert data["thermal"] == {"max_celsius": None, "sensors": [], "throttling": None}
    assert data["battery"] == {"percent": None, "plugged": None, "secs_left": None}
    assert data["simulated"] == {"fields": [], "scenario": None, "elapsed_s": None}
    assert data["processes"][0] == {"pid": 4242, "name": "resource_monitor",
                                    "cpu_percent": None, "rss_bytes": 61_000_000}


def test_unknown_schema_version_is_refused():
    data = json.loads(sample_state().to_json())
    data["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(ValueError, match="schema_version"):
        DeviceState.from_json(json.dumps(data))


def test_keys_added_within_a_version_are_skipped_by_older_readers():
    data = json.loads(sample_state().to_json())
    data["cpu"]["per_core_idle"] = [1.0, 2.0]
    data["thermal"]["sensors"][0]["critical_celsius"] = 100.0
    assert DeviceState.from_json(json.dumps(data)) == sample_state()
