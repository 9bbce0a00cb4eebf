"""The workspace magics as a user meets them: %workspace, %experiment, %run,
%log, %param, %tag, %runs, %show, %compare, %artifacts, %delete, their
completion, the same commands from the terminal (`workbench runs` ...), and
the rule that no run is left `running` by a kernel that is gone.

Every test opens a workspace of its own (`%workspace PATH` as its first
cell), so that nothing one test stores is seen by another.
"""

import hashlib
import os
import re
import signal
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import wbtest
from wbtest import HtmlTables as _Tables
from wbtest import ROOT, TIMEOUT, WORKBENCH_BIN, WbKernel

SVG = "image/svg+xml"
VEGA = "application/vnd.vegalite.v5+json"
HTML = "text/html"
PLAIN = "text/plain"


#  ---- Reading what a front end shows ----

def tables_of(html):
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def displays(run, msg_type="display_data"):
    """The bundles of run's msg_type messages; every one carries text/plain
    (what nbconvert, a terminal or a log shows)."""
    bundles = run.bundles(msg_type)
    for bundle in bundles:
        assert PLAIN in bundle and isinstance(bundle[PLAIN], str), bundle.keys()
    return bundles


def tables(run):
    """The HTML tables run displayed, in order; each table bundle has
    text/plain and text/html."""
    found = []
    for bundle in displays(run):
        if HTML in bundle:
            found += tables_of(bundle[HTML])
    return found


def table(run, caption=None, head=None):
    """The one table whose caption starts with caption (or whose header
    starts with head)."""
    matches = [t for t in tables(run)
               if (caption is None or t["caption"].startswith(caption))
               and (head is None or t["head"][:len(head)] == head)]
    assert len(matches) == 1, (caption, head, [t["caption"] for t in tables(run)])
    return matches[0]


def summary_table(run):
    """%show's first table: (field, value) rows under "Run NAME (ID)"."""
    matches = [t for t in tables(run)
               if t["caption"].startswith("Run ") and t["head"] == ["field", "value"]]
    assert len(matches) == 1, [t["caption"] for t in tables(run)]
    return matches[0]


def column(t, name):
    i = t["head"].index(name)
    return [row[i] for row in t["rows"]]


def fields(t):
    """A two-column (field, value) table as a dict."""
    return {row[0]: row[1] for row in t["rows"]}


def charts(run):
    """The chart bundles run displayed: each has an SVG and a Vega-Lite spec."""
    found = [b for b in displays(run) if SVG in b or VEGA in b]
    for bundle in found:
        assert SVG in bundle and VEGA in bundle, bundle.keys()
        ET.fromstring(bundle[SVG])                   # well-formed XML
        assert bundle[VEGA]["$schema"].endswith("vega-lite/v5.json")
    return found


def vega_points(bundle, series=None):
    return [(v["x"], v["y"]) for v in bundle[VEGA]["data"]["values"]
            if series is None or v.get("series") == series]


def ok(run):
    assert run.status == "ok", run
    assert run.of_type("error") == [], run
    return run


def assert_error(run, ename, *in_evalue):
    assert run.status == "error", run
    assert run.content["ename"] == ename, run.content
    for part in in_evalue:
        assert part in run.content["evalue"], (part, run.content["evalue"])
    errors = run.of_type("error")
    assert len(errors) == 1, run
    assert errors[0]["content"]["evalue"] == run.content["evalue"]


def execute_or_die(kernel, code):
    """Execute code; fail at once (not after a time-out) if the kernel
    process dies on it."""
    msg_id = kernel.send("execute_request", {
        "code": code, "silent": False, "store_history": True, "user_expressions": {},
        "allow_stdin": False, "stop_on_error": True})
    msgs = kernel.iopub(msg_id, until=lambda got: wbtest.is_idle(got) or not kernel.alive())
    assert wbtest.is_idle(msgs), f"the kernel died running {code!r}"
    return wbtest.Exec(msg_id, kernel.reply(msg_id), msgs)


def display_id(msg):
    return msg["content"].get("transient", {}).get("display_id")


#  ---- Workspaces, runs and the terminal ----

def open_ws(kernel, path):
    """%workspace PATH as the first cell; returns the table it showed."""
    run = ok(kernel.execute(f"%workspace '{path}'"))
    return fields(table(run, "Workspace"))


@pytest.fixture
def ws(kernel, tmp_path):
    """The test's own workspace, open in the test's kernel."""
    path = tmp_path / "ws"
    open_ws(kernel, path)
    return path


def run_id(kernel, ref):
    """The id of a run, read from %show REF."""
    return fields(summary_table(ok(kernel.execute(f"%show {ref}"))))["id"]


def show(kernel, ref):
    """%show REF: (fields, params, tags, metrics card rows by key, charts)."""
    run = ok(kernel.execute(f"%show {ref}"))
    all_tables = tables(run)
    summary = fields(summary_table(run))
    params = {r[0]: r[1] for t in all_tables if t["caption"] == "Params" for r in t["rows"]}
    tags = {r[0]: r[1] for t in all_tables if t["caption"] == "Tags" for r in t["rows"]}
    card = [t for t in all_tables if t["head"][:2] == ["metric", "latest"]]
    metrics = {}
    for t in card:
        for row in t["rows"]:
            metrics[row[0]] = dict(zip(t["head"], row))
    return summary, params, tags, metrics, charts(run)


def wb(*args, workspace, run_env=None, cwd=None):
    """The terminal tool over workspace."""
    env = dict(os.environ, WORKBENCH_WORKSPACE=str(workspace))
    env.pop("WORKBENCH_RUN_ID", None)
    if run_env is not None:
        env["WORKBENCH_RUN_ID"] = run_env
    return subprocess.run([WORKBENCH_BIN, *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=60)


def make_runs(kernel):
    """Four finished runs: three in experiment cmp, one in other.

        name  experiment  model  lr    acc (latest)
        r1    cmp         mlp    0.1   0.95
        r2    cmp         cnn    0.1   0.97
        r3    cmp         mlp    0.2   0.85
        r4    other       mlp    0.1   0.99
    """
    rows = [("r1", "cmp", "mlp", "0.1", [0.5, 0.95]),
            ("r2", "cmp", "cnn", "0.1", [0.6, 0.97]),
            ("r3", "cmp", "mlp", "0.2", [0.4, 0.85]),
            ("r4", "other", "mlp", "0.1", [0.7, 0.99])]
    for name, experiment, model, lr, accs in rows:
        cell = [f"%experiment {experiment}", f"%run start --name {name}",
                f"%param model={model} lr={lr}"]
        cell += [f"%log acc={acc} loss={1 - acc:.2f}" for acc in accs]
        cell += ["%run end"]
        ok(kernel.execute("\n".join(cell)))
        time.sleep(0.01)                # distinct creation times, newest last


#  ---- %workspace ----

def test_workspace_path_creates_and_counts(kernel, tmp_path):
    path = tmp_path / "ws"
    run = ok(kernel.execute(f"%workspace {path}"))
    (bundle,) = displays(run)
    assert HTML in bundle
    t = table(run, "Workspace")
    f = fields(t)
    assert f["path"] == str(path)
    assert (f["experiments"], f["runs"], f["metric_points"], f["artifacts"]) == ("0", "0", "0", "0")
    assert f["experiment"] == "Default"
    assert (path / "workspace.db").is_file() and (path / "artifacts").is_dir()
    assert str(path) in bundle[PLAIN]

    ok(kernel.execute("%run start\n%log a=1 b=2\n%log a=3\n%run end"))
    ok(kernel.execute("%experiment second\n%run start\n%log a=1"))
    f = fields(table(ok(kernel.execute("%workspace")), "Workspace"))
    assert f["path"] == str(path)
    assert (f["experiments"], f["runs"], f["metric_points"]) == ("2", "2", "4")
    assert f["runs completed"] == "1" and f["runs running"] == "1"
    assert f["experiment"] == "second"


def test_workspace_path_creates_missing_parents(kernel, tmp_path):
    #  %help workspace: "With PATH, open the workspace folder there (created
    #  if missing)"
    path = tmp_path / "projects" / "new" / "ws"
    f = fields(table(ok(kernel.execute(f"%workspace {path}")), "Workspace"))
    assert f["path"] == str(path)
    assert (path / "workspace.db").is_file()


def test_workspace_reopens_with_its_history(kernel, tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"
    open_ws(kernel, first)
    ok(kernel.execute("%run start --name in-one\n%log x=1\n%run end"))
    assert open_ws(kernel, second)["runs"] == "0"
    assert_error(kernel.execute("%show in-one"), "RunError", "in-one")
    f = open_ws(kernel, first)
    assert f["runs"] == "1" and f["metric_points"] == "1"
    assert show(kernel, "in-one")[0]["status"] == "completed"


def test_workspace_path_relative_to_the_session(kernel):
    ok(kernel.execute("mkdir -p sub && cd sub"))
    f = open_ws(kernel, "rel-ws")
    assert f["path"] == os.path.realpath(kernel.cwd / "sub" / "rel-ws")
    assert (kernel.cwd / "sub" / "rel-ws" / "workspace.db").is_file()


def test_workspace_bad_path_changes_nothing(kernel, tmp_path):
    open_ws(kernel, tmp_path / "ws")
    ok(kernel.execute("%run start --name kept\n%run end"))
    (tmp_path / "a-file").write_text("not a folder\n")
    run = kernel.execute(f"%workspace {tmp_path / 'a-file' / 'ws'}")
    assert_error(run, "WorkspaceError", str(tmp_path / "a-file"))
    f = fields(table(ok(kernel.execute("%workspace")), "Workspace"))
    assert f["path"] == str(tmp_path / "ws") and f["runs"] == "1"


def test_workspace_found_from_the_environment(tmp_path):
    env = dict(os.environ, WORKBENCH_WORKSPACE=str(tmp_path / "env-ws"))
    (tmp_path / "cwd").mkdir()
    k = WbKernel.start(tmp_path / "cwd", env=env)
    try:
        assert fields(table(ok(k.execute("%workspace")), "Workspace"))["path"] \
            == str(tmp_path / "env-ws")
    finally:
        k.stop()


def test_workspace_found_beside_the_notebook(tmp_path):
    #  no $WORKBENCH_WORKSPACE: a new .workbench/ in the notebook's folder,
    #  then from a folder below, the nearest .workbench/ above
    env = {k: v for k, v in os.environ.items() if k != "WORKBENCH_WORKSPACE"}
    project = tmp_path / "project"
    (project / "sub").mkdir(parents=True)
    k = WbKernel.start(project, env=env)
    try:
        f = fields(table(ok(k.execute("%workspace")), "Workspace"))
        assert f["path"] == str(project / ".workbench")
        assert (project / ".workbench" / "workspace.db").is_file()
        ok(k.execute("%run start --name here\n%run end"))
    finally:
        k.stop()
    proc = subprocess.run([WORKBENCH_BIN, "runs"], capture_output=True, text=True,
                          cwd=project / "sub", env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "here" in proc.stdout


#  ---- %experiment ----

def test_experiment_groups_runs(kernel, ws):
    t = table(ok(kernel.execute("%experiment")), "Current experiment: Default")
    assert t["head"] == ["experiment", "runs", "last run"]
    assert t["rows"] == []

    run = ok(kernel.execute("%experiment exp-a"))
    assert run.stdout == "Experiment: exp-a\n"
    ok(kernel.execute("%run start --name a1\n%run end"))
    ok(kernel.execute("%log x=1"))                      # starts a run in exp-a
    ok(kernel.execute("%experiment exp-b\n%run start --name b1\n%run end"))

    t = table(ok(kernel.execute("%experiment")), "Current experiment: exp-b")
    counts = dict(zip(column(t, "experiment"), column(t, "runs")))
    assert counts == {"exp-a": "2", "exp-b": "1"}
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", w) for w in column(t, "last run"))

    assert show(kernel, "a1")[0]["experiment"] == "exp-a"
    assert show(kernel, "b1")[0]["experiment"] == "exp-b"
    t = table(ok(kernel.execute("%runs --experiment exp-a")), "2 runs")
    assert "experiment" not in t["head"]
    assert "a1" in column(t, "name")


def test_experiment_empty_name(kernel, ws):
    assert_error(kernel.execute("%experiment ''"), "UsageError", "name")


#  ---- %run start / end and the live card ----

def test_run_start_shows_a_card_that_later_cells_update(kernel, ws):
    run = ok(kernel.execute("%run start --name first --tag k=v --tag team=ml"))
    shown = run.of_type("display_data")
    assert len(shown) == 1
    card_id = display_id(shown[0])
    assert card_id
    bundle = shown[0]["content"]["data"]
    assert PLAIN in bundle and HTML in bundle
    assert "first" in bundle[PLAIN] and "running" in bundle[PLAIN]
    for update in run.of_type("update_display_data"):
        assert display_id(update) == card_id

    #  a later cell logs: no new display, the card updates in place
    run = ok(kernel.execute("%log acc=0.5 loss=1.5"))
    assert run.of_type("display_data") == []
    updates = run.of_type("update_display_data")
    assert len(updates) == 1 and display_id(updates[0]) == card_id
    data = updates[0]["content"]["data"]
    assert PLAIN in data and HTML in data
    (card,) = tables_of(data[HTML])
    rows = {r[0]: dict(zip(card["head"], r)) for r in card["rows"]}
    assert rows["acc"]["latest"] == "0.5" and rows["loss"]["latest"] == "1.5"

    run = ok(kernel.execute("%log acc=0.7 --step 5"))
    (update,) = run.of_type("update_display_data")
    assert display_id(update) == card_id
    (card,) = tables_of(update["content"]["data"][HTML])
    rows = {r[0]: dict(zip(card["head"], r)) for r in card["rows"]}
    assert rows["acc"] == {"metric": "acc", "latest": "0.7", "step": "5", "min": "0.5",
                           "max": "0.7", "points": "2"}

    summary, _, tags, _, _ = show(kernel, "first")
    assert summary["status"] == "running" and summary["kind"] == "interactive"
    assert tags == {"k": "v", "team": "ml"}

    #  ending the run updates the card too
    run = ok(kernel.execute("%run end"))
    (update,) = run.of_type("update_display_data")
    assert display_id(update) == card_id
    assert "completed" in update["content"]["data"][PLAIN]


def test_run_end_with_status(kernel, ws):
    ok(kernel.execute("%run start --name broken"))
    rid = run_id(kernel, "broken")
    run = ok(kernel.execute("%run end --status failed"))
    assert f"Ended run {rid} (failed)" in run.stdout
    summary = show(kernel, "broken")[0]
    assert summary["status"] == "failed" and summary["ended"]
    t = table(ok(kernel.execute("%runs --filter \"status = 'failed'\"")), "1 run")
    assert column(t, "name") == ["broken"]
    #  nothing left to end
    assert_error(kernel.execute("%run end"), "UsageError", "no active run")


def test_run_usage_errors(kernel, ws):
    assert_error(kernel.execute("%run"), "UsageError", "%run start|end")
    assert_error(kernel.execute("%run begin"), "UsageError", "start or end")
    ok(kernel.execute("%run start --name s"))
    assert_error(kernel.execute("%run end --status done"), "UsageError",
                 "completed, failed or canceled", "'done'")
    assert show(kernel, "s")[0]["status"] == "running"
    assert_error(kernel.execute("%run start --tag novalue"), "UsageError", "KEY=VALUE")


def test_run_start_ends_the_open_run(kernel, ws):
    ok(kernel.execute("%run start --name one"))
    run = ok(kernel.execute("%run start --name two"))
    assert "(completed)" in run.stdout
    assert show(kernel, "one")[0]["status"] == "completed"
    assert show(kernel, "two")[0]["status"] == "running"


#  ---- %log ----

def test_log_steps(kernel, ws):
    ok(kernel.execute("%run start --name steps"))
    ok(kernel.execute("%log loss=0.9 --step 3"))
    ok(kernel.execute("%log loss=0.8"))                 # the step after the last
    ok(kernel.execute("%log loss=0.7 acc=0.1"))
    _, _, _, metrics, chart_list = show(kernel, "steps")
    assert metrics["loss"]["step"] == "5" and metrics["loss"]["points"] == "3"
    assert metrics["acc"]["step"] == "0"
    (loss_chart,) = [c for c in chart_list if c[VEGA]["title"] == "loss"]
    assert vega_points(loss_chart) == [(3, 0.9), (4, 0.8), (5, 0.7)]


def test_log_nan(kernel, ws):
    #  %help log: "Log metric values (numbers, or nan)"
    ok(kernel.execute("%run start --name nan"))
    ok(kernel.execute("%log loss=1"))
    ok(kernel.execute("%log loss=nan"))
    metrics = show(kernel, "nan")[3]
    assert metrics["loss"]["points"] == "2"


def test_log_bad_value_stores_nothing(kernel, ws):
    #  no run yet: the error comes first, no run is started
    run = kernel.execute("%log good=1 acc=abc")
    assert_error(run, "UsageError", "acc", "abc")
    assert run.of_type("display_data") == []
    f = open_ws(kernel, ws)
    assert f["runs"] == "0" and f["metric_points"] == "0"

    #  with a run: none of the cell's values land
    ok(kernel.execute("%run start --name careful\n%log a=1"))
    assert_error(kernel.execute("%log a=2 b=oops"), "UsageError", "b", "oops")
    assert_error(kernel.execute("%log novalue"), "UsageError", "KEY=VALUE")
    metrics = show(kernel, "careful")[3]
    assert set(metrics) == {"a"}
    assert metrics["a"]["latest"] == "1" and metrics["a"]["points"] == "1"


@pytest.mark.parametrize("step", ["x", "1.5", "-2"])
def test_log_bad_step_is_a_usage_error(kernel, ws, step):
    ok(kernel.execute("%run start --name stepped\n%log a=1"))
    run = execute_or_die(kernel, f"%log a=2 --step {step}")
    assert_error(run, "UsageError", "--step", step)
    assert show(kernel, "stepped")[3]["a"]["points"] == "1"


def test_log_starts_a_run_when_none_is_active(kernel, ws):
    run = ok(kernel.execute("%log acc=0.1"))
    (shown,) = run.of_type("display_data")
    card_id = display_id(shown)
    assert card_id and "running" in shown["content"]["data"][PLAIN]
    t = table(ok(kernel.execute("%runs")), "1 run")
    assert column(t, "status") == ["running"]
    assert column(t, "metrics.acc") == ["0.1"]
    name = column(t, "name")[0]
    assert name                                         # a generated name
    run = ok(kernel.execute("%log acc=0.2"))
    assert run.of_type("display_data") == []
    assert [display_id(m) for m in run.of_type("update_display_data")] == [card_id]
    assert table(ok(kernel.execute("%runs")), "1 run")


def test_log_to_another_run(kernel, ws):
    ok(kernel.execute("%run start --name target\n%run end"))
    ok(kernel.execute("%run start --name active"))
    run = ok(kernel.execute("%log x=5 --run target"))
    assert run.of_type("display_data") == []
    assert show(kernel, "target")[3]["x"]["latest"] == "5"
    assert "x" not in show(kernel, "active")[3]
    assert_error(kernel.execute("%log x=1 --run nosuch"), "RunError", "nosuch")


#  ---- %param and %tag ----

def test_param_is_set_once(kernel, ws):
    ok(kernel.execute("%run start --name p"))
    ok(kernel.execute("%param model=mlp lr=0.1"))
    ok(kernel.execute("%param model=mlp"))              # the same value again is fine
    run = kernel.execute("%param model=cnn")
    assert run.status == "error"
    assert "model" in run.content["evalue"] and "mlp" in run.content["evalue"]
    assert show(kernel, "p")[1] == {"model": "mlp", "lr": "0.1"}
    assert_error(kernel.execute("%param justakey"), "UsageError", "KEY=VALUE")


def test_param_to_another_run(kernel, ws):
    ok(kernel.execute("%run start --name other\n%run end"))
    ok(kernel.execute("%param seed=7 --run other"))
    assert show(kernel, "other")[1] == {"seed": "7"}


def test_tag_may_change(kernel, ws):
    ok(kernel.execute("%run start --name t"))
    ok(kernel.execute("%tag team=a stage=dev"))
    ok(kernel.execute("%tag team=b"))
    ok(kernel.execute("%run end\n%run start --name u"))
    ok(kernel.execute("%tag note=hello --run t"))
    assert show(kernel, "t")[2] == {"team": "b", "stage": "dev", "note": "hello"}
    assert show(kernel, "u")[2] == {}


#  ---- %runs ----

def test_runs_lists_newest_first_with_params_and_metrics(kernel, ws):
    make_runs(kernel)
    run = ok(kernel.execute("%runs"))
    (bundle,) = displays(run)
    assert HTML in bundle
    t = table(run, "4 runs")
    assert column(t, "name") == ["r4", "r3", "r2", "r1"]
    assert t["head"][:6] == ["id", "name", "experiment", "status", "created", "duration"]
    assert "params.model" in t["head"] and "metrics.acc" in t["head"]
    rows = {r[1]: dict(zip(t["head"], r)) for r in t["rows"]}
    assert rows["r2"]["params.model"] == "cnn" and rows["r2"]["metrics.acc"] == "0.97"
    assert rows["r3"]["params.lr"] == "0.2" and rows["r3"]["metrics.loss"] == "0.15"
    assert rows["r4"]["experiment"] == "other"
    assert set(column(t, "status")) == {"completed"}
    for name in ("r1", "r2", "r3", "r4"):
        assert name in bundle[PLAIN]


def test_runs_filter(kernel, ws):
    make_runs(kernel)
    t = table(ok(kernel.execute(
        "%runs --filter \"metrics.acc > 0.9 and params.model = 'mlp'\"")), "2 runs")
    assert column(t, "name") == ["r4", "r1"]
    t = table(ok(kernel.execute(
        "%runs --filter \"params.model = 'cnn' or metrics.acc < 0.9\"")), "2 runs")
    assert sorted(column(t, "name")) == ["r2", "r3"]
    t = table(ok(kernel.execute("%runs --filter \"name IN ('r1', 'r3')\"")), "2 runs")
    assert sorted(column(t, "name")) == ["r1", "r3"]
    t = table(ok(kernel.execute("%runs --filter \"metrics.acc > 2\"")), "0 runs")
    assert t["rows"] == []


def test_runs_sort(kernel, ws):
    make_runs(kernel)
    t = table(ok(kernel.execute("%runs --sort metrics.acc")), "4 runs")
    assert column(t, "name") == ["r3", "r1", "r2", "r4"]
    #  %help runs: "--sort '-metrics.acc, created'" (a leading - is descending)
    t = table(ok(kernel.execute("%runs --sort '-metrics.acc'")), "4 runs")
    assert column(t, "name") == ["r4", "r2", "r1", "r3"]
    t = table(ok(kernel.execute("%runs --sort '-params.lr, metrics.acc'")), "4 runs")
    assert column(t, "name") == ["r3", "r1", "r2", "r4"]


@pytest.mark.parametrize("sort", ["'metrics.acc DESC'", "=-metrics.acc"])
def test_runs_sort_descending_other_forms(kernel, ws, sort):
    make_runs(kernel)
    sep = "" if sort.startswith("=") else " "
    t = table(ok(kernel.execute(f"%runs --sort{sep}{sort}")), "4 runs")
    assert column(t, "name") == ["r4", "r2", "r1", "r3"]


def test_runs_limit_and_experiment(kernel, ws):
    make_runs(kernel)
    t = table(ok(kernel.execute("%runs --limit 2")), "2 runs")
    assert "more" in t["caption"]
    assert column(t, "name") == ["r4", "r3"]
    t = table(ok(kernel.execute("%runs --limit 4")), "4 runs")
    assert "more" not in t["caption"]
    t = table(ok(kernel.execute("%runs --experiment cmp")), "3 runs")
    assert column(t, "name") == ["r3", "r2", "r1"]
    assert "experiment" not in t["head"]
    t = table(ok(kernel.execute(
        "%runs --experiment cmp --filter \"params.model = 'mlp'\" --limit 1")), "1 run")
    assert column(t, "name") == ["r3"]
    assert_error(kernel.execute("%runs --experiment nosuch"), "RunError", "nosuch")
    assert_error(kernel.execute("%runs --limit 0"), "UsageError", "--limit")
    assert_error(kernel.execute("%runs --limit many"), "UsageError", "--limit")


@pytest.mark.parametrize("expr, where", [
    ("metrics.acc >> 1", "at column 14"),
    ("params.model = 'mlp", "unclosed quote at column 16"),
    ("metrics.acc > 0.9 and", "at the end"),
    ("nosuchkey = 1", "unknown attribute 'nosuchkey'"),
])
def test_runs_bad_filter_says_where(kernel, ws, expr, where):
    make_runs(kernel)
    run = kernel.execute(f'%runs --filter "{expr}"')
    assert_error(run, "UsageError", "filter", where)
    assert run.of_type("display_data") == []


#  ---- %show ----

def test_show_by_id_prefix_and_name(kernel, ws):
    ok(kernel.execute("%run start --name shown --tag k=v"))
    ok(kernel.execute("%param model=mlp"))
    for acc, loss in [(0.5, 1.0), (0.7, 0.6), (0.9, 0.3)]:
        ok(kernel.execute(f"%log acc={acc} loss={loss}"))
    ok(kernel.execute("%run end"))
    rid = run_id(kernel, "shown")
    assert re.fullmatch(r"[0-9a-f]{8}", rid)

    for ref in (rid, rid[:4], "shown"):
        run = ok(kernel.execute(f"%show {ref}"))
        for bundle in displays(run):
            assert PLAIN in bundle
        t = summary_table(run)
        assert t["caption"] == f"Run shown ({rid})"
        summary = fields(t)
        assert summary["id"] == rid and summary["name"] == "shown"
        assert summary["status"] == "completed" and summary["experiment"] == "Default"
        assert fields(table(run, "Params")) == {"model": "mlp"}
        assert fields(table(run, "Tags")) == {"k": "v"}
        card = table(run, head=["metric", "latest"])
        rows = {r[0]: dict(zip(card["head"], r)) for r in card["rows"]}
        assert rows["acc"]["latest"] == "0.9" and rows["acc"]["min"] == "0.5"
        assert rows["loss"]["max"] == "1" and rows["loss"]["points"] == "3"
        #  one chart per metric, each as SVG and as Vega-Lite
        by_title = {c[VEGA]["title"]: c for c in charts(run)}
        assert set(by_title) == {"acc", "loss"}
        assert vega_points(by_title["acc"]) == [(0, 0.5), (1, 0.7), (2, 0.9)]
        assert "<svg" in by_title["loss"][SVG] and "loss" in by_title["loss"][SVG]
        assert "loss" in by_title["loss"][PLAIN]


def test_show_metric_and_log_scale(kernel, ws):
    ok(kernel.execute("%run start --name m\n%log a=1 b=10\n%log a=2 b=100"))
    (chart,) = charts(ok(kernel.execute("%show m --metric b --log")))
    assert chart[VEGA]["title"] == "b"
    assert chart[VEGA]["encoding"]["y"]["scale"]["type"] == "log"


def test_show_unknown_run(kernel, ws):
    assert_error(kernel.execute("%show nosuch"), "RunError", "nosuch")
    assert_error(kernel.execute("%show"), "UsageError", "%show RUN")


def test_show_escapes_html(kernel, ws):
    evil = "<script>alert(1)</script>"
    ok(kernel.execute(f"%run start --name '<b>bold</b>' --tag 'x={evil}'"))
    ok(kernel.execute(f"%param 'note={evil}'\n%log acc=1\n%log acc=2"))
    run = ok(kernel.execute("%show '<b>bold</b>'"))
    html = "".join(b[HTML] for b in displays(run) if HTML in b)
    assert "<script>" not in html and "<b>bold" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    #  the parsed tables read back the text as typed
    assert fields(table(run, "Tags")) == {"x": evil}
    assert fields(table(run, "Params")) == {"note": evil}
    plain = "".join(b[PLAIN] for b in displays(run))
    assert evil in plain
    #  the chart's SVG stays well-formed with the name in its legend
    charts(run)
    charts(ok(kernel.execute("%compare '<b>bold</b>' '<b>bold</b>'")))


def test_show_long_history_is_drawn_small(kernel, ws, seed):
    ok(kernel.execute("%run start --name long\n%run end"))
    seed(ws, "long", "metric", "loss", "5000")
    _, _, _, metrics, (chart,) = show(kernel, "long")
    assert metrics["loss"]["points"] == "5000"
    assert metrics["loss"]["step"] == "4999"
    points = vega_points(chart)
    #  a chart of a long history is downsampled (the notebook stays small)
    #  but keeps its ends
    assert 2 <= len(points) <= 1000
    assert points[0][0] == 0 and points[-1][0] == 4999


#  ---- %compare ----

def test_compare_marks_differences_and_overlays(kernel, ws):
    ok(kernel.execute("%run start --name left\n%param model=mlp lr=0.1\n"
                      "%log acc=0.5\n%log acc=0.8\n%run end"))
    ok(kernel.execute("%run start --name right\n%param model=cnn lr=0.1\n"
                      "%log acc=0.6\n%log acc=0.7\n%log acc=0.9\n%run end"))
    left, right = run_id(kernel, "left"), run_id(kernel, "right")
    run = ok(kernel.execute("%compare left right"))
    t = table(run, "Compared")
    assert t["head"] == ["", "key", f"left ({left})", f"right ({right})"]
    rows = {r[1]: r for r in t["rows"]}
    assert rows["model"] == ["≠", "model", "mlp", "cnn"]
    assert rows["lr"] == ["", "lr", "0.1", "0.1"]
    assert rows["metrics.acc"] == ["≠", "metrics.acc", "0.8", "0.9"]
    (chart,) = charts(run)
    for label in (f"left ({left})", f"right ({right})"):
        assert label in chart[SVG]
        assert label in chart[PLAIN]
        assert label in chart[VEGA]["encoding"]["color"]["scale"]["domain"]
    assert vega_points(chart, f"left ({left})") == [(0, 0.5), (1, 0.8)]
    assert vega_points(chart, f"right ({right})") == [(0, 0.6), (1, 0.7), (2, 0.9)]


def test_compare_errors(kernel, ws):
    ok(kernel.execute("%run start --name only\n%run end"))
    assert_error(kernel.execute("%compare only"), "UsageError", "%compare RUN RUN")
    assert_error(kernel.execute("%compare only nosuch"), "RunError", "nosuch")


#  ---- %artifacts ----

#  There is no magic that stores an artifact yet (jobs will); this helper,
#  linked against the library the binary is built from, stores some through
#  wb_store_artifact_file, and logs long histories through wb_store_log.
SEED_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "store/wb_store.h"

//  seed WORKSPACE RUN artifact PATH FILE | seed WORKSPACE RUN metric KEY COUNT
int main (int argc, char **argv)
{
    if (argc != 6)
        return 2;
    wb_error_t err;
    wb_store_t *store = wb_store_open (argv [1], false, &err);
    char *id = store? wb_store_run_resolve (store, argv [2], &err): NULL;
    int rc = id? 0: -1;
    if (rc == 0 && strcmp (argv [3], "artifact") == 0)
        rc = wb_store_artifact_file (store, id, argv [4], argv [5], &err);
    else
    if (rc == 0) {
        size_t count = strtoul (argv [5], NULL, 10);
        wb_metric_t *points = calloc (count, sizeof (wb_metric_t));
        for (size_t i = 0; i < count; i++)
            points [i] = (wb_metric_t) { argv [4], (int64_t) i, 1.0 / (1.0 + i) + 0.01 * sin (i), 0 };
        rc = wb_store_log (store, id, points, count, &err);
        free (points);
    }
    if (rc)
        fprintf (stderr, "seed: %s\n", err.text);
    free (id);
    wb_store_destroy (&store);
    return rc? 1: 0;
}
"""


@pytest.fixture(scope="module")
def seed(tmp_path_factory):
    """seed(workspace, run, "artifact", PATH, FILE) or
    seed(workspace, run, "metric", KEY, COUNT)."""
    lib = Path(WORKBENCH_BIN).parent / "libworkbench.a"
    if not lib.is_file():
        pytest.skip(f"{lib} is not there to link the seeding helper against")
    folder = tmp_path_factory.mktemp("seed")
    (folder / "seed.c").write_text(SEED_C)
    flags = subprocess.run(
        ["pkg-config", "--cflags", "--libs", "libczmq", "libzmq", "libsodium", "jansson",
         "sqlite3"], capture_output=True, text=True, check=True).stdout.split()
    sanitize = []
    kind = lib.parent.name[len("build-"):]          # build-address -> address
    if lib.parent.name.startswith("build-") and kind in ("address", "undefined",
                                                          "thread", "leak"):
        sanitize = [f"-fsanitize={kind}"]
    exe = folder / "seed"
    proc = subprocess.run(["cc", "-O1", "-D_GNU_SOURCE", *sanitize, "-I", str(ROOT / "lib"),
                           "-o", str(exe), str(folder / "seed.c"), str(lib), *flags,
                           "-lm", "-lpthread"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr

    def run(workspace, *args):
        out = subprocess.run([str(exe), str(workspace), *map(str, args)],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
    return run


def sha(data):
    return hashlib.sha256(data).hexdigest()


def test_artifacts_of_a_run_without_any(kernel, ws):
    ok(kernel.execute("%run start --name bare\n%run end"))
    rid = run_id(kernel, "bare")
    run = ok(kernel.execute("%artifacts bare"))
    t = table(run, f"Artifacts of run {rid}")
    assert t["head"] == ["path", "bytes", "sha256"]
    assert t["rows"] == []
    assert_error(kernel.execute("%artifacts bare model.bin"), "RunError", "model.bin",
                 f"%artifacts {rid}")
    assert_error(kernel.execute("%artifacts"), "UsageError", "%artifacts RUN")
    assert_error(kernel.execute("%artifacts bare --to out.bin"), "UsageError", "PATH")
    assert_error(kernel.execute("%artifacts nosuch"), "RunError", "nosuch")


def test_artifacts_list_show_and_copy(kernel, ws, seed, tmp_path):
    files = {
        "notes.txt": b"first line\nsecond line\n",
        "plot.svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4">'
                    b'<rect width="4" height="4"/></svg>',
        "model.bin": bytes(range(256)) * 4,
        "logs/train.log": "".join(f"epoch {i}\n" for i in range(30)).encode(),
    }
    ok(kernel.execute("%run start --name art\n%log acc=1\n%run end"))
    rid = run_id(kernel, "art")
    for name, data in files.items():
        src = tmp_path / name.replace("/", "_")
        src.write_bytes(data)
        seed(ws, "art", "artifact", name, src)

    t = table(ok(kernel.execute("%artifacts art")), f"Artifacts of run {rid}")
    rows = {r[0]: r for r in t["rows"]}
    assert set(rows) == set(files)
    for name, data in files.items():
        assert rows[name][1] == str(len(data))
        assert sha(data).startswith(rows[name][2]) and len(rows[name][2]) >= 8

    run = ok(kernel.execute("%artifacts art notes.txt"))
    assert run.stdout == files["notes.txt"].decode()
    (svg,) = displays(ok(kernel.execute("%artifacts art plot.svg")))
    assert svg[SVG] == files["plot.svg"].decode()
    run = ok(kernel.execute("%artifacts art model.bin"))
    assert "binary" in run.stdout and "--to" in run.stdout
    run = ok(kernel.execute("%artifacts art model.bin --to copy.bin"))
    assert "copy.bin" in run.stdout
    assert (kernel.cwd / "copy.bin").read_bytes() == files["model.bin"]

    #  %show lists them, and the tail of the log
    run = ok(kernel.execute("%show art"))
    assert set(column(table(run, "Artifacts"), "path")) == set(files)
    assert "epoch 29" in run.stdout and "epoch 0\n" not in run.stdout

    #  the workspace counts them
    assert open_ws(kernel, ws)["artifacts"] == str(len(files))


def test_artifacts_are_stored_once_and_deleted_with_their_last_run(kernel, ws, seed, tmp_path):
    data = b"shared weights\n" * 100
    src = tmp_path / "w.bin"
    src.write_bytes(data)
    ok(kernel.execute("%run start --name one\n%run end\n%run start --name two\n%run end"))
    seed(ws, "one", "artifact", "w.bin", src)
    seed(ws, "two", "artifact", "weights/w.bin", src)
    blobs = [p for p in (ws / "artifacts").rglob("*") if p.is_file()]
    assert len(blobs) == 1 and blobs[0].read_bytes() == data
    ok(kernel.execute("%delete one --yes"))
    assert [p for p in (ws / "artifacts").rglob("*") if p.is_file()] == blobs
    ok(kernel.execute("%artifacts two weights/w.bin --to back.bin"))
    assert (kernel.cwd / "back.bin").read_bytes() == data
    ok(kernel.execute("%delete two --yes"))
    assert [p for p in (ws / "artifacts").rglob("*") if p.is_file()] == []


#  ---- %delete ----

def execute_with_input(kernel, code, answer):
    """Execute code with allow_stdin; answer the input_request it sends.
    Returns (the input_request's content, the Exec)."""
    msg_id = kernel.send("execute_request", {
        "code": code, "silent": False, "store_history": True, "user_expressions": {},
        "allow_stdin": True, "stop_on_error": True})
    request = kernel.kc.get_stdin_msg(timeout=TIMEOUT)
    assert request["msg_type"] == "input_request"
    assert request["parent_header"]["msg_id"] == msg_id
    kernel.kc.input(answer)
    return request["content"], kernel.collect(msg_id)


def test_delete_asks_and_no_keeps(kernel, ws):
    ok(kernel.execute("%run start --name victim\n%log a=1\n%log a=2\n%run end"))
    rid = run_id(kernel, "victim")
    prompt, run = execute_with_input(kernel, "%delete victim", "n")
    assert rid in prompt["prompt"] and "[y/N]" in prompt["prompt"]
    assert "2 metric points" in prompt["prompt"]
    assert prompt["password"] is False
    ok(run)
    assert f"Kept run {rid}" in run.stdout
    assert show(kernel, "victim")[0]["id"] == rid


def test_delete_asks_and_yes_deletes(kernel, ws):
    ok(kernel.execute("%run start --name victim\n%log a=1\n%run end\n"
                      "%run start --name bystander\n%log a=1\n%run end"))
    rid = run_id(kernel, "victim")
    _, run = execute_with_input(kernel, "%delete victim", "y")
    ok(run)
    assert f"Deleted run {rid}" in run.stdout
    assert_error(kernel.execute(f"%show {rid}"), "RunError", rid)
    t = table(ok(kernel.execute("%runs")), "1 run")
    assert column(t, "name") == ["bystander"]
    f = open_ws(kernel, ws)
    assert f["runs"] == "1" and f["metric_points"] == "1"


def test_delete_without_stdin_says_use_yes(kernel, ws):
    ok(kernel.execute("%run start --name keep\n%run end"))
    rid = run_id(kernel, "keep")
    run = kernel.execute("%delete keep", allow_stdin=False)
    assert run.status == "error"
    assert "--yes" in run.content["evalue"]
    assert show(kernel, "keep")[0]["id"] == rid
    run = ok(kernel.execute("%delete keep --yes", allow_stdin=False))
    assert f"Deleted run {rid}" in run.stdout
    assert_error(kernel.execute("%show keep"), "RunError", "keep")


def test_delete_refuses_the_active_run(kernel, ws):
    ok(kernel.execute("%run start --name live"))
    assert_error(kernel.execute("%delete live --yes"), "RunError", "%run end")
    assert show(kernel, "live")[0]["status"] == "running"
    assert_error(kernel.execute("%delete nosuch --yes"), "RunError", "nosuch")


#  ---- Completion ----

def complete(kernel, code):
    reply = kernel.request("complete_request", {"code": code, "cursor_pos": len(code)})
    assert reply["content"]["status"] == "ok"
    return reply["content"]


def test_complete_runs_experiments_and_metric_keys(kernel, ws):
    ok(kernel.execute("%experiment vision\n%run start --name alpha-run\n"
                      "%log acc=1 val_loss=2\n%run end"))
    rid = run_id(kernel, "alpha-run")
    c = complete(kernel, "%show ")
    assert rid in c["matches"] and "alpha-run" in c["matches"]
    assert c["cursor_start"] == c["cursor_end"] == 6
    c = complete(kernel, "%show alp")
    assert c["matches"] == ["alpha-run"] and c["cursor_start"] == 6
    c = complete(kernel, f"%compare alpha-run {rid[:3]}")
    assert rid in c["matches"]
    c = complete(kernel, "%experiment ")
    assert "vision" in c["matches"]
    c = complete(kernel, "%runs --experiment vi")
    assert c["matches"] == ["vision"]
    c = complete(kernel, "%runs --filter metrics.")
    assert {"metrics.acc", "metrics.val_loss"} <= set(c["matches"])
    c = complete(kernel, "%runs --filter metrics.v")
    assert c["matches"] == ["metrics.val_loss"]
    assert c["cursor_start"] == len("%runs --filter ")


#  ---- The terminal ----

def test_terminal_runs_show_and_log(kernel, ws):
    ok(kernel.execute("%run start --name term\n%param model=mlp\n%log acc=0.5\n%run end"))
    rid = run_id(kernel, "term")

    proc = wb("runs", workspace=ws)
    assert proc.returncode == 0, proc.stderr
    assert "1 run" in proc.stdout and rid in proc.stdout and "term" in proc.stdout
    assert "metrics.acc" in proc.stdout and "mlp" in proc.stdout
    proc = wb("runs", "--filter", "params.model = 'cnn'", workspace=ws)
    assert proc.returncode == 0 and "0 runs" in proc.stdout

    proc = wb("show", "term", workspace=ws)
    assert proc.returncode == 0, proc.stderr
    assert rid in proc.stdout and "completed" in proc.stdout and "acc" in proc.stdout
    assert "<table" not in proc.stdout and "<svg" not in proc.stdout

    proc = wb("log", "loss=0.25", "--run", "term", workspace=ws)
    assert proc.returncode == 0, proc.stderr
    proc = wb("log", "loss=0.125", workspace=ws, run_env=rid)
    assert proc.returncode == 0, proc.stderr
    metrics = show(kernel, "term")[3]
    assert metrics["loss"]["latest"] == "0.125" and metrics["loss"]["points"] == "2"

    proc = wb("param", "seed=3", "--run", rid[:4], workspace=ws)
    assert proc.returncode == 0, proc.stderr
    proc = wb("tag", "who=cli", workspace=ws, run_env=rid)
    assert proc.returncode == 0, proc.stderr
    _, params, tags, _, _ = show(kernel, "term")
    assert params["seed"] == "3" and tags["who"] == "cli"


def test_terminal_log_without_a_run_fails_clearly(kernel, ws):
    ok(kernel.execute("%run start --name idle\n%run end"))
    proc = wb("log", "k=1", workspace=ws)
    assert proc.returncode != 0
    assert "--run" in proc.stderr and "WORKBENCH_RUN_ID" in proc.stderr
    proc = wb("log", "k=oops", "--run", "idle", workspace=ws)
    assert proc.returncode != 0 and "k" in proc.stderr and "oops" in proc.stderr
    proc = wb("log", "k=1", "--run", "nosuch", workspace=ws)
    assert proc.returncode != 0 and "nosuch" in proc.stderr
    #  nothing was stored, and no run was started
    f = open_ws(kernel, ws)
    assert f["runs"] == "1" and f["metric_points"] == "0"


#  ---- No zombie runs ----

def test_killed_kernel_leaves_a_failed_run(tmp_path):
    path = tmp_path / "ws"
    (tmp_path / "cwd").mkdir()
    k = WbKernel.start(tmp_path / "cwd")
    try:
        open_ws(k, path)
        ok(k.execute("%run start --name doomed\n%log acc=0.5"))
        pid = k.pid
        os.kill(pid, signal.SIGKILL)
        assert wbtest.wait_exit(k.process, TIMEOUT) == -signal.SIGKILL
    finally:
        k.stop()

    k = WbKernel.start(tmp_path / "cwd")
    try:
        open_ws(k, path)
        summary, _, _, metrics, _ = show(k, "doomed")
        assert summary["status"] == "failed"
        assert "process" in summary["error"] and str(pid) in summary["error"]
        assert summary["ended"]
        assert metrics["acc"]["latest"] == "0.5"            # what it logged is kept
        f = fields(table(ok(k.execute("%workspace")), "Workspace"))
        assert f["runs failed"] == "1" and "runs running" not in f
    finally:
        k.stop()


def test_killed_kernel_run_is_failed_for_the_terminal_too(tmp_path):
    path = tmp_path / "ws"
    (tmp_path / "cwd").mkdir()
    k = WbKernel.start(tmp_path / "cwd")
    try:
        open_ws(k, path)
        ok(k.execute("%run start --name doomed"))
        os.kill(k.pid, signal.SIGKILL)
        wbtest.wait_exit(k.process, TIMEOUT)
    finally:
        k.stop()
    proc = wb("runs", "--filter", "status = 'running'", workspace=path)
    assert proc.returncode == 0 and "0 runs" in proc.stdout, proc.stdout


def test_clean_shutdown_completes_the_active_run(tmp_path):
    path = tmp_path / "ws"
    (tmp_path / "cwd").mkdir()
    k = WbKernel.start(tmp_path / "cwd")
    try:
        open_ws(k, path)
        ok(k.execute("%run start --name tidy\n%log acc=0.5"))
    finally:
        code = k.stop()
    assert code == 0 or code is None
    proc = wb("show", "tidy", workspace=path)
    assert proc.returncode == 0, proc.stderr
    status = re.search(r"^status\s+(\S+)", proc.stdout, re.M).group(1)
    assert status == "completed", proc.stdout
    assert re.search(r"^ended\s+\d", proc.stdout, re.M)
    assert not re.search(r"^error\s", proc.stdout, re.M)


def test_switching_workspace_does_not_orphan_the_active_run(tmp_path):
    #  %help run: "a run left open ends as completed when the kernel shuts
    #  down" -- also when another workspace was opened since
    first, second = tmp_path / "one", tmp_path / "two"
    (tmp_path / "cwd").mkdir()
    k = WbKernel.start(tmp_path / "cwd")
    try:
        open_ws(k, first)
        ok(k.execute("%run start --name left-open"))
        open_ws(k, second)
    finally:
        k.stop()
    proc = wb("show", "left-open", workspace=first)
    assert proc.returncode == 0, proc.stderr
    status = re.search(r"^status\s+(\S+)", proc.stdout, re.M).group(1)
    assert status == "completed", proc.stdout


#  ---- %help for every workspace magic ----

@pytest.mark.parametrize("name", ["workspace", "experiment", "run", "log", "param", "tag",
                                  "runs", "show", "compare", "artifacts", "delete"])
def test_workspace_magics_have_help(shared_kernel, name):
    run = ok(shared_kernel.execute(f"%help {name}"))
    (page,) = run.content["payload"]
    assert page["data"][PLAIN].startswith(f"%{name}")
    assert f"%{name}" in table_text(shared_kernel.execute("%lsmagic"))


def table_text(run):
    return "".join(b[PLAIN] for b in displays(run))
