"""`mcugen inspect`: the per-layer table of a model as mcugen will run it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from mcugen.emit.library import REPORT, REPORT_VERSION
from mcugen.errors import McugenError
from mcugen.ir import Graph
from mcugen.ops import op_for
from mcugen.ops.base import WEIGHTED_OPS, per_channel_weights


def layer_table(graph: Graph) -> dict:
    """Per layer: op, shapes, parameters, MACs, int8 weight bytes, activation bytes; and totals."""
    rows = []
    for node in graph.nodes:
        op = op_for(node)
        consts = [graph.tensors[i] for i in node.inputs if graph.tensors[i].is_constant]
        params = sum(t.size for t in consts)
        weight_bytes = 0
        for t in consts:
            # weights become int8, biases int32; a per-channel multiplier (4) and shift (1) add 5 bytes a channel
            weight_bytes += t.size * (4 if len(t.shape) == 1 and node.op in WEIGHTED_OPS else 1)
        if node.op in WEIGHTED_OPS:
            weight_bytes += 5 * graph.tensors[node.inputs[1]].shape[0]
        x = [graph.tensors[i] for i in node.inputs if not graph.tensors[i].is_constant]
        y = graph.tensors[node.outputs[0]]
        rows.append(dict(name=node.name, op=node.op + (f"+{_act_name(node)}" if "act" in node.attrs else ""),
                         input_shape=list(x[0].shape) if x else [], output_shape=list(y.shape),
                         params=int(params), macs=int(op.macs(node, graph)), weight_bytes=int(weight_bytes),
                         activation_bytes=int(y.size), zero_weights=_zero_codes(node, graph)))
    totals = {k: sum(r[k] for r in rows) for k in ("params", "macs", "weight_bytes")}
    totals["peak_activation_bytes"] = max((r["activation_bytes"] for r in rows), default=0)
    return dict(model=graph.name, source=graph.source, layers=rows, totals=totals, notes=graph.notes,
                inputs=[dict(name=n, shape=list(graph.io[n].onnx_shape), layout=graph.io[n].layout)
                        for n in graph.inputs],
                outputs=[dict(name=n, shape=list(graph.io[n].onnx_shape), layout=graph.io[n].layout)
                         for n in graph.outputs])


def _zero_codes(node, graph: Graph) -> float | None:
    """The share of a conv / fully connected layer's weights whose int8 code is 0 (per-channel
    symmetric rounding, as generate quantizes them): where sparse storage can pay (ops/sparse.py)."""
    if node.op not in ("conv", "fully_connected") or not graph.tensors[node.inputs[1]].is_constant:
        return None
    w = graph.const(node.inputs[1])
    if w.size == 0 or not np.all(np.isfinite(w)):
        return None
    codes, _ = per_channel_weights(w)
    return round(float(np.mean(codes == 0)), 4)


def storage_rows(graph: Graph) -> list[dict]:
    """Per conv / fully connected layer of a quantized graph whose C was generated: the storage its
    weights got (dense, sparse: ops/sparse.py, codebook: ops/codebook.py), their density and bytes, dense
    and as stored."""
    return [dict(layer=node.name, **node.q["storage"]) for node in graph.nodes if "storage" in node.q]


def format_storage(rows: list[dict]) -> list[str]:
    """generate's lines for the layers stored sparse or as codebook indices (nothing when every layer is dense)."""
    sparse = [r for r in rows if r["format"] != "dense"]
    if not sparse:
        return []
    saved = sum(r["dense_bytes"] - r["bytes"] for r in sparse)
    out = [f"  sparse or codebook weights in {len(sparse)} of {len(rows)} int8 conv/FC layers, {saved:,} B saved:"]
    out += [f"    {_short(r['layer'])}: {r['format']}, {r['density']:.0%} nonzero, {r['dense_bytes']:,} -> "
            f"{r['bytes']:,} B" for r in sparse]
    return out


def _act_name(node) -> str:
    lo, hi = node.attrs["act"]
    if lo == 0 and hi == float("inf"):
        return "relu"
    if lo == 0 and hi == 6:
        return "relu6"
    return f"clip({lo:g},{hi:g})"


def _short(name: str, width: int = 40) -> str:
    return name if len(name) <= width else name[: width // 2 - 1] + "..." + name[-(width // 2 - 2):]


def format_table(table: dict) -> str:
    headers = ["#", "layer", "op", "input", "output", "params", "MACs", "weight B", "act B", "zero w"]
    def dims(shape: list[int]) -> str:
        return "x".join(map(str, shape))

    rows = [[str(i), _short(r["name"]), r["op"], dims(r["input_shape"]), dims(r["output_shape"]),
             f"{r['params']:,}", f"{r['macs']:,}", f"{r['weight_bytes']:,}", f"{r['activation_bytes']:,}",
             "" if r["zero_weights"] is None else f"{r['zero_weights']:.0%}"]
            for i, r in enumerate(table["layers"])]
    t = table["totals"]
    rows.append(["", "total", "", "", "", f"{t['params']:,}", f"{t['macs']:,}", f"{t['weight_bytes']:,}",
                 f"{t['peak_activation_bytes']:,} peak", ""])
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    right = {0, 5, 6, 7, 8, 9}

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    out = [f"model {table['model']} ({table['source']})"]
    kind = "TFLite" if str(table["source"]).lower().endswith(".tflite") else "ONNX"
    for io in table["inputs"]:
        out.append(f"  input  {io['name']}: {io['shape']} ({kind}), runs as {io['layout']}")
    for io in table["outputs"]:
        out.append(f"  output {io['name']}: {io['shape']} ({kind}), runs as {io['layout']}")
    out += [f"  note: {n}" for n in table["notes"]]
    out += ["", line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in rows[:-1]] + [line(["-" * w for w in widths]), line(rows[-1])]
    return "\n".join(out)


REPORT_LIMIT = 16 << 20  # a report names each layer once; a larger file is not one mcugen wrote
_ROW_FIELDS = {"index": int, "layer": str, "op": str, "storage": str, "density": (float, int, type(None)),
               "params": int, "float32_bytes": int, "dense_int8_bytes": int, "bytes": int, "macs": int,
               "macs_skipped": int}
_TOTAL_FIELDS = {"float32_bytes": int, "dense_int8_bytes": int, "bytes": int, "macs": int, "macs_skipped": int,
                 "ratio_float32": (float, int), "ratio_dense_int8": (float, int)}


def read_report(folder: Path) -> dict:
    """The mcugen.json generate wrote into a library folder, checked field by field: the folder is
    untrusted input, so anything else is one sentence (McugenError), never a traceback."""
    path = folder / REPORT
    hint = "generate the library again with `mcugen generate ... -o` (this mcugen writes it)"
    if not path.is_file() or path.is_symlink():
        raise McugenError(f"{folder} is a folder without {REPORT}: neither a model file nor a library mcugen "
                          "generated; give an .onnx or .tflite file, or the folder `mcugen generate -o` wrote")
    try:
        if path.stat().st_size > REPORT_LIMIT:
            raise ValueError("too large")
        report = json.loads(path.read_bytes().decode("utf-8"),
                            parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    except (OSError, ValueError, RecursionError) as e:
        raise McugenError(f"{path} is not a report mcugen wrote ({type(e).__name__}: unreadable, "
                          f"not UTF-8 JSON or too large); {hint}") from None
    problem = _report_problem(report)
    if problem:
        raise McugenError(f"{path} is not a report mcugen wrote: {problem}; {hint}")
    return report


def _typed(value: object, kind) -> bool:
    if isinstance(value, bool):  # JSON true is not a count
        return False
    return isinstance(value, kind) and (not isinstance(value, float) or math.isfinite(value))


def _report_problem(report: object) -> str | None:
    if not isinstance(report, dict):
        return "its top level is not an object"
    if report.get("mcugen_report") != REPORT_VERSION:
        return f"its mcugen_report version is not {REPORT_VERSION}"
    if not isinstance(report.get("model"), str):
        return "it names no model"
    layers, totals = report.get("layers"), report.get("totals")
    if not isinstance(layers, list) or not isinstance(totals, dict):
        return "it has no layers list or no totals object"
    for i, row in enumerate(layers):
        if not isinstance(row, dict):
            return f"layer {i} is not an object"
        for key, kind in _ROW_FIELDS.items():
            if not _typed(row.get(key), kind):
                return f"layer {i} has no valid {key!r}"
            if kind is int and row[key] < 0:
                return f"layer {i} has a negative {key!r}"
    for key, kind in _TOTAL_FIELDS.items():
        if not _typed(totals.get(key), kind) or totals[key] < 0:
            return f"its totals have no valid {key!r}"
    return None


def format_report(report: dict) -> str:
    """`mcugen inspect out/`: per weighted layer the storage, density, bytes before (dense int8) and
    after, MACs skipped; the totals and the compression ratios against float32 and dense int8."""
    headers = ["#", "layer", "op", "storage", "density", "float32 B", "int8 B", "stored B", "MACs", "skipped"]
    rows = [[str(r["index"]), _short(r["layer"]), _short(r["op"], 20), _short(r["storage"], 16),
             "" if r["density"] is None else f"{r['density']:.0%}", f"{r['float32_bytes']:,}",
             f"{r['dense_int8_bytes']:,}", f"{r['bytes']:,}", f"{r['macs']:,}",
             f"{r['macs_skipped'] / max(r['macs'], 1):.0%}" if r["macs_skipped"] else ""]
            for r in report["layers"]]
    t = report["totals"]
    total = ["", "total", "", "", "", f"{t['float32_bytes']:,}", f"{t['dense_int8_bytes']:,}", f"{t['bytes']:,}",
             f"{t['macs']:,}", f"{t['macs_skipped'] / max(t['macs'], 1):.0%}" if t["macs_skipped"] else ""]
    widths = [max(len(h), len(total[i]), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    right = {0, 4, 5, 6, 7, 8, 9}

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    out = [f"library of model {_short(report['model'])}: {len(rows)} weighted layers", "",
           line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in rows] + [line(["-" * w for w in widths]), line(total), ""]
    out.append(compression_line(t))
    return "\n".join(out)


def compression_line(totals: dict) -> str:
    """The total compression: float32 -> what was emitted, and dense int8 -> what was emitted."""
    return (f"  compression: float32 {totals['float32_bytes']:,} B -> {totals['bytes']:,} B emitted "
            f"({totals['ratio_float32']:.2f}x); dense int8 {totals['dense_int8_bytes']:,} B "
            f"({totals['ratio_dense_int8']:.2f}x)")
