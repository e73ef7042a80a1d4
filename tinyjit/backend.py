"""The standard ONNX backend interface (``onnx.backend.base``) over tinyjit.

    import tinyjit.backend as backend
    rep = backend.prepare(model)            # onnx.ModelProto
    outputs = rep.run([x])                  # or rep.run({"x": x}); outputs in graph output order

The model is converted in memory (``tinyjit.InferenceSession(model.SerializeToString())``).

Static inputs. tinyjit compiles ahead of time with every shape static, so some inputs must be
known when the model is converted: the inputs that later opsets turned from attributes into
tensors (Reshape's shape, Slice's starts/ends, Pad's pads, Resize's scales/sizes, reduction axes,
Clip's bounds, TopK's k, ...), the shape-setting inputs of ConstantOfShape/Range/Expand/Tile, and
the weights of Conv/ConvTranspose and the quantization parameters and integer weights of the
quantized ops (packed at convert time). Exporters emit these as initializers.
When a model feeds one of them from a graph input instead (as onnx's node tests do), the
representation binds that input to the value given to ``run`` and compiles then; a later ``run``
with other values for those inputs compiles again (one compiled model per distinct value).
``prepare(model, specialize=False)`` turns this off: such models then fail at convert time with
an UnsupportedError saying which input must be constant.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.backend.base import Backend, BackendRep

from .frontends.onnx_frontend import INPUTS_AS_ATTRS

# inputs tinyjit needs at convert time: op -> input indices
STATIC_INPUTS: dict[str, set[int]] = {op: {i for i, _ in pairs} for op, pairs in INPUTS_AS_ATTRS.items()}
for _op, _indices in {"ConstantOfShape": {0}, "Range": {0, 1, 2}, "Conv": {1, 2}, "ConvTranspose": {1, 2},
                      "Dropout": {1, 2}, "Trilu": {1},
                      # quantization parameters and integer weights (packed at convert time)
                      "QuantizeLinear": {1, 2}, "DequantizeLinear": {1, 2},
                      "QLinearConv": {1, 2, 3, 4, 5, 6, 7, 8}, "QLinearMatMul": {1, 2, 3, 4, 5, 6, 7},
                      "ConvInteger": {1, 2, 3}, "MatMulInteger": {1, 2, 3}}.items():
    STATIC_INPUTS.setdefault(_op, set()).update(_indices)


def static_inputs(model: onnx.ModelProto) -> list[str]:
    """Graph inputs (not initializers) that feed an input slot tinyjit needs at convert time."""
    inits = {i.name for i in model.graph.initializer}
    graph_inputs = [i.name for i in model.graph.input if i.name not in inits]
    needed = set()
    for node in model.graph.node:
        if node.domain not in ("", "ai.onnx"):
            continue
        for index in STATIC_INPUTS.get(node.op_type, ()):
            if index < len(node.input) and node.input[index]:
                needed.add(node.input[index])
    return [name for name in graph_inputs if name in needed]


class TinyJitRep(BackendRep):
    def __init__(self, model: onnx.ModelProto, specialize: bool = True, **session_kw):
        self.model = model
        inits = {i.name for i in model.graph.initializer}
        self.input_names = [i.name for i in model.graph.input if i.name not in inits]
        self.output_names = [o.name for o in model.graph.output]
        self.static = static_inputs(model) if specialize else []
        self._session_kw = session_kw
        self._sessions: dict[tuple, object] = {}
        if not self.static:
            self._sessions[()] = self._compile({})

    def _compile(self, bound: dict[str, np.ndarray]):
        from .session import InferenceSession
        model = self.model
        if bound:
            model = onnx.ModelProto()
            model.CopyFrom(self.model)
            keep = [i for i in model.graph.input if i.name not in bound]
            del model.graph.input[:]
            model.graph.input.extend(keep)
            model.graph.initializer.extend(numpy_helper.from_array(np.asarray(v), name) for name, v in bound.items())
        return InferenceSession(model.SerializeToString(), **self._session_kw)

    def run(self, inputs, **kwargs):
        if isinstance(inputs, dict):
            feeds = dict(inputs)
        else:
            if isinstance(inputs, np.ndarray):
                inputs = [inputs]
            if len(inputs) != len(self.input_names):
                from .errors import InputError
                raise InputError(f"the model takes {len(self.input_names)} inputs {self.input_names}, "
                                 f"got {len(inputs)}")
            feeds = dict(zip(self.input_names, inputs))
        bound = {n: np.asarray(feeds.pop(n)) for n in self.static if n in feeds}
        key = tuple((n, v.dtype.str, v.shape, v.tobytes()) for n, v in sorted(bound.items()))
        session = self._sessions.get(key)
        if session is None:
            session = self._sessions[key] = self._compile(bound)
        feeds = {n: (v if isinstance(v, np.ndarray) else np.asarray(v)) for n, v in feeds.items()}
        outputs = session.run(None, feeds)
        return namedtuple("Outputs", [f"o{i}" for i in range(len(outputs))])(*outputs) if outputs else ()


class TinyJitBackend(Backend):
    @classmethod
    def prepare(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs) -> TinyJitRep:
        if not cls.supports_device(device):
            raise ValueError(f"tinyjit runs on the CPU, not on {device!r}")
        return TinyJitRep(model, **kwargs)

    @classmethod
    def run_model(cls, model: onnx.ModelProto, inputs, device: str = "CPU", **kwargs):
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(cls, node: onnx.NodeProto, inputs, device: str = "CPU", outputs_info=None, **kwargs):
        """Run one node on numpy inputs: wraps it in a one-node model (opset from ``opset_version``)."""
        inputs = [np.asarray(x) for x in inputs]
        names = [n for n in node.input]
        graph_inputs = [onnx.helper.make_tensor_value_info(n, onnx.helper.np_dtype_to_tensor_dtype(x.dtype),
                                                           x.shape) for n, x in zip(names, inputs) if n]
        outputs = [onnx.helper.make_tensor_value_info(n, onnx.TensorProto.UNDEFINED, None)
                   for n in node.output if n]
        if outputs_info is not None:
            outputs = [onnx.helper.make_tensor_value_info(n, onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dt)),
                                                          shape)
                       for n, (dt, shape) in zip([o for o in node.output if o], outputs_info)]
        graph = onnx.helper.make_graph([node], "run_node", graph_inputs, outputs)
        opset = kwargs.pop("opset_version", onnx.defs.onnx_opset_version())
        model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)])
        return cls.run_model(model, [x for n, x in zip(names, inputs) if n], device, **kwargs)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return str(device).upper() == "CPU"


prepare = TinyJitBackend.prepare
run_model = TinyJitBackend.run_model
run_node = TinyJitBackend.run_node
supports_device = TinyJitBackend.supports_device
is_compatible = TinyJitBackend.is_compatible
