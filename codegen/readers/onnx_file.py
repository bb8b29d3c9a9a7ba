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
from mcugen.readers.onnx_patterns import fuse_layer_norm
from mcugen.readers.qdq import attach, strip_qdq

MIN_OPSET = 11
# The largest tensor mcugen accepts, in elements: far beyond any microcontroller's memory, and small
# enough that refusing happens before numpy (or the ONNX reference evaluator) tries to allocate.
MAX_ELEMENTS = 1 << 26
# Operators mcugen never runs and that must not reach shape inference or constant folding:
# control flow (ONNX's C++ inference can fail inside a subgraph) and sequences.
CONTROL_FLOW = {"Loop", "If", "Scan", "SequenceConstruct", "SequenceAt", "SequenceInsert", "SequenceEmpty",
                "SequenceErase", "SequenceLength", "SplitToSequence", "ConcatFromSequence", "SequenceMap"}
# numpy_helper's element sizes of the tensor types an initializer may hold (raw_data is checked against them)
_ITEMSIZE = {onnx.TensorProto.FLOAT: 4, onnx.TensorProto.DOUBLE: 8, onnx.TensorProto.FLOAT16: 2,
             onnx.TensorProto.INT8: 1, onnx.TensorProto.UINT8: 1, onnx.TensorProto.INT16: 2,
             onnx.TensorProto.UINT16: 2, onnx.TensorProto.INT32: 4, onnx.TensorProto.UINT32: 4,
             onnx.TensorProto.INT64: 8, onnx.TensorProto.UINT64: 8, onnx.TensorProto.BOOL: 1}


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
    check_model(model, path)
    return model


def refuse_foreign_nodes(model: onnx.ModelProto) -> None:
    """Custom domains and control flow, named before shape inference or folding can trip on them
    (after strip_qdq, which explains a QOperator model's com.microsoft nodes better)."""
    refused = [f"{_shown(n.op_type)} ({_shown(n.name or (n.output[0] if n.output else ''))}: "
               + (f"domain {n.domain!r}" if n.domain not in ("", "ai.onnx") else "control flow") + ")"
               for n in model.graph.node if n.domain not in ("", "ai.onnx") or n.op_type in CONTROL_FLOW]
    if refused:
        raise McugenError(f"{len(refused)} node(s) are not supported: " + "; ".join(refused)
                          + ". mcugen runs standard ONNX operators without control flow (see CONTRIBUTING.md)")


def check_model(model: onnx.ModelProto, path: str | Path) -> None:
    """Refuse, in one sentence, what would otherwise crash further on: damaged initializers, a broken
    graph structure, and whatever onnx.checker rejects."""
    for node in model.graph.node:
        if node.op_type == "Constant" and len(node.attribute) != 1:
            raise McugenError(f"Constant {node.name or (node.output[0] if node.output else '')!r} has "
                              f"{len(node.attribute)} value attributes, not one; the model is damaged — re-export it")
    for init in model.graph.initializer:
        _check_initializer(init, path)
    _check_structure(model.graph, path)
    checked = onnx.ModelProto()
    checked.CopyFrom(model)
    for vi in list(checked.graph.input) + list(checked.graph.output):
        if vi.type.HasField("tensor_type"):  # the checker wants a shape where ONNX itself allows none
            vi.type.tensor_type.shape.SetInParent()
    try:
        onnx.checker.check_model(checked)
    except Exception as exc:  # ValidationError, and C++ errors for what the checker cannot parse
        raise McugenError(f"{path} is not a valid ONNX model: {_first_line(exc)}; re-export it") from None


def _shown(name: str | bytes) -> str:
    """A name from the model as the one-line message shows it: quoted when it holds control characters."""
    if isinstance(name, bytes):  # a string field that is not valid UTF-8
        name = name.decode(errors="replace")
    return name if name.isprintable() else repr(name)


def _type_name(code: int) -> str:
    return onnx.TensorProto.DataType.Name(code) if code in onnx.TensorProto.DataType.values() else f"code {code}"


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return (lines[0] if lines else type(exc).__name__)[:300]


def _check_initializer(init: onnx.TensorProto, path: str | Path) -> None:
    """Dims against the data before numpy reshapes (or allocates) anything."""
    name = init.name
    if init.data_location == onnx.TensorProto.EXTERNAL or init.external_data:
        raise McugenError(f"initializer {name!r} keeps its data in an external file; save the model with "
                          "onnx.save(..., save_as_external_data=False) into one .onnx file")
    if init.data_type not in _ITEMSIZE:
        raise McugenError(f"initializer {name!r} is of ONNX type {_type_name(init.data_type)}, which mcugen "
                          "does not read; weights must be float or integer tensors")
    if any(d < 0 for d in init.dims):
        raise McugenError(f"initializer {name!r} has a negative dimension {list(init.dims)}; the model is damaged")
    count = int(np.prod(init.dims, dtype=object))
    if count > MAX_ELEMENTS:
        raise McugenError(f"initializer {name!r} has {count:,} elements (dims {list(init.dims)}), more than "
                          f"mcugen's limit of {MAX_ELEMENTS:,}; no microcontroller holds it")
    if init.HasField("raw_data"):
        held = len(init.raw_data) / _ITEMSIZE[init.data_type]
    else:
        # the typed field holds one entry per element (the narrow types, float16 included, as int32)
        held = len(getattr(init, onnx.helper.tensor_dtype_to_field(init.data_type)))
    if held != count:
        raise McugenError(f"initializer {name!r} has dims {list(init.dims)} ({count} values) but holds "
                          f"{held:g} values; the model is damaged — re-export it")


def _check_structure(graph: onnx.GraphProto, path: str | Path) -> None:
    """Every tensor produced once, read only after it is produced, and every graph output produced."""
    known = {i.name for i in graph.initializer} | {i.name for i in graph.input}
    if len({i.name for i in graph.input}) != len(graph.input):
        raise McugenError(f"{path} lists a graph input twice; the model is damaged — re-export it")
    for node in graph.node:
        label = f"{_shown(node.op_type)} {node.name or (node.output[0] if node.output else '')!r}"
        for name in node.input:
            if name and name not in known:
                raise McugenError(f"{label} reads {name!r}, which no earlier node, input or initializer "
                                  "provides (a dangling input, a cycle or nodes out of order); re-export the model")
        for name in node.output:
            if name and name in known:
                raise McugenError(f"{label} writes {name!r}, which is already an input, an initializer or "
                                  "another node's output; every tensor needs one producer")
            known.add(name)
    if not graph.output:
        raise McugenError(f"{path} declares no graph outputs; mcugen needs at least one")
    names = [o.name for o in graph.output]
    if len(set(names)) != len(names):
        raise McugenError(f"{path} lists a graph output twice ({names}); the model is damaged — re-export it")
    for name in names:
        if name not in known:
            raise McugenError(f"graph output {name!r} is produced by no node; the model is damaged — re-export it")


def import_onnx(path: str | Path, name: str | None = None) -> Graph:
    model = load_onnx(path)
    model, qdq = strip_qdq(model)  # a pre-quantized model: its float twin, and the scales it fixed
    refuse_foreign_nodes(model)
    graph = Graph(name or Path(path).stem)
    graph.source = str(path)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset > onnx.defs.onnx_opset_version():
        raise McugenError(f"{path} declares ONNX opset {opset}, newer than the {onnx.defs.onnx_opset_version()} "
                          "this installation of onnx knows; re-export with a released opset or upgrade onnx")
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
    model = fuse_layer_norm(model, _static_shapes(model))  # the pre-opset-17 decomposition, as one node
    importer = _Importer(model, graph, opset)
    importer.run()
    attach(graph, qdq)
    for new, old in importer.renamed.items():  # a 1-D layer's rank-4 twins hold the same values
        if old in graph.fixed_qparams and new in graph.tensors:
            graph.fixed_qparams.setdefault(new, graph.fixed_qparams[old])
        if old in graph.fixed_weight_scales and new in graph.tensors:
            graph.fixed_weight_scales.setdefault(new, graph.fixed_weight_scales[old])
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
            elif axis == 0 and dim.dim_value != 1 and _read_by_recurrent(model, inp.name) and len(dims) == 3:
                raise McugenError(f"input {inp.name!r} has shape {[d.dim_value for d in dims]}, time first as an "
                                  "LSTM/GRU of layout 0 reads it; mcugen needs the batch axis first — export with "
                                  "batch_first=True (the model then transposes [1, T, F] itself) or layout=1")
            elif axis == 0 and dim.dim_value != 1:
                raise McugenError(f"input {inp.name!r} has a fixed batch of {dim.dim_value}; mcugen runs one "
                                  "sample per inference — export the model with batch 1 or a symbolic batch")
            elif not fixed:
                raise McugenError(f"input {inp.name!r} has a dynamic dimension {axis} "
                                  f"({dim.dim_param or 'unknown'}); microcontroller code needs every "
                                  "dimension fixed — export the model with static shapes")
        _check_size(f"input {inp.name!r}", [d.dim_value for d in dims])
    # Output shapes may name the batch symbolically too; inference fills them in afresh.
    for out in model.graph.output:
        out.type.tensor_type.ClearField("shape")
    del model.graph.value_info[:]


def _read_by_recurrent(model: onnx.ModelProto, name: str) -> bool:
    return any(n.op_type in ("LSTM", "GRU") and n.input and n.input[0] == name for n in model.graph.node)


# operators whose output can be much larger than their inputs: folded only when inference bounded them
_GROWING = {"ConstantOfShape", "Expand", "Tile", "Range", "Resize", "Upsample", "Pad", "RandomNormal",
            "RandomUniform", "EyeLike", "OneHot"}


def _check_size(what: str, shape) -> None:
    """A tensor's shape refused before anything allocates it: no empty and no gigantic tensors."""
    count = int(np.prod([int(d) for d in shape], dtype=object))
    if count == 0 or any(int(d) < 0 for d in shape):
        raise McugenError(f"{what} has shape {tuple(shape)} and so no elements; the model is damaged — re-export it")
    if count > MAX_ELEMENTS:
        raise McugenError(f"{what} has {count:,} elements (shape {tuple(shape)}), more than mcugen's limit "
                          f"of {MAX_ELEMENTS:,}; no microcontroller holds it")


def _bounded_size(node: onnx.NodeProto, values: list[np.ndarray]) -> int | None:
    """The element count a growing operator of known constant inputs makes, computed from those inputs
    before anything evaluates it (inference without data propagation leaves it unknown: the legacy
    exporter's Expand of h0 zeros to a shape built by Shape/Gather/Concat), or None when not bounded here."""
    try:
        if node.op_type == "Expand" and len(values) == 2:
            shape = np.broadcast_shapes(values[0].shape, tuple(int(d) for d in values[1].reshape(-1)))
            return int(np.prod(shape, dtype=object))
        if node.op_type == "ConstantOfShape" and len(values) == 1:
            return int(np.prod([int(d) for d in values[0].reshape(-1)], dtype=object))
    except (ValueError, TypeError):
        return None  # not broadcastable: left to the importer, which refuses it by name
    return None


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
        sizes = [int(np.prod(shapes[o], dtype=object)) if o in shapes else None for o in node.output if o]
        if None in sizes and inputs and all(i in known for i in inputs):
            sizes = [_bounded_size(node, [known[i] for i in inputs])] * len(sizes)
        if any(size is not None and size > MAX_ELEMENTS for size in sizes) or \
                (None in sizes and node.op_type in _GROWING):
            kept.append(node)  # never evaluated: the importer refuses it, or its output, by name
            continue
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


def _text(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


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


def _check_finite(what: str, value) -> None:
    """NaN, infinity, or a value beyond float32 (inf once cast) would become nan/inff in the C."""
    with np.errstate(over="ignore", invalid="ignore"):
        value = np.asarray(value, dtype=np.float64).astype(np.float32)
    if not np.all(np.isfinite(value)):
        raise McugenError(f"{what} holds NaN or infinite values (or values beyond float32's range); the "
                          "model's weights are damaged — retrain or re-export it")


def _reciprocal(divisor: np.ndarray) -> np.ndarray:
    """1 / c for a constant divisor; a zero gives inf, which the finite check refuses by name."""
    with np.errstate(divide="ignore", over="ignore"):
        return np.float32(1.0) / divisor


class _Importer:
    def __init__(self, model: onnx.ModelProto, graph: Graph, opset: int) -> None:
        self.model, self.graph, self.opset = model, graph, opset
        self.shapes = _static_shapes(model)
        self.consts = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
        for name, shape in self.shapes.items():
            if name not in self.consts:
                _check_size(f"tensor {name!r}", shape)
        self.unsupported: list[str] = []
        # Tensors ONNX shapes [T, 1, ...] (time first, batch 1 second: an LSTM's layout 0), which the
        # graph holds as [1, T, ...]: the same bytes, with the batch axis first as every stage needs.
        self.time_major: set[str] = set()
        # 1-D networks run as 2-D with H = 1: a rank-3 (N, C, L) tensor a 1-D layer reads or writes has a
        # rank-4 (N, C, 1, L) twin (lifted), and element-wise layers after it run on the twin too; the
        # rank-3 tensor itself is only produced (a reshape of its twin) when something else reads it.
        self.lifted: dict[str, str] = {}
        self.pending: dict[str, str] = {}  # rank-3 tensor → its twin, not yet reshaped back
        self.renamed: dict[str, str] = {}  # twin (or reshaped weight) → the model's tensor: QDQ scales follow

    def run(self) -> None:
        g = self.graph
        for name, value in self.consts.items():
            if value.dtype.kind == "f":
                with np.errstate(over="ignore"):
                    value = value.astype(np.float32)
                _check_finite(f"initializer {name!r}", value)
            g.add_tensor(Tensor(name, tuple(value.shape), str(value.dtype), value))
        for inp in self.model.graph.input:
            if inp.name in self.consts:
                continue
            elem = inp.type.tensor_type.elem_type
            if elem != onnx.TensorProto.FLOAT:
                raise McugenError(f"input {inp.name!r} is of ONNX type {_type_name(elem)}; "
                                  "mcugen takes float32 inputs")
            if inp.name not in self.shapes:
                raise McugenError(f"input {inp.name!r} declares no shape; microcontroller code needs every "
                                  "dimension fixed — export the model with static input shapes")
            shape = self.shapes[inp.name]
            g.add_tensor(Tensor(inp.name, shape))
            g.inputs.append(inp.name)
            g.io[inp.name] = IOInfo(inp.name, shape)
        for node in self.model.graph.node:
            handler = getattr(self, f"op_{node.op_type}", None)
            if node.domain not in ("", "ai.onnx") or handler is None:
                self.unsupported.append(f"{_shown(node.op_type)} ({_shown(node.name or node.output[0])})")
                for out in node.output:  # its consumers still look their inputs up, then the error lists all
                    if out and out in self.shapes:
                        g.add_tensor(Tensor(out, self.shapes[out]))
                continue
            for out in node.output:
                if out and out not in self.shapes:
                    raise McugenError(f"the shape of {out!r} (output of {_shown(node.op_type)} "
                                      f"{node.name or out!r}) could not be inferred{self.inference_reason()}; "
                                      "mcugen needs static shapes")
                if out:
                    g.add_tensor(Tensor(out, self.batch_first(node, out)))
            first = next((o for o in node.output if o), "")  # an LSTM's Y may be unnamed (unused)
            time_major = [i for i in node.input if i in self.time_major]
            if time_major and node.op_type not in TIME_MAJOR_OPS:
                self.unsupported.append(f"{_shown(node.op_type)} ({_shown(node.name or first)}: its input "
                                        f"{_shown(time_major[0])} is time-major {list(self.shapes[time_major[0]])}; "
                                        "transpose it to batch-first first)")
                continue
            out_shape = g.tensors[first].shape if first else ()
            if len(out_shape) < 1 or out_shape[0] != 1:
                # mcugen runs (and calibrates in batches along) a leading batch axis of 1
                self.unsupported.append(f"{_shown(node.op_type)} ({_shown(node.name or first)}: output "
                                        f"shape {list(out_shape)} has no batch axis of 1; keep the batch axis first)")
                continue
            try:
                node = self.one_d(node)
                handler(node, self.attrs(node))
            except _Unsupported as why:
                self.unsupported.append(f"{_shown(node.op_type)} ({_shown(node.name or first)}: {why})")
        for name in [o.name for o in self.model.graph.output]:
            self.squeezed(name)
        for node in g.nodes:  # what the mappings derived (alpha * B, 1 / divisor, BN factors...) too
            for key, value in node.attrs.items():
                if isinstance(value, float | np.ndarray) and not (key in ("min", "max") and np.isinf(value)):
                    _check_finite(f"attribute {key} of {node.name!r}", value)
            for name in node.inputs:
                t = g.tensors.get(name)
                if t is not None and t.data is not None and t.data.dtype.kind == "f":
                    _check_finite(f"constant {name!r} (input of {node.name!r})", t.data)
        if self.unsupported:
            raise McugenError(f"{len(self.unsupported)} node(s) are not supported: "
                              + "; ".join(self.unsupported)
                              + ". See CONTRIBUTING.md for how to add an operator")
        g.outputs = [o.name for o in self.model.graph.output]
        for o in g.outputs:
            if o in self.time_major:
                raise McugenError(f"graph output {o!r} is time-major {list(self.shapes[o])} (sequence first, "
                                  "batch second); transpose it to batch-first [1, T, ...] in the model")
            g.io[o] = IOInfo(o, self.shapes[o])

    # --- helpers ------------------------------------------------------------------------
    def batch_first(self, node: onnx.NodeProto, out: str) -> tuple[int, ...]:
        """The graph's shape of output `out`: ONNX's, or [1, T, ...] for a time-major [T, 1, ...]."""
        shape = self.shapes[out]
        if node.op_type in TIME_MAJOR_OPS and len(shape) >= 2 and shape[0] != 1 and shape[1] == 1:
            self.time_major.add(out)
            return (1, shape[0], *shape[2:])
        return shape

    def inference_reason(self) -> str:
        """Why ONNX could not infer a shape, from a strict rerun (often an attribute out of range)."""
        try:
            shape_inference.infer_shapes(self.model, check_type=True, strict_mode=True, data_prop=True)
        except Exception as exc:  # InferenceError: "[ShapeInferenceError] (op_type:Concat, ...): axis ..."
            return f" ({_first_line(exc)})"
        return ""

    # --- 1-D networks --------------------------------------------------------------------
    ONE_D = {"Conv", "MaxPool", "AveragePool", "GlobalAveragePool"}  # lifted to 2-D with H = 1
    ELEMENTWISE = {"Relu", "Clip", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish",
                   "BatchNormalization", "Identity", "Dropout", "Add", "Sub", "Mul", "Div"}  # follow the twin

    def one_d(self, node: onnx.NodeProto) -> onnx.NodeProto:
        """The node as it runs: a 1-D layer (or an element-wise one on a lifted tensor) rewritten onto
        rank-4 twins; any other node first gets the rank-3 tensors it reads reshaped back."""
        rank3 = node.input and node.input[0] in self.shapes and len(self.shape(node.input[0])) == 3
        if node.op_type in self.ONE_D and rank3:
            return self.lift_node(node, [0], one_d=True)
        if node.op_type == "BatchNormalization" and rank3:  # BatchNorm1d: folds into the conv before it
            return self.lift_node(node, [0], one_d=False)
        if node.op_type in self.ELEMENTWISE and node.output and node.output[0]:
            binary = node.op_type in ("Add", "Sub", "Mul", "Div")
            activations = [i for i, n in enumerate(node.input[:2] if binary else node.input[:1])
                           if n and n not in self.consts]
            if any(node.input[i] in self.lifted for i in activations) and \
                    all(self.shapes.get(node.input[i]) == self.shape(node.output[0]) for i in activations):
                return self.lift_node(node, activations, one_d=False)
        for name in node.input:
            self.squeezed(name)
        return node

    def squeezed(self, name: str) -> None:
        """Produce a rank-3 tensor from its twin, once, where something needs the rank-3 form."""
        if name in self.pending:
            self.graph.nodes.append(Node("reshape", f"{name}_from_2d", [self.pending.pop(name)], [name]))

    def twin(self, name: str) -> str:
        """The rank-4 (N, C, 1, L) twin of a rank-3 tensor, made by a reshape when it has none yet."""
        if name not in self.lifted:
            n, c, length = self.shape(name)
            lifted = self.graph.unique_name(f"{name}_2d")
            self.graph.add_tensor(Tensor(lifted, (n, c, 1, length)))
            self.shapes[lifted] = (n, c, 1, length)
            self.graph.nodes.append(Node("reshape", f"{name}_to_2d", [name], [lifted]))
            self.lifted[name] = lifted
            self.renamed[lifted] = name
        return self.lifted[name]

    def lift_node(self, node: onnx.NodeProto, activations: list[int], one_d: bool) -> onnx.NodeProto:
        lifted = onnx.NodeProto()
        lifted.CopyFrom(node)
        if not lifted.name:
            lifted.name = node.output[0]
        for i, name in enumerate(node.input):
            if i in activations:
                lifted.input[i] = self.twin(name)
            elif name in self.consts and (one_d and i == 1 or not one_d and i < 2 and
                                          node.op_type in ("Add", "Sub", "Mul", "Div")):
                value = self.consts[name]
                if one_d:  # the weight (O, I, K) as (O, I, 1, K)
                    if value.ndim != 3:
                        raise _Unsupported(f"a 1-D convolution needs a rank-3 weight, not rank {value.ndim}")
                    value = value[:, :, None, :]
                elif value.ndim <= 3:  # a broadcast constant: its (C, L) axes around the new H axis
                    full = value.reshape((1,) * (3 - value.ndim) + value.shape)
                    value = full[:, :, None, :]
                else:
                    raise _Unsupported(f"a rank-{value.ndim} constant broadcast to a rank-3 tensor")
                new = self.graph.unique_name(f"{name}_2d")
                self.consts[new] = value
                self.graph.add_tensor(Tensor(new, tuple(value.shape), str(value.dtype), value))
                self.renamed[new] = name
                lifted.input[i] = new
        del lifted.output[:]
        for o in node.output:
            if not o:
                lifted.output.append("")
                continue
            shape = self.shape(o)
            if len(shape) == 3 and o == node.output[0]:
                twin = self.graph.unique_name(f"{o}_2d")
                self.shapes[twin] = (shape[0], shape[1], 1, shape[2])
                self.graph.add_tensor(Tensor(twin, self.shapes[twin]))
                self.lifted[o] = self.pending[o] = twin
                self.renamed[twin] = o
                lifted.output.append(twin)
            else:
                lifted.output.append(o)
        if one_d:
            for a in lifted.attribute:
                if a.name in ("kernel_shape", "strides", "dilations"):
                    values = list(a.ints)
                    del a.ints[:]
                    a.ints.extend([1, *values])
                elif a.name == "pads":
                    values = list(a.ints)
                    if len(values) != 2:
                        raise McugenError(f"{node.op_type} {node.name or node.output[0]!r} has pads {values}; "
                                          "a 1-D operator needs 2 values — re-export the model")
                    del a.ints[:]
                    a.ints.extend([0, values[0], 0, values[1]])
        return lifted

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
        auto_pad = _text(a.get("auto_pad", b"NOTSET"))
        for what, values, length, least in (("kernel_shape", kernel, 2, 1), ("strides", strides, 2, 1),
                                            ("dilations", dilations, 2, 1), ("pads", a.get("pads", [0] * 4), 4, 0)):
            if len(values) != length or any(int(v) < least or int(v) > 1 << 16 for v in values):
                raise McugenError(f"{node.op_type} {node.name or node.output[0]!r} has {what} {list(values)}; "
                                  f"a 2-D operator needs {length} values, each at least {least} (and sane)")
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            pads = _same_pads(x[2:], kernel, strides, dilations, auto_pad)
        elif auto_pad == "VALID":
            pads = [0, 0, 0, 0]
        elif auto_pad == "NOTSET":
            pads = list(a.get("pads", (0, 0, 0, 0)))
        else:
            raise McugenError(f"{node.op_type} {node.name or node.output[0]!r} has auto_pad {auto_pad!r}; "
                              "ONNX knows NOTSET, SAME_UPPER, SAME_LOWER and VALID")
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
        if "kernel_shape" in a and tuple(a["kernel_shape"]) != w.shape[2:]:
            raise _Unsupported(f"kernel_shape {list(a['kernel_shape'])} differs from the weight's {list(w.shape[2:])}")
        geo = self.spatial(node, a, w.shape[2:], tuple(a.get("dilations", (1, 1))))
        in_c = self.shape(node.input[0])[1]
        if group < 1 or in_c % group or w.shape[0] % group or w.shape[1] * group != in_c:
            raise McugenError(f"Conv {node.name or node.output[0]!r}: group {group} does not fit its {in_c} input "
                              f"channels and weight of shape {list(w.shape)}; the model is damaged — re-export it")
        if len(inputs) > 2 and self.const(inputs[2], "the bias").shape != (w.shape[0],):
            raise McugenError(f"Conv {node.name or node.output[0]!r}: the bias has shape "
                              f"{list(self.consts[inputs[2]].shape)}, not [{w.shape[0]}]; re-export the model")
        op = "depthwise_conv" if group == in_c and w.shape[1] == 1 and group > 1 else "conv"
        self.add(op, node, inputs, {"group": group, **geo})

    def op_ConvTranspose(self, node, a):
        w = self.const(node.input[1], "the weight")
        x = self.shape(node.input[0])
        name = node.name or node.output[0]
        if w.ndim != 4 or len(x) != 4:
            raise _Unsupported(f"only 2-D transposed convolutions are supported (weight rank {w.ndim})")
        if "kernel_shape" in a and tuple(a["kernel_shape"]) != w.shape[2:]:
            raise _Unsupported(f"kernel_shape {list(a['kernel_shape'])} differs from the weight's {list(w.shape[2:])}")
        group = int(a.get("group", 1))
        if group < 1 or x[1] % group or w.shape[0] != x[1]:
            raise McugenError(f"ConvTranspose {name!r}: group {group} does not fit its {x[1]} input channels and "
                              f"weight of shape {list(w.shape)}; the model is damaged — re-export it")
        out_c = w.shape[1] * group
        inputs = [node.input[0]]
        kernel = w.shape[2:]
        strides = tuple(int(s) for s in a.get("strides", (1, 1)))
        dilations = tuple(int(d) for d in a.get("dilations", (1, 1)))
        out_pad = tuple(int(p) for p in a.get("output_padding", (0, 0)))
        for what, values, least in (("strides", strides, 1), ("dilations", dilations, 1),
                                    ("output_padding", out_pad, 0)):
            if len(values) != 2 or any(v < least or v > 1 << 16 for v in values):
                raise McugenError(f"ConvTranspose {name!r} has {what} {list(values)}; a 2-D operator needs 2 "
                                  f"values, each at least {least} (and sane)")
        auto_pad = _text(a.get("auto_pad", b"NOTSET"))
        if auto_pad not in ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"):
            raise McugenError(f"ConvTranspose {name!r} has auto_pad {auto_pad!r}; ONNX knows NOTSET, SAME_UPPER, "
                              "SAME_LOWER and VALID")
        out_hw = self.shape(node.output[0])[2:]
        if "output_shape" in a:
            wanted = [int(v) for v in a["output_shape"]][-2:]
            if list(out_hw) != wanted:
                raise _Unsupported(f"output_shape {list(a['output_shape'])} disagrees with the inferred output "
                                   f"{list(out_hw)}")
        if "output_shape" in a and "pads" in a and any(int(p) for p in a["pads"]):
            # ONNX Runtime then recomputes the pads from output_shape; ONNX's reference keeps them
            raise _Unsupported("pads together with output_shape are not supported (runtimes disagree on them); "
                               "give one of the two")
        if auto_pad == "NOTSET" and "pads" in a:
            pads = [int(p) for p in a["pads"]]
            if len(pads) != 4 or min(pads) < 0:
                raise McugenError(f"ConvTranspose {name!r} has pads {pads}; a 2-D operator needs 4 values, each at "
                                  "least 0")
            begin = pads[:2]
        elif auto_pad == "VALID" or (auto_pad == "NOTSET" and "output_shape" not in a):
            begin = [0, 0]
        else:
            # ONNX: total = stride * (in - 1) + output_padding + (k - 1) * dilation + 1 - out, split
            # with the larger half at the end for SAME_UPPER, at the start otherwise (floor division,
            # as ONNX's reference, for a negative total)
            target = wanted if "output_shape" in a else [x[2] * strides[0], x[3] * strides[1]]
            total = [strides[i] * (x[2 + i] - 1) + out_pad[i] + (kernel[i] - 1) * dilations[i] + 1 - target[i]
                     for i in range(2)]
            begin = [t // 2 if auto_pad == "SAME_UPPER" else t - t // 2 for t in total]
        # ONNX's [in_c][out_c / group][kh][kw] as [out_c][in_c / group][kh][kw] (Conv's OIHW), not flipped
        cg, og = x[1] // group, w.shape[1]
        regrouped = w.astype(np.float32).reshape(group, cg, og, *kernel).transpose(0, 2, 1, 3, 4)
        inputs.append(self.new_const(node, "weight", regrouped.reshape(out_c, cg, *kernel)))
        if len(node.input) > 2 and node.input[2]:
            if self.const(node.input[2], "the bias").shape != (out_c,):
                raise McugenError(f"ConvTranspose {name!r}: the bias has shape "
                                  f"{list(self.consts[node.input[2]].shape)}, not [{out_c}]; re-export the model")
            inputs.append(node.input[2])
        self.add("conv_transpose", node, inputs, {"group": group, "strides": strides, "dilations": dilations,
                                                  "pads": (begin[0], begin[1], 0, 0)})

    def op_Resize(self, node, a):
        x, y = self.shape(node.input[0]), self.shape(node.output[0])
        mode = _text(a.get("mode", b"nearest"))
        coordinate_mode = _text(a.get("coordinate_transformation_mode", b"half_pixel"))
        nearest_mode = _text(a.get("nearest_mode", b"round_prefer_floor"))
        if mode not in ("nearest", "linear"):
            raise _Unsupported(f"mode {mode!r} is not supported, only nearest and linear")
        if coordinate_mode not in ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"):
            raise _Unsupported(f"coordinate_transformation_mode {coordinate_mode!r} is not supported")
        if nearest_mode not in ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil"):
            raise McugenError(f"Resize {node.name or node.output[0]!r} has nearest_mode {nearest_mode!r}; ONNX knows "
                              "round_prefer_floor, round_prefer_ceil, floor and ceil")
        for what, default in (("antialias", 0), ("exclude_outside", 0)):
            if int(a.get(what, default)):
                raise _Unsupported(f"{what}={int(a[what])} is not supported")
        policy = _text(a.get("keep_aspect_ratio_policy", b"stretch"))
        if policy != "stretch":
            raise _Unsupported(f"keep_aspect_ratio_policy {policy!r} is not supported, only stretch")
        # cubic_coeff_a only matters for cubic, extrapolation_value only for tf_crop_and_resize: both refused
        if len(x) != 4:
            raise _Unsupported(f"only 4-D (N, C, H, W) inputs are supported, not rank {len(x)}")
        axes = [int(v) % len(x) for v in a.get("axes", range(len(x)))]
        scales = node.input[2] if len(node.input) > 2 and node.input[2] else ""
        if scales and self.const(scales, "scales").size == 0:
            scales = ""
        full = [1.0] * len(x)
        if scales:
            given = self.const(scales, "scales").astype(np.float32).reshape(-1)
            if len(given) != len(axes):
                raise McugenError(f"Resize {node.name or node.output[0]!r} has {len(given)} scales for {len(axes)} "
                                  "axes; the model is damaged — re-export it")
            for axis, value in zip(axes, given):
                full[axis] = float(value)
        elif len(node.input) > 3 and node.input[3]:
            self.const(node.input[3], "sizes")
            full = [float(np.float32(y[i]) / np.float32(x[i])) for i in range(len(x))]
        else:
            raise McugenError(f"Resize {node.name or node.output[0]!r} has neither scales nor sizes; the model is "
                              "damaged — re-export it")
        if x[:2] != y[:2] or full[:2] != [1.0, 1.0]:
            raise _Unsupported("only H and W may be resized (the batch and channel scales must be 1)")
        if coordinate_mode == "align_corners" and scales and any(
                float(np.float32(x[i]) * np.float32(full[i])) != y[i] for i in (2, 3)):
            # ONNX's reference divides by the unrounded length in * scale, ONNX Runtime by the output size
            raise _Unsupported("align_corners with scales that do not give a whole output size is not supported "
                               "(ONNX's reference and ONNX Runtime disagree on it); give sizes instead")
        self.add("resize", node, [node.input[0]], {"mode": mode, "coordinate_mode": coordinate_mode,
                                                   "nearest_mode": nearest_mode, "scales": (full[2], full[3])})

    def op_Upsample(self, node, a):
        # opset 7-9 Upsample: Resize with asymmetric coordinates and floor for nearest
        mode = _text(a.get("mode", b"nearest"))
        if mode not in ("nearest", "linear", "bilinear"):
            raise _Unsupported(f"mode {mode!r} is not supported, only nearest and linear")
        x = self.shape(node.input[0])
        given = a.get("scales") if len(node.input) < 2 else self.const(node.input[1], "scales")
        full = [float(v) for v in np.asarray(given, np.float32).reshape(-1)]
        if len(x) != 4 or len(full) != 4:
            raise _Unsupported("only 4-D (N, C, H, W) inputs with 4 scales are supported")
        if full[:2] != [1.0, 1.0]:
            raise _Unsupported("only H and W may be resized (the batch and channel scales must be 1)")
        self.add("resize", node, [node.input[0]], {"mode": "nearest" if mode == "nearest" else "linear",
                                                   "coordinate_mode": "asymmetric", "nearest_mode": "floor",
                                                   "scales": (full[2], full[3])})

    def op_LayerNormalization(self, node, a):
        x = self.shape(node.input[0])
        rank = len(x)
        axis = int(a.get("axis", -1))
        if rank < 2 or not -rank <= axis < rank:
            raise McugenError(f"LayerNormalization {node.name or node.output[0]!r} has axis {axis} for a rank-{rank} "
                              "input; the model is damaged — re-export it")
        axis = max(axis % rank, 1)  # the batch axis is 1: normalising over it too changes nothing
        if rank == 4 and axis > 1:
            raise _Unsupported(f"axis={axis} of a 4-D input is not supported (mcugen keeps images channels-last); "
                               "only axis 1, or inputs of rank 2 or 3")
        if int(a.get("stash_type", 1)) != 1:
            raise _Unsupported(f"stash_type={int(a['stash_type'])} is not supported, only 1 (float32 statistics)")
        graph_outputs = {o.name for o in self.model.graph.output}
        for extra in node.output[1:]:
            if extra and (extra in graph_outputs or any(extra in n.input for n in self.model.graph.node)):
                raise _Unsupported("the Mean and InvStdDev outputs are used, which mcugen does not compute")
            self.graph.tensors.pop(extra, None)
        row = tuple(x[axis:])
        consts = []
        for i, what in ((1, "Scale"), (2, "B")):
            if len(node.input) > i and node.input[i]:
                value = self.const(node.input[i], what).astype(np.float32)
                extra = value.ndim - len(row)  # axis 0 taken as 1: the scale may still span the batch axis
                if extra > 0 and all(d == 1 for d in value.shape[:extra]):
                    value = value.reshape(value.shape[extra:])
                try:
                    value = np.broadcast_to(value, row)
                except ValueError:
                    raise McugenError(f"LayerNormalization {node.name or node.output[0]!r}: {what} of shape "
                                      f"{list(value.shape)} does not broadcast to {list(row)}; re-export the "
                                      "model") from None
            else:
                value = np.zeros(row, np.float32)
            consts.append(self.new_const(node, what.lower(), value.astype(np.float32)))
        self.add("layer_norm", node, [node.input[0], *consts],
                 {"axis": axis, "epsilon": float(a.get("epsilon", 1e-5))})

    def op_Gemm(self, node, a):
        b = self.const(node.input[1], "B").astype(np.float32)
        if b.ndim != 2 or len(self.shape(node.input[0])) != 2:
            raise _Unsupported("A and B must be 2-D")
        a_input = node.input[0]
        if a.get("transA", 0):  # A is (K, M): a transpose first (M is the batch of 1, so K is too)
            k, m = self.shape(a_input)
            a_input = self.graph.unique_name(f"{node.input[0]}_transposed")
            self.graph.add_tensor(Tensor(a_input, (m, k)))
            self.shapes[a_input] = (m, k)
            self.graph.nodes.append(Node("transpose", f"{node.name or node.output[0]}_transA", [node.input[0]],
                                         [a_input], {"perm": (1, 0)}))
        with np.errstate(over="ignore"):
            w = (b if a.get("transB", 0) else b.T) * np.float32(a.get("alpha", 1.0))
        inputs = [a_input, self.new_const(node, "weight", w)]
        if len(node.input) > 2 and node.input[2]:
            with np.errstate(over="ignore"):
                c = self.const(node.input[2], "C").astype(np.float32) * np.float32(a.get("beta", 1.0))
            out = self.shape(node.output[0])  # (1, N): C broadcasts to it unidirectionally
            try:
                bias = np.broadcast_to(c, out).reshape(-1)
            except ValueError:
                raise _Unsupported(f"C of shape {list(c.shape)} does not broadcast to the output {list(out)}") from None
            inputs.append(self.new_const(node, "bias", bias.astype(np.float32)))
        self.add("fully_connected", node, inputs)

    def op_MatMul(self, node, a):
        if node.input[1] not in self.consts or self.consts[node.input[1]].ndim > 2:
            # two activations, or a stack of constant matrices: a batched matrix product
            if node.input[0] in self.consts:
                raise _Unsupported("a constant first operand times an activation is not supported")
            ranks = [len(self.consts[n].shape if n in self.consts else self.shape(n)) for n in node.input[:2]]
            if min(ranks) < 2:
                raise _Unsupported("a 1-D operand of a product of two activations is not supported")
            rank = len(self.shape(node.output[0]))
            inputs = list(node.input[:2])
            if inputs[1] in self.consts:
                b = self.consts[inputs[1]].astype(np.float32)
                inputs[1] = self.new_const(node, "operand1", b.reshape((1,) * (rank - b.ndim) + b.shape))
                ranks[1] = rank
            for i, name in enumerate(inputs):
                if ranks[i] < rank:  # broadcasting over the leading axes: widen with axes of 1
                    wide = (1,) * (rank - ranks[i]) + tuple(self.shape(name))
                    inputs[i] = self.graph.unique_name(f"{name}_rank{rank}")
                    self.graph.add_tensor(Tensor(inputs[i], wide))
                    self.shapes[inputs[i]] = wide
                    self.graph.nodes.append(Node("reshape", f"{node.name or node.output[0]}_widen{i}", [name],
                                                 [inputs[i]]))
            self.add("matmul", node, inputs)
            return
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
        # storage_order only orders the indices output, refused above
        kernel = tuple(a["kernel_shape"])
        geo = self.spatial(node, a, kernel, tuple(a.get("dilations", (1, 1))))
        self.add("max_pool", node, [node.input[0]], {"kernel": kernel, **geo})

    def op_AveragePool(self, node, a):
        if any(d != 1 for d in a.get("dilations", (1, 1))):
            raise _Unsupported("dilations (dilated pooling) are not supported")
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

    def reduction(self, node, a: dict, fn: str, axes_input_from: int) -> None:
        """ReduceMean / ReduceSum / ReduceMax / ReduceMin: the axes come from the attribute before opset
        `axes_input_from` and from the second input since; an empty list reduces every axis, or
        nothing with noop_with_empty_axes. Axes of size 1 change no value (the batch axis among
        them: it holds one sample), so only the others are reduced. A mean over the spatial axes
        of an image is an average pool over them, the kernel GlobalAveragePool uses."""
        label = f"{node.op_type} {node.name or node.output[0]!r}"
        x = self.shape(node.input[0])
        rank = len(x)
        if self.opset >= axes_input_from:
            if "axes" in a:
                raise McugenError(f"{label} sets the axes attribute, which opset {self.opset} replaced by "
                                  "the axes input; the model is damaged — re-export it")
            has_input = len(node.input) > 1 and node.input[1]
            axes = [int(v) for v in self.const(node.input[1], "the axes").reshape(-1)] if has_input else []
        else:
            axes = [int(v) for v in a.get("axes", [])]
        keepdims = a.get("keepdims", 1)
        if keepdims not in (0, 1):
            raise McugenError(f"{label} has keepdims={keepdims}, not 0 or 1; the model is damaged — re-export it")
        keepdims = bool(keepdims)
        if not axes:
            if a.get("noop_with_empty_axes", 0):
                self.add("identity", node, [node.input[0]])
                return
            axes = list(range(rank))
        if any(not -rank <= ax < rank for ax in axes) or len({ax % rank for ax in axes}) != len(axes):
            raise McugenError(f"{label} has axes {axes}, not distinct axes of its rank-{rank} input; "
                              "the model is damaged — re-export it")
        axes = sorted(ax % rank for ax in axes)
        if 0 in axes and not keepdims:
            raise _Unsupported("reducing the batch axis with keepdims=0 is not supported; keep the batch axis first")
        axes = [ax for ax in axes if x[ax] != 1]
        if not axes:  # nothing of size > 1 is reduced: the values pass through, the shape may change
            self.reshape(node, a)
        elif fn == "mean" and rank == 4 and set(axes) <= {2, 3}:
            kernel = (x[2] if 2 in axes else 1, x[3] if 3 in axes else 1)
            pooled = node.output[0]
            if not keepdims:
                pooled = self.graph.unique_name(f"{node.output[0]}_pooled")
                self.graph.add_tensor(Tensor(pooled, (x[0], x[1], x[2] // kernel[0], x[3] // kernel[1])))
            self.graph.nodes.append(Node("avg_pool", node.name or node.output[0], [node.input[0]], [pooled],
                                         {"kernel": kernel, "strides": (1, 1), "pads": (0, 0, 0, 0),
                                          "dilations": (1, 1)}))
            if not keepdims:
                self.graph.nodes.append(Node("reshape", f"{node.name or node.output[0]}_squeeze", [pooled],
                                             [node.output[0]], {}))
        else:
            self.add("reduce", node, [node.input[0]], {"fn": fn, "axes": tuple(axes), "keepdims": keepdims})

    def op_ReduceMean(self, node, a):
        self.reduction(node, a, "mean", 18)

    def op_ReduceSum(self, node, a):
        self.reduction(node, a, "sum", 13)

    def op_ReduceMax(self, node, a):
        self.reduction(node, a, "max", 18)

    def op_ReduceMin(self, node, a):
        self.reduction(node, a, "min", 18)

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
        # an input that an unsupported node would produce has no tensor yet (that node is reported)
        if all(i in self.consts or (i in self.graph.tensors and self.graph.tensors[i].is_constant) for i in inputs):
            raise _Unsupported("both operands are constant")
        rank = len(self.shape(node.output[0]))
        for i, name in enumerate(inputs):
            t = self.graph.tensors[name]
            if not t.is_constant and len(t.shape) < rank:
                # NumPy broadcasting across ranks: the lower-rank activation gains leading axes of 1
                wide = (1,) * (rank - len(t.shape)) + tuple(t.shape)
                inputs[i] = self.graph.unique_name(f"{name}_rank{rank}")
                self.graph.add_tensor(Tensor(inputs[i], wide))
                self.shapes[inputs[i]] = wide
                self.graph.nodes.append(Node("reshape", f"{node.name or node.output[0]}_widen{i}", [name], [inputs[i]]))
        self.add(op, node, inputs)

    def op_Add(self, node, a):
        self.binary(node, "add")

    def op_Sub(self, node, a):
        if node.input[1] in self.consts:  # x - c is x + (-c): Add's kernel, and its bias fold
            self.binary(node, "add", lambda c: -c)
        else:
            self.binary(node, "sub")

    def op_Mul(self, node, a):
        self.binary(node, "mul")

    def op_Div(self, node, a):
        self.binary(node, "mul", _reciprocal)

    def op_Concat(self, node, a):
        rank = len(self.shape(node.output[0]))
        if any(i in self.consts for i in node.input):
            raise _Unsupported("constant inputs are not supported")
        axis = int(a["axis"])
        if not -rank <= axis < rank:
            raise McugenError(f"Concat {node.name or node.output[0]!r} has axis {axis}, outside its rank {rank}")
        self.graph.nodes.append(Node("concat", node.name or node.output[0], list(node.input),
                                     [node.output[0]], {"axis": axis % rank}))

    def reshape(self, node, a):
        self.add("reshape", node, [node.input[0]])

    op_Flatten = op_Reshape = op_Squeeze = op_Unsqueeze = reshape

    def op_Transpose(self, node, a):
        rank = len(self.shape(node.input[0]))
        perm = tuple(int(p) for p in a.get("perm", range(rank - 1, -1, -1)))
        if sorted(perm) != list(range(rank)):
            raise McugenError(f"Transpose {node.name or node.output[0]!r} has perm {list(perm)}, not a "
                              f"permutation of its {rank} axes; the model is damaged — re-export it")
        if node.input[0] in self.time_major or node.output[0] in self.time_major:
            # [1, T, C] <-> [T, 1, C] (batch_first around an LSTM): the same bytes when the axes
            # longer than 1 keep their order, which is all a time-major tensor may do here.
            x = self.shape(node.input[0])
            if [p for p in perm if x[p] != 1] != [i for i in range(rank) if x[i] != 1]:
                raise _Unsupported(f"perm {list(perm)} reorders the axes of a time-major tensor")
            self.add("reshape", node, [node.input[0]])
            return
        self.add("transpose", node, [node.input[0]], {"perm": perm})

    def op_Pad(self, node, a):
        mode = _text(a.get("mode", b"constant"))
        if mode not in ("constant", "edge", "reflect", "wrap"):
            raise McugenError(f"Pad {node.name or node.output[0]!r} has mode {mode!r}; ONNX knows constant, "
                              "reflect, edge and wrap — the model is damaged, re-export it")
        pads = a.get("pads") if len(node.input) < 2 else self.const(node.input[1], "pads")
        value = a.get("value", 0.0)
        if len(node.input) > 2 and node.input[2]:
            value = float(self.const(node.input[2], "constant_value"))
        pads = [int(p) for p in np.asarray(pads).reshape(-1)]
        rank = len(self.shape(node.input[0]))
        axes = list(range(rank))
        if len(node.input) > 3 and node.input[3]:  # pads for the listed axes only (opset 18)
            axes = [self.axis_of(node, int(v), rank) for v in self.const(node.input[3], "axes").reshape(-1)]
            if len(set(axes)) != len(axes):
                raise McugenError(f"Pad {node.name or node.output[0]!r} lists an axis twice in {axes}; "
                                  "the model is damaged — re-export it")
        if len(pads) != 2 * len(axes):
            raise McugenError(f"Pad {node.name or node.output[0]!r} has {len(pads)} pads for {len(axes)} axes, "
                              f"not {2 * len(axes)}; the model is damaged — re-export it")
        if min(pads, default=0) < 0:
            raise _Unsupported("negative pads (cropping) are not supported")
        full = [(0, 0)] * rank
        for j, axis in enumerate(axes):
            full[axis] = (pads[j], pads[j + len(axes)])
        if mode == "constant":
            self.add("pad", node, [node.input[0]], {"pads": full, "value": float(value)})
            return
        # edge, reflect and wrap only repeat input values: a slice whose positions run past the ends
        x = self.shape(node.input[0])
        if mode == "reflect" and any(d == 1 and (b or e) for d, (b, e) in zip(x, full)):
            raise McugenError(f"Pad {node.name or node.output[0]!r} reflects an axis of size 1, which has "
                              "nothing to reflect; the model is damaged — re-export it")
        self.add_slice(node, node.output[0], [tuple(int(v) for v in np.pad(np.arange(d), be, mode=mode))
                                              for d, be in zip(x, full)])

    # --- slicing and gathering: one `slice` node picks positions along every axis ----------
    def add_slice(self, node, out: str, indices: list[tuple[int, ...]], name: str | None = None) -> None:
        x = self.shape(node.input[0])
        if tuple(len(i) for i in indices) != tuple(self.shape(out)):
            raise McugenError(f"{node.op_type} {node.name or node.output[0]!r}: its positions give shape "
                              f"{[len(i) for i in indices]}, not the inferred {list(self.shape(out))}; "
                              "the model is damaged — re-export it")
        if indices[0] != tuple(range(x[0])):
            raise _Unsupported("slicing the batch axis is not supported")
        self.graph.nodes.append(Node("slice", name or node.name or out, [node.input[0]], [out],
                                     {"indices": tuple(tuple(int(v) for v in i) for i in indices)}))

    def axis_of(self, node, axis: int, rank: int) -> int:
        if not -rank <= int(axis) < rank:
            raise McugenError(f"{node.op_type} {node.name or node.output[0]!r} has axis {int(axis)}, outside "
                              f"its rank {rank}; the model is damaged — re-export it")
        return int(axis) % rank

    def op_Slice(self, node, a):
        x = self.shape(node.input[0])
        starts = self.const(node.input[1], "starts").reshape(-1)
        ends = self.const(node.input[2], "ends").reshape(-1)
        axes = (self.const(node.input[3], "axes").reshape(-1) if len(node.input) > 3 and node.input[3]
                else np.arange(len(starts)))
        steps = (self.const(node.input[4], "steps").reshape(-1) if len(node.input) > 4 and node.input[4]
                 else np.ones(len(starts), np.int64))
        if not len(starts) == len(ends) == len(axes) == len(steps):
            raise McugenError(f"Slice {node.name or node.output[0]!r} has {len(starts)} starts, {len(ends)} ends, "
                              f"{len(axes)} axes and {len(steps)} steps, not one each; re-export the model")
        indices = [tuple(range(d)) for d in x]
        seen = set()
        for start, end, axis, step in zip(starts, ends, axes, steps):
            axis = self.axis_of(node, axis, len(x))
            if axis in seen or int(step) == 0:
                raise McugenError(f"Slice {node.name or node.output[0]!r} names axis {axis} twice or has step 0; "
                                  "the model is damaged — re-export it")
            seen.add(axis)
            # Python's slice clamps out-of-range and negative starts and ends exactly as ONNX does
            indices[axis] = tuple(range(*slice(int(start), int(end), int(step)).indices(x[axis])))
        self.add_slice(node, node.output[0], indices)

    def op_Split(self, node, a):
        x = self.shape(node.input[0])
        axis = self.axis_of(node, a.get("axis", 0), len(x))
        sizes = [self.shape(o)[axis] for o in node.output]
        # the split sizes (attribute, input or num_outputs) are what shape inference used for the outputs
        given = a.get("split") if len(node.input) < 2 or not node.input[1] else self.const(node.input[1], "split")
        if given is not None and [int(v) for v in np.asarray(given).reshape(-1)] != sizes or sum(sizes) != x[axis]:
            raise McugenError(f"Split {node.name or node.output[0]!r} splits {x[axis]} positions into {sizes}; "
                              "the model is damaged — re-export it")
        first = 0
        for i, (out, size) in enumerate(zip(node.output, sizes)):
            indices = [tuple(range(d)) for d in x]
            indices[axis] = tuple(range(first, first + size))
            self.add_slice(node, out, indices, f"{node.name or node.output[0]}_{i}")
            first += size

    def op_Gather(self, node, a):
        x = self.shape(node.input[0])
        axis = self.axis_of(node, a.get("axis", 0), len(x))
        if axis == 0:
            raise _Unsupported("gathering along the batch axis is not supported")
        picks = self.const(node.input[1], "the indices")
        if picks.dtype.kind not in "iu":
            raise McugenError(f"Gather {node.name or node.output[0]!r} has indices of type {picks.dtype}; "
                              "the model is damaged — re-export it")
        flat = [int(v) for v in picks.reshape(-1)]
        if any(not -x[axis] <= v < x[axis] for v in flat):
            raise McugenError(f"Gather {node.name or node.output[0]!r} has an index outside [-{x[axis]}, "
                              f"{x[axis] - 1}] (axis {axis} has {x[axis]} positions); the model is damaged")
        indices = [tuple(range(d)) for d in x]
        indices[axis] = tuple(v % x[axis] for v in flat)
        taken = tuple(len(i) for i in indices)
        if taken == tuple(self.shape(node.output[0])):
            self.add_slice(node, node.output[0], indices)
            return
        # scalar indices drop the axis, n-D ones widen it: slice to one axis of positions, then reshape
        mid = self.graph.unique_name(f"{node.output[0]}_taken")
        self.graph.add_tensor(Tensor(mid, taken))
        self.shapes[mid] = taken
        self.add_slice(node, mid, indices, f"{node.name or node.output[0]}_take")
        self.graph.nodes.append(Node("reshape", f"{node.name or node.output[0]}_shape", [mid], [node.output[0]]))

    def op_Softmax(self, node, a):
        x = self.shape(node.input[0])
        rank = len(x)
        axis = int(a.get("axis", -1 if self.opset >= 13 else 1))
        if not -rank <= axis < rank:
            raise McugenError(f"Softmax {node.name or node.output[0]!r} has axis {axis}, outside its rank {rank}")
        axis %= rank
        if self.opset < 13:
            # Before opset 13 softmax normalises over all of axes axis..rank-1 taken together: the same
            # as over one axis only when every other of those axes has size 1.
            wide = [i for i in range(axis, rank) if x[i] != 1]
            if len(wide) > 1:
                raise _Unsupported(f"axis={axis} at opset {self.opset} (softmax over the flattened axes {wide}) "
                                   "is not supported")
            axis = wide[0] if wide else rank - 1
        if axis == 0:  # over the batch axis: it would mix the samples mcugen runs one at a time
            raise _Unsupported("softmax over the batch axis (axis 0) is not supported")
        self.add("softmax", node, [node.input[0]], {"axis": axis})

    def op_BatchNormalization(self, node, a):
        if a.get("training_mode", 0):
            raise _Unsupported("training_mode=1 (batch statistics) is not supported")
        if len(node.output) > 1 and any(node.output[1:]):
            raise _Unsupported("training-mode outputs are not supported")
        # momentum only updates the running statistics in training
        scale, bias, mean, var = (self.const(n, "statistics").astype(np.float64) for n in node.input[1:5])
        if not np.all(var + a.get("epsilon", 1e-5) > 0):
            raise McugenError(f"BatchNormalization {node.name or node.output[0]!r} has a variance plus epsilon "
                              "that is not positive; the model's statistics are damaged — re-export it")
        factor = scale / np.sqrt(var + a.get("epsilon", 1e-5))
        self.add("batch_norm", node, [node.input[0]],
                 {"scale": factor.astype(np.float32), "shift": (bias - mean * factor).astype(np.float32)})

    def op_Identity(self, node, a):
        self.add("identity", node, [node.input[0]])

    def op_Dropout(self, node, a):
        # Inference Dropout is the identity; ratio and seed only matter when training_mode is true.
        if len(node.input) > 2 and node.input[2]:
            training = self.const(node.input[2], "training_mode")
            if training.size != 1 or bool(training.reshape(-1)[0]):
                raise _Unsupported("training_mode true (random dropout) is not supported")
        if len(node.output) > 1 and node.output[1]:
            mask = node.output[1]
            if mask in {o.name for o in self.model.graph.output} or any(
                    mask in n.input for n in self.model.graph.node):
                raise _Unsupported("the mask output is used, which mcugen does not compute")
            self.graph.tensors.pop(mask, None)  # an unused mask: nothing produces or reads it
        self.add("identity", node, [node.input[0]])


    # --- recurrent layers ---------------------------------------------------------------
    def op_LSTM(self, node, a):
        self.recurrent(node, a, "lstm", 4, ("Sigmoid", "Tanh", "Tanh"))

    def op_GRU(self, node, a):
        self.recurrent(node, a, "gru", 3, ("Sigmoid", "Tanh"))

    def recurrent(self, node, a, op: str, gates: int, defaults: tuple[str, ...]) -> None:
        """LSTM / GRU, one direction, batch 1: one mcugen node per output the model reads (Y, Y_h,
        Y_c), each with X [1, T, input] and the constants squeezed to W [gH, in], R [gH, H], B [2gH],
        initial states [H]."""
        direction = _text(a.get("direction", b"forward"))
        if direction not in ("forward", "reverse"):
            raise _Unsupported(f"direction {direction!r} is not supported, only forward and reverse")
        acts = [_text(v) for v in a.get("activations", [])]
        if acts and acts != list(defaults):
            raise _Unsupported(f"activations {acts} are not supported, only the default {list(defaults)}")
        for name in ("activation_alpha", "activation_beta", "clip"):
            if name in a:
                raise _Unsupported(f"the {name} attribute is not supported" + (
                    " (cell clipping)" if name == "clip" else " (parameters of non-default activations)"))
        if a.get("input_forget", 0):
            raise _Unsupported("input_forget=1 (coupled input and forget gates) is not supported")
        layout = int(a.get("layout", 0))
        if layout not in (0, 1):
            raise McugenError(f"{node.op_type} {node.name or node.output[0]!r} has layout {layout}; ONNX knows 0 and 1")
        inputs = list(node.input) + [""] * (8 - len(node.input))
        if op == "lstm" and inputs[7]:
            raise _Unsupported("the peephole input P is not supported")
        x_shape = self.shape(inputs[0])
        if len(x_shape) != 3:
            raise McugenError(f"{node.op_type} {node.name or node.output[0]!r}: X has rank {len(x_shape)}, not 3; "
                              "the model is damaged — re-export it")
        steps, batch, in_size = (x_shape if layout == 0 else (x_shape[1], x_shape[0], x_shape[2]))
        if batch != 1:
            raise _Unsupported(f"batch {batch}: mcugen runs one sequence per inference")
        w = self.const(inputs[1], "W").astype(np.float32)
        r = self.const(inputs[2], "R").astype(np.float32)
        if w.ndim != 3 or w.shape[0] != 1 or w.shape[1] % gates or w.shape[2] != in_size:
            raise McugenError(f"{node.op_type} {node.name or node.output[0]!r}: W has shape {list(w.shape)}, not "
                              f"[1, {gates} * hidden_size, {in_size}]; the model is damaged — re-export it")
        hidden = w.shape[1] // gates
        if int(a.get("hidden_size", hidden)) != hidden or r.shape != (1, gates * hidden, hidden):
            raise McugenError(f"{node.op_type} {node.name or node.output[0]!r}: hidden_size "
                              f"{a.get('hidden_size', hidden)}, W {list(w.shape)} and R {list(r.shape)} disagree; "
                              "the model is damaged — re-export it")
        b = (self.const(inputs[3], "B").astype(np.float32) if inputs[3]
             else np.zeros((1, 2 * gates * hidden), np.float32))
        if b.shape != (1, 2 * gates * hidden):
            raise McugenError(f"{node.op_type} {node.name or node.output[0]!r}: B has shape {list(b.shape)}, not "
                              f"[1, {2 * gates * hidden}]; the model is damaged — re-export it")
        if inputs[4]:
            lens = self.const(inputs[4], "sequence_lens")
            if np.any(lens.reshape(-1) != steps):
                raise _Unsupported(f"sequence_lens {lens.reshape(-1).tolist()} differ from the sequence length "
                                   f"{steps}; mcugen runs whole sequences of a fixed length")

        def state(index: int, what: str) -> np.ndarray:
            if not inputs[index]:
                return np.zeros(hidden, np.float32)
            value = self.const(inputs[index], what).astype(np.float32)
            if value.size != hidden:
                raise McugenError(f"{node.op_type} {node.name or node.output[0]!r}: {what} has shape "
                                  f"{list(value.shape)}, not [1, 1, {hidden}]; the model is damaged — re-export it")
            return value.reshape(hidden)

        consts = [w[0], r[0], b[0], state(5, "initial_h")]
        if op == "lstm":
            consts.append(state(6, "initial_c"))
        else:
            lbr = int(a.get("linear_before_reset", 0))
        names = [self.new_const(node, what, v) for what, v in zip(("W", "R", "B", "initial_h", "initial_c"), consts)]
        read = {i for n in self.model.graph.node for i in n.input} | {o.name for o in self.model.graph.output}
        roles = ("Y", "Y_h", "Y_c")
        used = [(role, out) for role, out in zip(roles, node.output) if out and out in read]
        for role, out in used:
            attrs = {"hidden": hidden, "steps": steps, "reverse": direction == "reverse", "output": role}
            if op == "gru":
                attrs["linear_before_reset"] = lbr
            label = out if not node.name else node.name if len(used) == 1 else f"{node.name}_{role}"
            self.graph.nodes.append(Node(op, label, [inputs[0], *names], [out], attrs))
        if len(used) > 1:
            base = node.name or used[0][1]
            self.graph.notes.append(f"{node.op_type} {_shown(base)!r}: the model reads {len(used)} of its outputs "
                                    f"({', '.join(r for r, _ in used)}), so the sequence runs {len(used)} times")


TIME_MAJOR_OPS = {"LSTM", "GRU", "Transpose", "Reshape", "Squeeze", "Unsqueeze", "Identity", "Dropout"}


class _Unsupported(Exception):
    """A supported op type used with attributes mcugen does not handle; the message says which."""
