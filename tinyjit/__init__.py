"""tinyjit: TinyML inference. Import ONNX/TFLite, plan memory statically, run with Numba, export C.

The whole pipeline, from a model file to a runnable plan, is ``compile_model`` in pipeline.py.
"""
from .errors import FormatError, InputError, ModelLoadError, TinyJitError, UnsupportedError  # noqa: F401
from .registry import Call, kernel, load_kernels, primitive  # noqa: F401  (kernels import these first)

__version__ = "0.1.0"


def __getattr__(name):
    # the heavier pieces load on first use, so `import tinyjit` stays fast
    if name in ("convert", "compile_model"):
        from . import pipeline
        return getattr(pipeline, name)
    if name == "InferenceSession":
        from .session import InferenceSession
        return InferenceSession
    if name == "SUPPORTED_OPS":
        from .registry import supported_ops
        from .plan import ALIAS_OPS
        return frozenset(supported_ops() | ALIAS_OPS)
    raise AttributeError(f"module 'tinyjit' has no attribute {name!r}")
