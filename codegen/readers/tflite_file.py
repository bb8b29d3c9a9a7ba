"""TFLite int8 flatbuffer → Graph, already in physical layout (NHWC) with every scale fixed.

Parser: the `tflite` package (PyPI), the flatbuffer accessors generated from TensorFlow's own
schema.fbs, pure Python on top of `flatbuffers`. It is the schema, kept current by its maintainers,
as ordinary code: no schema file to ship, no flatc at build time, no TensorFlow. Generated accessors
trust the offsets they follow, so every read here runs inside one guard that turns whatever a damaged
or hostile file provokes (IndexError, struct.error, a numpy ValueError for a vector that claims more
bytes than the file has) into one McugenError sentence; element counts are checked against
MAX_ELEMENTS before numpy allocates anything.

An int8 TFLite file is quantized already, so it takes the pre-quantized route of a QDQ ONNX model
(see readers/qdq.py and compiler.compile_model): the reader builds mcugen's float graph whose
constants are the file's codes dequantized (weights q * s in float32, biases q * s_in * s_w in
float64, so quantization gets exactly q back) and records every activation's (scale, zero point)
in `graph.fixed_qparams` and every weight's scales in `graph.fixed_weight_scales`: nothing is
calibrated. Scales are the file's float32 values widened to float64, as TFLite's kernels widen them
before they compute a multiplier.

Layout: TFLite tensors are NHWC already and weights OHWI (depthwise 1HWO, turned into mcugen's
O HW 1 here), so the graph is physical from the start; compiler.load_float_graph skips the
channels-last pass. Inputs and outputs keep the file's int8 codes and NHWC shapes: a buffer that
feeds TFLite Micro feeds mcugen's invoke unchanged. A QUANTIZE at a float input or a DEQUANTIZE at
a float output is dropped: the model's edge is then the int8 tensor, as in TFLM's int8 deployments.
A uint8 input read only by a QUANTIZE to int8 (or a uint8 output written by a QUANTIZE from int8),
as the converter writes for inference_input_type=tf.uint8, keeps its QUANTIZE (TFLite's Requantize)
and is held as the int8 code u - 128 with zero point z - 128: the same real values and the same
integer arithmetic, so invoke takes the file's bytes with their top bit flipped (IOInfo.file_dtype).

Where TFLite's reference int8 kernels compute differently from mcugen's own choices, the operator
mapped here is TFLite's variant (`softmax_tflite`, `avg_pool_tflite`, see ops/); the fused
activation's clamp is computed as TFLite does (f / scale in float32, rounded half away from zero)
and passed as integer codes (`act_codes`). Float and hybrid models are refused in one sentence, and
every unsupported operator is listed in one message.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from mcugen.errors import McugenError
from mcugen.ir import Graph, IOInfo, Node, Tensor

MAX_ELEMENTS = 1 << 26  # as for ONNX: far beyond any microcontroller, refused before numpy allocates
MAX_FILE_BYTES = 1 << 30
TFL_IDENTIFIER = b"TFL3"

# tflite.TensorType codes
_FLOAT32, _FLOAT16, _INT32, _UINT8, _INT64, _INT16, _INT8 = 0, 1, 2, 3, 4, 7, 9
_TYPE_NAMES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 5: "string", 6: "bool",
               7: "int16", 8: "complex64", 9: "int8", 10: "float64", 16: "uint32", 17: "uint16", 18: "int4"}
_INT_DTYPES = {_INT8: np.int8, _UINT8: np.uint8, _INT32: np.int32, _INT16: np.int16, _INT64: np.int64}
# fused activation codes (tflite.ActivationFunctionType) → the float interval they clamp to
_ACTIVATIONS = {0: None, 1: (0.0, math.inf), 2: (-1.0, 1.0), 3: (0.0, 6.0)}
_ACTIVATION_NAMES = {4: "TANH", 5: "SIGN_BIT"}
_SAME, _VALID = 0, 1


class _Unsupported(Exception):
    """An operator mcugen reads, used in a way it does not support; the message says which."""


def _op_names() -> dict[int, str]:
    from tflite.BuiltinOperator import BuiltinOperator

    return {v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_")}


def _shown(text: str) -> str:
    return text if text.isprintable() and len(text) <= 80 else repr(text[:80])


def read_tflite_bytes(path: str | Path) -> bytes:
    path = Path(path)
    if not path.is_file():
        raise McugenError(f"model file {path} does not exist; give the path of a .tflite file")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise McugenError(f"{path} is {size:,} bytes, more than mcugen's limit of {MAX_FILE_BYTES:,} for a "
                          "TFLite model; no microcontroller holds it")
    data = path.read_bytes()
    if len(data) < 8 or data[4:8] != TFL_IDENTIFIER:
        raise McugenError(f"{path} is not a TFLite flatbuffer (no 'TFL3' identifier at byte 4); give an int8 "
                          ".tflite file written by TensorFlow Lite's converter")
    return data


def import_tflite(path: str | Path, name: str) -> Graph:
    """Read an int8 TFLite model into mcugen's graph (see the module docstring)."""
    data = read_tflite_bytes(path)
    try:
        import tflite  # noqa: F401
    except ImportError:
        raise McugenError("reading .tflite files needs the tflite package: pip install 'mcugen[tflite]'") from None
    try:
        return _Reader(data, path, name).run()
    except McugenError:
        raise
    except Exception as exc:  # a damaged flatbuffer: offsets past the end, impossible vectors, ...
        raise McugenError(f"{path} is a damaged TFLite flatbuffer ({type(exc).__name__} while reading it); "
                          "re-convert the model with TensorFlow Lite's converter") from None


class _Reader:
    def __init__(self, data: bytes, path: str | Path, name: str) -> None:
        import tflite

        self.data, self.path = data, Path(path)
        self.model = tflite.Model.GetRootAsModel(data, 0)
        self.graph = Graph(name)
        self.graph.source = str(path)
        self.names: dict[int, str] = {}  # TFLite tensor index → graph tensor name
        self.quant: dict[int, tuple[np.ndarray, np.ndarray, int]] = {}
        self.opnames = _op_names()
        self.uint8_edges: set[int] = set()  # TFLite tensors of a uint8 model input or output
        self.uint8_names: set[str] = set()  # their graph tensors

    # --- the file's tables ---------------------------------------------------------------
    def run(self) -> Graph:
        m = self.model
        if m.SubgraphsLength() != 1:
            raise McugenError(f"{self.path} holds {m.SubgraphsLength()} subgraphs; mcugen reads TFLite models with "
                              "one subgraph (no control flow)")
        self.sub = m.Subgraphs(0)
        self.count = self.sub.TensorsLength()
        ops = [self.sub.Operators(i) for i in range(self.sub.OperatorsLength())]
        if not ops:
            raise McugenError(f"{self.path} holds no operators; is it a TFLite model?")
        self.kinds = [self.op_kind(op) for op in ops]
        inputs = [self.index(self.sub.Inputs(i)) for i in range(self.sub.InputsLength())]
        outputs = [self.index(self.sub.Outputs(i)) for i in range(self.sub.OutputsLength())]
        self.uint8_edges = self.find_uint8_edges(ops, inputs, outputs)
        self.check_quantized(ops)
        inputs, outputs, skipped = self.edges(ops, inputs, outputs)
        for i in inputs:
            self.activation(i)
            if not self.shape_of(i) or self.shape_of(i)[0] != 1:
                raise McugenError(f"input {_shown(self.tensor_name(i))} has shape {list(self.shape_of(i))}; mcugen "
                                  "compiles batch 1 (convert the model with a batch size of 1)")
        problems: list[str] = []
        for k, (op, kind) in enumerate(zip(ops, self.kinds, strict=True)):
            if k in skipped:
                continue
            handler = getattr(self, f"op_{kind}", None)
            label = f"{kind} (operator {k}, output {_shown(self.tensor_name(self.outputs_of(op)[0]))})" \
                if self.outputs_of(op) else f"{kind} (operator {k})"
            if handler is None:
                problems.append(label)
                continue
            try:
                handler(op, k)
            except _Unsupported as exc:
                problems.append(f"{label}: {exc}")
        if problems:
            raise McugenError(f"{len(problems)} TFLite operator(s) are not supported: " + "; ".join(problems)
                              + ". mcugen reads the int8 operators listed in CONTRIBUTING.md")
        g = self.graph
        g.inputs = [self.names[i] for i in inputs]
        g.outputs = [self.names[i] for i in outputs]
        for name in g.inputs + g.outputs:
            shape = g.tensors[name].shape
            g.io[name] = IOInfo(name, shape, tuple(range(len(shape))), layout_name="NHWC" if len(shape) == 4 else None,
                                file_dtype="uint8" if name in self.uint8_names else None)
        g.prune()
        return g

    def index(self, i: int) -> int:
        if not 0 <= i < self.count:
            raise McugenError(f"{self.path} refers to tensor {i}, but its subgraph has {self.count}; "
                              "the file is damaged")
        return int(i)

    def op_kind(self, op) -> str:
        code_index = op.OpcodeIndex()
        if not 0 <= code_index < self.model.OperatorCodesLength():
            raise McugenError(f"{self.path} has an operator with opcode {code_index}, beyond its opcode table; "
                              "the file is damaged")
        code = self.model.OperatorCodes(code_index)
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if self.opnames.get(builtin) == "CUSTOM":
            custom = (code.CustomCode() or b"").decode(errors="replace")
            return f"CUSTOM {_shown(custom)}"
        return self.opnames.get(builtin, f"builtin code {builtin}")

    def inputs_of(self, op) -> list[int]:
        return [-1 if i < 0 else self.index(i) for i in (op.InputsAsNumpy() if op.InputsLength() else [])]

    def outputs_of(self, op) -> list[int]:
        return [self.index(i) for i in (op.OutputsAsNumpy() if op.OutputsLength() else [])]

    def tensor(self, i: int):
        return self.sub.Tensors(i)

    def tensor_name(self, i: int) -> str:
        raw = self.tensor(i).Name()
        return raw.decode(errors="replace") if raw else f"tensor{i}"

    def type_of(self, i: int) -> int:
        return self.tensor(i).Type()

    def shape_of(self, i: int) -> tuple[int, ...]:
        t = self.tensor(i)
        shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        if any(d < 0 for d in shape) or (t.ShapeSignatureLength() and any(
                int(d) < 0 for d in t.ShapeSignatureAsNumpy()[1:])):
            raise McugenError(f"tensor {_shown(self.tensor_name(i))} has a dynamic shape {list(shape)}; mcugen "
                              "needs fixed shapes (convert the model with a fixed input size)")
        if math.prod(shape) > MAX_ELEMENTS:
            raise McugenError(f"tensor {_shown(self.tensor_name(i))} has shape {list(shape)}, more than mcugen's "
                              f"limit of {MAX_ELEMENTS:,} elements; no microcontroller holds it")
        return shape

    def buffer_bytes(self, i: int) -> np.ndarray | None:
        """The constant data of tensor i, or None when it is an activation."""
        b = self.tensor(i).Buffer()
        if b == 0:
            return None
        if not 0 < b < self.model.BuffersLength():
            raise McugenError(f"tensor {_shown(self.tensor_name(i))} refers to buffer {b}, beyond the file's "
                              f"{self.model.BuffersLength()}; the file is damaged")
        buf = self.model.Buffers(b)
        if buf.DataLength():
            return buf.DataAsNumpy()
        offset, size = buf.Offset(), buf.Size()
        if offset > 1:  # large models keep their buffers after the flatbuffer
            if offset + size > len(self.data):
                raise McugenError(f"tensor {_shown(self.tensor_name(i))} claims {size:,} bytes at offset "
                                  f"{offset:,}, past the end of the {len(self.data):,}-byte file; it is damaged")
            return np.frombuffer(self.data, np.uint8, size, offset)
        return None

    def constant(self, i: int) -> np.ndarray | None:
        raw = self.buffer_bytes(i)
        if raw is None:
            return None
        ttype = self.type_of(i)
        shape = self.shape_of(i)
        dtype = _INT_DTYPES.get(ttype, np.float32 if ttype == _FLOAT32 else None)
        if dtype is None:
            raise _Unsupported(f"constant {_shown(self.tensor_name(i))} is of type "
                               f"{_TYPE_NAMES.get(ttype, ttype)}, which mcugen does not read")
        want = math.prod(shape) * np.dtype(dtype).itemsize
        if raw.size != want:
            raise McugenError(f"constant {_shown(self.tensor_name(i))} has shape {list(shape)} ({want} bytes) but "
                              f"holds {raw.size} bytes; the file is damaged")
        return np.frombuffer(raw.tobytes(), dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype).reshape(shape)

    def quantization(self, i: int) -> tuple[np.ndarray, np.ndarray, int] | None:
        """(scales float64, zero points int64, quantized dimension), or None when not quantized."""
        if i in self.quant:
            return self.quant[i]
        q = self.tensor(i).Quantization()
        if q is None or not q.ScaleLength():
            return None
        if q.DetailsType():
            raise _Unsupported(f"tensor {_shown(self.tensor_name(i))} has custom quantization details")
        scales = q.ScaleAsNumpy().astype(np.float32).astype(np.float64)
        zps = q.ZeroPointAsNumpy().astype(np.int64) if q.ZeroPointLength() else np.zeros(len(scales), np.int64)
        if len(zps) != len(scales) or not np.all(np.isfinite(scales)) or np.any(scales <= 0):
            raise McugenError(f"tensor {_shown(self.tensor_name(i))} has {len(scales)} scales (some not positive "
                              f"and finite) for {len(zps)} zero points; the file is damaged")
        self.quant[i] = (scales, zps, int(q.QuantizedDimension()))
        return self.quant[i]

    # --- what the model is -----------------------------------------------------------------
    def check_quantized(self, ops: list) -> None:
        """Every activation int8 (a float input/output behind QUANTIZE/DEQUANTIZE excepted)."""
        edges = {"QUANTIZE", "DEQUANTIZE"}
        floats, int8_weights, others = [], False, []
        for op, kind in zip(ops, self.kinds, strict=True):
            for i in [j for j in self.inputs_of(op) if j >= 0] + self.outputs_of(op):
                t = self.type_of(i)
                is_const = self.tensor(i).Buffer() != 0 and self.buffer_bytes(i) is not None
                if is_const:
                    int8_weights |= t == _INT8
                    continue
                if t in (_FLOAT32, _FLOAT16) and kind not in edges:
                    floats.append(self.tensor_name(i))
                elif t not in (_INT8, _FLOAT32) and not (t == _INT32 and is_const) and i not in self.uint8_edges:
                    others.append((self.tensor_name(i), _TYPE_NAMES.get(t, str(t))))
        if floats:
            kind = "hybrid (int8 weights, float activations)" if int8_weights else "float"
            raise McugenError(f"{self.path} is a {kind} TFLite model (tensor {_shown(floats[0])} is float); mcugen "
                              "reads fully int8-quantized .tflite files: convert with a representative dataset and "
                              "target_spec.supported_ops=[tf.lite.OpsSet.TFLITE_BUILTINS_INT8], or give mcugen the "
                              "float ONNX model to quantize itself")
        if others:
            name, tname = others[0]
            raise McugenError(f"{self.path} has {tname} activations (tensor {_shown(name)}); mcugen reads TFLite "
                              "models whose activations are int8")

    def find_uint8_edges(self, ops: list, inputs: list[int], outputs: list[int]) -> set[int]:
        """uint8 model inputs that only a QUANTIZE to int8 reads, and uint8 model outputs a QUANTIZE
        from int8 writes: what TFLite's converter emits for inference_input/output_type=tf.uint8."""
        readers: dict[int, list[str]] = {}
        for op, kind in zip(ops, self.kinds, strict=True):
            for i in self.inputs_of(op):
                readers.setdefault(i, []).append(kind)
        found: set[int] = set()
        for op, kind in zip(ops, self.kinds, strict=True):
            ins, outs = self.inputs_of(op), self.outputs_of(op)
            if kind != "QUANTIZE" or len(ins) != 1 or len(outs) != 1 or ins[0] < 0:
                continue
            x, y = ins[0], outs[0]
            if self.type_of(x) == _UINT8 and self.type_of(y) == _INT8 and x in inputs and readers[x] == ["QUANTIZE"]:
                found.add(x)
            elif self.type_of(x) == _INT8 and self.type_of(y) == _UINT8 and y in outputs and y not in readers:
                found.add(y)
        return found

    def edges(self, ops: list, inputs: list[int], outputs: list[int]) -> tuple[list[int], list[int], set[int]]:
        """Drop QUANTIZE at a float model input and DEQUANTIZE at a float model output."""
        skipped: set[int] = set()
        inputs, outputs = list(inputs), list(outputs)
        for k, (op, kind) in enumerate(zip(ops, self.kinds, strict=True)):
            ins, outs = self.inputs_of(op), self.outputs_of(op)
            if kind == "QUANTIZE" and ins and ins[0] in inputs and self.type_of(ins[0]) == _FLOAT32:
                inputs[inputs.index(ins[0])] = outs[0]
                skipped.add(k)
            elif kind == "DEQUANTIZE" and outs and outs[0] in outputs and self.type_of(ins[0]) == _INT8:
                outputs[outputs.index(outs[0])] = ins[0]
                skipped.add(k)
        if skipped:
            self.graph.notes.append("the model's float QUANTIZE/DEQUANTIZE edges are left out: its invoke takes and "
                                    "gives the int8 codes, as TFLite Micro's int8 deployments do")
        return inputs, outputs, skipped

    # --- graph building ----------------------------------------------------------------------
    def activation(self, i: int) -> str:
        """The graph tensor of TFLite activation i (int8, per-tensor), created on first use."""
        if i in self.names:
            return self.names[i]
        if self.buffer_bytes(i) is not None:
            raise _Unsupported(f"constant input {_shown(self.tensor_name(i))} where an activation is expected")
        uint8 = i in self.uint8_edges
        if self.type_of(i) != _INT8 and not uint8:
            raise _Unsupported(f"tensor {_shown(self.tensor_name(i))} is "
                               f"{_TYPE_NAMES.get(self.type_of(i), self.type_of(i))}, not int8")
        q = self.quantization(i)
        if q is None or len(q[0]) != 1:
            raise _Unsupported(f"activation {_shown(self.tensor_name(i))} needs one scale and zero point")
        zp = int(q[1][0])
        if uint8:
            if not 0 <= zp <= 255:
                raise McugenError(f"uint8 tensor {_shown(self.tensor_name(i))} has zero point {zp}, outside uint8; "
                                  "the file is damaged")
            # a uint8 code u is the int8 code u - 128 with zero point zp - 128: the same real value,
            # and TFLite's QUANTIZE arithmetic on (u - zp) unchanged (ops/lut_tflite.py)
            zp -= 128
        if not -128 <= zp <= 127:
            raise McugenError(f"activation {_shown(self.tensor_name(i))} has zero point {zp}, outside int8; the "
                              "file is damaged")
        name = self.graph.unique_name(self.tensor_name(i))
        self.graph.add_tensor(Tensor(name, self.shape_of(i)))
        self.graph.fixed_qparams[name] = (float(q[0][0]), zp)
        self.names[i] = name
        if uint8:
            self.uint8_names.add(name)
            self.graph.notes.append(f"{_shown(self.tensor_name(i))} is uint8 in the file: mcugen's invoke takes and "
                                    "gives it as int8 codes u - 128 (each byte XOR 0x80), same scale, zero point "
                                    "minus 128")
        return name

    def output(self, op) -> str:
        outs = self.outputs_of(op)
        if len(outs) != 1:
            raise _Unsupported(f"{len(outs)} outputs, mcugen supports one")
        return self.activation(outs[0])

    def add(self, op_name: str, k: int, inputs: list[str], out: str, attrs: dict | None = None) -> None:
        self.graph.nodes.append(Node(op_name, self.graph.unique_name(f"{op_name}{k}"), inputs, [out], attrs or {}))

    def options(self, op, cls):
        table = op.BuiltinOptions()
        opts = cls()
        if table is None:
            return None
        opts.Init(table.Bytes, table.Pos)
        return opts

    def fused(self, code: int, out: int) -> dict:
        """attrs for a fused activation: the float interval, and TFLite's integer clamp of it."""
        if code in _ACTIVATION_NAMES or code not in _ACTIVATIONS:
            raise _Unsupported(f"fused activation {_ACTIVATION_NAMES.get(code, code)} is not supported")
        interval = _ACTIVATIONS[code]
        if interval is None:
            return {}
        scale, zp = float(self.quantization(out)[0][0]), int(self.quantization(out)[1][0])
        return {"act": interval, "act_codes": tflite_activation_codes(interval, scale, zp)}

    def weights(self, i: int, what: str, axis: int) -> tuple[np.ndarray, np.ndarray]:
        """An int8 symmetric constant: (codes, per-`axis` scales as float64)."""
        w = self.constant(i)
        if w is None:
            raise _Unsupported(f"the {what} is not a constant")
        if w.dtype != np.int8:
            raise _Unsupported(f"the {what} is {w.dtype}, not int8")
        q = self.quantization(i)
        if q is None:
            raise _Unsupported(f"the {what} has no quantization")
        scales, zps, dim = q
        if np.any(zps != 0):
            raise _Unsupported(f"the {what} has a nonzero zero point (TFLite int8 weights are symmetric)")
        if len(scales) == 1:
            scales = np.full(w.shape[axis], scales[0])
        elif dim != axis or len(scales) != w.shape[axis]:
            raise _Unsupported(f"the {what} has {len(scales)} scales along axis {dim}; mcugen needs one per "
                               "output channel or one in all")
        return w, scales

    def weighted_inputs(self, op, k: int, w_axis: int, transform=None) -> list[str]:
        """w_axis: the file weight's output-channel axis; transform moves it to axis 0."""
        """[x, float weights, float bias] for conv, depthwise conv and fully connected."""
        ins = self.inputs_of(op)
        if len(ins) < 2 or ins[0] < 0 or ins[1] < 0:
            raise _Unsupported("needs an input and a weight")
        x = self.activation(ins[0])
        w, ws = self.weights(ins[1], "weight", w_axis)
        if transform is not None:
            w = transform(w)
        sx = self.graph.fixed_qparams[x][0]
        # float weights q * s (float32): quantization recovers q exactly, round(q * s / s) = q
        shape = [1] * w.ndim
        shape[0] = -1
        wname = self.graph.add_constant(self.tensor_name(ins[1]),
                                        (w.astype(np.float64) * ws.reshape(shape)).astype(np.float32)).name
        self.graph.fixed_weight_scales[wname] = ws
        names = [x, wname]
        if len(ins) > 2 and ins[2] >= 0:
            b = self.constant(ins[2])
            if b is None or b.dtype != np.int32 or b.shape != (w.shape[0],):
                raise _Unsupported(f"the bias must be an int32 constant of shape [{w.shape[0]}]")
            # float64 q * (s_in * s_w): mcugen's quantize_bias divides by the same product, giving q back
            names.append(self.graph.add_constant(self.tensor_name(ins[2]), b.astype(np.float64) * (sx * ws)).name)
        return names

    # --- operators ---------------------------------------------------------------------------
    def padding(self, code: int, x: tuple[int, ...], kernel: tuple[int, int], strides: tuple[int, int],
                dilations: tuple[int, int], y: tuple[int, ...]) -> tuple[int, int, int, int]:
        """(top, left, bottom, right) as TFLite computes them from SAME/VALID and the output size."""
        if code not in (_SAME, _VALID):
            raise _Unsupported(f"padding code {code}")
        pads = []
        for axis in range(2):
            eff = (kernel[axis] - 1) * dilations[axis] + 1
            if code == _VALID:
                expect = (x[1 + axis] - eff) // strides[axis] + 1
                pads.append((0, 0))
            else:
                expect = -(-x[1 + axis] // strides[axis])
                total = max((expect - 1) * strides[axis] + eff - x[1 + axis], 0)
                pads.append((total // 2, total - total // 2))
            if y[1 + axis] != expect:
                raise McugenError(f"an operator's output has {y[1 + axis]} rows/columns where its padding gives "
                                  f"{expect}; the file is damaged")
        return (pads[0][0], pads[1][0], pads[0][1], pads[1][1])

    def geometry(self, opts, x: str, kernel: tuple[int, int], out: str, dilated: bool = True) -> dict:
        strides = (int(opts.StrideH()), int(opts.StrideW()))
        dilations = (int(opts.DilationHFactor()), int(opts.DilationWFactor())) if dilated else (1, 1)
        for what, v in (("strides", strides), ("dilations", dilations), ("kernel", kernel)):
            if min(v) < 1 or max(v) > 1 << 16:
                raise McugenError(f"an operator has {what} {list(v)}; each must be at least 1 (the file is damaged)")
        xs, ys = self.graph.tensors[x].shape, self.graph.tensors[out].shape
        if len(xs) != 4 or len(ys) != 4:
            raise _Unsupported("only 4-D NHWC tensors are supported")
        pads = self.padding(opts.Padding(), xs, kernel, strides, dilations, ys)
        return {"strides": strides, "dilations": dilations, "pads": pads}

    def op_CONV_2D(self, op, k):
        import tflite

        opts = self.options(op, tflite.Conv2DOptions)
        inputs = self.weighted_inputs(op, k, 0)
        out = self.output(op)
        w = self.graph.tensors[inputs[1]].data  # OHWI
        in_c = self.graph.tensors[inputs[0]].shape[-1]
        if w.ndim != 4 or in_c % w.shape[3] or w.shape[0] % (in_c // w.shape[3]):
            raise _Unsupported(f"weight of shape {list(w.shape)} does not fit {in_c} input channels")
        attrs = {"group": in_c // w.shape[3], **self.geometry(opts, inputs[0], w.shape[1:3], out),
                 **self.fused(opts.FusedActivationFunction(), self.outputs_of(op)[0])}
        self.add("conv", k, inputs, out, attrs)

    def op_DEPTHWISE_CONV_2D(self, op, k):
        import tflite

        opts = self.options(op, tflite.DepthwiseConv2DOptions)
        # 1 x KH x KW x (C*m) → (C*m) x KH x KW x 1, mcugen's depthwise layout; scales along axis 3 → 0
        inputs = self.weighted_inputs(op, k, 3, lambda w: np.ascontiguousarray(w.transpose(3, 1, 2, 0))
                                      if w.ndim == 4 and w.shape[0] == 1 else _refuse_depthwise(w))
        out = self.output(op)
        w = self.graph.tensors[inputs[1]].data
        x_c, y_c = self.graph.tensors[inputs[0]].shape[-1], self.graph.tensors[out].shape[-1]
        if y_c != w.shape[0] or y_c % x_c:
            raise _Unsupported(f"{w.shape[0]} weight channels for {x_c} input and {y_c} output channels")
        if opts.DepthMultiplier() not in (0, y_c // x_c):
            raise McugenError(f"depthwise conv {k} has depth multiplier {opts.DepthMultiplier()} but its channels "
                              f"give {y_c // x_c}; the file is damaged")
        attrs = {"group": x_c, **self.geometry(opts, inputs[0], w.shape[1:3], out),
                 **self.fused(opts.FusedActivationFunction(), self.outputs_of(op)[0])}
        self.add("depthwise_conv", k, inputs, out, attrs)

    def op_FULLY_CONNECTED(self, op, k):
        import tflite

        opts = self.options(op, tflite.FullyConnectedOptions)
        if opts is not None and opts.WeightsFormat() != 0:
            raise _Unsupported("shuffled weights are not supported")
        inputs = self.weighted_inputs(op, k, 0)
        out = self.output(op)
        w = self.graph.tensors[inputs[1]].data
        x, y = self.graph.tensors[inputs[0]], self.graph.tensors[out]
        if y.shape[0] != 1:  # rows x units without keep_num_dims: the same bytes with mcugen's batch axis
            y.shape = (1, *y.shape)
        if w.ndim != 2 or x.size % w.shape[1] or y.size != x.size // w.shape[1] * w.shape[0]:
            raise _Unsupported(f"weight {list(w.shape)} does not fit input {list(x.shape)} and output {list(y.shape)}")
        attrs = self.fused(opts.FusedActivationFunction(), self.outputs_of(op)[0]) if opts is not None else {}
        # TFLite's int8 fully connected requantizes through MultiplyByQuantizedMultiplier's int64
        # overload, which rounds once (half up), where conv and depthwise conv use gemmlowp's double
        # rounding (measured against ai-edge-litert: with double rounding 1 in 3 of the AD model's
        # outputs differ by 1)
        attrs["single_rounding"] = True
        self.add("fully_connected", k, inputs, out, attrs)

    def pool(self, op, k, kind: str) -> None:
        import tflite

        opts = self.options(op, tflite.Pool2DOptions)
        x = self.activation(self.inputs_of(op)[0])
        out = self.output(op)
        kernel = (int(opts.FilterHeight()), int(opts.FilterWidth()))
        attrs = {"kernel": kernel, **self.geometry(opts, x, kernel, out, dilated=False),
                 **self.fused(opts.FusedActivationFunction(), self.outputs_of(op)[0])}
        if self.graph.fixed_qparams[x] != self.graph.fixed_qparams[out]:
            raise _Unsupported("input and output quantization differ (TFLite's int8 pooling requires them equal)")
        self.add(kind, k, [x], out, attrs)

    def op_AVERAGE_POOL_2D(self, op, k):
        self.pool(op, k, "avg_pool_tflite")

    def op_MAX_POOL_2D(self, op, k):
        self.pool(op, k, "max_pool")

    def op_RESHAPE(self, op, k):
        x = self.activation(self.inputs_of(op)[0])
        out = self.output(op)
        if self.graph.tensors[x].size != self.graph.tensors[out].size:
            raise McugenError(f"reshape {k} changes {self.graph.tensors[x].size} elements into "
                              f"{self.graph.tensors[out].size}; the file is damaged")
        if self.graph.fixed_qparams[x] != self.graph.fixed_qparams[out]:
            raise _Unsupported("input and output quantization differ")
        self.add("reshape", k, [x], out)

    op_SQUEEZE = op_RESHAPE

    def op_SOFTMAX(self, op, k):
        import tflite

        opts = self.options(op, tflite.SoftmaxOptions)
        x = self.activation(self.inputs_of(op)[0])
        out = self.output(op)
        if self.graph.fixed_qparams[out] != (1.0 / 256, -128):
            raise _Unsupported("an int8 softmax output must have scale 1/256 and zero point -128")
        beta = float(np.float32(opts.Beta())) if opts is not None else 1.0
        self.add("softmax_tflite", k, [x], out, {"axis": len(self.graph.tensors[x].shape) - 1, "beta": beta})

    def binary(self, op, k, kind: str, options_class) -> None:
        opts = self.options(op, options_class)
        ins = self.inputs_of(op)
        if len(ins) != 2 or any(i < 0 for i in ins):
            raise _Unsupported("needs two operands")
        consts = [self.buffer_bytes(i) is not None for i in ins]
        if all(consts):
            raise _Unsupported("both operands are constant")
        out = self.output(op)
        ys = self.graph.tensors[out].shape
        names, constant_qparams = [], []
        for pos, (i, is_const) in enumerate(zip(ins, consts, strict=True)):
            names.append(self.constant_operand(i, len(ys), constant_qparams, pos) if is_const else self.activation(i))
        for x in names:
            xs = self.graph.tensors[x].shape
            if len(xs) != len(ys) or any(d not in (1, e) for d, e in zip(xs, ys, strict=True)):
                raise _Unsupported(f"operand shape {list(xs)} does not broadcast to {list(ys)} axis by axis")
        attrs = self.fused(opts.FusedActivationFunction(), self.outputs_of(op)[0]) if opts is not None else {}
        if constant_qparams:
            attrs["constant_qparams"] = constant_qparams
        if kind == "mul":
            attrs["float32_multiplier"] = True
        self.add(kind, k, names, out, attrs)

    def constant_operand(self, i: int, rank: int, qparams: list, position: int) -> str:
        """An int8 constant operand of ADD/MUL: its float values (q - z) * s, padded with leading 1s to
        the output's rank (TFLite broadcasts from the right), and its own (s, z) kept in `qparams`,
        which ops/add.py::quantize_constant_operands uses instead of a range, so it quantizes back to q."""
        c = self.constant(i)
        q = self.quantization(i)
        if c.dtype != np.int8 or q is None or len(q[0]) != 1:
            raise _Unsupported(f"constant operand {_shown(self.tensor_name(i))} must be int8 with one scale")
        if c.ndim > rank:
            raise _Unsupported(f"constant operand of shape {list(c.shape)} has more axes than the output")
        scale, zp = float(q[0][0]), int(q[1][0])
        if not -128 <= zp <= 127:
            raise McugenError(f"constant {_shown(self.tensor_name(i))} has zero point {zp}, outside int8; the file "
                              "is damaged")
        values = ((c.astype(np.float64) - zp) * scale).astype(np.float32).reshape((1,) * (rank - c.ndim) + c.shape)
        qparams.append((position, scale, zp))
        return self.graph.add_constant(self.tensor_name(i), values).name

    def unary(self, op, k, kind: str, output_qparams: tuple[float, int]) -> None:
        x = self.activation(self.inputs_of(op)[0])
        out = self.output(op)
        if self.graph.fixed_qparams[out] != output_qparams:
            raise _Unsupported(f"an int8 output must have scale {output_qparams[0]:g} and zero point "
                               f"{output_qparams[1]}")
        self.add(kind, k, [x], out)

    def op_LOGISTIC(self, op, k):
        self.unary(op, k, "logistic_tflite", (1.0 / 256, -128))

    def op_TANH(self, op, k):
        self.unary(op, k, "tanh_tflite", (1.0 / 128, 0))

    def op_QUANTIZE(self, op, k):
        # an int8 -> int8 QUANTIZE inside the graph: TFLite's Requantize (a float one at a model input
        # was dropped by edges(); one elsewhere is refused by activation(), which names its type)
        x = self.activation(self.inputs_of(op)[0])
        self.add("requantize_tflite", k, [x], self.output(op))

    def op_HARD_SWISH(self, op, k):
        x = self.activation(self.inputs_of(op)[0])
        self.add("hard_swish_tflite", k, [x], self.output(op))

    def relu(self, op, k, code: int) -> None:
        x = self.activation(self.inputs_of(op)[0])
        out = self.output(op)
        self.add("relu_tflite", k, [x], out, self.fused(code, self.outputs_of(op)[0]))

    def op_RELU(self, op, k):
        self.relu(op, k, 1)

    def op_RELU_N1_TO_1(self, op, k):
        self.relu(op, k, 2)

    def op_RELU6(self, op, k):
        self.relu(op, k, 3)

    def op_ADD(self, op, k):
        import tflite

        self.binary(op, k, "add", tflite.AddOptions)

    def op_MUL(self, op, k):
        import tflite

        self.binary(op, k, "mul", tflite.MulOptions)

    def op_PAD(self, op, k):
        ins = self.inputs_of(op)
        x = self.activation(ins[0])
        out = self.output(op)
        pads = self.constant(ins[1]) if len(ins) > 1 and ins[1] >= 0 else None
        rank = len(self.graph.tensors[x].shape)
        if pads is None or pads.shape != (rank, 2) or pads.dtype.kind != "i" or np.any(pads < 0):
            raise _Unsupported("the paddings must be a constant [rank, 2] of non-negative integers")
        if len(ins) > 2 and ins[2] >= 0:
            value = self.constant(ins[2])
            if value is None or value.size != 1 or int(value.reshape(-1)[0]) != self.graph.fixed_qparams[x][1]:
                raise _Unsupported("only padding with the zero point (the value 0) is supported")
        if self.graph.fixed_qparams[x] != self.graph.fixed_qparams[out]:
            raise _Unsupported("input and output quantization differ")
        self.add("pad", k, [x], out, {"pads": [(int(b), int(e)) for b, e in pads], "value": 0.0})

    op_PADV2 = op_PAD

    def op_MEAN(self, op, k):
        import tflite

        opts = self.options(op, tflite.ReducerOptions)
        ins = self.inputs_of(op)
        x = self.activation(ins[0])
        out = self.output(op)
        rank = len(self.graph.tensors[x].shape)
        axes = self.constant(ins[1]) if len(ins) > 1 and ins[1] >= 0 else None
        if axes is None or axes.dtype != np.int32 or axes.ndim > 1 or axes.size == 0:
            raise _Unsupported("the axes must be a non-empty int32 constant")
        if any(not -rank <= int(a) < rank for a in axes.reshape(-1)):
            raise McugenError(f"mean {k} has axes {axes.tolist()} outside its rank {rank}; the file is damaged")
        resolved = sorted({int(a) % rank for a in axes.reshape(-1)})
        if 0 in resolved:
            raise _Unsupported("a mean over the batch axis is not supported")
        keep = bool(opts.KeepDims()) if opts is not None else False
        xs = self.graph.tensors[x].shape
        want = tuple(1 if a in resolved else d for a, d in enumerate(xs)) if keep else \
            tuple(d for a, d in enumerate(xs) if a not in resolved)
        if self.graph.tensors[out].shape != want:
            raise McugenError(f"mean {k} gives shape {list(self.graph.tensors[out].shape)} where its axes give "
                              f"{list(want)}; the file is damaged")
        # TFLite's int8 MEAN folds 1/n into its multiplier by a truncating division and rounds
        # twice (ops/reduce_tflite.py), which is not mcugen's own rounded-once mean
        self.add("mean_tflite", k, [x], out, {"fn": "mean", "axes": tuple(resolved), "keepdims": keep})

    def op_CONCATENATION(self, op, k):
        import tflite

        opts = self.options(op, tflite.ConcatenationOptions)
        xs = [self.activation(i) for i in self.inputs_of(op)]
        out = self.output(op)
        rank = len(self.graph.tensors[out].shape)
        axis = int(opts.Axis()) if opts is not None else 0
        if not -rank <= axis < rank:
            raise McugenError(f"concatenation {k} has axis {axis} outside its rank {rank}; the file is damaged")
        if opts is not None and opts.FusedActivationFunction():
            raise _Unsupported("a fused activation is not supported")
        if any(self.graph.fixed_qparams[x] != self.graph.fixed_qparams[out] for x in xs):
            raise _Unsupported("inputs whose quantization differs from the output's are not supported")
        self.add("concat", k, xs, out, {"axis": axis % rank})


def _refuse_depthwise(w: np.ndarray) -> np.ndarray:
    raise _Unsupported(f"weight of shape {list(w.shape)}, not 1 x KH x KW x channels")


def tflite_activation_codes(interval: tuple[float, float], scale: float, zero_point: int) -> tuple[int, int]:
    """TFLite's CalculateActivationRangeQuantized: zp + round(f / scale), f / scale in float32,
    rounded half away from zero, within int8."""
    def code(f: float) -> int:
        v = float(np.float32(f) / np.float32(scale))
        return zero_point + int(math.floor(abs(v) + 0.5)) * (1 if v >= 0 else -1)

    lo, hi = interval
    qlo = -128 if not math.isfinite(lo) else max(-128, code(lo))
    qhi = 127 if not math.isfinite(hi) else min(127, code(hi))
    return qlo, qhi
