"""The installed wheel, not the checkout, generates a library: package data travels with it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_installed_wheel_generates_a_library(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(wheels), str(ROOT)], check=True, capture_output=True)
    (wheel,) = wheels.glob("mcugen-*.whl")
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run([sys.executable, "-c", "import mcugen, mcugen.resources as r; "
                            "print(mcugen.__file__); print(r.data_dir('templates'))"],
                           cwd=work, env=env, capture_output=True, text=True, check=True).stdout.split()
    assert all(p.startswith(str(site)) for p in where), where
    result = subprocess.run([sys.executable, "-m", "mcugen", "generate", str(ROOT / "examples/digits/cnn.onnx"),
                             "--calib", str(ROOT / "examples/digits/calib_cnn.npz"), "-o", "lib", "--name", "digits"],
                            cwd=work, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    names = {p.name for p in (work / "lib").rglob("*")}
    assert {"digits.h", "digits.c", "digits_weights.c", "digits_conv_im2col_s8.c", "digits_conv_gemm_s8.h",
            "library.json"} <= names  # the kernel files come from the wheel's own data
