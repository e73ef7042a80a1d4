import math

from tinyjit.errors import UnsupportedError

from ._elementwise import unary


def _approximate(node, graph):
    mode = node.attrs.get("approximate", "none")
    if mode not in ("none", "tanh"):
        raise UnsupportedError(f"node {node.name} (Gelu): approximate={mode!r} is not supported")
    return (1.0 if mode == "tanh" else 0.0), 0.0


@unary("Gelu", params=_approximate)
def gelu(x, alpha, beta):
    if alpha != 0:
        return 0.5 * x * (1 + math.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))
    return 0.5 * x * (1 + math.erf(x * 0.7071067811865476))
