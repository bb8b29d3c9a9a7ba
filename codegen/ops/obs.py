"""Post-training reconstruction of one weighted layer from its calibration inputs: pruning
(Optimal Brain Compression / SparseGPT) and rounding (GPTQ) that update the weights not yet
decided so that the layer's output on those inputs moves as little as possible.

For a layer y = W x with calibration inputs X ([samples, k]), the output error of changing row w
to q is (w - q) H (w - q)^T with H = X^T X. The columns are decided left to right; when column i
of every row is set to its pruned (0) or rounded value, the error it makes, e = (w_i - q_i) / U_ii,
is spread over the columns still to come, w_j -= e * U_ij (j > i), where U is the upper Cholesky
factor of H^-1 (the Optimal Brain Surgeon update, in the form SparseGPT and GPTQ use). H is damped
first (H + DAMP * mean(diag H) * I) so that the factor exists; a column no input ever drives
(diag 0) is set to 0, which costs nothing. Columns go in blocks of BLOCK: a pruning mask is chosen
at each block's start, per row, by the OBS saliency w^2 / U_ii^2 (so each row keeps the same share,
as quant/prune.py's magnitude masks do), and the updates of a finished block reach the rest at once.
Each row then takes whichever of a few candidates has the least output error on H's inputs (the
sequential result, least-squares refits of the masks, magnitude pruning / nearest rounding), so the
reconstruction is never worse than the plain method on the calibration data; on other inputs it
is a measured property (tests/test_reconstruct.py).
"""

from __future__ import annotations

import numpy as np

DAMP = 0.01
BLOCK = 128


def hessian(x: np.ndarray) -> np.ndarray:
    """H = X^T X (float64) of the layer inputs x [samples, k], averaged over samples."""
    x = x.astype(np.float64).reshape(len(x), -1)
    return x.T @ x / max(len(x), 1)


def _inverse_factor(h: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The upper Cholesky factor of the damped H^-1; zeroes w's dead columns (in place)."""
    h = h.astype(np.float64).copy()
    dead = np.diag(h) <= 0
    h[dead, dead] = 1.0
    w[:, dead] = 0.0
    h += np.eye(len(h)) * DAMP * max(float(np.mean(np.diag(h))), 1e-12)
    inverse = np.linalg.inv(h)
    inverse = (inverse + inverse.T) / 2
    return np.linalg.cholesky(inverse).T  # upper: H^-1 = U^T U


def _block_mask(w1: np.ndarray, d: np.ndarray, sparsity: float, pattern: tuple[str, int, int]) -> np.ndarray:
    """True where a weight of the block [rows, cols] is pruned: per row, the lowest saliency."""
    kind, n_keep, m = pattern
    saliency = (w1 / d[None, :]) ** 2
    rows, cols = w1.shape
    mask = np.zeros_like(w1, dtype=bool)
    if kind == "N:M":
        for g in range(0, cols, m):
            part = saliency[:, g:g + m]
            keep = min(n_keep, part.shape[1])
            order = np.argsort(part, axis=1, kind="stable")[:, : part.shape[1] - keep]
            np.put_along_axis(mask[:, g:g + m], order, True, axis=1)
        return mask
    size = 4 if kind == "block4" else 1
    groups = -(-cols // size)
    padded = np.zeros((rows, groups * size))
    padded[:, :cols] = saliency
    strength = padded.reshape(rows, groups, size).sum(axis=2)
    drop = int(round(sparsity * groups))
    if drop > 0:
        order = np.argsort(strength, axis=1, kind="stable")[:, :drop]
        gmask = np.zeros((rows, groups), bool)
        np.put_along_axis(gmask, order, True, axis=1)
        mask = np.repeat(gmask, size, axis=1)[:, :cols]
    return mask


def row_errors(rows: np.ndarray, q: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Per row, the layer's output error (w - q) H (w - q)^T on the inputs H came from."""
    d = rows.astype(np.float64) - q
    return np.einsum("ij,jk,ik->i", d, h, d)


def refit(rows: np.ndarray, keep: np.ndarray, h: np.ndarray) -> np.ndarray:
    """The best weights with this mask, row by row: q_S = H_SS^-1 (H w)_S over the kept set S
    (H damped as for the Cholesky factor), 0 elsewhere — the least-squares optimum for that mask."""
    h = h.astype(np.float64)
    damped = h + np.eye(len(h)) * DAMP * max(float(np.mean(np.diag(h))), 1e-12)
    w = rows.astype(np.float64)
    target = w @ h  # (H w)_j per row (H symmetric)
    q = np.zeros_like(w)
    for r in range(len(w)):
        kept = np.flatnonzero(keep[r])
        if kept.size:
            q[r, kept] = np.linalg.solve(damped[np.ix_(kept, kept)], target[r, kept])
    return q


def obc_prune(rows: np.ndarray, h: np.ndarray, sparsity: float, pattern: tuple[str, int, int],
              magnitude: np.ndarray | None = None) -> np.ndarray:
    """Rows [out][k] pruned to `sparsity` (per row and column block; N:M by its own count) with the
    remaining weights updated to keep X W^T close to the original. Returns a new float64 array.

    Per row the result is the one with the least output error on H's inputs among: the sequential
    OBS pass above, and the least-squares refit (`refit`) of its mask and of the magnitude mask —
    and, when `magnitude` (the magnitude-pruned rows) is given, those rows themselves, so that
    the reconstruction is never worse than magnitude pruning on the calibration inputs."""
    sequential = _obc_sequential(rows, h, sparsity, pattern)
    candidates = [sequential, refit(rows, sequential != 0, h)]
    if magnitude is not None:
        candidates += [magnitude.astype(np.float64), refit(rows, magnitude != 0, h)]
    errors = np.stack([row_errors(rows, c, h) for c in candidates])  # [candidates, out]
    best = np.argmin(errors, axis=0)
    return np.stack([candidates[b][r] for r, b in enumerate(best)])


def _obc_sequential(rows: np.ndarray, h: np.ndarray, sparsity: float, pattern: tuple[str, int, int]) -> np.ndarray:
    w = rows.astype(np.float64).copy()
    u = _inverse_factor(h, w)
    k = w.shape[1]
    block = BLOCK - BLOCK % max(pattern[2], 4)  # whole N:M groups and 4-blocks in each column block
    for i1 in range(0, k, block):
        i2 = min(i1 + block, k)
        w1 = w[:, i1:i2].copy()
        u1 = u[i1:i2, i1:i2]
        mask = _block_mask(w1, np.diag(u1), sparsity, pattern)
        errors = np.zeros_like(w1)
        for i in range(i2 - i1):
            q = np.where(mask[:, i], 0.0, w1[:, i])
            e = (w1[:, i] - q) / u1[i, i]
            w1[:, i:] -= e[:, None] * u1[i, i:][None, :]
            w1[:, i] = q
            errors[:, i] = e
        w[:, i1:i2] = w1
        w[:, i2:] -= errors @ u[i1:i2, i2:]
    return w


def gptq_codes(rows: np.ndarray, h: np.ndarray, scale: np.ndarray, qmax: int) -> np.ndarray:
    """Integer codes [out][k] in [-qmax, qmax] of rows [out][k] at per-row `scale`, rounded column by
    column with the GPTQ update (the error of each rounding spread over the columns still to come).
    A weight that is exactly 0 stays 0 (a pruned weight keeps its place in the sparse storage).
    Per row, the plain rounding is kept instead where its output error on H's inputs is lower."""
    w = rows.astype(np.float64).copy()
    zero = w == 0
    u = _inverse_factor(h, w)
    s = scale.astype(np.float64)[:, None]
    k = w.shape[1]
    codes = np.zeros(w.shape, np.int64)
    for i1 in range(0, k, BLOCK):
        i2 = min(i1 + BLOCK, k)
        w1 = w[:, i1:i2].copy()
        u1 = u[i1:i2, i1:i2]
        errors = np.zeros_like(w1)
        for i in range(i2 - i1):
            c = np.clip(np.round(w1[:, i] / s[:, 0]), -qmax, qmax)
            c[zero[:, i1 + i]] = 0
            q = c * s[:, 0]
            e = (w1[:, i] - q) / u1[i, i]
            w1[:, i:] -= e[:, None] * u1[i, i:][None, :]
            codes[:, i1 + i] = c
            errors[:, i] = e
        w[:, i2:] -= errors @ u[i1:i2, i2:]
    nearest = np.where(zero, 0, np.clip(np.round(rows / s), -qmax, qmax)).astype(np.int64)
    worse = row_errors(rows, codes * s, h) > row_errors(rows, nearest * s, h)
    codes[worse] = nearest[worse]
    return codes
