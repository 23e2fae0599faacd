"""A tiny two-stage gated *image* model (3-channel, like the shipped vision models), for the
vision node's mechanics tests. Bright frames (mean pixel > 127.5) open the gate and score
'person' high; dark frames stop early. Branches: "full" (dynamic H, W; 32x32) and "small"
(16x16, same files), so a branch switch changes the input size the node must prepare."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from onnx import helper
from tiny_gated_model import _const, _model, _save, _tensor

from gc_perception.gating.manifest import save_manifest, sha256_file

SIZES = {"full": 32, "small": 16}


def build_tiny_image_model(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    _save(_stage_a(), folder / "stage_a.onnx")
    _save(_stage_b(), folder / "stage_b.onnx")
    manifest = {
        "schema_version": 1, "model_id": "tiny_image", "task": "person", "modality": "vision",
        "labels": ["person"], "positive_labels": ["person"],
        "input": {"kind": "image", "layout": "NCHW", "color_order": "RGB",
                  "mean": [127.5] * 3, "std": [127.5] * 3},
        "default_branch": "full",
        "branches": {name: _branch(folder, size) for name, size in SIZES.items()},
        "provenance": {"build_command": "test/tiny_image_model.py", "data_kind": "synthetic",
                       "seed": 0},
    }
    return save_manifest(manifest, folder / "manifest.json")


def _branch(folder: Path, size: int) -> dict:
    shape = [1, 3, size, size]
    stage = {"sha256": None, "input": None, "params": 1, "macs": 1}
    return {
        "description": f"tiny {size}x{size}", "operators": ["fp32"], "input_shape": shape,
        "stage_a": {**stage, "file": "stage_a.onnx", "sha256": sha256_file(folder / "stage_a.onnx"),
                    "input": "input", "gate_output": "gate_score", "handoff_output": "handoff"},
        "stage_b": {**stage, "file": "stage_b.onnx", "sha256": sha256_file(folder / "stage_b.onnx"),
                    "input": "handoff", "output": "scores"},
        "handoff": {"shape": shape, "dtype": "float32", "dense_bytes": 4 * int(np.prod(shape))},
        "gate": {"threshold": 0.5, "calibration": {"method": "fixed"}},
    }


def _stage_a():
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["mean"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Mul", ["mean", "gain"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["gate_score"]),
        helper.make_node("Relu", ["input"], ["handoff"]),
    ]
    inits = [_const(np.array([20.0], np.float32), "gain")]
    outputs = [_tensor("gate_score", [1]), _tensor("handoff", [1, 3, "h", "w"])]
    return _model(nodes, [_tensor("input", [1, 3, "h", "w"])], outputs, inits)


def _stage_b():
    nodes = [
        helper.make_node("ReduceMean", ["handoff"], ["pooled"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Mul", ["pooled", "gain"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["score"]),
        helper.make_node("Reshape", ["score", "shape"], ["scores"]),
    ]
    inits = [_const(np.array([8.0], np.float32), "gain"),
             _const(np.array([1, 1], np.int64), "shape")]
    return _model(nodes, [_tensor("handoff", [1, 3, "h", "w"])], [_tensor("scores", [1, 1])],
                  inits)
