"""`mcugen verify`: send samples to a board, compare its outputs with the golden reference bit for
bit and with float ONNX Runtime, and report ticks, sizes and accuracy."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np

from mcugen.data import Samples, to_physical
from mcugen.graph.reference import golden_feeds, real_values, run_int
from mcugen.quant.compiled import CompiledModel


@dataclass
class Report:
    board: str
    samples: int
    bit_exact: int
    mismatches: list[int]
    ticks_per_inference: float | None
    tick_unit: str
    flash_bytes: int
    ram_bytes: int
    arena_bytes: int
    model_hash: str
    float_top1_agreement: float | None = None
    cosine_min: float | None = None
    max_abs_error: float | None = None
    accuracy: float | None = None
    float_accuracy: float | None = None
    first_bad_layer: str | None = None
    tflite_equal: int | None = None  # output elements equal to TensorFlow Lite's (a .tflite model)
    tflite_elements: int | None = None
    seconds: float = 0.0
    ticks_min: int | None = None
    ticks_max: int | None = None
    notes: list[str] = field(default_factory=list)


def quantize_inputs(compiled: CompiledModel, samples: Samples) -> np.ndarray:
    """[S, input elements]: every input quantized (int8, or float32 for a weight-only model) and laid
    out as the board wants, concatenated."""
    feeds = golden_feeds(compiled.graph, samples.inputs)
    return np.concatenate([feeds[n].reshape(samples.count, -1) for n in compiled.graph.inputs], axis=1)


def golden_outputs(compiled: CompiledModel, samples: Samples) -> tuple[dict, np.ndarray]:
    g = compiled.graph
    feeds = golden_feeds(g, samples.inputs)
    outs = run_int(g, feeds)
    return feeds, np.concatenate([outs[n].reshape(samples.count, -1) for n in g.outputs], axis=1)


def float_outputs(model_path: str, compiled: CompiledModel, samples: Samples) -> np.ndarray | None:
    """ONNX Runtime's float outputs in the board's output layout, or None without onnxruntime."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    rows = []
    for i in range(samples.count):
        feed = {n: samples.inputs[n][i:i + 1] for n in compiled.graph.inputs}
        got = dict(zip(names, session.run(None, feed)))
        rows.append(np.concatenate([to_physical(compiled.graph, n, got[n]).reshape(-1)
                                    for n in compiled.graph.outputs]))
    return np.stack(rows)


def tflite_outputs(model_path: str, compiled: CompiledModel, inputs: np.ndarray) -> np.ndarray | None:
    """TensorFlow Lite's own outputs (ai-edge-litert, reference kernels BUILTIN_REF) for the int8
    inputs the board got, as int8 codes in the board's output layout; None when the package is not
    installed. A float edge of the file (QUANTIZE/DEQUANTIZE, left out by mcugen) is fed the
    dequantized codes and its float output quantized back, both exact."""
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError:
        return None
    g = compiled.graph
    interp = Interpreter(model_path=str(model_path), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    ins, outs = interp.get_input_details(), interp.get_output_details()
    rows = []
    for row in inputs:
        at = 0
        for name, detail in zip(g.inputs, ins, strict=True):
            t = g.tensors[name]
            codes = row[at:at + t.size].reshape(detail["shape"])
            at += t.size
            if detail["dtype"] == np.int8:
                value = codes
            elif detail["dtype"] == np.uint8:  # a uint8 input: mcugen's int8 code c is the file's c + 128
                value = (codes.astype(np.int16) + 128).astype(np.uint8)
            else:
                value = ((codes.astype(np.float32) - t.zero_point) * np.float32(t.scale)).astype(detail["dtype"])
            interp.set_tensor(detail["index"], value)
        interp.invoke()
        parts = []
        for name, detail in zip(g.outputs, outs, strict=True):
            t, y = g.tensors[name], interp.get_tensor(detail["index"])
            if y.dtype == np.uint8:
                y = (y.astype(np.int16) - 128).astype(np.int8)
            elif y.dtype != np.int8:
                y = np.clip(np.round(y / np.float32(t.scale)) + t.zero_point, -128, 127).astype(np.int8)
            parts.append(y.reshape(-1))
        rows.append(np.concatenate(parts))
    return np.stack(rows)


def dequantize_outputs(compiled: CompiledModel, q: np.ndarray) -> np.ndarray:
    g = compiled.graph
    parts, at = [], 0
    for n in g.outputs:
        t = g.tensors[n]
        parts.append(real_values(t, q[:, at:at + t.size]))
        at += t.size
    return np.concatenate(parts, axis=1)


def first_differing_layer(compiled: CompiledModel, link, record, sample_input: bytes, feeds1: dict) -> str | None:
    """Dump every layer of one sample on the board and name the first that differs."""
    run = link.infer_layers(sample_input)
    values = run_int(compiled.graph, feeds1, keep_all=True)
    for (node_name, tensor), got in zip(record.layers, run.layers):
        want = values[tensor].astype(compiled.graph.tensors[tensor].dtype).tobytes()
        if bytes(got) != want:
            return f"{node_name} (tensor {tensor})"
    return None


def progress(done: int, total: int, start: float) -> None:
    if not sys.stderr.isatty():
        return
    width = 30
    filled = int(width * done / max(total, 1))
    rate = done / max(time.perf_counter() - start, 1e-9)
    sys.stderr.write(f"\r  [{'#' * filled}{'.' * (width - filled)}] {done}/{total} samples, {rate:.1f}/s ")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def verify_on_board(compiled: CompiledModel, model_path: str, samples: Samples, link, record, board) -> Report:
    start = time.perf_counter()
    inputs = quantize_inputs(compiled, samples)
    feeds, expected = golden_outputs(compiled, samples)
    got = np.zeros_like(expected)
    ticks = []
    for i in range(samples.count):
        out, t = link.infer(inputs[i].tobytes())
        got[i] = np.frombuffer(out, dtype=expected.dtype)
        ticks.append(t)
        progress(i + 1, samples.count, start)
    if expected.dtype == np.float32:  # weight-only: the float32 bit patterns must be equal
        equal = np.all(got.view(np.uint32) == expected.view(np.uint32), axis=1)
    else:
        equal = np.all(got == expected, axis=1)
    mismatches = [int(i) for i in np.flatnonzero(~equal)]
    sizes = record.sizes
    report = Report(board=board.name, samples=samples.count, bit_exact=int(equal.sum()), mismatches=mismatches,
                    ticks_per_inference=float(np.mean(ticks)) if ticks else None,
                    tick_unit=link.info.tick_unit if link.info else board.tick_unit,
                    flash_bytes=sizes["weights"] + sizes["code"] + sizes["data"],
                    ram_bytes=sizes["data"] + sizes["bss"] + sizes["stack"], arena_bytes=record.arena_bytes,
                    model_hash=record.model_hash, ticks_min=min(ticks, default=None),
                    ticks_max=max(ticks, default=None))
    if mismatches and link.info is not None and link.info.layer_hook:
        i = mismatches[0]
        report.first_bad_layer = first_differing_layer(
            compiled, link, record, inputs[i].tobytes(), {n: v[i:i + 1] for n, v in feeds.items()})
    board_float = dequantize_outputs(compiled, got)
    if str(model_path).lower().endswith(".tflite"):
        return tflite_report(report, compiled, model_path, inputs, got, samples, board_float, start)
    reference = float_outputs(model_path, compiled, samples)
    if reference is None:
        report.notes.append("onnxruntime is not installed: no float comparison (pip install onnxruntime)")
    else:
        report.float_top1_agreement = float(np.mean(board_float.argmax(1) == reference.argmax(1)))
        norms = np.linalg.norm(board_float, axis=1) * np.linalg.norm(reference, axis=1)
        cos = np.where(norms > 0, np.sum(board_float * reference, axis=1) / np.maximum(norms, 1e-30), 1.0)
        report.cosine_min = float(cos.min())
        report.max_abs_error = float(np.abs(board_float - reference).max())
        if samples.labels is not None:
            report.float_accuracy = float(np.mean(reference.argmax(1) == samples.labels))
    if samples.labels is not None:
        report.accuracy = float(np.mean(board_float.argmax(1) == samples.labels))
    report.seconds = round(time.perf_counter() - start, 2)
    return report


def tflite_report(report: Report, compiled: CompiledModel, model_path: str, inputs: np.ndarray, got: np.ndarray,
                  samples: Samples, board_float: np.ndarray, start: float) -> Report:
    """A .tflite model's second yardstick is TensorFlow Lite itself, element for element."""
    theirs = tflite_outputs(model_path, compiled, inputs)
    if theirs is None:
        report.notes.append("ai-edge-litert is not installed: no comparison with TensorFlow Lite "
                            "(pip install 'mcugen[tflite]')")
    else:
        report.tflite_equal = int(np.sum(theirs == got))
        report.tflite_elements = int(got.size)
    if samples.labels is not None:
        report.accuracy = float(np.mean(board_float.argmax(1) == samples.labels))
    report.seconds = round(time.perf_counter() - start, 2)
    return report


def format_report(r: Report) -> str:
    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x:.2f} %"

    lines = [
        f"board            {r.board}",
        f"model hash       {r.model_hash}",
        f"samples          {r.samples}",
        f"bit-exact        {r.bit_exact}/{r.samples}" + ("" if not r.mismatches else
                                                        f"  (mismatches: {r.mismatches[:10]})"),
    ]
    if r.first_bad_layer:
        lines.append(f"first bad layer  {r.first_bad_layer}")
    ticks = "n/a" if r.ticks_per_inference is None else f"{r.ticks_per_inference:,.0f} {r.tick_unit} per inference"
    lines += [
        f"ticks            {ticks}" + ("" if r.ticks_min == r.ticks_max else
                                            f" (range {r.ticks_min:,} to {r.ticks_max:,})"),
        f"flash            {r.flash_bytes:,} B",
        f"RAM              {r.ram_bytes:,} B (arena {r.arena_bytes:,} B)",
    ]
    if r.tflite_elements is not None:
        lines.append(f"TFLite           {r.tflite_equal:,}/{r.tflite_elements:,} output elements equal to "
                     "TensorFlow Lite (BUILTIN_REF)")
    elif not any("ai-edge-litert" in n for n in r.notes):  # an ONNX model: float ONNX Runtime
        lines += [
            f"float top-1      {pct(r.float_top1_agreement)} agreement with ONNX Runtime",
            f"cosine (min)     {'n/a' if r.cosine_min is None else f'{r.cosine_min:.4f}'}",
            f"max abs error    {'n/a' if r.max_abs_error is None else f'{r.max_abs_error:.4g}'}",
        ]
    if r.accuracy is not None:
        lines.append(f"accuracy         {pct(r.accuracy)} on the board, {pct(r.float_accuracy)} float")
    lines.append(f"time             {r.seconds:.1f} s")
    lines += [f"note             {n}" for n in r.notes]
    return "\n".join(lines)
