import numpy as np

from ._elementwise import unary
from ._util import FLOAT_MAX, FLOAT_MIN


def _bounds(node, graph):
    lo = node.attrs.get("min", FLOAT_MIN)
    hi = node.attrs.get("max", FLOAT_MAX)
    for i, default in ((1, lo), (2, hi)):   # opset 11+: bounds are optional constant inputs
        if len(node.inputs) > i and node.inputs[i]:
            value = graph.const(node.inputs[i])
            if i == 1:
                lo = float(value) if value is not None else default
            else:
                hi = float(value) if value is not None else default
    return float(np.float32(lo)), float(np.float32(hi))


@unary("Clip", params=_bounds)
def clip(x, alpha, beta):
    return min(max(x, alpha), beta)
