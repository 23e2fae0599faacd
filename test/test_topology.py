"""Core topology from fake sysfs trees: Arm capacities, Intel hybrid, max freqs, config fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from gc_perception.adascale.topology import (
    CoreTopology,
    detect_from_sysfs,
    load_topology,
    sysfs_cpu_list,
)

CONFIG = """
core_classes:
  detect: {detect}
  efficiency: [0]
  performance: [1, 2, 3]
"""


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def per_cpu(root: Path, relative: str, values: list[int]) -> None:
    for cpu, value in enumerate(values):
        write(root, f"devices/system/cpu/cpu{cpu}/{relative}", f"{value}\n")


def device_config(tmp_path: Path, detect: bool) -> Path:
    path = tmp_path / "device.yaml"
    path.write_text(CONFIG.format(detect=str(detect).lower()))
    return path


def test_cpu_lists_parse_like_the_kernel_writes_them():
    assert sysfs_cpu_list("0-3,8,10-11\n") == [0, 1, 2, 3, 8, 10, 11]
    assert sysfs_cpu_list("") == []


def test_big_little_capacities_lowest_is_efficiency(tmp_path):
    per_cpu(tmp_path, "cpu_capacity", [446, 446, 446, 446, 1024, 1024, 1024, 871])
    topology = load_topology(device_config(tmp_path, True), sysfs_root=tmp_path)
    assert topology.source == "sysfs:capacity"
    assert topology.classes == {"efficiency": [0, 1, 2, 3], "performance": [4, 5, 6, 7]}
    assert topology.class_of(7) == "performance" and topology.class_of(99) is None


def test_intel_hybrid_atom_cores_are_efficiency(tmp_path):
    write(tmp_path, "devices/cpu_core/cpus", "0-7\n")
    write(tmp_path, "devices/cpu_atom/cpus", "8-15\n")
    per_cpu(tmp_path, "cpu_capacity", [1024] * 16)  # hybrid wins over uniform capacities
    topology = detect_from_sysfs(tmp_path)
    assert topology.source == "sysfs:hybrid"
    assert topology.cpus("efficiency") == list(range(8, 16))
    assert topology.cpus("performance") == list(range(8))


def test_differing_max_frequencies(tmp_path):
    per_cpu(tmp_path, "cpu_capacity", [1024, 1024])
    per_cpu(tmp_path, "cpufreq/cpuinfo_max_freq", [1800000, 2800000])
    topology = detect_from_sysfs(tmp_path)
    assert (topology.source, topology.classes) == (
        "sysfs:maxfreq",
        {"efficiency": [0], "performance": [1]},
    )


def test_homogeneous_machine_falls_back_to_config_and_says_so(tmp_path):
    per_cpu(tmp_path, "cpu_capacity", [1024] * 4)
    per_cpu(tmp_path, "cpufreq/cpuinfo_max_freq", [2400000] * 4)
    topology = load_topology(device_config(tmp_path, True), sysfs_root=tmp_path)
    assert topology.source == "config"
    assert "sysfs shows no core classes" in topology.note
    assert topology.classes == {"efficiency": [0], "performance": [1, 2, 3]}


def test_detect_off_uses_config_even_where_sysfs_tells(tmp_path):
    per_cpu(tmp_path, "cpu_capacity", [446, 1024, 1024, 1024])
    topology = load_topology(device_config(tmp_path, False), sysfs_root=tmp_path)
    assert (topology.source, topology.note) == ("config", "detect is off in the device config")


def test_bad_config_is_refused_with_a_reason(tmp_path):
    path = tmp_path / "device.yaml"
    path.write_text("core_classes: {efficiency: [0], performance: [0, 1]}\n")
    with pytest.raises(ValueError, match="cpu 0 is both"):
        load_topology(path, sysfs_root=tmp_path)
    path.write_text("core_classes: {efficiency: [zero], big: [1]}\n")
    with pytest.raises(ValueError, match="unknown keys"):
        load_topology(path, sysfs_root=tmp_path)
    path.write_text("power_watts: {}\n")
    with pytest.raises(ValueError, match="no core_classes"):
        load_topology(path, sysfs_root=tmp_path)


def test_packaged_config_loads():
    from gc_perception.adascale.energy import default_device_config

    topology = load_topology(default_device_config())
    assert isinstance(topology, CoreTopology)
    assert set(topology.classes) == {"efficiency", "performance"}
