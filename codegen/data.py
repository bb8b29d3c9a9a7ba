"""Sample data from .npz / .npy files: calibration sets, verification sets, labels.

The first axis counts samples; the rest is one input's shape without its batch axis, in the
model's own (ONNX) layout. An .npz is keyed by the model's input names; a single-input model
also accepts a lone array or the key "x". An array "y", where present, holds labels.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mcugen.errors import McugenError
from mcugen.ir import Graph


@dataclass
class Samples:
    inputs: dict[str, np.ndarray]  # input name → [S, *shape without batch], ONNX layout, float32
    labels: np.ndarray | None = None

    @property
    def count(self) -> int:
        return len(next(iter(self.inputs.values())))

    def take(self, n: int) -> Samples:
        return Samples({k: v[:n] for k, v in self.inputs.items()}, None if self.labels is None else self.labels[:n])


def load_samples(path: str | Path, graph: Graph, what: str = "data") -> Samples:
    path = Path(path)
    if not path.is_file():
        raise McugenError(f"{what} file {path} does not exist; give an .npz or .npy file of samples")
    try:
        loaded = np.load(path, allow_pickle=False)
        arrays = dict(loaded.items()) if isinstance(loaded, np.lib.npyio.NpzFile) else {"": loaded}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise McugenError(f"{what} file {path} is not a readable .npz or .npy file ({exc})") from None
    labels = arrays.pop("y", None)
    names = graph.inputs
    inputs: dict[str, np.ndarray] = {}
    if len(names) == 1 and names[0] not in arrays:
        lone = [k for k in arrays if k in ("", "x")] or (list(arrays) if len(arrays) == 1 else [])
        if not lone:
            raise McugenError(f"{what} file {path} has arrays {sorted(arrays)}, none named after the model's "
                              f"input {names[0]!r} (or 'x'); rename the array")
        arrays = {names[0]: arrays[lone[0]]}
    missing = [n for n in names if n not in arrays]
    if missing:
        raise McugenError(f"{what} file {path} lacks arrays for the model input(s) {missing}; "
                          f"it has {sorted(arrays)}")
    count = None
    for name in names:
        want = graph.io[name].onnx_shape[1:]
        arr = np.asarray(arrays[name])
        if arr.dtype.kind not in "fiu":
            raise McugenError(f"{what} array {name!r} in {path} holds {arr.dtype}, not numbers")
        if tuple(arr.shape[1:]) != tuple(want):
            if tuple(arr.shape) == tuple(want):
                arr = arr[None]
            else:
                raise McugenError(f"{what} array {name!r} in {path} has shape {tuple(arr.shape)}; the model wants "
                                  f"[samples, {', '.join(map(str, want))}] (its input shape without the batch axis)")
        if not np.all(np.isfinite(arr)):
            raise McugenError(f"{what} array {name!r} in {path} holds NaN or infinite values")
        if count is not None and len(arr) != count:
            raise McugenError(f"{what} arrays in {path} hold different numbers of samples")
        count = len(arr)
        inputs[name] = arr.astype(np.float32)
    if count == 0:
        raise McugenError(f"{what} file {path} holds no samples")
    if labels is not None and len(labels) != count:
        raise McugenError(f"labels 'y' in {path} count {len(labels)}, the inputs {count}")
    return Samples(inputs, labels)


def random_samples(graph: Graph, count: int = 16, seed: int = 0) -> Samples:
    rng = np.random.default_rng(seed)
    return Samples({n: rng.standard_normal((count,) + graph.io[n].onnx_shape[1:]).astype(np.float32)
                    for n in graph.inputs})


def to_physical(graph: Graph, name: str, batch: np.ndarray) -> np.ndarray:
    """[S, *ONNX shape without batch] → [S, *physical shape without batch]."""
    perm = graph.io[name].to_physical
    if perm is None:
        return batch
    return np.ascontiguousarray(batch.transpose(perm))
