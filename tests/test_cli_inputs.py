"""Hostile input to the command line, mcugen.toml and the sample files: each ends in one sentence
(exit code 1, or 2 for a command line that cannot be parsed) — never a traceback, never a hang."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from onnx import helper

from helpers import make_model, save_samples
from mcugen.cli import main
from mcugen.compiler import load_float_graph
from mcugen.data import load_samples
from mcugen.errors import McugenError
from mcugen.project import FLASH_TOOLS, SCHEMA, compile_project, load_options

DIGITS = Path(__file__).resolve().parent.parent / "examples" / "digits"
MLP_INPUT = 64  # the digits MLP takes x: [1, 64]


def error_line(err: str) -> str:
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("mcugen: error:")]
    assert len(lines) == 1, err
    return lines[0]


def run_cli(capsys, *args) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def usage_error(capsys, *args) -> str:
    with pytest.raises(SystemExit) as exit_:
        main([str(a) for a in args])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "usage:" not in err
    return error_line(err)


@pytest.fixture(scope="module")
def mlp_graph():
    return load_float_graph(DIGITS / "mlp.onnx")


# --- mcugen.toml -----------------------------------------------------------------------------------

def config_error(tmp_path: Path, text: str | bytes) -> str:
    config = tmp_path / "mcugen.toml"
    config.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(McugenError) as exc:
        load_options({}, config)
    message = str(exc.value)
    assert "\n" not in message and str(config) in message
    return message


@pytest.mark.parametrize("section,line,expected", [
    ("build", "board = 42", "[build] board = 42: must be a quoted string, not an integer"),
    ("build", "output = 7", "[build] output = 7: must be a quoted string"),
    ("model", "name = 5", "[model] name = 5: must be a quoted string"),
    ("model", 'name = "a b"', "is not a lower-case C identifier"),
    ("model", 'name = "../x"', "is not a lower-case C identifier"),
    ("model", "path = true", "[model] path = True: must be a quoted string, not a boolean"),
    ("model", 'path = ""', "must be a non-empty string"),
    ("model", "calib = [1, 2]", "[model] calib = [1, 2]: must be a quoted string, not an array"),
    ("model", "calib_samples = 0", "[model] calib_samples = 0: must be at least 1"),
    ("model", "calib_samples = 2.5", "must be a whole number, not a number"),
    ("build", 'board = "arduino"', "must name a board mcugen knows (mcugen boards): host,"),
    ("build", 'flash_tool = "jlink"', "must be one of 'st-flash', 'openocd', 'pio'"),
    ("build", "port = 1", "[build] port = 1: must be a quoted string"),
    ("quantize", 'method = "median"', "must be one of 'minmax', 'percentile', 'mse', 'entropy'"),
    ("quantize", "percentile = 0", "[quantize] percentile = 0: must be in (50, 100]"),
    ("quantize", "percentile = 150", "must be in (50, 100]"),
    ("quantize", "percentile = nan", "must be in (50, 100]"),
    ("quantize", 'percentile = "99"', "must be a number in (50, 100], not a string"),
    ("quantize", 'weights = "int2"', "must be one of 'int8', 'int4'"),
    ("quantize", 'activations = "int32"', "must be one of 'int8', 'int16', 'float32'"),
    ("quantize", "precision = 3", "[quantize] precision = 3: must be a quoted string"),
    ("quantize", 'bias_correction = "no"', "must be true or false, not a string"),
    ("quantize", "bias_correction = 0", "must be true or false, not an integer"),
    ("quantize", 'reconstruct = "yes"', "must be true or false, not a string"),
    ("quantize", "codebook = 0", "[quantize] codebook = 0: must be at least 1"),
    ("verify", "samples = -3", "[verify] samples = -3: must be at least 1"),
    ("verify", "samples = true", "must be a whole number, not a boolean"),
    ("verify", "seed = -1", "must be a whole number from 0 to 4294967295"),
    ("verify", "data = {a = 1}", "must be a quoted string, not a table"),
])
def test_every_key_is_type_and_range_checked(tmp_path, section, line, expected):
    model = "" if section == "model" else '[model]\npath = "m.onnx"\n'
    assert expected in config_error(tmp_path, f"{model}[{section}]\n{line}\n")


def test_every_schema_key_has_a_test_above():
    tested = {"board", "output", "name", "path", "calib", "calib_samples", "flash_tool", "port", "method",
              "percentile", "weights", "activations", "precision", "bias_correction", "reconstruct", "codebook",
              "samples", "seed",
              "data"}
    assert {key for keys in SCHEMA.values() for key in keys} == tested


def test_unknown_section_is_named_with_the_known_ones(tmp_path):
    message = config_error(tmp_path, '[model]\npath = "m.onnx"\n[buld]\nboard = "host"\n')
    assert "unknown section 'buld'" in message and "did you mean 'build'?" in message
    assert "the sections are model, build, quantize, verify" in message


def test_unknown_key_is_named_with_the_keys_of_its_section(tmp_path):
    message = config_error(tmp_path, '[model]\npath = "m.onnx"\n[build]\nbaord = "stm32"\n')
    assert "unknown key 'baord' in [build]" in message and "did you mean 'board'?" in message
    assert "the keys of [build] are board, output, flash_tool, port" in message


def test_key_in_the_wrong_section_or_outside_any(tmp_path):
    assert "it belongs under [model]" in config_error(tmp_path, '[build]\nname = "net"\n')
    assert "put board under [build]" in config_error(tmp_path, 'board = "stm32"\n')
    assert "model must be a section [model]" in config_error(tmp_path, 'model = "m.onnx"\n')


@pytest.mark.parametrize("content,expected", [
    (b"[model\n", "is not valid TOML"),
    (b'[model]\npath = "\xff\xfe.onnx"\n', "is not UTF-8 text"),
    (b"# comment\n" * 200_000, "too large for a project file"),
])
def test_unreadable_project_file_is_one_sentence(tmp_path, content, expected):
    assert expected in config_error(tmp_path, content)


def test_project_file_that_is_a_folder(tmp_path):
    (tmp_path / "mcugen.toml").mkdir()
    with pytest.raises(McugenError, match="is a folder, not a project file"):
        load_options({}, tmp_path / "mcugen.toml")


def test_hostile_project_file_through_the_cli(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mcugen.toml").write_text('[model]\npath = "m.onnx"\n[build]\nboard = 42\n')
    for command in ("build", "flash", "verify"):
        code, err = run_cli(capsys, command)
        assert code == 1 and "board = 42" in error_line(err)


def test_every_key_reaches_the_options_and_paths_are_relative_to_the_file(tmp_path, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    (project / "mcugen.toml").write_text(
        '[model]\npath = "m.onnx"\ncalib = "data/c.npz"\ncalib_samples = 5\nname = "net"\n'
        '[build]\nboard = "stm32"\noutput = "out"\nflash_tool = "openocd"\nport = "/dev/ttyACM0"\n'
        '[quantize]\nmethod = "percentile"\npercentile = 99\nweights = "int4"\nactivations = "int8"\n'
        'precision = "plan.json"\nbias_correction = false\n'
        '[verify]\ndata = "t.npz"\nsamples = 7\nseed = 3\n')
    monkeypatch.chdir(tmp_path)  # not the project's folder
    opts = load_options({}, project / "mcugen.toml")
    assert opts.path(opts.model) == project / "m.onnx" and opts.calib_path() == project / "data" / "c.npz"
    assert opts.path(opts.output) == project / "out" and opts.path(opts.data) == project / "t.npz"
    assert (opts.calib_samples, opts.name, opts.board, opts.flash_tool, opts.port) == (
        5, "net", "stm32", "openocd", "/dev/ttyACM0")
    assert (opts.method, opts.percentile, opts.weights, opts.activations, opts.no_bias_correction) == (
        "percentile", 99.0, "int4", "int8", True)
    assert (opts.samples, opts.seed, opts.path(opts.precision)) == (7, 3, project / "plan.json")
    flags = load_options({"board": "host", "samples": 2}, project / "mcugen.toml")
    assert (flags.board, flags.samples) == ("host", 2)


def test_flash_tools_of_the_schema_are_those_flash_knows():
    from mcugen.target.flash import FLASH_TOOLS as KNOWN

    assert set(FLASH_TOOLS) == set(KNOWN)


# --- calibration on random data is asked for, never silent ---------------------------------------

def test_build_without_calibration_data_refuses_and_says_how(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mcugen.toml").write_text(f'[model]\npath = "{DIGITS / "mlp.onnx"}"\n[build]\nboard = "host"\n')
    code, err = run_cli(capsys, "build")
    assert code == 1 and "--calib random" in error_line(err) and not (tmp_path / "build").exists()


def test_calib_random_in_the_project_file_calibrates_on_random_samples(tmp_path):
    config = tmp_path / "mcugen.toml"
    config.write_text(f'[model]\npath = "{DIGITS / "mlp.onnx"}"\ncalib = "random"\n')
    compiled = compile_project(load_options({}, config))
    assert "random normal samples" in compiled.calibration and any("--calib" in w for w in compiled.warnings)


def test_weight_only_needs_no_calibration_data(capsys, tmp_path):
    code, err = run_cli(capsys, "generate", DIGITS / "mlp.onnx", "--activations", "float32", "-o", tmp_path / "o")
    assert code == 0, err


# --- mcugen init ---------------------------------------------------------------------------------

def test_init_picks_up_the_sample_files_here(capsys, tmp_path, monkeypatch):
    for name in ("mlp.onnx", "calib_mlp.npz", "test_mlp.npz", "calib_cnn.npz"):
        (tmp_path / name).write_bytes((DIGITS / name).read_bytes())
    monkeypatch.chdir(tmp_path)
    assert main(["init", "--board", "host"]) == 0
    out = capsys.readouterr().out
    assert "calibration data: calib_mlp.npz" in out and "verification data: test_mlp.npz" in out
    opts = load_options({})
    assert opts.calib == "calib_mlp.npz" and opts.data == "test_mlp.npz" and opts.board == "host"


def test_init_without_sample_files_says_so_and_build_refuses(capsys, tmp_path, monkeypatch):
    (tmp_path / "mlp.onnx").write_bytes((DIGITS / "mlp.onnx").read_bytes())
    monkeypatch.chdir(tmp_path)
    assert main(["init", "--board", "host"]) == 0
    assert "no calibration data found here" in capsys.readouterr().err
    assert load_options({}).calib is None
    code, err = run_cli(capsys, "build")
    assert code == 1 and "--calib random" in error_line(err)


def test_init_writes_paths_toml_can_read_back(capsys, tmp_path, monkeypatch):
    odd = tmp_path / 'a "quoted" \\ name.onnx'
    odd.write_bytes((DIGITS / "mlp.onnx").read_bytes())
    monkeypatch.chdir(tmp_path)
    assert main(["init", "--model", odd.name, "--calib", "random", "--board", "host"]) == 0
    assert load_options({}).model == odd.name


# --- command-line arguments ----------------------------------------------------------------------

@pytest.mark.parametrize("args,expected", [
    (["verify", "--samples", "-3"], "argument --samples: -3 must be at least 1"),
    (["verify", "--samples", "many"], "argument --samples: 'many' is not a whole number"),
    (["verify", "--seed", "-1"], "argument --seed: -1 must be from 0 to 4294967295"),
    (["generate", "m.onnx", "-o", "o", "--percentile", "0"], "argument --percentile: percentile 0.0 is outside"),
    (["generate", "m.onnx", "-o", "o", "--percentile", "150"], "is outside (50, 100]"),
    (["generate", "m.onnx", "-o", "o", "--percentile", "nan"], "is outside (50, 100]"),
    (["generate", "m.onnx", "-o", "o", "--percentile", "high"], "'high' is not a number"),
    (["generate", "m.onnx", "-o", "o", "--calib-samples", "0"], "argument --calib-samples: 0 must be at least 1"),
    (["generate", "m.onnx", "-o", "o", "--max-drop", "-1"], "argument --max-drop: -1 must be a finite number"),
    (["generate", "m.onnx", "-o", "o", "--max-drop", "nan"], "must be a finite number"),
    (["generate", "m.onnx"], "the following arguments are required: -o/--output"),
    (["generate"], "the following arguments are required: model, -o/--output"),
    (["build", "--weights", "int2"], "argument --weights: invalid choice: 'int2'"),
    (["flash", "--flash-tool", "jlink"], "argument --flash-tool: invalid choice: 'jlink'"),
    (["flash", "--method", "fastest"], "argument --method: invalid choice: 'fastest'"),
    (["sweep", "m.onnx", "--calib", "c.npz", "--data", "d.npz", "--samples", "0"], "--samples: 0 must be at least"),
    (["sweep", "m.onnx", "--calib", "c.npz", "--data", "d.npz", "--methods", " , "], "' , ' names nothing"),
    (["sensitivity", "m.onnx", "--data", "d.npz", "--modes", ",,"], "argument --modes: ',,' names nothing"),
    (["generate", "m.onnx", "-o", "o", "--save-plan", "/"], "argument --save-plan: / is a folder"),
    (["generate", "m.onnx", "-o", "o", "--save-plan", "/nonexistent/p.json"], "its folder /nonexistent does not"),
    (["compile", "m.onnx"], "invalid choice: 'compile'"),
    ([], "the following arguments are required: COMMAND"),
])
def test_nonsense_arguments_are_one_line(capsys, args, expected):
    assert expected in usage_error(capsys, *args)


@pytest.mark.parametrize("args, expected", [
    (["generate", "m.onnx", "-o", "o", "--name", "../x"], "'../x' is not a lower-case C identifier"),
    (["generate", "m.onnx", "-o", "o", "--name", "a b"], "try --name a_b"),
    (["generate", "m.onnx", "-o", "o", "--name", "9lives"], "try --name m_9lives"),
    (["generate", "m.onnx", "-o", "o", "--name", "x" * 64], "is longer than 24 characters"),
])
def test_a_bad_name_is_one_sentence_before_any_work(capsys, args, expected):
    assert main(args) == 1  # the model file does not exist: the name is checked first
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1 and "Traceback" not in err


def test_flash_tool_from_the_flag_or_the_project_file_reaches_the_flasher(capsys, tmp_path, monkeypatch):
    import mcugen.target.flash

    used = []
    monkeypatch.setattr(mcugen.target.flash, "flash_real",
                        lambda board, elf, method, binary: used.append(method) or "ok")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mcugen.toml").write_text(f'[model]\npath = "{DIGITS / "mlp.onnx"}"\n'
                                          f'calib = "{DIGITS / "calib_mlp.npz"}"\n'
                                          '[build]\nboard = "nucleo-f446re"\nflash_tool = "openocd"\n')
    assert main(["flash"]) == 0 and main(["flash", "--flash-tool", "pio"]) == 0
    assert used == ["openocd", "pio"]


def test_flash_method_is_the_calibration_method(capsys, tmp_path, monkeypatch):
    """flash builds when stale, so --method is the calibration method there too; --flash-tool writes."""
    monkeypatch.chdir(tmp_path)
    code, err = run_cli(capsys, "flash", "--method", "mse", "--flash-tool", "pio", "--board", "arduino",
                        DIGITS / "mlp.onnx")
    assert code == 1 and "unknown board 'arduino'" in error_line(err)


@pytest.mark.parametrize("budget,expected", [("abc", "flash budget 'abc' is not a size like 48K"),
                                             ("0K", "must be positive"), ("inf", "'inf' is not a size"),
                                             ("nan", "'nan' is not a size"), ("", "'' is not a size")])
def test_flash_budget_is_checked_before_the_compile(capsys, tmp_path, budget, expected):
    code, err = run_cli(capsys, "generate", DIGITS / "mlp.onnx", "--calib", DIGITS / "calib_mlp.npz",
                        "--flash-budget", budget, "--data", DIGITS / "test_mlp.npz", "-o", tmp_path / "o")
    assert code == 1 and expected in error_line(err) and not (tmp_path / "o").exists()


def test_build_folder_under_a_file(capsys, tmp_path):
    (tmp_path / "afile").write_text("mine")
    code, err = run_cli(capsys, "build", DIGITS / "mlp.onnx", "--calib", DIGITS / "calib_mlp.npz", "--board", "host",
                        "-o", tmp_path / "afile" / "build")
    assert code == 1 and "afile is a file, not a folder" in error_line(err)
    assert (tmp_path / "afile").read_text() == "mine"


@pytest.mark.parametrize("command", ["generate", "quantize"])
def test_output_under_a_file(capsys, tmp_path, command):
    (tmp_path / "afile").write_text("mine")
    code, err = run_cli(capsys, command, DIGITS / "mlp.onnx", "--calib", DIGITS / "calib_mlp.npz",
                        "-o", tmp_path / "afile" / "out")
    assert code == 1 and "afile is a file, not a folder" in error_line(err)
    assert (tmp_path / "afile").read_text() == "mine"


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe.onnx"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("kind", ["missing", "folder", "fifo", "device"])
@pytest.mark.parametrize("command", ["inspect", "generate", "build", "sweep"])
def test_model_path_that_is_not_a_file(capsys, tmp_path, fifo, kind, command):
    model = {"missing": tmp_path / "nope.onnx", "folder": tmp_path, "fifo": fifo, "device": Path("/dev/zero")}[kind]
    extra = {"inspect": [], "generate": ["--calib", DIGITS / "calib_mlp.npz", "-o", tmp_path / "o"],
             "build": ["--calib", DIGITS / "calib_mlp.npz", "--board", "host", "-o", tmp_path / "b"],
             "sweep": ["--calib", DIGITS / "calib_mlp.npz", "--data", DIGITS / "test_mlp.npz"]}[command]
    code, err = run_cli(capsys, command, model, *extra)
    expected = {"missing": "does not exist", "folder": "is a folder", "fifo": "is not a regular file",
                "device": "is not a regular file"}[kind]
    assert code == 1 and expected in error_line(err) and "model file" in error_line(err)


@pytest.mark.parametrize("flag", ["--calib", "--precision", "--data"])
def test_other_input_files_that_are_fifos_do_not_hang(capsys, tmp_path, fifo, flag):
    extra = ["--calib", DIGITS / "calib_mlp.npz"] if flag != "--calib" else []
    extra += ["--max-drop", "1"] if flag == "--data" else []
    code, err = run_cli(capsys, "generate", DIGITS / "mlp.onnx", flag, fifo, *extra, "-o", tmp_path / "o")
    assert code == 1 and "is not a regular file" in error_line(err)


# --- calibration and validation data -------------------------------------------------------------

def x_samples(count: int = 4, value: float = 0.5, dtype=np.float32) -> np.ndarray:
    return np.full((count, MLP_INPUT), value, dtype)


def npy(tmp_path: Path, array: np.ndarray, allow_pickle: bool = False) -> Path:
    path = tmp_path / "d.npy"
    np.save(path, array, allow_pickle=allow_pickle)
    return path


def data_error(path: Path, graph) -> str:
    with pytest.raises(McugenError) as exc:
        load_samples(path, graph, "calibration")
    message = str(exc.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("array,expected", [
    (x_samples(value=1e300, dtype=np.float64), "out-of-float32-range"),
    (x_samples(value=np.nan), "NaN"),
    (x_samples(value=-np.inf), "infinite"),
    (x_samples()[:, :10], "has shape (4, 10); the model wants [samples, 64]"),
    (np.float32(1.0), "has shape ()"),
    (x_samples().astype(np.complex64), "holds complex64 values, not real numbers"),
    (x_samples() > 0, "holds bool values, not real numbers"),
    (np.full((4, MLP_INPUT), "a"), "holds <U1 values, not real numbers"),
    (np.zeros((0, MLP_INPUT), np.float32), "holds no samples"),
])
def test_bad_arrays(tmp_path, mlp_graph, array, expected):
    assert expected in data_error(npy(tmp_path, array), mlp_graph)
    assert expected in data_error(save_samples(tmp_path / "d.npz", {"x": array}), mlp_graph)


def test_pickled_objects_are_never_loaded(tmp_path, mlp_graph):
    objects = np.empty((4, MLP_INPUT), object)
    objects[:] = 0.5
    assert "Python objects (pickled data)" in data_error(npy(tmp_path, objects, allow_pickle=True), mlp_graph)
    assert "Python objects" in data_error(save_samples(tmp_path / "d.npz", {"x": objects}), mlp_graph)


def test_truncated_and_corrupt_files(tmp_path, mlp_graph):
    whole = npy(tmp_path, x_samples(100)).read_bytes()
    (tmp_path / "cut.npy").write_bytes(whole[:-10])
    assert "is truncated" in data_error(tmp_path / "cut.npy", mlp_graph)
    (tmp_path / "head.npy").write_bytes(whole[:20])
    assert "is not a readable .npz or .npy file" in data_error(tmp_path / "head.npy", mlp_graph)
    npz = save_samples(tmp_path / "d.npz", {"x": x_samples(100)}).read_bytes()
    (tmp_path / "cut.npz").write_bytes(npz[:len(npz) // 2])
    assert "is not a readable .npz or .npy file" in data_error(tmp_path / "cut.npz", mlp_graph)
    (tmp_path / "junk.npz").write_bytes(b"\x93NUMPY garbage" * 10)
    assert "is not a readable .npz or .npy file" in data_error(tmp_path / "junk.npz", mlp_graph)


def test_corrupt_member_of_a_compressed_npz(tmp_path, mlp_graph):
    path = tmp_path / "c.npz"
    np.savez_compressed(path, x=np.random.default_rng(0).standard_normal((50, MLP_INPUT)).astype(np.float32))
    raw = bytearray(path.read_bytes())
    raw[200:260] = bytes(60)  # inside the deflated data
    path.write_bytes(bytes(raw))
    assert "is not a readable .npz or .npy file" in data_error(path, mlp_graph)


def test_huge_header_and_huge_declared_shape(tmp_path, mlp_graph):
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 64), " + " " * 20000 + "}\n"
    path = tmp_path / "h.npy"
    path.write_bytes(b"\x93NUMPY\x02\x00" + len(header).to_bytes(4, "little") + header.encode() + bytes(1024))
    assert "is not a readable .npz or .npy file" in data_error(path, mlp_graph)
    big = "{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000, 64), }"
    big += " " * (118 - len(big)) + "\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(big).to_bytes(2, "little") + big.encode() + bytes(1024))
    assert "more than mcugen loads" in data_error(path, mlp_graph)


def test_sample_file_that_is_a_folder(tmp_path, mlp_graph):
    assert "is a folder" in data_error(tmp_path, mlp_graph)


def test_wrong_labels(tmp_path, mlp_graph):
    x = x_samples(4)
    assert "count 3, the inputs 4" in data_error(save_samples(tmp_path / "a.npz", {"x": x, "y": np.arange(3)}),
                                                 mlp_graph)
    assert "has shape (4, 2)" in data_error(save_samples(tmp_path / "b.npz", {"x": x, "y": np.zeros((4, 2))}),
                                            mlp_graph)
    assert "not whole numbers" in data_error(save_samples(tmp_path / "c.npz", {"x": x, "y": np.full(4, 0.5)}),
                                             mlp_graph)
    assert "negative" in data_error(save_samples(tmp_path / "d.npz", {"x": x, "labels": -np.ones(4)}), mlp_graph)


def test_inputs_of_different_sample_counts(tmp_path):
    model = make_model(tmp_path / "two.onnx", [helper.make_node("Add", ["a", "b"], ["out"])],
                       {"a": [1, 4], "b": [1, 4]}, {"out": [1, 4]}, {})
    graph = load_float_graph(model)
    path = save_samples(tmp_path / "d.npz", {"a": np.zeros((3, 4)), "b": np.zeros((5, 4))})
    assert "different numbers of samples ({'a': 3, 'b': 5})" in data_error(path, graph)


def test_calibration_data_that_overflows_inside_the_model(capsys, tmp_path):
    """3e38 is a finite float32, but the first layer's products overflow: one sentence, no traceback."""
    calib = save_samples(tmp_path / "c.npz", {"x": x_samples(8, 3e38)})
    code, err = run_cli(capsys, "generate", DIGITS / "mlp.onnx", "--calib", calib, "-o", tmp_path / "o")
    assert code == 1 and "NaN or infinity" in error_line(err)


def test_labels_are_y_or_labels_and_an_input_named_y_is_fed(tmp_path, mlp_graph):
    x, labels = x_samples(4), np.array([1, 2, 3, 4])
    for key in ("y", "labels"):
        samples = load_samples(save_samples(tmp_path / f"{key}.npz", {"x": x, key: labels}), mlp_graph)
        assert samples.labels.tolist() == [1, 2, 3, 4] and list(samples.inputs) == ["x"]
    # A model whose input is named y: y is its input, labels come as "labels".
    model = make_model(tmp_path / "y.onnx", [helper.make_node("Relu", ["y"], ["out"])], {"y": [1, 4]},
                       {"out": [1, 4]}, {})
    graph = load_float_graph(model)
    y = np.arange(8, dtype=np.float32).reshape(2, 4)
    fed = load_samples(save_samples(tmp_path / "in.npz", {"y": y}), graph)
    assert fed.labels is None and np.array_equal(fed.inputs["y"], y)
    both = load_samples(save_samples(tmp_path / "both.npz", {"y": y, "labels": np.array([0, 3])}), graph)
    assert both.labels.tolist() == [0, 3] and np.array_equal(both.inputs["y"], y)


def test_npz_with_a_folder_entry_and_extra_arrays(tmp_path, mlp_graph):
    path = save_samples(tmp_path / "d.npz", {"x": x_samples(3), "notes": np.arange(2)})
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("extra/", b"")
    assert load_samples(path, mlp_graph).count == 3
