"""The front half of the road: ONNX file → optimized float graph → calibrated integer graph."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnx

from mcugen.data import Samples, load_samples, random_samples
from mcugen.emit.c_syntax import model_prefix_problem, safe_model_prefix
from mcugen.errors import McugenError
from mcugen.graph.passes import optimize, optimize_physical
from mcugen.ir import Graph
from mcugen.ops import op_for
from mcugen.ops.base import Op
from mcugen.ops.codebook import check_codebook_size
from mcugen.quant.bias_correction import input_means
from mcugen.quant.calibrate import DEFAULT_PERCENTILE, calibrate
from mcugen.quant.compiled import CompiledModel
from mcugen.quant.evaluate import float_outputs, quantized_outputs, score
from mcugen.quant.prune import (
    PrunableLayer,
    Pruner,
    PruneResult,
    layer_input_rows,
    parse_pattern,
    prunable_layers,
    search,
)
from mcugen.quant.quantize import Precision, quantize
from mcugen.quant.reconstruct import input_hessians
from mcugen.readers.onnx_file import import_onnx
from mcugen.readers.tflite_file import import_tflite

RANDOM_CALIBRATION_SAMPLES = 16


def model_name(path: str | Path, name: str | None = None) -> str:
    """The model's C prefix: --name as given, else the file's stem made safe (see c_syntax)."""
    if name is None:
        return safe_model_prefix(Path(path).stem)
    problem = model_prefix_problem(name)
    if problem:
        raise McugenError(f"--name {name!r} {problem}; try --name {safe_model_prefix(name)}")
    return name


def load_float_graph(path: str | Path, name: str | None = None) -> Graph:
    if Path(path).suffix.lower() == ".tflite":  # physical (NHWC) already, every scale fixed
        return optimize_physical(import_tflite(path, model_name(path, name)))
    graph = import_onnx(path, model_name(path, name))
    return optimize(graph)


def calibrated_tensors(graph: Graph) -> list[str]:
    """Activations whose quantization comes from calibration: neither fixed by a pre-quantized
    model nor dictated by their operator (pass-through, softmax, sigmoid...)."""
    producers = {n.outputs[0]: n for n in graph.nodes}
    free = [t.name for t in graph.activations() if t.name not in graph.fixed_qparams]
    return [n for n in free if n not in producers
            or type(op_for(producers[n])).output_qparams is Op.output_qparams]


def compile_model(path: str | Path, calib: str | Path | None = None, name: str | None = None,
                  calib_samples: int | None = None, precision: Precision | None = None,
                  method: str = "minmax", percentile: float = DEFAULT_PERCENTILE,
                  bias_correction: bool = True, allow_random: bool = True, reconstruct: bool = False,
                  codebook: int | None = None) -> CompiledModel:
    """Import, optimize, calibrate (activation ranges, and each weighted layer's mean input for bias
    correction when --calib data is given) and quantize as `precision` says. Without `calib`, a model
    that needs calibration is calibrated on random samples, or refused when not `allow_random`."""
    if codebook is not None:
        check_codebook_size(codebook)
        if (precision or Precision()).weight_only or (precision or Precision()).default.weight_bits != 8:
            raise McugenError("--codebook clusters int8 weights with integer activations; drop --weights int4 and "
                              "--activations float32 (4-bit indices come with --codebook 16 or fewer)")
    float_graph = load_float_graph(path, name)
    float_graph.weight_codebook = codebook or 0
    warnings = list(float_graph.notes)
    precision = precision or Precision()
    samples = None if calib is None else calibration_samples(float_graph, calib, calib_samples, warnings)
    if samples is not None and bias_correction:
        float_graph.input_means = input_means(float_graph, samples)
    if reconstruct:
        if samples is None:
            raise McugenError("--reconstruct rounds the weights to fit the layers' inputs: pass --calib with "
                              "representative samples")
        if precision.weight_only:
            raise McugenError("--reconstruct applies to integer models; drop it or use int8/int16 activations")
        float_graph.input_hessians = input_hessians(float_graph, samples, centered=bool(float_graph.input_means))
    corrected = ", bias-corrected" if float_graph.input_means else ""
    if float_graph.input_hessians:
        corrected += ", GPTQ-reconstructed conv/FC weights"
    if precision.weight_only:  # float32 activations have no ranges to calibrate
        graph = quantize(float_graph, {}, precision)
        return CompiledModel(float_graph, graph, {}, "no activation ranges (weight-only: float32 activations)"
                             + (f"; {samples.count} samples from {calib}{corrected}" if samples else ""),
                             warnings, precision)
    if samples is not None:
        source = f"{samples.count} samples from {calib}"
    elif float_graph.fixed_qparams and not calibrated_tensors(float_graph):
        # a QDQ model that fixed every scale calibration could choose: nothing to calibrate
        samples = random_samples(float_graph, RANDOM_CALIBRATION_SAMPLES)
        kind = "TFLite" if Path(path).suffix.lower() == ".tflite" else "QDQ"
        source = f"scales from the pre-quantized ({kind}) model"
    else:
        if not allow_random:
            raise McugenError("this model needs calibration data: pass --calib samples.npz (a few hundred "
                              "representative inputs), or --calib random to calibrate on random normal samples "
                              "(poor int8 accuracy)")
        samples = random_samples(float_graph, RANDOM_CALIBRATION_SAMPLES)
        source = f"{RANDOM_CALIBRATION_SAMPLES} random normal samples (no --calib given)"
        warnings.append("no --calib data given: activation ranges come from random normal samples, so int8 "
                        "accuracy will suffer; pass --calib with a few hundred representative inputs")
    ranges = calibrate(float_graph, samples, method=method, percentile=percentile)
    if method != "minmax":
        source += f", {method}" + (f" {percentile:g}" if method == "percentile" else "") + " ranges"
    graph = quantize(float_graph, ranges, precision)
    warnings += graph.notes[len(float_graph.notes):]  # what quantization had to say (e.g. a narrowed bias)
    return CompiledModel(float_graph, graph, ranges, source + corrected, warnings, precision)


def calibration_samples(graph: Graph, calib: str | Path, count: int | None, warnings: list[str]) -> Samples:
    """The --calib file's samples, the first --calib-samples of them when given."""
    samples = load_samples(calib, graph, "calibration")
    if count is None:
        return samples
    if count < 1:
        raise McugenError(f"--calib-samples {count} must be at least 1")
    if count > samples.count:
        warnings.append(f"--calib-samples {count}: {calib} holds only {samples.count} samples; all are used")
    return samples.take(count)


def prune_model(path: str | Path, calib: str | Path | None, data: str | Path, pattern: str = "unstructured",
                max_drop: float | None = None, sparsity: float | None = None, name: str | None = None,
                samples: int | None = None, prune_method: str = "magnitude",
                **compile_options) -> tuple[onnx.ModelProto, PruneResult]:
    """`mcugen prune`: per-layer pruning of the ONNX model (quant/prune.py), magnitude or OBC
    reconstruction from the --calib inputs; each candidate measured as generate would build it:
    calibrated and quantized (compile_options as for compile_model), its golden-reference outputs
    scored on `data` against the unpruned model's."""
    name = model_name(path, name)
    base = compile_model(path, calib, name, **compile_options)
    val = load_samples(data, base.float_graph, "validation")
    val = val.take(samples) if samples else val
    reference = float_outputs(base.float_graph, val)
    unpruned = score(reference, quantized_outputs(base.graph, val), val.labels)
    model = onnx.load(str(path))
    layers = prunable_layers(model)
    sizes = {t.name: int(np.prod(t.dims)) for t in model.graph.initializer}
    weights = {layer.node: sizes[layer.initializer] for layer in layers}
    shape = parse_pattern(pattern)
    hessians = None
    if prune_method == "obc":
        if calib is None:
            raise McugenError("--prune-method obc reconstructs the weights from the layers' inputs: pass --calib "
                              "with representative samples")
        hessians = layer_hessians(model, layers, load_samples(calib, base.float_graph, "calibration"))
    elif prune_method != "magnitude":
        raise McugenError(f"--prune-method {prune_method!r}: choose magnitude or obc")
    pruner = Pruner(model, layers, shape, hessians)
    measured: dict[tuple, float] = {}
    with tempfile.TemporaryDirectory(prefix="mcugen-prune-") as tmp:
        trial_path = Path(tmp) / "trial.onnx"

        def evaluate(sparsities: dict[str, float]) -> float:
            key = tuple(sorted((k, v) for k, v in sparsities.items() if v > 0))
            if key not in measured:
                onnx.save(pruner.model(dict(key)), str(trial_path))
                trial = compile_model(trial_path, calib, name, **compile_options)
                out = score(reference, quantized_outputs(trial.graph, val), val.labels)
                measured[key] = unpruned.value - out.value
            return measured[key]

        result = search(weights, evaluate, "points" if val.labels is not None else "dB", shape, max_drop, sparsity)
    return pruner.model(result.sparsities), result


HESSIAN_SAMPLES = 256  # calibration samples whose layer inputs make H (one ONNX Runtime run each)


def layer_hessians(model: onnx.ModelProto, layers: list[PrunableLayer], calib: Samples) -> dict[str, np.ndarray]:
    """H = X^T X of every prunable layer's input in the float ONNX model (ONNX Runtime, one sample at a
    time so a fixed batch of 1 runs), in the order of the layer's weight rows."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise McugenError("--prune-method obc reads the layers' inputs with ONNX Runtime: "
                          "pip install 'mcugen[float]'") from None
    inputs_of = {}
    for node in model.graph.node:
        name = node.name or (node.output[0] if node.output else "")
        inputs_of[name] = node.input[0]
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    known = {o.name for o in probe.graph.output}
    wanted = [inputs_of[layer.node] for layer in layers]
    for tensor in dict.fromkeys(wanted):
        if tensor not in known:
            probe.graph.output.append(onnx.helper.make_empty_tensor_value_info(tensor))
    try:
        session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception as exc:  # ONNX Runtime's own errors have no common base class
        raise McugenError(f"ONNX Runtime cannot run this model to read its layer inputs ({exc}); use "
                          "--prune-method magnitude") from None
    feeds_names = [i.name for i in session.get_inputs()]
    outputs = [o.name for o in session.get_outputs()]
    sums = {layer.node: None for layer in layers}
    counts = dict.fromkeys(sums, 0)
    for s in range(min(calib.count, HESSIAN_SAMPLES)):
        feeds = {n: calib.inputs[n][s:s + 1].astype(np.float32) for n in feeds_names}
        values = dict(zip(outputs, session.run(outputs, feeds), strict=True))
        for layer, tensor in zip(layers, wanted, strict=True):
            x = layer_input_rows(layer, np.asarray(values[tensor], np.float64))
            h = x.T @ x
            sums[layer.node] = h if sums[layer.node] is None else sums[layer.node] + h
            counts[layer.node] += len(x)
    return {k: v / max(counts[k], 1) for k, v in sums.items()}
