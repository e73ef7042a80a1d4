"""Relu, int8: TFLite's ReluQuantized, ``clamp(MultiplyByQuantizedMultiplier(x - in_zp) + out_zp)``
with the multiplier of ``in_scale / out_scale`` and the clamp at the output's quantized zero.
Without quantization parameters (plain ONNX int8 Relu) it is ``max(x, 0)``: the same loop with an
identity multiplier."""
from tinyjit import Call, kernel
from tinyjit.quant import activation_range, dtype_range, per_tensor, quantize_multiplier

from . import relu as _float_relu  # noqa: F401  (registers first: this file's int8 kernel replaces its plain one)
from ._int8 import QTYPES, quantized, requantize_clamp
from ._util import flat
from .quantize_linear import requantize


def relu_int8():
    """int8 Relu: the requantize loop (quantize_linear.py) with the Relu clamp."""


relu_int8 = kernel(op="Relu", dtypes=QTYPES, override=True, name="relu_int8", body=requantize.fn)(relu_int8)
relu_int8.uses(requantize_clamp)


def clamp_call(node, graph, lo_real, hi_real):
    """A requantize call that clamps to [lo_real, hi_real] (real values; None = unbounded)."""
    x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
    if x.quant is None and y.quant is None:                         # plain integers: identity scale
        lo, hi = dtype_range(y.dtype)
        lo = lo if lo_real is None else max(lo, int(lo_real))
        hi = hi if hi_real is None else min(hi, int(hi_real))
        params = [0, 1 << 30, 1, 0, lo, hi]
    else:
        x = quantized(graph, node.inputs[0], node, QTYPES)
        y = quantized(graph, node.outputs[0], node, QTYPES)
        (s_in, z_in), (s_out, z_out) = per_tensor(x, node.name), per_tensor(y, node.name)
        bounds = type(node)(node.op, node.name, node.inputs, node.outputs,
                            {k: v for k, v in (("act_min", lo_real), ("act_max", hi_real)) if v is not None})
        mult, shift = quantize_multiplier(s_in / s_out)
        params = [z_in, mult, shift, z_out, *activation_range(bounds, y)]
    return Call([flat(x.name, graph), flat(y.name, graph)], params, macs=y.size, inplace=x.dtype == y.dtype)


@relu_int8.prepare
def _(node, graph, S):
    return clamp_call(node, graph, 0.0, None)
