"""mcugen's quantization out, as a standard QDQ ONNX model any ONNX runtime can execute.

`export_qdq` writes the quantized graph (what the C and the golden reference run) as float ONNX
operators wrapped in QuantizeLinear/DequantizeLinear: every activation goes through Q/DQ with
mcugen's int8 scale and zero point, weights are int8 initializers through DequantizeLinear with
mcugen's per-output-channel scales (axis 0), biases int32 through DequantizeLinear at scale
s_in * s_w. The model keeps the original model's input and output names and shapes (NCHW).

Layout: mcugen's graph is channels-last in memory; ONNX's Conv and pools are channels-first.
Each activation is exported in whichever of two forms its producer works in — physical (mcugen's
memory order) or channels-first (physical transposed by (0, 3, 1, 2)) — and a Transpose is
inserted only where a consumer needs the other form. Chains of conv, pool, element-wise and
activation layers stay channels-first with no transposes; reshapes, concat, softmax, pad and
fully connected layers work on the physical form exactly as mcugen computes them.

Arithmetic: ONNX Runtime requantizes in float and rounds half to even where mcugen uses Q31
multipliers and rounds half away from zero, so single layers agree within 1 LSB, not bit for bit.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from mcugen.errors import McugenError
from mcugen.ir import Graph, Node

if TYPE_CHECKING:
    from mcugen.quant.compiled import CompiledModel

OPSET = 17
PHYSICAL = (0, 1, 2, 3)
CHANNELS_FIRST = (0, 3, 1, 2)  # channels-first form of a 4-D physical (NHWC) tensor
UNARY = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "leaky_relu": "LeakyRelu",
         "hard_sigmoid": "HardSigmoid", "hard_swish": "HardSwish", "clip": "Clip"}


def export_qdq(compiled: CompiledModel, path: str | Path) -> None:
    """Write compiled.graph as a QDQ ONNX model at path (opset 17, the original model's IO)."""
    model = build_qdq_model(compiled.graph)
    path = Path(path)
    try:
        onnx.save(model, str(path))
    except OSError as exc:
        raise McugenError(f"cannot write {path} ({exc.strerror}); check the folder exists and is writable") from None


def build_qdq_model(graph: Graph) -> onnx.ModelProto:
    """The QDQ ModelProto of a quantized mcugen graph (checked with onnx.checker)."""
    model = _Exporter(graph).build()
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:  # a bug here, not a user mistake: keep the detail
        raise RuntimeError(f"the exported QDQ model fails onnx.checker: {exc}") from exc
    return model


def _inverse(perm: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argsort(perm))


class _Exporter:
    def __init__(self, graph: Graph) -> None:
        self.g = graph
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.names: set[str] = set(graph.inputs) | set(graph.outputs)
        self.node_names: set[str] = set()
        self.forms: dict[str, dict[tuple[int, ...], str]] = {}  # activation → {form: ONNX float tensor}

    # --- names and constants ---------------------------------------------------------
    def fresh(self, base: str) -> str:
        name, i = base, 1
        while name in self.names:
            name, i = f"{base}_{i}", i + 1
        self.names.add(name)
        return name

    def node_name(self, base: str) -> str:
        """Node names live apart from tensor names; the main node of a layer keeps the layer's name."""
        name, i = base, 1
        while name in self.node_names:
            name, i = f"{base}_{i}", i + 1
        self.node_names.add(name)
        return name

    def const(self, base: str, value: np.ndarray) -> str:
        name = self.fresh(base)
        self.inits.append(numpy_helper.from_array(np.array(value, order="C"), name))
        return name

    def node(self, op: str, inputs: list[str], base: str, name: str | None = None, **attrs) -> str:
        out = self.fresh(base)
        self.nodes.append(helper.make_node(op, inputs, [out], name=self.node_name(name or f"{base}_{op}"), **attrs))
        return out

    # --- activations: Q/DQ and forms ------------------------------------------------------
    def qparams(self, name: str) -> tuple[str, str]:
        t = self.g.tensors[name]
        if t.dtype != "int8":
            raise McugenError(f"tensor {name!r} is {t.dtype}; the QDQ export writes int8 activations only — "
                              "quantize with 8-bit activations")
        return (self.const(f"{name}_scale", np.array(t.scale, np.float32)),
                self.const(f"{name}_zero_point", np.array(t.zero_point, np.int8)))

    def form(self, name: str, form: tuple[int, ...]) -> tuple[int, ...]:
        """PHYSICAL stands for the identity permutation of the tensor's own rank."""
        return tuple(range(self.rank(name))) if form == PHYSICAL else form

    def produced(self, name: str, value: str, form: tuple[int, ...]) -> None:
        """value (float ONNX tensor) is activation `name` in `form`: quantize and dequantize it."""
        form = self.form(name, form)
        s, z = self.qparams(name)
        q = self.node("QuantizeLinear", [value, s, z], f"{name}_quantized")
        layout = ("channels-first" if form == CHANNELS_FIRST else
                  "physical" if form == tuple(range(len(form))) else f"physical transposed by {list(form)}")
        self.nodes[-1].doc_string = f"mcugen tensor {name}: {layout}"
        self.forms[name] = {form: self.node("DequantizeLinear", [q, s, z], f"{name}_dequantized")}

    def get(self, name: str, form: tuple[int, ...] = PHYSICAL) -> str:
        """Activation `name` (dequantized) in `form`, transposing an available form when needed."""
        have = self.forms[name]
        form = self.form(name, form)
        if form not in have:
            src_form, src = next(iter(have.items()))
            perm = [src_form.index(a) for a in form]
            have[form] = self.node("Transpose", [src], f"{name}_{'cf' if form == CHANNELS_FIRST else 'phys'}",
                                   perm=perm)
        return have[form]

    def rank(self, name: str) -> int:
        return len(self.g.tensors[name].shape)

    def output_value(self, node: Node) -> str:
        """The float name a node's raw result gets: its own name, unless that is a graph output."""
        out = node.outputs[0]
        return self.fresh(out if out not in self.g.outputs and out not in self.g.inputs else f"{out}_float")

    # --- the model -------------------------------------------------------------------
    def build(self) -> onnx.ModelProto:
        g = self.g
        inputs, outputs = [], []
        for name in g.inputs:
            info = g.io[name]
            to_phys = tuple(info.to_physical) if info.to_physical is not None else tuple(range(self.rank(name)))
            self.produced(name, name, _inverse(to_phys))
            inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(info.onnx_shape)))
        unsupported = [f"{n.op} ({n.name})" for n in g.nodes if not hasattr(self, f"op_{n.op}")]
        if unsupported:
            raise McugenError(f"the QDQ export has no ONNX mapping for {', '.join(unsupported)}; export a model "
                              "without these operators or generate C instead")
        for node in g.nodes:
            value, form = getattr(self, f"op_{node.op}")(node)
            value = self.fused_activation(node, value)
            self.produced(node.outputs[0], value, form)
        renames = {}
        for name in g.outputs:
            info = g.io[name]
            to_phys = tuple(info.to_physical) if info.to_physical is not None else tuple(range(self.rank(name)))
            renames[self.get(name, _inverse(to_phys))] = name
            outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(info.onnx_shape)))
        for n in self.nodes:
            n.output[:] = [renames.get(o, o) for o in n.output]
            n.input[:] = [renames.get(i, i) for i in n.input]
        graph = helper.make_graph(self.nodes, g.name, inputs, outputs, self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="mcugen")
        model.ir_version = 8
        return model

    def fused_activation(self, node: Node, value: str) -> str:
        lo, hi = node.attrs.get("act", (-np.inf, np.inf))
        if lo == 0 and not np.isfinite(hi):
            return self.node("Relu", [value], f"{node.outputs[0]}_relu")
        if np.isfinite(lo) or np.isfinite(hi):
            return self.node("Clip", [value, *self.clip_bounds(node.outputs[0], lo, hi)], f"{node.outputs[0]}_clip")
        return value

    def clip_bounds(self, base: str, lo: float, hi: float) -> list[str]:
        return [self.const(f"{base}_min", np.array(lo, np.float32)) if np.isfinite(lo) else "",
                self.const(f"{base}_max", np.array(hi, np.float32)) if np.isfinite(hi) else ""]

    # --- weighted layers ---------------------------------------------------------------
    def weights(self, node: Node, onnx_weights: np.ndarray) -> tuple[str, str | None]:
        """int8 weights and int32 bias through DequantizeLinear, per output channel (axis 0)."""
        w = self.g.tensors[node.q["weights"]]
        if node.q.get("weight_bits", 8) not in (8, 4):
            raise McugenError(f"layer {node.name!r} has {node.q['weight_bits']}-bit weights; the QDQ export "
                              "writes int8 (or int4 codes stored as int8) weights")
        scale = np.broadcast_to(np.asarray(w.scale, np.float64), (onnx_weights.shape[0],))
        channels = len(scale)
        wq = self.const(f"{node.name}_weight_quantized", onnx_weights.astype(np.int8))
        ws = self.const(f"{node.name}_weight_scale", scale.astype(np.float32))
        wz = self.const(f"{node.name}_weight_zero_point", np.zeros(channels, np.int8))
        w_dq = self.node("DequantizeLinear", [wq, ws, wz], f"{node.name}_weight", axis=0)
        bias = self.g.const(node.q["bias"])
        if bias.dtype != np.int32:
            raise McugenError(f"layer {node.name!r} has a {bias.dtype} bias (16-bit activations); the QDQ export "
                              "writes int8 activations with int32 biases")
        x_scale = float(self.g.tensors[node.inputs[0]].scale)
        bq = self.const(f"{node.name}_bias_quantized", bias)
        bs = self.const(f"{node.name}_bias_scale", (x_scale * scale).astype(np.float32))
        bz = self.const(f"{node.name}_bias_zero_point", np.zeros(channels, np.int32))
        b_dq = self.node("DequantizeLinear", [bq, bs, bz], f"{node.name}_bias", axis=0)
        return w_dq, b_dq

    def conv_attrs(self, node: Node, kernel: tuple[int, int]) -> dict:
        a = node.attrs
        top, left, bottom, right = a["pads"]
        return dict(kernel_shape=list(kernel), strides=list(a["strides"]), pads=[top, left, bottom, right],
                    dilations=list(a.get("dilations", (1, 1))))

    def op_conv(self, node: Node):
        wq = self.g.const(node.q["weights"])  # OHWI
        w, b = self.weights(node, wq.transpose(0, 3, 1, 2))
        out = self.output_value(node)
        self.nodes.append(helper.make_node("Conv", [self.get(node.inputs[0], CHANNELS_FIRST), w, b], [out],
                                           name=self.node_name(node.name), group=int(node.attrs["group"]),
                                           **self.conv_attrs(node, wq.shape[1:3])))
        return out, CHANNELS_FIRST

    def op_depthwise_conv(self, node: Node):
        wq = self.g.const(node.q["weights"])  # [KH][KW][C_out]
        w, b = self.weights(node, wq.transpose(2, 0, 1)[:, None])
        out = self.output_value(node)
        groups = self.g.tensors[node.inputs[0]].shape[3]
        self.nodes.append(helper.make_node("Conv", [self.get(node.inputs[0], CHANNELS_FIRST), w, b], [out],
                                           name=self.node_name(node.name), group=int(groups),
                                           **self.conv_attrs(node, wq.shape[0:2])))
        return out, CHANNELS_FIRST

    def op_fully_connected(self, node: Node):
        wq = self.g.const(node.q["weights"])  # [out][in]
        w, b = self.weights(node, wq)
        x = self.get(node.inputs[0])
        x_shape, y_shape = self.g.tensors[node.inputs[0]].shape, self.g.tensors[node.outputs[0]].shape
        flat = len(x_shape) == 2 and x_shape[1] == wq.shape[1]
        if not flat:
            x = self.node("Reshape", [x, self.const(f"{node.name}_rows", np.array([-1, wq.shape[1]], np.int64))],
                          f"{node.name}_rows")
        same_out = len(y_shape) == 2 and flat
        out = self.output_value(node) if same_out else self.fresh(f"{node.name}_gemm")
        self.nodes.append(helper.make_node("Gemm", [x, w, b], [out], name=self.node_name(node.name), transB=1))
        if not same_out:
            out = self.reshape_to(node, out, y_shape)
        return out, PHYSICAL

    def reshape_to(self, node: Node, value: str, shape: tuple[int, ...]) -> str:
        out = self.output_value(node)
        shape_const = self.const(f"{node.name}_shape", np.array(shape, np.int64))
        self.nodes.append(helper.make_node("Reshape", [value, shape_const], [out], name=self.node_name(node.name)))
        return out

    # --- element-wise --------------------------------------------------------------------
    def channels_first_ready(self, names: list[str], out: str) -> bool:
        """True when every activation operand already exists channels-first (so the op can run there)."""
        acts = [n for n in names if not self.g.tensors[n].is_constant]
        return (self.rank(out) == 4 and bool(acts) and all(self.rank(n) == 4 for n in names)
                and all(CHANNELS_FIRST in self.forms[n] for n in acts))

    def operand(self, name: str, form: tuple[int, ...]) -> str:
        t = self.g.tensors[name]
        if not t.is_constant:
            return self.get(name, form)
        data = t.data.transpose(form) if len(t.shape) == len(form) else t.data
        if t.dtype == "float32":  # not quantized by the operator: keep the float constant
            return self.const(name, data.astype(np.float32))
        q = self.const(f"{name}_quantized", data.astype(np.int8))
        s = self.const(f"{name}_scale", np.array(t.scale, np.float32))
        z = self.const(f"{name}_zero_point", np.array(t.zero_point, np.int8))
        return self.node("DequantizeLinear", [q, s, z], f"{name}_dequantized")

    def binary(self, node: Node, op: str):
        names = node.q.get("operands", node.inputs)
        form = CHANNELS_FIRST if self.channels_first_ready(names, node.outputs[0]) else PHYSICAL
        out = self.output_value(node)
        self.nodes.append(helper.make_node(op, [self.operand(n, form) for n in names], [out],
                                           name=self.node_name(node.name)))
        return out, form

    def op_add(self, node: Node):
        return self.binary(node, "Add")

    def op_mul(self, node: Node):
        return self.binary(node, "Mul")

    def op_activation(self, node: Node):
        fn, a = node.attrs["fn"], node.attrs
        x = node.inputs[0]
        form = CHANNELS_FIRST if self.channels_first_ready([x], node.outputs[0]) else PHYSICAL
        inputs, attrs = [self.get(x, form)], {}
        if fn == "clip":
            inputs += self.clip_bounds(node.outputs[0], a.get("min", -np.inf), a.get("max", np.inf))
        elif fn == "leaky_relu":
            attrs["alpha"] = float(a.get("alpha", 0.01))
        elif fn == "hard_sigmoid":
            attrs.update(alpha=float(a.get("alpha", 0.2)), beta=float(a.get("beta", 0.5)))
        if fn == "silu":  # mcugen's one-table x * sigmoid(x): the float pair inside one Q/DQ, as exported
            sig = self.fresh(f"{node.outputs[0]}_sigmoid")
            out = self.output_value(node)
            self.nodes += [helper.make_node("Sigmoid", inputs, [sig], name=self.node_name(f"{node.name}_sigmoid")),
                           helper.make_node("Mul", [inputs[0], sig], [out], name=self.node_name(node.name))]
            return out, form
        if fn not in UNARY:
            raise McugenError(f"activation {fn!r} of {node.name!r} has no ONNX mapping in the QDQ export")
        out = self.output_value(node)
        self.nodes.append(helper.make_node(UNARY[fn], inputs, [out], name=self.node_name(node.name), **attrs))
        return out, form

    # --- pools (channels-first) ------------------------------------------------------------
    def pool(self, node: Node, op: str, **extra):
        a = node.attrs
        out = self.output_value(node)
        top, left, bottom, right = a["pads"]
        if tuple(a.get("dilations", (1, 1))) != (1, 1):
            extra["dilations"] = list(a["dilations"])
        self.nodes.append(helper.make_node(op, [self.get(node.inputs[0], CHANNELS_FIRST)], [out],
                                           name=self.node_name(node.name), kernel_shape=list(a["kernel"]),
                                           strides=list(a["strides"]), pads=[top, left, bottom, right], **extra))
        return out, CHANNELS_FIRST

    def op_max_pool(self, node: Node):
        return self.pool(node, "MaxPool")

    def op_avg_pool(self, node: Node):
        return self.pool(node, "AveragePool", count_include_pad=int(node.attrs.get("count_include_pad", False)))

    # --- data movement (physical form) -----------------------------------------------------
    def op_reshape(self, node: Node):
        return self.reshape_to(node, self.get(node.inputs[0]), self.g.tensors[node.outputs[0]].shape), PHYSICAL

    def op_transpose(self, node: Node):
        out = self.output_value(node)
        self.nodes.append(helper.make_node("Transpose", [self.get(node.inputs[0])], [out],
                                           name=self.node_name(node.name), perm=list(node.attrs["perm"])))
        return out, PHYSICAL

    def op_concat(self, node: Node):
        out = self.output_value(node)
        self.nodes.append(helper.make_node("Concat", [self.get(n) for n in node.inputs], [out],
                                           name=self.node_name(node.name), axis=int(node.attrs["axis"])))
        return out, PHYSICAL

    def op_softmax(self, node: Node):
        out = self.output_value(node)
        self.nodes.append(helper.make_node("Softmax", [self.get(node.inputs[0])], [out], name=self.node_name(node.name),
                                           axis=int(node.attrs["axis"])))
        return out, PHYSICAL

    def op_pad(self, node: Node):
        pads = node.attrs["pads"]
        flat = np.array([b for b, _ in pads] + [e for _, e in pads], np.int64)
        out = self.output_value(node)
        self.nodes.append(helper.make_node(
            "Pad", [self.get(node.inputs[0]), self.const(f"{node.name}_pads", flat),
                    self.const(f"{node.name}_value", np.array(node.attrs.get("value", 0.0), np.float32))],
            [out], name=self.node_name(node.name), mode="constant"))
        return out, PHYSICAL
