"""Operators: one module per operator, each the numpy twin of its C kernel in firmware/kernels/.

Importing this package registers every operator in `base.REGISTRY`.
"""

from . import (  # noqa: F401  (imported for their registration)
    activation,
    add,
    avg_pool,
    concat,
    conv,
    depthwise_conv,
    fully_connected,
    matmul,
    max_pool,
    mul,
    pad,
    requantize,
    reshape,
    slice,
    softmax,
    transpose,
)
from .base import REGISTRY, KernelCall, constant_bytes, op_for

__all__ = ["REGISTRY", "KernelCall", "constant_bytes", "op_for"]
