"""Every operator, swept over its parameters (the cases of op_cases.py): generated C (gcc and clang,
-Werror -pedantic) run on the host must equal the numpy golden reference bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import check_bit_exact, save_samples
from op_cases import CASES, case_model, kitchen_sink_model


@pytest.mark.parametrize("case", sorted(CASES))
def test_operator_bit_exact(case, tmp_path):
    inputs = CASES[case][1]
    model = case_model(tmp_path / f"{case}.onnx", CASES[case])
    rng = np.random.default_rng(sum(map(ord, case)))
    calib = {k: rng.standard_normal([64, *v[1:]]).astype(np.float32) for k, v in inputs.items()}
    test = {k: rng.standard_normal([12, *v[1:]]).astype(np.float32) * 1.3 for k, v in inputs.items()}
    check_bit_exact(model, save_samples(tmp_path / "calib.npz", calib), tmp_path, test)


def test_sanitizers_on_a_mixed_model(tmp_path):
    """AddressSanitizer + UndefinedBehaviorSanitizer over a model that uses most kernels."""
    model = kitchen_sink_model(tmp_path / "mixed.onnx")
    rng = np.random.default_rng(3)
    calib = save_samples(tmp_path / "c.npz", {"x": rng.standard_normal([32, 3, 14, 14]).astype(np.float32)})
    check_bit_exact(model, calib, tmp_path, {"x": rng.standard_normal([6, 3, 14, 14]).astype(np.float32)},
                    compilers=("gcc",), sanitize=True)
