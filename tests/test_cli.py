"""The command-line tool: --version, --help, `workbench install`, and the
Makefile's install and uninstall."""

import json
import os
import re
import struct
import subprocess

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
