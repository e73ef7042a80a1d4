"""TFLite → IR.

Two steps. ``_read`` turns the flatbuffer into plain values (tensors with their data, operators
with their options as a dict keyed by the schema's field names); a truncated or corrupt file
fails there, and only there, as a ModelLoadError. Then each operator is translated by a small
function found by its builtin name in ``CONVERTERS``: spatial ops stay NHWC (``channels_last=1``),
weights keep TFLite's OHWI layout, SAME/VALID padding becomes explicit pads, and a fused RELU-type
activation becomes the producer's ``act_min``/``act_max`` clamp.

Constant int8 weights feeding float ops ("hybrid" models, dynamic-range quantization) and
constant inputs of DEQUANTIZE are dequantized here, so a float model imports as a pure float
graph. Quantization parameters of every other tensor are kept (``Tensor.quant``).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tflite

from ..errors import ModelLoadError, TinyJitError, UnsupportedError
from ..ir import Graph, Node, Quant, Tensor
from ..quant import check_quant

DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 6: np.bool_,
          7: np.int16, 9: np.int8, 10: np.float64, 12: np.uint64, 15: np.uint32, 16: np.uint16}
OP_NAMES = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
OPTION_CLASSES = {v: getattr(tflite, k, None) for k, v in vars(tflite.BuiltinOptions).items()
                  if not k.startswith("_")}
SAME, VALID = 0, 1
# fused_activation_function: RELU, RELU_N1_TO_1, RELU6 as (min, max); TANH = 4
RELU_RANGES = {1: (0.0, None), 2: (-1.0, 1.0), 3: (0.0, 6.0)}
# nodes whose kernels apply act_min/act_max to their output (others get a separate node)
CLAMP_HOSTS = {"Conv", "DepthwiseConv", "Gemm", "AveragePool", "MaxPool"}


@dataclass
class TfliteTensor:
    name: str
    dtype: np.dtype | None         # None: a TFLite type tinyjit does not read (string, resource, ...)
    shape: list[int]
    signature: list[int] | None    # shape_signature: -1 marks a dynamic dim
    data: np.ndarray | None
    quant: Quant | None


@dataclass
class TfliteOp:
    code: str                      # builtin operator name, e.g. "CONV_2D"; "CUSTOM:<name>" for custom ops
    inputs: list[int]              # tensor indices, -1 = optional input left out
    outputs: list[int]
    options: dict


@dataclass
class TfliteModel:
    name: str
    tensors: list[TfliteTensor]
    ops: list[TfliteOp]
    inputs: list[int]
    outputs: list[int]


def import_tflite(source, input_shapes: dict | None = None) -> Graph:
    """A .tflite file (path or bytes) → IR graph of subgraph 0, every shape static."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        buf, label = bytes(source), "model bytes"
    else:
        label = str(source)
        try:
            buf = Path(source).read_bytes()
        except OSError as e:
            raise ModelLoadError(f"{label}: cannot read the file ({e.strerror or e})") from None
    model = _read(buf, label)
    _fix_shapes(model, input_shapes or {})
    return _convert(model)


# --- reading: flatbuffer → plain values ----------------------------------------------------------

def _read(buf: bytes, label: str) -> TfliteModel:
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise ModelLoadError(f"{label}: not a TFLite model (no 'TFL3' flatbuffer identifier)")
    try:
        return _read_model(buf)
    except TinyJitError:
        raise
    except Exception as e:   # the generated reader does not bounds-check: any failure = corrupt bytes
        raise ModelLoadError(f"{label}: truncated or corrupt TFLite file ({type(e).__name__}: {e})") from None


def _count(n: int, buf: bytes) -> int:
    """A vector length read from the file, sanity-checked against the file size."""
    if n < 0 or 4 * n > len(buf):
        raise ModelLoadError(f"a vector of {n} entries does not fit in a {len(buf)}-byte file")
    return n


def _read_model(buf: bytes) -> TfliteModel:
    m = tflite.Model.GetRootAsModel(buf, 0)
    n_subgraphs = _count(m.SubgraphsLength(), buf)
    if n_subgraphs == 0:
        raise ModelLoadError("the model has no subgraph")
    if n_subgraphs > 1:
        raise UnsupportedError(f"the model has {n_subgraphs} subgraphs (control flow or signatures "
                               "with their own graphs); tinyjit reads single-subgraph models")
    sg = m.Subgraphs(0)
    buffers = [m.Buffers(i) for i in range(_count(m.BuffersLength(), buf))]
    tensors = [_read_tensor(sg.Tensors(i), buffers, buf) for i in range(_count(sg.TensorsLength(), buf))]
    codes = [_op_name(m.OperatorCodes(i)) for i in range(_count(m.OperatorCodesLength(), buf))]
    ops = []
    for i in range(_count(sg.OperatorsLength(), buf)):
        op = sg.Operators(i)
        code_index = op.OpcodeIndex()
        if not 0 <= code_index < len(codes):
            raise ModelLoadError(f"operator {i} has opcode index {code_index} of {len(codes)}")
        ops.append(TfliteOp(codes[code_index], _indices(op.InputsAsNumpy(), tensors, optional=True),
                            _indices(op.OutputsAsNumpy(), tensors), _read_options(op)))
    name = sg.Name().decode("utf-8", "replace") if sg.Name() else "model"
    return TfliteModel(name or "model", tensors, ops, _indices(sg.InputsAsNumpy(), tensors),
                       _indices(sg.OutputsAsNumpy(), tensors))


def _indices(values, tensors: list, optional: bool = False) -> list[int]:
    out = [int(v) for v in (values if isinstance(values, np.ndarray) else [])]
    lowest = -1 if optional else 0
    bad = [v for v in out if not lowest <= v < len(tensors)]
    if bad:
        raise ModelLoadError(f"tensor index {bad[0]} out of range (the subgraph has {len(tensors)} tensors)")
    return out


def _op_name(code) -> str:
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())   # deprecated field holds codes < 127
    name = OP_NAMES.get(builtin, f"BUILTIN_{builtin}")
    if name == "CUSTOM":
        return "CUSTOM:" + (code.CustomCode() or b"").decode("utf-8", "replace")
    return name


def _read_tensor(t, buffers: list, buf: bytes) -> TfliteTensor:
    name = (t.Name() or b"").decode("utf-8", "replace")
    kind = t.Type()
    shape = [int(d) for d in _array(t.ShapeAsNumpy())]
    signature = [int(d) for d in _array(t.ShapeSignatureAsNumpy())] or None
    dtype = np.dtype(DTYPES[kind]) if kind in DTYPES else None
    data = None
    index = t.Buffer()
    if not 0 <= index < max(len(buffers), 1):
        raise ModelLoadError(f"tensor {name!r} refers to buffer {index} of {len(buffers)}")
    raw = _buffer_bytes(buffers[index], buf) if buffers else b""
    if raw:
        if dtype is None:
            raise UnsupportedError(f"constant tensor {name!r} has TFLite type {kind}, which tinyjit does not read")
        expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if len(raw) != expected:
            raise ModelLoadError(f"tensor {name!r}: {len(raw)} bytes of data for shape {shape} {dtype}")
        data = np.frombuffer(raw, dtype.newbyteorder("<")).astype(dtype, copy=False).reshape(shape)
    return TfliteTensor(name, dtype, shape, signature, data, _read_quant(t.Quantization()))


def _buffer_bytes(b, buf: bytes) -> bytes:
    offset, size = b.Offset(), b.Size()
    if offset > 1:   # models over 2 GB keep buffers after the flatbuffer
        if offset + size > len(buf):
            raise ModelLoadError(f"a buffer at offset {offset} of {size} bytes is past the end of the file")
        return buf[offset:offset + size]
    return _array(b.DataAsNumpy()).tobytes()


def _array(value) -> np.ndarray:
    """The generated reader returns 0 instead of an array for an absent vector."""
    return value if isinstance(value, np.ndarray) else np.zeros(0, np.int32)


def _read_quant(q) -> Quant | None:
    if q is None:
        return None
    scale = _array(q.ScaleAsNumpy()).astype(np.float32)
    if scale.size == 0:
        return None
    zero_point = _array(q.ZeroPointAsNumpy()).astype(np.int64)
    if zero_point.size == 0:
        zero_point = np.zeros(scale.size, np.int64)
    return Quant(scale, zero_point, int(q.QuantizedDimension()) if scale.size > 1 else None)


def _read_options(op) -> dict:
    """The operator's builtin options as {field name: value}; vectors become lists."""
    cls = OPTION_CLASSES.get(op.BuiltinOptionsType())
    table = op.BuiltinOptions()
    if cls is None or table is None:
        return {}
    options = cls()
    options.Init(table.Bytes, table.Pos)
    values = {}
    for field_name, method in inspect.getmembers(cls, inspect.isfunction):
        if (field_name in ("Init", "GetRootAs") or field_name.startswith("GetRootAs")
                or field_name.endswith(("BufferHasIdentifier", "Length", "IsNone", "AsNumpy"))):
            continue
        if hasattr(cls, field_name + "AsNumpy"):
            values[field_name] = _array(getattr(options, field_name + "AsNumpy")()).tolist()
        elif len(inspect.signature(method).parameters) == 1:
            values[field_name] = method(options)
    return values


# --- shapes -------------------------------------------------------------------------------------

def _fix_shapes(model: TfliteModel, input_shapes: dict) -> None:
    """Every dynamic dim (-1 in shape_signature) becomes 1, or the value the user gives."""
    names = {model.tensors[i].name: model.tensors[i] for i in model.inputs}
    unknown = set(input_shapes) - set(names)
    if unknown:
        raise TinyJitError(f"--input-shape names {sorted(unknown)} are not model inputs; "
                           f"the inputs are {sorted(names)}")
    dynamic = set()
    for name, shape in input_shapes.items():
        t = names[name]
        shape = [int(d) for d in shape]
        signature = t.signature or t.shape
        if len(shape) != len(signature):
            raise TinyJitError(f"input {name!r} has rank {len(signature)}, --input-shape gives {shape}")
        for d, (given, declared) in enumerate(zip(shape, signature)):
            if declared == -1:
                dynamic.add(given)
            elif given != declared:
                raise TinyJitError(f"input {name!r}: dim {d} is fixed to {declared} in the model, "
                                   f"--input-shape gives {given}")
    if len(dynamic) > 1:
        raise UnsupportedError(f"dynamic dims given different sizes {sorted(dynamic)}; tinyjit can resize "
                               "one dynamic size (the batch) of a TFLite model")
    size = dynamic.pop() if dynamic else 1
    for t in model.tensors:
        if t.signature and len(t.signature) == len(t.shape) and t.data is None:
            t.shape = [size if s == -1 else d for d, s in zip(t.shape, t.signature)]


# --- translation: TFLite operators → IR nodes ---------------------------------------------------

class Builder:
    """The graph under construction, and the names of the TFLite tensors in it."""

    def __init__(self, model: TfliteModel, names: list[str]):
        self.graph = Graph({}, [], [], [], model.name)
        self.names = names
        for name, t in zip(names, model.tensors):
            if t.dtype is None:
                raise UnsupportedError(f"tensor {name!r} has a TFLite type tinyjit does not read")
            self.graph.tensors[name] = Tensor(name, t.dtype, t.shape, t.data, t.quant)

    def tensor(self, name: str) -> Tensor:
        return self.graph.tensors[name]

    def add(self, op: str, inputs: list[str], outputs: list[str], name: str | None = None, **attrs) -> Node:
        node = Node(op, name or outputs[0], list(inputs), list(outputs), attrs)
        self.graph.nodes.append(node)
        return node

    def temp(self, base: str, shape, dtype=np.float32, like: str | None = None) -> str:
        """A new tensor; ``like``: a tensor whose values it holds reshaped (it keeps its quantization)."""
        name = self.graph.unique_name(base)
        self.graph.tensors[name] = Tensor(name, dtype, shape, quant=self.tensor(like).quant if like else None)
        return name

    def const_value(self, name: str, what: str) -> np.ndarray:
        value = self.graph.const(name) if name else None
        if value is None:
            raise UnsupportedError(f"node {what}: this input must be a constant tensor ({name!r} is computed)")
        return value

    def activation(self, node: Node, code: int) -> None:
        """Apply a fused_activation_function to ``node``'s output."""
        if code == 0:
            return
        if code not in RELU_RANGES and code != 4:
            raise UnsupportedError(f"node {node.name}: fused activation function {code} is not supported")
        out = node.outputs[0]
        quantized = self.tensor(out).quant is not None and self.tensor(out).dtype.kind in "iu"
        if code in RELU_RANGES and (node.op in CLAMP_HOSTS or quantized):   # int8 kernels all clamp
            lo, hi = RELU_RANGES[code]
            node.attrs["act_min"] = lo
            if hi is not None:
                node.attrs["act_max"] = hi
            return
        t = self.tensor(out)
        node.outputs[0] = self.temp(f"{out}/pre_act", t.shape, t.dtype)
        _activation_node(self, code, node.outputs[0], out)


def _activation_node(b: Builder, code: int, x: str, y: str) -> Node:
    if code == 4:
        return b.add("Tanh", [x], [y])
    lo, hi = RELU_RANGES[code]
    if hi is None:
        return b.add("Relu", [x], [y])
    return b.add("Clip", [x], [y], min=lo, max=hi)


def _explicit_pads(padding: int, in_hw, out_hw, k_hw, strides, dilations, what: str) -> list[int]:
    """TFLite SAME/VALID padding as explicit [top, left, bottom, right]; checks the output size."""
    if padding not in (SAME, VALID):
        raise UnsupportedError(f"node {what}: padding type {padding} is not supported")
    begins, ends = [], []
    for size, out, k, s, d in zip(in_hw, out_hw, k_hw, strides, dilations):
        span = (k - 1) * d + 1
        expected = -(-size // s) if padding == SAME else max(-(-(size - span + 1) // s), 0)
        if out != expected:
            raise ModelLoadError(f"node {what}: output size {out} does not follow from input {size}, "
                                 f"kernel {k}, stride {s}, dilation {d} ({expected} expected)")
        total = max((out - 1) * s + span - size, 0) if padding == SAME else 0
        begins.append(total // 2)
        ends.append(total - total // 2)
    return begins + ends


def _window(b: Builder, y: str, x: str, k_hw, opts: dict, dilated: bool = True) -> dict:
    """kernel_shape, strides, dilations, pads of a 2-D conv or pool from input x to output y (NHWC)."""
    shape, out_shape = b.tensor(x).shape, b.tensor(y).shape
    if len(shape) != 4 or len(out_shape) != 4:
        raise UnsupportedError(f"node {y}: expected 4-D NHWC tensors, got shapes {list(shape)} → {list(out_shape)}")
    strides = [int(opts.get("StrideH", 0)), int(opts.get("StrideW", 0))]
    dilations = [int(opts.get("DilationHFactor", 1)), int(opts.get("DilationWFactor", 1))] if dilated else [1, 1]
    k_hw = [int(k) for k in k_hw]
    if min(strides + dilations + k_hw) < 1:
        raise ModelLoadError(f"node {y}: strides {strides}, dilations {dilations}, kernel {k_hw} must be positive")
    pads = _explicit_pads(opts.get("Padding", SAME), shape[1:3], out_shape[1:3], k_hw, strides, dilations, y)
    attrs = {"channels_last": 1, "kernel_shape": k_hw, "strides": strides, "pads": pads}
    if dilated:
        attrs["dilations"] = dilations
    return attrs


def conv_2d(b: Builder, op: TfliteOp, ins: list[str], outs: list[str]) -> None:
    x, w = ins[0], ins[1]
    weights = b.tensor(w).shape                          # OHWI
    attrs = _window(b, outs[0], x, weights[1:3], op.options)
    group = b.tensor(x).shape[3] // max(weights[3], 1)
    node = b.add("Conv", [i for i in ins[:3] if i], outs[:1], group=group, **attrs)
    b.activation(node, op.options.get("FusedActivationFunction", 0))


def depthwise_conv_2d(b: Builder, op: TfliteOp, ins: list[str], outs: list[str]) -> None:
    x, w = ins[0], ins[1]
    weights = b.const_value(w, outs[0])                  # [1, KH, KW, C * multiplier]
    attrs = _window(b, outs[0], x, weights.shape[1:3], op.options)
    ohwi = b.graph.add_const(f"{w}/ohwi", weights.transpose(3, 1, 2, 0))
    quant = b.tensor(w).quant
    if quant is not None:
        b.tensor(ohwi).quant = Quant(quant.scale, quant.zero_point, 0 if quant.axis == 3 else quant.axis)
    node = b.add("DepthwiseConv", [i for i in [x, ohwi] + ins[2:3] if i], outs[:1],
                 group=b.tensor(x).shape[3], **attrs)
    b.activation(node, op.options.get("FusedActivationFunction", 0))


def fully_connected(b: Builder, op: TfliteOp, ins: list[str], outs: list[str]) -> None:
    x, w, y = ins[0], ins[1], outs[0]
    if op.options.get("WeightsFormat", 0) != 0:
        raise UnsupportedError(f"node {y}: FULLY_CONNECTED with shuffled weights is not supported")
    units, depth = b.tensor(w).shape                     # weights [out, in]
    rows = b.tensor(x).size // max(depth, 1)
    out_shape = (rows, units)
    if rows * depth != b.tensor(x).size or rows * units != b.tensor(y).size:
        raise ModelLoadError(f"node {y}: shapes {list(b.tensor(x).shape)} × {list(b.tensor(w).shape)}ᵀ "
                             f"→ {list(b.tensor(y).shape)} do not fit together")
    if b.tensor(x).shape != (rows, depth):
        flat = b.temp(f"{x}/2d", (rows, depth), b.tensor(x).dtype, like=x)
        b.add("Reshape", [x], [flat], name=f"{y}/flatten")
        x = flat
    gemm_out = y if b.tensor(y).shape == out_shape else b.temp(f"{y}/2d", out_shape, b.tensor(y).dtype, like=y)
    node = b.add("Gemm", [i for i in [x, w] + ins[2:3] if i], [gemm_out], name=y, transB=1)
    b.activation(node, op.options.get("FusedActivationFunction", 0))
    if gemm_out != y:
        b.add("Reshape", [node.outputs[0]], [y], name=f"{y}/reshape")


def pool(onnx_op: str, **extra):
    def convert(b: Builder, op: TfliteOp, ins: list[str], outs: list[str]) -> None:
        opts = op.options
        k_hw = [opts.get("FilterHeight", 0), opts.get("FilterWidth", 0)]
        attrs = _window(b, outs[0], ins[0], k_hw, opts, dilated=False)
        node = b.add(onnx_op, ins[:1], outs[:1], **attrs, **extra)
        b.activation(node, opts.get("FusedActivationFunction", 0))
    return convert


def elementwise(onnx_op: str):
    def convert(b: Builder, op: TfliteOp, ins: list[str], outs: list[str]) -> None:
        node = b.add(onnx_op, ins, outs[:1])
        b.activation(node, op.options.get("FusedActivationFunction", 0))
    return convert


def activation(code: int):
    def convert(b: Builder, op: TfliteOp, ins: list[str], outs: list[str]) -> None:
        _activation_node(b, code, ins[0], outs[0])
    return convert


def reshape(b: Builder, op: TfliteOp, ins: list[str], outs: list[str]) -> None:
    b.add("Reshape", ins[:1], outs[:1])    # the output's static shape says everything


def softmax(b: Builder, op: TfliteOp, ins: list[str], outs: list[str]) -> None:
    b.add("Softmax", ins[:1], outs[:1], axis=-1, beta=float(op.options.get("Beta", 1.0)))


def mean(b: Builder, op: TfliteOp, ins: list[str], outs: list[str]) -> None:
    x, y = ins[0], outs[0]
    rank = len(b.tensor(x).shape)
    axes = sorted({int(a) + rank if a < 0 else int(a) for a in np.ravel(b.const_value(ins[1], y))})
    keep = bool(op.options.get("KeepDims", False))
    if rank != 4 or axes != [1, 2]:
        b.add("ReduceMean", [x], [y], axes=axes, keepdims=int(keep))
        return
    shape = b.tensor(x).shape
    pooled = y if keep else b.temp(f"{y}/keepdims", (shape[0], 1, 1, shape[3]), b.tensor(y).dtype, like=y)
    b.add("GlobalAveragePool", [x], [pooled], name=y, channels_last=1)
    if not keep:
        b.add("Reshape", [pooled], [y], name=f"{y}/reshape")


def concatenation(b: Builder, op: TfliteOp, ins: list[str], outs: list[str]) -> None:
    node = b.add("Concat", ins, outs[:1], axis=int(op.options.get("Axis", 0)))
    b.activation(node, op.options.get("FusedActivationFunction", 0))


def pad(b: Builder, op: TfliteOp, ins: list[str], outs: list[str]) -> None:
    x, y = ins[0], outs[0]
    paddings = b.const_value(ins[1], y).reshape(-1, 2)
    value = b.const_value(ins[2], y).item() if len(ins) > 2 and ins[2] else 0
    quant = b.tensor(x).quant
    if len(ins) < 3 and quant is not None and b.tensor(x).dtype.kind in "iu":
        value = int(quant.zero_point.flat[0])   # quantized zero
    b.add("Pad", [x], [y], pads=[int(p) for p in paddings[:, 0]] + [int(p) for p in paddings[:, 1]],
          mode="constant", value=value)


def transpose(b: Builder, op: TfliteOp, ins: list[str], outs: list[str]) -> None:
    perm = b.const_value(ins[1], outs[0])
    b.add("Transpose", ins[:1], outs[:1], perm=[int(p) for p in np.ravel(perm)])


def leaky_relu(b: Builder, op: TfliteOp, ins: list[str], outs: list[str]) -> None:
    b.add("LeakyRelu", ins[:1], outs[:1], alpha=float(op.options.get("Alpha", 0.2)))


def unary(onnx_op: str):
    def convert(b: Builder, op: TfliteOp, ins: list[str], outs: list[str]) -> None:
        b.add(onnx_op, ins[:1], outs[:1])
    return convert


def dequantize(b: Builder, op: TfliteOp, ins: list[str], outs: list[str]) -> None:
    x, y = b.tensor(ins[0]), b.tensor(outs[0])
    if x.is_const:                       # weights: dequantized here, no node
        data = x.data.astype(np.float32) if x.quant is None else _dequantized(x)
        b.graph.tensors[y.name] = Tensor(y.name, np.float32, y.shape, data.reshape(y.shape))
        return
    _quant_node(b, "DequantizeLinear", x, ins[0], outs[0])


def quantize(b: Builder, op: TfliteOp, ins: list[str], outs: list[str]) -> None:
    _quant_node(b, "QuantizeLinear", b.tensor(outs[0]), ins[0], outs[0])


def _quant_node(b: Builder, onnx_op: str, quantized: Tensor, x: str, y: str) -> None:
    q = quantized.quant
    if q is None:
        raise UnsupportedError(f"node {y}: {onnx_op} without quantization parameters")
    per_channel = q.axis is not None
    scale = q.scale if per_channel else q.scale[:1]
    zero_point = (q.zero_point if per_channel else q.zero_point[:1]).astype(quantized.dtype)
    inputs = [x, b.graph.add_const(f"{y}/scale", scale.reshape(-1) if per_channel else scale.reshape(())),
              b.graph.add_const(f"{y}/zero_point", zero_point.reshape(-1) if per_channel else zero_point.reshape(()))]
    node = b.add(onnx_op, inputs, [y])
    if per_channel:
        node.attrs["axis"] = q.axis
    if onnx_op == "QuantizeLinear":
        node.attrs["rounding"] = "half_away"     # TFLite's QUANTIZE rounds as std::round


CONVERTERS = {
    "CONV_2D": conv_2d,
    "DEPTHWISE_CONV_2D": depthwise_conv_2d,
    "FULLY_CONNECTED": fully_connected,
    "AVERAGE_POOL_2D": pool("AveragePool", count_include_pad=0),
    "MAX_POOL_2D": pool("MaxPool"),
    "ADD": elementwise("Add"),
    "SUB": elementwise("Sub"),
    "MUL": elementwise("Mul"),
    "DIV": elementwise("Div"),
    "MAXIMUM": elementwise("Max"),
    "MINIMUM": elementwise("Min"),
    "RELU": activation(1),
    "RELU_N1_TO_1": activation(2),
    "RELU6": activation(3),
    "LOGISTIC": unary("Sigmoid"),
    "TANH": unary("Tanh"),
    "HARD_SWISH": unary("HardSwish"),
    "LEAKY_RELU": leaky_relu,
    "RESHAPE": reshape,
    "SQUEEZE": reshape,
    "EXPAND_DIMS": reshape,
    "SOFTMAX": softmax,
    "MEAN": mean,
    "CONCATENATION": concatenation,
    "PAD": pad,
    "PADV2": pad,
    "TRANSPOSE": transpose,
    "DEQUANTIZE": dequantize,
    "QUANTIZE": quantize,
}

from .tflite_ops import CONVERTERS as _MORE_CONVERTERS  # noqa: E402  (it imports the helpers above)

CONVERTERS.update(_MORE_CONVERTERS)


def _dequantized(t: Tensor) -> np.ndarray:
    q = t.quant
    shape = [1] * len(t.shape)
    if q.axis is not None and len(t.shape):
        shape[q.axis] = -1
    scale = q.scale.reshape(shape) if q.axis is not None else q.scale[0]
    zero_point = q.zero_point.reshape(shape) if q.axis is not None else q.zero_point[0]
    return ((t.data.astype(np.float32) - zero_point.astype(np.float32)) * scale).astype(np.float32)


def _dequantize_hybrid_weights(b: Builder, op: TfliteOp, ins: list[str], outs: list[str]) -> None:
    """Constant integer weights of an op with float outputs become float constants."""
    if op.code in ("DEQUANTIZE", "QUANTIZE") or not outs or b.tensor(outs[0]).dtype != np.float32:
        return
    for name in ins:
        t = b.tensor(name) if name else None
        if t is not None and t.is_const and t.quant is not None and t.dtype in (np.int8, np.uint8, np.int16):
            b.graph.tensors[name] = Tensor(name, np.float32, t.shape, _dequantized(t))


def _unique_names(model: TfliteModel) -> list[str]:
    names: list[str] = []
    taken: set[str] = set()
    for i, t in enumerate(model.tensors):
        base = name = t.name or f"tensor_{i}"
        k = 0
        while name in taken:
            k += 1
            name = f"{base}_{k}"
        names.append(name)
        taken.add(name)
    return names


def _convert(model: TfliteModel) -> Graph:
    names = _unique_names(model)
    unsupported: dict[str, list[str]] = {}
    for op in model.ops:
        if op.code not in CONVERTERS:
            unsupported.setdefault(op.code, []).extend(names[i] for i in op.outputs)
    if unsupported:
        listing = "; ".join(f"{code} (nodes {', '.join(repr(n) for n in outs)})" for code, outs in unsupported.items())
        raise UnsupportedError(f"unsupported TFLite operators: {listing}")
    b = Builder(model, names)
    for op in model.ops:
        ins = [b.names[i] if i >= 0 else "" for i in op.inputs]
        outs = [b.names[i] for i in op.outputs]
        if not ins or not outs or not ins[0]:
            raise ModelLoadError(f"operator {op.code} producing {outs} has no input or no output")
        try:
            _dequantize_hybrid_weights(b, op, ins, outs)
            CONVERTERS[op.code](b, op, ins, outs)
        except TinyJitError:
            raise
        except (IndexError, KeyError, ValueError, TypeError, ZeroDivisionError) as e:
            # shapes or options that contradict each other: a corrupt or hand-broken file
            raise ModelLoadError(f"{op.code} node {outs[0]!r} is malformed ({type(e).__name__}: {e})") from None
    g = b.graph
    g.inputs = [b.names[i] for i in model.inputs]
    g.outputs = [b.names[i] for i in model.outputs]
    used = set(g.inputs) | set(g.outputs) | {n for node in g.nodes for n in node.inputs + node.outputs}
    g.tensors = {k: t for k, t in g.tensors.items() if k in used}
    for t in g.tensors.values():             # a zero or negative scale is a broken model, not a zero
        if t.dtype.kind in "iu":
            check_quant(t, "TFLite model")
    return g
