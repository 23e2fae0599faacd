"""The resource monitor's own cost: CPU time per sample and RSS (goal: < 1% of a core at 2 Hz).

Two measurements:
1. core, in this process: CPU time of one tick's pure work (sample + overlay + JSON +
   thresholds), and of one scan for the suite's processes (done every process_rescan_s);
2. node, as a real process: CPU share and RSS of `resource_monitor` running at --rate-hz,
   against the same node paused (enabled:=false) to show what rclpy alone costs.
The node runs with localhost-only DDS (gc_perception.ros_env) on its own ROS_DOMAIN_ID; no
subscriber is attached, so publishing costs are those of a node nobody listens to.

    .venv/bin/python -m bench.bench_resource_monitor [--rate-hz 2] [--seconds 30]
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from gc_perception import ros_env
from gc_perception.adascale.energy import default_device_config
from gc_perception.adascale.topology import load_topology
from gc_perception.monitor.sampler import Sampler, SuiteProcesses
from gc_perception.monitor.simulation import Simulation
from gc_perception.monitor.thresholds import DeviceHealth, ThresholdSettings

# Outside the test harness's range (1-200), so a bench never joins a test run's graph.
BENCH_DOMAIN_BASE = 201


def core_cost(samples: int) -> tuple[float, float]:
    """CPU ms per tick of pure work (no process scan), and per process scan."""
    processes = SuiteProcesses(rescan_period_s=float("inf"))
    sampler = Sampler(load_topology(default_device_config()), processes=processes)
    simulation, health = Simulation(), DeviceHealth(ThresholdSettings())
    processes.sample()  # the one scan; the ticks below only read the processes it found
    start = time.process_time()
    for _ in range(samples):
        state = simulation.apply(sampler.sample(), time.monotonic())
        state.to_json()
        health.evaluate(state)
    tick_ms = (time.process_time() - start) / samples * 1000
    start = time.process_time()
    for _ in range(10):
        SuiteProcesses(rescan_period_s=0.0).sample()
    return tick_ms, (time.process_time() - start) / 10 * 1000


def node_cost(rate_hz: float, seconds: float, enabled: bool, log_dir: Path) -> tuple[float, int]:
    """CPU % of one core and RSS bytes of a resource_monitor process, after a warm-up."""
    env = dict(os.environ, ROS_DOMAIN_ID=str(BENCH_DOMAIN_BASE + os.getpid() % 30))
    env["ROS_LOG_DIR"] = str(log_dir)
    ros_env.configure(env)
    argv = [
        str(Path(sys.executable).parent / "resource_monitor"),
        "--ros-args",
        "-p",
        f"rate_hz:={rate_hz}",
        "-p",
        f"enabled:={str(enabled).lower()}",
    ]
    log = (log_dir / f"node_enabled_{enabled}.log").open("wb")
    node = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        process = psutil.Process(node.pid)
        time.sleep(5.0)  # start-up (imports, DDS discovery) is not the steady-state cost
        cpu_before, wall_before = sum(process.cpu_times()[:2]), time.monotonic()
        time.sleep(seconds)
        cpu = sum(process.cpu_times()[:2]) - cpu_before
        share = cpu / (time.monotonic() - wall_before) * 100
        return share, process.memory_info().rss
    finally:
        _stop(node)
        log.close()


def _stop(node: subprocess.Popen) -> None:
    """Stop our node by its PID: SIGINT, then SIGKILL if it does not exit."""
    node.send_signal(signal.SIGINT)
    try:
        node.wait(8.0)
    except subprocess.TimeoutExpired:
        node.kill()
        node.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate-hz", type=float, default=2.0)
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window per run")
    parser.add_argument("--samples", type=int, default=200, help="ticks for the core figure")
    args = parser.parse_args()
    print(
        "command:",
        shlex.join([sys.executable, "-m", "bench.bench_resource_monitor", *sys.argv[1:]]),
    )
    print(f"machine: {psutil.cpu_count()} cores, load avg {os.getloadavg()[0]:.2f}")
    tick_ms, scan_ms = core_cost(args.samples)
    print(
        f"core: {tick_ms:.2f} ms CPU per tick (sample+overlay+json+thresholds), "
        f"{scan_ms:.2f} ms per process scan ({len(psutil.pids())} processes)"
    )
    log_dir = Path(tempfile.mkdtemp(prefix="bench_resource_monitor_"))
    for enabled in (True, False):
        share, rss = node_cost(args.rate_hz, args.seconds, enabled, log_dir)
        label = f"node at {args.rate_hz:g} Hz" if enabled else "node paused (rclpy only)"
        per_sample = f", {share * 10 / args.rate_hz:.2f} ms CPU per sample" if enabled else ""
        print(
            f"{label}: {share:.2f}% of one core{per_sample}, RSS {rss / 1e6:.1f} MB "
            f"(over {args.seconds:g} s)"
        )
    print(f"node logs: {log_dir}")


if __name__ == "__main__":
    main()
