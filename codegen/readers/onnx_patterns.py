"""Patterns in an ONNX graph that mcugen maps as one operator, rewritten before the mapping.

Layer normalization as exporters wrote it before opset 17 (PyTorch's legacy exporter), over the
trailing axes k..r-1 of X:
  M = ReduceMean(X, axes, keepdims=1); D = Sub(X, M); P = Pow(D, 2) (or Mul(D, D));
  V = ReduceMean(P, axes, keepdims=1); S = Sqrt(Add(V, eps)); N = Div(D, S);
  then optionally Mul(N, gamma) and Add(., beta) with constant gamma, beta
becomes LayerNormalization(X, gamma or ones, beta or none; axis=k, epsilon=eps). The rewrite needs
every intermediate tensor to be used only inside the pattern, so it never changes what a model
computes; a partial match is left alone (and its ReduceMean / Sqrt are then mapped, or refused,
one by one).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper


def fuse_layer_norm(model: onnx.ModelProto, shapes: dict[str, tuple[int, ...]]) -> onnx.ModelProto:
    graph = model.graph
    consts = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    outputs = {o.name for o in graph.output}
    users: dict[str, list[onnx.NodeProto]] = {}
    producer: dict[str, onnx.NodeProto] = {}
    for node in graph.node:
        for name in dict.fromkeys(node.input):  # Mul(D, D) uses D once
            users.setdefault(name, []).append(node)
        for name in node.output:
            producer[name] = node

    def only_user(tensor: str, op_type: str) -> onnx.NodeProto | None:
        found = users.get(tensor, [])
        if tensor in outputs or len(found) != 1 or found[0].op_type != op_type:
            return None
        return found[0]

    def other_input(node: onnx.NodeProto, tensor: str) -> str | None:
        rest = [i for i in node.input if i != tensor]
        return rest[0] if len(node.input) == 2 and len(rest) == 1 else None

    def scalar(name: str | None) -> float | None:
        value = consts.get(name) if name else None
        if value is None or value.size != 1 or value.dtype.kind != "f":
            return None
        return float(value.reshape(-1)[0])

    def mean_axes(node: onnx.NodeProto, rank: int) -> tuple[int, ...] | None:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get("keepdims", 1) != 1 or attrs.get("noop_with_empty_axes", 0):
            return None
        if len(node.input) > 1 and node.input[1]:
            if node.input[1] not in consts or consts[node.input[1]].dtype.kind not in "iu":
                return None
            axes = consts[node.input[1]].reshape(-1).tolist()
        else:
            axes = attrs.get("axes")
        if not axes or not all(isinstance(a, int) and -rank <= a < rank for a in axes):
            return None  # left to the ReduceMean mapping, which names what is wrong
        return tuple(sorted(a % rank for a in axes))

    fused: list[tuple[list[onnx.NodeProto], onnx.NodeProto]] = []
    for first in graph.node:
        if first.op_type != "ReduceMean" or first.input[0] not in shapes:
            continue
        x = first.input[0]
        rank = len(shapes[x])
        axes = mean_axes(first, rank)
        if axes is None or axes != tuple(range(axes[0], rank)):
            continue
        sub = [u for u in users.get(first.output[0], []) if u.op_type == "Sub"]
        if first.output[0] in outputs or len(users.get(first.output[0], [])) != 1 or len(sub) != 1 \
                or list(sub[0].input) != [x, first.output[0]]:
            continue
        d = sub[0].output[0]
        d_users = users.get(d, [])
        if d in outputs or len(d_users) != 2:
            continue
        square = next((u for u in d_users if (u.op_type == "Pow" and list(u.input[:1]) == [d]
                                               and scalar(u.input[1]) == 2.0)
                       or (u.op_type == "Mul" and list(u.input) == [d, d])), None)
        div = next((u for u in d_users if u.op_type == "Div" and list(u.input[:1]) == [d]), None)
        if square is None or div is None:
            continue
        second = only_user(square.output[0], "ReduceMean")
        if second is None or mean_axes(second, rank) != axes:
            continue
        add_eps = only_user(second.output[0], "Add")
        eps = scalar(other_input(add_eps, second.output[0])) if add_eps is not None else None
        sqrt = only_user(add_eps.output[0], "Sqrt") if eps is not None else None
        if sqrt is None or only_user(sqrt.output[0], "Div") is not div or div.input[1] != sqrt.output[0]:
            continue
        chain = [first, sub[0], square, second, add_eps, sqrt, div]
        end = div.output[0]
        gamma = beta = None
        mul = only_user(end, "Mul")
        if mul is not None and other_input(mul, end) in consts:
            gamma = other_input(mul, end)
            chain.append(mul)
            end = mul.output[0]
            add = only_user(end, "Add")
            if add is not None and other_input(add, end) in consts:
                beta = other_input(add, end)
                chain.append(add)
                end = add.output[0]
        if gamma is None:
            gamma = f"{end}_layer_norm_scale"
            graph.initializer.append(numpy_helper.from_array(np.ones(shapes[x][axes[0]:], np.float32), gamma))
        node = helper.make_node("LayerNormalization", [x, gamma] + ([beta] if beta else []), [end],
                                name=first.name or end, axis=axes[0], epsilon=eps)
        fused.append((chain, node))
    if not fused:
        return model
    removed = {id(n) for chain, _ in fused for n in chain}
    replacement = {id(chain[-1]): node for chain, node in fused}
    kept = [replacement.get(id(n), n) for n in graph.node if id(n) not in removed or id(n) in replacement]
    del graph.node[:]
    graph.node.extend(kept)
    return model
