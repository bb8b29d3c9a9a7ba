"""The `mcugen` command line. Every user mistake ends in one sentence on stderr and exit code 1."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from mcugen import __version__
from mcugen.errors import McugenError


def cmd_inspect(args: argparse.Namespace) -> int:
    from mcugen.compiler import load_float_graph
    from mcugen.inspect import format_table, layer_table

    table = layer_table(load_float_graph(args.model))
    print(json.dumps(table, indent=2) if args.json else format_table(table))
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from mcugen.compiler import compile_model
    from mcugen.emit import generate_library

    start = time.perf_counter()
    compiled = compile_model(args.model, args.calib, args.name, args.calib_samples)
    for w in compiled.warnings:
        print(f"mcugen: warning: {w}", file=sys.stderr)
    lib = generate_library(compiled.graph, args.output, compiled.calibration, force=args.force)
    seconds = time.perf_counter() - start
    summary = dict(name=lib.name, folder=str(lib.folder), files=len(lib.files), layers=len(lib.layers),
                   macs=lib.macs, weight_bytes=lib.weight_bytes, arena_bytes=lib.arena_size,
                   model_hash=lib.model_hash, calibration=compiled.calibration, seconds=round(seconds, 3))
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"wrote {lib.folder}/ ({len(lib.files)} files) for model {lib.name!r} in {seconds:.2f} s")
        print(f"  layers {len(lib.layers)}, MACs {lib.macs:,}, weights {lib.weight_bytes:,} B (flash), "
              f"arena {lib.arena_size:,} B (RAM)")
        print(f"  calibration: {compiled.calibration}; model hash {lib.model_hash}")
    return 0


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
    p.set_defaults(func=cmd_generate)
    return parser


def add_model_arguments(p: argparse.ArgumentParser, model_required: bool = True) -> None:
    p.add_argument("model", nargs=None if model_required else "?", help="an .onnx file")
    p.add_argument("--calib", help="representative inputs (.npz keyed by input name, or .npy) for calibration")
    p.add_argument("--calib-samples", type=int, help="use only the first N calibration samples")
    p.add_argument("--name", help="C name of the model (default: the file name)")


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
