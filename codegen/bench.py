"""`mcugen bench`: exact instructions per inference and per layer, flash, RAM and compile time.

Each model is compiled, built for an emulated board and run once in QEMU with a TCG plugin
(firmware/qemu/mcugen_count_plugin.c, built with the host gcc into the cache folder) that
prints the running instruction count whenever execution reaches a marker: the runtime's
`mcugen_bench_invoke_begin` / `_end` around `<model>_invoke` and the layer hook's entry after
every layer. Differences of those counts are exact instructions, whatever the board's timers
do (mps2 SysTick ticks once per 40 instructions, mps2-an505's not even at that rate).

Per layer, the count runs from one layer hook's entry to the next: it holds the layer's kernel
calls, the hook call and the hook's early return (a few instructions each); the first layer
also holds invoke's prologue, and what follows the last hook (invoke's return) is reported
apart, so the layers plus that tail add up to the whole inference.

The stack is measured by the firmware (painted before the inference, scanned after) and read
out of the guest's memory through QEMU's QMP socket; flash is split into the weight arrays,
the model's code (kernels, schedule and its parameter structs) and everything else (runtime,
board support, libgcc, vectors), from the symbols of the ELF and of the model's objects.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType

import serial

from mcugen.errors import McugenError
from mcugen.ir import Graph
from mcugen.quant.quantize import Precision
from mcugen.resources import data_dir
from mcugen.tables import display_names, text_table
from mcugen.target.board import Board
from mcugen.target.build import build_firmware, find_toolchain
from mcugen.target.firmware_sources import LAYER_HOOK_FUNCTION, model_library_sources
from mcugen.target.flash import QEMU_PORT_LINE, qemu_command
from mcugen.target.protocol import BoardLink

PLUGIN_SOURCE = ("qemu", "mcugen_count_plugin.c")
BEGIN, END = "mcugen_bench_invoke_begin", "mcugen_bench_invoke_end"
STACK_SYMBOLS = ("mcugen_stack_peak_bytes", "mcugen_stack_invoke_bytes")
REPOSITORY = Path(__file__).resolve().parent.parent
BENCHMARKS = REPOSITORY / "benchmarks"  # present in a checkout, not in an installed wheel
INFER_TIMEOUT = 300.0  # seconds one inference may take in QEMU (the plugin slows it ~2x)


# ---------------------------------------------------------------------- the plugin


def cache_dir(explicit: str | Path | None = None) -> Path:
    """Where bench keeps the plugin, the suite's models and its builds: --cache, $MCUGEN_CACHE,
    else $XDG_CACHE_HOME/mcugen or ~/.cache/mcugen."""
    if explicit:
        path = Path(explicit)
    elif os.environ.get("MCUGEN_CACHE"):
        path = Path(os.environ["MCUGEN_CACHE"])
    else:
        path = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mcugen"
    if path.exists() and not path.is_dir():
        raise McugenError(f"the cache folder {path} is a file; pass --cache with a folder")
    path.mkdir(parents=True, exist_ok=True)
    return path


def build_plugin(cache: Path) -> Path:
    """The counting plugin as a shared object, compiled once per source version into the cache."""
    source = data_dir("firmware").joinpath(*PLUGIN_SOURCE)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:12]
    plugin = cache / f"mcugen_count_plugin-{digest}.so"
    if plugin.is_file():
        return plugin
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        raise McugenError("bench builds a QEMU plugin with the host C compiler, and none is on PATH; "
                          "install it with `apt-get install gcc`")
    cache.mkdir(parents=True, exist_ok=True)
    partial = plugin.with_suffix(f".{os.getpid()}.tmp")
    done = subprocess.run([cc, "-shared", "-fPIC", "-O2", "-Wall", "-o", str(partial), str(source)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise McugenError(f"compiling the QEMU counting plugin failed: {(done.stdout + done.stderr).strip()}")
    partial.replace(plugin)
    return plugin


def elf_symbols(nm: str, path: Path) -> dict[str, tuple[int, int, str]]:
    """name -> (address, size, nm type letter) of every defined symbol."""
    out = subprocess.run([nm, "-S", "--defined-only", str(path)], capture_output=True, text=True)
    if out.returncode != 0:
        raise McugenError(f"{nm} could not read {path}: {out.stderr.strip()}")
    symbols = {}
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4:
            symbols.setdefault(parts[3], (int(parts[0], 16), int(parts[1], 16), parts[2]))
        elif len(parts) == 3:
            symbols.setdefault(parts[2], (int(parts[0], 16), 0, parts[1]))
    return symbols


def parse_marks(log: str) -> list[tuple[int, int]]:
    """(marker index, instructions executed so far) for each line the plugin wrote, in order."""
    return [(int(k), int(n)) for k, n in re.findall(r"^mark (\d+) (\d+)$", log, re.M)]


# ---------------------------------------------------------------------- one counted inference


@dataclass
class InvokeCount:
    """One inference in QEMU, counted by the plugin."""

    instructions: int  # from the begin marker to the end marker
    layer_marks: list[int]  # instructions from the begin marker to each layer hook's entry
    ticks: int  # what the board's own counter said (verify's number)
    tick_unit: str
    stack_peak: int  # bytes below the top of the stack at the deepest point of the inference
    stack_invoke: int  # of which below the stack pointer at the call of invoke
    output: bytes


def _qmp(sock_path: Path, commands: list[dict]) -> list[dict]:
    """Send QMP commands (after the capabilities handshake) and return their answers."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(str(sock_path))
        stream = s.makefile("rw")

        def answer() -> dict:
            while True:  # skip asynchronous events
                reply = json.loads(stream.readline())
                if "return" in reply or "error" in reply or "QMP" in reply:
                    return reply

        answer()
        replies = []
        for command in [{"execute": "qmp_capabilities"}, *commands]:
            stream.write(json.dumps(command) + "\n")
            stream.flush()
            replies.append(answer())
        return replies[1:]


def _read_words(sock_path: Path, addresses: list[int], folder: Path) -> list[int]:
    """u32 values of guest memory as the CPU sees it (QMP memsave: on mps2-an505 the secure
    alias of the RAM is not in the physical view that pmemsave reads)."""
    files = [folder / f"word{i}.bin" for i in range(len(addresses))]
    try:
        replies = _qmp(sock_path, [{"execute": "memsave", "arguments": {"val": a, "size": 4, "filename": str(f)}}
                                   for a, f in zip(addresses, files)])
    except (OSError, ValueError) as exc:  # no socket, a timeout, or a line that is not JSON
        raise McugenError(f"QEMU's QMP socket did not answer the stack read ({exc}); check the QEMU "
                          "installation (qemu-system-arm 7.2)") from None
    if any("error" in r for r in replies):
        raise McugenError(f"QEMU could not read the stack measurement: {replies}")
    return [int.from_bytes(f.read_bytes(), "little") for f in files]


@contextlib.contextmanager
def _counting_qemu(board: Board, elf: Path, plugin: Path, marks: list[int], folder: Path) -> Iterator[tuple]:
    """QEMU with the plugin, its log file and a QMP socket in `folder`; ended by PID (SIGTERM lets it
    write the plugin's last lines)."""
    log, err, qmp = folder / "plugin.log", folder / "qemu.err", folder / "qmp.sock"
    command = [*qemu_command(board, elf), "-plugin", f"{plugin},marks={':'.join(hex(m) for m in marks)}",
               "-d", "plugin", "-D", str(log), "-qmp", f"unix:{qmp},server=on,wait=off"]
    with err.open("wb") as err_file:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err_file)
    port = None
    try:
        deadline = time.monotonic() + 15
        while not (found := QEMU_PORT_LINE.search(err.read_text(errors="replace"))):
            if process.poll() is not None or time.monotonic() > deadline:
                raise McugenError(f"QEMU ({board.qemu_machine}) with the counting plugin did not start: "
                                  f"{err.read_text(errors='replace').strip() or 'no message'}")
            time.sleep(0.02)
        port = serial.serial_for_url(f"socket://127.0.0.1:{found.group(1)}", timeout=1.0)
        yield port, log, qmp
    finally:
        if port is not None:
            port.close()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def count_invoke(board: Board, elf: str | Path, input_bytes: bytes, *, cache: Path,
                 model_hash: str | None = None, layers: int | None = None) -> InvokeCount:
    """Run one inference of the firmware in QEMU and count its instructions exactly.

    The firmware must be mcugen's (runtime markers); with the layer hook built in, every layer
    is marked too. `layers`, when given, is checked against the markers seen."""
    if board.qemu_machine is None:
        raise McugenError(f"bench runs in QEMU, and {board.name} has no emulator; pick one from `mcugen boards`")
    elf = Path(elf)
    symbols = elf_symbols(find_toolchain(board).nm, elf)
    missing = [s for s in (BEGIN, END, *STACK_SYMBOLS) if s not in symbols]
    if missing:
        raise McugenError(f"{elf} lacks the bench markers ({', '.join(missing)}); rebuild it with this mcugen")
    names = [BEGIN, END] + ([LAYER_HOOK_FUNCTION] if LAYER_HOOK_FUNCTION in symbols else [])
    marks = [symbols[n][0] & ~1 for n in names]  # the Thumb bit is not part of the address
    plugin = build_plugin(cache)
    with tempfile.TemporaryDirectory(prefix="mcugen-bench-") as tmp:  # short: a QMP socket path is <108 chars
        folder = Path(tmp)
        with _counting_qemu(board, elf, plugin, marks, folder) as (port, log, qmp):
            link = BoardLink(port, name=f"QEMU {board.qemu_machine}", timeout=INFER_TIMEOUT,
                             expected_hash=model_hash)
            info = link.hello()
            output, ticks = link.infer(input_bytes)
            stack_peak, stack_invoke = _read_words(qmp, [symbols[s][0] for s in STACK_SYMBOLS], folder)
        seen = [(names[k], n) for k, n in parse_marks(log.read_text())]
    begins = [i for i, (name, _) in enumerate(seen) if name == BEGIN]
    ends = [i for i, (name, _) in enumerate(seen) if name == END]
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        raise McugenError(f"the counting plugin saw {len(begins)} invoke starts and {len(ends)} ends for one "
                          "inference; check that QEMU 7.2 loads TCG plugins (-plugin)")
    start = seen[begins[0]][1]
    hooks = [n - start for name, n in seen[begins[0]:ends[0]] if name == LAYER_HOOK_FUNCTION]
    if layers is not None and LAYER_HOOK_FUNCTION in symbols and len(hooks) != layers:
        raise McugenError(f"the counting plugin saw {len(hooks)} layer hooks, the model has {layers} layers")
    return InvokeCount(seen[ends[0]][1] - start, hooks, ticks, info.tick_unit, stack_peak, stack_invoke, output)


# ---------------------------------------------------------------------- a model's bench


@dataclass
class LayerBench:
    index: int
    name: str
    op: str
    kernels: list[str]
    macs: int
    instructions: int


@dataclass
class ModelBench:
    model: str  # C name
    path: str
    board: str
    core: str
    precision: str  # the quantization plan, as generate describes it
    macs: int
    instructions: int  # exact, one inference, begin to end marker
    ticks: int  # the board's own count for the same inference (verify's figure)
    tick_unit: str
    bit_exact: bool  # the board's output equals the golden reference for the input used
    arena_bytes: int
    stack_peak_bytes: int  # measured: from the top of the stack, runtime frames included
    stack_invoke_bytes: int  # measured: below the stack pointer at the call of invoke
    stack_reserved_bytes: int
    flash_weights: int  # the weight arrays (<model>_weights.c)
    flash_model_code: int  # kernels, schedule and its parameter structs
    flash_runtime: int  # runtime, board support, libgcc, vectors, .data initial values
    compile_seconds: float  # mcugen itself: import, calibrate, quantize, emit C
    build_seconds: float  # the C compiler and linker
    run_seconds: float  # QEMU with the plugin
    tflm_instructions: int | None = None  # TFLM + CMSIS-NN on the same core, when known
    tflm_source: str | None = None
    invoke_tail: int = 0  # instructions after the last layer hook (invoke's return)
    layers: list[LayerBench] = field(default_factory=list)

    @property
    def per_mac(self) -> float:
        return self.instructions / self.macs if self.macs else float("nan")

    @property
    def vs_tflm(self) -> float | None:
        return self.instructions / self.tflm_instructions if self.tflm_instructions else None

    def as_dict(self) -> dict:
        d = asdict(self)
        d["instructions_per_mac"] = round(self.per_mac, 3) if self.macs else None
        d["times_tflm"] = None if self.vs_tflm is None else round(self.vs_tflm, 3)
        return d


def flash_split(nm: str, elf: Path, objects: list[tuple[Path, Path]], model_name: str, model_source_count: int,
                flash_used: int) -> tuple[int, int, int]:
    """(weights, model code, everything else) bytes of flash, from which object defined each ELF symbol;
    `objects` are (source, object) pairs, the model library's `model_source_count` first."""
    owner: dict[str, str] = {}
    for index, (src, obj) in enumerate(objects):
        kind = ("weights" if src.name == f"{model_name}_weights.c" else
                "model" if index < model_source_count else "runtime")
        for name in elf_symbols(nm, obj):
            owner.setdefault(name, kind)
    totals = {"weights": 0, "model": 0}
    for name, (_, size, kind) in elf_symbols(nm, elf).items():
        if kind.lower() in "trd" and owner.get(name) in totals:
            totals[owner[name]] += size
    return totals["weights"], totals["model"], flash_used - totals["weights"] - totals["model"]


def layer_details(graph: Graph, layers: list[tuple[str, str]]) -> list[tuple[str, str, list[str], int]]:
    """(name, op, kernels, MACs) of each layer the schedule runs, in layer-hook order."""
    from mcugen.ops import op_for

    nodes = {n.name: n for n in graph.nodes}
    details = []
    for name, _tensor in layers:
        node = nodes[name]
        op = op_for(node)
        kernels = [c.kernel for c in op.calls(node, graph)] or ["memcpy"]
        details.append((name, node.op, kernels, int(op.macs(node, graph))))
    return details


def bench_model(model: str | Path, board: Board, *, cache: Path, calib: str | Path | None = None,
                precision: Precision | None = None, reference: dict | None = None) -> ModelBench:
    """Compile, build and count one model on one emulated board."""
    from mcugen.compiler import compile_model
    from mcugen.data import load_samples, random_samples
    from mcugen.emit.library import generate_library
    from mcugen.graph.reference import golden_feeds, run_int
    from mcugen.target.verify import quantize_inputs

    model = Path(model)
    if not model.is_file():
        raise McugenError(f"model file {model} does not exist; give the path of an .onnx or .tflite file")
    start = time.perf_counter()
    compiled = compile_model(model, calib, precision=precision)
    work = cache / "builds" / board.name / compiled.name
    lib = generate_library(compiled.graph, work / "lib", compiled.calibration, force=True)
    compile_seconds = time.perf_counter() - start

    start = time.perf_counter()
    built = build_firmware(lib.folder, lib.name, board, work / "firmware", layer_hook=True)
    build_seconds = time.perf_counter() - start
    model_sources = len(model_library_sources(lib.folder, lib.name))
    weights, model_code, runtime = flash_split(find_toolchain(board).nm, built.elf, list(built.objects), lib.name,
                                               model_sources, built.sizes.flash_used)

    samples = (load_samples(calib, compiled.float_graph, "calibration").take(1) if calib
               else random_samples(compiled.float_graph, 1, seed=0))
    input_bytes = quantize_inputs(compiled, samples)[0].tobytes()
    outputs = run_int(compiled.graph, golden_feeds(compiled.graph, samples.inputs))
    golden = b"".join(outputs[n].reshape(-1).tobytes() for n in compiled.graph.outputs)

    start = time.perf_counter()
    count = count_invoke(board, built.elf, input_bytes, cache=cache, model_hash=lib.model_hash,
                         layers=len(lib.layers))
    run_seconds = time.perf_counter() - start

    details = layer_details(compiled.graph, lib.layers)
    previous, layers = 0, []
    for i, ((name, op, kernels, macs), mark) in enumerate(zip(details, count.layer_marks)):
        layers.append(LayerBench(i, name, op, kernels, macs, mark - previous))
        previous = mark
    ref = reference_figure(reference or {}, lib.name, board.core)
    if ref and ref["macs"] not in (None, lib.macs):
        ref = None  # the same name but another network: no yardstick
    return ModelBench(
        model=lib.name, path=str(model), board=board.name, core=board.core,
        precision=compiled.precision.describe(), macs=lib.macs,
        instructions=count.instructions, ticks=count.ticks, tick_unit=count.tick_unit,
        bit_exact=count.output == golden, arena_bytes=lib.arena_size, stack_peak_bytes=count.stack_peak,
        stack_invoke_bytes=count.stack_invoke, stack_reserved_bytes=board.stack_size, flash_weights=weights,
        flash_model_code=model_code, flash_runtime=runtime, compile_seconds=round(compile_seconds, 3),
        build_seconds=round(build_seconds, 3), run_seconds=round(run_seconds, 3),
        tflm_instructions=ref["instructions"] if ref else None, tflm_source=ref.get("source") if ref else None,
        invoke_tail=count.instructions - previous, layers=layers)


# ---------------------------------------------------------------------- the suite and the references


def _benchmarks_module(name: str) -> ModuleType:
    path = BENCHMARKS / f"{name}.py"
    if not path.is_file():
        raise McugenError(f"the default suite is built by {path}, which only a checkout of mcugen has; "
                          "pass the .onnx models to bench instead")
    spec = importlib.util.spec_from_file_location(f"mcugen_benchmarks_{name}", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def default_suite(cache: Path) -> list[tuple[Path, Path]]:
    """(model, calibration data) of the four MLPerf Tiny shapes, built with a fixed seed into the cache."""
    return _benchmarks_module("mlperf_tiny").build_suite(cache / "suite")


def reference_figure(reference: dict, name: str, core: str) -> dict | None:
    """The TFLM figure for a model by its name, or by the official .tflite file's stem it was
    measured on (reference.toml's `tflite` list), on that core."""
    if name in reference:
        return reference[name].get(core)
    for cores in reference.values():
        figure = cores.get(core)
        if figure is not None and name in figure.get("tflite", []):
            return figure
    return None


def load_reference(path: Path | None = None) -> dict:
    """{model: {core: {"instructions": n, "macs": m, "source": text}}} from benchmarks/reference.toml
    (empty without it); a model's figure applies only to a model of that name with those MACs."""
    path = path or BENCHMARKS / "reference.toml"
    if not path.is_file():
        return {}
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    table: dict = {}
    for model, entry in raw.get("models", {}).items():
        for core, instructions in entry.get("instructions", {}).items():
            table.setdefault(model, {})[core] = {"instructions": int(instructions), "macs": entry.get("macs"),
                                                 "source": raw.get("source", ""),
                                                 "tflite": list(entry.get("tflite", []))}
    return table


# ---------------------------------------------------------------------- tables


def _kb(n: int) -> str:
    return f"{n / 1024:.1f}K"


def format_models(results: list[ModelBench]) -> str:
    rows = [["model", "board", "MACs", "instructions", "instr/MAC", "x TFLM", "bit-exact", "arena B", "stack B",
             "weights", "model code", "runtime", "compile s"]]
    for r in results:
        rows.append([r.model, r.board, f"{r.macs:,}", f"{r.instructions:,}", f"{r.per_mac:.2f}",
                     "-" if r.vs_tflm is None else f"{r.vs_tflm:.2f}", "yes" if r.bit_exact else "NO",
                     f"{r.arena_bytes:,}", f"{r.stack_peak_bytes:,}", _kb(r.flash_weights), _kb(r.flash_model_code),
                     _kb(r.flash_runtime), f"{r.compile_seconds:.2f}"])
    return "\n".join(text_table(rows, left=2))


def format_layers(r: ModelBench) -> str:
    shown = display_names([layer.name for layer in r.layers], width=32)
    rows = [["#", "layer", "op", "kernel", "MACs", "instructions", "instr/MAC", "share"]]
    for layer in r.layers:
        rows.append([str(layer.index), shown[layer.name], layer.op, ",".join(dict.fromkeys(layer.kernels)),
                     f"{layer.macs:,}", f"{layer.instructions:,}",
                     f"{layer.instructions / layer.macs:.2f}" if layer.macs else "-",
                     f"{100 * layer.instructions / r.instructions:.1f} %"])
    rows.append(["", "(invoke return)", "", "", "", f"{r.invoke_tail:,}", "", ""])
    rows.append(["", "total", "", "", f"{r.macs:,}", f"{r.instructions:,}", f"{r.per_mac:.2f}", "100.0 %"])
    lines = text_table(rows, left=4)
    return "\n".join([f"{r.model} on {r.board} ({r.core}), per layer:", *lines])


# ---------------------------------------------------------------------- the command


def run_bench(args: argparse.Namespace) -> int:
    """`mcugen bench`: every model on the board, one QEMU at a time; tables or JSON on stdout."""
    from mcugen.target.board import load_board

    started = time.perf_counter()
    board = load_board(args.board)
    if board.qemu_machine is None:
        raise McugenError(f"bench counts instructions in QEMU, and {board.name} has no emulator; use an "
                          "emulated board such as mps2-an386 (mcugen boards lists them)")
    cache = cache_dir(args.cache)
    precision = Precision.from_flags(args.weights, args.activations)
    if args.models:
        if args.calib and len(args.models) > 1:
            raise McugenError("--calib belongs to one model; bench the models one at a time to give each its data")
        work = [(Path(m), Path(args.calib) if args.calib else None) for m in args.models]
    else:
        if args.calib:
            raise McugenError("--calib needs the model it belongs to; pass the .onnx file too")
        work = default_suite(cache)
    reference = load_reference()
    results, skipped = [], []
    for model, calib in work:
        if not args.json:
            print(f"mcugen: bench {model.name} on {board.name} ...", file=sys.stderr, flush=True)
        try:
            results.append(bench_model(model, board, cache=cache, calib=calib, precision=precision,
                                       reference=reference))
        except McugenError as exc:  # one model that does not fit or build must not hide the others
            if len(work) == 1:
                raise
            print(f"mcugen: error: {model.name} skipped: {exc}", file=sys.stderr)
            skipped.append(dict(model=str(model), reason=str(exc)))
    if not results:
        raise McugenError(f"no model could be benched on {board.name} (reasons above)")
    seconds = time.perf_counter() - started
    code = 1 if skipped else 0 if all(r.bit_exact for r in results) else 2
    if args.json:
        print(json.dumps(dict(board=board.name, core=board.core, seconds=round(seconds, 2),
                              models=[r.as_dict() for r in results], skipped=skipped), indent=2))
        return code
    print(format_models(results))
    if args.layers:
        for r in results:
            print()
            print(format_layers(r))
    print(f"\ninstructions are exact (QEMU plugin, one inference, layer hooks included); stack: measured "
          f"peak; flash (weights, model code, runtime) in KiB; bench took {seconds:.1f} s")
    if not all(r.bit_exact for r in results):
        print("mcugen: error: a board output differs from the golden reference (bit-exact NO): check with "
              "mcugen verify", file=sys.stderr)
    return code
