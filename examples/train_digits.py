"""Train the bundled example models on scikit-learn's digits and export them to ONNX.

Two small classifiers for 8x8 grayscale digits, trained in plain numpy (hand-written forward and
backward passes, Adam) so the examples need neither torch nor a download:

* ``mlp.onnx``: x [N,64] -> Gemm(64->32) -> Relu -> Gemm(32->10) -> "logits"
* ``cnn.onnx``: x [N,1,8,8] -> Conv(1->8) -> BatchNormalization -> Relu -> MaxPool 2x2
  -> Conv(8->16) -> BatchNormalization -> Clip(0,6) -> Flatten -> Gemm(256->10) -> Softmax -> "probs"

The CNN deliberately keeps real BatchNormalization nodes and flattens an NCHW tensor with H,W > 1,
so the compiler has to fold BN and get the layout of the Flatten right.

Inputs are pixels / 16, so x is in [0, 1]. Besides the models the script writes the calibration
set (200 samples held out from training, in each model's own layout) and the test split:
calib_mlp.npz, calib_cnn.npz ("x") and test_mlp.npz, test_cnn.npz ("x", "y").

Usage (from the repository root):  python examples/train_digits.py [--out DIR]
Everything is seeded, so re-running rewrites the same files.
"""

from __future__ import annotations

import argparse
import io
import time
import zipfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from numpy.lib.stride_tricks import sliding_window_view
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SEED = 0
N_TEST = 360
N_CALIB = 200
OPSET = 13
# The IR version that shipped with opset 13 (onnx 1.8): older onnx/onnxruntime can still load the files.
IR_VERSION = 7
BN_EPS = 1e-5
BN_MOMENTUM = 0.1  # weight of the current batch in the running statistics (PyTorch convention)
ORT_TOLERANCE = 1e-4

Params = dict[str, np.ndarray]


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def load_splits(seed: int = SEED) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Split digits into disjoint train / calib / test sets; x is [n, 64] float32 in [0, 1]."""
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    # Stratified, so the small test and calibration sets still cover every class evenly.
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=N_TEST, stratify=y, random_state=seed)
    x_train, x_calib, y_train, y_calib = train_test_split(
        x_rest, y_rest, test_size=N_CALIB, stratify=y_rest, random_state=seed
    )
    return {"train": (x_train, y_train), "calib": (x_calib, y_calib), "test": (x_test, y_test)}


def save_npz(path: Path, **arrays: np.ndarray) -> None:
    """Like np.savez_compressed, but byte-identical across runs.

    np.savez stamps each zip entry with the current time, which would make every regeneration
    show up as a binary diff in git.
    """
    with zipfile.ZipFile(path, "w") as zf:
        for name, array in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue())


# --------------------------------------------------------------------------------------------
# Layers: forward and backward by hand
# --------------------------------------------------------------------------------------------


def im2col3x3(x: np.ndarray) -> np.ndarray:
    """[N,C,H,W] -> [N,H,W,C*9]: the 3x3 neighbourhood of every pixel, zero padded by 1."""
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    windows = sliding_window_view(xp, (3, 3), axis=(2, 3))  # [N,C,H,W,3,3]
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(n, h, w, c * 9)


def conv3x3_backward(dout: np.ndarray, cols: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of a 3x3 pad-1 convolution with respect to its input and its weight."""
    n, o, h, w = dout.shape
    c = weight.shape[1]
    d = dout.transpose(0, 2, 3, 1).reshape(-1, o)
    dweight = (d.T @ cols.reshape(-1, c * 9)).reshape(weight.shape)
    dcols = (d @ weight.reshape(o, -1)).reshape(n, h, w, c, 3, 3)
    # Scatter each kernel tap back to the padded input pixel it read (the inverse of im2col).
    dxp = np.zeros((n, c, h + 2, w + 2), dtype=dout.dtype)
    for i in range(3):
        for j in range(3):
            dxp[:, :, i : i + h, j : j + w] += dcols[..., i, j].transpose(0, 3, 1, 2)
    return dxp[:, :, 1:-1, 1:-1], dweight


def maxpool2x2(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2x2 stride-2 max pooling; also returns which of the 4 window pixels won, for backward."""
    n, c, h, w = x.shape
    windows = x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5)
    windows = windows.reshape(n, c, h // 2, w // 2, 4)
    winner = windows.argmax(axis=-1)
    return np.take_along_axis(windows, winner[..., None], axis=-1)[..., 0], winner


def maxpool2x2_backward(dout: np.ndarray, winner: np.ndarray) -> np.ndarray:
    # Only the winning pixel gets the gradient; argmax breaks ties so it is never counted twice.
    n, c, h2, w2 = dout.shape
    dwindows = np.zeros((n, c, h2, w2, 4), dtype=dout.dtype)
    np.put_along_axis(dwindows, winner[..., None], dout[..., None], axis=-1)
    return dwindows.reshape(n, c, h2, w2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h2 * 2, w2 * 2)


class BatchNorm:
    """Per-channel batch normalisation of NCHW tensors, with ONNX inference semantics at eval time."""

    def __init__(self, prefix: str, channels: int, params: Params) -> None:
        self.prefix = prefix
        params[f"{prefix}.weight"] = np.ones(channels)
        params[f"{prefix}.bias"] = np.zeros(channels)
        self.running_mean = np.zeros(channels)
        self.running_var = np.ones(channels)

    def forward(self, x: np.ndarray, params: Params, train: bool) -> np.ndarray:
        gamma, beta = params[f"{self.prefix}.weight"], params[f"{self.prefix}.bias"]
        if train:
            mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
            self.running_mean += BN_MOMENTUM * (mean - self.running_mean)
            self.running_var += BN_MOMENTUM * (var - self.running_var)
        else:
            mean, var = self.running_mean.astype(x.dtype), self.running_var.astype(x.dtype)
        inv_std = 1.0 / np.sqrt(var + BN_EPS)
        xhat = (x - mean[:, None, None]) * inv_std[:, None, None]
        self.cache = (xhat, inv_std, gamma)
        return xhat * gamma[:, None, None] + beta[:, None, None]

    def backward(self, dout: np.ndarray, grads: Params) -> np.ndarray:
        # Training-mode backward: mean and var depend on the batch, hence the two correction sums.
        xhat, inv_std, gamma = self.cache
        m = dout.shape[0] * dout.shape[2] * dout.shape[3]
        grads[f"{self.prefix}.weight"] = (dout * xhat).sum(axis=(0, 2, 3))
        grads[f"{self.prefix}.bias"] = dout.sum(axis=(0, 2, 3))
        dxhat = dout * gamma[:, None, None]
        dsum = dxhat.sum(axis=(0, 2, 3))[:, None, None]
        dxsum = (dxhat * xhat).sum(axis=(0, 2, 3))[:, None, None]
        return (inv_std[:, None, None] / m) * (m * dxhat - dsum - xhat * dxsum)


def he_init(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)


def initializer(name: str, value: np.ndarray) -> TensorProto:
    return numpy_helper.from_array(np.asarray(value, dtype=np.float32), name)


def make_model(graph: onnx.GraphProto) -> onnx.ModelProto:
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="mcugen examples/train_digits.py",
    )
    model.ir_version = IR_VERSION
    return model


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


class MLP:
    """x [N,64] -> Gemm(64->32) -> Relu -> Gemm(32->10) -> logits."""

    def __init__(self, rng: np.random.Generator) -> None:
        # Weights are [out, in] and exported with transB=1, the layout most exporters produce.
        self.params: Params = {
            "fc1.weight": he_init(rng, (32, 64), 64),
            "fc1.bias": np.zeros(32),
            "fc2.weight": he_init(rng, (10, 32), 32),
            "fc2.bias": np.zeros(10),
        }

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        p = self.params
        h = np.maximum(x @ p["fc1.weight"].T + p["fc1.bias"], 0.0)
        self.cache = (x, h)
        return h @ p["fc2.weight"].T + p["fc2.bias"]

    def backward(self, dlogits: np.ndarray) -> Params:
        p, (x, h) = self.params, self.cache
        dh = (dlogits @ p["fc2.weight"]) * (h > 0)
        return {
            "fc2.weight": dlogits.T @ h,
            "fc2.bias": dlogits.sum(axis=0),
            "fc1.weight": dh.T @ x,
            "fc1.bias": dh.sum(axis=0),
        }

    def to_onnx(self) -> onnx.ModelProto:
        nodes = [
            helper.make_node("Gemm", ["x", "fc1.weight", "fc1.bias"], ["fc1"], name="fc1", transB=1),
            helper.make_node("Relu", ["fc1"], ["relu1"], name="relu1"),
            helper.make_node("Gemm", ["relu1", "fc2.weight", "fc2.bias"], ["logits"], name="fc2", transB=1),
        ]
        graph = helper.make_graph(
            nodes,
            "digits_mlp",
            inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 64])],
            outputs=[helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
            initializer=[initializer(k, v) for k, v in self.params.items()],
            doc_string="8x8 digits classifier; x = pixels / 16 in [0, 1], flattened row-major.",
        )
        return make_model(graph)


class CNN:
    """x [N,1,8,8] -> Conv -> BN -> Relu -> MaxPool -> Conv -> BN -> Clip(0,6) -> Flatten -> Gemm."""

    def __init__(self, rng: np.random.Generator) -> None:
        # No conv biases: BN subtracts the channel mean right after, so a bias would be dead weight.
        self.params: Params = {
            "conv1.weight": he_init(rng, (8, 1, 3, 3), 1 * 9),
            "conv2.weight": he_init(rng, (16, 8, 3, 3), 8 * 9),
            "fc.weight": he_init(rng, (10, 16 * 4 * 4), 16 * 4 * 4),
            "fc.bias": np.zeros(10),
        }
        self.bn1 = BatchNorm("bn1", 8, self.params)
        self.bn2 = BatchNorm("bn2", 16, self.params)

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        """Returns logits; the exported model appends the Softmax."""
        p = self.params
        x = x.reshape(-1, 1, 8, 8)
        cols1 = im2col3x3(x)
        z1 = (cols1 @ p["conv1.weight"].reshape(8, -1).T).transpose(0, 3, 1, 2)
        a1 = np.maximum(self.bn1.forward(z1, p, train), 0.0)
        pooled, winner = maxpool2x2(a1)
        cols2 = im2col3x3(pooled)
        z2 = (cols2 @ p["conv2.weight"].reshape(16, -1).T).transpose(0, 3, 1, 2)
        a2 = np.clip(self.bn2.forward(z2, p, train), 0.0, 6.0)
        flat = a2.reshape(len(x), -1)  # NCHW order, exactly what ONNX Flatten produces
        self.cache = (cols1, a1, winner, cols2, a2, flat)
        return flat @ p["fc.weight"].T + p["fc.bias"]

    def backward(self, dlogits: np.ndarray) -> Params:
        p, (cols1, a1, winner, cols2, a2, flat) = self.params, self.cache
        grads: Params = {"fc.weight": dlogits.T @ flat, "fc.bias": dlogits.sum(axis=0)}
        da2 = (dlogits @ p["fc.weight"]).reshape(a2.shape) * ((a2 > 0) & (a2 < 6))
        dz2 = self.bn2.backward(da2, grads)
        dpooled, grads["conv2.weight"] = conv3x3_backward(dz2, cols2, p["conv2.weight"])
        da1 = maxpool2x2_backward(dpooled, winner) * (a1 > 0)
        dz1 = self.bn1.backward(da1, grads)
        _, grads["conv1.weight"] = conv3x3_backward(dz1, cols1, p["conv1.weight"])
        return grads

    def to_onnx(self) -> onnx.ModelProto:
        conv = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "strides": [1, 1]}
        pool = {"kernel_shape": [2, 2], "strides": [2, 2]}
        nodes = [
            helper.make_node("Conv", ["x", "conv1.weight"], ["conv1"], name="conv1", **conv),
            helper.make_node(
                "BatchNormalization",
                ["conv1", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var"],
                ["bn1"],
                name="bn1",
                epsilon=BN_EPS,
            ),
            helper.make_node("Relu", ["bn1"], ["relu1"], name="relu1"),
            helper.make_node("MaxPool", ["relu1"], ["pool1"], name="pool1", **pool),
            helper.make_node("Conv", ["pool1", "conv2.weight"], ["conv2"], name="conv2", **conv),
            helper.make_node(
                "BatchNormalization",
                ["conv2", "bn2.weight", "bn2.bias", "bn2.running_mean", "bn2.running_var"],
                ["bn2"],
                name="bn2",
                epsilon=BN_EPS,
            ),
            # Opset 13 Clip takes min/max as inputs, not attributes.
            helper.make_node("Clip", ["bn2", "relu6.min", "relu6.max"], ["relu6"], name="relu6"),
            helper.make_node("Flatten", ["relu6"], ["flat"], name="flatten", axis=1),
            helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"], name="fc", transB=1),
            helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=1),
        ]
        tensors = dict(self.params)
        for bn in (self.bn1, self.bn2):
            tensors[f"{bn.prefix}.running_mean"] = bn.running_mean
            tensors[f"{bn.prefix}.running_var"] = bn.running_var
        tensors["relu6.min"] = np.array(0.0)
        tensors["relu6.max"] = np.array(6.0)
        graph = helper.make_graph(
            nodes,
            "digits_cnn",
            inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 8, 8])],
            outputs=[helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 10])],
            initializer=[initializer(k, v) for k, v in tensors.items()],
            doc_string="8x8 digits classifier; x = pixels / 16 in [0, 1], NCHW.",
        )
        return make_model(graph)


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def train(
    model: MLP | CNN,
    x: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
    epochs: int,
    lr: float,
    batch_size: int = 32,
    weight_decay: float = 1e-4,
) -> None:
    """Adam on softmax cross-entropy, with a cosine learning-rate decay to zero."""
    params = model.params
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(v) for k, v in params.items()}
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    steps_per_epoch = -(-len(x) // batch_size)
    total, t = epochs * steps_per_epoch, 0
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            idx = order[start : start + batch_size]
            probs = softmax(model.forward(x[idx], train=True))
            probs[np.arange(len(idx)), y[idx]] -= 1.0  # d(cross-entropy)/d(logits)
            grads = model.backward(probs / len(idx))
            t += 1
            step = lr * 0.5 * (1.0 + np.cos(np.pi * (t - 1) / total))
            for k, g in grads.items():
                # L2 on weight matrices only: keeps their range small, which int8 quantisation likes.
                if k.endswith(".weight") and not k.startswith("bn"):
                    g = g + weight_decay * params[k]
                m[k] = beta1 * m[k] + (1 - beta1) * g
                v[k] = beta2 * v[k] + (1 - beta2) * g * g
                m_hat, v_hat = m[k] / (1 - beta1**t), v[k] / (1 - beta2**t)
                params[k] -= step * m_hat / (np.sqrt(v_hat) + eps)


def export_and_verify(model: MLP | CNN, x_test: np.ndarray, y_test: np.ndarray, path: Path) -> float:
    """Write the ONNX file, check it, compare onnxruntime with numpy; return ORT test accuracy."""
    # Freeze the weights at the exported precision, so the numpy reference below computes
    # exactly what the ONNX file holds.
    model.params = {k: p.astype(np.float32) for k, p in model.params.items()}
    onnx_model = model.to_onnx()
    onnx.checker.check_model(onnx_model, full_check=True)
    onnx.save(onnx_model, path)

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"x": x_test})
    expected = model.forward(x_test)
    if isinstance(model, CNN):
        expected = softmax(expected)
    diff = float(np.abs(got - expected).max())
    if diff >= ORT_TOLERANCE:
        raise AssertionError(f"{path.name}: onnxruntime differs from the numpy forward by {diff:.2e}")
    print(f"  {path.name}: onnxruntime vs numpy max abs diff {diff:.1e}")
    return float((got.argmax(axis=1) == y_test).mean())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent / "digits", help="output folder"
    )
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    splits = load_splits()
    x_train, y_train = splits["train"]
    x_calib, _ = splits["calib"]
    x_test, y_test = splits["test"]
    print(f"digits: {len(x_train)} train, {len(x_calib)} calib, {len(x_test)} test")

    def image(x: np.ndarray) -> np.ndarray:
        return x.reshape(-1, 1, 8, 8)

    # Training runs in float64 (cheap at this size, and the gradients are exact enough to check
    # against finite differences); the exported models are float32.
    rng = np.random.default_rng(SEED)
    mlp = MLP(rng)
    train(mlp, x_train.astype(np.float64), y_train, rng, epochs=60, lr=3e-3)
    mlp_acc = export_and_verify(mlp, x_test, y_test, out / "mlp.onnx")

    cnn = CNN(rng)
    train(cnn, image(x_train).astype(np.float64), y_train, rng, epochs=40, lr=3e-3)
    cnn_acc = export_and_verify(cnn, image(x_test), y_test, out / "cnn.onnx")

    save_npz(out / "calib_mlp.npz", x=x_calib)
    save_npz(out / "calib_cnn.npz", x=image(x_calib))
    save_npz(out / "test_mlp.npz", x=x_test, y=y_test)
    save_npz(out / "test_cnn.npz", x=image(x_test), y=y_test)

    print(f"float test accuracy: mlp {mlp_acc:.2%}, cnn {cnn_acc:.2%}")
    print(f"wrote {out} in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
