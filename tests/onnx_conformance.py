"""ONNX's own node conformance cases through mcugen's frontend and float reference.

Every case of an operator type mcugen maps (onnx.backend.test.case.node, offline) is loaded —
its graph inputs after the first become initializers, since mcugen needs constant weights — and
run through `load_float_graph` and `reference.run_float`. A case either is refused in one sentence
(a McugenError) or its outputs must match ONNX's expected ones within tolerance: a mismatch is a
silently wrong answer. tests/test_malformed_corpus.py runs it; as a script it prints every case:

    python tests/onnx_conformance.py [--show mismatched|refused|all]
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
    if n == 1 or not all(np.ndim(e) and np.shape(e)[0] == n for e in expected):
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
    parser.add_argument("--show", choices=["matched", "refused", "mismatched", "crashed", "all"])
    args = parser.parse_args(argv)
    counts = conformance(args.show)
    print(f"tried {sum(counts.values())}: matched {counts['matched']}, refused {counts['refused']}, "
          f"mismatched {counts['mismatched']}, crashed {counts['crashed']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
