"""Graph passes on the float graph: simplify, fuse, and move to channels-last.

Run in this order by `optimize`: drop Identity/Dropout, fold BatchNormalization into the Conv or
Gemm before it, fold a constant Add into a fully connected bias, fuse Relu/Clip into the
producer as a clamp, remove dead nodes, then convert to channels-last (NHWC) with weights
transposed at compile time, and fold the transposes that a Flatten before a Gemm needs.
"""

from __future__ import annotations

import numpy as np

from mcugen.errors import McugenError
from mcugen.ir import Graph, Node, Tensor
from mcugen.ops import REGISTRY

NHWC = (0, 2, 3, 1)


def optimize(graph: Graph) -> Graph:
    graph = graph.copy()
    remove_identities(graph)
    fold_batch_norm(graph)
    fold_bias_add(graph)
    fuse_silu(graph)
    fuse_activations(graph)
    graph.prune()
    to_channels_last(graph)
    fold_transpose_into_fully_connected(graph)
    remove_noop_reshapes(graph)
    graph.prune()
    return graph


def optimize_physical(graph: Graph) -> Graph:
    """The passes for a graph a reader built in physical layout already (TFLite: NHWC, weights
    OHWI, activations fused): only the clean-ups, no layout change."""
    graph = graph.copy()
    fuse_activations(graph)
    graph.prune()
    remove_noop_reshapes(graph)
    graph.prune()
    return graph


def _sole_consumer(graph: Graph, tensor: str) -> Node | None:
    users = graph.consumers(tensor)
    if len(users) == 1 and tensor not in graph.outputs:
        return users[0]
    return None


def _bypass(graph: Graph, node: Node, same_values: bool = True) -> None:
    """Remove a node whose output equals its first input — or, when a fold moved its work into
    the producer (same_values=False), whose output the producer now writes."""
    src, dst = node.inputs[0], node.outputs[0]
    if dst in graph.outputs and src in graph.inputs:  # the output is the input: it still needs its own bytes
        node.op, node.inputs, node.outputs, node.attrs = "reshape", [src], [dst], {}
        return
    graph.nodes.remove(node)
    survivor = src
    if dst in graph.outputs and src not in graph.inputs:
        # Keep the user-facing output name: the producer of src now writes dst.
        producer = graph.producer(src)
        if producer is not None and src not in graph.outputs and len(graph.consumers(src)) == 0:
            producer.outputs = [dst if o == src else o for o in producer.outputs]
            survivor = dst
    if survivor == src:
        graph.replace_uses(dst, src)
    _merge_fixed_qparams(graph, src, dst, survivor, same_values)


def _merge_fixed_qparams(graph: Graph, src: str, dst: str, survivor: str, same_values: bool) -> None:
    """A pre-quantized model's fixed quantization follows the values: after a fold the surviving
    tensor holds what dst held, so it takes dst's (src's described values no longer exist)."""
    fixed = graph.fixed_qparams
    qp = fixed.get(src, fixed.get(dst)) if same_values else fixed.get(dst)
    fixed.pop(src, None)
    fixed.pop(dst, None)
    if qp is not None:
        fixed[survivor] = qp


def _carry_weight_scales(graph: Graph, old: str, new: str) -> None:
    """A weight constant rewritten without changing its values per output channel keeps its
    pre-quantized scales (a BatchNorm fold changes the values, so its new constant gets none)."""
    if old in graph.fixed_weight_scales:
        graph.fixed_weight_scales[new] = graph.fixed_weight_scales[old]


def remove_identities(graph: Graph) -> None:
    for node in [n for n in graph.nodes if n.op == "identity"]:
        _bypass(graph, node)


def fold_batch_norm(graph: Graph) -> None:
    for bn in [n for n in graph.nodes if n.op == "batch_norm"]:
        scale, shift = bn.attrs["scale"], bn.attrs["shift"]
        producer = graph.producer(bn.inputs[0])
        if (producer is not None and producer.op in ("conv", "depthwise_conv", "fully_connected")
                and _sole_consumer(graph, bn.inputs[0]) is bn and "act" not in producer.attrs):
            w = graph.tensors[producer.inputs[1]].data
            new_w = w * scale.reshape((-1,) + (1,) * (w.ndim - 1))
            bias = graph.const(producer.inputs[2]) if len(producer.inputs) > 2 else np.zeros(len(scale), np.float32)
            producer.inputs[1] = graph.add_constant(f"{producer.name}_weight_bn", new_w.astype(np.float32)).name
            new_b = (bias * scale + shift).astype(np.float32)
            b_name = graph.add_constant(f"{producer.name}_bias_bn", new_b).name
            producer.inputs = producer.inputs[:2] + [b_name]
            _bypass(graph, bn, same_values=False)
            continue
        x = graph.tensors[bn.inputs[0]]
        if len(x.shape) != 4:
            raise McugenError(f"BatchNormalization {bn.name!r} follows no Conv or Gemm and its input is not 4-D; "
                              "mcugen cannot run it on its own")
        # A lone BatchNormalization is a 1x1 depthwise convolution.
        c = x.shape[1]
        w = graph.add_constant(f"{bn.name}_weight", scale.reshape(c, 1, 1, 1).astype(np.float32)).name
        b = graph.add_constant(f"{bn.name}_bias", shift.astype(np.float32)).name
        bn.op, bn.inputs = "depthwise_conv", [bn.inputs[0], w, b]
        bn.attrs = {"group": c, "strides": (1, 1), "pads": (0, 0, 0, 0), "dilations": (1, 1)}


def fold_bias_add(graph: Graph) -> None:
    for add in [n for n in graph.nodes if n.op == "add"]:
        consts = [i for i in add.inputs if graph.tensors[i].is_constant]
        if len(consts) != 1:
            continue
        other = next(i for i in add.inputs if i not in consts)
        producer = graph.producer(other)
        if producer is None or producer.op != "fully_connected" or _sole_consumer(graph, other) is not add:
            continue
        if "act" in producer.attrs:
            continue
        out_features = graph.tensors[producer.inputs[1]].shape[0]
        c = graph.const(consts[0])
        if c.size not in (1, out_features) or graph.tensors[add.outputs[0]].shape != graph.tensors[other].shape:
            continue
        bias = graph.const(producer.inputs[2]) if len(producer.inputs) > 2 else 0.0
        total = (np.broadcast_to(c.reshape(-1), (out_features,)) + bias).astype(np.float32)
        producer.inputs = producer.inputs[:2] + [graph.add_constant(f"{producer.name}_bias", total).name]
        add.op, add.inputs, add.attrs = "identity", [other], {}
        _bypass(graph, add, same_values=False)


def fuse_silu(graph: Graph) -> None:
    """Mul(x, Sigmoid(x)) → one SiLU table. As two int8 operators SiLU rounds twice — the sigmoid to
    its fixed 1/256 step, then the product requantized — and the first rounding is not small where
    x is large (x * 1/512); as one function of x's 256 codes it is exact up to the output's own
    rounding. Kept apart when the sigmoid's output has its own use or a pre-quantized model fixed
    its quantization (that model's arithmetic rounds there)."""
    for mul in [n for n in graph.nodes if n.op == "mul" and len(n.inputs) == 2]:
        for sig_name, x in (mul.inputs, mul.inputs[::-1]):
            sig = graph.producer(sig_name)
            if sig is None or sig.op != "activation" or sig.attrs.get("fn") != "sigmoid" or "act" in sig.attrs:
                continue
            if sig.inputs[0] != x or _sole_consumer(graph, sig_name) is not mul or "act" in mul.attrs:
                continue
            if sig_name in graph.fixed_qparams or sig_name in graph.inputs:
                continue
            graph.nodes.remove(sig)
            mul.op, mul.inputs, mul.attrs = "activation", [x], {"fn": "silu"}
            break


def fuse_activations(graph: Graph) -> None:
    for act in [n for n in graph.nodes if n.op == "activation" and n.attrs["fn"] in ("relu", "clip")]:
        producer = graph.producer(act.inputs[0])
        if producer is None or not REGISTRY[producer.op].fuses_activation:
            continue
        if _sole_consumer(graph, act.inputs[0]) is not act:
            continue
        lo, hi = (0.0, np.inf) if act.attrs["fn"] == "relu" else (act.attrs["min"], act.attrs["max"])
        old_lo, old_hi = producer.attrs.get("act", (-np.inf, np.inf))
        producer.attrs["act"] = (max(lo, old_lo), min(hi, old_hi))
        _bypass(graph, act, same_values=False)


# --- layout -------------------------------------------------------------------------------

def _inverse(perm: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argsort(perm))


def _same_memory_order(shape: tuple[int, ...], perm: tuple[int, ...]) -> bool:
    """True when transposing `shape` by `perm` only moves axes of size 1 (bytes unchanged)."""
    moved = [a for a in perm if shape[a] != 1]
    return moved == sorted(moved)


def to_channels_last(graph: Graph) -> None:
    """Rewrite the graph in physical layout: 4-D activations become NHWC, shapes and axes follow."""
    perm_of: dict[str, tuple[int, ...]] = {}

    def physical(name: str) -> tuple[int, ...]:
        t = graph.tensors[name]
        return tuple(t.shape[a] for a in perm_of.get(name, range(len(t.shape))))

    def layout_of(t: Tensor) -> tuple[int, ...]:
        return NHWC if len(t.shape) == 4 else tuple(range(len(t.shape)))

    new_nodes: list[Node] = []

    def emit_transpose(src: str, perm: tuple[int, ...], logical_shape: tuple[int, ...], tag: str) -> str:
        """Physical transpose of src by perm; the result has identity layout over logical_shape."""
        name = graph.unique_name(f"{src}_{tag}")
        graph.add_tensor(Tensor(name, logical_shape))
        perm_of[name] = tuple(range(len(logical_shape)))
        new_nodes.append(Node("transpose", name, [src], [name], {"perm": perm}))
        return name

    for name in graph.inputs:
        t = graph.tensors[name]
        perm_of[name] = layout_of(t)
        graph.io[name].to_physical = perm_of[name]

    for node in graph.nodes:
        outs = [graph.tensors[o] for o in node.outputs]
        op = node.op
        if op in ("conv", "depthwise_conv", "conv_transpose"):
            w = graph.tensors[node.inputs[1]]
            node.inputs[1] = graph.add_constant(f"{node.name}_weight_ohwi",
                                                np.ascontiguousarray(w.data.transpose(0, 2, 3, 1))).name
            _carry_weight_scales(graph, w.name, node.inputs[1])
        if op == "layer_norm" and len(outs[0].shape) == 4:
            # over C, H, W (axis 1): the per-element scale and bias follow the activation to HWC
            for i in (1, 2):
                t = graph.tensors[node.inputs[i]]
                node.inputs[i] = graph.add_constant(f"{node.name}_{i}_hwc",
                                                    np.ascontiguousarray(t.data.transpose(1, 2, 0))).name
        if op == "transpose":
            # physical out = logical in .transpose(perm) .transpose(out layout), and
            # logical in = physical in .transpose(inverse of the input layout): compose the three.
            src_perm = perm_of.get(node.inputs[0], tuple(range(len(outs[0].shape))))
            out_perm = layout_of(outs[0])
            physical_perm = tuple(src_perm.index(node.attrs["perm"][a]) for a in out_perm)
            perm_of[node.outputs[0]] = out_perm
            if _same_memory_order(physical(node.inputs[0]), physical_perm):
                node.op, node.attrs = "reshape", {}
            else:
                node.attrs["perm"] = physical_perm
            new_nodes.append(node)
            continue
        if op == "reshape":
            # A reshape reads and writes row-major logical order: leave and re-enter NHWC around it.
            src = node.inputs[0]
            src_perm = perm_of.get(src, tuple(range(len(graph.tensors[src].shape))))
            logical_in = graph.tensors[src].shape
            if not _same_memory_order(logical_in, src_perm):
                src = emit_transpose(src, _inverse(src_perm), logical_in, "nchw")
            out = outs[0]
            out_perm = layout_of(out)
            node.inputs = [src]
            if _same_memory_order(out.shape, out_perm):
                new_nodes.append(node)
            else:
                mid = graph.unique_name(f"{out.name}_rowmajor")
                graph.add_tensor(Tensor(mid, out.shape))
                perm_of[mid] = tuple(range(len(out.shape)))
                node.outputs = [mid]
                new_nodes.append(node)
                new_nodes.append(Node("transpose", f"{node.name}_to_nhwc", [mid], [out.name], {"perm": out_perm}))
            perm_of[out.name] = out_perm
            continue
        if op == "matmul" or (op == "fully_connected" and len(graph.tensors[node.inputs[0]].shape) == 4):
            # the product runs over the logical last two axes (a fully connected layer: over the last
            # axis, the others its rows), row-major: leave and re-enter NHWC around it
            # (the same bytes in another shape where only axes of size 1 move: a reshape, no copy)
            for i, src in enumerate(node.inputs):
                logical = graph.tensors[src].shape
                src_perm = perm_of.get(src, tuple(range(len(logical))))
                if src_perm == tuple(range(len(logical))):
                    continue
                if _same_memory_order(logical, src_perm):
                    view = graph.unique_name(f"{src}_rowmajor")
                    graph.add_tensor(Tensor(view, logical))
                    perm_of[view] = tuple(range(len(logical)))
                    new_nodes.append(Node("reshape", view, [src], [view]))
                    node.inputs[i] = view
                else:
                    node.inputs[i] = emit_transpose(src, _inverse(src_perm), logical, "rowmajor")
            out = outs[0]
            out_perm = layout_of(out)
            perm_of[out.name] = out_perm
            new_nodes.append(node)
            if out_perm != tuple(range(len(out.shape))):
                mid = graph.unique_name(f"{out.name}_rowmajor")
                graph.add_tensor(Tensor(mid, out.shape))
                perm_of[mid] = tuple(range(len(out.shape)))
                node.outputs = [mid]
                back = ("reshape", {}) if _same_memory_order(out.shape, out_perm) else ("transpose", {"perm": out_perm})
                new_nodes.append(Node(back[0], f"{node.name}_to_nhwc", [mid], [out.name], back[1]))
            continue
        if op in ("concat", "softmax"):
            src_perm = perm_of.get(node.inputs[0], tuple(range(len(outs[0].shape))))
            node.attrs["axis"] = src_perm.index(node.attrs["axis"])
            perm_of[node.outputs[0]] = src_perm
            rank = len(outs[0].shape)
            if op == "softmax" and node.attrs["axis"] != rank - 1:
                # the kernel normalises rows: move the axis innermost, and the result back
                axis = node.attrs["axis"]
                perm = tuple(a for a in range(rank) if a != axis) + (axis,)
                src = node.inputs[0]
                moved = tuple(physical(src)[a] for a in perm)
                node.inputs = [emit_transpose(src, perm, moved, "softmax_rows")]
                rows = graph.unique_name(f"{node.outputs[0]}_rows")
                graph.add_tensor(Tensor(rows, moved))
                perm_of[rows] = tuple(range(rank))
                final = node.outputs[0]
                node.outputs, node.attrs["axis"] = [rows], rank - 1
                new_nodes.append(node)
                new_nodes.append(Node("transpose", f"{node.name}_back", [rows], [final], {"perm": _inverse(perm)}))
                continue
        elif op == "slice":  # positions per axis follow the axes into memory order
            src_perm = perm_of.get(node.inputs[0], tuple(range(len(outs[0].shape))))
            node.attrs["indices"] = tuple(node.attrs["indices"][a] for a in src_perm)
            perm_of[node.outputs[0]] = src_perm
        elif op == "reduce":
            # The axes follow the input's layout; what the kernel writes is the input's physical
            # order without the axes dropped (keepdims=0): a transpose puts it in the output's layout.
            rank = len(graph.tensors[node.inputs[0]].shape)
            src_perm = perm_of.get(node.inputs[0], tuple(range(rank)))
            axes = node.attrs["axes"]
            node.attrs["axes"] = tuple(sorted(src_perm.index(a) for a in axes))
            if node.attrs["keepdims"]:
                natural = src_perm
            else:
                kept = [a for a in range(rank) if a not in axes]
                natural = tuple(kept.index(a) for a in src_perm if a not in axes)
            out_perm = layout_of(outs[0])
            to_layout = tuple(natural.index(a) for a in out_perm)
            if _same_memory_order(tuple(outs[0].shape[a] for a in natural), to_layout):
                perm_of[node.outputs[0]] = out_perm
            else:
                mid = graph.unique_name(f"{outs[0].name}_reduced")
                graph.add_tensor(Tensor(mid, outs[0].shape))
                perm_of[mid] = natural
                node.outputs = [mid]
                new_nodes.append(node)
                new_nodes.append(Node("transpose", f"{node.name}_to_layout", [mid], [outs[0].name],
                                      {"perm": to_layout}))
                perm_of[outs[0].name] = out_perm
                continue
        elif op == "pad":
            src_perm = perm_of.get(node.inputs[0], tuple(range(len(outs[0].shape))))
            node.attrs["pads"] = [node.attrs["pads"][a] for a in src_perm]
            perm_of[node.outputs[0]] = src_perm
        elif op in ("add", "sub", "mul"):
            out_perm = layout_of(outs[0])
            for i, name in enumerate(node.inputs):
                t = graph.tensors[name]
                full = (1,) * (len(outs[0].shape) - len(t.shape)) + t.shape
                if t.is_constant:
                    data = t.data.reshape(full).transpose(out_perm)
                    node.inputs[i] = graph.add_constant(f"{name}_nhwc", np.ascontiguousarray(data)).name
                elif len(t.shape) != len(outs[0].shape):
                    raise McugenError(f"{op} {node.name!r} broadcasts activations of different ranks; "
                                      "mcugen broadcasts constants only")
            perm_of[node.outputs[0]] = out_perm
        elif op in ("lstm", "gru"):
            # Recurrent layers read [1, T, input] and write [1, T, 1, H] (or [1, 1, H]) row-major:
            # time is not a spatial axis, so the rank-4 Y stays in its logical order.
            src = node.inputs[0]
            src_perm = perm_of.get(src, tuple(range(len(graph.tensors[src].shape))))
            if not _same_memory_order(graph.tensors[src].shape, src_perm):
                node.inputs[0] = emit_transpose(src, _inverse(src_perm), graph.tensors[src].shape, "rowmajor")
            perm_of[node.outputs[0]] = tuple(range(len(outs[0].shape)))
        else:
            perm_of[node.outputs[0]] = layout_of(outs[0])
        new_nodes.append(node)

    graph.nodes = new_nodes
    for name, t in graph.tensors.items():
        if not t.is_constant and name in perm_of:
            t.shape = physical(name)
    for name in graph.outputs:
        graph.io[name].to_physical = perm_of[name]


def fold_transpose_into_fully_connected(graph: Graph) -> None:
    """transpose(NHWC→NCHW) → reshape → fully_connected: permute the weight columns instead."""
    for fc in [n for n in graph.nodes if n.op == "fully_connected"]:
        reshape = graph.producer(fc.inputs[0])
        if reshape is None or reshape.op != "reshape" or _sole_consumer(graph, fc.inputs[0]) is not fc:
            continue
        while True:  # a chain of reshapes (a 1-D layer's squeeze, then Flatten) moves no bytes either
            before = graph.producer(reshape.inputs[0])
            if before is None or before.op != "reshape" or _sole_consumer(graph, reshape.inputs[0]) is not reshape:
                break
            reshape = before
        transpose = graph.producer(reshape.inputs[0])
        if transpose is None or transpose.op != "transpose" or _sole_consumer(graph, reshape.inputs[0]) is not reshape:
            continue
        src = graph.tensors[transpose.inputs[0]]
        w = graph.tensors[fc.inputs[1]].data
        if w.shape[1] != src.size:
            continue
        # Column j of W reads logical element j; in memory that element sits at position order[j].
        order = np.arange(src.size).reshape(src.shape).transpose(transpose.attrs["perm"]).reshape(-1)
        new_w = np.empty_like(w)
        new_w[:, order] = w
        old_w = fc.inputs[1]
        fc.inputs[1] = graph.add_constant(f"{fc.name}_weight_nhwc", new_w).name
        _carry_weight_scales(graph, old_w, fc.inputs[1])
        reshape.inputs = [transpose.inputs[0]]
        graph.nodes.remove(transpose)


def remove_noop_reshapes(graph: Graph) -> None:
    for node in [n for n in graph.nodes if n.op == "reshape"]:
        src, dst = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        if src.shape == dst.shape and node.outputs[0] not in graph.outputs:
            _bypass(graph, node)
