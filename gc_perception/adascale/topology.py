"""Core topology: which CPU cores are low-power ("efficiency") and which are "performance".

A GC model runs its gate (stage A) on an efficiency core and the rest (stage B) on a performance
core, and the energy estimate needs each core's class. Linux tells core classes apart in three
ways, tried in this order:

- Intel hybrid: /sys/devices/cpu_atom/cpus (efficiency) and /sys/devices/cpu_core/cpus;
- Arm big.LITTLE / DynamIQ: differing /sys/devices/system/cpu/cpuN/cpu_capacity;
- differing /sys/devices/system/cpu/cpuN/cpufreq/cpuinfo_max_freq.

With capacities or frequencies, the cores with the lowest value are "efficiency" and all others
"performance" (a tri-cluster SoC's prime and big cores are both performance). A homogeneous
machine, such as a VM whose cores all report capacity 1024, has nothing to tell them apart: the
`core_classes` lists of config/device.yaml are used, and the returned topology says so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gc_perception.adascale.cpu_affinity import cpu_ids

EFFICIENCY = "efficiency"
PERFORMANCE = "performance"
CORE_CLASSES = (EFFICIENCY, PERFORMANCE)

_CPU_DIR = re.compile(r"cpu(\d+)$")
# Per-CPU sysfs files whose differing values tell core classes apart, with their source tag.
_PER_CPU_SIGNS = (("cpu_capacity", "capacity"), ("cpufreq/cpuinfo_max_freq", "maxfreq"))


@dataclass(frozen=True)
class CoreTopology:
    """Core class -> sorted CPU ids, where the split came from, and why (for humans)."""

    classes: dict[str, list[int]]
    source: str  # "sysfs:hybrid" | "sysfs:capacity" | "sysfs:maxfreq" | "config"
    note: str = ""
    _class_by_cpu: dict[int, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_cpu: dict[int, str] = {}
        for core_class, cpus in self.classes.items():
            for cpu in cpus:
                if cpu in by_cpu:
                    raise ValueError(f"cpu {cpu} is both {by_cpu[cpu]} and {core_class}")
                by_cpu[cpu] = core_class
        object.__setattr__(self, "_class_by_cpu", by_cpu)

    def class_of(self, cpu: int) -> str | None:
        """The class of `cpu`, None when the topology does not name it."""
        return self._class_by_cpu.get(cpu)

    def cpus(self, core_class: str) -> list[int]:
        return list(self.classes.get(core_class, []))


def sysfs_cpu_list(text: str) -> list[int]:
    """A kernel cpulist file's content ("0-3,8\n", possibly empty) as sorted CPU ids."""
    text = text.strip()
    return sorted(cpu_ids(text)) if text else []


def load_topology(device_config: str | Path, sysfs_root: str | Path = "/sys") -> CoreTopology:
    """This machine's topology: from sysfs when `detect` is set and sysfs tells, else config."""
    section = _core_classes_section(device_config)
    if not section.get("detect", False):
        return topology_from_config(section, "detect is off in the device config")
    detected = detect_from_sysfs(Path(sysfs_root))
    if detected is not None:
        return detected
    return topology_from_config(section, "detect is on but sysfs shows no core classes")


def topology_from_config(section: Mapping[str, Any], note: str) -> CoreTopology:
    """The `core_classes` lists of the device config (unknown classes refused)."""
    unknown = set(section) - {"detect", *CORE_CLASSES}
    if unknown:
        raise ValueError(f"core_classes: unknown keys {sorted(unknown)}; known: {CORE_CLASSES}")
    classes = {name: _cpu_ids(section.get(name, []), name) for name in CORE_CLASSES}
    return CoreTopology(classes, "config", note)


def detect_from_sysfs(sysfs_root: Path) -> CoreTopology | None:
    """Core classes as the kernel exposes them, or None when it does not tell them apart."""
    hybrid = _hybrid_topology(sysfs_root)
    if hybrid is not None:
        return hybrid
    cpu_root = sysfs_root / "devices" / "system" / "cpu"
    for relative, source in _PER_CPU_SIGNS:
        split = _split_by_lowest(_per_cpu_values(cpu_root, relative))
        if split is not None:
            return CoreTopology(split, f"sysfs:{source}", f"lowest {relative} = efficiency")
    return None


def _core_classes_section(device_config: str | Path) -> Mapping[str, Any]:
    data = yaml.safe_load(Path(device_config).read_text()) or {}
    section = data.get("core_classes")
    if not isinstance(section, Mapping):
        raise ValueError(f"{device_config}: no core_classes section")
    return section


def _cpu_ids(value: Any, name: str) -> list[int]:
    if not isinstance(value, list) or not all(isinstance(v, int) and v >= 0 for v in value):
        raise ValueError(f"core_classes.{name}: expected a list of CPU ids, got {value!r}")
    return sorted(set(value))


def _hybrid_topology(sysfs_root: Path) -> CoreTopology | None:
    atom = sysfs_root / "devices" / "cpu_atom" / "cpus"
    core = sysfs_root / "devices" / "cpu_core" / "cpus"
    if not (atom.is_file() and core.is_file()):
        return None
    classes = {
        EFFICIENCY: sysfs_cpu_list(atom.read_text()),
        PERFORMANCE: sysfs_cpu_list(core.read_text()),
    }
    return CoreTopology(classes, "sysfs:hybrid", "Intel hybrid: cpu_atom = efficiency")


def _per_cpu_values(cpu_root: Path, relative: str) -> dict[int, int]:
    values: dict[int, int] = {}
    for cpu_dir in cpu_root.glob("cpu*"):
        match = _CPU_DIR.match(cpu_dir.name)
        path = cpu_dir / relative
        if match and path.is_file():
            values[int(match.group(1))] = int(path.read_text().strip())
    return values


def _split_by_lowest(values: Mapping[int, int]) -> dict[str, list[int]] | None:
    if len(set(values.values())) < 2:
        return None
    lowest = min(values.values())
    return {
        EFFICIENCY: sorted(cpu for cpu, value in values.items() if value == lowest),
        PERFORMANCE: sorted(cpu for cpu, value in values.items() if value != lowest),
    }
