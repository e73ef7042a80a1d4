"""Post-training quantization: float MLPerf Tiny models quantized on their sample images keep the
float model's top-1 class, calibration methods, int8 I/O, layers kept float, and bad input."""
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import tinyjit
from tinyjit import TinyJitError
from tinyjit.quantize import sqnr_db

from conftest import FLOAT_MODELS, MODELS, samples

FLOAT_ONNX = {name: MODELS / files[0] for name, files in FLOAT_MODELS.items()}


def images(name: str) -> np.ndarray:
    kind, divisor = ("vww", 255.0) if name == "vww" else ("cifar10", 1.0)
    return np.concatenate([v.astype(np.float32)[None] / divisor for _, v in sorted(samples(kind).items())])


def augmented(x: np.ndarray, top: float) -> np.ndarray:
    """The samples, mirrored, darker and brighter: a small calibration set from six images."""
    return np.concatenate([x, x[:, :, ::-1], np.clip(x * 0.8, 0, top), np.clip(x * 1.2, 0, top)])


# minmax is checked on ad in test_every_calibration_method_gives_a_close_model
@pytest.mark.parametrize("name,method", [("vww", "percentile"), ("vww", "kl"), ("resnet", "percentile")])
def test_quantized_model_keeps_top1_and_sqnr(name, method):
    x = images(name)
    calibration = {"input_1": augmented(x, 1.0 if name == "vww" else 255.0)}
    float_sess = tinyjit.InferenceSession(str(FLOAT_ONNX[name]))
    plan = tinyjit.compile_model(str(FLOAT_ONNX[name]), quantize="int8", calibration=calibration,
                                 calibration_method=method, progress=False)
    assert {"conv2d_int8", "softmax_int8"} <= {s.kernel for s in plan.steps}
    sess = tinyjit.InferenceSession(plan)
    ratios = []
    for i in range(len(x)):
        want = float_sess.run(None, {"input_1": x[i:i + 1]})[0]
        got = sess.run(None, {"input_1": x[i:i + 1]})[0]
        assert got.argmax() == want.argmax(), f"sample {i}: {got} vs float {want}"
        ratios.append(sqnr_db(want, got))
    assert np.median(ratios) >= 15.0, ratios


def test_int8_io_matches_the_official_int8_arena():
    plan = tinyjit.compile_model(str(FLOAT_ONNX["vww"]), quantize="int8", calibration={"input_1": images("vww")},
                                 int8_io=True, progress=False)
    assert plan.tensors[plan.inputs[0]].dtype == "int8" and plan.tensors[plan.outputs[0]].dtype == "int8"
    assert plan.tensors[plan.inputs[0]].quant is not None
    assert plan.arena_bytes <= 55296


def _ad_calibration(n=16, seed=0):
    return {"input_1": np.random.default_rng(seed).standard_normal((n, 640)).astype(np.float32)}


@pytest.mark.parametrize("method", ["minmax", "percentile", "kl"])
def test_every_calibration_method_gives_a_close_model(method):
    cal = _ad_calibration()
    plan = tinyjit.compile_model(str(FLOAT_ONNX["ad"]), quantize="int8", calibration=cal, calibration_method=method,
                                 progress=False)
    assert [s.kernel for s in plan.steps].count("gemm_int8") == 10
    x = cal["input_1"][:1]
    want = tinyjit.InferenceSession(str(FLOAT_ONNX["ad"])).run(None, {"input_1": x})[0]
    got = tinyjit.InferenceSession(plan).run(None, {"input_1": x})[0]
    assert sqnr_db(want, got) > 12


def test_keep_float_layer_stays_float_between_quantize_and_dequantize():
    graph_nodes = tinyjit.compile_model(str(FLOAT_ONNX["ad"])).steps
    third = graph_nodes[2].node
    plan = tinyjit.compile_model(str(FLOAT_ONNX["ad"]), quantize="int8", calibration=_ad_calibration(),
                                 keep_float=[third], progress=False)
    kernels = {s.node: s.kernel for s in plan.steps}
    assert kernels[third] != "gemm_int8" and "f32" in kernels[third]
    assert {"quantize_linear", "dequantize_linear"} <= set(kernels.values())


def test_folder_of_npy_files_and_cli(tmp_path):
    folder = tmp_path / "calib"
    folder.mkdir()
    np.save(folder / "input_1.npy", _ad_calibration()["input_1"])
    out = tmp_path / "ad.tjm"
    proc = subprocess.run([sys.executable, "-m", "tinyjit.cli", "convert", str(FLOAT_ONNX["ad"]), "-o", str(out),
                           "--quantize", "int8", "--calibration", str(folder), "--calibration-method", "percentile"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    sess = tinyjit.InferenceSession(str(out))
    assert any(s.kernel == "gemm_int8" for s in sess.plan.steps)
    proc = subprocess.run([sys.executable, "-m", "tinyjit.cli", "inspect", str(FLOAT_ONNX["ad"]), "--json",
                           "--quantize", "int8", "--calibration", str(folder)], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    import json
    sqnr = json.loads(proc.stdout)["sqnr_db"]
    assert len(sqnr) >= 10 and all(v is None or v > 5 for v in sqnr.values())


@pytest.mark.parametrize("data,message", [
    ({"wrong_name": np.zeros((4, 640), np.float32)}, "do not match the model inputs"),
    ({"input_1": np.zeros((4, 64), np.float32)}, "has shape"),
    ({"input_1": np.zeros((4, 640), np.int32)}, "float32"),
    ({"input_1": np.zeros((0, 640), np.float32)}, "empty"),
    ({"input_1": np.full((4, 640), np.nan, np.float32)}, "NaN"),
])
def test_bad_calibration_data_is_a_clear_error(data, message):
    with pytest.raises(TinyJitError, match=message):
        tinyjit.compile_model(str(FLOAT_ONNX["ad"]), quantize="int8", calibration=data, progress=False)


def test_other_bad_quantization_requests():
    with pytest.raises(TinyJitError, match="needs calibration"):
        tinyjit.compile_model(str(FLOAT_ONNX["ad"]), quantize="int8")
    with pytest.raises(TinyJitError, match="int8"):
        tinyjit.compile_model(str(FLOAT_ONNX["ad"]), quantize="int4", calibration=_ad_calibration())
    with pytest.raises(TinyJitError, match="not nodes of the model"):
        tinyjit.compile_model(str(FLOAT_ONNX["ad"]), quantize="int8", calibration=_ad_calibration(),
                              keep_float=["no_such_node"])
    with pytest.raises(TinyJitError, match="calibration method"):
        tinyjit.compile_model(str(FLOAT_ONNX["ad"]), quantize="int8", calibration=_ad_calibration(),
                              calibration_method="entropy-ish")
    with pytest.raises(TinyJitError, match="no such file"):
        tinyjit.compile_model(str(FLOAT_ONNX["ad"]), quantize="int8", calibration="/nonexistent/calib.npz")


def test_cli_calibration_without_quantize_is_one_line_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tinyjit.cli", "convert", str(FLOAT_ONNX["ad"]), "-o",
                           str(tmp_path / "x.tjm"), "--calibration", "c.npz"], capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert proc.stderr.strip().startswith("tinyjit: error:") and "--quantize" in proc.stderr


def test_graph_output_read_by_an_in_place_op_is_not_overwritten():
    """PTQ observes every activation as a graph output: an in-place op must not write over one."""
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Add", ["a", "c"], ["b"]),
             helper.make_node("Sigmoid", ["b"], ["d"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 8]) for n in "ad"],
                              [onnx.numpy_helper.from_array(np.ones((1, 8), np.float32), "c")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    x = np.arange(-4, 4, dtype=np.float32).reshape(1, 8)
    a, d = tinyjit.InferenceSession(model).run(None, {"x": x})
    np.testing.assert_array_equal(a, np.maximum(x, 0))
    np.testing.assert_allclose(d, 1 / (1 + np.exp(-(np.maximum(x, 0) + 1))), rtol=1e-6)
