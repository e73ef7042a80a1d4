"""QuantizeLinear: float32 → int8/uint8, and with an integer input a requantization.

float input: ``y = clamp(round(x / scale) + zero_point)`` per tensor or per channel, the division
in float32; rounding half to even (ONNX, onnxruntime) or, for TFLite's QUANTIZE
(attr ``rounding="half_away"``), half away from zero as TF Lite Micro's AffineQuantize.

integer input (TFLite's QUANTIZE int8 → int8, or a DequantizeLinear → QuantizeLinear pair):
``y = clamp(MultiplyByQuantizedMultiplier(x - in_zp, mult, shift) + out_zp)`` with the multiplier
of ``in_scale / out_scale``, as TF Lite Micro's Requantize.
"""
import numpy as np

from tinyjit import Call, kernel
from tinyjit.errors import TinyJitError
from tinyjit.quant import activation_range, check_quant, dtype_range, per_tensor, quantize_multiplier

from ._int8 import quantized, requantize_clamp
from ._util import flat


@kernel(op="QuantizeLinear", dtypes=("float32",))
def quantize_linear(x, scale, zero_point, y, inner, half_away, lo, hi):
    channels = scale.shape[0]
    for i in range(x.shape[0]):
        c = (i // inner) % channels
        v = np.float64(x[i] / scale[c])           # the division in float32, the rounding exact
        r = np.floor(abs(v) + 0.5) if half_away else np.round(v)
        if half_away and v < 0:
            r = -r
        q = np.int64(r) + zero_point[c] if abs(r) < 1e9 else (hi if r > 0 else lo)
        y[i] = min(max(q, lo), hi)


@quantize_linear.prepare
def _(node, graph, S):
    x = graph.tensors[node.inputs[0]]
    y = graph.tensors[node.outputs[0]]
    scale, zero_point, axis = _params(node, graph, y)
    inner = int(np.prod(y.shape[axis + 1:], dtype=np.int64)) if axis is not None else max(y.size, 1)
    lo, hi = dtype_range(y.dtype)
    half_away = 1 if node.attrs.get("rounding") == "half_away" else 0
    return Call([flat(x.name, graph), scale.astype(np.float32), zero_point.astype(np.int32), flat(y.name, graph)],
                [inner, half_away, lo, hi], macs=y.size)


@kernel(op="QuantizeLinear", dtypes=("int8", "uint8", "int16"), name="requantize")
def requantize(x, y, in_zp, mult, shift, out_zp, lo, hi):
    for i in range(x.shape[0]):
        y[i] = requantize_clamp(np.int32(x[i]) - in_zp, mult, shift, out_zp, lo, hi)


requantize.uses(requantize_clamp)


@requantize.prepare
def _(node, graph, S):
    x = quantized(graph, node.inputs[0], node, ("int8", "uint8", "int16"))
    y = graph.tensors[node.outputs[0]]
    if y.quant is None:
        scale, zero_point, _ = _params(node, graph, y)
        from tinyjit.quant import make_quant
        y.quant = make_quant(scale, zero_point)
    in_scale, in_zp = per_tensor(x, node.name)
    out_scale, out_zp = per_tensor(y, node.name)
    mult, shift = quantize_multiplier(in_scale / out_scale)
    lo, hi = activation_range(node, y)
    return Call([flat(x.name, graph), flat(y.name, graph)], [in_zp, mult, shift, out_zp, lo, hi], macs=y.size,
                inplace=x.dtype == y.dtype)


def _params(node, graph, y):
    """(scale [C], zero point [C], axis or None) from the node's inputs, else from ``y``'s Quant."""
    if len(node.inputs) > 1 and node.inputs[1]:
        scale = graph.const(node.inputs[1])
        zp_name = node.inputs[2] if len(node.inputs) > 2 else ""
        zero_point = graph.const(zp_name) if zp_name else np.zeros(1, np.int64)
        if scale is None or zero_point is None:
            raise TinyJitError(f"node {node.name}: QuantizeLinear scale and zero point must be constants")
        axis = int(node.attrs.get("axis", 1)) if np.size(scale) > 1 else None
    elif y.quant is not None:
        scale, zero_point, axis = y.quant.scale, y.quant.zero_point, y.quant.axis
    else:
        raise TinyJitError(f"node {node.name}: QuantizeLinear without scale")
    if axis is not None and axis < 0:
        axis += len(y.shape)
    scale = np.asarray(scale, np.float32).reshape(-1)
    zero_point = np.broadcast_to(np.asarray(zero_point, np.int64).reshape(-1), scale.shape)
    from tinyjit.ir import Tensor
    from tinyjit.quant import make_quant
    check_quant(Tensor(y.name, y.dtype, y.shape, quant=make_quant(scale, zero_point, axis)), f"node {node.name}")
    return scale, zero_point, axis
