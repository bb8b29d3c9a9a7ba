"""ONNX → Graph: load, fix the batch to 1, fold constants, infer shapes, map every node.

The result is a float graph in ONNX's own layout (NCHW) with mcugen's operator names; from here
on nothing re-reads ONNX. Every unsupported node is collected and reported in one message.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper, shape_inference

from mcugen.errors import McugenError
from mcugen.ir import Graph, IOInfo, Node, Tensor
from mcugen.qdq_import import attach, strip_qdq

MIN_OPSET = 11


def load_onnx(path: str | Path) -> onnx.ModelProto:
    path = Path(path)
    if not path.is_file():
        raise McugenError(f"model file {path} does not exist; give the path of an .onnx file")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # onnx raises DecodeError, ValueError, ... for a damaged file
        raise McugenError(f"{path} is not a readable ONNX model ({type(exc).__name__}); "
                          "re-export it from your training framework") from None
    if not model.graph.node:
        raise McugenError(f"{path} holds no graph nodes; is it an ONNX model?")
    return model


def import_onnx(path: str | Path, name: str | None = None) -> Graph:
    model = load_onnx(path)
    model, qdq = strip_qdq(model)  # a pre-quantized model: its float twin, and the scales it fixed
    graph = Graph(name or Path(path).stem)
    graph.source = str(path)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < MIN_OPSET:
        try:
            model = onnx.version_converter.convert_version(model, MIN_OPSET)
            opset = MIN_OPSET
            graph.notes.append(f"converted the model from opset {opset} to {MIN_OPSET}")
        except Exception:
            raise McugenError(f"{path} uses ONNX opset {opset}; mcugen reads opset {MIN_OPSET} and newer — "
                              "re-export with a newer opset") from None
    _fix_batch(model, graph)
    model = _fold_constants(model)
    try:
        model = shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    except Exception as exc:
        raise McugenError(f"ONNX shape inference failed on {path}: {exc}".split("\n")[0]) from None
    _Importer(model, graph, opset).run()
    attach(graph, qdq)
    return graph


def _fix_batch(model: onnx.ModelProto, graph: Graph) -> None:
    initializers = {i.name for i in model.graph.initializer}
    for inp in model.graph.input:
        if inp.name in initializers:
            continue
        dims = inp.type.tensor_type.shape.dim
        for axis, dim in enumerate(dims):
            fixed = dim.HasField("dim_value") and dim.dim_value > 0
            if axis == 0 and not fixed:
                label = dim.dim_param or "?"
                dim.Clear()
                dim.dim_value = 1
                graph.notes.append(f"input {inp.name!r}: symbolic batch dimension {label!r} taken as 1")
            elif axis == 0 and dim.dim_value != 1:
                raise McugenError(f"input {inp.name!r} has a fixed batch of {dim.dim_value}; mcugen runs one "
                                  "sample per inference — export the model with batch 1 or a symbolic batch")
            elif not fixed:
                raise McugenError(f"input {inp.name!r} has a dynamic dimension {axis} "
                                  f"({dim.dim_param or 'unknown'}); microcontroller code needs every "
                                  "dimension fixed — export the model with static shapes")
    # Output shapes may name the batch symbolically too; inference fills them in afresh.
    for out in model.graph.output:
        out.type.tensor_type.ClearField("shape")
    del model.graph.value_info[:]


def _fold_constants(model: onnx.ModelProto) -> onnx.ModelProto:
    """Evaluate every node whose inputs are all known constants (Shape of a static tensor included)."""
    from onnx.reference import ReferenceEvaluator

    model = shape_inference.infer_shapes(model, strict_mode=False)
    shapes = _static_shapes(model)
    known = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    kept = []
    for node in model.graph.node:
        inputs = [i for i in node.input if i]
        value = None
        if node.op_type == "Shape" and node.input[0] in shapes and not node.attribute:
            value = [np.array(shapes[node.input[0]], dtype=np.int64)]
        elif node.op_type == "Constant" or (inputs and all(i in known for i in inputs)):
            try:
                single = onnx.helper.make_model(
                    onnx.helper.make_graph([node], "fold", [], [onnx.helper.make_tensor_value_info(
                        o, onnx.TensorProto.UNDEFINED, None) for o in node.output]),
                    opset_imports=model.opset_import)
                value = ReferenceEvaluator(single).run(None, {i: known[i] for i in inputs})
            except Exception:
                value = None
        if value is None:
            kept.append(node)
            continue
        for name, v in zip(node.output, value):
            known[name] = np.asarray(v)
    used = {i for n in kept for i in n.input} | {o.name for o in model.graph.output}
    del model.graph.node[:]
    model.graph.node.extend(kept)
    original = {i.name for i in model.graph.initializer}
    del model.graph.initializer[:]
    model.graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in known.items() if k in used)
    graph_inputs = [i for i in model.graph.input if i.name not in original or i.name in used]
    del model.graph.input[:]
    model.graph.input.extend(graph_inputs)
    return model


def _static_shapes(model: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    shapes = {}
    for vi in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output):
        t = vi.type.tensor_type
        if t.HasField("shape") and all(d.HasField("dim_value") for d in t.shape.dim):
            shapes[vi.name] = tuple(d.dim_value for d in t.shape.dim)
    return shapes


def _same_pads(in_hw, kernel, strides, dilations, mode: str) -> list[int]:
    """ONNX auto_pad SAME_UPPER / SAME_LOWER as explicit (top, left, bottom, right)."""
    begin, end = [], []
    for size, k, s, d in zip(in_hw, kernel, strides, dilations):
        out = -(-size // s)
        total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
        small, big = total // 2, total - total // 2
        begin.append(big if mode == "SAME_LOWER" else small)
        end.append(small if mode == "SAME_LOWER" else big)
    return begin + end


class _Importer:
    def __init__(self, model: onnx.ModelProto, graph: Graph, opset: int) -> None:
        self.model, self.graph, self.opset = model, graph, opset
        self.shapes = _static_shapes(model)
        self.consts = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
        self.unsupported: list[str] = []

    def run(self) -> None:
        g = self.graph
        for name, value in self.consts.items():
            if value.dtype.kind == "f":
                if not np.all(np.isfinite(value)):
                    raise McugenError(f"initializer {name!r} holds NaN or infinite values; the model's "
                                      "weights are damaged — retrain or re-export it")
                value = value.astype(np.float32)
            g.add_tensor(Tensor(name, tuple(value.shape), str(value.dtype), value))
        for inp in self.model.graph.input:
            if inp.name in self.consts:
                continue
            elem = inp.type.tensor_type.elem_type
            if elem != onnx.TensorProto.FLOAT:
                raise McugenError(f"input {inp.name!r} is of ONNX type "
                                  f"{onnx.TensorProto.DataType.Name(elem)}; mcugen takes float32 inputs")
            shape = self.shapes[inp.name]
            g.add_tensor(Tensor(inp.name, shape))
            g.inputs.append(inp.name)
            g.io[inp.name] = IOInfo(inp.name, shape)
        for node in self.model.graph.node:
            handler = getattr(self, f"op_{node.op_type}", None)
            if node.domain not in ("", "ai.onnx") or handler is None:
                self.unsupported.append(f"{node.op_type} ({node.name or node.output[0]})")
                continue
            for out in node.output:
                if out and out not in self.shapes:
                    raise McugenError(f"the shape of {out!r} (output of {node.op_type} "
                                      f"{node.name or out!r}) could not be inferred; mcugen needs static shapes")
                if out:
                    g.add_tensor(Tensor(out, self.shapes[out]))
            try:
                handler(node, self.attrs(node))
            except _Unsupported as why:
                self.unsupported.append(f"{node.op_type} ({node.name or node.output[0]}: {why})")
        if self.unsupported:
            raise McugenError(f"{len(self.unsupported)} node(s) are not supported: "
                              + "; ".join(self.unsupported)
                              + ". See CONTRIBUTING.md for how to add an operator")
        g.outputs = [o.name for o in self.model.graph.output]
        for o in g.outputs:
            g.io[o] = IOInfo(o, self.shapes[o])

    # --- helpers ------------------------------------------------------------------------
    @staticmethod
    def attrs(node: onnx.NodeProto) -> dict:
        return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}

    def const(self, name: str, what: str) -> np.ndarray:
        if name not in self.consts:
            raise _Unsupported(f"{what} must be a constant initializer")
        return self.consts[name]

    def shape(self, name: str) -> tuple[int, ...]:
        return self.shapes[name]

    def add(self, op: str, node: onnx.NodeProto, inputs: list[str], attrs: dict | None = None) -> Node:
        n = Node(op, node.name or node.output[0], inputs, [node.output[0]], attrs or {})
        self.graph.nodes.append(n)
        return n

    def activation(self, node, fn: str, **params) -> None:
        self.add("activation", node, [node.input[0]], {"fn": fn, **params})

    def spatial(self, node, a: dict, kernel: tuple[int, int], dilations=(1, 1)) -> dict:
        x = self.shape(node.input[0])
        if len(x) != 4:
            raise _Unsupported(f"only 2-D spatial operators are supported, input has rank {len(x)}")
        strides = tuple(a.get("strides", (1, 1)))
        auto_pad = a.get("auto_pad", b"NOTSET")
        auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            pads = _same_pads(x[2:], kernel, strides, dilations, auto_pad)
        elif auto_pad == "VALID":
            pads = [0, 0, 0, 0]
        else:
            pads = list(a.get("pads", (0, 0, 0, 0)))
        if a.get("ceil_mode", 0):
            # Extra end padding gives ceil's output size; padded positions are skipped anyway.
            out = self.shape(node.output[0])
            for axis in range(2):
                need = (out[2 + axis] - 1) * strides[axis] + (kernel[axis] - 1) * dilations[axis] + 1
                pads[2 + axis] += max(0, need - (x[2 + axis] + pads[axis] + pads[2 + axis]))
        return {"strides": strides, "pads": (pads[0], pads[1], pads[2], pads[3]), "dilations": tuple(dilations)}

    # --- operators ----------------------------------------------------------------------
    def op_Conv(self, node, a):
        w = self.const(node.input[1], "the weight")
        if w.ndim != 4:
            raise _Unsupported(f"only 2-D convolutions are supported (weight rank {w.ndim})")
        inputs = [node.input[0], node.input[1]] + ([node.input[2]] if len(node.input) > 2 and node.input[2] else [])
        group = int(a.get("group", 1))
        geo = self.spatial(node, a, w.shape[2:], tuple(a.get("dilations", (1, 1))))
        in_c = self.shape(node.input[0])[1]
        op = "depthwise_conv" if group == in_c and w.shape[1] == 1 and group > 1 else "conv"
        self.add(op, node, inputs, {"group": group, **geo})

    def op_Gemm(self, node, a):
        if a.get("transA", 0):
            raise _Unsupported("transA=1 is not supported")
        b = self.const(node.input[1], "B").astype(np.float32)
        w = (b if a.get("transB", 0) else b.T) * np.float32(a.get("alpha", 1.0))
        inputs = [node.input[0], self.new_const(node, "weight", w)]
        if len(node.input) > 2 and node.input[2]:
            c = self.const(node.input[2], "C") * np.float32(a.get("beta", 1.0))
            inputs.append(self.new_const(node, "bias", np.broadcast_to(c, (w.shape[0],)).astype(np.float32)))
        self.add("fully_connected", node, inputs)

    def op_MatMul(self, node, a):
        b = self.const(node.input[1], "the second input")
        if b.ndim != 2:
            raise _Unsupported("only a 2-D constant right-hand side is supported")
        self.add("fully_connected", node, [node.input[0], self.new_const(node, "weight", b.T.astype(np.float32))])

    def new_const(self, node, what: str, value: np.ndarray) -> str:
        return self.graph.add_constant(f"{node.name or node.output[0]}_{what}", np.ascontiguousarray(value)).name

    def op_Relu(self, node, a):
        self.activation(node, "relu")

    def op_Clip(self, node, a):
        lo, hi = a.get("min", -np.inf), a.get("max", np.inf)
        if len(node.input) > 1 and node.input[1]:
            lo = float(self.const(node.input[1], "min"))
        if len(node.input) > 2 and node.input[2]:
            hi = float(self.const(node.input[2], "max"))
        self.activation(node, "clip", min=float(lo), max=float(hi))

    def op_LeakyRelu(self, node, a):
        self.activation(node, "leaky_relu", alpha=float(a.get("alpha", 0.01)))

    def op_Sigmoid(self, node, a):
        self.activation(node, "sigmoid")

    def op_Tanh(self, node, a):
        self.activation(node, "tanh")

    def op_HardSigmoid(self, node, a):
        self.activation(node, "hard_sigmoid", alpha=float(a.get("alpha", 0.2)), beta=float(a.get("beta", 0.5)))

    def op_HardSwish(self, node, a):
        self.activation(node, "hard_swish")

    def op_MaxPool(self, node, a):
        if len(node.output) > 1 and node.output[1]:
            raise _Unsupported("the indices output is not supported")
        if any(d != 1 for d in a.get("dilations", (1, 1))):
            raise _Unsupported("dilated pooling is not supported")
        kernel = tuple(a["kernel_shape"])
        self.add("max_pool", node, [node.input[0]], {"kernel": kernel, **self.spatial(node, a, kernel)})

    def op_AveragePool(self, node, a):
        kernel = tuple(a["kernel_shape"])
        geo = self.spatial(node, a, kernel)
        include = bool(a.get("count_include_pad", 0))
        floor_pads = self.spatial(node, {**a, "ceil_mode": 0}, kernel)["pads"]
        if include and a.get("ceil_mode", 0) and geo["pads"] != floor_pads:
            raise _Unsupported("ceil_mode with count_include_pad is not supported")
        self.add("avg_pool", node, [node.input[0]], {"kernel": kernel, "count_include_pad": include, **geo})

    def op_GlobalAveragePool(self, node, a):
        x = self.shape(node.input[0])
        if len(x) != 4:
            raise _Unsupported(f"only 4-D inputs are supported (rank {len(x)})")
        self.add("avg_pool", node, [node.input[0]], {"kernel": tuple(x[2:]), "strides": (1, 1),
                                                     "pads": (0, 0, 0, 0), "dilations": (1, 1)})

    def binary(self, node, op: str, transform=None) -> None:
        inputs = list(node.input[:2])
        for i, name in enumerate(inputs):
            if name in self.consts:
                value = self.consts[name].astype(np.float32)
                if transform is not None and i == 1:
                    value = transform(value)
                inputs[i] = self.new_const(node, f"operand{i}", value)
            elif transform is not None and i == 1:
                raise _Unsupported("only a constant second operand is supported")
        if all(i in self.consts or self.graph.tensors[i].is_constant for i in inputs):
            raise _Unsupported("both operands are constant")
        self.add(op, node, inputs)

    def op_Add(self, node, a):
        self.binary(node, "add")

    def op_Sub(self, node, a):
        self.binary(node, "add", lambda c: -c)

    def op_Mul(self, node, a):
        self.binary(node, "mul")

    def op_Div(self, node, a):
        self.binary(node, "mul", lambda c: 1.0 / c)

    def op_Concat(self, node, a):
        rank = len(self.shape(node.output[0]))
        if any(i in self.consts for i in node.input):
            raise _Unsupported("constant inputs are not supported")
        self.graph.nodes.append(Node("concat", node.name or node.output[0], list(node.input),
                                     [node.output[0]], {"axis": int(a["axis"]) % rank}))

    def reshape(self, node, a):
        self.add("reshape", node, [node.input[0]])

    op_Flatten = op_Reshape = op_Squeeze = op_Unsqueeze = reshape

    def op_Transpose(self, node, a):
        rank = len(self.shape(node.input[0]))
        perm = tuple(a.get("perm", range(rank - 1, -1, -1)))
        self.add("transpose", node, [node.input[0]], {"perm": perm})

    def op_Pad(self, node, a):
        mode = a.get("mode", b"constant")
        if (mode.decode() if isinstance(mode, bytes) else mode) != "constant":
            raise _Unsupported(f"mode {mode!r} is not supported, only constant")
        if len(node.input) > 3 and node.input[3]:
            raise _Unsupported("the axes input is not supported")
        pads = a.get("pads") if len(node.input) < 2 else self.const(node.input[1], "pads")
        value = a.get("value", 0.0)
        if len(node.input) > 2 and node.input[2]:
            value = float(self.const(node.input[2], "constant_value"))
        pads = [int(p) for p in pads]
        rank = len(pads) // 2
        if min(pads) < 0:
            raise _Unsupported("negative pads (cropping) are not supported")
        self.add("pad", node, [node.input[0]],
                 {"pads": [(pads[i], pads[i + rank]) for i in range(rank)], "value": float(value)})

    def op_Softmax(self, node, a):
        rank = len(self.shape(node.input[0]))
        axis = int(a.get("axis", -1 if self.opset >= 13 else 1)) % rank
        if self.opset < 13 and axis != rank - 1 and rank > 2:
            raise _Unsupported("opset < 13 softmax over flattened trailing axes is not supported")
        self.add("softmax", node, [node.input[0]], {"axis": axis})

    def op_BatchNormalization(self, node, a):
        if len(node.output) > 1 and any(node.output[1:]):
            raise _Unsupported("training-mode outputs are not supported")
        scale, bias, mean, var = (self.const(n, "statistics").astype(np.float64) for n in node.input[1:5])
        factor = scale / np.sqrt(var + a.get("epsilon", 1e-5))
        self.add("batch_norm", node, [node.input[0]],
                 {"scale": factor.astype(np.float32), "shift": (bias - mean * factor).astype(np.float32)})

    def op_Identity(self, node, a):
        self.add("identity", node, [node.input[0]])

    op_Dropout = op_Identity


class _Unsupported(Exception):
    """A supported op type used with attributes mcugen does not handle; the message says which."""
