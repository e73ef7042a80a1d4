"""Each pass on small graphs: what it changes, that it keeps the numbers, that its input is untouched."""
import copy

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import tinyjit
from tinyjit import passes
from tinyjit.frontends.onnx_frontend import import_onnx
from tinyjit.ir import Graph, Node, Tensor

from conftest import max_rel_err, ort_session

RNG = np.random.default_rng(0)


def _model(nodes, inputs, outputs, inits=()):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs],
        [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in inits])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _ops(g: Graph) -> list[str]:
    return [n.op for n in g.nodes]


def _snapshot(g: Graph):
    return (copy.deepcopy([(n.op, n.inputs, n.outputs, n.attrs) for n in g.nodes]),
            sorted(g.tensors), list(g.inputs), list(g.outputs))


def _check_same_numbers(model_bytes, feed):
    got = tinyjit.InferenceSession(model_bytes).run(None, feed)
    want = ort_session(model_bytes).run(None, feed)
    for a, b in zip(got, want):
        assert max_rel_err(a, b) < 1e-5


@pytest.mark.parametrize("p", passes.PIPELINE, ids=lambda p: p.__name__)
def test_pass_does_not_change_its_input(p):
    model = _model([helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
                    helper.make_node("Relu", ["c"], ["r"]),
                    helper.make_node("Identity", ["r"], ["y"])],
                   [("x", [1, 2, 5, 5])], ["y"], [("w", RNG.standard_normal((3, 2, 3, 3)))])
    g = import_onnx(model)
    before = _snapshot(g)
    p(g)
    assert _snapshot(g) == before


def test_fold_constants_folds_shape_chains_and_arithmetic():
    g = Graph({"x": Tensor("x", np.float32, (2, 3)),
               "a": Tensor("a", np.float32, (3,), np.arange(3, dtype=np.float32)),
               "b": Tensor("b", np.float32, (3,)), "s": Tensor("s", np.int64, (2,)),
               "y": Tensor("y", np.float32, (2, 3))},
              [Node("Mul", "m", ["a", "a"], ["b"]), Node("Shape", "sh", ["x"], ["s"]),
               Node("Add", "add", ["x", "b"], ["y"])], ["x"], ["y"])
    out = passes.fold_constants(g)
    assert _ops(out) == ["Add"]
    np.testing.assert_array_equal(out.tensors["b"].data, [0, 1, 4])
    np.testing.assert_array_equal(out.tensors["s"].data, [2, 3])


def test_dead_code_removes_unused_nodes_and_tensors():
    g = Graph({"x": Tensor("x", np.float32, (4,)), "y": Tensor("y", np.float32, (4,)),
               "z": Tensor("z", np.float32, (4,))},
              [Node("Relu", "used", ["x"], ["y"]), Node("Neg", "unused", ["x"], ["z"])], ["x"], ["y"])
    out = passes.dead_code(g)
    assert [n.name for n in out.nodes] == ["used"] and "z" not in out.tensors


def test_remove_identity_keeps_output_names():
    g = Graph({"x": Tensor("x", np.float32, (4,)), "a": Tensor("a", np.float32, (4,)),
               "b": Tensor("b", np.float32, (4,)), "y": Tensor("y", np.float32, (4,))},
              [Node("Identity", "i1", ["x"], ["a"]), Node("Relu", "r", ["a"], ["b"]),
               Node("Dropout", "d", ["b"], ["y"])], ["x"], ["y"])
    out = passes.remove_identity(g)
    assert _ops(out) == ["Relu", "Dropout"]           # the last one names a graph output
    assert out.nodes[0].inputs == ["x"]


def test_batchnorm_folds_into_conv_with_same_numbers():
    c = 4
    model = _model([helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
                    helper.make_node("BatchNormalization", ["c", "g", "be", "m", "v"], ["y"], epsilon=1e-3)],
                   [("x", [1, 3, 6, 6])], ["y"],
                   [("w", RNG.standard_normal((c, 3, 3, 3))), ("b", RNG.standard_normal(c)),
                    ("g", RNG.uniform(0.5, 2, c)), ("be", RNG.standard_normal(c)),
                    ("m", RNG.standard_normal(c)), ("v", RNG.uniform(0.5, 2, c))])
    g = passes.fuse_batchnorm(import_onnx(model))
    assert _ops(g) == ["Conv"]
    _check_same_numbers(model, {"x": RNG.standard_normal((1, 3, 6, 6)).astype(np.float32)})


def test_matmul_add_becomes_gemm():
    model = _model([helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", ["m", "b"], ["y"])],
                   [("x", [2, 5])], ["y"], [("w", RNG.standard_normal((5, 3))), ("b", RNG.standard_normal(3))])
    g = passes.matmul_add_to_gemm(import_onnx(model))
    assert _ops(g) == ["Gemm"] and len(g.nodes[0].inputs) == 3
    _check_same_numbers(model, {"x": RNG.standard_normal((2, 5)).astype(np.float32)})


@pytest.mark.parametrize("act,bounds", [("Relu", (0.0, None)), ("Clip", (0.0, 6.0))])
def test_activation_fuses_into_conv(act, bounds):
    extra = {"inputs": ["c", "lo", "hi"]} if act == "Clip" else {"inputs": ["c"]}
    model = _model([helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node(act, extra["inputs"], ["y"])],
                   [("x", [1, 2, 4, 4])], ["y"],
                   [("w", RNG.standard_normal((2, 2, 1, 1))), ("lo", np.float32(0)), ("hi", np.float32(6))])
    g = passes.optimize(import_onnx(model))
    conv = [n for n in g.nodes if n.op == "Conv"]
    assert len(conv) == 1 and act not in _ops(g)
    assert conv[0].attrs["act_min"] == bounds[0]
    assert conv[0].attrs.get("act_max") == bounds[1]
    _check_same_numbers(model, {"x": RNG.standard_normal((1, 2, 4, 4)).astype(np.float32) * 5})


def test_layout_nhwc_cancels_transposes_between_convs():
    model = _model([helper.make_node("Conv", ["x", "w1"], ["a"], pads=[1, 1, 1, 1]),
                    helper.make_node("Relu", ["a"], ["r"]),
                    helper.make_node("Add", ["r", "bias"], ["s"]),
                    helper.make_node("Conv", ["s", "w2"], ["y"])],
                   [("x", [1, 3, 8, 8])], ["y"],
                   [("w1", RNG.standard_normal((4, 3, 3, 3))), ("w2", RNG.standard_normal((5, 4, 1, 1))),
                    ("bias", RNG.standard_normal((4, 1, 1)))])
    g = passes.optimize(import_onnx(model))
    assert _ops(g).count("Transpose") == 2          # only at the graph's input and output
    assert all(n.attrs.get("channels_last") for n in g.nodes if n.op == "Conv")
    _check_same_numbers(model, {"x": RNG.standard_normal((1, 3, 8, 8)).astype(np.float32)})


def test_depthwise_conv_recognized():
    model = _model([helper.make_node("Conv", ["x", "w"], ["y"], group=4, pads=[1, 1, 1, 1])],
                   [("x", [1, 4, 5, 5])], ["y"], [("w", RNG.standard_normal((4, 1, 3, 3)))])
    g = passes.optimize(import_onnx(model))
    assert "DepthwiseConv" in _ops(g)
    _check_same_numbers(model, {"x": RNG.standard_normal((1, 4, 5, 5)).astype(np.float32)})


def test_transpose_that_moves_no_data_becomes_reshape():
    model = _model([helper.make_node("Transpose", ["x"], ["y"], perm=[0, 2, 3, 1])], [("x", [1, 7, 1, 1])], ["y"])
    g = passes.optimize(import_onnx(model))
    assert _ops(g) == ["Reshape"]
    _check_same_numbers(model, {"x": RNG.standard_normal((1, 7, 1, 1)).astype(np.float32)})


def test_inverse_transposes_cancel():
    model = _model([helper.make_node("Transpose", ["x"], ["a"], perm=[0, 2, 3, 1]),
                    helper.make_node("Relu", ["a"], ["b"]),
                    helper.make_node("Transpose", ["b"], ["y"], perm=[0, 3, 1, 2])], [("x", [1, 3, 4, 5])], ["y"])
    g = passes.optimize(import_onnx(model))
    assert _ops(g) == ["Relu"]
    _check_same_numbers(model, {"x": RNG.standard_normal((1, 3, 4, 5)).astype(np.float32)})
