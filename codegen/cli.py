"""The `mcugen` command line. Every user mistake ends in one sentence on stderr and exit code 1."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from mcugen import __version__
from mcugen.calibrate import DEFAULT_PERCENTILE
from mcugen.errors import McugenError


def cmd_inspect(args: argparse.Namespace) -> int:
    from mcugen.compiler import load_float_graph
    from mcugen.inspect import format_table, layer_table

    table = layer_table(load_float_graph(args.model))
    print(json.dumps(table, indent=2) if args.json else format_table(table))
    return 0


def precision_of(args: argparse.Namespace):
    from mcugen.quantize import Precision

    if args.precision:
        if args.weights or args.activations:
            raise McugenError("give either --precision (a per-layer plan) or --weights/--activations, not both")
        return Precision.load(args.precision)
    return Precision.from_flags(args.weights, args.activations)


def compile_from_args(args: argparse.Namespace):
    from mcugen.compiler import compile_model

    compiled = compile_model(args.model, args.calib, args.name, args.calib_samples, precision=precision_of(args),
                             method=args.method, percentile=args.percentile,
                             bias_correction=not args.no_bias_correction)
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

    from mcugen.emit import constant_bytes
    from mcugen.mixed_precision import format_result, parse_budget, search
    from mcugen.quantize import quantize

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
    from mcugen.emit import generate_library

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
    if mixed is not None:
        summary["mixed_precision"] = mixed.as_dict()
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"wrote {lib.folder}/ ({len(lib.files)} files) for model {lib.name!r} in {seconds:.2f} s")
        print(f"  layers {len(lib.layers)}, MACs {lib.macs:,}, weights {lib.weight_bytes:,} B (flash), "
              f"arena {lib.arena_size:,} B (RAM)")
        print(f"  calibration: {compiled.calibration}; precision {compiled.precision.describe()}; "
              f"model hash {lib.model_hash}")
    return 0


def cmd_quantize(args: argparse.Namespace) -> int:
    from mcugen.qdq_export import export_qdq

    out = Path(args.output)
    if out.resolve() == Path(args.model).resolve():
        raise McugenError("-o names the input model itself; write the quantized model to another file")
    if out.exists() and not args.force:
        raise McugenError(f"{out} already exists; pass --force to replace it, or choose another -o")
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


def cmd_sweep(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from mcugen.compiler import load_float_graph
    from mcugen.data import load_samples
    from mcugen.quantize import parse_layer_precision
    from mcugen.sweep import format_sweep, sweep

    float_graph = load_float_graph(args.model, args.name)
    calib = load_samples(args.calib, float_graph, "calibration")
    data = load_samples(args.data, float_graph, "validation")
    if args.samples:
        data = data.take(args.samples)
    try:
        sizes = [int(s) for s in args.calib_sizes.split(",")] if args.calib_sizes else [10, 100, calib.count]
    except ValueError:
        raise McugenError(f"--calib-sizes {args.calib_sizes!r} is not a comma-separated list of counts") from None
    if min(sizes) < 1:
        raise McugenError(f"--calib-sizes {args.calib_sizes}: every count must be at least 1")
    from mcugen.calibrate import METHODS

    methods = [m.strip() for m in args.methods.split(",")]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise McugenError(f"--methods: unknown calibration method(s) {', '.join(unknown)}; choose from "
                          f"{', '.join(METHODS)}")
    precisions = [parse_layer_precision(p.strip()) for p in args.precisions.split(",")]
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
    from mcugen.sensitivity import analyze, format_report, plot_report

    if args.plot and not Path(args.plot).resolve().parent.is_dir():
        raise McugenError(f"--plot {args.plot}: its folder does not exist")
    compiled = compile_from_args(args)
    samples = validation_samples(args, compiled, "sensitivity analysis")
    modes = [m.strip() for m in args.modes.split(",")] if args.modes else None
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
    from mcugen.board import list_boards
    from mcugen.tables import text_table

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
        "method", "percentile", "weights", "activations", "precision", "no_bias_correction")})


def cmd_init(args: argparse.Namespace) -> int:
    from mcugen.board import load_board
    from mcugen.project import CONFIG, Options, write_config

    model = args.model
    if model is None:
        found = sorted(Path.cwd().glob("*.onnx"))
        if len(found) != 1:
            raise McugenError("pass --model: " + ("no .onnx file is in this folder" if not found else
                                                  f"{len(found)} .onnx files are here"))
        model = found[0].name
    load_board(args.board)
    path = Path.cwd() / CONFIG
    write_config(path, Options(model=model, calib=args.calib, name=args.name, board=args.board,
                               data=args.data), args.force)
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
    from mcugen.board import load_board
    from mcugen.flash import flash_real, open_board
    from mcugen.protocol import BoardLink

    opts = project_options(args)
    board = load_board(opts.board)
    record = _ensure_build(opts)
    if board.is_host or (board.is_emulated and args.port is None):
        with open_board(board, record.elf) as session:
            info = BoardLink(session.port, name=session.name, expected_hash=record.model_hash).hello()
        print(f"{session.name} booted {record.elf}: model {info.model_name} ({info.model_hash}), "
              f"{info.input_size} B in, {info.output_size} B out, ticks in {info.tick_unit}")
        return 0
    print(flash_real(board, record.elf, method=args.flash_method, binary=record.binary))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from mcugen.board import load_board
    from mcugen.data import load_samples, random_samples
    from mcugen.flash import open_board
    from mcugen.project import compile_project
    from mcugen.protocol import BoardLink
    from mcugen.verify import format_report, verify_on_board

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
    with open_board(board, record.elf, port=args.port) as session:
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
    parser = argparse.ArgumentParser(prog="mcugen", description="Compile ONNX models to bit-exact int8 C for "
                                     "microcontrollers; build, flash and verify them over serial.")
    parser.add_argument("--version", action="version", version=f"mcugen {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("inspect", help="per-layer table: op, shapes, params, MACs, weight and activation bytes")
    p.add_argument("model", help="an .onnx file")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("generate", help="quantize a model and write its C library")
    add_model_arguments(p)
    p.add_argument("-o", "--output", required=True, help="folder to write the C library into")
    p.add_argument("--force", action="store_true", help="write into a folder that holds other files (kept)")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.add_argument("--flash-budget", help="mixed precision: fit the constants in this many bytes (48K, 49152) "
                   "or this share of the int8 model's (60%%)")
    p.add_argument("--max-drop", type=float, help="mixed precision: lose at most this much accuracy (points; "
                   "without labels: dB of output SNR below all-int8)")
    p.add_argument("--data", help="validation data for --flash-budget/--max-drop (.npz: inputs, labels y)")
    p.add_argument("--samples", type=int, help="use only the first N validation samples")
    p.add_argument("--save-plan", help="write the per-layer precision plan used to this JSON file")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("sensitivity", help="per-layer harm of int8 / int4 weights / int16 activations")
    add_model_arguments(p)
    p.add_argument("--data", required=True, help="validation data (.npz: inputs, and labels y if any)")
    p.add_argument("--samples", type=int, help="use only the first N validation samples")
    p.add_argument("--modes", help="comma-separated, from int8,int4,int16 (default: all)")
    p.add_argument("--plot", help="also draw the table as a PNG bar chart (needs matplotlib)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_sensitivity)

    p = sub.add_parser("quantize", help="write mcugen's quantization as a QDQ ONNX model (for ONNX Runtime)")
    add_model_arguments(p)
    p.add_argument("--bits", type=int, choices=(8, 4), help="weight bits of every conv/FC layer (default 8)")
    p.add_argument("-o", "--output", required=True, help="the .onnx file to write")
    p.add_argument("--force", action="store_true", help="replace an existing output file")
    p.set_defaults(func=cmd_quantize)

    p = sub.add_parser("sweep", help="table of calibration method x calibration size x precision: accuracy, "
                       "flash, arena")
    p.add_argument("model", help="an .onnx file")
    p.add_argument("--calib", required=True, help="calibration data (.npz or .npy)")
    p.add_argument("--data", required=True, help="validation data (.npz: inputs, and labels y if any)")
    p.add_argument("--samples", type=int, help="use only the first N validation samples")
    p.add_argument("--name", help="C name of the model (default: the file name)")
    p.add_argument("--methods", default="minmax,percentile,mse,entropy", help="calibration methods to compare")
    p.add_argument("--calib-sizes", help="calibration sample counts (default: 10,100,all)")
    p.add_argument("--precisions", default="w8a8,w4a8,w8a16", help="precisions to compare (w<bits>a<bits>)")
    p.add_argument("--percentile", type=float, default=DEFAULT_PERCENTILE,
                   help="for the percentile method (default 99.9)")
    p.add_argument("--no-bias-correction", action="store_true", help="keep the float biases")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("boards", help="the boards mcugen can build for")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_boards)

    p = sub.add_parser("init", help="write mcugen.toml for a project in this folder")
    p.add_argument("--model", help="the .onnx file (default: the only one here)")
    p.add_argument("--calib", help="calibration data")
    p.add_argument("--data", help="verification data (inputs, and labels y)")
    p.add_argument("--name", help="C name of the model")
    p.add_argument("--board", default="stm32", help="board name or alias (default: stm32, emulated)")
    p.add_argument("--force", action="store_true", help="replace an existing mcugen.toml")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("bench", help="exact instructions per inference (and per layer), flash, RAM and compile "
                       "time in QEMU; default: the MLPerf Tiny shapes of benchmarks/")
    p.add_argument("models", nargs="*", metavar="MODEL", help=".onnx files (default: the benchmarks/ suite)")
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
        if command == "build":
            p.add_argument("--platformio", action="store_true", help="also write a PlatformIO project")
        if command == "flash":
            p.add_argument("--method", dest="flash_method",
                           help="st-flash, openocd or pio (default: the board's first)")
            p.add_argument("--port", help="serial port of a real board")
        if command == "verify":
            p.add_argument("--data", help="inputs (.npz/.npy; labels y optional); default: random samples")
            p.add_argument("--samples", type=int, help="use N samples")
            p.add_argument("--seed", type=int, help="seed for random samples")
            p.add_argument("--port", help="serial port of a real board")
            p.add_argument("--emulate", action="store_true", help="run an emulated board in QEMU (the default "
                           "for boards that have an emulator and no --port)")
            p.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def add_model_arguments(p: argparse.ArgumentParser, model_required: bool = True, project: bool = False) -> None:
    """The model, its calibration and its quantization; project commands default them from mcugen.toml."""
    from mcugen.calibrate import METHODS

    default = (lambda value: None) if project else (lambda value: value)  # noqa: E731
    p.add_argument("model", nargs=None if model_required else "?", help="an .onnx file")
    p.add_argument("--calib", help="representative inputs (.npz keyed by input name, or .npy) for calibration")
    p.add_argument("--calib-samples", type=int, help="use only the first N calibration samples")
    p.add_argument("--name", help="C name of the model (default: the file name)")
    if p.prog.split()[-1] != "flash":  # flash has its own --method (how to write the board)
        p.add_argument("--method", choices=METHODS, default=default("minmax"),
                       help="how activation ranges are calibrated (default: minmax)")
    p.add_argument("--percentile", type=float, default=default(DEFAULT_PERCENTILE),
                   help="for --method percentile: the percentile kept (default 99.9)")
    p.add_argument("--weights", choices=("int8", "int4"), help="weight bits of every conv/FC layer (default int8)")
    p.add_argument("--activations", choices=("int8", "int16", "float32"),
                   help="int8 (default); int16 in every conv/FC layer (16x8); float32 everywhere (weight-only)")
    p.add_argument("--precision", help="a per-layer precision plan (JSON, as written by generate --save-plan)")
    p.add_argument("--no-bias-correction", action="store_true", default=None if project else False,
                   help="keep the float biases (by default each layer's bias absorbs the mean error its "
                   "rounded weights add, measured on --calib)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except McugenError as exc:
        print(f"mcugen: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("mcugen: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
