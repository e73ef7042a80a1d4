"""Graphs in the form real exporters emit, end to end against onnxruntime (max relative error 1e-4).

PyTorch (torch.onnx, NCHW, Clip-based ReLU6, HardSigmoid, Erf-GELU, attention reshapes through
Shape/Gather/Unsqueeze/Concat, decomposed LayerNorm from pre-17 opsets) and Keras via tf2onnx
(NHWC inputs behind Transposes, ReduceMean pooling, MatMul+Add dense layers) are not
dependencies: the graphs are written with onnx.helper node for node as those exporters write them.
"""
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import tinyjit

from conftest import max_rel_err, ort_session

RNG = np.random.default_rng(7)


class Graph:
    """A small builder: nodes, initializers and unique tensor names."""

    def __init__(self):
        self.nodes, self.inits, self.count = [], [], 0

    def name(self, base: str) -> str:
        self.count += 1
        return f"{base}_{self.count}"

    def const(self, base: str, value) -> str:
        name = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def weight(self, base: str, *shape, fan_in: int | None = None) -> str:
        fan_in = fan_in or int(np.prod(shape[1:])) or 1
        return self.const(base, (RNG.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32))

    def op(self, op_type: str, inputs: list, outputs: int = 1, **attrs):
        outs = [self.name(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=self.name(op_type), **attrs))
        return outs[0] if outputs == 1 else outs

    def model(self, inputs: dict, output: str, opset: int = 17) -> bytes:
        graph_inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs.items()]
        self.nodes.append(helper.make_node("Identity", [output], ["output"], name="output"))
        graph = helper.make_graph(self.nodes, "exported", graph_inputs,
                                  [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)], self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        m.ir_version = 8
        return m.SerializeToString()

    # layers as torch.onnx exports them ------------------------------------------------------------
    def conv(self, x, c_in, c_out, k, stride=1, pad=None, group=1, dilation=1, bias=True):
        pad = k // 2 if pad is None else pad
        pads = list(pad) if isinstance(pad, (list, tuple)) else [pad] * 4
        inputs = [x, self.weight("conv.weight", c_out, c_in // group, k, k)]
        if bias:
            inputs.append(self.const("conv.bias", (0.1 * RNG.standard_normal(c_out)).astype(np.float32)))
        return self.op("Conv", inputs, kernel_shape=[k, k], strides=[stride, stride], pads=pads, group=group,
                       dilations=[dilation, dilation])

    def relu6(self, x):
        return self.op("Clip", [x, self.const("min", np.float32(0)), self.const("max", np.float32(6))])

    def batchnorm(self, x, c):
        return self.op("BatchNormalization", [
            x, self.const("bn.weight", (1 + 0.1 * RNG.standard_normal(c)).astype(np.float32)),
            self.const("bn.bias", (0.1 * RNG.standard_normal(c)).astype(np.float32)),
            self.const("bn.running_mean", (0.1 * RNG.standard_normal(c)).astype(np.float32)),
            self.const("bn.running_var", (1 + 0.1 * RNG.random(c)).astype(np.float32))], epsilon=1e-5)

    def linear(self, x, d_in, d_out):
        """nn.Linear on a 3-D input: MatMul by the transposed weight, then Add the bias."""
        y = self.op("MatMul", [x, self.weight("linear.weight", d_in, d_out, fan_in=d_in)])
        return self.op("Add", [y, self.const("linear.bias", (0.1 * RNG.standard_normal(d_out)).astype(np.float32))])


def check(model: bytes, inputs: dict, tol: float = 1e-4):
    sess, ref = tinyjit.InferenceSession(model), ort_session(model)
    for seed in range(2):
        rng = np.random.default_rng(seed)
        feed = {n: rng.standard_normal(s).astype(np.float32) for n, s in inputs.items()}
        got, want = sess.run(None, feed)[0], ref.run(None, feed)[0]
        assert got.shape == want.shape
        assert max_rel_err(got, want) < tol, max_rel_err(got, want)
    return sess


def mobilenet_v2_block() -> tuple[bytes, dict]:
    """Inverted residual: 1x1 expand + BN + ReLU6 (Clip), 3x3 depthwise + ReLU6, 1x1 project, residual."""
    g = Graph()
    h = g.relu6(g.batchnorm(g.conv("x", 16, 96, 1, bias=False), 96))
    h = g.relu6(g.conv(h, 96, 96, 3, group=96))
    h = g.conv(h, 96, 16, 1)
    return g.model({"x": [1, 16, 12, 12]}, g.op("Add", ["x", h]), opset=13), {"x": [1, 16, 12, 12]}


def keras_depthwise_separable() -> tuple[bytes, dict]:
    """tf2onnx form of a Keras block: NHWC input, SAME padding, ReLU6, GAP as ReduceMean, Dense, softmax."""
    g = Graph()
    h = g.op("Transpose", ["input_1"], perm=[0, 3, 1, 2])
    h = g.op("Conv", [h, g.weight("depthwise_kernel", 8, 1, 3, 3), g.const("b", np.zeros(8, np.float32))],
             kernel_shape=[3, 3], strides=[2, 2], group=8, auto_pad="SAME_UPPER")
    h = g.op("Relu", [h])
    h = g.op("Conv", [h, g.weight("pointwise_kernel", 16, 8, 1, 1), g.const("b", np.zeros(16, np.float32))],
             kernel_shape=[1, 1])
    h = g.relu6(h)
    h = g.op("Transpose", [h], perm=[0, 2, 3, 1])
    h = g.op("ReduceMean", [h], axes=[1, 2], keepdims=0)
    h = g.op("MatMul", [h, g.weight("dense/kernel", 16, 10, fan_in=16)])
    h = g.op("Add", [h, g.const("dense/bias", (0.1 * RNG.standard_normal(10)).astype(np.float32))])
    return g.model({"input_1": [1, 15, 15, 8]}, g.op("Softmax", [h], axis=-1), opset=13), {"input_1": [1, 15, 15, 8]}


def squeeze_excite() -> tuple[bytes, dict]:
    """MobileNetV3 SE: GAP, 1x1 reduce + ReLU, 1x1 expand + HardSigmoid, scale; then HardSwish."""
    g = Graph()
    s = g.op("GlobalAveragePool", ["x"])
    s = g.op("Relu", [g.conv(s, 32, 8, 1)])
    s = g.op("HardSigmoid", [g.conv(s, 8, 32, 1)], alpha=1.0 / 6, beta=0.5)
    h = g.op("HardSwish", [g.op("Mul", ["x", s])])
    return g.model({"x": [1, 32, 8, 8]}, h), {"x": [1, 32, 8, 8]}


def temporal_conv_net() -> tuple[bytes, dict]:
    """Two causal residual blocks of dilated Conv1d (left padding by Pad and by Conv pads), then a head."""
    g = Graph()

    def conv1d(x, c_in, c_out, k, dilation, causal_pad_op: bool):
        w = g.weight("conv1d.weight", c_out, c_in, k)
        b = g.const("conv1d.bias", (0.1 * RNG.standard_normal(c_out)).astype(np.float32))
        left = (k - 1) * dilation
        if causal_pad_op:
            x = g.op("Pad", [x, g.const("pads", np.array([0, 0, left, 0, 0, 0], np.int64))], mode="constant")
            return g.op("Conv", [x, w, b], kernel_shape=[k], dilations=[dilation], pads=[0, 0])
        return g.op("Conv", [x, w, b], kernel_shape=[k], dilations=[dilation], pads=[left, 0])

    h, c = "x", 12
    for dilation in (1, 2):
        y = g.op("Relu", [conv1d(h, c, 16, 3, dilation, causal_pad_op=True)])
        y = g.op("Relu", [conv1d(y, 16, 16, 3, dilation, causal_pad_op=False)])
        skip = g.op("Conv", [h, g.weight("downsample.weight", 16, c, 1)], kernel_shape=[1]) if c != 16 else h
        h, c = g.op("Relu", [g.op("Add", [y, skip])]), 16
    h = g.op("ReduceMean", [h, g.const("axes", np.array([2], np.int64))], keepdims=0, )
    h = g.op("Gemm", [h, g.weight("fc.weight", 5, 16), g.const("fc.bias", np.zeros(5, np.float32))], transB=1)
    return g.model({"x": [1, 12, 32]}, g.op("LogSoftmax", [h], axis=1), opset=18), {"x": [1, 12, 32]}


def transformer_encoder() -> tuple[bytes, dict]:
    """[CLS] + 8 tokens, 2 pre-LN layers (LayerNormalization op, then the decomposed pre-17 form),
    4 heads, attention reshapes through Shape/Gather/Unsqueeze/Concat, Erf-GELU, CLS head."""
    g = Graph()
    d, heads, ff = 32, 4, 64
    dh = d // heads
    h = g.op("Concat", [g.const("cls_token", RNG.standard_normal((1, 1, d)).astype(np.float32)), "tokens"], axis=1)
    h = g.op("Add", [h, g.const("pos_embedding", (0.1 * RNG.standard_normal((1, 9, d))).astype(np.float32))])

    def layer_norm(x, decomposed: bool):
        gamma = g.const("ln.weight", (1 + 0.1 * RNG.standard_normal(d)).astype(np.float32))
        beta = g.const("ln.bias", (0.1 * RNG.standard_normal(d)).astype(np.float32))
        if not decomposed:
            return g.op("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=1e-5)
        mean = g.op("ReduceMean", [x], axes=[-1])
        diff = g.op("Sub", [x, mean])
        var = g.op("ReduceMean", [g.op("Pow", [diff, g.const("two", np.float32(2))])], axes=[-1])
        std = g.op("Sqrt", [g.op("Add", [var, g.const("eps", np.float32(1e-5))])])
        return g.op("Add", [g.op("Mul", [g.op("Div", [diff, std]), gamma]), beta])

    def dim(x, index):
        return g.op("Unsqueeze", [g.op("Gather", [g.op("Shape", [x]), g.const("i", np.array(index, np.int64))], axis=0),
                                  g.const("axes", np.array([0], np.int64))])

    def split_heads(x):
        shape = g.op("Concat", [dim(x, 0), dim(x, 1), g.const("h", np.array([heads], np.int64)),
                                g.const("dh", np.array([dh], np.int64))], axis=0)
        return g.op("Reshape", [x, shape])

    for layer in range(2):
        x = layer_norm(h, decomposed=layer == 1)
        q = g.op("Transpose", [split_heads(g.linear(x, d, d))], perm=[0, 2, 1, 3])
        k = g.op("Transpose", [split_heads(g.linear(x, d, d))], perm=[0, 2, 3, 1])
        v = g.op("Transpose", [split_heads(g.linear(x, d, d))], perm=[0, 2, 1, 3])
        scores = g.op("Div", [g.op("MatMul", [q, k]), g.const("scale", np.float32(np.sqrt(dh)))])
        att = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
        att = g.op("Transpose", [att], perm=[0, 2, 1, 3])
        merged = g.op("Concat", [dim(x, 0), dim(x, 1), g.const("d", np.array([d], np.int64))], axis=0)
        h = g.op("Add", [h, g.linear(g.op("Reshape", [att, merged]), d, d)])
        y = g.linear(layer_norm(h, decomposed=layer == 1), d, ff)
        erf = g.op("Erf", [g.op("Div", [y, g.const("sqrt2", np.float32(np.sqrt(2)))])])
        y = g.op("Mul", [g.op("Mul", [y, g.op("Add", [erf, g.const("one", np.float32(1))])]),
                         g.const("half", np.float32(0.5))])
        h = g.op("Add", [h, g.linear(y, ff, d)])
    cls = g.op("Gather", [layer_norm(h, decomposed=False), g.const("zero", np.array(0, np.int64))], axis=1)
    out = g.op("Gemm", [cls, g.weight("head.weight", 10, d), g.const("head.bias", np.zeros(10, np.float32))], transB=1)
    return g.model({"tokens": [1, 8, d]}, out), {"tokens": [1, 8, d]}


def small_unet() -> tuple[bytes, dict]:
    """Two levels down with MaxPool, up with Resize (linear) and ConvTranspose, skips by Concat."""
    g = Graph()
    e1 = g.op("Relu", [g.conv(g.op("Relu", [g.conv("image", 3, 8, 3)]), 8, 8, 3)])
    e2 = g.op("Relu", [g.conv(g.op("MaxPool", [e1], kernel_shape=[2, 2], strides=[2, 2]), 8, 16, 3)])
    b = g.op("Relu", [g.conv(g.op("MaxPool", [e2], kernel_shape=[2, 2], strides=[2, 2]), 16, 32, 3)])
    up = g.op("Resize", [b, "", g.const("scales", np.array([1, 1, 2, 2], np.float32))], mode="linear",
              coordinate_transformation_mode="half_pixel")
    d2 = g.op("Relu", [g.conv(g.op("Concat", [g.conv(up, 32, 16, 1), e2], axis=1), 32, 16, 3)])
    up = g.op("ConvTranspose", [d2, g.weight("up.weight", 16, 8, 2, 2, fan_in=16 * 4),
                                g.const("up.bias", (0.1 * RNG.standard_normal(8)).astype(np.float32))],
              kernel_shape=[2, 2], strides=[2, 2])
    d1 = g.op("Relu", [g.conv(g.op("Concat", [up, e1], axis=1), 16, 8, 3)])
    out = g.op("Sigmoid", [g.conv(d1, 8, 1, 1)])
    return g.model({"image": [1, 3, 16, 16]}, out), {"image": [1, 3, 16, 16]}


GRAPHS = {"mobilenet_v2_block": mobilenet_v2_block, "keras_depthwise_separable": keras_depthwise_separable,
          "squeeze_excite": squeeze_excite, "temporal_conv_net": temporal_conv_net,
          "transformer_encoder": transformer_encoder, "small_unet": small_unet}


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_exported_graph_matches_onnxruntime(name):
    model, inputs = GRAPHS[name]()
    check(model, inputs)


def test_cnn_blocks_run_channels_last_without_inner_transposes():
    """The layout pass leaves at most the two edge transposes in the MobileNetV2 block."""
    model, inputs = mobilenet_v2_block()
    plan = tinyjit.compile_model(model)
    assert sum(step.op == "Transpose" for step in plan.steps) <= 2, [s.op for s in plan.steps]


def test_keras_nhwc_graph_keeps_no_transpose():
    """tf2onnx's NHWC input transposes cancel against the layout pass's own."""
    model, _ = keras_depthwise_separable()
    plan = tinyjit.compile_model(model)
    assert not [s for s in plan.steps if s.op == "Transpose"], [s.op for s in plan.steps]


def test_transformer_shape_subgraphs_fold_away():
    """Shape/Gather/Unsqueeze/Concat chains of the attention reshapes become constants."""
    model, _ = transformer_encoder()
    plan = tinyjit.compile_model(model)
    nodes = {(step.op, step.node) for step in plan.steps}     # a Concat runs one step per input
    ops = [op for op, _ in nodes]
    assert "Shape" not in ops and "Unsqueeze" not in ops
    assert ops.count("Concat") == 1 and ops.count("Gather") == 1     # the [CLS] concat and pick
    assert {"LayerNormalization", "Erf", "Softmax", "MatMul"} <= set(ops)
