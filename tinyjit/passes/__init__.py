"""Graph passes: each a function Graph -> Graph that leaves its argument untouched."""
from .cleanup import dead_code, remove_identity
from .fold_constants import fold_constants
from .fuse import fuse_activations, fuse_batchnorm, matmul_add_to_gemm
from .layout import cancel_transposes, to_nhwc
from .qdq import fold_qdq

PIPELINE = [
    remove_identity,
    fold_qdq,
    fold_constants,
    dead_code,
    fuse_batchnorm,
    matmul_add_to_gemm,
    to_nhwc,
    cancel_transposes,
    fuse_activations,
    dead_code,
]


def optimize(graph):
    for p in PIPELINE:
        graph = p(graph)
    return graph
