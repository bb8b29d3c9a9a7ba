"""The project workflow behind `mcugen init / build / flash / verify`.

A project is a folder with mcugen.toml naming the model, its calibration data, the board and the
verification data; command-line flags override it. `build` compiles the model library and the
firmware into build/<board>/ and records what it was built from, so `verify` rebuilds only when
the model, the data, the options or mcugen itself changed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import tomllib

from mcugen import __version__
from mcugen.calibrate import DEFAULT_PERCENTILE
from mcugen.errors import McugenError

CONFIG = "mcugen.toml"


@dataclass
class Options:
    model: str | None = None
    calib: str | None = None
    calib_samples: int | None = None
    name: str | None = None
    board: str = "host"
    output: str = "build"
    data: str | None = None
    samples: int | None = None
    seed: int = 0
    method: str = "minmax"  # calibration method
    percentile: float = DEFAULT_PERCENTILE
    weights: str | None = None  # int8 / int4 for every weighted layer
    activations: str | None = None  # int8 / int16
    precision: str | None = None  # a per-layer plan file (JSON), e.g. from `generate --save-plan`
    no_bias_correction: bool = False
    base: Path = field(default_factory=Path.cwd)  # relative paths in mcugen.toml are relative to its folder

    def path(self, value: str | None) -> Path | None:
        return None if value is None else (self.base / value)


def load_options(overrides: dict, config_path: str | Path | None = None) -> Options:
    """mcugen.toml from the current folder (when present), overridden by non-None flags."""
    config = Path(config_path) if config_path else Path.cwd() / CONFIG
    opts = Options()
    if config.is_file():
        try:
            data = tomllib.loads(config.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise McugenError(f"{config} is not valid TOML ({exc}); fix it or run `mcugen init --force`") from None
        model, build, verify = data.get("model", {}), data.get("build", {}), data.get("verify", {})
        quant = data.get("quantize", {})
        opts = Options(model=model.get("path"), calib=model.get("calib"), calib_samples=model.get("calib_samples"),
                       name=model.get("name"), board=build.get("board", "host"), output=build.get("output", "build"),
                       data=verify.get("data"), samples=verify.get("samples"), seed=verify.get("seed", 0),
                       method=quant.get("method", "minmax"), percentile=quant.get("percentile", DEFAULT_PERCENTILE),
                       weights=quant.get("weights"), activations=quant.get("activations"),
                       precision=quant.get("precision"),
                       no_bias_correction=not quant.get("bias_correction", True), base=config.parent.resolve())
    if overrides.get("model") is not None:
        # A model named on the command line brings its own [model] section: the file's calibration
        # data and C name belong to the file's model.
        opts.calib = opts.calib_samples = opts.name = None
    for key, value in overrides.items():
        if value is not None:
            if key in ("model", "calib", "data", "output", "precision"):
                value = str(Path(value).resolve())  # flags are relative to the current folder
            setattr(opts, key, value)
    if opts.model is None:
        raise McugenError(f"no model given: pass an .onnx file, or run `mcugen init` to write {CONFIG}")
    return opts


def write_config(path: Path, opts: Options, force: bool) -> None:
    if path.exists() and not force:
        raise McugenError(f"{path} already exists; edit it, or pass --force to replace it")
    if path.is_symlink():  # --force replaces the link, never writes through it
        path.unlink()
    lines = ["# mcugen project: `mcugen build` and `mcugen verify` read this; flags override it.", "", "[model]",
             f'path = "{opts.model}"']
    lines += [f'calib = "{opts.calib}"'] if opts.calib else ["# calib = \"calib.npz\"  # representative inputs"]
    lines += [f'name = "{opts.name}"'] if opts.name else []
    lines += ["", "[build]", f'board = "{opts.board}"', f'output = "{opts.output}"', "", "[verify]"]
    lines += [f'data = "{opts.data}"'] if opts.data else ["# data = \"test.npz\"  # inputs (and labels y) to verify on"]
    lines += [f"samples = {opts.samples}"] if opts.samples else []
    path.write_text("\n".join(lines) + "\n")


def _digest(path: Path | None) -> str | None:
    return None if path is None else hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class BuildRecord:
    """What a build was made from and what it made; kept as build/<board>/build.json."""

    fingerprint: dict
    model_name: str
    model_hash: str
    library: str
    elf: str
    binary: str | None
    sizes: dict
    arena_bytes: int
    weight_bytes: int
    macs: int
    layers: list
    compile_seconds: float


def build_dir(opts: Options) -> Path:
    from mcugen.board import load_board

    return opts.path(opts.output) / load_board(opts.board).name


def fingerprint(opts: Options) -> dict:
    model, calib = opts.path(opts.model), opts.path(opts.calib)
    if not model.is_file():
        raise McugenError(f"model file {model} does not exist; give the path of an .onnx file")
    if calib is not None and not calib.is_file():
        raise McugenError(f"calibration file {calib} does not exist; give an .npz or .npy file of samples")
    plan = opts.path(opts.precision)
    if plan is not None and not plan.is_file():
        raise McugenError(f"precision plan {plan} does not exist; write one with `mcugen generate --save-plan`")
    return dict(mcugen=__version__, model=_digest(model), calib=_digest(calib), name=opts.name,
                calib_samples=opts.calib_samples, board=opts.board, method=opts.method, percentile=opts.percentile,
                weights=opts.weights, activations=opts.activations, precision=_digest(plan),
                bias_correction=not opts.no_bias_correction)


def compile_project(opts: Options):
    """The model compiled as the options say: what `build` emits and `verify` checks against."""
    from mcugen.compiler import compile_model
    from mcugen.quantize import Precision

    precision = (Precision.load(opts.path(opts.precision)) if opts.precision
                 else Precision.from_flags(opts.weights, opts.activations))
    return compile_model(opts.path(opts.model), opts.path(opts.calib), opts.name, opts.calib_samples,
                         precision=precision, method=opts.method, percentile=opts.percentile,
                         bias_correction=not opts.no_bias_correction)


def build(opts: Options, platformio: bool = False) -> tuple[BuildRecord, list[str]]:
    """Compile the model library and the firmware; returns the record and the compiler's warnings."""
    import time

    from mcugen.board import load_board
    from mcugen.build import build_firmware, export_platformio
    from mcugen.emit import check_build_folder, check_output_file, generate_library

    board = load_board(opts.board)
    out = build_dir(opts)
    check_build_folder(opts.path(opts.output))  # the -o folder, holding one build folder per board
    check_output_file(out / "build.json", None, "the build record", _is_build_record)
    start = time.perf_counter()
    compiled = compile_project(opts)
    lib = generate_library(compiled.graph, out / "lib", compiled.calibration, force=True)
    seconds = time.perf_counter() - start
    result = build_firmware(lib.folder, lib.name, board, out / "firmware")
    if platformio:
        export_platformio(lib.folder, lib.name, board, out / "platformio")
    record = BuildRecord(fingerprint(opts), lib.name, lib.model_hash, str(lib.folder), str(result.elf),
                         str(result.binary) if result.binary else None, asdict(result.sizes), lib.arena_size,
                         lib.weight_bytes, lib.macs, [list(x) for x in lib.layers], round(seconds, 3))
    (out / "build.json").write_text(json.dumps(asdict(record), indent=2))
    return record, compiled.warnings


def _is_build_record(data: bytes) -> bool:
    """What build writes to build.json: a JSON object with the build's fingerprint."""
    try:
        record = json.loads(data.decode("utf-8"))
    except ValueError:
        return False
    return isinstance(record, dict) and "fingerprint" in record and "elf" in record


def current_build(opts: Options) -> BuildRecord | None:
    """The recorded build when it is still up to date with the options and files, else None."""
    path = build_dir(opts) / "build.json"
    if not path.is_file():
        return None
    try:
        record = BuildRecord(**json.loads(path.read_text()))
    except (ValueError, TypeError):
        return None
    if record.fingerprint != fingerprint(opts) or not Path(record.elf).is_file():
        return None
    return record
