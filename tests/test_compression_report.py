"""`mcugen inspect out/` and generate's compression line (issue #11): the library's mcugen.json says,
per weighted layer, the storage generate chose, the density, the bytes as float32, as dense int8
and as emitted, and the MACs a sparse kernel skips; a malformed report is one sentence."""

from __future__ import annotations

import json

import pytest
from test_sparse import samples, sparse_model

from mcugen.cli import main


def generate(tmp_path, capsys, model, *extra: str) -> tuple[dict, dict]:
    calib, _ = samples(tmp_path)
    out = tmp_path / (model.stem + "".join(extra).replace("-", "_"))
    assert main(["generate", str(model), "--calib", str(calib), "-o", str(out), "--json", *extra]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert main(["inspect", str(out), "--json"]) == 0
    return summary, json.loads(capsys.readouterr().out)


def test_sparse_library_report(tmp_path, capsys):
    """A model with 80 % zeros: every layer CSR; the stored bytes are those generate emitted, the
    dense int8 bytes those of the same model without zeros, the skipped MACs follow the density."""
    summary, report = generate(tmp_path, capsys, sparse_model(tmp_path / "pruned.onnx", 0.2))
    dense_summary, dense = generate(tmp_path, capsys, sparse_model(tmp_path / "dense.onnx", 1.0))
    rows, totals = report["layers"], report["totals"]
    assert [r["storage"] for r in rows] == ["csr"] * 5 and [r["storage"] for r in dense["layers"]] == ["int8"] * 5
    assert totals["bytes"] == summary["weight_bytes"] == sum(r["bytes"] for r in rows)
    assert totals["dense_int8_bytes"] == dense["totals"]["bytes"] == dense_summary["weight_bytes"]
    assert [r["dense_int8_bytes"] for r in rows] == [r["bytes"] for r in dense["layers"]]
    assert totals["float32_bytes"] == 4 * sum(r["params"] for r in rows) == dense["totals"]["float32_bytes"]
    for r in rows:
        assert 0.1 < r["density"] < 0.3 and r["bytes"] < r["dense_int8_bytes"]
        assert 0.6 * r["macs"] < r["macs_skipped"] < r["macs"]  # CSR multiplies the nonzero weights only
    assert dense["totals"]["macs_skipped"] == 0 and dense["totals"]["ratio_dense_int8"] == 1.0
    assert totals["ratio_float32"] == round(totals["float32_bytes"] / totals["bytes"], 3) \
        > 1.5 * dense["totals"]["ratio_float32"]
    assert summary["compression"] == totals
    # the text forms: the table, and generate's compression line
    assert main(["inspect", str(tmp_path / "pruned")]) == 0
    text = capsys.readouterr().out
    assert "csr" in text and f"float32 {totals['float32_bytes']:,} B -> {totals['bytes']:,} B emitted" in text
    calib, _ = samples(tmp_path)
    assert main(["generate", str(tmp_path / "pruned.onnx"), "--calib", str(calib), "-o", str(tmp_path / "t")]) == 0
    assert f"({totals['ratio_float32']:.2f}x); dense int8 {totals['dense_int8_bytes']:,} B" in capsys.readouterr().out


def test_codebook_and_int4_library_report(tmp_path, capsys):
    """--codebook 16 stores 4-bit indices: fewer bytes than dense int8, no MACs skipped; int4 weights
    are reported as int4, at about half their int8 bytes."""
    model = sparse_model(tmp_path / "m.onnx", 1.0)
    _, codebook = generate(tmp_path, capsys, model, "--codebook", "16")
    fc = [r for r in codebook["layers"] if r["op"] == "fully_connected"]
    assert {r["storage"] for r in fc} == {"codebook16"} and codebook["totals"]["macs_skipped"] == 0
    assert all(r["bytes"] < r["dense_int8_bytes"] for r in fc if r["params"] > 1000)
    _, int4 = generate(tmp_path, capsys, model, "--weights", "int4")
    assert {r["storage"] for r in int4["layers"]} == {"int4"}
    assert 1.4 < int4["totals"]["ratio_dense_int8"] < 2.2 and int4["totals"]["ratio_float32"] > 4  # int32 biases stay


@pytest.mark.parametrize("content", [
    b"{", b"\xff\xfe", b"[]", b'{"mcugen_report": 2}', b"NaN",
    b'{"mcugen_report": 1, "model": "m", "layers": [{"index": 0}], "totals": {}}',
    b'{"mcugen_report": 1, "model": "m", "layers": [], "totals": {"bytes": -1}}',
    b'{"mcugen_report": 1, "model": "m", "layers": [], "totals": {"float32_bytes": true}}',
    b"[" * 100000,
])
def test_malformed_report_is_one_sentence(tmp_path, capsys, content):
    (tmp_path / "mcugen.json").write_bytes(content)
    assert main(["inspect", str(tmp_path)]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a report mcugen wrote" in err and "Traceback" not in err


def test_folder_without_report(tmp_path, capsys):
    assert main(["inspect", str(tmp_path)]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "without mcugen.json" in err
