"""More TFLite builtins for the TFLite frontend, mapped onto the same IR ops the ONNX frontend uses.

Each converter has the frontend's signature ``(builder, op, inputs, outputs)``; tflite_frontend.py
merges ``CONVERTERS`` into its own table. Tensors stay NHWC: an op that ONNX defines on NCHW
(DepthToSpace, SpaceToDepth) is wrapped in Transposes, which the layout pass cancels where it can.
"""
from __future__ import annotations

import numpy as np

from ..errors import ModelLoadError, UnsupportedError
from .tflite_frontend import SAME, VALID, Builder, TfliteOp, elementwise, unary

TO_NCHW, TO_NHWC = [0, 3, 1, 2], [0, 2, 3, 1]


def _axes(b: Builder, name: str, rank: int, what: str) -> list[int]:
    return sorted({int(a) + rank if int(a) < 0 else int(a) for a in np.ravel(b.const_value(name, what))})


def reducer(onnx_op: str):
    def convert(b: Builder, op: TfliteOp, ins: list[str], outs: list[str]) -> None:
        axes = _axes(b, ins[1], len(b.tensor(ins[0]).shape), outs[0])
        b.add(onnx_op, ins[:1], outs[:1], axes=axes, keepdims=int(bool(op.options.get("KeepDims", False))))
    return convert


def rsqrt(b: Builder, op: TfliteOp, ins: list[str], outs: list[str]) -> None:
    t = b.tensor(outs[0])
    root = b.temp(f"{outs[0]}/sqrt", t.shape, t.dtype)
    b.add("Sqrt", ins[:1], [root], name=root)
    b.add("Reciprocal", [root], outs[:1])


def squared_difference(b: Builder, op: TfliteOp, ins: list[str], outs: list[str]) -> None:
    t = b.tensor(outs[0])
    diff = b.temp(f"{outs[0]}/diff", t.shape, t.dtype)
    b.add("Sub", ins[:2], [diff], name=diff)
    b.add("Mul", [diff, diff], outs[:1])


def gelu(b: Builder, op: TfliteOp, ins: list[str], outs: list[str]) -> None:
    b.add("Gelu", ins[:1], outs[:1], approximate="tanh" if op.options.get("Approximate") else "none")


def log_softmax(b: Builder, op: TfliteOp, ins: list[str], outs: list[str]) -> None:
    b.add("LogSoftmax", ins[:1], outs[:1], axis=-1)


def batch_matmul(b: Builder, op: TfliteOp, ins: list[str], outs: list[str]) -> None:
    operands = []
    for name, flag in zip(ins[:2], ("AdjX", "AdjY")):
        t = b.tensor(name)
        if op.options.get(flag):
            rank = len(t.shape)
            perm = list(range(rank - 2)) + [rank - 1, rank - 2]
            adjoint = b.temp(f"{name}/adjoint", [t.shape[p] for p in perm], t.dtype)
            b.add("Transpose", [name], [adjoint], name=adjoint, perm=perm)
            name = adjoint
        operands.append(name)
    b.add("MatMul", operands, outs[:1])


def transpose_conv(b: Builder, op: TfliteOp, ins: list[str], outs: list[str]) -> None:
    """Inputs: output_shape, weights [out, kh, kw, in], input, optional bias."""
    x, y = ins[2], outs[0]
    weights = b.const_value(ins[1], y)
    c_out, k_h, k_w, c_in = weights.shape
    in_hw, out_hw = b.tensor(x).shape[1:3], b.tensor(y).shape[1:3]
    strides = [int(op.options.get("StrideH", 1)), int(op.options.get("StrideW", 1))]
    padding = op.options.get("Padding", SAME)
    if padding not in (SAME, VALID):
        raise UnsupportedError(f"node {y}: padding type {padding} is not supported")
    pads = []
    for size, out, k, s in zip(in_hw, out_hw, (k_h, k_w), strides):   # TFLite's ComputePaddingHeightWidth
        expected = -(-out // s) if padding == SAME else -(-(out - k + 1) // s)
        if s < 1 or size != expected:
            raise ModelLoadError(f"node {y}: TRANSPOSE_CONV output size {out} does not fit input {size}, "
                                 f"kernel {k}, stride {s}")
        total = max((size - 1) * s + k - out, 0) if padding == SAME else 0
        pads.append(total // 2)
    oihw = b.graph.add_const(f"{ins[1]}/iohw", np.ascontiguousarray(weights.transpose(3, 0, 1, 2)))
    inputs = [x, oihw] + ([ins[3]] if len(ins) > 3 and ins[3] else [])
    node = b.add("ConvTranspose", inputs, [y], channels_last=1, kernel_shape=[k_h, k_w], strides=strides,
                 pads=pads + pads)
    b.activation(node, op.options.get("FusedActivationFunction", 0))


def pack(b: Builder, op: TfliteOp, ins: list[str], outs: list[str]) -> None:
    y = b.tensor(outs[0])
    axis = int(op.options.get("Axis", 0))
    axis += len(y.shape) if axis < 0 else 0
    parts = []
    for name in ins:
        t = b.tensor(name)
        shape = list(t.shape[:axis]) + [1] + list(t.shape[axis:])
        part = b.temp(f"{name}/unsqueezed", shape, t.dtype, like=name)
        b.add("Reshape", [name], [part], name=part)
        parts.append(part)
    b.add("Concat", parts, outs[:1], axis=axis)


def unpack(b: Builder, op: TfliteOp, ins: list[str], outs: list[str]) -> None:
    x = b.tensor(ins[0])
    axis = int(op.options.get("Axis", 0))
    axis += len(x.shape) if axis < 0 else 0
    parts = []
    for name in outs:
        t = b.tensor(name)
        parts.append(b.temp(f"{name}/keepdim", list(x.shape[:axis]) + [1] + list(x.shape[axis + 1:]), t.dtype))
    b.add("Split", ins[:1], parts, name=outs[0] + "/split", axis=axis)
    for part, name in zip(parts, outs):
        b.add("Reshape", [part], [name])


def split(b: Builder, op: TfliteOp, ins: list[str], outs: list[str]) -> None:
    """SPLIT: inputs axis, input; equal parts (the outputs' static shapes give the sizes)."""
    rank = len(b.tensor(ins[1]).shape)
    b.add("Split", ins[1:2], outs, name=outs[0], axis=_axes(b, ins[0], rank, outs[0])[0])


def split_v(b: Builder, op: TfliteOp, ins: list[str], outs: list[str]) -> None:
    """SPLIT_V: inputs input, size_splits, axis (sizes read back from the outputs' shapes)."""
    rank = len(b.tensor(ins[0]).shape)
    b.add("Split", ins[:1], outs, name=outs[0], axis=_axes(b, ins[2], rank, outs[0])[0])


def slice_op(b: Builder, op: TfliteOp, ins: list[str], outs: list[str]) -> None:
    shape = b.tensor(ins[0]).shape
    begin = [int(v) for v in np.ravel(b.const_value(ins[1], outs[0]))]
    size = [int(v) for v in np.ravel(b.const_value(ins[2], outs[0]))]
    ends = [d if s == -1 else bg + s for d, bg, s in zip(shape, begin, size)]
    b.add("Slice", ins[:1], outs[:1], starts=begin, ends=ends, axes=list(range(len(shape))))


def strided_slice(b: Builder, op: TfliteOp, ins: list[str], outs: list[str]) -> None:
    x, y = b.tensor(ins[0]), outs[0]
    opts = op.options
    if opts.get("EllipsisMask", 0) or opts.get("NewAxisMask", 0) or opts.get("Offset", False):
        raise UnsupportedError(f"node {y}: STRIDED_SLICE with ellipsis_mask, new_axis_mask or offset is not "
                               "supported")
    begin, end, strides = (np.ravel(b.const_value(n, y)).astype(np.int64) for n in ins[1:4])
    rank = len(x.shape)
    starts, ends, steps = [], [], []
    big = np.iinfo(np.int64).max
    for d in range(rank):
        step = int(strides[d]) if d < len(strides) else 1
        lo = int(begin[d]) if d < len(begin) else 0
        hi = int(end[d]) if d < len(end) else (big if step > 0 else -big)
        if opts.get("BeginMask", 0) >> d & 1:
            lo = 0 if step > 0 else big
        if opts.get("EndMask", 0) >> d & 1:
            hi = big if step > 0 else -big
        if opts.get("ShrinkAxisMask", 0) >> d & 1:
            hi, step = (lo + 1 if lo != -1 else big), 1
        starts.append(lo)
        ends.append(hi)
        steps.append(step)
    if not opts.get("ShrinkAxisMask", 0):
        b.add("Slice", ins[:1], [y], starts=starts, ends=ends, axes=list(range(rank)), steps=steps)
        return
    kept = [len(range(*slice(s, e, st).indices(n))) for s, e, st, n in zip(starts, ends, steps, x.shape)]
    sliced = b.temp(f"{y}/unshrunk", kept, x.dtype, like=ins[0])
    b.add("Slice", ins[:1], [sliced], name=sliced, starts=starts, ends=ends, axes=list(range(rank)), steps=steps)
    b.add("Reshape", [sliced], [y])


def mirror_pad(b: Builder, op: TfliteOp, ins: list[str], outs: list[str]) -> None:
    paddings = b.const_value(ins[1], outs[0]).reshape(-1, 2)
    mode = "reflect" if op.options.get("Mode", 0) == 0 else "symmetric"   # symmetric: an IR extension
    b.add("Pad", ins[:1], outs[:1], pads=[int(p) for p in paddings[:, 0]] + [int(p) for p in paddings[:, 1]],
          mode=mode)


def gather(b: Builder, op: TfliteOp, ins: list[str], outs: list[str]) -> None:
    if op.options.get("BatchDims", 0):
        raise UnsupportedError(f"node {outs[0]}: GATHER with batch_dims is not supported")
    b.add("Gather", ins[:2], outs[:1], axis=int(op.options.get("Axis", 0)))


def resize(mode: str):
    def convert(b: Builder, op: TfliteOp, ins: list[str], outs: list[str]) -> None:
        x, y = b.tensor(ins[0]), b.tensor(outs[0])
        if op.options.get("AlignCorners"):
            coordinates, nearest = "align_corners", "round_prefer_ceil"
        elif op.options.get("HalfPixelCenters"):
            coordinates, nearest = "half_pixel", "round_prefer_ceil"
        else:
            coordinates, nearest = "asymmetric", "floor"
        size = [int(v) for v in np.ravel(b.const_value(ins[1], outs[0]))]
        b.add("Resize", ins[:1], outs[:1], mode=mode, coordinate_transformation_mode=coordinates,
              nearest_mode=nearest, sizes=[x.shape[0], *size, x.shape[3]])
        if tuple(y.shape) != (x.shape[0], *size, x.shape[3]):
            raise UnsupportedError(f"node {outs[0]}: output shape {list(y.shape)} is not the requested size {size}")
    return convert


def nchw_op(onnx_op: str):
    """A DepthToSpace/SpaceToDepth on NHWC tensors: TFLite's channel order is ONNX's DCR."""
    def convert(b: Builder, op: TfliteOp, ins: list[str], outs: list[str]) -> None:
        x, y = b.tensor(ins[0]), b.tensor(outs[0])
        x_nchw = b.temp(f"{ins[0]}/nchw", [x.shape[p] for p in TO_NCHW], x.dtype, like=ins[0])
        y_nchw = b.temp(f"{outs[0]}/nchw", [y.shape[p] for p in TO_NCHW], y.dtype, like=outs[0])
        b.add("Transpose", ins[:1], [x_nchw], name=x_nchw, perm=TO_NCHW)
        b.add(onnx_op, [x_nchw], [y_nchw], name=y_nchw, blocksize=int(op.options.get("BlockSize", 1)), mode="DCR")
        b.add("Transpose", [y_nchw], outs[:1], perm=TO_NHWC)
    return convert


def arg(onnx_op: str):
    def convert(b: Builder, op: TfliteOp, ins: list[str], outs: list[str]) -> None:
        axis = _axes(b, ins[1], len(b.tensor(ins[0]).shape), outs[0])[0]
        b.add(onnx_op, ins[:1], outs[:1], axis=axis, keepdims=0)
    return convert


CONVERTERS = {
    "SQRT": unary("Sqrt"), "RSQRT": rsqrt, "EXP": unary("Exp"), "LOG": unary("Log"), "ABS": unary("Abs"),
    "NEG": unary("Neg"), "SQUARED_DIFFERENCE": squared_difference, "PRELU": elementwise("PRelu"),
    "GELU": gelu, "LOG_SOFTMAX": log_softmax, "BATCH_MATMUL": batch_matmul, "TRANSPOSE_CONV": transpose_conv,
    "SUM": reducer("ReduceSum"), "REDUCE_MAX": reducer("ReduceMax"), "REDUCE_MIN": reducer("ReduceMin"),
    "REDUCE_PROD": reducer("ReduceProd"),
    "PACK": pack, "UNPACK": unpack, "SPLIT": split, "SPLIT_V": split_v, "SLICE": slice_op,
    "STRIDED_SLICE": strided_slice, "MIRROR_PAD": mirror_pad, "GATHER": gather,
    "RESIZE_NEAREST_NEIGHBOR": resize("nearest"), "RESIZE_BILINEAR": resize("linear"),
    "DEPTH_TO_SPACE": nchw_op("DepthToSpace"), "SPACE_TO_DEPTH": nchw_op("SpaceToDepth"),
    "ARG_MAX": arg("ArgMax"), "ARG_MIN": arg("ArgMin"),
}
