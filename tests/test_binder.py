"""Binder: binder/postBuild builds Workbench and installs its kernelspec into
the environment's prefix (`workbench install --sys-prefix`); a kernel started
from that kernelspec answers."""

import json
import os
import subprocess

import jupyter_client

from wbtest import ROOT


def test_postbuild_installs_a_kernel_that_runs(tmp_path):
    prefix = tmp_path / "env"
    env = dict(os.environ, CONDA_PREFIX=str(prefix), WORKBENCH_PREFIX=str(prefix))
    env.pop("VIRTUAL_ENV", None)
    proc = subprocess.run(["bash", str(ROOT / "binder" / "postBuild")], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]

    binary = prefix / "bin" / "workbench"
    spec_dir = prefix / "share" / "jupyter" / "kernels" / "workbench"
    assert os.access(binary, os.X_OK)
    spec = json.loads((spec_dir / "kernel.json").read_text())
    assert spec["argv"][0] == str(binary)
    assert (spec_dir / "logo-64x64.png").exists()

    #  Jupyter finds it under the prefix, as in the Binder image
    saved = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(prefix / "share" / "jupyter")
    try:
        specs = jupyter_client.kernelspec.KernelSpecManager().find_kernel_specs()
        assert specs["workbench"] == str(spec_dir)
        km, kc = jupyter_client.manager.start_new_kernel(kernel_name="workbench",
                                                         cwd=str(tmp_path))
        try:
            out = []
            reply = kc.execute_interactive(
                "echo binder-ok", timeout=30,
                output_hook=lambda m: out.append(m["content"].get("text", "")))
            assert reply["content"]["status"] == "ok"
            assert "binder-ok\n" in "".join(out)
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    finally:
        if saved is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = saved
