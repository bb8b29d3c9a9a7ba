"""Where the package data lives: templates/, firmware/ and boards/.

In a checkout they sit at the repository root (the design card's layout); an installed wheel
carries them inside the package (pyproject.toml maps them to mcugen/templates, ...).
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(kind: str) -> Path:
    """Return the folder of one kind of package data: "templates", "firmware" or "boards"."""
    if kind not in ("templates", "firmware", "boards"):
        raise ValueError(f"unknown package data folder {kind!r}")
    installed = _PACKAGE / kind
    return installed if installed.is_dir() else _PACKAGE.parent / kind
