"""Quantization: float graph + activation ranges (+ a precision plan) → integer graph.

The default is the TFLite int8 spec: asymmetric int8 activations, symmetric per-channel int8
weights. A `Precision` plan can give any weighted layer (conv, depthwise conv, fully connected)
int4 weights and/or int16 activations (the 16x8 scheme: symmetric int16, zero point 0).

Steps: choose each activation's integer type (int16 for what a 16-bit layer produces, int8
otherwise), insert `requantize` nodes where a consumer needs the other type, give every
activation its (scale, zero point) — from the calibrated range, from the producing operator, or
as a pre-quantized (QDQ) model fixed it — then let each operator make its integer parameters.
The model's inputs and outputs stay int8.

Weight-only quantization (activation_bits 32, for the whole model: w8a32 or w4a32): every
activation stays float32 with no scale and no seams; weighted layers quantize only their weights
(per-channel int8 or int4 codes, float32 scales and bias), the other operators keep float
parameters, and each operator runs its float32 kernel (`Op.run_f32`, codegen/ops/float32.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from mcugen.errors import McugenError
from mcugen.ir import Graph, Node, Tensor
from mcugen.ops import op_for
from mcugen.ops.base import WEIGHTED_OPS, qparams_from_range

WEIGHT_BITS = (8, 4)
ACTIVATION_BITS = (8, 16, 32)  # 32: float32 activations (weight-only quantization)


@dataclass(frozen=True)
class LayerPrecision:
    weight_bits: int = 8  # 8 or 4
    activation_bits: int = 8  # 8 or 16: the type of the layer's input and output activations; 32: float32
    codebook: int = 0  # k-means levels of an int8 fully connected layer's weights (ops/codebook.py); 0: none

    def __str__(self) -> str:
        return f"w{self.weight_bits}a{self.activation_bits}" + (f"c{self.codebook}" if self.codebook else "")


@dataclass
class Precision:
    """Per-layer bit widths: a default for every weighted layer, and overrides by node name."""

    default: LayerPrecision = LayerPrecision()
    layers: dict[str, LayerPrecision] = field(default_factory=dict)

    def of(self, node: Node) -> LayerPrecision:
        return self.layers.get(node.name, self.default) if node.op in WEIGHTED_OPS else LayerPrecision()

    @property
    def weight_only(self) -> bool:
        """Float32 activations everywhere (check_precision refuses a plan that mixes 32 with 8/16)."""
        return self.default.activation_bits == 32

    def describe(self) -> str:
        """'w8a8', 'w8a8, conv1 w4a8', or for many overrides 'w8a8, 6 layers w4a8'."""
        overrides = {k: v for k, v in sorted(self.layers.items()) if v != self.default}
        if len(overrides) <= 2:
            return ", ".join([str(self.default)] + [f"{k} {v}" for k, v in overrides.items()])
        counts: dict[str, int] = {}
        for v in overrides.values():
            counts[str(v)] = counts.get(str(v), 0) + 1
        return ", ".join([str(self.default)] + [f"{n} layer{'s' if n > 1 else ''} {v}"
                                                 for v, n in sorted(counts.items())])

    def as_dict(self) -> dict:
        return dict(default=str(self.default), layers={k: str(v) for k, v in sorted(self.layers.items())})

    def save(self, path: str | Path) -> None:
        try:
            Path(path).write_text(json.dumps(self.as_dict(), indent=2) + "\n")
        except OSError as exc:
            raise McugenError(f"cannot write the precision plan {path} ({exc.strerror})") from None

    @staticmethod
    def load(path: str | Path) -> Precision:
        """A plan saved by `mcugen generate --save-plan`: {"default": "w8a8", "layers": {"conv1": "w4a8"}}."""
        try:
            raw = json.loads(Path(path).read_text())
            return Precision(parse_layer_precision(raw.get("default", "w8a8")),
                             {k: parse_layer_precision(v) for k, v in raw.get("layers", {}).items()})
        except FileNotFoundError:
            raise McugenError(f"precision plan {path} does not exist") from None
        except (json.JSONDecodeError, AttributeError, UnicodeDecodeError) as exc:
            raise McugenError(f"precision plan {path} is not a JSON object like "
                              f'{{"default": "w8a8", "layers": {{"conv1": "w4a8"}}}} ({exc})') from None

    @staticmethod
    def from_flags(weights: str | None = None, activations: str | None = None) -> Precision:
        """--weights int8|int4 and --activations int8|int16 for every weighted layer."""
        w = {None: 8, "int8": 8, "int4": 4}.get(weights)
        a = {None: 8, "int8": 8, "int16": 16, "float32": 32}.get(activations)
        if w is None:
            raise McugenError(f"--weights {weights} is not supported; choose int8 or int4")
        if a is None:
            raise McugenError(f"--activations {activations} is not supported; choose int8, int16 or float32")
        return Precision(LayerPrecision(w, a))


def parse_layer_precision(text: str) -> LayerPrecision:
    """'w4a8' / 'w8a16' / 'w8a8c16' (weights clustered to 16 levels) → LayerPrecision."""
    try:
        w, a = str(text).lower().removeprefix("w").split("a")
        a, _, c = a.partition("c")
        return LayerPrecision(int(w), int(a), int(c) if c else 0)
    except ValueError:
        raise McugenError(f"precision {text!r} is not of the form w<weight bits>a<activation bits>[c<levels>], "
                          "e.g. w8a8, w4a8, w8a16, w8a8c16") from None


def check_precision(graph: Graph, precision: Precision) -> None:
    """One clear sentence for a plan that names unknown layers or unsupported bit widths."""
    weighted = {n.name for n in graph.nodes if n.op in WEIGHTED_OPS}
    for name, p in [("default", precision.default), *precision.layers.items()]:
        if p.weight_bits not in WEIGHT_BITS or p.activation_bits not in ACTIVATION_BITS:
            raise McugenError(f"precision {p} for {name}: weights must be int8 or int4 and activations int8, "
                              "int16 or float32 (a32)")
        if p.codebook and ((p.weight_bits, p.activation_bits) != (8, 8) or not 2 <= p.codebook <= 256):
            raise McugenError(f"precision {p} for {name}: a codebook (c<levels>, 2 to 256) clusters int8 weights "
                              "with int8 activations (w8a8c16)")
        if p.codebook and name != "default" and name in weighted \
                and next(n.op for n in graph.nodes if n.name == name) != "fully_connected":
            raise McugenError(f"precision {p} for {name!r}: codebook weights are for fully connected layers only")
        if name != "default" and name not in weighted:
            shown = ", ".join(sorted(weighted)[:6]) or "none"
            raise McugenError(f"precision given for {name!r}, which is not a conv, depthwise conv or fully "
                              f"connected layer of this model (those are: {shown})")
    floats = sorted({p.activation_bits == 32 for p in [precision.default, *precision.layers.values()]})
    if len(floats) > 1:
        raise McugenError(f"precision plan ({precision.describe()}) mixes float32 activations (a32) with "
                          "integer ones; weight-only quantization is for the whole model, so give every "
                          "layer a32 or none")


def quantize(graph: Graph, ranges: dict[str, tuple[float, float]], precision: Precision | None = None) -> Graph:
    precision = precision or Precision()
    check_precision(graph, precision)
    if precision.weight_only:
        return quantize_weights_only(graph, precision)
    q = graph.copy()
    copied_from = _assign_types(q, precision)
    for name in q.inputs:
        _set_qparams(q, q.tensors[name], *ranges[name])
    for node in q.nodes:
        op = op_for(node)
        inner = op.observed(node, q)  # ranges inside the operator, before its output qparams need them
        if inner:
            node.q["observed"] = {role: ranges[name] for role, name in inner.items() if name in ranges}
        for name in node.outputs:
            t = q.tensors[name]
            lo, hi = ranges.get(copied_from.get(name, name), (0.0, 0.0))
            if t.dtype == "int16" or node.op == "requantize" or name in q.fixed_qparams:
                _set_qparams(q, t, lo, hi)
            else:
                t.scale, t.zero_point = op.output_qparams(node, q, lo, hi)
        if node.op in WEIGHTED_OPS:
            node.q["weight_bits"] = precision.of(node).weight_bits
            if precision.of(node).codebook:  # else the model-wide --codebook (graph.weight_codebook), if any
                node.q["codebook_levels"] = precision.of(node).codebook
        op.quantize(node, q)
    return q


def quantize_weights_only(graph: Graph, precision: Precision) -> Graph:
    """Float32 activations, int8/int4 weights: each operator's quantize_f32, no activation ranges."""
    q = graph.copy()
    for t in q.activations():
        t.dtype, t.scale, t.zero_point = "float32", None, 0
    for node in q.nodes:
        op = op_for(node)
        if not op.weight_only:
            raise McugenError(f"operator {node.op} (node {node.name!r}) has no float32 kernel, so this model "
                              "cannot be quantized weight-only (a32); use int8 or int16 activations")
        if node.op in WEIGHTED_OPS:
            node.q["weight_bits"] = precision.of(node).weight_bits
        op.quantize_f32(node, q)
    return q


def _set_qparams(graph: Graph, t: Tensor, lo: float, hi: float) -> None:
    if t.name in graph.fixed_qparams and t.dtype == "int8":
        t.scale, t.zero_point = graph.fixed_qparams[t.name]
    elif t.dtype == "int16":  # symmetric, zero point 0, as the 16x8 kernels require
        t.scale, t.zero_point = max(abs(lo), abs(hi), 1e-6) / 32767.0, 0
    else:
        t.scale, t.zero_point = qparams_from_range(lo, hi)


def _assign_types(graph: Graph, precision: Precision) -> dict[str, str]:
    """Set every activation's dtype and insert requantize nodes between 8- and 16-bit layers.

    Returns {requantized copy: the tensor it copies}, whose calibrated range the copy shares.
    """
    # A reshape (an alias keeps its input's bytes) and a max pool (int8 or int16 kernel, same
    # scale) take either type and keep it: no seam before them.
    follow_input_type = ("reshape", "max_pool")
    for t in graph.activations():
        t.dtype = "int8"
    for node in graph.nodes:
        if precision.of(node).activation_bits == 16:
            graph.tensors[node.outputs[0]].dtype = "int16"
        elif node.op in follow_input_type:
            graph.tensors[node.outputs[0]].dtype = graph.tensors[node.inputs[0]].dtype

    converted: dict[tuple[str, str], str] = {}

    def as_type(tensor: str, dtype: str, before: int) -> str:
        if graph.tensors[tensor].dtype == dtype:
            return tensor
        key = (tensor, dtype)
        if key not in converted:
            src = graph.tensors[tensor]
            name = graph.unique_name(f"{tensor}_{'s16' if dtype == 'int16' else 's8'}")
            graph.add_tensor(Tensor(name, src.shape, dtype))
            graph.nodes.insert(before, Node("requantize", graph.unique_name(f"{tensor}_to_{dtype}"), [tensor], [name]))
            converted[key] = name
        return converted[key]

    i = 0
    while i < len(graph.nodes):
        node = graph.nodes[i]
        if node.op not in follow_input_type:
            wanted = "int16" if precision.of(node).activation_bits == 16 else "int8"
            for k, name in enumerate(node.inputs):
                if graph.tensors[name].is_constant or (k > 0 and node.op in WEIGHTED_OPS):
                    continue
                before = len(graph.nodes)
                node.inputs[k] = as_type(name, wanted, i)
                i += len(graph.nodes) - before  # the inserted node ran first
        i += 1
    copied_from = {copy: tensor for (tensor, _), copy in converted.items()}
    for name in graph.outputs:  # the model's outputs stay int8 and keep their names
        t = graph.tensors[name]
        if t.dtype == "int8":
            continue
        wide = graph.add_tensor(Tensor(graph.unique_name(f"{name}_s16"), t.shape, t.dtype)).name
        for node in graph.nodes:
            node.outputs = [wide if o == name else o for o in node.outputs]
            node.inputs = [wide if x == name else x for x in node.inputs]
        t.dtype = "int8"
        graph.nodes.append(Node("requantize", graph.unique_name(f"{name}_to_int8"), [wide], [name]))
        copied_from[wide] = name
    return copied_from
