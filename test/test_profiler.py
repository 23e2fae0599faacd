"""The profiler on a tiny gated model: measures each branch per core class, caches, reuses."""

from __future__ import annotations

import json

import pytest
from tiny_gated_model import build_tiny_gated_model

from gc_perception.adascale import profiler
from gc_perception.adascale.cpu_affinity import available_cpus
from gc_perception.adascale.topology import CoreTopology

CPUS = sorted(available_cpus())
# Two classes on a multi-core machine (first CPU = "efficiency"), one on a single core.
TOPOLOGY = CoreTopology({"efficiency": CPUS[:-1], "performance": CPUS[-1:]}, "config")


@pytest.fixture
def model(tmp_path):
    manifest = build_tiny_gated_model(tmp_path / "tiny")
    (tmp_path / "tiny" / "evaluation.json").write_text(json.dumps(
        {"branches": {"fp32": {"accuracy": 0.93}}}))
    return manifest


def test_profile_is_measured_then_cached(model, tmp_path):
    cache = tmp_path / "cache"
    profile, source = profiler.ensure_profile(model, TOPOLOGY, cache, runs=5)
    assert source == "profiled"
    assert set(profile.branches) == {"fp32", "alt", "small"}
    classes = {name for name, cpus in TOPOLOGY.classes.items() if cpus} | {"any"}
    for branch in profile.branches.values():
        assert branch.core_classes() == classes
        for stage in ("a", "b"):
            for core_class in classes:
                cost = branch.cost(stage, core_class)
                assert 0 < cost.wall_ms <= cost.wall_p95_ms
                assert cost.cpu_ms >= 0
        assert branch.memory_bytes >= branch.onnx_bytes > 0
    assert profile.branches["fp32"].accuracy == pytest.approx(0.93)
    assert profile.branches["alt"].accuracy is None
    assert len(list(cache.glob("tiny_person-*.json"))) == 1
    again, source = profiler.ensure_profile(model, TOPOLOGY, cache, runs=5)
    assert source == "cache" and again == profile
    _, source = profiler.ensure_profile(model, TOPOLOGY, cache, runs=5, force=True)
    assert source == "profiled"


def test_command_prints_a_table(model, tmp_path, capsys):
    assert profiler.main([str(model), "--runs", "3", "--cache-dir", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert "tiny_person (profiled" in out and "fp32" in out and "0.930" in out


def test_goal_models_reads_the_goals_file(tmp_path):
    goals = tmp_path / "goals.yaml"
    goals.write_text("nodes:\n  a: {model: m1, latency_budget_ms: 5}\n"
                     "  b: {model: m1, latency_budget_ms: 5}\n  c: {latency_budget_ms: 5}\n")
    assert profiler.goal_models(goals) == ["m1"]
