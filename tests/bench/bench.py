#!/usr/bin/python3
"""bench - Workbench side by side with ipykernel, through the same harness

    /usr/bin/python3 tests/bench/bench.py --workbench build/workbench [--markdown OUT.md]

Measures, for both kernels:
  1. start: from just after Popen returns to the first kernel_info_reply
     (median of --starts launches);
  2. empty cell: execute_request "" to status idle through a jupyter_client
     BlockingKernelClient (median of --cells after a warm-up);
  3. idle resident memory: VmRSS of the kernel process after start and one cell;
  4. a C client's round trip (tests/bench/rtt.c): the kernel's execute_reply
     to a signed execute_request, against the floor of a bare signed
     DEALER/ROUTER echo (median of --rtt), both pinned to one core when
     taskset is there.

and the workspace (tests/bench/bench_store.c, linked against
build/libworkbench.a, beside the workbench binary):
  5. ingest: metric points per second through wb_store_log in batches of
     1,000 points (10 keys, --points in all), against the floor of a plain
     SQLite table taking the same points as rows, one prepared statement per
     batch transaction, WAL, synchronous=NORMAL (median of 3 each);
  6. %runs over --runs runs (3 params, 3 metrics each): wb_store_runs with
     limit 50, plain, filtered, sorted by a metric, both (median of 20), and
     the terminal command `workbench runs` end to end (median of 20);
  7. %show of a run with --show-points points of one metric: `workbench show
     RUN` end to end, history read + LTTB + SVG + Vega-Lite + printing
     (median of 5).

and serving (tests/bench/bench_serve.py): a deployed endpoint against
Flask + gunicorn serving the same model from scikit-learn, both under wrk
for --serve-seconds: requests/s, p99 latency, failed requests, memory.

and batch scoring (tests/bench/bench_batch.py): %batch of a scikit-learn
pipeline over --batch-rows rows of 64 numbers with two Python workers,
against a plain Python loop calling predict on the same mini-batches: rows
per second, whole wall time.

--only kernel|store|jobs|train|sweep|serve|batch runs one part.

Prints a table (metric, workbench, the other, ratio, target, pass/fail) and
writes it as Markdown to --markdown. Exits 0 when everything ran, whatever the
figures; non-zero when something crashed. Everything it writes goes into a
scratch folder that is removed at the end.
"""

import argparse
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import zmq
from jupyter_client import KernelManager
from jupyter_client.connect import write_connection_file
from jupyter_client.session import Session

HERE = Path(__file__).resolve().parent
PYTHON = "/usr/bin/python3"
IPYKERNEL_ARGV = [PYTHON, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
PKGS = ["libczmq", "libzmq", "libsodium", "jansson"]
STORE_PKGS = PKGS + ["sqlite3"]
ROOT = HERE.parent.parent
MIB = 1024 * 1024


#  ---- Scratch Jupyter setup ----

def setup_scratch(scratch, workbench):
    """Kernelspecs for both kernels in a scratch Jupyter path, and every
    Jupyter/IPython/Workbench path pointed into scratch."""
    data = scratch / "jupyter"
    specs = {
        "workbench": {"argv": [workbench, "kernel", "-f", "{connection_file}"],
                      "display_name": "Workbench", "language": "workbench",
                      "interrupt_mode": "message"},
        #  Debian's ipykernel, whatever else is on PATH
        "python3": {"argv": IPYKERNEL_ARGV, "display_name": "Python 3 (ipykernel)",
                    "language": "python"},
    }
    for name, spec in specs.items():
        d = data / "kernels" / name
        d.mkdir(parents=True)
        (d / "kernel.json").write_text(json.dumps(spec))
    for sub in ("runtime", "config", "ipython", "workspace", "cwd"):
        (scratch / sub).mkdir()
    os.environ.update({
        "JUPYTER_PATH": str(data), "JUPYTER_DATA_DIR": str(data),
        "JUPYTER_RUNTIME_DIR": str(scratch / "runtime"),
        "JUPYTER_CONFIG_DIR": str(scratch / "config"),
        "IPYTHONDIR": str(scratch / "ipython"),
        "WORKBENCH_HISTORY": str(scratch / "history.sqlite"),
        "WORKBENCH_WORKSPACE": str(scratch / "workspace"),
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    })
    return {"workbench": specs["workbench"]["argv"], "ipykernel": IPYKERNEL_ARGV}


def argv_for(template, connection_file, pin=None):
    argv = [a.replace("{connection_file}", connection_file) for a in template]
    return (["taskset", "-c", str(pin)] + argv) if pin is not None else argv


#  ---- A kernel we launch ourselves ----

class Launched:
    """A kernel process started with Popen on a fresh connection file, with
    DEALER sockets on shell and control."""

    def __init__(self, scratch, template, pin=None, before_popen=None):
        self.ctx = zmq.Context()
        key = secrets.token_hex(16).encode()
        self.connfile, self.info = write_connection_file(
            str(scratch / f"kernel-{secrets.token_hex(4)}.json"),
            ip="127.0.0.1", key=key)
        self.session = Session(key=key)
        self.shell = self._dealer("shell_port")
        self.control = self._dealer("control_port")
        self.proc = subprocess.Popen(
            argv_for(template, self.connfile, pin), cwd=str(scratch / "cwd"),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        self.t0 = time.perf_counter()

    def _dealer(self, port):
        sock = self.ctx.socket(zmq.DEALER)
        sock.linger = 0
        #  retry the connection every millisecond until the kernel binds,
        #  or the start time would be rounded up to zmq's 100 ms default
        sock.setsockopt(zmq.RECONNECT_IVL, 1)
        sock.connect(f"tcp://127.0.0.1:{self.info[port]}")
        return sock

    def request(self, sock, msg_type, content=None, timeout=30.0):
        """Send a request; return (reply, time it arrived)."""
        msg_id = self.session.send(sock, msg_type, content or {})["header"]["msg_id"]
        deadline = time.perf_counter() + timeout
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError(f"no reply to {msg_type} in {timeout} s")
            if sock.poll(int(left * 1000) + 1):
                _, reply = self.session.recv(sock, mode=0)
                now = time.perf_counter()
                if reply["parent_header"].get("msg_id") == msg_id:
                    return reply, now
            if self.proc.poll() is not None:
                raise RuntimeError(f"the kernel exited with {self.proc.returncode}")

    def stop(self):
        try:
            if self.proc.poll() is None:
                self.session.send(self.control, "shutdown_request", {"restart": False})
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.send_signal(signal.SIGKILL)
                    self.proc.wait(timeout=10)
        finally:
            self.shell.close()
            self.control.close()
            self.ctx.term()
            try:
                os.unlink(self.connfile)
            except OSError:
                pass


#  ---- The measurements ----

def bench_start(scratch, template, n):
    """Median seconds from Popen to the first kernel_info_reply."""
    times = []
    for _ in range(n):
        k = Launched(scratch, template)
        try:
            reply, t1 = k.request(k.shell, "kernel_info_request", timeout=60)
            assert reply["content"]["status"] == "ok"
            times.append(t1 - k.t0)
        finally:
            k.stop()
    return statistics.median(times)


def start_managed(kernel_name, scratch):
    km = KernelManager(kernel_name=kernel_name)
    km.start_kernel(cwd=str(scratch / "cwd"))
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    return km, kc


def stop_managed(km, kc):
    kc.stop_channels()
    km.shutdown_kernel(now=False)


def run_cell(kc, code, timeout=30):
    """Execute code; return seconds to status idle (the reply is read after)."""
    t0 = time.perf_counter()
    msg_id = kc.execute(code)
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if (msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status"
                and msg["content"]["execution_state"] == "idle"):
            break
    t1 = time.perf_counter()
    while True:
        reply = kc.get_shell_msg(timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"cell {code!r} failed: {reply['content']}")
    return t1 - t0


def bench_cell(kernel_name, scratch, n):
    """Median seconds of an empty cell, execute_request to idle."""
    km, kc = start_managed(kernel_name, scratch)
    try:
        for _ in range(max(20, n // 10)):
            run_cell(kc, "")
        return statistics.median(run_cell(kc, "") for _ in range(n))
    finally:
        stop_managed(km, kc)


def vm_rss(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def bench_rss(kernel_name, scratch):
    """Resident bytes of the kernel process after start and one cell."""
    km, kc = start_managed(kernel_name, scratch)
    try:
        run_cell(kc, "echo hi" if kernel_name == "workbench" else "print('hi')")
        time.sleep(0.3)
        return vm_rss(km.provisioner.process.pid)
    finally:
        stop_managed(km, kc)


def build_rtt(scratch):
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", *PKGS],
                           capture_output=True, text=True, check=True).stdout.split()
    exe = scratch / "rtt"
    subprocess.run(["cc", "-O2", "-o", str(exe), str(HERE / "rtt.c"), *flags],
                   check=True)
    return exe


def run_rtt(args, pin):
    cmd = (["taskset", "-c", str(pin)] if pin is not None else []) + args
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {out.stderr.strip()}")
    return json.loads(out.stdout)["median_us"] * 1e-6


def bench_rtt_kernel(scratch, exe, template, n, pin):
    k = Launched(scratch, template, pin)
    try:
        k.request(k.shell, "kernel_info_request", timeout=60)
        return run_rtt([str(exe), "kernel", k.connfile, str(n)], pin)
    finally:
        k.stop()


#  ---- The workspace ----

def build_bench_store(scratch, workbench):
    """Compile bench_store.c against the libworkbench.a beside the binary."""
    lib = Path(workbench).parent / "libworkbench.a"
    if not lib.is_file():
        raise RuntimeError(f"{lib} is missing: run make first")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", *STORE_PKGS],
                           capture_output=True, text=True, check=True).stdout.split()
    exe = scratch / "bench_store"
    #  a sanitizer build's library needs its runtime: build-address -> address
    sanitize = []
    if lib.parent.name.startswith("build-"):
        sanitize = [f"-fsanitize={lib.parent.name[len('build-'):]}"]
    subprocess.run(["cc", "-O2", "-D_GNU_SOURCE", *sanitize, "-I", str(ROOT / "lib"),
                    "-o", str(exe), str(HERE / "bench_store.c"), str(lib), *flags,
                    "-lm", "-lpthread"], check=True)
    return exe


def run_bench_store(exe, *args):
    out = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True,
                         timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"bench_store {' '.join(map(str, args))} failed: "
                           f"{out.stderr.strip()}")
    return json.loads(out.stdout)


def time_command(argv, workspace, n):
    """Median seconds of a terminal command over workspace, end to end
    (started, run, its output read); it must succeed."""
    env = dict(os.environ, WORKBENCH_WORKSPACE=str(workspace))
    env.pop("WORKBENCH_RUN_ID", None)
    times = []
    for _ in range(n + 1):
        t0 = time.perf_counter()
        out = subprocess.run(argv, capture_output=True, env=env, timeout=120)
        times.append(time.perf_counter() - t0)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed: {out.stderr.decode().strip()}")
    return statistics.median(times[1:])     # the first one warms the page cache


def fmt_rate(r):
    return f"{r / 1e6:.2f} M points/s"


def bench_store(scratch, workbench, args, say):
    """The workspace rows."""
    rows = []
    exe = build_bench_store(scratch, workbench)
    work = scratch / "store"
    work.mkdir()

    say(f"workspace ingest, {args.points:,} points in batches of 1,000")
    ingest = run_bench_store(exe, "ingest", work, args.points, 1000, 10, 3)
    rows.append(row(f"metric ingest, wb_store_log, batches of 1,000 (10 keys, "
                    f"{args.points:,} points) vs plain SQLite rows",
                    ingest["store_pps"], ingest["sqlite_pps"], fmt_rate,
                    "≥ 1 M points/s", ingest["store_pps"] >= 1e6))

    say(f"%runs over {args.runs:,} runs")
    runs = run_bench_store(exe, "runs", work, args.runs, 20)
    what = f"over {args.runs:,} runs, limit 50 (median of 20)"
    for label, key in (("", "plain_s"), (", --filter", "filter_s"),
                       (", --sort -metrics.acc", "sort_s"), (", --filter and --sort", "both_s")):
        rows.append(row(f"%runs{label}: wb_store_runs {what}", runs[key], None,
                        fmt_time, "≤ 100 ms", runs[key] <= 0.100))
    cli = time_command([workbench, "runs"], runs["workspace"], 20)
    rows.append(row(f"`workbench runs` end to end {what}", cli, None, fmt_time,
                    "≤ 100 ms", cli <= 0.100))
    cli = time_command([workbench, "runs", "--filter", runs["filter"],
                        f"--sort={runs['sort']}"], runs["workspace"], 20)
    rows.append(row(f"`workbench runs --filter --sort` end to end {what}", cli, None,
                    fmt_time, "≤ 100 ms", cli <= 0.100))

    say(f"%show of a run with {args.show_points:,} points")
    show = run_bench_store(exe, "show", work, args.show_points)
    cli = time_command([workbench, "show", show["run"]], show["workspace"], 5)
    rows.append(row(f"`workbench show RUN` end to end, {args.show_points:,} points "
                    f"of one metric (median of 5)", cli, None, fmt_time, "≤ 200 ms",
                    cli <= 0.200))
    return rows


#  ---- The report ----

def fmt_time(s):
    if s >= 0.1:
        return f"{s * 1e3:.0f} ms"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.0f} µs"


def fmt_mib(b):
    return f"{b / MIB:.1f} MiB"


def row(metric, wb, other, fmt, target, ok):
    ratio = wb / other if other else float("nan")
    return [metric, fmt(wb), fmt(other) if other is not None else "—",
            f"{ratio:.2f}x" if other else "—", target,
            "—" if ok is None else ("pass" if ok else "FAIL")]


HEAD = ["metric", "workbench", "ipykernel (or floor)", "ratio", "target", "result"]


def text_table(rows):
    widths = [max(len(str(r[i])) for r in [HEAD] + rows) for i in range(len(HEAD))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()
             for r in [HEAD] + rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows, note):
    lines = ["| " + " | ".join(HEAD) + " |",
             "|" + "|".join(" --- " for _ in HEAD) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines) + "\n\n" + note + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workbench", required=True, help="the workbench binary")
    ap.add_argument("--markdown", help="also write the table as Markdown here")
    ap.add_argument("--starts", type=int, default=20)
    ap.add_argument("--cells", type=int, default=200)
    ap.add_argument("--rtt", type=int, default=2000)
    ap.add_argument("--no-pin", action="store_true",
                    help="do not pin the C client round trips to one core")
    ap.add_argument("--points", type=int, default=1_000_000,
                    help="metric points to ingest")
    ap.add_argument("--runs", type=int, default=10_000,
                    help="runs in the workspace %%runs lists")
    ap.add_argument("--show-points", type=int, default=1_000_000,
                    help="points of the metric %%show draws")
    ap.add_argument("--only", choices=("kernel", "store", "jobs", "train", "sweep", "serve",
                                       "batch"),
                    help="run only one part: the kernel, the workspace, jobs, training, "
                         "sweeps, serving or batch scoring")
    ap.add_argument("--serve-seconds", type=int, default=60,
                    help="seconds of wrk load on each scoring server")
    ap.add_argument("--batch-rows", type=int, default=200_000,
                    help="rows the batch scoring part scores")
    args = ap.parse_args()

    workbench = os.path.abspath(args.workbench)
    if not os.access(workbench, os.X_OK):
        print(f"bench: {workbench} is not an executable", file=sys.stderr)
        return 2
    pin = None
    if not args.no_pin and shutil.which("taskset"):
        pin = max(os.sched_getaffinity(0))

    scratch = Path(tempfile.mkdtemp(prefix="workbench-bench-"))
    saved_env = dict(os.environ)
    try:
        argv = setup_scratch(scratch, workbench)
        rows = []

        def say(what):
            print(f"bench: {what} ...", file=sys.stderr, flush=True)

        if args.only in (None, "kernel"):
            say(f"start, {args.starts} launches each")
            s_wb = bench_start(scratch, argv["workbench"], args.starts)
            s_py = bench_start(scratch, argv["ipykernel"], args.starts)
            rows.append(row(f"start to kernel_info_reply (median of {args.starts})",
                            s_wb, s_py, fmt_time, "≤ 10 ms", s_wb <= 0.010))

            say(f"empty cell, {args.cells} each")
            c_wb = bench_cell("workbench", scratch, args.cells)
            c_py = bench_cell("python3", scratch, args.cells)
            rows.append(row(f"empty cell to idle, jupyter_client (median of {args.cells})",
                            c_wb, c_py, fmt_time, "≤ 1/3 of ipykernel", c_wb <= c_py / 3))

            say("resident memory")
            m_wb = bench_rss("workbench", scratch)
            m_py = bench_rss("python3", scratch)
            rows.append(row("idle resident memory (VmRSS after start + one cell)",
                            m_wb, m_py, fmt_mib, "≤ 8 MiB", m_wb <= 8 * MIB))

            say(f"C client round trips, {args.rtt} each"
                + (f", pinned to CPU {pin}" if pin is not None else ""))
            exe = build_rtt(scratch)
            floor = run_rtt([str(exe), "floor", str(args.rtt)], pin)
            r_wb = bench_rtt_kernel(scratch, exe, argv["workbench"], args.rtt, pin)
            r_py = bench_rtt_kernel(scratch, exe, argv["ipykernel"], args.rtt, pin)
            rows.append(row(f"execute round trip, C client vs signed echo floor "
                            f"(median of {args.rtt})", r_wb, floor, fmt_time,
                            "≤ 2x floor", r_wb <= 2 * floor))
            rows.append(row("execute round trip, C client vs ipykernel",
                            r_wb, r_py, fmt_time, "—", None))

        if args.only in (None, "store"):
            rows += bench_store(scratch, workbench, args, say)

        if args.only in (None, "jobs"):
            import bench_jobs
            say("jobs: submit to start, metric line protocol")
            rows += bench_jobs.bench_jobs(scratch, workbench, say)

        if args.only in (None, "train"):
            import bench_train
            say("training beside scikit-learn, same data and split")
            rows += bench_train.bench_train(scratch, workbench,
                                            argparse.Namespace(mlp_repeat=2), say)[0]

        if args.only in (None, "sweep"):
            import bench_sweep
            say("sweeps beside Optuna: sampler quality and speed, early termination")
            rows += bench_sweep.bench_sweep(workbench, say=say)

        if args.only in (None, "serve"):
            import bench_serve
            say("serving beside Flask + gunicorn, the same model")
            rows += bench_serve.bench_serve(scratch, workbench, args.serve_seconds, say)

        if args.only in (None, "batch"):
            import bench_batch
            say("batch scoring beside a plain Python loop, the same model and mini-batches")
            rows += bench_batch.bench_batch(scratch, workbench, say, args.batch_rows)

        note = (f"Measured on {os.cpu_count()} cores, "
                f"{'C client pinned to one core with taskset' if pin is not None else 'not pinned'}; "
                f"ipykernel {ipykernel_version()} from Debian ({PYTHON}); "
                f"SQLite {sqlite_version()} for the workspace and its floor.")
        print(text_table(rows))
        print(note)
        if args.markdown:
            Path(args.markdown).write_text(markdown_table(rows, note))
        return 0
    except Exception:
        traceback.print_exc()
        return 1
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        shutil.rmtree(scratch, ignore_errors=True)


def ipykernel_version():
    out = subprocess.run([PYTHON, "-c", "import ipykernel; print(ipykernel.__version__)"],
                         capture_output=True, text=True)
    return out.stdout.strip() or "?"


def sqlite_version():
    out = subprocess.run(["pkg-config", "--modversion", "sqlite3"],
                         capture_output=True, text=True)
    return out.stdout.strip() or "?"


if __name__ == "__main__":
    sys.exit(main())
