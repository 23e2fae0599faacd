"""Branch profiler: measures every branch of a gated model on each core class of this device.

    gc-perception-profile [MODEL ...] [--runs 30] [--cache-dir DIR] [--force]

MODEL is a shipped model id or a manifest path; default: the models named in the goals file
(config/adascale.yaml). For each branch the profiler loads the branch in a fresh GatedModel
(the RSS delta is its memory), then, for each core class, pins both stages to that class's CPUs
with one intra-op thread per CPU, and for "any" core gives them all CPUs and one thread (the
placements the manager applies), and times `runs` ungated inferences (stage B always runs) after
`warmup` runs; medians and p95 go into the profile.
The input is fixed random data: these networks have no data-dependent control flow, and the
gate is bypassed. A 5-branch vision model takes a few seconds.

Run it on a quiet device: figures measured under load carry that load (the manager's online
refinement corrects them, slowly). The manager runs the same code at start, in a background
thread, for a model that has no fresh cache.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime
import psutil
import yaml

from gc_perception.adascale.energy import default_device_config
from gc_perception.adascale.profiles import (
    STAGES,
    BranchProfile,
    ModelProfile,
    StageCost,
    class_cpus,
    class_threads,
    cpu_model_name,
    default_cache_dir,
    load_cached,
    profile_key,
    profiled_classes,
    save_profile,
    with_evaluation,
)
from gc_perception.adascale.topology import CoreTopology, load_topology
from gc_perception.gating.gated_model import GatedModel
from gc_perception.gating.manifest import Manifest, load_manifest
from gc_perception.resources import find_config, find_model_manifest

DEFAULT_RUNS = 30
DEFAULT_WARMUP = 3


def ensure_profile(
    manifest_path: str | Path,
    topology: CoreTopology,
    cache_dir: str | Path | None = None,
    runs: int = DEFAULT_RUNS,
    force: bool = False,
) -> tuple[ModelProfile, str]:
    """The model's profile from a fresh cache, else measured now and cached; with accuracy.

    Returns (profile, "cache" | "profiled").
    """
    cached = None if force else cached_profile(manifest_path, topology, cache_dir)
    if cached is not None:
        return cached, "cache"
    manifest = load_manifest(manifest_path)
    key = profile_key(manifest, cpu_model_name(), topology, onnxruntime.__version__)
    profile = measure_model(manifest_path, topology, key, runs)
    save_profile(profile, cache_dir or default_cache_dir())
    return with_evaluation(profile, manifest), "profiled"


def cached_profile(
    manifest_path: str | Path, topology: CoreTopology, cache_dir: str | Path | None = None
) -> ModelProfile | None:
    """The model's profile from a fresh cache (with accuracy), None when there is none."""
    manifest = load_manifest(manifest_path)
    key = profile_key(manifest, cpu_model_name(), topology, onnxruntime.__version__)
    cached = load_cached(Path(cache_dir) if cache_dir else default_cache_dir(),
                         manifest.model_id, key)
    return None if cached is None else with_evaluation(cached, manifest)


def measure_model(
    manifest_path: str | Path,
    topology: CoreTopology,
    key: str,
    runs: int = DEFAULT_RUNS,
    warmup: int = DEFAULT_WARMUP,
) -> ModelProfile:
    """Measure every branch (see the module docstring)."""
    manifest = load_manifest(manifest_path)
    started = time.monotonic()
    branches = {name: _measure_branch(manifest, Path(manifest_path), name, topology, runs, warmup)
                for name in manifest.branches}
    return ModelProfile(
        model_id=manifest.model_id, key=key, cpu_model=cpu_model_name(), created=time.time(),
        runs=runs, branches=branches,
        notes={"seconds": round(time.monotonic() - started, 2),
               "onnxruntime": onnxruntime.__version__,
               "memory": "max(RSS delta of loading the branch, ONNX bytes)",
               "latency": "wall ms of each stage, ungated runs, p50/p95"},
    )


def _measure_branch(manifest: Manifest, path: Path, name: str, topology: CoreTopology,
                    runs: int, warmup: int) -> BranchProfile:
    spec = manifest.branch(name)
    onnx_bytes = sum(manifest.file_path(s.file).stat().st_size
                     for s in (spec.stage_a, spec.stage_b))
    tensor = np.random.default_rng(0).standard_normal(spec.input_shape).astype(np.float32)
    rss_before = _settled_rss()
    costs: dict[str, dict[str, StageCost]] = {stage: {} for stage in STAGES}
    with GatedModel(path, preload=[name]) as model:
        rss_delta = max(0, psutil.Process().memory_info().rss - rss_before)
        for core_class in profiled_classes(topology):
            cpus = frozenset(class_cpus(topology, core_class))
            for stage in STAGES:
                model.configure_stage(stage, class_threads(topology, core_class), cpus)
            measured = _time_runs(model, tensor, runs, warmup)
            for stage in STAGES:
                costs[stage][core_class] = measured[stage]
    return BranchProfile(name, costs, max(rss_delta, onnx_bytes), rss_delta, onnx_bytes)


def _time_runs(model: GatedModel, tensor: np.ndarray, runs: int,
               warmup: int) -> dict[str, StageCost]:
    for _ in range(warmup):
        model.infer(tensor, gated=False)
    wall: dict[str, list[float]] = {stage: [] for stage in STAGES}
    cpu: dict[str, list[float]] = {stage: [] for stage in STAGES}
    for _ in range(runs):
        result = model.infer(tensor, gated=False)
        for stage, timing in (("a", result.stage_a), ("b", result.stage_b)):
            wall[stage].append(timing.wall_ms)
            cpu[stage].append(timing.cpu_ms)
    return {stage: StageCost(float(np.median(wall[stage])), float(np.percentile(wall[stage], 95)),
                             float(np.median(cpu[stage]))) for stage in STAGES}


def _settled_rss() -> int:
    """RSS after freed memory went back to the OS (glibc malloc_trim), so deltas are the load's."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return psutil.Process().memory_info().rss


def goal_models(goals_file: str | Path) -> list[str]:
    """The `model` of every node in a goals file (order kept, duplicates dropped)."""
    data = yaml.safe_load(Path(goals_file).read_text()) or {}
    models = [fields.get("model") for fields in (data.get("nodes") or {}).values()]
    return list(dict.fromkeys(m for m in models if isinstance(m, str) and m))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="model ids or manifest paths "
                        "(default: the models of config/adascale.yaml)")
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS)
    parser.add_argument("--cache-dir", default="", help=f"default {default_cache_dir()}")
    parser.add_argument("--device-config", default="", help="default config/device.yaml")
    parser.add_argument("--force", action="store_true", help="measure even with a fresh cache")
    args = parser.parse_args(argv)
    topology = load_topology(args.device_config or default_device_config())
    models = args.models or goal_models(find_config("adascale.yaml"))
    for model in models:
        profile, source = ensure_profile(find_model_manifest(model), topology,
                                         args.cache_dir or None, args.runs, args.force)
        print(format_profile(profile, source))
    return 0


def format_profile(profile: ModelProfile, source: str) -> str:
    """A human table of a profile: one row per branch and core class."""
    lines = [f"{profile.model_id} ({source}, {profile.cpu_model}, {profile.runs} runs)",
             f"  {'branch':<10} {'class':<12} {'A p50':>7} {'B p50':>7} {'A+B p95':>8} "
             f"{'CPU ms':>7} {'MB':>6} {'accuracy':>9}"]
    for name, branch in profile.branches.items():
        for core_class in sorted(branch.core_classes()):
            a, b = branch.cost("a", core_class), branch.cost("b", core_class)
            accuracy = "n/a" if branch.accuracy is None else f"{branch.accuracy:.3f}"
            lines.append(f"  {name:<10} {core_class:<12} {a.wall_ms:7.2f} {b.wall_ms:7.2f} "
                         f"{a.wall_p95_ms + b.wall_p95_ms:8.2f} {a.cpu_ms + b.cpu_ms:7.2f} "
                         f"{branch.memory_bytes / 1e6:6.1f} {accuracy:>9}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
