"""DequantizeLinear: int8/uint8/int16/int32 → float32, ``y = (x - zero_point) * scale``.

Per tensor or per channel; the product in float32 (TF Lite Micro computes it in double and
rounds once to float, which gives the same float: ``x - zero_point`` has at most 17 bits).
"""
import numpy as np

from tinyjit import Call, kernel
from tinyjit.errors import TinyJitError

from ._util import flat


@kernel(op="DequantizeLinear", dtypes=("int8", "uint8", "int16", "int32"))
def dequantize_linear(x, scale, zero_point, y, inner):
    channels = scale.shape[0]
    for i in range(x.shape[0]):
        c = (i // inner) % channels
        y[i] = np.float32(np.int32(x[i]) - zero_point[c]) * scale[c]


@dequantize_linear.prepare
def _(node, graph, S):
    x = graph.tensors[node.inputs[0]]
    y = graph.tensors[node.outputs[0]]
    scale = graph.const(node.inputs[1]) if len(node.inputs) > 1 and node.inputs[1] else None
    zp_name = node.inputs[2] if len(node.inputs) > 2 else ""
    zero_point = graph.const(zp_name) if zp_name else np.zeros(1, np.int64)
    if scale is None or zero_point is None:
        raise TinyJitError(f"node {node.name}: DequantizeLinear scale and zero point must be constants")
    scale = np.asarray(scale, np.float32).reshape(-1)
    zero_point = np.broadcast_to(np.asarray(zero_point, np.int64).reshape(-1), scale.shape)
    if not np.all(np.isfinite(scale)) or np.any(scale <= 0):
        raise TinyJitError(f"node {node.name}: DequantizeLinear scale {scale.min()} must be finite and positive")
    inner = max(x.size, 1)
    if scale.size > 1:
        axis = int(node.attrs.get("axis", 1))
        axis += len(x.shape) if axis < 0 else 0
        if not 0 <= axis < len(x.shape) or x.shape[axis] != scale.size:
            raise TinyJitError(f"node {node.name}: {scale.size} scales do not fit axis {axis} of shape {list(x.shape)}")
        inner = int(np.prod(x.shape[axis + 1:], dtype=np.int64))
    return Call([flat(x.name, graph), scale, zero_point.astype(np.int32), flat(y.name, graph)], [inner],
                macs=y.size)
