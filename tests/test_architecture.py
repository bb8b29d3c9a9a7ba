"""The tree shows the road: no module of `codegen/` imports against the direction a model travels.

readers → graph → quant → emit → target, with `ops` (the operators and their arithmetic) below
all stages and the drivers (CLI, compiler, project, inspect, bench) above them. CONTRIBUTING.md
walks the same table.
"""

import ast
from pathlib import Path

CODEGEN = Path(__file__).resolve().parent.parent / "codegen"

BASE = {"__init__", "errors", "resources", "ir", "data", "tables"}  # used by everyone, import only each other
DRIVERS = {"__main__", "cli", "compiler", "project", "inspect", "bench"}  # the top: may import anything
MAY_IMPORT = {
    "base": {"base"},
    "ops": {"base", "ops"},
    "readers": {"base", "ops", "readers"},
    "graph": {"base", "ops", "graph"},
    "quant": {"base", "ops", "graph", "quant"},
    "emit": {"base", "ops", "graph", "emit"},
    "target": {"base", "ops", "graph", "quant", "emit", "target"},
}


def room(module: str) -> str:
    """The stage a module `mcugen.x.y` (written as "x.y") belongs to."""
    top = module.split(".")[0]
    if top in BASE:
        return "base"
    if top in DRIVERS:
        return "driver"
    return top


def imported_modules(path: Path, package: str, root: Path) -> set[str]:
    """Every mcugen module `path` imports, as "x.y" (relative imports resolved against `package`)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name[len("mcugen."):] for a in node.names if a.name.startswith("mcugen."))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(p for p in [*parts, node.module or ""] if p)
            elif node.module and (node.module == "mcugen" or node.module.startswith("mcugen.")):
                base = node.module[len("mcugen."):] if node.module != "mcugen" else ""
            else:
                continue
            if base:
                found.add(base)
            else:  # `from mcugen import x`: x is a module or a name of mcugen/__init__
                found.update(a.name if (root / a.name).is_dir() or (root / f"{a.name}.py").is_file() else "__init__"
                             for a in node.names)
    return found


def violations(root: Path) -> list[str]:
    problems = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        module = ".".join(rel.parts)
        package = ".".join(rel.parts[:-1])
        if rel.name == "__init__":
            module = package or "__init__"
        source = room(module)
        if source == "driver":
            continue
        if source not in MAY_IMPORT:
            problems.append(f"{path.relative_to(root)}: not in any room of the house (add it to MAY_IMPORT)")
            continue
        for target in sorted(imported_modules(path, package, root)):
            if room(target) not in MAY_IMPORT[source]:
                problems.append(f"{path.relative_to(root)} ({source}) imports mcugen.{target} ({room(target)})")
    return problems


def test_no_import_runs_against_the_road():
    assert violations(CODEGEN) == []


def test_every_stage_module_lives_in_a_room():
    top_level = {p.stem for p in CODEGEN.glob("*.py")}
    assert top_level <= BASE | DRIVERS, f"new top-level modules belong in a stage package: {top_level - BASE - DRIVERS}"


def test_the_check_catches_an_import_against_the_road(tmp_path):
    for pkg in ("quant", "emit", "target", "readers"):
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "__init__.py").write_text("")
    (tmp_path / "ir.py").write_text("from mcugen.compiler import compile_model\n")
    (tmp_path / "quant" / "sweep.py").write_text("from mcugen.emit.library import render_library\n")
    (tmp_path / "emit" / "library.py").write_text("from . import c_syntax\nfrom ..quant import quantize\n")
    (tmp_path / "target" / "verify.py").write_text(
        "import mcugen.readers.onnx_file\nfrom mcugen.quant import compiled\n")
    (tmp_path / "readers" / "onnx_file.py").write_text("from mcugen import ir\nfrom mcugen.ops import op_for\n")
    found = violations(tmp_path)
    assert found == [
        "emit/library.py (emit) imports mcugen.quant (quant)",
        "ir.py (base) imports mcugen.compiler (driver)",
        "quant/sweep.py (quant) imports mcugen.emit.library (emit)",
        "target/verify.py (target) imports mcugen.readers.onnx_file (readers)",
    ]
