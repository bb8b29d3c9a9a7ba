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

A layer is stored sparse only when that takes fewer bytes than its dense layout by at least
SPARSE_MIN_SAVING, the sparse kernel's own code (so the flash of the whole model goes down even
when that layer is the only one using it); a layer without zero weights never qualifies, since
every stored block then costs its index on top of its weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcugen.ir import Graph, Node, Tensor

from .base import ConstRef

# The larger of the two sparse kernels' code, measured with arm-none-eabi-gcc 12 -Os for
# Cortex-M4 (mcugen_fully_connected_sparse_s8: 364 B, mcugen_conv_1x1_sparse_s8: 420 B), rounded up.
SPARSE_MIN_SAVING = 512
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


def choose(w: np.ndarray, dense_bytes: int) -> SparseLayout | None:
    """The smallest sparse layout of these [out][n] int8 codes when it saves at least
    SPARSE_MIN_SAVING bytes against the dense layout's `dense_bytes`, else None (stay dense)."""
    candidates = [layout for block in BLOCKS if (layout := encode(w, block)) is not None]
    if not candidates:
        return None
    best = min(candidates, key=lambda layout: (layout.nbytes, layout.block))
    return best if dense_bytes - best.nbytes >= SPARSE_MIN_SAVING else None


def decode(layout: SparseLayout, n: int) -> np.ndarray:
    """The [out][n] int8 codes a layout stores (the inverse of `encode`)."""
    out = len(layout.counts)
    columns = -(-n // layout.block)
    w = np.zeros((out, columns, layout.block), np.int8)
    rows = np.repeat(np.arange(out), layout.counts.astype(np.int64))
    values = layout.values.astype("<i4").view(np.int8) if layout.block == 4 else layout.values
    w[rows, layout.index.astype(np.int64)] = values.reshape(-1, layout.block)
    return w.reshape(out, -1)[:, :n]


def sparse_fields(graph: Graph, node: Node, weights: str, dense_bytes: int) -> dict | None:
    """The kernel-struct fields of the sparse layout of int8 weights `weights` ([out][n] codes, or
    OHWI 1x1 ones) when `choose` picks one (its arrays added to the graph once), else None. Records
    what was chosen in node.q["storage"] for the reports (generate's output, bench)."""
    w = graph.const(weights)
    w = w.reshape(w.shape[0], -1)
    layout = choose(w, dense_bytes)
    nonzero = int(np.count_nonzero(w))
    node.q["storage"] = dict(format=layout.format if layout else "dense", density=nonzero / max(w.size, 1),
                             dense_bytes=dense_bytes, bytes=layout.nbytes if layout else dense_bytes)
    if layout is None:
        return None
    fields: dict[str, object] = dict(block=layout.block, wide=int(layout.wide))
    for role in ("counts", "index", "values"):
        name = f"{weights}_sparse_{role}"
        if name not in graph.tensors:
            data = getattr(layout, role)
            graph.add_tensor(Tensor(name, tuple(data.shape), str(data.dtype), data))
        fields[role] = ConstRef(name)
    return fields
