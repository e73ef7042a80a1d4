"""Mul, int8 (broadcasting), as TFLite's integer Mul:
``y = clamp(MultiplyByQuantizedMultiplier((a - a_zp) * (b - b_zp), mult, shift) + out_zp)`` with
the multiplier of ``a_scale * b_scale / out_scale``. Integer tensors without quantization
parameters (plain ONNX int8 Mul) multiply with int8 wrap-around instead.
"""
import numpy as np

from tinyjit import Call, kernel
from tinyjit.quant import activation_range, dtype_range, per_tensor, quantize_multiplier

from . import mul as _float_mul  # noqa: F401  (registers first: this file's int8 kernel replaces its plain one)
from ._int8 import QTYPES, quantized, requantize_clamp
from ._util import broadcast_strides, flat
from .primitives import local_array_i32


@kernel(op="Mul", dtypes=QTYPES, override=True, schedule={"A_STEP": (1,), "B_STEP": (1,)})
def mul_int8(a, b, y, d0, d1, d2, d3, sa0, sa1, sa2, sb0, sb1, sb2, a_zp, b_zp, mult, shift, out_zp, act_min,
             act_max, raw):
    chunk = local_array_i32(1, 64)
    i = 0
    for i0 in range(d0):
        for i1 in range(d1):
            for i2 in range(d2):
                oa = i0 * sa0 + i1 * sa1 + i2 * sa2
                ob = i0 * sb0 + i1 * sb1 + i2 * sb2
                for c0 in range(0, d3, 64):     # through a stack buffer: y may be a or b
                    width = min(64, d3 - c0)
                    for j in range(width):
                        p = (np.int32(a[oa + (c0 + j) * A_STEP]) - a_zp) * (np.int32(b[ob + (c0 + j) * B_STEP]) - b_zp)
                        chunk[0, j] = p if raw else requantize_clamp(p, mult, shift, out_zp, act_min, act_max)
                    for j in range(width):
                        y[i + c0 + j] = chunk[0, j]
                i += d3


mul_int8.uses(requantize_clamp)


@mul_int8.prepare
def _(node, graph, S):
    a, b = (graph.tensors[n] for n in node.inputs[:2])
    y = graph.tensors[node.outputs[0]]
    dims, (st_a, st_b) = broadcast_strides([a.shape, b.shape], y.shape)
    S.update(A_STEP=int(st_a[3]), B_STEP=int(st_b[3]))
    if a.quant is None and b.quant is None and y.quant is None:          # plain integers
        params = [0, 0, 0, 0, 0, *dtype_range(y.dtype), 1]
    else:
        a, b = (quantized(graph, n, node, QTYPES) for n in node.inputs[:2])
        y = quantized(graph, node.outputs[0], node, QTYPES)
        (sa, za), (sb, zb), (so, zo) = (per_tensor(t, node.name) for t in (a, b, y))
        mult, shift = quantize_multiplier(sa * sb / so)
        params = [za, zb, mult, shift, zo, *activation_range(node, y), 0]
    return Call([flat(a.name, graph), flat(b.name, graph), flat(y.name, graph)],
                [*dims, *st_a[:3], *st_b[:3], *params], macs=y.size, inplace=a.shape == y.shape and a.dtype == y.dtype)
