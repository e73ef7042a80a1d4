"""Resize (nearest, linear, cubic; every coordinate transformation mode; antialias; axes;
keep_aspect_ratio_policy), on up to 4 dims.

Resize is separable: along each axis an output index reads a few input indices with weights that
depend only on that axis. Prepare computes, per axis, a table of (input index, weight) taps for
every output index, following onnx's reference implementation; the kernel sums the products of
the taps of all axes. Nearest has one tap per axis, linear two, cubic four, antialiased
downsampling more. An output index whose source coordinate falls outside the input in
tf_crop_and_resize mode has index -1 and gets ``extrapolation_value``.
"""
import copy
import math

import numpy as np

from tinyjit import Call, kernel
from tinyjit.errors import UnsupportedError

RANK = 4
COORDINATE_MODES = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric",
                    "tf_crop_and_resize")
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


@kernel(op="Resize", dtypes=("float32", "int8", "uint8"))
def resize(x, y, i0, w0, i1, w1, i2, w2, i3, w3, extrapolation):
    n0, n1, n2, n3 = y.shape
    t0, t1, t2, t3 = i0.shape[1], i1.shape[1], i2.shape[1], i3.shape[1]
    for a in range(n0):
        for b in range(n1):
            for c in range(n2):
                for d in range(n3):
                    if i0[a, 0] < 0 or i1[b, 0] < 0 or i2[c, 0] < 0 or i3[d, 0] < 0:
                        y[a, b, c, d] = extrapolation
                        continue
                    acc = np.float32(0.0)
                    for p in range(t0):
                        for q in range(t1):
                            wpq = w0[a, p] * w1[b, q]
                            for r in range(t2):
                                wpqr = wpq * w2[c, r]
                                for s in range(t3):
                                    acc += wpqr * w3[d, s] * x[i0[a, p], i1[b, q], i2[c, r], i3[d, s]]
                    y[a, b, c, d] = acc


# --- convert time: the per-axis tap tables --------------------------------------------------------

def _coefficients(mode: str, ratio: float, scale: float, node) -> np.ndarray:
    a = float(node.attrs.get("cubic_coeff_a", -0.75))
    antialias = bool(node.attrs.get("antialias", 0))
    if mode == "nearest":
        nearest = node.attrs.get("nearest_mode", "round_prefer_floor")
        if float(ratio).is_integer():
            return np.array([0.0, 1.0])
        if nearest == "round_prefer_floor":
            return np.array([ratio <= 0.5, ratio > 0.5], np.float64)
        if nearest == "round_prefer_ceil":
            return np.array([ratio < 0.5, ratio >= 0.5], np.float64)
        return np.array([1.0, 0.0]) if nearest == "floor" else np.array([0.0, 1.0])
    if mode == "linear":
        if not antialias:
            return np.array([1 - ratio, ratio])
        scale = min(scale, 1.0)
        start = int(np.floor(-1 / scale) + 1)
        args = (np.arange(start, start + 2 - 2 * start) - ratio) * scale
        coeffs = np.clip(1 - np.abs(args), 0, 1)
        return coeffs / coeffs.sum()
    # cubic
    if not antialias:
        r = ratio
        return np.array([((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a,
                         ((a + 2) * r - (a + 3)) * r * r + 1,
                         ((a + 2) * (1 - r) - (a + 3)) * (1 - r) * (1 - r) + 1,
                         ((a * ((1 - r) + 1) - 5 * a) * ((1 - r) + 1) + 8 * a) * ((1 - r) + 1) - 4 * a])
    scale = min(scale, 1.0)

    def cubic(v):
        v = abs(v)
        if v <= 1:
            return (a + 2) * v ** 3 - (a + 3) * v ** 2 + 1
        if v < 2:
            return a * v ** 3 - 5 * a * v ** 2 + 8 * a * v - 4 * a
        return 0.0
    start = int(np.floor(-2 / scale) + 1)
    coeffs = np.array([cubic(scale * (i - ratio)) for i in range(start, 2 - start)])
    return coeffs / coeffs.sum()


def _source_coordinates(node, coord_mode: str, in_size: int, out_size: int, scale: float, roi) -> tuple:
    y = np.arange(out_size, dtype=np.float64)
    length = scale * in_size                   # the output length before rounding
    extrapolated = np.zeros(out_size, bool)
    if coord_mode == "align_corners":
        x = np.zeros(out_size) if length == 1 else y * (in_size - 1) / (length - 1)
    elif coord_mode == "asymmetric":
        x = y / scale
    elif coord_mode == "tf_crop_and_resize":
        start, end = roi
        x = (np.full(out_size, (end - start) * (in_size - 1) / 2) if length == 1
             else y * (end - start) * (in_size - 1) / (length - 1))
        x = x + start * (in_size - 1)
        extrapolated = (x < 0) | (x > in_size - 1)
    elif coord_mode == "pytorch_half_pixel":
        x = np.full(out_size, -0.5) if length == 1 else (y + 0.5) / scale - 0.5
    elif coord_mode == "half_pixel":
        x = (y + 0.5) / scale - 0.5
    else:   # half_pixel_symmetric
        offset = in_size / 2 * (1 - out_size / length)
        x = offset + (y + 0.5) / scale - 0.5
    return x, extrapolated


def axis_taps(node, mode: str, coord_mode: str, in_size: int, out_size: int, scale: float, roi):
    """(indices [out, taps] int64, weights [out, taps] float32) of one axis."""
    x, extrapolated = _source_coordinates(node, coord_mode, in_size, out_size, scale, roi)
    base = np.floor(x)
    ratios = np.where(x == base, 1.0, x - base)
    coeffs = np.array([_coefficients(mode, float(r), scale, node) for r in ratios]).reshape(out_size, -1)
    n = coeffs.shape[1]
    pad = int(np.ceil(n / 2))
    padded = x + pad
    p = np.floor(padded).astype(np.int64)
    frac = padded - p
    if n % 2 == 0:
        start = p + np.where(frac == 0, -(n // 2), -(n // 2) + 1)
    else:
        start = p + np.where(frac <= 0.5, -((n - 1) // 2), -((n - 1) // 2) + 1)
    neighbours = start[:, None] + np.arange(n)[None, :] - pad
    if node.attrs.get("exclude_outside", 0):
        coeffs = np.where((neighbours < 0) | (neighbours >= in_size), 0.0, coeffs)
        sums = coeffs.sum(axis=1, keepdims=True)
        coeffs = coeffs / np.where(sums == 0, 1.0, sums)
    index = np.clip(neighbours, 0, in_size - 1)
    taps = max(int((coeffs != 0).sum(axis=1).max()), 1) if out_size else 1
    order = np.argsort(coeffs == 0, axis=1, kind="stable")[:, :taps]      # the nonzero taps first
    index = np.take_along_axis(index, order, axis=1)
    weights = np.take_along_axis(coeffs, order, axis=1)
    index[extrapolated] = -1
    return index.astype(np.int64), weights.astype(np.float32)


def identity_taps(size: int):
    return np.arange(size, dtype=np.int64)[:, None], np.ones((size, 1), np.float32)


def _attr(node, name: str, allowed, default):
    value = node.attrs.get(name, default)
    if value not in allowed:
        raise UnsupportedError(f"node {node.name} ({node.op}): {name}={value!r} is not supported "
                               f"(supported: {', '.join(allowed)})")
    return value


def resize_plan(node, graph, mode: str, coord_mode: str, scales, sizes, roi, axes, policy: str):
    """Per-axis taps of a Resize whose attributes have been normalized to onnx's Resize-19 form."""
    x = graph.tensors[node.inputs[0]]
    y = graph.tensors[node.outputs[0]]
    rank = len(x.shape)
    axes = [a + rank if a < 0 else a for a in (axes or range(rank))]
    full_scales, full_sizes, full_roi = [1.0] * rank, list(x.shape), [0.0] * rank + [1.0] * rank
    if roi is not None and len(roi):
        for i, a in enumerate(axes):
            full_roi[a], full_roi[rank + a] = float(roi[i]), float(roi[len(axes) + i])
    if sizes is not None and len(sizes):
        for i, a in enumerate(axes):
            full_sizes[a] = int(sizes[i])
        full_scales = [full_sizes[d] / x.shape[d] for d in range(rank)]
        if policy != "stretch":
            pick = min if policy == "not_larger" else max
            scale = pick(full_scales[a] for a in axes)
            full_scales = [scale if d in axes else 1.0 for d in range(rank)]
            full_sizes = [int(scale * x.shape[d] + 0.5) if d in axes else x.shape[d] for d in range(rank)]
    elif scales is not None and len(scales):
        for i, a in enumerate(axes):
            full_scales[a] = float(scales[i])
        full_sizes = [int(full_scales[d] * x.shape[d]) for d in range(rank)]
    else:
        raise UnsupportedError(f"node {node.name} ({node.op}): neither scales nor sizes is a constant")
    if tuple(full_sizes) != tuple(y.shape):
        raise UnsupportedError(f"node {node.name} ({node.op}): computed output shape {full_sizes} differs "
                               f"from the inferred {list(y.shape)}")
    tables = []
    for d in range(rank):
        roi_d = (full_roi[d], full_roi[rank + d])
        trivial = (math.isclose(full_scales[d], 1.0) and full_sizes[d] == x.shape[d]
                   and (coord_mode != "tf_crop_and_resize" or (math.isclose(roi_d[0], 0.0)
                                                               and math.isclose(roi_d[1], 1.0))))
        tables.append(identity_taps(x.shape[d]) if trivial else
                      axis_taps(node, mode, coord_mode, x.shape[d], full_sizes[d], full_scales[d], roi_d))
    # at most RANK dims: merge leading dims that are not resized
    in_shape, out_shape = list(x.shape), list(y.shape)
    while len(tables) > RANK and tables[0][0].shape == (in_shape[0], 1) and tables[1][0].shape == (in_shape[1], 1) \
            and in_shape[0] == out_shape[0] and in_shape[1] == out_shape[1]:
        merged = in_shape[0] * in_shape[1]
        tables[:2] = [identity_taps(merged)]
        in_shape[:2] = [merged]
        out_shape[:2] = [merged]
    if len(tables) > RANK:
        raise UnsupportedError(f"node {node.name} ({node.op}): resizing {len(tables)} dims (at most {RANK})")
    lead = RANK - len(tables)
    tables = [identity_taps(1)] * lead + tables
    in_view, out_view = (1,) * lead + tuple(in_shape), (1,) * lead + tuple(out_shape)
    return in_view, out_view, tables


@resize.prepare
def _(node, graph, S):
    if graph.opset < 11:
        # Resize-10 is Upsample with scales as input 1 (which the frontend stored as "roi")
        node = copy.copy(node)
        node.attrs = {**node.attrs, "scales": node.attrs.get("roi"), "roi": None,
                      "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
    mode = _attr(node, "mode", ("nearest", "linear", "cubic"), "nearest")
    coord_mode = _attr(node, "coordinate_transformation_mode", COORDINATE_MODES, "half_pixel")
    _attr(node, "nearest_mode", NEAREST_MODES, "round_prefer_floor")
    policy = _attr(node, "keep_aspect_ratio_policy", ("stretch", "not_larger", "not_smaller"), "stretch")
    x = graph.tensors[node.inputs[0]]
    if x.dtype.kind != "f" and mode != "nearest":
        raise UnsupportedError(f"node {node.name} (Resize): mode={mode!r} on {x.dtype.name} tensors")
    return resize_call(node, graph, mode, coord_mode, node.attrs.get("scales"), node.attrs.get("sizes"),
                       node.attrs.get("roi"), node.attrs.get("axes"), policy)


def resize_call(node, graph, mode, coord_mode, scales, sizes, roi, axes, policy) -> Call:
    in_view, out_view, tables = resize_plan(node, graph, mode, coord_mode, scales, sizes, roi, axes, policy)
    args = [(node.inputs[0], in_view), (node.outputs[0], out_view)]
    for index, weights in tables:
        args += [index, weights]
    taps = int(np.prod([t[0].shape[1] for t in tables]))
    y = graph.tensors[node.outputs[0]]
    value = float(node.attrs.get("extrapolation_value", 0.0))
    return Call(args, [value if y.dtype.kind == "f" else int(value)], macs=y.size * taps)
