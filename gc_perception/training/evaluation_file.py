"""evaluation.json of a shipped model: written the same way by the vision and keyword evaluators.

It sits beside manifest.json, whose branches get their `metrics` from the same run, so both files
are saved together."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gc_perception.gating.manifest import save_manifest


def save_evaluation(manifest: dict[str, Any], manifest_path: Path, data: dict[str, Any],
                    branches: dict[str, Any], energy_formula: str) -> dict[str, Any]:
    """Write evaluation.json next to the manifest, and the manifest with its branch metrics."""
    evaluation = {
        "model_id": manifest["model_id"],
        "task": manifest["task"],
        "data": data,
        "branches": branches,
        "energy_formula": energy_formula,
    }
    folder = Path(manifest_path).parent
    (folder / "evaluation.json").write_text(json.dumps(evaluation, indent=2) + "\n")
    save_manifest(manifest, manifest_path)
    return evaluation


def gate_figures(evaluation: dict[str, Any]) -> str:
    """The gate figures of every branch, as the build and evaluate commands print them."""
    return json.dumps({b: v["gate"] for b, v in evaluation["branches"].items()}, indent=1)
