"""Stage worker: sessions made on the worker, threads placed and moved, timings, lifecycle."""

import threading

import numpy as np
import pytest
from tiny_gated_model import (
    build_tiny_gated_model,
    cpus_allowed_list,
    input_tensor,
    reference,
    wait_for,
)

from gc_perception.adascale.cpu_affinity import available_cpus, format_cpu_list, thread_ids
from gc_perception.gating.stage_executor import StageConfig, StageExecutor

needs_two_cpus = pytest.mark.skipif(not {0, 1} <= available_cpus(), reason="needs CPUs 0 and 1")
ALL = format_cpu_list(available_cpus())
OUTPUTS = ["gate_score", "handoff"]


@pytest.fixture(scope="module")
def stage_a_model(tmp_path_factory) -> bytes:
    folder = build_tiny_gated_model(tmp_path_factory.mktemp("tiny")).parent
    return (folder / "fp32_stage_a.onnx").read_bytes()


@pytest.fixture
def executor(stage_a_model):
    executor = StageExecutor("test")
    executor.load("a", stage_a_model)
    yield executor
    executor.close()


def _placed_on(executor: StageExecutor) -> set[str]:
    return {cpus_allowed_list(tid) for tid in executor.placement().thread_ids}


def test_load_declares_inputs_and_outputs(executor, stage_a_model):
    spec = executor.load("a", stage_a_model)  # second load of a key reuses the session
    assert spec.inputs["input"].shape == (1, 2, "h", "w")
    assert spec.inputs["input"].numpy_dtype == np.float32
    assert set(spec.outputs) == set(OUTPUTS)


def test_run_gives_outputs_and_timing(executor):
    x = input_tensor(size=3)
    (gate, handoff), timing = executor.run("a", OUTPUTS, {"input": x})
    expected_gate, expected_handoff, _ = reference("fp32", x)
    assert gate.item() == pytest.approx(expected_gate, rel=1e-5)
    np.testing.assert_array_equal(handoff, expected_handoff)
    assert timing.wall_ms > 0 and timing.cpu_ms > 0
    assert timing.cpus == available_cpus()
    assert timing.to_dict()["cpus"] == sorted(available_cpus())


@needs_two_cpus
def test_sessions_are_created_on_the_worker_with_its_pool(executor):
    executor.configure(StageConfig(threads=2))
    placement = executor.placement()
    assert placement.threads == 2
    assert len(placement.thread_ids) == 2  # worker + one intra-op pool thread
    assert placement.thread_ids <= thread_ids()
    assert threading.get_native_id() not in placement.thread_ids


@needs_two_cpus
def test_cpu_change_moves_worker_and_pool_in_place(executor):
    executor.configure(StageConfig(threads=2, cpus=frozenset({0, 1})))
    tids = executor.placement().thread_ids
    executor.configure(StageConfig(threads=2, cpus=frozenset({0, 1})))
    assert executor.placement().thread_ids == tids
    assert _placed_on(executor) == {"0-1"}
    executor.configure(StageConfig(threads=1, cpus=frozenset({1})))  # capped: 1 CPU, 1 thread
    assert executor.placement().threads == 1
    assert _placed_on(executor) == {"1"}
    executor.configure(StageConfig(threads=1, cpus=frozenset({0})))
    assert _placed_on(executor) == {"0"}
    _, timing = executor.run("a", OUTPUTS, {"input": input_tensor()})
    assert timing.cpus == {0}


@needs_two_cpus
def test_thread_count_change_recreates_sessions(executor):
    executor.configure(StageConfig(threads=2, cpus=frozenset({1})))
    assert len(executor.placement().thread_ids) == 1  # capped at one CPU: no pool
    executor.configure(StageConfig(threads=2))
    grown = executor.placement()
    assert (grown.threads, len(grown.thread_ids)) == (2, 2)
    assert _placed_on(executor) == {ALL}
    executor.configure(StageConfig(threads=1))
    assert len(executor.placement().thread_ids) == 1
    dropped = grown.thread_ids - executor.placement().thread_ids
    assert len(dropped) == 1
    assert wait_for(lambda: not dropped & thread_ids())
    executor.run("a", OUTPUTS, {"input": input_tensor()})


def test_bad_configs_are_refused_and_the_stage_keeps_working(executor):
    with pytest.raises(ValueError, match="threads must be >= 1"):
        StageConfig(threads=0)
    with pytest.raises(ValueError, match="at least one CPU"):
        StageConfig(cpus=frozenset())
    absent = max(available_cpus()) + 1
    with pytest.raises(ValueError, match=f"CPUs {absent} are not available"):
        executor.configure(StageConfig(cpus=frozenset({absent})))
    executor.run("a", OUTPUTS, {"input": input_tensor()})


def test_errors_on_the_worker_reach_the_caller(executor):
    with pytest.raises(KeyError):
        executor.run("unknown", OUTPUTS, {"input": input_tensor()})
    with pytest.raises(Exception, match="input"):
        executor.run("a", OUTPUTS, {"input": input_tensor().astype(np.float64)})
    executor.run("a", OUTPUTS, {"input": input_tensor()})


def test_close_stops_the_worker_and_its_pool(stage_a_model):
    executor = StageExecutor("closing", StageConfig(threads=2))
    executor.load("a", stage_a_model)
    tids = executor.placement().thread_ids
    executor.close()
    executor.close()
    assert not any(t.name == "gc-closing" for t in threading.enumerate())
    assert wait_for(lambda: not tids & thread_ids())
    with pytest.raises(RuntimeError, match="'closing' is closed"):
        executor.run("a", OUTPUTS, {"input": input_tensor()})
