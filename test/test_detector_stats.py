from types import SimpleNamespace

import pytest

from gc_perception.gating.detector_stats import DetectorStats


def result(stopped: bool) -> SimpleNamespace:
    timing = SimpleNamespace(wall_ms=2.0, cpu_ms=1.5)
    return SimpleNamespace(
        gate_score=0.1 if stopped else 0.9, early_stopped=stopped,
        activation_sparsity=None if stopped else 0.75, handoff_bytes=0 if stopped else 100,
        stage_a=timing, stage_b=None if stopped else SimpleNamespace(wall_ms=8.0, cpu_ms=7.0),
    )


def test_summary_counts_stops_latencies_and_energy():
    stats = DetectorStats()
    assert stats.summary()["early_stop_rate"] is None
    for stopped in (True, True, True, False):
        stats.record(result(stopped), preprocess_ms=1.0, total_ms=4.0 if stopped else 12.0,
                     positive=not stopped, energy_mj=0.5)
    figures = stats.summary()
    assert figures["inputs"] == 4 and figures["early_stopped"] == 3
    assert figures["early_stop_rate"] == pytest.approx(0.75)
    assert figures["positives"] == 1
    assert figures["activation_sparsity_mean"] == pytest.approx(0.75)
    assert figures["latency_stage_b_p50_ms"] == pytest.approx(8.0)
    assert figures["latency_total_p50_ms"] == pytest.approx(4.0)
    assert figures["cpu_ms_mean"] == pytest.approx((1.5 * 3 + 8.5) / 4)
    assert figures["energy_mj_per_input"] == pytest.approx(0.5)


def test_stage0_stops_count_as_early_stops_of_the_chain():
    stats = DetectorStats()
    stats.record_stage0_stop(total_ms=0.1)
    stats.record(result(True), preprocess_ms=1.0, total_ms=4.0, positive=False, energy_mj=0.5)
    figures = stats.summary()
    assert figures["inputs"] == 2 and figures["early_stopped"] == 2
    assert figures["early_stopped_stage0"] == 1 and figures["early_stopped_gate"] == 1
    assert figures["early_stop_rate"] == pytest.approx(1.0)
