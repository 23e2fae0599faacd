"""What the benchmarks share: their own ROS domain and run folder, their facts, and figure
formatting."""

from __future__ import annotations

import argparse
import json
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


def run_folder(name: str, out: str | None = None) -> Path:
    """`out` (the runner's choice) or a fresh runs/bench/<name>-<stamp> folder."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder = Path(out) if out else Path("runs") / "bench" / f"{name}-{stamp}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def add_out_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="", help="folder for results.json and logs "
                        "(default: a new runs/bench/<name>-<stamp>)")


def open_run(name: str, parser: argparse.ArgumentParser,
             argv: list[str] | None) -> tuple[argparse.Namespace, Path]:
    """A bench's arguments (plus --out), its run folder, and its localhost-only ROS env."""
    add_out_argument(parser)
    args = parser.parse_args(argv)
    run_dir = run_folder(name, args.out)
    bench_environment(run_dir)
    return args, run_dir


def facts() -> dict[str, str]:
    """The command and machine, first keys of every results.json."""
    return {"command": command_line(), "machine": machine()}


def append_repeat(entry: dict, figures: dict) -> None:
    """Add one repeat's numbers to the per-repeat lists of `entry` (nested dicts follow)."""
    for key, value in figures.items():
        if isinstance(value, dict):
            append_repeat(entry.setdefault(key, {}), value)
        else:
            entry.setdefault(key, []).append(value)


def write_results(folder: Path, results: dict) -> Path:
    path = folder / "results.json"
    path.write_text(json.dumps(results, indent=1))
    return path


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
