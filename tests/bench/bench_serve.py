#!/usr/bin/python3
"""bench_serve - Workbench endpoints beside nginx's floor and Flask + gunicorn

    /usr/bin/python3 tests/bench/bench_serve.py --workbench build/workbench [--seconds 60]

The model: a logistic regression on 64 numeric features (make_classification,
4,000 rows, random_state 0), standardised.

The servers, each answering POST /score on 127.0.0.1:
  1. Workbench: a scratch workspace; the CSV registered as a dataset,
     trained with %%train --model logistic, registered (%model register) and
     deployed (%deploy): a `workbench serve` process with key auth on.
  2. The physical floor: nginx (Debian's nginx-light) from a private config
     in the scratch folder, one worker per core, no access log, answering
     every POST /score with a fixed body: the bytes the Workbench endpoint
     answers for the bench's row. It reads no key and scores nothing: what
     any HTTP server on this machine costs at least.
  3. Flask + gunicorn (Debian's python3-flask and gunicorn, sync workers,
     2 x cores + 1 of them, as gunicorn's documentation advises): a
     scikit-learn pipeline (StandardScaler + LogisticRegression) fitted on
     the same CSV, answering the same body with the same JSON, checking the
     same kind of bearer key. The pipeline is pickled on its own (model.pkl,
     the estimator only) so that a Workbench Python deployment can load the
     very same model.
  4. A Workbench Python deployment of that model.pkl, in the same
     workspace: a %%job copies the pickle into its outputs/, %model register
     --path outputs/model.pkl keeps it as a version (flavor sklearn, loaded
     by the worker with Debian's Python), and %deploy serves it with one
     Python worker per core (--workers), twice, on two endpoints measured
     one after the other: with dynamic batching (the default: up to 64 rows,
     1 ms) and without (--max-batch-rows 1). Both must answer Flask's
     predictions for the bench's row.

Each gets the same two loads, one request being one 64-feature row
({"input_data": {"columns": [...], "data": [[...]]}}):
  - saturation, wrk (Debian): --seconds of POST /score, 2 threads, 16
    connections, after a 2 s warm-up: requests per second, p99 latency (wrk
    --latency), errors (non-2xx answers and socket errors);
  - a fixed rate below saturation, hey (Debian): 2,000 requests/s in all
    (hey -c 10 -q 200: -q is per worker) for 12 s: p50 and p99 latency
    (hey prints them to 0.1 ms), failures (answers other than 200 and
    errors), the rate it reached.
and, after the load, the resident memory of the serving processes
(Workbench: the one serve process, and its Python workers for a Python
deployment; gunicorn: the master and its workers). For a Python deployment,
the endpoint's /metrics is read before and after each load: the rows per
call to a worker (the histogram workbench_batch_rows) during that load.

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
NGINX = "/usr/sbin/nginx"
FEATURES = 64
ROWS = 4000
THREADS, CONNECTIONS = 2, 16        # wrk, at saturation
HEY_WORKERS, HEY_QPS = 10, 200      # hey, at a fixed rate: -q is per worker
HEY_RATE = HEY_WORKERS * HEY_QPS    # requests per second in all
HEY_SECONDS = 12

PY_WORKERS = os.cpu_count() or 1  # a Python deployment's --workers: one per core

#  the servers' labels: the keys of the figures bench_serve() gathers
BUILTIN, NGINX_FLOOR, FLASK = "Workbench endpoint", "nginx", "Flask + gunicorn"
PY_BATCH, PY_SINGLE = "Python deployment, batching", "Python deployment, no batching"

FLASK_APP = r'''
import pickle
import numpy as np
from flask import Flask, request, jsonify
app = Flask(__name__)
with open("MODEL_FILE", "rb") as f:
    MODEL = pickle.load(f)
COLUMNS = THE_COLUMNS
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

#  Every path nginx writes is in the scratch folder; `daemon off` keeps the
#  master in the foreground, where Popen can stop it. keepalive_requests
#  keeps wrk's connections open for the whole run, as the endpoint does.
NGINX_CONF = '''
daemon off;
worker_processes @WORKERS@;
pid @DIR@/nginx.pid;
error_log @DIR@/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path @DIR@/body;
    proxy_temp_path @DIR@/proxy;
    fastcgi_temp_path @DIR@/fastcgi;
    uwsgi_temp_path @DIR@/uwsgi;
    scgi_temp_path @DIR@/scgi;
    keepalive_requests 100000000;
    server {
        listen 127.0.0.1:@PORT@;
        location = /score {
            default_type application/json;
            return 200 '@ANSWER@';
        }
    }
}
'''

WRK_SCRIPT = '''
wrk.method = "POST"
wrk.body = [==[BODY]==]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer KEY"
'''


#  ---- Data, model, processes ----

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


def write_sklearn_model(X, y, path):
    """The scikit-learn pipeline fitted on the data, pickled alone (the
    estimator, nothing around it) for Flask and for a Python deployment."""
    import pickle
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    with open(path, "wb") as f:
        pickle.dump(model, f)
    return path


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


def answer_of(url, key, body):
    """One request as wrk sends it: the bytes of the answer (it must be a 200)."""
    import urllib.request
    request = urllib.request.Request(url, data=body.encode(), method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read()


def check_once(url, key, body):
    return json.loads(answer_of(url, key, body))


def start_group(argv, log):
    """A server in a process group of its own, its output to log."""
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def stop_group(proc):
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def tree_rss(pid):
    """Resident bytes of a process and its children (those of every thread:
    a serve process starts its Python workers from the pool's threads)."""
    total = vm_rss(pid)
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            total += tree_rss(int(child))
    return total


#  ---- The servers ----

def deploy(workbench, env, scratch, model, endpoint, *options):
    """%deploy model to a new endpoint: (url, key, pid of the serve process)."""
    #  the keys are shown once, when %deploy creates the endpoint
    deployed = cli(workbench, env, "deploy", model, "--endpoint", endpoint, *options)
    url = re.search(r"(http://127\.0\.0\.1:\d+/score)", deployed).group(1)
    key = re.search(r"^primary:\s+(\S+)", deployed, re.M).group(1)
    db = sqlite3.connect(f"file:{scratch}/ws/workspace.db?mode=ro", uri=True)
    (pid,) = db.execute("SELECT pid FROM endpoints WHERE name = ?", (endpoint,)).fetchone()
    db.close()
    return url, key, pid


def deploy_builtin(workbench, env, scratch, csv):
    """The built-in logistic model trained, registered and deployed:
    (url, key, pid of the serve process)."""
    cli(workbench, env, "workspace", str(scratch / "ws"))
    cli(workbench, env, "data", "register", "wide", str(csv))
    cli(workbench, env, "train", "--data", "wide", "--target", "label", "--model",
        "logistic", "--name", "wide-logistic", stdin="")
    cli(workbench, env, "model", "register", "wide", "--run", "wide-logistic")
    return deploy(workbench, env, scratch, "wide", "bench")


def register_python(workbench, env, model_pkl):
    """model_pkl made a run's artifact by a job, and registered from that run
    as version 1 of wide-sklearn (flavor sklearn, Debian's Python)."""
    cli(workbench, env, "job", "--name", "wide-sklearn", "--no-code",
        stdin=f'cp "{model_pkl}" "$WORKBENCH_OUTPUTS/model.pkl"\n')
    shown = cli(workbench, env, "model", "register", "wide-sklearn", "--run", "wide-sklearn",
                "--path", "outputs/model.pkl", "--python", PYTHON)
    if not re.search(r"^flavor\s+sklearn\s*$", shown, re.M):
        raise RuntimeError(f"model.pkl was not registered as flavor sklearn:\n{shown}")


def delete_endpoint(workbench, env, name, pid):
    try:
        cli(workbench, env, "endpoint", "delete", name)
    except Exception:
        os.kill(pid, signal.SIGKILL)


def start_nginx(scratch, answer):
    """nginx answering POST /score with the bytes answer: (process, url)."""
    if not os.access(NGINX, os.X_OK):
        raise RuntimeError(f"{NGINX} is missing: apt-get install nginx-light")
    text = answer.decode()
    if "$" in text:     # nginx would read it as a variable
        raise RuntimeError(f"nginx cannot return an answer with a '$' in it: {text}")
    text = text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    folder = scratch / "nginx"
    folder.mkdir()
    port = free_port()
    conf = (NGINX_CONF.replace("@WORKERS@", str(os.cpu_count() or 1))
            .replace("@DIR@", str(folder)).replace("@PORT@", str(port))
            .replace("@ANSWER@", text))
    (folder / "nginx.conf").write_text(conf)
    log = open(folder / "stderr.log", "w")
    proc = start_group([NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf"),
                        "-e", str(folder / "error.log")], log)
    try:
        wait_http(port)
    except RuntimeError:
        stop_group(proc)
        raise RuntimeError("nginx did not start: "
                           + (folder / "stderr.log").read_text().strip()
                           + (folder / "error.log").read_text().strip())
    return proc, f"http://127.0.0.1:{port}/score"


def start_flask(scratch, model_pkl, columns, key):
    """gunicorn serving the Flask app on model_pkl: (process, url, workers)."""
    (scratch / "app.py").write_text(FLASK_APP.replace("MODEL_FILE", str(model_pkl))
                                    .replace("THE_COLUMNS", repr(columns))
                                    .replace("THE_KEY", key))
    port = free_port()
    workers = 2 * (os.cpu_count() or 1) + 1
    log = open(scratch / "gunicorn.log", "w")
    proc = start_group([PYTHON, "-m", "gunicorn", "--workers", str(workers),
                        "--bind", f"127.0.0.1:{port}", "--chdir", str(scratch),
                        "--log-level", "warning", "app:app"], log)
    wait_http(port)
    return proc, f"http://127.0.0.1:{port}/score", workers


#  ---- The loads ----

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


def parse_hey(out):
    """hey's summary as figures: p50, p99 (seconds), rate, total, failures
    (answers other than 200 and errors); or {"unreadable": why}.

    The summary is a set of sections, each a line "Name:" then indented lines:
    "Latency distribution:" ("  99% in 0.0012 secs"), "Status code
    distribution:" ("  [200]\t3954 responses"), "Error distribution:"
    ("  [12]\tPost ...: connection refused")."""
    section, latency, statuses, errors, rate = None, {}, {}, 0, None
    for line in out.splitlines():
        if line and not line[0].isspace():
            section = line.strip().rstrip(":").lower()
            continue
        found = re.match(r"\s+Requests/sec:\s+([\d.]+)", line)
        if found:
            rate = float(found.group(1))
        elif section == "latency distribution":
            found = re.match(r"\s+(\d+)% in ([\d.]+) secs", line)
            if found:
                latency[int(found.group(1))] = float(found.group(2))
        elif section == "status code distribution":
            found = re.match(r"\s+\[(\d+)\]\s+(\d+) responses", line)
            if found:
                statuses[int(found.group(1))] = int(found.group(2))
        elif section == "error distribution":
            found = re.match(r"\s+\[(\d+)\]", line)
            if found:
                errors += int(found.group(1))
    total = sum(statuses.values()) + errors
    if not total:
        return {"unreadable": "no answer counted in hey's output"}
    if not statuses:
        return {"unreadable": f"no answer, {errors:,} errors (hey's Error distribution)"}
    if 50 not in latency or 99 not in latency or rate is None:
        return {"unreadable": "no latency distribution in hey's output"}
    return {"p50": latency[50], "p99": latency[99], "rate": rate, "total": total,
            "failures": total - statuses.get(200, 0)}


def run_hey(url, key, body, say, what):
    say(f"hey: {what}, {HEY_RATE:,} requests/s for {HEY_SECONDS} s")
    try:
        out = subprocess.run(
            ["hey", "-z", f"{HEY_SECONDS}s", "-c", str(HEY_WORKERS), "-q", str(HEY_QPS),
             "-m", "POST", "-T", "application/json", "-H", f"Authorization: Bearer {key}",
             "-d", body, url], capture_output=True, text=True, timeout=HEY_SECONDS + 60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return {"unreadable": f"hey did not run: {e}"}
    if out.returncode:
        return {"unreadable": f"hey exited with {out.returncode}: {out.stderr.strip()[:200]}"}
    figures = parse_hey(out.stdout)
    figures["raw"] = out.stdout
    return figures


def batch_rows(url):
    """The endpoint's histogram of rows per call to a worker, summed over its
    deployments, from /metrics (next to url): {"count": calls, "sum": rows,
    "le": {bound: calls of at most bound rows}}, or None when /metrics has
    no workbench_batch_rows lines."""
    import urllib.request
    with urllib.request.urlopen(url.rsplit("/", 1)[0] + "/metrics", timeout=10) as response:
        text = response.read().decode()
    found = {"count": 0, "sum": 0, "le": {}}
    for line in text.splitlines():
        m = re.match(r'workbench_batch_rows_(bucket|sum|count)\{[^}]*?(?:le="([^"]+)")?\}\s+(\S+)$',
                     line)
        if not m:
            continue
        kind, bound, value = m.group(1), m.group(2), float(m.group(3))
        if kind == "bucket":
            bound = float(bound)    # "+Inf" too
            found["le"][bound] = found["le"].get(bound, 0) + value
        else:
            found[kind] += value
    return found if found["le"] else None


def batch_during(before, after):
    """The calls of a load: after minus before (None when either is)."""
    if before is None or after is None:
        return None
    return {"count": after["count"] - before["count"], "sum": after["sum"] - before["sum"],
            "le": {b: n - before["le"].get(b, 0) for b, n in after["le"].items()}}


class Load:
    """The two loads every server gets, the same for all of them."""

    def __init__(self, scratch, seconds, say):
        self.scratch = scratch      # where wrk's script goes
        self.seconds = seconds      # of wrk at saturation
        self.say = say              # progress, one line at a time

    def measure(self, label, url, key, body, batches=False):
        """Saturation (wrk) and a fixed rate (hey) on url: {"wrk": ..., "hey": ...}.
        batches: each also gets "batches", the rows per call to a worker
        during that load (batch_during; its wrk warm-up counts in)."""
        before = batch_rows(url) if batches else None
        figures = {"wrk": run_wrk(url, key, body, self.seconds, self.scratch, self.say, label)}
        middle = batch_rows(url) if batches else None
        figures["hey"] = run_hey(url, key, body, self.say, label)
        if batches:
            figures["wrk"]["batches"] = batch_during(before, middle)
            figures["hey"]["batches"] = batch_during(middle, batch_rows(url))
        return figures


#  ---- The rows ----

def fmt_rps(r):
    return f"{r:,.0f} req/s"


def hey_row(metric, ours, other, what, target, bound):
    """A row of hey's figure what for ours beside other; ok when ours is
    at most bound times other's (bound None: no target). A figure hey did
    not give says why instead."""
    missing = [f["unreadable"] for f in (ours, other) if "unreadable" in f]
    if missing:
        cell = lambda f: f"no figure: {f['unreadable']}" if "unreadable" in f else fmt_time(f[what])
        return [metric, cell(ours), cell(other), "—", target, "—" if bound is None else "FAIL"]
    return row(metric, ours[what], other[what], fmt_time, target,
               None if bound is None else ours[what] <= bound * other[what])


def hey_failures(f):
    return f"no figure: {f['unreadable']}" if "unreadable" in f else f"{f['failures']} of {f['total']:,}"


def hey_reached(f):
    return "?" if "unreadable" in f else f"{f['rate']:,.0f}"


def fmt_batches(b):
    """Rows per call to a worker: the mean, and the bound of the histogram's
    bucket holding the median and the 99th percentile call."""
    if b is None or not b["count"]:
        return "no calls counted"

    def bound(q):
        for le in sorted(b["le"]):
            if b["le"][le] >= q * b["count"]:
                return f"≤ {le:.0f}" if le != float("inf") else "> the last bound"
    return (f"mean {b['sum'] / b['count']:.1f} rows a call ({b['count']:,.0f} calls), "
            f"median {bound(0.5)}, p99 {bound(0.99)}")


def python_rows(label, figures, target, factor, seconds):
    """The rows of one Python deployment beside Flask + gunicorn."""
    py, fl = figures[label]["wrk"], figures[FLASK]["wrk"]
    py_h, fl_h = figures[label]["hey"], figures[FLASK]["hey"]
    rows = [
        row(f"serve: {label}, {PY_WORKERS} workers, wrk {CONNECTIONS} connections {seconds} s "
            f"(vs {FLASK})", py["rate"], fl["rate"], fmt_rps, target,
            py["rate"] >= factor * fl["rate"]),
        row(f"serve: {label}, p99 latency under that load", py["p99"], fl["p99"], fmt_time,
            "< Flask's", py["p99"] < fl["p99"]),
        [f"serve: {label}, failed requests of {py['total']:,} (Flask: of {fl['total']:,})",
         str(py["errors"]), str(fl["errors"]), "—", "0", "pass" if py["errors"] == 0 else "FAIL"],
    ]
    if "unreadable" in py_h:
        rows.append(hey_row(f"serve: {label}, p99 latency at a fixed {HEY_RATE:,} req/s",
                            py_h, fl_h, "p99", "< 5 ms", None))
    else:
        rows.append(row(f"serve: {label}, p99 latency at a fixed {HEY_RATE:,} req/s "
                        f"(p50 {fmt_time(py_h['p50'])}; reached {hey_reached(py_h)}, Flask "
                        f"{hey_reached(fl_h)})",
                        py_h["p99"], fl_h.get("p99"), fmt_time, "< 5 ms", py_h["p99"] < 0.005))
    rows.append([f"serve: {label}, failed requests at that rate", hey_failures(py_h),
                 hey_failures(fl_h), "—", "0",
                 "—" if "unreadable" in py_h else ("pass" if py_h["failures"] == 0 else "FAIL")])
    for load, what in (("wrk", "under wrk"), ("hey", f"at {HEY_RATE:,} req/s")):
        batches = figures[label][load].get("batches")
        if batches is not None:
            rows.append([f"serve: {label}, rows per call to a worker {what} (/metrics)",
                         fmt_batches(batches), "—", "—", "—", "—"])
    rows.append(row(f"serve: {label}, resident memory after the load (serve process and "
                    f"workers)", figures[label]["rss"], figures[FLASK]["rss"], fmt_mib, "—", None))
    return rows


#  ---- The benchmark ----

def bench_serve(scratch, workbench, seconds, say):
    """Every server under the same loads: rows in bench.py's row() format."""
    scratch = Path(scratch) / "serve"
    scratch.mkdir()
    csv = scratch / "wide.csv"
    say("serve: writing a 64-feature data set, fitting scikit-learn on it")
    X, y, columns = write_data(csv)
    #  the one pickled scikit-learn model of the bench: Flask's, and the one
    #  a Workbench Python deployment serves
    model_pkl = write_sklearn_model(X, y, scratch / "model.pkl")
    body = json.dumps({"input_data": {"columns": columns, "data": [list(map(float, X[0]))]}})
    env = dict(os.environ, WORKBENCH_WORKSPACE=str(scratch / "ws"))
    load = Load(scratch, seconds, say)
    figures = {}                    # label -> {"wrk": ..., "hey": ...}
    answers = {}                    # label -> the answer to body, read as JSON
    endpoints = {}                  # endpoint name -> pid of its serve process, until deleted
    nginx = gunicorn = None
    try:
        say("serve: Workbench trains and deploys")
        url, key, endpoints["bench"] = deploy_builtin(workbench, env, scratch, csv)
        wb_answer = answer_of(url, key, body)
        answers[BUILTIN] = json.loads(wb_answer)
        figures[BUILTIN] = load.measure(BUILTIN, url, key, body)
        figures[BUILTIN]["rss"] = vm_rss(endpoints["bench"])

        say("serve: model.pkl registered from a job, deployed as a Python deployment")
        register_python(workbench, env, model_pkl)
        #  one endpoint at a time, deleted once measured: the other's idle
        #  workers take no part in the load
        for label, name, options in ((PY_BATCH, "bench-py", ()),
                                     (PY_SINGLE, "bench-py1", ("--max-batch-rows", "1"))):
            url, key, endpoints[name] = deploy(workbench, env, scratch, "wide-sklearn", name,
                                               "--workers", str(PY_WORKERS), *options)
            answers[label] = check_once(url, key, body)
            figures[label] = load.measure(label, url, key, body, batches=True)
            figures[label]["rss"] = tree_rss(endpoints[name])
            delete_endpoint(workbench, env, name, endpoints.pop(name))

        say("serve: nginx answers a fixed body (the floor)")
        nginx, url = start_nginx(scratch, wb_answer)
        #  the same request bytes as the endpoint gets: nginx reads no key
        if answer_of(url, key, body) != wb_answer:
            raise RuntimeError("nginx does not answer what the endpoint answers")
        figures[NGINX_FLOOR] = load.measure(NGINX_FLOOR, url, key, body)
        stop_group(nginx)

        say("serve: gunicorn starts")
        flask_key = "k" * 43
        gunicorn, url, workers = start_flask(scratch, model_pkl, columns, flask_key)
        fl_answer = check_once(url, flask_key, body)
        for label, answer in answers.items():
            if answer.get("predictions") != fl_answer["predictions"]:
                raise RuntimeError(f"{label} and {FLASK} disagree: {answer} vs {fl_answer}")
        figures[FLASK] = load.measure(f"{FLASK}, {workers} workers", url, flask_key, body)
        figures[FLASK]["rss"] = tree_rss(gunicorn.pid)
    finally:
        stop_group(gunicorn)
        stop_group(nginx)
        for name, pid in endpoints.items():
            delete_endpoint(workbench, env, name, pid)

    wb, ng, fl = (figures[k]["wrk"] for k in (BUILTIN, NGINX_FLOOR, FLASK))
    wb_h, ng_h, fl_h = (figures[k]["hey"] for k in (BUILTIN, NGINX_FLOOR, FLASK))
    rate = (f"a fixed {HEY_RATE:,} req/s (hey -c {HEY_WORKERS} -q {HEY_QPS}, "
            f"{HEY_SECONDS} s)")
    return [
        row(f"serve: POST /score, 1 row x 64 features, wrk {THREADS} threads {CONNECTIONS} "
            f"connections {seconds} s (vs Flask + gunicorn)", wb["rate"], fl["rate"], fmt_rps,
            "≥ 10x Flask", wb["rate"] >= 10 * fl["rate"]),
        row("serve: p99 latency under that load", wb["p99"], fl["p99"], fmt_time, "< 2 ms",
            wb["p99"] < 0.002),
        [f"serve: failed requests of {wb['total']:,} (Flask: of {fl['total']:,})",
         str(wb["errors"]), str(fl["errors"]), "—", "0", "pass" if wb["errors"] == 0 else "FAIL"],
        row("serve: the same wrk load vs the floor, nginx answering a fixed body",
            wb["rate"], ng["rate"], fmt_rps, "≥ 0.7x nginx", wb["rate"] >= 0.7 * ng["rate"]),
        row("serve: p99 latency under that load vs nginx", wb["p99"], ng["p99"], fmt_time,
            "—", None),
        [f"serve: failed requests vs nginx (nginx: of {ng['total']:,})", str(wb["errors"]),
         str(ng["errors"]), "—", "0", "pass" if wb["errors"] == 0 else "FAIL"],
        hey_row(f"serve: p50 latency at {rate} vs nginx", wb_h, ng_h, "p50", "—", None),
        hey_row("serve: p99 latency at that rate vs nginx", wb_h, ng_h, "p99",
                "≤ 1.5x nginx", 1.5),
        hey_row("serve: p50 latency at that rate vs Flask + gunicorn", wb_h, fl_h, "p50",
                "—", None),
        hey_row("serve: p99 latency at that rate vs Flask + gunicorn", wb_h, fl_h, "p99",
                "—", None),
        [f"serve: failed requests at that rate (req/s reached: {hey_reached(wb_h)}, "
         f"nginx {hey_reached(ng_h)}, Flask {hey_reached(fl_h)})", hey_failures(wb_h),
         f"nginx {hey_failures(ng_h)}; Flask {hey_failures(fl_h)}", "—", "0",
         "—" if "unreadable" in wb_h else ("pass" if wb_h["failures"] == 0 else "FAIL")],
        row("serve: resident memory per endpoint after the load", figures[BUILTIN]["rss"],
            figures[FLASK]["rss"], fmt_mib, "—", None),
    ] + python_rows(PY_BATCH, figures, "≥ 3x Flask", 3, seconds) \
      + python_rows(PY_SINGLE, figures, "≥ 1x Flask", 1, seconds)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workbench", required=True, help="the workbench binary")
    ap.add_argument("--seconds", type=int, default=60, help="seconds of wrk load per server")
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
