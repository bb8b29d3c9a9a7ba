"""Calibration: run the float graph on representative samples and record each activation's range."""

from __future__ import annotations

import numpy as np

from mcugen.data import Samples, to_physical
from mcugen.ir import Graph
from mcugen.reference import run_float

BATCH = 64


def calibrate(graph: Graph, samples: Samples) -> dict[str, tuple[float, float]]:
    """Min/max of every activation tensor over all samples (the TFLite converter's default)."""
    ranges: dict[str, tuple[float, float]] = {}
    for start in range(0, samples.count, BATCH):
        feeds = {n: to_physical(graph, n, v[start:start + BATCH]) for n, v in samples.inputs.items()}
        for name, value in run_float(graph, feeds, keep_all=True).items():
            if graph.tensors[name].is_constant:
                continue
            lo, hi = float(np.min(value)), float(np.max(value))
            if name in ranges:
                lo, hi = min(lo, ranges[name][0]), max(hi, ranges[name][1])
            ranges[name] = (lo, hi)
    return ranges
