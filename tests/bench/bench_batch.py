#!/usr/bin/python3
"""bench_batch - %batch with two Python workers beside a plain Python loop
calling predict on the same mini-batches

    /usr/bin/python3 tests/bench/bench_batch.py --workbench build/workbench [--rows 200000]
                                                [--repeat 3]

The model: a scikit-learn pipeline (StandardScaler + LogisticRegression)
fitted on a pandas DataFrame of 64 numeric features (make_classification,
random_state 0), pickled. The dataset: the same rows as a CSV with the
label, registered in a scratch workspace.

  1. The anchor: one Python process (Debian's python3) that reads the CSV
     with pandas and calls predict and predict_proba on each mini-batch of
     1,000 rows in a loop, as a script would.
  2. Workbench: `%batch MODEL --data D --parallel 2 --mini-batch 1000` (two
     Python workers on two cores, the same model, the same mini-batches,
     predictions and probabilities written to predictions.csv). Every
     column is numeric, so each mini-batch goes to a worker as raw float64
     (a matrix request, lib/serve/wb_pool.h) and its predictions and
     probabilities come back raw; the row says which way the job sent them.

Figures: rows per second of scoring (the anchor's loop; the batch job's
rows_per_second metric, from its first mini-batch to its last), and each
side's whole wall time (the anchor: reading the CSV and the loop; the
batch: the job from start to end, reading the dataset, starting the
workers and writing predictions.csv), each the median of --repeat runs,
the loop and the job taking turns: on two cores shared with other work a
single pair of runs swung from 0.5x to 2.8x as the load around them came
and went. The predictions are checked equal.

bench_batch() returns rows in tests/bench/bench.py's row() format.
"""

import argparse
import csv
import os
import pickle
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import fmt_time, row  # the one table format of make bench

PYTHON = "/usr/bin/python3"
FEATURES = 64
MINI = 1000

LOOP = r'''
import pickle, sys, time
import pandas as pd
start = time.perf_counter()
df = pd.read_csv(sys.argv[2])
model = pickle.load(open(sys.argv[1], "rb"))
X = df[[f"f{i}" for i in range(64)]]
loop = time.perf_counter()
out = []
for first in range(0, len(X), int(sys.argv[3])):
    part = X.iloc[first:first + int(sys.argv[3])]
    out.extend(model.predict(part).tolist())
    model.predict_proba(part)
end = time.perf_counter()
print(len(X) / (end - loop), end - start, ",".join(str(p) for p in out[:50]))
'''


def fmt_rate(r):
    return f"{r:,.0f} rows/s"


def write_data(path, rows):
    from sklearn.datasets import make_classification
    import pandas as pd
    X, y = make_classification(n_samples=rows, n_features=FEATURES, n_informative=16,
                               random_state=0)
    columns = [f"f{i}" for i in range(FEATURES)]
    frame = pd.DataFrame(X, columns=columns)
    frame["label"] = y
    frame.to_csv(path, index=False, float_format="%.17g")
    return frame, columns


def cli(workbench, env, *args, stdin=""):
    out = subprocess.run([workbench, *args], input=stdin, env=env, capture_output=True,
                         text=True, timeout=1800)
    if out.returncode:
        raise RuntimeError(f"workbench {' '.join(args)}: {out.stdout}{out.stderr}")
    return out.stdout


def bench_batch(scratch, workbench, say, rows=200_000, repeat=3):
    scratch = Path(scratch) / "batch"
    scratch.mkdir(parents=True, exist_ok=True)
    data = scratch / "rows.csv"
    say(f"batch: {rows:,} rows x {FEATURES} features")
    frame, columns = write_data(data, rows)
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(
        frame[columns], frame["label"])
    pickled = scratch / "model.pkl"
    pickled.write_bytes(pickle.dumps(model))

    ws = scratch / "ws"
    env = dict(os.environ, WORKBENCH_WORKSPACE=str(ws), PATH="/usr/bin:" + os.environ["PATH"])
    cli(workbench, env, "data", "register", "rows", str(data))
    cli(workbench, env, "job", "--name", "fit", "--no-code", stdin=f"mkdir -p \"$WORKBENCH_OUTPUTS\"\ncp '{pickled}' \"$WORKBENCH_OUTPUTS/model.pkl\"\n")
    cli(workbench, env, "model", "register", "m", "--run", "fit", "--path", "outputs/model.pkl",
        "--python", PYTHON)

    loops, batches, same, sent = [], [], True, "JSON rows"
    for turn in range(1, repeat + 1):
        say(f"batch: the plain Python loop ({turn} of {repeat})")
        out = subprocess.run([PYTHON, "-c", LOOP, str(pickled), str(data), str(MINI)],
                             capture_output=True, text=True, check=True,
                             timeout=1800).stdout.split()
        loops.append((float(out[0]), float(out[1])))
        loop_first = out[2]

        say(f"batch: %batch --parallel 2 ({turn} of {repeat})")
        name = f"scored-{turn}"
        said = cli(workbench, env, "batch", "m", "--data", "rows", "--parallel", "2",
                   "--mini-batch", str(MINI), "--name", name)
        if "as raw float64" in said:
            sent = "raw float64"
        db = sqlite3.connect(f"file:{ws}/workspace.db?mode=ro", uri=True)
        (started, ended, seq), = db.execute("SELECT started, ended, seq FROM runs WHERE name = ?", (name,))
        (rate,), = db.execute("SELECT value FROM metric_latest WHERE run = ? AND key = 'rows_per_second'", (seq,))
        (digest,), = db.execute("SELECT hash FROM artifacts WHERE run = ? AND path = 'outputs/predictions.csv'", (seq,))
        db.close()
        with open(ws / "artifacts" / digest[:2] / digest[2:], newline="") as f:
            got = [r["prediction"] for _, r in zip(range(50), csv.DictReader(f))]
        same = same and got == loop_first.split(",")
        batches.append((rate, ended - started))
        say(f"batch: {rate:,.0f} rows/s against the loop's {loops[-1][0]:,.0f}")
    loop_rate, loop_wall = (statistics.median(x) for x in zip(*loops))
    rate, wall = (statistics.median(x) for x in zip(*batches))
    median = f"median of {repeat}, " if repeat > 1 else ""
    return [
        row(f"batch: rows/s scoring {rows:,} x {FEATURES} in mini-batches of {MINI:,}, "
            f"%batch --parallel 2 ({sent}) vs a Python loop calling predict ({median}predictions "
            f"{'equal' if same else 'DIFFER'})",
            rate, loop_rate, fmt_rate, "≥ 1.5x the loop", same and rate >= 1.5 * loop_rate),
        row(f"batch: whole wall time (the job: dataset, workers, predictions.csv; the loop: "
            f"read CSV and score; {median.rstrip(', ') or 'one run'})", wall, loop_wall,
            fmt_time, "—", None),
    ]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workbench", required=True)
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of each side, taking turns (the figures are medians)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="workbench-bench-batch-") as scratch:
        for r in bench_batch(scratch, os.path.abspath(args.workbench),
                             lambda what: print(f"bench: {what} ...", file=sys.stderr),
                             args.rows, max(1, args.repeat)):
            print(r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
