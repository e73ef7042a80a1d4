"""DepthwiseConv, int8 (NHWC, weights per output channel), as TFLite's DepthwiseConvPerChannel.

Weights are packed at convert time to [KH, KW, C]: int8 for the four-lane loop below (MCU
targets), else int16 (faster on x86 hosts), so the inner loop runs over C_BLOCK contiguous
channels: ``x - in_zp`` times the weights accumulate into C_BLOCK int32
registers (a stack tile, no arena scratch), then the requantizing epilogue writes them. Prepare
picks a C_BLOCK that divides the channels and writes it, with the depth multiplier, into the
node's schedule: both are compile-time constants of the kernel.

LANES = 4 (the MCU targets' schedules) computes four channels at a time in four scalar
accumulators over the window clipped to the image once per pixel: registers on a 32-bit core,
and one int8 word of input and weights per tap, which the C lowering turns into
``tj_mac4_i8_i8`` (SXTB16 + SSUB16 + SMLABB/SMLATT on Armv7E-M).
"""
import numpy as np

from tinyjit import Call, kernel

from ._int8 import conv_params, int32_array, output_value, requantize_clamp
from ._util import check_conv2d_nhwc, conv_geometry
from .primitives import local_array_i32


@kernel(op="DepthwiseConv", dtypes=("int8", "uint8"), schedule={"C_BLOCK": (16, 8, 32), "LANES": (0, 4),
                                                                 "MULTIPLIER": (1,), "OUT_C": (1,)})
def depthwise_conv2d_int8(x, w, bias, mult, shift, y, stride_h, stride_w, pad_t, pad_l, dil_h, dil_w,
                          in_zp, out_zp, act_min, act_max, raw):
    n_batch, in_h, in_w, in_c = x.shape
    _, out_h, out_w, out_c = y.shape
    k_h, k_w, _ = w.shape
    acc = local_array_i32(1, C_BLOCK)
    row = local_array_i32(1, OUT_C)
    for n in range(n_batch):
        for oh in range(out_h):
            for ow in range(out_w):
                if LANES == 4:      # four channels in four scalars (registers), over the window clipped once
                    ih0 = oh * stride_h - pad_t
                    iw0 = ow * stride_w - pad_l
                    kh_lo = max(0, (dil_h - 1 - ih0) // dil_h)
                    kh_hi = min(k_h, (in_h - 1 - ih0) // dil_h + 1)
                    kw_lo = max(0, (dil_w - 1 - iw0) // dil_w)
                    kw_hi = min(k_w, (in_w - 1 - iw0) // dil_w + 1)
                    for c in range(0, out_c, 4):
                        s0 = np.int32(bias[c])
                        s1 = np.int32(bias[c + 1])
                        s2 = np.int32(bias[c + 2])
                        s3 = np.int32(bias[c + 3])
                        for kh in range(kh_lo, kh_hi):
                            ih = ih0 + kh * dil_h
                            for kw in range(kw_lo, kw_hi):
                                iw = iw0 + kw * dil_w
                                s0 = np.int32(s0 + (np.int32(x[n, ih, iw, c]) - in_zp) * np.int32(w[kh, kw, c]))
                                s1 = np.int32(s1 + (np.int32(x[n, ih, iw, c + 1]) - in_zp) * np.int32(w[kh, kw, c + 1]))
                                s2 = np.int32(s2 + (np.int32(x[n, ih, iw, c + 2]) - in_zp) * np.int32(w[kh, kw, c + 2]))
                                s3 = np.int32(s3 + (np.int32(x[n, ih, iw, c + 3]) - in_zp) * np.int32(w[kh, kw, c + 3]))
                        acc[0, 0] = s0
                        acc[0, 1] = s1
                        acc[0, 2] = s2
                        acc[0, 3] = s3
                        for j in range(4):
                            y[n, oh, ow, c + j] = output_value(acc[0, j], mult[c + j], shift[c + j], out_zp,
                                                               act_min, act_max, raw)
                else:
                    for cb in range(0, out_c, C_BLOCK):
                        for j in range(C_BLOCK):
                            acc[0, j] = bias[cb + j]
                        for kh in range(k_h):
                            ih = oh * stride_h - pad_t + kh * dil_h
                            if ih < 0 or ih >= in_h:
                                continue
                            for kw in range(k_w):
                                iw = ow * stride_w - pad_l + kw * dil_w
                                if iw < 0 or iw >= in_w:
                                    continue
                                for j in range(C_BLOCK):
                                    acc[0, j] = np.int32(acc[0, j] + (np.int32(x[n, ih, iw, (cb + j) // MULTIPLIER]) - in_zp)
                                                         * np.int32(w[kh, kw, cb + j]))
                        for j in range(C_BLOCK):
                            row[0, cb + j] = acc[0, j]
                    for c in range(out_c):          # the pixel's epilogue: one vectorized loop
                        y[n, oh, ow, c] = output_value(row[0, c], mult[c], shift[c], out_zp, act_min, act_max, raw)


depthwise_conv2d_int8.uses(requantize_clamp, output_value)


@depthwise_conv2d_int8.prepare
def _(node, graph, S):
    check_conv2d_nhwc(node, graph)
    weights, bias, mult, shift, in_zp, out_zp, lo, hi, raw = conv_params(node, graph)   # O H W 1
    out_c = weights.shape[0]
    in_c = graph.tensors[node.inputs[0]].shape[3]
    # the channel block divides the channels (no tail) and the depth multiplier is a constant
    block = int(S["C_BLOCK"])
    while out_c % block:
        block //= 2
    packed = np.ascontiguousarray(weights[..., 0].transpose(1, 2, 0))               # H W C
    fits8 = packed.size == 0 or (packed.min() >= -128 and packed.max() <= 127)
    # four lanes: one int8 word of input and of weights per tap (the C lowering's tj_mac4_i8_i8); the
    # host loop (LANES 0) keeps int16 weights, measured faster on x86 (int8 ones widen to vpmulld)
    lanes = 4 if int(S.get("LANES", 0)) == 4 and out_c == in_c and out_c % 4 == 0 and fits8 else 0
    S.update(C_BLOCK=block if not lanes else 4, LANES=lanes, MULTIPLIER=out_c // in_c, OUT_C=out_c if not lanes else 1)
    y = graph.tensors[node.outputs[0]]
    return Call([node.inputs[0], packed.astype(np.int8 if lanes else np.int16), int32_array(bias, "the bias", node), mult, shift,
                 node.outputs[0]], [*conv_geometry(node), in_zp, out_zp, lo, hi, raw],
                macs=y.size * weights.shape[1] * weights.shape[2])
