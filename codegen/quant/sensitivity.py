"""Per-layer sensitivity analysis: which layers can take fewer bits, and which cannot.

Each weighted layer (conv, depthwise conv, fully connected) is quantized alone, in each mode
(int8: int8 weights and activations; int4: int4 weights, int8 activations; int16: int8
weights, int16 activations), while every other layer runs in float. The drop of the model's
score from float (top-1 accuracy in points, when the data has labels) and the output SNR
against float (dB; lower is worse) are that layer's sensitivity to the mode. Layers are listed
most harmful first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mcugen.data import Samples, to_physical
from mcugen.errors import McugenError
from mcugen.ir import Graph
from mcugen.ops import op_for
from mcugen.ops.base import INT_RANGES, WEIGHTED_OPS, dequantize_array
from mcugen.quant.evaluate import BATCH, Score, float_outputs, score
from mcugen.quant.quantize import LayerPrecision, Precision, quantize
from mcugen.tables import display_names, text_table

MODES: dict[str, LayerPrecision] = {
    "int8": LayerPrecision(8, 8),
    "int4": LayerPrecision(4, 8),
    "int16": LayerPrecision(8, 16),
}
# Measured only when asked (mixed precision asks): fully connected weights on 16 k-means levels
# (ops/codebook.py); a layer of another kind keeps its int8 weights in this mode.
OPTIONAL_MODES: dict[str, LayerPrecision] = {"codebook16": LayerPrecision(8, 8, 16)}


@dataclass
class LayerSensitivity:
    layer: str
    op: str
    weights: int  # number of weights
    drops: dict[str, float] = field(default_factory=dict)  # mode → accuracy drop from float (points)
    snr: dict[str, float] = field(default_factory=dict)  # mode → output SNR against float (dB)

    @property
    def harm(self) -> tuple[float, float]:
        """Sort key: the worst accuracy drop, then the worst SNR (finer than a few samples' accuracy)."""
        return max(self.drops.values(), default=0.0), -min(self.snr.values())


@dataclass
class SensitivityReport:
    float_score: Score
    samples: int
    layers: list[LayerSensitivity]
    modes: list[str]

    @property
    def unit(self) -> str:
        return self.float_score.unit

    def as_dict(self) -> dict:
        return dict(metric="top-1 accuracy (%)" if self.unit == "%" else "output SNR vs float (dB)",
                    float_score=self.float_score.value, samples=self.samples, modes=self.modes,
                    layers=[dict(layer=s.layer, op=s.op, weights=s.weights,
                                 accuracy_drop={m: round(d, 4) for m, d in s.drops.items()} or None,
                                 snr_db={m: round(d, 3) for m, d in s.snr.items()})
                            for s in self.layers])


def run_with_one_layer_quantized(float_graph: Graph, qgraph: Graph, layer: str, samples: Samples) -> np.ndarray:
    """The float model with `layer` replaced by its integer version from qgraph (input quantized
    with that layer's input scale, output dequantized): the harm of quantizing that layer alone."""
    qnode = next(n for n in qgraph.nodes if n.name == layer)
    x_t, y_t = qgraph.tensors[qnode.inputs[0]], qgraph.tensors[qnode.outputs[0]]
    parts = []
    for start in range(0, samples.count, BATCH):
        values = {n: to_physical(float_graph, n, v[start:start + BATCH]) for n, v in samples.inputs.items()}
        for node in float_graph.nodes:
            xs = [values[n] if n in values else float_graph.tensors[n].data for n in node.inputs]
            op = op_for(node)
            if node.name == layer:
                lo, hi = INT_RANGES[x_t.dtype]
                xq = np.clip(np.round(xs[0] / x_t.scale) + x_t.zero_point, lo, hi).astype(x_t.dtype)
                y = op.run_int(qnode, qgraph, [xq])
                values[node.outputs[0]] = dequantize_array(y, y_t.scale, y_t.zero_point)
            else:
                values[node.outputs[0]] = op.run_float(node, float_graph, xs)
        parts.append(np.concatenate([values[n].reshape(len(values[n]), -1) for n in float_graph.outputs], axis=1))
    return np.concatenate(parts).astype(np.float64)


def analyze(float_graph: Graph, ranges: dict[str, tuple[float, float]], samples: Samples,
            modes: list[str] | None = None) -> SensitivityReport:
    modes = modes or list(MODES)
    known = {**MODES, **OPTIONAL_MODES}
    unknown = [m for m in modes if m not in known]
    if unknown:
        raise McugenError(f"unknown sensitivity mode(s) {unknown}; choose from {', '.join(known)}")
    layers = [n for n in float_graph.nodes if n.op in WEIGHTED_OPS]
    if not layers:
        raise McugenError("the model has no conv, depthwise conv or fully connected layer to analyse")
    reference = float_outputs(float_graph, samples)
    float_score = score(reference, reference, samples.labels)
    # One graph per mode holds every layer's integer version in that mode; each layer's
    # parameters depend only on its own precision and its input's and output's ranges.
    qgraphs = {m: quantize(float_graph, ranges, Precision(known[m])) for m in modes}
    result = []
    for node in layers:
        s = LayerSensitivity(node.name, node.op, int(float_graph.tensors[node.inputs[1]].size))
        for m in modes:
            out = score(reference, run_with_one_layer_quantized(float_graph, qgraphs[m], node.name, samples),
                        samples.labels)
            if out.accuracy is not None:
                s.drops[m] = out.drop_from(float_score)
            s.snr[m] = out.snr_db
        result.append(s)
    result.sort(key=lambda s: s.harm, reverse=True)
    return SensitivityReport(float_score, samples.count, result, modes)


def format_report(report: SensitivityReport) -> str:
    labelled = report.unit == "%"
    what = "the accuracy drop (points) and the output SNR against float (dB)" if labelled \
        else "the output SNR against float (dB)"
    lines = [f"{report.samples} samples" + (f", float accuracy {report.float_score.value:.2f} %" if labelled else "")
             + f"; {what} when only that layer is quantized, most harmful first"]
    head = [f"{m} {k}" for m in report.modes for k in (("drop", "SNR") if labelled else ("SNR",))]
    rows = [["layer", "op", "weights"] + head]
    shown = display_names([s.layer for s in report.layers])
    for s in report.layers:
        cells = [c for m in report.modes
                 for c in ((f"{s.drops[m]:+.2f}", f"{s.snr[m]:.1f}") if labelled else (f"{s.snr[m]:.1f}",))]
        rows.append([shown[s.layer], s.op, f"{s.weights:,}"] + cells)
    return "\n".join(lines + text_table(rows, left=2))


def plot_report(report: SensitivityReport, path: str | Path) -> None:
    """A horizontal bar chart, one group of bars per layer, most harmful at the top."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise McugenError("--plot needs matplotlib; install it with: pip install 'mcugen[plot]'") from None
    layers = report.layers[::-1]
    height = 0.8 / len(report.modes)
    fig, ax = plt.subplots(figsize=(10, 1.2 + 0.45 * len(layers) * max(1, len(report.modes) / 2)))
    y = np.arange(len(layers))
    for k, m in enumerate(report.modes):
        # Output SNR is finer than the accuracy of a few hundred samples; lower bars = more harm.
        ax.barh(y + (k - (len(report.modes) - 1) / 2) * height, [s.snr[m] for s in layers], height, label=m)
        for yy, s in zip(y, layers):
            if s.drops.get(m, 0) > 0:
                ax.annotate(f"-{s.drops[m]:.2f} pt", (s.snr[m], yy + (k - (len(report.modes) - 1) / 2) * height),
                            xytext=(3, -3), textcoords="offset points", fontsize=7)
    shown = display_names([s.layer for s in layers], 32)
    ax.set_yticks(y, [f"{shown[s.layer]} ({s.op})" for s in layers])
    ax.set_xlabel("output SNR against float (dB) when only this layer is quantized\nshorter bar = more harm"
                  + ("\nlabels: accuracy drop in points" if report.unit == "%" else ""))
    title = f"Layer sensitivity, {report.samples} samples"
    if report.unit == "%":
        title += f", float accuracy {report.float_score.value:.2f} %"
    ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=120)
    except OSError as exc:
        raise McugenError(f"cannot write the plot to {path} ({exc.strerror}); choose another --plot path") from None
    finally:
        plt.close(fig)
