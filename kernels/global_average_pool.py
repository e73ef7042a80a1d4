"""GlobalAveragePool (NHWC): the mean over H and W, run by the AveragePool kernel's loops.

Its window is the whole image (no stride, no padding); the loops are average_pool.py's, so the
knobs (NR channels a tile) are the same.
"""
from tinyjit import Call, kernel

from ._util import FLOAT_MAX, FLOAT_MIN, check_conv2d_nhwc
from .average_pool import average_pool_f32
from .conv import channel_block


@kernel(op="GlobalAveragePool", dtypes=("float32",), schedule=dict(average_pool_f32.schedule_space),
        name="global_average_pool_f32", body=average_pool_f32.fn)
def global_average_pool_f32():
    """The loops are average_pool_f32's (body=)."""


@global_average_pool_f32.prepare
def _(node, graph, S):
    check_conv2d_nhwc(node, graph)
    x = graph.tensors[node.inputs[0]]
    _, h, w, channels = x.shape
    return Call([node.inputs[0], node.outputs[0]],
                [h, w, 1, 1, 0, 0, 1, 1, 0, 0, 0, channel_block(S["NR"], channels), FLOAT_MIN, FLOAT_MAX],
                macs=x.size)
