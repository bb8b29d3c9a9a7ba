"""Print issue #13's table for the committed PyTorch exports (tests/fixtures/torch_exports):
compiles? / refused operators / bit-exact on the host (gcc and clang) / worst cosine against ONNX
Runtime of mcugen's float graph and of the int8 outputs / how much ONNX Runtime's outputs vary
over the inputs (|y - mean y| / |y|: a cosine says little about a near-constant output), per
model and exporter, then the counts. "ideal int8": every activation rounded ideally to mcugen's
int8 grid (float weights); "input noise": ONNX Runtime with the input +- half an int8 step
(tests/torch_fixtures.py says how both are measured). Run with the project's .venv:

    .venv/bin/python scripts/torch_models_table.py [--samples 8]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from torch_fixtures import evaluate, fixtures  # noqa: E402  (the tests' own machinery)

from mcugen.tables import text_table  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=8, help="random inputs per model (default 8)")
    args = parser.parse_args(argv)
    rows, good, exact = [], {"dynamo": 0, "legacy": 0}, {"dynamo": 0, "legacy": 0}
    with tempfile.TemporaryDirectory() as tmp:
        for path in fixtures():
            folder = Path(tmp) / path.stem
            folder.mkdir()
            o = evaluate(path, folder, args.samples, ("gcc", "clang"))
            model, _, exporter = path.stem.rpartition("_")
            ok = o.compiled and o.bit_exact and o.cosine is not None and o.cosine >= 0.99
            good[exporter] += bool(ok)
            exact[exporter] += bool(o.compiled and o.bit_exact)
            rows.append([model, exporter, "yes" if o.compiled else "no",
                         ", ".join(o.refused) or ("" if o.compiled else o.message[:80]),
                         "" if o.bit_exact is None else ("yes" if o.bit_exact else "NO"),
                         "" if o.float_cosine is None else f"{o.float_cosine:.6f}",
                         "" if o.cosine is None else f"{o.cosine:.4f}",
                         "" if o.ideal_cosine is None else f"{o.ideal_cosine:.4f}",
                         "" if o.noise_cosine is None else f"{o.noise_cosine:.4f}",
                         "" if o.spread is None else f"{o.spread:.2f}"])
    header = ["model", "exporter", "compiles", "refused", "bit-exact", "float cos", "int8 cos", "ideal int8",
              "input noise", "spread"]
    print("\n".join(text_table([header] + rows, left=4)))
    total = len(rows) // 2
    print(f"\ncompile and bit-exact: dynamo {exact['dynamo']} of {total}, legacy {exact['legacy']} of {total}")
    print(f"compile, bit-exact and int8 cosine >= 0.99: dynamo {good['dynamo']} of {total}, "
          f"legacy {good['legacy']} of {total}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
