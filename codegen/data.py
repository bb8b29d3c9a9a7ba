"""Sample data from .npz / .npy files: calibration sets, verification sets, labels.

The first axis counts samples; the rest is one input's shape without its batch axis, in the
model's own (ONNX) layout. An .npz is keyed by the model's input names; a single-input model
also accepts a lone array or the key "x". Labels (class indices, one per sample) are the array
"labels", or "y" when the model has no input named "y" (a model input named "y" is fed, never
taken for labels; give such a model's labels as "labels").

The files are untrusted: every array's header is read and checked (plain numeric dtype, a size
the file really holds, no pickled objects) before any data is, and every value must be finite
once cast to float32, the type the model runs in.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from mcugen.errors import McugenError
from mcugen.ir import Graph

LABEL_KEYS = ("labels", "y")  # in this order; a key that names a model input is an input
SINGLE_INPUT_KEYS = ("", "x")  # "" is a lone .npy array
MAX_HEADER_BYTES = 10_000  # numpy's own default limit on an .npy header
MAX_DATA_BYTES = 4 << 30  # a sample file larger than this is a mistake, not a calibration set
NUMERIC_KINDS = {"f": "floating point", "i": "signed integer", "u": "unsigned integer"}
# What np.load and zipfile raise for damaged or truncated files.
_READ_ERRORS = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, struct.error, KeyError,
                NotImplementedError, UnicodeDecodeError, SyntaxError)


@dataclass
class Samples:
    inputs: dict[str, np.ndarray]  # input name → [S, *shape without batch], ONNX layout, float32
    labels: np.ndarray | None = None

    @property
    def count(self) -> int:
        return len(next(iter(self.inputs.values())))

    def take(self, n: int) -> Samples:
        return Samples({k: v[:n] for k, v in self.inputs.items()}, None if self.labels is None else self.labels[:n])


def check_file(path: Path, what: str) -> None:
    """A sample file must be a regular file: a folder, FIFO or device would fail or block."""
    if not path.exists():
        raise McugenError(f"{what} file {path} does not exist; give an .npz or .npy file of samples")
    if path.is_dir():
        raise McugenError(f"{what} file {path} is a folder; give an .npz or .npy file of samples inside it")
    if not path.is_file():
        raise McugenError(f"{what} file {path} is not a regular file (a FIFO or a device?); "
                          "give an .npz or .npy file of samples")


def _read_array(open_member, size: int, where: str) -> np.ndarray:
    """One .npy stream: its header checked against `size` (the bytes it may hold), then its data."""
    with open_member() as f:
        shape, dtype = _read_header(f, where)
        header_end = f.tell()
    if dtype.hasobject:
        raise McugenError(f"{where} holds Python objects (pickled data), which mcugen never loads; "
                          "save plain numeric arrays (np.savez with float32 arrays)")
    if dtype.kind not in NUMERIC_KINDS:
        raise McugenError(f"{where} holds {dtype} values, not real numbers; save float32 (or integer) arrays")
    need = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    if need > MAX_DATA_BYTES:
        raise McugenError(f"{where} declares {need:,} bytes of data, more than mcugen loads "
                          f"({MAX_DATA_BYTES >> 30} GiB); use fewer samples")
    if need > size - header_end:
        raise McugenError(f"{where} is truncated: its header declares shape {shape} ({need:,} bytes) but the "
                          f"file holds {max(size - header_end, 0):,}; save it again")
    with open_member() as f:
        return np.lib.format.read_array(f, allow_pickle=False, max_header_size=MAX_HEADER_BYTES)


def _read_header(f: BinaryIO, where: str) -> tuple[tuple[int, ...], np.dtype]:
    major, _ = np.lib.format.read_magic(f)
    if major == 1:
        shape, _, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=MAX_HEADER_BYTES)
    else:
        shape, _, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=MAX_HEADER_BYTES)
    return shape, dtype


def read_arrays(path: Path, what: str = "data") -> dict[str, np.ndarray]:
    """Every array of an .npz (by key) or the lone array of an .npy (key ""), checked as it is read."""
    check_file(path, what)
    try:
        if zipfile.is_zipfile(path):
            arrays = {}
            with zipfile.ZipFile(path) as archive:
                members = [m for m in archive.infolist() if not m.is_dir()]
                if sum(m.file_size for m in members) > MAX_DATA_BYTES:
                    raise McugenError(f"{what} file {path} unpacks to more than {MAX_DATA_BYTES >> 30} GiB; "
                                      "use fewer samples")
                for member in members:
                    key = member.filename.removesuffix(".npy")
                    arrays[key] = _read_array(lambda m=member: archive.open(m), member.file_size,
                                              f"{what} array {key!r} in {path}")
            return arrays
        return {"": _read_array(lambda: path.open("rb"), path.stat().st_size, f"{what} file {path}")}
    except McugenError:
        raise
    except MemoryError:
        raise McugenError(f"{what} file {path} is too large to load into memory; use fewer samples") from None
    except _READ_ERRORS as exc:
        reason = str(exc).split("\n")[0][:200] or type(exc).__name__
        raise McugenError(f"{what} file {path} is not a readable .npz or .npy file ({reason}); "
                          "save it again with np.savez or np.save") from None


def label_key(arrays: dict[str, np.ndarray], graph: Graph) -> str | None:
    """The key holding labels: "labels", else "y", never a key named after a model input."""
    return next((k for k in LABEL_KEYS if k in arrays and k not in graph.inputs), None)


def load_samples(path: str | Path, graph: Graph, what: str = "data") -> Samples:
    path = Path(path)
    arrays = read_arrays(path, what)
    key = label_key(arrays, graph)
    labels = arrays.pop(key) if key is not None else None
    names = graph.inputs
    if len(names) == 1 and names[0] not in arrays:
        lone = [k for k in arrays if k in SINGLE_INPUT_KEYS] or (list(arrays) if len(arrays) == 1 else [])
        if not lone:
            raise McugenError(f"{what} file {path} has arrays {sorted(arrays)}, none named after the model's "
                              f"input {names[0]!r} (or 'x'); rename the array")
        arrays = {names[0]: arrays[lone[0]]}
    missing = [n for n in names if n not in arrays]
    if missing:
        raise McugenError(f"{what} file {path} lacks arrays for the model input(s) {missing}; "
                          f"it has {sorted(arrays)}")
    inputs = {name: _input_array(_codes_as_values(graph, name, arrays[name]), graph.io[name].onnx_shape[1:],
                                 f"{what} array {name!r} in {path}") for name in names}
    counts = {name: len(arr) for name, arr in inputs.items()}
    if len(set(counts.values())) > 1:
        raise McugenError(f"{what} arrays in {path} hold different numbers of samples ({counts}); "
                          "give every input the same number")
    count = next(iter(counts.values()))
    if count == 0:
        raise McugenError(f"{what} file {path} holds no samples; give at least one")
    if labels is not None:
        labels = _labels(labels, count, f"labels {key!r} in {path}")
    return Samples(inputs, labels)


def _codes_as_values(graph: Graph, name: str, arr: np.ndarray) -> np.ndarray:
    """An int8 array for an input of an int8 .tflite model holds its codes, as TFLite Micro takes
    them: their real values (which quantize back exactly); so does a uint8 array for a uint8 input of
    the file (mcugen's int8 code is u - 128, its zero point the file's minus 128). ONNX models keep
    reading values."""
    uint8 = name in graph.io and graph.io[name].file_dtype == "uint8" and arr.dtype == np.uint8
    if not (arr.dtype == np.int8 or uint8) or name not in graph.fixed_qparams or \
            not str(graph.source).lower().endswith(".tflite"):
        return arr
    scale, zero_point = graph.fixed_qparams[name]
    return (arr.astype(np.float64) - (128 if uint8 else 0) - zero_point) * scale


def _input_array(arr: np.ndarray, want: tuple[int, ...], where: str) -> np.ndarray:
    """[S, *want] float32 with every value finite, or one clear error."""
    if tuple(arr.shape[1:]) != tuple(want):
        if tuple(arr.shape) != tuple(want):
            raise McugenError(f"{where} has shape {tuple(arr.shape)}; the model wants "
                              f"[samples, {', '.join(map(str, want))}] (its input shape without the batch axis)")
        arr = arr[None]
    with np.errstate(over="ignore", invalid="ignore"):
        values = arr.astype(np.float32)  # 1e300 becomes inf here: check what the model will see
    if not np.all(np.isfinite(values)):
        raise McugenError(f"{where} holds NaN, infinite or out-of-float32-range values (|x| > 3.4e38); "
                          "give finite float32 samples")
    return values


def _labels(labels: np.ndarray, count: int, where: str) -> np.ndarray:
    """One class index per sample, as int64."""
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise McugenError(f"{where} has shape {tuple(labels.shape)}; give one class index per sample, "
                          f"shape [{count}]")
    if len(labels) != count:
        raise McugenError(f"{where} count {len(labels)}, the inputs {count}; give one label per sample")
    whole = labels.dtype.kind != "f" or (np.all(np.isfinite(labels)) and np.all(labels == np.round(labels)))
    if not whole:
        raise McugenError(f"{where} are not whole numbers; give class indices")
    if labels.size and labels.min() < 0:
        raise McugenError(f"{where} hold negative values; give class indices 0, 1, ...")
    return labels.astype(np.int64)


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
