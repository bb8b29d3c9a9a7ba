"""Names from the model never reach generated C as they are (issue #8, items 1, 7 and 9).

A model whose node, tensor, graph, input and output names (and file name, and calibration path)
hold comment terminators, newlines, quotes, backslashes, trigraphs, bidi controls, 300 characters
or nothing is generated, compiled with gcc and clang at their strictest, run, and compared with
the golden reference; its text must hold none of those bytes. The literal formatter, the Identity-
only models and the model prefix rule are tested here too.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from helpers import SUPPORT, golden, quantized_inputs, run_c, save_samples
from mcugen.cli import main
from mcugen.compiler import compile_model, model_name
from mcugen.emit.c_syntax import c_float, c_int, comment_text, json_string, model_prefix_problem, safe_model_prefix
from mcugen.emit.library import _checked, generate_library

STRICT = ["-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", "-pedantic", "-Wshadow", "-Wcomment"]
GCC_ONLY = ["-Wbidi-chars=any", "-Wtrigraphs"]

CLOSE = "*/ int injected_code = 1; /*"
NEWLINE = "\n#include <stdio.h>\n"
QUOTE = 'say "hi" to "you'
BACKSLASH = "ends in a backslash \\"
TRIGRAPH = "tri??/"
BIDI = "abc\u202edef"
LONG = "features." + "very_long_converter_layer_name." * 10  # 319 characters
HOSTILE = [CLOSE, NEWLINE, QUOTE, BACKSLASH, TRIGRAPH, BIDI, LONG]


def hostile_model(path: Path, output_name: str = CLOSE + NEWLINE) -> Path:
    """Conv -> Relu -> Conv -> Flatten -> Gemm, every name of it hostile; the two convs are named
    a-b and a_b, which sanitise to the same text."""
    rng = np.random.default_rng(8)
    x = BIDI + NEWLINE  # the input
    nodes = [
        helper.make_node("Conv", [x, CLOSE, QUOTE], ["a-b"], name="a-b", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["a-b"], [TRIGRAPH], name=""),
        helper.make_node("Conv", [TRIGRAPH, LONG, "a_b"], [BACKSLASH], name="a_b", strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Flatten", [BACKSLASH], [LONG + "flat"], name=TRIGRAPH + CLOSE),
        helper.make_node("Gemm", [LONG + "flat", BIDI, ""], [output_name], name=LONG, transB=1),
    ]
    initializers = {CLOSE: rng.normal(0, 0.3, (4, 3, 3, 3)), QUOTE: rng.normal(0, 0.1, 4),
                    LONG: rng.normal(0, 0.3, (6, 4, 3, 3)), "a_b": rng.normal(0, 0.1, 6),
                    BIDI: rng.normal(0, 0.3, (5, 6 * 4 * 4))}
    graph = helper.make_graph(
        nodes, CLOSE + TRIGRAPH + BIDI, [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, [1, 5])],
        [numpy_helper.from_array(v.astype(np.float32), k) for k, v in initializers.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    onnx.save(model, str(path))
    return path


def compile_and_run(lib_dir: Path, name: str, flat: np.ndarray, out_size: int, compilers=("gcc", "clang")):
    """Every .c of the library (the float API too) at the strictest warnings, linked with the test
    driver; returns each compiler's outputs."""
    sources = [str(p) for p in sorted(lib_dir.rglob("*.c"))]
    up, results = name.upper(), {}
    for cc in compilers:
        if shutil.which(cc) is None:
            raise AssertionError(f"compiler {cc} is not installed; run scripts/setup.sh")
        exe = lib_dir / f"run_{cc}"
        cmd = [cc, *STRICT, *(GCC_ONLY if cc == "gcc" else []), f"-I{lib_dir}", f'-DMODEL_HEADER="{name}.h"',
               f"-DMODEL_INVOKE={name}_invoke", f"-DMODEL_INPUT_SIZE={up}_INPUT_SIZE",
               f"-DMODEL_OUTPUT_SIZE={up}_OUTPUT_SIZE", *sources, str(SUPPORT / "run_model.c"), "-o", str(exe)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        assert done.returncode == 0, f"{cc} failed:\n{done.stderr[:4000]}"
        results[cc] = run_c(exe, flat, out_size)
    return results


def outside_comments(text: str) -> str:
    return re.sub(r"/\*.*?\*/", " ", text, flags=re.DOTALL)


def test_hostile_names_compile_run_bit_exact_and_never_reach_the_c(tmp_path):
    folder = tmp_path / 'odd "dir" ??= \\ \u202e'
    folder.mkdir()
    model = hostile_model(folder / 'my* "model" ??=\\ \u202e.onnx')
    rng = np.random.default_rng(1)
    calib = save_samples(folder / "calib *\\ ??=.npz", {BIDI + NEWLINE: rng.normal(0, 1, (20, 3, 8, 8))})
    compiled = compile_model(model, calib)
    name = compiled.name
    assert name == "my_model" and model_name(model) == name
    lib = generate_library(compiled.graph, tmp_path / "lib", compiled.calibration)
    samples = {BIDI + NEWLINE: rng.normal(0, 1, (6, 3, 8, 8)).astype(np.float32)}
    qin = quantized_inputs(compiled, samples)
    flat = qin[compiled.graph.inputs[0]].reshape(6, -1)
    expected = golden(compiled, qin)
    for cc, got in compile_and_run(lib.folder, name, flat, expected.shape[1]).items():
        assert np.array_equal(got, expected), f"{cc} differs from the golden reference"

    texts = {rel: (lib.folder / rel).read_text(encoding="utf-8", errors="strict") for rel in lib.files}
    for rel, text in texts.items():
        controls = {c for c in text if unicodedata.category(c) in ("Cc", "Cf") and c not in "\n\t"}
        assert not controls, f"{rel} holds control or format characters {controls}"  # U+202E is Cf
        assert {c for c in text if not c.isascii()} <= {"—"}, rel  # only the templates' own em dash
        assert "??" not in text, f"{rel} holds a trigraph"
        for raw in HOSTILE:
            assert raw not in text, f"{rel} holds the raw name {raw[:40]!r}"
        if rel.endswith((".c", ".h")):
            if not rel.startswith("kernels/"):
                assert not re.search(r"\\[ \t]*$", text, re.M), f"{rel} has a line ending in a backslash"
            code = outside_comments(text)
            assert "injected_code" not in code and "stdio" not in code and "/*" not in code
            assert all(len(i) <= 63 for i in re.findall(r"\b\w+\b", code)), f"{rel}: identifier over 63 characters"
    assert json.loads(texts["library.json"])["description"].endswith(f"from {model.name}")
    c_file = texts[f"{name}.c"]
    assert 'conv "a-b": [1, 8, 8, 3] -> [1, 8, 8, 4]' in c_file  # a plain name stays readable
    assert 'conv "a_b"' in c_file and "my_model_l00_conv_params" in c_file and "my_model_l01_conv_params" in c_file
    assert '/* 2: fully_connected "features.very_long_converter_layer_name.very_long_converter_...": ' in c_file
    assert '/* -: reshape "tri? ?/ * / int injected_code = 1; / *": [1, 4, 4, 6] -> [1, 96]' in c_file
    # 4 channels of 3 * 3 * 3 = 27 weights, each row zero-padded to 28 for the im2col kernel
    assert "const int8_t my_model_l00_conv_weights[112]" in texts[f"{name}_weights.c"]
    assert "const int8_t my_model_l01_conv_weights[216]" in texts[f"{name}_weights.c"]  # a-b and a_b apart
    header = texts[f"{name}.h"]
    assert '/* input 0 "abc\\u202edef\\n#include <stdio.h>\\n": ' in header
    assert '/* output 0 "* / int injected_code = 1; / *\\n#include <stdio.h>\\n": ' in header
    assert 'from "my* \\"model\\" ? ?=\\\\ \\u202e.onnx"' in header


def test_comment_text_rules():
    assert comment_text("features.0.conv") == "features.0.conv"
    assert comment_text("") == ""
    assert comment_text("a*/b/*c") == "a* /b/ *c"
    assert comment_text("???/") == "? ? ?/"
    assert comment_text("x\\") == "x\\\\" and comment_text('"') == '\\"'
    assert comment_text("\u202e\n\x00\U0001f600") == "\\u202e\\n\\x00\\U0001f600"
    long = comment_text("x" * 300)
    assert long == "x" * 60 + "..."
    assert comment_text("\u202e" * 20).endswith("\\u202e...")  # never cut inside an escape


def test_json_string_round_trips_and_template_values_are_checked():
    for raw in [*HOSTILE, "a\\/b", ""]:
        text = json_string(raw)
        assert json.loads(text) == raw and text.isascii() and "??" not in text and "*/" not in text
    for raw in (CLOSE, TRIGRAPH, BIDI, NEWLINE.strip() + "\x00"):
        with pytest.raises(ValueError, match="unsafe text"):
            _checked(raw)
    assert _checked("    1, 2,\n    3") == "    1, 2,\n    3"


# --- item 7: literals -------------------------------------------------------------------------

def test_every_literal_kind_compiles_pedantic_and_reads_back_exactly(tmp_path):
    """c_int at each type's limits (INT64_MIN and INT32_MIN have no literal of their own) and c_float
    on edge values and 2,000 random float32 bit patterns: compiled under -pedantic -Werror, printed
    back by the program, equal to the values."""
    ints = {"int64_t": [-(2**63), 2**63 - 1, -(2**31), 2**31, 0, -1],
            "int32_t": [-(2**31), 2**31 - 1, 0], "int16_t": [-(2**15), 2**15 - 1], "int8_t": [-128, 127],
            "uint8_t": [0, 255], "uint16_t": [65535], "uint32_t": [2**32 - 1]}
    bits = np.random.default_rng(7).integers(0, 2**32, 2000, dtype=np.uint64).astype(np.uint32)
    random_floats = [float(f) for f in bits.view(np.float32) if np.isfinite(f)]
    floats = [1.0, -1.0, 0.5, 1e-5, 3e20, 2.0**-149, float.fromhex("0x1.fffffep+127"), 0.1, 1 / 3, *random_floats]
    program = ["#include <stdint.h>", "#include <stdio.h>", "#include <string.h>"]
    for ctype, values in ints.items():
        program.append(f"static const {ctype} v_{ctype}[] = {{{', '.join(c_int(v, ctype) for v in values)}}};")
    program.append(f"static const float v_float[] = {{{', '.join(map(c_float, floats))}}};")
    program.append("int main(void)\n{\n    uint32_t i, b;")
    for ctype, values in ints.items():
        program.append(f'    for (i = 0; i < {len(values)}u; ++i) printf("%lld\\n", (long long)v_{ctype}[i]);')
    program.append(f'    for (i = 0; i < {len(floats)}u; ++i) {{ memcpy(&b, &v_float[i], 4); printf("%lu\\n", '
                   "(unsigned long)b); }\n    return 0;\n}")
    (tmp_path / "literals.c").write_text("\n".join(program) + "\n")
    expected = [v for values in ints.values() for v in values]
    expected += np.array(floats, dtype=np.float32).view(np.uint32).tolist()
    for cc in ("gcc", "clang"):
        exe = tmp_path / f"literals_{cc}"
        done = subprocess.run([cc, *STRICT, str(tmp_path / "literals.c"), "-o", str(exe)],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[:3000]
        printed = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()
        assert [int(v) for v in printed] == expected
    assert c_float(1.0) == "1.0f" and c_int(-(2**63), "int64_t") == "(-INT64_C(9223372036854775807) - 1)"


def single_op_model(path: Path, op: str, output: str = "y") -> Path:
    node = helper.make_node(op, ["x"], [output], name="only")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 3, 3])],
                              [helper.make_tensor_value_info(output, TensorProto.FLOAT, [1, 2, 3, 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    onnx.save(model, str(path))
    return path


def test_comment_injection_runs_nothing_on_verify_host(capsys, tmp_path):
    marker = tmp_path / "INJECTED"
    payload = ('*/ extern int system(const char *command); __attribute__((constructor)) static void pwn(void) '
               f'{{ (void)system("touch {marker}"); }} /*')
    model = single_op_model(tmp_path / "evil.onnx", "Relu", output=payload)
    code = main(["verify", str(model), "--board", "host", "--calib", "random", "--samples", "3",
                 "-o", str(tmp_path / "build"), "--json"])
    captured = capsys.readouterr()
    assert not marker.exists(), "code injected through an ONNX name ran on the host"
    assert code == 0, captured.err
    report = json.loads(captured.out)
    assert report["bit_exact"] == report["samples"] == 3


@pytest.mark.parametrize("op,calib_range", [("Identity", 3.0), ("Dropout", 3.0), ("Relu", 127.5)])
def test_pass_through_models_and_unit_scale_compile_strict_and_run(tmp_path, op, calib_range):
    """Identity/Dropout-only models (no layer left) and an input scale of exactly 1.0 (`1f` before)."""
    model = single_op_model(tmp_path / f"{op.lower()}_net.onnx", op)
    ramp = np.linspace(-calib_range, calib_range, 18 * 4).reshape(4, 2, 3, 3) - (0.5 if op == "Relu" else 0)
    calib = save_samples(tmp_path / "calib.npz", {"x": ramp})
    compiled = compile_model(model, calib)
    lib = generate_library(compiled.graph, tmp_path / "lib", compiled.calibration)
    if op == "Relu":
        assert "#define RELU_NET_INPUT0_SCALE 1.0f" in (lib.folder / "relu_net.h").read_text()
    samples = {"x": np.random.default_rng(3).normal(0, calib_range / 2, (5, 2, 3, 3)).astype(np.float32)}
    qin = quantized_inputs(compiled, samples)
    expected = golden(compiled, qin)
    for got in compile_and_run(lib.folder, compiled.name, qin["x"].reshape(5, -1), expected.shape[1]).values():
        assert np.array_equal(got, expected)


# --- item 9: the model prefix -----------------------------------------------------------------

@pytest.mark.parametrize("stem,prefix", [("model", "model_nn"), ("mcugen", "m_mcugen_nn"), ("main", "main_nn"),
                                         ("int", "int_nn"), ("arena", "arena_nn"), ("board", "board_nn"),
                                         ("int8", "int8_nn"), ("9lives", "m_9lives"), ("_X", "x_nn"),
                                         ("__x", "x_nn"), ("Resnet-8", "resnet_8"), ("", "model_nn")])
def test_file_names_make_safe_unreserved_prefixes(stem, prefix):
    assert safe_model_prefix(stem) == prefix
    assert model_prefix_problem(prefix) is None
    assert model_prefix_problem(stem.lower()) is not None or stem == "Resnet-8"


@pytest.mark.parametrize("name", ["model", "mcugen", "mcugen_net", "main", "int", "for", "arena", "_x", "__x",
                                  "9lives", "board", "a" * 25])
def test_reserved_name_is_refused_with_a_suggestion(capsys, tmp_path, name):
    model = single_op_model(tmp_path / "net.onnx", "Relu")
    code = main(["generate", str(model), "--name", name, "-o", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 1 and f"--name {name!r}" in err and "try --name" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("stem", ["mcugen", "main", "int", "arena", "9lives", "__x", "for"])
def test_reserved_file_names_generate_and_compile(tmp_path, stem):
    model = single_op_model(tmp_path / f"{stem}.onnx", "Relu")
    compiled = compile_model(model)
    lib = generate_library(compiled.graph, tmp_path / "lib", compiled.calibration)
    samples = {"x": np.random.default_rng(4).normal(0, 1, (3, 2, 3, 3)).astype(np.float32)}
    qin = quantized_inputs(compiled, samples)
    expected = golden(compiled, qin)
    for got in compile_and_run(lib.folder, compiled.name, qin["x"].reshape(3, -1), expected.shape[1],
                               compilers=("gcc",)).values():
        assert np.array_equal(got, expected)


@pytest.mark.parametrize("stem", ["model", "mcugen", "main", "board"])
def test_reserved_file_name_builds_and_verifies_on_host(capsys, tmp_path, stem):
    """The firmware links the library with the runtime and board support: `model` collided with the
    runtime's MODEL_* macros (MODEL_INPUT_SIZE undeclared)."""
    model = single_op_model(tmp_path / f"{stem}.onnx", "Relu")
    code = main(["verify", str(model), "--board", "host", "--calib", "random", "--samples", "3",
                 "-o", str(tmp_path / "build"), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)
    assert report["bit_exact"] == report["samples"] == 3


def test_hostile_tflite_names_never_reach_the_c(tmp_path):
    """The TFLite reader's tensor names (and the file's own name) go the ONNX names' way:
    through comment_text, never raw into the C or the library's files."""
    from tflite_builder import SAME, TfliteModel

    rng = np.random.default_rng(3)
    m = TfliteModel()
    x = m.tensor(CLOSE + NEWLINE, (1, 4, 4, 2), scale=0.05, zero_point=3)
    w = m.tensor(BIDI + QUOTE, (3, 3, 3, 2), scale=[0.01, 0.02, 0.015], zero_point=[0, 0, 0],
                 data=rng.integers(-127, 128, (3, 3, 3, 2)).astype(np.int8))
    b = m.tensor(TRIGRAPH + BACKSLASH, (3,), dtype=2, scale=[0.0005, 0.001, 0.00075], zero_point=[0, 0, 0],
                 data=rng.integers(-500, 500, 3).astype(np.int32))
    y = m.tensor(LONG + CLOSE, (1, 4, 4, 3), scale=0.1, zero_point=-5)
    m.op("CONV_2D", [x, w, b], [y], "conv", padding=SAME, stride_w=1, stride_h=1)
    model = tmp_path / 'tfl* "net" ??=\\ \u202e.tflite'
    model.write_bytes(m.build([x], [y]))
    out = tmp_path / "lib"
    assert main(["generate", str(model), "-o", str(out)]) == 0
    files = [p for p in out.rglob("*") if p.is_file()]
    for path in files:
        text = path.read_text(encoding="utf-8", errors="strict")
        for raw in HOSTILE:
            assert raw not in text, f"{path.name} holds the raw name {raw[:40]!r}"
        assert not {c for c in text if unicodedata.category(c) in ("Cc", "Cf") and c not in "\n\t"}, path.name
        if path.suffix in (".c", ".h"):
            code = outside_comments(text)
            assert "injected_code" not in code and "stdio" not in code and "/*" not in code, path.name
    name = next(p.stem for p in out.glob("*.h") if not p.stem.endswith("_weights"))
    # the names do reach the C, as comment text: the test is not passing on names that were dropped
    assert '/* input 0 "* / int injected_code = 1; / *\\n#include <stdio.h>\\n": ' in (out / f"{name}.h").read_text()
    result = subprocess.run(["gcc", "-std=c99", "-Wall", "-Werror", "-c", str(out / f"{name}.c"), f"-I{out}",
                             "-o", str(tmp_path / "net.o")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[:2000]
