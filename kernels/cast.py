"""Cast: the store converts (float to int truncates toward zero, nonzero to bool is True)."""
from tinyjit.errors import UnsupportedError

from ._elementwise import ALL, unary

TINYML_DTYPES = set(ALL)


def check_cast(node, graph):
    y = graph.tensors[node.outputs[0]]
    if y.dtype.name not in TINYML_DTYPES:
        raise UnsupportedError(f"node {node.name} ({node.op}): casting to {y.dtype.name} is not supported "
                               f"(tinyjit computes in {', '.join(sorted(TINYML_DTYPES))})")
    return 0.0, 0.0


@unary("Cast", dtypes=ALL, params=check_cast)
def cast(x, alpha, beta):
    return x
