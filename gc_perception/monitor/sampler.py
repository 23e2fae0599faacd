"""Device sampling with psutil: the real readings behind a DeviceState (no ROS here).

psutil is injected (any object with the same functions), so tests feed fixed readings and VMs
without sensors are handled by the same code path: a missing reading is None, never a guess.

CPU percentages are measured between two samples (psutil's non-blocking form), so the first
sample after start-up is primed in the constructor. Listing all processes to find the suite's
own costs several ms, so it is rescanned only every `rescan_period_s`; between scans the known
processes are sampled directly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

import psutil

from gc_perception.adascale.topology import CoreTopology
from gc_perception.monitor.device_state import (
    BatteryState,
    CpuState,
    DeviceState,
    MemoryState,
    ProcessState,
    SensorReading,
    ThermalState,
)

NODE_MODULE_PREFIX = "gc_perception.nodes."
PSI_MEMORY = Path("/proc/pressure/memory")
THROTTLE_COUNTERS = "devices/system/cpu/cpu*/thermal_throttle/*_throttle_count"


def suite_executables() -> frozenset[str]:
    """Console-script names of the suite's nodes, from the installed package metadata."""
    scripts = entry_points(group="console_scripts")
    return frozenset(ep.name for ep in scripts if ep.value.startswith(NODE_MODULE_PREFIX))


def suite_process_name(cmdline: Sequence[str], executables: frozenset[str]) -> str | None:
    """The name of a suite node's process (its ROS node name where remapped), None if not ours.

    Ours: a console script of the suite, or `python -m gc_perception.nodes.<node>`. psutil's own
    name() is no help here: the ROS wheels re-execute every entry point as plain `python`.
    """
    programs = (_suite_program(arg, executables) for arg in cmdline)
    program = next((name for name in programs if name), None)
    if program is None:
        return None
    renamed = [arg.split("__node:=", 1)[1] for arg in cmdline if "__node:=" in arg]
    return renamed[-1] if renamed else program


def _suite_program(arg: str, executables: frozenset[str]) -> str | None:
    if Path(arg).name in executables:
        return Path(arg).name
    return arg[len(NODE_MODULE_PREFIX) :] if arg.startswith(NODE_MODULE_PREFIX) else None


class SuiteProcesses:
    """CPU% and RSS of the suite's processes: those `suite_process_name` knows, plus `pids`."""

    def __init__(
        self,
        ps: Any = psutil,
        pids: Iterable[int] = (),
        executables: frozenset[str] | None = None,
        rescan_period_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ps = ps
        self._pids = frozenset(pids)
        self._executables = suite_executables() if executables is None else executables
        self._rescan_period_s = rescan_period_s
        self._clock = clock
        self._next_scan = float("-inf")
        self._tracked: dict[int, tuple[Any, str]] = {}
        self._primed: set[int] = set()

    def sample(self) -> list[ProcessState]:
        if self._clock() >= self._next_scan:
            self._rescan()
        states = [self._read(pid, *tracked) for pid, tracked in sorted(self._tracked.items())]
        return [state for state in states if state is not None]

    def _rescan(self) -> None:
        self._next_scan = self._clock() + self._rescan_period_s
        found: dict[int, tuple[Any, str]] = {}
        for process in self._ps.process_iter(["cmdline"]):  # "name" too would double the cost
            name = suite_process_name(process.info.get("cmdline") or (), self._executables)
            if name is None and process.pid in self._pids:
                name = self._name(process)
            if name is not None:
                found[process.pid] = self._tracked.get(process.pid, (process, name))
        self._tracked = found
        self._primed &= set(found)

    def _name(self, process: Any) -> str:
        try:
            return process.name()
        except (self._ps.NoSuchProcess, self._ps.AccessDenied):  # the PID still identifies it
            return str(process.pid)

    def _read(self, pid: int, process: Any, name: str) -> ProcessState | None:
        try:
            with process.oneshot():
                cpu = process.cpu_percent(None)
                rss = process.memory_info().rss
        except (self._ps.NoSuchProcess, self._ps.AccessDenied):
            self._tracked.pop(pid, None)
            return None
        if pid not in self._primed:  # psutil's first cpu_percent of a process is a meaningless 0
            self._primed.add(pid)
            return ProcessState(pid, name, None, rss)
        return ProcessState(pid, name, cpu, rss)


class Sampler:
    """Reads one DeviceState from psutil and Linux /proc (PSI) and /sys (throttle counters)."""

    def __init__(
        self,
        topology: CoreTopology,
        ps: Any = psutil,
        processes: SuiteProcesses | None = None,
        psi_path: Path = PSI_MEMORY,
        sysfs_root: Path = Path("/sys"),
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.topology = topology
        self._ps = ps
        self._processes = processes if processes is not None else SuiteProcesses(ps)
        self._psi_path = psi_path
        self._sysfs_root = sysfs_root
        self._wall_clock = wall_clock
        self._throttle_total = _throttle_events(sysfs_root)
        ps.cpu_percent(percpu=True)  # prime: the next call measures from here

    def sample(self) -> DeviceState:
        return DeviceState(
            stamp=self._wall_clock(),
            cpu=self._cpu(),
            memory=self._memory(),
            thermal=self._thermal(),
            battery=self._battery(),
            processes=self._processes.sample(),
        )

    def _cpu(self) -> CpuState:
        per_core = [float(p) for p in self._ps.cpu_percent(percpu=True)]
        load = _optional_call(self._ps, "getloadavg") or (None, None, None)
        return CpuState(
            total_percent=sum(per_core) / len(per_core) if per_core else 0.0,
            per_core_percent=per_core,
            per_core_freq_mhz=self._frequencies(len(per_core)),
            per_core_class=[self.topology.class_of(cpu) for cpu in range(len(per_core))],
            topology_source=self.topology.source,
            load_avg_1m=load[0],
            load_avg_5m=load[1],
            load_avg_15m=load[2],
        )

    def _frequencies(self, cores: int) -> list[float] | None:
        """Per-core MHz; None unless psutil gives one current frequency per core."""
        frequencies = _optional_call(self._ps, "cpu_freq", percpu=True)
        if not frequencies or len(frequencies) != cores:
            return None
        return [float(f.current) for f in frequencies]

    def _memory(self) -> MemoryState:
        memory, swap = self._ps.virtual_memory(), self._ps.swap_memory()
        return MemoryState(
            total_bytes=int(memory.total),
            available_bytes=int(memory.available),
            percent=float(memory.percent),
            psi_some_avg10=read_psi_some_avg10(self._psi_path),
            swap_total_bytes=int(swap.total),
            swap_used_bytes=int(swap.used),
            swap_percent=float(swap.percent),
        )

    def _thermal(self) -> ThermalState:
        sensors = [
            SensorReading(f"{chip}/{entry.label or index}", float(entry.current), entry.high)
            for chip, entries in (_optional_call(self._ps, "sensors_temperatures") or {}).items()
            for index, entry in enumerate(entries)
        ]
        hottest = max((s.celsius for s in sensors), default=None)
        return ThermalState(hottest, sensors, self._throttling(sensors))

    def _throttling(self, sensors: list[SensorReading]) -> bool | None:
        """Kernel throttle events since the last sample, or a sensor at its `high` mark."""
        events = _throttle_events(self._sysfs_root)
        counted = None if events is None else events > (self._throttle_total or 0)
        self._throttle_total = events
        rated = [s.celsius >= s.high_celsius for s in sensors if s.high_celsius]
        if counted is None and not rated:
            return None
        return bool(counted) or any(rated)

    def _battery(self) -> BatteryState:
        battery = _optional_call(self._ps, "sensors_battery")
        if battery is None:
            return BatteryState()
        secs_left = battery.secsleft  # psutil: negative constants for unknown / unlimited
        return BatteryState(
            percent=float(battery.percent),
            plugged=battery.power_plugged,
            secs_left=int(secs_left) if secs_left is not None and secs_left >= 0 else None,
        )


def read_psi_some_avg10(path: Path) -> float | None:
    """The "some avg10" share of Linux pressure stall information, None where not exposed."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        kind, *fields = line.split()
        if kind == "some":
            values = dict(f.split("=", 1) for f in fields)
            return float(values["avg10"]) if "avg10" in values else None
    return None


def _throttle_events(sysfs_root: Path) -> int | None:
    """Sum of the kernel's thermal throttle counters (Intel), None where there are none."""
    counters = list(sysfs_root.glob(THROTTLE_COUNTERS))
    if not counters:
        return None
    return sum(int(path.read_text().strip() or 0) for path in counters)


def _optional_call(ps: ModuleType | Any, name: str, **kwargs: Any) -> Any:
    """psutil functions some platforms lack (sensors_*, getloadavg): None when absent or failing."""
    function = getattr(ps, name, None)
    if function is None:
        return None
    try:
        return function(**kwargs)
    except (OSError, NotImplementedError, RuntimeError):
        return None
