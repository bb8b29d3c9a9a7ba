"""End to end through the CLI: build the digits models for a board, boot it (host process or QEMU),
verify over the serial protocol. Every sample must be bit-exact; QEMU ticks must repeat."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mcugen.cli import main

DIGITS = Path(__file__).resolve().parent.parent / "examples" / "digits"


def verify(capsys, tmp_path, board: str, kind: str = "cnn", samples: int = 20, *extra) -> dict:
    code = main(["verify", str(DIGITS / f"{kind}.onnx"), "--board", board, "--calib", str(DIGITS / f"calib_{kind}.npz"),
                 "--data", str(DIGITS / f"test_{kind}.npz"), "--samples", str(samples), "-o", str(tmp_path / "build"),
                 "--json", *extra])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


@pytest.mark.parametrize("board,kind", [("host", "cnn"), ("host", "mlp"), ("stm32", "cnn"), ("mps2-an386", "cnn"),
                                        ("mps2-an385", "mlp"), ("mps2-an500", "cnn"), ("mps2-an505", "mlp"),
                                        ("microbit", "cnn")])
def test_every_sample_bit_exact(capsys, tmp_path, board, kind):
    if board != "host" and shutil.which("qemu-system-arm") is None:
        pytest.fail("qemu-system-arm is not installed; run scripts/setup.sh")
    report = verify(capsys, tmp_path, board, kind)
    assert report["bit_exact"] == report["samples"] == 20 and report["mismatches"] == []
    assert report["float_top1_agreement"] >= 0.95 and report["cosine_min"] > 0.98
    assert report["accuracy"] >= report["float_accuracy"] - 0.05
    assert report["ticks_per_inference"] > 0 and report["arena_bytes"] > 0
    for key in ("board", "model_hash", "flash_bytes", "ram_bytes", "tick_unit", "max_abs_error"):
        assert key in report


def test_qemu_ticks_repeat_across_runs(capsys, tmp_path):
    first = verify(capsys, tmp_path, "stm32", "mlp", 3)
    (tmp_path / "build" / "stm32f405" / "build.json").unlink()  # force a rebuild and a fresh boot
    second = verify(capsys, tmp_path, "stm32", "mlp", 3)
    assert first["tick_unit"] == "instructions"
    for key in ("ticks_per_inference", "ticks_min", "ticks_max"):
        assert first[key] == second[key]


def test_project_file_build_then_verify(capsys, tmp_path, monkeypatch):
    for f in ("mlp.onnx", "calib_mlp.npz", "test_mlp.npz"):
        shutil.copy(DIGITS / f, tmp_path / f)
    monkeypatch.chdir(tmp_path)
    assert main(["init", "--model", "mlp.onnx", "--calib", "calib_mlp.npz", "--data", "test_mlp.npz",
                 "--board", "host"]) == 0
    assert main(["init"]) == 1 and "already exists" in capsys.readouterr().err
    assert main(["build"]) == 0 and (tmp_path / "build" / "host" / "build.json").is_file()
    out = capsys.readouterr().out
    assert "weights" in out and "arena" in out
    assert main(["verify", "--samples", "5"]) == 0
    assert "bit-exact        5/5" in capsys.readouterr().out
    # A model named on the command line does not inherit the project's calibration data or C name.
    shutil.copy(DIGITS / "cnn.onnx", tmp_path / "cnn.onnx")
    assert main(["build", "cnn.onnx", "-o", "other"]) == 1 and "--calib random" in capsys.readouterr().err
    assert main(["build", "cnn.onnx", "-o", "other", "--calib", "random"]) == 0
    assert "built cnn" in capsys.readouterr().out


def test_unknown_board_is_one_sentence(capsys):
    code = main(["build", str(DIGITS / "mlp.onnx"), "--board", "arduino-mega"])
    err = capsys.readouterr().err
    assert code == 1 and "arduino-mega" in err and "Traceback" not in err


def test_boards_table(capsys):
    assert main(["boards"]) == 0
    out = capsys.readouterr().out
    for name in ("stm32f405", "nucleo-f446re", "mps2-an385", "mps2-an386", "mps2-an500", "mps2-an505", "microbit",
                 "host"):
        assert name in out


@pytest.mark.parametrize("board,extra", [
    ("stm32", ["--weights", "int4"]),
    ("stm32", ["--activations", "int16", "--method", "mse"]),
    ("mps2-an505", ["--weights", "int4", "--method", "percentile"]),
    ("host", ["--activations", "int16"]),
    ("stm32", ["--activations", "float32", "--weights", "int4"]),
])
def test_quantization_modes_bit_exact_on_the_board(capsys, tmp_path, board, extra):
    report = verify(capsys, tmp_path, board, "cnn", 10, *extra)
    assert report["bit_exact"] == report["samples"] == 10 and report["mismatches"] == []
    assert report["float_top1_agreement"] >= 0.9
    record = json.loads((tmp_path / "build" / report["board"] / "build.json").read_text())
    flags = dict(zip(extra[::2], extra[1::2]))  # the flags reached the build, not only the parser
    assert record["fingerprint"]["weights"] == flags.get("--weights")
    assert record["fingerprint"]["activations"] == flags.get("--activations")
    assert record["fingerprint"]["method"] == flags.get("--method", "minmax")
    library = Path(record["library"])
    kernels = {p.name for p in (library / "kernels").iterdir()}
    conv = {(None, None): "s8", ("int4", None): "s4", (None, "int16"): "s16",
            ("int4", "float32"): "f32_w4"}[flags.get("--weights"), flags.get("--activations")]
    assert f"cnn_conv_{conv}.c" in kernels, kernels


def test_quantize_section_of_the_project_file_reaches_build_and_verify(capsys, tmp_path, monkeypatch):
    for f in ("cnn.onnx", "calib_cnn.npz", "test_cnn.npz"):
        shutil.copy(DIGITS / f, tmp_path / f)
    (tmp_path / "plan.json").write_text('{"default": "w8a8", "layers": {"conv2": "w4a8", "fc": "w8a16"}}')
    (tmp_path / "mcugen.toml").write_text('[model]\npath = "cnn.onnx"\ncalib = "calib_cnn.npz"\n\n[build]\n'
                                          'board = "host"\n\n[quantize]\nmethod = "entropy"\nprecision = "plan.json"\n'
                                          '\n[verify]\ndata = "test_cnn.npz"\nsamples = 8\n')
    monkeypatch.chdir(tmp_path)
    assert main(["build"]) == 0
    record = json.loads((tmp_path / "build" / "host" / "build.json").read_text())
    assert record["fingerprint"]["method"] == "entropy" and record["fingerprint"]["precision"]
    assert any("fully_connected" in name or "fc" in name for name, _ in record["layers"])
    capsys.readouterr()
    assert main(["verify", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["bit_exact"] == 8
    (tmp_path / "plan.json").write_text('{"default": "w8a8", "layers": {"conv2": "w8a8"}}')
    assert main(["verify", "--json"]) == 0  # a changed plan rebuilds
    assert json.loads(capsys.readouterr().out)["model_hash"] != report["model_hash"]


def test_a_build_by_other_kernels_or_templates_is_stale(tmp_path, monkeypatch):
    """The version string does not change in a checkout: the build records a hash of mcugen's own
    sources, so verify after a kernel edit rebuilds instead of running the old firmware."""
    import mcugen.project as project
    from mcugen.resources import sources_digest

    opts = project.Options(model=str(DIGITS / "mlp.onnx"), calib=str(DIGITS / "calib_mlp.npz"), board="host",
                           output=str(tmp_path / "build"))
    record, _ = project.build(opts)
    assert record.fingerprint["sources"] == sources_digest()
    assert project.current_build(opts) is not None
    monkeypatch.setattr(project, "sources_digest", lambda: "0123456789abcdef")
    assert project.current_build(opts) is None
