"""Quantization arithmetic on the host (convert time), exactly as TF Lite computes it.

The int8 kernels' prepare functions turn real scales into the integers their loops use: a Q31
multiplier and a shift per output channel (``quantize_multiplier``, TFLite's QuantizeMultiplier),
activation clamps in the quantized domain (``activation_range``), rounding as TFLite rounds
(``tflite_round``: half away from zero). Nothing here runs at inference time.

Conventions (the TFLite int8 spec): activations int8 asymmetric per tensor, weights int8
symmetric per output channel, bias int32 with scale ``input_scale * weight_scale`` and zero
point 0. ``real = scale * (q - zero_point)``.
"""
from __future__ import annotations

import math

import numpy as np

from .errors import TinyJitError
from .ir import Quant, Tensor

INT_TYPES = ("int8", "uint8", "int16", "int32")


def tflite_round(v: float) -> int:
    """``std::round``: to the nearest integer, halfway cases away from zero."""
    return int(math.copysign(math.floor(abs(v) + 0.5), v))


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite's ``QuantizeMultiplier``: ``real ~= multiplier * 2**(shift - 31)``.

    ``multiplier`` is a Q31 value in [2**30, 2**31) (0 for ``real == 0``); computed from
    ``frexp`` of the double, rounded half away from zero, 2**31 folded back into range, and
    multipliers below 2**-31 flushed to zero, as tensorflow/lite/kernels/internal/
    quantization_util.cc does (double-rounding build, TFLM's default).
    """
    real = float(real)
    if real == 0.0:
        return 0, 0
    if not math.isfinite(real):
        raise TinyJitError(f"cannot quantize the multiplier {real} (scales must be finite and non-zero)")
    q, shift = math.frexp(real)
    q_fixed = tflite_round(q * (1 << 31))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    if q_fixed > np.iinfo(np.int32).max or shift > 31:
        raise TinyJitError(f"the multiplier {real} is too large for a Q31 fixed-point value")
    return int(q_fixed), int(shift)


def f32(v) -> float:
    """``v`` rounded to float32, back as a Python float (TFLite stores scales as float)."""
    return float(np.float32(v))


def output_multipliers(in_scale: float, w_scales: np.ndarray, out_scale: float, channels: int,
                       float_product: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (multiplier, shift) int32 arrays for conv-like ops: ``in * w[c] / out``.

    TFLite's PopulateConvolutionQuantizationParams computes ``double(in) * double(w) / double(out)``
    per channel (a per-tensor weight scale is broadcast). Its per-tensor FULLY_CONNECTED path
    (GetQuantizedConvolutionMultipler) first multiplies ``in * w`` in float: ``float_product``.
    """
    w_scales = np.asarray(w_scales, np.float32).reshape(-1)
    if w_scales.size not in (1, channels):
        raise TinyJitError(f"{w_scales.size} weight scales for {channels} output channels")
    mult = np.zeros(channels, np.int32)
    shift = np.zeros(channels, np.int32)
    for c in range(channels):
        ws = w_scales[c if w_scales.size > 1 else 0]
        if float_product:
            real = float(np.float32(np.float32(in_scale) * ws)) / f32(out_scale)
        else:
            real = f32(in_scale) * float(ws) / f32(out_scale)
        mult[c], shift[c] = quantize_multiplier(real)
    return mult, shift


def quantize_value(real: float, scale: float, zero_point: int) -> int:
    """TFLite's ``Quantize`` of one real value: ``zero_point + round(real / scale)`` in float32."""
    return int(zero_point) + tflite_round(float(np.float32(real) / np.float32(scale)))


def dtype_range(dtype) -> tuple[int, int]:
    info = np.iinfo(np.dtype(dtype))
    return int(info.min), int(info.max)


def activation_range(node, t: Tensor) -> tuple[int, int]:
    """The output clamp of a node in ``t``'s quantized domain (TFLite's CalculateActivationRangeQuantized).

    ``act_min``/``act_max`` are the real bounds of a fused activation (Relu: 0, Relu6: 0 and 6).
    """
    qmin, qmax = dtype_range(t.dtype)
    scale, zero_point = per_tensor(t, node.name)
    lo, hi = node.attrs.get("act_min"), node.attrs.get("act_max")
    if lo is not None and math.isfinite(lo) and lo > -3e38:
        qmin = max(qmin, quantize_value(lo, scale, zero_point))
    if hi is not None and math.isfinite(hi) and hi < 3e38:
        qmax = min(qmax, quantize_value(hi, scale, zero_point))
    if qmin > qmax:   # a clamp wholly outside the representable range: every output is one value
        qmax = qmin
    return qmin, qmax


def per_tensor(t: Tensor, where: str = "") -> tuple[float, int]:
    """(scale, zero point) of a per-tensor quantized tensor; a clear error otherwise."""
    q = t.quant
    at = f"node {where}: " if where else ""
    if q is None:
        raise TinyJitError(f"{at}tensor {t.name!r} ({t.dtype.name}) has no quantization parameters")
    if q.scale.size != 1:
        raise TinyJitError(f"{at}tensor {t.name!r} must be quantized per tensor, it has "
                           f"{q.scale.size} scales (axis {q.axis})")
    return float(q.scale.reshape(-1)[0]), int(q.zero_point.reshape(-1)[0])


def check_quant(t: Tensor, where: str = "") -> None:
    """A tensor's quantization parameters make sense: every error says which tensor and why."""
    q = t.quant
    if q is None:
        return
    at = f"{where}: " if where else ""
    scale = np.asarray(q.scale, np.float64).reshape(-1)
    zp = np.asarray(q.zero_point).reshape(-1)
    if scale.size == 0:
        raise TinyJitError(f"{at}tensor {t.name!r} has an empty quantization scale")
    bad = ~np.isfinite(scale) | (scale <= 0)
    if bad.any():
        raise TinyJitError(f"{at}tensor {t.name!r} has scale {scale[bad][0]!r}: quantization scales must be "
                           "finite and positive")
    if zp.size not in (1, scale.size):
        raise TinyJitError(f"{at}tensor {t.name!r} has {zp.size} zero points for {scale.size} scales")
    if t.dtype.name in INT_TYPES:
        lo, hi = dtype_range(t.dtype)
        if zp.size and (zp.min() < lo or zp.max() > hi):
            raise TinyJitError(f"{at}tensor {t.name!r}: zero point {int(zp.min() if zp.min() < lo else zp.max())} "
                               f"is outside the {t.dtype.name} range [{lo}, {hi}]")
    if scale.size > 1:
        axis = q.axis
        rank = len(t.shape)
        if axis is None or not -rank <= axis < rank:
            raise TinyJitError(f"{at}tensor {t.name!r} has {scale.size} scales but quantized axis {axis} "
                               f"does not fit its shape {list(t.shape)}")
        if t.shape[axis] != scale.size:
            raise TinyJitError(f"{at}tensor {t.name!r}: {scale.size} per-channel scales along axis {axis}, "
                               f"which has {t.shape[axis]} entries (shape {list(t.shape)})")


def quantize(x: np.ndarray, scale, zero_point, dtype="int8", axis: int | None = None,
             rounding: str = "half_even") -> np.ndarray:
    """float → integer: ``clamp(round(x / scale) + zero_point)``, in float32 as the runtimes do.

    ``rounding="half_even"`` is ONNX QuantizeLinear's (and onnxruntime's); ``"half_away"`` is
    TFLite's QUANTIZE (``std::round``).
    """
    x = np.asarray(x, np.float32)
    scale, zero_point = _along(axis, x.ndim, scale, zero_point)
    v = (x / scale).astype(np.float64)      # the division in float32, the rounding exact
    v = np.rint(v) if rounding == "half_even" else np.copysign(np.floor(np.abs(v) + 0.5), v)
    lo, hi = dtype_range(dtype)
    return np.clip(v.astype(np.float64) + zero_point.astype(np.float64), lo, hi).astype(dtype)


def dequantize(q: np.ndarray, scale, zero_point, axis: int | None = None) -> np.ndarray:
    """integer → float32: ``(q - zero_point) * scale``."""
    scale, zero_point = _along(axis, q.ndim, scale, zero_point)
    return ((q.astype(np.int32) - zero_point.astype(np.int32)).astype(np.float32) * scale).astype(np.float32)


def _along(axis, ndim: int, scale, zero_point):
    """Scale and zero point shaped to broadcast along ``axis`` (per channel) or as scalars."""
    scale = np.asarray(scale, np.float32)
    zero_point = np.asarray(zero_point)
    if axis is not None and scale.size > 1:
        shape = [1] * ndim
        shape[axis] = -1
        return scale.reshape(shape), zero_point.reshape(shape)
    return scale.reshape(()) if scale.size == 1 else scale, zero_point.reshape(()) if zero_point.size == 1 else zero_point


def make_quant(scale, zero_point, axis: int | None = None) -> Quant:
    scale = np.asarray(scale, np.float32).reshape(-1)
    zero_point = np.asarray(zero_point, np.int64).reshape(-1)
    return Quant(scale, zero_point, axis if scale.size > 1 else None)
