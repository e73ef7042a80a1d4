"""ONNX QDQ / QLinear models run as integer ops: single ops within 1 LSB of onnxruntime, and the
MLPerf Tiny int8 .onnx files (tf2onnx from the int8 .tflite) bit-exact with the TFLite path.

onnxruntime requantizes with a float multiplier and rounds half to even; TFLite (and tinyjit)
use a fixed-point multiplier and round half away from zero. One op differs by at most one LSB;
through a whole network the differences add up (onnxruntime itself is off TF Lite Micro by up to
a dozen LSB on random inputs of these models), so whole models are compared with the TFLite
path instead, which must be identical.
"""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import tinyjit
from tinyjit.errors import TinyJitError

from conftest import INT8_MODELS, MODELS, ort_session, samples

INT8, UINT8, INT32, FLOAT = TensorProto.INT8, TensorProto.UINT8, TensorProto.INT32, TensorProto.FLOAT


# --- whole models ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(INT8_MODELS))
def test_mlperf_qdq_model_is_all_integer_and_equals_the_tflite_path(name):
    onnx_file, tflite_file = INT8_MODELS[name]
    sess = tinyjit.InferenceSession(str(MODELS / onnx_file))
    twin = tinyjit.InferenceSession(str(MODELS / tflite_file))
    kernels = {s.kernel for s in sess.plan.steps}
    assert not any("f32" in k or k in ("quantize_linear", "dequantize_linear") for k in kernels), kernels
    arg = sess.get_inputs()[0]
    assert arg.dtype == np.int8 and sess.get_outputs()[0].dtype == np.int8
    rng = np.random.default_rng(11)
    for _ in range(3):
        x = rng.integers(-128, 128, size=arg.shape, dtype=np.int8)
        got = sess.run(None, {arg.name: x})[0]
        want = twin.run(None, {twin.get_inputs()[0].name: x})[0]
        np.testing.assert_array_equal(got, want.reshape(got.shape))


@pytest.mark.parametrize("name,kind", [("vww", "vww"), ("resnet", "cifar10")])
def test_mlperf_qdq_models_agree_with_onnxruntime_on_sample_images(name, kind):
    path = MODELS / INT8_MODELS[name][0]
    sess, ref = tinyjit.InferenceSession(str(path)), ort_session(path)
    q = sess.plan.tensors[sess.plan.inputs[0]].quant
    for key, image in sorted(samples(kind).items()):
        x = image.astype(np.float32)[None] / (255.0 if name == "vww" else 1.0)
        xq = tinyjit.quant.quantize(x, q.scale[0], q.zero_point[0], "int8")
        got = sess.run(None, {sess.get_inputs()[0].name: xq})[0]
        want = ref.run(None, {ref.get_inputs()[0].name: xq})[0]
        assert got.argmax() == want.argmax(), key


# --- single ops against onnxruntime ------------------------------------------------------------

def _const(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


class QdqBuilder:
    """A one-op QDQ model: int8 inputs → DequantizeLinear → op → [activation] → QuantizeLinear."""

    def __init__(self, seed=0):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.inputs = [], [], []

    def int8_input(self, name, shape, scale, zp, dtype=INT8):
        self.inputs.append(helper.make_tensor_value_info(name, dtype, shape))
        return self.dq(name, scale, zp, np.int8 if dtype == INT8 else np.uint8)

    def dq(self, name, scale, zp, zp_dtype=np.int8, axis=None):
        self.inits += [_const(f"{name}_s", np.asarray(scale, np.float32)), _const(f"{name}_z", np.asarray(zp, zp_dtype))]
        attrs = {} if axis is None else {"axis": axis}
        self.nodes.append(helper.make_node("DequantizeLinear", [name, f"{name}_s", f"{name}_z"], [f"{name}_f"], **attrs))
        return f"{name}_f"

    def weights(self, name, shape, axis=0):
        w = self.rng.integers(-127, 128, size=shape).astype(np.int8)
        scales = self.rng.uniform(0.002, 0.02, shape[axis]).astype(np.float32)
        self.inits.append(_const(name, w))
        return self.dq(name, scales, np.zeros(shape[axis], np.int8), axis=axis), scales

    def bias(self, name, in_scale, w_scales):
        b = self.rng.integers(-5000, 5000, size=w_scales.size).astype(np.int32)
        self.inits.append(_const(name, b))
        return self.dq(name, (np.float32(in_scale) * w_scales).astype(np.float32), np.zeros(w_scales.size, np.int32),
                       np.int32, axis=0)

    def op(self, op, inputs, **attrs):
        self.nodes.append(helper.make_node(op, inputs, [f"{op}_out"], **attrs))
        return f"{op}_out"

    def model(self, y_float, scale, zp, out_shape, dtype=INT8) -> bytes:
        self.inits += [_const("y_s", np.float32(scale)), _const("y_z", np.asarray(zp, np.int8 if dtype == INT8 else np.uint8))]
        self.nodes.append(helper.make_node("QuantizeLinear", [y_float, "y_s", "y_z"], ["y"]))
        graph = helper.make_graph(self.nodes, "qdq", self.inputs, [helper.make_tensor_value_info("y", dtype, out_shape)],
                                  self.inits)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _compare(model: bytes, feeds: dict, lsb: int = 1):
    sess, ref = tinyjit.InferenceSession(model), ort_session(model)
    got, want = sess.run(None, feeds)[0], ref.run(None, feeds)[0]
    assert got.dtype == want.dtype and got.shape == want.shape
    diff = np.abs(got.astype(np.int32) - want.astype(np.int32))
    assert diff.max() <= lsb, f"max diff {diff.max()} LSB, {np.count_nonzero(diff)} of {diff.size} differ"
    return sess


def _rand(shape, seed=1, dtype=np.int8):
    info = np.iinfo(dtype)
    return np.random.default_rng(seed).integers(info.min, info.max + 1, size=shape, dtype=dtype)


@pytest.mark.parametrize("group,activation,pads,stride", [(1, "Relu", [1, 1, 1, 1], 1), (1, None, [0, 0, 1, 1], 2),
                                                          (8, "Relu", [1, 1, 1, 1], 1), (2, None, [0, 0, 0, 0], 1)])
def test_conv_matches_onnxruntime(group, activation, pads, stride):
    b = QdqBuilder()
    x = b.int8_input("x", [1, 8, 9, 7], 0.05, 3)
    w, ws = b.weights("w", [16 if group != 8 else 8, 8 // group, 3, 3])
    y = b.op("Conv", [x, w, b.bias("b", 0.05, ws)], group=group, pads=pads, strides=[stride, stride],
             kernel_shape=[3, 3])
    if activation:
        y = b.op(activation, [y])
    out_c = 16 if group != 8 else 8
    out_hw = [(9 + pads[0] + pads[2] - 3) // stride + 1, (7 + pads[1] + pads[3] - 3) // stride + 1]
    sess = _compare(b.model(y, 0.08, -5, [1, out_c] + out_hw), {"x": _rand([1, 8, 9, 7])})
    kernels = {s.kernel for s in sess.plan.steps}
    assert ("depthwise_conv2d_int8" if group == 8 else "conv2d_int8") in kernels


def test_matmul_add_relu_matches_onnxruntime():
    b = QdqBuilder(2)
    x = b.int8_input("x", [3, 40], 0.1, -7)
    w, ws = b.weights("w", [40, 24], axis=1)
    y = b.op("MatMul", [x, w])
    y = b.op("Add", [y, b.bias("b", 0.1, ws)])
    y = b.op("Relu", [y])
    sess = _compare(b.model(y, 0.2, -128, [3, 24]), {"x": _rand([3, 40], 2)})
    assert [s.kernel for s in sess.plan.steps] == ["gemm_int8"]


def test_add_with_two_scales_and_broadcast_matches_onnxruntime():
    b = QdqBuilder()
    a = b.int8_input("a", [1, 4, 5, 6], 0.03, 10)
    c = b.int8_input("c", [1, 1, 1, 6], 0.11, -20)
    y = b.op("Add", [a, c])
    _compare(b.model(y, 0.07, 2, [1, 4, 5, 6]), {"a": _rand([1, 4, 5, 6], 3), "c": _rand([1, 1, 1, 6], 4)})


@pytest.mark.parametrize("kernel,pads", [([2, 2], [0, 0, 0, 0]), ([3, 3], [1, 1, 1, 1])])
def test_average_pool_matches_onnxruntime(kernel, pads):
    b = QdqBuilder()
    x = b.int8_input("x", [1, 5, 8, 8], 0.04, -3)
    y = b.op("AveragePool", [x], kernel_shape=kernel, strides=[2, 2], pads=pads)
    out = (8 + pads[0] + pads[2] - kernel[0]) // 2 + 1
    _compare(b.model(y, 0.04, -3, [1, 5, out, out]), {"x": _rand([1, 5, 8, 8], 5)})


def test_softmax_matches_onnxruntime():
    b = QdqBuilder()
    x = b.int8_input("x", [2, 10], 0.15, 4)
    y = b.op("Softmax", [x], axis=-1)
    _compare(b.model(y, 1 / 256, -128, [2, 10]), {"x": _rand([2, 10], 6)})


def test_uint8_activations_match_onnxruntime():
    b = QdqBuilder(3)
    x = b.int8_input("x", [1, 4, 6, 6], 0.02, 128, UINT8)
    w, ws = b.weights("w", [6, 4, 1, 1])
    y = b.op("Conv", [x, w, b.bias("b", 0.02, ws)], kernel_shape=[1, 1])
    _compare(b.model(y, 0.05, 100, [1, 6, 6, 6], UINT8), {"x": _rand([1, 4, 6, 6], 7, np.uint8)})


def test_requantize_and_leftover_float_ops():
    """DQ → Q at another scale is a requantization; an op without an int8 kernel stays float."""
    b = QdqBuilder()
    x = b.int8_input("x", [2, 7], 0.05, 1)
    y = b.op("Exp", [b.op("Neg", [b.op("Relu", [x])])])
    _compare(b.model(y, 1 / 255, -128, [2, 7]), {"x": _rand([2, 7], 8)})
    b = QdqBuilder()
    x = b.int8_input("x", [2, 7], 0.05, 1)
    sess = _compare(b.model(x, 0.13, -9, [2, 7]), {"x": _rand([2, 7], 9)})
    assert [s.kernel for s in sess.plan.steps] == ["requantize"]


def _qlinear_conv_model() -> bytes:
    rng = np.random.default_rng(5)
    w = rng.integers(-127, 128, size=(6, 3, 3, 3)).astype(np.int8)
    inits = [_const("xs", np.float32(0.03)), _const("xz", np.int8(-4)), _const("w", w),
             _const("ws", rng.uniform(0.005, 0.02, 6).astype(np.float32)), _const("wz", np.zeros(6, np.int8)),
             _const("ys", np.float32(0.1)), _const("yz", np.int8(7)),
             _const("b", rng.integers(-300, 300, 6).astype(np.int32))]
    node = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], ["y"],
                            pads=[1, 1, 1, 1], kernel_shape=[3, 3])
    graph = helper.make_graph([node], "qlinear", [helper.make_tensor_value_info("x", INT8, [1, 3, 6, 5])],
                              [helper.make_tensor_value_info("y", INT8, [1, 6, 6, 5])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_qlinear_conv_matches_onnxruntime():
    _compare(_qlinear_conv_model(), {"x": _rand([1, 3, 6, 5], 10)})


def test_qlinear_matmul_matches_onnxruntime():
    rng = np.random.default_rng(6)
    inits = [_const("as", np.float32(0.04)), _const("az", np.int8(3)),
             _const("b", rng.integers(-127, 128, size=(12, 5)).astype(np.int8)),
             _const("bs", np.float32(0.01)), _const("bz", np.int8(0)), _const("ys", np.float32(0.06)),
             _const("yz", np.int8(-1))]
    node = helper.make_node("QLinearMatMul", ["a", "as", "az", "b", "bs", "bz", "ys", "yz"], ["y"])
    graph = helper.make_graph([node], "qmm", [helper.make_tensor_value_info("a", INT8, [4, 12])],
                              [helper.make_tensor_value_info("y", INT8, [4, 5])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    _compare(model, {"a": _rand([4, 12], 11)})


@pytest.mark.parametrize("op", ["ConvInteger", "MatMulInteger"])
def test_integer_ops_are_exact(op):
    rng = np.random.default_rng(7)
    if op == "ConvInteger":
        w, x_shape, y_shape = rng.integers(0, 256, size=(4, 2, 3, 3)).astype(np.uint8), [1, 2, 5, 5], [1, 4, 3, 3]
    else:
        w, x_shape, y_shape = rng.integers(0, 256, size=(9, 4)).astype(np.uint8), [3, 9], [3, 4]
    inits = [_const("w", w), _const("xz", np.uint8(131)), _const("wz", np.uint8(120))]
    node = helper.make_node(op, ["x", "w", "xz", "wz"], ["y"])
    graph = helper.make_graph([node], "int", [helper.make_tensor_value_info("x", UINT8, x_shape)],
                              [helper.make_tensor_value_info("y", INT32, y_shape)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    _compare(model, {"x": _rand(x_shape, 12, np.uint8)}, lsb=0)


# --- bad input -----------------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [0.0, -0.5, float("nan")])
def test_bad_scale_in_a_qdq_model_is_a_clear_error(scale):
    b = QdqBuilder()
    x = b.int8_input("x", [1, 4], scale, 0)
    with pytest.raises(TinyJitError, match="scale"):
        tinyjit.InferenceSession(b.model(x, 0.1, 0, [1, 4]))


def test_per_channel_axis_that_does_not_fit_is_a_clear_error():
    b = QdqBuilder()
    x = b.int8_input("x", [2, 6], 0.1, 0)
    b.inits.append(_const("w", np.ones((6, 3), np.int8)))
    w = b.dq("w", np.full(4, 0.1, np.float32), np.zeros(4, np.int8), axis=1)   # 4 scales, axis of size 3
    y = b.op("MatMul", [x, w])
    with pytest.raises(TinyJitError, match="axis"):
        tinyjit.InferenceSession(b.model(y, 0.1, 0, [2, 3]))


def test_int8_model_fed_float_input_is_a_clear_error():
    sess = tinyjit.InferenceSession(str(MODELS / INT8_MODELS["ad"][0]))
    arg = sess.get_inputs()[0]
    with pytest.raises(tinyjit.InputError, match="int8"):
        sess.run(None, {arg.name: np.zeros(arg.shape, np.float32)})
