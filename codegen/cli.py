"""The `mcugen` command line. Every user mistake ends in one sentence on stderr and exit code 1."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from mcugen import __version__
from mcugen.errors import McugenError
from mcugen.project import FLASH_TOOLS
from mcugen.quant.calibrate import DEFAULT_PERCENTILE

# --- argument values: each type function turns bad text into one sentence (argparse adds the flag) ---

def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def seed_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value < 2 ** 32:
        raise argparse.ArgumentTypeError(f"{value} must be from 0 to 4294967295")
    return value


def percentile_float(text: str) -> float:
    from mcugen.quant.calibrate import check_percentile

    try:
        return check_percentile(float(text), "percentile")
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; give e.g. 99.9") from None
    except McugenError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text} must be a finite number of at least 0")
    return value


FLASH_BUDGET = re.compile(r"\s*(\d+(\.\d*)?|\.\d+)\s*(K|KB|KIB|M|MB|MIB|B|%)?\s*", re.IGNORECASE)


def check_flash_budget(text: str) -> None:
    """Before the compile: a size mixed_precision.parse_budget reads (its own sentences for most
    mistakes; nan and inf are refused here, which it would turn into a crash)."""
    from mcugen.quant.mixed_precision import parse_budget

    match = FLASH_BUDGET.fullmatch(text)
    if not match or float(match.group(1)) <= 0:
        with contextlib.suppress(ValueError, OverflowError):  # its int(nan), int(inf): our sentence below
            parse_budget(text, 100)  # its own sentence for the other mistakes
        raise McugenError(f"flash budget {text!r} is not a size like 48K, 49152, 0.5M or 60%")


def comma_list(text: str) -> list[str]:
    """'a, b,c' -> ['a', 'b', 'c']; at least one item."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise argparse.ArgumentTypeError(f"{text!r} names nothing; give a comma-separated list")
    return items


def output_file(text: str) -> str:
    """A file to write: its folder must exist and it must not be a folder itself."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file name")
    if not path.resolve().parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: its folder {path.resolve().parent} does not exist")
    return text


class Parser(argparse.ArgumentParser):
    """argparse, with a wrong or missing argument said in one line instead of usage text."""

    def error(self, message: str):  # exit code 2, as argparse's own, for a command line that cannot run
        print(f"mcugen: error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        sys.exit(2)


def input_file(path: str, what: str, hint: str) -> Path:
    from mcugen.project import check_regular_file

    return check_regular_file(Path(path), what, hint)


def model_file(path: str) -> Path:
    return input_file(path, "model file", "give the path of an .onnx or .tflite file")


def calib_of(args: argparse.Namespace) -> tuple[str | None, bool]:
    """(calibration file or None, whether random calibration was asked for with --calib random)."""
    from mcugen.project import RANDOM_CALIB

    if args.calib == RANDOM_CALIB:
        return None, True
    if args.calib is not None:
        input_file(args.calib, "calibration file", 'give an .npz or .npy file of samples, or "random"')
    return args.calib, False


def cmd_inspect(args: argparse.Namespace) -> int:
    from mcugen.compiler import load_float_graph
    from mcugen.inspect import format_report, format_table, layer_table, read_report

    if Path(args.model).is_dir():  # a library generate wrote: how its weights were stored
        report = read_report(Path(args.model))
        print(json.dumps(report, indent=2) if args.json else format_report(report))
        return 0
    table = layer_table(load_float_graph(model_file(args.model)))
    print(json.dumps(table, indent=2) if args.json else format_table(table))
    return 0


def precision_of(args: argparse.Namespace):
    from mcugen.quant.quantize import Precision

    if args.precision:
        if args.weights or args.activations:
            raise McugenError("give either --precision (a per-layer plan) or --weights/--activations, not both")
        return Precision.load(input_file(args.precision, "precision plan",
                                         "write one with `mcugen generate --save-plan`"))
    return Precision.from_flags(args.weights, args.activations)


def compile_from_args(args: argparse.Namespace):
    from mcugen.compiler import compile_model

    model = model_file(args.model)
    calib, random_calibration = calib_of(args)
    compiled = compile_model(model, calib, args.name, args.calib_samples, precision=precision_of(args),
                             method=args.method, percentile=args.percentile,
                             bias_correction=not args.no_bias_correction, allow_random=random_calibration,
                             reconstruct=bool(args.reconstruct), codebook=args.codebook)
    for w in compiled.warnings:
        print(f"mcugen: warning: {w}", file=sys.stderr)
    return compiled


def validation_samples(args: argparse.Namespace, compiled, why: str):
    from mcugen.data import load_samples

    if not args.data:
        raise McugenError(f"{why} needs validation data: pass --data val.npz (inputs, and labels y if any)")
    samples = load_samples(args.data, compiled.float_graph, "validation")
    return samples.take(args.samples) if getattr(args, "samples", None) else samples


def choose_mixed_precision(args: argparse.Namespace, compiled):
    """--flash-budget / --max-drop: search a per-layer plan, print it, and requantize with it."""
    import dataclasses

    from mcugen.ops import constant_bytes
    from mcugen.quant.mixed_precision import format_result, parse_budget, search
    from mcugen.quant.quantize import quantize

    if args.precision or args.weights or args.activations:
        raise McugenError("--flash-budget/--max-drop choose the precision themselves; drop --precision, "
                          "--weights and --activations")
    samples = validation_samples(args, compiled, "mixed precision (--flash-budget/--max-drop)")
    budget = parse_budget(args.flash_budget, constant_bytes(compiled.graph)) if args.flash_budget else None
    result = search(compiled.float_graph, compiled.ranges, samples, budget, args.max_drop)
    print(format_result(result, compiled.float_graph), file=sys.stderr if args.json else sys.stdout)
    if args.save_plan:
        result.plan.precision.save(args.save_plan)
    graph = quantize(compiled.float_graph, compiled.ranges, result.plan.precision)
    return dataclasses.replace(compiled, graph=graph, precision=result.plan.precision), result


def cmd_generate(args: argparse.Namespace) -> int:
    from mcugen.emit.library import check_output_file, generate_library, looks_like_precision_plan
    from mcugen.inspect import compression_line, format_storage, read_report, storage_rows
    from mcugen.project import check_output_folder

    check_output_folder(Path(args.output), "the output folder", "choose another -o")
    if args.flash_budget is not None:
        check_flash_budget(args.flash_budget)
    if args.save_plan:
        check_output_file(args.save_plan, args.force, "--save-plan", looks_like_precision_plan)
    start = time.perf_counter()
    compiled = compile_from_args(args)
    mixed = None
    if args.flash_budget or args.max_drop is not None:
        compiled, mixed = choose_mixed_precision(args, compiled)
    elif args.save_plan:
        compiled.precision.save(args.save_plan)
    lib = generate_library(compiled.graph, args.output, compiled.calibration, force=args.force)
    seconds = time.perf_counter() - start
    summary = dict(name=lib.name, folder=str(lib.folder), files=len(lib.files), layers=len(lib.layers),
                   macs=lib.macs, weight_bytes=lib.weight_bytes, arena_bytes=lib.arena_size,
                   model_hash=lib.model_hash, calibration=compiled.calibration,
                   precision=compiled.precision.as_dict(), seconds=round(seconds, 3))
    compression = read_report(lib.folder)["totals"]
    summary["compression"] = compression
    if mixed is not None:
        summary["mixed_precision"] = mixed.as_dict()
    storage = storage_rows(compiled.graph)
    if any(r["format"] != "dense" for r in storage):
        summary["storage"] = storage
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"wrote {lib.folder}/ ({len(lib.files)} files) for model {lib.name!r} in {seconds:.2f} s")
        print(f"  layers {len(lib.layers)}, MACs {lib.macs:,}, weights {lib.weight_bytes:,} B (flash), "
              f"arena {lib.arena_size:,} B (RAM)")
        print(f"  calibration: {compiled.calibration}; precision {compiled.precision.describe()}; "
              f"model hash {lib.model_hash}")
        for line in format_storage(storage):
            print(line)
        print(compression_line(compression))
    return 0


def cmd_quantize(args: argparse.Namespace) -> int:
    from mcugen.emit.library import check_output_file
    from mcugen.project import check_output_folder
    from mcugen.quant.qdq_export import export_qdq

    out = Path(args.output)
    check_output_folder(out.parent, "the folder of -o", "choose another -o")
    if out.resolve() == Path(args.model).resolve():
        raise McugenError("-o names the input model itself; write the quantized model to another file")
    check_output_file(out, args.force, "-o")
    if args.bits is not None:
        if args.weights or args.precision:
            raise McugenError("give either --bits or --weights/--precision, not both")
        args.weights = f"int{args.bits}"
    if args.activations not in (None, "int8"):
        raise McugenError(f"--activations {args.activations} cannot be exported: mcugen writes QDQ models with "
                          "int8 activations; generate C for the other modes")
    compiled = compile_from_args(args)
    if any(t.dtype != "int8" for t in compiled.graph.activations()):
        raise McugenError("this precision plan has int16 or float32 activations, which the QDQ export does not "
                          "write; use a plan with int8 activations (w8a8, w4a8)")
    export_qdq(compiled, out)
    print(f"wrote {out}: {len(compiled.graph.nodes)} quantized layers as QuantizeLinear/DequantizeLinear "
          f"(ONNX Runtime runs it); calibration: {compiled.calibration}; precision {compiled.precision.describe()}")
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    import onnx

    from mcugen.compiler import prune_model
    from mcugen.emit.library import check_output_file, looks_like_mcugen_plot
    from mcugen.project import check_output_folder
    from mcugen.quant.prune import format_result, plot_curves

    out = Path(args.output)
    check_output_folder(out.parent, "the folder of -o", "choose another -o")
    model = model_file(args.model)
    if out.resolve() == model.resolve():
        raise McugenError("-o names the input model itself; write the pruned model to another file")
    check_output_file(out, args.force, "-o")
    if args.plot:
        if not Path(args.plot).resolve().parent.is_dir():
            raise McugenError(f"--plot {args.plot}: its folder does not exist")
        check_output_file(args.plot, None, "--plot", looks_like_mcugen_plot)
    calib, random_calibration = calib_of(args)
    pruned, result = prune_model(model, calib, input_file(args.data, "validation data", "give an .npz file"),
                                 args.pattern, args.max_drop, args.sparsity, args.name, args.samples,
                                 prune_method=args.prune_method,
                                 calib_samples=args.calib_samples, precision=precision_of(args),
                                 method=args.method, percentile=args.percentile,
                                 bias_correction=not args.no_bias_correction, allow_random=random_calibration,
                                 reconstruct=bool(args.reconstruct), codebook=args.codebook)
    try:
        onnx.save(pruned, str(out))
    except OSError as exc:
        raise McugenError(f"cannot write {out} ({exc.strerror}); choose another -o") from None
    if args.plot:
        plot_curves(result, args.plot)
    if args.json:
        print(json.dumps(dict(output=str(out), **result.as_dict()), indent=2))
    else:
        print(format_result(result))
        print(f"wrote {out}; next: mcugen generate {out} --calib ... (zero weights are stored sparse where that "
              "saves flash)")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from mcugen.compiler import load_float_graph
    from mcugen.data import load_samples
    from mcugen.quant.quantize import parse_layer_precision
    from mcugen.quant.sweep import format_sweep, sweep

    float_graph = load_float_graph(model_file(args.model), args.name)
    calib = load_samples(args.calib, float_graph, "calibration")
    data = load_samples(args.data, float_graph, "validation")
    if args.samples:
        data = data.take(args.samples)
    try:
        sizes = [int(s) for s in args.calib_sizes] if args.calib_sizes else [10, 100, calib.count]
    except ValueError:
        raise McugenError(f"--calib-sizes {','.join(args.calib_sizes)!r} is not a comma-separated list of counts"
                          ) from None
    if min(sizes) < 1:
        raise McugenError(f"--calib-sizes {','.join(args.calib_sizes)}: every count must be at least 1")
    from mcugen.quant.calibrate import METHODS

    methods = args.methods
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise McugenError(f"--methods: unknown calibration method(s) {', '.join(unknown)}; choose from "
                          f"{', '.join(METHODS)}")
    precisions = [parse_layer_precision(p) for p in args.precisions]
    float_acc, rows, notes = sweep(float_graph, calib, data, methods, sizes, precisions, args.percentile,
                                   bias_correction=not args.no_bias_correction)
    for n in notes:
        print(f"mcugen: note: {n}", file=sys.stderr)
    if not rows:
        raise McugenError("no combination could be calibrated with this data (see the notes above); give more "
                          "calibration samples or use --methods minmax")
    if args.json:
        print(json.dumps(dict(float_accuracy=float_acc, samples=data.count, rows=[asdict(r) for r in rows]), indent=2))
    else:
        print(format_sweep(float_acc, rows, data.count))
    return 0


def cmd_sensitivity(args: argparse.Namespace) -> int:
    from mcugen.emit.library import check_output_file, looks_like_mcugen_plot
    from mcugen.quant.sensitivity import analyze, format_report, plot_report

    if args.plot and not Path(args.plot).resolve().parent.is_dir():
        raise McugenError(f"--plot {args.plot}: its folder does not exist")
    if args.plot:
        check_output_file(args.plot, None, "--plot", looks_like_mcugen_plot)
    compiled = compile_from_args(args)
    samples = validation_samples(args, compiled, "sensitivity analysis")
    modes = args.modes
    report = analyze(compiled.float_graph, compiled.ranges, samples, modes)
    if args.plot:
        plot_report(report, args.plot)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print(format_report(report))
        if args.plot:
            print(f"plot: {args.plot}")
    return 0


def cmd_boards(args: argparse.Namespace) -> int:
    from mcugen.tables import text_table
    from mcugen.target.board import list_boards

    boards = list_boards()
    if args.json:
        print(json.dumps([dict(name=b.name, aliases=list(b.aliases), core=b.core, flash_bytes=b.flash_size,
                               ram_bytes=b.ram_size, emulator=b.qemu_machine, flash=list(b.flash_methods),
                               description=b.description) for b in boards], indent=2))
        return 0
    def size(n: int) -> str:
        return "-" if not n else f"{n // 1024} KB"

    rows = [["board", "aliases", "core", "flash", "RAM", "emulated", "flash with"]]
    for b in boards:
        rows.append([b.name, ",".join(b.aliases) or "-", b.core, size(b.flash_size), size(b.ram_size),
                     f"QEMU {b.qemu_machine}" if b.qemu_machine else ("native" if b.is_host else "no"),
                     ", ".join(b.flash_methods) or "-"])
    print("\n".join(text_table(rows, left=len(rows[0]), rule=False)))
    return 0


def project_options(args: argparse.Namespace):
    from mcugen.project import load_options

    return load_options({k: getattr(args, k, None) for k in (
        "model", "calib", "calib_samples", "name", "board", "output", "data", "samples", "seed",
        "method", "percentile", "weights", "activations", "precision", "no_bias_correction", "flash_tool",
        "port", "reconstruct", "codebook")})


def sample_file_for(kind: str, model: Path, files: list[Path]) -> Path | None:
    """The folder's calibration ("calib") or verification ("test", "val") file: the only one whose name
    says so, else the one of those that also names the model (calib_mlp.npz for mlp.onnx)."""
    words = {"calib": ("calib",), "data": ("test", "val", "verif")}[kind]
    matches = [f for f in files if any(w in f.stem.lower() for w in words)]
    if len(matches) > 1:
        matches = [f for f in matches if model.stem.lower() in f.stem.lower()]
    return matches[0] if len(matches) == 1 else None


def cmd_init(args: argparse.Namespace) -> int:
    from mcugen.project import CONFIG, Options, write_config
    from mcugen.target.board import load_board

    here = Path.cwd()
    model = args.model
    if model is None:
        found = sorted(p for p in here.glob("*.onnx") if p.is_file())
        if len(found) != 1:
            raise McugenError("pass --model: " + ("no .onnx file is in this folder" if not found else
                                                  f"{len(found)} .onnx files are here"))
        model = found[0].name
    model_file(model)
    load_board(args.board)
    sample_files = sorted(p for p in (*here.glob("*.npz"), *here.glob("*.npy")) if p.is_file())
    chosen = {}
    for kind in ("calib", "data"):
        given = getattr(args, kind)
        if given is None:
            found = sample_file_for(kind, Path(model), sample_files)
            chosen[kind] = found.name if found else None
        else:
            chosen[kind] = given
            if given != "random" or kind == "data":
                input_file(given, {"calib": "calibration file", "data": "verification file"}[kind],
                           "give an .npz or .npy file of samples")
    path = here / CONFIG
    write_config(path, Options(model=model, calib=chosen["calib"], name=args.name, board=args.board,
                               data=chosen["data"]), args.force)
    for kind, what in (("calib", "calibration data"), ("data", "verification data")):
        if getattr(args, kind) is None and chosen[kind]:
            print(f"{what}: {chosen[kind]} (found here; pass --{kind} to choose another)")
    if chosen["calib"] is None:
        print(f"no calibration data found here: set calib in {CONFIG} (or pass --calib to build), or "
              'calib = "random" to calibrate on random samples', file=sys.stderr)
    print(f"wrote {path}; next: mcugen build, then mcugen verify")
    return 0


def _print_build(record, warnings: list[str]) -> None:
    for w in warnings:
        print(f"mcugen: warning: {w}", file=sys.stderr)
    s = record.sizes
    print(f"built {record.model_name} ({len(record.layers)} layers, {record.macs:,} MACs) -> {record.elf}")
    print(f"  flash {s['weights'] + s['code'] + s['data']:,} B: weights {s['weights']:,}, code {s['code']:,}, "
          f"data {s['data']:,}")
    print(f"  RAM   {s['data'] + s['bss'] + s['stack']:,} B: arena {s['arena']:,}, other bss "
          f"{s['bss'] - s['arena']:,}, data {s['data']:,}, stack {s['stack']:,}")
    print(f"  model hash {record.model_hash}; compiled in {record.compile_seconds:.2f} s")


def cmd_build(args: argparse.Namespace) -> int:
    from mcugen.project import build

    record, warnings = build(project_options(args), platformio=args.platformio)
    _print_build(record, warnings)
    if args.platformio:
        print(f"  PlatformIO project: {Path(record.library).parent / 'platformio'} (pio run -t upload)")
    return 0


def _ensure_build(opts, quiet: bool = False):
    from mcugen.project import build, current_build

    record = current_build(opts)
    if record is None:
        record, warnings = build(opts)
        if not quiet:
            _print_build(record, warnings)
    return record


def cmd_flash(args: argparse.Namespace) -> int:
    from mcugen.target.board import load_board
    from mcugen.target.flash import flash_real, open_board
    from mcugen.target.protocol import BoardLink

    opts = project_options(args)
    board = load_board(opts.board)
    record = _ensure_build(opts)
    if board.is_host or (board.is_emulated and opts.port is None):
        with open_board(board, record.elf, keep_temp=args.keep_temp) as session:
            info = BoardLink(session.port, name=session.name, expected_hash=record.model_hash).hello()
        print(f"{session.name} booted {record.elf}: model {info.model_name} ({info.model_hash}), "
              f"{info.input_size} B in, {info.output_size} B out, ticks in {info.tick_unit}")
        return 0
    print(flash_real(board, record.elf, method=opts.flash_tool, binary=record.binary))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from mcugen.data import load_samples, random_samples
    from mcugen.project import compile_project
    from mcugen.target.board import load_board
    from mcugen.target.flash import open_board
    from mcugen.target.protocol import BoardLink
    from mcugen.target.verify import format_report, verify_on_board

    opts = project_options(args)
    board = load_board(opts.board)
    if args.emulate and not board.is_emulated and not board.is_host:
        raise McugenError(f"{board.name} has no emulator; pick an emulated board (mcugen boards) or pass --port")
    record = _ensure_build(opts, quiet=args.json)
    compiled = compile_project(opts)
    if opts.data:
        samples = load_samples(opts.path(opts.data), compiled.float_graph, "verification")
    else:
        samples = random_samples(compiled.float_graph, opts.samples or 10, opts.seed)
    if opts.samples:
        samples = samples.take(opts.samples)
    with open_board(board, record.elf, port=opts.port, keep_temp=args.keep_temp) as session:
        link = BoardLink(session.port, name=session.name, expected_hash=record.model_hash)
        link.hello()
        report = verify_on_board(compiled, str(opts.path(opts.model)), samples, link, record, board)
    if args.json:
        print(json.dumps(report.__dict__, indent=2))
    else:
        print(format_report(report))
    return 0 if report.bit_exact == report.samples else 2


def cmd_bench(args: argparse.Namespace) -> int:
    from mcugen.bench import run_bench

    return run_bench(args)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="mcugen", description="Compile ONNX models to bit-exact int8 C for "
                                     "microcontrollers; build, flash and verify them over serial.")
    parser.add_argument("--version", action="version", version=f"mcugen {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("inspect", help="per-layer table: op, shapes, params, MACs, weight and activation bytes")
    p.add_argument("model", help="an .onnx or int8 .tflite file, or a library folder `mcugen generate` wrote "
                                 "(per layer: storage format, density, bytes before and after, MACs skipped)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("generate", help="quantize a model and write its C library")
    add_model_arguments(p)
    p.add_argument("-o", "--output", required=True, help="folder to write the C library into")
    p.add_argument("--force", action="store_true", help="write into a folder that holds other files (kept)")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.add_argument("--flash-budget", help="mixed precision: fit the constants in this many "
                   "bytes (48K, 49152) or this share of the int8 model's (60%%)")
    p.add_argument("--max-drop", type=non_negative_float, help="mixed precision: lose at most this much "
                   "accuracy (points; without labels: dB of output SNR below all-int8)")
    p.add_argument("--data", help="validation data for --flash-budget/--max-drop (.npz: inputs, labels y)")
    p.add_argument("--samples", type=positive_int, help="use only the first N validation samples")
    p.add_argument("--save-plan", type=output_file, help="write the per-layer precision plan used to this JSON file")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("sensitivity", help="per-layer harm of int8 / int4 weights / int16 activations")
    add_model_arguments(p)
    p.add_argument("--data", required=True, help="validation data (.npz: inputs, and labels y if any)")
    p.add_argument("--samples", type=positive_int, help="use only the first N validation samples")
    p.add_argument("--modes", type=comma_list, help="comma-separated, from int8,int4,int16 (default: all)")
    p.add_argument("--plot", help="also draw the table as a PNG bar chart (needs matplotlib)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_sensitivity)

    p = sub.add_parser("prune", help="zero the smallest weights of the FC / 1x1 conv layers, per-layer sparsity "
                       "from measured sensitivity; writes an ONNX model")
    add_model_arguments(p)
    p.add_argument("--data", required=True, help="validation data the drop is measured on (.npz: inputs, labels y)")
    p.add_argument("--samples", type=positive_int, help="use only the first N validation samples")
    p.add_argument("--max-drop", type=non_negative_float, help="lose at most this much (int8, against the "
                   "unpruned int8 model: accuracy points; without labels: dB of output SNR)")
    p.add_argument("--sparsity", type=float, help="prune this share of the prunable weights (0.8) with the least "
                   "measured drop")
    p.add_argument("--pattern", default="unstructured", help="unstructured (default), block4 (the sparse kernels' "
                   "4-weight words) or N:M (e.g. 2:4)")
    p.add_argument("--prune-method", choices=("magnitude", "obc"), default="magnitude",
                   help="magnitude (default), or obc: OBS/SparseGPT reconstruction of the remaining weights from "
                   "the --calib inputs (needs onnxruntime); --method stays the calibration method")
    p.add_argument("--plot", help="also draw the per-layer sensitivity curves as a PNG (needs matplotlib)")
    p.add_argument("-o", "--output", required=True, help="the .onnx file to write")
    p.add_argument("--force", action="store_true", help="replace an existing output file")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_prune)

    p = sub.add_parser("quantize", help="write mcugen's quantization as a QDQ ONNX model (for ONNX Runtime)")
    add_model_arguments(p)
    p.add_argument("--bits", type=int, choices=(8, 4), help="weight bits of every conv/FC layer (default 8)")
    p.add_argument("-o", "--output", required=True, help="the .onnx file to write")
    p.add_argument("--force", action="store_true", help="replace an existing output file")
    p.set_defaults(func=cmd_quantize)

    p = sub.add_parser("sweep", help="table of calibration method x calibration size x precision: accuracy, "
                       "flash, arena")
    p.add_argument("model", help="an .onnx or int8 .tflite file")
    p.add_argument("--calib", required=True, help="calibration data (.npz or .npy)")
    p.add_argument("--data", required=True, help="validation data (.npz: inputs, and labels y if any)")
    p.add_argument("--samples", type=positive_int, help="use only the first N validation samples")
    p.add_argument("--name", help="C name of the model (default: the file name)")
    p.add_argument("--methods", type=comma_list, default=["minmax", "percentile", "mse", "entropy"],
                   help="calibration methods to compare")
    p.add_argument("--calib-sizes", type=comma_list, help="calibration sample counts (default: 10,100,all)")
    p.add_argument("--precisions", type=comma_list, default=["w8a8", "w4a8", "w8a16"],
                   help="precisions to compare (w<bits>a<bits>)")
    p.add_argument("--percentile", type=percentile_float, default=DEFAULT_PERCENTILE,
                   help="for the percentile method (default 99.9)")
    p.add_argument("--no-bias-correction", action="store_true", help="keep the float biases")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("boards", help="the boards mcugen can build for")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_boards)

    p = sub.add_parser("init", help="write mcugen.toml for a project in this folder")
    p.add_argument("--model", help="the .onnx file (default: the only one here)")
    p.add_argument("--calib", help="calibration data (default: the .npz/.npy here named calib*)")
    p.add_argument("--data", help="verification data, inputs and labels (default: the .npz/.npy here named "
                   "test* or val*)")
    p.add_argument("--name", help="C name of the model")
    p.add_argument("--board", default="stm32", help="board name or alias (default: stm32, emulated)")
    p.add_argument("--force", action="store_true", help="replace an existing mcugen.toml")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("bench", help="exact instructions per inference (and per layer), flash, RAM and compile "
                       "time in QEMU; default: the MLPerf Tiny shapes of benchmarks/")
    p.add_argument("models", nargs="*", metavar="MODEL",
                   help=".onnx or int8 .tflite files (default: the benchmarks/ suite)")
    p.add_argument("--board", default="mps2-an386", help="an emulated board (default: mps2-an386, Cortex-M4)")
    p.add_argument("--calib", help="calibration data for the given models (default: random normal samples)")
    p.add_argument("--weights", choices=("int8", "int4"), help="weight bits of every conv/FC layer (default int8)")
    p.add_argument("--activations", choices=("int8", "int16", "float32"), help="as for generate (default int8)")
    p.add_argument("--layers", action="store_true", help="also print instructions and MACs per layer")
    p.add_argument("--cache", help="folder for the plugin, the suite and the builds (default ~/.cache/mcugen)")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.set_defaults(func=cmd_bench)

    for command, helptext, func in (
            ("build", "compile the model and its firmware for a board", cmd_build),
            ("flash", "boot the firmware in QEMU (emulated boards) or write it to a real board", cmd_flash),
            ("verify", "run samples on the board and compare bit for bit with the golden reference", cmd_verify)):
        p = sub.add_parser(command, help=helptext)
        add_model_arguments(p, model_required=False, project=True)
        p.add_argument("--board", help="board name or alias (mcugen boards); default from mcugen.toml, else host")
        p.add_argument("-o", "--output", help="build folder (default: build/)")
        p.set_defaults(func=func)
        if command in ("flash", "verify"):
            p.add_argument("--keep-temp", action="store_true", help="keep the temporary folder of the QEMU or "
                           "host-firmware log (its path is printed) instead of removing it")
        if command == "build":
            p.add_argument("--platformio", action="store_true", help="also write a PlatformIO project")
        if command == "flash":
            p.add_argument("--flash-tool", choices=FLASH_TOOLS,
                           help="how to write a real board: st-flash, openocd or pio (default: the board's first "
                           "installed one; flash_tool in [build] of mcugen.toml)")
            p.add_argument("--port", help="serial port of a real board")
        if command == "verify":
            p.add_argument("--data", help="inputs (.npz/.npy; labels y optional); default: random samples")
            p.add_argument("--samples", type=positive_int, help="use N samples")
            p.add_argument("--seed", type=seed_int, help="seed for random samples")
            p.add_argument("--port", help="serial port of a real board")
            p.add_argument("--emulate", action="store_true", help="run an emulated board in QEMU (the default "
                           "for boards that have an emulator and no --port)")
            p.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def add_model_arguments(p: argparse.ArgumentParser, model_required: bool = True, project: bool = False) -> None:
    """The model, its calibration and its quantization; project commands default them from mcugen.toml."""
    from mcugen.quant.calibrate import METHODS

    default = (lambda value: None) if project else (lambda value: value)  # noqa: E731
    p.add_argument("model", nargs=None if model_required else "?", help="an .onnx or int8 .tflite file")
    p.add_argument("--calib", help="representative inputs (.npz keyed by input name, or .npy) for calibration; "
                   "'random' calibrates on random normal samples (poor accuracy, for trying things out)")
    p.add_argument("--calib-samples", type=positive_int, help="use only the first N calibration samples")
    p.add_argument("--name", help="C name of the model (default: the file name)")
    p.add_argument("--method", choices=METHODS, default=default("minmax"),
                   help="how activation ranges are calibrated (default: minmax)")
    p.add_argument("--percentile", type=percentile_float, default=default(DEFAULT_PERCENTILE),
                   help="for --method percentile: the percentile kept (default 99.9)")
    p.add_argument("--weights", choices=("int8", "int4"), help="weight bits of every conv/FC layer (default int8)")
    p.add_argument("--activations", choices=("int8", "int16", "float32"),
                   help="int8 (default); int16 in every conv/FC layer (16x8); float32 everywhere (weight-only)")
    p.add_argument("--precision", help="a per-layer precision plan (JSON, as written by generate --save-plan)")
    p.add_argument("--no-bias-correction", action="store_true", default=None if project else False,
                   help="keep the float biases (by default each layer's bias absorbs the mean error its "
                   "rounded weights add, measured on --calib)")
    p.add_argument("--reconstruct", action="store_true", default=None if project else False,
                   help="round each conv/FC layer's weights GPTQ-style, spreading each rounding error over the "
                   "weights not yet rounded so the layer's output on --calib moves least (int8 and int4)")
    p.add_argument("--codebook", type=int, metavar="K", help="cluster each int8 fully connected layer's weights "
                   "to K levels (k-means, zero always one): 4-bit indices for K <= 16, 8-bit up to 256")


class Terminated(KeyboardInterrupt):
    """SIGTERM (what CI runners and `timeout` send), raised like Ctrl-C so that every `finally`
    runs: QEMU and the host firmware are killed by PID, temp folders removed."""


def _raise_terminated(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the cleanup short
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if in_main_thread else None
    try:
        if getattr(args, "name", None) is not None:  # the one naming rule, before any work
            from mcugen.compiler import model_name

            model_name("", args.name)
        return args.func(args)
    except McugenError as exc:
        print(f"mcugen: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Terminated:
        print("mcugen: terminated by SIGTERM; any board process it had started was stopped", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("mcugen: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `mcugen inspect --json | head`: the reader left, so stop quietly as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 141
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


if __name__ == "__main__":
    sys.exit(main())
