"""The bundled demo model: a DS-CNN keyword-spotting network, built here with onnx.helper.

Same topology as the MLPerf Tiny KWS reference (conv + 4 depthwise-separable blocks + pooling +
classifier) in the form PyTorch exports it: NCHW, BatchNorm unfused, Flatten + Gemm. Weights
are seeded random numbers: the point is the pipeline, not the predictions.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

INPUT_SHAPE = (1, 1, 49, 10)   # 49 MFCC frames x 10 coefficients
CLASSES = 12
CHANNELS = 64


def build_ds_cnn(seed: int = 0) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    nodes, inits = [], []

    def const(name, array):
        inits.append(numpy_helper.from_array(np.asarray(array, np.float32), name))
        return name

    def conv_bn_relu(x, name, c_in, c_out, kernel, stride, pads, group=1):
        fan_in = (c_in // group) * kernel[0] * kernel[1]
        w = const(f"{name}.weight", rng.standard_normal((c_out, c_in // group, *kernel)) / np.sqrt(fan_in))
        nodes.append(helper.make_node("Conv", [x, w], [f"{name}.conv"], name=f"{name}/Conv", kernel_shape=kernel,
                                      strides=stride, pads=pads, group=group))
        bn = [const(f"{name}.bn.{p}", v) for p, v in (
            ("gamma", rng.uniform(0.5, 1.5, c_out)), ("beta", rng.uniform(-0.1, 0.1, c_out)),
            ("mean", rng.uniform(-0.1, 0.1, c_out)), ("var", rng.uniform(0.5, 1.5, c_out)))]
        nodes.append(helper.make_node("BatchNormalization", [f"{name}.conv", *bn], [f"{name}.bn"],
                                      name=f"{name}/BatchNormalization", epsilon=1e-3))
        nodes.append(helper.make_node("Relu", [f"{name}.bn"], [f"{name}.relu"], name=f"{name}/Relu"))
        return f"{name}.relu"

    x = conv_bn_relu("input", "conv0", 1, CHANNELS, [10, 4], [2, 2], [4, 1, 5, 2])
    for block in range(4):
        x = conv_bn_relu(x, f"block{block}.dw", CHANNELS, CHANNELS, [3, 3], [1, 1], [1, 1, 1, 1], group=CHANNELS)
        x = conv_bn_relu(x, f"block{block}.pw", CHANNELS, CHANNELS, [1, 1], [1, 1], [0, 0, 0, 0])
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["pooled"], name="pool/GlobalAveragePool"))
    nodes.append(helper.make_node("Flatten", ["pooled"], ["flat"], name="flatten/Flatten", axis=1))
    fc_w = const("fc.weight", rng.standard_normal((CLASSES, CHANNELS)) / np.sqrt(CHANNELS))
    fc_b = const("fc.bias", rng.uniform(-0.1, 0.1, CLASSES))
    nodes.append(helper.make_node("Gemm", ["flat", fc_w, fc_b], ["logits"], name="fc/Gemm", transB=1))
    nodes.append(helper.make_node("Softmax", ["logits"], ["probabilities"], name="softmax/Softmax", axis=1))
    graph = helper.make_graph(
        nodes, "ds_cnn_kws",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", *INPUT_SHAPE[1:]])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", CLASSES])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="tinyjit.demo")
    onnx.checker.check_model(model)
    return model


def demo_input(seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(INPUT_SHAPE).astype(np.float32)
