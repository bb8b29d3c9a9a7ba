"""Memory planner: one static arena, offsets from tensor lifetimes.

Tensors that are the same bytes (a reshape's output and its input, or a contiguous slice's output
inside its input, at the slice's offset) share one buffer; an
element-wise operator may overwrite an input that dies at it (in place). Graph inputs and
outputs live in the caller's buffers, not in the arena. The remaining buffers are placed
greedily, largest first, each at the lowest offset that overlaps no buffer alive at the same time.
A kernel's scratch buffer (Op.scratch) is a buffer alive only at its layer's step, so it reuses
the bytes of tensors dead by then.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mcugen.errors import McugenError
from mcugen.ir import Graph
from mcugen.ops import op_for

ALIGN = 4


@dataclass
class Placement:
    region: str  # "arena", "input" or "output": which buffer the tensor lives in
    offset: int
    buffer: int  # tensors with the same buffer number are the same bytes (aliases, in place)


@dataclass
class Plan:
    arena_size: int
    where: dict[str, Placement]
    lifetimes: dict[str, tuple[int, int]]  # tensor → (first step written, last step read)
    copies: set[str] = field(default_factory=set)  # aliasing nodes that must copy instead


def assign_offsets(buffers: list[tuple[int, int, int]], align: int = ALIGN) -> tuple[list[int], int]:
    """Place (size, start, end) buffers; two overlap in time when their [start, end] intervals meet."""
    order = sorted(range(len(buffers)), key=lambda i: (-buffers[i][0], buffers[i][1]))
    offsets = [0] * len(buffers)
    placed: list[int] = []
    total = 0
    for i in order:
        size, start, end = buffers[i]
        busy = sorted((offsets[j], offsets[j] + buffers[j][0]) for j in placed
                      if buffers[j][1] <= end and start <= buffers[j][2])
        offset = 0
        for lo, hi in busy:
            if offset + size <= lo:
                break
            offset = max(offset, -(-hi // align) * align)
        offsets[i] = offset
        placed.append(i)
        total = max(total, offset + size)
    return offsets, -(-total // align) * align


def plan_memory(graph: Graph) -> Plan:
    steps = {n.name: i for i, n in enumerate(graph.nodes)}
    end_step = len(graph.nodes)
    birth: dict[str, int] = {n: -1 for n in graph.inputs}
    death: dict[str, int] = {}
    for i, node in enumerate(graph.nodes):
        for o in node.outputs:
            birth[o] = i
        for name in node.q.get("operands", node.inputs):
            if not graph.tensors[name].is_constant:
                death[name] = i
    for name in graph.outputs:
        death[name] = end_step
    for name in birth:
        death.setdefault(name, birth[name])
    for i, node in enumerate(graph.nodes):  # a kernel's scratch buffer lives only while it runs
        scratch = op_for(node).scratch(node, graph)
        if scratch is not None:
            birth[scratch] = death[scratch] = i

    # Union-find over tensors that are the same bytes; rel[t] is t's byte offset inside its parent
    # (0 for a reshape or an in-place output, the slice's offset for a zero-copy slice).
    parent = {name: name for name in birth}
    rel = {name: 0 for name in birth}

    def find(x: str) -> str:
        if parent[x] == x:
            return x
        root = find(parent[x])
        rel[x] += rel[parent[x]]
        parent[x] = root
        return root

    def members(root: str) -> list[str]:
        return [t for t in parent if find(t) == root]

    def external(root: str) -> set[str]:
        ms = members(root)
        return {"input" for t in ms if t in graph.inputs} | {"output" for t in ms if t in graph.outputs}

    def join(child: str, host: str, offset: int) -> bool:
        """Put child's group inside host's, child's bytes starting `offset` bytes into host's. Refused
        (False) when a graph input or output would then not hold its whole group: those live in the
        caller's buffers, so every member of their group must lie within their bytes."""
        c_root, h_root = find(child), find(host)
        shift = rel[host] + offset - rel[child]  # child's root relative to host's root
        placed = {t: rel[t] for t in members(h_root)} | {t: rel[t] + shift for t in members(c_root)}
        io = [t for t in placed if t in graph.inputs or t in graph.outputs]
        end = max(placed[t] + graph.tensors[t].nbytes for t in placed)
        if min(placed.values()) < 0 or any(placed[t] or graph.tensors[t].nbytes < end for t in io):
            return False
        parent[c_root], rel[c_root] = h_root, shift
        return True

    copies: set[str] = set()
    for node in graph.nodes:
        op = op_for(node)
        out = node.outputs[0]
        if op.aliases_input(node, graph):
            src = node.inputs[0]
            both = external(find(src)) | external(find(out))
            outputs_joined = sum(t in graph.outputs for t in members(find(src)) + members(find(out)))
            if both == {"input", "output"} or outputs_joined > 1 or not join(out, src, op.alias_offset(node, graph)):
                copies.add(node.name)
            continue
        k = op.inplace_input(node, graph)
        if k is None:
            continue
        src = node.q.get("operands", node.inputs)[k]
        root = find(src)
        group_end = max(death[t] for t in members(root))
        if (group_end == steps[node.name] and graph.tensors[src].nbytes == graph.tensors[out].nbytes
                and "input" not in external(root) and not (external(root) and external(find(out)))):
            join(out, src, 0)

    groups: dict[str, list[str]] = {}
    for name in parent:
        groups.setdefault(find(name), []).append(name)
    where: dict[str, Placement] = {}
    arena_groups = []
    for buffer, names in enumerate(groups.values()):
        anchor = next((t for t in names if t in graph.inputs), None) or next(
            (t for t in names if t in graph.outputs), None)
        if anchor is not None:
            region = "input" if anchor in graph.inputs else "output"
            io = graph.inputs if region == "input" else graph.outputs
            offset = sum(graph.tensors[t].nbytes for t in io[: io.index(anchor)])  # rel[anchor] is 0 (join)
            for t in names:
                where[t] = Placement(region, offset + rel[t], buffer)
        else:
            size = max(rel[t] + graph.tensors[t].nbytes for t in names)
            arena_groups.append((buffer, names, size, min(birth[t] for t in names), max(death[t] for t in names)))
    offsets, arena_size = assign_offsets([(s, b, e) for _, _, s, b, e in arena_groups])
    for (buffer, names, *_rest), offset in zip(arena_groups, offsets):
        for t in names:
            where[t] = Placement("arena", offset + rel[t], buffer)
    plan = Plan(arena_size, where, {t: (birth[t], death[t]) for t in birth}, copies)
    check_plan(graph, plan)
    return plan


def check_plan(graph: Graph, plan: Plan) -> None:
    """No two arena tensors that are alive together may share a byte unless they are one buffer."""
    arena = [(t, p.buffer, p.offset, graph.tensors[t].nbytes, *plan.lifetimes[t])
             for t, p in plan.where.items() if p.region == "arena"]
    for i, (a, abuf, ao, asz, ab, ad) in enumerate(arena):
        if ao + asz > plan.arena_size:
            raise McugenError(f"internal planner error: {a} overruns the arena")
        for b, bbuf, bo, bsz, bb, bd in arena[i + 1:]:
            if abuf == bbuf or ab > bd or bb > ad:
                continue
            if ao < bo + bsz and bo < ao + asz:
                raise McugenError(f"internal planner error: {a} and {b} overlap while both alive")
