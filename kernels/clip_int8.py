"""Clip, int8 (TFLite RELU6 / RELU_N1_TO_1, ONNX Clip on quantized tensors): the requantize loop
clamped at the quantized bounds, as relu_int8.py. Plain int8 tensors clip at the raw bounds."""
from tinyjit import kernel

from . import clip as _float_clip  # noqa: F401  (registers first: this file's int8 kernel replaces its plain one)
from ._int8 import QTYPES, requantize_clamp
from .quantize_linear import requantize
from .relu_int8 import clamp_call


def clip_int8():
    """int8 Clip: the requantize loop (quantize_linear.py) with the Clip bounds."""


clip_int8 = kernel(op="Clip", dtypes=QTYPES, override=True, name="clip_int8", body=requantize.fn)(clip_int8)
clip_int8.uses(requantize_clamp)


@clip_int8.prepare
def _(node, graph, S):
    lo, hi = node.attrs.get("min"), node.attrs.get("max")
    for i, which in ((1, "min"), (2, "max")):          # opset 11+: optional constant inputs
        if len(node.inputs) > i and node.inputs[i]:
            value = graph.const(node.inputs[i])
            if value is not None:
                lo, hi = (float(value), hi) if which == "min" else (lo, float(value))
    return clamp_call(node, graph, None if lo is None else float(lo), None if hi is None else float(hi))
