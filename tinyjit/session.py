"""InferenceSession: onnxruntime's calling convention over a tinyjit plan."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import format as tjm
from .errors import InputError
from .executor import Executor
from .pipeline import compile_model, model_kind
from .plan import Plan

ONNX_TYPE_NAMES = {"float32": "float", "float64": "double", "int8": "int8", "uint8": "uint8",
                   "int16": "int16", "uint16": "uint16", "int32": "int32", "int64": "int64",
                   "bool": "bool", "float16": "float16", "uint32": "uint32", "uint64": "uint64"}


@dataclass(frozen=True)
class NodeArg:
    name: str
    shape: list
    type: str
    dtype: np.dtype


class InferenceSession:
    """``InferenceSession(path_or_bytes)``: a .tjm, or a .onnx/.tflite converted in memory."""

    def __init__(self, model, input_shapes: dict | None = None, target: str = "x86_64", **_ignored):
        if isinstance(model, Plan):
            self.plan = model
        elif model_kind(model) == "tjm":
            self.plan = tjm.load(model)
        else:
            self.plan = compile_model(model, input_shapes, target)
        self._inputs = [self._arg(i) for i in self.plan.inputs]
        self._outputs = [self._arg(i) for i in self.plan.outputs]
        self._input_names = tuple(a.name for a in self._inputs)
        self._input_dtypes = tuple(a.dtype for a in self._inputs)
        self._input_shapes = tuple(tuple(a.shape) for a in self._inputs)
        self._executor = Executor(self.plan)

    def _arg(self, index: int) -> NodeArg:
        t = self.plan.tensors[index]
        return NodeArg(t.name, list(t.shape), f"tensor({ONNX_TYPE_NAMES.get(t.dtype, t.dtype)})", np.dtype(t.dtype))

    def get_inputs(self) -> list[NodeArg]:
        return list(self._inputs)

    def get_outputs(self) -> list[NodeArg]:
        return list(self._outputs)

    def run(self, output_names, input_feed: dict) -> list[np.ndarray]:
        arrays = self._check_inputs(input_feed)
        outputs = self._executor.run(arrays)
        if not output_names:
            return outputs
        index = {a.name: i for i, a in enumerate(self._outputs)}
        unknown = [n for n in output_names if n not in index]
        if unknown:
            raise InputError(f"unknown output name(s) {unknown}; the outputs are {list(index)}")
        return [outputs[index[n]] for n in output_names]

    def _quantized_hint(self, arg: NodeArg, x: np.ndarray) -> str:
        quant = next((t.quant for t in self.plan.tensors if t.name == arg.name), None)
        if quant is None or x.dtype.kind != "f" or arg.dtype.kind not in "iu":
            return ""
        scale, zero_point = float(quant.scale.reshape(-1)[0]), int(quant.zero_point.reshape(-1)[0])
        return (f": the model is quantized and takes {arg.dtype.name} input (scale {scale:g}, zero point "
                f"{zero_point}); quantize it first, e.g. tinyjit.quant.quantize(x, {scale:g}, {zero_point}, "
                f"{arg.dtype.name!r})")

    def _check_inputs(self, feed: dict) -> list[np.ndarray]:
        # the common case in a few attribute reads: inference latency is measured in microseconds
        try:
            arrays = [feed[name] for name in self._input_names]
            if len(feed) == len(arrays) and all(
                    type(x) is np.ndarray and x.dtype == dtype and x.shape == shape and x.flags.c_contiguous
                    for x, dtype, shape in zip(arrays, self._input_dtypes, self._input_shapes)):
                return arrays
        except (KeyError, TypeError):
            pass
        return self._explain_inputs(feed)

    def _explain_inputs(self, feed) -> list[np.ndarray]:
        if not isinstance(feed, dict):
            raise InputError("inputs must be a dict {input name: numpy array}")
        expected = list(self._input_names)
        unknown = sorted(set(feed) - set(expected))
        missing = [n for n in expected if n not in feed]
        if unknown or missing:
            raise InputError(f"input names do not match the model: expected {expected}"
                             + (f", unknown {unknown}" if unknown else "")
                             + (f", missing {missing}" if missing else ""))
        arrays = []
        for arg in self._inputs:
            x = feed[arg.name]
            if not isinstance(x, np.ndarray):
                x = np.asarray(x)
            if x.dtype != arg.dtype:
                raise InputError(f"input {arg.name!r} must be {arg.dtype.name}, got {x.dtype.name}"
                                 + self._quantized_hint(arg, x))
            if list(x.shape) != arg.shape:
                raise InputError(f"input {arg.name!r} must have shape {arg.shape}, got {list(x.shape)}")
            arrays.append(np.ascontiguousarray(x))
        return arrays
