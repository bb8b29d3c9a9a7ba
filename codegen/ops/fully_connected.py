"""Fully connected (Gemm / MatMul + Add), int8: the twin of firmware/kernels/mcugen_fully_connected_s8.c
(and of mcugen_fully_connected_sparse_s8.c, the layers whose zero weights ops/sparse.py stores sparse,
and mcugen_fully_connected_codebook_s8.c, the layers whose weights ops/codebook.py clustered).

  acc[r,o] = bias[o] + sum_i (x[r,i] - zp_in) * w[o,i]
  y = clamp(zp_out + requantize(acc, multiplier[o], shift[o]), act_min, act_max)
Weights are [out][in], symmetric per output channel. A layer imported from TFLite
(attrs["single_rounding"]) requantizes as TFLite's fully connected does, rounding once, half up
(fixedpoint.requantize(..., single_rounding=True); kernel mcugen_fully_connected_tflite_s8).
The int8 kernel computes the same integers as
  acc[r,o] = folded_bias[o] + sum_i x[r,i] * w[o,i],  folded_bias[o] = bias[o] - zp_in * sum_i w[o,i]
with the weights, folded bias and requantize constants in one stream for it (`packed_stream`);
the int16 kernel likewise, with its own arrangement (`packed_weights_s16`) and an int64 folded
bias; int4 keeps the spec's form.

Weight-only mode (float32 activations; fully_connected_f32_w8 / _w4), as conv.py's:
  acc = 0.0f; for i = 0, 1, ...: acc += x[r,i] * (float)w[o,i]
  y = clamp(acc * scale[o] + bias[o], act_min, act_max)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mcugen.ir import Graph, Node, Tensor
from mcugen.ops.float32 import F32, ordered_matmul

from .base import ConstRef, KernelCall, Op, apply_float_activation, batch_shape, exact_matmul, register
from .codebook import pack_indices
from .conv import (
    f32_fields,
    f32_kernel,
    finish_f32,
    finish_int,
    quantize_weighted,
    quantize_weighted_f32,
    weighted_kernel,
)
from .sparse import sparse_fields


def packed_weights(w: np.ndarray) -> np.ndarray:
    """[out][in] int8 → the int32 words mcugen_fully_connected_s8 reads: each row zero-padded to
    whole words of 4 bytes (little-endian, byte j of a word = input 4k + j); rows in blocks of 4
    whose words interleave (word 0 of rows o..o+3, word 1 of rows o..o+3, ...), so the kernel walks
    one pointer while each input word feeds four rows; the last out % 4 rows one after another."""
    out, n = w.shape
    words = -(-n // 4)
    padded = np.zeros((out, 4 * words), np.int8)
    padded[:, :n] = w
    row_words = padded.view("<i4").astype(np.int32)  # [out][words]
    blocks = out // 4 * 4
    interleaved = row_words[:blocks].reshape(-1, 4, words).transpose(0, 2, 1)
    return np.concatenate([interleaved.reshape(-1), row_words[blocks:].reshape(-1)])


def packed_weights_s16(w: np.ndarray) -> np.ndarray:
    """[out][in] int8 → the int32 words mcugen_fully_connected_s16 reads: each row zero-padded to
    whole words; word k holds the row's weights for inputs 4k, 4k+2, 4k+1, 4k+3 in bytes 0..3, so
    SXTB16 gives the int16 pair for inputs (4k, 4k+1) and SXTB16 ROR 8 the pair for (4k+2, 4k+3);
    rows in pairs whose words interleave; an odd last row alone."""
    out, n = w.shape
    words = -(-n // 4)
    padded = np.zeros((out, words, 4), np.int8)
    padded.reshape(out, -1)[:, :n] = w
    row_words = padded[:, :, [0, 2, 1, 3]].copy().view("<i4").reshape(out, words).astype(np.int32)
    pairs = out // 2 * 2
    interleaved = row_words[:pairs].reshape(-1, 2, words).transpose(0, 2, 1)
    return np.concatenate([interleaved.reshape(-1), row_words[pairs:].reshape(-1)])


def folded_bias(bias: np.ndarray, w: np.ndarray, input_offset: int, dtype: type = np.int32) -> np.ndarray:
    """bias[o] + input_offset * sum_i w[o][i]: the input offset's share of the sum, added once at
    compile time (the kernel then multiplies the raw input). Exact: the kernel's final sum is the
    spec's, and the bias clamp keeps every partial sum within int32."""
    folded = bias.astype(np.int64) + input_offset * w.astype(np.int64).sum(axis=1)
    return folded.astype(dtype)


FAST_SHIFTS = (-23, -2)  # the fast requantize's range: b = -shift - 2 in [0, 21]


def fast_requantize(shift: np.ndarray) -> bool:
    """Whether every shift is in [-23, -2]: then requantize(acc, m, shift) + output_offset =
    ((H >> b) + 2 * output_offset + 1) >> 1 with b = -shift - 2 and H the high word of
    acc * m + 2^30 - 2^31 [acc < 0], the kernels' fast path
    (mcugen_fully_connected_stream.h::fc_requantize_fast: mcugen_requantize_right's one rounding,
    2^(b+1) * offset and the rounding bit 2^b added before the shift as one add after >> b)."""
    s = np.asarray(shift, np.int64)
    return bool(s.size) and FAST_SHIFTS[0] <= s.min() and s.max() <= FAST_SHIFTS[1]


def stream_blocks(out: int, bias: np.ndarray, weight_words: Callable[[int, int], np.ndarray],
                  multiplier: np.ndarray, shift: np.ndarray, fast: bool) -> np.ndarray:
    """The one int32 stream the int8-activation fully connected kernels walk (their headers,
    mcugen_fully_connected_stream.h): per block of 4 rows, then per leftover row, the folded bias,
    the block's weight words (`weight_words(first_row, rows)`, the kernel's own layout), the
    multipliers and one word of int8 shift bytes (-shift - 2 with the fast path, the shift
    without)."""
    shift_bytes = (-np.asarray(shift, np.int64) - 2) if fast else np.asarray(shift, np.int64)
    parts = []
    starts = [(o, 4) for o in range(0, out // 4 * 4, 4)] + [(o, 1) for o in range(out // 4 * 4, out)]
    for o, rows in starts:
        shifts = np.zeros(4, np.int8)
        shifts[:rows] = shift_bytes[o:o + rows]
        parts += [np.asarray(bias[o:o + rows], np.int64), weight_words(o, rows).astype(np.int64),
                  np.asarray(multiplier[o:o + rows], np.int64), shifts.view("<i4").astype(np.int64)]
    return np.concatenate(parts).astype(np.int32)


def packed_stream(w: np.ndarray, bias: np.ndarray, multiplier: np.ndarray, shift: np.ndarray,
                  fast: bool) -> np.ndarray:
    """The stream of mcugen_fully_connected_s8: its weight words are `packed_weights`' (word k of
    the block's rows o..o+n-1, then word k + 1, ...)."""
    out, n = w.shape
    words = -(-n // 4)
    weights = packed_weights(w)
    return stream_blocks(out, bias, lambda o, rows: weights[o * words:(o + rows) * words],
                         multiplier, shift, fast)


def packed_stream_s4(w: np.ndarray, bias: np.ndarray, multiplier: np.ndarray, shift: np.ndarray,
                     fast: bool) -> np.ndarray:
    """The stream of mcugen_fully_connected_s4 (int4 codes w): its weight words are `nibble_words`."""
    return stream_blocks(w.shape[0], bias, nibble_words(w), multiplier, shift, fast)


def nibble_words(w: np.ndarray) -> Callable[[int, int], np.ndarray]:
    """The weight words of mcugen_fully_connected_s4 for a block: u = code + 8 (0..15; padding
    code 0), one word per input word k and pair of rows (r, s) (s absent in a one-row block:
    zero), nibble j at bits 4j: u[r, 4k], u[r, 4k+1], u[s, 4k], u[s, 4k+1], u[r, 4k+2],
    u[r, 4k+3], u[s, 4k+2], u[s, 4k+3]. So (word >> 0) & 0x000F000F holds row r's pair for
    inputs (4k, 4k+2), >> 4 its pair for (4k+1, 4k+3), >> 8 and >> 12 row s's: the int16 halves
    that SXTB16 / SXTB16 ROR 8 make of the input word meet them in SMLADs with no unpacking.
    A block of four rows has the words of rows (o, o+1) then (o+2, o+3) for each k."""
    out, n = w.shape
    words = -(-n // 4)
    u = np.full((out + 1, 4 * words), 8, np.uint32)
    u[:out, :n] = w.astype(np.int64) + 8
    u[out] = 0  # the absent partner of a one-row block

    def pair(r: np.ndarray, s: np.ndarray) -> np.ndarray:  # [len(r), words]
        a, b = u[r].reshape(len(r), words, 4), u[s].reshape(len(s), words, 4)
        nibbles = (a[..., 0], a[..., 1], b[..., 0], b[..., 1], a[..., 2], a[..., 3], b[..., 2], b[..., 3])
        word = np.zeros(a.shape[:2], np.uint32)
        for j, v in enumerate(nibbles):
            word |= v << np.uint32(4 * j)
        return word.view(np.int32)

    def block(o: int, rows: int) -> np.ndarray:
        if rows == 4:
            return pair(np.array([o, o + 2]), np.array([o + 1, o + 3])).T.reshape(-1)
        return pair(np.array([o]), np.array([out])).reshape(-1)
    return block


def dense_weight_bytes(shape: tuple[int, ...]) -> int:
    """The bytes the dense int8 stream takes beyond the bias, multipliers and int8 shifts that the
    sparse and codebook layouts also emit: the weight words, and a shift word per block of rows where
    those layouts keep a byte per row (packed_stream's layout)."""
    out, words = shape[0], -(-shape[1] // 4)
    return 4 * out * words + 4 * (out // 4 + out % 4) - out


def input_pairs_scratch(node: Node, graph: Graph) -> str:
    """The scratch of mcugen_fully_connected_s8 and _s4: on a DSP core the input vector expanded once into
    the int16 pairs SXTB16 / SXTB16 ROR 8 make of each input word (two words per input word,
    8 * ceil(input_size / 4) bytes), which every block of rows then loads with one LDRD."""
    n = graph.tensors[node.q["weights"]].shape[1]
    name = node.q.get("scratch") or graph.unique_name(f"{node.name}_pairs")
    node.q["scratch"] = name
    graph.add_tensor(Tensor(name, (8 * -(-n // 4),), "int8"))
    return name


def derived_constant(graph: Graph, source: str, what: str, make: Callable[[], np.ndarray]) -> str:
    """The name of a constant computed from constant `source` (a kernel's layout of it), added to
    the graph the first time: kernel_calls runs more than once per node (flash count, emitter)."""
    name = f"{source}_{what}"
    if name not in graph.tensors:
        data = make()
        graph.add_tensor(Tensor(name, tuple(data.shape), str(data.dtype), data))
    return name


def codebook_storage(node, graph: Graph) -> tuple[np.ndarray, int] | None:
    """A --codebook layer's packed indices and their bits (ops/codebook.py), when indices and levels
    take fewer bytes than the dense int8 layout; else None: the dense kernels then run the clustered
    codes as they are (8-bit indices would only add the table)."""
    if "codebook" not in node.q:
        return None
    levels = graph.tensors[node.q["codebook"]]
    packed, bits = pack_indices(graph.const(node.q["codebook_index"]), levels.size)
    w = graph.tensors[node.q["weights"]]
    return (packed, bits) if packed.nbytes + levels.size < 4 * w.shape[0] * -(-w.shape[1] // 4) else None


@register
class FullyConnected(Op):
    name = "fully_connected"
    fuses_activation = True

    def run_float(self, node, graph, xs):
        x, w = xs[0], xs[1]
        y = x.reshape(-1, w.shape[1]) @ w.T
        if len(xs) > 2:
            y = y + xs[2]
        return apply_float_activation(node, y).reshape(batch_shape(node, graph, x)).astype(np.float32)

    def quantize(self, node, graph):
        quantize_weighted(node, graph)

    def run_int(self, node, graph, xs):
        w = graph.const(node.q["weights"])
        x = xs[0].astype(np.int64).reshape(-1, w.shape[1]) + node.q["input_offset"]
        y = finish_int(node, graph, exact_matmul(x, w.T))
        return y.reshape(batch_shape(node, graph, xs[0]))

    def kernel_calls(self, node, graph):
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        w = graph.tensors[node.q["weights"]]
        q = node.q
        kernel = weighted_kernel(node, graph, "fully_connected")
        shape = dict(rows=x.size // w.shape[1], input_size=w.shape[1], output_size=w.shape[0])
        if kernel == "fully_connected_s16":
            packed = derived_constant(graph, q["weights"], "packed16", lambda: packed_weights_s16(w.data))
            folded = derived_constant(graph, q["bias"], "folded", lambda: folded_bias(
                graph.const(q["bias"]), w.data, q["input_offset"], np.int64))
            m = graph.const(q["multiplier"]).astype(np.int64)
            reduced = derived_constant(graph, q["multiplier"], "q15", lambda: np.where(
                m < 0x7FFF0000, (m + (1 << 15)) >> 16, 0x7FFF).astype(np.int32))  # as fixedpoint.requantize_s64
            right = derived_constant(graph, q["shift"], "right16", lambda: (
                15 - graph.const(q["shift"]).astype(np.int64)).astype(np.int8))
            return [KernelCall(kernel, dict(
                **shape, output_offset=q["output_offset"], act_min=q["act_min"], act_max=q["act_max"],
                weights=ConstRef(packed), bias=ConstRef(folded), reduced=ConstRef(reduced),
                right=ConstRef(right)), [x.name, y.name])]
        if kernel == "fully_connected_s8" and (node.attrs.get("single_rounding", False)
                                                or codebook_storage(node, graph) is not None
                                                or sparse_fields(graph, node) is not None):
            return self.special_storage_calls(node, graph, shape)
        # s8 or s4: one stream; the input offset is in its name (it depends on it, not only on the weights)
        fast = fast_requantize(graph.const(q["shift"]))
        pack = packed_stream if kernel == "fully_connected_s8" else packed_stream_s4
        stream = derived_constant(graph, q["weights"], f"stream{q['input_offset'] + 128}",
                                  lambda: pack(w.data, folded_bias(graph.const(q["bias"]), w.data,
                                                                   q["input_offset"], np.int64),
                                               graph.const(q["multiplier"]), graph.const(q["shift"]), fast))
        args = [x.name, y.name, input_pairs_scratch(node, graph)]
        return [KernelCall(kernel, dict(
            **shape, output_offset=q["output_offset"], act_min=q["act_min"], act_max=q["act_max"],
            fast=int(fast), weights=ConstRef(stream)), args)]

    def special_storage_calls(self, node, graph, shape):
        """int8 layers not in the stream layout: an imported TFLite layer (its single rounding, the
        word-block layout of packed_weights), --codebook weights, and sparse storage (ops/sparse.py)."""
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        w = graph.tensors[node.q["weights"]]
        q = node.q
        folded = derived_constant(graph, q["bias"], "folded", lambda: folded_bias(
            graph.const(q["bias"]), w.data, q["input_offset"]))
        requantize = dict(output_offset=q["output_offset"], act_min=q["act_min"], act_max=q["act_max"])
        scales = dict(bias=ConstRef(folded), multiplier=ConstRef(q["multiplier"]), shift=ConstRef(q["shift"]))
        if node.attrs.get("single_rounding", False):
            packed = derived_constant(graph, q["weights"], "packed", lambda: packed_weights(w.data))
            return [KernelCall("fully_connected_tflite_s8", dict(**shape, **requantize, weights=ConstRef(packed),
                                                                 **scales), [x.name, y.name])]
        if codebook_storage(node, graph) is not None:  # --codebook: the same sum, the weights looked up
            packed, bits = codebook_storage(node, graph)
            levels = graph.tensors[q["codebook"]]
            indices = derived_constant(graph, q["codebook_index"], f"packed{bits}", lambda: packed)
            node.q["storage"] = dict(format=f"codebook{levels.size}", density=float(np.mean(w.data != 0)),
                                     dense_bytes=dense_weight_bytes(w.shape),
                                     bytes=int(packed.nbytes + levels.size))
            return [KernelCall("fully_connected_codebook_s8", dict(
                **shape, **requantize, index_bits=bits, indices=ConstRef(indices), codebook=ConstRef(levels.name),
                **scales), [x.name, y.name])]
        return [KernelCall("fully_connected_sparse_s8", dict(**shape, **requantize, **sparse_fields(graph, node),
                                                             **scales), [x.name, y.name])]

    def scratch(self, node, graph):
        kernel = weighted_kernel(node, graph, "fully_connected") if "multiplier" in node.q else None
        if kernel not in ("fully_connected_s8", "fully_connected_s4"):
            return None
        if kernel == "fully_connected_s8" and (node.attrs.get("single_rounding", False)
                                               or codebook_storage(node, graph) is not None
                                               or sparse_fields(graph, node) is not None):
            return None
        return input_pairs_scratch(node, graph)

    def sparse_weights(self, node, graph):
        if "multiplier" not in node.q or node.attrs.get("single_rounding", False) \
                or codebook_storage(node, graph) is not None \
                or weighted_kernel(node, graph, "fully_connected") != "fully_connected_s8":
            return None
        w = graph.tensors[node.q["weights"]]
        return w.name, dense_weight_bytes(w.shape), "fully_connected_sparse_s8"

    weight_only = True

    def quantize_f32(self, node, graph):
        quantize_weighted_f32(node, graph)

    def run_f32(self, node, graph, xs):
        w = graph.const(node.q["weights"]).astype(F32)
        x = xs[0].astype(F32, copy=False).reshape(-1, w.shape[1])
        y = finish_f32(node, graph, ordered_matmul(x, w.T))
        return y.reshape(batch_shape(node, graph, xs[0]))

    def kernel_calls_f32(self, node, graph):
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        w = graph.tensors[node.q["weights"]]
        return [KernelCall(f32_kernel(node, "fully_connected"), dict(
            rows=x.size // w.shape[1], input_size=w.shape[1], output_size=w.shape[0], **f32_fields(node)),
            [x.name, y.name])]

    def macs(self, node, graph):
        w = graph.tensors[node.inputs[1]]
        return graph.tensors[node.outputs[0]].size * int(w.shape[1])
