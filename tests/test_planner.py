"""The memory planner: no two live tensors overlap, on random lifetimes and on real graphs."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from mcugen.compiler import compile_model
from mcugen.graph.planner import ALIGN, assign_offsets, plan_memory

DIGITS = Path(__file__).resolve().parent.parent / "examples" / "digits"

buffers = st.lists(st.tuples(st.integers(1, 5000), st.integers(-1, 30), st.integers(0, 20)).map(
    lambda t: (t[0], min(t[1], t[1] + t[2]), t[1] + t[2])), min_size=1, max_size=40)


@settings(max_examples=300, deadline=None)
@given(buffers)
def test_live_buffers_never_overlap(bufs):
    offsets, total = assign_offsets(bufs)
    for i, (size_a, start_a, end_a) in enumerate(bufs):
        assert offsets[i] % ALIGN == 0 and offsets[i] + size_a <= total
        for j in range(i + 1, len(bufs)):
            size_b, start_b, end_b = bufs[j]
            alive_together = start_a <= end_b and start_b <= end_a
            if alive_together:
                assert offsets[i] + size_a <= offsets[j] or offsets[j] + size_b <= offsets[i]
    # Never worse than giving every buffer its own space, never better than the largest one.
    assert max(s for s, _, _ in bufs) <= total <= sum(-(-s // ALIGN) * ALIGN for s, _, _ in bufs)


def test_cnn_plan_reuses_memory():
    graph = compile_model(DIGITS / "cnn.onnx", DIGITS / "calib_cnn.npz").graph
    plan = plan_memory(graph)
    arena = {t for t, p in plan.where.items() if p.region == "arena"}
    assert plan.arena_size < sum(graph.tensors[t].nbytes for t in arena)
    assert plan.where[graph.inputs[0]].region == "input" and plan.where[graph.outputs[0]].region == "output"
