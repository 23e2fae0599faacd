"""What the benchmarks share: their own ROS domain and run folder, and figure formatting."""

from __future__ import annotations

import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from gc_perception import ros_env

BENCH_DOMAIN_BASE = 201  # 201-230: away from the tests' 1-200


def bench_environment(run_dir: Path) -> dict[str, str]:
    """This process's env set for localhost-only DDS on a bench-only ROS_DOMAIN_ID."""
    os.environ["ROS_DOMAIN_ID"] = str(BENCH_DOMAIN_BASE + os.getpid() % 30)
    os.environ["ROS_LOG_DIR"] = str(run_dir / "ros_log")
    ros_env.configure()
    return dict(os.environ)


def run_folder(name: str) -> Path:
    folder = Path("runs") / "bench" / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def command_line() -> str:
    return " ".join([".venv/bin/python -m", sys.modules["__main__"].__spec__.name,
                     *map(shlex.quote, sys.argv[1:])])


def machine() -> str:
    """What the figures were measured on (CPU model as the profiler keys it)."""
    from gc_perception.adascale.profiles import cpu_model_name

    return f"{cpu_model_name()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def spread(values: list[float]) -> str:
    """median [min-max] of repeated measurements."""
    array = np.asarray(values, dtype=float)
    return f"{np.median(array):.2f} [{array.min():.2f}-{array.max():.2f}]"
