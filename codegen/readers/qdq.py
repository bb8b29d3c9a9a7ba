"""Pre-quantized ONNX models in: strip QuantizeLinear/DequantizeLinear, keep the scales they fixed.

A model quantized elsewhere (onnxruntime `quantize_static` in QDQ format, PyTorch export, or
QOperator format with QLinearConv/QLinearMatMul) already decided every activation's scale and
zero point and every weight's per-channel scale. `strip_qdq` turns it into the plain float model
the frontend reads, and returns what it learned so that quantization reproduces those decisions
instead of calibrating:

- activation a → QuantizeLinear(s, z) → DequantizeLinear(s, z) → b: the pair is removed, a and b
  become one tensor with fixed (s, z). A uint8 zero point z is mcugen's int8 zero point z - 128
  with the same scale (the codes shift by 128, exactly).
- DequantizeLinear(int8 constant q, s, 0) → w: w becomes the float constant s * q (computed in
  float32 as ONNX Runtime does, so round(w / s) gives q back) and, when w is a weight of a Conv,
  Gemm or MatMul, s is kept as its per-output-channel scale vector.
- DequantizeLinear(int32 bias, sx * sw, 0): a float constant; mcugen recomputes
  round(bias / (sx * sw)), which gives the same int32 back.
- QLinearConv / QLinearMatMul are first rewritten as DequantizeLinear → Conv/MatMul →
  QuantizeLinear, and MaxPool/Reshape/... applied to int8 tensors as DequantizeLinear → op →
  QuantizeLinear with the input's parameters, so the same path handles them.

PyTorch's exports (tests/test_torch_qdq.py): zero points shared through Identity nodes are
constants; an eager/FX QAT Conv+BatchNorm (Conv with fake-quantized w·k, then / k, BatchNorm)
becomes the conv with those weight codes and the BatchNorm in its bias; an average pool the model
leaves in float takes the quantization of a Reshape → QuantizeLinear after it, else its input's.

Anything else quantized (QLinearAdd, ConvInteger, DynamicQuantizeLinear, int16 or block-wise
quantization, ...) is reported in one McugenError naming every offending node.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper, numpy_helper

from mcugen.errors import McugenError
from mcugen.ir import Graph

QDQ = ("QuantizeLinear", "DequantizeLinear")
QLINEAR = ("QLinearConv", "QLinearMatMul")
# Operators that move int8 codes without arithmetic: in QOperator models they run on quantized
# tensors directly, and their output keeps the input's scale and zero point.
PASS_THROUGH = ("MaxPool", "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Identity", "Dropout")
WEIGHTED = ("Conv", "Gemm", "MatMul")
ACTIVATION_TYPES = (np.int8, np.uint8)
SUPPORTED = ("mcugen reads QuantizeLinear/DequantizeLinear pairs with int8 or uint8 per-tensor activations, "
             "int8 per-channel or per-tensor weights and int32 biases, and QLinearConv/QLinearMatMul")
# mcugen operators whose output quantization the kernel dictates: a fixed one that differs is dropped.
_PASS_THROUGH_OPS = ("max_pool", "reshape", "transpose", "pad")
_SOFTMAX_QPARAMS = (1.0 / 256, -128)
# mcugen operators that move values without changing them: a float input takes the output's quantization.
_MOVES_VALUES = ("reshape", "transpose")
# mcugen operators whose output, when a QDQ model leaves it float, takes its input's quantization.
_KEEPS_INPUT_QPARAMS = ("avg_pool",)


@dataclass
class QdqInfo:
    """What a QDQ model fixed, keyed by tensor names of the stripped float model."""

    activations: dict[str, tuple[float, int]] = field(default_factory=dict)  # → (scale, int8 zero point)
    weight_scales: dict[str, np.ndarray] = field(default_factory=dict)  # weight → per-output-channel scales
    weight_users: dict[str, list[str]] = field(default_factory=dict)  # Gemm/MatMul weight → node keys
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.activations and not self.weight_scales


def is_quantized(model: onnx.ModelProto) -> bool:
    """True when the model holds any quantization operator (QDQ, QOperator or integer ops)."""
    return any(_quantized_op(n) for n in model.graph.node)


def _quantized_op(node: onnx.NodeProto) -> bool:
    t = node.op_type
    return t in QDQ or t.startswith("QLinear") or "Integer" in t or "Quant" in t or t in ("QGemm", "QAttention")


def _label(node: onnx.NodeProto) -> str:
    return f"{node.op_type} {node.name or node.output[0]!r}"


def strip_qdq(model: onnx.ModelProto) -> tuple[onnx.ModelProto, QdqInfo]:
    """Remove every Q/DQ pair; return the float model and the scales it fixed. A model without
    quantization comes back unchanged with an empty QdqInfo."""
    info = QdqInfo()
    if not is_quantized(model):
        return model, info
    model_copy = onnx.ModelProto()
    model_copy.CopyFrom(model)
    _Stripper(model_copy, info).run()
    return model_copy, info


def attach(graph: Graph, info: QdqInfo) -> None:
    """Store what strip_qdq learned on the Graph the frontend built from the stripped model.

    Gemm/MatMul weights are renamed by the frontend (transposed into a new constant), so their
    scales follow the node; outputs whose quantization an mcugen kernel dictates (a pass-through
    operator keeps its input's; softmax writes 1/256, -128) keep the kernel's when they differ.
    """
    graph.notes.extend(info.notes)
    by_name = {n.name: n for n in graph.nodes}
    fixed_w: dict[str, np.ndarray] = {}
    for name, scales in info.weight_scales.items():
        users = info.weight_users.get(name)
        if users is None:
            fixed_w[name] = scales
            continue
        for key in users:
            node = by_name.get(key)
            if node is not None and len(node.inputs) > 1:
                fixed_w[node.inputs[1]] = scales
    fixed = dict(info.activations)
    producers = {n.outputs[0]: n for n in graph.nodes}
    for node in reversed(graph.nodes):
        # x → Reshape → Q/DQ with x left float (PyTorch's PT2E export after an average pool): the
        # reshape moves values without changing them, so x takes the quantization they are given.
        src = node.inputs[0] if node.inputs else ""
        if node.op in _MOVES_VALUES and node.outputs[0] in fixed and src not in fixed and \
                src in graph.tensors and not graph.tensors[src].is_constant:
            fixed[src] = fixed[node.outputs[0]]

    def inherited(name: str) -> tuple[float, int] | None:
        """The fixed quantization a tensor gets, through chains of pass-through operators."""
        while name not in fixed and name in producers and producers[name].op in _PASS_THROUGH_OPS:
            name = producers[name].inputs[0]
        return fixed.get(name)

    for node in graph.nodes:
        out = node.outputs[0]
        if node.op in _KEEPS_INPUT_QPARAMS and out not in fixed and inherited(node.inputs[0]) is not None:
            # PyTorch leaves an average pool unobserved: its quantized kernel keeps the input's scale.
            fixed[out] = inherited(node.inputs[0])
            graph.notes.append(f"{node.op} {node.name!r} has no quantization in the QDQ model; its output "
                               "keeps its input's (as PyTorch's quantized kernel does)")
            continue
        if out not in fixed:
            continue
        if node.op in _PASS_THROUGH_OPS and inherited(node.inputs[0]) != fixed[out]:
            del fixed[out]
            graph.notes.append(f"{node.name!r} passes int8 codes through, so its output keeps its input's "
                               "quantization instead of the one the QDQ model gives it")
        elif node.op == "softmax" and fixed[out] != _SOFTMAX_QPARAMS:
            del fixed[out]
            graph.notes.append(f"softmax {node.name!r} writes scale 1/256, zero point -128 (mcugen's int8 "
                               "softmax) instead of the QDQ model's output quantization")
    graph.fixed_qparams = fixed
    graph.fixed_weight_scales = fixed_w


# --- the rewrite ---------------------------------------------------------------------------

class _Stripper:
    def __init__(self, model: onnx.ModelProto, info: QdqInfo) -> None:
        self.model, self.info = model, info
        self.g = model.graph
        self.consts: dict[str, np.ndarray] = {i.name: numpy_helper.to_array(i) for i in self.g.initializer}
        for node in self.g.node:
            if node.op_type == "Constant" and len(node.attribute) == 1:
                value = _constant_value(node)
                if value is not None:
                    self.consts[node.output[0]] = value
            elif node.op_type == "Identity" and node.input[0] in self.consts:
                # PyTorch's TorchScript export shares a zero point through Identity copies of it.
                self.consts[node.output[0]] = self.consts[node.input[0]]
        self.problems: list[str] = []
        self.names = {n for node in self.g.node for n in (*node.input, *node.output)} | set(self.consts)
        self.names |= {i.name for i in self.g.input} | {o.name for o in self.g.output}
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)

    def fresh(self, base: str) -> str:
        name, i = base, 1
        while name in self.names:
            name, i = f"{base}_{i}", i + 1
        self.names.add(name)
        return name

    def add_const(self, base: str, value: np.ndarray) -> str:
        name = self.fresh(base)
        self.consts[name] = value
        return name

    def fail(self, message: str) -> None:
        self.problems.append(message)

    def raise_problems(self) -> None:
        if self.problems:
            raise McugenError(f"this quantized model uses what mcugen cannot import: {'; '.join(self.problems)}. "
                              f"{SUPPORTED}; re-quantize with onnxruntime's quantize_static "
                              "(QuantFormat.QDQ) or give mcugen the float model")

    def run(self) -> None:
        self.check_ops()
        self.raise_problems()
        self.rewrite_qoperator()
        self.raise_problems()
        self.fold_constant_quantize()
        self.strip()
        self.raise_problems()
        self.fold_qat_batch_norm()
        self.finish()

    # --- 1. what is there at all -------------------------------------------------------
    def check_ops(self) -> None:
        for node in self.g.node:
            if not _quantized_op(node):
                continue
            if node.op_type in QDQ and node.domain in ("", "ai.onnx", "com.microsoft"):
                self.check_qdq_node(node)
            elif node.op_type in QLINEAR and node.domain in ("", "ai.onnx"):
                params = [node.input[i] for i in (1, 2, 4, 5, 6, 7) if i < len(node.input) and node.input[i]]
                if len(node.input) < 8 or any(p not in self.consts for p in params):
                    self.fail(f"{_label(node)} has scales or zero points that are not constants")
            else:
                self.fail(f"{_label(node)} is not supported")

    def check_qdq_node(self, node: onnx.NodeProto) -> None:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get("block_size", 0):
            self.fail(f"{_label(node)} uses block-wise quantization (block_size={attrs['block_size']})")
            return
        if len(node.input) < 2 or node.input[1] not in self.consts:
            self.fail(f"{_label(node)} has no constant scale")
            return
        if len(node.input) > 2 and node.input[2] and node.input[2] not in self.consts:
            self.fail(f"{_label(node)} has a zero point that is not a constant")
            return
        scale = self.consts[node.input[1]]
        if scale.dtype.kind != "f" or not np.all(np.isfinite(scale)) or np.any(scale <= 0):
            self.fail(f"{_label(node)} has a scale that is not a positive finite float ({scale.ravel()[:3]})")
            return
        dtype = self.zero_point(node).dtype
        if node.op_type == "QuantizeLinear" and dtype not in ACTIVATION_TYPES:
            self.fail(f"{_label(node)} quantizes to {dtype}, not int8 or uint8")
        elif node.op_type == "DequantizeLinear" and node.input[0] not in self.consts and dtype not in ACTIVATION_TYPES:
            self.fail(f"{_label(node)} dequantizes {dtype} activations, not int8 or uint8")
        elif node.op_type == "DequantizeLinear" and dtype.kind not in "iu":
            self.fail(f"{_label(node)} dequantizes {dtype}, not an integer type")

    def zero_point(self, node: onnx.NodeProto) -> np.ndarray:
        """The zero point as an array of the quantized type (ONNX: absent means uint8 zero)."""
        if len(node.input) > 2 and node.input[2]:
            return self.consts[node.input[2]]
        if node.op_type == "DequantizeLinear" and node.input[0] in self.consts:
            return np.zeros((), self.consts[node.input[0]].dtype)
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if "output_dtype" in attrs and attrs["output_dtype"]:
            return np.zeros((), helper.tensor_dtype_to_np_dtype(attrs["output_dtype"]))
        return np.zeros((), np.uint8)

    # --- 2. QOperator → QDQ --------------------------------------------------------------
    def rewrite_qoperator(self) -> None:
        """QLinearConv/QLinearMatMul → DQ, float op, Q; int8 pass-through ops likewise."""
        if not any(n.op_type in QLINEAR for n in self.g.node):
            return
        qparams: dict[str, tuple[str, str]] = {}  # int8 tensor → (scale, zero point) names
        new_nodes: list[onnx.NodeProto] = []
        for node in self.g.node:
            if node.op_type == "QuantizeLinear":
                qparams[node.output[0]] = (node.input[1], node.input[2] if len(node.input) > 2 else "")
                new_nodes.append(node)
            elif node.op_type in QLINEAR:
                new_nodes.extend(self.expand_qlinear(node))
                qparams[node.output[0]] = (node.input[6], node.input[7])
            elif node.op_type in PASS_THROUGH and node.input[0] in qparams:
                s, z = qparams[node.input[0]]
                x = self.fresh(f"{node.input[0]}_dequantized")
                y = self.fresh(f"{node.output[0]}_float")
                new_nodes.append(helper.make_node("DequantizeLinear", [node.input[0], s, z], [x],
                                                  name=self.fresh(f"{node.name or node.output[0]}_dq")))
                inner = onnx.NodeProto()
                inner.CopyFrom(node)
                inner.input[0] = x
                del inner.output[1:]
                inner.output[0] = y
                new_nodes.append(inner)
                new_nodes.append(helper.make_node("QuantizeLinear", [y, s, z], [node.output[0]],
                                                  name=self.fresh(f"{node.name or node.output[0]}_q")))
                qparams[node.output[0]] = (s, z)
            else:
                for name in node.input:
                    if name in qparams and node.op_type != "DequantizeLinear":
                        self.fail(f"{_label(node)} reads the quantized tensor {name!r} directly")
                new_nodes.append(node)
        del self.g.node[:]
        self.g.node.extend(new_nodes)

    def expand_qlinear(self, node: onnx.NodeProto) -> list[onnx.NodeProto]:
        ins = list(node.input)
        key = node.name or node.output[0]
        if node.op_type == "QLinearConv":
            triples, (ys, yz), bias = [ins[0:3], ins[3:6]], ins[6:8], ins[8] if len(ins) > 8 else ""
        else:
            triples, (ys, yz), bias = [ins[0:3], ins[3:6]], ins[6:8], ""
        nodes, floats = [], []
        for i, (q, s, z) in enumerate(triples):
            out = self.fresh(f"{q}_dequantized")
            axis = 0 if node.op_type == "QLinearConv" else 1
            attrs = {"axis": axis} if i == 1 and q in self.consts and self.consts[s].size > 1 else {}
            nodes.append(helper.make_node("DequantizeLinear", [q, s, z], [out], name=self.fresh(f"{key}_dq{i}"),
                                          **attrs))
            floats.append(out)
        if bias:
            if ins[1] not in self.consts or ins[4] not in self.consts:
                self.fail(f"{_label(node)} has a bias but non-constant scales")
                return []
            bias_scale = (self.consts[ins[1]].astype(np.float32) * self.consts[ins[4]].astype(np.float32))
            s = self.add_const(f"{key}_bias_scale", bias_scale.astype(np.float32))
            z = self.add_const(f"{key}_bias_zero_point", np.zeros(bias_scale.shape, np.int32))
            out = self.fresh(f"{bias}_dequantized")
            attrs = {"axis": 0} if bias_scale.size > 1 else {}
            nodes.append(helper.make_node("DequantizeLinear", [bias, s, z], [out], name=self.fresh(f"{key}_dqb"),
                                          **attrs))
            floats.append(out)
        y = self.fresh(f"{node.output[0]}_float")
        op = "Conv" if node.op_type == "QLinearConv" else "MatMul"
        inner = helper.make_node(op, floats, [y], name=key)
        if op == "Conv":
            inner.attribute.extend(node.attribute)
        nodes.append(inner)
        nodes.append(helper.make_node("QuantizeLinear", [y, ys, yz], [node.output[0]], name=self.fresh(f"{key}_q")))
        return nodes

    # --- 3. fake-quantized constants (PyTorch QAT export): Q(constant) → constant codes ----
    def fold_constant_quantize(self) -> None:
        kept = []
        for node in self.g.node:
            if node.op_type == "QuantizeLinear" and node.input[0] in self.consts:
                x = self.consts[node.input[0]].astype(np.float32)
                scale = self.consts[node.input[1]].astype(np.float32)
                zp = self.zero_point(node)
                axis = self.axis(node, x.ndim)
                shape = [1] * x.ndim
                if scale.size > 1:
                    shape[axis] = -1
                    if scale.size != x.shape[axis] or zp.size not in (1, scale.size):
                        raise McugenError(f"QuantizeLinear {node.name or node.output[0]!r} has {scale.size} "
                                          f"scales for the {x.shape[axis]} channels of axis {axis}; the model "
                                          "is damaged — re-export it")
                info = np.iinfo(zp.dtype)
                q = np.rint(x / scale.reshape(shape)) + zp.astype(np.int64).reshape(shape if zp.size > 1 else ())
                self.consts[node.output[0]] = np.clip(q, info.min, info.max).astype(zp.dtype)
                continue
            kept.append(node)
        del self.g.node[:]
        self.g.node.extend(kept)

    @staticmethod
    def axis(node: onnx.NodeProto, rank: int) -> int:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        axis = int(attrs.get("axis", 1))
        if rank and not -rank <= axis < rank:
            raise McugenError(f"{node.op_type} {node.name or node.output[0]!r} has axis {axis}, outside its "
                              f"rank-{rank} input; the model is damaged — re-export it")
        return axis % max(rank, 1)

    # --- 4. the pairs ------------------------------------------------------------------------
    def strip(self) -> None:
        g = self.g
        outputs = [o.name for o in g.output]
        inputs = {i.name for i in g.input if i.name not in self.consts}
        consumers: dict[str, list[onnx.NodeProto]] = {}
        producer: dict[str, onnx.NodeProto] = {}
        for node in g.node:
            for name in node.input:
                consumers.setdefault(name, []).append(node)
            for name in node.output:
                producer[name] = node
        rename: dict[str, str] = {}
        removed: set[int] = set()
        inserted: dict[int, list[onnx.NodeProto]] = {}  # after node id: requantization stand-ins
        self.weight_candidates: dict[str, tuple[np.ndarray, int | None, str]] = {}

        def resolve(name: str) -> str:
            while name in rename:
                name = rename[name]
            return name

        for node in g.node:
            if node.op_type == "DequantizeLinear" and node.input[0] in self.consts:
                self.dequantize_constant(node)
                removed.add(id(node))
            elif node.op_type == "DequantizeLinear" and producer.get(node.input[0]) is None:
                what = "graph input" if node.input[0] in inputs else "tensor"
                self.fail(f"{_label(node)} reads {what} {node.input[0]!r}, which no QuantizeLinear produces "
                          "(mcugen takes float32 inputs)")
            elif node.op_type == "DequantizeLinear" and producer[node.input[0]].op_type != "QuantizeLinear":
                self.fail(f"{_label(node)} reads {node.input[0]!r} from {_label(producer[node.input[0]])}, "
                          "not from a QuantizeLinear")
        for node in g.node:
            if node.op_type != "QuantizeLinear":
                continue
            removed.add(id(node))
            users = consumers.get(node.output[0], [])
            q_label = _label(node)
            if node.output[0] in outputs:
                self.fail(f"{q_label} writes the graph output {node.output[0]!r} as integers; mcugen's models "
                          "end in float (add a DequantizeLinear)")
                continue
            others = [u for u in users if u.op_type != "DequantizeLinear"]
            if others:
                self.fail(f"{q_label} feeds {_label(others[0])}; every QuantizeLinear must be followed "
                          "by DequantizeLinear")
                continue
            scale, zp = self.consts[node.input[1]], self.zero_point(node)
            if scale.size != 1 or zp.size != 1:
                self.fail(f"{q_label} quantizes an activation per channel; mcugen's activations have one "
                          "scale per tensor")
                continue
            params = _int8_qparams(scale, zp)
            bad = [u for u in users if _int8_qparams(self.consts[u.input[1]], self.zero_point(u)) != params
                   or self.zero_point(u).dtype != zp.dtype]
            if bad:
                self.fail(f"{q_label} and {_label(bad[0])} use different scales or zero points")
                continue
            src = resolve(node.input[0])
            if src in self.info.activations and self.info.activations[src] != params:
                # A quantized tensor quantized again (DQ → Q): keep both through a requantizing Clip.
                fresh = self.fresh(f"{src}_requantized")
                clip = helper.make_node("Clip", [src], [fresh], name=self.fresh(f"{node.name or src}_requantize"))
                inserted.setdefault(id(node), []).append(clip)
                src = fresh
            removed.update(id(u) for u in users)
            outs = [u.output[0] for u in users]
            graph_outs = [o for o in outs if o in outputs]
            if len(graph_outs) > 1 or (graph_outs and src in inputs):
                self.fail(f"{q_label} feeds {'two graph outputs' if len(graph_outs) > 1 else 'a graph output'} "
                          f"{graph_outs} directly{' from the graph input' if src in inputs else ''}")
                continue
            if graph_outs:
                canonical = graph_outs[0]
                rename[src] = canonical
                if src in self.info.activations:
                    del self.info.activations[src]
            else:
                canonical = src
            for o in outs:
                if o != canonical:
                    rename[o] = canonical
            self.info.activations[canonical] = params
        if self.problems:
            return
        kept = []
        for node in g.node:
            if id(node) not in removed:
                kept.append(node)
            kept.extend(inserted.get(id(node), []))
        for node in kept:
            for i, name in enumerate(node.input):
                node.input[i] = resolve(name)
            for i, name in enumerate(node.output):
                node.output[i] = resolve(name)
        del g.node[:]
        g.node.extend(kept)

    def dequantize_constant(self, node: onnx.NodeProto) -> None:
        """DequantizeLinear of a constant → the float constant ONNX Runtime computes (float32)."""
        q = self.consts[node.input[0]]
        scale = self.consts[node.input[1]].astype(np.float32)
        zp = self.zero_point(node)
        axis = self.axis(node, q.ndim)
        shape = [1] * q.ndim
        if scale.size > 1:
            if q.ndim == 0 or scale.ndim != 1 or q.shape[axis] != scale.size:
                self.fail(f"{_label(node)} has {scale.size} scales for axis {axis} of shape {list(q.shape)}")
                return
            shape[axis] = -1
        codes = q.astype(np.int64) - zp.astype(np.int64).reshape(shape if zp.size > 1 else ())
        with np.errstate(over="ignore"):  # an overflow to inf is refused by the frontend's finite check
            value = codes.astype(np.float32) * scale.reshape(shape if scale.size > 1 else ())
        self.consts[node.output[0]] = value.astype(np.float32)
        symmetric = (q.dtype == np.int8 and not np.any(zp)) or (q.dtype == np.uint8 and np.all(zp == 128))
        if symmetric and scale.size >= 1:
            self.weight_candidates[node.output[0]] = (scale.astype(np.float64).reshape(-1),
                                                      axis if scale.size > 1 else None, node.input[0])
        elif q.dtype in ACTIVATION_TYPES:
            self.weight_candidates[node.output[0]] = (np.empty(0), -1, node.input[0])  # asymmetric

    # --- 5. PyTorch QAT Conv+BatchNorm: Conv(x, w_q) / k → [+ b] → BatchNorm(γ, β, μ, σ²) ----
    def fold_qat_batch_norm(self) -> None:
        """PyTorch's fused QAT ConvBn quantizes w·k with k = γ / sqrt(σ² + ε) and exports the conv
        with the quantized weights, a division by k, the conv's own bias and the BatchNorm. The
        division and the BatchNorm's multiplication by k cancel: the layer is the conv with the
        quantized weights as they are (so their scales stay exact) and bias (b0 / k + b - μ)·k + β.
        Folding the BatchNorm into the weights instead would make mcugen re-quantize them."""
        consumers: dict[str, list[onnx.NodeProto]] = {}
        for node in self.g.node:
            for name in node.input:
                consumers.setdefault(name, []).append(node)
        outputs = {o.name for o in self.g.output}

        def sole(name: str, op: str) -> onnx.NodeProto | None:
            users = consumers.get(name, [])
            if len(users) == 1 and users[0].op_type == op and name not in outputs:
                return users[0]
            return None

        removed: set[int] = set()
        for conv in self.g.node:
            if conv.op_type != "Conv" or len(conv.input) < 2 or conv.input[1] not in self.weight_candidates:
                continue
            channels = self.consts[conv.input[1]].shape[0]
            div = sole(conv.output[0], "Div")
            if div is None or div.input[0] != conv.output[0]:
                continue
            k = self.channel_vector(div.input[1], channels)
            add = sole(div.output[0], "Add")
            b = self.channel_vector(next((i for i in add.input if i != div.output[0]), ""), channels) \
                if add is not None else np.zeros(channels)
            bn = sole((add or div).output[0], "BatchNormalization")
            if k is None or b is None or bn is None or len(bn.output) > 1 or \
                    any(i not in self.consts for i in bn.input[1:5]) or \
                    any(n.output[0] in self.info.activations for n in (conv, div, add) if n is not None):
                continue
            gamma, beta, mean, var = (self.consts[i].astype(np.float64) for i in bn.input[1:5])
            eps = next((a.f for a in bn.attribute if a.name == "epsilon"), 1e-5)
            if not np.allclose(gamma / np.sqrt(var + eps), k, rtol=1e-5, atol=0):
                continue
            b0 = self.consts[conv.input[2]].astype(np.float64) if len(conv.input) > 2 and conv.input[2] else 0.0
            bias = (b0 / k + b - mean) * k + beta
            name = self.add_const(f"{conv.name or conv.output[0]}_bias_bn", bias.astype(np.float32))
            del conv.input[2:]
            conv.input.append(name)
            conv.output[0] = bn.output[0]
            removed.update(id(n) for n in (div, add, bn) if n is not None)
            self.info.notes.append(f"folded the QAT BatchNorm {bn.name or bn.output[0]!r} into the bias of "
                                   f"{_label(conv)}: its division and the BatchNorm's scale cancel")
        if removed:
            kept = [n for n in self.g.node if id(n) not in removed]
            del self.g.node[:]
            self.g.node.extend(kept)

    def channel_vector(self, name: str, channels: int) -> np.ndarray | None:
        """A constant of shape [C], [C,1,1] or [1,C,1,1] as a float64 vector of C values, else None."""
        value = self.consts.get(name)
        if value is None or value.dtype.kind != "f" or \
                value.shape not in ((channels,), (channels, 1, 1), (1, channels, 1, 1)):
            return None
        return value.astype(np.float64).reshape(-1)

    # --- 6. tidy up and record the weights' per-output-channel scales ----------------------
    def finish(self) -> None:
        g = self.g
        used = {n for node in g.node for n in node.input} | {o.name for o in g.output}
        for node in g.node:
            self.record_weight(node)
        kept_nodes = [n for n in g.node if not (n.op_type == "Constant" and n.output[0] in self.consts
                                                and n.output[0] not in used)
                      and not (n.op_type == "Identity" and n.output[0] in self.consts)]  # now initializers
        constant_outputs = {n.output[0] for n in kept_nodes if n.op_type == "Constant"}
        del g.node[:]
        g.node.extend(kept_nodes)
        del g.initializer[:]
        g.initializer.extend(numpy_helper.from_array(v, k) for k, v in self.consts.items()
                             if k in used and k not in constant_outputs)
        graph_inputs = [i for i in g.input if i.name in used or i.name not in self.consts]
        del g.input[:]
        g.input.extend(graph_inputs)
        del g.value_info[:]
        for o in g.output:  # quantized outputs dequantized: their declared type is float
            o.type.tensor_type.elem_type = onnx.TensorProto.FLOAT

    def record_weight(self, node: onnx.NodeProto) -> None:
        if node.op_type not in WEIGHTED or len(node.input) < 2 or node.input[1] not in self.weight_candidates:
            return
        name = node.input[1]
        scales, axis, source = self.weight_candidates[name]
        w = self.consts[name]
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "Conv":
            out_axis = 0
        elif node.op_type == "Gemm":
            out_axis = 0 if attrs.get("transB", 0) else 1
        else:
            out_axis = w.ndim - 1
        if axis == -1:
            self.info.notes.append(f"weights {source!r} are quantized asymmetrically (zero point not 0); mcugen "
                                   "re-quantizes them symmetrically, so results may differ from the QDQ model")
            return
        if w.ndim < 2 or (axis is not None and axis != out_axis):
            self.info.notes.append(f"weights {source!r} are quantized per channel along axis {axis}, not per "
                                   "output channel; mcugen re-quantizes them per output channel")
            return
        vector = np.broadcast_to(scales, (w.shape[out_axis],)).astype(np.float64).copy()
        if node.op_type == "Gemm":
            vector *= abs(float(attrs.get("alpha", 1.0)))
        known = self.info.weight_scales.get(name)
        if known is not None and not np.array_equal(known, vector):
            self.info.notes.append(f"weights {source!r} are shared by layers that scale them differently; "
                                   "mcugen re-quantizes them")
            return
        self.info.weight_scales[name] = vector
        if node.op_type != "Conv":  # the frontend renames the transposed Gemm/MatMul weight
            self.info.weight_users.setdefault(name, []).append(node.name or node.output[0])


def _int8_qparams(scale: np.ndarray, zp: np.ndarray) -> tuple[float, int]:
    """(scale, zero point) of mcugen's signed int8 codes; uint8 code c is int8 code c - 128."""
    z = int(np.asarray(zp).reshape(-1)[0])
    if np.asarray(zp).dtype == np.uint8:
        z -= 128
    return float(np.asarray(scale, dtype=np.float32).reshape(-1)[0]), z


def _constant_value(node: onnx.NodeProto) -> np.ndarray | None:
    attr = node.attribute[0]
    value = helper.get_attribute_value(attr)
    if attr.name == "value":
        return numpy_helper.to_array(value)
    if attr.name in ("value_float", "value_floats"):
        return np.asarray(value, dtype=np.float32)
    if attr.name in ("value_int", "value_ints"):
        return np.asarray(value, dtype=np.int64)
    return None
