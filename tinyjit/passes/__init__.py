"""Graph passes: each a function Graph -> Graph that leaves its argument untouched."""
from .cleanup import dead_code, remove_identity
from .fold_constants import fold_constants
from .fuse import fuse_activations, fuse_batchnorm, matmul_add_to_gemm
from .layout import cancel_transposes, to_nhwc
from .qdq import fold_qdq
from .lower import constant_outputs, lower_ops

PIPELINE = [
    remove_identity,
    fold_qdq,
    lower_ops,
    fold_constants,
    dead_code,
    fuse_batchnorm,
    matmul_add_to_gemm,
    to_nhwc,
    cancel_transposes,
    fuse_activations,
    dead_code,
    constant_outputs,
]


def optimize(graph):
    for p in PIPELINE:
        graph = p(graph)
    return graph
