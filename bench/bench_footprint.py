"""Footprint (issue 9, comparison 6): start-up time, RSS and CPU of each node, idle and under
load, and the start-up time of the whole suite (config/suite.yaml on the bundled media).

    .venv/bin/python -m bench.bench_footprint [--seconds 10]

start-up: process spawn -> its first /diagnostics status (module imports, rclpy, model loads).
  'alone': each node started by itself; 'suite': all at once (they compete for the 2 cores).
idle: sources disabled (enabled:=false), so detectors get no input; load: sources enabled at
  the config's rates. CPU = (user+system CPU s) / wall s of the process over --seconds.
"""

from __future__ import annotations

import argparse
import json
import time

import psutil

from bench.common import bench_environment, command_line, machine, run_folder
from gc_perception.suite.runner import SuiteRunner
from gc_perception.suite.spec import NodeSpec, suite_specs

SOURCES = ("camera_source", "audio_source")


class DiagnosticsWatch:
    """First-seen time of each node's /diagnostics status (by node fqn)."""

    def __init__(self) -> None:
        from diagnostic_msgs.msg import DiagnosticArray

        from gc_perception.nodes.background import BackgroundNode

        self.first_seen: dict[str, float] = {}
        self.probe = BackgroundNode("bench_footprint_probe")
        self.probe.node.create_subscription(DiagnosticArray, "/diagnostics", self._receive, 50)

    def _receive(self, message) -> None:
        now = time.monotonic()
        for status in message.status:
            node = "/" + status.name.split(":", 1)[0]
            self.first_seen.setdefault(node, now)

    def close(self) -> None:
        self.probe.close()


def wait_seen(watch: DiagnosticsWatch, nodes: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(n in watch.first_seen for n in nodes):
        time.sleep(0.05)


def usage(runner: SuiteRunner, seconds: float) -> dict[str, dict[str, float]]:
    processes = {node.spec.fqn: psutil.Process(node.popen.pid) for node in runner.nodes
                 if node.alive()}
    before = {fqn: sum(p.cpu_times()[:2]) for fqn, p in processes.items()}
    time.sleep(seconds)
    return {fqn: {"cpu_percent": 100 * (sum(p.cpu_times()[:2]) - before[fqn]) / seconds,
                  "rss_mb": p.memory_info().rss / 2**20}
            for fqn, p in processes.items()}


def start_and_time(specs: list[NodeSpec], watch: DiagnosticsWatch, run_dir, timeout=120.0):
    watch.first_seen.clear()
    runner = SuiteRunner(specs, run_dir, stream=None, report=lambda t: None)
    started = time.monotonic()
    runner.start()
    wait_seen(watch, [s.fqn for s in specs], timeout)
    startup = {s.fqn: watch.first_seen.get(s.fqn, float("nan")) - started for s in specs}
    return runner, startup


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    run_dir = run_folder("footprint")
    bench_environment(run_dir)
    specs = suite_specs()
    idle_specs = [NodeSpec(s.executable, s.name, s.namespace, s.group,
                           {**s.parameters, "enabled": s.executable not in SOURCES}, s.remaps)
                  for s in specs]
    watch = DiagnosticsWatch()
    try:
        alone = {}
        for spec in idle_specs:
            runner, startup = start_and_time([spec], watch, run_dir / f"alone-{spec.name}")
            alone[spec.fqn] = startup[spec.fqn]
            runner.stop()
        runner, suite_startup = start_and_time(idle_specs, watch, run_dir / "suite")
        time.sleep(2.0)
        idle = usage(runner, args.seconds)
        for spec in specs:
            if spec.executable in SOURCES:
                watch.probe.set_parameters(spec.fqn, {"enabled": True})
        time.sleep(3.0)
        loaded = usage(runner, args.seconds)
        runner.stop()
    finally:
        watch.close()
    results = {"command": command_line(), "machine": machine(), "startup_alone_s": alone,
               "startup_suite_s": suite_startup, "idle": idle, "load": loaded,
               "suite_startup_s": max(suite_startup.values())}
    (run_dir / "results.json").write_text(json.dumps(results, indent=2))
    print(f"# {results['command']}\n# {results['machine']}\n")
    print("| node | start-up alone s | start-up in suite s | idle CPU % | idle RSS MB | "
          "load CPU % | load RSS MB |")
    print("|---|---|---|---|---|---|---|")
    for spec in specs:
        i, lo = idle.get(spec.fqn, {}), loaded.get(spec.fqn, {})
        print(f"| {spec.fqn} | {alone[spec.fqn]:.1f} | {suite_startup[spec.fqn]:.1f} | "
              f"{i.get('cpu_percent', float('nan')):.1f} | {i.get('rss_mb', float('nan')):.0f} | "
              f"{lo.get('cpu_percent', float('nan')):.1f} | {lo.get('rss_mb', float('nan')):.0f} |")
    print(f"\nwhole suite start-up (all nodes reporting): {results['suite_startup_s']:.1f} s")
    print(f"raw figures: {run_dir / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
