"""The project workflow behind `mcugen init / build / flash / verify`.

A project is a folder with mcugen.toml naming the model, its calibration data, the board and the
verification data; command-line flags override it. `build` compiles the model library and the
firmware into build/<board>/ and records what it was built from, so `verify` rebuilds only when
the model, the data, the options or mcugen itself changed.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mcugen import __version__
from mcugen.emit.c_syntax import model_prefix_problem
from mcugen.errors import McugenError
from mcugen.quant.calibrate import DEFAULT_PERCENTILE, METHODS, check_percentile
from mcugen.resources import sources_digest

CONFIG = "mcugen.toml"
MAX_CONFIG_BYTES = 1 << 20  # a project file is a dozen lines; a megabyte is a wrong file
RANDOM_CALIB = "random"  # calib = "random": calibrate on random normal samples, asked for explicitly
FLASH_TOOLS = ("st-flash", "openocd", "pio")  # the keys of flash.FLASH_TOOLS, without importing serial


@dataclass
class Options:
    model: str | None = None
    calib: str | None = None  # a sample file, RANDOM_CALIB, or None
    calib_samples: int | None = None
    name: str | None = None
    board: str = "host"
    output: str = "build"
    flash_tool: str | None = None  # st-flash / openocd / pio; default: the board's first installed
    port: str | None = None  # serial port of a real board
    data: str | None = None
    samples: int | None = None
    seed: int = 0
    method: str = "minmax"  # calibration method
    percentile: float = DEFAULT_PERCENTILE
    weights: str | None = None  # int8 / int4 for every weighted layer
    activations: str | None = None  # int8 / int16
    precision: str | None = None  # a per-layer plan file (JSON), e.g. from `generate --save-plan`
    no_bias_correction: bool = False
    reconstruct: bool = False  # GPTQ rounding of conv/FC weights from the calibration inputs
    codebook: int | None = None  # k-means levels per int8 FC layer (ops/codebook.py)
    base: Path = field(default_factory=Path.cwd)  # relative paths in mcugen.toml are relative to its folder

    def path(self, value: str | None) -> Path | None:
        return None if value is None else (self.base / value)

    def calib_path(self) -> Path | None:
        """The calibration file, None without one or for calib = "random"."""
        return None if self.calib in (None, RANDOM_CALIB) else self.path(self.calib)


# --- the schema of mcugen.toml ------------------------------------------------------------------
# Each validator takes the value as TOML parsed it and returns it checked (or raises ValueError
# with what is wrong and what to write instead); the caller names the file, section and key.

def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a quoted string, not {_toml_type(value)}")
    if not value.strip() or "\0" in value:
        raise ValueError("must be a non-empty string")
    return value


_path = _string  # a file or folder, relative to mcugen.toml's folder (calib may also be "random")


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"must be a whole number, not {_toml_type(value)}")
    if value < 1:
        raise ValueError("must be at least 1")
    return value


def _seed(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2 ** 32:
        raise ValueError("must be a whole number from 0 to 4294967295")
    return value


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, not {_toml_type(value)}")
    return value


def _percentile(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"must be a number in (50, 100], not {_toml_type(value)}")
    try:
        return check_percentile(value)
    except McugenError:
        raise ValueError("must be in (50, 100], e.g. 99.9 to clip the top and bottom 0.1% of each "
                         "activation's values") from None


def _name(value: Any) -> str:
    value = _string(value)
    problem = model_prefix_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _board(value: Any) -> str:
    from mcugen.target.board import list_boards, load_board

    try:
        load_board(_string(value))
    except McugenError:
        raise ValueError("must name a board mcugen knows (mcugen boards): "
                         + ", ".join(b.name for b in list_boards())) from None
    return value


def _one_of(*choices: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(repr(c) for c in choices)}")
        return value
    return check


# section -> key -> (Options field, validator). Paths are relative to the folder of mcugen.toml.
SCHEMA: dict[str, dict[str, tuple[str, Callable[[Any], Any]]]] = {
    "model": {"path": ("model", _path), "calib": ("calib", _path), "calib_samples": ("calib_samples", _count),
              "name": ("name", _name)},
    "build": {"board": ("board", _board), "output": ("output", _path), "flash_tool": ("flash_tool",
              _one_of(*FLASH_TOOLS)), "port": ("port", _string)},
    "quantize": {"method": ("method", _one_of(*METHODS)), "percentile": ("percentile", _percentile),
                 "weights": ("weights", _one_of("int8", "int4")),
                 "activations": ("activations", _one_of("int8", "int16", "float32")),
                 "precision": ("precision", _path), "bias_correction": ("no_bias_correction", _boolean),
                 "reconstruct": ("reconstruct", _boolean), "codebook": ("codebook", _count)},
    "verify": {"data": ("data", _path), "samples": ("samples", _count), "seed": ("seed", _seed)},
}


def _toml_type(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array",
            dict: "a table"}.get(type(value), type(value).__name__)


def read_config(config: Path) -> dict[str, Any]:
    """mcugen.toml checked against SCHEMA: Options fields -> values, or one sentence naming the problem."""
    if config.is_dir():
        raise McugenError(f"{config} is a folder, not a project file; remove or rename it, then run `mcugen init`")
    if not config.is_file():
        raise McugenError(f"{config} is not a regular file; remove it and run `mcugen init`")
    if config.stat().st_size > MAX_CONFIG_BYTES:
        raise McugenError(f"{config} is {config.stat().st_size:,} bytes, too large for a project file (is it the "
                          "right file?); run `mcugen init --force` to write a fresh one")
    try:
        data = tomllib.loads(config.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise McugenError(f"{config} is not UTF-8 text; save it as UTF-8 or run `mcugen init --force`") from None
    except tomllib.TOMLDecodeError as exc:
        raise McugenError(f"{config} is not valid TOML ({exc}); fix it or run `mcugen init --force`") from None
    values: dict[str, Any] = {}
    for section, table in data.items():
        if section not in SCHEMA:
            home = [s for s, keys in SCHEMA.items() if section in keys]
            hint = (f"put {section} under [{home[0]}]" if home
                    else _did_you_mean(section, SCHEMA) + f"the sections are {_listing(SCHEMA)}")
            what = "key" if not isinstance(table, dict) else "section"
            raise McugenError(f"{config}: unknown {what} {section!r} at the top level; {hint}")
        if not isinstance(table, dict):
            raise McugenError(f"{config}: {section} must be a section [{section}], not {_toml_type(table)}")
        for key, value in table.items():
            if key not in SCHEMA[section]:
                home = [s for s, keys in SCHEMA.items() if key in keys]
                hint = (f"it belongs under [{home[0]}]" if home else _did_you_mean(key, SCHEMA[section])
                        + f"the keys of [{section}] are {_listing(SCHEMA[section])}")
                raise McugenError(f"{config}: unknown key {key!r} in [{section}]; {hint}")
            attribute, check = SCHEMA[section][key]
            try:
                value = check(value)
            except ValueError as exc:
                raise McugenError(f"{config}: [{section}] {key} = {_shown(value)}: {exc}") from None
            values[attribute] = (not value) if attribute == "no_bias_correction" else value
    return values


def _did_you_mean(word: str, known) -> str:
    close = difflib.get_close_matches(word, list(known), n=1)
    return f"did you mean {close[0]!r}? " if close else ""


def _listing(known) -> str:
    return ", ".join(known)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def load_options(overrides: dict, config_path: str | Path | None = None) -> Options:
    """mcugen.toml from the current folder (when present), overridden by non-None flags."""
    config = Path(config_path) if config_path else Path.cwd() / CONFIG
    opts = Options()
    if config.exists() or config.is_symlink():
        opts = Options(**read_config(config), base=config.parent.resolve())
    if overrides.get("model") is not None:
        # A model named on the command line brings its own [model] section: the file's calibration
        # data and C name belong to the file's model.
        opts.calib = opts.calib_samples = opts.name = None
    for key, value in overrides.items():
        if value is not None:
            if key in ("model", "calib", "data", "output", "precision") and not (key == "calib"
                                                                                 and value == RANDOM_CALIB):
                value = str(Path(value).resolve())  # flags are relative to the current folder
            setattr(opts, key, value)
    if opts.model is None:
        raise McugenError(f"no model given: pass an .onnx file, or run `mcugen init` to write {CONFIG}")
    return opts


def check_regular_file(path: Path, what: str, hint: str) -> Path:
    """An input file must exist and be a regular file: a folder fails, and a FIFO or a device such as
    /dev/zero would block or never end."""
    if not path.exists():
        raise McugenError(f"{what} {path} does not exist; {hint}")
    if path.is_dir():
        raise McugenError(f"{what} {path} is a folder; {hint}")
    if not path.is_file():
        raise McugenError(f"{what} {path} is not a regular file (a FIFO or a device?); {hint}")
    return path


def write_config(path: Path, opts: Options, force: bool) -> None:
    if path.exists() and not force:
        raise McugenError(f"{path} already exists; edit it, or pass --force to replace it")
    if path.is_symlink():  # --force replaces the link, never writes through it
        path.unlink()

    def text(value: str) -> str:  # a TOML basic string (JSON's escapes are TOML's)
        return json.dumps(value, ensure_ascii=False)

    lines = ["# mcugen project: `mcugen build` and `mcugen verify` read this; flags override it.", "", "[model]",
             f"path = {text(opts.model)}"]
    lines += ([f"calib = {text(opts.calib)}"] if opts.calib else
              ['# calib = "calib.npz"  # representative inputs; "random" calibrates on random normal samples'])
    lines += [f"name = {text(opts.name)}"] if opts.name else []
    lines += ["", "[build]", f"board = {text(opts.board)}", f"output = {text(opts.output)}", "", "[verify]"]
    lines += ([f"data = {text(opts.data)}"] if opts.data else
              ['# data = "test.npz"  # inputs (and labels) to verify on'])
    lines += [f"samples = {opts.samples}"] if opts.samples else []
    path.write_text("\n".join(lines) + "\n")


def check_output_folder(folder: Path, what: str = "the build folder",
                        fix: str = "choose another -o (or output in [build] of mcugen.toml)") -> None:
    """The folder exists or can be made: its nearest existing ancestor is a writable folder."""
    from mcugen.emit.library import refuse_dangerous_output

    refuse_dangerous_output(folder)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise McugenError(f"cannot create {what} {folder}: {existing} is a file, not a folder; {fix}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise McugenError(f"cannot create {what} {folder}: {existing} is not writable; {fix}")


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
    from mcugen.target.board import load_board

    return opts.path(opts.output) / load_board(opts.board).name


def check_inputs(opts: Options) -> None:
    """The model, calibration and plan files exist and are regular files, before any is read."""
    model, calib, plan = opts.path(opts.model), opts.calib_path(), opts.path(opts.precision)
    check_regular_file(model, "model file", "give the path of an .onnx file")
    if calib is not None:
        check_regular_file(calib, "calibration file", 'give an .npz or .npy file of samples, or "random"')
    if plan is not None:
        check_regular_file(plan, "precision plan", "write one with `mcugen generate --save-plan`")


def fingerprint(opts: Options) -> dict:
    check_inputs(opts)
    model, calib, plan = opts.path(opts.model), opts.calib_path(), opts.path(opts.precision)
    return dict(mcugen=__version__, sources=sources_digest(), model=_digest(model),
                calib=_digest(calib) or opts.calib, name=opts.name,
                calib_samples=opts.calib_samples, board=opts.board, method=opts.method, percentile=opts.percentile,
                weights=opts.weights, activations=opts.activations, precision=_digest(plan),
                bias_correction=not opts.no_bias_correction, reconstruct=opts.reconstruct, codebook=opts.codebook)


def compile_project(opts: Options):
    """The model compiled as the options say: what `build` emits and `verify` checks against."""
    from mcugen.compiler import compile_model
    from mcugen.quant.quantize import Precision

    check_inputs(opts)
    precision = (Precision.load(opts.path(opts.precision)) if opts.precision
                 else Precision.from_flags(opts.weights, opts.activations))
    return compile_model(opts.path(opts.model), opts.calib_path(), opts.name, opts.calib_samples,
                         precision=precision, method=opts.method, percentile=opts.percentile,
                         bias_correction=not opts.no_bias_correction, allow_random=opts.calib == RANDOM_CALIB,
                         reconstruct=opts.reconstruct, codebook=opts.codebook)


def build(opts: Options, platformio: bool = False) -> tuple[BuildRecord, list[str]]:
    """Compile the model library and the firmware; returns the record and the compiler's warnings."""
    import time

    from mcugen.emit.library import check_build_folder, check_output_file, generate_library
    from mcugen.target.board import load_board
    from mcugen.target.build import build_firmware, export_platformio

    board = load_board(opts.board)
    out = build_dir(opts)
    check_output_folder(out)
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
