"""Where the package data lives: templates/, firmware/ and boards/.

They sit at the repository root (the design card's layout) and are installed as the data-only
subpackages ``mcugen.templates``, ``mcugen.firmware`` and ``mcugen.boards``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def data_dir(kind: str) -> Path:
    """Return the folder of one kind of package data: "templates", "firmware" or "boards"."""
    if kind not in ("templates", "firmware", "boards"):
        raise ValueError(f"unknown package data folder {kind!r}")
    checkout = Path(__file__).resolve().parent.parent / kind
    if checkout.is_dir():
        return checkout
    return Path(str(resources.files(f"mcugen.{kind}")))
