"""A gated model at run time: stage A, the gate's early stop, the sparse handoff, stage B.

The gate formulation is ours (the GC papers publish none): stage A gives gate_score in [0, 1];
gate_score < threshold stops early, stage B is skipped and the result is a cheap negative.
`infer(..., gated=False)` is the ungated baseline on the same model: stage B always runs, so
gated and ungated figures compare side by side.

Branches switch atomically: an inference takes the current branch once, at its start, and
uses it for both stages; set_branch() loads and verifies the new branch fully before swapping.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gc_perception.gating.manifest import (
    Branch,
    ManifestError,
    load_manifest,
    read_verified,
)
from gc_perception.gating.stage_executor import (
    SessionSpec,
    StageConfig,
    StageExecutor,
    StagePlacement,
    StageTiming,
    TensorSpec,
)

STAGES = ("a", "b")


@dataclass(frozen=True)
class InferenceResult:
    """One input through the gated model.

    handoff_bytes: sparse encoding of the handoff, ceil(numel / 8) bitmap + nnz x itemsize;
    0 when stopped early (nothing is handed over). handoff_dense_bytes: the dense tensor's size.
    """

    branch: str
    gate_score: float
    gate_threshold: float
    early_stopped: bool
    scores: dict[str, float] | None
    activation_sparsity: float | None
    handoff_bytes: int
    handoff_dense_bytes: int
    stage_a: StageTiming
    stage_b: StageTiming | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (CPU sets as sorted lists)."""
        data = asdict(self)
        data["stage_a"] = self.stage_a.to_dict()
        data["stage_b"] = self.stage_b.to_dict() if self.stage_b else None
        return data


def activation_sparsity(handoff: np.ndarray) -> float:
    """Share of exact zeros in the handed-over activation."""
    return 1.0 - int(np.count_nonzero(handoff)) / handoff.size


def sparse_handoff_bytes(handoff: np.ndarray) -> int:
    """Bytes to move the handoff as a presence bitmap plus its non-zero values."""
    return -(-handoff.size // 8) + int(np.count_nonzero(handoff)) * handoff.itemsize


@dataclass(frozen=True)
class _LoadedBranch:
    spec: Branch
    input: TensorSpec


class GatedModel:
    """Two-stage gated model from a manifest, each stage on its own worker thread and CPUs."""

    def __init__(
        self,
        manifest_path: str | Path,
        preload: Iterable[str] | None = None,
        stage_a: StageConfig | None = None,
        stage_b: StageConfig | None = None,
    ) -> None:
        """Load and verify `preload` (default: the default branch); start on its first branch."""
        self.manifest = load_manifest(manifest_path)
        names = list(preload) if preload is not None else [self.manifest.default_branch]
        if not names:
            raise ValueError("preload must name at least one branch: the model starts on the first")
        for name in names:
            self.manifest.branch(name)
        self._loaded: dict[str, _LoadedBranch] = {}
        self._load_lock = threading.Lock()
        self._swap_lock = threading.Lock()
        self._stages: dict[str, StageExecutor] = {}
        try:
            self._stages = {"a": StageExecutor("stage_a", stage_a)}
            self._stages["b"] = StageExecutor("stage_b", stage_b)
            for name in names:
                self._ensure_loaded(name)
        except BaseException:
            self.close()
            raise
        self._current = self._loaded[names[0]]

    @property
    def branch(self) -> str:
        return self._current_branch().spec.name

    @property
    def loaded_branches(self) -> tuple[str, ...]:
        return tuple(self._loaded)

    def set_branch(self, name: str) -> None:
        """Switch to `name`, loading and verifying it first; on any error the branch stays."""
        loaded = self._ensure_loaded(name)
        with self._swap_lock:
            self._current = loaded

    def configure_stage(self, stage: str, threads: int, cpus: frozenset[int] | None) -> None:
        """Place stage "a" or "b" on `cpus` (None: all) with up to `threads` intra-op threads."""
        self._stage(stage).configure(StageConfig(threads, cpus))

    def placement(self, stage: str) -> StagePlacement:
        """Threads, CPUs and thread ids of stage "a" or "b" (diagnostics, tests)."""
        return self._stage(stage).placement()

    def infer(
        self, tensor: np.ndarray, *, gated: bool = True, gate_threshold: float | None = None
    ) -> InferenceResult:
        """Run stage A, stop early if gated and the gate is below threshold, else stage B."""
        branch = self._current_branch()
        spec = branch.spec
        _check_input(branch, tensor)
        threshold = spec.gate.threshold if gate_threshold is None else float(gate_threshold)
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"gate_threshold must be in [0, 1], got {threshold}")
        (gate, handoff), timing_a = self._stages["a"].run(
            spec.stage_a.file,
            [spec.stage_a.gate_output, spec.stage_a.handoff_output],
            {spec.stage_a.input: tensor},
        )
        gate_score = _single_value(gate, spec)
        stopped = gated and gate_score < threshold
        result = {
            "branch": spec.name,
            "gate_score": gate_score,
            "gate_threshold": threshold,
            "early_stopped": stopped,
            "handoff_dense_bytes": int(handoff.nbytes),
            "stage_a": timing_a,
        }
        if stopped:
            return InferenceResult(
                **result, scores=None, activation_sparsity=None, handoff_bytes=0, stage_b=None
            )
        (scores,), timing_b = self._stages["b"].run(
            spec.stage_b.file, [spec.stage_b.output], {spec.stage_b.input: handoff}
        )
        return InferenceResult(
            **result,
            scores=self._label_scores(scores, spec),
            activation_sparsity=activation_sparsity(handoff),
            handoff_bytes=sparse_handoff_bytes(handoff),
            stage_b=timing_b,
        )

    def close(self) -> None:
        """Stop both stage workers and release their sessions; idempotent."""
        for executor in self._stages.values():
            executor.close()

    def __enter__(self) -> GatedModel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _stage(self, stage: str) -> StageExecutor:
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {list(STAGES)}, got {stage!r}")
        return self._stages[stage]

    def _current_branch(self) -> _LoadedBranch:
        with self._swap_lock:
            return self._current

    def _ensure_loaded(self, name: str) -> _LoadedBranch:
        spec = self.manifest.branch(name)
        with self._load_lock:
            if name not in self._loaded:
                loaded = self._load(spec)
                self._loaded = {**self._loaded, name: loaded}  # copy: readers never see a resize
            return self._loaded[name]

    def _load(self, spec: Branch) -> _LoadedBranch:
        """Verify both files' bytes before creating any session, then check the wiring."""
        model_a = read_verified(self.manifest.file_path(spec.stage_a.file), spec.stage_a.sha256)
        model_b = read_verified(self.manifest.file_path(spec.stage_b.file), spec.stage_b.sha256)
        session_a = self._stages["a"].load(spec.stage_a.file, model_a)
        session_b = self._stages["b"].load(spec.stage_b.file, model_b)
        _require_names(spec, "stage_a", session_a, [spec.stage_a.input],
                       [spec.stage_a.gate_output, spec.stage_a.handoff_output])
        _require_names(spec, "stage_b", session_b, [spec.stage_b.input], [spec.stage_b.output])
        loaded = _LoadedBranch(spec, session_a.inputs[spec.stage_a.input])
        _check_declared_shape(loaded)
        return loaded

    def _label_scores(self, scores: np.ndarray, spec: Branch) -> dict[str, float]:
        labels = self.manifest.labels
        if scores.size != len(labels):
            raise RuntimeError(
                f"branch {spec.name}: stage B gave {scores.size} scores (shape {scores.shape}), "
                f"the manifest has {len(labels)} labels"
            )
        return dict(zip(labels, map(float, scores.reshape(-1)), strict=True))


def _require_names(
    spec: Branch, stage: str, session: SessionSpec, inputs: list[str], outputs: list[str]
) -> None:
    for kind, wanted, declared in (("input", inputs, session.inputs),
                                   ("output", outputs, session.outputs)):
        missing = [name for name in wanted if name not in declared]
        if missing:
            raise ManifestError(
                f"branch {spec.name}: {stage} model has no {kind} {missing}; "
                f"it declares {sorted(declared)}"
            )


def _check_declared_shape(branch: _LoadedBranch) -> None:
    """The manifest's input_shape must agree with the ONNX input's static dims."""
    declared, wanted = branch.input.shape, branch.spec.input_shape
    agrees = len(declared) == len(wanted) and all(
        not isinstance(d, int) or d == w for d, w in zip(declared, wanted, strict=True)
    )
    if not agrees:
        raise ManifestError(
            f"branch {branch.spec.name}: input_shape {list(wanted)} does not fit the stage A "
            f"input {branch.input.name!r} declared as {list(declared)}"
        )


def _check_input(branch: _LoadedBranch, tensor: np.ndarray) -> None:
    """ValueError unless `tensor` fits the branch: dtype, and shape except ONNX-dynamic dims."""
    name, expected_dtype = branch.spec.name, branch.input.numpy_dtype
    if not isinstance(tensor, np.ndarray):
        raise ValueError(f"branch {name}: input must be a numpy array, got {type(tensor).__name__}")
    if expected_dtype is not None and tensor.dtype != expected_dtype:
        raise ValueError(f"branch {name}: input dtype {tensor.dtype}, expected {expected_dtype}")
    wanted, declared = branch.spec.input_shape, branch.input.shape
    fits = tensor.ndim == len(wanted) and all(
        size == w or not isinstance(d, int)
        for size, w, d in zip(tensor.shape, wanted, declared, strict=True)
    )
    if not fits:
        shown = [
            w if isinstance(d, int) else f"{w} (any)"
            for w, d in zip(wanted, declared, strict=True)
        ]
        raise ValueError(f"branch {name}: input shape {list(tensor.shape)}, expected {shown}")


def _single_value(gate: np.ndarray, spec: Branch) -> float:
    if gate.size != 1:
        raise RuntimeError(
            f"branch {spec.name}: gate output {spec.stage_a.gate_output!r} has shape "
            f"{list(gate.shape)}; expected [1] or [1, 1]"
        )
    return float(gate.reshape(-1)[0])
