"""Element-wise Add with broadcasting, int8: the twin of firmware/kernels/mcugen_add_s8.c.

TFLite's int8 ADD: both inputs are brought to a common scale 2*max(s1, s2) with 20 bits of
headroom, summed, then rescaled to the output:
  a = requantize((x1 - zp1) << 20, m1, e1);  b = requantize((x2 - zp2) << 20, m2, e2)
  y = clamp(zp_out + requantize(a + b, m_out, e_out), act_min, act_max)
The operand with the larger scale has the multiplier 1/2 exactly (2**30, shift 0), whose
requantize is exact: (x - zp) << 19. mcugen_add_s8 takes that operand first and looks the other's
share up in a 256-entry table made here with the same requantize (`add_share_table`).
Weight-only mode (float32, add_f32): y = clamp(x1 + x2, act_min, act_max), one rounding.
"""

from __future__ import annotations

import numpy as np

from mcugen.errors import McugenError
from mcugen.ops.fixedpoint import quantize_multiplier, requantize
from mcugen.ops.float32 import F32, clamp_f32, float_bounds

from .base import (
    ConstRef,
    KernelCall,
    Op,
    activation_bounds,
    apply_float_activation,
    broadcast_strides,
    quantize_array,
    rank4,
    register,
)
from .fully_connected import derived_constant

LEFT_SHIFT = 20


def quantize_constant_operands(node, graph) -> list[str]:
    """Constant operands of a binary op become per-tensor int8 constants with their own range, or
    with the (scale, zero point) a pre-quantized model gave them (attrs["constant_qparams"]: TFLite)."""
    names = []
    given = {int(pos): (float(s), int(z)) for pos, s, z in node.attrs.get("constant_qparams", ())}
    for pos, name in enumerate(node.inputs):
        t = graph.tensors[name]
        if t.is_constant and t.dtype == "float32":
            from .base import qparams_from_range

            scale, zp = given.get(pos) or qparams_from_range(float(t.data.min()), float(t.data.max()))
            q = graph.add_constant(f"{node.name}_operand", quantize_array(t.data, scale, zp))
            q.scale, q.zero_point = scale, zp
            name = q.name
        names.append(name)
    return names


def quantize_binary_f32(node, graph) -> None:
    """Weight-only: the operands stay float32 (constants too); the fused clamp in float."""
    for name in node.inputs:
        t = graph.tensors[name]
        if t.is_constant and t.data.dtype != F32:
            t.data, t.dtype = t.data.astype(F32), "float32"
    node.q["operands"] = list(node.inputs)
    node.q["act_min"], node.q["act_max"] = float_bounds(node.attrs)


def binary_calls_f32(node, graph, kernel: str) -> list[KernelCall]:
    params = binary_shapes(node, graph)
    params.update(act_min=node.q["act_min"], act_max=node.q["act_max"])
    return [KernelCall(kernel, params, [*node.q["operands"], node.outputs[0]])]


def binary_shapes(node, graph) -> dict:
    a, b = (graph.tensors[n] for n in node.q["operands"])
    y = graph.tensors[node.outputs[0]]
    return dict(dims=rank4(y.shape), strides1=broadcast_strides(a.shape, y.shape),
                strides2=broadcast_strides(b.shape, y.shape))


def exact_half(q: dict, which: str) -> bool:
    """True when operand `which` ("input1"/"input2") has the multiplier 1/2 exactly."""
    return q[f"{which}_multiplier"] == 1 << 30 and q[f"{which}_shift"] == 0


def add_share_table(offset: int, multiplier: int, shift: int, exact_offset: int) -> np.ndarray:
    """For every int8 code v (index v + 128): the operand's share of the sum at the common scale,
    requantize((v + offset) << 20, multiplier, shift), plus the exact operand's offset share
    exact_offset << 19 (its own share is then x << 19)."""
    codes = np.arange(-128, 128, dtype=np.int64)
    share = requantize((codes + offset) << LEFT_SHIFT, multiplier, shift)
    return (share + (exact_offset << (LEFT_SHIFT - 1))).astype(np.int32)


@register
class Add(Op):
    name = "add"
    fuses_activation = True

    def run_float(self, node, graph, xs):
        return apply_float_activation(node, xs[0] + xs[1]).astype(np.float32)

    def quantize(self, node, graph):
        operands = quantize_constant_operands(node, graph)
        a, b = (graph.tensors[n] for n in operands)
        y = graph.tensors[node.outputs[0]]
        twice_max = 2.0 * max(a.scale, b.scale)
        m1, e1 = quantize_multiplier(a.scale / twice_max)
        m2, e2 = quantize_multiplier(b.scale / twice_max)
        mo, eo = quantize_multiplier(twice_max / ((1 << LEFT_SHIFT) * y.scale))
        act_min, act_max = activation_bounds(node, y.scale, y.zero_point)
        node.q.update(operands=operands, input1_offset=-a.zero_point, input2_offset=-b.zero_point,
                      input1_multiplier=m1, input1_shift=e1, input2_multiplier=m2, input2_shift=e2,
                      output_multiplier=mo, output_shift=eo, output_offset=y.zero_point,
                      act_min=act_min, act_max=act_max)

    def run_int(self, node, graph, xs):
        q = node.q
        a = requantize((xs[0].astype(np.int64) + q["input1_offset"]) << LEFT_SHIFT,
                       q["input1_multiplier"], q["input1_shift"])
        b = requantize((xs[1].astype(np.int64) + q["input2_offset"]) << LEFT_SHIFT,
                       q["input2_multiplier"], q["input2_shift"])
        y = requantize(a + b, q["output_multiplier"], q["output_shift"]) + q["output_offset"]
        return np.clip(y, q["act_min"], q["act_max"]).astype(np.int8)

    def kernel_calls(self, node, graph):
        q = node.q
        params = binary_shapes(node, graph)
        operands = list(q["operands"])
        exact, other = ("input1", "input2") if exact_half(q, "input1") else ("input2", "input1")
        if not exact_half(q, exact):
            raise McugenError(f"layer {node.name!r}: neither operand of the Add has the larger scale's exact "
                              "multiplier 1/2; this is a bug in mcugen, please report it")
        if exact == "input2":  # the kernel takes the exact operand first
            operands.reverse()
            params["strides1"], params["strides2"] = params["strides2"], params["strides1"]
        table = derived_constant(graph, f"{node.name}_add_share", f"{q[f'{other}_multiplier']}_{q[f'{other}_shift']}"
                                 f"_{q[f'{other}_offset']}_{q[f'{exact}_offset']}", lambda: add_share_table(
                                     q[f"{other}_offset"], q[f"{other}_multiplier"], q[f"{other}_shift"],
                                     q[f"{exact}_offset"]))
        params.update(share2=ConstRef(table), output_multiplier=q["output_multiplier"],
                      output_shift=q["output_shift"], output_offset=q["output_offset"], act_min=q["act_min"],
                      act_max=q["act_max"])
        return [KernelCall("add_s8", params, [*operands, node.outputs[0]])]

    weight_only = True

    def quantize_f32(self, node, graph):
        quantize_binary_f32(node, graph)

    def run_f32(self, node, graph, xs):
        return clamp_f32(xs[0].astype(F32) + xs[1].astype(F32), node.q["act_min"], node.q["act_max"])

    def kernel_calls_f32(self, node, graph):
        return binary_calls_f32(node, graph, "add_f32")

    def inplace_input(self, node, graph):
        y = graph.tensors[node.outputs[0]]
        for i, name in enumerate(node.inputs):
            t = graph.tensors[name]
            if not t.is_constant and t.shape == y.shape:
                return i
        return None


@register
class Sub(Add):
    """Element-wise Sub of two activations (a constant subtrahend is an Add of its negation), TFLite's
    int8 SUB: Add's arithmetic with the subtrahend's share negated,
      y = clamp(zp_out + requantize(a - b, m_out, e_out), act_min, act_max).
    When the minuend has the larger (exact) scale, mcugen_add_s8 runs with the subtrahend's table
    negated; when the subtrahend has it, mcugen_sub_s8 (share2[minuend] - (subtrahend << 19)).
    Weight-only mode (float32, sub_f32): y = clamp(x1 - x2, act_min, act_max), one rounding."""

    name = "sub"

    def run_float(self, node, graph, xs):
        return apply_float_activation(node, xs[0] - xs[1]).astype(np.float32)

    def run_int(self, node, graph, xs):
        q = node.q
        a = requantize((xs[0].astype(np.int64) + q["input1_offset"]) << LEFT_SHIFT,
                       q["input1_multiplier"], q["input1_shift"])
        b = requantize((xs[1].astype(np.int64) + q["input2_offset"]) << LEFT_SHIFT,
                       q["input2_multiplier"], q["input2_shift"])
        y = requantize(a - b, q["output_multiplier"], q["output_shift"]) + q["output_offset"]
        return np.clip(y, q["act_min"], q["act_max"]).astype(np.int8)

    def kernel_calls(self, node, graph):
        q = node.q
        params = binary_shapes(node, graph)
        operands = list(q["operands"])
        if exact_half(q, "input1"):  # the minuend is exact: add_s8 with the subtrahend's share negated
            kernel, exact, other = "add_s8", "input1", "input2"

            def make():
                return (-add_share_table(q["input2_offset"], q["input2_multiplier"], q["input2_shift"], 0)
                        + (q["input1_offset"] << (LEFT_SHIFT - 1))).astype(np.int32)
        elif exact_half(q, "input2"):  # the subtrahend is exact: sub_s8 takes it first
            kernel, exact, other = "sub_s8", "input2", "input1"
            operands.reverse()
            params["strides1"], params["strides2"] = params["strides2"], params["strides1"]

            def make():
                return add_share_table(q["input1_offset"], q["input1_multiplier"], q["input1_shift"],
                                       -q["input2_offset"])
        else:
            raise McugenError(f"layer {node.name!r}: neither operand of the Sub has the larger scale's exact "
                              "multiplier 1/2; this is a bug in mcugen, please report it")
        table = derived_constant(graph, f"{node.name}_sub_share", f"{kernel}_{q[f'{other}_multiplier']}_"
                                 f"{q[f'{other}_shift']}_{q[f'{other}_offset']}_{q[f'{exact}_offset']}", make)
        params.update(share2=ConstRef(table), output_multiplier=q["output_multiplier"],
                      output_shift=q["output_shift"], output_offset=q["output_offset"], act_min=q["act_min"],
                      act_max=q["act_max"])
        return [KernelCall(kernel, params, [*operands, node.outputs[0]])]

    def run_f32(self, node, graph, xs):
        return clamp_f32(xs[0].astype(F32) - xs[1].astype(F32), node.q["act_min"], node.q["act_max"])

    def kernel_calls_f32(self, node, graph):
        return binary_calls_f32(node, graph, "sub_f32")
