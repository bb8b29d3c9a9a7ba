"""Conv2D (group = 1 or grouped): the twin of firmware/kernels/mcugen_conv_{s8,s4,s16}.c and of the
fast int8 kernels mcugen_conv_1x1_s8.c (pointwise; mcugen_conv_1x1_sparse_s8.c when ops/sparse.py
stores its zero weights sparse) and mcugen_conv_im2col_s8.c (every other int8
conv), which compute the same integers with the bias folded and the weights rearranged at compile
time (see `fast_kernel`, `pair_rows`).

  acc[oy,ox,oc] = bias[oc] + sum_{ky,kx,ic in group(oc)} (x[iy,ix,ic] - zp_in) * w[oc,ky,kx,ic]
  y = clamp(zp_out + requantize(acc, multiplier[oc], shift[oc]), act_min, act_max)
Padded positions are skipped, i.e. they hold the real value 0. Weights are OHWI, per-channel.
Variants (see `weighted_kernel`): s8 = int8 activations and weights; s4 = int8 activations,
int4 weights packed two per byte; s16 = int16 activations (zero point 0), int8 weights, int64
bias and accumulator, requantize_s64.

Weight-only mode (float32 activations; kernels conv_f32_w8 / conv_f32_w4, see `run_f32`):
  acc = 0.0f; for ky, kx, ic (in that order, padding skipped): acc += x[iy,ix,ic] * (float)w[oc,ky,kx,ic]
  y = clamp(acc * scale[oc] + bias[oc], act_min, act_max)
every product and sum rounded to float32. The numpy twin adds the padded positions' products
0 * w = +/-0 instead of skipping them: acc starts at +0 and a float sum is -0 only when both
terms are -0, so acc is never -0 and adding +/-0 leaves it unchanged, bit for bit.
"""

from __future__ import annotations

import numpy as np

from mcugen.errors import McugenError
from mcugen.ir import Graph, Node, Tensor
from mcugen.ops.codebook import cluster
from mcugen.ops.fixedpoint import requantize, requantize_s64
from mcugen.ops.float32 import F32, clamp_f32, float_bounds, ordered_matmul
from mcugen.ops.obs import gptq_codes

from .base import (
    ACCUMULATOR_LIMIT,
    INPUT_BOUND,
    ConstRef,
    KernelCall,
    Op,
    accumulator_safe_bias,
    activation_bounds,
    apply_float_activation,
    bias_clamp_effect,
    exact_matmul,
    output_multipliers,
    per_channel_weights,
    quantize_bias,
    register,
    weight_scale_floor,
    window_patches,
)
from .sparse import sparse_fields


def grouped_conv(patches: np.ndarray, w: np.ndarray, groups: int, matmul) -> np.ndarray:
    """patches [N,OH,OW,KH,KW,C] with OHWI weights → [N,OH,OW,O], group by group."""
    n, oh, ow, kh, kw, c = patches.shape
    o = w.shape[0]
    cg, og = c // groups, o // groups
    outs = []
    for g in range(groups):
        cols = patches[..., g * cg:(g + 1) * cg].reshape(n * oh * ow, kh * kw * cg)
        wg = w[g * og:(g + 1) * og].reshape(og, kh * kw * cg)
        outs.append(matmul(cols, wg.T))
    return np.concatenate(outs, axis=1).reshape(n, oh, ow, o)


def conv_geometry(node: Node) -> dict:
    a = node.attrs
    return dict(strides=tuple(a["strides"]), dilations=tuple(a["dilations"]), pads=tuple(a["pads"]))


def quantize_weighted(node: Node, graph: Graph, weight_axis: int = 0) -> None:
    """Shared by conv, depthwise conv and fully connected: per-channel weights of node.q["weight_bits"]
    (8 or 4), bias (int32, or int64 for int16 activations), multipliers and the output clamp.

    Every constant is made to be representable (ops/base.py): weight scales are at least
    `weight_scale_floor`, so a dead channel keeps its bias and multiplier; the bias is rounded with
    saturation and then clamped so that the accumulator cannot overflow (`accumulator_safe_bias`),
    with a warning when that clamp moves an output by more than half a step; and
    `check_weighted_constants` proves every constant dequantizes back to its float value."""
    x, w = graph.tensors[node.inputs[0]], graph.tensors[node.inputs[1]]
    y = graph.tensors[node.outputs[0]]
    bits = node.q.setdefault("weight_bits", 8)
    bias = graph.const(node.inputs[2]) if len(node.inputs) > 2 else None
    fixed_scale = graph.fixed_weight_scales.get(w.name) if bits == 8 else None
    wide = y.dtype == "int16"
    bias_bits = 64 if wide else 32
    channels = w.data.shape[weight_axis]
    floor = weight_scale_floor(w.data, bias, x.scale, y.scale, weight_axis, bits, bias_bits)
    wq, wscale = per_channel_weights(w.data, axis=weight_axis, bits=bits, scale=fixed_scale, min_scale=floor)
    checked = w.data
    hessian = graph.input_hessians.get(node.name) if fixed_scale is None else None
    # a plan's per-layer codebook (LayerPrecision.codebook), else the model-wide --codebook
    levels = (node.q.get("codebook_levels") or graph.weight_codebook) \
        if node.op == "fully_connected" and bits == 8 and not wide and fixed_scale is None else 0
    if levels:  # --codebook: the codes restricted to the layer's k-means levels (ops/codebook.py)
        codebook, indices = cluster(w.data / wscale[:, None], levels)
        wq = codebook[indices]
        checked = wq * wscale[:, None]  # the levels are the weights now (see the GPTQ branch)
        node.q["codebook"] = graph.add_constant(f"{node.name}_codebook", codebook).name
        node.q["codebook_index"] = graph.add_constant(f"{node.name}_codebook_index", indices.astype(np.uint8)).name
    elif hessian is not None:  # --reconstruct: GPTQ rounding on the same scales (ops/obs.py)
        rows = np.moveaxis(w.data, weight_axis, 0).reshape(channels, -1)
        codes = gptq_codes(rows, hessian, wscale, 2 ** (bits - 1) - 1)
        wq = np.moveaxis(codes.reshape(np.moveaxis(w.data, weight_axis, 0).shape), 0, weight_axis).astype(np.int8)
        # The codes are the weights now: their rounding error was spread on purpose, so the checks
        # below judge the constants against the reconstructed weights. Bias correction removes the
        # mean error left; with it on, H is the inputs' covariance (quant/reconstruct.py), so GPTQ
        # fits the part no bias can (measured w4a8: digits CNN 28.3 -> 30.7 dB, MLP 27.2 -> 31.6 dB).
        checked = wq * wscale.reshape([-1 if i == weight_axis else 1 for i in range(w.data.ndim)])
    bias = corrected_bias(node, graph, bias, wq, wscale, fixed_scale is not None)
    multiplier, shift = output_multipliers(x.scale, wscale, y.scale)
    if wide and np.any(shift > 14):
        raise McugenError(f"layer {node.name!r}: its input, weight and output scales are too far apart for "
                          "16-bit activations; keep this layer at 8-bit activations")
    act_min, act_max = activation_bounds(node, y.scale, y.zero_point, y.dtype)
    weight_abs_sum = np.abs(wq.astype(np.int64)).reshape(channels, -1).sum(axis=1)
    worst = int(np.argmax(weight_abs_sum))
    if INPUT_BOUND[bias_bits] * int(weight_abs_sum[worst]) > ACCUMULATOR_LIMIT[bias_bits]:
        raise McugenError(f"layer {node.name!r}: output channel {worst} sums {weight_abs_sum[worst]} weight "
                          f"steps, so its int{bias_bits} accumulator could overflow whatever the bias; split "
                          "the layer into smaller ones (fewer inputs per output)")
    bias_q = quantize_bias(bias, x.scale, wscale, channels, bias_bits)
    safe_bias = accumulator_safe_bias(bias_q, weight_abs_sum, bias_bits)
    real_multiplier = x.scale * wscale / y.scale
    rounded_bias = np.round((np.zeros(channels) if bias is None else np.asarray(bias, np.float64).reshape(-1))
                            / (float(x.scale) * wscale))  # in accumulator steps, before any saturation
    moved = bias_clamp_effect(rounded_bias, safe_bias, INPUT_BOUND[bias_bits] * weight_abs_sum, real_multiplier,
                              y.zero_point, act_min, act_max)
    if np.any(moved > 0.5):
        c = int(np.argmax(moved))
        graph.notes.append(f"layer {node.name!r}: the bias of {int(np.sum(moved > 0.5))} output channel(s) was "
                           f"narrowed so that the int{bias_bits} accumulator cannot overflow, which moves some "
                           f"outputs of channel {c} by up to {moved[c]:.1f} steps")
    check_weighted_constants(node, checked, wq, wscale, weight_axis, bits, fixed_scale is not None,
                             bias, safe_bias, x.scale, real_multiplier, multiplier, shift, bias_bits)
    wt = graph.add_constant(f"{node.name}_weights", wq)
    wt.scale = wscale
    if bits == 4:
        wt.dtype = "int4"  # codes kept unpacked here; the emitter packs them (ops.base.pack_int4)
    node.q.update(
        weights=wt.name,
        bias=graph.add_constant(f"{node.name}_bias", safe_bias).name,
        multiplier=graph.add_constant(f"{node.name}_multiplier", multiplier).name,
        shift=graph.add_constant(f"{node.name}_shift", shift).name,
        input_offset=-x.zero_point,
        output_offset=y.zero_point,
        act_min=act_min,
        act_max=act_max,
    )


def check_weighted_constants(node: Node, w: np.ndarray, wq: np.ndarray, wscale: np.ndarray, weight_axis: int,
                             bits: int, prequantized: bool, bias: np.ndarray | None, bias_q: np.ndarray,
                             input_scale: float, real_multiplier: np.ndarray, multiplier: np.ndarray,
                             shift: np.ndarray, bias_bits: int) -> None:
    """Refuse (McugenError naming the layer) to emit integer constants that do not dequantize back
    to the float values they came from: every weight within half a step of its float value
    (or saturated to the end of the range with the right sign, where int4 clipping or a given
    scale puts it outside), the bias within half a step unless accumulator_safe_bias narrowed it
    (then at that bound, with the right sign), and the Q31 multiplier within 2**-30 of the real
    one. quantize_multiplier's two saturations are accepted because they cannot change an output:
    0 for a real multiplier below 2**-32 (|acc| * M < 0.5 for every int32 acc; weight_scale_floor
    keeps int16 layers, whose acc may reach 2**47, above 2**-31 unless a pre-quantized model fixed
    the scale, which is then checked here), and (2**31 - 1, 30) for one of 2**30 or more (any
    nonzero acc saturates the output either way)."""
    name = node.name
    codes = check_weight_codes(name, w, wq, wscale, weight_axis, bits, prequantized)
    if bias is not None and not np.all(np.isfinite(bias)):
        raise McugenError(f"layer {name!r}: its bias contains NaN or infinity; fix the model")
    channels = len(wscale)
    exact = (np.zeros(channels) if bias is None else np.asarray(bias, np.float64).reshape(-1)) \
        / (float(input_scale) * wscale)
    bound = ACCUMULATOR_LIMIT[bias_bits] - INPUT_BOUND[bias_bits] * np.abs(codes).sum(axis=1)
    b = bias_q.astype(np.int64)
    at_bound = (np.abs(b) == bound) & ((np.sign(b) == np.sign(exact)) | (bound == 0)) & (np.abs(exact) >= bound)
    bad_bias = ~((np.abs(b - exact) <= 0.5 + 1e-9 * np.abs(exact)) | at_bound) | (np.abs(b) > bound)
    if np.any(bad_bias):
        raise McugenError(f"layer {name!r}: the bias of output channel {int(np.argmax(bad_bias))} does not fit its "
                          f"int{bias_bits} accumulator; please report this with the model")
    stored = multiplier.astype(np.float64) * np.exp2(shift.astype(np.float64) - 31)
    largest_acc = np.abs(b) + INPUT_BOUND[bias_bits] * np.abs(codes).sum(axis=1)
    zeroed_harmlessly = (multiplier == 0) & (real_multiplier * largest_acc < 0.5)
    saturated_harmlessly = (multiplier == 2**31 - 1) & (shift == 30) & (real_multiplier >= 2.0**30)
    accurate = np.abs(stored - real_multiplier) <= real_multiplier * 2.0**-30
    bad_multiplier = ~(accurate | zeroed_harmlessly | saturated_harmlessly)
    if np.any(bad_multiplier):
        c = int(np.argmax(bad_multiplier))
        raise McugenError(f"layer {name!r}: the output multiplier of channel {c} ({real_multiplier[c]:.3g}) cannot "
                          "be represented; its input, weight and output scales are too far apart")


def corrected_bias(node: Node, graph: Graph, bias: np.ndarray | None, wq: np.ndarray, wscale: np.ndarray,
                   prequantized: bool) -> np.ndarray | None:
    """The float bias minus the mean error the rounded weights add (bias_correction.py), when the
    calibration measured this layer's mean input; a pre-quantized model's weights keep theirs."""
    mean = graph.input_means.get(node.name)
    if mean is None or prequantized:
        return bias
    w = graph.tensors[node.inputs[1]].data
    dequantized = wq * wscale.reshape([-1] + [1] * (w.ndim - 1))
    correction = bias_correction(node, w, dequantized, mean)
    return (np.zeros(len(correction)) if bias is None else bias.reshape(-1).astype(np.float64)) - correction


def bias_correction(node: Node, w: np.ndarray, w_quantized: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """dW · E[x] per output channel, for the float weights w and their dequantized values (the
    float graph's layout: OHWI for conv and depthwise conv, [out, in] for fully connected)."""
    dw = w_quantized.astype(np.float64) - w.astype(np.float64)
    if node.op == "fully_connected":
        return dw @ mean
    out_c, in_per_group = dw.shape[0], dw.shape[3]
    groups = mean.shape[2] // in_per_group
    group_of = np.arange(out_c) // (out_c // groups)
    windows = mean.reshape(*mean.shape[:2], groups, in_per_group)[:, :, group_of]  # [KH, KW, O, I/g]
    return np.einsum("ohwi,hwoi->o", dw, windows)


def quantized_fields(q: dict) -> dict:
    """The kernel-struct fields every weighted layer (conv, depthwise, fully connected) shares."""
    return dict(input_offset=q["input_offset"], output_offset=q["output_offset"],
                act_min=q["act_min"], act_max=q["act_max"],
                weights=ConstRef(q["weights"]), bias=ConstRef(q["bias"]),
                multiplier=ConstRef(q["multiplier"]), shift=ConstRef(q["shift"]))


def weighted_kernel(node: Node, graph: Graph, base: str) -> str:
    """conv → conv_s8, conv_s4 (int4 weights) or conv_s16 (int16 activations)."""
    if graph.tensors[node.outputs[0]].dtype == "int16":
        if node.q.get("weight_bits", 8) == 4:
            raise McugenError(f"layer {node.name!r}: int4 weights with int16 activations (w4a16) are not "
                              "supported; give it w4a8 or w8a16")
        return f"{base}_s16"
    return f"{base}_s4" if node.q.get("weight_bits", 8) == 4 else f"{base}_s8"


def finish_int(node: Node, graph: Graph, acc: np.ndarray) -> np.ndarray:
    """Bias, requantize, output offset and clamp: the tail every weighted kernel shares."""
    q = node.q
    y_dtype = graph.tensors[node.outputs[0]].dtype
    acc = acc + graph.const(q["bias"]).astype(np.int64)
    if y_dtype == "int16":
        y = requantize_s64(acc, graph.const(q["multiplier"]), graph.const(q["shift"]))
    else:
        y = requantize(acc, graph.const(q["multiplier"]), graph.const(q["shift"]),
                       node.attrs.get("single_rounding", False) and node.q.get("weight_bits", 8) == 8)
    y = y + q["output_offset"]
    return np.clip(y, q["act_min"], q["act_max"]).astype(y_dtype)


def check_weight_codes(name: str, w: np.ndarray, wq: np.ndarray, wscale: np.ndarray, weight_axis: int,
                       bits: int, prequantized: bool) -> np.ndarray:
    """Every weight code dequantizes to within half a step of its float weight, or is saturated at
    the end of the range with the weight's sign where the weight lies beyond it (int4 clipping, a
    pre-quantized model's scale). Returns the codes as [channels, K] int64."""
    if not np.all(np.isfinite(w)):
        raise McugenError(f"layer {name!r}: its weights contain NaN or infinity; fix the model")
    if not np.all(np.isfinite(wscale) & (wscale > 0)):
        raise McugenError(f"layer {name!r}: a weight scale is zero, negative or not finite; fix the model's "
                          "quantization parameters")
    channels = len(wscale)
    rows = np.moveaxis(w.astype(np.float64), weight_axis, 0).reshape(channels, -1)
    codes = np.moveaxis(wq.astype(np.int64), weight_axis, 0).reshape(channels, -1)
    step = wscale[:, None]
    qmax = 2 ** (bits - 1) - 1
    qmin = -qmax - 1 if prequantized else -qmax
    inside = (rows >= (qmin - 0.5) * step) & (rows <= (qmax + 0.5) * step)
    close = np.abs(codes * step - rows) <= step * (0.5 + 1e-6)
    saturated = np.where(rows > 0, codes == qmax, codes == qmin)
    bad = np.where(inside, ~close, ~saturated).any(axis=1)
    if np.any(bad):
        raise McugenError(f"layer {name!r}: the weights of output channel {int(np.argmax(bad))} do not "
                          "dequantize back to their float values; please report this with the model")
    return codes


def quantize_weighted_f32(node: Node, graph: Graph) -> None:
    """Weight-only: per-channel int8/int4 weight codes, float32 scales and bias, the float clamp.

    The scales are at least float32's smallest normal number, so a dead channel's scale (max|w|
    ~ 1e-30 in VWW, or smaller) neither flushes to zero nor loses bits as a subnormal; the float32
    scale and bias are checked to be finite (a bias correction past FLT_MAX is refused, not cast)."""
    w = graph.tensors[node.inputs[1]]
    bits = node.q.setdefault("weight_bits", 8)
    bias = graph.const(node.inputs[2]) if len(node.inputs) > 2 else None
    fixed_scale = graph.fixed_weight_scales.get(w.name) if bits == 8 else None
    wq, wscale = per_channel_weights(w.data, axis=0, bits=bits, scale=fixed_scale,
                                     min_scale=float(np.finfo(F32).tiny))
    bias = corrected_bias(node, graph, bias, wq, wscale, fixed_scale is not None)
    check_weight_codes(node.name, w.data, wq, wscale, 0, bits, fixed_scale is not None)
    float_max = float(np.finfo(F32).max)
    if bias is not None and not np.all(np.abs(np.asarray(bias, np.float64)) <= float_max):
        raise McugenError(f"layer {node.name!r}: its bias is NaN, infinite or beyond float32's range; fix the model")
    if not np.all(wscale <= float_max):
        raise McugenError(f"layer {node.name!r}: a weight scale is beyond float32's range; fix the model's "
                          "quantization parameters")
    wt = graph.add_constant(f"{node.name}_weights", wq)
    wt.scale = wscale
    if bits == 4:
        wt.dtype = "int4"  # codes kept unpacked here; the emitter packs them (ops.base.pack_int4)
    bias = np.zeros(len(wscale), F32) if bias is None else bias.astype(F32).reshape(-1)
    node.q.update(weights=wt.name,
                  scale=graph.add_constant(f"{node.name}_scale", wscale.astype(F32)).name,
                  bias=graph.add_constant(f"{node.name}_bias", bias).name)
    node.q["act_min"], node.q["act_max"] = float_bounds(node.attrs)


def f32_fields(node: Node) -> dict:
    """The kernel-struct fields every weight-only layer shares."""
    q = node.q
    return dict(act_min=q["act_min"], act_max=q["act_max"], weights=ConstRef(q["weights"]),
                scale=ConstRef(q["scale"]), bias=ConstRef(q["bias"]))


def f32_kernel(node: Node, base: str) -> str:
    """conv → conv_f32_w8 or conv_f32_w4: float32 activations, 8- or 4-bit weights."""
    return f"{base}_f32_w{node.q.get('weight_bits', 8)}"


def finish_f32(node: Node, graph: Graph, acc: np.ndarray) -> np.ndarray:
    """y = clamp(acc * scale + bias, act_min, act_max): two float32 roundings, then the clamp."""
    q = node.q
    y = acc * graph.const(q["scale"]) + graph.const(q["bias"])
    return clamp_f32(y, q["act_min"], q["act_max"])


def conv_shape_fields(node: Node, graph: Graph, kernel_hw: tuple[int, int]) -> dict:
    x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
    a = node.attrs
    return dict(input_h=x.shape[1], input_w=x.shape[2], input_c=x.shape[3],
                output_h=y.shape[1], output_w=y.shape[2], output_c=y.shape[3],
                kernel_h=kernel_hw[0], kernel_w=kernel_hw[1],
                stride_h=a["strides"][0], stride_w=a["strides"][1],
                dilation_h=a["dilations"][0], dilation_w=a["dilations"][1],
                pad_top=a["pads"][0], pad_left=a["pads"][1])


# --- the fast int8 kernels (mcugen_conv_1x1_s8, mcugen_conv_im2col_s8) ---------------------------
# They compute the same integers as run_int, rearranged at compile time:
#   * bias folded: acc = (bias + input_offset * sum(w)) + sum(x * w), an exact integer identity
#     (padded positions of the im2col kernel then hold the input zero point, x + input_offset = 0);
#   * weights of each pair of output channels of a group interleaved four by four (pair_rows), the
#     order mcugen_conv_gemm_s8.h reads them in.

def fast_kernel(node: Node, graph: Graph) -> str | None:
    """conv_1x1_s8 for a pointwise layer (1x1, group 1, no padding), else conv_im2col_s8; None
    (the plain conv_s8) unless every partial sum of the folded form stays within int32
    (|folded bias| + 128 * sum|w| < 2^31)."""
    w = graph.const(node.q["weights"])
    a = node.attrs
    folded = folded_bias_values(node, graph)
    worst = np.abs(folded) + 128 * np.abs(w.reshape(w.shape[0], -1).astype(np.int64)).sum(axis=1)
    if np.any(worst > 2**31 - 1):
        return None
    if w.shape[1:3] == (1, 1) and a["group"] == 1 and not any(a["pads"]):
        return "conv_1x1_s8"
    return "conv_im2col_s8"


def int8_kernel(node: Node, graph: Graph) -> str:
    """The kernel of a quantized conv layer with int8 activations: a fast one when it applies
    (conv_1x1_s4 for a pointwise layer with int4 weights), else conv_s8 / conv_s4; conv_s16 for
    int16 activations (no fast variant yet)."""
    kernel = weighted_kernel(node, graph, "conv")
    if kernel not in ("conv_s8", "conv_s4") or graph.tensors[node.outputs[0]].dtype != "int8":
        return kernel
    fast = fast_kernel(node, graph)
    if kernel == "conv_s4":  # int4 weights: the pointwise kernel unpacks each channel pair once
        return "conv_1x1_s4" if fast == "conv_1x1_s8" else kernel
    return fast or kernel


def im2col_scratch(node: Node, graph: Graph) -> str:
    """The scratch tensor of mcugen_conv_im2col_s8 (two windows of one group, each padded to a
    multiple of 4 bytes: mcugen_conv_im2col_s8_buffer_size) or of mcugen_conv_1x1_s4 (a channel
    pair's unpacked weights, the same 2 * input_c bytes), made on first use."""
    w = graph.tensors[node.q["weights"]]
    n = int(np.prod(w.shape[1:]))
    size = 2 * (padded_row(n) if int8_kernel(node, graph) == "conv_im2col_s8" else n)
    name = node.q.get("scratch") or graph.unique_name(f"{node.name}_im2col")
    node.q["scratch"] = name
    graph.add_tensor(Tensor(name, (size,), "int8"))
    return name


def folded_bias_values(node: Node, graph: Graph) -> np.ndarray:
    """bias[oc] + input_offset * sum of channel oc's weights, as int64."""
    w = graph.const(node.q["weights"]).astype(np.int64)
    return (graph.const(node.q["bias"]).astype(np.int64)
            + node.q["input_offset"] * w.reshape(w.shape[0], -1).sum(axis=1))


def padded_row(n: int) -> int:
    """The im2col kernel's window length: n rounded up to a multiple of 4, so the SMLAD loop has no
    scalar tail (the extra weights are 0, so whatever the extra window bytes hold adds nothing)."""
    return (n + 3) // 4 * 4


def pair_rows(w: np.ndarray, groups: int) -> np.ndarray:
    """[O, n] weight rows → the flat layout of mcugen_conv_gemm_s8.h: within each group, channels
    2j and 2j+1 as blocks u[4b:4b+4] v[4b:4b+4] for every whole block b, then the n % 4 tails
    u[..] v[..]; an odd last channel of a group stays a plain row. Channel oc still starts at oc * n."""
    o, n = w.shape
    per_group = o // groups
    whole = n - n % 4
    out = []
    for g in range(groups):
        rows = w[g * per_group:(g + 1) * per_group]
        for j in range(0, per_group - 1, 2):
            u, v = rows[j], rows[j + 1]
            blocks = np.stack([u[:whole].reshape(-1, 4), v[:whole].reshape(-1, 4)], axis=1).reshape(-1)
            out += [blocks, u[whole:], v[whole:]]
        if per_group % 2:
            out.append(rows[-1])
    return np.concatenate(out)


def derived_constant(node: Node, graph: Graph, key: str, make) -> str:
    """A constant the kernel wants computed from this layer's quantized ones (made once per
    quantization: cached in node.q, keyed by the weights and bias it came from)."""
    source = (node.q["weights"], node.q["bias"])
    cached = node.q.get(key)
    if cached and cached[0] == source and cached[1] in graph.tensors:
        return cached[1]
    name = graph.add_constant(f"{node.name}_{key}", make()).name
    node.q[key] = (source, name)
    return name


def folded_bias(node: Node, graph: Graph) -> str:
    return derived_constant(node, graph, "bias_folded",
                            lambda: folded_bias_values(node, graph).astype(np.int32))


def paired_weights(node: Node, graph: Graph, pad: bool = False) -> str:
    """The weights in pair_rows order; with pad (the im2col kernel), each row first padded with
    zeros to padded_row(n)."""
    source = graph.tensors[node.q["weights"]]
    w = source.data

    def make() -> np.ndarray:
        rows = w.reshape(w.shape[0], -1)
        if pad:
            rows = np.pad(rows, ((0, 0), (0, padded_row(rows.shape[1]) - rows.shape[1])))
        return pair_rows(rows, node.attrs["group"])

    name = derived_constant(node, graph, "weights_paired4" if pad else "weights_paired", make)
    graph.tensors[name].dtype = source.dtype  # int4 codes stay int4: the emitter packs them
    return name


@register
class Conv(Op):
    name = "conv"
    fuses_activation = True

    def run_float(self, node, graph, xs):
        x, w = xs[0], xs[1]
        geo = conv_geometry(node)
        patches = window_patches(x, w.shape[1:3], geo["strides"], geo["dilations"], geo["pads"], 0.0)
        y = grouped_conv(patches, w, node.attrs["group"], lambda a, b: a @ b)
        if len(xs) > 2:
            y = y + xs[2]
        return apply_float_activation(node, y).astype(np.float32)

    def quantize(self, node, graph):
        quantize_weighted(node, graph)

    def run_int(self, node, graph, xs):
        w = graph.const(node.q["weights"])
        geo = conv_geometry(node)
        x = xs[0].astype(np.int64) + node.q["input_offset"]
        patches = window_patches(x, w.shape[1:3], geo["strides"], geo["dilations"], geo["pads"], 0)
        return finish_int(node, graph, grouped_conv(patches, w, node.attrs["group"], exact_matmul))

    def scratch(self, node, graph):
        if "multiplier" not in node.q or int8_kernel(node, graph) not in ("conv_im2col_s8", "conv_1x1_s4"):
            return None
        return im2col_scratch(node, graph)

    def sparse_weights(self, node, graph):
        if "multiplier" not in node.q or graph.tensors[node.outputs[0]].dtype != "int8" \
                or int8_kernel(node, graph) != "conv_1x1_s8":
            return None
        w = graph.tensors[node.q["weights"]]
        return w.name, w.size, "conv_1x1_sparse_s8"  # pair_rows keeps one byte a weight

    def kernel_calls(self, node, graph):
        w = graph.tensors[node.q["weights"]]
        kernel = int8_kernel(node, graph)
        if kernel == "conv_im2col_s8":
            fields = dict(**conv_shape_fields(node, graph, w.shape[1:3]), groups=node.attrs["group"],
                          **quantized_fields(node.q))
            fields.update(weights=ConstRef(paired_weights(node, graph, pad=True)),
                          bias=ConstRef(folded_bias(node, graph)))
            return [KernelCall(kernel, fields, [node.inputs[0], node.outputs[0], im2col_scratch(node, graph)])]
        if kernel in ("conv_1x1_s8", "conv_1x1_s4"):
            x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
            q = node.q
            sparse = sparse_fields(graph, node) if kernel == "conv_1x1_s8" else None
            if sparse is not None:  # the same sum over the nonzero weights only (ops/sparse.py)
                return [KernelCall("conv_1x1_sparse_s8", dict(
                    input_w=x.shape[2], input_c=x.shape[3], output_h=y.shape[1], output_w=y.shape[2],
                    output_c=y.shape[3], stride_h=node.attrs["strides"][0], stride_w=node.attrs["strides"][1],
                    output_offset=q["output_offset"], act_min=q["act_min"], act_max=q["act_max"], **sparse,
                    bias=ConstRef(folded_bias(node, graph)), multiplier=ConstRef(q["multiplier"]),
                    shift=ConstRef(q["shift"])), [node.inputs[0], node.outputs[0]])]
            args = [node.inputs[0], node.outputs[0]]
            if kernel == "conv_1x1_s4":
                args.append(im2col_scratch(node, graph))
            return [KernelCall(kernel, dict(
                input_w=x.shape[2], input_c=x.shape[3], output_h=y.shape[1], output_w=y.shape[2],
                output_c=y.shape[3], stride_h=node.attrs["strides"][0], stride_w=node.attrs["strides"][1],
                output_offset=q["output_offset"], act_min=q["act_min"], act_max=q["act_max"],
                weights=ConstRef(paired_weights(node, graph)), bias=ConstRef(folded_bias(node, graph)),
                multiplier=ConstRef(q["multiplier"]), shift=ConstRef(q["shift"])), args)]
        return [KernelCall(kernel, dict(
            **conv_shape_fields(node, graph, w.shape[1:3]), groups=node.attrs["group"],
            **quantized_fields(node.q)), [node.inputs[0], node.outputs[0]])]

    weight_only = True

    def quantize_f32(self, node, graph):
        quantize_weighted_f32(node, graph)

    def run_f32(self, node, graph, xs):
        w = graph.const(node.q["weights"]).astype(F32)
        geo = conv_geometry(node)
        x = xs[0].astype(F32, copy=False)
        patches = window_patches(x, w.shape[1:3], geo["strides"], geo["dilations"], geo["pads"], 0.0)
        return finish_f32(node, graph, grouped_conv(patches, w, node.attrs["group"], ordered_matmul))

    def kernel_calls_f32(self, node, graph):
        w = graph.tensors[node.q["weights"]]
        return [KernelCall(f32_kernel(node, "conv"), dict(
            **conv_shape_fields(node, graph, w.shape[1:3]), groups=node.attrs["group"], **f32_fields(node)),
            [node.inputs[0], node.outputs[0]])]

    def macs(self, node, graph):
        w = graph.tensors[node.inputs[1]]
        y = graph.tensors[node.outputs[0]]
        return int(np.prod(y.shape[1:])) * int(np.prod(w.shape[1:]))
