"""How good is a quantized model? Its outputs on validation data against the float model's.

With labels, the score is top-1 accuracy in percent; without, the signal-to-noise ratio of the
outputs in dB (float output power over the power of the difference). Drops are float score
minus quantized score, so a positive drop is harm: percentage points, or dB.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcugen.data import Samples, to_physical
from mcugen.graph.reference import golden_feeds, real_values, run_float, run_int
from mcugen.ir import Graph

BATCH = 256


@dataclass
class Score:
    accuracy: float | None  # top-1, percent; None without labels
    snr_db: float  # output SNR against float
    cosine_min: float  # worst sample's cosine similarity with float

    @property
    def value(self) -> float:
        return self.accuracy if self.accuracy is not None else self.snr_db

    @property
    def unit(self) -> str:
        return "%" if self.accuracy is not None else "dB"

    def drop_from(self, reference: Score) -> float:
        return reference.value - self.value

    def as_dict(self) -> dict:
        return dict(accuracy=self.accuracy, snr_db=round(self.snr_db, 3), cosine_min=round(self.cosine_min, 6))


def _flat(outputs: dict[str, np.ndarray], names: list[str]) -> np.ndarray:
    return np.concatenate([outputs[n].reshape(len(outputs[n]), -1) for n in names], axis=1).astype(np.float64)


def float_outputs(graph: Graph, samples: Samples) -> np.ndarray:
    """The float graph's outputs, [S, all outputs flattened] in physical layout."""
    parts = []
    for start in range(0, samples.count, BATCH):
        feeds = {n: to_physical(graph, n, v[start:start + BATCH]) for n, v in samples.inputs.items()}
        parts.append(_flat(run_float(graph, feeds), graph.outputs))
    return np.concatenate(parts)


def quantized_outputs(graph: Graph, samples: Samples) -> np.ndarray:
    """The integer graph's outputs (the golden reference, what the C computes), dequantized."""
    parts = []
    for start in range(0, samples.count, BATCH):
        outs = run_int(graph, golden_feeds(graph, {n: v[start:start + BATCH] for n, v in samples.inputs.items()}))
        parts.append(_flat({n: real_values(graph.tensors[n], outs[n]) for n in graph.outputs}, graph.outputs))
    return np.concatenate(parts)


def score(reference: np.ndarray, outputs: np.ndarray, labels: np.ndarray | None) -> Score:
    """Score outputs against the float reference outputs (and labels when there are any)."""
    accuracy = None
    if labels is not None:
        accuracy = round(100.0 * float(np.mean(outputs.argmax(1) == labels.reshape(-1))), 3)
    noise = float(np.sum((outputs - reference) ** 2))
    signal = float(np.sum(reference ** 2))
    snr = 10.0 * np.log10(signal / noise) if noise > 0 else 120.0
    norms = np.linalg.norm(reference, axis=1) * np.linalg.norm(outputs, axis=1)
    cos = np.where(norms > 0, np.sum(reference * outputs, axis=1) / np.where(norms > 0, norms, 1.0), 1.0)
    return Score(accuracy, float(min(snr, 120.0)), float(cos.min()))
