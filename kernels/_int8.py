"""Shared pieces of the int8 kernels: the requantizing epilogue (kernel subset) and the
prepare-side helpers that read a node's quantization parameters (host side, convert time).

The int8 IR convention (docs/quantization.md): an int8 op is the float op's IR op with int8
tensors that carry ``Quant``; weights are int8 constants quantized per output channel (axis 0 of
OHWI / [out, in]), bias an int32 constant with scale ``input_scale * weight_scale``, and
``act_min``/``act_max`` are the real bounds of a fused activation.
"""
import numpy as np

from tinyjit.errors import TinyJitError, UnsupportedError
from tinyjit.quant import activation_range, check_quant, dtype_range, output_multipliers, per_tensor
from tinyjit.registry import Call

from .primitives import multiply_by_quantized_multiplier, wrap_int32  # noqa: F401  (pasted helpers call them)

QTYPES = ("int8", "uint8")


# --- kernel subset ---------------------------------------------------------------------------

def requantize_clamp(acc, multiplier, shift, zero_point, lo, hi):
    """An int32 accumulator to the output's quantized domain, clamped to [lo, hi] (TFLite's epilogue):
    ``clamp(multiply_by_quantized_multiplier(acc, multiplier, shift) + zero_point, lo, hi)``.

    Written for SIMD and for 32-bit C: with a multiplier >= 0 (QuantizeMultiplier of a positive
    scale always is), the rounding of ``saturating_rounding_doubling_high_mul`` is the same either
    side of zero, ``(x * m + 2**30) >> 31``, an int32 (only the product needs 64 bits: one SMLAL);
    ``rounding_divide_by_pot`` is gemmlowp's branch-free int32 form; and the clamp comes before the
    zero point is added, so no intermediate can leave int32 and the C lowering keeps it all in
    int32; the two ``wrap_int32`` tell it so (tests/test_int8_primitives.py checks it against the primitives).
    """
    left = max(shift, 0)
    right = max(-shift, 0)
    x = wrap_int32(np.int64(acc) << left)
    q = wrap_int32((x * np.int64(multiplier) + np.int64(1 << 30)) >> 31)    # a no-op: |x * m| < 2**62
    mask = (np.int64(1) << right) - 1
    rounded = wrap_int32((q >> right) + (np.int64(1) if (q & mask) > (mask >> 1) + (np.int64(1) if q < 0 else np.int64(0))
                                         else np.int64(0)))     # a no-op too: right == 0 never rounds up
    return min(max(rounded, lo - zero_point), hi - zero_point) + zero_point


def output_value(acc, multiplier, shift, zero_point, lo, hi, raw):
    """The epilogue of conv-like kernels: requantized and clamped, or (``raw``) the accumulator itself."""
    return acc if raw else requantize_clamp(acc, multiplier, shift, zero_point, lo, hi)


def lut_loop(x, table, y, offset):
    """y[i] = table[x[i] + offset]: an int8/uint8 elementwise op as a 256-entry table lookup."""
    for i in range(x.shape[0]):
        y[i] = table[np.int32(x[i]) + offset]


# --- host side -------------------------------------------------------------------------------

def quantized(graph, name: str, node, dtypes=("int8", "uint8")):
    """The tensor ``name``, checked to be an integer tensor of ``dtypes`` with sane Quant."""
    t = graph.tensors[name]
    if t.dtype.name not in dtypes:
        raise UnsupportedError(f"node {node.name} ({node.op}): tensor {name!r} is {t.dtype.name}, "
                               f"the int8 kernel takes {'/'.join(dtypes)}")
    if t.quant is None:
        raise TinyJitError(f"node {node.name} ({node.op}): tensor {name!r} is {t.dtype.name} without "
                           "quantization parameters (scale, zero point)")
    check_quant(t, f"node {node.name}")
    return t


def io_params(node, graph, dtypes=QTYPES, raw_output: bool = False):
    """(x, y, in_scale, in_zp, out_scale, out_zp, act_lo, act_hi) of a one-input, one-output op.

    ``raw_output``: an int32 output without quantization takes the accumulator as it is
    (ONNX ConvInteger / MatMulInteger): scale 1, zero point 0, no clamp.
    """
    x = quantized(graph, node.inputs[0], node, dtypes)
    in_scale, in_zp = per_tensor(x, node.name)
    y = graph.tensors[node.outputs[0]]
    if raw_output and y.dtype.name == "int32" and y.quant is None:
        return x, y, in_scale, in_zp, 1.0, 0, -2**31, 2**31 - 1
    y = quantized(graph, node.outputs[0], node, dtypes)
    out_scale, out_zp = per_tensor(y, node.name)
    lo, hi = activation_range(node, y)
    return x, y, in_scale, in_zp, out_scale, out_zp, lo, hi


def conv_params(node, graph, float_product: bool = False):
    """What every conv-like int8 prepare needs.

    Returns ``(weights - weight zero point as int16, bias int32 [out], multiplier int32 [out], shift int32 [out],
    in_zp, out_zp, act_lo, act_hi, raw)``; weights have their output channels on axis 0; ``raw`` = 1
    for an int32 output that takes the accumulator unscaled (ConvInteger, MatMulInteger).
    """
    x, y, in_scale, in_zp, out_scale, out_zp, lo, hi = io_params(node, graph, raw_output=True)
    raw = int(y.dtype.name == "int32")
    wt = graph.tensors[node.inputs[1]]
    if not wt.is_const:
        raise UnsupportedError(f"node {node.name} ({node.op}): int8 weights must be constant")
    if wt.dtype.name not in ("int8", "uint8") or wt.quant is None:
        raise TinyJitError(f"node {node.name} ({node.op}): the weights {wt.name!r} of an int8 op must be "
                           f"int8 with quantization parameters, got {wt.dtype.name}"
                           + ("" if wt.quant is not None else " without scales"))
    check_quant(wt, f"node {node.name}")
    if wt.quant.per_channel and wt.quant.axis % len(wt.shape) != 0:
        raise UnsupportedError(f"node {node.name} ({node.op}): weights quantized per channel along axis "
                               f"{wt.quant.axis}; the int8 kernels want the output channels (axis 0)")
    out_c = wt.shape[0]
    w_zp = np.asarray(wt.quant.zero_point).reshape(-1).astype(np.int16)
    weights = wt.data.astype(np.int16)          # weights - zero point: int16 holds any int8/uint8 case
    if np.any(w_zp != 0):
        weights = weights - (w_zp.reshape((-1,) + (1,) * (weights.ndim - 1)) if w_zp.size > 1 else w_zp[0])
    bias = np.zeros(out_c, np.int64)
    if len(node.inputs) > 2 and node.inputs[2]:
        bt = graph.tensors[node.inputs[2]]
        if not bt.is_const:
            raise UnsupportedError(f"node {node.name} ({node.op}): the bias must be constant")
        if bt.dtype.kind not in "iu":
            raise TinyJitError(f"node {node.name} ({node.op}): the bias {bt.name!r} of an int8 op must be "
                               f"int32 (scale input_scale * weight_scale), got {bt.dtype.name}")
        bias = np.broadcast_to(bt.data.reshape(-1).astype(np.int64), (out_c,))
    mult, shift = output_multipliers(in_scale, wt.quant.scale, out_scale, out_c, float_product)
    return weights, bias, mult, shift, in_zp, out_zp, lo, hi, raw


def int32_array(values, what: str, node) -> np.ndarray:
    values = np.asarray(values, np.int64)
    if values.size and (values.min() < -2**31 or values.max() >= 2**31):
        raise TinyJitError(f"node {node.name} ({node.op}): {what} does not fit in int32")
    return np.ascontiguousarray(values, np.int32)


def lut_call(node, graph, table_fn):
    """Prepare of a table-driven elementwise op: ``table_fn(codes) -> outputs`` over all 256 input
    codes, evaluated once here (with the exact integer algorithm), looked up by ``lut_loop``."""
    from ._util import flat
    x = quantized(graph, node.inputs[0], node)
    y = quantized(graph, node.outputs[0], node)
    lo, hi = dtype_range(x.dtype)
    table = np.asarray([table_fn(int(q)) for q in range(lo, hi + 1)], np.int64)
    out_lo, out_hi = dtype_range(y.dtype)
    table = np.clip(table, out_lo, out_hi).astype(y.dtype)
    return Call([flat(x.name, graph), table, flat(y.name, graph)], [-lo], macs=y.size, inplace=True)
