#!/usr/bin/python3
"""bench_jobs - how fast jobs start and how many metric points they can log

    /usr/bin/python3 tests/bench/bench_jobs.py --workbench build/workbench

Through a real kernel (jupyter_client), in a scratch workspace:
  1. submit to first command: from sending the execute_request of a %%job
     cell to the moment the job's first command runs (it appends bash's
     $EPOCHREALTIME to a file), median of --jobs jobs after warm-ups; the
     other column is the same command in a plain shell cell of the kernel;
  2. metric throughput, Python module: a job calls workbench.log(loss=...,
     step=i) --points times; points per second from the job's first command
     to its run's end (completed, every point stored), with the live
     display drawing as a user sees it; the other column is the same
     script writing to /dev/null, outside any job (the producer's own
     speed);
  3. the same with --no-wait (no live display drawing meanwhile);
  4. metric throughput, raw descriptor: the job writes the same number of
     `metric loss=V step=N` lines straight to $WORKBENCH_METRICS_FD in big
     writes, so the supervisor is the only limit.

bench.py imports bench_jobs(scratch, workbench, say) and appends its rows;
run alone, this prints them as bench.py does.
"""

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jupyter_client import KernelManager

from bench import fmt_time, row, text_table  # the one table format of make bench

PYTHON = "/usr/bin/python3"
JOB_POINTS = 500_000
JOB_SAMPLES = 20

LOG_PY = """\
import workbench
for step in range({points}):
    workbench.log(loss=1.0 / (step + 1), step=step)
"""

RAW_PY = """\
import os
fd = int(os.environ["WORKBENCH_METRICS_FD"])
lines = []
for step in range({points}):
    lines.append(f"metric loss={{1.0 / (step + 1)!r}} step={{step}}\\n")
    if len(lines) == 10000:
        os.write(fd, "".join(lines).encode())
        lines = []
if lines:
    os.write(fd, "".join(lines).encode())
"""


#  ---- Rows, as bench.py prints them ----

def fmt_rate(r):
    return f"{r / 1e3:.0f} k points/s"


#  ---- A kernel in a scratch Jupyter setup of our own ----

class _Env:
    """A kernelspec for workbench in scratch, and the environment pointing
    Jupyter and Workbench there; restored on exit."""

    NAMES = ("JUPYTER_PATH", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR",
             "JUPYTER_CONFIG_DIR", "IPYTHONDIR", "WORKBENCH_HISTORY",
             "WORKBENCH_WORKSPACE", "WORKBENCH_RUN_ID")

    def __init__(self, scratch, workbench):
        self.scratch = scratch
        self.workbench = workbench

    def __enter__(self):
        import json
        self.saved = {name: os.environ.get(name) for name in self.NAMES}
        data = self.scratch / "jupyter"
        spec = data / "kernels" / "workbench"
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [self.workbench, "kernel", "-f", "{connection_file}"],
            "display_name": "Workbench", "language": "workbench",
            "interrupt_mode": "message"}))
        for sub in ("runtime", "config", "ipython"):
            (self.scratch / sub).mkdir()
        os.environ.update({
            "JUPYTER_PATH": str(data), "JUPYTER_DATA_DIR": str(data),
            "JUPYTER_RUNTIME_DIR": str(self.scratch / "runtime"),
            "JUPYTER_CONFIG_DIR": str(self.scratch / "config"),
            "IPYTHONDIR": str(self.scratch / "ipython"),
            "WORKBENCH_HISTORY": str(self.scratch / "history.sqlite"),
            "WORKBENCH_WORKSPACE": str(self.scratch / "workspace"),
        })
        os.environ.pop("WORKBENCH_RUN_ID", None)
        return self

    def __exit__(self, *exc):
        for name, value in self.saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class _Kernel:
    def __init__(self, cwd):
        self.km = KernelManager(kernel_name="workbench")
        self.km.start_kernel(cwd=str(cwd))
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def run(self, code, timeout=600):
        """Execute code; its reply content (an error raises)."""
        msg_id = self.kc.execute(code)
        while True:
            msg = self.kc.get_iopub_msg(timeout=timeout)
            if (msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status"
                    and msg["content"]["execution_state"] == "idle"):
                break
        while True:
            reply = self.kc.get_shell_msg(timeout=timeout)
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"cell {code[:60]!r} failed: {reply['content'].get('evalue')}")
        return reply["content"]

    def stop(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=False)


def _run_facts(workspace, name):
    """(ended, status, points) of the newest run called name."""
    db = sqlite3.connect(f"file:{workspace}/workspace.db?mode=ro", uri=True)
    try:
        ended, status, points = db.execute(
            "SELECT r.ended, r.status, (SELECT sum (count) FROM metric_latest m"
            " WHERE m.run = r.seq) FROM runs r WHERE r.name = ? ORDER BY r.seq DESC LIMIT 1",
            (name,)).fetchone()
    finally:
        db.close()
    return ended, status, points or 0


def _wait_ended(workspace, name, timeout=600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ended, status, points = _run_facts(workspace, name)
        if status in ("completed", "failed", "canceled"):
            return ended, status, points
        time.sleep(0.05)
    raise TimeoutError(f"job {name} did not end in {timeout} s")


#  ---- The measurements ----

def bench_latency(kernel, work, n):
    """Median seconds from sending a %%job cell to its first command, and
    the same for a plain shell cell."""
    stamps = work / "stamps"

    def once(cell):
        stamps.unlink(missing_ok=True)
        t0 = time.time()
        kernel.run(cell)
        return float(stamps.read_text().split()[0]) - t0

    job = f"%%job --name latency\necho $EPOCHREALTIME >> '{stamps}'"
    shell = f"echo $EPOCHREALTIME >> '{stamps}'"
    for _ in range(3):                  # warm-up: page cache, snapshot hashes
        once(job)
        once(shell)
    jobs = [once(job) for _ in range(n)]
    shells = [once(shell) for _ in range(n)]
    return statistics.median(jobs), statistics.median(shells)


def bench_throughput(kernel, work, workspace, script, points, no_wait=False):
    """Points per second of a job running script: from its first command
    to its run's end, with every point stored."""
    (work / "producer.py").write_text(script.format(points=points))
    start = work / "start"
    start.unlink(missing_ok=True)
    name = f"throughput-{time.monotonic_ns()}"
    kernel.run(f"%%job --name {name}{' --no-wait' if no_wait else ''}\n"
               f"echo $EPOCHREALTIME > '{start}'\n{PYTHON} producer.py")
    ended, status, stored = _wait_ended(workspace, name)
    if status != "completed" or stored != points:
        raise RuntimeError(f"job {name}: {status}, {stored:,} of {points:,} points stored")
    return points / (ended - float(start.read_text()))


def bench_producer(work, script, points):
    """Points per second of script alone, its records going to /dev/null."""
    (work / "producer.py").write_text(script.format(points=points))
    env = dict(os.environ, WORKBENCH_METRICS_FD="3",
               PYTHONPATH=str(Path(__file__).resolve().parents[2] / "share"))
    with open(os.devnull, "wb") as null:
        t0 = time.perf_counter()
        subprocess.run(f"exec 3>/dev/null; {PYTHON} producer.py", shell=True, cwd=work,
                       env=env, stdout=null, check=True)
        return points / (time.perf_counter() - t0)


def bench_jobs(scratch, workbench, say=None, jobs=JOB_SAMPLES, points=JOB_POINTS):
    """The job rows, measured in a folder of scratch (left there)."""
    say = say or (lambda what: None)
    scratch = Path(scratch) / "jobs"
    scratch.mkdir()
    rows = []
    with _Env(scratch, workbench):
        work = scratch / "notebook"
        work.mkdir()
        #  a notebook folder as a user has it: a script or two to snapshot
        (work / "train.py").write_text("print('train')\n" * 50)
        (work / "README.md").write_text("# project\n")
        workspace = scratch / "workspace"
        kernel = _Kernel(work)
        try:
            say(f"jobs: submit to first command, {jobs} jobs")
            job, shell = bench_latency(kernel, work, jobs)
            rows.append(row(f"%%job submit to the job's first command vs a shell cell "
                            f"(median of {jobs})", job, shell, fmt_time, "≤ 20 ms",
                            job <= 0.020))

            say(f"jobs: {points:,} points through workbench.log")
            floor = bench_producer(work, LOG_PY, points)
            live = bench_throughput(kernel, work, workspace, LOG_PY, points)
            rows.append(row(f"metric throughput, workbench.log in a job, {points:,} points, "
                            f"live display (vs the script alone)", live, floor, fmt_rate,
                            "≥ 100 k points/s", live >= 100e3))
            quiet = bench_throughput(kernel, work, workspace, LOG_PY, points, no_wait=True)
            rows.append(row(f"metric throughput, workbench.log in a --no-wait job, "
                            f"{points:,} points (vs the script alone)", quiet, floor,
                            fmt_rate, "≥ 100 k points/s", quiet >= 100e3))

            say(f"jobs: {points:,} points as raw lines on the metrics descriptor")
            raw = bench_throughput(kernel, work, workspace, RAW_PY, points, no_wait=True)
            rows.append(row(f"metric throughput, raw lines on $WORKBENCH_METRICS_FD, "
                            f"{points:,} points", raw, None, fmt_rate, "≥ 100 k points/s",
                            raw >= 100e3))
        finally:
            kernel.stop()
    return rows


#  ---- Alone ----

HEAD = ["metric", "workbench", "ipykernel (or floor)", "ratio", "target", "result"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workbench", default=str(Path(__file__).resolve().parents[2]
                                               / "build" / "workbench"))
    ap.add_argument("--jobs", type=int, default=JOB_SAMPLES)
    ap.add_argument("--points", type=int, default=JOB_POINTS)
    args = ap.parse_args()
    workbench = os.path.abspath(args.workbench)
    if not os.access(workbench, os.X_OK):
        print(f"bench_jobs: {workbench} is not an executable", file=sys.stderr)
        return 2
    scratch = Path(tempfile.mkdtemp(prefix="workbench-bench-jobs-"))
    try:
        rows = bench_jobs(scratch, workbench,
                          lambda what: print(f"bench: {what} ...", file=sys.stderr, flush=True),
                          args.jobs, args.points)
        print(text_table(rows))
        return 0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
