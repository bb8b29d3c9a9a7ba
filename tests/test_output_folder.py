"""mcugen deletes only files it can prove it wrote, never writes through a symlink, never
overwrites a user's file without --force, and refuses -o / and -o ~ (issue #8, item 1).

Most tests call emit.write_library with a small hand-made library (what generate writes, minus
the model); the CLI tests run `mcugen generate` on the digits MLP."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from mcugen.cli import main
from mcugen.emit.library import MANIFEST, write_library
from mcugen.errors import McugenError

DIGITS = Path(__file__).resolve().parent.parent / "examples" / "digits"
LIBRARY = {"net.h": "/* api */\n", "net.c": "/* schedule */\n", "kernels/net_add_s8.c": "/* add */\n"}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def plant_manifest(folder: Path, entries: dict[str, str]) -> None:
    """A manifest listing {path: content hash}, as a previous generate (or an attacker) left it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST).write_text("".join(f"{digest}  {rel}\n" for rel, digest in entries.items()))


def test_regenerating_removes_only_its_own_stale_files(tmp_path):
    out = tmp_path / "out"
    write_library({**LIBRARY, "kernels/net_conv_s8.c": "/* conv */\n"}, out)
    write_library(LIBRARY, out)
    assert not (out / "kernels" / "net_conv_s8.c").exists()
    assert (out / "kernels" / "net_add_s8.c").read_text() == "/* add */\n"
    assert f"{sha('/* api */' + chr(10))}  net.h" in (out / MANIFEST).read_text()


def test_a_planted_manifest_with_dotdot_deletes_nothing_outside(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "out"
    plant_manifest(out, {"../victim.txt": sha("precious")})
    write_library(LIBRARY, out)
    assert victim.read_text() == "precious"


def test_a_planted_manifest_with_an_absolute_path_deletes_nothing(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "out"
    plant_manifest(out, {str(victim): sha("precious")})
    write_library(LIBRARY, out)
    assert victim.read_text() == "precious"


def test_a_manifest_entry_through_a_symlink_deletes_nothing(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "data.c").write_text("precious")
    out = tmp_path / "out"
    out.mkdir()
    (out / "linked").symlink_to(elsewhere)
    (out / "alias.c").symlink_to(elsewhere / "data.c")
    plant_manifest(out, {"linked/data.c": sha("precious"), "alias.c": sha("precious")})
    with pytest.raises(McugenError):  # the links are files mcugen did not write
        write_library(LIBRARY, out)
    write_library(LIBRARY, out, force=True)
    assert (elsewhere / "data.c").read_text() == "precious"
    assert (out / "alias.c").is_symlink()  # kept: not mcugen's


def test_an_edited_generated_file_is_kept_and_named(tmp_path, capsys):
    out = tmp_path / "out"
    write_library({**LIBRARY, "extra.c": "/* generated */\n"}, out)
    (out / "extra.c").write_text("/* generated, then edited by hand */\n")
    capsys.readouterr()
    write_library(LIBRARY, out)
    assert (out / "extra.c").read_text() == "/* generated, then edited by hand */\n"
    assert "kept extra.c" in capsys.readouterr().err


def test_an_edited_file_mcugen_would_rewrite_needs_force(tmp_path):
    out = tmp_path / "out"
    write_library(LIBRARY, out)
    (out / "net.h").write_text("/* my edits */\n")
    with pytest.raises(McugenError, match=r"holds net\.h, which mcugen did not write.*--force"):
        write_library({**LIBRARY, "net.h": "/* new api */\n"}, out)
    assert (out / "net.h").read_text() == "/* my edits */\n"


def test_an_old_manifest_without_hashes_proves_nothing(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old_kernel.c").write_text("/* from mcugen 0.x, or not */\n")
    (out / MANIFEST).write_text("old_kernel.c\nnet.h\n")
    write_library(LIBRARY, out)
    assert (out / "old_kernel.c").is_file()


@pytest.mark.parametrize("content", [b"\x00\xff\xfe" * 1000, b"x" * (2 << 20), b"not a manifest\n../../etc\n"])
def test_a_corrupt_binary_or_huge_manifest_is_ignored_safely(tmp_path, content):
    out = tmp_path / "out"
    write_library(LIBRARY, out)
    (out / MANIFEST).write_bytes(content)
    smaller = {"net.h": LIBRARY["net.h"], "net.c": LIBRARY["net.c"]}
    with pytest.raises(McugenError, match=r"holds files mcugen did not write \(kernels/net_add_s8\.c\)"):
        write_library(smaller, out)  # the manifest proves nothing: the kernel is not known as mcugen's
    write_library(smaller, out, force=True)
    assert (out / "kernels" / "net_add_s8.c").is_file()  # unproven: kept


def test_a_symlinked_kernels_folder_is_not_written_through(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "kernels").symlink_to(elsewhere)
    with pytest.raises(McugenError, match=r"kernels is a symlink.*--force"):
        write_library(LIBRARY, out)
    assert list(elsewhere.iterdir()) == [] and not (out / "net.h").exists()
    write_library(LIBRARY, out, force=True)
    assert list(elsewhere.iterdir()) == []
    assert (out / "kernels").is_dir() and not (out / "kernels").is_symlink()


def test_a_symlinked_output_folder_is_refused(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    out = tmp_path / "out"
    out.symlink_to(target)
    with pytest.raises(McugenError, match="is a symlink"):
        write_library(LIBRARY, out)
    write_library(LIBRARY, out, force=True)
    assert list(target.iterdir()) == [] and out.is_dir() and not out.is_symlink()


def run_cli(capsys, *args) -> tuple[int, str]:
    code = main([str(a) for a in args])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


@pytest.mark.parametrize("name", ["CMakeLists.txt", "mlp.h"])
def test_a_users_file_is_not_overwritten_without_force_and_named_with_it(tmp_path, capsys, name):
    out = tmp_path / "out"
    out.mkdir()
    (out / name).write_text("mine\n")
    args = ["generate", DIGITS / "mlp.onnx", "--calib", DIGITS / "calib_mlp.npz", "-o", out]
    code, err = run_cli(capsys, *args)
    assert code == 1 and name in err and "--force" in err
    assert (out / name).read_text() == "mine\n"
    code, err = run_cli(capsys, *args, "--force")
    assert code == 0 and f"overwrote {name}" in err


def test_output_root_is_refused(capsys):
    code, err = run_cli(capsys, "generate", DIGITS / "mlp.onnx", "-o", "/")
    assert code == 1 and "-o / is a filesystem root" in err


def test_output_home_is_refused(tmp_path, capsys, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("years of work")
    monkeypatch.setenv("HOME", str(home))
    code, err = run_cli(capsys, "generate", DIGITS / "mlp.onnx", "-o", os.path.expanduser("~"))
    assert code == 1 and "is your home folder" in err
    monkeypatch.chdir(home)
    code, err = run_cli(capsys, "generate", DIGITS / "mlp.onnx", "-o", ".")
    assert code == 1 and "-o . is your home folder" in err
    assert sorted(p.name for p in home.iterdir()) == ["thesis.tex"]


def test_save_plan_does_not_overwrite_a_users_file(tmp_path, capsys):
    mine = tmp_path / "plan.json"
    mine.write_text("my notes, not a plan\n")
    args = ["generate", DIGITS / "mlp.onnx", "--calib", DIGITS / "calib_mlp.npz", "-o", tmp_path / "out",
            "--save-plan", mine]
    code, err = run_cli(capsys, *args)
    assert code == 1 and "--save-plan" in err and mine.read_text() == "my notes, not a plan\n"
    mine.unlink()
    assert run_cli(capsys, *args)[0] == 0
    assert run_cli(capsys, *args)[0] == 0  # its own plan is replaced without --force


def test_quantize_force_replaces_a_symlink_not_its_target(tmp_path, capsys):
    target = tmp_path / "precious.onnx"
    target.write_bytes(b"precious")
    link = tmp_path / "q.onnx"
    link.symlink_to(target)
    args = ["quantize", DIGITS / "mlp.onnx", "--calib", DIGITS / "calib_mlp.npz", "-o", link]
    code, err = run_cli(capsys, *args)
    assert code == 1 and "--force" in err
    code, err = run_cli(capsys, *args, "--force")
    assert code == 0 and f"replaced {link}" in err
    assert target.read_bytes() == b"precious" and not link.is_symlink() and link.stat().st_size > 100


def test_a_build_folder_with_a_symlink_inside_is_refused(tmp_path, capsys):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "build"
    (out / "host").mkdir(parents=True)
    (out / "host" / "firmware").symlink_to(elsewhere)
    code, err = run_cli(capsys, "build", DIGITS / "mlp.onnx", "--calib", DIGITS / "calib_mlp.npz",
                        "--board", "host", "-o", out)
    assert code == 1 and "host/firmware in the build folder is a symlink" in err
    assert list(elsewhere.iterdir()) == []


def test_a_build_folder_holding_a_users_build_json_is_refused(tmp_path, capsys):
    out = tmp_path / "build"
    (out / "host").mkdir(parents=True)
    (out / "host" / "build.json").write_text('{"my": "settings"}')
    code, err = run_cli(capsys, "build", DIGITS / "mlp.onnx", "--calib", DIGITS / "calib_mlp.npz",
                        "--board", "host", "-o", out)
    assert code == 1 and "build.json already exists and mcugen did not write it" in err
    assert (out / "host" / "build.json").read_text() == '{"my": "settings"}'


def test_plot_replaces_only_its_own_png(tmp_path):
    from mcugen.emit.library import check_output_file, looks_like_mcugen_plot

    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100 + b"tEXtSoftware\x00GIMP")
    with pytest.raises(McugenError, match="--plot .*photo.png already exists and mcugen did not write it"):
        check_output_file(photo, None, "--plot", looks_like_mcugen_plot)
    ours = tmp_path / "sensitivity.png"
    ours.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\x19tEXtSoftware\x00Matplotlib version3.9")
    check_output_file(ours, None, "--plot", looks_like_mcugen_plot)  # no error: mcugen's own plot


def test_init_force_replaces_a_symlinked_config_not_its_target(tmp_path, capsys, monkeypatch):
    target = tmp_path / "shared.toml"
    target.write_text("# someone else's settings\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "mcugen.toml").symlink_to(target)
    monkeypatch.chdir(project)
    code, err = run_cli(capsys, "init", "--model", DIGITS / "mlp.onnx", "--board", "host")
    assert code == 1 and "--force" in err
    assert run_cli(capsys, "init", "--model", DIGITS / "mlp.onnx", "--board", "host", "--force")[0] == 0
    assert target.read_text() == "# someone else's settings\n"
    assert not (project / "mcugen.toml").is_symlink() and "[model]" in (project / "mcugen.toml").read_text()
