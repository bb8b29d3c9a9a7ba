"""Quantization sweep: calibration method × calibration size × precision → score, flash, arena.

The table a user wants before choosing: does percentile beat min/max on this model, are 100
calibration samples enough, what do int4 weights or int16 activations cost? Every row is the
integer golden reference (what the C computes) run on the validation data.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from mcugen.data import Samples
from mcugen.errors import McugenError
from mcugen.graph.planner import plan_memory
from mcugen.ir import Graph
from mcugen.ops import constant_bytes
from mcugen.quant.bias_correction import input_means
from mcugen.quant.calibrate import DEFAULT_PERCENTILE, calibrate
from mcugen.quant.evaluate import float_outputs, quantized_outputs, score
from mcugen.quant.quantize import LayerPrecision, Precision, quantize
from mcugen.tables import text_table


@dataclass
class SweepRow:
    method: str
    calib_samples: int
    precision: str
    accuracy: float | None
    snr_db: float
    flash_bytes: int
    arena_bytes: int
    calibrate_seconds: float


def sweep(float_graph: Graph, calib: Samples, data: Samples, methods: list[str], sizes: list[int],
          precisions: list[LayerPrecision], percentile: float = DEFAULT_PERCENTILE, bias_correction: bool = True
          ) -> tuple[float | None, list[SweepRow], list[str]]:
    """Returns (float accuracy or None, one row per combination, notes on skipped combinations).
    With bias_correction, each calibration subset also gives the layers' mean inputs."""
    reference = float_outputs(float_graph, data)
    float_score = score(reference, reference, data.labels)
    rows, notes = [], []
    def calibrated(subset: Samples) -> Graph:
        g = float_graph.copy()
        g.input_means = input_means(g, subset) if bias_correction else {}
        return g

    for p in [p for p in precisions if p.activation_bits == 32]:  # weight-only: no ranges, one row
        q = quantize(calibrated(calib), {}, Precision(p))
        s = score(reference, quantized_outputs(q, data), data.labels)
        rows.append(SweepRow("none", 0, str(p), s.accuracy, round(s.snr_db, 2), constant_bytes(q),
                             plan_memory(q).arena_size, 0.0))
    precisions = [p for p in precisions if p.activation_bits != 32]
    for size in sorted(set(min(s, calib.count) for s in sizes)):
        subset = calib.take(size)
        for method in methods:
            start = time.perf_counter()
            try:
                ranges = calibrate(float_graph, subset, method=method, percentile=percentile)
            except McugenError as exc:  # too little data for this method: say so in the table's place
                notes.append(f"{method} with {size} calibration samples skipped: {exc}")
                continue
            seconds = time.perf_counter() - start
            graph = calibrated(subset)
            for p in precisions:
                q = quantize(graph, ranges, Precision(p))
                s = score(reference, quantized_outputs(q, data), data.labels)
                rows.append(SweepRow(method, size, str(p), s.accuracy, round(s.snr_db, 2), constant_bytes(q),
                                     plan_memory(q).arena_size, round(seconds, 3)))
    return float_score.accuracy, rows, notes


def format_sweep(float_accuracy: float | None, rows: list[SweepRow], samples: int) -> str:
    head = ["method", "calib", "precision"] + (["accuracy"] if float_accuracy is not None else []) + \
        ["SNR dB", "flash B", "arena B"]
    table = [head]
    for r in rows:
        table.append([r.method, str(r.calib_samples) if r.calib_samples else "-", r.precision]
                     + ([f"{r.accuracy:.2f} %"] if float_accuracy is not None else [])
                     + [f"{r.snr_db:.1f}", f"{r.flash_bytes:,}", f"{r.arena_bytes:,}"])
    lines = [f"{samples} validation samples" + (f"; float accuracy {float_accuracy:.2f} %"
                                                  if float_accuracy is not None else "")
             + "; SNR is the outputs' against float; flash counts the model's constants"]
    return "\n".join(lines + text_table(table, left=3))
