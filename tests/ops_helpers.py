"""Helpers for the operator tests: build a small ONNX graph, run it with tinyjit."""
import numpy as np
from onnx import TensorProto, helper, numpy_helper

import tinyjit


def make_model(nodes, inputs: dict, outputs: list, inits: dict | None = None, opset: int = 18) -> bytes:
    """``inputs``: name -> example array (its dtype and shape are the graph input's)."""
    graph_inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
                    for n, a in inputs.items()]
    graph = helper.make_graph(
        nodes, "ops", graph_inputs, [helper.make_tensor_value_info(n, TensorProto.UNDEFINED, None) for n in outputs],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString()


def run(nodes, inputs: dict, outputs: list, inits: dict | None = None, opset: int = 18) -> list[np.ndarray]:
    session = tinyjit.InferenceSession(make_model(nodes, inputs, outputs, inits, opset))
    return session.run(None, inputs)


def node(op: str, inputs: list, outputs: list, **attrs):
    return helper.make_node(op, inputs, outputs, name=f"{op}_{outputs[0]}", **attrs)
