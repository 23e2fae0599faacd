"""One worker thread per model stage, so stage A and stage B run on different cores.

GC's point is that stage A runs on a low-power core and hands a small sparse tensor to stage B on
a performance core. Each stage therefore owns a worker thread, and its onnxruntime sessions are
created ON that thread: the session's intra-op pool threads inherit the creator's CPU affinity.
The pool threads' TIDs are found by diffing /proc/self/task around session creation (serialised
by a lock in this module; a thread started by other code in that instant would be taken for a
pool thread too), so a later CPU-set change re-pins the worker and its pool in place. A change of
thread count recreates the sessions on the worker. Per-stage CPU time is the run time of exactly
those threads (see cpu_affinity.threads_cpu_ns). Linux only.

Session options: no spinning (idle pool threads would burn CPU and inflate the CPU-time and
energy figures), one inter-op thread, sequential execution.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnxruntime as ort

from gc_perception.adascale.cpu_affinity import (
    available_cpus,
    format_cpu_list,
    set_thread_affinity,
    thread_ids,
    threads_cpu_ns,
)

# onnxruntime's input type names -> numpy dtypes (the types our models use).
ORT_NUMPY_TYPES = {
    "tensor(float)": np.dtype(np.float32),
    "tensor(float16)": np.dtype(np.float16),
    "tensor(double)": np.dtype(np.float64),
    "tensor(int8)": np.dtype(np.int8),
    "tensor(uint8)": np.dtype(np.uint8),
    "tensor(int16)": np.dtype(np.int16),
    "tensor(int32)": np.dtype(np.int32),
    "tensor(int64)": np.dtype(np.int64),
    "tensor(bool)": np.dtype(np.bool_),
}

# Held while this module starts a thread, so a /proc/self/task diff sees one session's pool only.
_THREAD_START_LOCK = threading.Lock()


@dataclass(frozen=True)
class StageConfig:
    """Requested placement: intra-op threads (capped at len(cpus)) and CPUs (None: all)."""

    threads: int = 1
    cpus: frozenset[int] | None = None

    def __post_init__(self) -> None:
        if self.threads < 1:
            raise ValueError(f"threads must be >= 1, got {self.threads}")
        if self.cpus is not None and not self.cpus:
            raise ValueError("cpus must name at least one CPU (None means all)")


@dataclass(frozen=True)
class StagePlacement:
    """Placement in effect: intra-op threads, CPUs, and the TIDs of worker + pool threads."""

    threads: int
    cpus: frozenset[int]
    thread_ids: frozenset[int]


@dataclass(frozen=True)
class StageTiming:
    """One stage run: wall time, CPU time of the stage's threads, and the CPUs it ran on."""

    wall_ms: float
    cpu_ms: float
    cpus: frozenset[int]

    def to_dict(self) -> dict[str, Any]:
        return {"wall_ms": self.wall_ms, "cpu_ms": self.cpu_ms, "cpus": sorted(self.cpus)}


@dataclass(frozen=True)
class TensorSpec:
    """A model input or output as onnxruntime declares it; str/None dims are dynamic."""

    name: str
    shape: tuple[int | str | None, ...]
    type: str

    @property
    def numpy_dtype(self) -> np.dtype | None:
        return ORT_NUMPY_TYPES.get(self.type)


@dataclass(frozen=True)
class SessionSpec:
    """Declared inputs and outputs of a loaded model."""

    inputs: dict[str, TensorSpec]
    outputs: dict[str, TensorSpec]


@dataclass
class _Session:
    session: ort.InferenceSession
    model: bytes
    pool_tids: frozenset[int]


class StageExecutor:
    """A worker thread that owns one stage's onnxruntime sessions and runs them.

    Every call is executed on the worker, one at a time, so a reconfiguration never
    interleaves with a run. Sessions are keyed by a caller-chosen name (e.g. the model file).
    """

    def __init__(self, name: str, config: StageConfig | None = None) -> None:
        self.name = name
        self._tasks: queue.SimpleQueue[tuple[Future, Callable, tuple] | None] = queue.SimpleQueue()
        self._closed = False
        self._submit_lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}
        self._threads = 0
        self._cpus: frozenset[int] = frozenset()
        self._worker_tid = 0
        self._thread = threading.Thread(target=self._serve, name=f"gc-{name}", daemon=True)
        with _THREAD_START_LOCK:
            self._thread.start()
            self._call(self._note_worker_tid)
        try:
            self.configure(config or StageConfig())
        except BaseException:
            self.close()
            raise

    def load(self, key: str, model: bytes) -> SessionSpec:
        """Create the session for `model` (serialized ONNX) on the worker, once per key."""
        return self._call(self._load, key, model)

    def run(
        self, key: str, output_names: Sequence[str], feeds: Mapping[str, np.ndarray]
    ) -> tuple[list[np.ndarray], StageTiming]:
        """Run a loaded session on the worker; returns its outputs and the stage timing."""
        return self._call(self._run, key, list(output_names), dict(feeds))

    def configure(self, config: StageConfig) -> None:
        """Move the stage to `config.cpus`; a new thread count recreates its sessions."""
        self._call(self._configure, config)

    def placement(self) -> StagePlacement:
        return self._call(self._placement)

    def close(self) -> None:
        """Release the sessions on the worker and stop it; idempotent."""
        with self._submit_lock:
            if self._closed:
                return
            self._closed = True
            self._tasks.put(None)
        self._thread.join()

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        future: Future = Future()
        with self._submit_lock:
            if self._closed:
                raise RuntimeError(f"stage executor {self.name!r} is closed")
            self._tasks.put((future, fn, args))
        return future.result()

    def _serve(self) -> None:
        while (task := self._tasks.get()) is not None:
            future, fn, args = task
            try:
                future.set_result(fn(*args))
            except BaseException as exc:
                future.set_exception(exc)
        self._sessions.clear()

    def _note_worker_tid(self) -> None:
        self._worker_tid = threading.get_native_id()

    def _configure(self, config: StageConfig) -> None:
        allowed = available_cpus()
        cpus = allowed if config.cpus is None else frozenset(config.cpus)
        if not cpus <= allowed:
            raise ValueError(
                f"stage {self.name}: CPUs {format_cpu_list(cpus - allowed)} are not available "
                f"(available: {format_cpu_list(allowed)})"
            )
        threads = min(config.threads, len(cpus))
        self._cpus = cpus
        set_thread_affinity([self._worker_tid], cpus)  # first: new pool threads inherit it
        if threads == self._threads:
            set_thread_affinity(self._pool_tids(), cpus)
            return
        self._threads = threads
        models = {key: record.model for key, record in self._sessions.items()}
        self._sessions.clear()
        for key, model in models.items():
            self._sessions[key] = self._create_session(model)

    def _load(self, key: str, model: bytes) -> SessionSpec:
        if key not in self._sessions:
            self._sessions[key] = self._create_session(model)
        session = self._sessions[key].session
        return SessionSpec(_specs(session.get_inputs()), _specs(session.get_outputs()))

    def _create_session(self, model: bytes) -> _Session:
        with _THREAD_START_LOCK:
            before = thread_ids()
            session = ort.InferenceSession(
                model, session_options(self._threads), providers=["CPUExecutionProvider"]
            )
            pool_tids = thread_ids() - before
        set_thread_affinity(pool_tids, self._cpus)  # inherited already; explicit, whatever ORT did
        return _Session(session, model, pool_tids)

    def _run(
        self, key: str, output_names: list[str], feeds: dict[str, np.ndarray]
    ) -> tuple[list[np.ndarray], StageTiming]:
        record = self._sessions[key]
        tids = (self._worker_tid, *record.pool_tids)
        cpu_before = threads_cpu_ns(tids)
        start = time.perf_counter_ns()
        outputs = record.session.run(output_names, feeds)
        wall_ns = time.perf_counter_ns() - start
        cpu_ns = max(0, threads_cpu_ns(tids) - cpu_before)
        return outputs, StageTiming(wall_ns / 1e6, cpu_ns / 1e6, self._cpus)

    def _pool_tids(self) -> frozenset[int]:
        return frozenset().union(*(record.pool_tids for record in self._sessions.values()))

    def _placement(self) -> StagePlacement:
        tids = self._pool_tids() | {self._worker_tid}
        return StagePlacement(self._threads, self._cpus, tids)


def _specs(args: Sequence[Any]) -> dict[str, TensorSpec]:
    return {arg.name: TensorSpec(arg.name, tuple(arg.shape), arg.type) for arg in args}


def session_options(threads: int) -> ort.SessionOptions:
    """The runtime's session options (see the module docstring); benches reuse them so a raw
    onnxruntime baseline runs exactly the sessions the runtime would."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options
