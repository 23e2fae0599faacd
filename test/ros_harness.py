"""Integration-test harness: real node processes on localhost-only DDS, one ROS_DOMAIN_ID per run.

Nodes are started from their console scripts with --ros-args and a parameters file, logs go to
the run folder, and every process is stopped by its own PID. The probe is an rclpy node in the
test process that subscribes, publishes and calls parameter services, always waiting on
conditions with timeouts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from gc_perception import ros_env
from gc_perception.nodes.background import BackgroundNode
from gc_perception.suite.processes import stop_processes

VENV_BIN = Path(sys.executable).parent
DEFAULT_TIMEOUT_S = 10.0


def pick_domain_id() -> int:
    """A per-run domain (1-200), so parallel runs on one host never see each other."""
    explicit = os.environ.get("GC_TEST_DOMAIN_ID")
    return int(explicit) if explicit else 1 + os.getpid() % 200


def session_environment(run_dir: Path, domain_id: int) -> dict[str, str]:
    """Environment for the test process and its children: localhost DDS, own domain, own logs."""
    env = dict(os.environ)
    env.pop(ros_env.NETWORK_VARIABLE, None)  # tests always run localhost-only
    env["ROS_DOMAIN_ID"] = str(domain_id)
    env["ROS_LOG_DIR"] = str(run_dir / "ros_log")
    env["PYTHONUNBUFFERED"] = "1"
    ros_env.configure(env)
    return env


class NodeProcess:
    """One node process started by the harness; stopped (by PID) with SIGINT, then harder."""

    def __init__(self, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.argv = argv
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.popen = subprocess.Popen(
                argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_log(self, text: str, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        wait_until(lambda: text in self.log_text(), timeout, f"{text!r} in {self.log_path}")

    def stop(self, timeout: float = 8.0) -> int | None:
        stop_processes([self.popen], timeout)
        return self.popen.returncode


def write_params_file(path: Path, params: dict[str, Any]) -> Path:
    """A ROS 2 parameters file that applies to every node of the process ('/**')."""
    path.write_text(yaml.safe_dump({"/**": {"ros__parameters": params}}))
    return path


def node_argv(
    executable: str,
    name: str,
    namespace: str = "",
    params_file: Path | None = None,
    remaps: dict[str, str] | None = None,
) -> list[str]:
    argv = [str(VENV_BIN / executable), "--ros-args", "-r", f"__node:={name}"]
    if namespace:
        argv += ["-r", f"__ns:={namespace}"]
    if params_file is not None:
        argv += ["--params-file", str(params_file)]
    for source, target in (remaps or {}).items():
        argv += ["-r", f"{source}:={target}"]
    return argv


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `condition` until truthy; TimeoutError naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.1f} s waiting for {what}")
        time.sleep(0.02)


class Collector:
    """Messages received on one topic, with a condition wait."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.messages: list[Any] = []
        self._condition = threading.Condition()

    def add(self, message: Any) -> None:
        with self._condition:
            self.messages.append(message)
            self._condition.notify_all()

    def wait_for(
        self, predicate: Callable[[list[Any]], Any], timeout: float = DEFAULT_TIMEOUT_S
    ) -> list[Any]:
        """Wait until `predicate(messages)` is truthy; returns a snapshot of the messages."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while not predicate(self.messages):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"{self.topic}: condition not met after {timeout:.1f} s "
                        f"({len(self.messages)} messages received)"
                    )
                self._condition.wait(remaining)
            return list(self.messages)

    def wait_for_count(self, count: int, timeout: float = DEFAULT_TIMEOUT_S) -> list[Any]:
        return self.wait_for(lambda messages: len(messages) >= count, timeout)


class RosProbe(BackgroundNode):
    """The tests' rclpy node (own context, spun on a background thread)."""

    def __init__(self, name: str = "gc_test_probe") -> None:
        super().__init__(name)

    @staticmethod
    def _default_qos():
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        # best effort matches both reliable and best-effort publishers
        return QoSProfile(depth=100, reliability=ReliabilityPolicy.BEST_EFFORT)

    def subscribe(self, topic: str, msg_type: type, qos: Any = None) -> Collector:
        collector = Collector(topic)
        self.node.create_subscription(msg_type, topic, collector.add, qos or self._default_qos())
        return collector

    def wait_for_message(
        self,
        topic: str,
        msg_type: type,
        timeout: float = DEFAULT_TIMEOUT_S,
        predicate: Callable[[Any], bool] | None = None,
        qos: Any = None,
    ) -> Any:
        """First message on `topic` (satisfying `predicate`) within `timeout`."""
        accept = predicate or (lambda _message: True)
        collector = self.subscribe(topic, msg_type, qos)
        messages = collector.wait_for(lambda ms: any(accept(m) for m in ms), timeout)
        return next(m for m in messages if accept(m))

    def publisher(self, topic: str, msg_type: type, qos: Any = None):
        from rclpy.qos import QoSProfile

        return self.node.create_publisher(msg_type, topic, qos or QoSProfile(depth=10))

    def wait_for_subscribers(self, publisher, count: int = 1, timeout: float = DEFAULT_TIMEOUT_S):
        wait_until(
            lambda: publisher.get_subscription_count() >= count,
            timeout,
            f"{count} subscriber(s) on {publisher.topic_name}",
        )

    def publish_until(self, publisher, message: Any, condition: Callable[[], Any],
                      timeout: float = DEFAULT_TIMEOUT_S, period: float = 0.25) -> Any:
        """Publish `message` every `period` s until `condition()` holds: the first samples after
        discovery can be lost while the subscriber side is still matching the publisher."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            publisher.publish(message)
            try:
                return wait_until(condition, period, "condition")
            except TimeoutError:
                continue
        raise TimeoutError(f"{publisher.topic_name}: condition not met after {timeout:.1f} s")
