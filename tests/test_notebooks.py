"""The notebooks shipped in notebooks/, executed top to bottom with nbclient
on the workbench kernel, as a user opening them would."""

import os
import re
import shutil
import xml.etree.ElementTree as ET

import nbformat
import pytest
from nbclient import NotebookClient

from wbtest import ROOT, TIMEOUT, WORKBENCH_BIN, html_tables


@pytest.fixture(autouse=True)
def workbench_on_path(monkeypatch):
    """The tutorials call the terminal tool `workbench` from shell cells, as
    a user who installed it would: the binary under test goes first on the
    PATH the kernel (and so its shell session) inherits, then Debian's
    /usr/bin, whose python3 has the packages the tutorials' jobs import
    (scikit-learn, pandas), as it has on the Debian machine of the quick
    start (another python3 first on PATH may have none of them)."""
    monkeypatch.setenv("PATH", os.path.dirname(WORKBENCH_BIN) + os.pathsep + "/usr/bin"
                       + os.pathsep + os.environ.get("PATH", ""))


def run_notebook(name, tmp_path):
    """Execute a scratch copy of notebooks/NAME in a scratch folder; returns
    the executed notebook."""
    source = ROOT / "notebooks" / name
    assert source.is_file(), f"{source} is missing"
    work = tmp_path / "nb"
    work.mkdir()
    copy = work / name
    shutil.copyfile(source, copy)
    nb = nbformat.read(copy, as_version=4)
    client = NotebookClient(nb, kernel_name="workbench", timeout=int(TIMEOUT * 3),
                            resources={"metadata": {"path": str(work)}})
    client.execute()
    return nb


def outputs(nb):
    return [out for cell in nb.cells if cell.cell_type == "code"
            for out in cell.get("outputs", [])]


NOTEBOOKS = sorted({"00-hello.ipynb", "01-tracking.ipynb"}
                   | {p.name for p in (ROOT / "notebooks").glob("*.ipynb")})

#  What each notebook must show somewhere in its stream output.
EXPECTED = {"00-hello.ipynb": "hello", "01-tracking.ipynb": "logged 20 epochs"}


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs(tmp_path, name):
    nb = run_notebook(name, tmp_path)
    code_cells = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    assert code_cells, "the notebook has no code cell"
    #  only cells tagged raises-exception (which nbclient lets fail) may fail
    errors = [o for c in code_cells if "raises-exception" not in c.metadata.get("tags", [])
              for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == [], errors
    #  every code cell ran, in order
    counts = [c.execution_count for c in code_cells]
    assert None not in counts
    assert counts == sorted(counts)
    if name in EXPECTED:
        streams = "".join(o.get("text", "") for o in outputs(nb)
                          if o.output_type == "stream")
        assert EXPECTED[name] in streams.lower()


def test_tracking_tutorial_shows_tables_and_charts(tmp_path):
    nb = run_notebook("01-tracking.ipynb", tmp_path)
    cells = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in cells)
    assert not [o for c in cells for o in c.outputs if o.output_type == "error"]

    def outputs_of(source):
        (cell,) = [c for c in cells if c.source.strip() == source]
        return [o for o in cell.outputs if o.output_type == "display_data"]

    #  every display carries text/plain; tables add HTML
    for out in outputs(nb):
        if out.output_type == "display_data":
            assert "text/plain" in out.data
    (runs,) = outputs_of("%runs")
    assert "<table" in runs.data["text/html"]
    for name in ("first-try", "baseline", "shell-loop"):
        assert name in runs.data["text/html"]

    #  the filter kept the MLP runs, best first
    (found,) = [o for c in cells if c.source.startswith("%runs --filter")
                for o in c.outputs if o.output_type == "display_data"]
    plain = found.data["text/plain"]
    assert "baseline" not in plain
    assert plain.index("shell-loop") < plain.index("first-try")

    #  %show draws every metric twice: SVG and Vega-Lite
    charts = [o for o in outputs_of("%show shell-loop") if "image/svg+xml" in o.data]
    assert {o.data["text/plain"].splitlines()[0] for o in charts} == {"acc", "loss"}
    for chart in charts:
        ET.fromstring(chart.data["image/svg+xml"])
        spec = chart.data["application/vnd.vegalite.v5+json"]
        assert spec["$schema"].endswith("vega-lite/v5.json")
        #  the 20 epochs the shell loop logged through `workbench log`
        assert [v["x"] for v in spec["data"]["values"]] == list(range(1, 21))

    #  %compare marks what differs and overlays both runs
    table, *overlays = outputs_of("%compare first-try shell-loop")
    assert "≠" in table.data["text/html"]
    assert len(overlays) == 2
    domain = overlays[0].data["application/vnd.vegalite.v5+json"]["encoding"]["color"]["scale"]["domain"]
    assert [label.split(" ")[0] for label in domain] == ["first-try", "shell-loop"]

    #  the live card of the first run was updated in place to its final state
    (card,) = outputs_of("%run start --name first-try --tag purpose=tutorial")
    assert "completed" in card.data["text/plain"]
    assert "0.88" in card.data["text/plain"]

    #  cleaned up: no runs left
    (workspace,) = outputs_of("%workspace")
    assert re.search(r"^runs\s+0$", workspace.data["text/plain"], re.M)


def test_jobs_tutorial_runs_jobs_of_every_kind(tmp_path):
    nb = run_notebook("02-jobs.ipynb", tmp_path)
    cells = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in cells)

    def cell(start):
        (found,) = [c for c in cells if c.source.startswith(start)]
        return found

    def text(c):
        return "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "")
                       for o in c.outputs)

    #  the cells tagged raises-exception raised a JobError, and only they did
    failed = [c for c in cells if any(o.output_type == "error" for o in c.outputs)]
    tagged = [c for c in cells if "raises-exception" in c.metadata.get("tags", [])]
    assert failed == tagged and len(tagged) == 2
    errors = [o for c in tagged for o in c.outputs if o.output_type == "error"]
    assert [e.ename for e in errors] == ["JobError", "JobError"]
    assert "invalid float value: 'fast'" in errors[0].evalue
    assert "timed out" in errors[1].evalue

    #  the live display was updated in place to the job's final state
    (live,) = cell("%%job --name first").outputs
    assert live.output_type == "display_data"
    first = live.data["text/plain"]
    assert " · completed · " in first.splitlines()[0]
    assert "done: loss" in first and "2 artifacts" in first

    #  the snapshot, the outputs, the log
    shown = text(cell("%show first"))
    assert re.search(r"^snapshot\s+[0-9a-f]{64}$", shown, re.M)
    assert "outputs/model.json" in shown and "logs/output.log" in shown
    assert '"w": [' in text(cell("%artifacts first outputs/model.json"))

    #  params: substituted, in the environment, recorded and compared
    assert "learning rate from the environment: 0.05" in text(cell("%%job --name slow-lr"))
    compared = text(cell("%compare slow-lr fast-lr"))
    assert re.search(r"^≠\s+lr\s+0\.05\s+2$", compared, re.M)

    #  the shell script logged three ways, and finished as a job does
    bash = text(cell("%%job --name from-bash"))
    assert " · completed · " in bash.splitlines()[0]
    assert "evaluation finished" in bash and "1 artifact " in bash
    for metric in ("progress", "checks", "errors"):
        assert re.search(rf"^{metric}\s", bash, re.M), (metric, bash)
    assert "##metric" not in bash

    #  the background job: followed, waited for
    followed = text(cell("%job logs background --follow"))
    assert followed.startswith("epoch 0: ") and "done: loss" in followed
    assert " · completed · " in text(cell("%job wait background")).splitlines()[0]

    #  the queue of one: the second job waited for the first
    (computed,) = [o for c in cells if c.source.strip() == "%compute" for o in c.outputs]
    running, queued = map(int, re.search(r"^local\s+local\s+1\s+(\d+)\s+(\d+)$",
                                         computed.data["text/plain"], re.M).groups())
    assert running <= 1 and queued >= 1 and running + queued == 2

    #  what is left: every job ended, the folder holds what the notebook wrote
    runs = text(cell("%runs --experiment jobs-tutorial"))
    assert re.search(r"^9 runs$", runs, re.M)
    assert not re.search(r"\b(queued|starting|running)\b", runs)
    work = tmp_path / "nb"
    assert sorted(p.name for p in work.iterdir()) == \
        [".workbench", ".workbenchignore", "02-jobs.ipynb", "evaluate.sh", "train.py"]
    assert not list((work / ".workbench" / "jobs").glob("*"))


def test_training_tutorial_trains_compares_and_predicts(tmp_path):
    nb = run_notebook("03-train.ipynb", tmp_path)
    cells = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in cells)

    def cell(start):
        (found,) = [c for c in cells if c.source.startswith(start)]
        return found

    def displays(c):
        return [o for o in c.outputs if o.output_type == "display_data"]

    def text(c):
        return "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "")
                       for o in c.outputs)

    def heatmap(c):
        (found,) = [o for o in displays(c) if o.data["text/plain"].startswith("Confusion matrix")]
        ET.fromstring(found.data["image/svg+xml"])
        values = found.data["application/vnd.vegalite.v5+json"]["data"]["values"]
        return {(v["row"], v["col"]): v["value"] for v in values}

    #  only the cell tagged raises-exception failed: bad input, refused
    failed = [c for c in cells if any(o.output_type == "error" for o in c.outputs)]
    tagged = [c for c in cells if "raises-exception" in c.metadata.get("tags", [])]
    assert failed == tagged and len(tagged) == 1
    (error,) = [o for o in tagged[0].outputs if o.output_type == "error"]
    assert error.ename == "TrainError"
    assert "'species'" in error.evalue and "not numeric" in error.evalue

    #  the dataset: one version, the same content again is the same version
    assert "Registered iris version 1: 150 rows, 5 columns" in \
        text(cell("%data register iris ../tests/data/iris.csv --description"))
    (again,) = [c for c in cells
                if c.source.strip() == "%data register iris ../tests/data/iris.csv"]
    assert "no new version" in text(again)
    head, profile = displays(cell("%data show iris:1"))
    assert "iris version 1: first 5 of 150 rows" in head.data["text/html"]
    assert profile.data["text/html"].count("<svg") == 4        # a histogram per measurement

    #  the logistic regression: its live display ended completed, then the
    #  confusion matrix of the 30 validation rows
    live, _ = displays(cell("%%train --data iris --target species --model logistic"))
    first = live.data["text/plain"]
    assert " · completed · " in first.splitlines()[0]
    assert "] 100%" in first and "<svg" in live.data["text/html"]
    matrix = heatmap(cell("%%train --data iris --target species --model logistic"))
    assert sum(matrix.values()) == 30
    assert sum(v for (true, predicted), v in matrix.items() if true == predicted) >= 27
    shown = text(cell("%show logistic"))
    assert re.search(r"^input\s+dataset\s+iris\s+1$", shown, re.M)      # lineage
    assert "outputs/model.json" in shown and "outputs/confusion_matrix.json" in shown
    assert re.search(r"^accuracy\s+0\.9\d*\s", shown, re.M)

    #  the MLP took its hyperparameters from the body
    mlp = cell("%%train --data iris --target species --model mlp")
    assert " · completed · " in text(mlp).splitlines()[0]
    assert sum(heatmap(mlp).values()) == 30
    compared = text(cell("%compare logistic mlp"))
    assert re.search(r"^≠\s+model\s+logistic\s+mlp$", compared, re.M)
    assert re.search(r"^≠\s+hidden\s+16$", compared, re.M)

    #  %predict: a table of predictions, metrics and a matrix over all rows
    predict = cell("%predict logistic --data iris")
    table = displays(predict)[0]
    assert "<table" in table.data["text/html"]
    assert "Predictions of run " in table.data["text/html"]
    assert re.search(r"^\s*0\s+setosa\s+setosa\s+0\.\d+$", table.data["text/plain"], re.M)
    assert sum(heatmap(predict).values()) == 150
    assert "Wrote 150 predictions to predictions.csv" in text(predict)
    assert "prediction,\"probability_setosa\"" in text(cell("head -n 4 predictions.csv"))

    #  k-means: inertia logged; one cluster holds exactly the 50 setosa
    assert re.search(r"^inertia\s", text(cell("%%train --data iris --model kmeans")), re.M)
    counted = text(cell("tail -n +2 clusters.csv"))
    assert re.search(r'^\s*50 "setosa",\d$', counted, re.M), counted

    #  the bad input created no run; the files written were cleaned up
    assert re.search(r"^3 runs$", text(cell("%runs --experiment training-tutorial")), re.M)
    work = tmp_path / "nb"
    assert sorted(p.name for p in work.iterdir()) == [".workbench", "03-train.ipynb"]


def sweep_board(cell):
    """The leaderboard rows of a %%sweep cell's last picture, as dicts."""
    updates = [o for o in cell.outputs if o.output_type == "update_display_data"]
    data = updates[-1].data if updates else [
        o for o in cell.outputs if o.output_type == "display_data"][0].data
    found = [t for t in html_tables(data["text/html"]) if t["head"][:3] == ["#", "trial", "status"]]
    assert len(found) == 1, data["text/plain"]
    return [dict(zip(found[0]["head"], row)) for row in found[0]["rows"]]


def test_sweep_tutorial_tunes_stops_and_resumes(tmp_path):
    nb = run_notebook("04-sweep.ipynb", tmp_path)
    cells = {c.source.split("--name ")[1].split()[0]: c for c in nb.cells
             if c.cell_type == "code" and c.source.startswith("%%sweep")}
    assert set(cells) == {"digits-random", "iris-grid", "digits-tpe", "curves", "branin",
                          "misspelt", "later"}
    rows = sweep_board(cells["digits-random"])
    assert len(rows) == 8 and {r["status"] for r in rows} == {"completed"}
    assert float(rows[0]["val_accuracy"]) > 0.9
    assert sorted(r["l2"] for r in sweep_board(cells["iris-grid"])) == ["0.001", "0.1", "10"]
    # early termination stopped some trials, each with its reason and fewer epochs
    curves = sweep_board(cells["curves"])
    stopped = [r for r in curves if r["status"] == "stopped"]
    assert stopped and len(curves) == 10
    assert all(r["note"].startswith("stopped by bandit: ") and int(r["step"]) < 20 for r in stopped)
    assert float(sweep_board(cells["branin"])[0]["value"]) < 5
    errors = [o for o in cells["misspelt"].outputs if o.output_type == "error"]
    assert errors and "no trial completed with a value of accuracy" in errors[0].evalue
    later = [c for c in nb.cells if c.source.startswith("%sweep resume later")][0]
    assert {r["status"] for r in sweep_board(later)} <= {"completed", "canceled"}
    assert [b for b in later.outputs if b.output_type == "display_data"
            and b.data["text/plain"].startswith("Best trial: later-t")]


def cell_text(cell):
    """Everything a cell printed or displayed, as text."""
    parts = []
    for o in cell.get("outputs", []):
        if o.output_type == "stream":
            parts.append(o.text)
        elif o.output_type in ("display_data", "execute_result"):
            parts.append(o.data.get("text/plain", ""))
        elif o.output_type == "error":
            parts.append(f"{o.ename}: {o.evalue}")
    return "\n".join(parts)


def test_mlops_tutorial_tells_the_whole_story(tmp_path):
    nb = run_notebook("06-mlops.ipynb", tmp_path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    by_start = lambda start: [c for c in code if c.source.startswith(start)]
    assert "completed" in cell_text(by_start("%%train")[0]).splitlines()[0]
    board = sweep_board(by_start("%%sweep")[0])
    assert len(board) == 12
    assert {r["status"] for r in board} <= {"completed", "stopped"}
    picked = [c for c in code if "export BEST" in c.source][0]
    best = re.search(r"best trial: (\w{8})", cell_text(picked))
    assert best, cell_text(picked)
    # the trial registered is the one the sweep's card names best
    named = re.search(r"Best trial: \S+ \((\w{8})\)", cell_text(by_start("%%sweep")[0]))
    assert named and named.group(1) == best.group(1), cell_text(by_start("%%sweep")[0])
    assert "baseline" in cell_text(picked) and "≠" in cell_text(picked)
    assert "best MLP of sweep digits-mlp" in cell_text(by_start("%model show digits:2")[0])
    # the split: about 10% of 200 requests went to green
    split = [c for c in code if "uniq -c" in c.source][0]
    counts = {name: int(n) for n, name in re.findall(r"(\d+) (blue|green)", cell_text(split))}
    assert counts.get("blue", 0) + counts.get("green", 0) == 200, counts
    assert 5 <= counts.get("green", 0) <= 40, counts
    promoted = cell_text(by_start("%endpoint traffic digits blue=0 green=100")[0])
    assert "digits@production -> version 2" in promoted
    assert re.search(r"green\s+digits:2\s+mlp\s+100%", promoted)
    assert "0 endpoints" in cell_text(by_start("%endpoint delete digits")[0])


def test_own_model_tutorial_serves_and_batch_scores_the_jobs_model(tmp_path, monkeypatch):
    import csv
    import json
    import pickle
    import shlex
    import subprocess
    import time
    from pathlib import Path

    import pandas as pd
    import yaml

    #  The job's python3 and the Python the model is registered with need
    #  scikit-learn and pandas: Debian's, first after the binary under test
    #  (the python3 first on PATH elsewhere may be a bare interpreter)
    monkeypatch.setenv("PATH", os.pathsep.join([os.path.dirname(WORKBENCH_BIN), "/usr/bin",
                                                os.environ.get("PATH", "")]))
    nb = run_notebook("07-own-model.ipynb", tmp_path)
    work = tmp_path / "nb"
    ws = work / ".workbench"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code)
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    by_start = lambda start: [c for c in code if c.source.startswith(start)][0]

    def tool(*words):
        """The terminal tool on the notebook's workspace, as a user would ask."""
        return subprocess.run([WORKBENCH_BIN, *words], env=dict(os.environ, WORKBENCH_WORKSPACE=str(ws)),
                              capture_output=True, text=True, timeout=TIMEOUT, check=True).stdout

    #  the job trained the pipeline and logged its metric
    trained = cell_text(by_start("%%job --name churn-sklearn"))
    assert " · completed · " in trained.splitlines()[0]
    assert re.search(r"^val_accuracy\s+0\.[7-9]\d*\s", trained, re.M), trained
    own = [r["prediction"] for r in
           csv.DictReader(tool("artifacts", "churn-sklearn", "outputs/own_predictions.csv").splitlines())]
    with open(work / "customers.csv", newline="") as f:
        customers = list(csv.DictReader(f))
    assert len(own) == len(customers) == 400 and set(own) == {"no", "yes"}

    #  registered: the flavor was found, the pipeline's columns and classes are
    #  known, and Debian's Python loads it
    columns = ["tenure_months", "monthly_charges", "support_calls", "plan"]
    shown = cell_text(by_start("%model register churn"))
    assert re.search(r"^flavor\s+sklearn$", shown, re.M), shown
    assert re.search(r"^columns\s+" + re.escape(json.dumps(columns, separators=(",", ":"))) + "$",
                     shown, re.M), shown
    assert re.search(r'^classes\s+\["no","yes"\]$', shown, re.M), shown
    assert re.search(r"^python\s+/usr/bin/python3", shown, re.M), shown

    #  the endpoint's answer for the row sent is what the job's own model
    #  predicted for that row of the table
    assert "Serving churn:1 as deployment blue of endpoint churn" in \
        cell_text(by_start("%deploy churn:1 --endpoint churn"))
    invoke = by_start("%endpoint invoke churn")
    sent = json.loads(shlex.split(invoke.source)[3])["input_data"]
    assert sent["columns"] == columns
    (row,) = sent["data"]
    (index,) = [i for i, r in enumerate(customers) if [r[c] for c in columns] == [str(v) for v in row]]
    answer = json.loads(cell_text(invoke))
    assert answer["predictions"] == [own[index]]
    assert answer["classes"] == ["no", "yes"]
    (probabilities,) = answer["probabilities"]
    assert abs(sum(probabilities) - 1) < 1e-9
    assert answer["classes"][probabilities.index(max(probabilities))] == own[index]
    assert re.search(r"^Deployment blue: (\d+) of \1 Python workers serving, 0 restarts",
                     cell_text(by_start("%endpoint show churn")), re.M)

    #  the batch job: two workers, every row scored, the file a new dataset
    #  version whose every row has the job's own prediction
    batched = cell_text(by_start("%batch churn:1"))
    assert " · completed · " in batched.splitlines()[0], batched
    assert "400 rows in 4 mini-batches of 100, 2 at once" in batched
    assert "400 of 400 rows scored" in batched and "0 mini-batches failed" in batched
    assert "the predictions are dataset customers-scored:1" in batched
    assert "customers-scored version 1: first 5 of 400 rows" in \
        cell_text(by_start("%data show customers-scored"))
    table = tool("data", "show", "customers-scored:1", "--rows", "400").splitlines()
    assert table[0] == "customers-scored version 1: first 400 of 400 rows", table[0]
    (end,) = [i for i, line in enumerate(table) if line.startswith("customers-scored:1 (version 1")]
    head, rows = table[1].split(), [line.split() for line in table[3:end]]
    assert head == [*columns, "churned", "prediction", "probability_no", "probability_yes"]
    assert len(rows) == 400 and all(len(r) == len(head) for r in rows)
    assert [r[head.index("prediction")] for r in rows] == own

    #  the export: an MLflow folder whose MLmodel names a flavor other tools
    #  load, the signature names the columns, and its model predicts the same
    exported = work / "churn-mlflow"
    mlmodel = yaml.safe_load((exported / "MLmodel").read_text())
    flavors = mlmodel["flavors"]
    assert {"python_function", "sklearn"} & set(flavors), flavors
    assert "flavors:" in cell_text(by_start("%model export churn:1 churn-mlflow"))
    assert [c["name"] for c in json.loads(mlmodel["signature"]["inputs"])] == columns
    pickled = flavors["sklearn"]["pickled_model"] if "sklearn" in flavors \
        else flavors["python_function"]["model_path"]
    with open(exported / pickled, "rb") as f:
        model = pickle.load(f)
    assert list(model.predict(pd.DataFrame([row], columns=columns))) == [own[index]]

    #  deleted: no endpoint, and no process left of its server or workers
    #  (both name the workspace on their command line)
    assert "0 endpoints" in cell_text(by_start("%endpoint delete churn"))

    def left():
        found = []
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                words = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(str(ws).encode() in w for w in words):
                found.append((proc.name, b" ".join(words).decode(errors="replace")))
        return found
    deadline = time.monotonic() + TIMEOUT
    while left() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left() == []
