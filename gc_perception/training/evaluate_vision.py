"""Every branch of a vision manifest, gated vs ungated, on the held-out test split.

    python -m gc_perception.training.evaluate_vision --task person|dog [--seed 0]

Writes models/<id>/evaluation.json and the test figures into each branch's manifest metrics.
Stages run in onnxruntime with one intra-op thread and no spinning; CPU time is the calling
thread's (time.thread_time), so other load on the machine inflates it little.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from gc_perception.adascale.energy import (
    FORMULA,
    default_device_config,
    load_power_table,
    stage_energy_joules,
)
from gc_perception.gating.gate_metrics import NEGATIVE, gate_report
from gc_perception.gating.gated_model import activation_sparsity, sparse_handoff_bytes
from gc_perception.gating.image_preprocess import preprocess_image
from gc_perception.training import onnx_tools, vision_data
from gc_perception.training.evaluation_file import gate_figures, save_evaluation

DECISION_THRESHOLD = 0.5
WARMUP_RUNS = 3
STAGE_CORE_CLASS = {"a": "efficiency", "b": "performance"}


@dataclass(frozen=True)
class BranchRun:
    """Per input: gate score, full-model score, handoff facts, CPU ms of each stage."""

    gate_scores: np.ndarray
    scores: np.ndarray
    sparsity: np.ndarray
    handoff_bytes: np.ndarray
    ms_a: np.ndarray
    ms_b: np.ndarray


def run_branch(
    file_a: Path,
    file_b: Path,
    images: np.ndarray,
    resolution: int,
    input_spec: dict,
    progress: bool = True,
) -> BranchRun:
    """Stage A, then stage B on every input (ungated path; the gate is applied afterwards)."""
    session_a, session_b = onnx_tools.cpu_session(file_a), onnx_tools.cpu_session(file_b)
    size = (resolution, resolution)
    for _ in range(WARMUP_RUNS):  # first runs pay for allocations
        warm_handoff = session_a.run(
            ["handoff"], {"input": preprocess_image(images[0], input_spec, size)}
        )
        session_b.run(["scores"], {"handoff": warm_handoff[0]})
    rows = []
    for image in tqdm(images, desc=f"run {Path(file_a).stem}@{resolution}", disable=not progress):
        x = preprocess_image(image, input_spec, size)
        (gate, handoff), ms_a = _cpu_ms(session_a.run, ["gate_score", "handoff"], {"input": x})
        (scores,), ms_b = _cpu_ms(session_b.run, ["scores"], {"handoff": handoff})
        rows.append(
            (
                float(gate.reshape(-1)[0]),
                float(scores[0, 0]),
                activation_sparsity(handoff),
                sparse_handoff_bytes(handoff),
                ms_a,
                ms_b,
            )
        )
    return BranchRun(*(np.array(column) for column in zip(*rows, strict=True)))


def _cpu_ms(run, *args):
    """Result of run(*args) and the CPU milliseconds it took on this thread."""
    start = time.thread_time()
    result = run(*args)
    return result, (time.thread_time() - start) * 1000.0


def _millijoules(ms: float, stage: str, power) -> float:
    """Energy ESTIMATE of `ms` CPU milliseconds of a stage on its core class."""
    return 1000.0 * stage_energy_joules(ms / 1000.0, STAGE_CORE_CLASS[stage], power)


def branch_evaluation(run: BranchRun, truth: np.ndarray, branch: dict, power) -> dict:
    """The evaluation.json entry of one branch."""
    threshold = branch["gate"]["threshold"]
    full_predicted = np.where(run.scores >= DECISION_THRESHOLD, 0, NEGATIVE)
    report = gate_report(run.gate_scores, full_predicted, np.where(truth, 0, NEGATIVE), threshold)
    opened = run.gate_scores >= threshold
    a_ms, b_ms = float(run.ms_a.mean()), float(run.ms_b.mean())
    gated_b_ms = float((run.ms_b * opened).mean())
    return {
        "gate": report,
        "sparsity": float(run.sparsity.mean()),
        "handoff_bytes_mean": float(run.handoff_bytes.mean()),
        "handoff_dense_bytes": int(branch["handoff"]["dense_bytes"]),
        "cpu_ms_per_input": {
            "gated": a_ms + gated_b_ms,
            "ungated": a_ms + b_ms,
            "stage_a": a_ms,
            "stage_b": b_ms,
        },
        "energy_mj_per_input": {
            "gated": _millijoules(a_ms, "a", power) + _millijoules(gated_b_ms, "b", power),
            "ungated": _millijoules(a_ms, "a", power) + _millijoules(b_ms, "b", power),
        },
    }


def evaluate(manifest_path: Path, seed: int = 0) -> dict:
    """Evaluate every branch on the test split; write evaluation.json and manifest metrics."""
    manifest = json.loads(Path(manifest_path).read_text())
    folder = Path(manifest_path).parent
    pool = vision_data.load_pool(seed)
    test = pool.indices("test")
    truth = np.load(vision_data.truth_path(manifest["task"], seed))[test]
    power = load_power_table(default_device_config())
    branches = {}
    for name, branch in manifest["branches"].items():
        run = run_branch(
            folder / branch["stage_a"]["file"],
            folder / branch["stage_b"]["file"],
            pool.images[test],
            branch["input_shape"][2],
            manifest["input"],
        )
        branches[name] = branch_evaluation(run, truth, branch, power)
        branch["metrics"] = {"split": "test", **branches[name]}
    return save_evaluation(manifest, manifest_path, _data_description(manifest, pool, truth),
                           branches, f"{FORMULA}, stage A on 'efficiency', stage B on "
                           "'performance', power from config/device.yaml")


def _data_description(manifest: dict, pool: vision_data.Pool, truth: np.ndarray) -> dict:
    test = pool.indices("test")
    kinds = {k: int((pool.kinds[test] == k).sum()) for k in np.unique(pool.kinds)}
    return {
        "description": f"test split of the image pool ({vision_data.DESCRIPTION}); views per "
        f"kind: {kinds}; truth = teacher: {manifest['provenance']['teacher']}",
        "kind": "mixed",
        "n_positives": int(truth.sum()),
        "n_negatives": int((~truth).sum()),
        "held_out": "split by source (image file, video segment, stamp cutout) with a seeded "
        "hash: 60% train, 20% calib (threshold), 20% test; composites use backgrounds of "
        "their own split",
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=("person", "dog"), required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    manifest = Path(__file__).resolve().parents[2] / "models" / f"{args.task}_lite0"
    evaluation = evaluate(manifest / "manifest.json", args.seed)
    print(gate_figures(evaluation))


if __name__ == "__main__":
    main()
