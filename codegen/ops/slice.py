"""Slice, Split and Gather with constant indices, int8: the twin of firmware/kernels/mcugen_slice_s8.c.

One operator picks, along every axis, a list of input positions (`attrs["indices"]`, one tuple per
axis; the batch axis is always (0,)):
  y[i0][i1]...[ik] = x[indices[0][i0]][indices[1][i1]]...[indices[k][ik]]
A Slice picks arithmetic progressions (start, step, count), a Split one contiguous range of one axis,
a Gather any constant list along one axis. The values are copied as they are: the output keeps the
input's type, scale and zero point (no requantization).

The C kernel is a strided copy of up to four axes,
  output[out_offset + sum_a i_a * out_strides[a]] = input[in_offset + sum_a i_a * in_strides[a]],
and every axis's index list is cut into arithmetic runs (`runs`): one call per combination of runs
(one call for a Slice or a Split; one per run of indices for a Gather). Where the output is one
contiguous range of the input's bytes (`contiguous_offset`), no kernel runs: the planner lets the
output share the input's buffer at that offset (zero copy). Weight-only mode: slice_f32, the same copy.
"""

from __future__ import annotations

import itertools

import numpy as np

from .base import KernelCall, Op, rank4, register


def runs(indices: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """Cut a list of positions into maximal arithmetic runs (first position, step, count)."""
    out: list[tuple[int, int, int]] = []
    i = 0
    while i < len(indices):
        if i + 1 == len(indices):
            out.append((indices[i], 1, 1))
            break
        step = indices[i + 1] - indices[i]
        j = i + 1
        while j + 1 < len(indices) and indices[j + 1] - indices[j] == step:
            j += 1
        out.append((indices[i], step, j - i + 1))
        i = j + 1
    return out


def take(x: np.ndarray, indices: tuple[tuple[int, ...], ...]) -> np.ndarray:
    """x (batch axis first) at the positions of every non-batch axis."""
    for axis, idx in enumerate(indices):
        if axis == 0:
            continue  # the batch axis: the stages run many samples at once, and indices[0] is (0,)
        if tuple(idx) != tuple(range(x.shape[axis])):
            x = np.take(x, np.asarray(idx, dtype=np.int64), axis=axis)
    return np.ascontiguousarray(x)


def row_strides(shape: tuple[int, ...]) -> list[int]:
    return [int(np.prod(shape[a + 1:], dtype=np.int64)) for a in range(len(shape))]


def contiguous_offset(in_shape: tuple[int, ...], indices: tuple[tuple[int, ...], ...]) -> int | None:
    """The element offset of the output inside the input when the output is one contiguous range of
    the input's row-major memory, else None: every axis before some axis k picks one position, axis k
    a run of step 1, and every axis after k all of its positions in order."""
    k = max((a for a, idx in enumerate(indices) if tuple(idx) != tuple(range(in_shape[a]))), default=None)
    if k is None:
        return 0
    idx = indices[k]
    if any(idx[i + 1] - idx[i] != 1 for i in range(len(idx) - 1)):
        return None
    if any(len(indices[a]) != 1 for a in range(k)):
        return None
    strides = row_strides(in_shape)
    return sum(int(indices[a][0]) * strides[a] for a in range(k + 1))


@register
class Slice(Op):
    name = "slice"

    def run_float(self, node, graph, xs):
        return take(xs[0], node.attrs["indices"])

    def output_qparams(self, node, graph, lo, hi):
        x = graph.tensors[node.inputs[0]]
        return x.scale, x.zero_point

    def run_int(self, node, graph, xs):
        return take(xs[0], node.attrs["indices"])

    def aliases_input(self, node, graph):
        return contiguous_offset(graph.tensors[node.inputs[0]].shape, node.attrs["indices"]) is not None

    def alias_offset(self, node, graph):
        x = graph.tensors[node.inputs[0]]
        return contiguous_offset(x.shape, node.attrs["indices"]) * (x.nbytes // x.size)

    def kernel_calls(self, node, graph, kernel: str = "slice_s8"):
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        if self.aliases_input(node, graph):
            return []  # the planner shares the bytes, or copies them when it cannot (Plan.copies)
        indices = list(node.attrs["indices"])
        if len(indices) > 4:  # a leading axis of one position out of one: drop it (rank4 refuses the rest)
            drop = [a for a in range(len(indices)) if x.shape[a] == 1][: len(indices) - 4]
            keep = [a for a in range(len(indices)) if a not in drop]
            indices = [indices[a] for a in keep]
            in_shape, out_shape = tuple(x.shape[a] for a in keep), tuple(y.shape[a] for a in keep)
        else:
            in_shape, out_shape = x.shape, y.shape
        pad = 4 - len(indices)
        in_strides, out_strides = row_strides(tuple(rank4(in_shape))), row_strides(tuple(rank4(out_shape)))
        per_axis = [[(0, 1, 1)]] * pad + [runs(tuple(idx)) for idx in indices]
        calls = []
        for combo in itertools.product(*[list(enumerate(r)) for r in per_axis]):
            # each run's first output position along its axis: the counts of the runs before it
            done = [sum(r[2] for r in per_axis[a][:k]) for a, (k, _) in enumerate(combo)]
            picked = [r for _, r in combo]
            calls.append(KernelCall(kernel, dict(
                dims=[r[2] for r in picked],
                input_strides=[r[1] * s for r, s in zip(picked, in_strides)],
                input_offset=sum(r[0] * s for r, s in zip(picked, in_strides)),
                output_strides=out_strides,
                output_offset=sum(d * s for d, s in zip(done, out_strides))), [x.name, y.name]))
        return calls

    weight_only = True

    def run_f32(self, node, graph, xs):
        return take(xs[0], node.attrs["indices"])

    def kernel_calls_f32(self, node, graph):
        return self.kernel_calls(node, graph, "slice_f32")
