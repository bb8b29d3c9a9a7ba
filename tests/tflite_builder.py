"""Write small TFLite flatbuffers for the tests, with flatbuffers' Builder (no TensorFlow needed).

The tflite package on PyPI has the schema's readers only, so the tables are written here by their
field slots in TensorFlow Lite's schema.fbs (Model, SubGraph, Tensor, QuantizationParameters,
Operator, OperatorCode, Buffer and the options tables used). Every file written is read back by
TensorFlow Lite's interpreter in the tests, which is what proves the slots right.
`scripts/make_tflite_fixtures.py` uses it to write tests/fixtures/tflite/.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import flatbuffers
import numpy as np

INT8, INT32, FLOAT32, UINT8 = 9, 2, 0, 3
OPS = {"ADD": 0, "AVERAGE_POOL_2D": 1, "CONCATENATION": 2, "CONV_2D": 3, "DEPTHWISE_CONV_2D": 4, "DEQUANTIZE": 6,
       "FULLY_CONNECTED": 9, "MAX_POOL_2D": 17, "MUL": 18, "RESHAPE": 22, "SOFTMAX": 25, "TANH": 28,
       "PAD": 34, "GATHER": 36, "QUANTIZE": 114, "LOGISTIC": 14, "RELU": 19, "RELU6": 21, "MEAN": 40, "EXP": 47,
       "HARD_SWISH": 117}
# options table kind: (BuiltinOptions union code, {field: (slot, flatbuffers type, default)})
OPTIONS = {
    "conv": (1, {"padding": (0, "Int8", 0), "stride_w": (1, "Int32", 0), "stride_h": (2, "Int32", 0),
                 "act": (3, "Int8", 0), "dilation_w": (4, "Int32", 1), "dilation_h": (5, "Int32", 1)}),
    "depthwise": (2, {"padding": (0, "Int8", 0), "stride_w": (1, "Int32", 0), "stride_h": (2, "Int32", 0),
                      "depth_multiplier": (3, "Int32", 0), "act": (4, "Int8", 0), "dilation_w": (5, "Int32", 1),
                      "dilation_h": (6, "Int32", 1)}),
    "pool": (5, {"padding": (0, "Int8", 0), "stride_w": (1, "Int32", 0), "stride_h": (2, "Int32", 0),
                 "filter_w": (3, "Int32", 0), "filter_h": (4, "Int32", 0), "act": (5, "Int8", 0)}),
    "fc": (8, {"act": (0, "Int8", 0), "weights_format": (1, "Int8", 0), "keep_num_dims": (2, "Bool", False)}),
    "softmax": (9, {"beta": (0, "Float32", 0.0)}),
    "add": (11, {"act": (0, "Int8", 0)}),
    "mul": (21, {"act": (0, "Int8", 0)}),
    "concat": (10, {"axis": (0, "Int32", 0), "act": (1, "Int8", 0)}),
    "reducer": (27, {"keep_dims": (0, "Bool", False)}),
}
SAME, VALID = 0, 1
NONE, RELU, RELU6 = 0, 1, 3


@dataclass
class _Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: int
    buffer: int
    scale: list[float] | None
    zero_point: list[int] | None
    dim: int


@dataclass
class TfliteModel:
    tensors: list[_Tensor] = field(default_factory=list)
    buffers: list[bytes] = field(default_factory=lambda: [b""])  # buffer 0 is the empty sentinel
    ops: list[tuple[str, list[int], list[int], str | None, dict]] = field(default_factory=list)

    def tensor(self, name: str, shape, dtype: int = INT8, scale=None, zero_point=None, data: np.ndarray | None = None,
               dim: int = 0) -> int:
        buffer = 0
        if data is not None:
            self.buffers.append(np.ascontiguousarray(data).astype(data.dtype.newbyteorder("<")).tobytes())
            buffer = len(self.buffers) - 1
        scales = None if scale is None else [float(s) for s in np.atleast_1d(scale)]
        zps = None if zero_point is None else [int(z) for z in np.atleast_1d(zero_point)]
        self.tensors.append(_Tensor(name, tuple(int(d) for d in shape), dtype, buffer, scales, zps, dim))
        return len(self.tensors) - 1

    def op(self, name: str, inputs: list[int], outputs: list[int], kind: str | None = None, **options) -> None:
        self.ops.append((name, inputs, outputs, kind, options))

    def build(self, inputs: list[int], outputs: list[int]) -> bytes:
        b = flatbuffers.Builder(1024)

        def int_vector(values, kind: str = "Int32") -> int:
            b.StartVector(4 if kind in ("Int32", "Float32") else 8, len(values), 4 if kind != "Int64" else 8)
            for v in reversed(values):
                getattr(b, f"Prepend{kind}")(v)
            return b.EndVector()

        buffers = []
        for data in self.buffers:
            vec = None
            if data:
                b.StartVector(1, len(data), 16)
                for byte in reversed(data):
                    b.PrependUint8(byte)
                vec = b.EndVector()
            b.StartObject(3)
            if vec is not None:
                b.PrependUOffsetTRelativeSlot(0, vec, 0)
            buffers.append(b.EndObject())
        tensors = []
        for t in self.tensors:
            name = b.CreateString(t.name)
            shape = int_vector(list(t.shape))
            quant = None
            if t.scale is not None:
                scale = int_vector(t.scale, "Float32")
                zp = int_vector(t.zero_point or [0] * len(t.scale), "Int64")
                b.StartObject(7)
                b.PrependUOffsetTRelativeSlot(2, scale, 0)
                b.PrependUOffsetTRelativeSlot(3, zp, 0)
                b.PrependInt32Slot(6, t.dim, 0)
                quant = b.EndObject()
            b.StartObject(10)
            b.PrependUOffsetTRelativeSlot(0, shape, 0)
            b.PrependInt8Slot(1, t.dtype, 0)
            b.PrependUint32Slot(2, t.buffer, 0)
            b.PrependUOffsetTRelativeSlot(3, name, 0)
            if quant is not None:
                b.PrependUOffsetTRelativeSlot(4, quant, 0)
            tensors.append(b.EndObject())
        codes = sorted({name for name, *_ in self.ops}, key=list(OPS).index)
        operators = []
        for name, ins, outs, kind, options in self.ops:
            opts = None
            if kind is not None:
                union, fields = OPTIONS[kind]
                b.StartObject(len(fields) + 1)
                for key, value in options.items():
                    slot, ftype, default = fields[key]
                    getattr(b, f"Prepend{ftype}Slot")(slot, value, default)
                opts = b.EndObject()
            in_vec, out_vec = int_vector(ins), int_vector(outs)
            b.StartObject(9)
            b.PrependUint32Slot(0, codes.index(name), 0)
            b.PrependUOffsetTRelativeSlot(1, in_vec, 0)
            b.PrependUOffsetTRelativeSlot(2, out_vec, 0)
            if opts is not None:
                b.PrependUint8Slot(3, OPTIONS[kind][0], 0)
                b.PrependUOffsetTRelativeSlot(4, opts, 0)
            operators.append(b.EndObject())
        op_codes = []
        for name in codes:
            b.StartObject(4)
            b.PrependInt8Slot(0, min(OPS[name], 127), 0)
            b.PrependInt32Slot(2, 1, 1)
            b.PrependInt32Slot(3, OPS[name], 0)
            op_codes.append(b.EndObject())

        def table_vector(items: list[int]) -> int:
            b.StartVector(4, len(items), 4)
            for item in reversed(items):
                b.PrependUOffsetTRelative(item)
            return b.EndVector()

        t_vec, o_vec = table_vector(tensors), table_vector(operators)
        in_vec, out_vec = int_vector(inputs), int_vector(outputs)
        sub_name = b.CreateString("main")
        b.StartObject(5)
        b.PrependUOffsetTRelativeSlot(0, t_vec, 0)
        b.PrependUOffsetTRelativeSlot(1, in_vec, 0)
        b.PrependUOffsetTRelativeSlot(2, out_vec, 0)
        b.PrependUOffsetTRelativeSlot(3, o_vec, 0)
        b.PrependUOffsetTRelativeSlot(4, sub_name, 0)
        subgraph = b.EndObject()
        codes_vec, subs_vec, bufs_vec = table_vector(op_codes), table_vector([subgraph]), table_vector(buffers)
        desc = b.CreateString("mcugen test fixture")
        b.StartObject(8)
        b.PrependUint32Slot(0, 3, 0)
        b.PrependUOffsetTRelativeSlot(1, codes_vec, 0)
        b.PrependUOffsetTRelativeSlot(2, subs_vec, 0)
        b.PrependUOffsetTRelativeSlot(3, desc, 0)
        b.PrependUOffsetTRelativeSlot(4, bufs_vec, 0)
        model = b.EndObject()
        b.Finish(model, file_identifier=b"TFL3")
        return bytes(b.Output())
