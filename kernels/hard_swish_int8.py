"""HardSwish, int8: a 256-entry table built at convert time by TF Lite Micro's integer algorithm
(reference_ops::HardSwish with HardSwishPrepare's int16 fixed-point multipliers), so the bytes
match TFLM for any input and output quantization."""
import numpy as np

from tinyjit import kernel
from tinyjit.errors import UnsupportedError
from tinyjit.quant import dtype_range, per_tensor, quantize_multiplier

from ._int8 import lut_call, lut_loop, quantized


def hard_swish_int8():
    """int8 HardSwish: ``lut_loop`` over the table prepare builds."""


hard_swish_int8 = kernel(op="HardSwish", dtypes=("int8", "uint8"), name="hard_swish_int8", body=lut_loop)(hard_swish_int8)


def _int16(v: int) -> int:
    return (int(v) + 2**15) % 2**16 - 2**15


def _srdhm16(a: int, b: int) -> int:
    """gemmlowp SaturatingRoundingDoublingHighMul on int16."""
    if a == b == -32768:
        return 32767
    ab = a * b
    nudge = (1 << 14) if ab >= 0 else 1 - (1 << 14)
    t = ab + nudge
    return _int16(t // (1 << 15) if t >= 0 else -((-t) // (1 << 15)))


def _sdhm16(a: int, b: int) -> int:
    """TFLite's SaturatingDoublingHighMul on int16 (rounds toward zero)."""
    if a == b == -32768:
        return 32767
    ab = a * b
    return _int16(ab // (1 << 15) if ab >= 0 else -((-ab) // (1 << 15)))


def _rdbpot(x: int, exponent: int) -> int:
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def _sat_shift16(v: int, amount: int) -> int:
    return max(-32768, min(32767, v * (1 << amount)))


def _to_int16_multiplier(m: int) -> int:
    """TFLite's DownScaleInt32ToInt16Multiplier."""
    if m >= 2**31 - 1 - (1 << 15):
        return 32767
    return (m + (1 << 15)) >> 16


@hard_swish_int8.prepare
def _(node, graph, S):
    x = quantized(graph, node.inputs[0], node)
    y = quantized(graph, node.outputs[0], node)
    s_in, z_in = per_tensor(x, node.name)
    s_out, z_out = per_tensor(y, node.name)
    hires = np.float32(1.0 / 128.0) * np.float32(s_in)                  # float arithmetic, as TFLM
    out_m, out_e = quantize_multiplier(float(np.float32(hires / np.float32(s_out))))
    relu_m, relu_e = quantize_multiplier(float(np.float32(hires / np.float32(3.0 / 32768.0))))
    if out_e > 0:
        raise UnsupportedError(f"node {node.name}: int8 HardSwish with output scale below input scale / 128")
    out_m16, relu_m16 = _to_int16_multiplier(out_m), _to_int16_multiplier(relu_m)
    lo, hi = dtype_range(y.dtype)

    def entry(q: int) -> int:
        v = _int16(q - z_in)
        hires_v = _int16(v * (1 << 7))
        preshift_out = _srdhm16(hires_v, out_m16)
        reluish = hires_v
        if relu_e > 0:
            reluish = _sat_shift16(reluish, relu_e - 1)
        reluish = _srdhm16(reluish, relu_m16)
        if relu_e > 0:
            reluish = _sat_shift16(reluish, 1)
        if relu_e < 0:
            reluish = _rdbpot(reluish, -relu_e)
        reluish = (reluish + (1 << 15)) >> 1
        out = _rdbpot(_sdhm16(reluish, preshift_out), -out_e) + z_out
        return max(lo, min(hi, _int16(out)))
    return lut_call(node, graph, entry)
