"""Batch scoring as a user meets it: %batch of a built-in model on 100,000
rows with two threads equals %predict; of a scikit-learn model (Python
workers) equals the model's own predict in its job; a failing mini-batch is
counted and its rows left without a prediction (and over --error-threshold
fails the job, saying why); a cancel stops every worker; bad input is
refused with nothing submitted; --output makes a dataset version whose
run's lineage names the model and the input.

One kernel and one workspace for the module. The Python side runs with
Debian's python3 (PATH starts with /usr/bin for the kernel: the python3
first on PATH elsewhere may lack scikit-learn).
"""

import csv
import os
import random
import sqlite3
import subprocess
import time

import pytest

from wbtest import TIMEOUT, TIME_FACTOR, WORKBENCH_BIN, WbKernel

JOB_TIMEOUT = TIMEOUT * 6


def ok(run):
    assert run.status == "ok", run
    return run


def error(run, ename, *parts):
    assert run.status == "error", run
    assert run.content["ename"] == ename, run.content
    for part in parts:
        assert part in run.content["evalue"], (part, run.content["evalue"])


def sql(ws, query, *args):
    db = sqlite3.connect(f"file:{ws}/workspace.db?mode=ro", uri=True, timeout=30)
    try:
        return db.execute(query, args).fetchall()
    finally:
        db.close()


def write_table(path, rows, seed=3):
    """Four numbers and a category to a class, rows of them."""
    rng = random.Random(seed)
    with open(path, "w") as f:
        f.write("x1,x2,x3,x4,colour,label\n")
        for _ in range(rows):
            x = [rng.gauss(0, 1) for _ in range(4)]
            colour = rng.choice(["red", "green", "blue"])
            score = x[0] - 0.5 * x[1] + 0.25 * x[2] + (0.8 if colour == "red" else 0) + rng.gauss(0, 0.5)
            f.write(",".join(f"{v:.6f}" for v in x) + f",{colour},{'yes' if score > 0 else 'no'}\n")


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def artifact(ws, name, path):
    """An artifact of the run named name, as text, from the content store."""
    (digest,) = sql(ws, "SELECT a.hash FROM artifacts a JOIN runs r ON r.seq = a.run "
                        "WHERE r.name = ? AND a.path = ?", name, path)[0]
    return (ws / "artifacts" / digest[:2] / digest[2:]).read_text()


def job_log(ws, name):
    """What the job printed (its output log), through the command-line tool."""
    return subprocess.run([str(WORKBENCH_BIN), "job", "logs", name],
                          env=dict(os.environ, WORKBENCH_WORKSPACE=str(ws)),
                          capture_output=True, text=True, timeout=TIMEOUT).stdout


def status(ws, name):
    (value,) = sql(ws, "SELECT status FROM runs WHERE name = ?", name)[0]
    return value


def latest(ws, name, key):
    """The run's latest value of metric key."""
    (value,) = sql(ws, "SELECT m.value FROM metric_latest m JOIN runs r ON r.seq = m.run "
                       "WHERE r.name = ? AND m.key = ?", name, key)[0]
    return value


TRAIN_PY = r'''
import os, pickle
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
import workbench
df = pd.read_csv(os.environ["DATA"])
X, y = df[["x1", "x2", "x3", "x4", "colour"]], df["label"]
model = Pipeline([("prep", ColumnTransformer([("num", StandardScaler(), ["x1", "x2", "x3", "x4"]),
                                              ("cat", OneHotEncoder(), ["colour"])])),
                  ("clf", LogisticRegression())]).fit(X, y)
workbench.log(accuracy=float(model.score(X, y)))
out = workbench.outputs()
pickle.dump(model, open(os.path.join(out, "model.pkl"), "wb"))
pd.DataFrame({"prediction": model.predict(X)}).to_csv(os.path.join(out, "own.csv"), index=False)
'''

#  A scoring script that raises on a marked row and sleeps on another
SCORE_PY = r'''
import os, time
def init():
    global marker
    marker = os.environ.get("WORKBENCH_MODEL_DIR")
def run(data):
    out = []
    for row in data:
        if row["x1"] == 99:
            raise ValueError("row with x1 = 99")
        if row["x1"] == 77:
            time.sleep(600)
        out.append("yes" if row["x1"] > 0 else "no")
    return out
'''


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch")
    cwd = root / "cwd"
    cwd.mkdir()
    env = dict(os.environ, PATH="/usr/bin:" + os.environ.get("PATH", ""))
    kernel = WbKernel.start(cwd, env=env)
    ws = root / "ws"
    try:
        ok(kernel.execute(f"%workspace '{ws}'"))
        write_table(cwd / "small.csv", 2000)
        write_table(cwd / "big.csv", 100000, seed=4)
        ok(kernel.execute("%data register small small.csv"))
        ok(kernel.execute("%data register big big.csv", timeout=JOB_TIMEOUT))
        ok(kernel.execute("%%train --data small --target label --model logistic --name fit-builtin\n",
                          timeout=JOB_TIMEOUT))
        ok(kernel.execute("%model register builtin --run fit-builtin"))
        (cwd / "train.py").write_text(TRAIN_PY)
        ok(kernel.execute(f"%%job --name fit-sk --env DATA={cwd / 'small.csv'}\npython3 train.py",
                          timeout=JOB_TIMEOUT))
        ok(kernel.execute("%model register sk --run fit-sk --path outputs/model.pkl",
                          timeout=JOB_TIMEOUT))
        (cwd / "score.py").write_text(SCORE_PY)
        ok(kernel.execute("%model register scripted --run fit-sk --path outputs/model.pkl "
                          "--scorer score.py", timeout=JOB_TIMEOUT))
        yield kernel, ws, cwd
    finally:
        kernel.stop()


def test_batch_of_a_builtin_model_equals_predict(lab):
    kernel, ws, cwd = lab
    ok(kernel.execute("%predict fit-builtin --data big --output predicted.csv", timeout=JOB_TIMEOUT))
    ok(kernel.execute("%batch builtin --data big --parallel 2 --mini-batch 7000 "
                            "--name batch-builtin", timeout=JOB_TIMEOUT))
    assert status(ws, "batch-builtin") == "completed"
    got = artifact(ws, "batch-builtin", "outputs/predictions.csv")
    want = (cwd / "predicted.csv").read_text()
    assert got.count("\n") == 100001
    assert got == want          # the same file %predict writes, row for row


def test_batch_of_a_scikit_learn_model_equals_its_own_predict(lab):
    kernel, ws, cwd = lab
    ok(kernel.execute("%batch sk --data small --parallel 2 --mini-batch 300 "
                            "--output small-scored --name batch-sk", timeout=JOB_TIMEOUT))
    assert "the predictions are dataset small-scored:1" in job_log(ws, "batch-sk")
    own = [r["prediction"] for r in csv.DictReader(artifact(ws, "fit-sk", "outputs/own.csv").splitlines())]
    rows = list(csv.DictReader(artifact(ws, "batch-sk", "outputs/predictions.csv").splitlines()))
    assert len(rows) == 2000 and [r["prediction"] for r in rows] == own
    assert {"probability_no", "probability_yes"} <= set(rows[0])
    assert abs(float(rows[0]["probability_no"]) + float(rows[0]["probability_yes"]) - 1) < 1e-5
    #  The new dataset version's lineage: this batch run wrote it, from sk:1 and small:1
    lineage = sql(ws, "SELECT l.direction, l.kind, l.name, l.version FROM lineage l "
                      "JOIN runs r ON r.seq = l.run WHERE r.name = 'batch-sk'")
    assert ("input", "dataset", "small", 1) in lineage
    assert ("input", "model", "sk", 1) in lineage
    assert ("output", "dataset", "small-scored", 1) in lineage
    shown = ok(kernel.execute("%data show small-scored --rows 1")).bundles("display_data")
    assert any("prediction" in b.get("text/plain", "") for b in shown)


def test_a_failing_mini_batch_is_counted_and_the_threshold_fails_the_job(lab):
    kernel, ws, cwd = lab
    rows = (cwd / "small.csv").read_text().splitlines()
    marked = rows[:1] + rows[1:601] + ["99," + rows[601].split(",", 1)[1]] + rows[602:1001]
    (cwd / "marked.csv").write_text("\n".join(marked) + "\n")
    ok(kernel.execute("%data register marked marked.csv"))
    ok(kernel.execute("%batch scripted --data marked --mini-batch 100 --parallel 2 "
                            "--name batch-marked", timeout=JOB_TIMEOUT))
    out = artifact(ws, "batch-marked", "outputs/predictions.csv")
    scored = list(csv.DictReader(out.splitlines()))
    assert len(scored) == 1000
    missing = [i for i, r in enumerate(scored) if r["prediction"] == ""]
    assert missing == list(range(600, 700))          # the mini-batch holding row 601
    assert latest(ws, "batch-marked", "failed_batches") == 1
    assert latest(ws, "batch-marked", "rows_scored") == 900
    assert "row with x1 = 99" in job_log(ws, "batch-marked")      # the log says which
    #  With --error-threshold 0 the same job fails, and says why
    run = kernel.execute("%batch scripted --data marked --mini-batch 100 --parallel 2 "
                         "--error-threshold 0 --name batch-strict", timeout=JOB_TIMEOUT)
    assert run.status == "error", run
    assert status(ws, "batch-strict") == "failed"
    log = job_log(ws, "batch-strict")
    assert "over the error threshold of 0" in log and "row with x1 = 99" in log


def test_cancel_stops_every_worker(lab):
    kernel, ws, cwd = lab
    rows = (cwd / "small.csv").read_text().splitlines()
    slow = rows[:1] + ["77," + r.split(",", 1)[1] for r in rows[1:41]]
    (cwd / "slow.csv").write_text("\n".join(slow) + "\n")
    ok(kernel.execute("%data register slow slow.csv"))
    ok(kernel.execute("%batch scripted --data slow --mini-batch 10 --parallel 2 --no-wait "
                      "--name batch-slow"))
    worker = str(ws / "python" / "wb_worker.py")

    def workers():
        out = subprocess.run(["pgrep", "-f", worker], capture_output=True, text=True).stdout
        return out.split()

    deadline = time.time() + 60 * TIME_FACTOR
    while len(workers()) < 2 and time.time() < deadline:
        time.sleep(0.2)
    assert len(workers()) >= 2, "the batch's workers never started"
    ok(kernel.execute("%job cancel batch-slow"))
    deadline = time.time() + 30 * TIME_FACTOR
    while workers() and time.time() < deadline:
        time.sleep(0.2)
    assert workers() == [], "workers outlived the cancel"
    error(kernel.execute("%job wait batch-slow", timeout=JOB_TIMEOUT), "JobError", "canceled")
    assert status(ws, "batch-slow") == "canceled"


@pytest.mark.parametrize("command, ename, part", [
    ("%batch nosuch --data small", "ModelError", "nosuch"),
    ("%batch sk --data nosuch", "DataError", "nosuch"),
    ("%batch sk", "UsageError", "--data"),
    ("%batch sk --data small --parallel 0", "UsageError", "--parallel is a whole number from 1"),
    ("%batch sk --data small --mini-batch x", "UsageError", "--mini-batch"),
    ("%batch sk --data small --error-threshold -2", "UsageError", "--error-threshold"),
    ("%batch sk --data small --output 'no good'", "DataError", "not a valid dataset name"),
    ("%batch sk extra --data small", "UsageError", "give one model"),
])
def test_bad_batch_requests_submit_nothing(lab, command, ename, part):
    kernel, ws, cwd = lab
    before = sql(ws, "SELECT count(*) FROM runs")
    error(kernel.execute(command), ename, part)
    assert sql(ws, "SELECT count(*) FROM runs") == before
