"""The whole pipeline, top to bottom: model file → IR → optimized IR → Plan → .tjm."""
from __future__ import annotations

from pathlib import Path

from . import format as tjm
from . import passes, plan
from .errors import ModelLoadError, TinyJitError
from .frontends import onnx_frontend


def import_model(source, input_shapes: dict | None = None):
    """ONNX or TFLite (path or bytes) → IR graph."""
    kind = model_kind(source)
    if kind == "tflite":
        from .frontends import tflite_frontend
        return tflite_frontend.import_tflite(source, input_shapes)
    return onnx_frontend.import_onnx(source, input_shapes)


def compile_model(source, input_shapes: dict | None = None, target: str = "x86_64", quantize: str | None = None,
                  calibration=None, **quantize_options) -> plan.Plan:
    """``quantize="int8"``: post-training quantization on ``calibration`` data (tinyjit/quantize.py;
    ``quantize_options``: calibration_method, keep_float, bias_correction, percentile, progress)."""
    graph = import_model(source, input_shapes)
    graph = passes.optimize(graph)
    if quantize is not None:
        graph = quantize_graph(graph, quantize, calibration, **quantize_options)
    return plan.build(graph, target)


def quantize_graph(graph, quantize: str, calibration, calibration_method: str = "percentile", **options):
    from . import quantize as ptq
    if quantize != "int8":
        raise TinyJitError(f"quantize={quantize!r}: tinyjit quantizes to 'int8'")
    if calibration is None:
        raise TinyJitError("quantize='int8' needs calibration data (an .npz with one array per input, first axis "
                           "= samples, or a folder of .npy files)")
    return ptq.quantize_graph(graph, calibration, method=calibration_method, **options)


def convert(source, output, input_shapes: dict | None = None, target: str = "x86_64", quantize: str | None = None,
            calibration=None, **quantize_options) -> plan.Plan:
    """Convert a .onnx/.tflite model to a .tjm file; returns the plan it stores."""
    p = compile_model(source, input_shapes, target, quantize, calibration, **quantize_options)
    tjm.save(p, output)
    return p


def model_kind(source) -> str:
    """'onnx', 'tflite' or 'tjm', from the file's magic bytes (the extension only breaks ties)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        head = bytes(source[:8])
    else:
        path = Path(source)
        if not path.is_file():
            raise ModelLoadError(f"{source}: no such file")
        with open(path, "rb") as f:
            head = f.read(8)
    if head[4:8] == b"TFL3":
        return "tflite"
    if head[4:8] == b"TJM1":
        return "tjm"
    if not isinstance(source, (bytes, bytearray, memoryview)) and str(source).endswith(".tjm"):
        return "tjm"
    if not isinstance(source, (bytes, bytearray, memoryview)) and str(source).endswith(".tflite"):
        return "tflite"
    return "onnx"
