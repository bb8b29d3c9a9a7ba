"""A compiled model: the float graph, its quantized twin and how its ranges were found."""

from __future__ import annotations

from dataclasses import dataclass, field

from mcugen.ir import Graph
from mcugen.quant.quantize import Precision


@dataclass
class CompiledModel:
    float_graph: Graph  # optimized, channels-last, float
    graph: Graph  # the same, quantized: what the C and the golden reference run
    ranges: dict[str, tuple[float, float]]
    calibration: str  # where the ranges came from, said to the user
    warnings: list[str] = field(default_factory=list)
    precision: Precision = field(default_factory=Precision)

    @property
    def name(self) -> str:
        return self.graph.name
