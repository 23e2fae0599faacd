"""Footprint (issue 9, comparison 6): start-up time, RSS and CPU of each node, idle and under
load, and the start-up time of the whole suite (config/suite.yaml on the bundled media).

    .venv/bin/python -m bench.bench_footprint [--seconds 10] [--windows 3] [--repeats 2]
                                              [--out DIR]

start-up: process spawn -> its first /diagnostics status (module imports, rclpy, model loads).
  'alone': each node started by itself; 'suite': all at once (they compete for the 2 cores);
  both --repeats times.
idle: sources disabled (enabled:=false), so detectors get no input; load: sources enabled at
  the config's rates. CPU = (user+system CPU s) / wall s of the process, RSS at the end, over
  each of --windows windows of --seconds (on the first suite start).
"""

from __future__ import annotations

import argparse
import time

import psutil

from bench.common import facts, open_run, spread, write_results
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


def usage(runner: SuiteRunner, seconds: float, windows: int) -> dict[str, dict[str, list]]:
    """Per node, CPU % and RSS MB of each of `windows` consecutive windows."""
    processes = {node.spec.fqn: psutil.Process(node.popen.pid) for node in runner.nodes
                 if node.alive()}
    figures: dict[str, dict[str, list]] = {f: {"cpu_percent": [], "rss_mb": []}
                                            for f in processes}
    for _ in range(windows):
        before = {fqn: sum(p.cpu_times()[:2]) for fqn, p in processes.items()}
        started = time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - started
        for fqn, process in processes.items():
            figures[fqn]["cpu_percent"].append(
                100 * (sum(process.cpu_times()[:2]) - before[fqn]) / elapsed)
            figures[fqn]["rss_mb"].append(process.memory_info().rss / 2**20)
    return figures


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
    parser.add_argument("--seconds", type=float, default=10.0, help="length of one window")
    parser.add_argument("--windows", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2, help="start-ups of each kind")
    args, run_dir = open_run("footprint", parser, argv)
    specs = suite_specs()
    idle_specs = [NodeSpec(s.executable, s.name, s.namespace, s.group,
                           {**s.parameters, "enabled": s.executable not in SOURCES}, s.remaps)
                  for s in specs]
    alone: dict[str, list[float]] = {s.fqn: [] for s in specs}
    in_suite: dict[str, list[float]] = {s.fqn: [] for s in specs}
    watch = DiagnosticsWatch()
    try:
        for repeat in range(args.repeats):
            for spec in idle_specs:
                runner, startup = start_and_time([spec], watch,
                                                 run_dir / f"alone-{spec.name}-{repeat}")
                alone[spec.fqn].append(startup[spec.fqn])
                runner.stop()
            runner, startup = start_and_time(idle_specs, watch, run_dir / f"suite-{repeat}")
            for fqn, seconds in startup.items():
                in_suite[fqn].append(seconds)
            if repeat == 0:
                idle, loaded = idle_and_load(runner, watch, specs, args)
            runner.stop()
    finally:
        watch.close()
    results = {**facts(), "startup_alone_s": alone,
               "startup_suite_s": in_suite, "idle": idle, "load": loaded,
               "suite_startup_s": [max(run) for run in zip(*in_suite.values(), strict=True)],
               "window_s": args.seconds}
    print_report(results, specs)
    print(f"raw figures: {write_results(run_dir, results)}")
    return 0


def idle_and_load(runner: SuiteRunner, watch: DiagnosticsWatch, specs: list[NodeSpec], args):
    """Usage with the sources paused, then with them enabled at the config's rates."""
    time.sleep(2.0)
    idle = usage(runner, args.seconds, args.windows)
    for spec in specs:
        if spec.executable in SOURCES:
            watch.probe.set_parameters(spec.fqn, {"enabled": True})
    time.sleep(3.0)
    return idle, usage(runner, args.seconds, args.windows)


def print_report(results: dict, specs: list[NodeSpec]) -> None:
    print(f"# {results['command']}\n# {results['machine']}\n")
    print("| node | start-up alone s | start-up in suite s | idle CPU % | idle RSS MB | "
          "load CPU % | load RSS MB |")
    print("|---|---|---|---|---|---|---|")
    for spec in specs:
        cells = [spread(results["startup_alone_s"][spec.fqn]),
                 spread(results["startup_suite_s"][spec.fqn])]
        for phase in ("idle", "load"):
            figures = results[phase].get(spec.fqn)
            cells += ([spread(figures["cpu_percent"]), spread(figures["rss_mb"])] if figures
                      else ["n/a", "n/a"])
        print(f"| {spec.fqn} | " + " | ".join(cells) + " |")
    print(f"\nwhole suite start-up (all nodes reporting): {spread(results['suite_startup_s'])} s")


if __name__ == "__main__":
    raise SystemExit(main())
