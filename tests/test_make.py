"""The Makefile's promises a packager relies on: install and uninstall
mirror each other for every setting (DESTDIR, PREFIX, BINDIR, DATADIR), and
an include that goes up a layer stops the build (lib/layers.sh)."""

import os
import shutil
import subprocess

from wbtest import ROOT, WORKBENCH_BIN


def make(*args, timeout=300):
    build = os.path.relpath(os.path.dirname(WORKBENCH_BIN), ROOT)
    if build.startswith(".."):
        build = "build"
    #  -o: use the binary under test as it is, never rebuild it here
    return subprocess.run(["make", "-s", "-C", str(ROOT), f"BUILD={build}",
                           "-o", f"{build}/workbench", *args],
                          capture_output=True, text=True, timeout=timeout)


def files_under(root):
    return sorted(os.path.relpath(os.path.join(d, f), root)
                  for d, _, names in os.walk(root) for f in names)


def test_install_honours_datadir_and_bindir_and_uninstall_mirrors_it(tmp_path):
    dest = tmp_path / "dest"
    settings = [f"DESTDIR={dest}", "PREFIX=/opt/wb", "BINDIR=/opt/bin",
                "DATADIR=/opt/data"]
    proc = make(*settings, "install")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert files_under(dest) == [
        "opt/bin/workbench",
        "opt/data/jupyter/kernels/workbench/kernel.json",
        "opt/data/jupyter/kernels/workbench/logo-32x32.png",
        "opt/data/jupyter/kernels/workbench/logo-64x64.png",
        "opt/data/jupyter/kernels/workbench/logo-svg.svg",
    ]
    spec = (dest / "opt/data/jupyter/kernels/workbench/kernel.json").read_text()
    assert '"/opt/bin/workbench"' in spec
    proc = make(*settings, "uninstall")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert files_under(dest) == []


def test_an_include_that_goes_up_a_layer_stops_the_build(tmp_path):
    """lib/layers.sh, as the build runs it, on a copy of the tree where the
    store includes a header of the serving layer above it."""
    copy = tmp_path / "tree"
    shutil.copytree(ROOT / "lib", copy / "lib")
    for folder in ("magics", "kernel"):
        shutil.copytree(ROOT / folder, copy / folder)
    clean = subprocess.run(["sh", str(copy / "lib" / "layers.sh")],
                           capture_output=True, text=True)
    assert clean.returncode == 0, clean.stderr
    store = copy / "lib" / "store" / "wb_store.c"
    store.write_text('#include "serve/wb_registry.h"\n' + store.read_text())
    bad = subprocess.run(["sh", str(copy / "lib" / "layers.sh")],
                         capture_output=True, text=True)
    assert bad.returncode != 0
    assert "lib/store/wb_store.c:1: includes serve/wb_registry.h" in bad.stderr
