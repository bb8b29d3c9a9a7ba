"""Bad input ends in one clear sentence and exit code 1 — never a traceback, never lost files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx import helper

from helpers import make_model, save_samples
from mcugen.cli import main

DIGITS = Path(__file__).resolve().parent.parent / "examples" / "digits"


def run_cli(capsys, *args) -> tuple[int, str]:
    code = main([str(a) for a in args])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def usage_error(capsys, *args) -> str:
    """A command line that cannot run: exit code 2 and one line naming the argument."""
    with pytest.raises(SystemExit) as exit_:
        main([str(a) for a in args])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "Traceback" not in err and "usage:" not in err
    return error_line(err)


def error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.startswith("mcugen: error:")]
    assert len(lines) == 1, err
    return lines[0]


def test_missing_model(capsys, tmp_path):
    code, err = run_cli(capsys, "generate", tmp_path / "nope.onnx", "-o", tmp_path / "out")
    assert code == 1 and "does not exist" in error_line(err)


def test_corrupt_model(capsys, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage" * 50)
    code, err = run_cli(capsys, "inspect", bad)
    assert code == 1 and "not a readable ONNX model" in error_line(err)


def test_every_unsupported_node_is_listed(capsys, tmp_path):
    model = make_model(tmp_path / "m.onnx", [helper.make_node("Sin", ["x"], ["a"], name="sine"),
                                             helper.make_node("Cos", ["a"], ["y"], name="cosine")],
                       {"x": [1, 4]}, {"y": [1, 4]}, {})
    code, err = run_cli(capsys, "inspect", model)
    line = error_line(err)
    assert code == 1 and "2 node(s) are not supported" in line and "Sin (sine)" in line and "Cos (cosine)" in line


def test_calibration_shape_mismatch(capsys, tmp_path):
    calib = save_samples(tmp_path / "c.npz", {"x": np.zeros((5, 8, 8), np.float32)})
    code, err = run_cli(capsys, "generate", DIGITS / "cnn.onnx", "--calib", calib, "-o", tmp_path / "out")
    assert code == 1 and "has shape (5, 8, 8)" in error_line(err)


def test_calibration_name_mismatch(capsys, tmp_path):
    calib = save_samples(tmp_path / "c.npz", {"images": np.zeros((5, 64), np.float32),
                                              "other": np.zeros((5, 64), np.float32)})
    code, err = run_cli(capsys, "generate", DIGITS / "mlp.onnx", "--calib", calib, "-o", tmp_path / "out")
    assert code == 1 and "none named after the model's input 'x'" in error_line(err)


def test_missing_calibration_file(capsys, tmp_path):
    code, err = run_cli(capsys, "generate", DIGITS / "mlp.onnx", "--calib", tmp_path / "c.npz", "-o", tmp_path / "o")
    assert code == 1 and "calibration file" in error_line(err)


def test_non_finite_weights(capsys, tmp_path):
    weights = np.ones((3, 4), np.float32)
    weights[1, 2] = np.nan
    model = make_model(tmp_path / "nan.onnx", [helper.make_node("Gemm", ["x", "W"], ["y"], transB=1)],
                       {"x": [1, 4]}, {"y": [1, 3]}, {"W": weights})
    code, err = run_cli(capsys, "generate", model, "-o", tmp_path / "out")
    assert code == 1 and "NaN or infinite" in error_line(err)


def test_dynamic_non_batch_dimension(capsys, tmp_path):
    model = make_model(tmp_path / "dyn.onnx", [helper.make_node("Relu", ["x"], ["y"])],
                       {"x": [1, "width"]}, {"y": None}, {})
    code, err = run_cli(capsys, "inspect", model)
    assert code == 1 and "dynamic dimension 1" in error_line(err)


def test_output_folder_with_user_files_is_refused_then_kept_with_force(capsys, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    args = ["generate", DIGITS / "mlp.onnx", "--calib", DIGITS / "calib_mlp.npz", "-o", out]
    code, err = run_cli(capsys, *args)
    assert code == 1 and "--force" in error_line(err)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    code, _ = run_cli(capsys, *args, "--force")
    assert code == 0 and (out / "notes.txt").read_text() == "mine" and (out / "mlp.h").is_file()
    # Regenerating over mcugen's own files needs no --force.
    code, _ = run_cli(capsys, "generate", DIGITS / "mlp.onnx", "--calib", DIGITS / "calib_mlp.npz", "-o", out,
                      "--force")
    assert code == 0


def test_regenerating_into_own_output_needs_no_force(capsys, tmp_path):
    args = ["generate", DIGITS / "mlp.onnx", "--calib", DIGITS / "calib_mlp.npz", "-o", tmp_path / "out"]
    assert run_cli(capsys, *args)[0] == 0
    assert run_cli(capsys, *args)[0] == 0


def test_bad_model_name(capsys, tmp_path):
    code, err = run_cli(capsys, "generate", DIGITS / "mlp.onnx", "--name", "My-Net", "-o", tmp_path / "o")
    line = error_line(err)
    assert code == 1 and "--name 'My-Net' is not a lower-case C identifier" in line and "try --name my_net" in line


def test_missing_calibration_is_refused_unless_random_is_asked_for(capsys, tmp_path):
    code, err = run_cli(capsys, "generate", DIGITS / "mlp.onnx", "-o", tmp_path / "o")
    assert code == 1 and "--calib random" in error_line(err) and not (tmp_path / "o").exists()
    code, err = run_cli(capsys, "generate", DIGITS / "mlp.onnx", "--calib", "random", "-o", tmp_path / "o")
    assert code == 0 and "warning: no --calib data given" in err
    assert "random normal samples" in (tmp_path / "o" / "mlp.h").read_text()


@pytest.mark.parametrize("command", ["inspect", "generate"])
def test_inspect_json_and_table(capsys, tmp_path, command):
    extra = ["--json"] if command == "inspect" else ["--calib", DIGITS / "calib_cnn.npz", "-o", tmp_path / "o",
                                                     "--json"]
    code = main([command, str(DIGITS / "cnn.onnx"), *map(str, extra)])
    out = capsys.readouterr().out
    assert code == 0 and '"macs": 25600' in out


@pytest.mark.parametrize("extra,message", [
    (["--method", "entropy", "--calib-samples", "5"], "entropy calibration needs at least 512 values"),
    (["--method", "percentile", "--percentile", "99.99"], "needs at least 10000 values per activation"),
])
def test_calibration_data_too_small_for_the_method(capsys, tmp_path, extra, message):
    code, err = run_cli(capsys, "generate", DIGITS / "cnn.onnx", "--calib", DIGITS / "calib_cnn.npz",
                        "-o", tmp_path / "out", *extra)
    assert code == 1 and message in error_line(err)
    assert not (tmp_path / "out").exists()
