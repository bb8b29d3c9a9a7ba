"""Plain-text tables for the reports the command line prints (sensitivity, sweep, mixed precision)."""

from __future__ import annotations


def text_table(rows: list[list[str]], left: int = 1, rule: bool = True) -> list[str]:
    """Columns padded to their widest cell, the first `left` columns left-aligned (names) and the
    rest right-aligned (numbers); a dashed rule under the header row."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for k, row in enumerate(rows):
        cells = [c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
        if k == 0 and rule:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def display_names(names: list[str], width: int = 40) -> dict[str, str]:
    """Layer names that fit a table column. Converters write names hundreds of characters long,
    often several op paths joined by ';' (TFLite's fused ops); the first part that tells every
    layer apart is shown, else the name with its middle cut. JSON output keeps the full names."""
    def cut(name: str) -> str:
        return name if len(name) <= width else name[: width // 3] + "…" + name[-(width - width // 3 - 1):]

    for pick in (lambda n: n, lambda n: n.split(";")[0], lambda n: n.split(";")[-1]):
        shown = [cut(pick(n)) for n in names]
        if len(set(shown)) == len(names):
            return dict(zip(names, shown))
    return {n: f"#{i} {cut(n)}" for i, n in enumerate(names)}
