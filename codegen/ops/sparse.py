"""Sparse weight storage of int8 fully connected and 1x1 conv layers: the layout that
firmware/kernels/mcugen_sparse_s8.h walks (mcugen_fully_connected_sparse_s8, mcugen_conv_1x1_sparse_s8).

A layer's [out][n] int8 weight codes are cut, row by row, into blocks of `block` consecutive
inputs (1: compressed sparse rows, one index per nonzero weight; 4: one index per nonzero word
of four weights, which the DSP path multiplies with two SMLADs); the last block of a row is
zero-padded past n. Only the blocks with a nonzero weight are stored:
  counts[o]   the number of stored blocks of row o
  index[k]    the block column j (inputs block*j .. block*j + block - 1) of the k-th stored block,
              rows one after another, columns ascending within a row
  values      block 1: int8 [k]; block 4: int32 words, byte i = weight of input 4j + i (little-endian)
counts and index are uint8 when a row has at most 255 blocks, else uint16 (at most 65535).

The arithmetic is the dense layer's, term for term: the kernels add the products of the stored
weights and skip the others, which are 0, so they compute the same integers as the dense kernel
and as the golden reference run_int (with the same folded bias, bias + input_offset * sum(w)).

Which layers are stored sparse is decided for the whole model (`plan`): a layer is a candidate
when its smallest sparse layout takes fewer bytes than its dense one, and the candidates of one
sparse kernel use it only when together they save more than that kernel's code (KERNEL_CODE; less
the dense kernel's, DENSE_TWIN_CODE, when no layer is left to call it), so the model's flash goes
down. A layer without zero weights is never a candidate: every stored block then costs its index
on top of its weights.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from mcugen.ir import Graph, Node, Tensor

from .base import ConstRef, op_for

# Code bytes, measured with arm-none-eabi-gcc 12 -O2 -mthumb (the build's flags) on Cortex-M0+, M3,
# M4, M7 and M33. A sparse kernel costs at most its largest (M0+: 1,240 B and 1,276 B; M4: 788 B and
# 824 B), rounded up; when every layer of its dense twin moves to it, the dense kernel's code leaves
# the model, credited at its smallest (fully_connected_s8: 2,316 B on M4; conv_1x1_s8: 1,908 B on M3).
KERNEL_CODE = {"fully_connected_sparse_s8": 1280, "conv_1x1_sparse_s8": 1280}
DENSE_TWIN_CODE = {"fully_connected_sparse_s8": 2316, "conv_1x1_sparse_s8": 1908}
MIN_LAYER_SAVING = 1  # a candidate layer saves at least this many bytes (the tests lower it to force sparse)
BLOCKS = (1, 4)


@dataclass(frozen=True)
class SparseLayout:
    """One layer's sparse storage (see the module docstring)."""

    block: int
    counts: np.ndarray  # uint8 or uint16 [out]
    index: np.ndarray  # same dtype [stored blocks]
    values: np.ndarray  # int8 [stored] (block 1) or int32 [stored blocks] (block 4)

    @property
    def wide(self) -> bool:
        return self.counts.dtype == np.uint16

    @property
    def nbytes(self) -> int:
        return self.counts.nbytes + self.index.nbytes + self.values.nbytes

    @property
    def format(self) -> str:
        return "csr" if self.block == 1 else f"block{self.block}"


def encode(w: np.ndarray, block: int) -> SparseLayout | None:
    """[out][n] int8 codes → their sparse layout with this block size; None when a row's block
    count does not fit uint16."""
    out, n = w.shape
    columns = -(-n // block)
    if columns > 65535:
        return None
    dtype = np.uint8 if columns <= 255 else np.uint16
    padded = np.zeros((out, columns * block), np.int8)
    padded[:, :n] = w
    blocks = padded.reshape(out, columns, block)
    stored = np.any(blocks != 0, axis=2)  # [out, columns]
    rows, cols = np.nonzero(stored)  # row-major: rows in order, columns ascending within a row
    values = blocks[rows, cols]  # [k, block]
    if block == 4:
        values = np.ascontiguousarray(values).view("<i4").reshape(-1).astype(np.int32)
    else:
        values = values.reshape(-1).astype(np.int8)
    return SparseLayout(block, stored.sum(axis=1).astype(dtype), cols.astype(dtype), values)


def smallest(w: np.ndarray) -> SparseLayout | None:
    """The sparse layout of these [out][n] int8 codes that takes the fewest bytes (the smaller
    block on a tie), from the block sizes in BLOCKS."""
    candidates = [layout for block in BLOCKS if (layout := encode(w, block)) is not None]
    return min(candidates, key=lambda layout: (layout.nbytes, layout.block)) if candidates else None


_LAYOUTS: dict[tuple, SparseLayout | None] = {}  # smallest() by weight digest: plan() runs once per kernel_calls


def _smallest_cached(w: np.ndarray) -> SparseLayout | None:
    key = (w.shape, hashlib.sha1(np.ascontiguousarray(w).tobytes()).hexdigest(), BLOCKS)
    if key not in _LAYOUTS:
        if len(_LAYOUTS) > 512:
            _LAYOUTS.clear()
        _LAYOUTS[key] = smallest(w)
    return _LAYOUTS[key]


def plan(graph: Graph) -> dict[str, tuple[str, SparseLayout]]:
    """The layers of the model to store sparse: {node name: (sparse kernel, layout)}. Each operator
    names its candidates through Op.sparse_weights (weights tensor, dense layout bytes, kernel)."""
    candidates: dict[str, list[tuple[str, int, SparseLayout]]] = {}
    eligible: dict[str, int] = {}  # layers that run the dense twin of each sparse kernel
    for node in graph.nodes:
        found = op_for(node).sparse_weights(node, graph)
        if found is None:
            continue
        weights, dense_bytes, kernel = found
        eligible[kernel] = eligible.get(kernel, 0) + 1
        w = graph.const(weights)
        layout = _smallest_cached(w.reshape(w.shape[0], -1))
        if layout is not None and dense_bytes - layout.nbytes >= MIN_LAYER_SAVING:
            candidates.setdefault(kernel, []).append((node.name, dense_bytes - layout.nbytes, layout))
    chosen: dict[str, tuple[str, SparseLayout]] = {}
    for kernel, layers in candidates.items():
        code = KERNEL_CODE[kernel] - (DENSE_TWIN_CODE[kernel] if len(layers) == eligible[kernel] else 0)
        if sum(saving for _, saving, _ in layers) > code:
            chosen.update({name: (kernel, layout) for name, _, layout in layers})
    return chosen


def decode(layout: SparseLayout, n: int) -> np.ndarray:
    """The [out][n] int8 codes a layout stores (the inverse of `encode`)."""
    out = len(layout.counts)
    columns = -(-n // layout.block)
    w = np.zeros((out, columns, layout.block), np.int8)
    rows = np.repeat(np.arange(out), layout.counts.astype(np.int64))
    values = layout.values.astype("<i4").view(np.int8) if layout.block == 4 else layout.values
    w[rows, layout.index.astype(np.int64)] = values.reshape(-1, layout.block)
    return w.reshape(out, -1)[:, :n]


def sparse_fields(graph: Graph, node: Node) -> dict | None:
    """The kernel-struct fields of this layer's sparse weights when `plan` stores them sparse (the
    arrays added to the graph once), else None. Records what was chosen in node.q["storage"] for
    the reports (generate's output, the library summary)."""
    weights, dense_bytes, _ = op_for(node).sparse_weights(node, graph)
    w = graph.const(weights)
    chosen = plan(graph).get(node.name)
    layout = chosen[1] if chosen else None
    node.q["storage"] = dict(format=layout.format if layout else "dense",
                             density=int(np.count_nonzero(w)) / max(w.size, 1),
                             dense_bytes=dense_bytes, bytes=layout.nbytes if layout else dense_bytes)
    if layout is None:
        return None
    # the weight slots the kernel multiplies (whole blocks), against all of them: the MACs it skips
    node.q["storage"].update(stored_weights=int(layout.values.size * (1 if layout.block == 1 else 4)),
                             weights=int(w.size))
    fields: dict[str, object] = dict(block=layout.block, wide=int(layout.wide))
    for role in ("counts", "index", "values"):
        name = f"{weights}_sparse{layout.block}_{role}"
        if name not in graph.tensors:
            data = getattr(layout, role)
            graph.add_tensor(Tensor(name, tuple(data.shape), str(data.dtype), data))
        fields[role] = ConstRef(name)
    return fields
