"""Calibration: run the float graph on representative samples and choose each activation's range.

Methods (`METHODS`):
  minmax      the observed [min, max] (the TFLite converter's default);
  percentile  clip each end at a percentile of the values seen;
  mse         the range whose uniform quantization grid has the least expected squared error;
  entropy     the threshold whose quantized distribution is closest in KL divergence (TensorRT).

The samples run through the float graph in batches of BATCH so memory stays bounded; every
method but minmax therefore takes two passes: the first finds each tensor's min/max, the second
fills a fixed-size histogram of it. Ranges never reach outside the observed [min, max], and the
clipping methods only pull an end towards 0, never across it, so a tensor whose values span 0
keeps 0 inside its range (quantization always represents 0.0 exactly anyway). A tensor on one
side of 0 (post-ReLU, softmax) keeps its near end (lo = min) and only its far end is chosen.
Constant tensors have no range here; graph inputs do, and so do the values an operator exposes
from inside itself (`Op.observed`: an LSTM's cell state), under names that are not graph tensors.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from mcugen.data import Samples, to_physical
from mcugen.errors import McugenError
from mcugen.graph.reference import run_float
from mcugen.ir import Graph

BATCH = 64
METHODS = ("minmax", "percentile", "mse", "entropy")
DEFAULT_PERCENTILE = 99.9  # 99.99 would need 10,000 values per tensor: 1,000 samples of a 10-class output

# percentile and mse: bins over each tensor's [min, max], so both read values to within
# (max - min) / HIST_BINS; outliers 1000 standard deviations out still leave 8 bins per deviation.
HIST_BINS = 1 << 14
# mse and entropy fit a distribution's shape; with fewer values than this per tensor most bins are
# empty and the optimum chases sampling noise (e.g. 52 samples of a 10-value tensor).
MIN_HIST_VALUES = 512
# mse: candidate clip points per side, spaced geometrically from 1/MSE_SHRINK of the side's extent
# to all of it (steps of ~2.5%), so a heavy tail's optimum far inside the range is still found.
MSE_GRID = 256
MSE_SHRINK = 512
# entropy: TensorRT's 2048 bins of |x| over [0, max |x|], more for wider types so every quantized
# level spans >= 8 bins, capped to bound memory: at 16 bits only thresholds >= max|x| / 4 (/ 2 for
# one-sided tensors) are tried, as clipping harder than that hardly ever pays with 2^15 levels.
KL_BINS = 2048
KL_MAX_BINS = 1 << 17
KL_WORK = 1 << 22  # candidate thresholds x quantized bins evaluated per tensor (all of them at 8 bits)
KL_EPS = 1e-4  # counts given to a quantized bin that must hold clipped mass it has none of (avoids log 0)

Range = tuple[float, float]


def check_percentile(percentile: float, what: str = "calibration percentile") -> float:
    """The percentile kept by the percentile method: in (50, 100], as a clip point below the median
    would cut away most of every activation's values."""
    if isinstance(percentile, bool) or not isinstance(percentile, (int, float)) or not 50 < percentile <= 100:
        raise McugenError(f"{what} {percentile!r} is outside (50, 100]; use e.g. 99.99 "
                          "to clip the top and bottom 0.01% of each activation's values")
    return float(percentile)


def calibrate(graph: Graph, samples: Samples, method: str = "minmax", percentile: float = DEFAULT_PERCENTILE,
              bits: int = 8) -> dict[str, Range]:
    """Each activation tensor's (lo, hi) over all samples, chosen by `method` (see the module doc).

    `percentile` is the percentile kept by the percentile method; `bits` the width of the integer
    type the range will be quantized to, which sets the number of levels mse and entropy weigh
    clipping against (for 16 bits the caller may symmetrize the range).
    """
    if method not in METHODS:
        raise McugenError(f"unknown calibration method {method!r}; choose one of {', '.join(METHODS)}")
    if method == "percentile":
        check_percentile(percentile)
    if not 2 <= bits <= 16:
        raise McugenError(f"calibration for {bits}-bit activations is not supported; give bits from 2 to 16 "
                          "(8 for int8 activations, 16 for int16)")
    if samples.count < 1:
        raise McugenError(f"{method} calibration needs at least 1 sample but the calibration data holds none; "
                          "give samples with --calib (and --calib-samples of at least 1)")

    lows, highs, counts = _extremes(graph, samples)
    if method == "minmax":
        return {name: (lows[name], highs[name]) for name in lows}
    _check_enough(method, percentile, samples.count, counts)
    spread = [name for name in lows if lows[name] < highs[name]]  # a constant-valued tensor has nothing to clip
    ranges = {name: (lows[name], highs[name]) for name in lows}

    if method in ("percentile", "mse"):
        hists, zeros = _histograms(graph, samples, {n: (lows[n], highs[n]) for n in spread}, HIST_BINS, False)
        for name in spread:
            if method == "percentile":
                ranges[name] = _percentile_range(hists[name], lows[name], highs[name], percentile)
            else:
                ranges[name] = _mse_range(hists[name], zeros[name], lows[name], highs[name], bits)
    else:
        nbins = min(max(KL_BINS, 8 << bits), KL_MAX_BINS)
        spans = {n: (0.0, max(-lows[n], highs[n])) for n in spread}
        hists, zeros = _histograms(graph, samples, spans, nbins, True)
        for name in spread:
            ranges[name] = _entropy_range(hists[name], zeros[name], lows[name], highs[name], bits)
    return ranges


# --- passes over the samples -----------------------------------------------------------------

def _activations(graph: Graph, samples: Samples) -> Iterator[dict[str, np.ndarray]]:
    """Every non-constant tensor's values (graph inputs included), one batch of samples at a time."""
    for start in range(0, samples.count, BATCH):
        feeds = {n: to_physical(graph, n, v[start:start + BATCH]) for n, v in samples.inputs.items()}
        values = run_float(graph, feeds, keep_all=True)
        # names outside graph.tensors are values inside an operator (Op.observed), never constant
        yield {name: v for name, v in values.items()
               if name not in graph.tensors or not graph.tensors[name].is_constant}


def _extremes(graph: Graph, samples: Samples) -> tuple[dict[str, float], dict[str, float], dict[str, int]]:
    lows: dict[str, float] = {}
    highs: dict[str, float] = {}
    counts: dict[str, int] = {}
    for batch in _activations(graph, samples):
        for name, value in batch.items():
            lo, hi = float(np.min(value)), float(np.max(value))
            if not (math.isfinite(lo) and math.isfinite(hi)):
                raise McugenError(f"the calibration data drives tensor {name!r} to NaN or infinity (float32 "
                                  "overflow); give samples in the range the model was trained on")
            if name in lows:
                lo, hi = min(lo, lows[name]), max(hi, highs[name])
            lows[name], highs[name] = lo, hi
            counts[name] = counts.get(name, 0) + value.size
    return lows, highs, counts


def _histograms(graph: Graph, samples: Samples, spans: dict[str, Range], bins: int, absolute: bool
                ) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Counts in `bins` equal bins over each tensor's span (of |x| if absolute), and its exact zeros."""
    hists = {name: np.zeros(bins, np.int64) for name in spans}
    zeros = dict.fromkeys(spans, 0)
    for batch in _activations(graph, samples):
        for name, (lo, hi) in spans.items():
            v = batch[name].astype(np.float64).ravel()
            if absolute:
                v = np.abs(v)
            hists[name] += np.bincount(_bin_index(v, lo, hi, bins), minlength=bins)
            zeros[name] += int(np.count_nonzero(v == 0))
    return hists, zeros


def _bin_index(v: np.ndarray, lo: float, hi: float, bins: int) -> np.ndarray:
    return np.clip(((v - lo) * (bins / (hi - lo))).astype(np.int64), 0, bins - 1)


def _check_enough(method: str, percentile: float, sample_count: int, counts: dict[str, int]) -> None:
    if method == "percentile":
        # The p-th percentile is only distinguishable from the maximum with 1 / (1 - p/100) values.
        # (rounded first: 100 / (100 - 99.9) is 1000.0000000000568 in floating point)
        need = 1 if percentile == 100 else math.ceil(round(100 / (100 - percentile), 6))
        what = f"percentile calibration at {percentile:g} needs at least {need} values per activation"
        instead = "or a lower percentile"
    else:
        need = MIN_HIST_VALUES
        what = f"{method} calibration needs at least {need} values per activation to fill its histogram"
        instead = "or the minmax method"
    for name, count in counts.items():
        if count < need:
            per_sample = count // sample_count
            raise McugenError(f"{what}, but tensor {name!r} has only {count} ({sample_count} samples x {per_sample} "
                              f"values); give at least {math.ceil(need / per_sample)} calibration samples "
                              f"(--calib / --calib-samples) {instead}")


# --- the methods -----------------------------------------------------------------------------

def _percentile_range(hist: np.ndarray, lo: float, hi: float, percentile: float) -> Range:
    """Percentile clipping: [P(100 - p), P(p)] of the values, discarding the rarest tails outright
    (McKinstry et al. 2018; one of the calibrators compared by Wu et al. 2020, arXiv:2004.09602).

    Read off the cumulative histogram: each order statistic is placed within its bin as if the
    bin's values were spread evenly across it (so it is off by less than one bin width,
    (hi - lo) / len(hist)), then neighbours are interpolated linearly as np.percentile does.
    """
    if percentile == 100:
        return lo, hi
    width = (hi - lo) / len(hist)
    cumulative = np.cumsum(hist)
    total = int(cumulative[-1])

    def order_statistic(k: int) -> float:  # the k-th smallest value, 0-based
        j = int(np.searchsorted(cumulative, k, side="right"))
        before = int(cumulative[j - 1]) if j else 0
        return lo + (j + (k - before + 0.5) / hist[j]) * width

    def value_at(fraction: float) -> float:
        rank = fraction * (total - 1)
        k = min(int(rank), total - 2) if total > 1 else 0
        below = order_statistic(k)
        return float(below + (rank - k) * (order_statistic(min(k + 1, total - 1)) - below))

    new_lo = min(value_at(1 - percentile / 100), 0.0) if lo < 0 else lo
    new_hi = max(value_at(percentile / 100), 0.0) if hi > 0 else hi
    return max(new_lo, lo), min(new_hi, hi)


def _mse_range(hist: np.ndarray, zeros: int, lo: float, hi: float, bits: int) -> Range:
    """MSE clipping: the range minimizing E[(x - dequantize(quantize(x)))^2] over the histogram
    (clipping traded against rounding as in Banner et al. 2019 "ACIQ" and Wu et al. 2020).

    The grid is `qparams_from_range`'s (asymmetric, 2^bits levels, 0.0 exact). Values outside
    it cost their squared distance to its end (bin centers weighted by counts); values inside
    cost scale^2 / 12, the rounding error of a density smooth at the scale of one level (bin
    centers would alias once a level spans few bins); exact zeros cost nothing. Both ends of a
    two-sided tensor are searched jointly on a geometric grid; a one-sided tensor only moves its
    far end. Prefix sums make each candidate O(log bins), so the whole grid is one numpy pass.
    """
    qmin, qmax = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    bins = len(hist)
    width = (hi - lo) / bins
    centers = lo + (np.arange(bins) + 0.5) * width
    n = hist.astype(np.float64)
    if lo <= 0 <= hi:
        n[_bin_index(np.zeros(1), lo, hi, bins)[0]] -= zeros
    s0, s1, s2 = (np.concatenate(([0.0], np.cumsum(w))) for w in (n, n * centers, n * centers ** 2))

    shrink = np.geomspace(1 / MSE_SHRINK, 1, MSE_GRID)
    lows = lo * shrink if lo < 0 else np.array([lo])
    highs = hi * shrink if hi > 0 else np.array([hi])
    lows, highs = np.minimum(lows, hi), np.maximum(highs, lo)  # a one-sided tensor's range stays ordered
    a, b = (g.ravel() for g in np.meshgrid(lows, highs, indexing="ij"))

    # qparams_from_range, vectorized: the same scale and zero point the quantizer will compute
    q_lo, q_hi = np.minimum(a, 0.0), np.maximum(b, 0.0)
    q_hi = np.where(q_hi - q_lo < 1e-9, q_lo + 1e-3, q_hi)
    scale = (q_hi - q_lo) / (qmax - qmin)
    zero_point = np.clip(np.round(qmin - q_lo / scale), qmin, qmax)
    bottom, top = (qmin - zero_point) * scale, (qmax - zero_point) * scale

    i_lo = np.searchsorted(centers, bottom, side="left")  # bins [0, i_lo) clip to bottom
    i_hi = np.searchsorted(centers, top, side="right")  # bins [i_hi, bins) clip to top
    below = s2[i_lo] - 2 * bottom * s1[i_lo] + bottom ** 2 * s0[i_lo]
    above = (s2[-1] - s2[i_hi]) - 2 * top * (s1[-1] - s1[i_hi]) + top ** 2 * (s0[-1] - s0[i_hi])
    inside = s0[i_hi] - s0[i_lo]
    error = np.maximum(below, 0.0) + np.maximum(above, 0.0) + inside * scale ** 2 / 12
    best = int(np.argmin(error))
    return float(a[best]), float(b[best])


def _entropy_range(hist: np.ndarray, zeros: int, lo: float, hi: float, bits: int) -> Range:
    """Entropy calibration on the histogram of |x| over [0, max |x|]: clip symmetrically at the
    threshold with the least KL divergence, never past the data nor the near end of a one-sided
    tensor. A two-sided tensor's |x| gets 2^(bits-1) levels (one sign's share), a one-sided 2^bits.
    """
    two_sided = lo < 0 < hi
    kept = _entropy_bins(hist, zeros, 1 << (bits - 1 if two_sided else bits))
    t = kept * max(-lo, hi) / len(hist)
    if lo >= 0:
        return lo, max(min(t, hi), lo)
    if hi <= 0:
        return min(max(-t, lo), hi), hi
    return max(-t, lo), min(t, hi)


def _entropy_bins(hist: np.ndarray, zeros: int, levels: int) -> int:
    """Entropy calibration (Migacz 2017, "8-bit Inference with TensorRT"): how many bins to keep.

    For each candidate threshold i (bins kept), P is the histogram cut at i with the clipped
    tail added to its last bin, Q the first i bins merged into `levels` quantized bins and spread
    back evenly over P's non-empty bins; the threshold with the least KL(P || Q) wins (the
    largest on ties). Exact zeros are left out: 0 is exact on every grid, and a post-ReLU spike
    would otherwise dominate the first quantized bin (cf. pytorch-quantization's bins[0] = bins[1]).
    """
    bins = len(hist)
    h = hist.astype(np.float64)
    h[0] -= zeros
    if h.sum() <= 0:
        return bins
    count = min(bins - levels + 1, max(64, KL_WORK // levels))
    candidates = np.unique(np.round(np.linspace(levels, bins, count)).astype(np.int64))
    divergence = _divergences(h, levels, candidates)
    return int(candidates[len(divergence) - 1 - int(np.argmin(divergence[::-1]))])


def _divergences(h: np.ndarray, levels: int, candidates: np.ndarray) -> np.ndarray:
    """KL(P || Q) of `_entropy_bins` for each candidate, O(levels) each thanks to prefix sums.

    A quantized bin that must hold clipped mass but has none (the tail lands in an empty stretch)
    gets KL_EPS counts, so the divergence is large but finite.
    """
    total = h.sum()
    h_log_h = np.where(h > 0, h * np.log(np.where(h > 0, h, 1.0)), 0.0)
    mass, nonempty, entropy = (np.concatenate(([0.0], np.cumsum(w))) for w in (h, h > 0, h_log_h))
    divergence = np.empty(len(candidates))
    chunk = max(1, (1 << 20) // levels)  # bounds the (candidates x levels) temporaries
    steps = np.arange(levels + 1)
    for start in range(0, len(candidates), chunk):
        i = candidates[start:start + chunk]
        tail = total - mass[i]
        last = h[i - 1] + tail
        p_log_p = (entropy[i - 1] + np.where(last > 0, last * np.log(np.where(last > 0, last, 1.0)), 0.0)) / total
        edges = steps[None, :] * i[:, None] // levels
        q_mass = mass[edges[:, 1:]] - mass[edges[:, :-1]]
        support = nonempty[edges[:, 1:]] - nonempty[edges[:, :-1]]
        support[:, -1] += (h[i - 1] == 0) & (tail > 0)  # the clipped tail makes an empty last bin part of P
        p_mass = q_mass.copy()
        p_mass[:, -1] += tail
        q_mass = np.where(p_mass > 0, np.maximum(q_mass, KL_EPS), 0.0)
        q = q_mass / np.maximum(support, 1) / q_mass.sum(axis=1, keepdims=True)
        cross = (p_mass * np.log(np.where(p_mass > 0, q, 1.0))).sum(axis=1) / total
        divergence[start:start + chunk] = p_log_p - np.log(total) - cross
    return divergence
