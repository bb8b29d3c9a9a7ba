"""Codebook (non-uniform) weights of int8 fully connected layers (`generate --codebook K`): the twin
of firmware/kernels/mcugen_fully_connected_codebook_s8.c.

Each layer's weights w[o][i], divided by their per-channel scale s[o] (the scale nearest rounding
uses), are clustered by 1-D k-means into at most K levels shared by the whole layer; the levels are
rounded to int8 codes on that scale, so the kernel stays integer: it looks up c[idx[o][i]] and
computes exactly what the dense int8 kernel computes with weights c[idx], and the golden reference
is run_int on those codes. Zero is always a level (pruned weights stay zero, and a bias of exactly
nothing stays nothing). The other K - 1 levels start at evenly spaced quantiles of the nonzero
values (initialised by density: where the weights are dense, the levels are close together) and
move by Lloyd's iterations. Indices take 4 bits (K <= 16, packed two per byte as int4 codes are,
ops/base.py::pack_int4) or 8 bits (K <= 256).
"""

from __future__ import annotations

import numpy as np

from mcugen.errors import McugenError

ITERATIONS = 30
MAX_LEVELS = 256


def check_codebook_size(k: int) -> None:
    if not 2 <= k <= MAX_LEVELS:
        raise McugenError(f"--codebook {k}: give between 2 and {MAX_LEVELS} levels per layer (zero is one of them; "
                          "16 or fewer store 4-bit indices, up to 256 8-bit ones)")


def cluster(values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """values (weights on their channel's scale, within +/-127) → (codebook: distinct int8 levels,
    ascending, 0 among them; indices into it, int64, same shape): the nearest level of each value
    after k-means (a tie goes to the smaller level)."""
    check_codebook_size(k)
    v = values.astype(np.float64).reshape(-1)
    nonzero = v[np.round(v) != 0]
    levels = np.zeros(1)
    if nonzero.size and k > 1:
        levels = np.concatenate([[0.0], np.quantile(nonzero, (np.arange(k - 1) + 0.5) / (k - 1))])
        for _ in range(ITERATIONS):
            levels = np.sort(levels)
            nearest = np.searchsorted((levels[1:] + levels[:-1]) / 2, v)  # 1-D: the midpoints split the line
            sums = np.bincount(nearest, v, len(levels))
            counts = np.bincount(nearest, minlength=len(levels))
            moved = np.where(counts > 0, sums / np.maximum(counts, 1), levels)
            moved[np.argmin(np.abs(levels))] = 0.0  # zero stays a level
            if np.array_equal(moved, levels):
                break
            levels = moved
    codebook = np.unique(np.clip(np.round(levels), -127, 127)).astype(np.int64)
    distance = np.abs(np.round(v)[:, None] - codebook[None, :])  # round first: an exact code keeps its level
    indices = np.argmin(distance, axis=1)
    return codebook.astype(np.int8), indices.reshape(values.shape)


def pack_indices(indices: np.ndarray, levels: int) -> tuple[np.ndarray, int]:
    """Indices → (uint8 bytes, bits per index): two per byte (low nibble first) for <= 16 levels."""
    flat = indices.reshape(-1).astype(np.int64)
    if levels <= 16:
        if flat.size % 2:
            flat = np.append(flat, 0)
        return (flat[0::2] | (flat[1::2] << 4)).astype(np.uint8), 4
    return flat.astype(np.uint8), 8
