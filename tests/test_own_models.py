"""A user's own model served as Workbench's own are (issue 14): models
trained in a %%job with scikit-learn, XGBoost and PyTorch, and an MLflow
folder the job writes by hand, registered (flavor found), deployed and
called over HTTP, answering what the job's own predict gave on the same
rows; registrations that must be refused; a traffic split between a
built-in and a Python deployment; a version update under load; a scoring
script that raises, crashes, hangs, or whose new version cannot load (and
a first %deploy that cannot load, which keeps no endpoint); %model export
read back by its own loader and registered again; requests that meet in
one batch each getting their own row's answer, and a request that raises
in a batch failing alone; a body lacking a column the model names refused
with 400 as a built-in deployment refuses it, the columns in the OpenAPI,
and an exported scoring script finding its files as it does when served.

One kernel and one workspace for the module: one job trains every model
once (train.py below), each test deploys endpoints of its own. Kernel,
jobs and workers run with Debian's Python first on PATH (the one with
numpy, scikit-learn, XGBoost and PyTorch). Every server the tests start
is killed at the end (their pids are in the workspace).
"""

import csv
import http.client
import json
import os
import re
import signal
import sqlite3
import subprocess
import threading
import time

import pytest

from wbtest import html_tables, PYTHON, TESTS, TIME_FACTOR, TIMEOUT, WbKernel

DATA = TESTS / "data"
JOB_TIMEOUT = TIMEOUT * 9           # the job imports torch and xgboost, fits five models
DEPLOY_TIMEOUT = TIMEOUT * 3        # a Python deployment waits for its workers' hello

pytestmark = pytest.mark.slow


#  ---- What the notebook folder holds ----

#  The job: every model the tests serve, and the job's own answers on rows
#  the tests send again (outputs/expected.json)
TRAIN_PY = r'''
import json
import os
import pickle

import numpy as np
import pandas as pd
import torch
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from xgboost import XGBClassifier

out = os.environ["WORKBENCH_OUTPUTS"]
expected = {}


def keep(path, model):
    os.makedirs(os.path.dirname(os.path.join(out, path)), exist_ok=True)
    with open(os.path.join(out, path), "wb") as f:
        pickle.dump(model, f)


def answers(name, model, rows, columns=None):
    expected[name] = {"rows": rows.values.tolist() if columns else rows.tolist(),
                      "columns": columns, "predictions": model.predict(rows).tolist(),
                      "probabilities": model.predict_proba(rows).tolist(),
                      "classes": model.classes_.tolist()}


#  A logistic regression on numbers
X, y = make_classification(n_samples=300, n_features=5, n_informative=3, random_state=0)
lr = LogisticRegression(max_iter=500).fit(X, y)
keep("lr/model.pkl", lr)
answers("lr", lr, X[:40])

#  A pipeline over a DataFrame with a string column
rng = np.random.default_rng(1)
frame = pd.DataFrame({"size": rng.uniform(1, 10, 300), "weight": rng.normal(50, 10, 300),
                      "colour": rng.choice(["red", "green", "blue"], 300)})
label = np.where(frame["size"] * 3 + (frame["colour"] == "red") * 8
                 + rng.normal(0, 2, 300) > 20, "big", "small")
prep = ColumnTransformer([("num", StandardScaler(), ["size", "weight"]),
                          ("cat", OneHotEncoder(handle_unknown="ignore"), ["colour"])])
pipe = Pipeline([("prep", prep), ("clf", LogisticRegression())]).fit(frame, label)
keep("pipe.pkl", pipe)
answers("pipe", pipe, frame.iloc[:25], list(frame.columns))

#  XGBoost
xgb = XGBClassifier(n_estimators=30, max_depth=3, n_jobs=1, random_state=0).fit(X, y)
keep("xgb.pkl", xgb)
answers("xgb", xgb, X[:40])

#  A small PyTorch network, served through score_torch.py
torch.manual_seed(0)
torch.set_num_threads(1)
net = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
opt = torch.optim.Adam(net.parameters(), lr=0.05)
inputs, targets = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
for _ in range(60):
    opt.zero_grad()
    torch.nn.functional.cross_entropy(net(inputs), targets).backward()
    opt.step()
os.makedirs(os.path.join(out, "torch"))
torch.save(net.state_dict(), os.path.join(out, "torch", "net.pt"))
with torch.no_grad():
    expected["torch"] = {"rows": X[:40].tolist(),
                         "predictions": net(inputs[:40]).argmax(1).tolist()}

#  An MLflow model folder written by hand: the sklearn flavor and its
#  python_function, as MLflow writes them, with a signature naming columns
keep("mlflow_lr/model.pkl", lr)
names = [f"f{i}" for i in range(5)]
signature = json.dumps([{"name": n, "type": "double"} for n in names])
with open(os.path.join(out, "mlflow_lr", "MLmodel"), "w") as f:
    f.write("artifact_path: model\n"
            "flavors:\n"
            "  python_function:\n"
            "    env: conda.yaml\n"
            "    loader_module: mlflow.sklearn\n"
            "    model_path: model.pkl\n"
            "    predict_fn: predict\n"
            "    python_version: 3.11.2\n"
            "  sklearn:\n"
            "    pickled_model: model.pkl\n"
            "    serialization_format: pickle\n"
            "    sklearn_version: 1.2.1\n"
            "mlflow_version: 2.3.0\n"
            "signature:\n"
            f"  inputs: '{signature}'\n"
            "  outputs: '[{\"type\": \"long\"}]'\n")

#  Iris with named columns, for the split with a built-in model
iris = pd.read_csv("iris.csv")
features = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
keep("irisk.pkl", LogisticRegression(max_iter=1000).fit(iris[features], iris["species"]))

#  The scoring script's weights, and a file that is not a pickle
os.makedirs(os.path.join(out, "tricky"))
with open(os.path.join(out, "tricky", "weights.json"), "w") as f:
    json.dump({"offset": 1}, f)
with open(os.path.join(out, "bad.pkl"), "w") as f:
    f.write("this is not a pickle\n")

with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump(expected, f)
'''

#  The PyTorch network's scoring script. $WORKBENCH_MODEL_DIR is the version's
#  folder, which holds the registered folder (outputs/torch) under its name.
SCORE_TORCH_PY = '''
import os

import torch

BATCH = True
net = None


def init():
    global net
    torch.set_num_threads(1)
    net = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    folder = os.path.join(os.environ["WORKBENCH_MODEL_DIR"], "torch")
    net.load_state_dict(torch.load(os.path.join(folder, "net.pt")))
    net.eval()


def run(data):
    with torch.no_grad():
        return net(torch.tensor(data, dtype=torch.float32)).argmax(1).tolist()
'''

#  A scoring script that does what a row tells it: score (x + offset), raise,
#  crash, hang, or answer a dict
TRICKY_PY = '''
import json
import os
import time

offset = None


def init():
    global offset
    with open(os.path.join(os.environ["WORKBENCH_MODEL_DIR"], "tricky", "weights.json")) as f:
        offset = json.load(f)["offset"]


def run(data):
    answers = []
    for row in data:
        if row["do"] == "raise":
            raise ValueError(f"row {row['x']} asks to fail")
        if row["do"] == "crash":
            os._exit(3)
        if row["do"] == "hang":
            time.sleep(60)
        if row["do"] == "dict":
            return {"echo": row["x"], "offset": offset}
        answers.append(row["x"] + offset)
    return answers
'''

NORUN_PY = '''
def init():
    pass
'''

#  The same script, taking many rows a call (so its requests are batched)
BATCHY_PY = TRICKY_PY.replace("offset = None", "BATCH = True\noffset = None")


#  ---- Helpers ----

def ok(run):
    assert run.status == "ok", run
    assert run.of_type("error") == [], run
    return run


def error(run, ename, *parts):
    assert run.status == "error", run
    assert run.content["ename"] == ename, run.content
    for part in parts:
        assert part in run.content["evalue"], (part, run.content["evalue"])
    return run.content["evalue"]


def tables(run):
    found = []
    for bundle in run.bundles("display_data"):
        found += html_tables(bundle.get("text/html", ""))
    return found


def table(run, caption):
    found = [t for t in tables(run) if t["caption"].startswith(caption)]
    assert len(found) == 1, (caption, [t["caption"] for t in tables(run)])
    return [dict(zip(found[0]["head"], row)) for row in found[0]["rows"]]


def fields(run, caption):
    return {r["field"]: r["value"] for r in table(run, caption)}


class Ws:
    """The module's workspace: its path and read-only SQL."""

    def __init__(self, path):
        self.path = path

    def sql(self, query, *args):
        db = sqlite3.connect(f"file:{self.path}/workspace.db?mode=ro", uri=True, timeout=30)
        try:
            return db.execute(query, args).fetchall()
        finally:
            db.close()

    def port(self, endpoint):
        (row,) = self.sql("SELECT port FROM endpoints WHERE name = ?", endpoint)
        return row[0]


class Lab:
    """The module's kernel, workspace, notebook folder and the job's answers."""

    def __init__(self, kernel, ws, cwd, expected):
        self.kernel = kernel
        self.ws = ws
        self.cwd = cwd
        self.expected = expected

    def run(self, code, timeout=TIMEOUT):
        return self.kernel.execute(code, timeout=timeout)

    def deploy(self, command):
        """%deploy COMMAND --auth none; the run."""
        return ok(self.run(f"%deploy {command} --auth none", timeout=DEPLOY_TIMEOUT))

    def connect(self, endpoint):
        return http.client.HTTPConnection("127.0.0.1", self.ws.port(endpoint), timeout=TIMEOUT)


def debian_env():
    """The environment with Debian's Python first on PATH."""
    return dict(os.environ, PATH="/usr/bin:" + os.environ.get("PATH", ""))


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A kernel with a workspace, the job fit-own that trained every model,
    its expected answers, and the built-in logistic model flowers (iris)
    and the job's logistic regression lr registered."""
    root = tmp_path_factory.mktemp("own")
    cwd = root / "cwd"
    cwd.mkdir()
    for name, text in (("train.py", TRAIN_PY), ("score_torch.py", SCORE_TORCH_PY),
                       ("tricky.py", TRICKY_PY), ("norun.py", NORUN_PY),
                       ("batchy.py", BATCHY_PY)):
        (cwd / name).write_text(text)
    (cwd / "iris.csv").write_bytes((DATA / "iris.csv").read_bytes())
    kernel = WbKernel.start(cwd, env=debian_env())
    ws = Ws(root / "ws")
    try:
        ok(kernel.execute(f"%workspace '{ws.path}'"))
        run = ok(kernel.execute("%%job --name fit-own\npython3 train.py\n", timeout=JOB_TIMEOUT))
        assert ws.sql("SELECT status FROM runs WHERE name = 'fit-own'") == [("completed",)], run
        got = root / "expected.json"
        ok(kernel.execute(f"%artifacts fit-own outputs/expected.json --to '{got}'"))
        expected = json.loads(got.read_text())
        ok(kernel.execute(f"%data register iris '{DATA / 'iris.csv'}'"))
        ok(kernel.execute("%%train --data iris --target species --model logistic "
                          "--name fit-flowers\n", timeout=TIMEOUT * 3))
        ok(kernel.execute("%model register flowers --run fit-flowers"))
        ok(kernel.execute("%model register lr --run fit-own --path outputs/lr/model.pkl"))
        yield Lab(kernel, ws, cwd, expected)
    finally:
        try:
            for (pid,) in ws.sql("SELECT pid FROM endpoints WHERE pid > 0"):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        except sqlite3.Error:
            pass
        kernel.stop()


def post(conn, body, headers=None, target="/score"):
    """POST JSON to the endpoint; (status, parsed body, response headers)."""
    sent = {"Content-Type": "application/json"}
    sent.update(headers or {})
    conn.request("POST", target, body=json.dumps(body), headers=sent)
    response = conn.getresponse()
    raw = response.read()
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = raw.decode()
    return response.status, parsed, dict(response.getheaders())


def get(conn, path):
    conn.request("GET", path)
    response = conn.getresponse()
    return response.status, response.read().decode()


def body_of(case):
    """The request for a case of expected.json: its rows, with its columns."""
    if case.get("columns"):
        return {"input_data": {"columns": case["columns"], "data": case["rows"]}}
    return {"input_data": case["rows"]}


def assert_same_answers(answer, case, probabilities=True):
    assert answer["predictions"] == case["predictions"]
    if probabilities:
        assert answer["classes"] == case["classes"]
        assert len(answer["probabilities"]) == len(case["probabilities"])
        for got, want in zip(answer["probabilities"], case["probabilities"]):
            assert got == pytest.approx(want, rel=0, abs=1e-9)


def metric(text, name, **labels):
    """The value of one sample of a Prometheus text, or None."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    found = re.search(rf"^{re.escape(name)}\{{{re.escape(wanted)}\}} (\S+)$", text, re.M)
    return None if found is None else float(found.group(1))


#  ---- Own models give the job's own answers ----

OWN = [
    #  name, register options, flavor, what %model show names, whether it has probabilities
    ("lr", "--path outputs/lr/model.pkl", "sklearn",
     "sklearn.linear_model._logistic.LogisticRegression", True),
    ("pipe", "--path outputs/pipe.pkl", "sklearn", "sklearn.pipeline.Pipeline", True),
    ("xgb", "--path outputs/xgb.pkl", "sklearn", "xgboost.sklearn.XGBClassifier", True),
    ("torch", "--path outputs/torch --scorer score_torch.py", "python",
     "scoring script score_torch.py", False),
    ("mlflow", "--path outputs/mlflow_lr", "mlflow",
     "LogisticRegression (MLmodel flavor sklearn)", True),
]


@pytest.mark.parametrize("case,options,flavor,kind,probabilities", OWN,
                         ids=[o[0] for o in OWN])
def test_own_model_answers_what_the_job_predicted(lab, case, options, flavor, kind,
                                                  probabilities):
    name = f"own-{case}"
    run = ok(lab.run(f"%model register {name} --run fit-own {options}", timeout=TIMEOUT * 2))
    assert f"Registered model {name}:1" in run.stdout
    shown = fields(run, f"Model {name}:1")
    assert shown["flavor"] == flavor
    assert kind in shown["kind"], shown
    assert shown["python"].startswith("/usr/bin/python3"), shown
    if case == "pipe":
        assert json.loads(shown["columns"]) == ["size", "weight", "colour"]
        assert json.loads(shown["classes"]) == ["big", "small"]
    if case == "mlflow":
        assert json.loads(shown["columns"]) == [f"f{i}" for i in range(5)]
    expected = lab.expected["lr" if case == "mlflow" else case]

    run = lab.deploy(f"{name} --endpoint ep-{case} --workers 1")
    assert f"Serving {name}:1 as deployment blue of endpoint ep-{case}" in run.stdout
    conn = lab.connect(f"ep-{case}")
    target = "/score?probabilities=true" if probabilities else "/score"
    status, answer, headers = post(conn, body_of(expected), target=target)
    assert status == 200, answer
    assert headers["X-Model"] == f"{name}:1" and headers["X-Deployment"] == "blue"
    assert_same_answers(answer, expected, probabilities)

    if case == "lr":
        #  %endpoint invoke goes through the same workers
        run = ok(lab.run(f"%endpoint invoke ep-lr '{json.dumps(body_of(expected))}'"))
        assert json.loads(run.stdout)["predictions"] == expected["predictions"]
    if case == "mlflow":
        #  the signature names the columns: they are put in its order
        names = [f"f{i}" for i in range(5)][::-1]
        rows = [row[::-1] for row in expected["rows"]]
        status, answer, _ = post(conn, {"input_data": {"columns": names, "data": rows}},
                                 target=target)
        assert status == 200, answer
        assert_same_answers(answer, expected)
    if case == "pipe":
        #  records name the columns too, in any order
        records = [dict(reversed(list(zip(expected["columns"], row))))
                   for row in expected["rows"]]
        status, answer, _ = post(conn, {"dataframe_records": records}, target=target)
        assert status == 200, answer
        assert_same_answers(answer, expected)


#  ---- Bad bodies and the OpenAPI of a Python deployment ----

def test_python_deployment_refuses_a_bad_body_as_a_built_in_one_does(lab):
    ok(lab.run("%model register strict --run fit-own --path outputs/pipe.pkl",
               timeout=TIMEOUT * 2))
    lab.deploy("strict --endpoint strict --workers 1")
    conn = lab.connect("strict")
    status, answer, _ = post(conn, {"dataframe_records": [{"size": 3.0, "weight": 50.0}]})
    assert (status, answer["error"]["code"]) == (400, "missing_column"), answer
    assert "'colour'" in answer["error"]["message"]
    status, answer, _ = post(conn, {"data": [[3.0, 50.0]]})
    assert (status, answer["error"]["code"]) == (400, "feature_count"), answer


def test_swagger_of_a_python_deployment_names_its_columns(lab):
    ok(lab.run("%model register described --run fit-own --path outputs/pipe.pkl",
               timeout=TIMEOUT * 2))
    lab.deploy("described --endpoint described --workers 1")
    status, text = get(lab.connect("described"), "/swagger.json")
    assert status == 200
    schema = json.loads(text)["paths"]["/score"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]
    assert schema["properties"]["input_data"]["properties"]["columns"]["example"] == [
        "size", "weight", "colour"]


#  ---- Registrations that are refused ----

def model_names(lab):
    run = ok(lab.run("%model list --all"))
    found = [t for t in tables(run) if "models" in t["caption"]]
    assert len(found) == 1, [t["caption"] for t in tables(run)]
    return sorted(row[0] for row in found[0]["rows"])


REFUSED = [
    #  name, options, what the error says
    ("notpickle", "--path outputs/bad.pkl", ["bad.pkl is not a pickle"]),
    ("norun", "--path outputs/tricky --scorer norun.py", ["norun.py defines no run()"]),
    ("wrongflavor", "--path outputs/lr/model.pkl --flavor workbench",
     ["not a Workbench model file"]),
    ("scorersk", "--path outputs/lr/model.pkl --flavor sklearn --scorer tricky.py",
     ["--scorer goes with flavor python"]),
    ("nopython", "--path outputs/lr/model.pkl --python /nonexistent/bin/python3",
     ["cannot run '/nonexistent/bin/python3'", "no such program"]),
]


@pytest.mark.parametrize("name,options,says", REFUSED, ids=[r[0] for r in REFUSED])
def test_register_refuses_what_cannot_load_and_keeps_nothing(lab, name, options, says):
    before = model_names(lab)
    error(lab.run(f"%model register {name} --run fit-own {options}", timeout=TIMEOUT * 2),
          "ModelError", *says, "nothing was registered")
    assert model_names(lab) == before
    assert lab.ws.sql("SELECT count (*) FROM models WHERE name = ?", name) == [(0,)]
    assert not (lab.ws.path / "models" / name).exists()


#  ---- A built-in and a Python deployment on one endpoint ----

def test_split_between_a_built_in_and_a_python_deployment(lab):
    ok(lab.run("%model register irisk --run fit-own --path outputs/irisk.pkl",
               timeout=TIMEOUT * 2))
    lab.deploy("flowers --endpoint mixed")
    run = lab.deploy("irisk --endpoint mixed --deployment green --traffic 50 --workers 1")
    assert "deployment green of endpoint mixed" in run.stdout
    shares = {r["deployment"]: r["traffic"]
              for r in table(ok(lab.run("%endpoint show mixed")), "Deployments of mixed")}
    assert shares == {"blue": "50%", "green": "50%"}
    conn = lab.connect("mixed")
    columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    body = {"input_data": {"columns": columns, "data": [[5.1, 3.5, 1.4, 0.2],
                                                        [6.9, 3.1, 5.4, 2.1]]}}
    #  each answers when pinned, with the same flowers
    for deployment, model in (("blue", "flowers:1"), ("green", "irisk:1")):
        for _ in range(5):
            status, answer, headers = post(conn, body, {"X-Deployment": deployment})
            assert status == 200, answer
            assert (headers["X-Deployment"], headers["X-Model"]) == (deployment, model)
            assert answer["predictions"] == ["setosa", "virginica"]
    #  the split sends requests to both; binomial(200, 0.5): sd ~ 7
    counts = {"blue": 0, "green": 0}
    for _ in range(200):
        status, answer, headers = post(conn, body)
        assert status == 200, answer
        counts[headers["X-Deployment"]] += 1
    assert abs(counts["green"] - 100) < 40, counts


#  ---- A version update under load ----

def test_python_deployment_updated_under_load_drops_no_request(lab):
    for _ in range(2):
        ok(lab.run("%model register roll --run fit-own --path outputs/lr/model.pkl",
                   timeout=TIMEOUT * 2))
    lab.deploy("roll:1 --endpoint rolling --workers 2")
    port = lab.ws.port("rolling")
    case = lab.expected["lr"]
    body = json.dumps({"input_data": case["rows"][:3]})
    results = []                # (status, X-Model, predictions, time sent)
    stop = threading.Event()

    def load():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        while not stop.is_set():
            sent = time.monotonic()
            try:
                conn.request("POST", "/score", body=body,
                             headers={"Content-Type": "application/json"})
                response = conn.getresponse()
                answer = json.loads(response.read())
                results.append((response.status, response.getheader("X-Model"),
                                answer.get("predictions"), sent))
            except Exception as e:          # a dropped connection is a failure
                results.append((str(e), None, None, sent))
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)

    threads = [threading.Thread(target=load) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        run = lab.deploy("roll:2 --endpoint rolling --workers 2")
        assert "Updated to roll:2 as deployment blue of endpoint rolling" in run.stdout
        updated = time.monotonic()
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert len(results) > 50
    failed = [r for r in results if r[0] != 200]
    assert failed == [], failed[:3]
    assert {tuple(p) for _, _, p, _ in results} == {tuple(case["predictions"][:3])}
    models = [m for _, m, _, _ in results]
    assert models[0] == "roll:1" and models[-1] == "roll:2"
    assert {m for _, m, _, sent in results if sent > updated} == {"roll:2"}


#  ---- A scoring script that raises, crashes, hangs, or cannot load ----

def call(conn, x, do="score"):
    return post(conn, {"input_data": {"columns": ["x", "do"], "data": [[x, do]]}})


def until_ok(conn, seconds=10 * TIME_FACTOR):
    """Call until a 200 (a worker restarting may make the first wait);
    the statuses seen on the way."""
    seen = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status, answer, _ = call(conn, 5)
        seen.append(status)
        if status == 200:
            assert answer["predictions"] == [6]
            return seen
        time.sleep(0.1)
    raise AssertionError(f"no 200 in {seconds} s: {seen}")


def register_broken(lab, name):
    """A version of name (tricky.py over outputs/tricky) whose init() fails
    when it is deployed: its weights went missing from the version's folder
    after registration (which loaded it once). Its version number."""
    run = ok(lab.run(f"%model register {name} --run fit-own --path outputs/tricky "
                     "--scorer tricky.py", timeout=TIMEOUT * 2))
    version = int(re.search(rf"Registered model {name}:(\d+)", run.stdout).group(1))
    (lab.ws.path / "models" / name / str(version) / "tricky" / "weights.json").unlink()
    return version


def test_scorer_failures_get_their_status_and_the_server_recovers(lab):
    run = ok(lab.run("%model register tricky --run fit-own --path outputs/tricky "
                     "--scorer tricky.py", timeout=TIMEOUT * 2))
    assert fields(run, "Model tricky:1")["flavor"] == "python"
    lab.deploy("tricky --endpoint fragile --workers 2 --request-timeout 1")
    conn = lab.connect("fragile")
    status, answer, headers = call(conn, 1)
    assert (status, answer) == (200, {"predictions": [2]})
    assert headers["X-Model"] == "tricky:1"
    #  a dict from run() is answered as it is
    status, answer, _ = call(conn, 7, "dict")
    assert (status, answer) == (200, {"echo": 7, "offset": 1})

    #  raise: 500 naming the exception, no traceback; the next request works
    status, answer, _ = call(conn, 41, "raise")
    assert status == 500, answer
    assert answer["error"]["code"] == "scorer_error"
    assert "ValueError" in answer["error"]["message"]
    assert "row 41 asks to fail" in answer["error"]["message"]
    assert "Traceback" not in json.dumps(answer) and "tricky.py" not in json.dumps(answer)
    assert call(conn, 2)[:2] == (200, {"predictions": [3]})

    #  the request log holds the traceback of that request
    time.sleep(0.6)
    (logged,) = lab.ws.sql("SELECT output FROM requests WHERE endpoint = 'fragile'"
                           " AND status = 500")
    assert "Traceback" in logged[0] and "ValueError: row 41 asks to fail" in logged[0], logged
    logs = table(ok(lab.run("%endpoint logs fragile --limit 20")), "Last")
    (shown,) = [r for r in logs if r["status"] == "500"]
    assert "Traceback" in shown["output"] and "ValueError" in shown["output"], shown

    #  os._exit in run: 503, the worker is restarted, later requests 200
    status, answer, _ = call(conn, 3, "crash")
    assert status == 503, answer
    assert answer["error"]["code"] == "worker_crashed"
    until_ok(conn)
    for x in range(5):
        assert call(conn, x)[:2] == (200, {"predictions": [x + 1]})
    #  %endpoint show and logs tell of it; the restarted worker is soon back
    deadline = time.monotonic() + 10 * TIME_FACTOR
    while True:
        run = ok(lab.run("%endpoint show fragile"))
        assert fields(run, "Endpoint fragile")["state"] == "up"
        said = re.search(r"^Deployment blue: (\d) of 2 Python workers serving, 1 restart,",
                         run.stdout, re.M)
        assert said, run.stdout
        if said.group(1) == "2" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert said.group(1) == "2", run.stdout
    assert "exited with status 3" in run.stdout
    run = ok(lab.run("%endpoint logs fragile"))
    assert "restarting (restart 1): it exited with status 3" in run.stdout, run.stdout

    #  a hang longer than --request-timeout 1: 504, then recovery
    began = time.monotonic()
    status, answer, _ = call(conn, 4, "hang")
    took = time.monotonic() - began
    assert status == 504, answer
    assert answer["error"]["code"] == "timeout"
    assert 0.9 <= took < TIMEOUT / 2, took
    until_ok(conn)
    #  the killed worker's restart is counted when it starts again, which
    #  the other worker's answer does not wait for
    deadline = time.monotonic() + 10 * TIME_FACTOR
    while True:
        status, text = get(conn, "/metrics")
        if metric(text, "workbench_worker_restarts_total", endpoint="fragile",
                  deployment="blue") >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert metric(text, "workbench_worker_errors_total", endpoint="fragile",
                  deployment="blue", status="500") >= 1
    assert metric(text, "workbench_worker_errors_total", endpoint="fragile",
                  deployment="blue", status="503") == 1
    assert metric(text, "workbench_worker_errors_total", endpoint="fragile",
                  deployment="blue", status="504") == 1
    assert metric(text, "workbench_worker_restarts_total", endpoint="fragile",
                  deployment="blue") >= 2
    time.sleep(0.6)
    logged = dict(lab.ws.sql("SELECT status, output FROM requests WHERE endpoint = 'fragile'"
                             " AND status >= 500"))
    assert sorted(logged) == [500, 503, 504], logged
    assert "worker_crashed" in logged[503] and "timeout" in logged[504], logged

    #  a new version whose init() fails (its weights went missing from the
    #  version's folder after registration): %deploy fails with the
    #  traceback and the old version goes on serving
    assert register_broken(lab, "tricky") == 2
    text = error(lab.run("%deploy tricky:2 --endpoint fragile --workers 2 --request-timeout 1",
                         timeout=DEPLOY_TIMEOUT), "EndpointError", "FileNotFoundError")
    assert "Traceback" in text and "weights.json" in text, text
    (deployed,) = lab.ws.sql("SELECT version FROM deployments WHERE endpoint = 'fragile'")
    assert deployed == (1,)
    for x in range(3):
        status, answer, headers = call(conn, x)
        assert (status, answer) == (200, {"predictions": [x + 1]})
        assert headers["X-Model"] == "tricky:1"


def test_first_deploy_that_cannot_load_keeps_no_endpoint(lab):
    version = register_broken(lab, "broken")
    error(lab.run(f"%deploy broken:{version} --endpoint unborn", timeout=DEPLOY_TIMEOUT),
          "EndpointError", "cannot load model broken:", "FileNotFoundError")
    assert lab.ws.sql("SELECT count (*) FROM endpoints WHERE name = 'unborn'") == [(0,)]
    error(lab.run("%endpoint show unborn"), "EndpointError", "no endpoint named 'unborn'")
    #  so the next %deploy makes the endpoint and shows its keys, which work
    ok(lab.run("%model register mended --run fit-own --path outputs/tricky --scorer tricky.py",
               timeout=TIMEOUT * 2))
    run = ok(lab.run("%deploy mended --endpoint unborn --workers 1", timeout=DEPLOY_TIMEOUT))
    assert "Serving mended:1 as deployment blue of endpoint unborn" in run.stdout
    assert "New keys of endpoint unborn" in run.stdout, run.stdout
    key = re.search(r"^primary:\s+(\S+)$", run.stdout, re.M).group(1)
    conn = lab.connect("unborn")
    assert call(conn, 1)[0] == 401
    status, answer, _ = post(conn, {"input_data": {"columns": ["x", "do"],
                                                   "data": [[1, "score"]]}},
                             {"Authorization": f"Bearer {key}"})
    assert (status, answer) == (200, {"predictions": [2]})


#  ---- %model export ----

def test_export_loads_with_its_own_loader_and_registers_back(lab, tmp_path):
    #  a built-in model: the exported loader predicts what %predict does
    folder = tmp_path / "flowers-mlflow"
    ok(lab.run(f"%model export flowers:1 --format mlflow '{folder}'"))
    mlmodel = (folder / "MLmodel").read_text()
    assert "loader_module: workbench_mlflow" in mlmodel
    assert (folder / "code" / "workbench_mlflow.py").is_file()
    predicted = tmp_path / "predict.csv"
    ok(lab.run(f"%predict fit-flowers --data iris --output '{predicted}'"))
    with open(predicted, newline="") as f:
        expected = list(csv.DictReader(f))
    data = re.search(r"^\s+data: (\S+)$", mlmodel, re.M).group(1)
    script = ("import json, sys\n"
              "sys.path.insert(0, sys.argv[1] + '/code')\n"
              "import workbench_mlflow\n"
              "model = workbench_mlflow._load_pyfunc(sys.argv[1] + '/' + sys.argv[2])\n"
              "rows = json.load(sys.stdin)\n"
              "print(json.dumps({'predictions': [str(p) for p in model.predict(rows)],\n"
              "                  'probabilities': model.predict_proba(rows).tolist(),\n"
              "                  'classes': [str(c) for c in model.classes_]}))\n")
    columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    records = [{c: float(r[c]) for c in columns} for r in expected]
    done = subprocess.run([PYTHON, "-B", "-c", script, str(folder), data],
                          input=json.dumps(records), capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got["predictions"] == [r["prediction"] for r in expected]
    for probabilities, row in zip(got["probabilities"], expected):
        for cls, value in zip(got["classes"], probabilities):
            assert abs(value - float(row[f"probability_{cls}"])) < 1e-5

    #  the scikit-learn version, exported, is a run's output again (a job
    #  copies it), registers as flavor mlflow and serves the same answers
    ok(lab.run(f"%model export lr:1 --format mlflow '{lab.cwd / 'lr-mlflow'}'"))
    ok(lab.run("%%job --name carry-export\ncp -r lr-mlflow \"$WORKBENCH_OUTPUTS/\"\n",
               timeout=TIMEOUT * 2))
    run = ok(lab.run("%model register lr-back --run carry-export --path outputs/lr-mlflow",
                     timeout=TIMEOUT * 2))
    assert fields(run, "Model lr-back:1")["flavor"] == "mlflow"
    lab.deploy("lr-back --endpoint back --workers 1")
    case = lab.expected["lr"]
    status, answer, _ = post(lab.connect("back"), body_of(case),
                             target="/score?probabilities=true")
    assert status == 200, answer
    assert_same_answers(answer, case)


#  ---- Dynamic batching ----

def concurrently(port, bodies, target="/score"):
    """POST every body at once, each on its own connection, all sent as one
    (a barrier); [(status, answer)] in the order of bodies."""
    start = threading.Barrier(len(bodies))
    answers = [None] * len(bodies)

    def one(i):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        conn.connect()
        start.wait()
        answers[i] = post(conn, bodies[i], target=target)[:2]

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def batch_figures(lab, endpoint):
    """/metrics of a deployment blue: (calls to workers, rows sent, calls of
    one row, scorer errors)."""
    status, text = get(lab.connect(endpoint), "/metrics")
    assert status == 200
    labels = {"endpoint": endpoint, "deployment": "blue"}
    return (metric(text, "workbench_batch_rows_count", **labels),
            metric(text, "workbench_batch_rows_sum", **labels),
            metric(text, "workbench_batch_rows_bucket", **labels, le="1"),
            metric(text, "workbench_worker_errors_total", **labels, status="500"))


def test_concurrent_requests_batched_each_get_their_own_row(lab):
    lab.deploy("lr --endpoint batched --workers 1 --max-batch-rows 64 "
               "--max-batch-delay-ms 200")
    case = lab.expected["lr"]
    n = 32
    answers = concurrently(lab.ws.port("batched"),
                           [{"input_data": [case["rows"][i]]} for i in range(n)],
                           target="/score?probabilities=true")
    for i, (status, answer) in enumerate(answers):
        assert status == 200, answer
        assert answer["predictions"] == [case["predictions"][i]], i
        assert answer["probabilities"][0] == pytest.approx(case["probabilities"][i],
                                                           rel=0, abs=1e-9), i
    #  the worker was called fewer times than there were requests, some
    #  calls with more than one row
    calls, rows, single, _ = batch_figures(lab, "batched")
    assert rows == n
    assert calls < n and single < calls, (calls, single)


def test_a_request_that_raises_in_a_batch_fails_alone(lab):
    run = ok(lab.run("%model register batchy --run fit-own --path outputs/tricky "
                     "--scorer batchy.py", timeout=TIMEOUT * 2))
    assert fields(run, "Model batchy:1")["batching"].startswith("yes")
    lab.deploy("batchy --endpoint batchy --workers 1 --max-batch-delay-ms 200")
    n = 16
    answers = concurrently(lab.ws.port("batchy"),
                           [{"input_data": {"columns": ["x", "do"],
                                            "data": [[i, "raise" if i == 5 else "score"]]}}
                            for i in range(n)])
    for i, (status, answer) in enumerate(answers):
        if i == 5:
            assert status == 500 and "row 5 asks to fail" in answer["error"]["message"], answer
        else:
            assert (status, answer) == (200, {"predictions": [i + 1]}), i
    calls, rows, single, errors = batch_figures(lab, "batchy")
    assert errors == 1
    assert single < calls, (calls, single)      # a batch was sent, then each alone
    assert rows > n


def test_export_of_a_scoring_script_loads_as_it_is_served(lab, tmp_path):
    ok(lab.run("%model register carried --run fit-own --path outputs/tricky --scorer tricky.py",
               timeout=TIMEOUT * 2))
    lab.deploy("carried --endpoint carried --workers 1")
    status, answer, _ = call(lab.connect("carried"), 3)
    assert (status, answer) == (200, {"predictions": [4]})
    folder = tmp_path / "carried-mlflow"
    ok(lab.run(f"%model export carried:1 --format mlflow '{folder}'"))
    mlmodel = (folder / "MLmodel").read_text()
    assert "loader_module: workbench_scorer" in mlmodel
    data = re.search(r"^\s+data: (\S+)$", mlmodel, re.M).group(1)
    script = ("import json, sys\n"
              "sys.path.insert(0, sys.argv[1] + '/code')\n"
              "import workbench_scorer\n"
              "model = workbench_scorer._load_pyfunc(sys.argv[1] + '/' + sys.argv[2])\n"
              "print(json.dumps(model.predict([{'x': 3, 'do': 'score'}])))\n")
    done = subprocess.run([PYTHON, "-B", "-c", script, str(folder), data],
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [4]
