import json

from gc_perception.training.evaluate import render, verdict

GATE = {"esr": 0.85, "pass_rate": 0.975, "precision_gated": 0.90, "precision_ungated": 0.905,
        "recall_gated": 0.895, "recall_ungated": 0.90}


def test_verdict_names_each_missed_target():
    assert verdict(GATE) == "meets all"
    missed = verdict({**GATE, "esr": 0.5, "recall_gated": 0.85})
    assert missed == "misses: ESR 0.50 < 0.8, recall -5.0 pt"


def test_render_writes_one_section_per_evaluated_model(tmp_path):
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"provenance": {"build_command": "x"}}))
    branch = {"gate": GATE, "sparsity": 0.5, "handoff_bytes_mean": 10.0,
              "handoff_dense_bytes": 40, "cpu_ms_per_input": {"gated": 1.0, "ungated": 2.0},
              "energy_mj_per_input": {"gated": 0.5, "ungated": 1.0}}
    (folder / "evaluation.json").write_text(json.dumps({
        "model_id": "tiny", "task": "person", "branches": {"fp32": branch},
        "data": {"kind": "synthetic", "description": "d", "held_out": "h", "n_positives": 1,
                 "n_negatives": 2}}))
    (tmp_path / "no_evaluation").mkdir()
    text = render(tmp_path, with_plots=False).read_text()
    assert "## tiny (person)" in text and "SYNTHETIC" in text
    assert "| fp32 | 0.850 | 0.975 |" in text and "meets all" in text
    assert "ESTIMATE" in text
