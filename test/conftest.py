"""Shared fixtures: a run folder and ROS_DOMAIN_ID per test session, node processes, a probe."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from ros_harness import (
    NodeProcess,
    RosProbe,
    node_argv,
    pick_domain_id,
    session_environment,
    write_params_file,
)

from gc_perception.suite.processes import clean_shared_memory

REPO_ROOT = Path(__file__).resolve().parent.parent
_RUN_DIR = Path(tempfile.mkdtemp(prefix="gc_perception_test_"))
_SESSION_ENV: dict[str, str] = {}


def pytest_configure(config: pytest.Config) -> None:
    """Localhost DDS and this session's domain for the test process, before rclpy loads."""
    _SESSION_ENV.update(session_environment(_RUN_DIR, pick_domain_id()))
    os.environ.update(_SESSION_ENV)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    clean_shared_memory(_SESSION_ENV)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Unit tests first: a broken core fails fast before any node process is started."""
    items.sort(key=lambda item: item.get_closest_marker("integration") is not None)


@pytest.fixture(scope="session")
def run_dir() -> Path:
    return _RUN_DIR


@pytest.fixture(scope="session")
def ros_probe() -> Iterator[RosProbe]:
    probe = RosProbe()
    yield probe
    probe.close()


@pytest.fixture
def launch_node(run_dir: Path, request: pytest.FixtureRequest):
    """Factory: start a node console script; every process is stopped by PID at test end."""
    started: list[NodeProcess] = []

    def launch(
        executable: str,
        name: str,
        *,
        namespace: str = "",
        params: dict | None = None,
        remaps: dict[str, str] | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> NodeProcess:
        stem = f"{request.node.name}-{namespace.strip('/').replace('/', '_')}-{name}-{len(started)}"
        params_file = write_params_file(run_dir / f"{stem}.yaml", params) if params else None
        argv = node_argv(executable, name, namespace, params_file, remaps)
        process = NodeProcess(argv, {**_SESSION_ENV, **(extra_env or {})}, run_dir / f"{stem}.log")
        started.append(process)
        return process

    def command(argv: list[str], name: str) -> NodeProcess:
        """Any other program of ours (e.g. the runner), same environment and cleanup."""
        process = NodeProcess(argv, dict(_SESSION_ENV), run_dir / f"{request.node.name}-{name}.log")
        started.append(process)
        return process

    launch.command = command
    yield launch
    for process in started:
        process.stop()
        print(f"--- {process.log_path.name} (exit {process.popen.returncode}) ---")
        print(process.log_text()[-3000:])
