"""ONNX's own node conformance cases through mcugen's frontend and float reference.

Every case of an operator type mcugen maps (onnx.backend.test.case.node, offline) is loaded —
its graph inputs after the first become initializers, since mcugen needs constant weights — and
run through `load_float_graph` and `reference.run_float`. A case either is refused in one sentence
(a McugenError) or its outputs must match ONNX's expected ones within tolerance: a mismatch is a
silently wrong answer. tests/test_operator_attributes.py runs it; as a script it prints every case:

    python tests/onnx_conformance.py [--show mismatched|refused|all] [--int8]

The int8 half (`run_int8_case`, `--int8`): every case that matches in float is compiled to int8 C,
calibrated on its own input; the C built with gcc must equal the golden reference bit for bit and
its dequantized outputs must be within INT8_STEPS output steps plus INT8_SPAN of the expected span
of ONNX's expected output; a case int8 cannot take is refused in one sentence. CI runs the first
case of every operator type (tests/test_operator_attributes.py); the script runs them all.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from mcugen.compiler import load_float_graph
from mcugen.data import to_physical
from mcugen.errors import McugenError
from mcugen.graph.reference import run_float
from mcugen.readers.onnx_file import _Importer

SUPPORTED = {name[3:] for name in dir(_Importer) if name.startswith("op_")}
RTOL, ATOL = 1e-4, 1e-5


def supported_cases() -> list:
    """The conformance cases whose nodes are all operator types mcugen maps."""
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        cases = collect_testcases(None)
    return [c for c in cases if c.model is not None and c.data_sets
            and all(n.op_type in SUPPORTED for n in c.model.graph.node)]


def _as_mcugen_model(case, inputs: list) -> tuple[onnx.ModelProto, str]:
    """The case's model with every graph input after the first made an initializer of its data."""
    model = onnx.ModelProto()
    model.CopyFrom(case.model)
    graph = model.graph
    first = graph.input[0].name
    for vi, value in list(zip(graph.input, inputs))[1:]:
        graph.initializer.append(numpy_helper.from_array(np.asarray(value), vi.name))
    runtime = graph.input[0]
    if runtime.type.tensor_type.HasField("shape"):
        for dim, size in zip(runtime.type.tensor_type.shape.dim, np.shape(inputs[0])):
            dim.Clear()
            dim.dim_value = size
    del graph.input[1:]
    return model, first


def _samples(case) -> list[tuple[list, list]]:
    """The case's data as mcugen runs it: one sample of batch 1 — the first two of a batch of N
    (every input and output of leading size N sliced alike) when the outputs keep that batch."""
    inputs, expected = case.data_sets[0]
    n = np.shape(inputs[0])[0] if np.ndim(inputs[0]) else 1
    if n <= 1 or not all(np.ndim(e) and np.shape(e)[0] == n for e in expected):
        return [(list(inputs), list(expected))]

    def cut(values, i):
        # a float tensor of the same rank and batch is per-sample data; integers (axes, shapes) are not
        return [np.asarray(v)[i:i + 1] if np.ndim(v) == np.ndim(inputs[0]) and np.shape(v)[0] == n
                and np.asarray(v).dtype.kind == "f" else v for v in values]

    return [(cut(inputs, i), [np.asarray(e)[i:i + 1] for e in expected]) for i in range(min(n, 2))]


def run_conformance_case(case, folder: Path) -> tuple[str, str]:
    """("matched" | "refused" | "mismatched" | "crashed", detail)."""
    for inputs, expected in _samples(case):
        outcome, detail = _run_sample(case, inputs, expected, folder)
        if outcome != "matched":
            return outcome, detail
    return "matched", ""


def _run_sample(case, inputs: list, expected: list, folder: Path) -> tuple[str, str]:
    model, name = _as_mcugen_model(case, inputs)
    x = np.asarray(inputs[0])
    path = folder / f"{case.name}.onnx"
    onnx.save(model, str(path))
    try:
        graph = load_float_graph(path, "conformance")
        if x.dtype != np.float32:
            return "refused", f"input of type {x.dtype}"
        outputs = run_float(graph, {name: to_physical(graph, name, x)})
    except McugenError as exc:
        return "refused", str(exc)
    except Exception as exc:  # noqa: BLE001 — a crash is what this run looks for
        return "crashed", f"{type(exc).__name__}: {exc}"
    problems = []
    # a few cases' expected values are written out rounded (4 decimals): their own tolerance then
    rtol, atol = max(RTOL, case.rtol), max(ATOL, case.atol)
    for out, want in zip(graph.outputs, expected):
        got = outputs[out]
        perm = graph.io[out].to_physical
        if perm is not None:  # back from the physical layout to ONNX's
            got = got.transpose(np.argsort(perm))
        want = np.asarray(want)
        if got.shape != want.shape or not np.allclose(got, want, rtol=rtol, atol=atol, equal_nan=True):
            err = np.max(np.abs(got - want)) if got.shape == want.shape else f"shape {got.shape} vs {want.shape}"
            problems.append(f"{out}: max error {err}")
    return ("mismatched", "; ".join(problems)) if problems else ("matched", "")


def to_nchw(graph, name: str, x: np.ndarray) -> np.ndarray:
    """A graph input's physical values back in ONNX's layout."""
    perm = graph.io[name].to_physical
    return x if perm is None else x.transpose(np.argsort(perm))


def run_int8_case(case, folder: Path) -> tuple[str, str]:
    """A case that matches in float, compiled to int8 C: ("passed" | "refused" | "wrong" | "crashed", detail).

    Calibrated on the case's own input (its one sample: the ranges are the ones this input reaches);
    the C, built with gcc on the host, must equal the numpy golden reference (`run_int`) bit for bit,
    and its dequantized outputs y must satisfy, element by element,
      |y - expected| <= INT8_STEPS * output scale + INT8_SPAN * (max - min of expected) + |r - expected|,
    where r is ONNX's reference run on the input rounded to its int8 codes: int8 keeps about two decimal
    digits of each tensor's range, an operator adds a few output steps, and what rounding the input
    alone changes (softmax of [10000, 10001, ...], whose range with 0 has steps of 39) is not the
    operator's error. Either failure is "wrong"."""
    outcome, detail = "passed", ""
    for i, (inputs, expected) in enumerate(_samples(case)):
        outcome, detail = _run_int8_sample(case, inputs, expected, folder / f"{case.name}_{i}")
        if outcome != "passed":
            break
    return outcome, detail


def _run_int8_sample(case, inputs: list, expected: list, work: Path) -> tuple[str, str]:
    from helpers import compile_c, run_c  # the tests' own C build and run (tests/ is on the path)
    from mcugen.compiler import compile_model
    from mcugen.emit.library import generate_library
    from mcugen.graph.reference import golden_feeds, run_int

    model, name = _as_mcugen_model(case, inputs)
    x = np.asarray(inputs[0])
    work.mkdir(parents=True, exist_ok=True)
    path = work / "model.onnx"
    onnx.save(model, str(path))
    try:
        np.savez(work / "calib.npz", **{name: x})
        compiled = compile_model(path, work / "calib.npz", "conf", allow_random=False)
        lib = generate_library(compiled.graph, work / "lib", compiled.calibration)
    except McugenError as exc:
        return "refused", str(exc)
    except Exception as exc:  # noqa: BLE001 — a crash is what this run looks for
        return "crashed", f"{type(exc).__name__}: {exc}"
    g = compiled.graph
    try:
        feeds = golden_feeds(g, {name: x})
        golden = run_int(g, feeds)
        flat = np.concatenate([feeds[n].reshape(1, -1) for n in g.inputs], axis=1)
        size = sum(g.tensors[n].nbytes for n in g.outputs)
        got = run_c(compile_c(lib.folder, "conf", "gcc"), flat, size)[0]
    except Exception as exc:  # noqa: BLE001 — the C failed to build or run: a crash of the generated code
        return "crashed", f"{type(exc).__name__}: {str(exc)[:300]}"
    from onnx.reference import ReferenceEvaluator

    t_in = g.tensors[g.inputs[0]]
    x_rounded = ((to_nchw(g, g.inputs[0], feeds[g.inputs[0]]).astype(np.float64) - t_in.zero_point)
                 * t_in.scale).astype(x.dtype)
    out_names = [o.name for o in model.graph.output]
    rounded = ReferenceEvaluator(model).run(out_names, {name: x_rounded})
    problems, start = [], 0
    for out, want in zip(g.outputs, expected):
        t = g.tensors[out]
        codes = got[start:start + t.size].reshape(t.shape)
        start += t.size
        if not np.array_equal(codes, golden[out].reshape(t.shape)):
            problems.append(f"{out}: C differs from the golden reference at "
                            f"{int(np.count_nonzero(codes != golden[out].reshape(t.shape)))} elements")
            continue
        value = (codes.astype(np.float64) - t.zero_point) * t.scale
        perm = g.io[out].to_physical
        if perm is not None:
            value = value.transpose(np.argsort(perm))
        want = np.asarray(want, dtype=np.float64)
        span = float(want.max() - want.min()) if want.size else 0.0
        allowed = INT8_STEPS * float(t.scale) + INT8_SPAN * span
        if value.shape != want.shape:
            problems.append(f"{out}: shape {value.shape}, expected {want.shape}")
            continue
        # what rounding the input to its int8 codes alone moves the exact output by (ONNX's own reference)
        moved = np.abs(np.asarray(rounded[out_names.index(out)], dtype=np.float64) - want)
        err = np.abs(value - want) - moved
        if not float(np.max(err)) <= allowed:
            problems.append(f"{out}: max error {float(np.max(np.abs(value - want))):.4g} beyond {allowed:.4g} "
                            f"plus the input rounding's {float(np.max(moved)):.4g}")
    return ("wrong", "; ".join(problems)) if problems else ("passed", "")


INT8_STEPS, INT8_SPAN = 3.0, 0.03


def int8_conformance(show: str | None = None, per_op: int | None = None, folder: Path | None = None) -> dict:
    """Every case matching in float, through int8 C (or the first `per_op` of each operator type):
    {op type: Counter of outcomes}, and the outcome of every case printed when `show` asks."""
    table: dict[str, Counter] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = folder or Path(tmp)
        for case in supported_cases():
            op = case.model.graph.node[-1].op_type if len(case.model.graph.node) == 1 else \
                "+".join(sorted({n.op_type for n in case.model.graph.node}))
            if per_op is not None and sum(table.get(op, Counter()).values()) >= per_op:
                continue
            if run_conformance_case(case, root)[0] != "matched":
                continue
            outcome, detail = run_int8_case(case, root)
            table.setdefault(op, Counter())[outcome] += 1
            if show in (outcome, "all"):
                print(f"{case.name}: int8 {outcome} {detail[:300]}")
    return table


def conformance(show: str | None = None) -> Counter:
    counts: Counter = Counter()
    with tempfile.TemporaryDirectory() as tmp:
        for case in supported_cases():
            outcome, detail = run_conformance_case(case, Path(tmp))
            counts[outcome] += 1
            if show in (outcome, "all"):
                print(f"{case.name}: {outcome} {detail[:300]}")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--show", choices=["matched", "refused", "mismatched", "crashed", "all",
                                           "passed", "wrong"])
    parser.add_argument("--int8", action="store_true", help="also compile every float match to int8 C and "
                        "check it (bit-exact and within tolerance), with a table per operator")
    args = parser.parse_args(argv)
    counts = conformance(args.show)
    print(f"tried {sum(counts.values())}: matched {counts['matched']}, refused {counts['refused']}, "
          f"mismatched {counts['mismatched']}, crashed {counts['crashed']}")
    if args.int8:
        table = int8_conformance(args.show)
        print(f"\nint8 (of the float matches)\n{'operator':<28} passed refused wrong crashed")
        for op, c in sorted(table.items()):
            print(f"{op:<28} {c['passed']:>6} {c['refused']:>7} {c['wrong']:>5} {c['crashed']:>7}")
        total = sum(table.values(), Counter())
        print(f"{'total':<28} {total['passed']:>6} {total['refused']:>7} {total['wrong']:>5} {total['crashed']:>7}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
