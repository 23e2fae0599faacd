"""onnx_tools on a tiny hand-built graph: no torch needed."""

import hashlib

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from gc_perception.training import onnx_tools


def _tiny_model(path, dynamic_hw: bool = False):
    """input [1,3,H,W] -> Conv(4, 3x3, pad 1) -> Relu -> GlobalAveragePool -> Flatten -> Gemm(2)."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.normal(size=(4, 3, 3, 3)).astype(np.float32), "conv_w"),
        numpy_helper.from_array(np.zeros(4, np.float32), "conv_b"),
        numpy_helper.from_array(rng.normal(size=(2, 4)).astype(np.float32), "fc_w"),
        numpy_helper.from_array(np.zeros(2, np.float32), "fc_b"),
    ]
    nodes = [
        helper.make_node("Conv", ["input", "conv_w", "conv_b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["scores"], transB=1),
    ]
    hw = ["h", "w"] if dynamic_hw else [8, 8]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, *hw])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 2])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", onnx_tools.OPSET)])
    onnx.save(model, str(path))
    return path


def test_counts_params_and_macs(tmp_path):
    path = _tiny_model(tmp_path / "tiny.onnx")
    assert onnx_tools.count_params(path) == 4 * 27 + 4 + 2 * 4 + 2
    assert onnx_tools.count_macs(path) == 4 * 8 * 8 * 27 + 2 * 4


def test_macs_of_dynamic_input_need_and_use_given_shape(tmp_path):
    path = _tiny_model(tmp_path / "tiny.onnx", dynamic_hw=True)
    with pytest.raises(ValueError, match="input_shapes"):
        onnx_tools.count_macs(path)
    assert onnx_tools.count_macs(path, {"input": [1, 3, 4, 4]}) == 4 * 4 * 4 * 27 + 2 * 4


def test_static_int8_keeps_outputs_close_and_params_count(tmp_path):
    fp32 = _tiny_model(tmp_path / "tiny.onnx")
    rng = np.random.default_rng(1)
    feeds = [{"input": rng.normal(size=(1, 3, 8, 8)).astype(np.float32)} for _ in range(16)]
    int8 = onnx_tools.quantize_static_int8(fp32, tmp_path / "tiny_int8.onnx", feeds)
    ops = {node.op_type for node in onnx.load(str(int8)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    x = feeds[0]
    reference = onnx_tools.cpu_session(fp32).run(None, x)[0]
    quantized = onnx_tools.cpu_session(int8).run(None, x)[0]
    assert np.allclose(reference, quantized, atol=0.1 * np.abs(reference).max() + 1e-3)
    assert onnx_tools.count_params(int8) == onnx_tools.count_params(fp32)


def test_sha256_matches_hashlib(tmp_path):
    path = tmp_path / "blob.bin"
    path.write_bytes(b"gated compression" * 1000)
    assert onnx_tools.sha256_file(path) == hashlib.sha256(path.read_bytes()).hexdigest()
