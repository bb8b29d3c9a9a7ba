"""Mixed precision under a budget: choose int8 / int4 / 16-level codebook weights and int8 / int16
activations per layer so the model fits a flash budget with the least measured harm, or loses at
most a given amount of accuracy with the least flash.

The search is greedy and measured. Per-layer sensitivity (sensitivity.py) ranks the moves a layer
can make from int8 (int4 weights; for fully connected layers, codebook 16: ops/codebook.py): the
output noise the move adds (10^(-SNR/10)) per byte it saves, the bytes counted as the layer really
takes them (an int8 layer that holds zeros is stored sparse where that pays, ops/sparse.py, so a
pruned layer may already be smaller than its int4 form). Under a flash budget, moves are made in
that order until the budget is met; then int16 activations are tried on the layers they help most,
and moved layers are swapped back (to int8, or to a gentler move) for cheaper moves elsewhere,
each change kept when it lowers the measured drop within the budget. Under --max-drop alone, moves
are made in the same order while the measured drop stays within it.
Every plan the search keeps was quantized and run in full on the validation data — the numbers
printed are measured, not predicted.

Drop: with labels, float top-1 accuracy minus the plan's (points); without labels, the all-int8
model's output SNR minus the plan's (dB).
"""

from __future__ import annotations

from dataclasses import dataclass

from mcugen.data import Samples
from mcugen.errors import McugenError
from mcugen.graph.planner import plan_memory
from mcugen.ir import Graph
from mcugen.ops import constant_bytes, layer_bytes
from mcugen.quant.evaluate import Score, float_outputs, quantized_outputs, score
from mcugen.quant.quantize import LayerPrecision, Precision, quantize
from mcugen.quant.sensitivity import SensitivityReport, analyze
from mcugen.tables import display_names, text_table

MAX_SWAPS = 24  # bounds the local search on large models
MIN_GAIN_DB = 0.1  # the least SNR gain a change must bring to be kept


@dataclass
class Candidate:
    precision: Precision
    flash: int  # bytes of constants
    arena: int
    score: Score
    drop: float


@dataclass
class MixedResult:
    plan: Candidate
    int8: Candidate
    float_score: Score
    sensitivity: SensitivityReport
    flash_budget: int | None
    max_drop: float | None
    evaluated: int

    def as_dict(self) -> dict:
        def cand(c: Candidate) -> dict:
            return dict(flash_bytes=c.flash, arena_bytes=c.arena, drop=round(c.drop, 4), **c.score.as_dict())
        return dict(plan=self.plan.precision.as_dict(), result=cand(self.plan), int8=cand(self.int8),
                    float_score=self.float_score.value, unit=self.float_score.unit,
                    flash_budget=self.flash_budget, max_drop=self.max_drop, plans_evaluated=self.evaluated)


def parse_budget(text: str, int8_bytes: int) -> int:
    """'48K', '48KB', '49152', '0.5M' → bytes (K = 1024); '60%' → that share of the int8 model's."""
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    scale = {"K": 1024, "M": 1024 * 1024, "%": int8_bytes / 100}.get(t[-1:], 1)
    try:
        value = float(t[:-1] if t[-1:] in "KM%" else t)
    except ValueError:
        raise McugenError(f"flash budget {text!r} is not a size like 48K, 49152, 0.5M or 60%") from None
    if value <= 0:
        raise McugenError(f"flash budget {text!r} must be positive")
    return int(value * scale)


class _Evaluator:
    """Quantizes and scores plans, remembering each so no plan is quantized or run twice."""

    def __init__(self, float_graph: Graph, ranges: dict, samples: Samples, reference, float_score: Score):
        self.graph, self.ranges, self.samples = float_graph, ranges, samples
        self.reference, self.float_score = reference, float_score
        self.int8_snr: float | None = None
        self.quantized: dict[tuple, tuple[Graph, int]] = {}
        self.cache: dict[tuple, Candidate] = {}

    @staticmethod
    def key(p: Precision) -> tuple:
        return p.default, tuple(sorted(p.layers.items()))

    def _quantize(self, p: Precision) -> tuple[Graph, int]:
        key = self.key(p)
        if key not in self.quantized:
            q = quantize(self.graph, self.ranges, p)
            self.quantized[key] = q, constant_bytes(q)
        return self.quantized[key]

    def flash(self, p: Precision) -> int:
        """Bytes of constants of the plan: quantized, not run."""
        return self._quantize(p)[1]

    def __call__(self, p: Precision) -> Candidate:
        key = self.key(p)
        if key not in self.cache:
            q, flash = self._quantize(p)
            s = score(self.reference, quantized_outputs(q, self.samples), self.samples.labels)
            drop = s.drop_from(self.float_score) if s.accuracy is not None else (self.int8_snr or s.snr_db) - s.snr_db
            self.cache[key] = Candidate(Precision(p.default, dict(p.layers)), flash, plan_memory(q).arena_size, s, drop)
        return self.cache[key]


# The moves a layer can make from int8, each measured (its bytes, its output noise): int4 weights,
# and for fully connected layers 16 k-means levels (4-bit indices, ops/codebook.py).
INT4 = LayerPrecision(4, 8)
CODEBOOK16 = LayerPrecision(8, 8, 16)
MOVES = {"int4": INT4, "codebook16": CODEBOOK16}


@dataclass(frozen=True)
class Move:
    layer: str
    mode: str  # a key of MOVES
    precision: LayerPrecision
    saved: int  # bytes the layer saves against its int8 storage, which is sparse where its zeros pay
    noise: float  # 10^(-SNR/10) of the model's output with only this layer moved


def moves(evaluate: _Evaluator, sens: SensitivityReport, graph: Graph) -> list[Move]:
    """Every move that lowers a layer's flash, cheapest harm per byte first. The bytes are those the
    layer really takes in each all-one-mode graph (ops.layer_bytes: int4 packing, codebook indices and
    levels, and the sparse storage ops/sparse.py gives an int8 layer that holds zeros), so a pruned
    layer whose CSR form is already smaller than its int4 form is never moved to int4."""
    ops = {n.name: n.op for n in graph.nodes}
    int8 = layer_bytes(evaluate._quantize(Precision())[0])
    found = []
    for mode, lp in MOVES.items():
        if mode not in sens.modes:
            continue
        size = layer_bytes(evaluate._quantize(Precision(lp))[0])
        for s in sens.layers:
            if mode == "codebook16" and ops[s.layer] != "fully_connected":
                continue
            saved = int8[s.layer] - size[s.layer]
            if saved > 0:
                found.append(Move(s.layer, mode, lp, saved, 10 ** (-s.snr[mode] / 10)))
    return sorted(found, key=lambda m: (m.noise / m.saved, m.layer, m.mode))


def search(float_graph: Graph, ranges: dict[str, tuple[float, float]], samples: Samples,
           flash_budget: int | None = None, max_drop: float | None = None) -> MixedResult:
    if flash_budget is None and max_drop is None:
        raise McugenError("mixed precision needs --flash-budget, --max-drop or both")
    reference = float_outputs(float_graph, samples)
    float_score = score(reference, reference, samples.labels)
    evaluate = _Evaluator(float_graph, ranges, samples, reference, float_score)
    int8 = evaluate(Precision())
    evaluate.int8_snr = int8.score.snr_db

    fully_connected = any(n.op == "fully_connected" for n in float_graph.nodes)
    sens = analyze(float_graph, ranges, samples, ["int8", "int4", "int16"] + ["codebook16"] * fully_connected)
    order = moves(evaluate, sens, float_graph)

    if flash_budget is not None:  # fit the budget, then lower the drop as far as the budget allows
        plan = Precision()
        for move in order:
            if evaluate.flash(plan) <= flash_budget:
                break
            trial = _with(plan, move.layer, move.precision)
            if evaluate.flash(trial) < evaluate.flash(plan):  # a second move of a layer only if it saves more
                plan = trial
        smallest = evaluate.flash(plan)
        if smallest > flash_budget:
            raise McugenError(f"no plan meets the flash budget of {flash_budget:,} B: with int4 or 16-level "
                              f"codebook weights wherever they save flash the constants still take {smallest:,} B "
                              f"(int8: {int8.flash:,} B); raise the budget or prune the model")
        best = _improve(evaluate, evaluate(plan), None, flash_budget, sens, order)
    else:  # the least flash whose measured drop stays within max_drop
        best = int8 if int8.drop <= max_drop else _improve(evaluate, int8, max_drop, None, sens, order)
        for move in order:
            if best.precision.layers.get(move.layer, LayerPrecision()).activation_bits == 16:
                continue
            trial = evaluate(_with(best.precision, move.layer, move.precision))
            if trial.drop <= max_drop and trial.flash < best.flash:
                best = trial
    if max_drop is not None and best.drop > max_drop:
        what = f"within {flash_budget:,} B of flash" if flash_budget is not None else "at all"
        unit = "points" if float_score.accuracy is not None else "dB"
        raise McugenError(f"no plan {what} keeps the drop within {max_drop:g} {unit}: "
                          f"the best found loses {best.drop:.2f} ({best.flash:,} B, plan {best.precision.describe()}); "
                          "relax --max-drop or --flash-budget")
    return MixedResult(best, int8, float_score, sens, flash_budget, max_drop, len(evaluate.cache))


def _with(p: Precision, name: str, lp: LayerPrecision) -> Precision:
    layers = dict(p.layers)
    if lp == p.default:
        layers.pop(name, None)
    else:
        layers[name] = lp
    return Precision(p.default, layers)


def _better(a: Candidate, b: Candidate) -> bool:
    """Less drop: with labels, strictly higher accuracy (a change that costs arena or seams is not
    kept for an SNR gain the accuracy does not show); without, at least MIN_GAIN_DB more SNR."""
    if a.score.accuracy is not None:
        return a.drop < b.drop
    return a.score.snr_db > b.score.snr_db + MIN_GAIN_DB


def _improve(evaluate: _Evaluator, best: Candidate, stop_at: float | None, flash_budget: int | None,
             sens: SensitivityReport, order: list[Move]) -> Candidate:
    """Lower the measured drop within the flash budget, until it is at most stop_at (None: as far
    as these moves go): int16 activations where they gain the most SNR, then moved layers taken back
    to int8 (or to a less harmful move of theirs, int4 to codebook 16) for cheaper moves elsewhere."""
    def fits(c: Candidate) -> bool:
        return flash_budget is None or c.flash <= flash_budget

    def done() -> bool:
        return stop_at is not None and best.drop <= stop_at

    gain16 = sorted(sens.layers, key=lambda s: s.snr["int16"] - s.snr["int8"], reverse=True)
    for s in gain16:
        if done():
            return best
        current = best.precision.layers.get(s.layer, best.precision.default)
        if current != LayerPrecision() or s.snr["int16"] <= s.snr["int8"]:
            continue
        try:
            trial = evaluate(_with(best.precision, s.layer, LayerPrecision(8, 16)))
        except McugenError:  # scales too far apart for 16x8 in this layer
            continue
        if fits(trial) and _better(trial, best):
            best = trial
    swaps = 0
    for harmful in reversed(order):  # most harm per byte first
        if done() or swaps >= MAX_SWAPS:
            break
        if best.precision.layers.get(harmful.layer, LayerPrecision()) != harmful.precision:
            continue
        gentler = [m.precision for m in order if m.layer == harmful.layer and m.noise < harmful.noise]
        for back in [LayerPrecision(), *gentler]:
            trial_p = _with(best.precision, harmful.layer, back)
            for move in order:
                if flash_budget is None or evaluate.flash(trial_p) <= flash_budget:
                    break
                if move.layer != harmful.layer and trial_p.layers.get(move.layer, trial_p.default) == LayerPrecision():
                    trial_p = _with(trial_p, move.layer, move.precision)
            swaps += 1
            trial = evaluate(trial_p)
            if fits(trial) and _better(trial, best):
                best = trial
                break
    return best


def format_result(r: MixedResult, graph: Graph) -> str:
    unit = r.float_score.unit
    ops = {n.name: n.op for n in graph.nodes}
    p = r.plan.precision
    rows = [["layer", "op", "weights", "precision"]]
    shown = display_names([s.layer for s in r.sensitivity.layers])
    for s in sorted(r.sensitivity.layers, key=lambda s: list(ops).index(s.layer)):
        rows.append([shown[s.layer], ops[s.layer], f"{s.weights:,}", str(p.layers.get(s.layer, p.default))])
    lines = ["mixed-precision plan:"] + ["  " + line for line in text_table(rows, left=4, rule=False)]
    budget = [f"flash budget {r.flash_budget:,} B"] if r.flash_budget is not None else []
    budget += [f"max drop {r.max_drop:g}"] if r.max_drop is not None else []

    def line(label: str, c: Candidate) -> str:
        what = f"accuracy {c.score.accuracy:.2f} %" if c.score.accuracy is not None else f"SNR {c.score.snr_db:.1f} dB"
        return f"  {label}: constants {c.flash:,} B, arena {c.arena:,} B, {what}, drop {c.drop:.2f}"

    lines.append(f"  {', '.join(budget)}; {r.evaluated} plans measured on {r.sensitivity.samples} samples"
                 + (f", float accuracy {r.float_score.value:.2f} {unit}" if unit == "%" else ""))
    lines.append(line("all int8", r.int8))
    lines.append(line("chosen  ", r.plan) + f" ({100.0 * r.plan.flash / max(r.int8.flash, 1):.0f} % of int8 flash)")
    return "\n".join(lines)
