"""Each int8 kernel on its own, bit-exact against TF Lite Micro: one-op int8 .tflite models written
with the test writer of test_tflite_frontend.py, random inputs, every option that changes the
arithmetic (fused activations, broadcasting, per-channel weights, padding, depth multipliers)."""
import numpy as np
import pytest

import tinyjit

from test_tflite_frontend import NONE, RELU, RELU6, SAME, VALID, ModelWriter

runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")


def tflm_run(model: bytes, feeds: list[np.ndarray]) -> np.ndarray:
    it = runtime.Interpreter.from_bytes(model)
    for i, x in enumerate(feeds):
        it.set_input(x, i)
    it.invoke()
    return it.get_output(0)


def check(model: bytes, feeds: list[np.ndarray], target: str = "x86_64"):
    sess = tinyjit.InferenceSession(model, target=target)
    got = sess.run(None, {a.name: x for a, x in zip(sess.get_inputs(), feeds)})[0]
    want = tflm_run(model, feeds)
    np.testing.assert_array_equal(got, want.reshape(got.shape))
    return sess


def rand(shape, seed=0, dtype=np.int8):
    info = np.iinfo(dtype)
    return np.random.default_rng(seed).integers(info.min, info.max + 1, size=shape, dtype=dtype)


def q(scale, zp):
    return ([scale], [zp], 0)


@pytest.mark.parametrize("activation", [NONE, RELU, RELU6])
@pytest.mark.parametrize("b_shape", [[1, 4, 5, 6], [1, 1, 1, 6]])
def test_mul(activation, b_shape):
    w = ModelWriter()
    a = w.tensor("a", [1, 4, 5, 6], np.int8, quant=q(0.05, 3))
    b = w.tensor("b", b_shape, np.int8, quant=q(0.02, -7))
    y = w.tensor("y", [1, 4, 5, 6], np.int8, quant=q(0.01, 1))
    w.op("MUL", [a, b], [y], "MulOptions", FusedActivationFunction=activation)
    check(w.build([a, b], [y]), [rand([1, 4, 5, 6], 1), rand(b_shape, 2)])


@pytest.mark.parametrize("activation", [NONE, RELU6])
def test_add_broadcast(activation):
    w = ModelWriter()
    a = w.tensor("a", [1, 3, 4, 8], np.int8, quant=q(0.03, -2))
    b = w.tensor("b", [1, 1, 4, 8], np.int8, quant=q(0.07, 5))
    y = w.tensor("y", [1, 3, 4, 8], np.int8, quant=q(0.06, -10))
    w.op("ADD", [a, b], [y], "AddOptions", FusedActivationFunction=activation)
    check(w.build([a, b], [y]), [rand([1, 3, 4, 8], 3), rand([1, 1, 4, 8], 4)])


@pytest.mark.parametrize("op,out_q", [("LOGISTIC", q(1 / 256, -128)), ("TANH", q(1 / 128, 0)),
                                      ("HARD_SWISH", q(0.03, -20)), ("RELU", q(0.05, -128)), ("RELU6", q(0.04, -128))])
@pytest.mark.parametrize("in_q", [q(0.05, 4), q(0.2, -100)])
def test_elementwise(op, out_q, in_q):
    if op == "RELU6":          # TFLM's RELU6 clamps in the input's scale (the converter gives both the same)
        out_q = in_q
    w = ModelWriter()
    x = w.tensor("x", [2, 130], np.int8, quant=in_q)
    y = w.tensor("y", [2, 130], np.int8, quant=out_q)
    w.op(op, [x], [y])
    feed = np.concatenate([np.arange(-128, 128, dtype=np.int8), rand([4], 5)]).reshape(2, 130)   # every code
    check(w.build([x], [y]), [feed])


@pytest.mark.parametrize("keep", [True, False])
def test_mean_over_height_and_width(keep):
    w = ModelWriter()
    x = w.tensor("x", [1, 5, 7, 20], np.int8, quant=q(0.05, -3))
    axes = w.const("axes", np.array([1, 2], np.int32))
    y = w.tensor("y", [1, 1, 1, 20] if keep else [1, 20], np.int8, quant=q(0.02, 6))
    w.op("MEAN", [x, axes], [y], "ReducerOptions", KeepDims=keep)
    check(w.build([x], [y]), [rand([1, 5, 7, 20], 6)])


@pytest.mark.parametrize("padding,activation", [(SAME, RELU), (VALID, NONE)])
def test_pools(padding, activation):
    for op in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        w = ModelWriter()
        x = w.tensor("x", [1, 7, 9, 12], np.int8, quant=q(0.1, -20))
        shape = [1, 4, 5, 12] if padding == SAME else [1, 3, 4, 12]
        y = w.tensor("y", shape, np.int8, quant=q(0.1, -20))
        w.op(op, [x], [y], "Pool2DOptions", Padding=padding, StrideW=2, StrideH=2, FilterWidth=3,
             FilterHeight=3, FusedActivationFunction=activation)
        check(w.build([x], [y]), [rand([1, 7, 9, 12], 7)])


@pytest.mark.parametrize("multiplier,stride,padding", [(1, 1, SAME), (2, 2, VALID), (1, 2, SAME)])
def test_depthwise_conv(multiplier, stride, padding):
    rng = np.random.default_rng(8)
    c_in = 10
    c_out = c_in * multiplier
    w = ModelWriter()
    x = w.tensor("x", [1, 9, 8, c_in], np.int8, quant=q(0.04, 7))
    wt = w.const("w", rng.integers(-127, 128, (1, 3, 3, c_out)).astype(np.int8),
                 quant=(list(rng.uniform(0.005, 0.02, c_out)), [0] * c_out, 3))
    bias = w.const("b", rng.integers(-2000, 2000, c_out).astype(np.int32), quant=([1.0] * c_out, [0] * c_out, 0))
    out_hw = [-(-9 // stride), -(-8 // stride)] if padding == SAME else [(9 - 3) // stride + 1, (8 - 3) // stride + 1]
    y = w.tensor("y", [1, *out_hw, c_out], np.int8, quant=q(0.05, -1))
    w.op("DEPTHWISE_CONV_2D", [x, wt, bias], [y], "DepthwiseConv2DOptions", Padding=padding, StrideW=stride,
         StrideH=stride, DepthMultiplier=multiplier, FusedActivationFunction=RELU, DilationWFactor=1, DilationHFactor=1)
    check(w.build([x], [y]), [rand([1, 9, 8, c_in], 9)])


@pytest.mark.parametrize("padding,dilation", [(SAME, 2), (VALID, 1)])
def test_depthwise_conv_mcu_schedule(padding, dilation):
    """The MCU targets' four-lane depthwise loop (LANES = 4: the window clipped once per pixel)."""
    rng = np.random.default_rng(12)
    c = 12
    w = ModelWriter()
    x = w.tensor("x", [1, 7, 9, c], np.int8, quant=q(0.04, -3))
    wt = w.const("w", rng.integers(-127, 128, (1, 3, 3, c)).astype(np.int8),
                 quant=(list(rng.uniform(0.005, 0.02, c)), [0] * c, 3))
    bias = w.const("b", rng.integers(-2000, 2000, c).astype(np.int32), quant=([1.0] * c, [0] * c, 0))
    span = 2 * dilation
    y = w.tensor("y", [1, 7, 9, c] if padding == SAME else [1, 7 - span, 9 - span, c], np.int8, quant=q(0.05, 2))
    w.op("DEPTHWISE_CONV_2D", [x, wt, bias], [y], "DepthwiseConv2DOptions", Padding=padding, StrideW=1,
         StrideH=1, DepthMultiplier=1, FusedActivationFunction=NONE, DilationWFactor=dilation, DilationHFactor=dilation)
    sess = check(w.build([x], [y]), [rand([1, 7, 9, c], 13)], target="cortex-m4")
    assert [s.schedule["LANES"] for s in sess.plan.steps if s.kernel == "depthwise_conv2d_int8"] == [4]


@pytest.mark.parametrize("kernel,dilation,c_in,target", [(1, 1, 24, "x86_64"), (3, 1, 5, "x86_64"), (3, 2, 8, "x86_64"),
                                                          (5, 1, 40, "x86_64"), (1, 1, 24, "cortex-m4"),
                                                          (3, 2, 8, "cortex-m4")])
def test_conv(kernel, dilation, c_in, target):
    rng = np.random.default_rng(10)
    c_out = 20
    w = ModelWriter()
    x = w.tensor("x", [1, 11, 10, c_in], np.int8, quant=q(0.03, -9))
    wt = w.const("w", rng.integers(-127, 128, (c_out, kernel, kernel, c_in)).astype(np.int8),
                 quant=(list(rng.uniform(0.002, 0.01, c_out)), [0] * c_out, 0))
    bias = w.const("b", rng.integers(-3000, 3000, c_out).astype(np.int32), quant=([1.0] * c_out, [0] * c_out, 0))
    y = w.tensor("y", [1, 11, 10, c_out], np.int8, quant=q(0.07, 4))
    w.op("CONV_2D", [x, wt, bias], [y], "Conv2DOptions", Padding=SAME, StrideW=1, StrideH=1,
         FusedActivationFunction=RELU6, DilationWFactor=dilation, DilationHFactor=dilation)
    sess = check(w.build([x], [y]), [rand([1, 11, 10, c_in], 11)], target=target)
    if target == "cortex-m4":      # int8 weights, the zero point folded: x read in place (1x1) or gathered raw
        assert [s.schedule["SOURCE"] for s in sess.plan.steps] == [2 if kernel == 1 else 1]


@pytest.mark.parametrize("per_channel", [False, True])
def test_fully_connected(per_channel):
    rng = np.random.default_rng(12)
    w = ModelWriter()
    x = w.tensor("x", [2, 70], np.int8, quant=q(0.06, 11))
    scales = list(rng.uniform(0.003, 0.01, 9)) if per_channel else [0.004]
    wt = w.const("w", rng.integers(-127, 128, (9, 70)).astype(np.int8), quant=(scales, [0] * len(scales), 0))
    bias = w.const("b", rng.integers(-500, 500, 9).astype(np.int32), quant=([0.06 * s for s in scales], [0] * len(scales), 0))
    y = w.tensor("y", [2, 9], np.int8, quant=q(0.09, -30))
    w.op("FULLY_CONNECTED", [x, wt, bias], [y], "FullyConnectedOptions", FusedActivationFunction=RELU)
    check(w.build([x], [y]), [rand([2, 70], 13)])


@pytest.mark.parametrize("beta", [1.0, 0.5])
def test_softmax(beta):
    w = ModelWriter()
    x = w.tensor("x", [3, 17], np.int8, quant=q(0.3, 12))
    y = w.tensor("y", [3, 17], np.int8, quant=q(1 / 256, -128))
    w.op("SOFTMAX", [x], [y], "SoftmaxOptions", Beta=beta)
    check(w.build([x], [y]), [rand([3, 17], 14)])


def test_quantize_dequantize_requantize():
    w = ModelWriter()
    x = w.tensor("x", [4, 33], np.float32)
    a = w.tensor("a", [4, 33], np.int8, quant=q(0.07, 3))
    b = w.tensor("b", [4, 33], np.int8, quant=q(0.19, -40))
    y = w.tensor("y", [4, 33], np.float32)
    w.op("QUANTIZE", [x], [a])
    w.op("QUANTIZE", [a], [b])
    w.op("DEQUANTIZE", [b], [y])
    feed = (np.random.default_rng(15).standard_normal((4, 33)) * 6).astype(np.float32)
    feed[0, :8] = np.array([0.035, -0.035, 0.105, -0.105, 100.0, -100.0, 0.0, 1.0], np.float32)   # ties, clamps
    check(w.build([x], [y]), [feed])


def test_concatenation_and_pad():
    w = ModelWriter()
    a = w.tensor("a", [1, 3, 4, 5], np.int8, quant=q(0.1, -5))
    b = w.tensor("b", [1, 3, 4, 2], np.int8, quant=q(0.1, -5))
    c = w.tensor("c", [1, 3, 4, 7], np.int8, quant=q(0.1, -5))
    pads = w.const("pads", np.array([[0, 0], [1, 2], [0, 1], [0, 0]], np.int32))
    y = w.tensor("y", [1, 6, 5, 7], np.int8, quant=q(0.1, -5))
    w.op("CONCATENATION", [a, b], [c], "ConcatenationOptions", Axis=3)
    w.op("PAD", [c, pads], [y])
    check(w.build([a, b], [y]), [rand([1, 3, 4, 5], 16), rand([1, 3, 4, 2], 17)])


def test_schedules_are_resolved_per_layer():
    """Prepare writes the chosen form and the layer's window into the plan's schedule."""
    from conftest import INT8_MODELS, MODELS
    plan = tinyjit.compile_model(str(MODELS / INT8_MODELS["kws"][1]))
    convs = [s for s in plan.steps if s.kernel == "conv2d_int8"]
    assert {s.schedule["FORM"] for s in convs} == {4, 2}            # 10x4x1 window: outer; 1x1x64: host dot (x86_64 ROW 1)
    assert all(s.schedule["DEPTH"] == s.schedule["K_H"] * s.schedule["K_W"] * s.schedule["CIN"] for s in convs)
