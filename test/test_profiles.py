"""Branch profiles: JSON round trip, cache keys and freshness, accuracy figures, online EWMA."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from tiny_gated_model import build_tiny_gated_model

from gc_perception.adascale.profiles import (
    BranchProfile,
    LatencyCorrections,
    ModelProfile,
    StageCost,
    branch_accuracy,
    cache_path,
    cpu_model_name,
    load_cached,
    profile_key,
    save_profile,
    with_evaluation,
)
from gc_perception.adascale.topology import CoreTopology
from gc_perception.gating.manifest import load_manifest

TOPOLOGY = CoreTopology({"efficiency": [0], "performance": [1]}, "config")


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    return load_manifest(build_tiny_gated_model(tmp_path_factory.mktemp("tiny")))


def profile_of(manifest, key: str = "k" * 64) -> ModelProfile:
    cost = {"efficiency": StageCost(2.0, 2.5, 1.9), "performance": StageCost(1.0, 1.2, 0.9)}
    branches = {name: BranchProfile(name, {"a": cost, "b": cost}, 2000, 1500, 2000)
                for name in manifest.branches}
    return ModelProfile(manifest.model_id, key, "Test CPU", 1.0, 5, branches)


def test_json_round_trip(manifest):
    profile = profile_of(manifest)
    assert ModelProfile.from_json(profile.to_json()) == profile
    assert profile.branches["fp32"].cost("b", "efficiency").wall_ms == 2.0
    assert profile.branches["fp32"].core_classes() == {"efficiency", "performance"}


def test_key_depends_on_files_cpu_topology_and_runtime(manifest):
    key = profile_key(manifest, "CPU A", TOPOLOGY, "1.0")
    assert key == profile_key(manifest, "CPU A", TOPOLOGY, "1.0")
    other_topology = CoreTopology({"efficiency": [], "performance": [0, 1]}, "config")
    spec = manifest.branches["fp32"]
    changed_file = replace(manifest, branches={
        **manifest.branches, "fp32": replace(spec, stage_b=replace(spec.stage_b, sha256="0" * 64))})
    others = [
        profile_key(manifest, "CPU B", TOPOLOGY, "1.0"),
        profile_key(manifest, "CPU A", other_topology, "1.0"),
        profile_key(manifest, "CPU A", TOPOLOGY, "1.1"),
        profile_key(changed_file, "CPU A", TOPOLOGY, "1.0"),
    ]
    assert key not in others and len(set(others)) == 4


def test_cache_is_fresh_only_for_its_key(manifest, tmp_path):
    profile = profile_of(manifest, key="a" * 64)
    path = save_profile(profile, tmp_path / "cache")
    assert path == cache_path(tmp_path / "cache", manifest.model_id, "a" * 64)
    assert load_cached(tmp_path / "cache", manifest.model_id, "a" * 64) == profile
    assert load_cached(tmp_path / "cache", manifest.model_id, "b" * 64) is None
    path.write_text("{ truncated")
    assert load_cached(tmp_path / "cache", manifest.model_id, "a" * 64) is None
    assert not list((tmp_path / "cache").glob("*.partial"))


def test_old_format_is_refused(manifest):
    data = json.loads(profile_of(manifest).to_json())
    data["format_version"] = 0
    with pytest.raises(ValueError, match="format"):
        ModelProfile.from_json(json.dumps(data))


def test_cpu_model_name_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Example CPU @ 2 GHz\n")
    assert cpu_model_name(cpuinfo) == "Example CPU @ 2 GHz"
    cpuinfo.write_text("processor\t: 0\nBogoMIPS\t: 50\nCPU part\t: 0xd05\n")
    assert cpu_model_name(cpuinfo) == "0xd05"
    assert cpu_model_name(tmp_path / "missing")  # platform fallback, never empty here


@pytest.mark.parametrize(("figures", "expected", "how"), [
    ({"accuracy": 0.9}, 0.9, "accuracy"),
    ({"accuracy": {"gated": 0.7, "ungated": 0.8}, "gate": {"precision_gated": 1.0,
                                                            "recall_gated": 1.0}}, 0.7,
     "accuracy.gated"),
    ({"gate": {"accuracy_gated": 0.8}}, 0.8, "gate.accuracy_gated"),
    ({"gate": {"precision_gated": 1.0, "recall_gated": 0.5}}, 2 / 3, "F1"),
    ({"gate": {"precision_gated": 0.0, "recall_gated": 0.0}}, 0.0, "F1"),
    ({"gate": {"precision_gated": float("nan"), "recall_gated": 0.5}}, None, ""),
    ({}, None, ""),
])
def test_branch_accuracy(figures, expected, how):
    accuracy, source = branch_accuracy(figures)
    assert accuracy == (None if expected is None else pytest.approx(expected))
    assert how in source


def test_evaluation_json_wins_over_manifest_metrics(manifest, tmp_path):
    folder = tmp_path / "model"
    manifest = load_manifest(build_tiny_gated_model(folder))
    (folder / "evaluation.json").write_text(json.dumps({"branches": {
        "fp32": {"gate": {"precision_gated": 0.9, "recall_gated": 0.9, "open_rate": 0.3}}}}))
    merged = with_evaluation(profile_of(manifest), manifest).branches
    assert merged["fp32"].accuracy == pytest.approx(0.9)
    assert merged["fp32"].pass_rate == pytest.approx(0.3)
    assert merged["fp32"].accuracy_source.startswith("evaluation.json")
    assert merged["alt"].accuracy is None and merged["alt"].pass_rate == 1.0


def test_corrections_ewma_fade_clamp_and_forget():
    corrections = LatencyCorrections(weight=0.5, half_life_s=10.0, limit=4.0)
    assert corrections.factor("/det", "fp32", 0.0) == 1.0
    corrections.observe("/det", "fp32", 2.0, now=0.0)
    assert corrections.factor("/det", "fp32", 0.0) == pytest.approx(1.5)
    corrections.observe("/det", "fp32", 2.0, now=0.0)
    assert corrections.factor("/det", "fp32", 0.0) == pytest.approx(1.75)
    assert corrections.factor("/det", "fp32", 10.0) == pytest.approx(1.375)  # half way to 1
    corrections.observe("/other", "fp32", 1000.0, now=0.0)
    assert corrections.factor("/other", "fp32", 0.0) == pytest.approx(2.5)  # clamped to 4
    corrections.forget("/det")
    assert corrections.factor("/det", "fp32", 0.0) == 1.0
    assert corrections.factor("/other", "fp32", 0.0) == pytest.approx(2.5)


def test_a_branch_that_has_not_run_takes_the_nodes_correction():
    corrections = LatencyCorrections(weight=1.0, half_life_s=1e9)
    corrections.observe("/det", "int8", 1.6, now=0.0)  # a small branch: hand-offs weigh more
    assert corrections.factor("/det", "fp32", 0.0) == pytest.approx(1.6)
    corrections.observe("/det", "fp32", 1.2, now=1.0)
    corrections.observe("/det", "int8", 1.6, now=2.0)
    assert corrections.factor("/det", "fp32", 2.0) == pytest.approx(1.2)  # its own
    assert corrections.factor("/det", "int8", 2.0) == pytest.approx(1.6)


def test_corrections_off_with_zero_weight():
    corrections = LatencyCorrections(weight=0.0)
    corrections.observe("/det", "fp32", 5.0, 0.0)
    assert corrections.factor("/det", "fp32", 0.0) == 1.0

