"""Branch profiles: what each branch of a gated model costs on this device, cached on disk.

A profile holds, per branch, the MEASURED latency (wall time, p50 and p95) and CPU time of stage
A and stage B on each core class (pinned to the class's CPUs, one intra-op thread per CPU) and
on "any" core (all CPUs, one thread, placed by the kernel), and the memory the branch takes;
accuracy and the share of inputs that reach stage B come from the model's own evaluation
(evaluation.json, else the manifest's branch metrics) and are merged at load time, so a
re-evaluated model needs no new profiling run.

Memory: `memory_bytes` = max(RSS delta of loading the branch's two sessions, ONNX file bytes).
The RSS delta is measured in the profiling process (glibc free memory is handed back to the OS
before each load); it can still under-count when the allocator reuses memory of an earlier
branch, so the ONNX size (the weights a session must hold) is the floor.

Cache: one JSON file per model in the cache folder (default ~/.cache/gc_perception/profiles,
$XDG_CACHE_HOME honoured), named by model id and key. The key hashes what the figures depend
on: the model files' sha256 (from the manifest, which the runtime verifies), the CPU model
(/proc/cpuinfo), the core classes, the onnxruntime version and the profile format. A cache with
the same key is fresh; anything else is profiled again.

Online refinement (`LatencyCorrections`): the manager compares the latency a detector reports
with the policy's prediction for the branch and placement in use, and keeps an EWMA of
observed/predicted per node and per (node, branch); a branch that has not run takes the node's.
Not per placement: a factor learnt only for the placement in use would make every untried
placement look better than the measured one, and the node would hop between them (seen on this
project's 2-core VM). It fades back to 1 when it is not refreshed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import platform
from collections.abc import Hashable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from gc_perception.adascale.topology import CoreTopology
from gc_perception.gating.manifest import Manifest

FORMAT_VERSION = 2
ANY_CORE = "any"  # pseudo core class: every CPU, one thread, the kernel chooses where it runs
STAGES = ("a", "b")
CPUINFO = Path("/proc/cpuinfo")
# Where a branch's evaluation keeps an accuracy figure of its gated path, in order of preference
# (keyword spotting: accuracy.gated); detection evaluations have none and use F1 instead.
_ACCURACY_PATHS = (("accuracy", "gated"), ("accuracy",), ("gate", "accuracy_gated"))


@dataclass(frozen=True)
class StageCost:
    """One stage on one core class: median and p95 wall time, median CPU time (ms)."""

    wall_ms: float
    wall_p95_ms: float
    cpu_ms: float


@dataclass(frozen=True)
class BranchProfile:
    """What one branch costs here and what it is worth (see the module docstring)."""

    branch: str
    stage_costs: dict[str, dict[str, StageCost]]  # "a" | "b" -> core class -> cost
    memory_bytes: int
    rss_delta_bytes: int
    onnx_bytes: int
    accuracy: float | None = None
    accuracy_source: str = "unknown"
    pass_rate: float = 1.0  # share of inputs that reach stage B (prior; 1 = always)

    def cost(self, stage: str, core_class: str) -> StageCost:
        return self.stage_costs[stage][core_class]

    def core_classes(self) -> frozenset[str]:
        """Core classes measured for both stages."""
        return frozenset(self.stage_costs["a"]) & frozenset(self.stage_costs["b"])


@dataclass(frozen=True)
class ModelProfile:
    """All branches of one model as profiled on this device, with the cache key they belong to."""

    model_id: str
    key: str
    cpu_model: str
    created: float
    runs: int
    branches: dict[str, BranchProfile]
    format_version: int = FORMAT_VERSION
    notes: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> ModelProfile:
        data = json.loads(text)
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"profile format {data.get('format_version')!r}, "
                             f"expected {FORMAT_VERSION}")
        branches = {name: _branch_from_dict(b) for name, b in data.pop("branches").items()}
        return cls(**data, branches=branches)


def _branch_from_dict(data: dict[str, Any]) -> BranchProfile:
    costs = {stage: {cls: StageCost(**cost) for cls, cost in by_class.items()}
             for stage, by_class in data.pop("stage_costs").items()}
    return BranchProfile(**data, stage_costs=costs)


def class_cpus(topology: CoreTopology, core_class: str) -> list[int]:
    """The CPUs a stage on `core_class` may use (ANY_CORE: all CPUs of the topology)."""
    if core_class == ANY_CORE:
        return sorted(cpu for cpus in topology.classes.values() for cpu in cpus)
    return topology.cpus(core_class)


def class_threads(topology: CoreTopology, core_class: str) -> int:
    """Intra-op threads of a stage on `core_class`: one per CPU when pinned, one when not."""
    return 1 if core_class == ANY_CORE else len(class_cpus(topology, core_class))


def profiled_classes(topology: CoreTopology) -> list[str]:
    """The classes a profile measures: every class with CPUs, and ANY_CORE."""
    return [name for name, cpus in topology.classes.items() if cpus] + [ANY_CORE]


# --- cache ------------------------------------------------------------------------------------
def cpu_model_name(cpuinfo: Path = CPUINFO) -> str:
    """The CPU model as /proc/cpuinfo names it ('model name', Arm: 'Hardware'/'CPU part')."""
    with contextlib.suppress(OSError):
        for wanted in ("model name", "Hardware", "CPU part"):
            for line in cpuinfo.read_text().splitlines():
                key, _, value = line.partition(":")
                if key.strip() == wanted and value.strip():
                    return value.strip()
    return platform.processor() or platform.machine()


def profile_key(
    manifest: Manifest, cpu_model: str, topology: CoreTopology, runtime_version: str
) -> str:
    """Hash of everything the measured figures depend on (see the module docstring)."""
    files = {name: [b.stage_a.sha256, b.stage_b.sha256, list(b.input_shape)]
             for name, b in sorted(manifest.branches.items())}
    basis = {
        "format": FORMAT_VERSION,
        "model_id": manifest.model_id,
        "files": files,
        "cpu_model": cpu_model,
        "core_classes": {name: cpus for name, cpus in sorted(topology.classes.items())},
        "onnxruntime": runtime_version,
    }
    return hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gc_perception" / "profiles"


def cache_path(cache_dir: str | Path, model_id: str, key: str) -> Path:
    return Path(cache_dir) / f"{model_id}-{key[:16]}.json"


def load_cached(cache_dir: str | Path, model_id: str, key: str) -> ModelProfile | None:
    """The cached profile with this key, or None (missing, unreadable or another key)."""
    path = cache_path(cache_dir, model_id, key)
    try:
        profile = ModelProfile.from_json(path.read_text())
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return profile if profile.key == key else None


def save_profile(profile: ModelProfile, cache_dir: str | Path) -> Path:
    """Write atomically (a reader never sees half a file)."""
    path = cache_path(cache_dir, profile.model_id, profile.key)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_text(profile.to_json())
    os.replace(partial, path)
    return path


# --- accuracy from the model's evaluation ------------------------------------------------------
def with_evaluation(profile: ModelProfile, manifest: Manifest) -> ModelProfile:
    """The profile with each branch's accuracy and pass rate from evaluation.json / metrics."""
    evaluation = _read_evaluation(manifest.folder / "evaluation.json")
    branches = {}
    for name, branch in profile.branches.items():
        figures, source = evaluation.get(name), "evaluation.json"
        if figures is None:
            spec = manifest.branches.get(name)
            figures, source = (spec.metrics if spec else {}), "manifest metrics"
        accuracy, how = branch_accuracy(figures)
        branches[name] = replace(
            branch,
            accuracy=accuracy,
            accuracy_source=f"{source}: {how}" if accuracy is not None else "unknown",
            pass_rate=_open_rate(figures),
        )
    return replace(profile, branches=branches)


def _read_evaluation(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    branches = data.get("branches")
    return branches if isinstance(branches, dict) else {}


def branch_accuracy(figures: Mapping[str, Any]) -> tuple[float | None, str]:
    """Accuracy of a branch's gated path and how it was read: an accuracy figure, else F1.

    Detection evaluations give precision/recall of the gated path (under "gate"); their F1 is
    the accuracy proxy. Returns (None, "") when neither is there.
    """
    for path in _ACCURACY_PATHS:
        value = _lookup(figures, path)
        if _is_number(value):
            return float(value), ".".join(path)
    gate = figures.get("gate", {})
    precision, recall = gate.get("precision_gated"), gate.get("recall_gated")
    if _is_number(precision) and _is_number(recall):
        total = precision + recall
        return (2 * precision * recall / total if total else 0.0), "F1 of precision/recall_gated"
    return None, ""


def _lookup(figures: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = figures
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _open_rate(figures: Mapping[str, Any]) -> float:
    """Share of the test inputs whose gate opened (1.0 when unknown: the costly assumption)."""
    value = figures.get("gate", {}).get("open_rate")
    return float(value) if _is_number(value) and 0.0 <= value <= 1.0 else 1.0


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# --- online refinement -------------------------------------------------------------------------
class LatencyCorrections:
    """EWMA of observed/predicted latency per node and per (node, branch), fading back to 1.

    A branch's own figure once it has run, else the node's (what every branch of it has shown):
    what the load model misses is partly the node's (its cores, its neighbours) and partly the
    branch's (fixed hand-off costs weigh more on a small network, so a factor learnt on int8_160
    overstates fp32_224). weight: EWMA weight of a new observation (0 turns refinement off).
    half_life_s: an unrefreshed correction moves half way back to 1 in this time. Ratios are
    clamped to [1/limit, limit] so one bad reading cannot throw the policy far off.
    """

    def __init__(self, weight: float = 0.3, half_life_s: float = 60.0, limit: float = 4.0):
        self.weight, self.half_life_s, self.limit = weight, half_life_s, limit
        self._ratios: dict[Hashable, tuple[float, float]] = {}  # key -> (ratio, stamp)

    def observe(self, node: str, branch: str, ratio: float, now: float) -> None:
        """One observed/predicted ratio of `node` running `branch`."""
        if self.weight <= 0 or ratio <= 0:
            return
        ratio = min(max(ratio, 1 / self.limit), self.limit)
        for key in (node, (node, branch)):
            previous = self._faded(key, now)
            self._ratios[key] = (previous + self.weight * (ratio - previous), now)

    def factor(self, node: str, branch: str, now: float) -> float:
        """The correction of `branch` on `node` now (the node's if the branch has not run)."""
        key = (node, branch) if (node, branch) in self._ratios else node
        return self._faded(key, now)

    def _faded(self, key: Hashable, now: float) -> float:
        if key not in self._ratios:
            return 1.0
        ratio, stamp = self._ratios[key]
        fade = 0.5 ** (max(0.0, now - stamp) / self.half_life_s)
        return 1.0 + (ratio - 1.0) * fade

    def forget(self, node: str) -> None:
        """Drop a node's corrections (e.g. it restarted)."""
        self._ratios = {key: value for key, value in self._ratios.items()
                        if key != node and not (isinstance(key, tuple) and key[0] == node)}
