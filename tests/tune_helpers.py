"""Small models for the tuning tests: layers tiny enough that a candidate measures in milliseconds."""
import numpy as np
from onnx import TensorProto, helper, numpy_helper

from conftest import REPO

TUNE_KERNELS = REPO / "tests" / "data" / "tune_kernels"


def tiny_conv_model(c_in=4, c_out=8, hw=6, k=3, seed=0):
    """Conv 3x3 (pads 1) + Relu on a 1 x c_in x hw x hw input, as ONNX."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((c_out, c_in, k, k)).astype(np.float32)
    b = rng.standard_normal(c_out).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["y"], name="conv", pads=[k // 2] * 4),
             helper.make_node("Relu", ["y"], ["z"], name="relu")]
    g = helper.make_graph(nodes, "tiny_conv",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c_in, hw, hw])],
                          [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, c_out, hw, hw])],
                          [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def write_tiny_conv(path, **kw):
    path.write_bytes(tiny_conv_model(**kw).SerializeToString())
    return path


def conv_graph(**kw):
    """The optimized IR graph of the tiny conv model (NHWC, Relu fused)."""
    from tinyjit import passes
    from tinyjit.pipeline import import_model
    return passes.optimize(import_model(tiny_conv_model(**kw).SerializeToString()))


def scale2_model(n=10):
    """One test.tune::Scale2 node (tests/data/tune_kernels/scale2.py) on n floats."""
    node = helper.make_node("Scale2", ["x0"], ["y"], name="scale", domain="test.tune")
    g = helper.make_graph([node], "scale2", [helper.make_tensor_value_info("x0", TensorProto.FLOAT, [1, n])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("test.tune", 1)])


def scale2_graph(n=10):
    from tinyjit import passes
    from tinyjit.pipeline import import_model
    from tinyjit.registry import load_kernels
    load_kernels(TUNE_KERNELS)
    return passes.optimize(import_model(scale2_model(n).SerializeToString()))


def matmul_model(m=6, k=16, n=24, seed=0):
    """One test.tune::TiledMatMul node (tests/data/tune_kernels/tiled_matmul.py) with constant weights."""
    w = np.random.default_rng(seed).standard_normal((k, n)).astype(np.float32)
    node = helper.make_node("TiledMatMul", ["x", "w"], ["y"], name="mm", domain="test.tune")
    g = helper.make_graph([node], "tiled", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [m, k])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(w, "w")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("test.tune", 1)])


def write_matmul(path, **kw):
    path.write_bytes(matmul_model(**kw).SerializeToString())
    return path


def matmul_graph(**kw):
    from tinyjit import passes
    from tinyjit.pipeline import import_model
    from tinyjit.registry import load_kernels
    load_kernels(TUNE_KERNELS)
    return passes.optimize(import_model(matmul_model(**kw).SerializeToString()))
