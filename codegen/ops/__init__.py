"""Operators: one module per operator, each the numpy twin of its C kernel in firmware/kernels/.

Importing this package registers every operator in `base.REGISTRY`.
"""

from . import (  # noqa: F401  (imported for their registration)
    activation,
    add,
    avg_pool,
    avg_pool_tflite,
    concat,
    conv,
    conv_transpose,
    depthwise_conv,
    fully_connected,
    gru,
    layer_norm,
    lstm,
    lut_tflite,
    matmul,
    max_pool,
    mul,
    pad,
    reduce,
    reduce_tflite,
    requantize,
    reshape,
    resize,
    slice,
    softmax,
    softmax_tflite,
    transpose,
)
from .base import REGISTRY, KernelCall, constant_bytes, layer_bytes, op_for

__all__ = ["REGISTRY", "KernelCall", "constant_bytes", "layer_bytes", "op_for"]
