"""Emitter: integer graph + memory plan → a C library folder a firmware team can vendor as is.

Files: <name>.h (the whole API), <name>.c (the schedule), <name>_weights.{h,c} (constants in
flash), <name>_float.c (float convenience API; none for a weight-only model, whose API is float),
kernels/ (only the kernels this model calls, every symbol renamed from mcugen_ to <name>_ so two
models link into one firmware), and build glue: CMakeLists.txt, library.json (PlatformIO) and
<name>.mk (Makefile fragment).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np

from mcugen import __version__
from mcugen.emit.c_syntax import c_float, c_int, c_literal, check_model_prefix, comment_text, json_string
from mcugen.errors import McugenError
from mcugen.graph.planner import Plan, plan_memory
from mcugen.ir import Graph
from mcugen.ops import op_for
from mcugen.ops.base import ConstRef, KernelCall, pack_int4
from mcugen.resources import data_dir

MANIFEST = ".mcugen-manifest"
REPORT = "mcugen.json"  # per-layer storage and compression, read back by `mcugen inspect out/` (codegen/inspect.py)
REPORT_VERSION = 1
CALIBRATION_TEXT_LIMIT = 160  # the header's "Calibration: ..." names the --calib file
CTYPES = {"int8": "int8_t", "int32": "int32_t", "int16": "int16_t", "uint8": "uint8_t", "uint16": "uint16_t",
          "int64": "int64_t", "float32": "float"}


@dataclass
class Library:
    """What `generate` produced, with the numbers a user wants to see."""

    name: str
    folder: Path
    files: list[str]
    model_hash: str
    arena_size: int
    weight_bytes: int
    macs: int
    layers: list[tuple[str, str]]  # (node name, output tensor) of every layer that runs a kernel
    plan: Plan


def _op_ident(op: str) -> str:
    """The operator's part of a layer's identifiers: mcugen's own operator name, made safe anyway."""
    return re.sub(r"[^a-z0-9]+", "_", op.lower()).strip("_")[:16] or "op"


def format_values(values: np.ndarray, per_line: int) -> str:
    ctype = CTYPES[str(values.dtype)]
    flat = [c_literal(v, ctype) for v in values.reshape(-1).tolist()]
    rows = [", ".join(flat[i:i + per_line]) for i in range(0, len(flat), per_line)]
    return ",\n".join("    " + r for r in rows)


_UNSAFE_IN_TEMPLATE = re.compile(r"\*/|/\*|\?\?|[^\n\x20-\x7e]")


def _checked(value: object) -> object:
    """Every value a library template prints: a last line of defence should a raw name ever be
    passed to a template (use comment_text): no comment delimiters, trigraphs, controls or non-ASCII."""
    found = _UNSAFE_IN_TEMPLATE.search(str(value))
    if found:
        raise ValueError(f"unsafe text {found.group()!r} in a value given to a library template: {str(value)[:80]!r}")
    return value


def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(data_dir("templates") / "library")),
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                              undefined=jinja2.StrictUndefined, finalize=_checked)


def io_entries(graph: Graph, names: list[str], kind: str, prefix: str) -> list[dict]:
    entries, offset = [], 0
    for index, n in enumerate(names):
        t, info = graph.tensors[n], graph.io[n]
        quantized = t.dtype != "float32"  # weight-only models take and give float32
        entries.append(dict(kind=kind, index=index, onnx_name=comment_text(info.name), onnx_shape=list(info.onnx_shape),
                            layout=info.layout, shape=list(t.shape), offset=offset, size=t.nbytes,
                            count=t.size, scale=c_float(t.scale) if quantized else None,
                            zero_point=c_int(t.zero_point), macro=f"{prefix}{index}"))
        offset += t.nbytes
    return entries


def render_library(graph: Graph, calibration: str = "") -> tuple[dict[str, str], Library]:
    """All files of the library, as {relative path: text}, without touching the disk.

    No name from the model reaches the C as it is: identifiers are generated from the layer's
    index, its operator and the constant's role (`<model>_l07_conv_weights`, `<model>_l07_conv_params`),
    and comments show `comment_text(name)`, which cannot end the comment or hide characters.
    """
    check_model_prefix(graph.name)
    name, NAME = graph.name, graph.name.upper()
    plan = plan_memory(graph)
    constants: dict[str, dict] = {}
    params, steps, kernels, layers = [], [], [], []
    used_idents: set[str] = set()

    def unique(ident: str) -> str:
        candidate, i = ident, 1
        while candidate in used_idents:
            candidate, i = f"{ident}_{i}", i + 1
        used_idents.add(candidate)
        return candidate

    def const_name(tensor: str, layer: str, role: str) -> str:
        if tensor not in constants:
            t = graph.tensors[tensor]
            data = np.ascontiguousarray(t.data)
            what = f"[{', '.join(map(str, data.shape))}]"
            if t.dtype == "int4":
                data, what = pack_int4(data), f"int4 {what}, two per byte, low nibble first"
            ctype = CTYPES[str(data.dtype)]
            constants[tensor] = dict(cname=unique(f"{layer}_{role}"), ctype=ctype, count=max(data.size, 1),
                                     comment=f'"{comment_text(tensor)}": {ctype} {what}',
                                     body=format_values(data if data.size else np.zeros(1, data.dtype),
                                                        16 if data.itemsize == 1 else 8),
                                     nbytes=data.nbytes)
        return constants[tensor]["cname"]

    def pointer(tensor: str, layer: str, role: str) -> str:
        if graph.tensors[tensor].is_constant:
            return const_name(tensor, layer, role)
        p = plan.where[tensor]
        dtype = graph.tensors[tensor].dtype
        if dtype != "int8":  # regions are int8_t *; the planner keeps every offset 4-byte aligned
            if p.region == "input":
                return f"(const {CTYPES[dtype]} *)(const void *)({p.region} + {p.offset})"
            return f"({CTYPES[dtype]} *)(void *)({p.region} + {p.offset})"
        return f"{p.region} + {p.offset}"

    def field_value(value: object, layer: str, role: str) -> str:
        if isinstance(value, ConstRef):
            return const_name(value.tensor, layer, role)
        if isinstance(value, (float, np.floating)):
            return c_float(value)
        if isinstance(value, (list, tuple)):
            return "{" + ", ".join(c_int(v, "int64_t") for v in value) + "}"
        return c_int(value, "int64_t")  # plain digits within int32; the struct field gives the type

    macs = 0
    report: list[dict] = []
    for node in graph.nodes:
        op = op_for(node)
        macs += op.macs(node, graph)
        owned = len(constants)  # the constants this layer's calls name first are its flash
        src = graph.tensors[node.inputs[0]]
        out = graph.tensors[node.outputs[0]]
        comment = (f'{node.op} "{comment_text(node.name)}": [{", ".join(map(str, src.shape))}] -> '
                   f'[{", ".join(map(str, out.shape))}]')
        layer = f"{name}_l{len(layers):02d}_{_op_ident(node.op)}"
        lines: list[str] = []
        if op.aliases_input(node, graph):
            if node.name not in plan.copies:
                steps.append(dict(index="-", comment=comment + " (same bytes, no code)", lines=[]))
                continue
            source = pointer(node.inputs[0], layer, "input")
            skip = op.alias_offset(node, graph)
            if skip:  # a contiguous slice the planner could not share: its bytes start skip bytes in
                source = f"(const int8_t *)(const void *)({source}) + {skip}"
            lines.append(f"memcpy({pointer(node.outputs[0], layer, 'output')}, {source}, {out.nbytes});")
        calls: list[KernelCall] = op.calls(node, graph)
        for call in calls:
            var = unique(f"{layer}_params")
            params.append(dict(var=var, struct=call.params_type,
                               fields=[f".{k} = {field_value(v, layer, k)}," for k, v in call.params.items()]))
            args = ", ".join(pointer(a, layer, f"arg{i}") for i, a in enumerate(call.args))
            lines.append(f"{name}_{call.kernel}(&{var}, {args});")
            if call.kernel not in kernels:
                kernels.append(call.kernel)
        where = plan.where[node.outputs[0]]  # the layer hook takes bytes (const int8_t *) whatever the type
        lines.append(f"{NAME}_LAYER_DONE({len(layers)}, {where.region} + {where.offset}, {out.nbytes});")
        steps.append(dict(index=len(layers), comment=comment, lines=lines))
        row = _report_row(graph, node, len(layers), op.macs(node, graph),
                          sum(c["nbytes"] for c in list(constants.values())[owned:]))
        if row is not None:
            report.append(row)
        layers.append((node.name, node.outputs[0]))

    float_io = graph.tensors[graph.inputs[0]].dtype == "float32"  # a weight-only model
    inputs = io_entries(graph, graph.inputs, "input", f"{NAME}_INPUT")
    outputs = io_entries(graph, graph.outputs, "output", f"{NAME}_OUTPUT")
    for entry, tensor in zip(outputs, graph.outputs, strict=True):
        where = plan.where.get(tensor)
        if where is None or (where.region, where.offset) != ("output", entry["offset"]):
            # no layer writes this output (an Identity- or Dropout-only model, an input passed through)
            index, offset, size = entry["index"], entry["offset"], entry["size"]
            source = pointer(tensor, f"{name}_output{index}", "value")
            comment = f'output {index} "{entry["onnx_name"]}" is computed by no layer: copied'
            steps.append(dict(index="-", comment=comment, lines=[f"memcpy(output + {offset}, {source}, {size});"]))
    code = "\n".join(line for step in steps for line in step["lines"])
    weight_bytes = sum(c["nbytes"] for c in constants.values())
    source = Path(graph.source).name
    description = f"Neural network model {name}, compiled to int8 C by mcugen from {source or 'an ONNX model'}"
    ctx = dict(name=name, NAME=NAME, version=__version__,
               source=f'"{comment_text(source)}"' if source else "an ONNX model",
               description_json=json_string(description),
               calibration=comment_text(calibration or "not stated", CALIBRATION_TEXT_LIMIT),
               params=params, steps=steps, kernels=sorted(kernels), constants=list(constants.values()),
               arena_size=plan.arena_size, arena_alloc=max(plan.arena_size, 4),
               uses_arena=re.search(r"\barena\b", code) is not None,
               uses_input=re.search(r"\binput\b", code) is not None,
               uses_output=re.search(r"\boutput\b", code) is not None,
               inputs=inputs, outputs=outputs, input_size=sum(i["size"] for i in inputs),
               output_size=sum(o["size"] for o in outputs), layers=layers, macs=macs,
               weight_bytes=weight_bytes, float_io=float_io, io_ctype="float" if float_io else "int8_t",
               input_count=sum(i["count"] for i in inputs), output_count=sum(o["count"] for o in outputs))
    env = _environment()
    files = {
        f"{name}.c": env.get_template("model.c.j2").render(ctx),
        f"{name}_weights.h": env.get_template("weights.h.j2").render(ctx),
        f"{name}_weights.c": env.get_template("weights.c.j2").render(ctx),
    }
    model_hash = hashlib.sha256("".join(files.values()).encode()).hexdigest()[:16]
    ctx["model_hash"] = model_hash
    files[f"{name}.h"] = env.get_template("model.h.j2").render(ctx)
    if not float_io:  # a weight-only model's own API is float already
        files[f"{name}_float.c"] = env.get_template("float.c.j2").render(ctx)
    files["CMakeLists.txt"] = env.get_template("CMakeLists.txt.j2").render(ctx)
    files["library.json"] = env.get_template("library.json.j2").render(ctx)
    files[f"{name}.mk"] = env.get_template("model.mk.j2").render(ctx)
    files[REPORT] = json.dumps(compression_report(name, report, weight_bytes), indent=2) + "\n"
    for rel, text in kernel_sources(sorted(kernels)).items():
        files[f"kernels/{name}_{rel.removeprefix('mcugen_')}"] = rename_symbols(text, name)
    lib = Library(name, Path(), sorted(files), model_hash, plan.arena_size, weight_bytes, macs, layers, plan)
    return files, lib


def _report_row(graph: Graph, node, index: int, macs: int, nbytes: int) -> dict | None:
    """One weighted layer of the report: its storage, density, bytes as float32, as dense int8 and as
    emitted (every constant its calls name first: weights, bias, multipliers, index arrays), MACs
    and the MACs its sparse kernel skips. None for a layer without weights."""
    params = sum(graph.tensors[i].size for i in node.inputs if graph.tensors[i].is_constant)
    if params == 0:
        return None
    weights = graph.tensors.get(node.q.get("weights", ""))
    storage = node.q.get("storage")
    density, skipped = None, 0
    if storage is not None:  # an int8 conv / FC layer: ops/sparse.py or ops/codebook.py chose its storage
        fmt = "int8" if storage["format"] == "dense" else storage["format"]
        density = float(storage["density"])
        dense = nbytes + storage["dense_bytes"] - storage["bytes"]
        if "stored_weights" in storage:  # sparse: the kernel multiplies the stored slots only
            skipped = int(round(macs * (1 - min(storage["stored_weights"] / max(storage["weights"], 1), 1.0))))
    elif weights is not None and weights.data is not None:
        fmt = weights.dtype if weights.dtype in ("int4", "int8", "int16", "float32") else str(weights.dtype)
        density = float(np.count_nonzero(weights.data)) / max(weights.size, 1)
        # the same codes at one byte each: int4 packs two a byte, int16 and float32 take 2 and 4
        per = {"int4": 0.5, "int16": 2, "float32": 4}.get(weights.dtype, 1)
        dense = nbytes + weights.size - int(np.ceil(weights.size * per))
    else:
        fmt, dense = "int8", nbytes
    # the layer's name as the C comments show it (the file is read by people and tools: no raw bytes of the model)
    return dict(index=index, layer=comment_text(node.name), op=node.op, storage=fmt,
                density=None if density is None else round(density, 4), params=int(params),
                float32_bytes=4 * int(params), dense_int8_bytes=int(dense), bytes=int(nbytes),
                macs=int(macs), macs_skipped=skipped)


def compression_report(name: str, rows: list[dict], weight_bytes: int) -> dict:
    """The library's mcugen.json: per weighted layer what _report_row gives, and totals: every
    constant of the model as float32 (4 bytes a parameter), as dense int8 and as emitted, and the
    two ratios. Constants no weighted layer owns (a copied output's) count as they are."""
    other = weight_bytes - sum(r["bytes"] for r in rows)
    float32 = sum(r["float32_bytes"] for r in rows) + 4 * other
    dense = sum(r["dense_int8_bytes"] for r in rows) + other
    return dict(mcugen_report=REPORT_VERSION, model=name, layers=rows,
                totals=dict(float32_bytes=float32, dense_int8_bytes=dense, bytes=weight_bytes,
                            macs=sum(r["macs"] for r in rows), macs_skipped=sum(r["macs_skipped"] for r in rows),
                            ratio_float32=round(float32 / max(weight_bytes, 1), 3),
                            ratio_dense_int8=round(dense / max(weight_bytes, 1), 3)))


_INCLUDE = re.compile(r'^\s*#\s*include\s+"(mcugen_\w+\.h)"', re.MULTILINE)


def kernel_sources(kernels: list[str]) -> dict[str, str]:
    """{file name: text} of the kernels' .c/.h files and every mcugen_*.h they include, transitively.

    Header-only helpers (fixed point, DSP intrinsics, int4 fetch, float32 exp) come along exactly
    when a copied file includes them, so a kernel variant that needs a new helper just includes it.
    """
    kernel_dir = data_dir("firmware") / "kernels"
    todo = [f"mcugen_{k}{suffix}" for k in kernels for suffix in (".h", ".c")]
    sources: dict[str, str] = {}
    while todo:
        file = todo.pop()
        if file in sources:
            continue
        sources[file] = (kernel_dir / file).read_text()
        todo.extend(_INCLUDE.findall(sources[file]))
    return dict(sorted(sources.items()))


def rename_symbols(text: str, name: str) -> str:
    """mcugen_x → <name>_x and MCUGEN_X → <NAME>_X, so every symbol carries the model's prefix."""
    return re.sub(r"\bMCUGEN_", f"{name.upper()}_", re.sub(r"\bmcugen_", f"{name}_", text))


def write_library(files: dict[str, str], folder: str | Path, force: bool = False) -> list[str]:
    """Write the files into folder; delete only files mcugen can prove it wrote.

    The manifest (.mcugen-manifest) records a sha256 per file. A stale file (written by the last
    generate, not by this one) is deleted only when its path is inside the folder with no symlink
    on the way and its content still has the recorded hash; anything else is kept, and an edited
    one is named on stderr. A file mcugen cannot prove it wrote is never overwritten without
    force (with force, stderr names each one); a folder that holds other files is refused unless
    force (they are kept either way). Symlinks are never written through: -o or a folder inside
    it being a symlink is refused, and with force the link itself is replaced. Files are staged
    inside the folder first, so a failure leaves the old library whole.
    """
    folder = Path(folder)
    refuse_dangerous_output(folder)
    if folder.is_symlink():
        if not force:
            raise McugenError(f"output folder {folder} is a symlink and mcugen does not write through links; "
                              "choose a real folder, or pass --force to replace the link (not its target)")
        folder.unlink()
        print(f"mcugen: warning: replaced the symlink {folder} by a folder (--force)", file=sys.stderr)
    if folder.exists() and not folder.is_dir():
        raise McugenError(f"output path {folder} exists and is not a folder; choose another -o")
    proven: dict[str, str] = {}
    if folder.is_dir():
        proven, unproven = _read_manifest(folder)
        present, links = _walk_output(folder)
        _replace_links_on_paths(folder, files, links, force)
        foreign = sorted(present - set(proven) - set(unproven) - set(files) - {MANIFEST})
        if foreign and not force:
            shown = ", ".join(foreign[:3]) + (" ..." if len(foreign) > 3 else "")
            raise McugenError(f"output folder {folder} already holds files mcugen did not write ({shown}); "
                              "choose an empty folder or pass --force (your files are kept either way)")
        overwritten = sorted(rel for rel in files if rel in present and rel not in proven
                             and _read_or_none(folder / rel) != files[rel].encode())
        if overwritten and not force:
            shown = ", ".join(overwritten[:3]) + (" ..." if len(overwritten) > 3 else "")
            raise McugenError(f"output folder {folder} holds {shown}, which mcugen did not write (or you edited); "
                              "move your file away or pass --force to overwrite it")
        if overwritten:
            print(f"mcugen: warning: overwrote {', '.join(overwritten)} in {folder} (--force)", file=sys.stderr)
        kept = sorted(rel for rel in unproven - set(files) if rel in present)
        if kept:
            print(f"mcugen: warning: kept {', '.join(kept)} in {folder}: an earlier generate wrote "
                  f"{'it' if len(kept) == 1 else 'them'} but the content changed since (or its manifest has no "
                  "hashes), so mcugen does not delete it; remove it yourself if it is not needed", file=sys.stderr)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".mcugen-staging-") as staging:
        stage = Path(staging)
        for rel, text in files.items():
            (stage / rel).parent.mkdir(parents=True, exist_ok=True)
            (stage / rel).write_text(text, encoding="utf-8")
        for rel in files:
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(stage / rel, folder / rel)  # replaces a link itself, never its target
        hashes = {rel: hashlib.sha256(text.encode()).hexdigest() for rel, text in files.items()}
        manifest = stage / MANIFEST
        listing = "".join(f"{hashes[rel]}  {rel}\n" for rel in sorted(files))
        manifest.write_text(MANIFEST_HEADER + listing, encoding="utf-8")
        _remove_stale(folder, {rel: h for rel, h in proven.items() if rel not in files})
        os.replace(manifest, folder / MANIFEST)
    return sorted(files)


MANIFEST_HEADER = "# mcugen manifest 2: sha256  path of every file mcugen wrote here\n"
MANIFEST_LIMIT = 1 << 20  # a library lists a few dozen files; a larger manifest is not ours
_MANIFEST_LINE = re.compile(r"([0-9a-f]{64})  (\S+)")


def refuse_dangerous_output(folder: Path) -> None:
    """-o / or -o ~ (however spelled, . included) would make the whole disk or home the library folder."""
    resolved = folder.resolve()
    if resolved == Path(resolved.anchor):
        what = "a filesystem root"
    elif resolved == Path(os.path.expanduser("~")).resolve():
        what = "your home folder"
    else:
        return
    raise McugenError(f"-o {folder} is {what}; mcugen writes a library there and removes its stale files, so "
                      f"give it a folder of its own, e.g. -o {folder / 'mylib'}")


def _safe_relative(rel: str) -> bool:
    """A manifest path mcugen could have written: relative, no '..', no backslash tricks."""
    path = Path(rel)
    return bool(rel) and not path.is_absolute() and "\\" not in rel and ".." not in path.parts \
        and not rel.startswith("~") and path.parts[0] != MANIFEST


def _no_link_on_path(folder: Path, rel: str) -> bool:
    """True when folder/rel and every folder between them are real, not symlinks."""
    current = folder
    for part in Path(rel).parts:
        current = current / part
        if current.is_symlink():
            return False
    return True


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes() if path.is_file() and not path.is_symlink() else None
    except OSError:
        return None


def _read_manifest(folder: Path) -> tuple[dict[str, str], set[str]]:
    """({path: recorded sha256} of files the manifest proves, {paths it names without proof}).

    Only an entry whose path is safe and whose current content has the recorded hash is proven.
    A symlinked, unreadable, binary, oversized or malformed manifest proves nothing (the files
    stay); an old manifest (paths only, before hashes) names its files but proves none of them.
    """
    manifest = folder / MANIFEST
    if not manifest.is_file() or manifest.is_symlink():
        return {}, set()
    try:
        if manifest.stat().st_size > MANIFEST_LIMIT:
            raise ValueError("too large")
        text = manifest.read_bytes().decode("utf-8")
    except (OSError, ValueError):
        print(f"mcugen: warning: {manifest} is not a manifest mcugen wrote (unreadable, binary or too large); "
              "no file in that folder is deleted", file=sys.stderr)
        return {}, set()
    proven: dict[str, str] = {}
    named: set[str] = set()
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        found = _MANIFEST_LINE.fullmatch(line)
        rel = found.group(2) if found else line.strip()
        if not _safe_relative(rel) or not _no_link_on_path(folder, rel):
            continue  # ../x, /x or a path through a link: not a file mcugen wrote in this folder
        named.add(rel)
        content = _read_or_none(folder / rel)
        if found and content is not None and hashlib.sha256(content).hexdigest() == found.group(1):
            proven[rel] = found.group(1)
    return proven, named - set(proven)


def _walk_output(folder: Path) -> tuple[set[str], set[str]]:
    """(every file under folder, relative; every symlink under it), without following links."""
    files: set[str] = set()
    links: set[str] = set()
    for root, dirs, names in os.walk(folder):
        base = Path(root).relative_to(folder)
        for name in dirs + names:
            rel = str(base / name)
            if (Path(root) / name).is_symlink():
                links.add(rel)
                files.add(rel)
            elif name in names:
                files.add(rel)
        dirs[:] = [d for d in dirs if not (Path(root) / d).is_symlink() and not d.startswith(".mcugen-staging-")]
    return files, links


def _replace_links_on_paths(folder: Path, files: dict[str, str], links: set[str], force: bool) -> None:
    """Refuse (or with force, remove) every symlink the library's files would be written through."""
    in_the_way = sorted(link for link in links
                        if any(rel == link or rel.startswith(link + "/") for rel in files))
    if not in_the_way:
        return
    if not force:
        raise McugenError(f"{folder / in_the_way[0]} is a symlink and mcugen does not write through links; "
                          "remove it, or pass --force to replace the link (not its target)")
    for link in in_the_way:
        (folder / link).unlink()
    print(f"mcugen: warning: replaced the symlink(s) {', '.join(in_the_way)} in {folder} (--force)",
          file=sys.stderr)


def _remove_stale(folder: Path, stale: dict[str, str]) -> None:
    """Delete the files the last generate wrote and this one does not, each proven again just
    before it goes (inside folder, no link on the way, the recorded content)."""
    for rel, digest in stale.items():
        path = folder / rel
        content = _read_or_none(path) if _no_link_on_path(folder, rel) else None
        if content is not None and hashlib.sha256(content).hexdigest() == digest:
            path.unlink()


def check_build_folder(folder: str | Path) -> None:
    """A build folder (mcugen build/verify -o) is refused when it is / or home, or when it or
    anything inside it is a symlink: the build writes lib/, firmware/ and build.json there and
    must not write through a link to somewhere else."""
    folder = Path(folder)
    refuse_dangerous_output(folder)
    if folder.is_symlink():
        raise McugenError(f"build folder {folder} is a symlink and mcugen does not write through links; "
                          "choose a real folder with -o")
    if folder.is_dir():
        _, links = _walk_output(folder)
        if links:
            raise McugenError(f"{folder / sorted(links)[0]} in the build folder is a symlink and mcugen does not "
                              "write through links; remove it or choose another -o")


def check_output_file(path: str | Path, force: bool | None, option: str,
                      written_by_mcugen: Callable[[bytes], bool] | None = None) -> None:
    """Before writing one file (quantize -o, --save-plan, --plot): refuse a folder, and an existing
    file mcugen cannot recognise as its own (written_by_mcugen(its bytes)) unless force, in which
    case stderr names it (force None: the command has no --force). A symlink is removed first, so
    its target is never written."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        raise McugenError(f"{option} {path} is a folder; give a file name")
    if not (path.exists() or path.is_symlink()):
        return
    ours = (not path.is_symlink() and written_by_mcugen is not None
            and written_by_mcugen(_read_or_none(path) or b""))
    if not ours:
        if not force:
            raise McugenError(f"{option} {path} already exists and mcugen did not write it; choose another "
                              "name" + (" or pass --force to replace it" if force is not None else ""))
        print(f"mcugen: warning: replaced {path} ({option}, --force)", file=sys.stderr)
    if path.is_symlink():
        path.unlink()


def looks_like_precision_plan(data: bytes) -> bool:
    """What `--save-plan` writes: a JSON object with "default" and "layers"."""
    try:
        plan = json.loads(data.decode("utf-8"))
    except ValueError:
        return False
    return isinstance(plan, dict) and set(plan) == {"default", "layers"}


def looks_like_mcugen_plot(data: bytes) -> bool:
    """What `--plot` writes: a PNG that matplotlib made (its header names the software)."""
    return data.startswith(b"\x89PNG\r\n\x1a\n") and b"Matplotlib" in data[:512]


def generate_library(graph: Graph, folder: str | Path, calibration: str = "", force: bool = False) -> Library:
    files, lib = render_library(graph, calibration)
    lib.files = write_library(files, folder, force)
    lib.folder = Path(folder)
    return lib
