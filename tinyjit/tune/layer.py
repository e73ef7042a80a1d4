"""A layer as a .tjm remembers it for tuning: its node and tensors, without the weights' values.

A .tjm keeps each layer's weights packed for the schedule it was converted with (transposed,
padded to a tile, widened), and another schedule needs them packed another way: the packed bytes
cannot be tuned. What tuning needs is the layer's *shape*: schedules compete on the same weights,
each checked against the default schedule's output, and records are keyed by op signature. So
plan.build stores with every step a small JSON ``describe(node, graph)``: op, attributes, the
dtype, shape and quantization of every tensor the node reads and writes, and the values of small
constants (pads, shapes, axes: a prepare may read them) and of integer constants other than
weights. ``rebuild`` makes the one-node graph back, with seeded random values for the float and
8/32-bit integer constants (weights, biases).
"""
from __future__ import annotations

import base64
import json

import numpy as np

from ..ir import Graph, Node, Quant, Tensor

SMALL = 16            # constants up to this many elements keep their values (shapes, axes, pads)
SYNTHETIC = {"float16", "float32", "float64", "int8", "uint8", "int32"}   # weights and biases: random values do


def describe(node: Node, graph: Graph, signature: str) -> str:
    """The node as JSON, or "" when an attribute is not plain data (a subgraph, say)."""
    try:
        return json.dumps({
            "signature": signature, "op": node.op, "name": node.name, "domain": node.domain,
            "attrs": {k: _value(v) for k, v in node.attrs.items()},
            "inputs": [_tensor(graph.tensors[n]) if n else None for n in node.inputs],
            "outputs": [_tensor(graph.tensors[n]) for n in node.outputs],
            "same": _repeated(node.inputs + node.outputs),
        }, separators=(",", ":"))
    except TypeError:
        return ""


def rebuild(text: str, seed: int = 0) -> tuple[Graph, str]:
    """The one-node graph of a ``describe`` record, and the op signature it was recorded under."""
    d = json.loads(text)
    rng = np.random.default_rng(seed)
    tensors, names = {}, []
    for i, spec in enumerate(d["inputs"] + d["outputs"]):
        if spec is None:
            names.append("")
        elif str(i) in d["same"]:             # a tensor the node reads twice (x * x), or in place
            names.append(names[d["same"][str(i)]])
        else:
            t = _make_tensor(f"t{i}", spec, rng)
            tensors[t.name] = t
            names.append(t.name)
    n_in = len(d["inputs"])
    node = Node(d["op"], d["name"], names[:n_in], names[n_in:], {k: _attr(v) for k, v in d["attrs"].items()},
                d["domain"])
    inputs = list(dict.fromkeys(n for n in node.inputs if n and not tensors[n].is_const))
    return Graph(tensors, [node], inputs, list(node.outputs), f"tjm:{node.name}"), d["signature"]


def _repeated(names: list[str]) -> dict:
    """{position: first position} of the names seen before (tensor names are not kept: long, unused)."""
    first: dict = {}
    same = {}
    for i, n in enumerate(names):
        if n and n in first:
            same[str(i)] = first[n]
        first.setdefault(n, i)
    return same


def _tensor(t: Tensor) -> dict:
    spec = {"dtype": t.dtype.name, "shape": list(t.shape), "const": t.is_const}
    if t.quant is not None:
        spec["quant"] = {"scale": _array(t.quant.scale), "zero_point": _array(t.quant.zero_point), "axis": t.quant.axis}
    if t.is_const and (t.size <= SMALL or t.dtype.name not in SYNTHETIC):
        spec["data"] = _array(t.data)
    return spec


def _make_tensor(name: str, spec: dict, rng) -> Tensor:
    dtype, shape = np.dtype(spec["dtype"]), tuple(spec["shape"])
    quant = spec.get("quant")
    if quant is not None:
        quant = Quant(_from_array(quant["scale"]), _from_array(quant["zero_point"]), quant["axis"])
    data = None
    if "data" in spec:
        data = _from_array(spec["data"]).reshape(shape)
    elif spec["const"]:
        data = _random_weights(rng, dtype, shape)
    return Tensor(name, dtype, shape, data, quant)


def _random_weights(rng, dtype: np.dtype, shape: tuple) -> np.ndarray:
    if dtype.kind == "f":
        return (rng.standard_normal(shape) * 0.1).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(max(int(info.min), -127), min(int(info.max), 127) + 1, size=shape).astype(dtype)


def _array(a) -> dict:
    a = np.ascontiguousarray(a)
    if a.size > 1 and (a == a.flat[0]).all():           # per-channel zero points: all 0
        return {"dtype": a.dtype.name, "shape": list(a.shape), "fill": a.flat[0].item()}
    return {"dtype": a.dtype.name, "shape": list(a.shape), "base64": base64.b64encode(a.tobytes()).decode()}


def _from_array(d: dict) -> np.ndarray:
    if "fill" in d:
        return np.full(d["shape"], d["fill"], dtype=d["dtype"])
    return np.frombuffer(base64.b64decode(d["base64"]), dtype=d["dtype"]).reshape(d["shape"]).copy()


def _value(v):
    """An attribute as JSON: numbers, strings, lists as they are; bytes and arrays tagged."""
    if isinstance(v, (bool, int, float, str)) or v is None:
        return v
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, bytes):
        return {"bytes": v.decode("latin-1")}
    if isinstance(v, np.ndarray):
        return {"array": _array(v)}
    if isinstance(v, (list, tuple)):
        return [_value(x) for x in v]
    raise TypeError(f"attribute value {type(v).__name__}")


def _attr(v):
    if isinstance(v, dict):
        return v["bytes"].encode("latin-1") if "bytes" in v else _from_array(v["array"])
    if isinstance(v, list):
        return [_attr(x) for x in v]
    return v
