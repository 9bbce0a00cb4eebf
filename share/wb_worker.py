"""wb_worker - a Python worker of Workbench: loads a user's own model (a
scikit-learn pickle or joblib file, an MLflow model folder, or any model
with a scoring script) and scores rows for the scoring server and for
batch jobs, over a framed protocol on its standard input and output.

Standard library and numpy; scikit-learn, joblib, yaml, pandas and
cloudpickle are used when present and imported only when needed. This
docstring is the contract between the worker and the C code that runs it.

Invocation
----------

    PYTHON wb_worker.py MODE --flavor F --model PATH [--scorer FILE]

    MODE    serve    load the model, then answer requests (below)
            check    load the model as serve does, print the hello (below) as
                     one JSON line on standard output, exit 0 when it is ready,
                     1 when not (used by %model register to refuse a model
                     that cannot load and to record its columns and classes)
            export   write the model as an MLflow model folder (below)
    F       sklearn  a pickle or joblib file of an estimator (predict, and
                     predict_proba when it has one)
            mlflow   an MLflow model folder (its MLmodel file)
            python   any model with a scoring script (--scorer)
            workbench  a built-in model file (model.json)
            auto     decide from PATH (check --detect is check --flavor auto):
                     a folder holding MLmodel is mlflow; a .pkl, .pickle or
                     .joblib file (or a folder holding just one) is sklearn;
                     a Workbench model.json (or a folder holding one) is
                     workbench; anything with --scorer is python. The hello
                     names the flavor found.
    PATH    the stored model file or folder
    FILE    the scoring script: a Python file defining init() (load the model
            from the folder in $WORKBENCH_MODEL_DIR) and run(data); optional
            BATCH = True (run takes many rows at once) and COLUMNS = [...]

    WORKBENCH_MODEL_DIR is the version's folder; when it is not set the
    worker sets it to PATH (a folder) or to the folder holding PATH (a file).
    OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and MKL_NUM_THREADS default to 1
    (the server runs a worker per core). The worker writes no bytecode
    (__pycache__) beside the scripts and modules it imports.

Exit status: 0 at the end of the input (serve), on success (check, export);
1 when the model cannot load or export fails; 2 on a broken frame (too long,
cut short) or bad arguments.

Framing (serve)
---------------

Every message is a frame: a 4-byte unsigned big-endian length N, then N
bytes of one UTF-8 JSON object, or of raw numbers where a matrix request or
its reply (2 and 3 below) says that they come next. Requests come in on
standard input, replies go out on standard output, one reply (and its raw
frames) per request, in order. At start the
worker takes private duplicates of fds 0 and 1 for the protocol, then points
fd 1 at fd 2 (so print() in user code goes to standard error, which the
server logs line by line) and fd 0 at /dev/null. A frame over 256 MiB is
refused (exit 2); the end of the input between frames ends the worker (exit
0).

1. Hello: the first frame the worker writes, once the model is loaded (and
   the scorer's init() has returned):

       {"ready": true, "flavor": "sklearn", "batch": true, "matrix": true,
        "proba": true, "classes": ["a", "b"], "columns": ["x", "y"],
        "model": "...", "python": "3.11.2", "pid": 123}

   batch    the model takes many rows in one call (sklearn, mlflow, workbench;
            a scoring script only when it sets BATCH = True)
   matrix   it takes matrix requests (below): numpy imports
   proba    predict_proba exists; classes: its classes_ (JSON values) or null
   columns  the input column names when known (an estimator's
            feature_names_in_, an MLflow signature's inputs, a script's
            COLUMNS), else null
   model    what was loaded, in words (e.g. "sklearn.pipeline.Pipeline")

   When the model cannot load, instead (and exit 1):

       {"ready": false, "error": "ExcType: message", "type": "ExcType",
        "traceback": "the full traceback"}

   for a file that is not a pickle or joblib file, a pickle of something
   without predict(), an MLmodel without a flavor this worker loads (the
   message names the flavors it has and those supported), a script without
   init() or run() (the message names what is missing), init() raising, a
   package that does not import.

2. Request (server to worker):

       {"id": 7, "rows": [[1.0, "x"], ...], "columns": ["a", "b"], "proba": false}

   rows are lists of values (in the order of "columns", or of the model's
   own columns when "columns" is null) or objects {"column": value}. For an
   estimator that knows its columns (feature_names_in_, a signature) the
   rows are put in its order (a column it needs and the request lacks is an
   error naming it; columns it does not take are left out) and given as a
   pandas DataFrame when it was fitted on one and pandas is here; otherwise
   as a numpy array, of floats when every value is a number or null (null
   is NaN), else of objects. An estimator fitted on a DataFrame whose parts
   are all scikit-learn's own column-blind estimators (no ColumnTransformer,
   no FunctionTransformer, nothing from another package) gets numbers as
   the numpy array of its columns, in its order: the same values, without
   pandas' per-column checks in every step (0.9 ms of a one-row call to a
   64-column StandardScaler + LogisticRegression, 0.1 ms left); should it
   raise, the DataFrame is given and the array is not tried again. A
   scoring script's run(data) gets a list of
   dicts keyed by column when the request names its columns, else the list
   of lists.

   A matrix request (numbers only; the hello says "matrix": true when numpy
   imports) has "matrix" in place of "rows":

       {"id": 7, "matrix": {"dtype": "<f8", "shape": [1000, 64]},
        "columns": ["a", ...], "proba": true}

   and the very next frame is not JSON but the values themselves: n * m
   little-endian float64 (IEEE 754) values, row by row, 8 * n * m bytes; NaN
   is a missing value. That frame always follows a request holding
   "matrix", even when the request is wrong, so that the frames stay in
   step. The worker reads it into a numpy array without another copy
   (numpy.frombuffer) and gives the model what rows would give: put in the
   model's columns by name (a matrix without "columns" must have the
   model's columns in its order), a pandas DataFrame when the estimator was
   fitted on one (an MLflow model: whenever pandas is here), else the array
   itself; a scoring script gets lists, NaN as None. A dtype other than
   "<f8", a shape that is not [rows, columns], a frame of another length
   than 8 * n * m bytes, or "columns" of another count than m is an error
   reply; the worker goes on serving.

   The reply to a matrix request may carry predictions and probabilities
   as raw frames too: when the model gives a numpy array of numbers of one
   or two dimensions, its field is a descriptor

       {"id": 7, "predictions": {"dtype": "<i8", "shape": [1000]},
        "probabilities": {"dtype": "<f8", "shape": [1000, 2]}}

   and for each field that is a descriptor, predictions first, one frame
   follows the reply holding its values (dtype "<f8": little-endian
   float64, NaN and infinities meaning null; "<i8": little-endian signed
   64-bit integers), row by row. Any other output (labels as text, lists a
   scorer returns, a result) stays JSON, and so does every reply to rows.
   (Formatting 3,000 floats as JSON text in the worker took longer than
   the model's predict_proba on 1,000 rows of 64 features.)

3. Reply:

       {"id": 7, "predictions": [...]}
       {"id": 7, "predictions": [...], "probabilities": [[...], ...]}
       {"id": 7, "result": {...}}

   in JSON's own values (numpy scalars and arrays converted, NaN and
   infinities as null). "probabilities" when the request asked for them and
   the model has predict_proba. A scoring script's run() returning a list
   (or a tuple, an array) is the predictions, answered as is even when its
   length is not the number of rows (the server decides); a dict is the
   "result"; anything else is an error. An MLflow model's DataFrame output
   is its one column, or a list of records.

   An error, after which the worker goes on serving:

       {"id": 7, "error": "ValueError: message", "type": "ValueError",
        "traceback": "..."}

Export
------

    PYTHON wb_worker.py export --flavor F --model PATH [--scorer FILE]
                               --out DIR [--columns JSON]

writes an MLflow model folder at DIR (refused when DIR exists and is not
empty; written beside it and renamed into place, so a failed export leaves
nothing): MLmodel (YAML, written by hand when yaml is absent), the model's
files, requirements, and a signature when the columns are known. JSON is a
list of column names, or of {"name": ..., "type": ...} with MLflow's column
types (double, long, string, boolean, ...); names alone are typed from the
estimator where it tells (a OneHotEncoder's string categories), else double.

    workbench  python_function: loader_module workbench_mlflow, code: code
               (code/workbench_mlflow.py), data: model.json
    sklearn    sklearn (pickled_model: model.pkl, serialization_format:
               pickle, sklearn_version) and python_function (loader_module:
               mlflow.sklearn, model_path: model.pkl), as MLflow writes them
    python     python_function: loader_module workbench_scorer, code: code
               (the script and workbench_scorer.py, which wraps init() and
               run()), data: model (the version's files)
    mlflow     the folder, copied

It prints one JSON line: {"exported": true, "out": DIR, "flavor": F,
"columns": [...] or null}, or {"exported": false, "error": ..., "type": ...,
"traceback": ...} (exit 1). A failed check or export also writes its error
on standard error, as one line "wb_worker: ...".

MLflow models are loaded without the mlflow package: MLmodel is read with
yaml.safe_load (or a small reader of the YAML MLflow writes); the sklearn
flavor (pickle or cloudpickle) is preferred; else python_function: with a
loader_module, the MLmodel's code paths go on sys.path, the module is
imported and _load_pyfunc(data) called (loader_module mlflow.sklearn is
read as the sklearn flavor); with a python_model (a cloudpickled
mlflow.pyfunc.PythonModel), minimal stand-ins for mlflow.pyfunc.PythonModel
and PythonModelContext are put in sys.modules when mlflow does not import,
then load_context(context) and predict(context, data) are called.
"""

import argparse
import datetime
import importlib
import importlib.util
import json
import os
import pickle
import platform
import re
import shutil
import struct
import sys
import traceback
import types
import uuid
import warnings

#   The server runs a worker per core: one thread each for the numeric
#   libraries, unless told otherwise
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
#   A model's stored folder (and the worker's own) is not written to
sys.dont_write_bytecode = True

try:
    import numpy as np
except ImportError:                     # a scoring script may not need it
    np = None

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_FRAME = 256 << 20                   # bytes a frame may hold, at most
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
MLFLOW_TYPES = ("double", "float", "long", "integer", "string", "boolean", "binary",
                "datetime")
#   The Debian package that brings each optional module
DEBIAN = {"sklearn": "python3-sklearn", "joblib": "python3-joblib", "yaml": "python3-yaml",
          "pandas": "python3-pandas", "cloudpickle": "python3-cloudpickle",
          "numpy": "python3-numpy", "xgboost": "python3-xgboost", "torch": "python3-torch"}


# ---- Errors and JSON values ----

class _ProtocolError(Exception):
    """A broken frame: the worker cannot go on (exit 2)."""


def _fault(exc, context=None):
    """An exception as the protocol reports it: "Type: message", the type,
    the traceback. context goes in front of the message."""
    kind = type(exc).__name__
    message = str(exc)
    if isinstance(exc, ImportError) and exc.name:
        root = exc.name.split(".")[0]
        if root in DEBIAN and DEBIAN[root] not in message:
            message += f" (install the Debian package {DEBIAN[root]})"
    if context:
        message = f"{context}: {message}" if message else context
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return {"error": f"{kind}: {message}" if message else kind, "type": kind,
            "traceback": text}


def _native(value):
    """value in JSON's own terms: numpy scalars and arrays, tuples, sets
    and tensors as numbers and lists, NaN and infinities as None."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if value - value == 0 else None
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_native(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _native(v) for k, v in value.items()}
    if np is not None:
        if isinstance(value, np.ndarray):
            kind = value.dtype.kind
            if kind in "biu":
                return value.tolist()
            if kind == "f":
                if np.isfinite(value).all():
                    return value.tolist()
                return np.where(np.isfinite(value), value, None).tolist()
            if kind == "U":
                return value.tolist()
            return _native(value.tolist())
        if isinstance(value, np.generic):
            return _native(value.item())
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if hasattr(value, "isoformat"):         # datetime, date, pandas Timestamp
        return value.isoformat() if value == value else None
    if hasattr(value, "to_numpy"):          # pandas Series, Index
        return _native(value.to_numpy())
    if hasattr(value, "tolist"):            # torch tensors, array-likes
        return _native(value.tolist())
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    if hasattr(value, "__float__"):         # Decimal, Fraction
        return _native(float(value))
    raise TypeError(f"a {type(value).__module__}.{type(value).__name__} is not a JSON value")


def _dumps(value):
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


# ---- Framing ----

class _Channel:
    """Frames in from one file descriptor and out to another."""

    def __init__(self, fd_in, fd_out):
        self.reader = os.fdopen(fd_in, "rb", buffering=1 << 16) if fd_in is not None else None
        self.fd_out = fd_out

    def read(self, raw=False):
        """The next frame's bytes, or None at the end of the input. raw:
        a matrix's frame, into a bytearray (numpy's arrays on it are
        writable, and no copy is made)."""
        header = self.reader.read(4)
        if not header:
            if raw:
                raise _ProtocolError("the input ended before the frame of a matrix")
            return None
        if len(header) < 4:
            raise _ProtocolError("the input ended inside a frame's length")
        (size,) = struct.unpack(">I", header)
        if size > MAX_FRAME:
            raise _ProtocolError(f"a frame of {size} bytes is over the limit of {MAX_FRAME}")
        if not raw:
            body = self.reader.read(size)
            got = len(body)
        else:
            body = bytearray(size)
            view, got = memoryview(body), 0
            while got < size:
                more = self.reader.readinto(view[got:])
                if not more:
                    break
                got += more
        if got < size:
            raise _ProtocolError(f"the input ended inside a frame ({got} of {size} bytes)")
        return body

    def write(self, message, raws=()):
        """Send one JSON object as a frame, then the raw frames its
        descriptors announce (an error in their place when the object
        cannot be written as JSON or a frame is too long)."""
        try:
            data = _dumps(message).encode("utf-8")
        except (TypeError, ValueError) as exc:
            failure = _fault(exc, "the reply is not JSON")
            data, raws = _dumps({"id": message.get("id"), **failure}).encode(), ()
        size = max([len(data)] + [len(raw) for raw in raws])
        if size > MAX_FRAME:
            data, raws = _dumps({"id": message.get("id"), "type": "ValueError",
                                 "error": f"ValueError: the reply is {size} bytes, over the "
                                          f"frame limit of {MAX_FRAME}: send fewer rows",
                                 "traceback": ""}).encode(), ()
        parts = [struct.pack(">I", len(data)), data]
        for raw in raws:
            parts += [struct.pack(">I", len(raw)), raw]
        #   one write when small (the server reads the whole reply at one wake-up)
        if sum(len(part) for part in parts) <= 1 << 20:
            parts = [b"".join(parts)]
        for part in parts:
            self._send(part)

    def line(self, message):
        """Send one JSON object as a line (check and export)."""
        self._send((_dumps(message) + "\n").encode("utf-8"))

    def _send(self, data):
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd_out, view):]


def _take_stdio(serve):
    """Private duplicates of fds 0 and 1 for the protocol; fd 1 then goes
    to fd 2 and fd 0 to /dev/null, so that user code can neither write into
    nor read from the protocol. Returns (fd in or None, fd out)."""
    fd_out = os.dup(1)                  # not inherited by user code's children
    fd_in = os.dup(0) if serve else None
    sys.stdout.flush()
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    try:
        sys.stdout.reconfigure(line_buffering=True)
    except AttributeError:
        pass
    return fd_in, fd_out


# ---- Rows in, predictions out ----

def _matrix(spec, data):
    """The array of a matrix request: spec its "matrix", data the bytes of
    the frame that came after it."""
    if np is None:
        raise ImportError("a matrix request needs numpy (install the Debian package "
                          "python3-numpy)", name="numpy")
    if not isinstance(spec, dict) or spec.get("dtype") != "<f8":
        raise ValueError('"matrix" must be {"dtype": "<f8", "shape": [rows, columns]}: '
                         'little-endian float64 is the one type taken')
    shape = spec.get("shape")
    if not isinstance(shape, list) or len(shape) != 2 or \
            not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise ValueError(f'the matrix\'s "shape" must be [rows, columns], not {shape!r}')
    rows, width = shape
    if len(data) != 8 * rows * width:
        raise ValueError(f"the matrix's frame has {len(data)} bytes; {rows} x {width} float64 "
                         f"values take {8 * rows * width}")
    array = np.frombuffer(data, dtype="<f8").reshape(rows, width)
    return array if array.dtype.isnative else array.astype(np.float64)


def _table(request):
    """(names or None, rows) of a request: rows as lists, or a matrix
    request's array (_serve put it in "matrix")."""
    rows, names = request.get("rows"), request.get("columns")
    matrix = request.get("matrix")
    if names is not None and (not isinstance(names, list)
                              or not all(isinstance(n, str) for n in names)):
        raise ValueError('"columns" must be a list of names, or null')
    if matrix is not None:
        if rows is not None:
            raise ValueError('a request has "rows" or "matrix", not both')
        if names is not None and len(names) != matrix.shape[1]:
            raise ValueError(f"the matrix has {matrix.shape[1]} columns for {len(names)} "
                             "names in \"columns\"")
        return names, matrix
    if not isinstance(rows, list):
        raise ValueError('a request needs "rows": a list of rows')
    if rows and all(isinstance(r, dict) for r in rows):
        if names is None:
            names = list(rows[0])
            seen = set(names)
            for row in rows[1:]:
                for key in row:
                    if key not in seen:
                        seen.add(key)
                        names.append(key)
        lists = []
        for number, row in enumerate(rows, 1):
            for name in names:
                if name not in row:
                    raise ValueError(f"row {number}: column '{name}' is missing")
            lists.append([row[name] for name in names])
        return names, lists
    for number, row in enumerate(rows, 1):
        if not isinstance(row, list):
            raise ValueError(f"row {number} is neither a list of values nor an object of "
                             "column: value (and rows may not mix the two)")
        if names is not None and len(row) != len(names):
            raise ValueError(f"row {number} has {len(row)} values for {len(names)} columns")
    return names, rows


def _ordered(names, rows, want):
    """rows (named by names, or positional; lists or an array) in the
    columns of want."""
    if np is not None and isinstance(rows, np.ndarray):
        if names is None and rows.shape[1] != len(want):
            raise ValueError(f"the matrix has {rows.shape[1]} columns; the model takes "
                             f"{len(want)}, in this order: {', '.join(want)}")
        if names is None or names == want:
            return rows
        where = {name: i for i, name in enumerate(names)}
        for name in want:
            if name not in where:
                raise ValueError(f"column '{name}' that the model needs is missing; it "
                                 f"takes {', '.join(want)}")
        return rows[:, [where[name] for name in want]]
    if names is None:
        for number, row in enumerate(rows, 1):
            if len(row) != len(want):
                raise ValueError(f"row {number} has {len(row)} values; the model takes "
                                 f"{len(want)}, in this order: {', '.join(want)}")
        return rows
    if names == want:
        return rows
    where = {name: i for i, name in enumerate(names)}
    for name in want:
        if name not in where:
            raise ValueError(f"column '{name}' that the model needs is missing; it takes "
                             f"{', '.join(want)}")
    picks = [where[name] for name in want]
    return [[row[i] for i in picks] for row in rows]


def _array(rows):
    """rows as a numpy array: of floats when every value is a number or
    None (NaN), else of objects (a matrix's array as it is)."""
    if isinstance(rows, np.ndarray):
        return rows
    width = len(rows[0]) if rows else 0
    if any(len(row) != width for row in rows):
        raise ValueError(f"the rows have different numbers of values ({width} in the first)")
    try:
        array = np.array(rows)              # numpy's own look at the types, in C
    except (ValueError, TypeError, OverflowError):
        array = None
    if array is not None and array.ndim == 2 and array.dtype.kind in "biuf":
        return array.astype(np.float64)
    if array is not None and array.dtype.kind == "O" and \
            all(v is None or isinstance(v, (int, float)) for row in rows for v in row):
        return np.array(rows, dtype=np.float64)       # numbers and None (NaN)
    if not rows:
        return np.zeros((0, 0))
    array = np.empty((len(rows), width), dtype=object)
    for i, row in enumerate(rows):
        array[i, :] = row
    return array


def _pandas():
    try:
        import pandas
        return pandas
    except ImportError:
        return None


def _lists(rows):
    """rows as lists of values: a matrix's array with NaN as None."""
    if np is None or not isinstance(rows, np.ndarray):
        return rows
    if np.isnan(rows).any():
        return np.where(np.isnan(rows), None, rows).tolist()
    return rows.tolist()


def _raw(value):
    """A model's output for a reply: a numpy array as it is (_outgoing
    sends it as raw numbers or converts it), anything else as JSON values."""
    if np is not None and isinstance(value, np.ndarray):
        return value
    return _native(value)


def _output(value):
    """A model's output as a reply's "predictions" (or "result")."""
    if isinstance(value, dict):
        return {"result": _native(value)}
    pandas = _pandas() if hasattr(value, "columns") else None
    if pandas is not None and isinstance(value, pandas.DataFrame):
        if len(value.columns) == 1:
            return {"predictions": _raw(value.iloc[:, 0].to_numpy())}
        return {"predictions": _native(value.to_dict(orient="records"))}
    return {"predictions": _raw(value)}


#   The numpy kinds a reply sends as raw frames, and as what
_RAW_DTYPES = {"f": "<f8", "i": "<i8", "u": "<i8"}


def _outgoing(reply, binary):
    """(reply, raw frames): its predictions and probabilities that are
    numpy arrays, as descriptors and frames when binary (a reply to a
    matrix request) and they are numbers of one or two dimensions, else as
    JSON values."""
    raws = []
    for key in ("predictions", "probabilities"):
        value = reply.get(key)
        if np is None or not isinstance(value, np.ndarray):
            continue
        dtype = _RAW_DTYPES.get(value.dtype.kind)
        if value.dtype.kind == "u" and value.size and value.max() > np.iinfo(np.int64).max:
            dtype = None
        if not binary or dtype is None or value.ndim not in (1, 2):
            reply[key] = _native(value)
            continue
        reply[key] = {"dtype": dtype, "shape": list(value.shape)}
        raws.append(np.ascontiguousarray(value, dtype=dtype).tobytes())
    return reply, raws


# ---- Loaded models ----

class _Model:
    """A loaded model: what the hello says of it, and scoring a request."""

    flavor = None                       # the flavor it was loaded as
    batch = True                        # takes many rows in one call
    proba = False                       # has predict_proba
    classes = None                      # its classes (JSON values) or None
    columns = None                      # its input columns or None
    what = ""                           # what was loaded, in words

    def hello(self):
        return {"ready": True, "flavor": self.flavor, "batch": self.batch,
                "matrix": np is not None, "proba": self.proba, "classes": _native(self.classes),
                "columns": self.columns, "model": self.what,
                "python": platform.python_version(), "pid": os.getpid()}

    def score(self, request):
        raise NotImplementedError


def _describe(obj):
    kind = type(obj)
    return f"{kind.__module__}.{kind.__qualname__}"


def _names(value):
    """A list of column names (from feature_names_in_, COLUMNS ...) or None."""
    if value is None:
        return None
    names = list(value.tolist() if hasattr(value, "tolist") else value)
    return names if names and all(isinstance(n, str) for n in names) else None


class _Estimator(_Model):
    """Anything with predict (and maybe predict_proba): a scikit-learn
    estimator, an XGBoost model, a Workbench model."""

    def __init__(self, estimator, flavor, columns=None, what=None):
        if not callable(getattr(estimator, "predict", None)):
            raise TypeError(f"the model is a {_describe(estimator)}, which has no predict()")
        self.estimator = estimator
        self.flavor = flavor
        self.what = what or _describe(estimator)
        fitted = _names(getattr(estimator, "feature_names_in_", None))
        self.columns = fitted or columns
        #   a DataFrame for an estimator fitted on one (it checks the names),
        #   but numbers as an array where no part of it looks at names
        self.frame = bool(fitted) and _pandas() is not None
        self.blind = self.frame and np is not None and _column_blind(estimator)
        #   (sklearn's available_if hides predict_proba where it would fail)
        self.proba = callable(getattr(estimator, "predict_proba", None))
        self.classes = getattr(estimator, "classes_", None)

    def input(self, request):
        names, rows = _table(request)
        if self.columns:
            rows = _ordered(names, rows, self.columns)
            names = self.columns
        if self.frame:
            numbers = _numbers(rows, exact=not self.blind)
            if numbers is not None and self.blind:
                return numbers
            return _pandas().DataFrame(rows if numbers is None else numbers,
                                       columns=names, copy=False)
        return _array(rows)

    def _call(self, method, data):
        if not self.frame or not isinstance(data, np.ndarray):
            return method(data)
        with warnings.catch_warnings():
            #   the names were checked and put in order above
            warnings.filterwarnings("ignore", message="X does not have valid feature names")
            return method(data)

    def score(self, request):
        data = self.input(request)
        try:
            reply = {"predictions": _raw(self._call(self.estimator.predict, data))}
            if request.get("proba") and self.proba:
                reply["probabilities"] = _raw(self._call(self.estimator.predict_proba, data))
        except Exception as exc:
            if not (self.blind and isinstance(data, np.ndarray)):
                raise
            self.blind = False
            print(f"worker: the model refused its columns as an array ({type(exc).__name__}: "
                  f"{exc}); it gets DataFrames from now on", file=sys.stderr)
            return self.score(request)
        return reply


#   scikit-learn's own estimators that may look at column names, or run
#   code of the user's that may
_NAMED_PARTS = {"ColumnTransformer", "FunctionTransformer", "TransformedTargetRegressor"}


def _column_blind(estimator):
    """Whether estimator and every estimator inside it (a Pipeline's
    steps, an ensemble's members, ...) are scikit-learn's own and never
    look at column names, so that an array of its columns in order gives
    what a DataFrame gives."""
    seen, todo = set(), [estimator]
    while todo:
        part = todo.pop()
        if id(part) in seen or part is None or isinstance(part, str):
            continue
        seen.add(id(part))
        kind = type(part)
        if not kind.__module__.startswith("sklearn.") or kind.__name__ in _NAMED_PARTS:
            return False
        get_params = getattr(part, "get_params", None)
        if not callable(get_params):
            return False
        try:
            params = get_params(deep=False)
        except Exception:
            return False
        for value in params.values():
            values = value if isinstance(value, (list, tuple)) else [value]
            for item in values:
                if isinstance(item, tuple) and len(item) >= 2:      # (name, estimator)
                    item = item[1]
                if hasattr(item, "fit") or hasattr(item, "predict") or hasattr(item, "transform"):
                    todo.append(item)
                elif callable(item) and not isinstance(item, type):
                    return False        # a function of the user's (a kernel, a metric)
        #   the fitted parts too (an ensemble's estimators_)
        for name in ("estimators_", "estimator_", "steps"):
            fitted = getattr(part, name, None)
            if isinstance(fitted, (list, tuple)):
                todo.extend(f[1] if isinstance(f, tuple) and len(f) >= 2 else f for f in fitted)
            elif fitted is not None and not isinstance(fitted, (list, tuple)):
                todo.append(fitted)
    return True


def _numbers(rows, exact):
    """rows as a float array when every value is a number, else None: a
    DataFrame is made from it 15x faster than from lists. exact: only when
    every value is a float, so that the DataFrame has the dtypes one made
    from the lists would have (an integer column would be int64 there)."""
    if np is None:
        return None
    if isinstance(rows, np.ndarray):
        return rows if rows.dtype.kind == "f" else None
    if exact and not all(type(v) is float for row in rows for v in row):
        return None
    if not exact and any(type(v) is bool for row in rows for v in row):
        return None
    try:
        array = np.array(rows)
    except (ValueError, TypeError, OverflowError):
        return None
    if array.ndim != 2 or array.dtype.kind not in "iuf":
        return None
    return array.astype(np.float64, copy=False)


class _Pyfunc(_Model):
    """An MLflow python_function model: predict(data), or a PythonModel's
    predict(context, data)."""

    def __init__(self, model, columns, what, context=None):
        self.model = model
        self.columns = columns or _names(getattr(model, "columns", None))
        self.what = what
        self.flavor = "mlflow"
        self.context = context
        self.call = self._python_model if context is not None else model.predict
        self.proba = callable(getattr(model, "predict_proba", None))
        self.classes = getattr(model, "classes_", None) if self.proba else None

    def _python_model(self, data):
        import inspect
        try:
            parameters = [p for p in inspect.signature(self.model.predict).parameters.values()
                          if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY,
                                                                  p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):
            parameters = [None, None]
        if len(parameters) == 1:                # MLflow 3: predict(model_input)
            return self.model.predict(data)
        return self.model.predict(self.context, data)

    def input(self, request):
        names, rows = _table(request)
        if self.columns:
            rows = _ordered(names, rows, self.columns)
            names = self.columns
        pandas = _pandas()
        if pandas is not None:
            return pandas.DataFrame(rows, columns=names, copy=False)
        rows = _lists(rows)
        if names is not None:
            return [dict(zip(names, row)) for row in rows]
        return rows

    def score(self, request):
        data = self.input(request)
        reply = _output(self.call(data))
        if request.get("proba") and self.proba and "predictions" in reply:
            reply["probabilities"] = _raw(self.model.predict_proba(data))
        return reply


class _Scorer(_Model):
    """A scoring script: init() once, run(data) per request."""

    def __init__(self, module, path):
        self.module = module
        self.flavor = "python"
        self.batch = getattr(module, "BATCH", False) is True
        self.columns = _names(getattr(module, "COLUMNS", None))
        self.what = f"scoring script {os.path.basename(path)}"

    def score(self, request):
        names, rows = _table(request)
        rows = _lists(rows)
        if names is not None:
            data = [dict(zip(names, row)) for row in rows]
        else:
            data = rows
        result = self.module.run(data)
        if isinstance(result, dict):
            return {"result": _native(result)}
        value = None if isinstance(result, (str, bytes)) else _native(result)
        if not isinstance(value, list):     # a list, tuple, array, Series, tensor
            raise TypeError(f"run() returned a {type(result).__name__}: return a list (one "
                            "prediction per row) or a dict")
        return {"predictions": value}


# ---- Loading each flavor ----

def _load_pickle(path):
    """The object in a pickle or joblib file."""
    with open(path, "rb") as f:
        head = f.read(2)
    if not head:
        raise ValueError(f"{os.path.basename(path)} is empty, not a pickle or joblib file")
    try:
        import joblib
    except ImportError:
        joblib = None
    if path.endswith(".joblib") and joblib is None:
        raise ImportError("a .joblib file needs joblib (install the Debian package "
                          "python3-joblib)", name="joblib")
    try:
        if joblib is not None:
            return joblib.load(path)
        with open(path, "rb") as f:
            return pickle.load(f)
    except (pickle.UnpicklingError, EOFError, ValueError, KeyError, IndexError) as exc:
        message = f"{os.path.basename(path)} is not a pickle or joblib file that loads ({exc})"
        try:
            again = type(exc)(message)
        except Exception:
            again = pickle.UnpicklingError(message)
        raise again from exc
    except AttributeError as exc:
        if "__main__" not in str(exc):
            raise
        raise AttributeError(f"{exc}: the pickle names a class or function of the script "
                             "that trained it (its __main__), which no other process has; "
                             "define it in a module beside the model, or save with "
                             "cloudpickle") from exc


def _pickle_in(folder):
    """The one pickle or joblib file in folder."""
    found = sorted(name for name in os.listdir(folder) if name.endswith(PICKLE_SUFFIXES))
    if len(found) != 1:
        raise ValueError(f"the folder {folder} holds {len(found) or 'no'} .pkl, .pickle or "
                         ".joblib files" + (f" ({', '.join(found)})" if found else "")
                         + ": name the file")
    return os.path.join(folder, found[0])


def _is_workbench(path):
    try:
        with open(path, "rb") as f:
            start = f.read(4096)
        return b'"format"' in start and b'"workbench-model"' in start
    except OSError:
        return False


def detect(path, scorer=None):
    """The flavor of the model at path (see the docstring's auto)."""
    if scorer:
        return "python"
    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, "MLmodel")):
            return "mlflow"
        if _is_workbench(os.path.join(path, "model.json")):
            return "workbench"
        pickles = [n for n in os.listdir(path) if n.endswith(PICKLE_SUFFIXES)]
        if len(pickles) == 1:
            return "sklearn"
        raise ValueError(f"cannot tell the flavor of the folder {path}: it holds no MLmodel, "
                         "no Workbench model.json and not one .pkl, .pickle or .joblib file; "
                         "give --flavor sklearn|mlflow|python (with --scorer)")
    if not os.path.exists(path):
        raise FileNotFoundError(f"no model at {path}")
    if os.path.basename(path) == "MLmodel":
        return "mlflow"
    if path.endswith(PICKLE_SUFFIXES):
        return "sklearn"
    if _is_workbench(path):
        return "workbench"
    with open(path, "rb") as f:
        if f.read(1) == b"\x80":            # a pickle, whatever its name
            return "sklearn"
    raise ValueError(f"cannot tell the flavor of {path}: it is not a .pkl, .pickle or .joblib "
                     "file, an MLmodel folder or a Workbench model.json; give --flavor "
                     "sklearn|mlflow|python (with --scorer)")


def _workbench_module():
    if HERE not in sys.path:
        sys.path.append(HERE)
    return importlib.import_module("workbench_mlflow")


def _load_workbench(path):
    model = _workbench_module().load(path)
    return _Estimator(model, "workbench", model.columns,
                      f"Workbench {model.kind} {model.task} model")


def _load_sklearn(path):
    if os.path.isdir(path):
        path = _pickle_in(path)
    estimator = _load_pickle(path)
    if not callable(getattr(estimator, "predict", None)):
        raise TypeError(f"{os.path.basename(path)} holds a {_describe(estimator)}, which has "
                        "no predict(): pickle the fitted estimator itself")
    return _Estimator(estimator, "sklearn")


def _load_scorer_module(path):
    """The scoring script at path as a module (not initialised); its folder
    goes on sys.path so that what sits beside it imports."""
    if not path:
        raise ValueError("the python flavor needs --scorer FILE: a script with init() and run()")
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no scoring script at {path}")
    name = os.path.splitext(os.path.basename(path))[0]
    if name in sys.modules or not name.isidentifier():
        name = "workbench_scorer_" + re.sub(r"\W", "_", name)
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    missing = [f"{n}()" for n in ("init", "run") if not callable(getattr(module, n, None))]
    if missing:
        raise AttributeError(f"{os.path.basename(path)} defines no {' and no '.join(missing)}: "
                             "a scoring script needs init() (load the model from "
                             "$WORKBENCH_MODEL_DIR) and run(data)")
    return module


def _load_python(path, scorer):
    module = _load_scorer_module(scorer)
    module.init()
    return _Scorer(module, scorer)


# ---- MLflow: MLmodel ----

_PLAIN = re.compile(r"[A-Za-z_/.][A-Za-z0-9_./-]*\Z")
_NUMBER = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_RESERVED = {"null", "~", "true", "false", "yes", "no", "on", "off", "y", "n"}


def _yaml_scalar(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _RESERVED:
        return text
    return json.dumps(text, ensure_ascii=False)     # a JSON string is a YAML one


def yaml_dump(value, indent=0):
    """The YAML of nested dicts, lists and scalars, by hand (block style,
    JSON-quoted strings), for when yaml is absent."""
    pad = " " * indent
    lines = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}{_yaml_scalar(key)}:")
                lines.append(yaml_dump(item, indent + 2 if isinstance(item, dict) else indent))
            else:
                empty = {dict: "{}", list: "[]"}.get(type(item))
                lines.append(f"{pad}{_yaml_scalar(key)}: {empty or _yaml_scalar(item)}")
    else:
        for item in value:
            if isinstance(item, dict) and item:
                inner = yaml_dump(item, indent + 2).split("\n")
                lines.append(f"{pad}- {inner[0].lstrip()}")
                lines.extend(inner[1:])
            else:
                lines.append(f"{pad}- {_yaml_scalar(item)}")
    return "\n".join(lines)


def _quote_end(text, start):
    """Where the quoted scalar opening at text[start] closes (just past its
    closing quote), or -1."""
    quote, i = text[start], start + 1
    while i < len(text):
        if quote == '"' and text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            if quote == "'" and text[i + 1:i + 2] == "'":
                i += 2
                continue
            return i + 1
        i += 1
    return -1


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "/": "/",
            " ": " ", "b": "\b", "f": "\f", "e": "\x1b", "a": "\a", "N": "\x85",
            "_": "\xa0", "L": "\u2028", "P": "\u2029", "\t": "\t"}


def _unquote(text):
    """A quoted YAML scalar's text (quotes included) as its value."""
    if text[0] == "'":
        return text[1:-1].replace("''", "'")
    out, i, body = [], 0, text[1:-1]
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        code = body[i + 1:i + 2]
        width = {"x": 2, "u": 4, "U": 8}.get(code)
        if width:
            out.append(chr(int(body[i + 2:i + 2 + width], 16)))
            i += 2 + width
        else:
            if code not in _ESCAPES:
                raise ValueError(f"MLmodel: unknown escape \\{code} in a quoted string")
            out.append(_ESCAPES[code])
            i += 2
    return "".join(out)


def _scalar(text):
    text = text.strip()
    if text[:1] in ("'", '"'):
        return _unquote(text)
    if " #" in text:
        text = text[:text.index(" #")].rstrip()
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if text == "{}":
        return {}
    if text.startswith("[") and text.endswith("]"):
        inner = text[1:-1].strip()
        return [_scalar(part) for part in inner.split(",")] if inner else []
    if re.match(r"[-+]?[0-9]+\Z", text):
        return int(text)
    if _NUMBER.match(text):
        return float(text)
    if text[:1] in ("|", ">", "&", "*", "!", "{"):
        raise ValueError(f"MLmodel uses YAML this reader does not know ({text[:20]}): "
                         "install the Debian package python3-yaml")
    return text


def _logical_lines(text):
    """(indent, text) of each line that holds something, a quoted scalar
    that goes on over several lines folded into one."""
    raw = text.splitlines()
    out, i = [], 0
    while i < len(raw):
        line = raw[i].rstrip()
        i += 1
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#") or stripped in ("---", "..."):
            continue
        indent = len(line) - len(stripped)
        body = stripped[2:] if stripped.startswith("- ") else stripped
        colon = re.search(r":( |$)", body) if body[:1] not in ("'", '"') else None
        value = body[colon.end():].lstrip() if colon else body
        if value[:1] in ("'", '"'):
            start = len(stripped) - len(value)
            while _quote_end(stripped, start) < 0 and i < len(raw):
                nxt = raw[i].strip()
                i += 1
                if not nxt:                 # a blank line in a folded scalar
                    stripped += "\\n" if value[0] == '"' else "\n"
                else:
                    sep = "" if stripped.endswith(("\n", "\\n")) else " "
                    if value[0] == '"' and stripped.endswith("\\"):
                        stripped, sep = stripped[:-1], ""
                    stripped += sep + nxt
        out.append((indent, stripped))
    return out


def yaml_load(text):
    """The YAML MLflow writes (block mappings and lists, plain and quoted
    scalars, [] and {}), read without the yaml package."""
    lines = _logical_lines(text)

    def block(i, indent):
        if lines[i][1].startswith("- ") or lines[i][1] == "-":
            return sequence(i, indent)
        return mapping(i, indent)

    def nested(i, indent, value):
        """The value after "key:" (or "-"), which may be the next lines."""
        if value != "":
            return _scalar(value), i
        if i < len(lines) and (lines[i][0] > indent or (lines[i][0] == indent and
                                                         lines[i][1].startswith("-"))):
            return block(i, lines[i][0])
        return None, i

    def mapping(i, indent):
        result = {}
        while i < len(lines) and lines[i][0] == indent and not lines[i][1].startswith("- "):
            text = lines[i][1]
            if text[:1] in ("'", '"'):
                end = _quote_end(text, 0)
                key, rest = _unquote(text[:end]), text[end:].lstrip()[1:]
            else:
                match = re.search(r":( |$)", text)
                if not match:
                    raise ValueError(f"MLmodel: cannot read the line '{text[:60]}'")
                key, rest = text[:match.start()], text[match.end():]
            result[key], i = nested(i + 1, indent, rest.strip())
        return result, i

    def sequence(i, indent):
        result = []
        while i < len(lines) and lines[i][0] == indent and (lines[i][1].startswith("- ")
                                                             or lines[i][1] == "-"):
            item = lines[i][1][2:]
            if item and item[:1] not in ("'", '"', "[", "{") and re.search(r":( |$)", item):
                lines[i] = (indent + 2, item)           # "- key: value": a mapping
                value, i = mapping(i, indent + 2)
            else:
                value, i = nested(i + 1, indent, item.strip())
            result.append(value)
        return result, i

    if not lines:
        return None
    value, i = block(0, lines[0][0])
    if i != len(lines):
        raise ValueError(f"MLmodel: cannot read the line '{lines[i][1][:60]}'")
    return value


def _read_mlmodel(folder):
    path = os.path.join(folder, "MLmodel")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        import yaml
        doc = yaml.safe_load(text)
    except ImportError:
        doc = yaml_load(text)
    if not isinstance(doc, dict):
        raise ValueError(f"{path} is not a YAML mapping: not an MLmodel file")
    return doc


def _write_mlmodel(folder, doc):
    try:
        import yaml
        text = yaml.safe_dump(doc, default_flow_style=False, sort_keys=False)
    except ImportError:
        text = yaml_dump(doc) + "\n"
    with open(os.path.join(folder, "MLmodel"), "w", encoding="utf-8") as f:
        f.write(text)


def _signature_columns(doc):
    """The input column names of an MLmodel's signature, or None."""
    inputs = (doc.get("signature") or {}).get("inputs")
    if not inputs:
        return None
    try:
        specs = json.loads(inputs) if isinstance(inputs, str) else inputs
    except ValueError:
        return None
    if not isinstance(specs, list):
        return None
    names = [s.get("name") for s in specs if isinstance(s, dict) and s.get("type") != "tensor"]
    return names if names and len(names) == len(specs) and all(isinstance(n, str)
                                                               for n in names) else None


def _have_mlflow():
    module = sys.modules.get("mlflow")
    if module is not None:
        return not getattr(module, "_workbench_stand_in", False)
    try:
        return importlib.util.find_spec("mlflow") is not None
    except (ImportError, ValueError):
        return False


def _mlflow_stand_in():
    """Minimal mlflow.pyfunc.PythonModel and PythonModelContext in
    sys.modules, for a cloudpickled PythonModel when mlflow is absent."""
    if _have_mlflow():
        importlib.import_module("mlflow.pyfunc")
        return
    if "mlflow.pyfunc.model" in sys.modules:
        return

    class PythonModel:
        """Stand-in for mlflow.pyfunc.PythonModel (mlflow is not installed)."""

        def load_context(self, context):
            pass

        def predict(self, context, model_input, params=None):
            raise NotImplementedError("a PythonModel must define predict()")

    class PythonModelContext:
        """Stand-in for mlflow.pyfunc.PythonModelContext: the artifacts'
        local paths and the model's config."""

        def __init__(self, artifacts, model_config=None):
            self._artifacts = artifacts
            self._model_config = model_config or {}

        @property
        def artifacts(self):
            return self._artifacts

        @property
        def model_config(self):
            return self._model_config

    for kind in (PythonModel, PythonModelContext):
        kind.__module__ = "mlflow.pyfunc.model"
        kind.__qualname__ = kind.__name__
    root = types.ModuleType("mlflow")
    pyfunc = types.ModuleType("mlflow.pyfunc")
    model = types.ModuleType("mlflow.pyfunc.model")
    root._workbench_stand_in = True
    for module in (pyfunc, model):
        module.PythonModel = PythonModel
        module.PythonModelContext = PythonModelContext
    root.pyfunc, pyfunc.model = pyfunc, model
    sys.modules.update({"mlflow": root, "mlflow.pyfunc": pyfunc, "mlflow.pyfunc.model": model})


def _code_paths(folder, conf):
    """Put the code paths an MLmodel flavor names on sys.path."""
    code = conf.get("code")
    for entry in [code] if isinstance(code, str) else code or []:
        path = os.path.join(folder, entry)
        if path not in sys.path:
            sys.path.insert(0, path)


def _load_mlflow(path):
    folder = os.path.dirname(path) if os.path.basename(path) == "MLmodel" else path
    doc = _read_mlmodel(folder)
    flavors = doc.get("flavors") or {}
    signature = _signature_columns(doc)
    sk = flavors.get("sklearn") or {}
    fmt = sk.get("serialization_format", "pickle")
    if sk.get("pickled_model") and fmt in ("pickle", "cloudpickle"):
        _code_paths(folder, sk)
        estimator = _load_pickle(os.path.join(folder, sk["pickled_model"]))
        model = _Estimator(estimator, "mlflow", signature)
        model.what = f"{_describe(estimator)} (MLmodel flavor sklearn)"
        return model
    pf = flavors.get("python_function") or {}
    loader = pf.get("loader_module")
    if pf.get("python_model") or loader == "mlflow.pyfunc.model":
        _code_paths(folder, pf)
        _mlflow_stand_in()
        python_model = pf.get("python_model") or "python_model.pkl"
        with open(os.path.join(folder, python_model), "rb") as f:
            model = pickle.load(f)
        artifacts = {name: os.path.join(folder, (spec or {}).get("path", ""))
                     for name, spec in (pf.get("artifacts") or {}).items()}
        context = sys.modules["mlflow.pyfunc.model"].PythonModelContext(
            artifacts, pf.get("model_config"))
        if hasattr(model, "load_context"):
            model.load_context(context)
        return _Pyfunc(model, signature, f"{_describe(model)} (MLmodel python_model)", context)
    if loader == "mlflow.sklearn" and not _have_mlflow():
        data = pf.get("model_path") or pf.get("data")
        if data and os.path.isfile(os.path.join(folder, data)):
            model = _Estimator(_load_pickle(os.path.join(folder, data)), "mlflow", signature)
            model.what += " (MLmodel loader_module mlflow.sklearn)"
            return model
    if loader and (not loader.startswith("mlflow.") or _have_mlflow()):
        _code_paths(folder, pf)
        module = importlib.import_module(loader)
        if not callable(getattr(module, "_load_pyfunc", None)):
            raise AttributeError(f"loader_module {loader} has no _load_pyfunc(path)")
        data = os.path.join(folder, pf["data"]) if pf.get("data") else folder
        model = module._load_pyfunc(data)
        if not callable(getattr(model, "predict", None)):
            raise TypeError(f"{loader}._load_pyfunc returned a {_describe(model)}, which has "
                            "no predict()")
        return _Pyfunc(model, signature, f"{_describe(model)} (MLmodel loader_module {loader})")
    has = ", ".join(flavors) or "none"
    detail = f"; its python_function needs {loader}, which needs the mlflow package" \
        if loader else ""
    raise ValueError(f"the MLmodel in {folder} has no flavor this worker loads (it has: {has}"
                     f"{detail}); supported: sklearn (pickle or cloudpickle) and python_function "
                     "with a loader_module of its own code or a python_model")


def load(flavor, path, scorer=None):
    """The loaded model of flavor at path (flavor auto: detected)."""
    if flavor == "auto":
        flavor = detect(path, scorer)
    loaders = {"sklearn": lambda: _load_sklearn(path), "mlflow": lambda: _load_mlflow(path),
               "python": lambda: _load_python(path, scorer),
               "workbench": lambda: _load_workbench(path)}
    if flavor not in loaders:
        raise ValueError(f"unknown flavor '{flavor}': sklearn, mlflow, python, workbench or auto")
    model = loaders[flavor]()
    if flavor != "mlflow":
        model.flavor = flavor
    return model


# ---- Export to an MLflow model folder ----

_SCORER_LOADER = '''"""workbench_scorer - the MLflow python_function loader of a Workbench
model with a scoring script: _load_pyfunc(path) points WORKBENCH_MODEL_DIR
at path (the model's files), imports the script beside this file, calls its
init(), and returns an object whose predict(data) calls run() with the rows
(a list of dicts keyed by column for a DataFrame or records, else a list
of lists) and returns what run() returns. Written by Workbench's export.
"""

import importlib.util
import os
import sys

SCRIPT = {script!r}


class ScoringScript:
    def __init__(self, module):
        self.module = module

    def predict(self, data, params=None):
        if hasattr(data, "to_dict") and hasattr(data, "columns"):       # a DataFrame
            if all(isinstance(c, str) for c in data.columns):
                data = data.to_dict(orient="records")
            else:
                data = data.values.tolist()
        elif hasattr(data, "tolist"):
            data = data.tolist()
        return self.module.run(list(data))


def _load_pyfunc(path):
    os.environ["WORKBENCH_MODEL_DIR"] = os.path.abspath(path)
    here = os.path.dirname(os.path.abspath(__file__))
    name = os.path.splitext(SCRIPT)[0]
    spec = importlib.util.spec_from_file_location(name, os.path.join(here, SCRIPT))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    module.init()
    return ScoringScript(module)
'''


def _spec_columns(text):
    """--columns JSON as [{"name", "type" or None}]."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"--columns is not JSON: {exc}") from None
    if not isinstance(value, list):
        raise ValueError("--columns must be a JSON list of names or of {name, type}")
    specs = []
    for item in value:
        if isinstance(item, str):
            specs.append({"name": item, "type": None})
        elif isinstance(item, dict) and isinstance(item.get("name"), str):
            kind = item.get("type")
            if kind is not None and kind not in MLFLOW_TYPES:
                raise ValueError(f"--columns: column '{item['name']}' has type '{kind}'; "
                                 f"MLflow's column types are {', '.join(MLFLOW_TYPES)}")
            specs.append({"name": item["name"], "type": kind})
        else:
            raise ValueError("--columns must be a JSON list of names or of {name, type}")
    return specs


def _string_columns(estimator):
    """Columns an estimator's fitted encoders show to hold text (by name),
    found in pipelines and column transformers: best effort."""
    found = set()

    def categorical(step):
        """Does step (or a pipeline's) encode fitted text categories?"""
        if hasattr(step, "steps"):
            return any(categorical(s) for _, s in step.steps)
        categories = getattr(step, "categories_", None)
        return bool(categories) and all(getattr(c, "dtype", None) is not None and
                                        c.dtype.kind in "OUS" for c in categories)

    def walk(step, names):
        if hasattr(step, "steps"):                  # a pipeline: its first step sees the input
            walk(step.steps[0][1], names)
        elif hasattr(step, "transformers_"):        # a column transformer
            for _, inner, cols in step.transformers_:
                if isinstance(cols, str):
                    cols = [cols]
                if not hasattr(inner, "fit") or not hasattr(cols, "__iter__"):
                    continue
                cols = [names[c] if isinstance(c, int) and c < len(names) else c
                        for c in cols]
                if categorical(inner):
                    found.update(c for c in cols if isinstance(c, str))
        elif categorical(step):
            found.update(names)

    try:
        walk(estimator, _names(getattr(estimator, "feature_names_in_", None)) or [])
    except Exception:               # a guess only: a model it cannot read gets doubles
        pass
    return found


def _signature(specs, outputs=None):
    signature = {"inputs": json.dumps([{"type": s["type"] or "double", "name": s["name"]}
                                       for s in specs])}
    signature["outputs"] = json.dumps(outputs) if outputs else None
    signature["params"] = None
    return signature


def _requirements(folder, modules):
    lines = []
    for name, package in modules:
        try:
            version = importlib.import_module(name).__version__
            lines.append(f"{package}=={version}")
        except (ImportError, AttributeError):
            pass
    with open(os.path.join(folder, "requirements.txt"), "w") as f:
        f.write("".join(line + "\n" for line in lines))
    with open(os.path.join(folder, "python_env.yaml"), "w") as f:
        f.write(f"python: {platform.python_version()}\nbuild_dependencies:\n- pip\n"
                "dependencies:\n- -r requirements.txt\n")
    return {"virtualenv": "python_env.yaml"}


def _export_into(stage, flavor, path, scorer, columns):
    """Write the MLflow folder of the model into stage; its columns."""
    python = platform.python_version()
    now = datetime.datetime.now(datetime.timezone.utc)
    doc = {"flavors": {}, "model_uuid": uuid.uuid4().hex,
           "utc_time_created": now.strftime("%Y-%m-%d %H:%M:%S.%f"),
           "metadata": {"exported_by": "workbench"}}
    specs = _spec_columns(columns) if columns else None
    if flavor == "workbench":
        source = os.path.join(path, "model.json") if os.path.isdir(path) else path
        model = _workbench_module().load(source)
        shutil.copyfile(source, os.path.join(stage, "model.json"))
        os.mkdir(os.path.join(stage, "code"))
        shutil.copyfile(os.path.join(HERE, "workbench_mlflow.py"),
                        os.path.join(stage, "code", "workbench_mlflow.py"))
        env = _requirements(stage, [("numpy", "numpy")])
        doc["flavors"]["python_function"] = {
            "loader_module": "workbench_mlflow", "code": "code", "data": "model.json",
            "env": env, "python_version": python}
        specs = [{"name": f.name, "type": "string" if f.categorical else "double"}
                 for f in model.features]
        numeric = model.classes_ and isinstance(model.classes_[0], (int, float))
        output = {"regression": "double", "clustering": "long"}.get(
            model.task, ("long" if all(isinstance(c, int) for c in model.classes_) else "double")
            if numeric else "string")
        doc["signature"] = _signature(specs, [{"type": output}])
    elif flavor == "sklearn":
        loaded = _load_sklearn(path)
        data = pickle.dumps(loaded.estimator)
        with open(os.path.join(stage, "model.pkl"), "wb") as f:
            f.write(data)
        import sklearn
        needs = [("sklearn", "scikit-learn"), ("numpy", "numpy"), ("pandas", "pandas")]
        needs += [(name, name) for name in ("xgboost", "lightgbm", "torch")
                  if name.encode() + b"." in data]     # a class of theirs in the pickle
        env = _requirements(stage, needs)
        doc["flavors"]["python_function"] = {
            "env": env, "loader_module": "mlflow.sklearn", "model_path": "model.pkl",
            "predict_fn": "predict", "python_version": python}
        doc["flavors"]["sklearn"] = {"code": None, "pickled_model": "model.pkl",
                                     "serialization_format": "pickle",
                                     "sklearn_version": sklearn.__version__}
        if specs is None and loaded.columns:
            specs = [{"name": n, "type": None} for n in loaded.columns]
        if specs:
            text = _string_columns(loaded.estimator)
            for spec in specs:
                spec["type"] = spec["type"] or ("string" if spec["name"] in text else "double")
            doc["signature"] = _signature(specs)
    elif flavor == "python":
        module = _load_scorer_module(scorer)
        code = os.path.join(stage, "code")
        os.mkdir(code)
        script = os.path.basename(scorer)
        if script == "workbench_scorer.py":
            raise ValueError("the scoring script may not be named workbench_scorer.py (the "
                             "export's loader has that name): rename it")
        shutil.copyfile(scorer, os.path.join(code, script))
        with open(os.path.join(code, "workbench_scorer.py"), "w") as f:
            f.write(_SCORER_LOADER.format(script=script))
        data = os.path.join(stage, "model")
        if os.path.isdir(path):
            shutil.copytree(path, data, symlinks=True)
        else:
            os.mkdir(data)
            shutil.copy2(path, data)
        doc["flavors"]["python_function"] = {
            "loader_module": "workbench_scorer", "code": "code", "data": "model",
            "python_version": python}
        if specs is None and _names(getattr(module, "COLUMNS", None)):
            specs = [{"name": n, "type": None} for n in module.COLUMNS]
        if specs:
            doc["signature"] = _signature(specs)
    elif flavor == "mlflow":
        folder = os.path.dirname(path) if os.path.basename(path) == "MLmodel" else path
        _read_mlmodel(folder)                       # it is one
        os.rmdir(stage)
        shutil.copytree(folder, stage, symlinks=True)
        return _signature_columns(_read_mlmodel(stage))
    else:
        raise ValueError(f"unknown flavor '{flavor}': workbench, sklearn, python, mlflow or auto")
    _write_mlmodel(stage, doc)
    return [s["name"] for s in specs] if specs else None


def export(flavor, path, scorer, out, columns=None):
    """Write the model as an MLflow folder at out; the line export prints."""
    out = os.path.abspath(out)
    if os.path.exists(out) and (not os.path.isdir(out) or os.listdir(out)):
        raise FileExistsError(f"{out} exists and is not an empty folder: export into a new one")
    if flavor == "auto":
        flavor = detect(path, scorer)
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    stage = os.path.join(parent, f".{os.path.basename(out)}.export-{os.getpid()}")
    os.mkdir(stage)
    try:
        names = _export_into(stage, flavor, path, scorer, columns)
        os.rename(stage, out)               # replaces an empty folder
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return {"exported": True, "out": out, "flavor": flavor, "columns": names}


# ---- Main ----

def _serve(channel, model):
    """Answer requests until the end of the input."""
    while True:
        body = channel.read()
        if body is None:
            return 0
        try:
            request = json.loads(body)
        except ValueError as exc:
            channel.write({"id": None, **_fault(exc, "the request is not valid JSON")})
            continue
        if not isinstance(request, dict):
            channel.write({"id": None, "error": "ValueError: a request must be a JSON object",
                           "type": "ValueError", "traceback": ""})
            continue
        binary = "matrix" in request
        raws = ()
        try:
            if binary:                  # its frame comes next, whatever else is wrong
                request["matrix"] = _matrix(request["matrix"], channel.read(raw=True))
            reply, raws = _outgoing(model.score(request), binary)
        except _ProtocolError:
            raise
        except Exception as exc:
            reply = _fault(exc)
        channel.write({"id": request.get("id"), **reply}, raws)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="wb_worker.py", description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=("serve", "check", "export"))
    parser.add_argument("--flavor", default=None,
                        choices=("sklearn", "mlflow", "python", "workbench", "auto"))
    parser.add_argument("--model", required=True, help="the model file or folder")
    parser.add_argument("--scorer", help="the scoring script (python flavor)")
    parser.add_argument("--out", help="export: the MLflow folder to write")
    parser.add_argument("--columns", help="export: the input columns, as JSON")
    parser.add_argument("--detect", action="store_true", help="check: --flavor auto")
    args = parser.parse_args(argv)
    flavor = args.flavor or ("auto" if args.detect else None)
    if flavor is None:
        parser.error("give --flavor sklearn|mlflow|python|workbench|auto")
    if args.mode == "export" and not args.out:
        parser.error("export needs --out DIR")
    path = os.path.abspath(args.model)
    if not os.environ.get("WORKBENCH_MODEL_DIR"):
        os.environ["WORKBENCH_MODEL_DIR"] = path if os.path.isdir(path) else os.path.dirname(path)
    fd_in, fd_out = _take_stdio(args.mode == "serve")
    channel = _Channel(fd_in, fd_out)
    if args.mode == "export":
        try:
            channel.line(export(flavor, path, args.scorer, args.out, args.columns))
            return 0
        except Exception as exc:
            failure = _fault(exc)
            print(f"wb_worker: cannot export: {failure['error']}", file=sys.stderr, flush=True)
            channel.line({"exported": False, **failure})
            return 1
    try:
        model = load(flavor, path, args.scorer)
        hello = model.hello()
    except Exception as exc:
        hello = {"ready": False, **_fault(exc)}
    if args.mode == "check":
        if not hello["ready"]:
            print(f"wb_worker: the model does not load: {hello['error']}", file=sys.stderr,
                  flush=True)
        channel.line(hello)
        return 0 if hello["ready"] else 1
    try:
        channel.write(hello)
        if not hello["ready"]:
            return 1
        return _serve(channel, model)
    except _ProtocolError as exc:
        print(f"wb_worker: {exc}", file=sys.stderr, flush=True)
        return 2
    except BrokenPipeError:
        return 0                            # the server went away


if __name__ == "__main__":
    sys.exit(main())
