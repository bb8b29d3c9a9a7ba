"""What every operator provides, and the registry the stages look operators up in.

An operator is one class: its float forward (used for calibration), how it chooses its output
quantization, how it turns float parameters into integer ones, its integer forward (the golden
reference, written from the TFLite spec) and the C kernel call that must equal it bit for bit.
All arrays here are in physical layout (NHWC for images), batch axis included.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from mcugen.errors import McugenError
from mcugen.ir import Graph, Node

QMIN, QMAX = -128, 127
INT_RANGES = {"int8": (-128, 127), "int16": (-32768, 32767)}  # activation dtypes and their codes
WEIGHTED_OPS = ("conv", "depthwise_conv", "fully_connected")  # the layers a precision plan chooses for


@dataclass(frozen=True)
class ConstRef:
    """A struct field that points at a constant tensor's C array."""

    tensor: str


@dataclass
class KernelCall:
    """One C call: `<prefix>_<kernel>(&params, args...)`; params become a `static const` struct."""

    kernel: str  # e.g. "conv_s8": firmware/kernels/mcugen_conv_s8.{c,h}
    params: dict[str, object] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)  # tensor names, passed as pointers in this order

    @property
    def params_type(self) -> str:
        """The params struct: `<prefix>_conv_params_t` for conv_s8 (the int8 kernels came first),
        `<prefix>_conv_s4_params_t` for conv_s4, and so on; a type conversion keeps both types
        (`<prefix>_requantize_s16_s8_params_t`)."""
        base = self.kernel[: -len("_s8")] if self.kernel.endswith("_s8") else self.kernel
        return (self.kernel if base.endswith(("_s8", "_s16")) else base) + "_params"


class Op(ABC):
    name: ClassVar[str]
    fuses_activation: ClassVar[bool] = False  # a following Relu/Clip can become its output clamp

    @abstractmethod
    def run_float(self, node: Node, graph: Graph, xs: list[np.ndarray]) -> np.ndarray:
        """The float forward, used for calibration."""

    def output_qparams(self, node: Node, graph: Graph, lo: float, hi: float) -> tuple[float, int]:
        """The output's (scale, zero point); by default from its calibrated range."""
        return qparams_from_range(lo, hi)

    def quantize(self, node: Node, graph: Graph) -> None:  # noqa: B027  (optional: pass-through ops need none)
        """Fill node.q (and add integer constant tensors) once every activation has qparams."""

    @abstractmethod
    def run_int(self, node: Node, graph: Graph, xs: list[np.ndarray]) -> np.ndarray:
        """The integer forward: the golden reference, written from the spec."""

    @abstractmethod
    def kernel_calls(self, node: Node, graph: Graph) -> list[KernelCall]:
        """The C calls that compute what run_int computes."""

    # --- weight-only mode: float32 activations, int8/int4 weights (see codegen/ops/float32.py) ---
    weight_only: ClassVar[bool] = False  # has run_f32 and float kernels

    def quantize_f32(self, node: Node, graph: Graph) -> None:  # noqa: B027  (optional)
        """Fill node.q for float32 activations: quantized weights, float parameters."""

    def run_f32(self, node: Node, graph: Graph, xs: list[np.ndarray]) -> np.ndarray:
        """The float32 forward of the weight-only kernel: its exact operations, in its order."""
        raise McugenError(f"operator {self.name} has no float32 kernel")

    def kernel_calls_f32(self, node: Node, graph: Graph) -> list[KernelCall]:
        """The float kernel calls that compute what run_f32 computes."""
        raise McugenError(f"operator {self.name} has no float32 kernel")

    def run_golden(self, node: Node, graph: Graph, xs: list[np.ndarray]) -> np.ndarray:
        """The golden reference of a quantized graph: run_f32 for float32 activations, else run_int."""
        if graph.tensors[node.outputs[0]].dtype == "float32":
            return self.run_f32(node, graph, xs)
        return self.run_int(node, graph, xs)

    def calls(self, node: Node, graph: Graph) -> list[KernelCall]:
        """The C calls of a quantized graph's node: float kernels for float32 activations."""
        if graph.tensors[node.outputs[0]].dtype == "float32":
            return self.kernel_calls_f32(node, graph)
        return self.kernel_calls(node, graph)

    def macs(self, node: Node, graph: Graph) -> int:
        return 0

    # --- values inside an operator that calibration must see (the cell state of an LSTM) ---
    def observed(self, node: Node, graph: Graph) -> dict[str, str]:
        """{role: name} of the internal values whose calibrated ranges quantize() needs; the
        names are not graph tensors. quantize.py passes their ranges as node.q["observed"][role]."""
        return {}

    def run_float_observed(self, node: Node, graph: Graph, xs: list[np.ndarray]
                           ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The float forward and the internal values named by observed(), batch axis first."""
        return self.run_float(node, graph, xs), {}

    def aliases_input(self, node: Node, graph: Graph) -> bool:
        """True when the output is the input's memory reinterpreted (no kernel runs)."""
        return False

    def alias_offset(self, node: Node, graph: Graph) -> int:
        """Where an aliasing output starts inside its input's bytes (a contiguous slice's offset)."""
        return 0

    def inplace_input(self, node: Node, graph: Graph) -> int | None:
        """Index of an input whose buffer the output may overwrite, element for element."""
        return None

    def sparse_weights(self, node: Node, graph: Graph) -> tuple[str, int, str] | None:
        """A layer whose kernel has a sparse twin (ops/sparse.py): (its int8 weight codes, the
        bytes of their dense layout, the sparse kernel), or None."""
        return None

    def scratch(self, node: Node, graph: Graph) -> str | None:
        """The int8 working buffer the layer's kernel needs while it runs (a tensor of graph that no
        node produces; the planner gives it arena bytes alive only at this step), or None."""
        return None


REGISTRY: dict[str, Op] = {}


def register(cls: type[Op]) -> type[Op]:
    REGISTRY[cls.name] = cls()
    return cls


def op_for(node: Node) -> Op:
    try:
        return REGISTRY[node.op]
    except KeyError:
        raise McugenError(f"internal operator {node.op!r} of node {node.name!r} has no implementation") from None


# --- helpers shared by operators ---------------------------------------------------------

def qparams_from_range(lo: float, hi: float, qmin: int = QMIN, qmax: int = QMAX) -> tuple[float, int]:
    """Asymmetric (scale, zero point) covering [lo, hi] and exactly representing 0.0."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if not np.isfinite(hi - lo):  # NaN or overflow in the float run: no scale can describe it
        raise McugenError(f"an activation's range [{lo:g}, {hi:g}] is not finite: the float model overflows "
                          "float32 on its calibration inputs — check the model's weights (some are huge)")
    if hi - lo < 1e-9:
        hi = lo + 1e-3
    scale = (hi - lo) / (qmax - qmin)
    zero_point = int(np.clip(round(qmin - lo / scale), qmin, qmax))
    return scale, zero_point


def quantize_array(x: np.ndarray, scale: float, zero_point: int, qmin: int = QMIN, qmax: int = QMAX) -> np.ndarray:
    return np.clip(np.round(x / scale) + zero_point, qmin, qmax).astype(np.int8)


def dequantize_array(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return (q.astype(np.float32) - zero_point) * np.float32(scale)


def activation_bounds(node: Node, scale: float, zero_point: int, dtype: str = "int8") -> tuple[int, int]:
    """The integer clamp that implements a fused activation (attrs["act"] = (lo, hi) in float);
    a model that fixed the clamp's codes itself (attrs["act_codes"], TFLite's rounding) keeps them."""
    qmin, qmax = INT_RANGES[dtype]
    if "act_codes" in node.attrs and dtype == "int8":
        return tuple(node.attrs["act_codes"])
    lo, hi = node.attrs.get("act", (-np.inf, np.inf))
    qlo = qmin if not np.isfinite(lo) else max(qmin, zero_point + int(round(lo / scale)))
    qhi = qmax if not np.isfinite(hi) else min(qmax, zero_point + int(round(hi / scale)))
    # a bound beyond the other end of the type (Clip min 1e30) is that end: the clamp, max then
    # min as in np.clip and mcugen_clamp_s8, gives the same codes, and the constant stays an int8/int16
    return min(qlo, qmax), max(qhi, qmin)


def apply_float_activation(node: Node, y: np.ndarray) -> np.ndarray:
    lo, hi = node.attrs.get("act", (-np.inf, np.inf))
    if np.isfinite(lo) or np.isfinite(hi):
        y = np.clip(y, lo, hi)
    return y


def per_channel_weights(w: np.ndarray, axis: int = 0, bits: int = 8, scale: np.ndarray | None = None,
                        min_scale: np.ndarray | float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric weights, one scale per output channel, zero point 0: codes in +/-(2**(bits-1) - 1)
    (+/-127 for int8, +/-7 for int4). A given scale (from a pre-quantized model) is kept as is.

    A chosen scale is at least `min_scale` (per channel; `weight_scale_floor`): a channel whose
    weights are all zero or nearly so (a dead channel after BatchNorm folding: max|w| ~ 1e-30 in
    VWW) would otherwise get a scale so small that its bias, bias / (s_in * s_w), and its output
    multiplier leave every integer type. Any larger scale represents such weights just as well."""
    qmax = 2 ** (bits - 1) - 1
    qmin = -qmax - 1 if scale is not None else -qmax  # a pre-quantized model (e.g. PyTorch's) may use -128
    if scale is None:
        reduce_axes = tuple(i for i in range(w.ndim) if i != axis)
        max_abs = np.max(np.abs(w), axis=reduce_axes).astype(np.float64)
        scale = np.where(max_abs > 0, max_abs / qmax, 1.0 / qmax)
        if bits < 8:
            scale = scale * _clip_ratio(np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1), scale, qmax)
        scale = np.maximum(scale, min_scale)
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), (w.shape[axis],)).copy()
    shape = [1] * w.ndim
    shape[axis] = -1
    q = saturating_round(w.astype(np.float64) / scale.reshape(shape), qmin, qmax).astype(np.int8)
    return q, scale


def _clip_ratio(rows: np.ndarray, scale: np.ndarray, qmax: int) -> np.ndarray:
    """Per row, the fraction of max|w| to use as the clipping range that minimizes the squared
    quantization error. With 15 levels, clipping the few largest weights buys finer steps for
    the many small ones (max|w| scaling wastes levels on outliers); int8 has levels to spare."""
    ratios = np.linspace(0.5, 1.0, 51)
    w = rows.astype(np.float64)[None]  # [R, C, K]
    s = (scale[None, :] * ratios[:, None])[..., None]
    err = np.sum((np.clip(np.round(w / s), -qmax, qmax) * s - w) ** 2, axis=2)  # [R, C]
    return ratios[np.argmin(err, axis=0)]


def pack_int4(codes: np.ndarray) -> np.ndarray:
    """int4 codes (in int8) → bytes, two per byte, low nibble first, in C (row-major) order.

    The kernels read code i from byte i / 2 (low nibble when i is even) and sign-extend it.
    An odd count leaves the last high nibble zero.
    """
    flat = codes.reshape(-1).astype(np.int64) & 0xF
    if flat.size % 2:
        flat = np.append(flat, 0)
    return (flat[0::2] | (flat[1::2] << 4)).astype(np.uint8)


def saturating_round(x: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """round(x) (half to even) saturated to [lo, hi], as int64, without ever casting an
    out-of-range float: clipping a float64 to 2**63 - 1 rounds the bound itself to 2**63, and the
    cast then wraps to -2**63 (a positive bias turned into the most negative one). NaN becomes 0;
    `check_weighted_constants` refuses non-finite constants before that matters."""
    r = np.round(np.asarray(x, dtype=np.float64))
    out = np.zeros(r.shape, dtype=np.int64)
    inside = (r > lo) & (r < hi)  # strictly inside: every such float64 converts exactly
    out[inside] = r[inside].astype(np.int64)
    out[r >= hi] = hi
    out[r <= lo] = lo
    return out


# The accumulator a weighted kernel sums into, by its bias width: int32 for int8 activations,
# int64 for int16. ACCUMULATOR_LIMIT bounds |acc| at every step of the sum; for int64 it is 2**47,
# not 2**63 - 1, because requantize_s64 multiplies acc by a Q15 multiplier (< 2**15) in int64.
# INPUT_BOUND bounds |x + input_offset| (int8: 255, int16: 32768) and also |x| plus a folded
# input_offset * sum(w) term, so both ways of summing stay inside the limit (see accumulator_safe_bias).
ACCUMULATOR_LIMIT = {32: 2**31 - 1, 64: 2**47}
INPUT_BOUND = {32: 256, 64: 65536}

def weight_scale_floor(w: np.ndarray, bias: np.ndarray | None, input_scale: float, output_scale: float,
                       axis: int = 0, bits: int = 8, bias_bits: int = 32) -> np.ndarray:
    """The smallest weight scale, per output channel, that keeps the layer's integer constants
    representable; 0 (no floor) for a channel whose natural scale max|w| / qmax already does.

    Two conditions. The output multiplier s_in * s_w / s_out must be at least 2**-31
    (quantize_multiplier gives 0 below 2**-32): below it each weight step moves the output by at
    most INPUT_BOUND * 2**-31 (2**-23 of a step for int8), so raising such a scale costs nothing.
    And bias and weights together must fit the accumulator, |bias| / (s_in * s_w) + INPUT_BOUND *
    sum_k |round(w_k / s_w)| <= ACCUMULATOR_LIMIT; where the natural scale breaks it (a dead
    channel: all-zero or ~1e-30 weights after BatchNorm folding, as in VWW and the digits MLP,
    beside a normal bias), the scale is raised to the smallest value that provably satisfies it,
    using sum |round(w / s)| <= sum|w| / s + K / 2, and leaving room for bias correction, which
    adds dW . E[x] with |dW| <= s / 2 and |E[x]| < INPUT_BOUND * s_in, i.e. < INPUT_BOUND * K / 2 steps:
      s = (|bias| / s_in + INPUT_BOUND * sum|w|) / (ACCUMULATOR_LIMIT - INPUT_BOUND * K).
    Whether the natural scale fits is judged the same way, with int4's clipping search (which
    may shrink the scale to half of max|w| / qmax) counted at its worst.
    Such weights are tiny beside the bias, so coarser steps cost little, and the bias keeps its
    value instead of being saturated (which both lost it and overflowed the accumulator)."""
    qmax = 2 ** (bits - 1) - 1
    rows = np.moveaxis(np.asarray(w, dtype=np.float64), axis, 0).reshape(w.shape[axis], -1)
    k = rows.shape[1]
    b = np.zeros(len(rows)) if bias is None else np.abs(np.asarray(bias, dtype=np.float64).reshape(-1))
    max_abs = np.abs(rows).max(axis=1)
    natural = np.where(max_abs > 0, max_abs / qmax, 1.0 / qmax) * (0.5 if bits < 8 else 1.0)
    limit, reach = float(ACCUMULATOR_LIMIT[bias_bits]), float(INPUT_BOUND[bias_bits])
    codes_bound = np.minimum(qmax * k, np.abs(rows).sum(axis=1) / natural + k / 2)
    natural_need = b / (float(input_scale) * natural) + reach * (codes_bound + k / 2)
    fitting = (b / float(input_scale) + reach * np.abs(rows).sum(axis=1)) / max(limit - reach * k, 1.0)
    floor_bias = np.where(natural_need > limit, fitting, 0.0)
    floor_multiplier = float(output_scale) * 2.0**-31 / float(input_scale)
    return np.maximum(floor_bias, floor_multiplier)


def quantize_bias(bias: np.ndarray | None, input_scale: float, weight_scale: np.ndarray,
                  channels: int, bits: int = 32) -> np.ndarray:
    """Bias at scale input_scale * weight_scale: int32, or int64 for 16-bit activations,
    saturated to the type (`saturating_round`); accumulator_safe_bias then narrows it."""
    dtype = np.int32 if bits == 32 else np.int64
    if bias is None:
        return np.zeros(channels, dtype=dtype)
    q = np.asarray(bias, dtype=np.float64).reshape(-1) / (float(input_scale) * weight_scale)
    return saturating_round(q, -(2 ** (bits - 1)), 2 ** (bits - 1) - 1).astype(dtype)


def accumulator_safe_bias(bias: np.ndarray, weight_abs_sum: np.ndarray, bits: int) -> np.ndarray:
    """The bias clamped per channel so that no order of summation can overflow the accumulator:
    |bias| + INPUT_BOUND * sum_k |w_k| <= ACCUMULATOR_LIMIT.

    Every partial sum bias + sum_{k in S} (x_k + input_offset) * w_k is at most |bias| +
    sum_k |x_k + input_offset| * |w_k| in magnitude, and |x + input_offset| < INPUT_BOUND. A kernel
    that folds input_offset * sum(w) into the bias and sums x * w instead adds at most
    128 * sum|w| (int8) to the bias and 128 * sum|w| in the products: the same bound. Signed
    overflow is undefined behaviour in C, so the constant itself must make it impossible. The
    golden reference uses the same clamped constant, so the C stays bit-exact; the caller warns
    when the clamp moves an output by more than half a step (`bias_clamp_effect`).
    The caller refuses a layer whose INPUT_BOUND * sum|w| alone exceeds the limit."""
    room = ACCUMULATOR_LIMIT[bits] - INPUT_BOUND[bits] * weight_abs_sum.astype(np.int64)
    return np.clip(bias.astype(np.int64), -room, room).astype(bias.dtype)


def bias_clamp_effect(bias: np.ndarray, clamped: np.ndarray, reach: np.ndarray, multiplier: np.ndarray,
                      zero_point: int, lo: int, hi: int) -> np.ndarray:
    """Per channel, the largest change (in output steps) that replacing bias by clamped makes to
    y = clamp(zero_point + (bias + d) * multiplier, lo, hi) over every accumulated d in [-reach,
    reach]: the difference is piecewise linear in d, so its maximum is at an end of the interval
    or where one of the two outputs meets lo or hi."""
    b, c = bias.astype(np.float64)[:, None], clamped.astype(np.float64)[:, None]
    m, r = multiplier.astype(np.float64)[:, None], reach.astype(np.float64)[:, None]
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        edges = np.concatenate([(lo - zero_point) / m - b, (hi - zero_point) / m - b,
                                (lo - zero_point) / m - c, (hi - zero_point) / m - c], axis=1)
    d = np.concatenate([-r, r, np.clip(np.nan_to_num(edges), -r, r)], axis=1)

    def out(bias_value: np.ndarray) -> np.ndarray:
        return np.clip(zero_point + (bias_value + d) * m, lo, hi)

    return np.max(np.abs(out(b) - out(c)), axis=1)


def output_multipliers(input_scale: float, weight_scale: np.ndarray, output_scale: float
                       ) -> tuple[np.ndarray, np.ndarray]:
    from mcugen.ops.fixedpoint import quantize_multiplier

    pairs = [quantize_multiplier(float(input_scale * ws / output_scale)) for ws in weight_scale]
    # Shifts lie in [-31, 30]: one byte each in flash instead of four.
    return (np.array([m for m, _ in pairs], dtype=np.int32), np.array([s for _, s in pairs], dtype=np.int8))


def window_patches(x: np.ndarray, kernel: tuple[int, int], strides: tuple[int, int],
                   dilations: tuple[int, int], pads: tuple[int, int, int, int], pad_value: float
                   ) -> np.ndarray:
    """NHWC input → [N, OH, OW, KH, KW, C] windows; pads are (top, left, bottom, right)."""
    top, left, bottom, right = pads
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=pad_value)
    kh, kw = kernel
    dh, dw = dilations
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    windows = np.lib.stride_tricks.sliding_window_view(xp, (span_h, span_w), axis=(1, 2))
    windows = windows[:, :: strides[0], :: strides[1], :, ::dh, ::dw]  # N, OH, OW, C, KH, KW
    return windows.transpose(0, 1, 2, 4, 5, 3)


def valid_counts(in_hw: tuple[int, int], kernel: tuple[int, int], strides: tuple[int, int],
                 pads: tuple[int, int, int, int]) -> np.ndarray:
    """How many window positions fall inside the unpadded input, per output pixel: [OH, OW]."""
    ones = np.ones((1, in_hw[0], in_hw[1], 1))
    patches = window_patches(ones, kernel, strides, (1, 1), pads, 0.0)
    return patches.sum(axis=(3, 4, 5))[0].astype(np.int64)


def exact_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Integer matmul through float64 BLAS: exact while every sum stays below 2**53."""
    return np.rint(a.astype(np.float64) @ b.astype(np.float64)).astype(np.int64)


def broadcast_strides(in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> list[int]:
    """Element strides of an input broadcast to a rank-4 output (0 along broadcast axes)."""
    dims = [1] * (4 - len(in_shape)) + list(in_shape)
    out = [1] * (4 - len(out_shape)) + list(out_shape)
    strides, step = [0] * 4, 1
    for axis in range(3, -1, -1):
        strides[axis] = step if dims[axis] == out[axis] and out[axis] != 1 else 0
        step *= dims[axis]
    return strides


def rank4(shape: tuple[int, ...]) -> list[int]:
    if len(shape) > 4:
        raise McugenError(f"tensors of rank {len(shape)} are not supported; at most 4 dimensions")
    return [1] * (4 - len(shape)) + list(shape)


def batch_shape(node: Node, graph: Graph, x: np.ndarray) -> tuple[int, ...]:
    """The node's output shape with the batch axis of x: the stages run many samples at once."""
    return (x.shape[0],) + tuple(graph.tensors[node.outputs[0]].shape[1:])


def constant_bytes(graph: Graph) -> int:
    """Flash the model's constants take: what render_library would emit, without rendering."""
    names: set[str] = set()
    for node in graph.nodes:
        for call in op_for(node).calls(node, graph):
            names.update(v.tensor for v in call.params.values() if isinstance(v, ConstRef))
            names.update(a for a in call.args if graph.tensors[a].is_constant)
    return sum(graph.tensors[n].nbytes for n in names)


def layer_bytes(graph: Graph) -> dict[str, int]:
    """Flash per layer: the bytes of the constants each node's calls name first (as render_library
    emits them, sparse and codebook storage included), by node name; they sum to constant_bytes."""
    seen: set[str] = set()
    out: dict[str, int] = {}
    for node in graph.nodes:
        names: list[str] = []
        for call in op_for(node).calls(node, graph):
            names += [v.tensor for v in call.params.values() if isinstance(v, ConstRef)]
            names += [a for a in call.args if graph.tensors[a].is_constant]
        new = {n for n in names if n not in seen}
        seen |= new
        out[node.name] = sum(graph.tensors[n].nbytes for n in new)
    return out
