"""Gemm, int8: a fully connected layer (TFLite FULLY_CONNECTED), y = x @ W' + bias, requantized.

As TFLite's FullyConnected / FullyConnectedPerChannel: per row, ``x - in_zp`` is gathered once
as int16 into ``col``, then each output is a contiguous int16 dot product with its weight row
([out, in], packed at convert time) and the requantizing epilogue.
"""
import numpy as np

from tinyjit import Call, kernel
from tinyjit.errors import UnsupportedError

from ._int8 import conv_params, int32_array, output_value, requantize_clamp


@kernel(op="Gemm", dtypes=("int8", "uint8"))
def gemm_int8(a, w, bias, mult, shift, y, col, in_zp, out_zp, act_min, act_max, raw):
    rows, cols = y.shape
    depth = w.shape[1]
    for m in range(rows):
        for k in range(depth):
            col[k] = np.int16(a[m, k] - in_zp)
        for n in range(cols):
            acc = np.int32(0)
            for k in range(depth):
                acc += np.int32(col[k]) * np.int32(w[n, k])
            y[m, n] = output_value(acc + bias[n], mult[n], shift[n], out_zp, act_min, act_max, raw)


gemm_int8.uses(requantize_clamp, output_value)


@gemm_int8.prepare
def _(node, graph, S):
    if node.attrs.get("transA", 0) or float(node.attrs.get("alpha", 1.0)) != 1.0 or float(node.attrs.get("beta", 1.0)) != 1.0:
        raise UnsupportedError(f"node {node.name}: int8 Gemm takes transA=0, alpha=beta=1")
    transposed = bool(node.attrs.get("transB", 0))
    wt = graph.tensors[node.inputs[1]]
    if not transposed and wt.quant is not None:      # [in, out]: the kernel wants out channels first
        graph = _transposed_weights_view(node, graph)
    per_tensor = wt.quant is not None and wt.quant.scale.size == 1
    weights, bias, mult, shift, in_zp, out_zp, lo, hi, raw = conv_params(node, graph, float_product=per_tensor)
    y = graph.tensors[node.outputs[0]]
    rows, cols = y.shape
    return Call([node.inputs[0], np.ascontiguousarray(weights), int32_array(bias, "the bias", node), mult, shift,
                 node.outputs[0]], [in_zp, out_zp, lo, hi, raw], scratch=[("int16", (weights.shape[1],))],
                macs=rows * cols * weights.shape[1])


def _transposed_weights_view(node, graph):
    """A shallow copy of ``graph`` whose weight tensor for ``node`` is [out, in] (quant axis moved)."""
    from tinyjit.ir import Graph, Quant, Tensor
    wt = graph.tensors[node.inputs[1]]
    q = wt.quant
    tensors = dict(graph.tensors)
    tensors[wt.name] = Tensor(wt.name, wt.dtype, wt.shape[::-1], np.ascontiguousarray(wt.data.T),
                              Quant(q.scale, q.zero_point, None if q.axis is None else 1 - q.axis % 2))
    return Graph(tensors, graph.nodes, graph.inputs, graph.outputs, graph.name, graph.opset)
