"""Sigmoid (TFLite LOGISTIC), int8: a 256-entry table built at convert time.

With TFLite's output quantization (scale 1/256, zero point -128) each entry is computed by
TF Lite Micro's integer algorithm (reference_integer_ops::Logistic: the input rescaled to Q4.27,
gemmlowp's fixed-point logistic, rounded to Q0.8), so the bytes match. Any other output
quantization (ONNX QDQ) gets ``quantize(sigmoid(dequantize(x)))`` rounded half to even, as
onnxruntime's QLinearSigmoid tables do.
"""
import math

from tinyjit import kernel
from tinyjit.quant import per_tensor, tflite_round

from ._fixedpoint import fp_logistic
from ._int8 import lut_call, lut_loop, quantized
from .primitives import multiply_by_quantized_multiplier, rounding_divide_by_pot, wrap_int32

INPUT_INTEGER_BITS = 4


def sigmoid_int8():
    """int8 Sigmoid: ``lut_loop`` over the table prepare builds."""


sigmoid_int8 = kernel(op="Sigmoid", dtypes=("int8", "uint8"), name="sigmoid_int8", body=lut_loop)(sigmoid_int8)


def tflm_input_scaling(in_scale: float) -> tuple[int, int, int]:
    """TFLM's Logistic/Tanh prepare: (input multiplier, left shift, input range radius)."""
    real = float(in_scale) * (1 << (31 - INPUT_INTEGER_BITS))
    q, left_shift = math.frexp(real)
    multiplier = int(wrap_int32(tflite_round(q * (1 << 31))))    # no 2**31 fold-back here, as TFLM
    radius = ((1 << INPUT_INTEGER_BITS) - 1) * (1 << (31 - INPUT_INTEGER_BITS)) / (1 << left_shift)
    return multiplier, left_shift, int(math.floor(radius))


def float_table(node, graph, fn):
    """``q → quantize(fn(dequantize(q)))`` with onnxruntime's rounding (half to even)."""
    (s_in, z_in), (s_out, z_out) = (per_tensor(graph.tensors[n], node.name) for n in (node.inputs[0], node.outputs[0]))
    return lambda q: int(round(fn((q - z_in) * s_in) / s_out)) + z_out


def tflm_table(node, graph, fixed_point_fn, output_bits: int, output_zp: int):
    """The table of TFLM's int8 Logistic / Tanh: saturate outside the input radius, else rescale
    the input to Q4.27, apply ``fixed_point_fn`` (Q0.31 result) and round to ``output_bits``."""
    x = quantized(graph, node.inputs[0], node)
    s_in, z_in = per_tensor(x, node.name)
    multiplier, left_shift, radius = tflm_input_scaling(s_in)

    def entry(q: int) -> int:
        v = q - z_in
        if v <= -radius:
            return -128
        if v >= radius:
            return 127
        in_q4 = multiply_by_quantized_multiplier(v, multiplier, left_shift)
        return int(rounding_divide_by_pot(fixed_point_fn(in_q4, INPUT_INTEGER_BITS), 31 - output_bits)) + output_zp
    return lut_call(node, graph, entry)


@sigmoid_int8.prepare
def _(node, graph, S):
    x = quantized(graph, node.inputs[0], node)
    s_out, z_out = per_tensor(quantized(graph, node.outputs[0], node), node.name)
    if x.dtype.name == "int8" and s_out == 1.0 / 256 and z_out == -128:
        return tflm_table(node, graph, fp_logistic, 8, -128)
    return lut_call(node, graph, float_table(node, graph, lambda v: 1.0 / (1.0 + math.exp(-v))))
