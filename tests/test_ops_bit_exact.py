"""Every operator, swept over its parameters: generated C (gcc and clang, -Werror -pedantic) run on
the host must equal the numpy golden reference bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from helpers import check_bit_exact, make_model, save_samples

R = np.random.default_rng(7)


def w(*shape):
    return R.standard_normal(shape).astype(np.float32) * 0.5


def conv_case(in_c, out_c, k, hw, group=1, act=None, bias=True, **attrs):
    inits = {"W": w(out_c, in_c // group, k, k)}
    ins = ["x", "W"] + (["B"] if bias else [])
    if bias:
        inits["B"] = w(out_c)
    nodes = [helper.make_node("Conv", ins, ["c"], group=group, kernel_shape=[k, k], **attrs)]
    if act == "relu":
        nodes.append(helper.make_node("Relu", ["c"], ["y"]))
    elif act == "relu6":
        inits.update(lo=np.array(0.0, np.float32), hi=np.array(6.0, np.float32))
        nodes.append(helper.make_node("Clip", ["c", "lo", "hi"], ["y"]))
    else:
        nodes[0].output[0] = "y"
    return nodes, {"x": [1, in_c, *hw]}, inits


CASES = {
    "conv_3x3_pad1": conv_case(3, 5, 3, (7, 9), pads=[1, 1, 1, 1]),
    "conv_stride2_asym_pad_relu": conv_case(4, 7, 3, (9, 8), act="relu", strides=[2, 2], pads=[0, 0, 1, 1]),
    "conv_grouped": conv_case(4, 6, 3, (6, 5), group=2, pads=[1, 0, 2, 1]),
    "conv_dilated_same_upper": conv_case(3, 4, 3, (8, 8), auto_pad="SAME_UPPER", dilations=[2, 2]),
    "conv_same_lower_stride2": conv_case(2, 3, 4, (9, 7), auto_pad="SAME_LOWER", strides=[2, 2]),
    "conv_1x1_no_bias_relu6": conv_case(5, 3, 1, (4, 4), act="relu6", bias=False),
    "conv_valid_5x5": conv_case(1, 2, 5, (10, 6), auto_pad="VALID", strides=[1, 2]),
    "depthwise": conv_case(6, 6, 3, (7, 7), group=6, act="relu", pads=[1, 1, 1, 1]),
    "depthwise_multiplier2_stride2": conv_case(3, 6, 3, (9, 9), group=3, strides=[2, 2], pads=[1, 1, 1, 1]),
    "depthwise_dilated": conv_case(5, 5, 3, (9, 9), group=5, dilations=[2, 1], pads=[2, 1, 2, 1]),
}


def add_case(name, nodes, inputs, inits, outputs=None):
    CASES[name] = (nodes, inputs, inits) if outputs is None else (nodes, inputs, inits, outputs)


add_case("gemm_transB", [helper.make_node("Gemm", ["x", "W", "B"], ["y"], transB=1, alpha=0.7, beta=1.3)],
         {"x": [1, 33]}, {"W": w(10, 33), "B": w(10)})
add_case("gemm_relu", [helper.make_node("Gemm", ["x", "W"], ["h"]), helper.make_node("Relu", ["h"], ["y"])],
         {"x": [1, 20]}, {"W": w(20, 7)})
add_case("matmul_add_bias", [helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Add", ["h", "B"], ["y"])],
         {"x": [1, 17]}, {"W": w(17, 9), "B": w(9)})
add_case("maxpool_pad_ceil", [helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2],
                                               pads=[1, 1, 1, 1], ceil_mode=1)], {"x": [1, 3, 8, 7]}, {})
add_case("avgpool_exclude_pad", [helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3],
                                                  pads=[1, 1, 1, 1])], {"x": [1, 4, 6, 5]}, {})
add_case("avgpool_include_pad_stride2", [helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 2],
                                                          strides=[2, 2], pads=[1, 0, 1, 1], count_include_pad=1)],
         {"x": [1, 3, 7, 6]}, {})
add_case("global_avgpool", [helper.make_node("GlobalAveragePool", ["x"], ["y"])], {"x": [1, 5, 6, 7]}, {})
add_case("add_two_inputs_relu", [helper.make_node("Add", ["a", "b"], ["s"]), helper.make_node("Relu", ["s"], ["y"])],
         {"a": [1, 3, 4, 5], "b": [1, 3, 4, 5]}, {})
add_case("add_broadcast_channel_const", [helper.make_node("Add", ["x", "C"], ["y"])], {"x": [1, 4, 3, 5]},
         {"C": w(4, 1, 1)})
add_case("mul_broadcast", [helper.make_node("Mul", ["a", "b"], ["y"])], {"a": [1, 3, 4, 5], "b": [1, 3, 4, 5]}, {})
add_case("mul_const_scalar_sub_div", [helper.make_node("Mul", ["x", "C"], ["m"]),
                                      helper.make_node("Sub", ["m", "D"], ["s"]),
                                      helper.make_node("Div", ["s", "E"], ["y"])],
         {"x": [1, 2, 3, 4]}, {"C": np.array([1.7], np.float32), "D": w(1, 2, 1, 1), "E": np.array(3.0, np.float32)})
add_case("concat_channels_requant", [helper.make_node("Mul", ["b", "K"], ["b3"]),
                                     helper.make_node("Concat", ["a", "b3"], ["y"], axis=1)],
         {"a": [1, 2, 4, 3], "b": [1, 3, 4, 3]}, {"K": np.array(3.0, np.float32)})
add_case("concat_last_axis_2d", [helper.make_node("Concat", ["a", "b"], ["y"], axis=-1)],
         {"a": [1, 5], "b": [1, 7]}, {})
for fn, kw in [("LeakyRelu", {"alpha": 0.1}), ("Sigmoid", {}), ("Tanh", {}), ("HardSigmoid", {"alpha": 0.3}),
               ("HardSwish", {}), ("Relu", {})]:
    add_case(f"activation_{fn.lower()}", [helper.make_node(fn, ["x"], ["y"], **kw)], {"x": [1, 3, 5, 4]}, {})
add_case("clip_standalone_after_pool", [helper.make_node("MaxPool", ["x"], ["p"], kernel_shape=[2, 2]),
                                        helper.make_node("Clip", ["p", "lo", "hi"], ["y"])],
         {"x": [1, 2, 6, 6]}, {"lo": np.array(-0.5, np.float32), "hi": np.array(0.5, np.float32)})
add_case("softmax_2d", [helper.make_node("Softmax", ["x"], ["y"])], {"x": [1, 10]}, {})
add_case("softmax_channels_4d", [helper.make_node("Softmax", ["x"], ["y"], axis=1)], {"x": [1, 6, 2, 3]}, {})
add_case("pad_constant_4d", [helper.make_node("Pad", ["x", "P", "V"], ["y"])], {"x": [1, 2, 3, 4]},
         {"P": np.array([0, 1, 2, 0, 0, 2, 0, 1], np.int64), "V": np.array(0.25, np.float32)})
add_case("transpose_to_nhwc_then_flatten_gemm",
         [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]), helper.make_node("Flatten", ["t"], ["f"]),
          helper.make_node("Gemm", ["f", "W"], ["y"], transB=1)], {"x": [1, 3, 4, 5]}, {"W": w(6, 60)})
add_case("transpose_spatial", [helper.make_node("Transpose", ["x"], ["y"], perm=[0, 1, 3, 2])], {"x": [1, 3, 4, 5]}, {})
add_case("reshape_squeeze_unsqueeze",
         [helper.make_node("Reshape", ["x", "S"], ["r"]), helper.make_node("Unsqueeze", ["r", "A"], ["u"]),
          helper.make_node("Squeeze", ["u", "A"], ["q"]), helper.make_node("Relu", ["q"], ["y"])],
         {"x": [1, 2, 3, 4]}, {"S": np.array([1, 4, 3, 2], np.int64), "A": np.array([4], np.int64)})
add_case("batchnorm_standalone_identity_dropout",
         [helper.make_node("BatchNormalization", ["x", "g", "b", "m", "v"], ["n"]),
          helper.make_node("Identity", ["n"], ["i"]), helper.make_node("Dropout", ["i"], ["y"])],
         {"x": [1, 3, 4, 4]}, {"g": w(3), "b": w(3), "m": w(3), "v": np.abs(w(3)) + 0.5})
add_case("identity_output_sharing_its_source", [helper.make_node("Relu", ["x"], ["r"]),
                                               helper.make_node("Identity", ["r"], ["y"]),
                                               helper.make_node("Sigmoid", ["r"], ["z"])],
         {"x": [1, 2, 3, 3]}, {}, outputs={"y": None, "z": None})
add_case("two_outputs", [helper.make_node("Relu", ["x"], ["y"]), helper.make_node("Sigmoid", ["x"], ["z"])],
         {"x": [1, 6]}, {}, outputs={"y": None, "z": None})


@pytest.mark.parametrize("case", sorted(CASES))
def test_operator_bit_exact(case, tmp_path):
    nodes, inputs, inits, *rest = CASES[case]
    outputs = rest[0] if rest else {nodes[-1].output[0]: None}
    model = make_model(tmp_path / f"{case}.onnx", nodes, inputs, outputs, inits)
    rng = np.random.default_rng(abs(hash(case)) % 2**32)
    calib = {k: rng.standard_normal([64, *v[1:]]).astype(np.float32) for k, v in inputs.items()}
    test = {k: rng.standard_normal([12, *v[1:]]).astype(np.float32) * 1.3 for k, v in inputs.items()}
    check_bit_exact(model, save_samples(tmp_path / "calib.npz", calib), tmp_path, test)


def test_sanitizers_on_a_mixed_model(tmp_path):
    """AddressSanitizer + UndefinedBehaviorSanitizer over a model that uses most kernels."""
    nodes = [
        helper.make_node("Conv", ["x", "W1", "B1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "W2"], ["c2"], group=4, pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Add", ["c2", "p1"], ["s"]),
        helper.make_node("Concat", ["s", "p1"], ["cat"], axis=1),
        helper.make_node("Pad", ["cat", "P"], ["pad"]),
        helper.make_node("AveragePool", ["pad"], ["ap"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Tanh", ["ap"], ["t"]),
        helper.make_node("Flatten", ["t"], ["f"]),
        helper.make_node("Gemm", ["f", "W3"], ["g"], transB=1),
        helper.make_node("Softmax", ["g"], ["y"]),
    ]
    inits = {"W1": w(4, 3, 3, 3), "B1": w(4), "W2": w(4, 1, 3, 3), "P": np.array([0, 0, 1, 1, 0, 0, 0, 0], np.int64),
             "W3": w(5, 8 * 4 * 4)}
    model = make_model(tmp_path / "mixed.onnx", nodes, {"x": [1, 3, 14, 14]}, {"y": None}, inits)
    rng = np.random.default_rng(3)
    calib = save_samples(tmp_path / "c.npz", {"x": rng.standard_normal([32, 3, 14, 14]).astype(np.float32)})
    check_bit_exact(model, calib, tmp_path, {"x": rng.standard_normal([6, 3, 14, 14]).astype(np.float32)},
                    compilers=("gcc",), sanitize=True)
