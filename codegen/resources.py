"""Where the package data lives: templates/, firmware/ and boards/.

In a checkout they sit at the repository root (the design card's layout); an installed wheel
carries them inside the package (pyproject.toml maps them to mcugen/templates, ...).
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(kind: str) -> Path:
    """Return the folder of one kind of package data: "templates", "firmware" or "boards"."""
    if kind not in ("templates", "firmware", "boards"):
        raise ValueError(f"unknown package data folder {kind!r}")
    installed = _PACKAGE / kind
    return installed if installed.is_dir() else _PACKAGE.parent / kind


@cache
def sources_digest() -> str:
    """A hash of mcugen's own code and data (Python, templates, kernels, runtime, boards).

    A build records it, so a build made by other kernels or templates is stale even when the
    version string is the same (an editable checkout, a patched install)."""
    digest = hashlib.sha256()
    roots = [_PACKAGE] + [data_dir(kind) for kind in ("templates", "firmware", "boards")]
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix in {".py", ".j2", ".ld", ".json", ".c", ".h", ".S", ".toml"}:
                digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]
