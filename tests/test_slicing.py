"""Slice, Split and Gather: the planner shares a contiguous slice's bytes (zero copy, at the slice's
offset inside its input) and copies the rest with the strided-copy kernel; bit-exactness of every
variant is in op_cases.py (test_ops_bit_exact.py, test_weight_only.py)."""

from __future__ import annotations

import numpy as np
from onnx import helper

from helpers import check_bit_exact, make_model, save_samples
from mcugen.graph.planner import plan_memory
from mcugen.ops.slice import contiguous_offset, runs


def _compiled(tmp_path, nodes, inputs, inits, outputs=None):
    tmp_path = tmp_path / f"m{len(list(tmp_path.iterdir()))}"
    tmp_path.mkdir()
    model = make_model(tmp_path / "m.onnx", nodes, inputs, outputs or {nodes[-1].output[0]: None}, inits)
    rng = np.random.default_rng(5)
    calib = {k: rng.standard_normal([16, *v[1:]]).astype(np.float32) for k, v in inputs.items()}
    test = {k: rng.standard_normal([4, *v[1:]]).astype(np.float32) for k, v in inputs.items()}
    compiled = check_bit_exact(model, save_samples(tmp_path / "c.npz", calib), tmp_path, test, compilers=("gcc",))
    return compiled, (tmp_path / "lib" / "net.c").read_text()


def _ints(*values):
    return np.array(values, np.int64)


def test_runs_and_contiguity():
    assert runs((4, 0, 1, 2, 8, 8)) == [(4, -4, 2), (1, 1, 2), (8, 0, 2)]
    assert runs((3,)) == [(3, 1, 1)]
    assert runs((2, 5, 2, 5)) == [(2, 3, 2), (2, 3, 2)]
    full = tuple(range(5))
    assert contiguous_offset((1, 6, 5, 3), ((0,), (2, 3, 4), full[:5], full[:3])) == 2 * 5 * 3
    assert contiguous_offset((1, 6, 5, 3), ((0,), (2, 3, 4), (1, 2), full[:3])) is None  # rows of a column
    assert contiguous_offset((1, 6, 5, 3), ((0,), (4,), (1, 2), full[:3])) == 4 * 15 + 3
    assert contiguous_offset((1, 6, 5, 3), ((0,), (4,), (1, 3), full[:3])) is None  # step 2


def test_contiguous_slice_between_layers_shares_its_input_bytes(tmp_path):
    # NHWC rows 2..4 of [1, 6, 5, 3]: one contiguous range, 30 bytes into the Relu's output
    compiled, code = _compiled(tmp_path, [helper.make_node("Relu", ["x"], ["r"]),
                                    helper.make_node("Slice", ["r", "S", "E", "A"], ["s"]),
                                    helper.make_node("Sigmoid", ["s"], ["y"])],
                         {"x": [1, 3, 6, 5]}, {"S": _ints(2), "E": _ints(5), "A": _ints(2)})
    plan = plan_memory(compiled.graph)
    r, s = plan.where["r"], plan.where["s"]
    assert (r.region, r.buffer) == (s.region, s.buffer) == ("arena", r.buffer)
    assert s.offset - r.offset == 2 * 5 * 3 and not plan.copies
    assert "slice_s8" not in code


def test_slice_of_the_input_reads_the_callers_buffer_and_strided_slices_copy(tmp_path):
    # channel 1..3 of an NHWC input is not contiguous: a kernel copies it; the H slice after it is a view
    compiled, code = _compiled(tmp_path, [helper.make_node("Slice", ["x", "S", "E", "A"], ["s"]),
                                    helper.make_node("Slice", ["s", "S2", "E2", "A2"], ["t"]),
                                    helper.make_node("Relu", ["t"], ["y"])],
                         {"x": [1, 5, 4, 3]}, {"S": _ints(1), "E": _ints(4), "A": _ints(1),
                                               "S2": _ints(1), "E2": _ints(3), "A2": _ints(2)})
    plan = plan_memory(compiled.graph)
    assert plan.where["t"].buffer == plan.where["s"].buffer
    assert plan.where["t"].offset - plan.where["s"].offset == 1 * 3 * 3
    assert code.count("net_slice_s8(") == 1

    compiled, code = _compiled(tmp_path, [helper.make_node("Slice", ["x", "S", "E", "A"], ["s"]),
                                    helper.make_node("Relu", ["s"], ["y"])],
                         {"x": [1, 2, 4, 3]}, {"S": _ints(1), "E": _ints(3), "A": _ints(2)})
    where = plan_memory(compiled.graph).where["s"]
    assert (where.region, where.offset) == ("input", 1 * 3 * 2)


def test_sliced_graph_outputs_are_copied_and_never_widen_into_the_output_buffer(tmp_path):
    # Split along H: both halves are contiguous, but each is a graph output in the caller's buffer,
    # so the Relu's 24 bytes must not be placed at the first 12-byte output (it would run into the second)
    compiled, code = _compiled(tmp_path, [helper.make_node("Relu", ["x"], ["r"]),
                                          helper.make_node("Split", ["r"], ["a", "b"], axis=2)],
                               {"x": [1, 3, 4, 2]}, {}, outputs={"a": None, "b": None})
    plan = plan_memory(compiled.graph)
    assert plan.where["r"].region == "arena"
    assert {plan.where["a"].region, plan.where["b"].region} == {"output"}
    assert len(plan.copies) == 2 and code.count("memcpy(") == 2
