"""The pip-only runner: starts the suite's nodes as processes from NodeSpecs (no ROS launch).

Each node's output is streamed with a '[namespace/name]' prefix (or written to a log file per
node), a node that dies is restarted with back-off (reported), and stop() ends every process
this runner started, by PID: SIGINT, then SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import yaml

from gc_perception import ros_env
from gc_perception.sources.frames import Backoff
from gc_perception.suite.processes import clean_shared_memory, stop_processes
from gc_perception.suite.spec import NodeSpec


def executable_path(name: str) -> str:
    """The console script next to this Python (the venv), else from PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"console script {name!r} not found (is gc_perception installed?)")
    return found


def label(spec: NodeSpec) -> str:
    return spec.fqn.lstrip("/")


@dataclass
class ManagedNode:
    """One node process and its restart bookkeeping."""

    spec: NodeSpec
    argv: list[str]
    popen: subprocess.Popen | None = None
    restarts: int = 0
    restart_at: float | None = None
    backoff: Backoff = field(default_factory=lambda: Backoff(1.0, 30.0))
    started_at: float = 0.0

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None


class SuiteRunner:
    """Starts, watches, restarts and stops the suite's node processes."""

    def __init__(
        self,
        specs: list[NodeSpec],
        run_dir: Path,
        env: dict[str, str] | None = None,
        stream: IO[str] | None = sys.stdout,
        restart: bool = True,
        report: Callable[[str], None] | None = None,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.env = dict(os.environ if env is None else env)
        ros_env.configure(self.env)
        self.stream = stream
        self.restart = restart
        self.report = report or (lambda text: self._emit("runner", text))
        self.events: list[dict[str, object]] = []
        self._lock = threading.Lock()
        self._stopping = False
        (self.run_dir / "params").mkdir(parents=True, exist_ok=True)
        (self.run_dir / "logs").mkdir(parents=True, exist_ok=True)
        self.nodes = [ManagedNode(spec, self._argv(spec)) for spec in specs]

    def _argv(self, spec: NodeSpec) -> list[str]:
        params_file = self.run_dir / "params" / f"{label(spec).replace('/', '__')}.yaml"
        params_file.write_text(yaml.safe_dump(spec.parameters_document()))
        return [executable_path(spec.executable), *spec.ros_arguments(params_file)]

    def _emit(self, who: str, text: str) -> None:
        if self.stream is None:
            return
        with self._lock:
            self.stream.write(f"[{who}] {text}\n")
            self.stream.flush()

    def start(self) -> None:
        for node in self.nodes:
            self._spawn(node)

    def _spawn(self, node: ManagedNode) -> None:
        log_path = self.run_dir / "logs" / f"{label(node.spec).replace('/', '__')}.log"
        log = log_path.open("ab")
        node.popen = subprocess.Popen(
            node.argv, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        node.started_at = time.monotonic()
        node.restart_at = None
        threading.Thread(
            target=self._pump, args=(node.popen, label(node.spec), log), daemon=True
        ).start()

    def _pump(self, popen: subprocess.Popen, who: str, log: IO[bytes]) -> None:
        """Copy a node's output to its log file and, prefixed, to the stream."""
        with log:
            for raw in iter(popen.stdout.readline, b""):
                log.write(raw)
                log.flush()
                self._emit(who, raw.decode(errors="replace").rstrip())

    def poll(self) -> None:
        """Notice dead nodes and restart them when their back-off has passed."""
        now = time.monotonic()
        for node in self.nodes:
            if self._stopping or node.popen is None or node.alive():
                if node.alive() and now - node.started_at > 30.0:
                    node.backoff.reset()  # it ran a while: the next failure starts fresh
                continue
            if node.restart_at is None:
                self._node_died(node, now)
            elif self.restart and now >= node.restart_at:
                node.restarts += 1
                self._record(node, "restarted", f"restart #{node.restarts}")
                self._spawn(node)

    def _node_died(self, node: ManagedNode, now: float) -> None:
        code = node.popen.returncode if node.popen else None
        if not self.restart:
            node.restart_at = float("inf")
            self._record(node, "exited", f"exit code {code}; not restarting")
            return
        delay = node.backoff.next_delay()
        node.restart_at = now + delay
        self._record(node, "died", f"exit code {code}; restarting in {delay:.1f} s")

    def _record(self, node: ManagedNode, event: str, detail: str) -> None:
        self.events.append({"time": time.time(), "node": node.spec.fqn, "event": event,
                            "detail": detail})
        self.report(f"{label(node.spec)}: {event} ({detail})")

    def run(self, duration: float | None = None, tick: Callable[[], None] | None = None) -> None:
        """Start, supervise until `duration` (None: until SIGINT/SIGTERM), then stop all."""
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
        self.start()
        try:
            self.supervise(lambda: False, duration, tick)
        except KeyboardInterrupt:
            self.report("interrupted: stopping the suite")
        finally:
            self.stop()
            signal.signal(signal.SIGTERM, previous)

    def supervise(
        self,
        done: Callable[[], bool],
        timeout: float | None = None,
        tick: Callable[[], None] | None = None,
    ) -> bool:
        """Poll (restarting dead nodes) until `done()` or `timeout` s; returns done()."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not done():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            self.poll()
            if tick is not None:
                tick()
            time.sleep(0.2)
        return True

    def stop(self, grace: float = 8.0) -> None:
        """End every node this runner started (by PID) and clean Fast DDS shared memory."""
        self._stopping = True
        stop_processes((node.popen for node in self.nodes if node.popen is not None), grace)
        clean_shared_memory(self.env)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
