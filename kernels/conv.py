"""Conv (NHWC, weights OHWI in the IR): direct convolution with a register tile, no im2col.

The output is computed in tiles of ``rows`` pixels along a row x ``block`` output channels, held
in a local array that LLVM keeps in SIMD registers; each step of the reduction over (kh, kw, ci)
loads ``block`` weights once and one input value per pixel. The schedule gives the tile, MR x NR;
prepare narrows it for a layer with fewer output channels (NR/2, ...) or narrower rows.
Weights are packed at convert time to [groups, channel blocks, KH * KW * CI/groups, block]
(zero-padded to whole blocks), so a block's weights are one contiguous stream.

Tiles cover the pixels whose taps all fall inside the input and read it in place, without
checks; the other pixels (edges, the rest of a row) go one at a time, skipping their padding
taps, with their input channels summed in ``rows`` partial sums (independent FMA chains). A 1x1
stride-1 unpadded conv is a GEMM: prepare views its H x W pixels as one row. A first layer's few
input channels are a literal parameter too, so its (kw, ci) loops unroll.
"""
import numpy as np

from tinyjit import Call, kernel

from ._util import activation_range, check_conv2d_nhwc, conv_geometry

FEW_CHANNELS = 4        # input channels a group up to which the kernel unrolls over them
FEW_CHANNELS_ROWS = 4   # ... and then at most this many pixels a tile


@kernel(op="Conv", dtypes=("float32",), schedule={"MR": (6, 2, 4, 8), "NR": (16, 8, 32)})
def conv2d_f32(x, w, b, y, k_h, k_w, stride_h, stride_w, pad_t, pad_l, dil_h, dil_w, rows, block,
               group_in, act_min, act_max):
    n_batch, in_h, in_w, _ = x.shape
    _, out_h, out_w, out_c = y.shape
    groups, n_blocks, _, _ = w.shape
    group_out = out_c // groups
    lo = np.float32(act_min)
    hi = np.float32(act_max)
    # tiles inside [ow_lo, ow_hi) read no padding; the pixels around them go one at a time
    ow_lo = min((pad_l + stride_w - 1) // stride_w, out_w)
    ow_hi = max(min((in_w + pad_l - (k_w - 1) * dil_w - 1) // stride_w + 1, out_w), ow_lo)
    # a row's last tile overlaps the one before it rather than leaving its pixels to the slow path
    n_tiles = (ow_hi - ow_lo + rows - 1) // rows if ow_hi - ow_lo >= rows else 0
    tiled_hi = ow_hi if n_tiles > 0 else ow_lo
    split = group_in - group_in % rows     # a single pixel sums its channels in `rows` partial sums
    acc = local_array_f32(MR, NR)  # noqa: F821  (primitive) the tile is acc[:rows, :block]
    for g in range(groups):
        ci0 = g * group_in
        for cb in range(n_blocks):
            co = g * group_out + cb * block
            width = min(block, group_out - cb * block)
            for n in range(n_batch):
                for oh in range(out_h):
                    for t in range(n_tiles):    # the register tiles
                        ow = min(ow_lo + t * rows, ow_hi - rows)
                        for i in range(rows):
                            for j in range(block):
                                acc[i, j] = b[g, cb, j]
                        for kh in range(k_h):
                            ih = oh * stride_h - pad_t + kh * dil_h
                            if ih < 0 or ih >= in_h:
                                continue
                            for kw in range(k_w):
                                iw = ow * stride_w - pad_l + kw * dil_w
                                r0 = (kh * k_w + kw) * group_in
                                for ci in range(group_in):
                                    for i in range(rows):
                                        xv = x[n, ih, nonneg(iw + i * stride_w), ci0 + ci]  # noqa: F821
                                        for j in range(block):
                                            acc[i, j] = fma_f32(xv, w[g, cb, r0 + ci, j], acc[i, j])  # noqa: F821
                        for i in range(rows):     # the fused activation, into y[n, oh, ow + i, co:co+width]
                            out = y[n, oh, ow + i, co:co + block]
                            if width == block:
                                for j in range(block):
                                    out[j] = min(max(acc[i, j], lo), hi)
                            else:
                                for j in range(block):
                                    if j < width:
                                        out[j] = min(max(acc[i, j], lo), hi)
                    for ow in range(out_w):     # the other pixels one at a time, skipping padding
                        if ow >= ow_lo and ow < tiled_hi:
                            continue
                        for i in range(rows):   # the channels in `rows` partial sums
                            for j in range(block):
                                acc[i, j] = b[g, cb, j] if i == 0 else np.float32(0.0)
                        for kh in range(k_h):
                            ih = oh * stride_h - pad_t + kh * dil_h
                            if ih < 0 or ih >= in_h:
                                continue
                            for kw in range(k_w):
                                iw = ow * stride_w - pad_l + kw * dil_w
                                if iw < 0 or iw >= in_w:
                                    continue
                                r0 = (kh * k_w + kw) * group_in
                                for c in range(0, split, rows):
                                    for i in range(rows):
                                        xv = x[n, ih, nonneg(iw), ci0 + c + i]  # noqa: F821
                                        for j in range(block):
                                            acc[i, j] = fma_f32(xv, w[g, cb, r0 + c + i, j], acc[i, j])  # noqa: F821
                                # fewer channels than rows (a first layer): a partial sum per tap instead;
                                # a literal 0 otherwise, as a tap index not known at compile time would
                                # keep the tile out of registers
                                tap = kw % rows if split == 0 else 0
                                for ci in range(split, group_in):
                                    xv = x[n, ih, nonneg(iw), ci0 + ci]  # noqa: F821
                                    for j in range(block):
                                        acc[tap, j] = fma_f32(xv, w[g, cb, r0 + ci, j], acc[tap, j])  # noqa: F821
                        for i in range(1, rows):
                            for j in range(block):
                                acc[0, j] += acc[i, j]
                        out = y[n, oh, ow, co:co + block]
                        for j in range(block):
                            if j < width:
                                out[j] = min(max(acc[0, j], lo), hi)


def channel_block(nr: int, channels: int) -> int:
    """The channels a tile takes at once: NR, halved (down to 8) while the layer has at most half.

    The float kernels (conv, depthwise, gemm, pools) all size their tiles' channels this way.
    """
    block = nr
    while block > 8 and channels <= block // 2:
        block //= 2
    return block


def tile_rows(mr: int, inside: int) -> int:
    """Pixels a tile for a row of ``inside`` tiled pixels: MR, or up to 2 fewer when that wastes
    less of the row's last tile (it overlaps the one before it); at most ``inside``.

    A tile costs about one pixel more than its rows (its set-up and stores), so e.g. 14 pixels
    take 3 tiles of 5 rather than 3 of 6, 16 take 4 of 4, 30 take 5 of 6 (conv and depthwise).
    """
    if inside < 1:
        return 1
    candidates = range(max(min(mr, inside) - 2, 1), min(mr, inside) + 1)
    return min(candidates, key=lambda r: (-(-inside // r) * (r + 1), -r))


@conv2d_f32.prepare
def _(node, graph, S):
    check_conv2d_nhwc(node, graph)
    w = graph.const(node.inputs[1])                  # OHWI
    out_c, k_h, k_w, group_in = w.shape
    groups = int(node.attrs.get("group", 1))
    group_out = out_c // groups
    x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
    geometry = conv_geometry(node)
    stride_w, pad_l, dil_w = geometry[1], geometry[3], geometry[5]
    block = channel_block(S["NR"], group_out)
    x_arg, y_arg, in_w, out_w = x.name, y.name, x.shape[2], y.shape[2]
    if (k_h, k_w) == (1, 1) and geometry[:4] == [1, 1, 0, 0]:   # a GEMM: all pixels in one row
        n, h, in_w, c = x.shape
        in_w, out_w = h * in_w, h * in_w
        x_arg, y_arg = (x.name, (n, 1, in_w, c)), (y.name, (n, 1, out_w, out_c))
    inside = min((in_w + pad_l - (k_w - 1) * dil_w - 1) // stride_w + 1, out_w) \
        - min((pad_l + stride_w - 1) // stride_w, out_w)    # output columns that read no padding
    rows = tile_rows(S["MR"], inside)
    n_blocks = -(-group_out // block)
    b = graph.const(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else None
    bias = np.zeros((groups, n_blocks * block), np.float32)
    if b is not None:
        bias[:, :group_out] = b.astype(np.float32).reshape(groups, group_out)
    padded = np.zeros((groups, n_blocks * block, k_h * k_w * group_in), np.float32)
    padded[:, :group_out] = w.astype(np.float32).reshape(groups, group_out, -1)
    packed = padded.reshape(groups, n_blocks, block, -1).transpose(0, 1, 3, 2)
    if group_in <= FEW_CHANNELS:    # the (kw, ci) loops unroll too: a tile of more rows stays rolled (measured)
        rows = min(rows, FEW_CHANNELS_ROWS)
    # the kernel size, the tile and the input channels are parameters: the plan passes them as
    # literals, so LLVM unrolls the tile and a first layer's few channels, and knows the trip counts
    return Call([x_arg, np.ascontiguousarray(packed), bias.reshape(groups, n_blocks, block), y_arg],
                [k_h, k_w, *geometry, rows, block, group_in, *activation_range(node)],
                macs=y.size * k_h * k_w * group_in)
