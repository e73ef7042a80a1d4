"""Add, int8 (broadcasting), as TFLite's integer Add.

Both inputs are brought to a common scale with 20 bits of headroom (``(x - zp) << 20`` times a
fixed-point multiplier below one each), summed, and the sum requantized to the output:
TFLite's AddFunc, the same bytes as TF Lite Micro.
"""
import numpy as np

from tinyjit import Call, kernel
from tinyjit.quant import activation_range, per_tensor, quantize_multiplier

from . import add as _float_add  # noqa: F401  (registers first: this file's int8 kernel replaces its plain one)
from ._int8 import QTYPES, quantized
from ._util import broadcast_strides, flat
from .primitives import multiply_by_quantized_multiplier

LEFT_SHIFT = 20


@kernel(op="Add", dtypes=("int8", "uint8"), override=True)
def add_int8(a, b, y, d0, d1, d2, d3, sa0, sa1, sa2, sa3, sb0, sb1, sb2, sb3, a_zp, b_zp, a_mult, a_shift,
             b_mult, b_shift, out_mult, out_shift, out_zp, act_min, act_max):
    i = 0
    for i0 in range(d0):
        for i1 in range(d1):
            for i2 in range(d2):
                oa = i0 * sa0 + i1 * sa1 + i2 * sa2
                ob = i0 * sb0 + i1 * sb1 + i2 * sb2
                for i3 in range(d3):
                    va = multiply_by_quantized_multiplier((np.int32(a[oa + i3 * sa3]) - a_zp) << 20,
                                                          a_mult, a_shift)
                    vb = multiply_by_quantized_multiplier((np.int32(b[ob + i3 * sb3]) - b_zp) << 20,
                                                          b_mult, b_shift)
                    v = multiply_by_quantized_multiplier(va + vb, out_mult, out_shift) + out_zp
                    y[i] = min(max(v, act_min), act_max)
                    i += 1


@add_int8.prepare
def _(node, graph, S):
    a, b = (quantized(graph, n, node, QTYPES) for n in node.inputs[:2])
    y = quantized(graph, node.outputs[0], node, QTYPES)
    (sa, za), (sb, zb), (so, zo) = (per_tensor(t, node.name) for t in (a, b, y))
    twice_max = 2.0 * max(sa, sb)          # scales as float32 → double, as TFLite's CalculateOpDataAdd
    ma, sha = quantize_multiplier(sa / twice_max)
    mb, shb = quantize_multiplier(sb / twice_max)
    mo, sho = quantize_multiplier(twice_max / ((1 << LEFT_SHIFT) * so))
    lo, hi = activation_range(node, y)
    dims, (st_a, st_b) = broadcast_strides([a.shape, b.shape], y.shape)
    return Call([flat(a.name, graph), flat(b.name, graph), flat(y.name, graph)],
                [*dims, *st_a, *st_b, za, zb, ma, sha, mb, shb, mo, sho, zo, lo, hi], macs=y.size,
                inplace=a.shape == y.shape)
