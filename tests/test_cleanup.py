"""No process and no temp folder outlives mcugen (issue #8, item 2): `verify` removes its
mcugen-host-*/mcugen-qemu-* folder (kept only with --keep-temp, which says where), and SIGTERM
(what CI runners and `timeout` send) stops QEMU or the host firmware as Ctrl-C does.

mcugen runs in a subprocess of its own session, so every process it starts is in its process
group. To have a board that is reliably still running when SIGTERM comes, QEMU is started
paused (-S, by a wrapper first on PATH) and the host firmware is replaced by a stand-in that
never answers: mcugen is then waiting for HELLO, for up to its 10 s timeout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DIGITS = ROOT / "examples" / "digits"
MCUGEN = [sys.executable, "-m", "mcugen"]
MODEL = [str(DIGITS / "mlp.onnx"), "--calib", str(DIGITS / "calib_mlp.npz")]


def environment(tmp_path: Path, path_first: Path | None = None) -> dict[str, str]:
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir(exist_ok=True)
    env = dict(os.environ, TMPDIR=str(tmpdir))
    if path_first is not None:
        env["PATH"] = f"{path_first}{os.pathsep}{env['PATH']}"
    return env


def left_in_tmpdir(tmp_path: Path) -> list[str]:
    """What is in the TMPDIR mcugen ran with, except onnxruntime's own session file (.ses, written
    by `import onnxruntime` itself, not by mcugen)."""
    return sorted(p.name for p in (tmp_path / "tmpdir").iterdir() if p.name != ".ses")


def run_mcugen(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return subprocess.run([*MCUGEN, *args], cwd=work, env=env or environment(tmp_path), capture_output=True,
                          text=True, timeout=300)


def group_members(pgid: int) -> dict[int, str]:
    """{pid: command name} of the live (not zombie) processes in a process group, from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            found[int(entry.name)] = name
    return found


def terminate_while_the_board_runs(tmp_path: Path, args: list[str], board_process: str, env: dict[str, str]):
    """Start mcugen, wait until `board_process` runs in its group, SIGTERM mcugen, and return
    (exit code, stderr, the board processes seen, the group's processes left afterwards)."""
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    proc = subprocess.Popen([*MCUGEN, *args], cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        seen: dict[int, str] = {}
        deadline = time.monotonic() + 240
        while not seen and proc.poll() is None and time.monotonic() < deadline:
            seen = {pid: n for pid, n in group_members(proc.pid).items() if n.startswith(board_process)}
            time.sleep(0.05)
        assert seen, f"{board_process} never ran: {proc.communicate()[1]}"
        time.sleep(0.3)  # let mcugen reach its wait for HELLO (it waits up to 10 s)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        left = {pid: n for pid, n in group_members(proc.pid).items() if pid != proc.pid}
        return proc.returncode, err, seen, left
    finally:
        for pid in group_members(proc.pid):  # never leave anything behind, even when failing
            os.kill(pid, signal.SIGKILL)
        proc.wait()


def test_verify_on_the_host_leaves_no_temp_folder(tmp_path):
    env = environment(tmp_path)
    done = run_mcugen(tmp_path, "verify", *MODEL, "--board", "host", "-o", str(tmp_path / "build"),
                      "--samples", "3", env=env)
    assert done.returncode == 0, done.stderr
    assert left_in_tmpdir(tmp_path) == []


def test_keep_temp_keeps_the_folder_and_says_where(tmp_path):
    env = environment(tmp_path)
    done = run_mcugen(tmp_path, "verify", *MODEL, "--board", "host", "-o", str(tmp_path / "build"),
                      "--samples", "2", "--keep-temp", env=env)
    assert done.returncode == 0, done.stderr
    kept = left_in_tmpdir(tmp_path)
    assert len(kept) == 1 and kept[0].startswith("mcugen-host-")
    assert f"kept the temporary folder {tmp_path / 'tmpdir' / kept[0]}" in done.stderr


def never_answering_host_firmware(tmp_path: Path, env: dict[str, str]) -> None:
    """Build for the host, then put in place of the firmware a stand-in that runs and never answers."""
    done = run_mcugen(tmp_path, "build", *MODEL, "--board", "host", "-o", str(tmp_path / "build"), env=env)
    assert done.returncode == 0, done.stderr
    (firmware,) = [p for p in (tmp_path / "build" / "host" / "firmware").iterdir()
                   if p.is_file() and os.access(p, os.X_OK) and p.suffix == ""]
    firmware.write_text("#!/bin/sh\nexec sleep 600\n")


@pytest.mark.parametrize("command", ["verify", "flash"])
def test_sigterm_stops_the_host_firmware(tmp_path, command):
    env = environment(tmp_path)
    never_answering_host_firmware(tmp_path, env)
    code, err, seen, left = terminate_while_the_board_runs(
        tmp_path, [command, *MODEL, "--board", "host", "-o", str(tmp_path / "build")], "sleep", env)
    assert left == {}, f"still running after SIGTERM: {left}"
    assert code != 0 and "terminated by SIGTERM" in err and "Traceback" not in err
    assert left_in_tmpdir(tmp_path) == []


@pytest.mark.parametrize("command", ["verify", "flash"])
def test_sigterm_stops_qemu(tmp_path, command):
    qemu = subprocess.run(["which", "qemu-system-arm"], capture_output=True, text=True).stdout.strip()
    wrapper_dir = tmp_path / "bin"
    wrapper_dir.mkdir()
    wrapper = wrapper_dir / "qemu-system-arm"
    wrapper.write_text(f'#!/bin/sh\nexec {qemu} "$@" -S\n')  # -S: the CPU stays paused, HELLO never answered
    wrapper.chmod(0o755)
    env = environment(tmp_path, wrapper_dir)
    code, err, seen, left = terminate_while_the_board_runs(
        tmp_path, [command, *MODEL, "--board", "stm32", "-o", str(tmp_path / "build")], "qemu-system", env)
    assert left == {}, f"still running after SIGTERM: {left}"
    assert code != 0 and "terminated by SIGTERM" in err and "Traceback" not in err
    assert left_in_tmpdir(tmp_path) == []
