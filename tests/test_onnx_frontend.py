"""ONNX import: dynamic dims, shape subgraphs as exporters emit them, local functions, Constant nodes."""
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import tinyjit
from tinyjit.frontends.onnx_frontend import import_onnx

from conftest import max_rel_err, ort_session

RNG = np.random.default_rng(0)


def _pytorch_style_flatten_model() -> bytes:
    """x.view(x.size(0), -1) @ W as torch.onnx exports it: Shape→Gather→Unsqueeze→Concat→Reshape."""
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("Shape", ["r"], ["shape"]),
        helper.make_node("Constant", [], ["zero"], value=numpy_helper.from_array(np.array(0, np.int64))),
        helper.make_node("Gather", ["shape", "zero"], ["batch"], axis=0),
        helper.make_node("Unsqueeze", ["batch", "axes0"], ["batch1"]),
        helper.make_node("Constant", [], ["minus1"], value=numpy_helper.from_array(np.array([-1], np.int64))),
        helper.make_node("Concat", ["batch1", "minus1"], ["new_shape"], axis=0),
        helper.make_node("Reshape", ["r", "new_shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "w"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "torch_flatten", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2, 3, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 5])],
        [numpy_helper.from_array(RNG.standard_normal((24, 5)).astype(np.float32), "w"),
         numpy_helper.from_array(np.array([0], np.int64), "axes0")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


def test_shape_subgraph_is_folded_and_dynamic_batch_becomes_1():
    model = _pytorch_style_flatten_model()
    g = import_onnx(model)
    assert {n.op for n in g.nodes} == {"Relu", "Reshape", "MatMul"}
    assert g.tensors["x"].shape == (1, 2, 3, 4)
    sess = tinyjit.InferenceSession(model)
    x = RNG.standard_normal((1, 2, 3, 4)).astype(np.float32)
    assert max_rel_err(sess.run(None, {"x": x})[0], ort_session(model).run(None, {"x": x})[0]) < 1e-5


def test_input_shape_override():
    model = _pytorch_style_flatten_model()
    sess = tinyjit.InferenceSession(model, input_shapes={"x": [3, 2, 3, 4]})
    assert sess.get_inputs()[0].shape == [3, 2, 3, 4]
    x = RNG.standard_normal((3, 2, 3, 4)).astype(np.float32)
    assert max_rel_err(sess.run(None, {"x": x})[0], ort_session(model).run(None, {"x": x})[0]) < 1e-5


def test_input_shape_with_unknown_name_is_an_error():
    with pytest.raises(tinyjit.TinyJitError, match="not model inputs"):
        import_onnx(_pytorch_style_flatten_model(), {"nope": [1]})


def test_local_functions_are_inlined():
    fn = helper.make_function("custom", "ScaledRelu", ["a"], ["b"],
                              [helper.make_node("Relu", ["a"], ["r"]),
                               helper.make_node("Constant", [], ["two"], value_float=2.0),
                               helper.make_node("Mul", ["r", "two"], ["b"])],
                              [helper.make_opsetid("", 17)])
    graph = helper.make_graph([helper.make_node("ScaledRelu", ["x"], ["y"], domain="custom")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
    model = helper.make_model(graph, functions=[fn], opset_imports=[helper.make_opsetid("", 17),
                                                                       helper.make_opsetid("custom", 1)])
    sess = tinyjit.InferenceSession(model.SerializeToString())
    x = RNG.standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_allclose(sess.run(None, {"x": x})[0], 2 * np.maximum(x, 0), rtol=1e-6)


@pytest.mark.parametrize("opset", [11, 13, 17])
def test_clip_bounds_as_inputs_or_attributes(opset):
    if opset < 11:
        node = helper.make_node("Clip", ["x"], ["y"], min=0.0, max=6.0)
        inits = []
    else:
        node = helper.make_node("Clip", ["x", "lo", "hi"], ["y"])
        inits = [numpy_helper.from_array(np.array(0, np.float32), "lo"),
                 numpy_helper.from_array(np.array(6, np.float32), "hi")]
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [8])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    x = np.linspace(-10, 10, 8).astype(np.float32)
    got = tinyjit.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    np.testing.assert_array_equal(got, np.clip(x, 0, 6))


def test_same_upper_auto_pad_matches_onnxruntime():
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], auto_pad="SAME_UPPER", strides=[2, 2])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 7, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(RNG.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    x = RNG.standard_normal((1, 3, 7, 8)).astype(np.float32)
    got = tinyjit.InferenceSession(model).run(None, {"x": x})[0]
    assert max_rel_err(got, ort_session(model).run(None, {"x": x})[0]) < 1e-5


def test_opset_too_old_is_unsupported():
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 5)])
    with pytest.raises(tinyjit.UnsupportedError, match="opset 5"):
        import_onnx(model.SerializeToString())
