"""Constant (folded at convert time; this kernel only runs if a graph output is such a value)."""
from ._strided import constant_call, copy_kernel

constant = copy_kernel("Constant", "constant")


@constant.prepare
def _(node, graph, S):
    return constant_call(node, graph, node.attrs["value"] if "value" in node.attrs else None)
