#!/usr/bin/python3
"""bench_train - Workbench's built-in training beside scikit-learn, same data, same split

    /usr/bin/python3 tests/bench/bench_train.py --workbench build/workbench [--markdown OUT.md]

For every kind (logistic binary and multinomial, ridge, mlp classifier and
regressor, kmeans) it generates a data set with scikit-learn
(make_classification, make_regression, make_blobs; fixed random_state),
writes it as CSV (17 significant digits, so both sides read the same
doubles), and then:

  1. Workbench: tests/bench/train_driver.c, built against the
     libworkbench.a beside the workbench binary, reads the CSV
     (wb_frame_read_csv), splits it (wb_model_split_rows: 80/20, stratified
     for classes, seed 0), trains (wb_model_train) and evaluates on the
     held-out rows (wb_model_evaluate). Its time is wb_model_train alone:
     not parsing the CSV, but preprocessing (standardisation, encoding)
     included. OpenBLAS is loaded before the clock starts.
  2. scikit-learn, in this process, on the very rows the driver trained on
     (it writes the held-out row indexes): fit() timed, of a pipeline with
     StandardScaler where Workbench standardises (linear, logistic, mlp),
     scored on the held-out rows.

Both use every core (Workbench: threads=0; scikit-learn: its OpenBLAS and
OpenMP defaults). Times are the best of --repeat runs (--mlp-repeat for the
mlp): other work on the machine only ever adds time, to either side.
Targets: accuracy / R^2 / adjusted Rand index no more than 1 point below
scikit-learn's for every kind; logistic and ridge no slower; the mlp
classifier at least 5x faster; kmeans at least 2x faster.

Prints a table (kind, dataset, times, ratio, scores, target, pass/FAIL).
bench_train() returns rows in tests/bench/bench.py's row() format to wire
into `make bench`. Everything is written to a scratch folder that is removed
at the end (--keep keeps it). Exits 0 when everything ran, whatever the
figures; non-zero when something crashed.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

from bench import STORE_PKGS, fmt_time, row  # the one table format of make bench

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


#  ---- The table (as tests/bench/bench.py) ----

HEAD = ["kind", "dataset", "workbench", "scikit-learn", "ratio", "score (wb / sk)",
        "target", "result"]


def text_table(head, rows):
    widths = [max(len(str(r[i])) for r in [head] + rows) for i in range(len(head))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()
             for r in [head] + rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(head, rows, note):
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines) + "\n\n" + note + "\n"


#  ---- The driver ----

def build_driver(scratch, workbench):
    """Compile train_driver.c against the libworkbench.a beside the binary."""
    lib = Path(workbench).parent / "libworkbench.a"
    if not lib.is_file():
        raise RuntimeError(f"{lib} is missing: run make first")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", *STORE_PKGS],
                           capture_output=True, text=True, check=True).stdout.split()
    sanitize = []
    if lib.parent.name.startswith("build-"):
        sanitize = [f"-fsanitize={lib.parent.name[len('build-'):]}"]
    exe = scratch / "train_driver"
    subprocess.run(["cc", "-O2", "-D_GNU_SOURCE", *sanitize, "-I", str(ROOT / "lib"),
                    "-o", str(exe), str(HERE / "train_driver.c"), str(lib), *flags,
                    "-lm", "-lpthread"], check=True)
    return exe


def run_driver(exe, csv, kind, target, params, split, scratch):
    split_out = scratch / "valid_rows.txt"
    predictions = scratch / "predictions.txt"
    cmd = [str(exe), "--csv", str(csv), "--kind", kind, "--params", json.dumps(params),
           "--split", str(split), "--seed", "0", "--split-out", str(split_out),
           "--predictions", str(predictions)]
    if target:
        cmd += ["--target", target]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"train_driver {kind} failed: {out.stderr.strip()}")
    result = json.loads(out.stdout)
    result["valid_rows_index"] = (np.loadtxt(split_out, dtype=np.int64, ndmin=1)
                                  if split > 0 else None)
    result["predictions"] = np.loadtxt(predictions, ndmin=1)
    return result


#  ---- Data ----

def write_csv(path, X, y):
    names = [f"x{i}" for i in range(X.shape[1])]
    if y is None:
        data, fmt, header = X, ["%.17g"] * X.shape[1], ",".join(names)
    else:
        data = np.column_stack([X, y])
        fmt = ["%.17g"] * X.shape[1] + ["%d" if y.dtype.kind in "iu" else "%.17g"]
        header = ",".join(names + ["y"])
    np.savetxt(path, data, fmt=fmt, delimiter=",", header=header, comments="")


def datasets(rows, features):
    from sklearn.datasets import make_blobs, make_classification, make_regression
    X, y = make_classification(n_samples=rows, n_features=features, n_informative=30,
                               n_classes=2, random_state=0)
    yield "binary", f"make_classification {rows:,} x {features}, 2 classes", X, y
    X, y = make_classification(n_samples=rows, n_features=features, n_informative=30,
                               n_classes=5, n_clusters_per_class=1, random_state=1)
    yield "multiclass", f"make_classification {rows:,} x {features}, 5 classes", X, y
    X, y = make_regression(n_samples=rows, n_features=features, n_informative=30,
                           noise=10, random_state=2)
    yield "regression", f"make_regression {rows:,} x {features}, noise 10", X, y
    X, y = make_blobs(n_samples=rows, n_features=20, centers=8, cluster_std=3.0,
                      random_state=3)
    yield "blobs", f"make_blobs {rows:,} x 20, 8 centres", X, y


#  ---- The cases ----

def cases(args):
    """(kind label, data set, Workbench kind and params, scikit-learn factory,
    score name, speed target (ratio limit or None), repeats)."""
    from sklearn.cluster import KMeans
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    scaled = lambda model: make_pipeline(StandardScaler(), model)
    hidden = [128, 64]
    mlp = {"hidden": hidden, "epochs": args.epochs, "batch_size": 200,
           "learning_rate": 0.001, "l2": 1e-4, "validation": 0, "patience": 0, "seed": 0}
    sk_mlp = dict(hidden_layer_sizes=tuple(hidden), max_iter=args.epochs, batch_size=200,
                  learning_rate_init=0.001, alpha=1e-4, early_stopping=False,
                  n_iter_no_change=args.epochs + 1, random_state=0)
    return [
        ("logistic", "binary", "logistic", {"l2": 1.0},
         lambda: scaled(LogisticRegression(C=1.0)), "accuracy", 1.0, args.repeat),
        ("logistic", "multiclass", "logistic", {"l2": 1.0},
         lambda: scaled(LogisticRegression(C=1.0)), "accuracy", 1.0, args.repeat),
        ("linear (ridge)", "regression", "linear", {"l2": 1.0},
         lambda: scaled(Ridge(alpha=1.0)), "r2", 1.0, args.repeat),
        (f"mlp classifier {hidden[0]}-{hidden[1]}, {args.epochs} epochs", "binary", "mlp",
         dict(mlp, task="classification"), lambda: scaled(MLPClassifier(**sk_mlp)),
         "accuracy", 0.2, args.mlp_repeat),
        (f"mlp regressor {hidden[0]}-{hidden[1]}, {args.epochs} epochs", "regression", "mlp",
         dict(mlp, task="regression"),
         #  Workbench standardises the target of a regression too
         lambda: TransformedTargetRegressor(scaled(MLPRegressor(**sk_mlp)),
                                            transformer=StandardScaler()),
         "r2", None, args.mlp_repeat),
        #  three k-means++ starts: with one, either side lands in a local
        #  optimum on about one seed in five on these overlapping blobs
        ("kmeans k=8, n_init=3", "blobs", "kmeans", {"k": 8, "n_init": 3, "max_iter": 300,
                                                     "tol": 1e-4, "seed": 0},
         lambda: KMeans(n_clusters=8, n_init=3, max_iter=300, tol=1e-4, random_state=0),
         "ari", 0.5, args.repeat),
    ]


def score_sklearn(model, name, X, y):
    from sklearn.metrics import accuracy_score, adjusted_rand_score, r2_score
    if name == "ari":
        return adjusted_rand_score(y, model.predict(X))
    predicted = model.predict(X)
    return accuracy_score(y, predicted) if name == "accuracy" else r2_score(y, predicted)


def bench_case(exe, scratch, csv, X, y, case, say):
    label, data, kind, params, factory, score_name, limit, repeats = case
    split = 0.0 if kind == "kmeans" else 0.2
    target = "y"        # kmeans leaves its target (the true blob) out of the features
    say(f"{label} on {data}: Workbench x{repeats}")
    runs = [run_driver(exe, csv, kind, target, params, split, scratch) for _ in range(repeats)]
    wb_time = min(r["train_s"] for r in runs)
    result = runs[-1]
    if kind == "kmeans":
        from sklearn.metrics import adjusted_rand_score
        train = valid = np.arange(len(X))
        wb_score = adjusted_rand_score(y, result["predictions"].astype(np.int64))
    else:
        valid = result["valid_rows_index"]
        mask = np.ones(len(X), dtype=bool)
        mask[valid] = False
        train = np.nonzero(mask)[0]
        wb_score = result["metrics"]["accuracy" if score_name == "accuracy" else "r2"]
    say(f"{label} on {data}: scikit-learn x{repeats}")
    times = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # ConvergenceWarning at max_iter
        for _ in range(repeats):
            model = factory()
            t0 = time.perf_counter()
            if kind == "kmeans":
                model.fit(X[train])
            else:
                model.fit(X[train], y[train])
            times.append(time.perf_counter() - t0)
    sk_time = min(times)
    sk_score = score_sklearn(model, score_name, X[valid], y[valid])
    close = wb_score >= sk_score - 0.01
    fast = True if limit is None else wb_time <= limit * sk_time
    if limit is None:
        target_text = f"{score_name} ≥ sk - 1 point"
    elif limit == 1.0:
        target_text = f"{score_name} ≥ sk - 1 point, no slower"
    else:
        target_text = f"{score_name} ≥ sk - 1 point, ≥ {1 / limit:.0f}x faster"
    return {"kind": label, "data": data, "wb_time": wb_time, "sk_time": sk_time,
            "score": score_name, "wb_score": wb_score, "sk_score": sk_score,
            "target": target_text, "ok": close and fast, "steps": result["steps"],
            "stop": result["stop"], "train_rows": result["train_rows"],
            "blas_core": result["blas_core"],
            "valid_rows": result["valid_rows"]}


#  Settings bench_train() takes from args, and their defaults (bench.py's
#  arguments need not have them)
DEFAULTS = {"rows": 200_000, "features": 50, "epochs": 10, "repeat": 3, "mlp_repeat": 1,
            "only": None}


def bench_train(scratch, workbench, args, say):
    """Every case: (rows in bench.py's row() format, the full results)."""
    args = argparse.Namespace(**{**DEFAULTS, **{k: v for k, v in vars(args).items()
                                                if k in DEFAULTS}})
    exe = build_driver(scratch, workbench)
    results = []
    for name, description, X, y in datasets(args.rows, args.features):
        if args.only and name != args.only:
            continue
        csv = scratch / f"{name}.csv"
        say(f"writing {csv.name} ({description})")
        write_csv(csv, X, y)
        for case in cases(args):
            if case[1] == name:
                results.append(dict(bench_case(exe, scratch, csv, X, y, case, say),
                                    description=description))
        csv.unlink()
    rows = []
    for r in results:
        metric = (f"train {r['kind']}, {r['description']} ({r['score']} "
                  f"{r['wb_score']:.4f} vs {r['sk_score']:.4f})")
        rows.append(row(metric, r["wb_time"], r["sk_time"], fmt_time, r["target"], r["ok"]))
    return rows, results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workbench", default=str(ROOT / "build" / "workbench"),
                    help="the workbench binary (its libworkbench.a is used)")
    ap.add_argument("--markdown", help="also write the table as Markdown here")
    ap.add_argument("--rows", type=int, default=DEFAULTS["rows"],
                    help="rows of each data set (80%% train, 20%% held out)")
    ap.add_argument("--features", type=int, default=DEFAULTS["features"])
    ap.add_argument("--epochs", type=int, default=DEFAULTS["epochs"],
                    help="mlp epochs, both sides")
    ap.add_argument("--repeat", type=int, default=DEFAULTS["repeat"],
                    help="runs of each fast case")
    ap.add_argument("--mlp-repeat", type=int, default=DEFAULTS["mlp_repeat"],
                    help="runs of each mlp case")
    ap.add_argument("--only", choices=("binary", "multiclass", "regression", "blobs"),
                    help="only the cases of this data set")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = ap.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="workbench-bench-train-"))
    try:
        def say(what):
            print(f"bench_train: {what} ...", file=sys.stderr, flush=True)

        _, results = bench_train(scratch, args.workbench, args, say)
        table = [[r["kind"], r["description"], fmt_time(r["wb_time"]), fmt_time(r["sk_time"]),
                  f"{r['wb_time'] / r['sk_time']:.2f}x",
                  f"{r['score']} {r['wb_score']:.4f} / {r['sk_score']:.4f}",
                  r["target"], "pass" if r["ok"] else "FAIL"] for r in results]
        import sklearn
        load = os.getloadavg()[0]
        cores = sorted({r["blas_core"] for r in results})
        try:
            import threadpoolctl
            sk_core = ", ".join(sorted({i.get("architecture", "?") for i in
                                        threadpoolctl.threadpool_info()
                                        if i.get("internal_api") == "openblas"})) or "?"
        except ImportError:
            sk_core = "?"
        note = (f"Measured on {os.cpu_count()} cores (load average {load:.1f} at the end), "
                f"scikit-learn {sklearn.__version__} from Debian; train time only "
                f"(Workbench: wb_model_train, CSV parsing excluded, preprocessing "
                f"included; scikit-learn: fit() of the same rows), best of "
                f"{args.repeat} runs ({args.mlp_repeat} for the mlp); OpenBLAS kernels: "
                f"Workbench {', '.join(cores)}, numpy {sk_core} (OPENBLAS_CORETYPE "
                f"{os.environ.get('OPENBLAS_CORETYPE', 'unset')}).")
        print(text_table(HEAD, table))
        print(note)
        if args.markdown:
            Path(args.markdown).write_text(markdown_table(HEAD, table, note))
        return 0
    except Exception:
        traceback.print_exc()
        return 1
    finally:
        if args.keep:
            print(f"bench_train: scratch kept in {scratch}", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
