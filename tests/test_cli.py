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


#  ---- Cell forms from the terminal: the body from stdin or --file ----

def cli_env(tmp_path):
    env = dict(os.environ, WORKBENCH_WORKSPACE=str(tmp_path / "ws"))
    env.pop("WORKBENCH_RUN_ID", None)
    return env


def cli_status(env, ref):
    proc = wb("show", ref, env=env, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    return re.search(r"^status\s+(\S+)", proc.stdout, re.M).group(1)


def test_job_from_stdin_is_the_cell_form(tmp_path):
    env = cli_env(tmp_path)
    (tmp_path / "train.sh").write_text("echo training; echo '##metric loss=0.25 step=1'\n")
    with open(tmp_path / "train.sh") as body:
        proc = wb("job", "--name", "x", stdin=body, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "unknown flag" not in proc.stderr
    #  the live progress, drawn as text: the job, then how it ended
    assert "x" in proc.stdout and "completed" in proc.stdout, proc.stdout
    assert cli_status(env, "x") == "completed"
    proc = wb("job", "logs", "x", env=env, stdin=subprocess.DEVNULL)
    assert proc.stdout == "training\n"


def test_job_from_a_pipe_and_from_a_file(tmp_path):
    env = cli_env(tmp_path)
    proc = subprocess.run(f"echo 'sleep 1' | '{WORKBENCH_BIN}' job --no-code --name piped",
                          shell=True, capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert cli_status(env, "piped") == "completed"
    (tmp_path / "job.sh").write_text("exit 3\n")
    proc = wb("job", "--no-code", "--name", "filed", "--file", str(tmp_path / "job.sh"),
              env=env, stdin=subprocess.DEVNULL)
    assert proc.returncode == 1 and proc.stderr.startswith("JobError: "), proc.stderr
    assert cli_status(env, "filed") == "failed"
    #  the line form still answers when its first word is a subcommand
    proc = wb("job", "list", env=env, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0 and "piped" in proc.stdout and "filed" in proc.stdout
    proc = subprocess.run(f"echo ignored | '{WORKBENCH_BIN}' job list",
                          shell=True, capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0 and "piped" in proc.stdout, proc.stderr


def test_cell_form_errors(tmp_path):
    env = cli_env(tmp_path)
    proc = wb("lsmagic", "--file", str(tmp_path / "x"), env=env, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2 and "no cell form" in proc.stderr, proc.stderr
    proc = wb("job", "--no-code", "--file", str(tmp_path / "missing.sh"), env=env,
              stdin=subprocess.DEVNULL)
    assert proc.returncode == 1 and "cannot read" in proc.stderr and "missing.sh" in proc.stderr
    with open(os.devnull) as empty:
        proc = wb("job", "--bogus", stdin=empty, env=env)
    assert proc.returncode == 1 and "unknown flag '--bogus'" in proc.stderr
    assert "usage: %%job" in proc.stderr


def test_sweep_and_train_from_the_terminal(tmp_path):
    env = cli_env(tmp_path)
    (tmp_path / "sweep.txt").write_text(
        "x = choice('1', '2')\n%%job --no-code\necho \"##metric m=${{params.x}}\"\n")
    proc = wb("sweep", "--file", str(tmp_path / "sweep.txt"), "--metric", "m", "--goal", "max",
              "--sampler", "grid", "--name", "sw", env=env, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert cli_status(env, "sw") == "completed"
    proc = wb("sweep", "list", env=env, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0 and "sw" in proc.stdout

    rows = ["a,b,y"] + [f"{i % 7},{(i * 3) % 5},{int(i % 7 > 3)}" for i in range(60)]
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    proc = wb("data", "register", "d", str(tmp_path / "d.csv"), env=env, cwd=tmp_path,
              stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    (tmp_path / "hyper.txt").write_text("max_iter = 50\nl2 = 0.5\n")
    with open(tmp_path / "hyper.txt") as body:
        proc = wb("train", "--data", "d", "--target", "y", "--model", "logistic",
                  "--name", "t1", stdin=body, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "accuracy" in proc.stdout, proc.stdout
    assert cli_status(env, "t1") == "completed"
    proc = wb("show", "t1", env=env, stdin=subprocess.DEVNULL)
    assert re.search(r"max_iter\s+50", proc.stdout), proc.stdout
