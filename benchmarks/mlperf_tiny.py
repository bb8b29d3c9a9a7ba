"""The four MLPerf Tiny inference models as ONNX, with the real models' layer shapes and MAC counts
but seeded random weights, plus calibration data: what `mcugen bench` runs by default.

    python benchmarks/mlperf_tiny.py OUT_DIR      # writes <model>.onnx and <model>_calib.npz

The architectures were read off the official models (mlcommons/tiny, converted to ONNX) and are
written out here: KWS DS-CNN (49x10x1 MFCCs), VWW MobileNetV1-0.25 (96x96x3), IC ResNet-8
(32x32x3) and the AD fully connected autoencoder (640 inputs). Every conv has the real kernel,
stride and (TensorFlow SAME, so sometimes asymmetric) padding, so kernels meet the same shapes;
the MAC counts are asserted against the published ones. Weights are He-normal so activations
keep their scale through the ReLUs; instruction counts of int8 kernels hardly depend on the
values, so the counts measured on these models match the real ones closely (benchmarks/README.md).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SEED = 2026
CALIBRATION_SAMPLES = 16
OPSET = 13
# MACs of the official models (conv, depthwise conv and fully connected layers).
EXPECTED_MACS = {"kws_dscnn": 2_656_768, "vww_mobilenetv1_025_96": 7_489_664, "ic_resnet8": 12_501_632,
                 "ad_fc_autoencoder": 264_192}


class _Net:
    """A tiny ONNX graph builder that tracks NCHW shapes and MACs as layers are added."""

    def __init__(self, name: str, input_shape: list[int], rng: np.random.Generator) -> None:
        self.name, self.rng = name, rng
        self.nodes: list = []
        self.inits: list = []
        self.macs = 0
        self.input = helper.make_tensor_value_info("input_1", TensorProto.FLOAT, input_shape)
        self.shapes = {"input_1": list(input_shape)}
        self.count = 0

    def _fresh(self, kind: str) -> str:
        self.count += 1
        return f"{kind}_{self.count}"

    def _const(self, kind: str, value: np.ndarray) -> str:
        name = self._fresh(kind)
        self.inits.append(numpy_helper.from_array(value.astype(np.float32 if value.dtype != np.int64 else np.int64),
                                                  name))
        return name

    def _node(self, op: str, inputs: list[str], shape: list[int], **attrs) -> str:
        out = self._fresh(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        self.shapes[out] = shape
        return out

    def conv(self, x: str, cout: int, kernel: tuple[int, int], stride: int = 1, pads: tuple = (0, 0, 0, 0),
             depthwise: bool = False, relu: bool = True) -> str:
        n, cin, h, w = self.shapes[x]
        group = cin if depthwise else 1
        cout = cin if depthwise else cout
        kh, kw = kernel
        oh = (h + pads[0] + pads[2] - kh) // stride + 1
        ow = (w + pads[1] + pads[3] - kw) // stride + 1
        fan_in = (cin // group) * kh * kw
        weight = self.rng.standard_normal((cout, cin // group, kh, kw)) * np.sqrt(2.0 / fan_in)
        bias = self.rng.standard_normal(cout) * 0.05
        self.macs += oh * ow * cout * fan_in
        y = self._node("Conv", [x, self._const("w", weight), self._const("b", bias)], [n, cout, oh, ow],
                       kernel_shape=list(kernel), strides=[stride, stride], pads=list(pads), group=group)
        return self.relu(y) if relu else y

    def relu(self, x: str) -> str:
        return self._node("Relu", [x], self.shapes[x])

    def add(self, a: str, b: str) -> str:
        return self._node("Add", [a, b], self.shapes[a])

    def avg_pool(self, x: str, kernel: tuple[int, int]) -> str:
        n, c, h, w = self.shapes[x]
        return self._node("AveragePool", [x], [n, c, h // kernel[0], w // kernel[1]], kernel_shape=list(kernel),
                          strides=list(kernel))

    def flatten(self, x: str) -> str:
        n = self.shapes[x][0]
        size = int(np.prod(self.shapes[x][1:]))
        return self._node("Reshape", [x, self._const("shape", np.array([n, size], dtype=np.int64))], [n, size])

    def dense(self, x: str, units: int, relu: bool) -> str:
        n, k = self.shapes[x]
        weight = self.rng.standard_normal((units, k)) * np.sqrt(2.0 / k)
        bias = self.rng.standard_normal(units) * 0.05
        self.macs += k * units
        y = self._node("Gemm", [x, self._const("w", weight), self._const("b", bias)], [n, units], transB=1)
        return self.relu(y) if relu else y

    def softmax(self, x: str) -> str:
        return self._node("Softmax", [x], self.shapes[x], axis=-1)

    def model(self, output: str) -> onnx.ModelProto:
        out = helper.make_tensor_value_info(output, TensorProto.FLOAT, self.shapes[output])
        graph = helper.make_graph(self.nodes, self.name, [self.input], [out], self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="mcugen benchmarks/mlperf_tiny.py")
        onnx.checker.check_model(model)
        if self.macs != EXPECTED_MACS[self.name]:
            raise AssertionError(f"{self.name}: {self.macs:,} MACs, the official model has "
                                 f"{EXPECTED_MACS[self.name]:,}")
        return model


def kws_dscnn(rng: np.random.Generator) -> _Net:
    """DS-CNN: a 10x4 stride-2 conv to 64 channels, four depthwise-separable blocks, pool, FC 12."""
    net = _Net("kws_dscnn", [1, 1, 49, 10], rng)
    x = net.conv("input_1", 64, (10, 4), stride=2, pads=(4, 1, 5, 1))
    for _ in range(4):
        x = net.conv(x, 64, (3, 3), pads=(1, 1, 1, 1), depthwise=True)
        x = net.conv(x, 64, (1, 1))
    x = net.avg_pool(x, (25, 5))
    return net.softmax(net.dense(net.flatten(x), 12, relu=False)), net


def vww_mobilenetv1_025_96(rng: np.random.Generator) -> _Net:
    """MobileNetV1 with width 0.25 on 96x96 RGB: 13 depthwise-separable blocks, pool, FC 2."""
    net = _Net("vww_mobilenetv1_025_96", [1, 3, 96, 96], rng)
    x = net.conv("input_1", 8, (3, 3), stride=2, pads=(0, 0, 1, 1))
    blocks = [(1, 16), (2, 32), (1, 32), (2, 64), (1, 64), (2, 128)] + [(1, 128)] * 5 + [(2, 256), (1, 256)]
    for stride, cout in blocks:
        pads = (1, 1, 1, 1) if stride == 1 else (0, 0, 1, 1)  # TensorFlow SAME
        x = net.conv(x, 0, (3, 3), stride=stride, pads=pads, depthwise=True)
        x = net.conv(x, cout, (1, 1))
    x = net.avg_pool(x, (3, 3))
    return net.softmax(net.dense(net.flatten(x), 2, relu=False)), net


def ic_resnet8(rng: np.random.Generator) -> _Net:
    """ResNet-8 for CIFAR-10: a 3x3 conv to 16, three residual stages (16, 32, 64; 1x1 stride-2
    shortcuts in the last two), pool, FC 10."""
    net = _Net("ic_resnet8", [1, 3, 32, 32], rng)
    x = net.conv("input_1", 16, (3, 3), pads=(1, 1, 1, 1))
    for cout, stride in ((16, 1), (32, 2), (64, 2)):
        pads = (1, 1, 1, 1) if stride == 1 else (0, 0, 1, 1)
        y = net.conv(x, cout, (3, 3), stride=stride, pads=pads)
        y = net.conv(y, cout, (3, 3), pads=(1, 1, 1, 1), relu=False)
        shortcut = x if stride == 1 else net.conv(x, cout, (1, 1), stride=stride, relu=False)
        x = net.relu(net.add(y, shortcut))
    x = net.avg_pool(x, (8, 8))
    return net.softmax(net.dense(net.flatten(x), 10, relu=False)), net


def ad_fc_autoencoder(rng: np.random.Generator) -> _Net:
    """The anomaly-detection autoencoder: 640 -> 128 x4 -> 8 -> 128 x4 -> 640, ReLU but the last."""
    net = _Net("ad_fc_autoencoder", [1, 640], rng)
    x = "input_1"
    for units in (128, 128, 128, 128, 8, 128, 128, 128, 128):
        x = net.dense(x, units, relu=True)
    return net.dense(x, 640, relu=False), net


MODELS = (kws_dscnn, vww_mobilenetv1_025_96, ic_resnet8, ad_fc_autoencoder)


def build_model(builder, seed: int = SEED) -> tuple[onnx.ModelProto, np.ndarray]:
    """One model and its calibration inputs ([samples, *input shape without batch], normal, seeded)."""
    rng = np.random.default_rng([seed, MODELS.index(builder)])
    output, net = builder(rng)
    model = net.model(output)
    calib = rng.standard_normal((CALIBRATION_SAMPLES, *net.shapes["input_1"][1:])).astype(np.float32)
    return model, calib


def build_suite(folder: str | Path) -> list[tuple[Path, Path]]:
    """Write every model and its calibration data into folder/<version>/ (once; this file's hash is the
    version) and return their (model, calibration) paths."""
    version = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
    out = Path(folder) / version
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for builder in MODELS:
        model_path, calib_path = out / f"{builder.__name__}.onnx", out / f"{builder.__name__}_calib.npz"
        if not (model_path.is_file() and calib_path.is_file()):
            model, calib = build_model(builder)
            onnx.save(model, str(model_path))
            np.savez(calib_path, input_1=calib)
        paths.append((model_path, calib_path))
    return paths


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python benchmarks/mlperf_tiny.py OUT_DIR")
    for model_path, calib_path in build_suite(sys.argv[1]):
        print(model_path, calib_path)
