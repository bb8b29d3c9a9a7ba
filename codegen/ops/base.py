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

    # --- weight-only mode: float32 activations, int8/int4 weights (see codegen/float32.py) ---
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

    def aliases_input(self, node: Node, graph: Graph) -> bool:
        """True when the output is the input's memory reinterpreted (no kernel runs)."""
        return False

    def inplace_input(self, node: Node, graph: Graph) -> int | None:
        """Index of an input whose buffer the output may overwrite, element for element."""
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
    """The integer clamp that implements a fused activation (attrs["act"] = (lo, hi) in float)."""
    qmin, qmax = INT_RANGES[dtype]
    lo, hi = node.attrs.get("act", (-np.inf, np.inf))
    qlo = qmin if not np.isfinite(lo) else max(qmin, zero_point + int(round(lo / scale)))
    qhi = qmax if not np.isfinite(hi) else min(qmax, zero_point + int(round(hi / scale)))
    return qlo, qhi


def apply_float_activation(node: Node, y: np.ndarray) -> np.ndarray:
    lo, hi = node.attrs.get("act", (-np.inf, np.inf))
    if np.isfinite(lo) or np.isfinite(hi):
        y = np.clip(y, lo, hi)
    return y


def per_channel_weights(w: np.ndarray, axis: int = 0, bits: int = 8, scale: np.ndarray | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric weights, one scale per output channel, zero point 0: codes in +/-(2**(bits-1) - 1)
    (+/-127 for int8, +/-7 for int4). A given scale (from a pre-quantized model) is kept as is."""
    qmax = 2 ** (bits - 1) - 1
    qmin = -qmax - 1 if scale is not None else -qmax  # a pre-quantized model (e.g. PyTorch's) may use -128
    if scale is None:
        reduce_axes = tuple(i for i in range(w.ndim) if i != axis)
        max_abs = np.max(np.abs(w), axis=reduce_axes).astype(np.float64)
        scale = np.where(max_abs > 0, max_abs / qmax, 1.0 / qmax)
        if bits < 8:
            scale = scale * _clip_ratio(np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1), scale, qmax)
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), (w.shape[axis],)).copy()
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(np.round(w / scale.reshape(shape)), qmin, qmax).astype(np.int8)
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


def quantize_bias(bias: np.ndarray | None, input_scale: float, weight_scale: np.ndarray,
                  channels: int, bits: int = 32) -> np.ndarray:
    """Bias at scale input_scale * weight_scale: int32, or int64 for 16-bit activations."""
    dtype = np.int32 if bits == 32 else np.int64
    if bias is None:
        return np.zeros(channels, dtype=dtype)
    q = np.round(bias.astype(np.float64) / (input_scale * weight_scale))
    return np.clip(q, -(2 ** (bits - 1)), 2 ** (bits - 1) - 1).astype(dtype)


def output_multipliers(input_scale: float, weight_scale: np.ndarray, output_scale: float
                       ) -> tuple[np.ndarray, np.ndarray]:
    from mcugen.fixedpoint import quantize_multiplier

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
