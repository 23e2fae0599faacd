"""The resource monitor's own cost: CPU time per sample and RSS (goal: < 1% of a core at 2 Hz).

Two measurements:
1. core, in this process: CPU time of one tick's pure work (sample + overlay + JSON +
   thresholds), and of one scan for the suite's processes (done every process_rescan_s);
2. node, as a real process: CPU share and RSS of `resource_monitor` running at --rate-hz,
   against the same node paused (enabled:=false) to show what rclpy alone costs, over
   --repeats windows of --seconds after a warm-up.
The node runs with localhost-only DDS on the benches' own ROS_DOMAIN_ID
(bench.common.bench_environment); no subscriber is attached, so publishing costs are those of a
node nobody listens to.

    .venv/bin/python -m bench.bench_resource_monitor [--rate-hz 2] [--seconds 10] [--repeats 3]
                                                     [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from bench.common import facts, open_run, spread, write_results
from gc_perception.adascale.energy import default_device_config
from gc_perception.adascale.topology import load_topology
from gc_perception.monitor.sampler import Sampler, SuiteProcesses
from gc_perception.monitor.simulation import Simulation
from gc_perception.monitor.thresholds import DeviceHealth, ThresholdSettings

WARM_UP_S = 5.0  # start-up (imports, DDS discovery) is not the steady-state cost


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


def node_cost(args, enabled: bool, env: dict[str, str], log_dir: Path) -> dict[str, list[float]]:
    """CPU % of one core and RSS MB of a resource_monitor process, per window."""
    argv = [str(Path(sys.executable).parent / "resource_monitor"), "--ros-args",
            "-p", f"rate_hz:={args.rate_hz}", "-p", f"enabled:={str(enabled).lower()}"]
    log = (log_dir / f"node_enabled_{enabled}.log").open("wb")
    node = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    figures: dict[str, list[float]] = {"cpu_percent": [], "rss_mb": []}
    try:
        process = psutil.Process(node.pid)
        time.sleep(WARM_UP_S)
        for _ in range(args.repeats):
            cpu_before, wall_before = sum(process.cpu_times()[:2]), time.monotonic()
            time.sleep(args.seconds)
            cpu = sum(process.cpu_times()[:2]) - cpu_before
            figures["cpu_percent"].append(cpu / (time.monotonic() - wall_before) * 100)
            figures["rss_mb"].append(process.memory_info().rss / 2**20)
        return figures
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate-hz", type=float, default=2.0)
    parser.add_argument("--seconds", type=float, default=10.0, help="one measured window")
    parser.add_argument("--repeats", type=int, default=3, help="windows, and core runs")
    parser.add_argument("--samples", type=int, default=200, help="ticks for the core figure")
    args, run_dir = open_run("resource_monitor", parser, argv)
    env = dict(os.environ)
    core = [core_cost(args.samples) for _ in range(args.repeats)]
    results = {**facts(), "rate_hz": args.rate_hz,
               "processes_scanned": len(psutil.pids()),
               "core_tick_ms": [tick for tick, _ in core],
               "core_scan_ms": [scan for _, scan in core],
               "node": {"running": node_cost(args, True, env, run_dir),
                        "paused": node_cost(args, False, env, run_dir)}}
    print(f"# {results['command']}\n# {results['machine']}\n")
    print(f"core: {spread(results['core_tick_ms'])} ms CPU per tick (sample+overlay+json+"
          f"thresholds), {spread(results['core_scan_ms'])} ms per process scan "
          f"({results['processes_scanned']} processes)")
    for state, figures in results["node"].items():
        print(f"node {state} at {args.rate_hz:g} Hz: {spread(figures['cpu_percent'])}% of one "
              f"core, RSS {spread(figures['rss_mb'])} MB")
    print(f"raw figures: {write_results(run_dir, results)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
