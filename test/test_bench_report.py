"""bench.report and bench.readme_sync: the report's pure figures on made-up inputs, and the README's
generated results block against the committed bench/results/report.json (fast, no ROS)."""

from __future__ import annotations

import pytest

from bench import readme_sync
from bench.report import (
    Spread,
    adascale_tables,
    differences,
    footprint_table,
    gating_target,
    overhead_target,
    ratios,
    readme_block,
    render_report,
    runtime_tables,
    tables,
)


def vision(node=(14.0, 15.0, 13.0), raw_full=(10.0, 10.5, 9.5), gated=(9.0, 9.5, 8.5)) -> dict:
    """One model, one branch, three repeats."""
    return {"frame_size": [640, 480], "frames_per_block": 12, "repeats": 3, "models": {
        "person_lite0": {"stage_a_mac_share": {"fp32_224": 0.64}, "branches": {"fp32_224": {
            "raw_stage_a": [6.0, 6.2, 5.9], "raw_full": list(raw_full),
            "direct": [12.0, 12.5, 11.8], "node": list(node),
            "node_parts": {"in": [1.5] * 3, "preprocess": [2.0] * 3, "stage_a": [6.0] * 3,
                           "stage_b": [4.0] * 3, "other": [0.5] * 3, "out": [0.8] * 3},
            "gating_cpu_ms": {"90%": {"gated": list(gated), "ungated": [10.0, 10.0, 10.0],
                                      "ideal": [7.0, 7.2, 6.8]}},
            "early_stopped_share": {"90%": 0.67}}}}}}


def audio(gate_stage0=(2.0e-3, 2.2e-3)) -> dict:
    def runs(values):
        return {"cpu_s_per_audio_s_runs": list(values)}

    return {"model": "kws10", "branch": "fp32", "core": {"quiet 10%": {
        "ungated": runs([10e-3, 11e-3]), "gate": runs([8e-3, 8.8e-3]),
        "ideal": runs([7e-3, 7.7e-3]), "gate+stage0": runs(gate_stage0)}}}


def report(**results) -> dict:
    return {"meta": {"command": ".venv/bin/python -m bench.run_all", "machine": "test CPU",
                     "started": "2026-01-01 10:00 UTC", "load_average": [0.5, 0.4, 0.3],
                     "duration_s": 600.0, "benches": {"vision": {"status": "ok",
                                                                 "duration_s": 100}}},
            "results": results}


def test_spread_is_median_min_max_and_ignores_missing_values():
    spread = Spread.of([3.0, None, 1.0, 2.0, float("nan")])
    assert (spread.median, spread.low, spread.high, spread.n) == (2.0, 1.0, 3.0, 3)
    assert spread.text(".1f", " ms") == "2.0 ms [1.0-3.0]"
    assert Spread.of([4.0]).text() == "4.0"  # one run: no range to show
    assert Spread.of([None]) is None and Spread.of([]) is None


def test_ratios_and_differences_pair_repeats_and_skip_what_is_missing():
    assert ratios([2.0, 3.0, None], [1.0, 0.0, 2.0]) == [2.0]  # zero and None dropped
    assert differences([5.0, 6.0], [1.0, 2.0, 3.0]) == [4.0, 4.0]
    assert ratios(None, [1.0]) == []


def test_overhead_target_met_and_missed_by_how_much_with_the_breakdown():
    missed = overhead_target(vision())
    assert missed.met is False and "missed on 1 of 1 branches, by 2.0 to 2.0 ms" in missed.verdict
    assert "(publish + in + out) 2.3 ms" in missed.why and "spared 2.0 ms" in missed.why
    assert "stage placement) 0.5 ms" in missed.why and "+0.0 ms against raw" in missed.why
    met = overhead_target(vision(node=(11.0, 11.5, 10.5)))
    assert met.met is True and "1.0 ms" in met.verdict
    assert overhead_target(None).met is None


def test_gating_target_explains_the_vision_floor_and_credits_audio_stage0():
    target = gating_target(vision(), audio())
    assert target.met is False
    assert "0.90x" in target.verdict and "missed by 0.60x" in target.verdict
    assert "ideal gate" in target.verdict and "0.70x" in target.verdict  # 7.0 / 10.0
    assert "64%" in target.verdict  # stage A's share of the MACs
    assert "gate+stage0): 0.20x (met)" in target.verdict
    audio_only = gating_target(None, audio())
    assert audio_only.met is False  # the GC gate alone (0.80x) misses on audio too
    assert gating_target(None, None).met is None


def test_runtime_rows_give_overhead_and_ratio_per_repeat():
    limits, parts = runtime_tables(vision())
    row = limits.rows[0]
    assert row[:2] == ["person_lite0", "fp32_224"]
    assert row[6] == "4.00 [3.50-4.50]"  # node - raw A+B, repeat by repeat: 4.0, 4.5, 3.5
    assert row[7] == "1.40x [1.37-1.43]" and parts.rows[0][-1] == "0.00 [-0.50-0.50]"


def test_missing_benches_say_not_run_and_partial_adascale_shows_what_exists():
    assert all("_not run_" in t.markdown() for t in tables(report()))
    partial = {"configs": {"adascale": {"frames": 10, "miss_rate": 0.1}}, "verdict": "ok"}
    configs, reactions = adascale_tables(partial)
    assert configs.rows[0][:3] == ["adascale", "10", "10.0%"] and "n/a" in configs.rows[0]
    assert "_not run_" in reactions.markdown()


def test_footprint_rows_and_whole_suite_start_up():
    footprint = {"startup_alone_s": {"/camera": [1.5, 1.7]}, "startup_suite_s": {
        "/camera": [3.0, 3.4]}, "suite_startup_s": [4.0, 4.4], "window_s": 4.0,
        "idle": {"/camera": {"cpu_percent": [1.0, 1.0], "rss_mb": [90, 91]}},
        "load": {"/camera": {"cpu_percent": [2.0, 3.0], "rss_mb": [95, 95]}}}
    table = footprint_table(footprint, None)
    assert table.rows[0][0] == "/camera" and table.rows[0][-1] == "2.5x [2.0-3.0]"
    assert table.rows[-1][2] == "4.2 [4.0-4.4]"


def test_report_and_readme_block_carry_header_targets_and_tables():
    data = report(vision=vision(), audio=audio())
    text = render_report(data, ["runtime.png"])
    assert "test CPU" in text and "Total: 10.0 min" in text and "![" in text
    assert "**Node overhead" in text and "MISSED" in text and "| vision | ok | 100 |" in text
    block = readme_block(data)
    assert block.startswith("Machine: test CPU") and "5. Adaptation" not in block


def test_readme_block_is_replaced_between_markers_only():
    readme = f"intro\n{readme_sync.BEGIN}\nold\n{readme_sync.END}\noutro\n"
    replaced = readme_sync.with_block(readme, "new\n")
    assert replaced.startswith("intro\n") and replaced.endswith(f"{readme_sync.END}\noutro\n")
    assert "old" not in replaced and "new\n" in replaced
    with pytest.raises(ValueError, match="markers"):
        readme_sync.with_block("no markers", "x")


def test_readme_results_match_the_committed_report():
    readme = readme_sync.README.read_text()
    assert readme == readme_sync.expected_readme(readme), (
        "README results differ from bench/results/report.json: run "
        ".venv/bin/python -m bench.readme_sync")
