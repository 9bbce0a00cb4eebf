"""The Python worker (share/wb_worker.py) driven as the scoring server and
batch scoring drive it: a subprocess speaking length-prefixed JSON frames
on its standard input and output.

Models a user brings: scikit-learn pickles and joblib files (a classifier
with probabilities, a regressor, a Pipeline with a ColumnTransformer over a
pandas frame with a text column), XGBoost through its scikit-learn API, a
small PyTorch network with a scoring script, MLflow folders written here
(the sklearn flavor, a python_function loader_module, a cloudpickled
python_model), all without the mlflow package. Every prediction is compared
with the estimator's own predict on the same rows. Matrix requests (raw
float64 in, raw predictions and probabilities out) against predict on the
same array, by column name into a DataFrame, with NaN, to a scoring
script, and broken ones (a wrong byte count, dtype, shape) as error replies
that keep the frames in step. Then the failures (run
raising, os._exit in run, a broken init, no run, not a pickle, an MLmodel
without a usable flavor, a missing package, a frame too long), print() in
user code, check mode with --detect, the export of every flavor loaded back
through the worker's mlflow flavor, the MLmodel reader and writer without
yaml, and the export of built-in models scoring as Workbench's C scorer.

Every test writes only under its tmp_path. A package the suite needs that
is missing fails the test with the Debian package to install.
"""

import csv
import importlib
import importlib.util
import json
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading

import pytest

from wbtest import PYTHON, ROOT, TIMEOUT, WORKBENCH_BIN

SHARE = ROOT / "share"
WORKER = SHARE / "wb_worker.py"
DEBIAN = {"numpy": "python3-numpy", "sklearn": "python3-sklearn", "pandas": "python3-pandas",
          "joblib": "python3-joblib", "yaml": "python3-yaml", "xgboost": "python3-xgboost",
          "torch": "python3-torch", "cloudpickle": "python3-cloudpickle"}


def need(name):
    """The module name, or the test fails saying what to install."""
    try:
        return importlib.import_module(name)
    except ImportError:
        pytest.fail(f"this test needs the Python module {name}: install the Debian package "
                    f"{DEBIAN[name]} (apt-get install {DEBIAN[name]})")


def worker_module():
    """share/wb_worker.py imported, for its YAML reader and writer."""
    sys.path.insert(0, str(SHARE))
    try:
        return importlib.import_module("wb_worker")
    finally:
        sys.path.remove(str(SHARE))


#  ---- Driving a worker ----

def frame(message):
    data = message if isinstance(message, bytes) else json.dumps(message).encode()
    return struct.pack(">I", len(data)) + data


class Raw:
    """A field of a reply sent as a raw frame: its descriptor and bytes."""

    def __init__(self, descriptor, data):
        self.dtype, self.shape, self.data = descriptor["dtype"], descriptor["shape"], data

    def array(self):
        np = need("numpy")
        return np.frombuffer(self.data, dtype=self.dtype).reshape(self.shape)


class Worker:
    """A worker in serve mode: its hello, then ask() (or ask_matrix()) for
    each request. Its standard error is collected in .stderr()."""

    def __init__(self, *args, env=None, cwd=None):
        self.proc = subprocess.Popen([PYTHON, str(WORKER), "serve", *map(str, args)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env, cwd=cwd)
        self.frames = queue.Queue()
        self.err = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self.err.extend(self.proc.stderr), daemon=True).start()
        self.hello = self.read()

    def _read(self):
        out = self.proc.stdout

        def body():
            header = out.read(4)
            if len(header) < 4:
                return None                     # the end of its output
            (size,) = struct.unpack(">I", header)
            if size > 256 << 20:
                raise ValueError(f"a frame length of {size} bytes: {header!r} is no length")
            data = out.read(size)
            if len(data) < size:
                raise ValueError(f"a frame cut short: {len(data)} of {size} bytes")
            return data
        try:
            while True:
                data = body()
                if data is None:
                    self.frames.put(None)
                    return
                message = json.loads(data)
                #   descriptors of raw fields: their frames follow, in this order
                for key in ("predictions", "probabilities"):
                    if isinstance(message, dict) and isinstance(message.get(key), dict):
                        raw = body()
                        if raw is None:
                            raise ValueError(f"no frame after the descriptor of {key}")
                        message[key] = Raw(message[key], raw)
                self.frames.put(message)
        except Exception as exc:                # a broken frame: read() says so at once
            self.frames.put(AssertionError(f"a broken frame from the worker: {exc}"))

    def read(self):
        """The next frame it writes, or None when its output ended."""
        item = self.frames.get(timeout=TIMEOUT * 3)
        if isinstance(item, Exception):
            raise item
        return item

    def send(self, message):
        self.proc.stdin.write(frame(message))
        self.proc.stdin.flush()

    def ask(self, rows, columns=None, proba=False, id=1):
        self.send({"id": id, "rows": rows, "columns": columns, "proba": proba})
        reply = self.read()
        assert reply is not None, self.stderr()
        assert reply["id"] == id, reply
        return reply

    def ask_matrix(self, array, columns=None, proba=False, id=1, spec=None, data=None):
        """A matrix request: its header, then the numbers as raw float64
        (or data, bytes, in their place)."""
        spec = spec or {"dtype": "<f8", "shape": list(array.shape)}
        self.send({"id": id, "matrix": spec, "columns": columns, "proba": proba})
        self.send(array.astype("<f8").tobytes() if data is None else data)
        reply = self.read()
        assert reply is not None, self.stderr()
        assert reply["id"] == id, reply
        return reply

    def predict(self, rows, columns=None):
        reply = self.ask(rows, columns)
        assert "predictions" in reply, reply
        return reply["predictions"]

    def close(self):
        """Close its input: it ends (0) at the end of the input."""
        self.proc.stdin.close()
        code = self.proc.wait(timeout=TIMEOUT)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return code

    def stderr(self):
        return b"".join(self.err).decode(errors="replace")


@pytest.fixture
def workers():
    """Workers a test starts (start(*args)); every one is ended after it."""
    started = []

    def start(*args, **kwargs):
        w = Worker(*args, **kwargs)
        started.append(w)
        return w
    yield start
    for w in started:
        if w.proc.poll() is None:
            w.proc.kill()
        w.proc.wait(timeout=TIMEOUT)
        for stream in (w.proc.stdin, w.proc.stdout, w.proc.stderr):
            try:
                stream.close()
            except (OSError, ValueError):
                pass


def ready(worker, flavor):
    assert worker.hello["ready"] is True, worker.hello
    assert worker.hello["flavor"] == flavor
    assert worker.hello["pid"] == worker.proc.pid
    assert worker.hello["python"].count(".") == 2
    return worker.hello


def check(*args, env=None):
    """check mode: (exit code, the hello line)."""
    proc = subprocess.run([PYTHON, str(WORKER), "check", *map(str, args)], capture_output=True,
                          text=True, timeout=TIMEOUT * 3, env=env)
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, (proc.stdout, proc.stderr)
    return proc.returncode, json.loads(lines[0])


def export(*args, env=None):
    """export mode: (exit code, the line it prints)."""
    proc = subprocess.run([PYTHON, str(WORKER), "export", *map(str, args)], capture_output=True,
                          text=True, timeout=TIMEOUT * 3, env=env)
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, (proc.stdout, proc.stderr)
    return proc.returncode, json.loads(lines[0])


def failed(worker, kind, *parts):
    """The hello of a worker that could not load: the error, the traceback,
    exit 1."""
    hello = worker.hello
    assert hello["ready"] is False, hello
    assert hello["type"] == kind and hello["error"].startswith(kind + ": "), hello
    for part in parts:
        assert part in hello["error"], (part, hello["error"])
    assert hello["traceback"].startswith("Traceback (most recent call last):")
    assert worker.read() is None
    assert worker.proc.wait(timeout=TIMEOUT) == 1
    return hello


#  ---- Data ----

def table(rows=120, seed=0):
    """A pandas frame: two numbers, a text column; a class and a value."""
    np, pd = need("numpy"), need("pandas")
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"area": rng.uniform(20, 200, rows), "rooms": rng.integers(1, 7, rows),
                          "town": rng.choice(["north", "south", "centre"], rows)})
    frame["price"] = 2.5 * frame.area + 9 * frame.rooms + (frame.town == "centre") * 80 \
        + rng.normal(0, 5, rows)
    frame["dear"] = (frame.price > frame.price.median()).map({True: "dear", False: "cheap"})
    return frame


def numbers(rows=150, seed=1):
    """(X, y): four numeric columns and three classes (0, 1, 2)."""
    np = need("numpy")
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 4))
    y = (x[:, 0] + x[:, 1] > 0).astype(int) + (x[:, 2] > 0.8).astype(int)
    return x, y


def same(got, expected, tolerance=1e-12):
    """Lists of numbers equal to within a relative tolerance."""
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        if isinstance(e, list):
            same(g, e, tolerance)
        else:
            assert abs(g - e) <= tolerance * max(1.0, abs(e)), (g, e)


#  ---- scikit-learn ----

def test_sklearn_classifier_pickle_and_joblib(workers, tmp_path):
    need("sklearn")
    joblib = need("joblib")
    from sklearn.linear_model import LogisticRegression
    x, y = numbers()
    model = LogisticRegression(max_iter=500).fit(x, y)
    with open(tmp_path / "model.pkl", "wb") as f:
        pickle.dump(model, f)
    joblib.dump(model, tmp_path / "model.joblib")
    rows = x[:40].tolist()
    for path in ("model.pkl", "model.joblib"):
        w = workers("--flavor", "sklearn", "--model", tmp_path / path)
        hello = ready(w, "sklearn")
        assert (hello["batch"], hello["proba"], hello["classes"], hello["columns"]) == \
            (True, True, [0, 1, 2], None)
        assert hello["model"] == "sklearn.linear_model._logistic.LogisticRegression"
        reply = w.ask(rows, proba=True, id=7)
        assert reply["predictions"] == model.predict(x[:40]).tolist()
        same(reply["probabilities"], model.predict_proba(x[:40]).tolist())
        #  without proba: no probabilities; one row at a time: the same
        assert set(w.ask(rows[:1], id=8)) == {"id", "predictions"}
        assert [w.predict([r])[0] for r in rows[:5]] == model.predict(x[:5]).tolist()
        assert w.close() == 0


def test_sklearn_regressor_fitted_on_a_frame(workers, tmp_path):
    need("sklearn")
    from sklearn.ensemble import RandomForestRegressor
    data = table()
    columns = ["area", "rooms"]
    model = RandomForestRegressor(n_estimators=20, random_state=0).fit(data[columns], data.price)
    with open(tmp_path / "forest.pickle", "wb") as f:
        pickle.dump(model, f)
    w = workers("--flavor", "sklearn", "--model", tmp_path / "forest.pickle")
    hello = ready(w, "sklearn")
    assert (hello["proba"], hello["classes"], hello["columns"]) == (False, None, columns)
    expected = model.predict(data[columns]).tolist()
    #  lists in the model's order, lists in another order, records
    assert w.predict(data[columns].values.tolist()) == expected
    assert w.predict(data[["rooms", "area"]].values.tolist(), ["rooms", "area"]) == expected
    records = data[["rooms", "town", "area"]].to_dict(orient="records")
    assert w.predict(records) == expected
    #  proba asked of a regressor: predictions only
    assert "probabilities" not in w.ask(records[:2], proba=True)


def test_pipeline_with_a_column_transformer_and_a_text_column(workers, tmp_path):
    need("sklearn")
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    data = table(200)
    features = ["area", "rooms", "town"]
    model = Pipeline([
        ("prep", ColumnTransformer([("num", StandardScaler(), ["area", "rooms"]),
                                    ("cat", OneHotEncoder(handle_unknown="ignore"), ["town"])])),
        ("fit", LogisticRegression(max_iter=500))]).fit(data[features], data.dear)
    need("joblib").dump(model, tmp_path / "pipe.joblib")
    w = workers("--flavor", "sklearn", "--model", tmp_path / "pipe.joblib")
    hello = ready(w, "sklearn")
    assert (hello["proba"], hello["classes"], hello["columns"]) == (True, ["cheap", "dear"],
                                                                    features)
    assert hello["model"] == "sklearn.pipeline.Pipeline"
    rows = data[["town", "area", "rooms"]].values.tolist()
    reply = w.ask(rows, ["town", "area", "rooms"], proba=True)
    assert reply["predictions"] == model.predict(data[features]).tolist()
    same(reply["probabilities"], model.predict_proba(data[features]).tolist())
    assert w.predict(data[features].to_dict(orient="records")) == reply["predictions"]
    #  a town never seen in training is all zeros to the encoder
    unseen = {"area": 100.0, "rooms": 3, "town": "harbour"}
    assert w.predict([unseen]) == model.predict(need("pandas").DataFrame([unseen])).tolist()
    #  a column the model needs, missing: an error naming it; serving goes on
    reply = w.ask([[1.0, 2]], ["area", "rooms"])
    assert reply["type"] == "ValueError"
    assert "column 'town' that the model needs is missing" in reply["error"]
    assert "Traceback" in reply["traceback"]
    reply = w.ask([[1.0, 2, "north", 4]])
    assert "row 1 has 4 values; the model takes 3, in this order: area, rooms, town" \
        in reply["error"]
    assert w.predict(rows[:3], ["town", "area", "rooms"]) == \
        model.predict(data[features].head(3)).tolist()
    assert w.close() == 0


def test_frame_models_get_arrays_only_where_no_part_reads_names():
    """An estimator fitted on a DataFrame whose parts are all scikit-learn's
    own and column-blind gets the numbers as an array of its columns (pandas'
    checks cost 0.9 ms a call); a ColumnTransformer, a FunctionTransformer
    (the user's code) or a foreign part gets the DataFrame; the answers are
    those of predict on the DataFrame either way, and an estimator that
    refuses the array gets the DataFrame from then on."""
    np, pd = need("numpy"), need("pandas")
    need("sklearn")
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier, VotingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler
    worker = worker_module()
    x, y = numbers(200)
    columns = ["a", "b", "c", "d"]
    frame = pd.DataFrame(x, columns=columns)
    models = {
        "pipeline": (make_pipeline(StandardScaler(), LogisticRegression()), True),
        "ensemble": (VotingClassifier([("l", LogisticRegression()),
                                       ("f", RandomForestClassifier(n_estimators=5, random_state=0))],
                                      voting="soft"), True),
        "by name": (make_pipeline(ColumnTransformer([("s", StandardScaler(), ["a", "b"])],
                                                    remainder="passthrough"),
                                  LogisticRegression()), False),
        #  column means on a DataFrame, one mean of everything on an array
        "user code": (make_pipeline(FunctionTransformer(lambda d: d - d.mean()),
                                    LogisticRegression()), False),
        "inside an ensemble": (VotingClassifier([
            ("p", make_pipeline(ColumnTransformer([("s", StandardScaler(), ["a"])]),
                                LogisticRegression())),
            ("l", LogisticRegression())], voting="soft"), False),
    }
    rows = x[:7][:, [2, 0, 3, 1]].tolist()          # in another order, by name
    for name, (model, blind) in models.items():
        model.fit(frame, y)
        loaded = worker._Estimator(model, "sklearn")
        assert loaded.blind is blind, name
        given = loaded.input({"rows": rows, "columns": ["c", "a", "d", "b"]})
        assert isinstance(given, np.ndarray if blind else pd.DataFrame), name
        reply = loaded.score({"rows": rows, "columns": ["c", "a", "d", "b"], "proba": True})
        assert list(reply["predictions"]) == model.predict(frame.head(7)).tolist(), name
        assert np.array_equal(reply["probabilities"], model.predict_proba(frame.head(7))), name
    #  said blind but refusing arrays: the DataFrame, from then on
    model = models["by name"][0]
    loaded = worker._Estimator(model, "sklearn")
    loaded.blind = True
    reply = loaded.score({"rows": rows, "columns": ["c", "a", "d", "b"]})
    assert list(reply["predictions"]) == model.predict(frame.head(7)).tolist()
    assert loaded.blind is False
    #  integers keep their dtype in a DataFrame (as made from the lists)
    assert worker._numbers([[1, 2.5]], exact=True) is None
    assert worker._numbers([[1, 2.5]], exact=False).dtype == np.float64
    assert worker._numbers([[True, 2.5]], exact=False) is None


def test_xgboost_through_its_sklearn_api(workers, tmp_path):
    xgboost = need("xgboost")
    x, y = numbers(200)
    model = xgboost.XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1).fit(x, y)
    with open(tmp_path / "xgb.pkl", "wb") as f:
        pickle.dump(model, f)
    w = workers("--flavor", "auto", "--model", tmp_path / "xgb.pkl")
    hello = ready(w, "sklearn")
    assert hello["proba"] is True and hello["classes"] == [0, 1, 2]
    reply = w.ask(x.tolist(), proba=True)
    assert reply["predictions"] == model.predict(x).tolist()
    same(reply["probabilities"], model.predict_proba(x).tolist(), 1e-6)


#  ---- Matrix requests: raw float64 in, raw numbers out ----

def test_matrix_requests_equal_predict_on_the_same_array(workers, tmp_path):
    np = need("numpy")
    need("sklearn")
    from sklearn.linear_model import LogisticRegression
    x, y = numbers(300)
    model = LogisticRegression(max_iter=500).fit(x, y)
    with open(tmp_path / "model.pkl", "wb") as f:
        pickle.dump(model, f)
    w = workers("--flavor", "sklearn", "--model", tmp_path / "model.pkl")
    assert ready(w, "sklearn")["matrix"] is True
    reply = w.ask_matrix(x, proba=True, id=3)
    #  both come back as raw frames: int64 classes, float64 probabilities
    predictions, probabilities = reply["predictions"], reply["probabilities"]
    assert (predictions.dtype, predictions.shape) == ("<i8", [300])
    assert (probabilities.dtype, probabilities.shape) == ("<f8", [300, 3])
    assert predictions.array().tolist() == model.predict(x).tolist()
    assert np.array_equal(probabilities.array(), model.predict_proba(x))
    #  the same as the rows of JSON give
    rows = w.ask(x.tolist(), proba=True, id=4)
    assert rows["predictions"] == predictions.array().tolist()
    same(rows["probabilities"], probabilities.array().tolist())
    #  without proba: predictions only; no rows: an error from the model
    assert set(w.ask_matrix(x[:5])) == {"id", "predictions"}
    assert "0 sample(s)" in w.ask_matrix(x[:0])["error"]
    assert w.close() == 0


def test_matrix_to_a_frame_by_name_with_nan_and_labels(workers, tmp_path):
    np, pd = need("numpy"), need("pandas")
    need("sklearn")
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import StandardScaler
    data = table(200)
    data.loc[::7, "area"] = np.nan
    features = ["area", "rooms"]
    #  columns picked by name: an array in place of a DataFrame would fail
    model = Pipeline([
        ("prep", ColumnTransformer([("num", make_pipeline(SimpleImputer(), StandardScaler()),
                                     features)])),
        ("fit", LogisticRegression(max_iter=500))]).fit(data[features], data.dear)
    with open(tmp_path / "model.pkl", "wb") as f:
        pickle.dump(model, f)
    w = workers("--flavor", "sklearn", "--model", tmp_path / "model.pkl")
    assert ready(w, "sklearn")["columns"] == features
    expected = model.predict(data[features]).tolist()
    #  the matrix in another order, named: put in the model's order; NaN is
    #  missing (imputed); text labels stay JSON, probabilities come raw
    swapped = data[["rooms", "area"]].to_numpy(dtype=float)
    reply = w.ask_matrix(swapped, ["rooms", "area"], proba=True)
    assert reply["predictions"] == expected
    assert np.array_equal(reply["probabilities"].array(), model.predict_proba(data[features]))
    #  unnamed: the model's own order
    assert w.ask_matrix(data[features].to_numpy(dtype=float))["predictions"] == expected
    #  the same rows as JSON, null for NaN
    rows = [[None if v != v else v for v in row] for row in data[features].values.tolist()]
    assert w.predict(rows) == expected
    #  a column missing, or a width that is not the model's
    reply = w.ask_matrix(swapped[:, :1], ["rooms"])
    assert "column 'area' that the model needs is missing" in reply["error"]
    reply = w.ask_matrix(np.zeros((2, 3)))
    assert "the matrix has 3 columns; the model takes 2, in this order: area, rooms" \
        in reply["error"]
    assert w.close() == 0


SCORER_MATRIX = '''
BATCH = True


def init():
    pass


def run(data):
    return [repr(row) for row in data]
'''


def test_matrix_to_a_scoring_script(workers, tmp_path):
    np = need("numpy")
    (tmp_path / "score.py").write_text(SCORER_MATRIX)
    w = workers("--flavor", "python", "--model", tmp_path, "--scorer", tmp_path / "score.py")
    ready(w, "python")
    matrix = np.array([[1.5, np.nan], [3.0, 4.0]])
    #  lists of floats with None for NaN, or dicts when the columns are named
    assert w.ask_matrix(matrix)["predictions"] == ["[1.5, None]", "[3.0, 4.0]"]
    assert w.ask_matrix(matrix, ["a", "b"])["predictions"] == \
        ["{'a': 1.5, 'b': None}", "{'a': 3.0, 'b': 4.0}"]


def test_broken_matrix_requests_are_error_replies(workers, tmp_path):
    np = need("numpy")
    need("sklearn")
    from sklearn.linear_model import LinearRegression
    x, y = numbers(40)
    model = LinearRegression().fit(x, x[:, 0] * 2 + 1)
    with open(tmp_path / "model.pkl", "wb") as f:
        pickle.dump(model, f)
    w = workers("--flavor", "sklearn", "--model", tmp_path / "model.pkl")
    ready(w, "sklearn")
    good = x[:2]
    expected = model.predict(good)

    def in_step():
        """The frames stayed in step: the next request is answered right."""
        reply = w.ask_matrix(good, id=99)
        assert reply["predictions"].dtype == "<f8"
        assert np.array_equal(reply["predictions"].array(), expected)

    #  a byte count that is not 8 * rows * columns
    reply = w.ask_matrix(good, data=b"x" * 17, id=5)
    assert reply["type"] == "ValueError"
    assert "the matrix's frame has 17 bytes; 2 x 4 float64 values take 64" in reply["error"]
    in_step()
    reply = w.ask_matrix(good, data=good.tobytes() + b"\0" * 8)
    assert "has 72 bytes" in reply["error"]
    in_step()
    #  another dtype, a shape that is not [rows, columns], names of another count
    reply = w.ask_matrix(good, spec={"dtype": "<f4", "shape": [2, 4]})
    assert "little-endian float64 is the one type taken" in reply["error"]
    in_step()
    for shape in ([8], [2, -4], [2, 4.0], "2x4", [2, True]):
        reply = w.ask_matrix(good, spec={"dtype": "<f8", "shape": shape})
        assert 'the matrix\'s "shape" must be [rows, columns]' in reply["error"], shape
    in_step()
    reply = w.ask_matrix(good, columns=["a", "b"])
    assert "the matrix has 4 columns for 2 names" in reply["error"]
    w.send({"id": 6, "rows": [[1, 2, 3, 4]], "matrix": {"dtype": "<f8", "shape": [1, 4]}})
    w.send(good[:1].tobytes())
    assert 'a request has "rows" or "matrix", not both' in w.read()["error"]
    in_step()
    #  the input ending where the matrix's frame should be: a broken frame
    w.send({"id": 7, "matrix": {"dtype": "<f8", "shape": [2, 4]}})
    w.proc.stdin.close()
    assert w.read() is None
    assert w.proc.wait(timeout=TIMEOUT) == 2
    assert "the input ended before the frame of a matrix" in w.stderr()


@pytest.mark.slow
def test_batch_job_sends_numbers_as_a_matrix(tmp_path):
    """%batch over numeric columns: raw float64 to two workers, in the
    model's column order (not the dataset's), missing cells as NaN, the
    predictions and probabilities in predictions.csv those of predict."""
    assert os.access(WORKBENCH_BIN, os.X_OK), f"build Workbench first: no {WORKBENCH_BIN}"
    np, pd = need("numpy"), need("pandas")
    need("sklearn")
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"a": rng.normal(size=2500), "b": rng.normal(size=2500),
                          "extra": rng.normal(size=2500), "c": rng.integers(0, 5, 2500)})
    frame["label"] = np.where(frame.a - frame.b + 0.3 * frame.c > 0.5, "yes", "no")
    frame.loc[::9, "b"] = np.nan
    frame.to_csv(tmp_path / "d.csv", index=False, float_format="%.17g")
    columns = ["c", "a", "b"]
    model = make_pipeline(SimpleImputer(), LogisticRegression()).fit(frame[columns],
                                                                      frame.label)
    with open(tmp_path / "model.pkl", "wb") as f:
        pickle.dump(model, f)
    env = dict(os.environ, WORKBENCH_WORKSPACE=str(tmp_path / "ws"))
    env.pop("WORKBENCH_RUN_ID", None)
    wb(env, "data", "register", "d", tmp_path / "d.csv")
    (tmp_path / "fit.sh").write_text(f"mkdir -p \"$WORKBENCH_OUTPUTS\"\n"
                                     f"cp '{tmp_path}/model.pkl' \"$WORKBENCH_OUTPUTS\"\n")
    with open(tmp_path / "fit.sh") as script:
        wb(env, "job", "--name", "fit", "--no-code", stdin=script)
    wb(env, "model", "register", "m", "--run", "fit", "--path", "outputs/model.pkl",
       "--python", PYTHON)
    out = wb(env, "batch", "m", "--data", "d", "--parallel", "2", "--mini-batch", "1000",
             "--name", "scored")
    assert "2500 rows in 3 mini-batches of 1000, 2 at once" in out, out
    assert "the rows go to the workers as raw float64" in out, out
    wb(env, "artifacts", "scored", "outputs/predictions.csv", "--to", tmp_path / "p.csv")
    got = pd.read_csv(tmp_path / "p.csv")
    assert got.prediction.tolist() == model.predict(frame[columns]).tolist()
    proba = model.predict_proba(frame[columns])
    for k, label in enumerate(model.classes_):
        assert np.allclose(got[f"probability_{label}"], proba[:, k], rtol=1e-5, atol=1e-7)


#  ---- Scoring scripts ----

TORCH_NET = '''
import torch


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(),
                                          torch.nn.Linear(8, 1))

    def forward(self, x):
        return self.layers(x)
'''

TORCH_TRAIN = '''
import json, os, sys
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from net import Net

torch.manual_seed(0)
x = torch.rand(256, 3)
y = (x @ torch.tensor([[2.0], [-1.0], [0.5]])) + 0.3
net = Net()
optimizer = torch.optim.Adam(net.parameters(), lr=0.05)
for _ in range(200):
    optimizer.zero_grad()
    loss = torch.nn.functional.mse_loss(net(x), y)
    loss.backward()
    optimizer.step()
torch.save(net.state_dict(), "model.pt")
rows = x[:20].tolist()
with torch.no_grad():
    expected = net(torch.tensor(rows)).squeeze(1).tolist()
json.dump({"rows": rows, "expected": expected}, open("check.json", "w"))
'''

TORCH_SCORE = '''
import os
import torch
from net import Net

BATCH = True
COLUMNS = ["a", "b", "c"]
model = None


def init():
    global model
    model = Net()
    model.load_state_dict(torch.load(os.path.join(os.environ["WORKBENCH_MODEL_DIR"], "model.pt")))
    model.eval()


def run(data):
    print(f"scoring {len(data)} rows")
    if data and isinstance(data[0], dict):
        data = [[row[c] for c in COLUMNS] for row in data]
    with torch.no_grad():
        return model(torch.tensor(data, dtype=torch.float32)).squeeze(1)
'''


def test_pytorch_model_with_a_scoring_script(workers, tmp_path):
    need("torch")
    model_dir = tmp_path / "outputs"
    model_dir.mkdir()
    (model_dir / "net.py").write_text(TORCH_NET)
    (model_dir / "train.py").write_text(TORCH_TRAIN)
    subprocess.run([PYTHON, "train.py"], cwd=model_dir, check=True, timeout=TIMEOUT * 6)
    (model_dir / "score.py").write_text(TORCH_SCORE)
    expected = json.loads((model_dir / "check.json").read_text())
    env = dict(os.environ, WORKBENCH_MODEL_DIR=str(model_dir))
    w = workers("--flavor", "python", "--model", model_dir, "--scorer", model_dir / "score.py",
                env=env)
    hello = ready(w, "python")
    assert (hello["batch"], hello["proba"], hello["columns"]) == (True, False, ["a", "b", "c"])
    reply = w.ask(expected["rows"], proba=True)
    assert set(reply) == {"id", "predictions"}
    same(reply["predictions"], expected["expected"], 1e-6)
    records = [dict(zip("cab", (r[2], r[0], r[1]))) for r in expected["rows"]]
    same(w.predict(records), expected["expected"], 1e-6)
    #  print() in run() went to standard error, the frames are intact
    assert w.close() == 0
    assert "scoring 20 rows" in w.stderr()


SCORER_DICT = '''
import json, os
import numpy as np

weights = None


def init():
    global weights
    print("loading weights")
    weights = json.load(open(os.path.join(os.environ["WORKBENCH_MODEL_DIR"], "weights.json")))


def run(data):
    print("rows:", data)
    if data and isinstance(data[0], dict):
        if "nan" in data[0]:
            return [float("nan"), np.float32(1.5), np.int64(3), float("inf")]
        total = sum(row["x"] * weights["x"] + row["y"] * weights["y"] for row in data)
        return {"total": np.float64(total), "rows": len(data), "first": np.array([1, 2])}
    if data and data[0] == ["tuple"]:
        return ("a", "b")
    if data and data[0] == ["text"]:
        return "not a list"
    if data and data[0] == ["fail"]:
        raise ValueError("cannot score " + data[0][0])
    if data and data[0] == ["exit"]:
        os._exit(3)
    return [row[0] * weights["x"] + row[1] * weights["y"] for row in data]
'''


def test_scorer_lists_dicts_errors_and_os_exit(workers, tmp_path):
    need("numpy")
    (tmp_path / "weights.json").write_text('{"x": 2, "y": -1}')
    (tmp_path / "score.py").write_text(SCORER_DICT)
    w = workers("--flavor", "python", "--model", tmp_path / "weights.json",
                "--scorer", tmp_path / "score.py")
    hello = ready(w, "python")
    #  no BATCH = True: one row at a time; no COLUMNS: unknown
    assert (hello["batch"], hello["proba"], hello["classes"], hello["columns"]) == \
        (False, False, None, None)
    assert w.predict([[3, 1]]) == [5]
    #  columns named: run() gets dicts, and a dict it returns is the result
    assert w.ask([[3, 1], [1, 1]], ["x", "y"]) == \
        {"id": 1, "result": {"total": 6.0, "rows": 2, "first": [1, 2]}}
    #  JSON's own values: NaN and infinity as null, numpy scalars as numbers
    assert w.predict([{"nan": 1}]) == [None, 1.5, 3, None]
    #  a list whose length is not the number of rows is answered as is
    assert w.predict([["tuple"], [1, 2], [3, 4]]) == ["a", "b"]
    reply = w.ask([["text"]])
    assert reply["type"] == "TypeError" and "run() returned a str" in reply["error"]
    #  run() raising: its exception named, its traceback, and serving goes on
    reply = w.ask([["fail"]], id=9)
    assert reply["id"] == 9
    assert (reply["type"], reply["error"]) == ("ValueError", "ValueError: cannot score fail")
    assert "score.py" in reply["traceback"] and 'raise ValueError("cannot score' in \
        reply["traceback"]
    assert w.predict([[1, 0]]) == [2]
    #  a request that is not JSON, or not an object, or without rows
    w.send(b"{not json")
    reply = w.read()
    assert reply["id"] is None and "the request is not valid JSON" in reply["error"]
    w.send([1, 2])
    assert "a request must be a JSON object" in w.read()["error"]
    w.send({"id": 4})
    reply = w.read()
    assert reply["id"] == 4 and 'a request needs "rows"' in reply["error"]
    #  os._exit in run(): the worker dies; its output ends
    w.send({"id": 5, "rows": [["exit"]]})
    assert w.read() is None
    assert w.proc.wait(timeout=TIMEOUT) == 3
    #  what init() and run() printed went to standard error
    assert "loading weights" in w.stderr() and "rows: [[3, 1]]" in w.stderr()


def test_scorer_failures_at_load(workers, tmp_path):
    (tmp_path / "broken.py").write_text(
        "def init():\n    load_the_model()\n\n\ndef load_the_model():\n"
        "    raise RuntimeError('no weights in ' + 'there')\n\n\ndef run(data):\n    return []\n")
    w = workers("--flavor", "python", "--model", tmp_path, "--scorer", tmp_path / "broken.py")
    hello = failed(w, "RuntimeError", "no weights in there")
    assert "in init" in hello["traceback"] and "in load_the_model" in hello["traceback"]
    (tmp_path / "norun.py").write_text("def init():\n    pass\n")
    w = workers("--flavor", "python", "--model", tmp_path, "--scorer", tmp_path / "norun.py")
    failed(w, "AttributeError", "norun.py defines no run()", "init() (load the model")
    (tmp_path / "empty.py").write_text("X = 1\n")
    w = workers("--flavor", "python", "--model", tmp_path, "--scorer", tmp_path / "empty.py")
    failed(w, "AttributeError", "defines no init() and no run()")
    (tmp_path / "imports.py").write_text("import no_such_module_here\n")
    w = workers("--flavor", "python", "--model", tmp_path, "--scorer", tmp_path / "imports.py")
    failed(w, "ModuleNotFoundError", "no_such_module_here")
    w = workers("--flavor", "python", "--model", tmp_path)
    failed(w, "ValueError", "the python flavor needs --scorer FILE")


#  ---- Not a model, not a frame ----

def test_files_that_are_not_models(workers, tmp_path):
    (tmp_path / "notes.pkl").write_text("hello, these are notes\n")
    w = workers("--flavor", "sklearn", "--model", tmp_path / "notes.pkl")
    failed(w, "UnpicklingError", "notes.pkl is not a pickle or joblib file that loads")
    with open(tmp_path / "dict.pkl", "wb") as f:
        pickle.dump({"weights": [1, 2]}, f)
    w = workers("--flavor", "sklearn", "--model", tmp_path / "dict.pkl")
    failed(w, "TypeError", "dict.pkl holds a builtins.dict, which has no predict()")
    (tmp_path / "empty.pkl").write_bytes(b"")
    w = workers("--flavor", "sklearn", "--model", tmp_path / "empty.pkl")
    failed(w, "ValueError", "empty.pkl is empty")
    w = workers("--flavor", "sklearn", "--model", tmp_path / "absent.pkl")
    failed(w, "FileNotFoundError", "absent.pkl")
    #  a class of the training script itself: said so, with what to do
    (tmp_path / "train.py").write_text(
        "import pickle\n\n\nclass Mine:\n    def predict(self, x):\n        return x\n\n\n"
        "pickle.dump(Mine(), open('mine.pkl', 'wb'))\n")
    subprocess.run([PYTHON, "train.py"], cwd=tmp_path, check=True, timeout=TIMEOUT)
    w = workers("--flavor", "sklearn", "--model", tmp_path / "mine.pkl")
    failed(w, "AttributeError", "Can't get attribute 'Mine'", "the script that trained it",
           "define it in a module beside the model")


def test_missing_package_names_the_debian_package(workers, tmp_path):
    xgboost = need("xgboost")
    x, y = numbers(60)
    with open(tmp_path / "xgb.pkl", "wb") as f:
        pickle.dump(xgboost.XGBRegressor(n_estimators=3, n_jobs=1).fit(x, y), f)
    #  the same pickle where xgboost does not import
    hidden = tmp_path / "hidden" / "xgboost"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'xgboost'\", name='xgboost')\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "hidden"))
    w = workers("--flavor", "sklearn", "--model", tmp_path / "xgb.pkl", env=env)
    failed(w, "ModuleNotFoundError", "No module named 'xgboost'",
           "install the Debian package python3-xgboost")


def test_frames_too_long_or_cut_short(workers, tmp_path):
    (tmp_path / "score.py").write_text("def init():\n    pass\n\n\ndef run(data):\n"
                                       "    return [len(data)]\n")
    args = ("--flavor", "python", "--model", tmp_path, "--scorer", tmp_path / "score.py")
    w = workers(*args)
    ready(w, "python")
    #  256 MiB is the limit: a longer frame is refused without reading it
    w.proc.stdin.write(struct.pack(">I", (256 << 20) + 1) + b"{}")
    w.proc.stdin.flush()
    assert w.read() is None
    assert w.proc.wait(timeout=TIMEOUT) == 2
    assert "over the limit of 268435456" in w.stderr()
    #  the input ending inside a frame
    w = workers(*args)
    w.proc.stdin.write(struct.pack(">I", 100) + b'{"id": 1')
    w.proc.stdin.close()
    assert w.read() is None
    assert w.proc.wait(timeout=TIMEOUT) == 2
    assert "the input ended inside a frame" in w.stderr()
    #  the end of the input between frames: exit 0
    w = workers(*args)
    assert w.predict([[1], [2]]) == [2]
    assert w.close() == 0


def test_user_code_cannot_touch_the_protocol(workers, tmp_path):
    (tmp_path / "noisy.py").write_text(
        "import os, sys\n\n\ndef init():\n    print('hello from init')\n"
        "    os.write(1, b'raw bytes on fd 1\\n')\n\n\n"
        "def run(data):\n    print('x' * 70000)\n    sys.stdout.write('no newline')\n"
        "    return [sys.stdin.read()]\n")
    w = workers("--flavor", "python", "--model", tmp_path, "--scorer", tmp_path / "noisy.py")
    ready(w, "python")
    #  stdin is /dev/null to user code; what it prints is not in the frames
    assert w.predict([[1]]) == [""]
    assert w.predict([[2]]) == [""]
    assert w.close() == 0
    err = w.stderr()
    assert "hello from init" in err and "raw bytes on fd 1" in err and "x" * 70000 in err


#  ---- check mode ----

def test_check_reports_and_detects_the_flavor(tmp_path):
    need("sklearn")
    from sklearn.linear_model import LinearRegression
    x, y = numbers()
    with open(tmp_path / "model.pkl", "wb") as f:
        pickle.dump(LinearRegression().fit(x, y), f)
    code, hello = check("--flavor", "sklearn", "--model", tmp_path / "model.pkl")
    assert code == 0 and hello["ready"] and hello["flavor"] == "sklearn"
    assert hello["proba"] is False and hello["batch"] is True
    #  --detect: the flavor from the path
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "estimator.joblib").write_bytes((tmp_path / "model.pkl").read_bytes())
    for path, flavor in ((tmp_path / "model.pkl", "sklearn"), (folder, "sklearn")):
        code, hello = check("--detect", "--model", path)
        assert (code, hello["ready"], hello["flavor"]) == (0, True, flavor), hello
    (folder / "second.pkl").write_bytes((tmp_path / "model.pkl").read_bytes())
    code, hello = check("--detect", "--model", folder)
    assert code == 1 and hello["ready"] is False
    assert "cannot tell the flavor of the folder" in hello["error"]
    (tmp_path / "score.py").write_text("def init():\n    pass\n")
    code, hello = check("--flavor", "auto", "--model", tmp_path, "--scorer", tmp_path / "score.py")
    assert code == 1 and "defines no run()" in hello["error"]


#  ---- MLflow folders, written here: no mlflow package ----

def write_mlmodel(folder, flavors, signature=None):
    yaml = need("yaml")
    doc = {"artifact_path": "model", "flavors": flavors, "mlflow_version": "2.9.2"}
    if signature:
        doc["signature"] = {"inputs": json.dumps(signature), "outputs": None, "params": None}
    (folder / "MLmodel").write_text(yaml.safe_dump(doc, default_flow_style=False))


def test_mlflow_sklearn_flavor(workers, tmp_path):
    need("sklearn")
    from sklearn.tree import DecisionTreeClassifier
    data = table()
    model = DecisionTreeClassifier(max_depth=4, random_state=0).fit(
        data[["area", "rooms"]].values, data.dear)
    folder = tmp_path / "model"
    folder.mkdir()
    with open(folder / "model.pkl", "wb") as f:
        pickle.dump(model, f)
    write_mlmodel(folder, {
        "python_function": {"loader_module": "mlflow.sklearn", "model_path": "model.pkl",
                            "python_version": "3.11.2", "predict_fn": "predict"},
        "sklearn": {"code": None, "pickled_model": "model.pkl",
                    "serialization_format": "cloudpickle", "sklearn_version": "1.2.1"}},
        [{"type": "double", "name": "area"}, {"type": "long", "name": "rooms"}])
    w = workers("--flavor", "mlflow", "--model", folder)
    hello = ready(w, "mlflow")
    #  fitted on an array: the signature names its columns
    assert hello["columns"] == ["area", "rooms"] and hello["classes"] == ["cheap", "dear"]
    assert "(MLmodel flavor sklearn)" in hello["model"]
    expected = model.predict(data[["area", "rooms"]].values).tolist()
    assert w.predict(data[["rooms", "area"]].values.tolist(), ["rooms", "area"]) == expected
    assert w.predict(data[["area", "rooms"]].to_dict(orient="records")) == expected
    code, hello = check("--detect", "--model", folder)
    assert code == 0 and hello["flavor"] == "mlflow"


LOADER = '''
import json
import os

import numpy as np


class Linear:
    def __init__(self, weights):
        self.weights = weights

    def predict(self, frame):
        x = frame[list(self.weights)].to_numpy(dtype=float)
        return x @ np.array(list(self.weights.values()))


def _load_pyfunc(path):
    with open(path) as f:
        return Linear(json.load(f))
'''


def test_mlflow_python_function_with_a_loader_module(workers, tmp_path):
    need("pandas")
    folder = tmp_path / "model"
    (folder / "code").mkdir(parents=True)
    (folder / "code" / "linear_loader.py").write_text(LOADER)
    (folder / "weights.json").write_text('{"b": 0.5, "a": 2.0}')
    write_mlmodel(folder, {"python_function": {
        "loader_module": "linear_loader", "code": "code", "data": "weights.json",
        "python_version": "3.11.2"}},
        [{"type": "double", "name": "a"}, {"type": "double", "name": "b"}])
    w = workers("--flavor", "mlflow", "--model", folder)
    hello = ready(w, "mlflow")
    assert hello["columns"] == ["a", "b"] and hello["proba"] is False
    assert "loader_module linear_loader" in hello["model"]
    assert w.predict([[1, 2], [3, 4]]) == [3.0, 8.0]
    assert w.predict([{"b": 2, "a": 1}]) == [3.0]
    reply = w.ask([{"a": 1}])
    assert "column 'b' that the model needs is missing" in reply["error"]


PYTHON_MODEL = '''
import cloudpickle
import mlflow.pyfunc


class Doubler(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        with open(context.artifacts["factor"]) as f:
            self.factor = float(f.read())

    def predict(self, context, model_input, params=None):
        return model_input.sum(axis=1) * self.factor


with open("python_model.pkl", "wb") as f:
    cloudpickle.dump(Doubler(), f)
'''


def test_mlflow_python_model_without_mlflow(workers, tmp_path):
    need("cloudpickle")
    need("pandas")
    #  pickled where an mlflow.pyfunc module was, loaded where none is
    fake = tmp_path / "fake" / "mlflow" / "pyfunc"
    fake.mkdir(parents=True)
    (fake.parent / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("from mlflow.pyfunc.model import PythonModel\n")
    (fake / "model.py").write_text("class PythonModel:\n    pass\n")
    folder = tmp_path / "model"
    (folder / "artifacts").mkdir(parents=True)
    (folder / "make.py").write_text(PYTHON_MODEL)
    subprocess.run([PYTHON, "make.py"], cwd=folder, check=True, timeout=TIMEOUT,
                   env=dict(os.environ, PYTHONPATH=str(tmp_path / "fake")))
    (folder / "artifacts" / "factor.txt").write_text("2.5")
    write_mlmodel(folder, {"python_function": {
        "loader_module": "mlflow.pyfunc.model", "python_model": "python_model.pkl",
        "cloudpickle_version": "2.2.0",
        "artifacts": {"factor": {"path": "artifacts/factor.txt", "uri": "factor.txt"}}}},
        [{"type": "double", "name": "x"}, {"type": "double", "name": "y"}])
    w = workers("--flavor", "mlflow", "--model", folder)
    hello = ready(w, "mlflow")
    assert "Doubler" in hello["model"] and hello["columns"] == ["x", "y"]
    assert w.predict([[1, 2], [0.5, 0.5]]) == [7.5, 2.5]


def test_mlmodel_without_a_usable_flavor(workers, tmp_path):
    write_mlmodel(tmp_path, {"keras": {"keras_version": "2.13.1", "data": "data"},
                             "python_function": {"loader_module": "mlflow.tensorflow",
                                                 "data": "data"}})
    w = workers("--flavor", "mlflow", "--model", tmp_path)
    failed(w, "ValueError", "has no flavor this worker loads (it has: keras, python_function",
           "needs mlflow.tensorflow, which needs the mlflow package",
           "supported: sklearn (pickle or cloudpickle) and python_function")
    (tmp_path / "MLmodel").write_text("just: [a, list\n")
    w = workers("--flavor", "mlflow", "--model", tmp_path)
    assert w.hello["ready"] is False and w.proc.wait(timeout=TIMEOUT) == 1


#  ---- The MLmodel file without the yaml package ----

def test_mlmodel_reader_and_writer_agree_with_yaml():
    yaml = need("yaml")
    wb_worker = worker_module()
    doc = {"artifact_path": "model",
           "flavors": {"python_function": {"env": {"virtualenv": "python_env.yaml"},
                                           "loader_module": "mlflow.sklearn",
                                           "model_path": "model.pkl", "python_version": "3.11.2"},
                       "sklearn": {"code": None, "pickled_model": "model.pkl",
                                   "serialization_format": "cloudpickle",
                                   "sklearn_version": "1.2.1"}},
           "empty": {}, "none": [], "list": ["a", "b: c", 3, True, None],
           "records": [{"name": "x", "path": "p"}, {"name": "it's"}],
           "model_size_bytes": 6354463, "ratio": 0.25, "yes": "no", "when": "2025-09-13 08:20",
           "signature": {"inputs": json.dumps([{"type": "double", "name": f"column {i}"}
                                               for i in range(12)] +
                                              [{"type": "string", "name": "quote ' \" \\"}]),
                         "outputs": None}}
    #  what PyYAML writes (long strings folded over lines), read by hand
    for style in ({}, {"default_flow_style": False}, {"width": 40}):
        assert wb_worker.yaml_load(yaml.safe_dump(doc, **style)) == doc
    #  what is written by hand, read by PyYAML and by hand
    text = wb_worker.yaml_dump(doc)
    assert yaml.safe_load(text) == doc
    assert wb_worker.yaml_load(text) == doc


def hide_yaml(tmp_path):
    """An environment where `import yaml` fails."""
    hidden = tmp_path / "no-yaml" / "yaml"
    hidden.mkdir(parents=True, exist_ok=True)
    (hidden / "__init__.py").write_text("raise ImportError('yaml is hidden here')\n")
    return dict(os.environ, PYTHONPATH=str(hidden.parent))


#  ---- Export to MLflow, loaded back ----

@pytest.mark.slow
def test_export_sklearn_loads_back_with_and_without_yaml(workers, tmp_path):
    need("sklearn")
    yaml = need("yaml")
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder
    data = table()
    features = ["area", "rooms", "town"]
    model = make_pipeline(make_column_transformer((OneHotEncoder(), ["town"]),
                                                  remainder="passthrough"),
                          Ridge()).fit(data[features], data.price)
    need("joblib").dump(model, tmp_path / "ridge.joblib")
    expected = model.predict(data[features]).tolist()
    no_yaml = hide_yaml(tmp_path)
    for env, out in ((None, tmp_path / "with-yaml"), (no_yaml, tmp_path / "without-yaml")):
        code, line = export("--flavor", "sklearn", "--model", tmp_path / "ridge.joblib",
                            "--out", out, env=env)
        assert code == 0, line
        assert line == {"exported": True, "out": str(out), "flavor": "sklearn",
                        "columns": features}
        assert sorted(os.listdir(out)) == ["MLmodel", "model.pkl", "python_env.yaml",
                                           "requirements.txt"]
        text = (out / "MLmodel").read_text()
        #  by hand, strings that are not plain words are JSON-quoted
        assert ('python_version: "' in text) is (env is no_yaml), text
        doc = yaml.safe_load(text)
        assert doc["flavors"]["sklearn"]["pickled_model"] == "model.pkl"
        assert doc["flavors"]["sklearn"]["serialization_format"] == "pickle"
        assert doc["flavors"]["sklearn"]["sklearn_version"] == need("sklearn").__version__
        assert doc["flavors"]["python_function"]["loader_module"] == "mlflow.sklearn"
        assert doc["flavors"]["python_function"]["model_path"] == "model.pkl"
        #  the text column is typed string from the fitted encoder
        assert json.loads(doc["signature"]["inputs"]) == [
            {"type": "double", "name": "area"}, {"type": "double", "name": "rooms"},
            {"type": "string", "name": "town"}]
        assert "scikit-learn==" in (out / "requirements.txt").read_text()
        for reader in (None, no_yaml):
            w = workers("--flavor", "mlflow", "--model", out, env=reader)
            assert ready(w, "mlflow")["columns"] == features
            same(w.predict(data[features].to_dict(orient="records")), expected)
    #  a folder that exists and is not empty is refused, and left alone
    code, line = export("--flavor", "sklearn", "--model", tmp_path / "ridge.joblib",
                        "--out", tmp_path / "with-yaml")
    assert code == 1 and line["exported"] is False and line["type"] == "FileExistsError"
    assert "exists and is not an empty folder" in line["error"]
    #  a failed export leaves nothing behind
    proc = subprocess.run([PYTHON, str(WORKER), "export", "--flavor", "sklearn", "--model",
                           str(tmp_path / "nothing.pkl"), "--out", str(tmp_path / "never")],
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 1 and not (tmp_path / "never").exists()
    assert json.loads(proc.stdout)["type"] == "FileNotFoundError"
    #  (its error on standard error too, for a caller that reads that)
    assert "wb_worker: cannot export: FileNotFoundError:" in proc.stderr
    assert not [n for n in os.listdir(tmp_path) if ".export-" in n]


def test_export_of_a_scoring_script_and_of_an_mlflow_folder(workers, tmp_path):
    need("numpy")
    need("pandas")
    model_dir = tmp_path / "version"
    model_dir.mkdir()
    (model_dir / "weights.json").write_text('{"x": 2, "y": -1}')
    (tmp_path / "score.py").write_text(SCORER_DICT.replace("weights = None",
                                                           "weights = None\nCOLUMNS = ['x', 'y']"))
    out = tmp_path / "exported"
    code, line = export("--flavor", "python", "--model", model_dir, "--scorer",
                        tmp_path / "score.py", "--out", out)
    assert code == 0 and line["columns"] == ["x", "y"], line
    assert sorted(os.listdir(out / "code")) == ["score.py", "workbench_scorer.py"]
    assert os.listdir(out / "model") == ["weights.json"]
    w = workers("--flavor", "mlflow", "--model", out)
    assert ready(w, "mlflow")["columns"] == ["x", "y"]
    #  a DataFrame in: run() gets records, its dict comes back as the result
    assert w.ask([[3, 1], [1, 1]]) == {"id": 1, "result": {"total": 6.0, "rows": 2,
                                                            "first": [1, 2]}}
    #  an MLflow folder exports as itself
    again = tmp_path / "again"
    code, line = export("--flavor", "auto", "--model", out, "--out", again)
    assert code == 0 and line["flavor"] == "mlflow" and line["columns"] == ["x", "y"]
    assert (again / "MLmodel").read_text() == (out / "MLmodel").read_text()
    w = workers("--flavor", "mlflow", "--model", again)
    assert w.ask([[3, 1]], ["x", "y"])["result"]["total"] == 5.0


#  ---- Built-in models: the export scores as the C scorer ----

def wb(env, *args, stdin=subprocess.DEVNULL):
    proc = subprocess.run([WORKBENCH_BIN, *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=TIMEOUT * 6, stdin=stdin)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.mark.slow
def test_builtin_export_matches_the_c_scorer(workers, tmp_path):
    """Every built-in kind, trained with the command-line tool, scored by
    %predict (the C scorer) and by its MLflow export through the worker."""
    assert os.access(WORKBENCH_BIN, os.X_OK), f"build Workbench first: no {WORKBENCH_BIN}"
    random = __import__("random").Random(5)
    lines = ["a,b,colour,label,value,flag"]
    for _ in range(300):
        a, b = random.uniform(-3, 3), random.gauss(0, 2)
        colour = random.choice(["red", "blue", "green", ""])
        label = "x" if a + b > 0.5 else ("y" if a - b > 0 else "z")
        value = 3 * a - 2 * b + (5 if colour == "red" else 0) + random.gauss(0, 0.3)
        lines.append(f"{a:.4f},{b:.4f},{colour},{label},{value:.5f},{int(a > 0)}")
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    env = dict(os.environ, WORKBENCH_WORKSPACE=str(tmp_path / "ws"))
    env.pop("WORKBENCH_RUN_ID", None)
    wb(env, "data", "register", "d", tmp_path / "d.csv")
    frame = need("pandas").read_csv(tmp_path / "d.csv", keep_default_na=False, na_values=[""])
    rows = [line.split(",") for line in lines[1:]]
    records = [{"a": float(r[0]), "b": float(r[1]), "colour": r[2] or None} for r in rows]
    kinds = [("linear", "value"), ("logistic", "label"), ("logistic", "flag"), ("mlp", "label"),
             ("mlp", "flag"), ("mlp", "value"), ("kmeans", None)]
    for number, (kind, target) in enumerate(kinds):
        name = f"m{number}"
        args = ["train", "--data", "d", "--model", kind, "--name", name,
                "--param", "features=a,b,colour", "--seed", "3"]
        args += ["--target", target] if target else ["--param", "k=4"]
        wb(env, *args)
        wb(env, "artifacts", name, "outputs/model.json", "--to", tmp_path / f"{name}.json")
        wb(env, "predict", name, "--data", "d", "--output", tmp_path / f"{name}.csv")
        with open(tmp_path / f"{name}.csv", newline="") as f:
            expected = list(csv.DictReader(f))
        out = tmp_path / f"{name}-mlflow"
        code, line = export("--flavor", "workbench", "--model", tmp_path / f"{name}.json",
                            "--out", out)
        assert code == 0, line
        assert line["columns"] == ["a", "b", "colour"]
        assert sorted(os.listdir(out)) == ["MLmodel", "code", "model.json", "python_env.yaml",
                                           "requirements.txt"]
        assert os.listdir(out / "code") == ["workbench_mlflow.py"]
        w = workers("--flavor", "mlflow", "--model", out)
        hello = ready(w, "mlflow")
        assert hello["columns"] == ["a", "b", "colour"]
        classify = kind in ("logistic", "mlp") and target != "value"
        assert hello["proba"] is classify
        reply = w.ask(records, proba=True)
        got = reply["predictions"]
        assert len(got) == len(expected) == 300
        for g, e in zip(got, expected):
            if target == "value":
                #  the same sums in the same order: the same doubles
                assert abs(g - float(e["prediction"])) <= 1e-9 * max(1, abs(g)), (kind, g, e)
            elif kind == "kmeans":
                assert g == int(float(e["prediction"]))
            elif target == "flag":
                assert g == int(e["prediction"])        # a numeric target: numbers
            else:
                assert g == e["prediction"]
        if classify:
            classes = hello["classes"]
            assert len(reply["probabilities"]) == 300
            for p, e in zip(reply["probabilities"], expected):
                for c, value in zip(classes, p):
                    written = float(e[f"probability_{c}"])      # %.6g in the CSV
                    assert abs(value - written) <= 5e-6 * max(1e-3, written), (kind, value, e)
        assert w.close() == 0
        #  the loader as MLflow calls it, on a DataFrame (extra columns left
        #  out), records and rows in the model's order: the same answers
        model = loader(out)._load_pyfunc(str(out / "model.json"))
        assert model.predict(frame).tolist() == got
        assert model.predict(records).tolist() == got
        assert model.predict([[r["a"], r["b"], r["colour"]] for r in records]).tolist() == got
        #  and the worker finds the model file's flavor by itself
        code, hello = check("--detect", "--model", tmp_path / f"{name}.json")
        assert (code, hello["flavor"], hello["columns"]) == (0, "workbench", ["a", "b", "colour"])
        assert hello["classes"] == (sorted({e["prediction"] for e in expected}, key=str)
                                    if classify and target == "label" else
                                    [0, 1] if classify else None)
    #  what the loader refuses, in words
    with pytest.raises(ValueError, match="row 1: column 'b' is missing"):
        model.predict([{"a": 1.0, "colour": "red"}])
    with pytest.raises(ValueError, match="row 1: column 'b' takes a number, not 'two'"):
        model.predict([[1.0, "two", "red"]])
    with pytest.raises(ValueError, match="row 2: column 'a' is missing or not finite"):
        model.predict([[1.0, 2.0, "red"], [None, 2.0, "red"]])
    with pytest.raises(ValueError, match="row 1 has 2 values; the model takes 3"):
        model.predict([[1.0, 2.0]])


def loader(folder):
    """workbench_mlflow from an exported folder's code/, imported afresh."""
    spec = importlib.util.spec_from_file_location("workbench_mlflow",
                                                  folder / "code" / "workbench_mlflow.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
