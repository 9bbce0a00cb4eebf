"""Built-in training as a user meets it through the kernel: datasets
(%data register|list|show), %%train for every model kind with its live
display, metrics, confusion matrix, artifacts, params and lineage; the
same seed giving the same model; bad input refused before anything runs;
interrupts; %predict; --no-wait.

Every test opens a workspace of its own (`%workspace PATH` as its first
cell), so runs and datasets of one test are never seen by another.
"""

import csv
import json
import random
import re
import sqlite3
import time

import pytest

import wbtest
from wbtest import html_tables
from wbtest import TESTS, TIME_FACTOR, TIMEOUT

DATA = TESTS / "data"
FINAL = ("completed", "failed", "canceled")
TRAIN_TIMEOUT = TIMEOUT * 3


#  ---- Reading what a front end shows ----

def tables(run):
    """The HTML tables of every display of an executed cell."""
    found = []
    for bundle in run.bundles("display_data"):
        found += html_tables(bundle.get("text/html", ""))
    return found


def table(run, caption):
    """The one table whose caption starts with caption, as a list of dicts."""
    found = [t for t in tables(run) if t["caption"].startswith(caption)]
    assert len(found) == 1, (caption, [t["caption"] for t in tables(run)])
    return [dict(zip(found[0]["head"], row)) for row in found[0]["rows"]]


def ok(run):
    assert run.status == "ok", run
    assert run.of_type("error") == [], run
    return run


def assert_error(run, ename, *in_evalue):
    """The reply and the one iopub error say ename; evalue holds each part."""
    assert run.status == "error", run
    assert run.content["ename"] == ename, run.content
    for part in in_evalue:
        assert part in run.content["evalue"], (part, run.content["evalue"])
    errors = run.of_type("error")
    assert len(errors) == 1, run
    assert errors[0]["content"]["ename"] == ename
    assert errors[0]["content"]["evalue"] == run.content["evalue"]


def display_id(msg):
    return msg["content"].get("transient", {}).get("display_id")


def run_id(run):
    """The run id of a %%train cell: from its live display, or from the
    'Submitted training ID' line of --no-wait."""
    found = re.search(r"Submitted training (\w+):", run.stdout)
    if found:
        return found.group(1)
    ids = {display_id(m) for m in run.of_type("display_data")} - {None}
    assert len(ids) == 1, run
    return ids.pop()[len("wb-job-"):]


def final_card(run):
    """The last state of a training cell's live display (its bundle)."""
    updates = run.of_type("update_display_data")
    assert updates, run
    return updates[-1]["content"]["data"]


def heatmaps(run):
    """The confusion-matrix displays of a cell."""
    return [b for b in run.bundles("display_data")
            if b["text/plain"].startswith("Confusion matrix")]


def heatmap_cells(bundle):
    """{(true, predicted): count} from a heatmap's Vega-Lite data."""
    values = bundle["application/vnd.vegalite.v5+json"]["data"]["values"]
    return {(v["row"], v["col"]): v["value"] for v in values}


def show(kernel, ref):
    """%show REF as a dict: fields, params, tags, metrics (rows by key),
    artifacts (paths), lineage rows, and the text it printed (the log
    tail)."""
    run = ok(kernel.execute(f"%show {ref}"))
    found = tables(run)
    fields = {row[0]: row[1] for t in found if t["caption"].startswith("Run ")
              and t["head"] == ["field", "value"] for row in t["rows"]}
    params = {r[0]: r[1] for t in found if t["caption"] == "Params" for r in t["rows"]}
    metrics = {}
    for t in found:
        if t["head"][:2] == ["metric", "latest"]:
            for row in t["rows"]:
                metrics[row[0]] = dict(zip(t["head"], row))
    artifacts = [r[0] for t in found if t["caption"] == "Artifacts" for r in t["rows"]]
    lineage = [dict(zip(t["head"], r)) for t in found if t["caption"] == "Lineage"
               for r in t["rows"]]
    return {"fields": fields, "params": params, "metrics": metrics,
            "artifacts": artifacts, "lineage": lineage, "text": run.stdout}


def count_of(kernel, cell, noun):
    """The N of the 'N runs' / 'N jobs' caption a listing cell draws."""
    captions = [t["caption"] for t in tables(ok(kernel.execute(cell)))]
    assert len(captions) == 1, captions
    found = re.match(rf"(\d+) {noun}s?$", captions[0])
    assert found, captions
    return int(found.group(1))


def run_count(kernel):
    """How many runs %runs --all lists."""
    return count_of(kernel, "%runs --all", "run")


def job_rows(ws):
    """How many jobs (runs submitted to a compute target) the store holds."""
    db = sqlite3.connect(f"file:{ws}/workspace.db?mode=ro", uri=True)
    try:
        return db.execute("SELECT count (*) FROM jobs").fetchone()[0]
    finally:
        db.close()


def artifact(kernel, rid, path, tmp_path):
    """The bytes of a run's artifact, copied out with %artifacts --to."""
    target = tmp_path / f"{rid}-{path.replace('/', '-')}"
    run = ok(kernel.execute(f"%artifacts {rid} {path} --to '{target}'"))
    assert f"Copied {path}" in run.stdout, run.stdout
    return target.read_bytes()


def stored_hash(ws, rid, path):
    """An artifact's content hash as the workspace records it."""
    db = sqlite3.connect(f"file:{ws}/workspace.db?mode=ro", uri=True)
    try:
        (found,) = db.execute(
            "SELECT a.hash FROM artifacts a JOIN runs r ON a.run = r.seq"
            " WHERE r.id = ? AND a.path = ?", (rid, path)).fetchall()
    finally:
        db.close()
    return found[0]


def start_cell(kernel, code):
    """Send an execute_request without waiting for it; its msg_id."""
    return kernel.send("execute_request", {
        "code": code, "silent": False, "store_history": True, "user_expressions": {},
        "allow_stdin": False, "stop_on_error": True})


def finish(kernel, msg_id, early, timeout=TIMEOUT):
    """The Exec of a cell whose first iopub messages (early) were already
    read while it ran."""
    rest = kernel.collect(msg_id, timeout)
    return wbtest.Exec(msg_id, rest.reply, early + rest.msgs)


def progress_percent(text):
    """The percentage of the progress bar in a card's text, or None."""
    found = re.search(r"^\[[#-]{30}\]\s+(\d+)%$", text, re.M)
    return int(found.group(1)) if found else None


def train(kernel, options, body="", timeout=TRAIN_TIMEOUT):
    """Run a %%train cell that must succeed; (Exec, run id)."""
    run = ok(kernel.execute(f"%%train {options}\n{body}", timeout=timeout))
    return run, run_id(run)


#  ---- Fixtures and data ----

@pytest.fixture
def ws(kernel, tmp_path):
    """The test's own workspace, open in the test's kernel."""
    path = tmp_path / "ws"
    ok(kernel.execute(f"%workspace '{path}'"))
    return path


@pytest.fixture
def iris(kernel, ws):
    """Dataset iris (version 1) registered from tests/data/iris.csv."""
    run = ok(kernel.execute(f"%data register iris '{DATA / 'iris.csv'}'"))
    assert "Registered iris version 1: 150 rows, 5 columns" in run.stdout
    return "iris"


def write_linear_csv(path, rows=200, seed=5):
    """A clean regression table: y = 2 x1 - 0.5 x2 + a colour's offset +
    a little noise; no missing values."""
    rng = random.Random(seed)
    offset = {"red": 1.0, "green": -1.0, "blue": 3.0}
    with open(path, "w") as f:
        f.write("x1,x2,color,y\n")
        for _ in range(rows):
            x1, x2 = rng.uniform(-3, 3), rng.uniform(0, 10)
            color = rng.choice(sorted(offset))
            y = 2 * x1 - 0.5 * x2 + offset[color] + rng.gauss(0, 0.1)
            f.write(f"{x1:.4f},{x2:.4f},{color},{y:.4f}\n")


def write_binary_csv(path, rows=120, seed=3):
    """Two well separated classes, 'pass' and 'fail', in two features."""
    rng = random.Random(seed)
    with open(path, "w") as f:
        f.write("hours,score,result\n")
        for i in range(rows):
            good = i % 2 == 0
            hours = rng.gauss(6 if good else 2, 1)
            score = rng.gauss(70 if good else 45, 8)
            f.write(f"{hours:.3f},{score:.2f},{'pass' if good else 'fail'}\n")


def register(kernel, name, path):
    run = ok(kernel.execute(f"%data register {name} '{path}'"))
    assert re.search(rf"^Registered {name} version \d+", run.stdout, re.M), run.stdout
    return run


#  ---- Datasets ----

def test_register_a_quoted_crlf_file_with_a_bom_and_versions(kernel, ws, tmp_path):
    source = DATA / "bom_crlf_quoted.csv"
    run = ok(kernel.execute(f"%data register places '{source}'"))
    assert run.stdout == "Registered places version 1: 3 rows, 3 columns\n"
    (profile,) = run.bundles()
    assert profile["text/plain"].startswith("places:1 (version 1 of 1): 3 rows × 3 columns")

    #  the BOM is not part of the first name; the quoted comma, the quotes
    #  and the CRLF inside a field are read as data; NA and empty are missing
    rows = table(ok(kernel.execute("%data show places")), "places version 1: first 3 of 3 rows")
    assert [list(r) for r in rows][0] == ["city", "population, 2020", "note"]
    assert [r["city"] for r in rows] == ["Zürich", "Bern", "Genève"]
    assert [r["population, 2020"] for r in rows] == ["421878", "", "203856"]
    assert rows[0]["note"].startswith("lake") and rows[0]["note"].endswith('and "old town"')
    assert rows[2]["note"] == "UN, WTO"
    profile = {r[0]: r for t in tables(ok(kernel.execute("%data show places --rows 0")))
               for r in t["rows"]}
    assert profile["population, 2020"][1:3] == ["numeric", "1"]      # type, missing
    assert profile["note"][1:3] == ["categorical", "1"]

    #  the same content again: the same version, and it says so
    run = ok(kernel.execute(f"%data register places '{source}'"))
    assert run.stdout == ("places version 1 has this content already "
                          "(3 rows, 3 columns): no new version\n")

    #  new content (one more row): version 2; the old one is kept
    changed = tmp_path / "places.csv"
    changed.write_bytes(source.read_bytes() + "Basel,177595,Rhine\r\n".encode())
    run = ok(kernel.execute(f"%data register places '{changed}' --description 'with Basel'"))
    assert run.stdout == "Registered places version 2: 4 rows, 3 columns\n"
    (listed,) = table(ok(kernel.execute("%data list")), "Datasets")
    assert (listed["name"], listed["version"], listed["versions"], listed["rows"],
            listed["description"]) == ("places", "2", "2", "4", "with Basel")
    assert len(table(ok(kernel.execute("%data show places:1")), "places version 1")) == 3
    assert len(table(ok(kernel.execute("%data show places")), "places version 2")) == 4


def test_broken_files_are_refused_with_line_and_column(kernel, ws):
    for name, where in (("broken_unclosed_quote.csv", "line 3, column 7"),
                        ("broken_ragged.csv", "line 4, column 16")):
        run = kernel.execute(f"%data register broken '{DATA / name}'")
        assert_error(run, "DataError", name, where)
        assert run.of_type("display_data") == []
    run = ok(kernel.execute("%data list"))
    assert tables(run)[0]["rows"] == []
    assert "No datasets yet" in run.bundles()[0]["text/plain"]
    assert_error(kernel.execute("%data show broken"), "DataError", "no dataset named 'broken'")

    #  a broken file under a registered name changes nothing
    register(kernel, "iris", DATA / "iris.csv")
    assert_error(kernel.execute(f"%data register iris '{DATA / 'broken_ragged.csv'}'"),
                 "DataError", "line 4, column 16")
    (listed,) = table(ok(kernel.execute("%data list")), "Datasets")
    assert (listed["name"], listed["version"], listed["versions"], listed["rows"]) == \
        ("iris", "1", "1", "150")


def test_data_show_draws_the_first_rows_and_a_profile(kernel, iris):
    run = ok(kernel.execute("%data show iris"))
    head, profile = run.bundles()
    rows = table(run, "iris version 1: first 10 of 150 rows")
    assert len(rows) == 10
    assert list(rows[0]) == ["sepal_length", "sepal_width", "petal_length", "petal_width",
                             "species"]
    assert rows[0] == {"sepal_length": "5.1", "sepal_width": "3.5", "petal_length": "1.4",
                       "petal_width": "0.2", "species": "setosa"}
    assert "<table" in head["text/html"]
    #  the profile: a row per column, a histogram (inline SVG) per numeric one
    assert profile["text/plain"].startswith("iris:1 (version 1 of 1): 150 rows × 5 columns")
    assert profile["text/html"].count("<svg") == 4
    by_column = {r[0]: r for t in html_tables(profile["text/html"]) for r in t["rows"]}
    assert by_column["species"][1] == "categorical"
    assert "setosa" in by_column["species"][-1]
    assert by_column["petal_length"][1] == "numeric"
    assert [by_column["petal_length"][i] for i in (4, 5)] == ["1", "6.9"]   # min, max

    run = ok(kernel.execute("%data show iris:1 --rows 3"))
    assert len(table(run, "iris version 1: first 3 of 150 rows")) == 3
    assert_error(kernel.execute("%data show iris:2"), "DataError",
                 "'iris' has no version 2", "its versions are 1")
    assert_error(kernel.execute("%data show iris --rows many"), "UsageError", "--rows")
    assert_error(kernel.execute("%data show"), "UsageError", "NAME[:VERSION]")


#  ---- %%train, kind by kind ----

def test_logistic_on_iris_live_display_metrics_artifacts_lineage(kernel, iris, tmp_path):
    run, rid = train(kernel, "--data iris --target species --model logistic --name lr --seed 1")

    #  the live display: one display_data with the run's display id, then
    #  updates of it; the final state has the progress bar, metrics, charts
    cards = [m for m in run.msgs if m["msg_type"] in ("display_data", "update_display_data")
             and display_id(m)]
    assert cards[0]["msg_type"] == "display_data"
    assert {display_id(m) for m in cards} == {f"wb-job-{rid}"}
    assert len(cards) >= 2
    assert all(m["msg_type"] == "update_display_data" for m in cards[1:])
    final = final_card(run)
    first_line = final["text/plain"].splitlines()[0]
    assert first_line.startswith(f"Job lr ({rid}) · completed"), first_line
    assert progress_percent(final["text/plain"]) == 100
    assert "100%" in final["text/html"]
    assert "<svg" in final["text/html"]                         # loss curves
    assert re.search(r"^accuracy\s", final["text/plain"], re.M)
    assert "training logistic on species" in final["text/plain"]     # the log tail

    #  then the confusion matrix of the validation rows, as SVG and Vega-Lite
    (heat,) = heatmaps(run)
    assert heat["text/plain"].startswith("Confusion matrix (validation rows)")
    assert heat["image/svg+xml"].lstrip().startswith("<svg")
    cells = heatmap_cells(heat)
    labels = ["setosa", "versicolor", "virginica"]
    assert sorted(cells) == sorted((a, b) for a in labels for b in labels)
    assert sum(cells.values()) == 30                            # 20% of 150, stratified
    assert sum(cells[(c, c)] for c in labels) >= 27
    #  and it comes after the last update of the card
    order = [m["msg_type"] if display_id(m) else "heatmap" for m in run.outputs
             if m["msg_type"] in ("display_data", "update_display_data")]
    assert order[-1] == "heatmap" and order.count("heatmap") == 1, order

    got = show(kernel, rid)
    assert got["fields"]["status"] == "completed"
    assert got["fields"]["kind"] == "train"
    params = got["params"]
    assert (params["model"], params["target"], params["data"], params["seed"]) == \
        ("logistic", "species", "iris:1", "1")
    #  the hyperparameters used, defaults filled in
    assert float(params["l2"]) == 1.0 and params["max_iter"] == "100"
    metrics = got["metrics"]
    assert float(metrics["accuracy"]["latest"]) >= 0.9
    for key in ("precision", "recall", "f1", "log_loss", "val_loss", "val_accuracy"):
        assert key in metrics, key
    assert int(metrics["loss"]["points"]) > 1
    assert metrics["loss"]["points"] == metrics["val_loss"]["points"]
    assert float(metrics["progress"]["latest"]) == 1
    assert got["lineage"] == [{"direction": "input", "kind": "dataset", "name": "iris",
                               "version": "1"}]
    assert sorted(got["artifacts"]) == ["logs/output.log", "outputs/confusion_matrix.json",
                                        "outputs/model.json"]

    #  the model file and the confusion matrix
    model = json.loads(artifact(kernel, rid, "outputs/model.json", tmp_path))
    assert model["format"] == "workbench-model" and model["version"] == 1
    assert (model["kind"], model["task"]) == ("logistic", "classification")
    assert model["target"]["name"] == "species"
    assert model["classes"] == labels
    assert [f["name"] for f in model["features"]] == \
        ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert model["layers"][-1]["activation"] == "softmax"      # multinomial
    assert len(model["layers"][-1]["bias"]) == 3
    assert model["training"]["rows"] == 120 and model["training"]["valid_rows"] == 30
    assert model["metrics"]["accuracy"] == pytest.approx(float(metrics["accuracy"]["latest"]),
                                                         rel=1e-5)
    confusion = json.loads(artifact(kernel, rid, "outputs/confusion_matrix.json", tmp_path))
    assert confusion["labels"] == labels
    assert {(labels[i], labels[j]): confusion["matrix"][i][j]
            for i in range(3) for j in range(3)} == cells

    #  the run is found by its metrics
    rows = table(ok(kernel.execute('%runs --filter "metrics.accuracy >= 0.9"')), "1 run")
    assert [r["id"] for r in rows] == [rid]
    assert table(ok(kernel.execute('%runs --filter "metrics.accuracy > 0.999"')), "0 runs") == []


def test_binary_logistic_with_params_from_flags(kernel, ws, tmp_path):
    path = kernel.cwd / "exam.csv"
    write_binary_csv(path)
    register(kernel, "exam", path)
    run, rid = train(kernel, "--data exam --target result --model logistic --name exam "
                             "--param l2=0.5 --validation 0.25")
    got = show(kernel, rid)
    assert got["params"]["l2"] == "0.5"
    assert got["params"]["validation"] == "0.25"
    metrics = got["metrics"]
    assert float(metrics["accuracy"]["latest"]) >= 0.9
    assert float(metrics["roc_auc"]["latest"]) >= 0.95           # binary only
    model = json.loads(artifact(kernel, rid, "outputs/model.json", tmp_path))
    assert model["classes"] == ["fail", "pass"]
    assert model["layers"][-1]["activation"] == "sigmoid"
    assert len(model["layers"][-1]["bias"]) == 1
    assert model["training"]["valid_rows"] == 30
    (heat,) = heatmaps(run)
    assert sum(heatmap_cells(heat).values()) == 30


def test_linear_regression_on_clean_data(kernel, ws, tmp_path):
    path = kernel.cwd / "linear.csv"
    write_linear_csv(path)
    register(kernel, "linear", path)
    run, rid = train(kernel, "--data linear --target y --model linear --name ols")
    final = final_card(run)
    assert " · completed" in final["text/plain"].splitlines()[0]
    assert progress_percent(final["text/plain"]) == 100
    assert heatmaps(run) == []                                  # no classes, no matrix
    got = show(kernel, rid)
    assert (got["params"]["model"], got["params"]["target"], got["params"]["data"]) == \
        ("linear", "y", "linear:1")
    metrics = got["metrics"]
    assert float(metrics["r2"]["latest"]) > 0.99
    assert float(metrics["val_r2"]["latest"]) > 0.99
    assert float(metrics["rmse"]["latest"]) < 0.2
    assert "mae" in metrics and "accuracy" not in metrics
    assert sorted(got["artifacts"]) == ["logs/output.log", "outputs/model.json"]
    model = json.loads(artifact(kernel, rid, "outputs/model.json", tmp_path))
    assert (model["format"], model["kind"], model["task"]) == \
        ("workbench-model", "linear", "regression")
    assert model["classes"] == []
    features = {f["name"]: f for f in model["features"]}
    assert features["color"]["type"] == "categorical"
    assert features["color"]["categories"] == ["blue", "green", "red"]
    assert model["inputs"] == 5                                 # x1, x2, three colours
    assert model["layers"][0]["activation"] == "identity"

    #  %predict of a regressor: numbers, and rmse/mae/r2 against the truth
    run = ok(kernel.execute("%predict ols --data linear"))
    rows = table(run, f"Predictions of run {rid} (linear) for linear:1, first 10 of 200 rows")
    assert list(rows[0]) == ["row", "y", "prediction"]
    for row in rows:
        assert float(row["prediction"]) == pytest.approx(float(row["y"]), abs=0.5)
    scores = {r["metric"]: float(r["value"]) for r in table(run, "Metrics")}
    assert scores["r2"] > 0.99 and scores["rows"] == 200
    assert heatmaps(run) == []


def test_mlp_classifier_with_hyperparameters_in_the_body(kernel, iris, tmp_path):
    body = ("# one small hidden layer\n"
            "hidden = 16\n"
            "epochs = 100     # passes over the rows\n"
            "\n"
            "learning_rate = 0.01\n")
    run, rid = train(kernel, "--data iris --target species --model mlp --name mlp", body)
    final = final_card(run)
    assert " · completed" in final["text/plain"].splitlines()[0]
    assert progress_percent(final["text/plain"]) == 100
    assert "<svg" in final["text/html"]
    (heat,) = heatmaps(run)
    assert "application/vnd.vegalite.v5+json" in heat and "image/svg+xml" in heat
    got = show(kernel, rid)
    params = got["params"]
    assert (params["hidden"], params["epochs"], params["learning_rate"]) == ("16", "100", "0.01")
    assert params["task"] == "classification"
    metrics = got["metrics"]
    assert float(metrics["accuracy"]["latest"]) >= 0.9
    model = json.loads(artifact(kernel, rid, "outputs/model.json", tmp_path))
    assert (model["kind"], model["task"]) == ("mlp", "classification")
    assert [layer["activation"] for layer in model["layers"]] == ["relu", "softmax"]
    assert len(model["layers"][0]["bias"]) == 16
    assert len(model["layers"][0]["weights"]) == model["inputs"] == 4
    steps = model["training"]["steps"]
    assert 1 <= steps <= 100
    assert int(metrics["loss"]["points"]) == steps
    assert "outputs/confusion_matrix.json" in got["artifacts"]


def test_mlp_regressor(kernel, ws, tmp_path):
    path = kernel.cwd / "linear.csv"
    write_linear_csv(path)
    register(kernel, "linear", path)
    run, rid = train(kernel, "--data linear --target y --model mlp --name mlp-reg",
                     "hidden = 16\nepochs = 100\nlearning_rate = 0.01")
    assert heatmaps(run) == []
    got = show(kernel, rid)
    assert got["params"]["task"] == "regression"
    metrics = got["metrics"]
    assert float(metrics["r2"]["latest"]) > 0.9
    assert "val_rmse" in metrics and int(metrics["loss"]["points"]) > 1
    assert "outputs/confusion_matrix.json" not in got["artifacts"]
    model = json.loads(artifact(kernel, rid, "outputs/model.json", tmp_path))
    assert (model["kind"], model["task"]) == ("mlp", "regression")
    assert [layer["activation"] for layer in model["layers"]] == ["relu", "identity"]
    assert "mean" in model["target"] and "std" in model["target"]


def test_kmeans_without_a_target(kernel, iris, tmp_path):
    run, rid = train(kernel, "--data iris --model kmeans --name km --seed 2",
                     "k = 3\nfeatures = sepal_length,sepal_width,petal_length,petal_width")
    final = final_card(run)
    assert " · completed" in final["text/plain"].splitlines()[0]
    assert re.search(r"^inertia\s", final["text/plain"], re.M)
    assert heatmaps(run) == []
    got = show(kernel, rid)
    assert got["params"]["k"] == "3" and got["params"]["model"] == "kmeans"
    assert "target" not in got["params"]
    inertia = got["metrics"]["inertia"]
    assert int(inertia["points"]) >= 2
    assert float(inertia["latest"]) == pytest.approx(float(inertia["min"]))
    assert float(inertia["latest"]) < float(inertia["max"])
    assert got["lineage"][0]["name"] == "iris"
    model = json.loads(artifact(kernel, rid, "outputs/model.json", tmp_path))
    assert (model["kind"], model["task"], model["target"]) == ("kmeans", "clustering", None)
    assert len(model["centers"]) == 3 and all(len(c) == 4 for c in model["centers"])
    assert model["layers"] == []

    #  %predict gives clusters and the inertia of the table
    run = ok(kernel.execute("%predict km --data iris"))
    rows = table(run, f"Predictions of run {rid} (kmeans)")
    assert list(rows[0]) == ["row", "cluster"]
    assert {r["cluster"] for r in rows} <= {"0", "1", "2"}
    scores = {r["metric"]: float(r["value"]) for r in table(run, "Metrics")}
    assert scores["inertia"] == pytest.approx(float(inertia["latest"]), rel=1e-4)


#  ---- Determinism ----

def test_same_seed_gives_the_same_model_bit_for_bit(kernel, iris, tmp_path, ws):
    body = "hidden = 16\nepochs = 30\nlearning_rate = 0.01"
    ids = [train(kernel, f"--data iris --target species --model mlp --seed {seed} --name s{i}",
                 body)[1] for i, seed in enumerate((7, 7, 8))]
    first, again, other = (artifact(kernel, rid, "outputs/model.json", tmp_path) for rid in ids)
    assert first == again
    assert first != other
    hashes = [stored_hash(ws, rid, "outputs/model.json") for rid in ids]
    assert hashes[0] == hashes[1] != hashes[2]
    #  %artifacts shows the same hash for both
    shown = [{r["path"]: r["sha256"] for r in
              table(ok(kernel.execute(f"%artifacts {rid}")), f"Artifacts of run {rid}")}
             for rid in ids[:2]]
    assert shown[0]["outputs/model.json"] == shown[1]["outputs/model.json"]
    assert hashes[0].startswith(shown[0]["outputs/model.json"])


#  ---- Bad input: refused before anything runs ----

def test_bad_input_is_refused_before_any_run(kernel, iris, ws):
    one_class = kernel.cwd / "one_class.csv"
    one_class.write_text("a,b,label\n" + "".join(f"{i},{i * 2},yes\n" for i in range(20)))
    register(kernel, "one", one_class)
    register(kernel, "housing", DATA / "regression.csv")
    train(kernel, "--data iris --target species --model logistic --name good")
    assert (run_count(kernel), job_rows(ws)) == (1, 1)

    logistic = "--data iris --target species --model logistic"
    cases = [
        ("--data iris --target nosuch --model logistic", "",
         "TrainError", ["unknown column 'nosuch'", "sepal_length"]),
        ("--data one --target label --model logistic", "",
         "TrainError", ["'label'", "single class"]),
        ("--data iris --target species --model linear", "",
         "TrainError", ["'species'", "not numeric"]),
        ("--data housing --target price --model linear", "",
         "TrainError", ["'age_years'", "6 missing values", "row 20"]),
        ("--data iris --target species --model mlp", "epochs = -3",
         "TrainError", ["epochs=-3", "out of range"]),
        ("--data iris --target species --model mlp", "hidden = 0",
         "TrainError", ["hidden=0", "out of range"]),
        ("--data iris --target species --model mlp", "learning_rate = fast",
         "TrainError", ["learning_rate=fast"]),
        ("--data iris --target species --model forest", "",
         "TrainError", ["unknown model kind 'forest'", "linear, logistic, mlp or kmeans"]),
        (logistic, "depth = 3",
         "TrainError", ["unknown parameter 'depth'"]),
        (logistic, "features = petal_length,nosuch",
         "TrainError", ["unknown column 'nosuch'"]),
        ("--data iris --model kmeans", "k = 200",
         "TrainError", ["k=200", "150"]),
        ("--target species --model logistic", "",
         "UsageError", ["--data"]),
        ("--data iris --target species", "",
         "UsageError", ["--model"]),
        ("--data iris --model logistic", "",
         "UsageError", ["--target"]),
        (logistic, "l2 = 0.5\nthis is not a parameter",
         "UsageError", ["line 2 of the body", "'this is not a parameter'", "name = value"]),
        (logistic + " --param l2=1", "l2 = 2",
         "UsageError", ["'l2' is given twice"]),
        (logistic + " --validation 2", "",
         "UsageError", ["--validation"]),
        (logistic + " --seed -1", "",
         "UsageError", ["--seed"]),
        (logistic + " max_iter=5", "",
         "UsageError", ["unexpected 'max_iter=5'"]),
        ("--data iris:7 --target species --model logistic", "",
         "DataError", ["'iris' has no version 7", "its versions are 1"]),
        ("--data nosuch --target species --model logistic", "",
         "DataError", ["no dataset named 'nosuch'"]),
    ]
    for options, body, ename, parts in cases:
        run = kernel.execute(f"%%train {options}\n{body}")
        assert_error(run, ename, *parts)
        #  no live display: nothing was submitted
        assert run.of_type("display_data") == [], (options, body)
        assert run.of_type("update_display_data") == [], (options, body)
    assert (run_count(kernel), job_rows(ws)) == (1, 1)
    rows = table(ok(kernel.execute("%runs --all")), "1 run")
    assert [r["name"] for r in rows] == ["good"]


#  ---- Interrupts ----

LONG_TRAINING = ("%%train --data digits --target digit --model mlp --name long\n"
                 "hidden = 256,256\nepochs = 100000\npatience = 0")


def loss_drawn(msgs):
    """An iopub condition: the live card shows a loss (training started)."""
    return wbtest.is_idle(msgs) or any(
        re.search(r"^loss\s", m["content"]["data"]["text/plain"], re.M)
        for m in msgs if m["msg_type"] == "update_display_data")


def interrupt_long_training(kernel):
    """Start a training that would take minutes, interrupt it once it has
    logged a loss; (Exec of the cell, run id, seconds the stop took)."""
    register(kernel, "digits", DATA / "digits.csv")
    msg_id = start_cell(kernel, LONG_TRAINING)
    early = kernel.iopub(msg_id, until=loss_drawn, timeout=TRAIN_TIMEOUT)
    rid = display_id([m for m in early if m["msg_type"] == "display_data"][0])[len("wb-job-"):]
    try:
        assert not wbtest.is_idle(early), "the training ended before it was interrupted"
        time.sleep(0.3)
        t0 = time.monotonic()
        kernel.km.interrupt_kernel()
        run = finish(kernel, msg_id, early, timeout=TRAIN_TIMEOUT)
        took = time.monotonic() - t0
    finally:
        if show(kernel, rid)["fields"]["status"] not in FINAL:
            kernel.execute(f"%job cancel {rid}")
            kernel.execute(f"%job wait {rid}", timeout=TRAIN_TIMEOUT)
    return run, rid, took


def test_interrupt_cancels_training_and_keeps_what_it_has(kernel, ws, tmp_path):
    run, rid, took = interrupt_long_training(kernel)
    assert took < 5 * TIME_FACTOR, took
    assert_error(run, "Interrupted", rid)
    final = final_card(run)
    assert " · canceled" in final["text/plain"].splitlines()[0]
    got = show(kernel, rid)
    assert got["fields"]["status"] == "canceled"
    #  the metrics so far are kept, and the model so far (wb_train writes
    #  it when training is stopped)
    loss = got["metrics"]["loss"]
    assert int(loss["points"]) >= 1
    assert "outputs/model.json" in got["artifacts"]
    model = json.loads(artifact(kernel, rid, "outputs/model.json", tmp_path))
    assert model["format"] == "workbench-model"
    assert model["training"]["stop"] == "interrupted"
    assert 1 <= model["training"]["steps"] < 100000
    assert int(loss["points"]) == model["training"]["steps"]
    assert "stopped early" in got["text"]
    #  the kernel goes on
    assert ok(kernel.execute("echo alive")).stdout == "alive\n"


#  ---- %predict ----

def test_predict_a_table_metrics_matrix_and_a_csv(kernel, iris, tmp_path):
    _, rid = train(kernel, "--data iris --target species --model logistic --name lr --seed 1")
    run = ok(kernel.execute("%predict lr --data iris"))
    rows = table(run, f"Predictions of run {rid} (logistic) for iris:1, first 10 of 150 rows")
    assert len(rows) == 10
    assert list(rows[0]) == ["row", "species", "prediction", "probability"]
    assert [r["row"] for r in rows] == [str(i) for i in range(10)]
    assert all(r["prediction"] == r["species"] == "setosa" for r in rows)
    assert all(0.34 < float(r["probability"]) <= 1 for r in rows)
    #  the target is in the table: metrics and a confusion matrix of every row
    scores = {r["metric"]: float(r["value"]) for r in table(run, "Metrics")}
    assert scores["rows"] == 150 and scores["accuracy"] >= 0.9
    assert {"precision", "recall", "f1", "log_loss"} <= set(scores)
    (heat,) = heatmaps(run)
    assert "image/svg+xml" in heat and "application/vnd.vegalite.v5+json" in heat
    cells = heatmap_cells(heat)
    assert sum(cells.values()) == 150
    correct = sum(v for (a, b), v in cells.items() if a == b)
    assert correct / 150 == pytest.approx(scores["accuracy"], abs=1e-4)

    #  --output: the rows with a prediction and a probability per class
    run = ok(kernel.execute("%predict lr --data iris --output predictions.csv"))
    assert "Wrote 150 predictions to predictions.csv" in run.stdout
    with open(kernel.cwd / "predictions.csv", newline="") as f:
        written = list(csv.DictReader(f))
    assert len(written) == 150
    classes = ["setosa", "versicolor", "virginica"]
    assert list(written[0]) == ["sepal_length", "sepal_width", "petal_length", "petal_width",
                                "species", "prediction"] + [f"probability_{c}" for c in classes]
    for row in written:
        probabilities = [float(row[f"probability_{c}"]) for c in classes]
        assert sum(probabilities) == pytest.approx(1, abs=1e-4)
        assert row["prediction"] == classes[probabilities.index(max(probabilities))]
    assert [r["prediction"] for r in written[:10]] == [r["prediction"] for r in rows]
    assert sum(r["prediction"] == r["species"] for r in written) / 150 == \
        pytest.approx(scores["accuracy"])

    #  a table without the target: predictions only
    unlabeled = kernel.cwd / "unlabeled.csv"
    with open(DATA / "iris.csv") as f:
        unlabeled.write_text("".join(",".join(line.split(",")[:4]) + "\n"
                                     for line in f.read().splitlines()))
    register(kernel, "unlabeled", unlabeled)
    run = ok(kernel.execute("%predict lr --data unlabeled"))
    rows = table(run, f"Predictions of run {rid} (logistic) for unlabeled:1")
    assert list(rows[0]) == ["row", "prediction", "probability"]
    assert len(run.bundles()) == 1 and heatmaps(run) == []


def test_predict_never_loads_openblas_into_the_kernel(kernel, iris):
    """%predict scores with the scorer's plain loops: OpenBLAS, which the
    training jobs load, is never mapped into the kernel process."""
    def maps():
        with open(f"/proc/{kernel.pid}/maps") as f:
            return f.read()
    for kind, target in (("mlp", "--target species"), ("logistic", "--target species"),
                         ("kmeans", "")):
        body = "hidden = 8\nepochs = 5" if kind == "mlp" else ""
        train(kernel, f"--data iris {target} --model {kind} --name blas-{kind}", body)
        run = ok(kernel.execute(f"%predict blas-{kind} --data iris"))
        assert table(run, "Metrics")
    assert "libopenblas" not in maps() and "libblas" not in maps()


def test_predict_errors(kernel, iris):
    ok(kernel.execute("%%job --name plain --no-code\necho no model here"))
    assert_error(kernel.execute("%predict plain --data iris"), "ModelError",
                 "has no model (outputs/model.json)", "%%train")
    assert_error(kernel.execute("%predict nosuch --data iris"), "ModelError", "'nosuch'")
    assert_error(kernel.execute("%predict plain"), "UsageError", "--data")
    _, rid = train(kernel, "--data iris --target species --model logistic --name lr")
    assert_error(kernel.execute("%predict lr --data nosuch"), "DataError",
                 "no dataset named 'nosuch'")
    partial = kernel.cwd / "partial.csv"
    with open(DATA / "iris.csv") as f:
        partial.write_text("".join(",".join(line.split(",")[:3]) + "\n"
                                   for line in f.read().splitlines()))
    register(kernel, "partial", partial)
    assert_error(kernel.execute("%predict lr --data partial"), "ModelError", "'petal_width'")
    assert not (kernel.cwd / "nowhere").exists()
    assert_error(kernel.execute("%predict lr --data iris --output nowhere/out.csv"),
                 "OSError", "nowhere/out.csv")


#  ---- --no-wait ----

def test_no_wait_then_job_wait(kernel, iris):
    run = ok(kernel.execute("%%train --data iris --target species --model logistic "
                            "--name background --no-wait"))
    rid = run_id(run)
    assert f"%job wait {rid}" in run.stdout
    assert run.of_type("display_data") == []
    run = ok(kernel.execute(f"%job wait {rid}", timeout=TRAIN_TIMEOUT))
    (card,) = [m for m in run.of_type("display_data") if display_id(m)]
    assert display_id(card) == f"wb-job-{rid}"
    assert " · completed" in final_card(run)["text/plain"].splitlines()[0]
    (heat,) = heatmaps(run)
    assert sum(heatmap_cells(heat).values()) == 30
    got = show(kernel, rid)
    assert got["fields"]["status"] == "completed"
    assert "outputs/model.json" in got["artifacts"]
    assert ok(kernel.execute(f"%job logs {rid}")).stdout.startswith("data: iris:1, 150 rows")


#  ---- What the help promises and the code does not (yet) do ----

def test_live_display_shows_progress_while_training(kernel, ws):
    """%help train: 'drawn live: a progress bar, the loss and validation
    curves'. The bar must be there before the end, below 100%."""
    register(kernel, "digits", DATA / "digits.csv")
    run, _ = train(kernel, "--data digits --target digit --model mlp --name progress",
                   "hidden = 256,256\nepochs = 200\npatience = 0")
    texts = [m["content"]["data"]["text/plain"] for m in run.of_type("update_display_data")]
    running = [t for t in texts if " · running" in t.splitlines()[0]]
    assert running, "no update showed the training running"
    assert any(re.search(r"^loss\s", t, re.M) for t in running)
    shown = [progress_percent(t) for t in running]
    assert any(p is not None and p < 100 for p in shown), \
        f"no progress bar while training ran: {shown}"


def test_interrupted_training_does_not_claim_to_be_done(kernel, ws):
    """A run stopped after a few epochs of 100000 shows its real progress,
    not a full bar."""
    run, rid, _ = interrupt_long_training(kernel)
    assert_error(run, "Interrupted", rid)
    percent = progress_percent(final_card(run)["text/plain"])
    assert percent is None or percent < 100, percent
    assert float(show(kernel, rid)["metrics"]["progress"]["latest"]) < 1


def test_job_list_shows_training_jobs(kernel, iris):
    """A %%train run is a job: it takes a slot of the compute target, and
    %job wait|logs|cancel take it (--no-wait points there); %job list must
    show it too."""
    run = ok(kernel.execute("%%train --data iris --target species --model logistic "
                            "--name background --no-wait"))
    rid = run_id(run)
    ok(kernel.execute(f"%job wait {rid}", timeout=TRAIN_TIMEOUT))
    rows = table(ok(kernel.execute("%job list")), "")
    assert [(r["id"], r["name"], r["status"]) for r in rows] == [(rid, "background", "completed")]


def test_params_record_the_validation_fraction_used(kernel, iris):
    """The default --validation is 0.2 (%help train), and the log says
    120 training and 30 validation rows; the run's params must say so."""
    for kind, body in (("logistic", ""), ("mlp", "epochs = 5")):
        _, rid = train(kernel, f"--data iris --target species --model {kind} --name {kind}", body)
        got = show(kernel, rid)
        assert "120 training rows, 30 validation rows" in got["text"]
        assert got["params"]["validation"] == "0.2", (kind, got["params"]["validation"])


def test_logistic_that_converges_at_once_is_a_model(kernel, ws):
    """A logistic regression whose gradient is zero at the start (classes
    balanced over symmetric values) has converged: it is a model, not
    'stopped before its first iteration'."""
    path = kernel.cwd / "symmetric.csv"
    path.write_text("a,y\n-1,no\n1,no\n-1,yes\n1,yes\n")
    register(kernel, "symmetric", path)
    run = kernel.execute("%%train --data symmetric --target y --model logistic --validation 0\n",
                         timeout=TRAIN_TIMEOUT)
    assert "stopped before" not in run.content.get("evalue", ""), run.content.get("evalue")
    ok(run)
