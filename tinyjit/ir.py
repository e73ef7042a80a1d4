"""The intermediate representation: plain dataclasses, nothing framework-specific.

Conventions every frontend and pass keeps:
- op types are ONNX op names (domain "" = ai.onnx) with ONNX semantics, except that spatial
  ops carry ``channels_last=1`` once the layout pass has moved them to NHWC (TFLite's frontend
  emits them that way directly). Conv weights with ``channels_last=1`` are OHWI
  (out, kh, kw, in/groups), as in TFLite.
- every tensor has a static shape; constants carry their data.
- a node's missing optional input is the empty string, as in ONNX.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Quant:
    """Affine quantization: real = scale * (q - zero_point), per tensor or per channel ``axis``."""
    scale: np.ndarray
    zero_point: np.ndarray
    axis: int | None = None

    @property
    def per_channel(self) -> bool:
        return self.axis is not None and self.scale.size > 1


@dataclass
class Tensor:
    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    data: np.ndarray | None = None
    quant: Quant | None = None

    def __post_init__(self):
        self.dtype = np.dtype(self.dtype)
        self.shape = tuple(int(d) for d in self.shape)

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize


@dataclass
class Node:
    op: str
    name: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict = field(default_factory=dict)
    domain: str = ""


@dataclass
class Graph:
    tensors: dict[str, Tensor]
    nodes: list[Node]
    inputs: list[str]
    outputs: list[str]
    name: str = "model"
    opset: int = 17

    def copy(self) -> "Graph":
        """A copy a pass may change freely; constant arrays are shared (passes never write into them)."""
        tensors = {k: Tensor(t.name, t.dtype, t.shape, t.data, copy.deepcopy(t.quant))
                   for k, t in self.tensors.items()}
        nodes = [Node(n.op, n.name, list(n.inputs), list(n.outputs), copy.deepcopy(n.attrs), n.domain)
                 for n in self.nodes]
        return Graph(tensors, nodes, list(self.inputs), list(self.outputs), self.name, self.opset)

    def const(self, name: str) -> np.ndarray | None:
        t = self.tensors.get(name) if name else None
        return None if t is None else t.data

    def producers(self) -> dict[str, Node]:
        return {o: n for n in self.nodes for o in n.outputs}

    def consumers(self) -> dict[str, list[Node]]:
        users: dict[str, list[Node]] = {}
        for n in self.nodes:
            for i in n.inputs:
                if i:
                    users.setdefault(i, []).append(n)
        return users

    def add_const(self, base: str, data: np.ndarray) -> str:
        name = self.unique_name(base)
        self.tensors[name] = Tensor(name, data.dtype, data.shape, np.ascontiguousarray(data))
        return name

    def unique_name(self, base: str) -> str:
        name, i = base, 0
        while name in self.tensors:
            i += 1
            name = f"{base}_{i}"
        return name
