"""Conv, int8 (NHWC, weights OHWI int8 per output channel, int32 bias), as TFLite's ConvPerChannel.

y = clamp(MultiplyByQuantizedMultiplier(sum((x - in_zp) * w) + bias, mult[co], shift[co]) + out_zp)

Weights stay int8 (as in the .tflite: flash is the weight bytes) whenever ``w - w_zp`` fits in
int8, which it always does for TFLite's symmetric weights; otherwise (an ONNX uint8 weight with a
zero point) they are widened to int16. Three forms (schedule knob FORM; 0 = prepare chooses):

- 1, dot: weights [out, depth]; each output channel is one contiguous dot product over the
  receptive field, two channels at a time (the C lowering calls the stub's SIMD dot products:
  SXTB16 + SMLAD on Armv7E-M; LLVM turns them into vpmaddwd on x86). With int8 input and int8
  weights the input zero point is folded into the bias at convert time,
  ``sum((x - zp) * w) = sum(x * w) - zp * sum(w)``, so the dot reads the raw int8 input: in place
  for a 1x1 window without padding (pointwise convs, fully connected layers: no copy at all),
  else from ``patch8``, the window gathered once per pixel with padding filled with ``zp``
  (which then contributes ``zp * w - zp * w = 0``, what TFLite's skipped taps contribute).
  Otherwise the window is gathered as int16 ``x - zp`` into ``patch16``.
- 2, outer: weights [depth, out]; CO_BLOCK output channels accumulate side by side, one patch16
  value broadcast at a time. Shallow windows on hosts with wide SIMD.
- 3, direct: no patch, taps read from ``x`` (windows too deep for a stack patch, > 16384).
- 4, host dot: weights [out, depth] int16, one output channel per dot over the int16 window
  (vpmaddwd under LLVM), the pixel's channels requantized in one loop (ROW 1). x86_64.toml sets
  ROW 1, which makes FORM 0 pick this form for deep windows (and outer for shallow ones).

The CO_BLOCK accumulators of a block are requantized as soon as they are complete, so a layer
needs no arena scratch and little stack. Prepare writes the resolved forms and the layer's window
(K_H, K_W, CIN = in/groups, GROUPS, DEPTH) into the node's schedule, so each layer's kernel is
compiled with them as constants (the tunable knobs are FORM, CO_BLOCK and WEIGHTS).
"""
import numpy as np

from tinyjit import Call, kernel

from ._int8 import conv_params, int32_array, output_value, requantize_clamp
from ._util import check_conv2d_nhwc, conv_geometry
from .primitives import local_array_i8, local_array_i16, local_array_i32

DOT, OUTER, DIRECT, HOST_DOT = 1, 2, 3, 4
GATHER16, GATHER8, IN_PLACE = 0, 1, 2          # where the dot form reads the window (SOURCE)
MAX_PATCH = 16384


@kernel(op="Conv", dtypes=("int8", "uint8"), schedule={"FORM": (0, 1, 2, 3, 4), "CO_BLOCK": (16, 8, 32),
                                                        "WEIGHTS": (0, 8, 16), "PIX": (1, 2), "SOURCE": (0,),
                                                        "ROW": (0, 1),
                                                        "K_H": (1,), "K_W": (1,), "CIN": (1,), "GROUPS": (1,),
                                                        "DEPTH": (1,), "DEPTH8": (1,), "DEPTH16": (1,),
                                                        "OUT_C": (1,)})
def conv2d_int8(x, w, bias, mult, shift, y, stride_h, stride_w, pad_t, pad_l, dil_h, dil_w,
                in_zp, out_zp, act_min, act_max, raw):
    n_batch, in_h, in_w, _ = x.shape
    _, out_h, out_w, out_c = y.shape
    group_out = out_c // GROUPS
    patch8 = local_array_i8(PIX, DEPTH8)
    patch16 = local_array_i16(1, DEPTH16)
    acc = local_array_i32(PIX, CO_BLOCK)
    row = local_array_i32(1, OUT_C)
    for n in range(n_batch):
        for pixel in range(0, out_h * out_w, PIX):
            # with PIX = 2, pixels `pixel` and the next (in row-major order; the last pixel again at the end
            # of an odd count: written twice, same bytes)
            oh = pixel // out_w
            ow = pixel % out_w
            pixel1 = min(pixel + PIX - 1, out_h * out_w - 1)
            oh1 = pixel1 // out_w
            ow1 = pixel1 % out_w
            ih0 = oh * stride_h - pad_t
            for g in range(GROUPS):
                if FORM != 3 and SOURCE != 2:
                    for p in range(PIX):
                        iwp = (ow if p == 0 else ow1) * stride_w - pad_l
                        for kh in range(K_H):
                            ih = (ih0 if p == 0 else oh1 * stride_h - pad_t) + kh * dil_h
                            for kw in range(K_W):
                                iw = iwp + kw * dil_w
                                tap = (kh * K_W + kw) * CIN
                                inside = ih >= 0 and ih < in_h and iw >= 0 and iw < in_w
                                if SOURCE == 1 and inside:     # plain copies: memcpy/memset in C
                                    for ci in range(CIN):
                                        patch8[p, tap + ci] = x[n, ih, iw, g * CIN + ci]
                                elif SOURCE == 1:
                                    for ci in range(CIN):
                                        patch8[p, tap + ci] = in_zp
                                elif inside:
                                    for ci in range(CIN):
                                        patch16[0, tap + ci] = np.int16(np.int32(x[n, ih, iw, g * CIN + ci]) - in_zp)
                                else:
                                    for ci in range(CIN):
                                        patch16[0, tap + ci] = 0
                # the int8 windows of the pixels: x itself (1x1, no padding) or the gathered patch8 rows
                if SOURCE == 2:
                    a0 = x[n, ih0, ow * stride_w - pad_l]
                    a1 = x[n, oh1 * stride_h - pad_t, ow1 * stride_w - pad_l]
                else:
                    a0 = patch8[0]
                    a1 = patch8[PIX - 1]
                base = g * CIN if SOURCE == 2 else 0
                for b in range((group_out + CO_BLOCK - 1) // CO_BLOCK):
                    cb = g * group_out + b * CO_BLOCK
                    if FORM == 4:       # host dot: one channel a dot, int16 window x int16 weights (vpmaddwd)
                        for j in range(CO_BLOCK):
                            s = np.int32(bias[cb + j])
                            for k in range(DEPTH):
                                s = np.int32(s + np.int32(patch16[0, k]) * np.int32(w[cb + j, k]))
                            row[0, cb + j] = s
                    elif FORM == 1 and SOURCE != 0 and PIX == 2:     # 2 pixels x 2 channels a dot
                        for j in range(0, CO_BLOCK, 2):
                            s00 = np.int32(bias[cb + j])
                            s01 = np.int32(bias[cb + j + 1])
                            s10 = s00
                            s11 = s01
                            for k in range(DEPTH):
                                s00 = np.int32(s00 + np.int32(a0[base + k]) * np.int32(w[cb + j, k]))
                                s01 = np.int32(s01 + np.int32(a0[base + k]) * np.int32(w[cb + j + 1, k]))
                                s10 = np.int32(s10 + np.int32(a1[base + k]) * np.int32(w[cb + j, k]))
                                s11 = np.int32(s11 + np.int32(a1[base + k]) * np.int32(w[cb + j + 1, k]))
                            acc[0, j] = s00
                            acc[0, j + 1] = s01
                            acc[PIX - 1, j] = s10
                            acc[PIX - 1, j + 1] = s11
                    elif FORM == 1 and SOURCE != 0:                 # 1 pixel x 2 channels a dot
                        for j in range(0, CO_BLOCK, 2):
                            s0 = np.int32(bias[cb + j])
                            s1 = np.int32(bias[cb + j + 1])
                            for k in range(DEPTH):
                                s0 = np.int32(s0 + np.int32(a0[base + k]) * np.int32(w[cb + j, k]))
                                s1 = np.int32(s1 + np.int32(a0[base + k]) * np.int32(w[cb + j + 1, k]))
                            acc[0, j] = s0
                            acc[0, j + 1] = s1
                    elif FORM == 1:                                 # int16 window, 2 channels a dot
                        for j in range(0, CO_BLOCK, 2):
                            s0 = np.int32(bias[cb + j])
                            s1 = np.int32(bias[cb + j + 1])
                            for k in range(DEPTH):
                                s0 = np.int32(s0 + np.int32(patch16[0, k]) * np.int32(w[cb + j, k]))
                                s1 = np.int32(s1 + np.int32(patch16[0, k]) * np.int32(w[cb + j + 1, k]))
                            acc[0, j] = s0
                            acc[0, j + 1] = s1
                    elif FORM == 2:                         # outer: w [depth, out]
                        for j in range(CO_BLOCK):
                            acc[0, j] = bias[cb + j]
                        for k in range(DEPTH):
                            xv = np.int32(patch16[0, k])
                            for j in range(CO_BLOCK):
                                acc[0, j] = np.int32(acc[0, j] + xv * np.int32(w[k, cb + j]))
                    else:                                   # direct: w [out, depth], taps from x
                        for j in range(CO_BLOCK):
                            s = np.int32(bias[cb + j])
                            for kh in range(K_H):
                                ih = ih0 + kh * dil_h
                                for kw in range(K_W):
                                    iw = ow * stride_w - pad_l + kw * dil_w
                                    if ih >= 0 and ih < in_h and iw >= 0 and iw < in_w:
                                        for ci in range(CIN):
                                            s = np.int32(s + (np.int32(x[n, ih, iw, g * CIN + ci]) - in_zp)
                                                         * np.int32(w[cb + j, (kh * K_W + kw) * CIN + ci]))
                            acc[0, j] = s
                    if ROW == 1 and FORM != 4:
                        for j in range(CO_BLOCK):
                            row[0, cb + j] = acc[0, j]
                    elif ROW == 0:
                        for p in range(PIX):
                            for j in range(min(CO_BLOCK, group_out - b * CO_BLOCK)):
                                y[n, oh if p == 0 else oh1, ow if p == 0 else ow1, cb + j] = output_value(acc[p, j], mult[cb + j], shift[cb + j], out_zp,
                                                                     act_min, act_max, raw)
            if ROW == 1:        # hosts: all of the pixel's channels requantized in one (vectorized) loop
                for co in range(out_c):
                    y[n, oh, ow, co] = output_value(row[0, co], mult[co], shift[co], out_zp, act_min, act_max, raw)


conv2d_int8.uses(requantize_clamp, output_value)


def pack_rows(values: np.ndarray, block: int) -> np.ndarray:
    """Per-output-channel arrays padded by one block, so a last partial block reads in bounds."""
    pad = [(0, block)] + [(0, 0)] * (values.ndim - 1)
    return np.ascontiguousarray(np.pad(values, pad))


def resolve_schedule(S: dict, weights: np.ndarray, bias: np.ndarray, in_zp: int, x_dtype: str,
                     in_place: bool, out_w: int) -> tuple[np.ndarray, np.ndarray]:
    """Resolve the knobs into the schedule ``S`` (kernel constants) and pack for them.

    FORM 0 (auto) → dot for deep windows, outer for shallow ones; direct past MAX_PATCH. WEIGHTS 0
    (auto) → int8 when ``w - w_zp`` fits. SOURCE: in place (``in_place``: a 1x1 window, no padding)
    or a gathered int8 window when the dot form has int8 input and weights (zero point folded into
    the bias), else an int16 window. PIX 2 (two pixels of a row per dot: each weight word serves both)
needs an int8 window and a row of at least two pixels (``out_w``). ``weights`` [out, depth]
int16, ``bias`` int64 [out].
    FORM 4 (host dot) and ROW 1 are for hosts (x86_64.toml sets ROW 1): with ROW 1, FORM 0 picks the
    host dot for deep windows, and every form writes its accumulators into ``row`` so all of a
    pixel's channels are requantized in one vectorized loop (OUT_C = out + block, PIX 1). The host
    dot computes one channel per dot over the int16 window with int16 weights [out, depth]: LLVM
    vectorizes that into vpmaddwd, which the two-channel int8 dots of the MCU form defeat.
    Returns (packed weights, packed int32 bias).
    """
    out_c, depth = weights.shape
    row = int(S.get("ROW", 0))
    form = int(S.get("FORM", 0)) or ((HOST_DOT if row else DOT) if depth >= 64 else OUTER)
    if depth > MAX_PATCH:
        form = DIRECT
    fits8 = weights.size == 0 or (weights.min() >= -128 and weights.max() <= 127)
    wbits = int(S.get("WEIGHTS", 0)) or 8
    if not fits8 or form == HOST_DOT:
        wbits = 16
    if form == HOST_DOT:
        row = 1
    source = GATHER16
    if form == DOT and wbits == 8 and x_dtype == "int8":
        folded = bias - in_zp * weights.sum(axis=1, dtype=np.int64)
        if folded.min(initial=0) >= -2**31 and folded.max(initial=0) < 2**31:
            bias, source = folded, (IN_PLACE if in_place else GATHER8)
    block = int(S["CO_BLOCK"])
    pixels = int(S.get("PIX", 1)) if source != GATHER16 and out_w >= 2 and not row else 1
    S.update(FORM=form, WEIGHTS=wbits, SOURCE=source, PIX=pixels, ROW=row, OUT_C=out_c + block if row else 1,
             DEPTH=depth if form != DIRECT else 1,
             DEPTH8=depth if source == GATHER8 else 1,
             DEPTH16=depth if form != DIRECT and source == GATHER16 else 1)
    padded = pack_rows(weights, block)
    packed = np.ascontiguousarray(padded if form != OUTER else padded.T).astype(np.int8 if wbits == 8 else np.int16)
    return packed, pack_rows(bias, block)


@conv2d_int8.prepare
def _(node, graph, S):
    check_conv2d_nhwc(node, graph)
    weights, bias, mult, shift, in_zp, out_zp, lo, hi, raw = conv_params(node, graph)
    out_c, k_h, k_w, group_in = weights.shape
    block = int(S["CO_BLOCK"])
    geometry = conv_geometry(node)
    pads = node.attrs.get("pads", (0, 0, 0, 0))
    S.update(K_H=int(k_h), K_W=int(k_w), CIN=int(group_in), GROUPS=int(node.attrs.get("group", 1)))
    in_place = k_h == 1 and k_w == 1 and not any(pads)
    x_dtype = graph.tensors[node.inputs[0]].dtype.name
    y = graph.tensors[node.outputs[0]]
    packed, bias = resolve_schedule(S, weights.reshape(out_c, -1), bias, in_zp, x_dtype, in_place, y.shape[2])
    return Call([node.inputs[0], packed, int32_array(bias, "the bias", node), pack_rows(mult, block),
                 pack_rows(shift, block), node.outputs[0]],
                [*geometry, in_zp, out_zp, lo, hi, raw], macs=y.size * k_h * k_w * group_in)
