"""GatedModel on tiny ONNX stages: early stop, ungated baseline, sparsity, atomic branch switch."""

import json
import shutil
import threading

import numpy as np
import pytest
from tiny_gated_model import (
    LABELS,
    build_tiny_gated_model,
    cpus_allowed_list,
    input_tensor,
    reference,
)

from gc_perception.adascale.cpu_affinity import available_cpus
from gc_perception.gating.gated_model import (
    GatedModel,
    activation_sparsity,
    sparse_handoff_bytes,
)
from gc_perception.gating.manifest import ModelIntegrityError

needs_two_cpus = pytest.mark.skipif(not {0, 1} <= available_cpus(), reason="needs CPUs 0 and 1")


@pytest.fixture(scope="module")
def manifest_path(tmp_path_factory):
    return build_tiny_gated_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def model(manifest_path):
    with GatedModel(manifest_path, preload=["fp32", "alt"]) as model:
        yield model


def _expected_scores(branch: str, x: np.ndarray) -> dict[str, float]:
    return dict(zip(LABELS, reference(branch, x)[2][0], strict=True))


def _assert_scores(result, x):
    assert result.scores == pytest.approx(_expected_scores(result.branch, x), rel=1e-5)


def test_starts_on_the_default_branch(manifest_path):
    with GatedModel(manifest_path) as model:
        assert (model.branch, model.loaded_branches) == ("fp32", ("fp32",))


def test_passing_input_runs_both_stages(model):
    x = input_tensor()
    result = model.infer(x)
    assert (result.branch, result.early_stopped, result.gate_threshold) == ("fp32", False, 0.5)
    assert result.gate_score == pytest.approx(reference("fp32", x)[0], rel=1e-5)
    _assert_scores(result, x)
    # channel 1 is masked: half the handoff is zero; 32 values -> 4-byte bitmap + 16 floats
    assert result.activation_sparsity == 0.5
    assert (result.handoff_bytes, result.handoff_dense_bytes) == (4 + 16 * 4, 128)
    assert result.stage_b is not None and result.stage_b.wall_ms > 0


def test_early_stop_skips_stage_b(model):
    result = model.infer(input_tensor(value=-1.0))
    assert result.early_stopped and result.gate_score < 0.5
    assert result.scores is None and result.stage_b is None
    assert result.activation_sparsity is None and result.handoff_bytes == 0
    assert result.handoff_dense_bytes == 128 and result.stage_a.wall_ms > 0


def test_ungated_baseline_always_runs_stage_b(model):
    x = input_tensor(value=-1.0)
    result = model.infer(x, gated=False)
    assert not result.early_stopped and result.gate_score < 0.5
    _assert_scores(result, x)
    assert result.activation_sparsity == 1.0 and result.handoff_bytes == 4
    assert result.stage_b is not None


def test_threshold_override(model):
    assert model.infer(input_tensor(), gate_threshold=1.0).early_stopped
    assert not model.infer(input_tensor(value=-1.0), gate_threshold=0.0).early_stopped
    with pytest.raises(ValueError, match=r"gate_threshold must be in \[0, 1\]"):
        model.infer(input_tensor(), gate_threshold=1.5)


def test_sparsity_and_handoff_bytes_are_exact(model):
    x = np.random.default_rng(7).normal(size=(1, 2, 4, 4)).astype(np.float32)
    handoff = reference("alt", x)[1]
    nonzero = int(np.count_nonzero(handoff))
    assert 0 < nonzero < handoff.size
    model.set_branch("alt")
    result = model.infer(x, gated=False)
    assert result.activation_sparsity == 1 - nonzero / 32
    assert result.handoff_bytes == 4 + 4 * nonzero
    assert (activation_sparsity(handoff), sparse_handoff_bytes(handoff)) == (
        result.activation_sparsity,
        result.handoff_bytes,
    )


def test_sparse_bytes_round_the_bitmap_up():
    assert sparse_handoff_bytes(np.zeros(9, np.float32)) == 2
    assert sparse_handoff_bytes(np.ones(9, np.int8)) == 2 + 9


def test_result_is_json_ready(model):
    data = json.loads(json.dumps(model.infer(input_tensor()).to_dict()))
    assert data["stage_a"]["cpus"] == sorted(available_cpus())
    assert set(data["scores"]) == set(LABELS)
    stopped = model.infer(input_tensor(value=-1.0)).to_dict()
    assert json.loads(json.dumps(stopped))["stage_b"] is None


def test_wrong_inputs_are_refused(model):
    model.infer(input_tensor(size=3))  # fp32 declares H and W dynamic: not checked
    with pytest.raises(ValueError, match=r"input shape \[1, 2, 4\], expected \[1, 2, '4 \(any\)'"):
        model.infer(np.ones((1, 2, 4), np.float32))
    with pytest.raises(ValueError, match="input dtype float64, expected float32"):
        model.infer(input_tensor().astype(np.float64))
    with pytest.raises(ValueError, match="must be a numpy array"):
        model.infer(input_tensor().tolist())
    model.set_branch("alt")  # static 4x4
    with pytest.raises(ValueError, match=r"alt: input shape \[1, 2, 3, 3\], expected \[1, 2, 4, 4"):
        model.infer(input_tensor(size=3))


def test_set_branch_loads_on_demand(manifest_path):
    with GatedModel(manifest_path) as model:
        model.set_branch("small")  # shares the fp32 files at 2x2
        assert model.branch == "small" and model.loaded_branches == ("fp32", "small")
        x = input_tensor(size=2)
        result = model.infer(x)
        assert result.branch == "small" and result.handoff_dense_bytes == 32
        _assert_scores(result, x)


def test_unknown_branch_is_refused(model):
    with pytest.raises(ValueError, match=r"unknown branch 'nope'; known: \['alt', 'fp32', 'small"):
        model.set_branch("nope")
    assert model.branch == "fp32"


def _damaged_copy(manifest_path, tmp_path, file_name):
    folder = shutil.copytree(manifest_path.parent, tmp_path / "copy")
    path = folder / file_name
    path.write_bytes(path.read_bytes()[:-10])
    return folder / "manifest.json"


def test_corrupt_branch_is_refused_and_the_current_one_stays(manifest_path, tmp_path):
    with GatedModel(_damaged_copy(manifest_path, tmp_path, "alt_stage_b.onnx")) as model:
        with pytest.raises(ModelIntegrityError, match=r"alt_stage_b\.onnx: sha256 mismatch"):
            model.set_branch("alt")
        assert model.branch == "fp32" and model.loaded_branches == ("fp32",)
        assert not model.infer(input_tensor()).early_stopped


def test_corrupt_default_branch_refuses_to_start(manifest_path, tmp_path):
    with pytest.raises(ModelIntegrityError, match="truncated or tampered"):
        GatedModel(_damaged_copy(manifest_path, tmp_path, "fp32_stage_a.onnx"))
    assert not any(t.name.startswith("gc-stage_") for t in threading.enumerate())


def test_switch_during_an_inference_keeps_that_inference_on_its_branch(model, monkeypatch):
    """Hold an inference between stage A and stage B, switch, then let it finish."""
    stage_b = model._stages["b"]
    run_stage_b, between, release = stage_b.run, threading.Event(), threading.Event()

    def held_run(*args):
        between.set()
        assert release.wait(5)
        return run_stage_b(*args)

    monkeypatch.setattr(stage_b, "run", held_run)
    x, results = input_tensor(), []
    worker = threading.Thread(target=lambda: results.append(model.infer(x)))
    worker.start()
    assert between.wait(5)
    model.set_branch("alt")
    assert model.branch == "alt"
    release.set()
    worker.join(5)
    assert results[0].branch == "fp32"
    _assert_scores(results[0], x)
    after = model.infer(x)
    assert after.branch == "alt"
    _assert_scores(after, x)


def test_branch_switch_is_atomic_under_concurrent_inference(model):
    x, results, errors = input_tensor(), [], []
    done = threading.Event()

    def infer_loop():
        try:
            for _ in range(60):
                results.append(model.infer(x))
        except Exception as exc:  # collected: a thread cannot fail the test itself
            errors.append(exc)

    def switch_loop():
        while not done.is_set():
            for name in ("alt", "fp32"):
                model.set_branch(name)

    switcher = threading.Thread(target=switch_loop)
    workers = [threading.Thread(target=infer_loop) for _ in range(2)]
    for thread in (switcher, *workers):
        thread.start()
    for thread in workers:
        thread.join(10)
    done.set()
    switcher.join(10)
    assert errors == [] and len(results) == 120
    assert {result.branch for result in results} == {"alt", "fp32"}
    for result in results:  # a stage A of one branch fed to stage B of the other matches neither
        _assert_scores(result, x)


@needs_two_cpus
def test_configure_stage_moves_each_stage(model):
    model.configure_stage("a", threads=2, cpus=frozenset({0}))
    model.configure_stage("b", threads=1, cpus=frozenset({1}))
    assert {cpus_allowed_list(t) for t in model.placement("a").thread_ids} == {"0"}
    assert {cpus_allowed_list(t) for t in model.placement("b").thread_ids} == {"1"}
    result = model.infer(input_tensor())
    assert (result.stage_a.cpus, result.stage_b.cpus) == ({0}, {1})
    model.configure_stage("a", threads=2, cpus=None)
    placement = model.placement("a")
    assert placement.threads == 2
    assert len(placement.thread_ids) == 3  # worker + a pool thread per session (fp32, alt)
    assert {cpus_allowed_list(t) for t in placement.thread_ids} == {"0-1"}
    _assert_scores(model.infer(input_tensor()), input_tensor())


def test_configure_stage_refuses_bad_requests(model):
    with pytest.raises(ValueError, match="stage must be one of"):
        model.configure_stage("c", threads=1, cpus=None)
    with pytest.raises(ValueError, match="threads must be >= 1"):
        model.configure_stage("a", threads=0, cpus=None)


def test_closed_model_refuses_work(manifest_path):
    model = GatedModel(manifest_path)
    model.close()
    model.close()
    with pytest.raises(RuntimeError, match="closed"):
        model.infer(input_tensor())
