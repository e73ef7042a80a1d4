"""Conv, int8 (NHWC, weights OHWI int8 per output channel, int32 bias), as TFLite's ConvPerChannel.

y = clamp(MultiplyByQuantizedMultiplier(sum((x - in_zp) * w) + bias, mult[co], shift[co]) + out_zp)

For each output pixel the receptive field is gathered once, as int16 ``x - in_zp`` (0 where the
window leaves the input: what TFLite's skipped taps contribute), into ``patch``, a stack array of
DEPTH = kh * kw * in/groups values in the order of the weights. Weights are packed at convert
time as int16 for one of three forms (schedule knob FORM; 0 = prepare chooses by depth):

- 1, dot: weights [out, depth]; each output channel is one contiguous int16 x int16 → int32 dot
  product, which LLVM turns into vpmaddwd (x86) pairs. Deep windows (depth >= 64).
- 2, outer: weights [depth, out]; CO_BLOCK output channels accumulate side by side in registers,
  one patch value broadcast at a time. Shallow windows (1x1 convs on few channels).
- 3, direct: no patch, taps read from ``x`` (windows too deep for a stack patch, > 16384).

The accumulators of a pixel's channels are requantized together in one vectorized epilogue. No arena scratch: the
patch and the accumulators live on the stack. Prepare writes the resolved FORM and the layer's
window (K_H, K_W, CIN = in/groups, GROUPS, DEPTH, OUT_C) into the node's schedule, so each layer's
kernel is compiled with them as constants: fixed trip counts that LLVM unrolls and vectorizes
(the plan records the resolved schedule; the tunable knobs are FORM and CO_BLOCK).
"""
import numpy as np

from tinyjit import Call, kernel

from ._int8 import conv_params, int32_array, output_value, requantize_clamp
from ._util import check_conv2d_nhwc, conv_geometry
from .primitives import local_array_i16, local_array_i32

DOT, OUTER, DIRECT = 1, 2, 3
MAX_PATCH = 16384


@kernel(op="Conv", dtypes=("int8", "uint8"), schedule={"FORM": (0, 1, 2, 3), "CO_BLOCK": (16, 8, 32),
                                                        "K_H": (1,), "K_W": (1,), "CIN": (1,), "GROUPS": (1,),
                                                        "DEPTH": (1,), "OUT_C": (1,)})
def conv2d_int8(x, w, bias, mult, shift, y, stride_h, stride_w, pad_t, pad_l, dil_h, dil_w,
                in_zp, out_zp, act_min, act_max, raw):
    n_batch, in_h, in_w, _ = x.shape
    _, out_h, out_w, out_c = y.shape
    group_out = out_c // GROUPS
    patch = local_array_i16(1, DEPTH)
    acc = local_array_i32(1, CO_BLOCK)
    row = local_array_i32(1, OUT_C)
    for n in range(n_batch):
        for oh in range(out_h):
            for ow in range(out_w):
                for g in range(GROUPS):
                    if FORM != 3:
                        for kh in range(K_H):
                            ih = oh * stride_h - pad_t + kh * dil_h
                            for kw in range(K_W):
                                iw = ow * stride_w - pad_l + kw * dil_w
                                if ih >= 0 and ih < in_h and iw >= 0 and iw < in_w:
                                    for ci in range(CIN):
                                        patch[0, (kh * K_W + kw) * CIN + ci] = np.int16(
                                            np.int32(x[n, ih, iw, g * CIN + ci]) - in_zp)
                                else:
                                    for ci in range(CIN):
                                        patch[0, (kh * K_W + kw) * CIN + ci] = 0
                    for b in range((group_out + CO_BLOCK - 1) // CO_BLOCK):
                        cb = g * group_out + b * CO_BLOCK
                        if FORM == 1:                           # dot: w [out, depth]
                            for j in range(CO_BLOCK):
                                s = np.int32(0)
                                for k in range(DEPTH):
                                    s = np.int32(s + np.int32(patch[0, k]) * np.int32(w[cb + j, k]))
                                acc[0, j] = s
                        elif FORM == 2:                         # outer: w [depth, out]
                            for j in range(CO_BLOCK):
                                acc[0, j] = 0
                            for k in range(DEPTH):
                                xv = np.int32(patch[0, k])
                                for j in range(CO_BLOCK):
                                    acc[0, j] = np.int32(acc[0, j] + xv * np.int32(w[k, cb + j]))
                        else:                                   # direct: w [out, depth], taps from x
                            for j in range(CO_BLOCK):
                                s = np.int32(0)
                                for kh in range(K_H):
                                    ih = oh * stride_h - pad_t + kh * dil_h
                                    for kw in range(K_W):
                                        iw = ow * stride_w - pad_l + kw * dil_w
                                        if ih >= 0 and ih < in_h and iw >= 0 and iw < in_w:
                                            for ci in range(CIN):
                                                s = np.int32(s + (np.int32(x[n, ih, iw, g * CIN + ci]) - in_zp)
                                                             * np.int32(w[cb + j, (kh * K_W + kw) * CIN + ci]))
                                acc[0, j] = s
                        for j in range(CO_BLOCK):
                            row[0, cb + j] = acc[0, j]
                for co in range(out_c):         # the pixel's epilogue: one vectorized loop
                    y[n, oh, ow, co] = output_value(row[0, co] + bias[co], mult[co], shift[co], out_zp,
                                                    act_min, act_max, raw)


conv2d_int8.uses(requantize_clamp, output_value)


def pack_rows(values: np.ndarray, block: int) -> np.ndarray:
    """Per-output-channel arrays padded by one block, so a last partial block reads in bounds."""
    pad = [(0, block)] + [(0, 0)] * (values.ndim - 1)
    return np.ascontiguousarray(np.pad(values, pad))


def resolve_form(S: dict, depth: int) -> int:
    """FORM 0 (auto) → dot for deep windows, outer for shallow ones; direct past MAX_PATCH.
    Writes the resolved FORM and the patch DEPTH into the schedule ``S``: kernel constants."""
    form = int(S.get("FORM", 0)) or (DOT if depth >= 64 else OUTER)
    if depth > MAX_PATCH:
        form = DIRECT
    S["FORM"] = form
    S["DEPTH"] = depth if form != DIRECT else 1
    return form


def packed_weights(weights: np.ndarray, form: int, block: int) -> np.ndarray:
    """[out, depth] weights as int16 in the layout of ``form`` (outer: transposed)."""
    padded = pack_rows(weights.reshape(weights.shape[0], -1), block)
    return np.ascontiguousarray(padded if form != OUTER else padded.T).astype(np.int16)


@conv2d_int8.prepare
def _(node, graph, S):
    check_conv2d_nhwc(node, graph)
    weights, bias, mult, shift, in_zp, out_zp, lo, hi, raw = conv_params(node, graph)
    out_c, k_h, k_w, group_in = weights.shape
    block = int(S["CO_BLOCK"])
    S.update(K_H=int(k_h), K_W=int(k_w), CIN=int(group_in), GROUPS=int(node.attrs.get("group", 1)),
             OUT_C=out_c + block)
    form = resolve_form(S, k_h * k_w * group_in)
    y = graph.tensors[node.outputs[0]]
    return Call([node.inputs[0], packed_weights(weights, form, block),
                 pack_rows(int32_array(bias, "the bias", node), block), pack_rows(mult, block),
                 pack_rows(shift, block), node.outputs[0]],
                [*conv_geometry(node), in_zp, out_zp, lo, hi, raw], macs=y.size * k_h * k_w * group_in)
