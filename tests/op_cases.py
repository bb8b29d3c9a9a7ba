"""Operator test cases shared by the bit-exactness tests: the int8 ones (test_ops_bit_exact.py), the
weight-only ones (test_weight_only.py) and the precision variants (test_precision_bit_exact.py).

A case is (nodes, inputs, initializers) or (nodes, inputs, initializers, outputs); without outputs the
graph's output is the last node's. The tables' weights are drawn at import from this module's own
seeded generator, in a fixed order, so they are the same whichever test file runs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from onnx import helper

from helpers import make_model

R = np.random.default_rng(7)


def w(*shape: int, rng: np.random.Generator = R) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32) * 0.5


def activation(act: str, src: str, dst: str, inits: dict[str, np.ndarray]) -> list:
    """relu, relu6 (Clip 0..6) or clip (Clip -0.5..1.5) from src to dst; Clip's bounds go into inits."""
    if act == "relu":
        return [helper.make_node("Relu", [src], [dst])]
    lo, hi = {"relu6": (0.0, 6.0), "clip": (-0.5, 1.5)}[act]
    inits.update(lo=np.array(lo, np.float32), hi=np.array(hi, np.float32))
    return [helper.make_node("Clip", [src, "lo", "hi"], [dst])]


def conv_case(in_c, out_c, k, hw, group=1, act=None, bias=True, rng: np.random.Generator = R, **attrs):
    inits = {"W": w(out_c, in_c // group, k, k, rng=rng)}
    ins = ["x", "W"] + (["B"] if bias else [])
    if bias:
        inits["B"] = w(out_c, rng=rng)
    nodes = [helper.make_node("Conv", ins, ["c" if act else "y"], group=group, kernel_shape=[k, k], **attrs)]
    if act:
        nodes += activation(act, "c", "y", inits)
    return nodes, {"x": [1, in_c, *hw]}, inits


WEIGHTED = {  # conv, depthwise conv and fully connected layers
    "conv_3x3_pad1": conv_case(3, 5, 3, (7, 9), pads=[1, 1, 1, 1]),
    "conv_stride2_asym_pad_relu": conv_case(4, 7, 3, (9, 8), act="relu", strides=[2, 2], pads=[0, 0, 1, 1]),
    "conv_grouped": conv_case(4, 6, 3, (6, 5), group=2, pads=[1, 0, 2, 1]),
    "conv_dilated_same_upper": conv_case(3, 4, 3, (8, 8), auto_pad="SAME_UPPER", dilations=[2, 2]),
    "conv_same_lower_stride2": conv_case(2, 3, 4, (9, 7), auto_pad="SAME_LOWER", strides=[2, 2]),
    "conv_1x1_no_bias_relu6": conv_case(5, 3, 1, (4, 4), act="relu6", bias=False),
    "conv_valid_5x5": conv_case(1, 2, 5, (10, 6), auto_pad="VALID", strides=[1, 2]),
    "conv_valid_5x5_odd_count": conv_case(1, 3, 5, (10, 6), auto_pad="VALID", strides=[1, 2]),
    # the fast conv kernels (conv_1x1_s8, conv_im2col_s8; own generators, so the other cases keep their weights)
    "conv_1x1_stride2_tail3": conv_case(7, 5, 1, (7, 9), strides=[2, 2], rng=np.random.default_rng(71)),
    "conv_first_1ch_pad_all_sides": conv_case(1, 8, 4, (11, 9), act="relu", pads=[2, 1, 1, 2],
                                              rng=np.random.default_rng(72)),
    "conv_narrow_pads_past_the_image": conv_case(2, 3, 3, (5, 2), pads=[1, 2, 1, 3], rng=np.random.default_rng(74)),
    "conv_3x3_wide_grouped": conv_case(8, 10, 3, (6, 7), group=2, strides=[1, 2], pads=[1, 1, 1, 1],
                                       rng=np.random.default_rng(73)),
    "depthwise": conv_case(6, 6, 3, (7, 7), group=6, act="relu", pads=[1, 1, 1, 1]),
    "depthwise_multiplier2_stride2": conv_case(3, 6, 3, (9, 9), group=3, strides=[2, 2], pads=[1, 1, 1, 1]),
    "depthwise_dilated": conv_case(5, 5, 3, (9, 9), group=5, dilations=[2, 1], pads=[2, 1, 2, 1]),
    "depthwise_3x3_stride2_two_groups_asym_pad": conv_case(8, 8, 3, (9, 8), group=8, strides=[2, 2],
                                                           pads=[0, 1, 1, 0]),
    "depthwise_3x3_no_pad_single_output": conv_case(4, 4, 3, (3, 3), group=4),
    "depthwise_3x3_strides_dilations_pads_every_side": conv_case(7, 7, 3, (10, 11), group=7, act="clip",
                                                                 strides=[1, 2], dilations=[1, 2],
                                                                 pads=[2, 1, 0, 2]),
    "depthwise_3x3_tail_channels_only_all_border": conv_case(3, 3, 3, (1, 2), group=3, pads=[1, 1, 1, 1]),
    "depthwise_3x3_16_channels_relu6": conv_case(16, 16, 3, (12, 10), group=16, act="relu6", pads=[1, 1, 1, 1]),
    "depthwise_5x5_general_kernel": conv_case(4, 4, 5, (7, 6), group=4, pads=[2, 2, 2, 2]),
    "depthwise_multiplier2_windows_wholly_in_padding": conv_case(3, 6, 2, (4, 5), group=3, pads=[2, 2, 2, 2]),
    # 1-D networks (N, C, L): run as 2-D with H = 1; BatchNorm1d folds, Relu fuses, Flatten's transpose folds
    "conv1d_bn_relu_maxpool_dilated_same_avgpool_gap_gemm": (
        [helper.make_node("Conv", ["x", "W", "B"], ["c"], pads=[1, 1]),
         helper.make_node("BatchNormalization", ["c", "g", "b", "m", "v"], ["n"]),
         helper.make_node("Relu", ["n"], ["r"]),
         helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2], strides=[2]),
         helper.make_node("Conv", ["p", "W2"], ["c2"], strides=[2], dilations=[2], auto_pad="SAME_UPPER"),
         helper.make_node("Add", ["c2", "K"], ["a"]),
         helper.make_node("AveragePool", ["a"], ["ap"], kernel_shape=[3], pads=[1, 1]),
         helper.make_node("GlobalAveragePool", ["ap"], ["g2"]),
         helper.make_node("Flatten", ["g2"], ["f"]),
         helper.make_node("Gemm", ["f", "W3"], ["y"], transB=1)],
        {"x": [1, 4, 20]}, {"W": w(6, 4, 3), "B": w(6), "g": w(6), "b": w(6), "m": w(6), "v": np.abs(w(6)) + 0.5,
                            "W2": w(5, 6, 3), "K": w(5, 1), "W3": w(3, 5)}),
    "conv1d_depthwise_residual_flatten_gemm": (
        [helper.make_node("Conv", ["x", "W"], ["c"], pads=[1, 1]),
         helper.make_node("Relu", ["c"], ["r"]),
         helper.make_node("Conv", ["r", "W2"], ["c2"], group=4, pads=[2, 0]),
         helper.make_node("Add", ["c2", "r"], ["s"]),
         helper.make_node("Flatten", ["s"], ["f"]),
         helper.make_node("Gemm", ["f", "W3"], ["y"], transB=1)],
        {"x": [1, 3, 8]}, {"W": w(4, 3, 3), "W2": w(4, 1, 3), "W3": w(3, 32)}),
    "batchnorm1d_standalone_output_rank3": ([helper.make_node("BatchNormalization", ["x", "g", "b", "m", "v"], ["n"]),
                                             helper.make_node("Sigmoid", ["n"], ["y"])], {"x": [1, 3, 7]},
                                            {"g": w(3), "b": w(3), "m": w(3), "v": np.abs(w(3)) + 0.5}),
    "gemm_transB": ([helper.make_node("Gemm", ["x", "W", "B"], ["y"], transB=1, alpha=0.7, beta=1.3)],
                    {"x": [1, 33]}, {"W": w(10, 33), "B": w(10)}),
    "gemm_transB_alpha_beta": ([helper.make_node("Gemm", ["x", "W", "B"], ["y"], transB=1, alpha=0.7, beta=1.3)],
                               {"x": [1, 33]}, {"W": w(11, 33), "B": w(11)}),
    "gemm_transA_transB": ([helper.make_node("Gemm", ["x", "W", "B"], ["y"], transA=1, transB=1)],
                           {"x": [1, 1]}, {"W": w(6, 1), "B": w(6)}),
    "gemm_relu": ([helper.make_node("Gemm", ["x", "W"], ["h"]), helper.make_node("Relu", ["h"], ["y"])],
                  {"x": [1, 20]}, {"W": w(20, 7)}),
    "gemm_4_row_blocks_and_2_rows_byte_tail": ([helper.make_node("Gemm", ["x", "W", "B"], ["y"], transB=1)],
                                               {"x": [1, 9]}, {"W": w(10, 9), "B": w(10)}),
    "gemm_one_input": ([helper.make_node("Gemm", ["x", "W", "B"], ["y"], transB=1)],
                       {"x": [1, 1]}, {"W": w(5, 1), "B": w(5)}),
    "matmul_three_rows_relu": ([helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Relu", ["h"], ["y"])],
                               {"x": [1, 3, 14]}, {"W": w(14, 8)}),
    "matmul_rank4_rows_constant_weight": ([helper.make_node("MatMul", ["x", "W"], ["y"])], {"x": [1, 2, 3, 4]},
                                          {"W": w(4, 5)}),
    "matmul_add_bias": ([helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Add", ["h", "B"], ["y"])],
                        {"x": [1, 17]}, {"W": w(17, 9), "B": w(9)}),
}

OTHERS = {  # the other operators, and graphs around them
    "maxpool_pad_ceil": ([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2],
                                           pads=[1, 1, 1, 1], ceil_mode=1)], {"x": [1, 3, 8, 7]}, {}),
    "maxpool_dilated_pads_ceil": ([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 2], strides=[2, 1],
                                                    dilations=[2, 3], pads=[2, 1, 1, 2], ceil_mode=1)],
                                  {"x": [1, 3, 9, 8]}, {}),
    "maxpool1d_dilated_after_relu": ([helper.make_node("Relu", ["x"], ["r"]),
                                      helper.make_node("MaxPool", ["r"], ["y"], kernel_shape=[3], dilations=[2])],
                                     {"x": [1, 4, 11]}, {}),
    "avgpool_exclude_pad": ([helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])],
                            {"x": [1, 4, 6, 5]}, {}),
    "avgpool_include_pad_stride2": ([helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 2],
                                                      strides=[2, 2], pads=[1, 0, 1, 1], count_include_pad=1)],
                                    {"x": [1, 3, 7, 6]}, {}),
    "global_avgpool": ([helper.make_node("GlobalAveragePool", ["x"], ["y"])], {"x": [1, 5, 6, 7]}, {}),
    "add_two_inputs_relu": ([helper.make_node("Add", ["a", "b"], ["s"]), helper.make_node("Relu", ["s"], ["y"])],
                            {"a": [1, 3, 4, 5], "b": [1, 3, 4, 5]}, {}),
    "add_broadcast_channel_const": ([helper.make_node("Add", ["x", "C"], ["y"])], {"x": [1, 4, 3, 5]},
                                    {"C": w(4, 1, 1)}),
    "add_second_operand_larger_scale": ([helper.make_node("Relu", ["a"], ["r"]),
                                         helper.make_node("Add", ["r", "b"], ["y"])],
                                        {"a": [1, 3, 4, 5], "b": [1, 3, 4, 5]}, {}),
    "add_first_operand_larger_scale": ([helper.make_node("Relu", ["b"], ["r"]),
                                        helper.make_node("Add", ["a", "r"], ["y"])],
                                       {"a": [1, 2, 3, 7], "b": [1, 2, 3, 7]}, {}),
    "add_broadcast_over_channels": ([helper.make_node("Add", ["a", "b"], ["y"])],
                                    {"a": [1, 3, 4, 5], "b": [1, 1, 4, 5]}, {}),
    "sub_two_activations_minuend_larger_scale": ([helper.make_node("Mul", ["a", "K"], ["a3"]),
                                                  helper.make_node("Sub", ["a3", "b"], ["y"])],
                                                 {"a": [1, 3, 4, 5], "b": [1, 3, 4, 5]},
                                                 {"K": np.array(3.0, np.float32)}),
    "sub_two_activations_subtrahend_larger_scale_relu": ([helper.make_node("Mul", ["b", "K"], ["b3"]),
                                                          helper.make_node("Sub", ["a", "b3"], ["s"]),
                                                          helper.make_node("Relu", ["s"], ["y"])],
                                                         {"a": [1, 2, 3, 7], "b": [1, 2, 3, 7]},
                                                         {"K": np.array(2.5, np.float32)}),
    "sub_constant_minus_activation": ([helper.make_node("Sub", ["C", "x"], ["y"])], {"x": [1, 2, 3, 4]},
                                      {"C": w(2, 1, 1)}),
    "sub_broadcast_across_ranks": ([helper.make_node("Sub", ["a", "b"], ["y"])], {"a": [1, 3, 4, 5], "b": [1, 5]}, {}),
    "add_broadcast_across_ranks_both_ways": ([helper.make_node("Add", ["a", "b"], ["y"])],
                                             {"a": [1, 4, 1], "b": [1, 3, 1, 6]}, {}),
    "mul_broadcast_across_ranks": ([helper.make_node("Mul", ["a", "b"], ["y"])], {"a": [1, 1, 5], "b": [1, 2, 4, 1]},
                                   {}),
    "mul_broadcast": ([helper.make_node("Mul", ["a", "b"], ["y"])], {"a": [1, 3, 4, 5], "b": [1, 3, 4, 5]}, {}),
    "mul_const_scalar_sub_div": ([helper.make_node("Mul", ["x", "C"], ["m"]),
                                  helper.make_node("Sub", ["m", "D"], ["s"]),
                                  helper.make_node("Div", ["s", "E"], ["y"])], {"x": [1, 2, 3, 4]},
                                 {"C": np.array([1.7], np.float32), "D": w(1, 2, 1, 1),
                                  "E": np.array(3.0, np.float32)}),
    "concat_channels_requant": ([helper.make_node("Mul", ["b", "K"], ["b3"]),
                                 helper.make_node("Concat", ["a", "b3"], ["y"], axis=1)],
                                {"a": [1, 2, 4, 3], "b": [1, 3, 4, 3]}, {"K": np.array(3.0, np.float32)}),
    "concat_height_4d_three_inputs": ([helper.make_node("Relu", ["b"], ["r"]),
                                       helper.make_node("Concat", ["a", "r", "a"], ["y"], axis=2)],
                                      {"a": [1, 3, 2, 5], "b": [1, 3, 4, 5]}, {}),
    "concat_last_axis_2d": ([helper.make_node("Concat", ["a", "b"], ["y"], axis=-1)], {"a": [1, 5], "b": [1, 7]}, {}),
    # slicing and gathering (one strided-copy kernel; contiguous slices share their input's bytes)
    "slice_channels_nhwc_strided": ([helper.make_node("Slice", ["x", "S", "E", "A"], ["y"])], {"x": [1, 6, 4, 5]},
                                    {"S": np.array([1], np.int64), "E": np.array([4], np.int64),
                                     "A": np.array([1], np.int64)}),
    "slice_negative_steps_clamped_ends": ([helper.make_node("Slice", ["x", "S", "E", "A", "T"], ["y"])],
                                          {"x": [1, 6, 4, 5]},
                                          {"S": np.array([-1, 10], np.int64), "E": np.array([-100, 0], np.int64),
                                           "A": np.array([3, 1], np.int64), "T": np.array([-2, -2], np.int64)}),
    "slice_rows_zero_copy_between_layers": ([helper.make_node("Relu", ["x"], ["r"]),
                                             helper.make_node("Slice", ["r", "S", "E", "A"], ["s"]),
                                             helper.make_node("Sigmoid", ["s"], ["y"])], {"x": [1, 3, 6, 5]},
                                            {"S": np.array([2], np.int64), "E": np.array([5], np.int64),
                                             "A": np.array([-2], np.int64)}),
    "split_channel_shuffle": ([helper.make_node("Split", ["x"], ["a", "b"], axis=1),
                               helper.make_node("Relu", ["b"], ["c"]),
                               helper.make_node("Concat", ["c", "a"], ["y"], axis=1)], {"x": [1, 6, 3, 3]}, {}),
    "split_input_sizes_three_outputs": ([helper.make_node("Split", ["x", "P"], ["a", "b", "c"], axis=-1),
                                         helper.make_node("Concat", ["c", "a", "b"], ["y"], axis=-1)],
                                        {"x": [1, 4, 9]}, {"P": np.array([2, 3, 4], np.int64)}),
    "gather_last_time_step": ([helper.make_node("Relu", ["x"], ["r"]),
                               helper.make_node("Gather", ["r", "I"], ["y"], axis=1)], {"x": [1, 7, 9]},
                              {"I": np.array(-1, np.int64)}),
    "gather_index_list_repeats": ([helper.make_node("Gather", ["x", "I"], ["y"], axis=2)], {"x": [1, 3, 9]},
                                  {"I": np.array([4, 0, 1, 2, 8, 8, 2, 5, 2, 5], np.int64)}),
    "gather_channels_4d": ([helper.make_node("Gather", ["x", "I"], ["y"], axis=1)], {"x": [1, 5, 3, 4]},
                           {"I": np.array([[3, 1], [0, 4]], np.int64)}),
    "matmul_two_activations_relu": ([helper.make_node("MatMul", ["a", "b"], ["m"]),
                                     helper.make_node("Relu", ["m"], ["y"])], {"a": [1, 5, 7], "b": [1, 7, 3]}, {}),
    "matmul_batched_broadcast_rank4_nhwc": ([helper.make_node("MatMul", ["a", "b"], ["y"])],
                                            {"a": [1, 3, 4, 6], "b": [1, 6, 5]}, {}),
    "matmul_attention_scores_softmax": ([helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 2, 1]),
                                         helper.make_node("MatMul", ["q", "kt"], ["s"]),
                                         helper.make_node("Softmax", ["s"], ["p"]),
                                         helper.make_node("MatMul", ["p", "k"], ["y"])],
                                        {"q": [1, 4, 8], "k": [1, 6, 8]}, {}),
    "conv_clip_min_above_max_huge": ([helper.make_node("Conv", ["x", "W"], ["c"], kernel_shape=[3, 3]),
                                      helper.make_node("Clip", ["c", "lo", "hi"], ["y"])], {"x": [1, 2, 5, 5]},
                                     {"W": w(3, 2, 3, 3), "lo": np.array(1e38, np.float32),
                                      "hi": np.array(0.5, np.float32)}),
    "matmul_constant_stack_of_matrices": ([helper.make_node("MatMul", ["a", "B"], ["y"])], {"a": [1, 2, 3, 4]},
                                          {"B": w(2, 4, 5)}),
    "clip_standalone_after_pool": ([helper.make_node("MaxPool", ["x"], ["p"], kernel_shape=[2, 2]),
                                    helper.make_node("Clip", ["p", "lo", "hi"], ["y"])], {"x": [1, 2, 6, 6]},
                                   {"lo": np.array(-0.5, np.float32), "hi": np.array(0.5, np.float32)}),
    "softmax_2d": ([helper.make_node("Softmax", ["x"], ["y"])], {"x": [1, 10]}, {}),
    "softmax_channels_4d": ([helper.make_node("Softmax", ["x"], ["y"], axis=1)], {"x": [1, 6, 2, 3]}, {}),
    "softmax_over_height_4d": ([helper.make_node("Softmax", ["x"], ["y"], axis=2)], {"x": [1, 3, 5, 4]}, {}),
    "softmax_middle_axis_3d_then_relu": ([helper.make_node("Softmax", ["x"], ["s"], axis=1),
                                          helper.make_node("Relu", ["s"], ["y"])], {"x": [1, 6, 4]}, {}),
    "pad_reflect_4d": ([helper.make_node("Pad", ["x", "P"], ["y"], mode="reflect")], {"x": [1, 2, 4, 5]},
                       {"P": np.array([0, 0, 3, 1, 0, 1, 2, 4], np.int64)}),
    "pad_edge_channels_and_width": ([helper.make_node("Pad", ["x", "P"], ["y"], mode="edge")], {"x": [1, 3, 2, 4]},
                                    {"P": np.array([0, 2, 0, 1, 0, 1, 0, 3], np.int64)}),
    "pad_reflect_3d_wider_than_the_axis": ([helper.make_node("Pad", ["x", "P"], ["y"], mode="reflect")],
                                           {"x": [1, 3, 3]}, {"P": np.array([0, 2, 5, 0, 1, 6], np.int64)}),
    "pad_constant_4d": ([helper.make_node("Pad", ["x", "P", "V"], ["y"])], {"x": [1, 2, 3, 4]},
                        {"P": np.array([0, 1, 2, 0, 0, 2, 0, 1], np.int64), "V": np.array(0.25, np.float32)}),
    "transpose_to_nhwc_then_flatten_gemm": ([helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
                                             helper.make_node("Flatten", ["t"], ["f"]),
                                             helper.make_node("Gemm", ["f", "W"], ["y"], transB=1)],
                                            {"x": [1, 3, 4, 5]}, {"W": w(6, 60)}),
    "channel_shuffle_rank5_transpose_split": ([helper.make_node("Relu", ["x"], ["r"]),
                                               helper.make_node("Reshape", ["r", "S5"], ["v"]),
                                               helper.make_node("Transpose", ["v"], ["t"], perm=[0, 2, 1, 3, 4]),
                                               helper.make_node("Reshape", ["t", "S4"], ["u"]),
                                               helper.make_node("Split", ["u"], ["a", "b"], axis=1),
                                               helper.make_node("Sigmoid", ["b"], ["s"]),
                                               helper.make_node("Concat", ["a", "s"], ["y"], axis=1)],
                                              {"x": [1, 6, 3, 4]}, {"S5": np.array([1, 2, 3, 3, 4], np.int64),
                                                                    "S4": np.array([1, 6, 3, 4], np.int64)}),
    "transpose_spatial": ([helper.make_node("Transpose", ["x"], ["y"], perm=[0, 1, 3, 2])], {"x": [1, 3, 4, 5]}, {}),
    "reshape_squeeze_unsqueeze": ([helper.make_node("Reshape", ["x", "S"], ["r"]),
                                   helper.make_node("Unsqueeze", ["r", "A"], ["u"]),
                                   helper.make_node("Squeeze", ["u", "A"], ["q"]),
                                   helper.make_node("Relu", ["q"], ["y"])],
                                  {"x": [1, 2, 3, 4]}, {"S": np.array([1, 4, 3, 2], np.int64),
                                                        "A": np.array([4], np.int64)}),
    "batchnorm_standalone_identity_dropout": ([helper.make_node("BatchNormalization", ["x", "g", "b", "m", "v"], ["n"]),
                                               helper.make_node("Identity", ["n"], ["i"]),
                                               helper.make_node("Dropout", ["i"], ["y"])],
                                              {"x": [1, 3, 4, 4]},
                                              {"g": w(3), "b": w(3), "m": w(3), "v": np.abs(w(3)) + 0.5}),
    "identity_output_sharing_its_source": ([helper.make_node("Relu", ["x"], ["r"]),
                                            helper.make_node("Identity", ["r"], ["y"]),
                                            helper.make_node("Sigmoid", ["r"], ["z"])],
                                           {"x": [1, 2, 3, 3]}, {}, {"y": None, "z": None}),
    "two_outputs": ([helper.make_node("Relu", ["x"], ["y"]), helper.make_node("Sigmoid", ["x"], ["z"])],
                    {"x": [1, 6]}, {}, {"y": None, "z": None}),
}
for fn, kw in [("LeakyRelu", {"alpha": 0.1}), ("Sigmoid", {}), ("Tanh", {}), ("HardSigmoid", {"alpha": 0.3}),
               ("HardSwish", {}), ("Relu", {})]:
    OTHERS[f"activation_{fn.lower()}"] = ([helper.make_node(fn, ["x"], ["y"], **kw)], {"x": [1, 3, 5, 4]}, {})

CASES = {**WEIGHTED, **OTHERS}


def case_model(path: Path, case: tuple) -> Path:
    """The ONNX model of one case, written to path."""
    nodes, inputs, inits, *rest = case
    outputs = rest[0] if rest else {nodes[-1].output[0]: None}
    return make_model(path, nodes, inputs, outputs, inits)


def kitchen_sink_model(path: Path) -> Path:
    """One model that uses most kernels (the sanitizer runs): conv, depthwise conv, max and average
    pooling, add, concat, pad, tanh, flatten, gemm and softmax; input x [1, 3, 14, 14]."""
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
    rng = np.random.default_rng(13)
    inits = {"W1": w(4, 3, 3, 3, rng=rng), "B1": w(4, rng=rng), "W2": w(4, 1, 3, 3, rng=rng),
             "P": np.array([0, 0, 1, 1, 0, 0, 0, 0], np.int64), "W3": w(5, 8 * 4 * 4, rng=rng)}
    return make_model(path, nodes, {"x": [1, 3, 14, 14]}, {"y": None}, inits)


def real_shapes_model(path: Path, seed: int = 11) -> Path:
    """The layer shapes and constants that overflowed in VWW and the digits MLP, scaled down (the
    sanitizer and overflow tests, tests/test_overflow.py); input x [1, 3, 24, 24]:
    a 3x3 stride-2 conv (VWW's first layer at a quarter of 96x96x3) with an all-zero channel and a
    nearly-zero one (max|w| ~ 1e-30, as BatchNorm folding leaves dead channels) that keep a bias;
    a depthwise 3x3 with a dead channel; a pointwise 1x1 fan-out to 256 channels and a pointwise
    with K = 256; a fully connected layer with K = 2304, extreme weights (a row of +/-40, a row of
    1e-6) and a dead row whose bias is far larger than any weight."""
    rng = np.random.default_rng(seed)
    w1, b1 = w(8, 3, 3, 3, rng=rng), w(8, rng=rng)
    w1[0], b1[0] = 0.0, 0.3
    w1[1], b1[1] = rng.standard_normal((3, 3, 3)) * 1e-30, -0.2
    w2, b2 = w(8, 1, 3, 3, rng=rng), w(8, rng=rng)
    w2[3], b2[3] = 1e-30, 0.5
    w3, w4 = w(256, 8, 1, 1, rng=rng) * 0.5, w(16, 256, 1, 1, rng=rng) * 0.2
    w4[5] = 1e-31
    w5, b5 = w(10, 16 * 12 * 12, rng=rng) * 0.05, w(10, rng=rng)
    w5[0] = np.sign(w5[0]) * 40.0
    w5[1] *= 1e-5
    w5[2], b5[2] = 0.0, 1e3
    w5[3], b5[3] = 1e-30, -50.0
    nodes = [helper.make_node("Conv", ["x", "W1", "B1"], ["c1"], kernel_shape=[3, 3], strides=[2, 2],
                              pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "W2", "B2"], ["c2"], kernel_shape=[3, 3], group=8, pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c2"], ["r2"]),
             helper.make_node("Conv", ["r2", "W3", "B3"], ["c3"], kernel_shape=[1, 1]),
             helper.make_node("Relu", ["c3"], ["r3"]),
             helper.make_node("Conv", ["r3", "W4", "B4"], ["c4"], kernel_shape=[1, 1]),
             helper.make_node("Relu", ["c4"], ["r4"]),
             helper.make_node("Flatten", ["r4"], ["f"]),
             helper.make_node("Gemm", ["f", "W5", "B5"], ["y"], transB=1)]
    inits = {"W1": w1, "B1": b1, "W2": w2, "B2": b2, "W3": w3, "B3": w(256, rng=rng),
             "W4": w4, "B4": w(16, rng=rng), "W5": w5, "B5": b5}
    return make_model(path, nodes, {"x": [1, 3, 24, 24]}, {"y": None}, inits)
