"""Clip: bounds come from attributes (opset < 11) or constant inputs (normalized to attributes)."""
import numpy as np

from ._elementwise import NUMBERS, unary
from ._util import FLOAT_MAX, FLOAT_MIN


def _bounds(node, graph):
    dtype = graph.tensors[node.inputs[0]].dtype
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo_default, hi_default, convert = int(info.min), int(info.max), int
    else:
        lo_default, hi_default, convert = FLOAT_MIN, FLOAT_MAX, lambda v: float(np.float32(v))
    lo = node.attrs.get("min", lo_default)
    hi = node.attrs.get("max", hi_default)
    for i in (1, 2):   # bounds still given as constant inputs (passes may build such nodes)
        if len(node.inputs) > i and node.inputs[i]:
            value = graph.const(node.inputs[i])
            if value is not None:
                lo, hi = (value.item(), hi) if i == 1 else (lo, value.item())
    return convert(lo), convert(hi)


@unary("Clip", dtypes=NUMBERS, params=_bounds)
def clip(x, alpha, beta):
    return min(max(x, alpha), beta)
