"""Sampler with a fake psutil: readings mapped into DeviceState, missing sensors -> None."""

from __future__ import annotations

import contextlib
from collections import namedtuple
from pathlib import Path
from types import SimpleNamespace

from gc_perception.adascale.topology import CoreTopology
from gc_perception.monitor.sampler import (
    Sampler,
    SuiteProcesses,
    read_psi_some_avg10,
    suite_process_name,
)

Freq = namedtuple("Freq", "current min max")
Memory = namedtuple("Memory", "total available percent")
Swap = namedtuple("Swap", "total used free percent")
Temp = namedtuple("Temp", "label current high critical")
Battery = namedtuple("Battery", "percent secsleft power_plugged")
MemInfo = namedtuple("MemInfo", "rss vms")
TOPOLOGY = CoreTopology({"efficiency": [0], "performance": [1]}, "config")
EXECUTABLES = frozenset({"resource_monitor", "camera_source"})


class NoSuchProcess(Exception):
    pass


class AccessDenied(Exception):
    pass


class FakeProcess:
    def __init__(self, pid: int, cmdline: list[str], cpu: float = 3.5, rss: int = 50_000_000):
        self.pid, self.cpu, self.rss, self.gone = pid, cpu, rss, False
        self.info = {"cmdline": cmdline}

    def name(self):
        return "python3.11"

    def oneshot(self):
        return contextlib.nullcontext()

    def cpu_percent(self, interval=None):
        if self.gone:
            raise NoSuchProcess(self.pid)
        return self.cpu

    def memory_info(self):
        return MemInfo(self.rss, 0)


def fake_psutil(processes=(), sensors=True) -> SimpleNamespace:
    ps = SimpleNamespace(
        NoSuchProcess=NoSuchProcess,
        AccessDenied=AccessDenied,
        cpu_percent=lambda percpu=False, interval=None: [20.0, 60.0],
        cpu_freq=lambda percpu=False: [Freq(1800.0, 0, 0), Freq(2800.0, 0, 0)],
        getloadavg=lambda: (0.5, 0.4, 0.3),
        virtual_memory=lambda: Memory(8_000_000_000, 2_000_000_000, 75.0),
        swap_memory=lambda: Swap(1_000_000_000, 250_000_000, 0, 25.0),
        process_iter=lambda attrs=None: list(processes),
    )
    if sensors:
        ps.sensors_temperatures = lambda: {
            "coretemp": [Temp("Package id 0", 71.0, 80.0, 100.0), Temp("", 66.0, None, None)],
            "acpitz": [Temp("", 58.0, None, None)],
        }
        ps.sensors_battery = lambda: Battery(41.0, 5400, False)
    return ps


def sampler(ps, tmp_path: Path, processes=None) -> Sampler:
    psi = tmp_path / "pressure_memory"
    psi.write_text("some avg10=1.25 avg60=0.50 avg300=0.10 total=123\n"
                   "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")
    processes = processes or SuiteProcesses(ps, executables=EXECUTABLES)
    return Sampler(TOPOLOGY, ps, processes, psi_path=psi, sysfs_root=tmp_path,
                   wall_clock=lambda: 123.5)


def test_readings_are_mapped_into_the_state(tmp_path):
    state = sampler(fake_psutil(), tmp_path).sample()
    assert state.stamp == 123.5
    assert state.cpu.per_core_percent == [20.0, 60.0] and state.cpu.total_percent == 40.0
    assert state.cpu.per_core_freq_mhz == [1800.0, 2800.0]
    assert state.cpu.per_core_class == ["efficiency", "performance"]
    assert (state.cpu.load_avg_1m, state.cpu.load_avg_15m) == (0.5, 0.3)
    assert state.memory.percent == 75.0 and state.memory.available_bytes == 2_000_000_000
    assert state.memory.psi_some_avg10 == 1.25
    assert (state.memory.swap_used_bytes, state.memory.swap_percent) == (250_000_000, 25.0)
    assert state.thermal.max_celsius == 71.0
    assert [s.name for s in state.thermal.sensors] == [
        "coretemp/Package id 0", "coretemp/1", "acpitz/0"]
    assert state.thermal.throttling is False  # below its 80 C high mark, no kernel counters
    assert (state.battery.percent, state.battery.plugged, state.battery.secs_left) == (
        41.0, False, 5400)
    assert state.simulated.fields == []


def test_missing_sensors_are_none_not_guesses(tmp_path):
    ps = fake_psutil(sensors=False)
    del ps.getloadavg
    ps.cpu_freq = lambda percpu=False: []
    state = Sampler(TOPOLOGY, ps, SuiteProcesses(ps, executables=EXECUTABLES),
                    psi_path=tmp_path / "absent", sysfs_root=tmp_path).sample()
    assert state.cpu.per_core_freq_mhz is None and state.cpu.load_avg_1m is None
    assert state.memory.psi_some_avg10 is None
    assert (state.thermal.max_celsius, state.thermal.sensors, state.thermal.throttling) == (
        None, [], None)
    assert (state.battery.percent, state.battery.plugged, state.battery.secs_left) == (
        None, None, None)


def test_unknown_battery_time_is_none(tmp_path):
    ps = fake_psutil()
    ps.sensors_battery = lambda: Battery(99.0, -2, True)  # psutil.POWER_TIME_UNLIMITED
    assert sampler(ps, tmp_path).sample().battery.secs_left is None


def test_kernel_throttle_counter_increase_means_throttling(tmp_path):
    counter = tmp_path / "devices/system/cpu/cpu0/thermal_throttle/core_throttle_count"
    counter.parent.mkdir(parents=True)
    counter.write_text("4\n")
    ps = fake_psutil()
    monitor = sampler(ps, tmp_path)
    assert monitor.sample().thermal.throttling is False
    counter.write_text("9\n")
    assert monitor.sample().thermal.throttling is True
    assert monitor.sample().thermal.throttling is False


def test_suite_processes_found_by_command_line_and_pid(tmp_path):
    venv = "/w/.venv/bin/"
    ours = FakeProcess(10, [venv + "python", venv + "resource_monitor", "--ros-args"])
    renamed = FakeProcess(11, ["python", "-m", "gc_perception.nodes.camera_source",
                               "--ros-args", "-r", "__node:=front_camera"])
    watched = FakeProcess(12, ["/usr/bin/other"])
    stranger = FakeProcess(13, ["/usr/bin/bash"])
    clock = [0.0]
    ps = fake_psutil([ours, renamed, watched, stranger])
    suite = SuiteProcesses(ps, pids=[12], executables=EXECUTABLES, rescan_period_s=10.0,
                           clock=lambda: clock[0])
    first = suite.sample()
    assert [(p.pid, p.name, p.cpu_percent) for p in first] == [
        (10, "resource_monitor", None), (11, "front_camera", None), (12, "python3.11", None)]
    second = suite.sample()  # psutil's first cpu_percent is not a measurement: None, then real
    assert [p.cpu_percent for p in second] == [3.5, 3.5, 3.5]
    assert second[0].rss_bytes == 50_000_000
    ours.gone = True
    assert [p.pid for p in suite.sample()] == [11, 12]


def test_processes_are_rescanned_only_after_the_period():
    scans = []
    late = FakeProcess(20, ["resource_monitor"])
    ps = fake_psutil()
    ps.process_iter = lambda attrs=None: scans.append(1) or ([late] if len(scans) > 1 else [])
    clock = [0.0]
    suite = SuiteProcesses(ps, executables=EXECUTABLES, rescan_period_s=5.0,
                           clock=lambda: clock[0])
    assert suite.sample() == [] and suite.sample() == []
    assert len(scans) == 1
    clock[0] = 5.0
    assert [p.pid for p in suite.sample()] == [20]
    assert len(scans) == 2


def test_suite_process_names():
    assert suite_process_name(["bash", "-c", "ls"], EXECUTABLES) is None
    assert suite_process_name(["/x/camera_source", "--ros-args"], EXECUTABLES) == "camera_source"
    assert suite_process_name(["py", "/x/resource_monitor", "--ros-args", "-r",
                               "resource_monitor:__node:=monitor"], EXECUTABLES) == "monitor"


def test_psi_parsing(tmp_path):
    path = tmp_path / "memory"
    path.write_text("some avg10=7.50 avg60=1.00 avg300=0.00 total=5\n")
    assert read_psi_some_avg10(path) == 7.5
    path.write_text("full avg10=1.00\n")
    assert read_psi_some_avg10(path) is None
