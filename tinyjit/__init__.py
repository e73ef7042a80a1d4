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
        import onnx.defs
        from .registry import supported_ops
        from .plan import ALIAS_OPS
        # ONNX op types only: internal IR ops such as DepthwiseConv are not a model's to use
        return frozenset(op for op in supported_ops() | ALIAS_OPS if onnx.defs.has(op))
    raise AttributeError(f"module 'tinyjit' has no attribute {name!r}")
