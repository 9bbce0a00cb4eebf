#!/usr/bin/python3
"""bench_serve - a Workbench endpoint beside Flask + gunicorn serving the same model

    /usr/bin/python3 tests/bench/bench_serve.py --workbench build/workbench [--seconds 60]

The model: a logistic regression on 64 numeric features (make_classification,
4,000 rows, random_state 0), standardised.

  1. Workbench: a scratch workspace; the CSV registered as a dataset,
     trained with %%train --model logistic, registered (%model register) and
     deployed (%deploy): a `workbench serve` process with key auth on.
  2. Flask + gunicorn (Debian's python3-flask and gunicorn, sync workers,
     2 x cores + 1 of them, as gunicorn's documentation advises): a
     scikit-learn pipeline (StandardScaler + LogisticRegression) fitted on
     the same CSV, answering the same body with the same JSON, checking the
     same kind of bearer key.

Both get the same load from wrk (Debian): --seconds of POST /score with one
64-feature row per request ({"input_data": {"columns": [...], "data":
[[...]]}}), 2 threads, 16 connections, after a 2 s warm-up. Figures:
requests per second, p99 latency (wrk --latency), errors (non-2xx answers
and socket errors; Workbench's target is zero), and resident memory of the
serving processes after the load (Workbench: the one serve process;
gunicorn: the master and its workers).

bench_serve() returns rows in tests/bench/bench.py's row() format for
`make bench`. Everything goes to a scratch folder removed at the end; every
server started is stopped. Exits 0 when everything ran, whatever the
figures.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from bench import fmt_mib, fmt_time, row, vm_rss  # the one table format of make bench

PYTHON = "/usr/bin/python3"
FEATURES = 64
ROWS = 4000
THREADS, CONNECTIONS = 2, 16

FLASK_APP = r'''
import pickle
import numpy as np
from flask import Flask, request, jsonify
app = Flask(__name__)
with open("MODEL_FILE", "rb") as f:
    MODEL, COLUMNS = pickle.load(f)
KEY = "THE_KEY"

@app.post("/score")
def score():
    if request.headers.get("Authorization") != "Bearer " + KEY:
        return jsonify(error={"code": "unauthorized"}), 401
    body = request.get_json()
    frame = body["input_data"]
    order = [frame["columns"].index(c) for c in COLUMNS]
    rows = np.array([[r[i] for i in order] for r in frame["data"]], dtype=float)
    return jsonify(predictions=[int(p) for p in MODEL.predict(rows)])
'''

WRK_SCRIPT = '''
wrk.method = "POST"
wrk.body = [==[BODY]==]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer KEY"
'''


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_data(path):
    from sklearn.datasets import make_classification
    X, y = make_classification(n_samples=ROWS, n_features=FEATURES, n_informative=16,
                               random_state=0)
    columns = [f"f{i}" for i in range(FEATURES)]
    with open(path, "w") as f:
        f.write(",".join(columns) + ",label\n")
        for xs, label in zip(X, y):
            f.write(",".join(f"{v:.17g}" for v in xs) + f",{label}\n")
    return X, y, columns


def cli(workbench, env, *args, stdin=""):
    out = subprocess.run([workbench, *args], input=stdin, capture_output=True, text=True,
                         env=env, timeout=300)
    if out.returncode:
        raise RuntimeError(f"workbench {' '.join(args)}: {out.stderr.strip() or out.stdout.strip()}")
    return out.stdout


def wait_http(port, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing answers on 127.0.0.1:{port}")


def check_once(url, key, body):
    """One request as wrk sends it: the answer (it must be a 200)."""
    import urllib.request
    request = urllib.request.Request(url, data=body.encode(), method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def run_wrk(url, key, body, seconds, scratch, say, what):
    script = scratch / "post.lua"
    script.write_text(WRK_SCRIPT.replace("BODY", body).replace("KEY", key))
    base = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", "--latency", "-s", str(script)]
    subprocess.run(base + ["-d2s", url], capture_output=True, text=True, timeout=60)
    say(f"wrk: {what}, {seconds} s")
    out = subprocess.run(base + [f"-d{seconds}s", url], capture_output=True, text=True,
                         timeout=seconds + 60).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0}[p99.group(2)]
    total = int(re.search(r"(\d+) requests in", out).group(1))
    errors = 0
    found = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if found:
        errors += int(found.group(1))
    found = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if found:
        errors += sum(int(g) for g in found.groups())
    return {"rate": rate, "p99": float(p99.group(1)) * scale, "total": total,
            "errors": errors, "raw": out}


def tree_rss(pid):
    """Resident bytes of a process and its children."""
    total = vm_rss(pid)
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        total += tree_rss(int(child))
    return total


def bench_serve(scratch, workbench, seconds, say):
    """Both servers under the same load: rows in bench.py's row() format."""
    scratch = Path(scratch) / "serve"
    scratch.mkdir()
    csv = scratch / "wide.csv"
    say("serve: writing a 64-feature data set")
    X, y, columns = write_data(csv)
    body = json.dumps({"input_data": {"columns": columns, "data": [list(map(float, X[0]))]}})
    env = dict(os.environ, WORKBENCH_WORKSPACE=str(scratch / "ws"))
    serve_pid = None
    gunicorn = None
    try:
        #  Workbench: register, train, register the model, deploy
        say("serve: Workbench trains and deploys")
        cli(workbench, env, "workspace", str(scratch / "ws"))
        cli(workbench, env, "data", "register", "wide", str(csv))
        cli(workbench, env, "train", "--data", "wide", "--target", "label", "--model",
            "logistic", "--name", "wide-logistic", stdin="")
        cli(workbench, env, "model", "register", "wide", "--run", "wide-logistic")
        #  the keys are shown once, when %deploy creates the endpoint
        deployed = cli(workbench, env, "deploy", "wide", "--endpoint", "bench")
        url = re.search(r"(http://127\.0\.0\.1:\d+/score)", deployed).group(1)
        key = re.search(r"^primary:\s+(\S+)", deployed, re.M).group(1)
        db = sqlite3.connect(f"file:{scratch}/ws/workspace.db?mode=ro", uri=True)
        (serve_pid,) = db.execute("SELECT pid FROM endpoints WHERE name = 'bench'").fetchone()
        db.close()
        wb_answer = check_once(url, key, body)
        wb = run_wrk(url, key, body, seconds, scratch, say, "Workbench endpoint")
        wb["rss"] = vm_rss(serve_pid)

        #  Flask + gunicorn with the same model from scikit-learn
        say("serve: scikit-learn fits, gunicorn starts")
        import pickle
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
        with open(scratch / "model.pkl", "wb") as f:
            pickle.dump((model, columns), f)
        flask_key = "k" * 43
        (scratch / "app.py").write_text(FLASK_APP.replace("MODEL_FILE", str(scratch / "model.pkl"))
                                        .replace("THE_KEY", flask_key))
        port = free_port()
        workers = 2 * (os.cpu_count() or 1) + 1
        log = open(scratch / "gunicorn.log", "w")
        gunicorn = subprocess.Popen(
            [PYTHON, "-m", "gunicorn", "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
             "--chdir", str(scratch), "--log-level", "warning", "app:app"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_http(port)
        fl_answer = check_once(f"http://127.0.0.1:{port}/score", flask_key, body)
        if wb_answer != fl_answer:
            raise RuntimeError(f"the servers disagree: {wb_answer} vs {fl_answer}")
        fl = run_wrk(f"http://127.0.0.1:{port}/score", flask_key, body, seconds, scratch, say,
                     f"Flask + gunicorn, {workers} workers")
        fl["rss"] = tree_rss(gunicorn.pid)
    finally:
        if gunicorn:
            os.killpg(gunicorn.pid, signal.SIGTERM)
            try:
                gunicorn.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(gunicorn.pid, signal.SIGKILL)
        if serve_pid:
            try:
                cli(workbench, env, "endpoint", "delete", "bench")
            except Exception:
                os.kill(serve_pid, signal.SIGKILL)
    fmt_rps = lambda r: f"{r:,.0f} req/s"
    return [
        row(f"serve: POST /score, 1 row x 64 features, wrk {THREADS} threads {CONNECTIONS} "
            f"connections {seconds} s (vs Flask + gunicorn)", wb["rate"], fl["rate"], fmt_rps,
            "≥ 10x Flask", wb["rate"] >= 10 * fl["rate"]),
        row("serve: p99 latency under that load", wb["p99"], fl["p99"], fmt_time, "< 2 ms",
            wb["p99"] < 0.002),
        [f"serve: failed requests of {wb['total']:,} (Flask: of {fl['total']:,})",
         str(wb["errors"]), str(fl["errors"]), "—", "0", "pass" if wb["errors"] == 0 else "FAIL"],
        row("serve: resident memory per endpoint after the load", wb["rss"], fl["rss"],
            fmt_mib, "—", None),
    ]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workbench", required=True, help="the workbench binary")
    ap.add_argument("--seconds", type=int, default=60, help="seconds of load per server")
    args = ap.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="workbench-bench-serve-"))
    try:
        from bench import text_table
        rows = bench_serve(scratch, os.path.abspath(args.workbench), args.seconds,
                           lambda what: print(f"bench_serve: {what} ...", file=sys.stderr,
                                              flush=True))
        print(text_table(rows))
        return 0
    except Exception:
        traceback.print_exc()
        return 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
