"""Add, int8 (broadcasting), as TFLite's integer Add.

Both inputs are brought to a common scale with 20 bits of headroom (``(x - zp) << 20`` times a
fixed-point multiplier below one each), summed, and the sum requantized to the output:
TFLite's AddFunc, the same bytes as TF Lite Micro. An input has only 256 codes, so its rescaled
values are computed at convert time with the same primitive into a table (``input_table``). The broadcast is collapsed to 4 dims; the
innermost strides (1, or 0 for a broadcast input) are compile-time constants, and results go
through a small stack buffer before they are stored, so the inner loop vectorizes even when the
output overwrites an input (in place: LLVM's overlap check would otherwise pick the scalar loop).
"""
import numpy as np

from tinyjit import Call, kernel
from tinyjit.quant import activation_range, per_tensor, quantize_multiplier

from . import add as _float_add  # noqa: F401  (registers first: this file's int8 kernel replaces its plain one)
from ._int8 import QTYPES, quantized
from ._util import broadcast_strides, flat
from .primitives import local_array_i32, multiply_by_quantized_multiplier

LEFT_SHIFT = 20


@kernel(op="Add", dtypes=("int8", "uint8"), override=True, schedule={"A_STEP": (1,), "B_STEP": (1,)})
def add_int8(a, b, a_table, b_table, y, d0, d1, d2, d3, sa0, sa1, sa2, sb0, sb1, sb2, out_mult, out_shift, out_zp,
             act_min, act_max):
    chunk = local_array_i32(1, 64)
    i = 0
    for i0 in range(d0):
        for i1 in range(d1):
            for i2 in range(d2):
                oa = i0 * sa0 + i1 * sa1 + i2 * sa2
                ob = i0 * sb0 + i1 * sb1 + i2 * sb2
                for c0 in range(0, d3, 64):     # chunks through a stack buffer: y may be a or b
                    width = min(64, d3 - c0)
                    for j in range(width):
                        i3 = c0 + j
                        va = a_table[np.int32(a[oa + i3 * A_STEP]) + 128]
                        vb = b_table[np.int32(b[ob + i3 * B_STEP]) + 128]
                        v = multiply_by_quantized_multiplier(va + vb, out_mult, out_shift) + out_zp
                        chunk[0, j] = min(max(v, act_min), act_max)
                    for j in range(width):
                        y[i + c0 + j] = chunk[0, j]
                i += d3


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
    S.update(A_STEP=int(st_a[3]), B_STEP=int(st_b[3]))    # innermost strides (0 or 1) as constants
    return Call([flat(a.name, graph), flat(b.name, graph), input_table(a, za, ma, sha), input_table(b, zb, mb, shb),
                 flat(y.name, graph)], [*dims, *st_a[:3], *st_b[:3], mo, sho, zo, lo, hi], macs=y.size,
                inplace=a.shape == y.shape)


def input_table(t, zero_point: int, mult: int, shift: int) -> np.ndarray:
    """Each input's rescaled value ``MBQM((q - zp) << 20, mult, shift)`` for all 256 codes q,
    indexed by ``q + 128`` (int8) or ``q + 128`` offset from 0 for uint8 (codes 0..255 at 128..383)."""
    codes = np.arange(-128, 256, dtype=np.int64)
    values = [multiply_by_quantized_multiplier((int(q) - zero_point) << 20, mult, shift) for q in codes]
    return np.asarray(values, np.int32)
