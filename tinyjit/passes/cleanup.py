"""Identity/Dropout removal and dead-code elimination."""
from __future__ import annotations

from ..ir import Graph

PASS_THROUGH = {"Identity", "Dropout"}


def remove_identity(graph: Graph) -> Graph:
    """Bypass Identity and inference-mode Dropout; a graph output keeps its name."""
    g = graph.copy()
    rename: dict[str, str] = {}
    keep = []
    for node in g.nodes:
        node.inputs = [rename.get(i, i) for i in node.inputs]
        extra_outputs = [o for o in node.outputs[1:] if o]
        if node.op in PASS_THROUGH and not extra_outputs and node.outputs[0] not in g.outputs:
            rename[node.outputs[0]] = node.inputs[0]
            continue
        keep.append(node)
    g.nodes = keep
    g.outputs = [rename.get(o, o) for o in g.outputs]
    return g


def dead_code(graph: Graph) -> Graph:
    """Drop nodes whose outputs nobody reads, and tensors nobody mentions."""
    g = graph.copy()
    needed = set(g.outputs)
    keep = []
    for node in reversed(g.nodes):
        if any(o in needed for o in node.outputs if o):
            keep.append(node)
            needed.update(i for i in node.inputs if i)
    g.nodes = keep[::-1]
    mentioned = needed | set(g.inputs)
    g.tensors = {k: t for k, t in g.tensors.items() if k in mentioned}
    return g
