"""Magnitude pruning with per-layer sparsity chosen from measured sensitivity (`mcugen prune`).

The prunable layers are the ones a sparse kernel can run (ops/sparse.py): Gemm and MatMul with a
constant weight, and 1x1 Conv with group 1. Pruning works on the ONNX model's own weights and
writes a normal ONNX model, so a user can fine-tune it in their framework and bring it back.

Masks are chosen per output row (every output channel keeps the same share of its weights):
the rows are what BatchNorm folding scales, so the same weights are pruned whether the ranking
looks at the ONNX weights or at the folded ones mcugen quantizes, and each row of the sparse
kernel does the same work. Patterns, within each row:
  unstructured  the smallest |w| are zeroed;
  N:M           in each group of M consecutive inputs only the N largest |w| are kept (sparsity 1 - N/M);
  block4        blocks of 4 consecutive inputs (the sparse kernels' word) ranked by their L2 norm, the
                weakest zeroed whole (the kernel's layout when the ONNX input order is mcugen's: a
                1x1 conv's channels, an FC layer whose input is not a flattened image).

The search is the caller's measurement, `evaluate(sparsities) -> drop` (the compiler driver
builds the model, quantizes it to int8 as generate would and scores it on --data against the
unpruned int8 model: accuracy points, or dB of output SNR without labels):
  1. sensitivity: each layer alone at each of LEVELS;
  With method obc the layers are pruned by Pruner's OBC reconstruction instead of plain magnitude.
  2. greedy: repeatedly raise the layer whose next level costs the least estimated drop per weight
     removed, measure the whole model, keep the step if the measured drop stays within --max-drop
     (else that layer stays where it is), until --sparsity is reached or no step is left.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from mcugen.errors import McugenError
from mcugen.ops.obs import obc_prune
from mcugen.tables import display_names, text_table

LEVELS = (0.25, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)
PATTERNS = ("unstructured", "block4", "N:M")


@dataclass(frozen=True)
class PrunableLayer:
    node: str  # the ONNX node's name (or its first output's, when unnamed)
    op: str
    initializer: str  # the weight initializer
    out_axis: int  # the weight's output-channel axis

    def rows(self, w: np.ndarray) -> np.ndarray:
        """The weight as [out][inputs], inputs in the ONNX order."""
        return np.moveaxis(w, self.out_axis, 0).reshape(w.shape[self.out_axis], -1)

    def from_rows(self, rows: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        moved = list(shape)
        moved.insert(0, moved.pop(self.out_axis))
        return np.moveaxis(rows.reshape(moved), 0, self.out_axis)


def parse_pattern(text: str) -> tuple[str, int, int]:
    """'unstructured', 'block4' or 'N:M' (e.g. '2:4', 1 <= N < M <= 64) → (kind, N, M)."""
    if text in ("unstructured", "block4"):
        return text, 0, 0
    match = re.fullmatch(r"(\d+):(\d+)", text)
    if match is None or not 1 <= int(match[1]) < int(match[2]) <= 64:
        raise McugenError(f"--pattern {text!r} is not one of unstructured, block4 or N:M with 1 <= N < M <= 64 "
                          "(e.g. 2:4)")
    return "N:M", int(match[1]), int(match[2])


def prunable_layers(model: onnx.ModelProto) -> list[PrunableLayer]:
    """Gemm / MatMul layers with a 2-D weight initializer and 1x1 group-1 Conv layers, each weight once."""
    inits = {t.name: t for t in model.graph.initializer}
    found: list[PrunableLayer] = []
    seen: set[str] = set()
    for node in model.graph.node:
        if len(node.input) < 2 or node.input[1] not in inits or node.input[1] in seen:
            continue
        dims = list(inits[node.input[1]].dims)
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        name = node.name or (node.output[0] if node.output else node.input[1])
        if node.op_type == "Gemm" and len(dims) == 2:
            layer = PrunableLayer(name, "Gemm", node.input[1], 0 if attrs.get("transB", 0) else 1)
        elif node.op_type == "MatMul" and len(dims) == 2:
            layer = PrunableLayer(name, "MatMul", node.input[1], 1)
        elif node.op_type == "Conv" and len(dims) == 4 and dims[2:] == [1, 1] and attrs.get("group", 1) == 1:
            layer = PrunableLayer(name, "Conv 1x1", node.input[1], 0)
        else:
            continue
        seen.add(node.input[1])
        found.append(layer)
    if not found:
        raise McugenError("the model has no layer to prune: mcugen prunes Gemm, MatMul and 1x1 Conv layers with "
                          "constant weights (the layers its sparse kernels run)")
    return found


def prune_rows(rows: np.ndarray, sparsity: float, pattern: tuple[str, int, int]) -> np.ndarray:
    """Zero `sparsity` of each row's weights, smallest magnitude first, in the pattern's shape
    (N:M ignores sparsity: it is 1 - N/M by construction). Returns a pruned copy."""
    kind, n_keep, m = pattern
    out, k = rows.shape
    pruned = rows.copy()
    if kind == "N:M":
        groups = -(-k // m)
        padded = np.zeros((out, groups * m), rows.dtype)
        padded[:, :k] = rows
        g = np.abs(padded.reshape(out, groups, m))
        order = np.argsort(-g, axis=2, kind="stable")
        keep = np.zeros_like(g, dtype=bool)
        np.put_along_axis(keep, order[:, :, :n_keep], True, axis=2)
        return (padded * keep.reshape(out, -1))[:, :k]
    size = 4 if kind == "block4" else 1
    blocks = -(-k // size)
    padded = np.zeros((out, blocks * size), np.float64)
    padded[:, :k] = rows
    strength = np.sqrt((padded.reshape(out, blocks, size) ** 2).sum(axis=2))
    drop = int(round(sparsity * blocks))
    if drop <= 0:
        return pruned
    order = np.argsort(strength, axis=1, kind="stable")[:, :drop]  # weakest blocks of each row
    mask = np.ones((out, blocks), bool)
    np.put_along_axis(mask, order, False, axis=1)
    return pruned * np.repeat(mask, size, axis=1)[:, :k]


class Pruner:
    """Pruned copies of one model: magnitude masks (prune_rows), or with `hessians` (layer → H of
    its calibration inputs, in the ONNX weight's input order) the OBC / SparseGPT reconstruction
    (ops/obs.py), never worse than magnitude on those inputs. Each layer's pruned weight
    is computed once per sparsity (the search asks for the same ones again and again)."""

    def __init__(self, model: onnx.ModelProto, layers: list[PrunableLayer], pattern: tuple[str, int, int],
                 hessians: dict[str, np.ndarray] | None = None) -> None:
        self.source, self.layers, self.pattern, self.hessians = model, layers, pattern, hessians or {}
        self.weights = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer
                        if t.name in {layer.initializer for layer in layers}}
        self._cache: dict[tuple[str, float], np.ndarray] = {}

    def layer_weight(self, layer: PrunableLayer, sparsity: float) -> np.ndarray:
        key = (layer.node, sparsity)
        if key not in self._cache:
            w = self.weights[layer.initializer]
            rows = layer.rows(w.astype(np.float64))
            pruned = prune_rows(rows, sparsity, self.pattern)
            if layer.node in self.hessians:
                pruned = obc_prune(rows, self.hessians[layer.node], sparsity, self.pattern, pruned)
            self._cache[key] = layer.from_rows(pruned, w.shape).astype(w.dtype)
        return self._cache[key]

    def model(self, sparsities: dict[str, float]) -> onnx.ModelProto:
        """A copy of the model with each layer's weight pruned to its sparsity (0 or absent: untouched)."""
        out = onnx.ModelProto()
        out.CopyFrom(self.source)
        inits = {t.name: t for t in out.graph.initializer}
        for layer in self.layers:
            s = sparsities.get(layer.node, 0.0)
            if s > 0:
                inits[layer.initializer].CopyFrom(numpy_helper.from_array(self.layer_weight(layer, s),
                                                                          layer.initializer))
        return out


def layer_input_rows(layer: PrunableLayer, x: np.ndarray) -> np.ndarray:
    """A layer's ONNX input values as [samples, inputs] in the order of its weight rows: a 1x1 conv's
    NCHW pixels one per row, a Gemm / MatMul input's last axis."""
    if layer.op == "Conv 1x1":
        return np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])
    return x.reshape(-1, x.shape[-1])


@dataclass
class PruneResult:
    sparsities: dict[str, float]  # layer → chosen sparsity
    drop: float  # measured, whole model
    sparsity: float  # zeros among the prunable weights
    unit: str  # "points" or "dB"
    weights: dict[str, int]  # layer → weight count
    curves: dict[str, dict[float, float]] = field(default_factory=dict)  # layer → level → drop alone

    def as_dict(self) -> dict:
        return dict(sparsity=round(self.sparsity, 4), drop=round(self.drop, 4), unit=self.unit,
                    layers=[dict(layer=k, weights=self.weights[k], sparsity=self.sparsities.get(k, 0.0),
                                 sensitivity={str(lv): round(d, 4) for lv, d in self.curves.get(k, {}).items()})
                            for k in self.weights])


def achieved(sparsities: dict[str, float], weights: dict[str, int]) -> float:
    """The share of the prunable weights pruned (by the levels; the rounding per row is close)."""
    return sum(weights[k] * sparsities.get(k, 0.0) for k in weights) / max(sum(weights.values()), 1)


def search(weights: dict[str, int], evaluate: Callable[[dict[str, float]], float], unit: str,
           pattern: tuple[str, int, int], max_drop: float | None, sparsity: float | None) -> PruneResult:
    """Per-layer sparsities (see the module docstring). weights: layer → weight count."""
    if max_drop is None and sparsity is None:
        raise McugenError("prune needs --max-drop, --sparsity or both")
    if sparsity is not None and not 0 < sparsity < 1:
        raise McugenError(f"--sparsity {sparsity:g} must lie between 0 and 1 (e.g. 0.8 for 80 % zeros)")
    levels = (1 - pattern[1] / pattern[2],) if pattern[0] == "N:M" else LEVELS
    curves = {k: {lv: evaluate({k: lv}) for lv in levels} for k in weights}
    state: dict[str, float] = {}
    drop = 0.0
    frozen: set[str] = set()
    while sparsity is None or achieved(state, weights) < sparsity - 1e-9:
        best = None
        for k in weights:
            current = state.get(k, 0.0)
            ahead = [lv for lv in levels if lv > current]
            if k in frozen or not ahead:
                continue
            nxt = ahead[0]
            cost = (max(curves[k][nxt], 0.0) - max(curves[k].get(current, 0.0), 0.0)) / (weights[k] * (nxt - current))
            if best is None or cost < best[0]:
                best = (cost, k, nxt)
        if best is None:
            break
        _, k, nxt = best
        trial = {**state, k: nxt}
        measured = evaluate(trial)
        if max_drop is not None and measured > max_drop:
            frozen.add(k)
            continue
        state, drop = trial, measured
    reached = achieved(state, weights)
    if sparsity is not None and reached < sparsity - 1e-9:
        within = f" within --max-drop {max_drop:g}" if max_drop is not None else ""
        raise McugenError(f"--sparsity {sparsity:g} is out of reach{within}: the best reachable is sparsity "
                          f"{reached:.3f} at a measured drop of {drop:.2f} {unit}"
                          + ("; raise --max-drop or lower --sparsity" if max_drop is not None else
                             f" (at most {max(levels):g} of each layer is pruned); lower --sparsity"))
    return PruneResult(state, drop, reached, unit, dict(weights), curves)


def format_result(result: PruneResult) -> str:
    levels = sorted({lv for c in result.curves.values() for lv in c})
    rows = [["layer", "weights", "sparsity"] + [f"{lv:g}" for lv in levels]]
    shown = display_names(list(result.weights))
    for k, n in result.weights.items():
        rows.append([shown[k], f"{n:,}", f"{result.sparsities.get(k, 0.0):g}"]
                    + [f"{result.curves[k][lv]:+.2f}" for lv in levels])
    head = (f"pruned {result.sparsity:.1%} of the prunable weights; measured drop {result.drop:.2f} {result.unit} "
            f"(int8, against the unpruned int8 model). Per layer: the chosen sparsity, and the drop with that "
            f"layer alone pruned at each level:")
    return "\n".join([head] + text_table(rows, left=1))


def plot_curves(result: PruneResult, path: str | Path) -> None:
    """The per-layer sensitivity curves (drop with that layer alone pruned, against its sparsity),
    each layer's chosen sparsity marked, as a PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise McugenError("--plot needs matplotlib; install it with: pip install 'mcugen[plot]'") from None
    fig, ax = plt.subplots(figsize=(8, 5))
    shown = display_names(list(result.weights), 32)
    for layer, curve in result.curves.items():
        levels = sorted(curve)
        line, = ax.plot(levels, [curve[lv] for lv in levels], marker="o", markersize=3,
                        label=f"{shown[layer]} ({result.weights[layer]:,} weights)")
        chosen = result.sparsities.get(layer, 0.0)
        if chosen in curve:
            ax.plot([chosen], [curve[chosen]], marker="*", markersize=12, color=line.get_color())
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.set_xlabel("sparsity of the layer alone (share of its weights zeroed)")
    ax.set_ylabel(f"drop against the unpruned int8 model ({result.unit})")
    ax.set_title(f"Pruning sensitivity; * = chosen (total {result.sparsity:.1%}, measured drop "
                 f"{result.drop:.2f} {result.unit})")
    ax.legend(fontsize=7)
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=120)
    except OSError as exc:
        raise McugenError(f"cannot write the plot to {path} ({exc.strerror}); choose another --plot path") from None
    finally:
        plt.close(fig)
