"""`make demo`: the whole suite on the bundled media for a bounded time, then a summary.

    python -m gc_perception.suite.demo [--duration 40] [--video URI] [--audio URI]
                                       [--namespaces cam_a,cam_b] [--groups vision,monitor]

Starts every node of config/suite.yaml with the runner (logs in runs/demo/logs/), waits until
the detectors report, runs for --duration seconds printing progress, stops everything it
started and prints a table per detector, also written to runs/demo/summary.json. All figures
come from the suite's own topics during the run. Energy figures are ESTIMATES (CPU time x
configured per-core-class power, config/device.yaml).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from gc_perception import ros_env
from gc_perception.events import EventError, parse_event
from gc_perception.suite.runner import SuiteRunner
from gc_perception.suite.spec import NodeSpec, suite_options, suite_specs
from gc_perception.suite.summary import SuiteTally, format_table

DETECTOR_OUTPUTS = {"vision_detector": ("detections", "on_detection"),
                    "audio_detector": ("keywords", "on_keyword")}


class SuiteRecorder:
    """Subscribes to the suite's outputs and feeds a SuiteTally (rclpy, background thread)."""

    def __init__(self, specs: list[NodeSpec], tally: SuiteTally) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.qos import DurabilityPolicy, QoSProfile
        from std_msgs.msg import String

        from gc_perception.nodes.background import BackgroundNode

        self.tally = tally
        self._background = BackgroundNode("gc_demo_recorder")
        node = self._background.node
        events = QoSProfile(depth=100)
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        for spec in specs:
            if spec.executable in DETECTOR_OUTPUTS:
                topic, handler = DETECTOR_OUTPUTS[spec.executable]
                node.create_subscription(String, f"{spec.fqn}/{topic}",
                                         self._events(getattr(tally, handler)), events)
            elif spec.executable == "adascale_manager":
                node.create_subscription(String, f"{spec.namespace}/adascale/decisions",
                                         self._events(tally.on_decision), events)
            elif spec.executable == "resource_monitor":
                node.create_subscription(String, f"{spec.namespace}/device_state",
                                         self._device_state, latched)
        node.create_subscription(DiagnosticArray, "/diagnostics", self._diagnostics, events)

    @staticmethod
    def _events(handler):
        def receive(message) -> None:
            # a malformed event is the publisher's bug; the tally stays consistent
            with contextlib.suppress(EventError, KeyError, TypeError, ValueError):
                handler(parse_event(message.data))
        return receive

    def _device_state(self, message) -> None:
        with contextlib.suppress(json.JSONDecodeError):
            self.tally.device_state = json.loads(message.data)

    def _diagnostics(self, message) -> None:
        for status in message.status:
            self.tally.on_diagnostics(status.name, {kv.key: kv.value for kv in status.values})

    def close(self) -> None:
        self._background.close()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=40.0,
                        help="seconds of running once the detectors are up (default 40)")
    parser.add_argument("--startup-timeout", type=float, default=120.0)
    parser.add_argument("--config", help="suite YAML (default: config/suite.yaml)")
    parser.add_argument("--video", help="replace the bundled video: file, folder, device, URL")
    parser.add_argument("--audio", help="replace the bundled audio: WAV file or folder")
    parser.add_argument("--namespaces", default="", help="device namespaces (fleet)")
    parser.add_argument("--groups", default="", help="groups to run (default: all)")
    parser.add_argument("--run-dir", default="runs/demo")
    parser.add_argument("--domain-id", type=int, help="ROS_DOMAIN_ID (default: one per run)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ["ROS_DOMAIN_ID"] = str(args.domain_id or 1 + os.getpid() % 200)
    ros_env.configure()
    specs = suite_specs(args.config, suite_options(args.namespaces, args.groups, args.video,
                                                   args.audio))
    run_dir = Path(args.run_dir)
    shutil.rmtree(run_dir / "logs", ignore_errors=True)
    detectors = [s.fqn for s in specs if s.executable in DETECTOR_OUTPUTS]
    tally = SuiteTally(detectors)
    runner = SuiteRunner(specs, run_dir, stream=None, report=lambda t: print(f"[runner] {t}"))
    print(f"[demo] {len(specs)} nodes on ROS_DOMAIN_ID={os.environ['ROS_DOMAIN_ID']} "
          f"(localhost only); logs in {run_dir}/logs")
    recorder = SuiteRecorder(specs, tally)
    started = time.monotonic()
    try:
        runner.start()
        ready = runner.supervise(lambda: len(tally.reporting()) == len(detectors),
                                 args.startup_timeout, _every(5.0, lambda: print(
                                     f"[demo] starting: {len(tally.reporting())}/"
                                     f"{len(detectors)} detectors up")))
        print(f"[demo] {'all detectors up' if ready else 'startup timed out'} after "
              f"{time.monotonic() - started:.1f} s; running {args.duration:.0f} s")
        window_start = time.monotonic()
        runner.supervise(lambda: False, args.duration, _every(5.0, lambda: print(
            "[demo] " + tally.progress_line(time.monotonic() - window_start))))
    except KeyboardInterrupt:
        print("[demo] interrupted")
    finally:
        runner.stop()
        recorder.close()
    return report(args, specs, runner, tally, run_dir)


def report(args, specs, runner: SuiteRunner, tally: SuiteTally, run_dir: Path) -> int:
    restarts = {node.spec.fqn: node.restarts for node in runner.nodes}
    rows = tally.rows(restarts)
    print("\n" + format_table(rows))
    print("* energy: ESTIMATE = CPU time x busy watts of the core class (config/device.yaml)")
    summary: dict[str, Any] = {
        "duration_s": args.duration,
        "ros_domain_id": int(os.environ["ROS_DOMAIN_ID"]),
        "nodes": [s.fqn for s in specs],
        "detectors": rows,
        "keywords": tally.keywords,
        "decisions": tally.decisions,
        "runner_events": runner.events,
        "device_state": tally.device_state,
        "energy_note": "estimate: CPU time x busy watts of the core class (config/device.yaml)",
    }
    path = run_dir / "summary.json"
    path.write_text(json.dumps(summary, indent=2, default=str))
    print(f"\nsummary written to {path}")
    missing = [row["node"] for row in rows if not row["inputs"]]
    if missing:
        print(f"[demo] no input processed by: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


def _every(period_s: float, action):
    """A tick callback that runs `action` at most once per `period_s`."""
    last = [time.monotonic()]

    def tick() -> None:
        if time.monotonic() - last[0] >= period_s:
            last[0] = time.monotonic()
            action()
    return tick


if __name__ == "__main__":
    sys.exit(main())
