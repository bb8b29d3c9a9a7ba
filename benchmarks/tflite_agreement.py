"""Measure mcugen's golden reference against TensorFlow Lite on int8 .tflite files, element for element.

    python benchmarks/tflite_agreement.py [MODEL.tflite ...] [--count 100] [--board mps2-an386 --board-samples 8]

Default models: the five official MLPerf Tiny int8 files in ../shared/models/mlperf_tiny/tflite_int8/.
For each file: `--count` random int8 inputs (uniform over all 256 codes, seed 0) plus the real samples
of ../shared/models/mlperf_tiny/samples/ that fit it, run through mcugen's golden reference (the numpy
twin every C build must equal) and through ai-edge-litert's interpreter with the reference kernels
(OpResolverType.BUILTIN_REF); prints how many output elements are equal. With --board, also runs
`mcugen verify --board B --emulate` on the first --board-samples inputs (the C on that board against
the golden reference, and TFLite). Needs `pip install 'mcugen[tflite]'`. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

# ../shared beside the checkout (a worktree one level deeper looks one further up)
SHARED = next((p / "shared" / "models" / "mlperf_tiny" for p in Path(__file__).resolve().parents[1:4]
               if (p / "shared" / "models" / "mlperf_tiny").is_dir()), Path("../shared/models/mlperf_tiny"))
DEFAULT = ["kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8", "pretrainedResnet_large_int8"]


def real_samples(stem: str, graph) -> np.ndarray | None:
    """The repository's real inputs for a model, as int8 codes, or None."""
    name = graph.inputs[0]
    t = graph.tensors[name]
    folder = SHARED / "samples"
    if stem.startswith("kws") and (folder / "kws_sample.npz").is_file():
        return np.load(folder / "kws_sample.npz")["x_int8"].reshape((-1,) + t.shape[1:])
    if stem.startswith("vww") and (folder / "vww_samples.npz").is_file():
        return np.load(folder / "vww_samples.npz")["x_int8_rgb_derived"].reshape((-1,) + t.shape[1:])
    if stem.startswith("ad") and (folder / "ad_sample.npz").is_file():
        x = np.load(folder / "ad_sample.npz")["windows"]
        return np.clip(np.round(x / t.scale) + t.zero_point, -128, 127).astype(np.int8)
    return None


def tflite_run(path: Path, x: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    rows = []
    for i in range(len(x)):
        interp.set_tensor(inp["index"], x[i:i + 1])
        interp.invoke()
        rows.append(interp.get_tensor(out["index"]).copy())
    return np.concatenate(rows)


def measure(path: Path, count: int) -> dict:
    from mcugen.compiler import compile_model
    from mcugen.graph.reference import run_int

    compiled = compile_model(path)
    g = compiled.graph
    t = g.tensors[g.inputs[0]]
    x = np.random.default_rng(0).integers(-128, 128, size=(count,) + t.shape[1:], dtype=np.int8)
    real = real_samples(path.stem, g)
    if real is not None:
        x = np.concatenate([x, real])
    ours = run_int(g, {g.inputs[0]: x})[g.outputs[0]]
    theirs = tflite_run(path, x)
    ours = ours.reshape(theirs.shape)
    return dict(model=path.name, inputs=len(x), real_inputs=0 if real is None else len(real),
                elements=int(theirs.size), equal=int(np.sum(ours == theirs)),
                max_abs_diff=int(np.abs(ours.astype(np.int64) - theirs).max()), x=x)


def on_board(path: Path, x: np.ndarray, board: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "inputs.npz"
        np.savez(data, x=x)
        run = subprocess.run([sys.executable, "-m", "mcugen", "verify", str(path), "--board", board, "--emulate",
                              "--data", str(data), "--json", "-o", str(Path(tmp) / "build")],
                             capture_output=True, text=True, timeout=1800)
        if run.returncode != 0:
            return dict(error=(run.stderr or run.stdout).strip().splitlines()[-1:])
        report = json.loads(run.stdout[run.stdout.index("{"):])
        return {k: report[k] for k in ("samples", "bit_exact", "tflite_equal", "tflite_elements")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*")
    ap.add_argument("--count", type=int, default=100, help="random int8 inputs per model (default 100)")
    ap.add_argument("--board", help="also verify the C on this emulated board (e.g. mps2-an386)")
    ap.add_argument("--board-samples", type=int, default=8)
    args = ap.parse_args()
    paths = [Path(m) for m in args.models] or [SHARED / "tflite_int8" / f"{s}.tflite" for s in DEFAULT]
    for path in paths:
        r = measure(path, args.count)
        line = (f"{r['model']:36s} {r['inputs']:4d} inputs ({r['real_inputs']} real): {r['equal']:,}/{r['elements']:,} "
                f"output elements equal to TFLite BUILTIN_REF (max |diff| {r['max_abs_diff']})")
        if args.board:
            b = on_board(path, r["x"][:args.board_samples], args.board)
            line += f"; {args.board}: " + (f"{b['bit_exact']}/{b['samples']} bit-exact, {b['tflite_equal']}/"
                                           f"{b['tflite_elements']} equal to TFLite" if "error" not in b
                                           else f"error {b['error']}")
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
