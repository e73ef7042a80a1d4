"""tinyjit.backend: the onnx.backend.base interface."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import tinyjit
import tinyjit.backend as backend
from tinyjit import UnsupportedError


def _model(nodes, inputs, outputs, inits=(), opset=18):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _two_output_model():
    return _model([helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Neg", ["x"], ["n"])],
                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                  [helper.make_tensor_value_info("n", TensorProto.FLOAT, [2, 3]),
                   helper.make_tensor_value_info("r", TensorProto.FLOAT, [2, 3])])


def test_prepare_and_run_with_list_or_dict_inputs_in_output_order():
    x = np.arange(-3, 3, dtype=np.float32).reshape(2, 3)
    rep = backend.prepare(_two_output_model(), "CPU")
    for outputs in (rep.run([x]), rep.run({"x": x}), rep.run(x), backend.run_model(_two_output_model(), [x])):
        assert len(outputs) == 2
        np.testing.assert_array_equal(outputs[0], -x)
        np.testing.assert_array_equal(outputs[1], np.maximum(x, 0))


def test_run_node():
    node = helper.make_node("TopK", ["x", "k"], ["values", "indices"], axis=-1, largest=0)
    values, indices = backend.run_node(node, [np.array([[4, 1, 3, 2]], np.float32), np.array([2], np.int64)])
    np.testing.assert_array_equal(values, [[1, 2]])
    np.testing.assert_array_equal(indices, [[1, 3]])


def test_devices():
    assert backend.supports_device("CPU") and not backend.supports_device("CUDA")
    with pytest.raises(ValueError):
        backend.prepare(_two_output_model(), "CUDA")


def test_shape_inputs_are_bound_per_value():
    """A Reshape whose shape is a graph input compiles once per distinct shape value."""
    model = _model([helper.make_node("Reshape", ["x", "shape"], ["y"])],
                   [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 6]),
                    helper.make_tensor_value_info("shape", TensorProto.INT64, [2])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    x = np.arange(12, dtype=np.float32).reshape(2, 6)
    rep = backend.prepare(model)
    assert rep.static == ["shape"]
    for shape in ([3, 4], [4, 3], [3, 4]):
        (y,) = rep.run([x, np.array(shape, np.int64)])
        np.testing.assert_array_equal(y, x.reshape(shape))
    assert len(rep._sessions) == 2


def test_without_specialization_computed_shapes_fail_at_convert_time():
    model = _model([helper.make_node("Tile", ["x", "repeats"], ["y"])],
                   [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2]),
                    helper.make_tensor_value_info("repeats", TensorProto.INT64, [1])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    with pytest.raises(UnsupportedError, match=r"input 1 \(repeats\) must be a constant"):
        backend.prepare(model, specialize=False)


def test_constant_output_is_produced():
    """A graph whose output folds to a constant (ConstantOfShape of a bound shape) still returns it."""
    value = numpy_helper.from_array(np.array([2.5], np.float32), "value")
    model = _model([helper.make_node("ConstantOfShape", ["shape"], ["y"], value=value)],
                   [helper.make_tensor_value_info("shape", TensorProto.INT64, [2])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    (y,) = backend.prepare(model).run([np.array([2, 3], np.int64)])
    np.testing.assert_array_equal(y, np.full((2, 3), 2.5, np.float32))


def test_supported_ops_are_onnx_op_types():
    onnx_ops = {op for op in tinyjit.SUPPORTED_OPS if onnx.defs.has(op)}
    assert len(onnx_ops) >= 90
    assert {"ConvTranspose", "Resize", "LayerNormalization", "TopK", "CumSum", "Range", "Shape"} <= onnx_ops


def test_unsupported_op_lists_node_and_opset():
    model = _model([helper.make_node("Det", ["x"], ["y"], name="det_1")],
                   [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 3])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])])
    with pytest.raises(UnsupportedError, match=r"opset 18.*Det.*det_1"):
        backend.prepare(model)
