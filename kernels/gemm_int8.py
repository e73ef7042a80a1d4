"""Gemm, int8: a fully connected layer (TFLite FULLY_CONNECTED), y = x @ W' + bias, requantized.

As TFLite's FullyConnected / FullyConnectedPerChannel. A fully connected layer is a 1x1
convolution over the rows of ``x``, so this kernel runs the int8 Conv loop (conv_int8.py) on
[1, rows, 1, in] / [1, rows, 1, out] views: the same forms (the dot form reads each row of ``x`` in
place), requantizing epilogue and schedule knobs.
"""
import numpy as np

from tinyjit import Call, kernel
from tinyjit.errors import UnsupportedError
from tinyjit.ir import Graph, Quant, Tensor

from ._int8 import conv_params, int32_array, output_value, requantize_clamp
from .conv_int8 import conv2d_int8, pack_rows, resolve_schedule


def gemm_int8():
    """A fully connected int8 layer: the body is conv2d_int8's loop (see the module docstring)."""


gemm_int8 = kernel(op="Gemm", dtypes=("int8", "uint8"), schedule=dict(conv2d_int8.schedule_space),
                   name="gemm_int8", body=conv2d_int8.fn)(gemm_int8)
gemm_int8.uses(requantize_clamp, output_value)


@gemm_int8.prepare
def _(node, graph, S):
    if node.attrs.get("transA", 0) or float(node.attrs.get("alpha", 1.0)) != 1.0 or float(node.attrs.get("beta", 1.0)) != 1.0:
        raise UnsupportedError(f"node {node.name}: int8 Gemm takes transA=0, alpha=beta=1")
    wt = graph.tensors[node.inputs[1]]
    if not node.attrs.get("transB", 0) and wt.is_const:     # [in, out]: out channels first, as the kernel wants
        graph = _transposed_weights(node, graph)
        wt = graph.tensors[node.inputs[1]]
    per_tensor = wt.quant is not None and wt.quant.scale.size == 1   # TFLite's FC multiplies the scales in float
    weights, bias, mult, shift, in_zp, out_zp, lo, hi, raw = conv_params(node, graph, float_product=per_tensor)
    y = graph.tensors[node.outputs[0]]
    rows, cols = y.shape
    depth = weights.shape[1]
    block = int(S["CO_BLOCK"])
    S.update(K_H=1, K_W=1, CIN=depth, GROUPS=1)
    x_dtype = graph.tensors[node.inputs[0]].dtype.name
    packed, bias = resolve_schedule(S, weights, bias, in_zp, x_dtype, in_place=True, out_w=1)
    return Call([(node.inputs[0], (1, rows, 1, depth)), packed, int32_array(bias, "the bias", node), pack_rows(mult, block),
                 pack_rows(shift, block), (node.outputs[0], (1, rows, 1, cols))],
                [1, 1, 0, 0, 1, 1, in_zp, out_zp, lo, hi, raw], macs=rows * cols * depth)


def _transposed_weights(node, graph) -> Graph:
    """A shallow copy of ``graph`` whose weight tensor for ``node`` is [out, in] (quant axis moved)."""
    wt = graph.tensors[node.inputs[1]]
    q = wt.quant
    tensors = dict(graph.tensors)
    quant = None if q is None else Quant(q.scale, q.zero_point, None if q.axis is None else 1 - q.axis % 2)
    tensors[wt.name] = Tensor(wt.name, wt.dtype, wt.shape[::-1], np.ascontiguousarray(wt.data.T), quant)
    return Graph(tensors, graph.nodes, graph.inputs, graph.outputs, graph.name, graph.opset)
