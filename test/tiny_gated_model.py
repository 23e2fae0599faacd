"""Tiny two-stage gated ONNX models and their manifest, built with onnx.helper (no torch).

Stage A: input x [1, 2, H, W] float32 ->
    gate_score = sigmoid(GATE_GAIN x mean(x))     [1]   (mean(x) > 0 passes, < 0 stops)
    handoff    = relu(x) x channel_mask           [1, 2, H, W]  (zeros where x <= 0 or masked)
Stage B: scores = sigmoid(mean_hw(handoff) x weights)  [1, 2]

Branches: "fp32" (dynamic H, W; channel 1 masked), "alt" (static 4x4, own files, other weights,
so a stage mixed across branches gives scores matching neither) and "small" (2x2, sharing the
fp32 files). `reference()` computes the expected outputs in numpy. `cpus_allowed_list()` reads a
thread's placement back from the kernel; `wait_for()` polls a condition with a deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from gc_perception.gating.manifest import save_manifest, sha256_file

LABELS = ("person", "other")
GATE_GAIN = 10.0
OPSET = 17


@dataclass(frozen=True)
class Recipe:
    files: str
    mask: tuple[float, float]
    weights: tuple[float, float]
    size: int
    dynamic: bool


RECIPES = {
    "fp32": Recipe("fp32", (1.0, 0.0), (1.0, 1.0), size=4, dynamic=True),
    "alt": Recipe("alt", (1.0, 1.0), (2.0, 0.5), size=4, dynamic=False),
    "small": Recipe("fp32", (1.0, 0.0), (1.0, 1.0), size=2, dynamic=True),
}


def input_tensor(size: int = 4, value: float = 1.0) -> np.ndarray:
    """A constant input: value > 0 passes the gate, value < 0 stops early."""
    return np.full((1, 2, size, size), value, dtype=np.float32)


def reference(branch: str, x: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Expected (gate_score, handoff, scores) of `branch` for input x."""
    recipe = RECIPES[branch]
    gate = 1.0 / (1.0 + np.exp(-GATE_GAIN * float(x.mean())))
    handoff = np.maximum(x, 0) * np.array(recipe.mask, np.float32).reshape(1, 2, 1, 1)
    scores = 1.0 / (1.0 + np.exp(-handoff.mean(axis=(2, 3)) * np.array(recipe.weights)))
    return gate, handoff, scores


def build_tiny_gated_model(folder: Path, threshold: float = 0.5) -> Path:
    """Write the ONNX files and manifest.json into `folder`; returns the manifest path."""
    folder.mkdir(parents=True, exist_ok=True)
    branches = {name: _branch_entry(folder, name, r, threshold) for name, r in RECIPES.items()}
    manifest = {
        "schema_version": 1,
        "model_id": "tiny_person",
        "task": "person",
        "modality": "vision",
        "labels": list(LABELS),
        "positive_labels": ["person"],
        "input": {"kind": "image", "layout": "NCHW", "channels": 2},
        "default_branch": "fp32",
        "branches": branches,
        "provenance": {"build_command": "test/tiny_gated_model.py", "data_kind": "synthetic",
                       "seed": 0},
    }
    return save_manifest(manifest, folder / "manifest.json")


def _branch_entry(folder: Path, name: str, recipe: Recipe, threshold: float) -> dict:
    a_file, b_file = f"{recipe.files}_stage_a.onnx", f"{recipe.files}_stage_b.onnx"
    hw = ["h", "w"] if recipe.dynamic else [recipe.size, recipe.size]
    if not (folder / a_file).exists():  # branches may share files
        _save(_stage_a(recipe, hw), folder / a_file)
        _save(_stage_b(recipe, hw), folder / b_file)
    shape = [1, 2, recipe.size, recipe.size]
    return {
        "description": f"tiny test branch {name}",
        "operators": ["fp32"] if recipe.size == 4 else ["fp32", f"input_scale:{recipe.size}"],
        "input_shape": shape,
        "stage_a": {"file": a_file, "sha256": sha256_file(folder / a_file), "input": "input",
                    "gate_output": "gate_score", "handoff_output": "handoff",
                    "params": 3, "macs": 64},
        "stage_b": {"file": b_file, "sha256": sha256_file(folder / b_file), "input": "handoff",
                    "output": "scores", "params": 2, "macs": 32},
        "handoff": {"shape": shape, "dtype": "float32", "dense_bytes": 4 * int(np.prod(shape))},
        "gate": {"threshold": threshold, "calibration": {"method": "fixed"}},
        "metrics": {},
    }


def _stage_a(recipe: Recipe, hw: list) -> onnx.ModelProto:
    mask = np.array(recipe.mask, np.float32).reshape(1, 2, 1, 1)
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["mean"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Mul", ["mean", "gain"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["gate_score"]),
        helper.make_node("Relu", ["input"], ["active"]),
        helper.make_node("Mul", ["active", "mask"], ["handoff"]),
    ]
    inits = [_const(np.array([GATE_GAIN], np.float32), "gain"), _const(mask, "mask")]
    outputs = [_tensor("gate_score", [1]), _tensor("handoff", [1, 2, *hw])]
    return _model(nodes, [_tensor("input", [1, 2, *hw])], outputs, inits)


def _stage_b(recipe: Recipe, hw: list) -> onnx.ModelProto:
    nodes = [
        helper.make_node("ReduceMean", ["handoff"], ["pooled"], axes=[2, 3], keepdims=0),
        helper.make_node("Mul", ["pooled", "weights"], ["logits"]),
        helper.make_node("Sigmoid", ["logits"], ["scores"]),
    ]
    inits = [_const(np.array(recipe.weights, np.float32), "weights")]
    return _model(nodes, [_tensor("handoff", [1, 2, *hw])], [_tensor("scores", [1, 2])], inits)


def _model(nodes, inputs, outputs, inits) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "tiny_gated", inputs, outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


def _tensor(name: str, shape: list) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _const(array: np.ndarray, name: str) -> onnx.TensorProto:
    return numpy_helper.from_array(array, name)


def _save(model: onnx.ModelProto, path: Path) -> None:
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def cpus_allowed_list(tid: int) -> str:
    """A thread's Cpus_allowed_list as the kernel reports it, e.g. "0-1"."""
    status = Path(f"/proc/self/task/{tid}/status").read_text()
    return next(line.split(":")[1].strip() for line in status.splitlines()
                if line.startswith("Cpus_allowed_list"))


def wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    """True once `condition()` holds; False if it still does not after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True
