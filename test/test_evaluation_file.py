"""evaluation.json and the manifest's metrics are written together, in one shape for all models."""

import json
import shutil
from pathlib import Path

from gc_perception.training.evaluation_file import gate_figures, save_evaluation

MODELS = Path(__file__).resolve().parents[1] / "models"


def test_save_evaluation_writes_both_files_in_the_shipped_shape(tmp_path):
    shutil.copytree(MODELS / "kws10", tmp_path / "kws10")
    manifest_path = tmp_path / "kws10" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["branches"]["fp32"]["metrics"] = {"split": "test", "gate": {"esr": 0.5}}
    branches = {"fp32": {"gate": {"esr": 0.5}}}
    evaluation = save_evaluation(manifest, manifest_path, {"kind": "synthetic"}, branches, "E=x")
    written = json.loads((tmp_path / "kws10" / "evaluation.json").read_text())
    shipped = json.loads((MODELS / "kws10" / "evaluation.json").read_text())
    assert written == evaluation and list(written) == list(shipped)
    assert written["model_id"] == "kws10" and written["energy_formula"] == "E=x"
    reread = json.loads(manifest_path.read_text())
    assert reread["branches"]["fp32"]["metrics"]["gate"] == {"esr": 0.5}


def test_gate_figures_lists_each_branch_gate():
    figures = json.loads(gate_figures({"branches": {"a": {"gate": {"esr": 1}, "x": 2}}}))
    assert figures == {"a": {"esr": 1}}
