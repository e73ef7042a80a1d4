"""DepthwiseConv (NHWC; the layout pass turns a Conv with group == channels into this op).

Weights are packed to [KH, KW, C] so the channels of a tap are contiguous. The output is
computed in tiles of MR pixels along a row x NR channels (fewer for a narrow layer or image),
held in a local array that LLVM keeps in SIMD registers: each tap loads NR weights once and NR
inputs per pixel. Tiles cover the pixels whose taps all fall inside the input and run without
checks; then the pixels at the edges go one at a time (NR channels at once), skipping their
padding taps. The channels past the last whole block (and a channel multiplier other than 1)
run as plain loops.
"""
import numpy as np

from tinyjit import Call, kernel

from ._util import activation_range, check_conv2d_nhwc, conv_geometry
from .conv import channel_block, tile_rows


@kernel(op="DepthwiseConv", dtypes=("float32",), schedule={"MR": (4, 1, 2, 6), "NR": (8, 16, 32)})
def depthwise_conv2d_f32(x, w, b, y, channels, k_h, k_w, stride_h, stride_w, pad_t, pad_l, dil_h, dil_w,
                         multiplier, rows, block, act_min, act_max):
    n_batch, in_h, in_row = x.shape       # rows of in_w * in_c values
    _, out_h, out_row = y.shape           # rows of out_w * channels values
    in_c = channels // multiplier
    in_w = in_row // in_c
    out_w = out_row // channels
    lo = np.float32(act_min)
    hi = np.float32(act_max)
    # tiles inside [ow_lo, ow_hi) read no padding
    ow_lo = min((pad_l + stride_w - 1) // stride_w, out_w)
    ow_hi = max(min((in_w + pad_l - (k_w - 1) * dil_w - 1) // stride_w + 1, out_w), ow_lo)
    vec_c = channels - channels % block if multiplier == 1 else 0    # channels done in blocks
    # a row's last tile overlaps the one before it rather than leaving its pixels to the slow path
    n_tiles = (ow_hi - ow_lo + rows - 1) // rows if ow_hi - ow_lo >= rows else 0
    acc = local_array_f32(MR, NR)  # noqa: F821  (primitives)
    one = local_array_f32(1, NR)  # noqa: F821
    for n in range(n_batch):
        for oh in range(out_h):
            ih0 = oh * stride_h - pad_t
            kh_lo = min(max((dil_h - 1 - ih0) // dil_h, 0), k_h)      # the taps inside the input
            kh_hi = max(min((in_h - ih0 + dil_h - 1) // dil_h, k_h), kh_lo)
            row_tiles = n_tiles if kh_lo == 0 and kh_hi == k_h else 0
            tiled_hi = ow_hi if row_tiles > 0 else ow_lo
            for t in range(row_tiles):     # the register tiles
                ow = min(ow_lo + t * rows, ow_hi - rows)
                iw0 = ow * stride_w - pad_l
                for c0 in range(0, vec_c, block):
                    for i in range(rows):
                        for j in range(block):
                            acc[i, j] = b[c0 + j]
                    for kh in range(k_h):
                        for kw in range(k_w):
                            for i in range(rows):
                                for j in range(block):
                                    acc[i, j] = fma_f32(x[n, ih0 + kh * dil_h, nonneg((iw0 + kw * dil_w + i * stride_w) * channels + c0 + j)],  # noqa: F821
                                                        w[kh, kw, c0 + j], acc[i, j])
                    for i in range(rows):     # the fused activation
                        for j in range(block):
                            y[n, oh, (ow + i) * channels + c0 + j] = min(max(acc[i, j], lo), hi)
            for ow in range(out_w):     # the pixels and channels the tiles left, one at a time
                iw0 = ow * stride_w - pad_l
                c_left = vec_c if ow >= ow_lo and ow < tiled_hi else 0
                # `rows` blocks of channels at once: independent FMA chains, as in a tile
                wide = c_left + (vec_c - c_left) // (rows * block) * (rows * block)
                for c0 in range(c_left, wide, rows * block):
                    for i in range(rows):
                        for j in range(block):
                            acc[i, j] = b[c0 + i * block + j]
                    for kh in range(kh_lo, kh_hi):
                        for kw in range(k_w):
                            iw = iw0 + kw * dil_w
                            if iw >= 0 and iw < in_w:
                                for i in range(rows):
                                    for j in range(block):
                                        acc[i, j] = fma_f32(x[n, ih0 + kh * dil_h, nonneg(iw * channels + c0 + i * block + j)],  # noqa: F821
                                                            w[kh, kw, c0 + i * block + j], acc[i, j])
                    for i in range(rows):
                        for j in range(block):
                            y[n, oh, ow * channels + c0 + i * block + j] = min(max(acc[i, j], lo), hi)
                for c0 in range(wide, vec_c, block):
                    for j in range(block):
                        one[0, j] = b[c0 + j]
                    for kh in range(kh_lo, kh_hi):
                        for kw in range(k_w):
                            iw = iw0 + kw * dil_w
                            if iw >= 0 and iw < in_w:
                                for j in range(block):
                                    one[0, j] = fma_f32(x[n, ih0 + kh * dil_h, nonneg(iw * channels + c0 + j)],  # noqa: F821
                                                        w[kh, kw, c0 + j], one[0, j])
                    for j in range(block):
                        y[n, oh, ow * channels + c0 + j] = min(max(one[0, j], lo), hi)
                for c in range(vec_c, channels):
                    total = b[c]
                    for kh in range(kh_lo, kh_hi):
                        for kw in range(k_w):
                            iw = iw0 + kw * dil_w
                            if iw >= 0 and iw < in_w:
                                total += x[n, ih0 + kh * dil_h, iw * in_c + c // multiplier] * w[kh, kw, c]
                    y[n, oh, ow * channels + c] = min(max(total, lo), hi)


@depthwise_conv2d_f32.prepare
def _(node, graph, S):
    check_conv2d_nhwc(node, graph)
    w = graph.const(node.inputs[1])                  # O H W 1
    out_c = w.shape[0]
    in_c = graph.tensors[node.inputs[0]].shape[3]
    b = graph.const(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else None
    bias = np.zeros(out_c, np.float32) if b is None else b.astype(np.float32)
    packed = np.ascontiguousarray(w[..., 0].transpose(1, 2, 0)).astype(np.float32)  # HWC
    y = graph.tensors[node.outputs[0]]
    block = channel_block(S["NR"], out_c)
    while block > 8 and block > out_c:      # no zero padding here: a whole block of channels
        block //= 2
    geometry = conv_geometry(node)
    stride_w, pad_l, dil_w = geometry[1], geometry[3], geometry[5]
    k_w, in_w, out_w = packed.shape[1], graph.tensors[node.inputs[0]].shape[2], y.shape[2]
    inside = min((in_w + pad_l - (k_w - 1) * dil_w - 1) // stride_w + 1, out_w) \
        - min((pad_l + stride_w - 1) // stride_w, out_w)    # output columns that read no padding
    rows = tile_rows(S["MR"], inside)
    # rows are viewed flat and the channel count, kernel and block sizes are parameters: the plan
    # passes them as literals, so LLVM unrolls the taps and the block's channels, and the offsets
    # of a tile's inputs are constants
    x = graph.tensors[node.inputs[0]]
    n, h, wd, c = x.shape
    return Call([(x.name, (n, h, wd * c)), packed, bias, (y.name, (n, y.shape[1], y.shape[2] * out_c))],
                [out_c, *packed.shape[:2], *geometry, out_c // in_c, rows, block, *activation_range(node)],
                macs=y.size * w.shape[1] * w.shape[2])
