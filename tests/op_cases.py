"""Operator test cases shared by the bit-exactness tests: the int8 ones (test_ops_bit_exact.py), the
weight-only ones (test_weight_only.py) and the precision variants (test_precision_bit_exact.py).

A case is (nodes, inputs, initializers), (nodes, inputs, initializers, outputs) or (nodes, inputs,
initializers, outputs, opset); without outputs (or with None) the graph's output is the last node's.
The tables' weights are drawn at import from this module's own seeded generator, in a fixed order,
so they are the same whichever test file runs (the UPSAMPLE_NORM cases draw from their own).
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
# Reductions (ops/reduce.py; a mean over H, W becomes an average pool): axes as attribute (opset 14)
# or as input (ReduceSum from 13, the others from 18), keepdims both ways, negative and empty axes.
# The last element is the opset.
OTHERS.update({
    "reducemean_spatial_keepdims": ([helper.make_node("ReduceMean", ["x"], ["y"], axes=[2, 3])],
                                    {"x": [1, 5, 6, 7]}, {}, {"y": None}, 14),
    "reducemean_spatial_axes_input_no_keepdims": ([helper.make_node("ReduceMean", ["x", "A"], ["y"], keepdims=0)],
                                                  {"x": [1, 6, 5, 3]}, {"A": np.array([-1, -2], np.int64)},
                                                  {"y": None}, 18),
    "reducemean_height_only": ([helper.make_node("ReduceMean", ["x"], ["y"], axes=[2])], {"x": [1, 3, 5, 4]}, {},
                               {"y": None}, 14),
    "reducemean_channels_keepdims": ([helper.make_node("ReduceMean", ["x"], ["y"], axes=[1])],
                                     {"x": [1, 7, 3, 4]}, {}, {"y": None}, 14),
    "reducemean_last_axis_3d_then_gemm": ([helper.make_node("ReduceMean", ["x"], ["m"], axes=[-1], keepdims=0),
                                           helper.make_node("Gemm", ["m", "W"], ["y"], transB=1)],
                                          {"x": [1, 9, 11]}, {"W": w(4, 9)}, {"y": None}, 14),
    "reducesum_height_no_keepdims_transposed": ([helper.make_node("ReduceSum", ["x", "A"], ["y"], keepdims=0)],
                                                {"x": [1, 3, 4, 5]}, {"A": np.array([2], np.int64)},
                                                {"y": None}, 13),
    "reducesum_channels_width": ([helper.make_node("ReduceSum", ["x", "A"], ["y"])], {"x": [1, 3, 4, 5]},
                                 {"A": np.array([1, 3], np.int64)}, {"y": None}, 13),
    "reducesum_opset11_attribute_all_but_batch": ([helper.make_node("ReduceSum", ["x"], ["y"], axes=[1, 2])],
                                                  {"x": [1, 6, 7]}, {}, {"y": None}, 11),
    "reducemax_channels_width_no_keepdims": ([helper.make_node("ReduceMax", ["x"], ["y"], axes=[1, 3], keepdims=0)],
                                             {"x": [1, 5, 3, 6]}, {}, {"y": None}, 14),
    "reducemax_every_axis_keepdims": ([helper.make_node("ReduceMax", ["x"], ["y"])], {"x": [1, 4, 3, 5]}, {},
                                      {"y": None}, 18),
    "reducemax_spatial_after_relu": ([helper.make_node("Relu", ["x"], ["r"]),
                                      helper.make_node("ReduceMax", ["r", "A"], ["y"], keepdims=0)],
                                     {"x": [1, 6, 4, 4]}, {"A": np.array([2, 3], np.int64)}, {"y": None}, 18),
    "reducemin_channels_width_no_keepdims": ([helper.make_node("ReduceMin", ["x"], ["y"], axes=[1, 3], keepdims=0)],
                                             {"x": [1, 5, 3, 6]}, {}, {"y": None}, 14),
    "reducemin_every_axis_keepdims": ([helper.make_node("ReduceMin", ["x"], ["y"])], {"x": [1, 4, 3, 5]}, {},
                                      {"y": None}, 18),
    "reducemin_spatial_after_relu": ([helper.make_node("Relu", ["x"], ["r"]),
                                      helper.make_node("ReduceMin", ["r", "A"], ["y"], keepdims=0)],
                                     {"x": [1, 6, 4, 4]}, {"A": np.array([2, 3], np.int64)}, {"y": None}, 18),
    "reducemean_noop_with_empty_axes": ([helper.make_node("Relu", ["x"], ["r"]),
                                         helper.make_node("ReduceMean", ["r"], ["y"], noop_with_empty_axes=1)],
                                        {"x": [1, 3, 4]}, {}, {"y": None}, 18),
})
for fn, kw in [("LeakyRelu", {"alpha": 0.1}), ("Sigmoid", {}), ("Tanh", {}), ("HardSigmoid", {"alpha": 0.3}),
               ("HardSwish", {}), ("Relu", {})]:
    OTHERS[f"activation_{fn.lower()}"] = ([helper.make_node(fn, ["x"], ["y"], **kw)], {"x": [1, 3, 5, 4]}, {})
# SiLU as torch exports it (Sigmoid, then Mul by its input, either operand order): one table after the
# passes; with the sigmoid's output also a graph output the pair stays two operators
OTHERS["silu_as_sigmoid_times_input"] = ([helper.make_node("Sigmoid", ["x"], ["s"]),
                                          helper.make_node("Mul", ["x", "s"], ["y"])], {"x": [1, 3, 5, 4]}, {})
_rng = np.random.default_rng(90)
OTHERS["silu_sigmoid_first_after_conv"] = ([helper.make_node("Conv", ["x", "W", "B"], ["c"], kernel_shape=[3, 3]),
                                            helper.make_node("Sigmoid", ["c"], ["s"]),
                                            helper.make_node("Mul", ["s", "c"], ["y"])], {"x": [1, 2, 6, 6]},
                                           {"W": w(4, 2, 3, 3, rng=_rng) * 4, "B": w(4, rng=_rng)})
OTHERS["silu_sigmoid_also_an_output"] = ([helper.make_node("Sigmoid", ["x"], ["s"]),
                                          helper.make_node("Mul", ["s", "x"], ["y"])], {"x": [1, 3, 5, 4]}, {},
                                         {"y": None, "s": None})



def recurrent_case(op: str, steps: int, in_size: int, hidden: int, layout: int = 1, direction: str = "forward",
                   outputs: tuple[str, ...] = ("Y",), initial: bool = False, bias: bool = True,
                   gate_bias: float = 0.0, seed: int = 0, **attrs) -> tuple:
    """One LSTM or GRU node; layout 0 the way PyTorch exports batch_first (Transpose in, Squeeze and
    Transpose out of Y); gate_bias is added to LSTM's input and forget gates (a cell that grows)."""
    rng = np.random.default_rng(80 + seed)
    gates = 4 if op == "LSTM" else 3
    inits = {"W": w(1, gates * hidden, in_size, rng=rng), "R": w(1, gates * hidden, hidden, rng=rng)}
    names = ["x" if layout == 1 else "xt", "W", "R", "B" if bias else ""]
    if bias:
        inits["B"] = w(1, 2 * gates * hidden, rng=rng)
        if gate_bias:
            inits["B"][0, :hidden] += gate_bias
            inits["B"][0, 2 * hidden:3 * hidden] += gate_bias
    if initial:
        names += ["", "h0"] + (["c0"] if op == "LSTM" else [])
        inits["h0"] = w(1, 1, hidden, rng=rng)
        if op == "LSTM":
            inits["c0"] = w(1, 1, hidden, rng=rng) * 4
    roles = ["Y", "Y_h", "Y_c"][:gates - 1]
    node_outputs = [f"{r}" if r in outputs else "" for r in roles]
    while node_outputs and not node_outputs[-1]:
        node_outputs.pop()
    nodes = [helper.make_node(op, names, node_outputs, hidden_size=hidden, direction=direction, layout=layout,
                              **attrs)]
    graph_outputs = {r: None for r in outputs}
    if layout == 0:
        nodes.insert(0, helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]))
        if "Y" in outputs:
            inits["axis1"] = np.array([1], np.int64)
            nodes += [helper.make_node("Squeeze", ["Y", "axis1"], ["Ys"]),
                      helper.make_node("Transpose", ["Ys"], ["Yb"], perm=[1, 0, 2])]
            graph_outputs = {("Yb" if r == "Y" else r): None for r in outputs}
    return nodes, {"x": [1, steps, in_size]}, inits, graph_outputs


RECURRENT = {  # LSTM and GRU: hidden 4..32, sequences 1..20, both layouts, initial states, each output
    "lstm_h4_in3_t5_layout1_y": recurrent_case("LSTM", 5, 3, 4),
    "lstm_h16_in8_t20_layout0_yh_initial_state": recurrent_case("LSTM", 20, 8, 16, layout=0, outputs=("Y_h",),
                                                                initial=True, seed=1),
    "lstm_h32_in5_t1_yc_no_bias": recurrent_case("LSTM", 1, 5, 32, outputs=("Y_c",), bias=False, seed=2),
    "lstm_h7_in2_t6_reverse_y_and_yh_layout0": recurrent_case("LSTM", 6, 2, 7, layout=0, direction="reverse",
                                                              outputs=("Y", "Y_h"), seed=3),
    "lstm_h5_in3_t20_growing_cell_yc": recurrent_case("LSTM", 20, 3, 5, outputs=("Y_c", "Y_h"), gate_bias=4.0,
                                                      initial=True, seed=4),
    "gru_h4_in3_t5_linear_before_reset_y": recurrent_case("GRU", 5, 3, 4, linear_before_reset=1, seed=5),
    "gru_h12_in6_t20_layout0_yh_initial_h": recurrent_case("GRU", 20, 6, 12, layout=0, outputs=("Y_h",),
                                                           initial=True, seed=6),
    "gru_h32_in4_t3_reverse_linear_before_reset_y": recurrent_case("GRU", 3, 4, 32, direction="reverse",
                                                                   linear_before_reset=1, seed=7),
    "gru_h9_in1_t1_no_bias_y_and_yh": recurrent_case("GRU", 1, 1, 9, outputs=("Y", "Y_h"), bias=False, seed=8),
}



def stacked_lstm_case(steps: int = 8, in_size: int = 4, hidden: int = 6) -> tuple:
    """nn.LSTM(num_layers=2, batch_first=True) as torch.onnx's exporter writes it: Transpose to
    time-major, LSTM, Squeeze the direction axis, the second LSTM on that, Squeeze, Transpose back."""
    first, second = (recurrent_case("LSTM", steps, n, hidden, layout=0, seed=9 + k)
                     for k, n in enumerate((in_size, hidden)))
    # each layer's W, R, B (and the Squeeze axes, "axis1") with the layer number appended: W1, axis11, W2, ...
    inits = {**{f"{k}1": v for k, v in first[2].items()}, **{f"{k}2": v for k, v in second[2].items()}}
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
             helper.make_node("LSTM", ["xt", "W1", "R1", "B1"], ["Y1", "h1", "c1"], hidden_size=hidden),
             helper.make_node("Squeeze", ["Y1", "axis11"], ["s1"]),
             helper.make_node("LSTM", ["s1", "W2", "R2", "B2"], ["Y2", "h2", "c2"], hidden_size=hidden),
             helper.make_node("Squeeze", ["Y2", "axis11"], ["s2"]),
             helper.make_node("Transpose", ["s2"], ["y"], perm=[1, 0, 2])]
    return nodes, {"x": [1, steps, in_size]}, inits


RECURRENT["lstm_two_layers_as_torch_exports_batch_first"] = stacked_lstm_case()


def expanded_zero_state_case(op: str, steps: int = 6, in_size: int = 3, hidden: int = 5) -> tuple:
    """torch.onnx's legacy exporter's zero initial state: a [1, 1, 1] zero Expanded to [1, batch, hidden],
    the batch read by Shape and Gather from the time-major input, built up by Unsqueeze and Concat."""
    nodes, shapes, inits, outputs = recurrent_case(op, steps, in_size, hidden, layout=0, seed=12 + len(op))
    inits.update(zero=np.zeros((1, 1, 1), np.float32), one=np.array([1], np.int64),
                 hid=np.array([hidden], np.int64), batch_axis=np.array(1, np.int64), ax0=np.array([0], np.int64))
    states = ["h0", "c0"] if op == "LSTM" else ["h0"]
    build = [helper.make_node("Shape", ["xt"], ["shape"]),
             helper.make_node("Gather", ["shape", "batch_axis"], ["batch"], axis=0),
             helper.make_node("Unsqueeze", ["batch", "ax0"], ["batch1"]),
             helper.make_node("Concat", ["one", "batch1", "hid"], ["state_shape"], axis=0)]
    build += [helper.make_node("Expand", ["zero", "state_shape"], [s]) for s in states]
    rnn = nodes[1]
    rnn.input.extend(["", *states])
    return [nodes[0], *build, *nodes[1:]], shapes, inits, outputs


RECURRENT["lstm_zero_state_expanded_as_legacy_torch_exports"] = expanded_zero_state_case("LSTM")
RECURRENT["gru_zero_state_expanded_as_legacy_torch_exports"] = expanded_zero_state_case("GRU")

def conv_transpose_case(in_c, out_c, k, hw, group=1, act=None, bias=True, seed=0, **attrs):
    """ConvTranspose with weights [in_c, out_c / group, kh, kw] from their own generator."""
    rng = np.random.default_rng(90 + seed)
    kh, kw = (k, k) if isinstance(k, int) else k
    inits = {"W": w(in_c, out_c // group, kh, kw, rng=rng)}
    ins = ["x", "W"] + (["B"] if bias else [])
    if bias:
        inits["B"] = w(out_c, rng=rng)
    nodes = [helper.make_node("ConvTranspose", ins, ["c" if act else "y"], group=group, **attrs)]
    if act:
        nodes += activation(act, "c", "y", inits)
    return nodes, {"x": [1, in_c, *hw]}, inits


def resize_case(hw, mode, coordinate_mode, nearest_mode="round_prefer_floor", scales=None, sizes=None, c=3,
                opset=14, **attrs):
    inits = {"S": np.array(scales, np.float32)} if scales is not None else {"Z": np.array(sizes, np.int64)}
    ins = ["x", "", "S"] if scales is not None else ["x", "", "", "Z"]
    node = helper.make_node("Resize", ins, ["y"], mode=mode, coordinate_transformation_mode=coordinate_mode,
                            nearest_mode=nearest_mode, **attrs)
    return [node], {"x": [1, c, *hw]}, inits, None, opset


def layer_norm_case(shape, scale_shape, bias_shape=None, seed=0, **attrs):
    rng = np.random.default_rng(95 + seed)
    inits = {"G": w(*scale_shape, rng=rng) * 2}
    if bias_shape is not None:
        inits["B"] = w(*bias_shape, rng=rng)
    node = helper.make_node("LayerNormalization", ["x", "G"] + (["B"] if bias_shape is not None else []), ["y"],
                            **attrs)
    return [node], {"x": shape}, inits, None, 17


def decomposed_layer_norm_case(shape, axes, opset=13, square="Pow", affine=True, seed=0):
    """Layer normalization as exporters wrote it before opset 17: ReduceMean, Sub, Pow, ReduceMean, Add,
    Sqrt, Div, then Mul by gamma and Add of beta (tests the fusion in readers/onnx_patterns.py)."""
    rng = np.random.default_rng(97 + seed)
    row = shape[axes[0]:]
    inits = {"two": np.array(2.0, np.float32), "eps": np.array(1e-5, np.float32)}
    if opset >= 18:
        inits["axes"] = np.array(axes, np.int64)

    def mean(src, dst):
        if opset >= 18:
            return helper.make_node("ReduceMean", [src, "axes"], [dst])
        return helper.make_node("ReduceMean", [src], [dst], axes=axes)

    nodes = [mean("x", "m"), helper.make_node("Sub", ["x", "m"], ["d"]),
             helper.make_node("Pow", ["d", "two"], ["p"]) if square == "Pow" else
             helper.make_node("Mul", ["d", "d"], ["p"]),
             mean("p", "v"), helper.make_node("Add", ["v", "eps"], ["ve"]), helper.make_node("Sqrt", ["ve"], ["s"]),
             helper.make_node("Div", ["d", "s"], ["n" if affine else "y"])]
    if affine:
        inits.update(G=w(*row, rng=rng) * 2, B=w(*row, rng=rng))
        nodes += [helper.make_node("Mul", ["n", "G"], ["ng"]), helper.make_node("Add", ["B", "ng"], ["y"])]
    return nodes, {"x": shape}, inits, None, opset


UPSAMPLE_NORM = {  # ConvTranspose, Resize, LayerNormalization: int8 only (no float32 kernels)
    "conv_transpose_stride2_pads_output_padding_relu": conv_transpose_case(
        3, 5, 3, (5, 4), act="relu", strides=[2, 2], pads=[1, 0, 1, 1], output_padding=[1, 0]),
    "conv_transpose_depthwise_4x4_stride2": conv_transpose_case(4, 4, 4, (4, 5), group=4, seed=1, strides=[2, 2],
                                                                pads=[1, 1, 1, 1]),
    "conv_transpose_grouped_dilated_same_lower": conv_transpose_case(4, 6, 3, (5, 3), group=2, seed=2,
                                                                     dilations=[2, 1], strides=[1, 2],
                                                                     auto_pad="SAME_LOWER"),
    "conv_transpose_output_shape_negative_pad": conv_transpose_case(2, 3, 3, (3, 3), seed=3, strides=[3, 2],
                                                                    output_shape=[10, 8]),
    "conv_transpose_1x1_stride3_gaps": conv_transpose_case(5, 7, 1, (3, 4), seed=4, strides=[3, 3]),
    "conv_transpose_valid_5x3_no_bias": conv_transpose_case(3, 2, (5, 3), (4, 3), bias=False, seed=5,
                                                            strides=[2, 3], auto_pad="VALID"),
    "conv_transpose_same_upper_odd_channels": conv_transpose_case(7, 3, 3, (3, 5), seed=6, strides=[2, 2],
                                                                  auto_pad="SAME_UPPER"),
    "resize_nearest_half_pixel_2x": resize_case((4, 5), "nearest", "half_pixel", scales=[1, 1, 2, 2]),
    "resize_nearest_asymmetric_floor": resize_case((3, 4), "nearest", "asymmetric", "floor", scales=[1, 1, 1.5, 3]),
    "resize_nearest_align_corners_prefer_ceil_down": resize_case((7, 5), "nearest", "align_corners",
                                                                 "round_prefer_ceil", sizes=[1, 5, 3, 2], c=5),
    "resize_nearest_pytorch_half_pixel_ceil_one_row": resize_case((4, 3), "nearest", "pytorch_half_pixel", "ceil",
                                                                  sizes=[1, 2, 1, 7], c=2),
    "resize_linear_half_pixel_2x": resize_case((4, 5), "linear", "half_pixel", scales=[1, 1, 2, 2]),
    "resize_linear_align_corners_sizes": resize_case((4, 5), "linear", "align_corners", sizes=[1, 3, 9, 7]),
    "resize_linear_pytorch_half_pixel_down": resize_case((8, 6), "linear", "pytorch_half_pixel",
                                                         scales=[1, 1, 0.5, 0.5], c=7),
    "resize_linear_asymmetric_fractional": resize_case((3, 4), "linear", "asymmetric", scales=[1, 1, 2.5, 1.25]),
    "resize_linear_axes_opset18": resize_case((3, 4), "linear", "half_pixel", scales=[3, 2], opset=18, axes=[2, 3]),
    "layer_norm_last_axis_3d": layer_norm_case([1, 6, 10], [10], [10]),
    "layer_norm_2d_large_epsilon_no_bias": layer_norm_case([1, 33], [33], seed=1, epsilon=0.5),
    "layer_norm_axis1_of_3d": layer_norm_case([1, 3, 7], [3, 7], [7], seed=2, axis=1),
    "layer_norm_4d_axis1_broadcast_bias": layer_norm_case([1, 3, 4, 5], [3, 4, 5], [3, 1, 1], seed=3, axis=1),
    "layer_norm_axis0_includes_batch": layer_norm_case([1, 4, 9], [1, 4, 9], [9], seed=4, axis=0),
    "layer_norm_rows_of_one_value": layer_norm_case([1, 5, 1], [1], [1], seed=5),
    "layer_norm_decomposed_opset13": decomposed_layer_norm_case([1, 6, 12], [-1]),
    "layer_norm_decomposed_two_axes_mul_square_no_affine": decomposed_layer_norm_case([1, 4, 15], [1, 2],
                                                                                      square="Mul", affine=False),
    "layer_norm_decomposed_opset18_axes_input": decomposed_layer_norm_case([1, 5, 8], [-1], opset=18, seed=1),
}

CASES = {**WEIGHTED, **OTHERS, **RECURRENT, **UPSAMPLE_NORM}


def case_model(path: Path, case: tuple) -> Path:
    """The ONNX model of one case, written to path."""
    nodes, inputs, inits, *rest = case
    outputs = rest[0] if rest and rest[0] else {nodes[-1].output[0]: None}
    return make_model(path, nodes, inputs, outputs, inits, **({"opset": rest[1]} if len(rest) > 1 else {}))


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
