"""The graph every stage passes along: tensors, nodes, and the order they run in.

Shapes are logical (ONNX order) until `passes.to_channels_last` runs; from then on every shape
is the physical shape in memory (NHWC for images) and every axis attribute refers to it.
Quantization fills `Tensor.scale` / `Tensor.zero_point` and each node's `q` dictionary.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    data: np.ndarray | None = None  # constant value (weights, biases, tables)
    scale: float | np.ndarray | None = None  # float scalar, or a vector for per-channel weights
    zero_point: int = 0

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        if self.dtype == "int4":  # two codes per byte
            return (self.size + 1) // 2
        return self.size * np.dtype(self.dtype).itemsize


@dataclass
class Node:
    op: str
    name: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict = field(default_factory=dict)
    q: dict = field(default_factory=dict)  # integer parameters filled by quantization


@dataclass
class IOInfo:
    """What the user sees of one graph input or output: its ONNX name, shape and layout."""

    name: str
    onnx_shape: tuple[int, ...]  # with the batch axis, as the model declares it (batch 1)
    to_physical: tuple[int, ...] | None = None  # axes permutation from ONNX layout to memory layout
    layout_name: str | None = None  # the layout the model file declares, when it is not ONNX's (TFLite: NHWC)
    # the type the model file declares, when it is not the int8 (or float) invoke takes: a TFLite uint8
    # input/output, taken and given as the int8 codes u - 128 with zero point minus 128
    file_dtype: str | None = None

    @property
    def layout(self) -> str:
        if self.layout_name is not None:
            return self.layout_name
        if self.to_physical is None or list(self.to_physical) == sorted(self.to_physical):
            return "NCHW" if len(self.onnx_shape) == 4 else "row-major"
        return "NHWC"


class Graph:
    def __init__(self, name: str = "model") -> None:
        self.name = name
        self.tensors: dict[str, Tensor] = {}
        self.nodes: list[Node] = []
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        self.io: dict[str, IOInfo] = {}
        self.notes: list[str] = []  # things the user should be told (assumptions, warnings)
        self.source = ""
        # Quantization a pre-quantized (QDQ) model already decided, kept instead of calibrating:
        self.fixed_qparams: dict[str, tuple[float, int]] = {}  # activation → (scale, zero point)
        self.fixed_weight_scales: dict[str, np.ndarray] = {}  # float weight constant → per-channel scales
        # Calibration statistics for bias correction: weighted layer → its mean input window.
        self.input_means: dict[str, np.ndarray] = {}
        # For --reconstruct (GPTQ rounding, ops/obs.py): weighted layer → H = X^T X of its input windows.
        self.input_hessians: dict[str, np.ndarray] = {}
        self.weight_codebook = 0  # --codebook K: int8 FC weights clustered to K levels (ops/codebook.py); 0: off

    # --- tensors ---------------------------------------------------------------------
    def add_tensor(self, tensor: Tensor) -> Tensor:
        self.tensors[tensor.name] = tensor
        return tensor

    def add_constant(self, name: str, data: np.ndarray) -> Tensor:
        name = self.unique_name(name)
        return self.add_tensor(Tensor(name, tuple(data.shape), str(data.dtype), data))

    def unique_name(self, base: str) -> str:
        name, i = base, 1
        while name in self.tensors:
            name, i = f"{base}_{i}", i + 1
        return name

    def const(self, name: str) -> np.ndarray | None:
        t = self.tensors.get(name)
        return None if t is None else t.data

    # --- structure -------------------------------------------------------------------
    def producer(self, tensor_name: str) -> Node | None:
        for node in self.nodes:
            if tensor_name in node.outputs:
                return node
        return None

    def consumers(self, tensor_name: str) -> list[Node]:
        return [n for n in self.nodes if tensor_name in n.inputs]

    def replace_uses(self, old: str, new: str) -> None:
        was_output = old in self.outputs
        for node in self.nodes:
            node.inputs = [new if i == old else i for i in node.inputs]
        self.outputs = [new if o == old else o for o in self.outputs]
        if was_output and old in self.io:  # the user-facing description follows the tensor
            self.io[new] = self.io.pop(old)

    def activations(self) -> Iterator[Tensor]:
        """Every non-constant tensor: what the arena and the calibration are about."""
        return (t for t in self.tensors.values() if not t.is_constant)

    def prune(self) -> None:
        """Drop nodes whose outputs nobody reads, and tensors nobody mentions."""
        live = set(self.outputs)
        kept: list[Node] = []
        for node in reversed(self.nodes):
            if any(o in live for o in node.outputs):
                kept.append(node)
                live.update(node.inputs)
        self.nodes = kept[::-1]
        used = live | set(self.inputs)
        self.tensors = {k: v for k, v in self.tensors.items() if k in used}

    def copy(self) -> Graph:
        g = Graph(self.name)
        g.tensors = {k: dataclasses.replace(v) for k, v in self.tensors.items()}
        g.nodes = [dataclasses.replace(n, inputs=list(n.inputs), outputs=list(n.outputs),
                                       attrs=dict(n.attrs), q=dict(n.q)) for n in self.nodes]
        g.inputs, g.outputs = list(self.inputs), list(self.outputs)
        g.io = dict(self.io)
        g.notes = list(self.notes)
        g.source = self.source
        g.fixed_qparams = dict(self.fixed_qparams)
        g.fixed_weight_scales = dict(self.fixed_weight_scales)
        g.input_means = dict(self.input_means)
        g.input_hessians = dict(self.input_hessians)
        g.weight_codebook = self.weight_codebook
        return g
