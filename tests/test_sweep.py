"""Sweeps as a user meets them through the kernel: %%sweep over %%train
and over %%job, the live display (leaderboard, best so far, parallel
coordinates) updated in place, early termination recording why a trial
stopped, a trial that never logs the metric, bad input refused before
anything is stored, interrupt, %sweep list|show|cancel|resume (also from a
new kernel).

The samplers and policies themselves (grid enumerating exactly, random
within bounds and q-steps, seeds reproducing, which trial each policy
stops and when on synthetic curves) are checked by the C self-test
(lib/tune/wb_sweep.c).
"""

import os
import re
import sqlite3
import time

import pytest

import wbtest
from wbtest import WbKernel, html_tables, TIME_FACTOR, TIMEOUT
from test_jobs import start_cell, finish, wait_for, ws     # noqa: F401 (fixture)
from test_train import ok, assert_error, tables, show, DATA

SWEEP_TIMEOUT = TIMEOUT * 6


def sweep_id(run):
    """The sweep id of a %%sweep cell: its live display, or --no-wait's line."""
    found = re.search(r"(?:Started|Resumed) sweep (\w+)", run.stdout)
    if found:
        return found.group(1)
    ids = {m["content"].get("transient", {}).get("display_id")
           for m in run.of_type("display_data")} - {None}
    ids = [i for i in ids if i.startswith("wb-sweep-")]
    assert len(ids) == 1, run
    return ids[0][len("wb-sweep-"):]


def board(bundle):
    """The leaderboard of a sweep display, as a list of dicts."""
    found = [t for t in html_tables(bundle["text/html"]) if t["head"][:3] == ["#", "trial", "status"]]
    assert len(found) == 1, bundle["text/plain"]
    return [dict(zip(found[0]["head"], row)) for row in found[0]["rows"]]


def final(run):
    """The last picture of a sweep cell's live display."""
    updates = run.of_type("update_display_data")
    assert updates, run
    return updates[-1]["content"]["data"]


def db_rows(ws, sql, *args):
    db = sqlite3.connect(f"file:{ws}/workspace.db?mode=ro", uri=True)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def trials_of(ws, sweep):
    """[(name, status, kind)] of a sweep's trials, by name."""
    return db_rows(ws, "SELECT r.name, r.status, r.kind FROM runs r JOIN runs p ON r.parent = p.seq "
                       "WHERE p.id = ? ORDER BY r.seq", sweep)


def tag(ws, run_id, key):
    rows = db_rows(ws, "SELECT t.value FROM tags t JOIN runs r ON t.run = r.seq "
                       "WHERE r.id = ? AND t.key = ?", run_id, key)
    return rows[0][0] if rows else None


@pytest.fixture
def iris(kernel, ws):
    ok(kernel.execute(f"%data register iris '{DATA / 'iris.csv'}'"))
    return "iris"


#  ---- Over %%train ----

def test_sweep_over_train(kernel, ws, iris):
    cell = ("%%sweep --name tune --metric val_accuracy --goal max --sampler random --trials 4 "
            "--parallel 2 --seed 3\n"
            "# the search space\n"
            "learning_rate = loguniform(1e-3, 1e-1)\n"
            "width = choice(8, 16)\n"
            "%%train --data iris --target species --model mlp --seed 1\n"
            "hidden = ${{params.width}}\n"
            "epochs = 15\n")
    run = ok(kernel.execute(cell, timeout=SWEEP_TIMEOUT))
    sid = sweep_id(run)
    # One display, updated in place until the end
    firsts = [m for m in run.of_type("display_data")
              if m["content"].get("transient", {}).get("display_id") == f"wb-sweep-{sid}"]
    assert len(firsts) == 1
    last = final(run)
    head = last["text/plain"].splitlines()
    assert head[0].startswith("Sweep tune (") and "completed" in head[0]
    assert "4 of 4 trials, 4 completed" in head[1]
    rows = board(last)
    assert [r["status"] for r in rows] == ["completed"] * 4
    values = [float(r["val_accuracy"]) for r in rows]
    assert values == sorted(values, reverse=True), "best first"
    assert [r["#"] for r in rows] == ["1", "2", "3", "4"]
    for r in rows:
        assert 1e-3 <= float(r["learning_rate"]) <= 1e-1
        assert r["width"] in ("8", "16")
    # Best so far and parallel coordinates are drawn
    assert "Best val_accuracy so far" in last["text/html"]
    # ... the parallel coordinates once: in the card while the sweep ran,
    # then as an output of its own (SVG + Vega-Lite with labelled axes)
    # that the finished card no longer repeats
    assert "Parameters and val_accuracy" not in last["text/html"]
    charts = [b for b in run.bundles("display_data")
              if "Parameters and val_accuracy" in b.get("image/svg+xml", "")]
    assert len(charts) == 1
    layers = charts[0]["application/vnd.vegalite.v5+json"]["layer"]
    labels = [v["label"] for v in layers[-1]["data"]["values"]]
    assert "8" in labels and "16" in labels, labels
    # The best trial, its params and how to register its model
    best = [b for b in run.bundles("display_data") if b["text/plain"].startswith("Best trial: ")]
    assert len(best) == 1
    assert rows[0]["trial"] in best[0]["text/plain"]
    assert re.search(r"%model register tune --run \w{8}", best[0]["text/plain"])
    # Trials are child runs of kind trial; the template and the space
    # became hyperparameters; the cores are shared
    trials = trials_of(ws, sid)
    assert [t[0] for t in trials] == [f"tune-t{i}" for i in range(1, 5)]
    assert {t[2] for t in trials} == {"trial"}
    got = show(kernel, "tune-t1")
    width = got["params"]["hidden"]
    assert width in ("8", "16")
    assert float(got["params"]["learning_rate"]) > 0
    assert got["params"]["threads"] == str(max(1, os.cpu_count() // 2))
    assert got["params"]["epochs"] == "15"
    assert "val_accuracy" in got["metrics"]
    # The sweep records its best
    sweep = show(kernel, sid)
    assert sweep["params"]["metric"] == "val_accuracy"
    assert float(sweep["metrics"]["best_val_accuracy"]["latest"]) == values[0]
    best_id = re.search(r"--run (\w+)", best[0]["text/plain"]).group(1)
    assert tag(ws, sid, "sweep.best_trial") == best_id


def test_same_seed_same_trials(kernel, ws, iris):
    cell = ("%%sweep --metric val_accuracy --goal max --sampler sobol --trials 3 --seed 9 --parallel 3\n"
            "l2 = loguniform(1e-4, 1)\n"
            "%%train --data iris --target species --model logistic\n")
    points = []
    for _ in range(2):
        rows = board(final(ok(kernel.execute(cell, timeout=SWEEP_TIMEOUT))))
        points.append(sorted(r["l2"] for r in rows))
    assert points[0] == points[1]
    assert len(set(points[0])) == 3


#  ---- Over %%job ----

def test_grid_sweep_over_job(kernel, ws):
    cell = ("%%sweep --name jobs --metric score --goal max --sampler grid --parallel 2\n"
            "x = choice(1, 2, 3, 4, 5)\n"
            "mode = 'square'\n"
            "%%job --no-code\n"
            "echo \"x is ${{params.x}}, mode $mode\"\n"
            "echo \"##metric score=$(( -(${{params.x}} - 3) * (${{params.x}} - 3) ))\"\n")
    run = ok(kernel.execute(cell, timeout=SWEEP_TIMEOUT))
    sid = sweep_id(run)
    rows = board(final(run))
    # grid: every point once, trials defaulting to their number
    assert sorted(int(r["x"]) for r in rows) == [1, 2, 3, 4, 5]
    assert rows[0]["x"] == "3" and float(rows[0]["score"]) == 0
    assert [t[1] for t in trials_of(ws, sid)] == ["completed"] * 5
    best = [b for b in run.bundles("display_data") if b["text/plain"].startswith("Best trial: ")]
    assert "x" in best[0]["text/plain"] and "--path outputs/" in best[0]["text/plain"]
    # The job saw the params in its environment and in its script
    log = ok(kernel.execute(f"%job logs {rows[0]['trial']}")).stdout
    assert "x is 3, mode square" in log


def test_policy_stops_a_hopeless_trial(kernel, ws):
    # One at a time: trial 1 (x=10) completes, trial 2 (x=1) logs 1 at
    # step 1, far below 10 - 0.5, and is stopped instead of sleeping on
    cell = ("%%sweep --name pol --metric acc --goal max --sampler grid --parallel 1 "
            "--policy \"bandit(slack_amount=0.5, evaluation_interval=1)\"\n"
            "x = choice(10, 1)\n"
            "%%job --no-code\n"
            "echo \"##metric acc=${{params.x}} step=1\"\n"
            "if [ ${{params.x}} = 1 ]; then sleep 30; fi\n"
            "echo \"##metric acc=${{params.x}} step=2\"\n")
    t0 = time.monotonic()
    run = ok(kernel.execute(cell, timeout=SWEEP_TIMEOUT))
    assert time.monotonic() - t0 < 20 * TIME_FACTOR
    sid = sweep_id(run)
    rows = {r["x"]: r for r in board(final(run))}
    assert rows["10"]["status"] == "completed"
    assert rows["1"]["status"] == "stopped"
    assert rows["1"]["note"].startswith("stopped by bandit: best 1 at step 1 ")
    assert "1 completed, 1 stopped" in final(run)["text/plain"]
    stopped = [n for n, s, _ in trials_of(ws, sid) if s == "canceled"]
    assert stopped == ["pol-t2"]
    got = show(kernel, "pol-t2")
    assert got["fields"]["status"] == "canceled"


def test_trial_that_never_logs_the_metric(kernel, ws):
    cell = ("%%sweep --name miss --metric accuracy --goal max --sampler grid\n"
            "x = choice(1, 2)\n"
            "%%job --no-code\n"
            "echo \"##metric acc=${{params.x}}\"\n")
    run = kernel.execute(cell, timeout=SWEEP_TIMEOUT)
    assert_error(run, "SweepError", "no trial completed with a value of accuracy",
                 "2 trials never logged it")
    last = final(run)
    assert "warning: 2 trials ended without logging accuracy" in last["text/plain"]
    notes = {r["note"] for r in board(last)}
    assert notes == {"never logged accuracy (it logged: acc)"}


#  ---- Bad input: refused, nothing stored ----

@pytest.mark.parametrize("cell, ename, says", [
    ("%%sweep --goal max\nx = choice(1)\n%%job\necho", "UsageError", "give --metric"),
    ("%%sweep --metric a --goal up\nx = choice(1)\n%%job\necho", "UsageError", "--goal wants max or min"),
    ("%%sweep --metric a --goal max --trials 0\nx = choice(1)\n%%job\necho", "UsageError", "--trials wants"),
    ("%%sweep --metric a --goal max\nx = choice(1)\necho hi", "UsageError", "a %%train or %%job line"),
    ("%%sweep --metric a --goal max\n%%job\necho", "SweepError", "space: no parameters"),
    ("%%sweep --metric a --goal max\nx = choice(1)\ny = uniform(2, 1)\n%%job\necho",
     "SweepError", "space line 2"),
    ("%%sweep --metric a --goal max --sampler grid\nx = uniform(0, 1)\n%%job\necho", "SweepError", "grid"),
    ("%%sweep --metric a --goal max --sampler magic\nx = choice(1)\n%%job\necho", "SweepError", "magic"),
    ("%%sweep --metric a --goal max --policy \"bandit(slack=1)\"\nx = choice(1)\n%%job\necho",
     "SweepError", "slack"),
    ("%%sweep --metric a --goal max\nx = choice(1)\n%%job\necho ${{params.y}}", "SweepError",
     "the first trial ({\"x\":1}) cannot run"),
    ("%%sweep --metric a --goal max\nx = choice(1)\n%%job --name t\necho", "UsageError",
     "put --name and --no-wait on the %%sweep line"),
    ("%%sweep --metric a --goal max\nx = choice(1)\n%%train --data nosuch --model mlp --target y\n",
     "DataError", "nosuch"),
    ("%%sweep --metric a --goal max\nepochs = choice(-3)\n%%train --data iris --model mlp --target species\n",
     "SweepError", "epochs"),
    ("%%sweep --metric a --goal max\nwidth = choice(4)\n%%train --data iris --model mlp --target species\n"
     "width = 8\n", "SweepError", "'width' is in the search space and also set in the body"),
])
def test_bad_sweeps_are_refused(kernel, ws, iris, cell, ename, says):
    before = db_rows(ws, "SELECT count(*) FROM runs")[0][0]
    assert_error(kernel.execute(cell), ename, says)
    assert db_rows(ws, "SELECT count(*) FROM runs")[0][0] == before


def test_sweep_subcommand_errors(kernel, ws):
    assert_error(kernel.execute("%sweep frobnicate"), "UsageError", "unknown subcommand 'frobnicate': say list, show, cancel or resume")
    assert_error(kernel.execute("%sweep show nosuchrun"), "SweepError", "nosuchrun")
    ok(kernel.execute("%run start --name plain\n%run end"))
    rid = db_rows(ws, "SELECT id FROM runs WHERE name = 'plain'")[0][0]
    assert_error(kernel.execute(f"%sweep show {rid}"), "SweepError", "not a sweep")


#  ---- Interrupt, cancel, resume, list ----

def test_interrupt_then_resume_from_a_new_kernel(kernel, ws, tmp_path):
    go = tmp_path / "go"
    cell = ("%%sweep --name slow --metric score --goal max --sampler grid --parallel 2\n"
            "x = choice(1, 2, 3, 4)\n"
            "%%job --no-code\n"
            "echo started\n"
            f"test -e '{go}' || sleep 60\n"
            "echo \"##metric score=${{params.x}}\"\n")
    msg_id = start_cell(kernel, cell)
    early = kernel.iopub(msg_id, until=lambda msgs: any(
        "2 running" in m["content"].get("data", {}).get("text/plain", "")
        for m in msgs if m["msg_type"] == "update_display_data") or wbtest.is_idle(msgs),
        timeout=SWEEP_TIMEOUT)
    t0 = time.monotonic()
    kernel.km.interrupt_kernel()
    run = finish(kernel, msg_id, early, timeout=SWEEP_TIMEOUT)
    assert time.monotonic() - t0 < 15 * TIME_FACTOR
    sid = sweep_id(run)
    assert_error(run, "Interrupted", f"sweep {sid} was canceled")
    wait_for("the trials to end", lambda: all(
        s in ("canceled", "completed", "failed") for _, s, _ in trials_of(ws, sid)), 15 * TIME_FACTOR)
    assert [s for _, s, _ in trials_of(ws, sid)] == ["canceled", "canceled"]
    assert db_rows(ws, "SELECT status FROM runs WHERE id = ?", sid) == [("canceled",)]
    # A new kernel over the same workspace continues it
    kernel.stop()
    go.write_text("")
    cwd = tmp_path / "cwd2"
    cwd.mkdir()
    other = WbKernel.start(cwd, env=dict(os.environ, WORKBENCH_WORKSPACE=str(ws)))
    try:
        listed = tables(ok(other.execute("%sweep list")))
        assert any(row[0] == sid and row[2] == "canceled" for t in listed for row in t["rows"])
        run = ok(other.execute(f"%sweep resume {sid}", timeout=SWEEP_TIMEOUT))
        rows = board(final(run))
        assert sorted(r["status"] for r in rows) == ["canceled", "canceled", "completed", "completed"]
        done = sorted(int(r["x"]) for r in rows if r["status"] == "completed")
        assert done == [3, 4], "the grid goes on where it stopped"
        assert db_rows(ws, "SELECT status FROM runs WHERE id = ?", sid) == [("completed",)]
        assert_error(other.execute(f"%sweep resume {sid}"), "SweepError", "nothing to resume")
        shown = ok(other.execute(f"%sweep show {sid}"))
        assert [b for b in shown.bundles("display_data") if b["text/plain"].startswith("Best trial: ")]
    finally:
        other.stop()


def test_no_wait_then_cancel(kernel, ws):
    run = ok(kernel.execute("%%sweep --no-wait --metric s --goal min --trials 3 --parallel 1\n"
                            "x = uniform(0, 1)\n%%job --no-code\nsleep 60\n"))
    sid = sweep_id(run)
    assert f"%sweep cancel {sid}" in run.stdout
    wait_for("a trial to run", lambda: any(s == "running" for _, s, _ in trials_of(ws, sid)),
             TIMEOUT)
    assert f"Canceling sweep {sid}" in ok(kernel.execute(f"%sweep cancel {sid}")).stdout
    wait_for("the sweep to end", lambda: db_rows(ws, "SELECT status FROM runs WHERE id = ?", sid)
             == [("canceled",)], 15 * TIME_FACTOR)
    assert [s for _, s, _ in trials_of(ws, sid)] == ["canceled"]
    assert_error(kernel.execute(f"%sweep cancel {sid}"), "SweepError", "canceled already")


def test_resume_right_after_cancel_waits_for_the_cancel(kernel, ws):
    run = ok(kernel.execute("%%sweep --no-wait --name quick --metric s --goal max --sampler grid "
                            "--parallel 1\nx = choice(1, 2)\n%%job --no-code\nsleep 2\n"
                            "echo \"##metric s=${{params.x}}\"\n"))
    sid = sweep_id(run)
    wait_for("a trial to run", lambda: any(s == "running" for _, s, _ in trials_of(ws, sid)),
             TIMEOUT)
    ok(kernel.execute(f"%sweep cancel {sid}"))
    run = ok(kernel.execute(f"%sweep resume {sid}", timeout=SWEEP_TIMEOUT))
    assert "completed" in final(run)["text/plain"].splitlines()[0]
    assert [s for _, s, _ in trials_of(ws, sid)] == ["canceled", "completed"]


def test_cancel_at_once_then_resume(kernel, ws):
    # Canceled while its controller is still starting: resume waits for that
    # controller to exit, so it cannot end the reopened sweep
    for i in range(4):
        run = ok(kernel.execute(f"%%sweep --no-wait --name early{i} --metric s --goal max "
                                "--sampler grid --parallel 1\nx = choice(1, 0)\n%%job --no-code\n"
                                "sleep ${{params.x}}\necho \"##metric s=${{params.x}}\"\n"))
        sid = sweep_id(run)
        time.sleep(0.05 * i)
        ok(kernel.execute(f"%sweep cancel {sid}"))
        run = ok(kernel.execute(f"%sweep resume {sid}", timeout=SWEEP_TIMEOUT))
        assert "completed" in final(run)["text/plain"].splitlines()[0]
        assert db_rows(ws, "SELECT status FROM runs WHERE id = ?", sid) == [("completed",)]


def test_timeouts(kernel, ws):
    # --trial-timeout fails the trial that runs too long; the others go on
    cell = ("%%sweep --name tt --metric s --goal max --sampler grid --parallel 2 --trial-timeout 2\n"
            "x = choice(0, 30)\n%%job --no-code\necho \"##metric s=${{params.x}}\"\nsleep ${{params.x}}\n")
    t0 = time.monotonic()
    run = ok(kernel.execute(cell, timeout=SWEEP_TIMEOUT))
    assert time.monotonic() - t0 < 15 * TIME_FACTOR
    rows = {r["x"]: r for r in board(final(run))}
    assert rows["0"]["status"] == "completed"
    assert rows["30"]["status"] == "canceled"
    assert rows["30"]["note"] == "timed out after 2 s (the sweep's --trial-timeout)"
    # --timeout ends the sweep: running trials canceled, no new ones
    cell = ("%%sweep --name to --metric s --goal max --sampler grid --parallel 2 --timeout 1\n"
            "x = choice(1, 2, 3)\n%%job --no-code\necho \"##metric s=${{params.x}}\"\nsleep 30\n")
    t0 = time.monotonic()
    run = kernel.execute(cell, timeout=SWEEP_TIMEOUT)
    assert time.monotonic() - t0 < 15 * TIME_FACTOR
    assert_error(run, "SweepError", "--timeout of 1 s came before any trial completed")
    sid = sweep_id(run)
    assert [s for _, s, _ in trials_of(ws, sid)] == ["canceled", "canceled"]


def test_resume_of_an_exhausted_grid_is_refused(kernel, ws):
    run = ok(kernel.execute("%%sweep --name small --metric s --goal max --sampler grid --trials 5\n"
                            "x = choice(1, 2)\n%%job --no-code\necho \"##metric s=${{params.x}}\"\n",
                            timeout=SWEEP_TIMEOUT))
    sid = sweep_id(run)
    assert "2 of 5 trials, 2 completed" in final(run)["text/plain"]
    assert_error(kernel.execute(f"%sweep resume {sid}"), "SweepError", "completed all of its trials")
    assert db_rows(ws, "SELECT status FROM runs WHERE id = ?", sid) == [("completed",)]
