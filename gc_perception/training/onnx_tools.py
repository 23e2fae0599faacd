"""ONNX helpers shared by the model builders: export, static int8 quantization, size counts.

Generic on purpose (vision and audio use it): nothing here knows about a task or a network.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper, shape_inference
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

from gc_perception.gating.manifest import sha256_file

__all__ = [
    "OPSET",
    "FeedsCalibrationReader",
    "count_macs",
    "count_params",
    "cpu_session",
    "export_onnx",
    "fold_constants",
    "node_names",
    "quantize_static_int8",
    "sha256_file",
]

OPSET = 17
_QDQ_OPS = {"QuantizeLinear", "DequantizeLinear"}


def export_onnx(
    module,
    example_inputs: Sequence,
    path: str | Path,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_axes: Mapping[str, Mapping[int, str]] | None = None,
) -> Path:
    """Export a torch module in eval mode with the TorchScript exporter (opset 17).

    `dynamo=False` because the dynamo exporter of torch 2.13 splits our small graphs into
    functions onnxruntime's quantizer does not handle.
    """
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module.eval()
    with torch.no_grad():
        torch.onnx.export(
            module,
            tuple(example_inputs),
            str(path),
            input_names=list(input_names),
            output_names=list(output_names),
            dynamic_axes={k: dict(v) for k, v in (dynamic_axes or {}).items()},
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    fold_constants(path, path)
    onnx.checker.check_model(str(path))
    return path


def fold_constants(src: str | Path, dst: str | Path) -> Path:
    """Constant-fold with onnxruntime's basic (hardware-independent) optimizations.

    The TorchScript exporter leaves padding arithmetic as node chains when axes are dynamic;
    folded, the graph is smaller and shape inference can see every Conv's input.
    """
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(dst)
    ort.InferenceSession(str(src), options, providers=["CPUExecutionProvider"])
    return Path(dst)


class FeedsCalibrationReader(CalibrationDataReader):
    """Hands onnxruntime's calibrator one feed dict (input name -> array) at a time."""

    def __init__(self, feeds: Iterable[Mapping[str, np.ndarray]]) -> None:
        self._feeds: Iterator[Mapping[str, np.ndarray]] = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        feed = next(self._feeds, None)
        return None if feed is None else {k: np.ascontiguousarray(v) for k, v in feed.items()}


def quantize_static_int8(
    fp32_path: str | Path,
    int8_path: str | Path,
    calibration_feeds: Iterable[Mapping[str, np.ndarray]],
    per_channel: bool = True,
    nodes_to_exclude: Sequence[str] = (),
) -> Path:
    """Static int8 QDQ quantization (uint8 activations, int8 per-channel weights).

    Static, not dynamic: dynamic int8 is about 8x slower than fp32 on these CPUs, static QDQ
    about 2x faster. Calibration ranges are MinMax over `calibration_feeds`.
    """
    int8_path = Path(int8_path)
    int8_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared),
            str(int8_path),
            FeedsCalibrationReader(calibration_feeds),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=list(nodes_to_exclude),
        )
    onnx.checker.check_model(str(int8_path))
    return int8_path


def node_names(path: str | Path, prefixes: Sequence[str]) -> list[str]:
    """Names of the nodes whose name starts with one of `prefixes` (e.g. to keep them fp32)."""
    return [
        node.name
        for node in onnx.load(str(path)).graph.node
        if node.name.startswith(tuple(prefixes))
    ]


def cpu_session(path: str | Path, threads: int = 1) -> ort.InferenceSession:
    """A CPU session with `threads` intra-op threads and no spinning (fair CPU-time figures)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def count_params(path: str | Path) -> int:
    """Elements of the weight initializers (quantization scales and zero points excluded)."""
    model = onnx.load(str(path))
    qdq_params = {
        name for node in model.graph.node if node.op_type in _QDQ_OPS for name in node.input[1:]
    }
    return int(
        sum(
            int(np.prod(init.dims, dtype=np.int64))
            for init in model.graph.initializer
            if init.name not in qdq_params
        )
    )


def count_macs(path: str | Path, input_shapes: Mapping[str, Sequence[int]] | None = None) -> int:
    """Multiply-accumulates of Conv, Gemm and MatMul nodes, from ONNX shape inference.

    `input_shapes` fixes symbolic input dimensions (e.g. dynamic H/W) before inference.
    """
    model = onnx.load(str(path))
    for graph_input in model.graph.input:
        if input_shapes and graph_input.name in input_shapes:
            _set_shape(graph_input, input_shapes[graph_input.name])
    inferred = shape_inference.infer_shapes(model, data_prop=True)
    shapes = _known_shapes(inferred)
    return int(sum(_node_macs(node, shapes) for node in inferred.graph.node))


def _set_shape(value_info: onnx.ValueInfoProto, shape: Sequence[int]) -> None:
    dims = value_info.type.tensor_type.shape.dim
    if len(dims) != len(shape):
        raise ValueError(f"{value_info.name}: rank {len(dims)} != given shape {list(shape)}")
    for dim, size in zip(dims, shape, strict=True):
        dim.Clear()
        dim.dim_value = int(size)


def _known_shapes(model: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    """Fully known tensor shapes: initializers, inputs, outputs and inferred intermediates."""
    shapes = {init.name: tuple(init.dims) for init in model.graph.initializer}
    graph = model.graph
    for info in [*graph.input, *graph.output, *graph.value_info]:
        dims = info.type.tensor_type.shape.dim
        if dims and all(d.HasField("dim_value") for d in dims):
            shapes[info.name] = tuple(d.dim_value for d in dims)
    for node in graph.node:  # Constant nodes (e.g. reshape targets) carry their own shape
        if node.op_type == "Constant" and node.attribute and node.attribute[0].HasField("t"):
            shapes[node.output[0]] = tuple(numpy_helper.to_array(node.attribute[0].t).shape)
    return shapes


def _node_macs(node: onnx.NodeProto, shapes: Mapping[str, tuple[int, ...]]) -> int:
    if node.op_type not in {"Conv", "Gemm", "MatMul"}:
        return 0
    out, weight = shapes.get(node.output[0]), shapes.get(node.input[1])
    if out is None or weight is None:
        raise ValueError(f"{node.op_type} {node.name}: shapes unknown; pass input_shapes")
    if node.op_type == "Conv":  # weight [Cout, Cin/groups, kh, kw]
        return int(np.prod(out, dtype=np.int64) * np.prod(weight[1:], dtype=np.int64))
    if node.op_type == "Gemm":
        trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
        return int(np.prod(out, dtype=np.int64) * (weight[1] if trans_b else weight[0]))
    return int(np.prod(out, dtype=np.int64) * weight[-2])


def manifest_branch_entry(
    description: str,
    operators: Sequence[str],
    input_shape: list[int],
    files: Mapping[str, Path],
    threshold: float,
    calibration: Mapping[str, object],
) -> dict:
    """One manifest branch from its stage files ("a", "b"): hashes, sizes at `input_shape`,
    the handoff measured by running stage A, and the calibrated gate."""
    session = cpu_session(files["a"])
    zeros = np.zeros(input_shape, np.float32)
    handoff_shape = list(session.run(["handoff"], {"input": zeros})[0].shape)
    return {
        "description": description,
        "operators": list(operators),
        "input_shape": input_shape,
        "stage_a": {**_stage_entry(files["a"], {"input": input_shape}), "input": "input",
                    "gate_output": "gate_score", "handoff_output": "handoff"},
        "stage_b": {**_stage_entry(files["b"], {"handoff": handoff_shape}), "input": "handoff",
                    "output": "scores"},
        "handoff": {"shape": handoff_shape, "dtype": "float32",
                    "dense_bytes": int(np.prod(handoff_shape)) * 4},
        "gate": {"threshold": threshold, "calibration": dict(calibration)},
        "metrics": {},
    }


def _stage_entry(path: Path, input_shapes: Mapping[str, Sequence[int]]) -> dict:
    return {"file": path.name, "sha256": sha256_file(path), "params": count_params(path),
            "macs": count_macs(path, input_shapes)}
