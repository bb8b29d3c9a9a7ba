"""A seeded corpus of malformed and unusual ONNX files, mutated from the project's own models.

Every case must end either in a clean refusal (exit code 1 and one line on stderr starting
`mcugen:`, no traceback) or in a valid library whose float reference agrees with onnx.reference.
The bases are the digits models in examples/, the operator cases of tests/op_cases.py and the ONNX
files in tests/fixtures; the mutations damage bytes (truncation, flips), initializers (dims, dtypes,
NaN/Inf/1e38, 2^40 elements), attributes (0, negative, huge, wrong type, missing), names, graph
structure (dangling inputs, cycles, duplicate or missing outputs), domains (com.microsoft), control
flow (Loop, If, Scan) and opsets.

tests/test_malformed_corpus.py runs a few hundred cases; run this file as a script for a large
corpus and its counts:

    python tests/malformed_corpus.py --count 2000 [--seed 0] [--show traceback]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import signal
import sys
import tempfile
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

CASE_SECONDS = 20  # a case running longer than this is reported as a hang


@dataclass
class Case:
    name: str  # base model / mutation / detail, for a failure message
    data: bytes  # the file's bytes


def base_models() -> dict[str, onnx.ModelProto]:
    """The unmutated models: digits examples, every op case, the fixtures."""
    from op_cases import CASES, case_model

    bases = {}
    for path in sorted((ROOT / "examples" / "digits").glob("*.onnx")) + sorted((TESTS / "fixtures").glob("*.onnx")):
        bases[path.stem] = onnx.load(str(path))
    with tempfile.TemporaryDirectory() as tmp:
        for name, case in CASES.items():
            bases[name] = onnx.load(str(case_model(Path(tmp) / f"{name}.onnx", case)))
    return bases


# --- mutations: (rng, model) -> detail string; they edit the model in place ----------------------
def _pick(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


def _float_initializers(model: onnx.ModelProto) -> list[onnx.TensorProto]:
    return [t for t in model.graph.initializer if t.data_type == TensorProto.FLOAT]


def mutate_dims(rng, model) -> str:
    if not model.graph.initializer:
        return mutate_attribute(rng, model)
    t = _pick(rng, model.graph.initializer)
    choice = int(rng.integers(5))
    if choice == 0 or not t.dims:
        t.dims.append(int(rng.integers(2, 5)))
    elif choice == 1:
        del t.dims[-1]
    elif choice == 2:
        t.dims[int(rng.integers(len(t.dims)))] += int(rng.integers(1, 4))
    elif choice == 3:
        t.dims[int(rng.integers(len(t.dims)))] = -1
    else:
        t.dims[int(rng.integers(len(t.dims)))] = 1 << 40  # the 2^40-element tensor
    return f"dims of {t.name} -> {list(t.dims)}"


def mutate_dtype(rng, model) -> str:
    types = [TensorProto.UNDEFINED, TensorProto.INT8, TensorProto.UINT8, TensorProto.INT32, TensorProto.INT64,
             TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.STRING, TensorProto.BOOL, TensorProto.COMPLEX64, 99]
    new = _pick(rng, types)
    if rng.random() < 0.5 and model.graph.initializer:
        t = _pick(rng, model.graph.initializer)
        t.data_type = new
        return f"data_type of initializer {t.name} -> {new}"
    vi = _pick(rng, list(model.graph.input) + list(model.graph.output))
    vi.type.tensor_type.elem_type = new
    return f"elem_type of {vi.name} -> {new}"


def mutate_weights(rng, model) -> str:
    inits = _float_initializers(model)
    if not inits:
        return mutate_dims(rng, model)
    t = _pick(rng, inits)
    value = numpy_helper.to_array(t).astype(np.float64).copy()
    special = _pick(rng, [np.nan, np.inf, -np.inf, 1e38, -3e38, 1e30, 1e-45, 0.0])
    if value.size:
        flat = value.reshape(-1)
        if rng.random() < 0.3:
            flat[:] = special
        else:
            flat[int(rng.integers(flat.size))] = special
    with np.errstate(over="ignore", invalid="ignore"):
        t.CopyFrom(numpy_helper.from_array(value.astype(np.float32), t.name))
    return f"{t.name} gets {special}"


def mutate_attribute(rng, model) -> str:
    nodes = [n for n in model.graph.node if n.attribute] or list(model.graph.node)
    node = _pick(rng, nodes)
    if not node.attribute or rng.random() < 0.15:  # an attribute the op does not have, or one it needs
        name = _pick(rng, ["kernel_shape", "axis", "perm", "group", "bogus", "dilations", "ceil_mode",
                           "storage_order", "auto_pad", "training_mode", "transA", "mode"])
        node.attribute.append(helper.make_attribute(name, _pick(rng, [0, -1, 2, [0, 0], [3, 3], "SAME_UPPER"])))
        return f"{node.op_type} gets {name}"
    attr = _pick(rng, node.attribute)
    if rng.random() < 0.1:
        node.attribute.remove(attr)
        return f"{node.op_type} loses {attr.name}"
    value = _pick(rng, [0, -1, -7, 1 << 40, 1 << 62, 3, 2.5, float("nan"), float("inf"), "SAME_LOWER", "junk",
                        [0, 0], [-1, -1], [1 << 40, 1], [0, 0, 0, 0], [5, 5, 5, 5], [1], [1, 2, 3],
                        [9, 9, 9, 9, 9, 9]])
    new = helper.make_attribute(attr.name, value)
    attr.CopyFrom(new)
    return f"{node.op_type}.{attr.name} -> {value!r}"


def mutate_name(rng, model) -> str:
    g = model.graph
    node = _pick(rng, g.node)
    hostile = _pick(rng, ["", " ", "a b", "x" * 300, "ümlaut", "*/", "1abc", "a\"b", "a\\b", "a\nb", "%d"])
    choice = int(rng.integers(4))
    if choice == 0 and node.input:
        i = int(rng.integers(len(node.input)))
        old = node.input[i]
        node.input[i] = hostile  # dangling (or optional, when empty)
        return f"{node.op_type} input {old} -> {hostile!r}"
    if choice == 1:
        old = node.output[0]
        for n in g.node:
            for i, name in enumerate(n.input):
                if name == old:
                    n.input[i] = hostile
        for o in g.output:
            if o.name == old:
                o.name = hostile
        node.output[0] = hostile
        return f"renamed tensor {old} -> {hostile!r}"
    if choice == 2:
        node.name = hostile
        return f"node named {hostile!r}"
    vi = _pick(rng, list(g.input))
    old = vi.name
    vi.name = hostile
    for n in g.node:
        for i, name in enumerate(n.input):
            if name == old:
                n.input[i] = hostile
    return f"graph input {old} -> {hostile!r}"


def mutate_structure(rng, model) -> str:
    g = model.graph
    choice = int(rng.integers(8))
    if choice == 0:  # cycle: the first node reads the last node's output
        g.node[0].input.append(g.node[-1].output[0]) if g.node[0].op_type in ("Concat",) else \
            g.node[0].input.__setitem__(0, g.node[-1].output[0])
        return "cycle"
    if choice == 1:  # duplicate producer
        g.node.append(onnx.NodeProto.FromString(g.node[-1].SerializeToString()))
        return "duplicate node (two producers of one tensor)"
    if choice == 2:  # duplicate graph output
        g.output.append(onnx.ValueInfoProto.FromString(g.output[0].SerializeToString()))
        return "duplicate graph output"
    if choice == 3:  # missing graph output
        g.output[0].name = "nowhere"
        return "graph output names no tensor"
    if choice == 4:
        del g.output[:]
        return "no graph outputs"
    if choice == 5:  # the nodes in reverse order
        nodes = list(g.node)[::-1]
        del g.node[:]
        g.node.extend(nodes)
        return "nodes not in topological order"
    if choice == 6:  # graph input listed twice / removed
        if rng.random() < 0.5:
            g.input.append(onnx.ValueInfoProto.FromString(g.input[0].SerializeToString()))
            return "duplicate graph input"
        del g.input[:]
        return "no graph inputs"
    del g.node[int(rng.integers(len(g.node)))]
    return "a node removed"


def mutate_domain(rng, model) -> str:
    node = _pick(rng, model.graph.node)
    if rng.random() < 0.5:
        node.domain = "com.microsoft"
        if rng.random() < 0.5:
            model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
        return f"{node.op_type} in domain com.microsoft"
    node.op_type = _pick(rng, ["FusedConv", "QuickGelu", "NotAnOp", "Resize", "Upsample", "Einsum", "LSTM", "Gather"])
    return f"op_type -> {node.op_type}"


def mutate_control_flow(rng, model) -> str:
    g = model.graph
    src = g.node[-1].output[0]
    body_in = helper.make_tensor_value_info("v_in", TensorProto.FLOAT, None)
    body_out = helper.make_tensor_value_info("v_out", TensorProto.FLOAT, None)
    kind = _pick(rng, ["Loop", "If", "Scan"])
    out = g.output[0].name
    g.node[-1].output[0] = src = src + "_pre"
    for n in g.node[:-1]:
        for i, name in enumerate(n.input):
            if name == out:
                n.input[i] = src
    if kind == "Loop":
        body = helper.make_graph([helper.make_node("Identity", ["cond_in"], ["cond_out"]),
                                  helper.make_node("Identity", ["v_in"], ["v_out"])], "body",
                                 [helper.make_tensor_value_info("i", TensorProto.INT64, []),
                                  helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []), body_in],
                                 [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []), body_out])
        g.initializer.extend([numpy_helper.from_array(np.array(3, np.int64), "trip"),
                              numpy_helper.from_array(np.array(True), "cond")])
        g.node.append(helper.make_node("Loop", ["trip", "cond", src], [out], body=body))
    elif kind == "If":
        branch = helper.make_graph([helper.make_node("Identity", [src], ["b_out"])], "branch", [],
                                   [helper.make_tensor_value_info("b_out", TensorProto.FLOAT, None)])
        g.initializer.append(numpy_helper.from_array(np.array(True), "cond"))
        g.node.append(helper.make_node("If", ["cond"], [out], then_branch=branch, else_branch=branch))
    else:
        body = helper.make_graph([helper.make_node("Identity", ["v_in"], ["v_out"])], "body", [body_in], [body_out])
        g.node.append(helper.make_node("Scan", [src], [out], body=body, num_scan_inputs=1))
    return kind


def mutate_huge_shape(rng, model) -> str:
    g = model.graph
    choice = int(rng.integers(3))
    if choice == 0:
        vi = _pick(rng, list(g.input))
        dims = vi.type.tensor_type.shape.dim
        if len(dims) > 1:
            dims[1].Clear()
            dims[1].dim_value = 1 << 40
        return f"input {vi.name} dim 1 -> 2^40"
    if choice == 1:  # ConstantOfShape of 2^40 elements added before the output
        g.initializer.append(numpy_helper.from_array(np.array([1 << 20, 1 << 20], np.int64), "huge_shape"))
        g.node.insert(0, helper.make_node("ConstantOfShape", ["huge_shape"], ["huge"]))
        g.node[-1].input.append("huge") if g.node[-1].op_type in ("Concat", "Sum") else None
        g.output.append(helper.make_tensor_value_info("huge", TensorProto.FLOAT, None))
        return "ConstantOfShape 2^40"
    t = TensorProto(name="bomb", data_type=TensorProto.FLOAT, dims=[1 << 20, 1 << 20])
    g.initializer.append(t)
    g.node[0].input.append("bomb")
    return "2^40 initializer without data"


def mutate_opset(rng, model) -> str:
    version = _pick(rng, [1, 6, 9, 10, 12, 13, 18, 21, 99])
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            o.version = version
    if rng.random() < 0.3:
        model.ir_version = _pick(rng, [0, 1, 3, 100])
    return f"opset {version}, ir {model.ir_version}"


MUTATIONS: list[Callable] = [mutate_dims, mutate_dtype, mutate_weights, mutate_attribute, mutate_name,
                             mutate_structure, mutate_domain, mutate_control_flow, mutate_huge_shape, mutate_opset]


def corpus(count: int, seed: int = 0) -> list[Case]:
    """count cases, the same ones for the same seed: one or two mutations of a base, or damaged bytes."""
    rng = np.random.default_rng(seed)
    bases = base_models()
    names = sorted(bases)
    cases = []
    for index in range(count):
        base = names[int(rng.integers(len(names)))]
        model = onnx.ModelProto.FromString(bases[base].SerializeToString())
        kind = int(rng.integers(10))
        if kind == 0:  # truncated bytes
            data = model.SerializeToString()
            cut = int(rng.integers(1, len(data)))
            cases.append(Case(f"{index}:{base}/truncate {cut}", data[:cut]))
            continue
        if kind == 1:  # flipped bytes
            data = bytearray(model.SerializeToString())
            for _ in range(int(rng.integers(1, 6))):
                data[int(rng.integers(len(data)))] ^= 1 << int(rng.integers(8))
            cases.append(Case(f"{index}:{base}/flip", bytes(data)))
            continue
        details = []
        for _ in range(1 if rng.random() < 0.8 else 2):
            mutation = MUTATIONS[int(rng.integers(len(MUTATIONS)))]
            try:
                details.append(f"{mutation.__name__[7:]}: {mutation(rng, model)}")
            except (IndexError, ValueError, TypeError) as exc:  # a mutation that does not fit this base
                details.append(f"{mutation.__name__[7:]}: skipped ({exc})")
        cases.append(Case(f"{index}:{base}/" + "; ".join(details), model.SerializeToString()))
    return cases


# --- running a case -----------------------------------------------------------------------------
class Hang(BaseException):
    """Raised by the alarm: not an Exception, so no `except Exception` in mcugen swallows it."""


def _alarm(signum, frame):
    raise Hang()


def run_command(argv: list[str]) -> tuple[str, str]:
    """One in-process CLI run: ("clean" | "valid" | "traceback" | "hang" | "bad-stderr", detail)."""
    from mcugen.cli import main

    err, out = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(CASE_SECONDS)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            code = main(argv)
    except Hang:
        return "hang", f"more than {CASE_SECONDS} s"
    except BaseException:  # noqa: BLE001 — anything escaping main is what this corpus looks for
        return "traceback", traceback.format_exc(limit=-3)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    stderr = err.getvalue()
    if code == 0:
        return "valid", ""
    lines = [ln for ln in stderr.splitlines() if not ln.startswith("mcugen: warning:")]
    if code == 1 and len(lines) == 1 and lines[0].startswith("mcugen: error: ") and "Traceback" not in stderr:
        return "clean", lines[0]
    return "bad-stderr", f"exit {code}: {stderr!r}"


def run_case(case: Case, folder: Path) -> dict[str, tuple[str, str]]:
    """The case through `inspect` and `generate` (into folder/lib); a model generate accepts is also
    run by mcugen's float reference and by onnx.reference, which must agree ("wrong" otherwise)."""
    path = folder / "corpus_model.onnx"  # the C prefix corpus_model_ (model_ clashes with the test driver)
    path.write_bytes(case.data)
    results = {"inspect": run_command(["inspect", str(path), "--json"]),
               "generate": run_command(["generate", str(path), "--calib", "random", "-o", str(folder / "lib"),
                                        "--force"])}
    if results["generate"][0] == "valid":
        wrong = float_disagreement(path)
        if wrong:
            results["generate"] = ("wrong", wrong)
    return results


def _reference_is_wrong(model: onnx.ModelProto) -> bool:
    """Models where onnx.reference (onnx 1.23) itself departs from the ONNX spec, measured here:
    BatchNormalization before opset 14 (off by a few percent against the formula), pooling with
    ceil_mode (an output larger than ONNX's own shape inference says), AveragePool-1 (counts pads),
    ConvTranspose with group > 1 (depthwise 4x4 stride 2: off by up to 0.68 against ONNX Runtime, which
    mcugen matches to 1e-6 in tests/test_upsample_norm.py; other groupings fail to reshape the weight)."""
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    for node in model.graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            return True  # not wrong, but not comparable: mcugen's float graph of a QDQ model is its float twin
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "BatchNormalization" and opset < 14:
            return True
        if node.op_type in ("MaxPool", "AveragePool") and (attrs.get("ceil_mode") or opset < 7):
            return True
        if node.op_type == "ConvTranspose" and attrs.get("group", 1) != 1:
            return True
    return False


def float_disagreement(path: Path) -> str:
    """How mcugen's float reference differs from onnx.reference on one random input ("" if it does
    not, or if onnx.reference cannot run the model or is known to be wrong on it)."""
    from onnx.reference import ReferenceEvaluator

    from mcugen.compiler import load_float_graph
    from mcugen.data import to_physical
    from mcugen.graph.reference import run_float

    graph = load_float_graph(path)
    if _reference_is_wrong(onnx.load(str(path))):
        return ""
    rng = np.random.default_rng(0)
    feeds = {n: rng.standard_normal(graph.io[n].onnx_shape).astype(np.float32) for n in graph.inputs}
    try:
        with np.errstate(all="ignore"):
            expected = ReferenceEvaluator(onnx.load(str(path))).run(graph.outputs, feeds)
    except Exception:  # noqa: BLE001 — a model onnx.reference cannot run has no second opinion
        return ""
    got = run_float(graph, {n: to_physical(graph, n, x) for n, x in feeds.items()})
    for name, want in zip(graph.outputs, expected):
        value = got[name]
        perm = graph.io[name].to_physical
        value = value if perm is None else value.transpose(np.argsort(perm))
        want = np.asarray(want, dtype=np.float32)
        if value.shape != want.shape or not np.allclose(value, want, rtol=1e-4, atol=1e-4, equal_nan=True):
            return f"output {name!r} differs from onnx.reference"
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", choices=["traceback", "clean", "valid", "wrong", "all"],
                        help="print these cases (traceback: every failure)")
    args = parser.parse_args(argv)
    counts: Counter = Counter()
    causes: Counter = Counter()
    cases = corpus(args.count, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            folder = Path(tmp) / "case"
            folder.mkdir(exist_ok=True)
            results = run_case(case, folder)
            for command, (outcome, detail) in results.items():
                counts[command, outcome] += 1
                if outcome in ("traceback", "hang", "bad-stderr", "wrong"):
                    causes[detail.strip().splitlines()[-1][:160] if detail.strip() else outcome] += 1
                if args.show in (outcome, "all") or (args.show == "traceback" and outcome not in ("clean", "valid")):
                    print(f"--- {case.name} [{command}] {outcome}\n{detail}")
    print(f"tried {len(cases)} cases, each through inspect and generate")
    for command in ("inspect", "generate"):
        row = ", ".join(f"{o} {counts[command, o]}" for o in ("clean", "valid", "traceback", "hang", "bad-stderr",
                                                                 "wrong"))
        print(f"  {command:8s} {row}")
    for cause, n in causes.most_common(25):
        print(f"  {n:4d} x {cause}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
