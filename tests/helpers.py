"""Shared test machinery: build small ONNX models, generate their C, compile it with real
compilers and compare what the binary computes with the numpy golden reference."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from mcugen.compiler import compile_model
from mcugen.emit.library import generate_library
from mcugen.graph.reference import golden_feeds, run_int
from mcugen.quant.compiled import CompiledModel
from mcugen.quant.quantize import Precision

SUPPORT = Path(__file__).parent / "support"
WARNINGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-Wshadow", "-Wconversion", "-Wno-sign-conversion"]


def make_model(path: Path, nodes, inputs: dict[str, list[int]], outputs: dict[str, list[int] | None],
               initializers: dict[str, np.ndarray], opset: int = 14) -> Path:
    g = helper.make_graph(
        nodes, "test",
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, v) for k, v in inputs.items()],
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, v) for k, v in outputs.items()],
        [numpy_helper.from_array(v.astype(np.float32) if v.dtype.kind == "f" else v, k)
         for k, v in initializers.items()])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7 if opset <= 13 else 9
    onnx.save(model, str(path))
    return path


def save_samples(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    np.savez(path, **arrays)
    return path


def compile_c(lib_dir: Path, name: str, compiler: str = "gcc", extra: list[str] | None = None) -> Path:
    """Compile the generated library and the stdin/stdout driver into one host executable."""
    sources = [str(p) for p in sorted(lib_dir.rglob("*.c")) if not p.name.endswith("_float.c")]
    exe = lib_dir / f"run_{compiler}{'_san' if extra else ''}"
    up = name.upper()
    float_io = f"{up}_INPUT_COUNT" in (lib_dir / f"{name}.h").read_text()  # a weight-only model
    io = ["-DMODEL_IO_TYPE=float", "-ffp-contract=off"] if float_io else []
    cmd = [compiler, *WARNINGS, "-O2", f"-I{lib_dir}", f'-DMODEL_HEADER="{name}.h"', f"-DMODEL_INVOKE={name}_invoke",
           f"-DMODEL_INPUT_SIZE={up}_INPUT_SIZE", f"-DMODEL_OUTPUT_SIZE={up}_OUTPUT_SIZE", *io,
           *(extra or []), *sources, str(SUPPORT / "run_model.c"), "-o", str(exe)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, f"{compiler} failed:\n{result.stderr[:4000]}"
    return exe


def run_c(exe: Path, inputs: np.ndarray, output_size: int) -> np.ndarray:
    """Inputs int8 codes, or float32 for a weight-only model; the outputs come back in the same type."""
    dtype = np.float32 if inputs.dtype == np.float32 else np.int8
    result = subprocess.run([str(exe)], input=inputs.astype(dtype).tobytes(), capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode()[:4000]
    return np.frombuffer(result.stdout, dtype=dtype).reshape(len(inputs), output_size)


def quantized_inputs(compiled: CompiledModel, samples: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return golden_feeds(compiled.graph, samples)


def golden(compiled: CompiledModel, qin: dict[str, np.ndarray]) -> np.ndarray:
    g = compiled.graph
    outs = run_int(g, qin)
    return np.concatenate([outs[n].reshape(len(outs[n]), -1) for n in g.outputs], axis=1)


def check_bit_exact(model: Path, calib: Path | None, tmp: Path, samples: dict[str, np.ndarray],
                    compilers=("gcc", "clang"), sanitize: bool = False, name: str = "net",
                    precision: Precision | None = None, method: str = "minmax",
                    reconstruct: bool = False) -> CompiledModel:
    """Generate, compile with each compiler, run, and assert the outputs equal the golden reference."""
    compiled = compile_model(model, calib, name, precision=precision, method=method, reconstruct=reconstruct)
    lib = generate_library(compiled.graph, tmp / "lib", compiled.calibration)
    qin = quantized_inputs(compiled, samples)
    flat = np.concatenate([qin[n].reshape(len(qin[n]), -1) for n in compiled.graph.inputs], axis=1)
    expected = golden(compiled, qin)
    out_size = expected.shape[1]
    for cc in compilers:
        if shutil.which(cc) is None:
            raise AssertionError(f"compiler {cc} is not installed; run scripts/setup.sh")
        extra = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g"] if sanitize else None
        got = run_c(compile_c(lib.folder, name, cc, extra), flat, out_size)
        if got.dtype == np.float32:  # weight-only: the float32 bit patterns must be equal
            mismatch = np.argwhere(got.view(np.uint32) != expected.view(np.uint32))
        else:
            mismatch = np.argwhere(got != expected)
        assert mismatch.size == 0, f"{cc}: {len(mismatch)} elements differ, first at {mismatch[0]}: " \
                                   f"C {got[tuple(mismatch[0])]} vs reference {expected[tuple(mismatch[0])]}"
    return compiled
