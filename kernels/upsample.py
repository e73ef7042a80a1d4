"""Upsample (deprecated since opset 10): Resize with asymmetric coordinates, nearest rounding down."""
import copy

from tinyjit import kernel

from .resize import _attr, resize, resize_call

upsample = kernel(op="Upsample", dtypes=resize.dtypes, name="upsample", body=resize.fn)(resize.fn)


@upsample.prepare
def _(node, graph, S):
    mode = _attr(node, "mode", ("nearest", "linear", "bilinear"), "nearest")
    node = copy.copy(node)
    node.attrs = {**node.attrs, "nearest_mode": "floor"}
    return resize_call(node, graph, "linear" if mode == "bilinear" else mode, "asymmetric",
                       node.attrs.get("scales"), None, None, None, "stretch")
