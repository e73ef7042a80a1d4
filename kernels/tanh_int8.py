"""Tanh, int8: a 256-entry table built at convert time.

With TFLite's output quantization (scale 1/128, zero point 0) each entry is computed by TF Lite
Micro's integer algorithm (reference_integer_ops::Tanh: Q4.27 input, gemmlowp's fixed-point
tanh, rounded to Q0.7), so the bytes match; any other output quantization gets
``quantize(tanh(dequantize(x)))`` rounded half to even (onnxruntime's tables).
"""
import math

from tinyjit import kernel
from tinyjit.quant import per_tensor

from ._fixedpoint import fp_tanh
from ._int8 import lut_call, lut_loop, quantized
from .sigmoid_int8 import float_table, tflm_table


def tanh_int8():
    """int8 Tanh: ``lut_loop`` over the table prepare builds."""


tanh_int8 = kernel(op="Tanh", dtypes=("int8", "uint8"), name="tanh_int8", body=lut_loop)(tanh_int8)


@tanh_int8.prepare
def _(node, graph, S):
    x = quantized(graph, node.inputs[0], node)
    s_out, z_out = per_tensor(quantized(graph, node.outputs[0], node), node.name)
    if x.dtype.name == "int8" and s_out == 1.0 / 128 and z_out == 0:
        return tflm_table(node, graph, fp_tanh, 7, 0)
    return lut_call(node, graph, float_table(node, graph, math.tanh))
