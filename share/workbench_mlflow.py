"""workbench_mlflow - predicts with a Workbench model file (model.json) in
plain numpy, as Workbench's C scorer does: the MLflow python_function
loader of built-in models that `%model export --format mlflow` writes.

An exported folder holds

    MLmodel                  python_function: loader_module workbench_mlflow,
                             code: code, data: model.json
    model.json               the model file %train saved
    code/workbench_mlflow.py this module

so that any tool that loads MLflow models (mlflow.pyfunc.load_model, MLflow's
scoring server) puts code/ on sys.path, imports this module and calls
_load_pyfunc("model.json"). Needs numpy only (pandas is taken when given).

    model = workbench_mlflow.load("model.json")
    model.predict(frame)            # a DataFrame, a list of dicts, a dict of
                                    # columns, or rows in model.columns order
    model.predict_proba(frame)      # classifiers: rows x len(model.classes_)

The numbers are those of lib/serve/wb_scorer.c, computed in the same
order: a numeric column is (x - mean) * (1 / std); a categorical one is the
index of its category, -1 (all zeros in one-hot) when it is missing, empty
or not seen in training, numbers naming a category as C's "%.15g" (16, 17
digits until they read back) writes them; the first layer adds one weight
row per non-zero input in one-hot order, the next layers one per non-zero
unit, then the bias; k-means takes the first centre of least -2 x.c + |c|^2.
So classes and clusters are the C scorer's, and regression values the same
doubles as a C scorer built without fused multiply-add (the default on
x86-64), numpy's exp and the C library's differing at most in the last
place. Columns the model does not take are ignored; a missing one, a
numeric value that is null, NaN, text or a boolean is an error, as it is
to the C scorer.
"""

import json
import os
import re

import numpy as np

__all__ = ["load", "WorkbenchModel"]

FORMAT = "workbench-model"
_BLOCK = 4096                   # rows forwarded at a time
_ACTIVATIONS = ("identity", "relu", "sigmoid", "softmax")
_INTEGER = re.compile(r"-?[0-9]+\Z")


def _load_pyfunc(path):
    """MLflow's loader hook: path is the MLmodel's data (model.json) or a
    folder holding model.json."""
    return load(path)


def load(path):
    """The model in the file at path (or in path/model.json)."""
    if os.path.isdir(path):
        path = os.path.join(path, "model.json")
    with open(path, "rb") as f:
        text = f.read()
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{path} is not a Workbench model file: not JSON ({exc})") from None
    return WorkbenchModel(doc)


def _double_text(value):
    """A number as C's wb_double_text writes it: the shortest of %.15g,
    %.16g, %.17g that reads back as the same double."""
    for precision in (15, 16, 17):
        text = "%.*g" % (precision, value)
        if float(text) == value:
            break
    return text


def _label(text, numeric):
    """A class as the C scorer answers it: a number for a numeric target."""
    if not numeric:
        return text
    return int(text) if _INTEGER.match(text) else float(text)


def _matrix(value, rows, cols, what):
    """A JSON matrix of numbers as a float array, shape checked first."""
    if not isinstance(value, list) or len(value) != rows \
            or any(not isinstance(row, list) or len(row) != cols for row in value):
        raise ValueError(f"the model file is damaged: {what} is not {rows} x {cols} numbers")
    try:
        array = np.array(value, dtype=np.float64).reshape(rows, cols)
    except (TypeError, ValueError):
        raise ValueError(f"the model file is damaged: {what} holds something not a number") \
            from None
    return array


class _Feature:
    """One input column and how it is encoded."""

    def __init__(self, spec, offset):
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) \
                or spec.get("type") not in ("numeric", "categorical"):
            raise ValueError("the model file is damaged: a feature lacks its name or type")
        self.name = spec["name"]
        self.categorical = spec["type"] == "categorical"
        self.offset = offset            # first slot in the one-hot vector
        if self.categorical:
            categories = spec.get("categories")
            if not isinstance(categories, list):
                raise ValueError(f"the model file is damaged: feature '{self.name}' "
                                 "has no categories")
            self.categories = [c if isinstance(c, str) else "" for c in categories]
            #   the first of equal categories wins, as in the C scorer's loop;
            #   an empty one never matches
            self.index = {}
            for i, category in enumerate(self.categories):
                if category:
                    self.index.setdefault(category, i)
            self.width = len(self.categories)
        else:
            mean, std = spec.get("mean"), spec.get("std")
            if not isinstance(mean, (int, float)) or not isinstance(std, (int, float)) \
                    or not std > 0:
                raise ValueError(f"the model file is damaged: numeric feature '{self.name}' "
                                 "needs a mean and a positive std")
            self.mean = float(mean)
            self.scale = 1 / float(std)
            self.width = 1

    def encode(self, values):
        """A column's values (a sequence) as compact codes: the scaled
        number, or the category's index (-1 when none)."""
        if self.categorical:
            return np.array([self._category(v, row) for row, v in enumerate(values)],
                            dtype=np.float64)
        array = np.asarray(values)
        if array.dtype.kind in "iuf":
            numbers = array.astype(np.float64, copy=False)
        else:
            numbers = np.array([self._number(v, row) for row, v in enumerate(values)],
                               dtype=np.float64)
        bad = ~np.isfinite(numbers)
        if bad.any():
            row = int(np.argmax(bad))
            raise ValueError(f"row {row + 1}: column '{self.name}' is missing or not finite; "
                             "it takes a number")
        return (numbers - self.mean) * self.scale

    def _number(self, value, row):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
            if value is None:
                return np.nan
            raise ValueError(f"row {row + 1}: column '{self.name}' takes a number, "
                             f"not {value!r:.60}")
        return float(value)

    def _category(self, value, row):
        if isinstance(value, str):
            text = value
        elif isinstance(value, (bool, np.bool_)):
            text = "true" if value else "false"
        elif isinstance(value, (int, float, np.number)):
            number = float(value)
            if number != number:
                return -1               # NaN: a missing value
            text = _double_text(number)
        elif value is None:
            return -1
        else:
            raise ValueError(f"row {row + 1}: column '{self.name}' is categorical and takes "
                             f"text or a number, not {type(value).__name__}")
        return self.index.get(text, -1)


class WorkbenchModel:
    """A Workbench model file, ready to score.

    columns   the input column names, in the model's order
    task      "regression", "classification" or "clustering"
    kind      "linear", "logistic", "mlp" or "kmeans"
    classes_  a classifier's class labels (numbers for a numeric target),
              else None; predict_proba exists for classifiers only
    """

    def __init__(self, doc):
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ValueError(f"not a Workbench model file (format {FORMAT})")
        self.task, self.kind = doc.get("task"), doc.get("kind")
        if self.task not in ("regression", "classification", "clustering") \
                or not isinstance(self.kind, str):
            raise ValueError("the model file is damaged: its task or kind is missing or unknown")
        target = doc.get("target")
        self.target = target.get("name") if isinstance(target, dict) else None
        numeric = isinstance(target, dict) and target.get("type") == "numeric"
        if self.task == "regression":
            if not isinstance(target, dict):
                raise ValueError("the model file is damaged: a regression needs its target")
            self.target_mean = float(target.get("mean") or 0)
            self.target_std = float(target.get("std") or 0)
        classes = doc.get("classes") or []
        self.class_texts = [c if isinstance(c, str) else "" for c in classes]
        if self.task == "classification" and len(self.class_texts) < 2:
            raise ValueError("the model file is damaged: a classifier needs two classes or more")
        labels = [_label(c, numeric) for c in self.class_texts]
        self.classes_ = labels if self.task == "classification" else None
        if labels and all(isinstance(c, int) for c in labels):
            self._labels = np.array(labels, dtype=np.int64)
        elif labels and numeric:
            self._labels = np.array(labels, dtype=np.float64)
        else:
            self._labels = np.array(labels, dtype=object)
        self.features, width = [], 0
        for spec in doc.get("features") or []:
            feature = _Feature(spec, width)
            self.features.append(feature)
            width += feature.width
        self.inputs = width
        if doc.get("inputs") != width:
            raise ValueError('the model file is damaged: its "inputs" does not match its features')
        self.columns = [f.name for f in self.features]
        self.layers = []
        for number, layer in enumerate(doc.get("layers") or [], 1):
            bias = layer.get("bias") if isinstance(layer, dict) else None
            activation = layer.get("activation") if isinstance(layer, dict) else None
            if not isinstance(bias, list) or not bias or activation not in _ACTIVATIONS:
                raise ValueError(f"the model file is damaged: layer {number}'s bias or "
                                 "activation is malformed")
            weights = _matrix(layer.get("weights"), width, len(bias), f"layer {number}'s weights")
            self.layers.append((weights, _matrix([bias], 1, len(bias), "a bias")[0], activation))
            width = len(bias)
        centers = doc.get("centers") or []
        self.centers = _matrix(centers, len(centers), self.inputs, "a k-means centre") \
            if centers else np.zeros((0, self.inputs))
        if self.task == "clustering":
            if not len(self.centers):
                raise ValueError("the model file is damaged: a clustering model needs centres")
            #   |c|^2 summed in slot order, as the C scorer does
            self._norms = np.zeros(len(self.centers))
            for i in range(self.inputs):
                self._norms += self.centers[:, i] * self.centers[:, i]
            self._centers_t = np.ascontiguousarray(self.centers.T)
        else:
            last = self.layers[-1] if self.layers else None
            outputs = last[0].shape[1] if last else 0
            if self.task == "regression":
                fits = outputs == 1
            elif last and last[2] == "sigmoid":
                fits = outputs == 1 and len(self.class_texts) == 2
            else:
                fits = bool(last) and outputs == len(self.class_texts)
            if not fits:
                raise ValueError("the model file is damaged: its last layer does not fit its task")
        if self.task == "classification":
            self.predict_proba = self._predict_proba

    def __repr__(self):
        return f"<WorkbenchModel {self.kind} {self.task}: {', '.join(self.columns)}>"

    # ---- Input ----

    def _columns(self, data):
        """The values of each feature's column in data, as sequences of one
        length: the number of rows."""
        if hasattr(data, "columns") and hasattr(data, "iloc"):         # a pandas DataFrame
            names = list(data.columns)
            if all(isinstance(n, str) for n in names):
                return [self._named(f, names, lambda n: data[n].to_numpy()) for f in self.features]
            return self._positional(data.to_numpy(dtype=object).tolist()
                                    if len(names) else [])
        if isinstance(data, dict):                                     # columns by name
            def column(name):
                value = data[name]
                return list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value]
            columns = [self._named(f, list(data), column) for f in self.features]
            if len({len(c) for c in columns}) > 1:
                raise ValueError("the columns given by name must all have the same length")
            return columns
        if isinstance(data, np.ndarray):
            if data.ndim == 1 and data.dtype.names:                   # a structured array
                return [self._named(f, data.dtype.names, lambda n: data[n]) for f in self.features]
            data = data.tolist()
        rows = list(data)
        if rows and all(isinstance(row, dict) for row in rows):       # records
            for number, row in enumerate(rows, 1):
                for f in self.features:
                    if f.name not in row:
                        raise ValueError(f"row {number}: column '{f.name}' is missing")
            return [[row[f.name] for row in rows] for f in self.features]
        if rows and not isinstance(rows[0], (list, tuple, np.ndarray)):
            rows = [rows]                                               # one row
        return self._positional(rows)

    def _named(self, feature, names, get):
        if feature.name not in names:
            raise ValueError(f"column '{feature.name}' that the model needs is missing; "
                             f"it takes {', '.join(self.columns)}")
        return get(feature.name)

    def _positional(self, rows):
        width = len(self.features)
        for number, row in enumerate(rows, 1):
            if isinstance(row, dict) or len(row) != width:
                raise ValueError(f"row {number} has {len(row)} values; the model takes "
                                 f"{width}, in this order: {', '.join(self.columns)}")
        return [[row[f] for row in rows] for f in range(width)]

    def encode(self, data):
        """The rows of data as the C scorer encodes them: rows x features,
        a scaled number per numeric column, a category index (or -1) per
        categorical one."""
        columns = self._columns(data)
        rows = len(columns[0]) if columns else 0
        codes = np.empty((rows, len(self.features)))
        for f, (feature, values) in enumerate(zip(self.features, columns)):
            codes[:, f] = feature.encode(values)
        return codes

    # ---- Scoring ----

    def _first(self, codes, weights):
        """codes (rows x features) times the one-hot expansion of them into
        weights (inputs x out), summed input by input in one-hot order."""
        out = np.zeros((len(codes), weights.shape[1]))
        for f, feature in enumerate(self.features):
            column = codes[:, f]
            if feature.categorical:
                seen = column >= 0
                if seen.any():
                    slots = feature.offset + column[seen].astype(np.intp)
                    out[seen] += weights[slots]
            else:
                out += column[:, None] * weights[feature.offset]
        return out

    def _forward(self, codes):
        """The last layer's outputs of encoded rows."""
        values = None
        for number, (weights, bias, activation) in enumerate(self.layers):
            if number == 0:
                out = self._first(codes, weights)
            else:
                out = np.zeros((len(values), weights.shape[1]))
                for i in range(weights.shape[0]):
                    out += values[:, i:i + 1] * weights[i]
            out += bias
            if activation == "relu":
                out = np.where(out > 0, out, 0.0)
            elif activation == "sigmoid":
                out = 1 / (1 + np.exp(-out))
            elif activation == "softmax":
                out = np.exp(out - out.max(axis=1, keepdims=True))
                total = out[:, 0].copy()
                for j in range(1, out.shape[1]):
                    total += out[:, j]
                out /= total[:, None]
            values = out
        return values

    def _score(self, data):
        """(indices or values, probabilities or None) of every row."""
        codes = self.encode(data)
        found, proba = [], []
        for start in range(0, len(codes), _BLOCK):
            block = codes[start:start + _BLOCK]
            if self.task == "clustering":
                dots = self._first(block, self._centers_t)
                found.append(np.argmin(-2 * dots + self._norms, axis=1))
                continue
            out = self._forward(block)
            if self.task == "regression":
                found.append(out[:, 0] * self.target_std + self.target_mean)
            elif out.shape[1] == 1:                                    # sigmoid: two classes
                found.append((out[:, 0] > 0.5).astype(np.intp))
                proba.append(np.column_stack([1 - out[:, 0], out[:, 0]]))
            else:
                found.append(np.argmax(out, axis=1))
                proba.append(out)
        if not found:
            empty = np.zeros(0, dtype=np.float64 if self.task == "regression" else np.intp)
            return empty, np.zeros((0, len(self.class_texts))) if self.classes_ else None
        return np.concatenate(found), np.concatenate(proba) if proba else None

    def predict(self, data, params=None):
        """The predictions of every row of data: values (regression), class
        labels (classification) or cluster numbers (clustering)."""
        found, _ = self._score(data)
        if self.task == "classification":
            return self._labels[found]
        return found.astype(np.int64) if self.task == "clustering" else found

    def _predict_proba(self, data):
        """A classifier's probabilities of every row, one column per class
        in classes_ order."""
        return self._score(data)[1]
