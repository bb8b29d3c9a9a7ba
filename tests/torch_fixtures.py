"""The committed PyTorch exports (tests/fixtures/torch_exports, made by scripts/export_torch_models.py)
judged as issue #13's table does: does mcugen compile it, which operators does it refuse, is the
generated C bit-exact with the golden reference on the host, and how close are the int8 outputs
to ONNX Runtime's float ones (the worst sample's cosine). tests/test_torch_exports.py asserts on
it; scripts/torch_models_table.py prints it.

Two yardsticks say how much of the int8 error a network brings itself:
- noise_cosine: ONNX Runtime fed the input plus uniform noise of half the int8 input step (the
  rounding the int8 model applies to its input, nothing else) against the clean run — the float
  network's own sensitivity to input rounding;
- ideal_cosine: the network with every activation rounded ideally (round to nearest of the exact
  float value) to mcugen's own int8 grid, weights left float — what int8 activations at these
  scales could give with perfect arithmetic. mcugen at or above it loses nothing in its arithmetic."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from helpers import compile_c, golden, quantized_inputs, run_c
from mcugen.compiler import compile_model
from mcugen.data import Samples, to_physical
from mcugen.emit.library import generate_library
from mcugen.errors import McugenError
from mcugen.ir import Graph
from mcugen.ops import op_for
from mcugen.ops.base import dequantize_array, quantize_array
from mcugen.quant.evaluate import float_outputs, quantized_outputs, score

FIXTURES = Path(__file__).parent / "fixtures" / "torch_exports"


@dataclass
class Outcome:
    name: str
    compiled: bool = False
    refused: list[str] = field(default_factory=list)  # the operator types the refusal names
    message: str = ""
    bit_exact: bool | None = None
    cosine: float | None = None  # int8 (the golden reference, what the C computes) against ONNX Runtime
    float_cosine: float | None = None  # mcugen's float graph against ONNX Runtime: the import itself
    spread: float | None = None  # how much ONNX Runtime's outputs vary over the inputs, relative to their size
    noise_cosine: float | None = None  # ONNX Runtime with the input +- half an int8 step against the clean run
    ideal_cosine: float | None = None  # activations ideally rounded to mcugen's int8 grid, float weights
    snr: float | None = None  # int8 against ONNX Runtime over all samples (dB): steadier than the worst cosine
    ideal_snr: float | None = None  # the same for the ideally rounded activations


def fixtures() -> list[Path]:
    return sorted(FIXTURES.glob("*.onnx"))


def refused_operators(message: str) -> list[str]:
    """The ONNX operator types an importer refusal lists ("N node(s) are not supported: Slice (...); ...")."""
    _, _, listed = message.partition("are not supported: ")
    return sorted({m.group(1) for m in re.finditer(r"(?:^|; )([A-Za-z][A-Za-z0-9]*) \(", listed)})


def onnxruntime_outputs(path: Path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    count = len(next(iter(inputs.values())))
    rows = [session.run(names, {k: v[i:i + 1] for k, v in inputs.items()}) for i in range(count)]
    return {n: np.concatenate([r[j] for r in rows]) for j, n in enumerate(names)}


def evaluate(path: Path, folder: Path, samples: int = 6, compilers: tuple[str, ...] = ("gcc",)) -> Outcome:
    """Compile with random calibration (compile_model's default without --calib), run the C on
    random normal inputs, compare it with run_int and the dequantized outputs with ONNX Runtime."""
    outcome = Outcome(path.stem)
    try:
        compiled = compile_model(path, None, "net")
    except McugenError as exc:
        outcome.message = str(exc)
        outcome.refused = refused_operators(outcome.message)
        return outcome
    outcome.compiled = True
    graph = compiled.graph
    rng = np.random.default_rng(5)
    inputs = {n: rng.standard_normal((samples,) + graph.io[n].onnx_shape[1:]).astype(np.float32) for n in graph.inputs}
    lib = generate_library(graph, folder / "lib", compiled.calibration)
    qin = quantized_inputs(compiled, inputs)
    flat = np.concatenate([qin[n].reshape(samples, -1) for n in graph.inputs], axis=1)
    expected = golden(compiled, qin)
    outcome.bit_exact = all(np.array_equal(run_c(compile_c(lib.folder, "net", cc), flat, expected.shape[1]), expected)
                            for cc in compilers)
    reference = onnxruntime_outputs(path, inputs)
    physical = np.concatenate([to_physical(graph, n, reference[n]).reshape(samples, -1) for n in graph.outputs], axis=1)
    centred = physical - physical.mean(axis=0)
    outcome.spread = float(np.linalg.norm(centred) / max(float(np.linalg.norm(physical)), 1e-30))
    physical = physical.astype(np.float64)
    int8 = score(physical, quantized_outputs(graph, Samples(inputs)), None)
    outcome.cosine, outcome.snr = int8.cosine_min, int8.snr_db
    outcome.float_cosine = score(physical, float_outputs(compiled.float_graph, Samples(inputs)), None).cosine_min
    ideal = score(physical, ideally_rounded_outputs(graph, inputs), None)
    outcome.ideal_cosine, outcome.ideal_snr = ideal.cosine_min, ideal.snr_db
    outcome.noise_cosine = input_rounding_cosine(path, graph, inputs, reference)
    return outcome


def input_rounding_cosine(path: Path, graph: Graph, inputs: dict[str, np.ndarray],
                          reference: dict[str, np.ndarray], draws: int = 4) -> float:
    """The worst cosine of ONNX Runtime's outputs when each input carries uniform noise of half
    its int8 step (independent draws, fixed seed), against its outputs on the clean inputs."""
    rng = np.random.default_rng(11)
    clean = np.concatenate([reference[n].reshape(len(reference[n]), -1) for n in graph.outputs], axis=1)
    worst = 1.0
    for _ in range(draws):
        noisy = {n: (v + rng.uniform(-0.5, 0.5, v.shape) * graph.tensors[n].scale).astype(np.float32)
                 for n, v in inputs.items()}
        out = onnxruntime_outputs(path, noisy)
        moved = np.concatenate([out[n].reshape(len(out[n]), -1) for n in graph.outputs], axis=1)
        worst = min(worst, score(clean.astype(np.float64), moved.astype(np.float64), None).cosine_min)
    return worst


def ideally_rounded_outputs(graph: Graph, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """The quantized graph run in float (its float weights, each operator's exact function) with
    every int8 activation rounded to nearest on its own scale and zero point: int8 activations as
    well as they can be, the yardstick for mcugen's integer arithmetic."""
    def rounded(name: str, x: np.ndarray) -> np.ndarray:
        t = graph.tensors[name]
        return x if t.dtype == "float32" else dequantize_array(quantize_array(x, t.scale, t.zero_point),
                                                               t.scale, t.zero_point)
    values = {n: rounded(n, to_physical(graph, n, inputs[n])) for n in graph.inputs}
    for node in graph.nodes:
        xs = [values[n] if n in values else graph.tensors[n].data for n in node.inputs]
        with np.errstate(over="ignore", invalid="ignore"):
            values[node.outputs[0]] = rounded(node.outputs[0], op_for(node).run_float(node, graph, xs))
    count = len(next(iter(inputs.values())))
    return np.concatenate([values[n].reshape(count, -1) for n in graph.outputs], axis=1).astype(np.float64)
