"""The command-line tool: --version, --help, `workbench install`, and the
Makefile's install and uninstall."""

import json
import os
import re
import signal
import struct
import subprocess
from pathlib import Path

import pytest

from wbtest import ROOT, WORKBENCH_BIN

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def wb(*args, **kwargs):
    return subprocess.run([WORKBENCH_BIN, *args], capture_output=True, text=True,
                          timeout=60, **kwargs)


def png_size(path):
    """(width, height) from a PNG's IHDR; fails if it is not a PNG."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    return struct.unpack(">II", data[16:24])


def test_version():
    proc = wb("--version")
    assert proc.returncode == 0
    assert re.fullmatch(r"workbench \d+\.\d+\.\d+\S*\n", proc.stdout), proc.stdout


def test_help_lists_subcommands():
    proc = wb("--help")
    assert proc.returncode == 0
    for sub in ("kernel", "install"):
        assert re.search(rf"\b{sub}\b", proc.stdout), sub


def test_unknown_subcommand_fails():
    proc = wb("no-such-subcommand")
    assert proc.returncode != 0
    assert proc.stderr.strip()


def check_kernelspec(spec_dir, binary):
    spec = json.loads((spec_dir / "kernel.json").read_text())
    argv = spec["argv"]
    assert argv[0] == binary
    assert os.path.isabs(argv[0])
    assert argv[1:] == ["kernel", "-f", "{connection_file}"]
    assert spec["interrupt_mode"] == "message"
    assert spec["language"] == "workbench"
    assert spec["display_name"]
    assert png_size(spec_dir / "logo-32x32.png") == (32, 32)
    assert png_size(spec_dir / "logo-64x64.png") == (64, 64)
    svg = (spec_dir / "logo-svg.svg").read_text()
    assert "<svg" in svg


def test_install_prefix(tmp_path):
    proc = wb("install", "--prefix", str(tmp_path / "prefix"))
    assert proc.returncode == 0, proc.stderr
    spec_dir = tmp_path / "prefix" / "share" / "jupyter" / "kernels" / "workbench"
    check_kernelspec(spec_dir, os.path.realpath(WORKBENCH_BIN))


def test_installed_kernelspec_is_found_by_jupyter(tmp_path):
    prefix = tmp_path / "prefix"
    assert wb("install", "--prefix", str(prefix)).returncode == 0
    env = dict(os.environ, JUPYTER_PATH=str(prefix / "share" / "jupyter"))
    proc = subprocess.run(["/usr/bin/jupyter", "kernelspec", "list", "--json"],
                          capture_output=True, text=True, env=env, timeout=60)
    specs = json.loads(proc.stdout)["kernelspecs"]
    assert specs["workbench"]["resource_dir"] == str(
        prefix / "share" / "jupyter" / "kernels" / "workbench")


@pytest.mark.slow
def test_make_install_and_uninstall(tmp_path):
    dest = tmp_path / "dest"
    build = os.path.relpath(os.path.dirname(WORKBENCH_BIN), ROOT)
    if build.startswith(".."):
        build = "build"
    #  -o: use the binary under test as it is, never rebuild it here
    make = ["make", "-s", "-C", str(ROOT), f"BUILD={build}",
            "-o", f"{build}/workbench", f"DESTDIR={dest}", "PREFIX=/usr"]
    proc = subprocess.run([*make, "install"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    binary = dest / "usr" / "bin" / "workbench"
    spec_dir = dest / "usr" / "share" / "jupyter" / "kernels" / "workbench"
    assert binary.is_file() and os.access(binary, os.X_OK)
    check_kernelspec(spec_dir, "/usr/bin/workbench")
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True)
    assert out.stdout.startswith("workbench ")

    proc = subprocess.run([*make, "uninstall"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not binary.exists()
    assert not spec_dir.exists()


#  ---- Job logs in the terminal: every message on its own line ----

def kill_job_leftovers(rid):
    """End what a failing test left of job rid (by its WORKBENCH_RUN_ID)."""
    marker = f"WORKBENCH_RUN_ID={rid}".encode()
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and marker in Path(f"/proc/{entry}/environ").read_bytes().split(b"\0"):
                os.kill(int(entry), signal.SIGKILL)
        except OSError:
            pass


def test_job_logs_end_their_last_line(kernel, tmp_path):
    ws = tmp_path / "ws"
    env = dict(os.environ, WORKBENCH_WORKSPACE=str(ws))
    env.pop("WORKBENCH_RUN_ID", None)
    assert kernel.execute(f"%workspace '{ws}'").status == "ok"
    run = kernel.execute("%%job --no-wait --name tail\necho one; printf 'no newline at the end'")
    rid = re.search(r"Submitted job (\w+)", run.stdout).group(1)
    proc = wb("job", "wait", rid, env=env)
    assert proc.returncode == 0, proc.stderr
    proc = wb("job", "logs", rid, env=env)
    assert proc.stdout == "one\nno newline at the end\n"


def test_job_logs_follow_says_when_the_supervisor_died(kernel, tmp_path):
    ws = tmp_path / "ws"
    env = dict(os.environ, WORKBENCH_WORKSPACE=str(ws))
    env.pop("WORKBENCH_RUN_ID", None)
    assert kernel.execute(f"%workspace '{ws}'").status == "ok"
    run = kernel.execute("%%job --no-wait --name doomed\necho started; sleep 300")
    rid = re.search(r"Submitted job (\w+)", run.stdout).group(1)
    follow = subprocess.Popen([WORKBENCH_BIN, "job", "logs", rid, "--follow"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert follow.stdout.readline() == "started\n"
        supervisor = subprocess.run(["pgrep", "-f", f"job-run .* {rid}$"],
                                    capture_output=True, text=True).stdout.split()
        assert len(supervisor) == 1, supervisor
        os.kill(int(supervisor[0]), signal.SIGKILL)
        rest, _ = follow.communicate(timeout=10)
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.communicate()
        kill_job_leftovers(rid)
    lines = rest.splitlines(keepends=True)
    assert len(lines) == 1 and lines[0].endswith(")\n"), rest
    assert lines[0].startswith(f"(job {rid} failed: the job supervisor (pid {supervisor[0]}) died")
    proc = wb("job", "wait", rid, env=env)
    assert proc.returncode != 0
    assert proc.stdout.endswith("\n") and proc.stderr.startswith("JobError: ")
    assert proc.stderr.endswith("\n") and proc.stderr.count("\n") == 1, proc.stderr
