"""ONNX → IR.

Dynamic dims are fixed (to 1, or to what the user gives), local functions are inlined, and
shape subgraphs (Shape/Gather/Concat/... chains) are folded into constants, alternating with
onnx's shape inference until every tensor has a static shape. Attributes that newer opsets pass
as constant inputs (axes, pads, split, min/max, ...) are normalized to attributes here, so
passes and kernels see one form.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference

from .. import onnx_eval
from ..errors import ModelLoadError, TinyJitError, UnsupportedError
from ..ir import Graph, Node, Tensor

# inputs that became attributes in later opsets: op -> [(input index, attribute name)]
INPUTS_AS_ATTRS = {
    "Clip": [(1, "min"), (2, "max")],
    "Squeeze": [(1, "axes")],
    "Unsqueeze": [(1, "axes")],
    "Split": [(1, "split")],
    "ReduceMean": [(1, "axes")], "ReduceSum": [(1, "axes")], "ReduceMax": [(1, "axes")],
    "ReduceMin": [(1, "axes")], "ReduceProd": [(1, "axes")], "ReduceL1": [(1, "axes")],
    "ReduceL2": [(1, "axes")], "ReduceLogSum": [(1, "axes")], "ReduceLogSumExp": [(1, "axes")],
    "ReduceSumSquare": [(1, "axes")],
    "Pad": [(1, "pads"), (2, "value"), (3, "axes")],
    "Slice": [(1, "starts"), (2, "ends"), (3, "axes"), (4, "steps")],
    "Reshape": [(1, "shape")],
    "Expand": [(1, "shape")],
    "Tile": [(1, "repeats")],
    "TopK": [(1, "k")],
    "Resize": [(1, "roi"), (2, "scales"), (3, "sizes")],
    "Upsample": [(1, "scales")],
    "CumSum": [(1, "axis")],
    "OneHot": [(1, "depth"), (2, "values")],
}
SPATIAL_AUTOPAD = {"Conv", "ConvTranspose", "AveragePool", "MaxPool", "LpPool", "ConvInteger", "QLinearConv"}


def load_model(source) -> onnx.ModelProto:
    try:
        if isinstance(source, (bytes, bytearray, memoryview)):
            model = onnx.load_model_from_string(bytes(source))
        else:
            model = onnx.load(str(source))
    except FileNotFoundError:
        raise ModelLoadError(f"{source}: no such file") from None
    except Exception as e:  # protobuf's DecodeError and friends
        raise ModelLoadError(f"{_label(source)}: not a readable ONNX model ({type(e).__name__}: {e})") from None
    if not model.graph.node and not model.graph.output:
        raise ModelLoadError(f"{_label(source)}: not a readable ONNX model (empty graph)")
    return model


def _label(source) -> str:
    return "model bytes" if isinstance(source, (bytes, bytearray, memoryview)) else str(source)


def import_onnx(source, input_shapes: dict | None = None) -> Graph:
    model = load_model(source)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)
    if opset < 7:
        raise UnsupportedError(f"ONNX opset {opset} is too old (tinyjit reads opset 7 and up)")
    if model.functions:
        from onnx import inliner
        model = inliner.inline_local_functions(model)
    for n in model.graph.node:
        if n.op_type in ("If", "Loop", "Scan"):
            raise UnsupportedError(f"control flow is not supported: {n.op_type} node {n.name!r}")
    _fix_input_shapes(model, input_shapes or {})
    model = _fold_and_infer(model, opset)
    return _to_ir(model, opset)


def _fix_input_shapes(model: onnx.ModelProto, input_shapes: dict) -> None:
    inits = {i.name for i in model.graph.initializer}
    graph_inputs = [i for i in model.graph.input if i.name not in inits]
    names = {i.name for i in graph_inputs}
    unknown = set(input_shapes) - names
    if unknown:
        raise TinyJitError(f"--input-shape names {sorted(unknown)} are not model inputs; "
                           f"the inputs are {sorted(names)}")
    for inp in graph_inputs:
        dims = inp.type.tensor_type.shape.dim
        if inp.name in input_shapes:
            shape = [int(d) for d in input_shapes[inp.name]]
            if len(shape) != len(dims) and len(dims) > 0:
                raise TinyJitError(f"input {inp.name!r} has rank {len(dims)}, --input-shape gives {shape}")
            inp.type.tensor_type.shape.Clear()
            for d in shape:
                inp.type.tensor_type.shape.dim.add().dim_value = d
            continue
        for d in dims:
            if not d.HasField("dim_value") or d.dim_value < 0:   # 0 is a static (empty) dim
                d.Clear()
                d.dim_value = 1


def _static_shape(vi) -> tuple | None:
    t = vi.type.tensor_type
    if not t.HasField("shape"):
        return None
    dims = []
    for d in t.shape.dim:
        if not d.HasField("dim_value"):
            return None
        dims.append(d.dim_value)
    return tuple(dims)


def _infer(model: onnx.ModelProto) -> onnx.ModelProto:
    try:
        return shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    except Exception as e:
        raise TinyJitError(f"shape inference failed: {e}".splitlines()[0]) from None


def _fold_and_infer(model: onnx.ModelProto, opset: int) -> onnx.ModelProto:
    """Fold constant subgraphs (shape computations included) until nothing changes."""
    for _ in range(64):
        model = _infer(model)
        if _apply_kernel_shapes(model):
            model = _infer(model)
        g = model.graph
        consts = {i.name: numpy_helper.to_array(i) for i in g.initializer}
        shapes = {vi.name: _static_shape(vi) for vi in list(g.value_info) + list(g.input) + list(g.output)}
        folded, keep = [], []
        for node in g.node:
            value = _try_fold(node, consts, shapes, opset)
            if value is None:
                keep.append(node)
                continue
            for name, arr in zip(node.output, value):
                consts[name] = arr
                folded.append(numpy_helper.from_array(arr, name))
        if not folded:
            return model
        del g.node[:]
        g.node.extend(keep)
        g.initializer.extend(folded)
        outputs = {o.name for o in g.output}
        still = [vi for vi in g.value_info if vi.name not in {t.name for t in folded} or vi.name in outputs]
        del g.value_info[:]
        g.value_info.extend(still)
    return model


def _apply_kernel_shapes(model: onnx.ModelProto) -> bool:
    """Custom-domain ops (and standard ops onnx has no inference for, e.g. GroupNormalization-21):
    onnx cannot infer their outputs, their kernel's shape function can."""
    from ..registry import find
    g = model.graph
    known = {vi.name: vi for vi in list(g.input) + list(g.value_info) + list(g.output)}
    known.update({i.name: helper.make_tensor_value_info(i.name, i.data_type, list(i.dims)) for i in g.initializer})
    added = False
    for node in g.node:
        if node.domain == "ai.onnx.ml" or all(
                o in known and _static_shape(known[o]) for o in node.output if o):
            continue
        ins = [known.get(i) for i in node.input if i]
        if not ins or any(vi is None or _static_shape(vi) is None for vi in ins):
            continue
        elem = ins[0].type.tensor_type.elem_type
        k = find(node.op_type, helper.tensor_dtype_to_np_dtype(elem), node.domain)
        if k is None or k.shape_fn is None:
            continue
        attrs = {a.name: _attr_value(a) for a in node.attribute}
        shapes = k.shape_fn(*[_static_shape(vi) for vi in ins], attrs)
        shapes = [shapes] if not shapes or isinstance(shapes[0], (int, np.integer)) else list(shapes)
        for name, shape in zip(node.output, shapes):
            vi = helper.make_tensor_value_info(name, elem, [int(d) for d in shape])
            outputs = [o for o in g.output if o.name == name]
            for o in outputs:
                o.CopyFrom(vi)
            if not outputs:
                g.value_info.append(vi)
            known[name] = vi
            added = True
    return added


def _try_fold(node, consts: dict, shapes: dict, opset: int):
    if node.domain not in ("", "ai.onnx") or node.op_type in ("RandomNormal", "RandomUniform",
                                                                "RandomNormalLike", "RandomUniformLike"):
        return None
    if node.op_type == "DequantizeLinear":
        return None   # int8 weights stay int8 for the QDQ pass (passes/qdq.py); fold_constants folds the rest
    if node.op_type == "Constant":
        return [_constant_value(node)]
    if node.op_type in ("Shape", "Size"):
        shape = shapes.get(node.input[0])
        if shape is None and node.input[0] in consts:
            shape = consts[node.input[0]].shape
        if shape is None:
            return None
        if node.op_type == "Size":
            return [np.array(int(np.prod(shape, dtype=np.int64)), np.int64)]
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        start, end = attrs.get("start", 0), attrs.get("end", None)
        return [np.array(shape[start:end], np.int64)]
    inputs = [i for i in node.input if i]
    if not inputs or any(i not in consts for i in inputs):
        return None
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    values = [consts[i] if i else None for i in node.input]
    try:
        return onnx_eval.evaluate(node.op_type, attrs, values, len(node.output), opset)
    except Exception:
        return None   # leave it to a kernel; a real problem surfaces with a clear error there


def _constant_value(node) -> np.ndarray:
    attr = node.attribute[0]
    value = helper.get_attribute_value(attr)
    if attr.name == "value":
        return numpy_helper.to_array(value)
    if attr.name in ("value_float", "value_int"):
        return np.array(value, np.float32 if attr.name == "value_float" else np.int64)
    if attr.name in ("value_floats", "value_ints"):
        return np.array(value, np.float32 if attr.name == "value_floats" else np.int64)
    if attr.name == "sparse_value":
        return numpy_helper.to_array(onnx.numpy_helper.to_array(value))
    raise UnsupportedError(f"Constant node {node.name!r}: attribute {attr.name} is not supported")


def _to_ir(model: onnx.ModelProto, opset: int) -> Graph:
    g = model.graph
    tensors: dict[str, Tensor] = {}
    for init in g.initializer:
        arr = numpy_helper.to_array(init)
        tensors[init.name] = Tensor(init.name, arr.dtype, arr.shape, arr)
    missing = []
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        if vi.name in tensors:
            continue
        shape = _static_shape(vi)
        elem = vi.type.tensor_type.elem_type
        if shape is None or elem == 0:
            missing.append(vi.name)
            continue
        tensors[vi.name] = Tensor(vi.name, helper.tensor_dtype_to_np_dtype(elem), shape)
    nodes = []
    for i, n in enumerate(g.node):
        name = n.name or f"{n.op_type}_{i}"
        for out in n.output:
            if out and out not in tensors and out not in missing:
                missing.append(out)
        attrs = {a.name: _attr_value(a) for a in n.attribute}
        nodes.append(Node(n.op_type, name, list(n.input), list(n.output), attrs,
                          "" if n.domain == "ai.onnx" else n.domain))
    if missing:
        _raise_unsupported(model, opset)   # an op we lack explains missing shapes better
        _raise_computed_static_input(nodes, tensors, set(missing))   # so does a computed shape input
        raise TinyJitError(f"could not infer a static shape for {', '.join(missing[:5])}"
                           + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
                           + "; pass --input-shape NAME=d0,d1,... for dynamic inputs")
    inits = {i.name for i in g.initializer}
    graph = Graph(tensors, nodes, [i.name for i in g.input if i.name not in inits],
                  [o.name for o in g.output], g.name or "model", opset)
    for node in graph.nodes:
        _normalize(node, graph)
    return graph


def _raise_computed_static_input(nodes: list, tensors: dict, missing: set) -> None:
    """A node without static output shapes whose shape-setting input (INPUTS_AS_ATTRS) is computed."""
    for node in nodes:
        if not any(o in missing for o in node.outputs):
            continue
        for index, attr in INPUTS_AS_ATTRS.get(node.op, []):
            name = node.inputs[index] if len(node.inputs) > index else ""
            if name and (name not in tensors or not tensors[name].is_const):
                raise UnsupportedError(f"node {node.name} ({node.op}): input {index} ({attr}) must be a "
                                       f"constant; computed {attr} is not supported")


def _raise_unsupported(model: onnx.ModelProto, opset: int) -> None:
    from ..plan import ALIAS_OPS
    from ..registry import supported_ops
    missing: dict[str, list[str]] = {}
    for i, n in enumerate(model.graph.node):
        domain = "" if n.domain == "ai.onnx" else n.domain
        if n.op_type not in supported_ops(domain) and not (domain == "" and n.op_type in ALIAS_OPS):
            op = f"{domain}::{n.op_type}" if domain else n.op_type
            missing.setdefault(op, []).append(n.name or f"{n.op_type}_{i}")
    if missing:
        listing = "; ".join(f"{op}: {', '.join(names)}" for op, names in sorted(missing.items()))
        raise UnsupportedError(f"unsupported ops (opset {opset}): {listing}")


def _attr_value(a):
    v = helper.get_attribute_value(a)
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, onnx.TensorProto):
        return numpy_helper.to_array(v)
    if isinstance(v, list):
        return [x.decode() if isinstance(x, bytes) else x for x in v]
    if isinstance(v, onnx.GraphProto):
        raise UnsupportedError(f"attribute {a.name}: subgraphs are not supported")
    return v


def _normalize(node: Node, graph: Graph) -> None:
    """One canonical form per op: constant inputs → attributes, auto_pad → explicit pads."""
    for index, attr in INPUTS_AS_ATTRS.get(node.op, []):
        if len(node.inputs) <= index or not node.inputs[index]:
            continue
        if node.op == "Reshape" or node.op == "Expand":
            continue   # the output shape is known; the kernel is a copy/alias
        value = graph.const(node.inputs[index])
        if value is None:
            raise UnsupportedError(f"node {node.name} ({node.op}): input {index} ({attr}) must be a "
                                   f"constant; computed {attr} is not supported")
        node.attrs[attr] = value.tolist() if value.ndim else value.item()
        node.inputs[index] = ""
    while node.inputs and node.inputs[-1] == "":
        node.inputs.pop()
    if node.op in SPATIAL_AUTOPAD:
        _explicit_pads(node, graph)
    if node.op == "Pad":
        _full_pads(node, graph)


def _explicit_pads(node: Node, graph: Graph) -> None:
    x = graph.tensors[node.inputs[0]]
    spatial = len(x.shape) - 2
    if "kernel_shape" not in node.attrs and node.op in ("Conv", "ConvInteger"):
        node.attrs["kernel_shape"] = list(graph.tensors[node.inputs[1]].shape[2:])
    if "kernel_shape" not in node.attrs and node.op == "QLinearConv":
        node.attrs["kernel_shape"] = list(graph.tensors[node.inputs[3]].shape[2:])
    auto = node.attrs.pop("auto_pad", "NOTSET")
    if auto in ("NOTSET", "") or node.op == "ConvTranspose":
        if auto not in ("NOTSET", ""):
            node.attrs["auto_pad"] = auto
        node.attrs.setdefault("pads", [0] * (2 * spatial))
        return
    kernel = node.attrs["kernel_shape"]
    strides = node.attrs.get("strides", [1] * spatial)
    dil = node.attrs.get("dilations", [1] * spatial)
    begins, ends = [], []
    for d in range(spatial):
        size = x.shape[2 + d]
        if auto == "VALID":
            begins.append(0)
            ends.append(0)
            continue
        out = -(-size // strides[d])
        total = max(0, (out - 1) * strides[d] + (kernel[d] - 1) * dil[d] + 1 - size)
        small = total // 2
        begins.append(small if auto == "SAME_UPPER" else total - small)
        ends.append(total - begins[-1])
    node.attrs["pads"] = begins + ends


def _full_pads(node: Node, graph: Graph) -> None:
    rank = len(graph.tensors[node.inputs[0]].shape)
    pads = list(node.attrs.get("pads", node.attrs.pop("paddings", [0] * 2 * rank)))
    axes = node.attrs.pop("axes", None)
    if axes is not None:
        axes = [a + rank if a < 0 else a for a in (axes if isinstance(axes, list) else [axes])]
        full = [0] * (2 * rank)
        for j, a in enumerate(axes):
            full[a] = pads[j]
            full[rank + a] = pads[len(axes) + j]
        pads = full
    node.attrs["pads"] = [int(p) for p in pads]
    if "value" in node.attrs and isinstance(node.attrs["value"], list):
        node.attrs["value"] = node.attrs["value"][0] if node.attrs["value"] else 0
