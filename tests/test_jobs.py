"""Jobs as a user meets them through the kernel: %%job runs a cell body as a
tracked run on the local compute target and draws it live; metrics come
from `workbench log`, the line protocol and the Python module; outputs
become artifacts; params, code snapshots, failures, time-outs, cancels,
the queue, %job list|show|logs|wait|cancel, %compute, and jobs that outlive
their kernel or lose their supervisor.

Every test opens a workspace of its own (`%workspace PATH` as its first
cell) outside the kernel's folder, which is the job's code snapshot.
"""

import os
import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

import wbtest
from wbtest import HtmlTables as _Tables
from wbtest import TIME_FACTOR, TIMEOUT, WORKBENCH_BIN, WbKernel

BIN_DIR = os.path.dirname(WORKBENCH_BIN)
FINAL = ("completed", "failed", "canceled")


#  ---- Reading what a front end shows ----

def tables(run):
    """The HTML tables of every display of an executed cell."""
    found = []
    for bundle in run.bundles("display_data"):
        parser = _Tables()
        parser.feed(bundle.get("text/html", ""))
        found += parser.tables
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


def job_id(run):
    """The run id of a %%job cell: from its live display, or from the
    'Submitted job ID' line of --no-wait."""
    found = re.search(r"Submitted job (\w+) ", run.stdout)
    if found:
        return found.group(1)
    ids = {display_id(m) for m in run.of_type("display_data")} - {None}
    assert len(ids) == 1, run
    return ids.pop()[len("wb-job-"):]


def show(kernel, ref):
    """%show REF as a dict: fields, params, tags, metrics (rows by key),
    artifacts (paths), and the text it printed (the log tail)."""
    run = ok(kernel.execute(f"%show {ref}"))
    found = tables(run)
    fields = {row["field"]: row["value"] for t in found if t["caption"].startswith("Run ")
              and t["head"] == ["field", "value"] for row in
              (dict(zip(t["head"], r)) for r in t["rows"])}
    params = {r[0]: r[1] for t in found if t["caption"] == "Params" for r in t["rows"]}
    tags = {r[0]: r[1] for t in found if t["caption"] == "Tags" for r in t["rows"]}
    metrics = {}
    for t in found:
        if t["head"][:2] == ["metric", "latest"]:
            for row in t["rows"]:
                metrics[row[0]] = dict(zip(t["head"], row))
    artifacts = [r[0] for t in found if t["caption"] == "Artifacts" for r in t["rows"]]
    return {"fields": fields, "params": params, "tags": tags, "metrics": metrics,
            "artifacts": artifacts, "text": run.stdout}


def status_of(kernel, ref):
    return show(kernel, ref)["fields"]["status"]


def job_count(kernel):
    """How many jobs %job list says there are."""
    caption = [t["caption"] for t in tables(ok(kernel.execute("%job list --all")))]
    assert len(caption) == 1, caption
    return int(re.match(r"(\d+) jobs?$", caption[0]).group(1))


def wait_for(what, condition, timeout=TIMEOUT, every=0.05):
    """Poll condition() until it returns something true; return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout} s")
        time.sleep(every)


def live_processes(pgid):
    """Processes of process group pgid that have not exited (zombies left
    for an init that does not reap are gone for our purpose)."""
    alive = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        state, group = fields[0], int(fields[2])
        if group == pgid and state not in ("Z", "X"):
            alive.append(int(entry))
    return alive


def kill_group(pgid):
    """End what is left of a job's process group this test started."""
    for pid in live_processes(pgid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def wb(*args, workspace):
    """The terminal tool over workspace."""
    env = dict(os.environ, WORKBENCH_WORKSPACE=str(workspace))
    env.pop("WORKBENCH_RUN_ID", None)
    return subprocess.run([WORKBENCH_BIN, *args], capture_output=True, text=True,
                          env=env, timeout=60)


def cli_status(workspace, ref):
    """A run's status as `workbench show RUN` prints it."""
    proc = wb("show", ref, workspace=workspace)
    assert proc.returncode == 0, proc.stderr
    return re.search(r"^status\s+(\S+)", proc.stdout, re.M).group(1)


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


def shows(text):
    """An iopub condition: some display or update of the cell holds text."""
    def condition(msgs):
        return any(text in m["content"].get("data", {}).get("text/plain", "")
                   for m in msgs if m["msg_type"] in ("display_data", "update_display_data"))
    return condition


@pytest.fixture
def ws(kernel, tmp_path):
    """The test's own workspace, open in the test's kernel."""
    path = tmp_path / "ws"
    ok(kernel.execute(f"%workspace '{path}'"))
    return path


TRAIN_PY = """\
import os, time
import workbench

workbench.param(optimizer="adam")
for step in range(100):
    workbench.log(loss=1.0 / (step + 1), step=step)
    time.sleep(0.01)
with open(os.path.join(os.environ["WORKBENCH_OUTPUTS"], "model.txt"), "w") as f:
    f.write("weights")
print("trained")
"""


#  ---- A job, its run and its live display ----

def test_python_job_logs_metrics_and_keeps_outputs(kernel, ws):
    (kernel.cwd / "train.py").write_text(TRAIN_PY)
    run = ok(kernel.execute("%%job --name py\npython3 train.py", timeout=TIMEOUT * 2))
    rid = job_id(run)

    #  the live display: one display_data with a transient id, then updates of it
    displays = [m for m in run.msgs if m["msg_type"] in ("display_data", "update_display_data")]
    assert displays[0]["msg_type"] == "display_data"
    assert display_id(displays[0]) == f"wb-job-{rid}"
    updates = displays[1:]
    assert updates and all(m["msg_type"] == "update_display_data" for m in updates)
    assert {display_id(m) for m in updates} == {f"wb-job-{rid}"}
    assert any(" · running" in m["content"]["data"]["text/plain"] for m in updates), \
        "no update showed the job running"
    final = updates[-1]["content"]["data"]
    assert "completed" in final["text/plain"].splitlines()[0]
    assert "loss" in final["text/plain"] and "trained" in final["text/plain"]
    assert "text/html" in final

    #  the run
    got = show(kernel, rid)
    assert got["fields"]["status"] == "completed"
    assert got["fields"]["kind"] == "job"
    assert got["fields"]["command"] == "python3 train.py"
    assert re.fullmatch(r"[0-9a-f]{64}", got["fields"]["snapshot"])
    assert got["params"] == {"optimizer": "adam"}
    loss = got["metrics"]["loss"]
    assert loss["points"] == "100" and loss["step"] == "99" and loss["max"] == "1"
    assert float(loss["latest"]) == pytest.approx(0.01)
    assert sorted(got["artifacts"]) == ["logs/output.log", "outputs/model.txt"]
    assert "trained" in got["text"]
    run = ok(kernel.execute(f"%artifacts {rid} outputs/model.txt"))
    assert "weights" in run.stdout + "".join(b["text/plain"] for b in run.bundles())


def test_terminal_tool_logs_to_the_jobs_run(kernel, ws):
    script = (f"export PATH={BIN_DIR}:$PATH\n"
              "workbench log acc=0.5 --step 1\n"
              "workbench log acc=0.75 loss=0.25 --step 2\n"
              "sleep 0.5\n"
              "echo after\n"
              "echo kept > $WORKBENCH_OUTPUTS/after.txt\n")
    run = ok(kernel.execute("%%job --name cli\n" + script))
    rid = job_id(run)
    final = run.of_type("update_display_data")[-1]["content"]["data"]["text/plain"]
    assert "after" in final and "2 artifacts" in final, final
    got = show(kernel, rid)
    assert got["fields"]["status"] == "completed"
    acc = got["metrics"]["acc"]
    assert (acc["latest"], acc["step"], acc["min"], acc["points"]) == ("0.75", "2", "0.5", "2")
    assert got["metrics"]["loss"]["latest"] == "0.25"
    #  the job went on after logging, and its end was recorded by the job
    assert sorted(got["artifacts"]) == ["logs/output.log", "outputs/after.txt"]
    assert ok(kernel.execute(f"%job logs {rid}")).stdout == "after\n"
    #  nothing went to an interactive run of the kernel's
    assert len(table(ok(kernel.execute("%runs")), "")) == 1


def test_terminal_tool_does_not_end_the_jobs_run(kernel, ws):
    #  a job that logs, then fails, is a failed run
    run = kernel.execute(f"%%job --name cli-fails\nexport PATH={BIN_DIR}:$PATH\n"
                         "workbench log acc=0.5\nsleep 0.3\necho broken >&2\nexit 4")
    assert_error(run, "JobError", "exit status 4", "broken")
    got = show(kernel, job_id(run))
    assert got["fields"]["status"] == "failed"
    assert got["metrics"]["acc"]["latest"] == "0.5"


def test_line_protocol_on_stdout_and_the_metrics_fd(kernel, ws):
    script = ("echo before\n"
              "echo '##metric x=1 step=0'\n"
              "echo '##param depth=3'\n"
              "echo '##tag stage=warmup'\n"
              'echo "metric y=2 step=2" >&$WORKBENCH_METRICS_FD\n'
              'echo "metric x=3 step=2" >&$WORKBENCH_METRICS_FD\n'
              "echo after\n")
    rid = job_id(ok(kernel.execute("%%job --name proto\n" + script)))
    got = show(kernel, rid)
    assert got["fields"]["status"] == "completed"
    x, y = got["metrics"]["x"], got["metrics"]["y"]
    assert (x["latest"], x["step"], x["points"], x["min"]) == ("3", "2", "2", "1")
    assert (y["latest"], y["step"], y["points"]) == ("2", "2", "1")
    assert got["params"] == {"depth": "3"}
    assert got["tags"] == {"stage": "warmup"}
    #  records are not log lines
    run = ok(kernel.execute(f"%job logs {rid}"))
    assert run.stdout == "before\nafter\n"


#  ---- Params ----

def test_params_are_recorded_substituted_and_in_the_environment(kernel, ws):
    run = ok(kernel.execute('%%job --name p --param lr=0.1 --param model=mlp\n'
                            'echo "lr=${{params.lr}} env=$lr model=${{ params.model }}"'))
    rid = job_id(run)
    got = show(kernel, rid)
    assert got["params"] == {"lr": "0.1", "model": "mlp"}
    assert ok(kernel.execute(f"%job logs {rid}")).stdout == "lr=0.1 env=0.1 model=mlp\n"
    #  the run's command is the script as it ran
    assert got["fields"]["command"] == 'echo "lr=0.1 env=$lr model=mlp"'


def test_job_environment(kernel, ws):
    ok(kernel.execute("export FROM_SESSION=yes KEPT=session; NOT_EXPORTED=1"))
    run = ok(kernel.execute(
        "%%job --compute local --env EXTRA=1 --env KEPT=flag\n"
        'echo "$FROM_SESSION $KEPT $EXTRA ${NOT_EXPORTED-unset} $WORKBENCH_RUN_ID"\n'
        'test -d "$WORKBENCH_OUTPUTS" && echo outputs-ok\n'
        "python3 -c 'import workbench; print(workbench.run_id())'"))
    rid = job_id(run)
    assert ok(kernel.execute(f"%job logs {rid}")).stdout == \
        f"yes flag 1 unset {rid}\noutputs-ok\n{rid}\n"
    assert_error(kernel.execute("%%job --env NOEQUALS\necho x"), "UsageError", "--env")
    assert_error(kernel.execute("%%job --param 1bad=x\necho x"), "JobError", "1bad")
    assert job_count(kernel) == 1


def test_missing_param_is_a_usage_error_and_creates_no_run(kernel, ws):
    ok(kernel.execute("%%job\necho first"))
    assert job_count(kernel) == 1
    run = kernel.execute("%%job --param lr=0.1\necho ${{params.lr}} ${{params.epochs}}")
    assert_error(run, "UsageError", "params.epochs", "--param epochs=VALUE")
    assert run.of_type("display_data") == []
    assert job_count(kernel) == 1


#  ---- The code snapshot ----

def test_workbenchignore_and_code_dir(kernel, ws, tmp_path):
    (kernel.cwd / "train.py").write_text("print(1)\n")
    (kernel.cwd / "weights.bin").write_text("big")
    (kernel.cwd / "data").mkdir()
    (kernel.cwd / "data" / "raw.csv").write_text("a\n1\n")
    (kernel.cwd / "src").mkdir()
    (kernel.cwd / "src" / "util.py").write_text("")
    (kernel.cwd / ".workbenchignore").write_text("# large things\n*.bin\ndata/\n")
    for skipped in (".git", "__pycache__", ".ipynb_checkpoints"):
        (kernel.cwd / skipped).mkdir()
        (kernel.cwd / skipped / "file").write_text("")
    rid = job_id(ok(kernel.execute("%%job\nfind . -type f | sort")))
    listed = ok(kernel.execute(f"%job logs {rid}")).stdout.split()
    assert listed == ["./src/util.py", "./train.py"]

    other = tmp_path / "other-code"
    (other / "pkg").mkdir(parents=True)
    (other / "pkg" / "model.py").write_text("")
    (other / "run.sh").write_text("echo from-code-dir\n")
    rid = job_id(ok(kernel.execute(f"%%job --code '{other}'\nfind . -type f | sort; bash run.sh")))
    assert ok(kernel.execute(f"%job logs {rid}")).stdout.split() == \
        ["./pkg/model.py", "./run.sh", "from-code-dir"]

    #  --no-code: an empty folder
    rid = job_id(ok(kernel.execute("%%job --no-code\nls -A | wc -l")))
    assert ok(kernel.execute(f"%job logs {rid}")).stdout.strip() == "0"


#  ---- How jobs end ----

def test_failing_job(kernel, ws):
    run = kernel.execute("%%job --name bad\necho starting\n"
                         "echo 'ValueError: bad data' >&2\nexit 3")
    assert_error(run, "JobError", "exit status 3", "ValueError: bad data")
    rid = job_id(run)
    final = run.of_type("update_display_data")[-1]["content"]["data"]["text/plain"]
    assert "failed" in final.splitlines()[0]
    got = show(kernel, rid)
    assert got["fields"]["status"] == "failed"
    assert "exit status 3" in got["fields"]["error"]
    assert "ValueError: bad data" in got["fields"]["error"]
    assert "starting" in got["text"]
    assert ok(kernel.execute("echo alive")).stdout == "alive\n"


def test_timeout_cancels(kernel, ws):
    t0 = time.monotonic()
    run = kernel.execute("%%job --name slow --timeout 1\nsleep 30")
    took = time.monotonic() - t0
    assert_error(run, "JobError", "timed out", "--timeout")
    assert took < 6 * TIME_FACTOR, took
    got = show(kernel, job_id(run))
    assert got["fields"]["status"] == "canceled"
    assert "timed out" in got["fields"]["error"]


def test_bad_timeout_is_a_usage_error(kernel, ws):
    for value in ("0", "-1", "soon"):
        assert_error(kernel.execute(f"%%job --timeout {value}\nsleep 1"),
                     "UsageError", "--timeout")
    assert job_count(kernel) == 0


def test_interrupt_cancels_the_job(kernel, ws, tmp_path):
    pid_file = tmp_path / "job.pid"
    msg_id = start_cell(kernel, f"%%job --name intr\necho $$ > '{pid_file}'\n"
                                "echo started\nsleep 30\necho never")
    early = kernel.iopub(msg_id, until=lambda msgs: shows("started")(msgs)
                         or wbtest.is_idle(msgs))
    pgid = int(pid_file.read_text())
    try:
        t0 = time.monotonic()
        kernel.km.interrupt_kernel()
        run = finish(kernel, msg_id, early)
        assert time.monotonic() - t0 < 5 * TIME_FACTOR
        assert_error(run, "Interrupted", job_id(run))
        final = run.of_type("update_display_data")[-1]["content"]["data"]["text/plain"]
        assert "canceled" in final.splitlines()[0]
        got = show(kernel, "intr")
        assert got["fields"]["status"] == "canceled"
        assert "never" not in got["text"]
        wait_for("the job's processes to end", lambda: not live_processes(pgid), 5)
    finally:
        kill_group(pgid)
    assert ok(kernel.execute("echo alive")).stdout == "alive\n"


def test_cancel_a_no_wait_job(kernel, ws):
    run = ok(kernel.execute("%%job --no-wait --name bg\necho started; sleep 30"))
    rid = job_id(run)
    assert f"%job wait {rid}" in run.stdout
    wait_for("the job to start", lambda: "started" in
             kernel.execute(f"%job logs {rid}").stdout)
    run = ok(kernel.execute(f"%job cancel {rid}"))
    assert f"Cancel requested for job {rid}" in run.stdout
    t0 = time.monotonic()
    run = kernel.execute(f"%job wait {rid}")
    assert time.monotonic() - t0 < 5 * TIME_FACTOR
    assert_error(run, "JobError", "canceled")
    assert status_of(kernel, rid) == "canceled"


def test_cancel_a_queued_job(kernel, ws):
    ok(kernel.execute("%compute local --max-jobs 1"))
    first = job_id(ok(kernel.execute("%%job --no-wait\nsleep 30")))
    second = job_id(ok(kernel.execute("%%job --no-wait\necho never")))
    assert status_of(kernel, second) == "queued"
    run = ok(kernel.execute(f"%job cancel {second}"))
    assert "it had not started" in run.stdout
    assert status_of(kernel, second) == "canceled"
    ok(kernel.execute(f"%job cancel {first}"))
    assert_error(kernel.execute(f"%job wait {first}"), "JobError", "canceled")
    assert ok(kernel.execute(f"%job logs {second}")).stdout == ""


def test_job_ignoring_sigterm_is_killed_after_the_grace_period(kernel, ws, tmp_path):
    pid_file = tmp_path / "job.pid"
    rid = job_id(ok(kernel.execute(f"%%job --no-wait --name stubborn\necho $$ > '{pid_file}'\n"
                                   "trap '' TERM\necho ready\nsleep 30")))
    wait_for("the job to trap TERM", lambda: "ready" in
             kernel.execute(f"%job logs {rid}").stdout)
    pgid = int(pid_file.read_text())
    try:
        ok(kernel.execute(f"%job cancel {rid}"))
        t0 = time.monotonic()
        time.sleep(0.7)
        #  SIGTERM (sent within 0.2 s) went by without effect: it still runs
        assert live_processes(pgid)
        assert status_of(kernel, rid) == "cancel_requested"
        assert_error(kernel.execute(f"%job wait {rid}"), "JobError", "canceled")
        took = time.monotonic() - t0
        assert 2.5 <= took < 6 * TIME_FACTOR, took
        assert not live_processes(pgid)
    finally:
        kill_group(pgid)


#  ---- The queue ----

def compute_row(kernel, name="local"):
    rows = table(ok(kernel.execute(f"%compute {name}")), "Compute targets")
    assert len(rows) == 1 and rows[0]["name"] == name
    return rows[0]


def test_queue_runs_at_most_max_jobs_in_order(kernel, ws, tmp_path):
    assert compute_row(kernel)["max jobs"] == str(os.cpu_count() or 1)
    ok(kernel.execute("%compute local --max-jobs 2"))
    assert compute_row(kernel)["max jobs"] == "2"
    stamps = tmp_path / "stamps"
    stamps.mkdir()
    n = 20
    ids = []
    samples = []
    for i in range(n):
        run = ok(kernel.execute(
            f"%%job --no-wait --name q{i:02d} --experiment queue\n"
            f"echo $EPOCHREALTIME > '{stamps}/{i}.start'\n"
            f"sleep 0.3\n"
            f"echo $EPOCHREALTIME > '{stamps}/{i}.end'"))
        ids.append(job_id(run))
        if i % 4 == 0:
            samples.append(compute_row(kernel))

    def all_done():
        samples.append(compute_row(kernel))
        return samples[-1]["running"] == "0" and samples[-1]["queued"] == "0"
    wait_for("20 jobs to finish", all_done, timeout=60 * TIME_FACTOR, every=0.1)
    assert all(int(s["running"]) <= 2 for s in samples), samples
    assert max(int(s["queued"]) for s in samples) > 0

    rows = table(ok(kernel.execute("%runs --experiment queue --all")), "")
    assert sorted(r["name"] for r in rows) == [f"q{i:02d}" for i in range(n)]
    assert {r["status"] for r in rows} == {"completed"}

    #  the jobs' own clocks: never more than two at once
    spans = [(float((stamps / f"{i}.start").read_text()),
              float((stamps / f"{i}.end").read_text())) for i in range(n)]
    at_once = [sum(1 for s, e in spans if s <= start < e) for start, _ in spans]
    #  two at a time: the slots were used (sampling %compute can miss it
    #  when the kernel is slow, under valgrind; the jobs' clocks cannot)
    assert max(at_once) == 2, spans
    #  the store: slots were given in submission order
    db = sqlite3.connect(f"file:{ws}/workspace.db?mode=ro", uri=True)
    try:
        claimed = dict(db.execute(
            "SELECT subject, time FROM events WHERE action = 'run.status'"
            " AND json_extract(detail, '$.to') = 'starting'").fetchall())
    finally:
        db.close()
    times = [claimed[rid] for rid in ids]
    assert times == sorted(times)


def test_compute_errors(kernel, ws):
    assert_error(kernel.execute("%compute nowhere"), "JobError",
                 "no compute target named 'nowhere'")
    assert_error(kernel.execute("%compute --max-jobs 2"), "UsageError", "name the target")
    assert_error(kernel.execute("%compute local --max-jobs -1"), "UsageError", "--max-jobs")
    assert_error(kernel.execute("%compute nowhere --max-jobs 2"), "JobError", "nowhere")
    assert_error(kernel.execute("%%job --compute nowhere\necho hi"), "JobError", "nowhere")
    assert job_count(kernel) == 0
    ok(kernel.execute("%compute local --max-jobs 0"))
    assert compute_row(kernel)["max jobs"] == str(os.cpu_count() or 1)


#  ---- %job list|show|logs|wait|cancel ----

def test_job_commands(kernel, ws):
    rid = job_id(ok(kernel.execute("%%job --name done --experiment cmds\n"
                                   "echo one; echo two >&2; echo three")))
    #  logs: stdout and stderr (two pipes: lines of one stay in order)
    text = ok(kernel.execute(f"%job logs {rid}")).stdout
    assert sorted(text.splitlines()) == ["one", "three", "two"]
    assert text.index("one") < text.index("three")
    assert ok(kernel.execute("%job logs done")).stdout == text
    #  show is %show
    got = show(kernel, rid)
    run = ok(kernel.execute(f"%job show {rid}"))
    assert table(run, "Run ") == table(ok(kernel.execute(f"%show {rid}")), "Run ")
    assert got["fields"]["experiment"] == "cmds"
    #  wait on a finished job returns at once with its final picture
    run = ok(kernel.execute(f"%job wait {rid}"))
    assert "completed" in run.bundles("update_display_data")[-1]["text/plain"]
    #  list
    ok(kernel.execute("%run start --name interactive\n%run end"))
    rows = table(ok(kernel.execute("%job list")), "1 job")
    assert [(r["id"], r["name"], r["experiment"], r["status"]) for r in rows] == \
        [(rid, "done", "cmds", "completed")]

    #  errors
    assert_error(kernel.execute("%job frobnicate"), "UsageError",
                 "list, show, logs, wait or cancel")
    assert_error(kernel.execute("%job"), "UsageError", "list, show, logs, wait or cancel")
    assert_error(kernel.execute("%job logs"), "UsageError", "%job logs needs RUN")
    assert_error(kernel.execute("%job list done"), "UsageError", "takes no other word")
    assert_error(kernel.execute(f"%job wait {rid} --follow"), "UsageError", "--follow")
    assert_error(kernel.execute("%job logs nosuch"), "JobError", "nosuch")
    assert_error(kernel.execute("%job logs interactive"), "JobError", "not a job")
    assert_error(kernel.execute(f"%job cancel {rid}"), "JobError",
                 rid, "completed already", "nothing to cancel")
    assert_error(kernel.execute("%%job\n   \n"), "UsageError", "empty")
    assert_error(kernel.execute("%%job python3 train.py\necho x"), "UsageError", "cell body")
    assert job_count(kernel) == 1


def test_logs_follow_streams_a_running_job(kernel, ws):
    rid = job_id(ok(kernel.execute(
        "%%job --no-wait\nfor i in 1 2 3 4 5; do echo line $i; sleep 0.4; done")))
    run = ok(kernel.execute(f"%job logs {rid} --follow"))
    assert run.stdout == "".join(f"line {i}\n" for i in range(1, 6))
    streams = run.of_type("stream")
    assert len(streams) >= 3, streams
    idle = run.msgs[-1]
    assert idle["content"]["execution_state"] == "idle"
    #  the first line was shown well before the job ended
    assert idle["_t"] - streams[0]["_t"] >= 0.8
    assert status_of(kernel, rid) == "completed"


def test_interrupting_wait_or_follow_leaves_the_job_running(kernel, ws, tmp_path):
    rid = job_id(ok(kernel.execute("%%job --no-wait\necho started; sleep 30")))
    for cell, says in ((f"%job wait {rid}", "it carries on"),
                       (f"%job logs {rid} --follow", "the job carries on")):
        msg_id = start_cell(kernel, cell)
        early = kernel.iopub(msg_id, until=lambda msgs: len(msgs) >= 2)    # busy + output
        time.sleep(0.3)
        kernel.km.interrupt_kernel()
        run = ok(finish(kernel, msg_id, early))
        assert says in run.stdout
        assert status_of(kernel, rid) == "running"
    ok(kernel.execute(f"%job cancel {rid}"))
    assert_error(kernel.execute(f"%job wait {rid}"), "JobError", "canceled")


#  ---- Jobs outlive their kernel; supervisors that die are found ----

def job_kernel(cwd, workspace):
    """A kernel of our own (not the fixture's) over workspace."""
    env = dict(os.environ, WORKBENCH_WORKSPACE=str(workspace))
    return WbKernel.start(cwd, env=env)


def test_no_wait_job_outlives_a_killed_kernel(tmp_path):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    workspace = tmp_path / "ws"
    kernel = job_kernel(cwd, workspace)
    try:
        run = ok(kernel.execute("%%job --no-wait --name survivor\n"
                                "echo started; sleep 2\n"
                                "echo done > $WORKBENCH_OUTPUTS/result.txt"))
        rid = job_id(run)
        wait_for("the job to start", lambda: cli_status(workspace, rid) == "running")
        os.kill(kernel.pid, signal.SIGKILL)
        assert wbtest.wait_exit(kernel.process, 10) == -signal.SIGKILL
    finally:
        kernel.stop()
    assert cli_status(workspace, rid) == "running"
    wait_for("the job to complete", lambda: cli_status(workspace, rid) in FINAL,
             timeout=20 * TIME_FACTOR, every=0.2)
    assert cli_status(workspace, rid) == "completed"
    #  and a new kernel sees it whole
    kernel = job_kernel(cwd, workspace)
    try:
        got = show(kernel, rid)
        assert got["fields"]["status"] == "completed"
        assert sorted(got["artifacts"]) == ["logs/output.log", "outputs/result.txt"]
        assert "started" in got["text"]
    finally:
        kernel.stop()


def test_job_whose_supervisor_is_killed_ends_failed(tmp_path):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    workspace = tmp_path / "ws"
    pid_file = tmp_path / "job.pid"
    kernel = job_kernel(cwd, workspace)
    pgid = None
    try:
        run = ok(kernel.execute(f"%%job --no-wait --name orphan\necho $$ > '{pid_file}'\n"
                                "echo started; sleep 20; echo never"))
        rid = job_id(run)
        wait_for("the job to start", lambda: cli_status(workspace, rid) == "running"
                 and pid_file.exists() and pid_file.read_text().strip())
        pgid = int(pid_file.read_text())
        found = subprocess.run(["pgrep", "-f", f"job-run .* {rid}$"],
                               capture_output=True, text=True).stdout.split()
        assert len(found) == 1, found
        os.kill(int(found[0]), signal.SIGKILL)
        kernel.stop()
        #  the workspace opened again: the run is failed, not running
        kernel = job_kernel(cwd, workspace)
        rows = table(ok(kernel.execute("%runs")), "")
        assert [(r["id"], r["status"]) for r in rows] == [(rid, "failed")]
        error = show(kernel, rid)["fields"]["error"]
        assert "gone" in error
        #  and what the job ran is gone too: its whole process group
        time.sleep(0.5)
        assert live_processes(pgid) == [], "the job's processes outlived its supervisor"
    finally:
        kernel.stop()
        if pgid:
            kill_group(pgid)


#  ---- A supervisor killed while someone watches; what a job leaves behind ----

def marked_processes(rid):
    """Live processes whose environment holds WORKBENCH_RUN_ID=rid."""
    marker = f"WORKBENCH_RUN_ID={rid}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            env = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if marker in env and stat[stat.rindex(")") + 2] not in "ZX":
            found.append(int(entry))
    return found


def kill_marked(rid):
    """End what is left of job rid (a failing test's leftovers)."""
    for pid in marked_processes(rid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def process_gone(pid):
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] in "ZX"


def supervisor_of(rid, command="job-run"):
    found = subprocess.run(["pgrep", "-f", f"{command} .* {rid}$"],
                           capture_output=True, text=True).stdout.split()
    assert len(found) == 1, found
    return int(found[0])


def stored_status(ws, rid):
    """A run's status read from the workspace's database, touching nothing."""
    db = sqlite3.connect(f"file:{ws}/workspace.db?mode=ro", uri=True)
    try:
        return db.execute("SELECT status FROM runs WHERE id = ?", (rid,)).fetchone()[0]
    finally:
        db.close()


JOB_THAT_FORKS = "echo started; sleep 300 & sleep 300"


def test_killed_supervisor_ends_the_watching_cell(kernel, ws):
    msg_id = start_cell(kernel, "%%job --name doomed\n" + JOB_THAT_FORKS)
    early = kernel.iopub(msg_id, until=shows("started"))
    rid = next(display_id(m) for m in early if display_id(m))[len("wb-job-"):]
    try:
        wait_for("both sleeps", lambda: len(marked_processes(rid)) >= 3)
        supervisor = supervisor_of(rid)
        os.kill(supervisor, signal.SIGKILL)
        killed = time.monotonic()
        run = finish(kernel, msg_id, early, timeout=10 * TIME_FACTOR)
        assert time.monotonic() - killed < 5 * TIME_FACTOR
        assert_error(run, "JobError", f"job {rid} failed",
                     f"the job supervisor (pid {supervisor}) died")
        final = run.of_type("update_display_data")[-1]["content"]["data"]["text/plain"]
        assert "failed" in final.splitlines()[0] and "supervisor" in final
        #  nothing of the job survives it, and the run says why
        wait_for("the job's processes to end", lambda: marked_processes(rid) == [], 3)
        got = show(kernel, rid)
        assert got["fields"]["status"] == "failed"
        assert f"supervisor (pid {supervisor}) died" in got["fields"]["error"]
        assert got["artifacts"] == ["logs/output.log"] and "started" in got["text"]
        assert not (ws / "jobs" / rid).exists()
    finally:
        kill_marked(rid)


def test_killed_supervisor_ends_job_wait_in_another_kernel(kernel, ws, tmp_path):
    rid = job_id(ok(kernel.execute("%%job --no-wait\n" + JOB_THAT_FORKS)))
    other_cwd = tmp_path / "other"
    other_cwd.mkdir()
    other = job_kernel(other_cwd, ws)
    try:
        wait_for("both sleeps", lambda: len(marked_processes(rid)) >= 3)
        msg_id = start_cell(other, f"%job wait {rid}")
        early = other.iopub(msg_id, until=shows("running"))
        supervisor = supervisor_of(rid)
        os.kill(supervisor, signal.SIGKILL)
        run = finish(other, msg_id, early, timeout=10 * TIME_FACTOR)
        assert_error(run, "JobError", f"the job supervisor (pid {supervisor}) died")
        wait_for("the job's processes to end", lambda: marked_processes(rid) == [], 3)
        #  the first kernel sees it failed too
        rows = table(ok(kernel.execute("%job list")), "1 job")
        assert [(r["id"], r["status"]) for r in rows] == [(rid, "failed")]
    finally:
        other.stop()
        kill_marked(rid)


def test_killed_supervisor_is_noticed_by_job_list_and_cancel(kernel, ws):
    rid = job_id(ok(kernel.execute("%%job --no-wait\n" + JOB_THAT_FORKS)))
    try:
        wait_for("both sleeps", lambda: len(marked_processes(rid)) >= 3)
        os.kill(supervisor_of(rid), signal.SIGKILL)
        time.sleep(0.2)
        #  a cancel is not left for a supervisor that will never act on it
        assert_error(kernel.execute(f"%job cancel {rid}"), "JobError", "failed already")
        rows = table(ok(kernel.execute("%job list")), "1 job")
        assert rows[0]["status"] == "failed"
        wait_for("the job's processes to end", lambda: marked_processes(rid) == [], 3)
    finally:
        kill_marked(rid)


def test_killed_supervisor_does_not_block_the_queue(kernel, ws):
    ok(kernel.execute("%compute local --max-jobs 1"))
    first = job_id(ok(kernel.execute("%%job --no-wait\n" + JOB_THAT_FORKS)))
    second = job_id(ok(kernel.execute("%%job --no-wait\necho second")))
    try:
        wait_for("the first job to run", lambda: len(marked_processes(first)) >= 3)
        os.kill(supervisor_of(first), signal.SIGKILL)
        #  the waiting supervisor notices the dead one and takes the slot
        #  (the store is read as it is: opening it would notice too)
        wait_for("the second job", lambda: stored_status(ws, second) == "completed",
                 timeout=10 * TIME_FACTOR, every=0.2)
        assert stored_status(ws, first) == "failed"
        #  killed with the run marked failed; SIGKILL lands a moment later
        wait_for("the first job's processes to end", lambda: marked_processes(first) == [], 3)
    finally:
        kill_marked(first)
        for pid in subprocess.run(["pgrep", "-f", f"job-run .* {second}$"],
                                  capture_output=True, text=True).stdout.split():
            os.kill(int(pid), signal.SIGKILL)       # a supervisor left waiting


def test_what_a_job_daemonises_ends_with_it(kernel, ws, tmp_path):
    pid_file = tmp_path / "daemon.pid"
    script = ("setsid sleep 300 &\n"                        # a new session
              "( sleep 301 & )\n"                           # a double fork
              f"setsid env -i sleep 302 & echo $! > '{pid_file}'\n"   # ...without its run id
              "echo launched")
    run = ok(kernel.execute("%%job --name daemons\n" + script))
    rid = job_id(run)
    try:
        assert show(kernel, rid)["fields"]["status"] == "completed"
        assert marked_processes(rid) == []
        wait_for("the daemon without a run id", lambda: process_gone(int(pid_file.read_text())), 3)
    finally:
        kill_marked(rid)
        if pid_file.exists() and not process_gone(int(pid_file.read_text())):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


#  ---- Large bodies and values ----

def test_job_body_over_128_kib(kernel, ws):
    filler = "".join(f"x{i}=\"{'y' * 60}\"\n" for i in range(300 * 1024 // 66))
    assert len(filler) > 300 * 1000
    body = "echo begins\n" + filler + "echo \"ends $x0 $0 $#\"\n"
    run = ok(kernel.execute("%%job --name big\n" + body, timeout=TIMEOUT * 2))
    rid = job_id(run)
    got = show(kernel, rid)
    assert got["fields"]["status"] == "completed"
    assert "begins" in got["text"] and f"ends {'y' * 60} job 0" in got["text"]


def test_failing_job_names_its_line(kernel, ws):
    run = kernel.execute("%%job\necho one\nno-such-command-here\n")
    assert_error(run, "JobError", "exit status 127",
                 "job: line 2: no-such-command-here: command not found")


def test_param_over_128_kib_is_refused_before_a_run_is_made(kernel, ws):
    big = "v" * (200 * 1024)
    run = kernel.execute(f"%%job --param big={big}\necho ${{{{params.big}}}} | wc -c")
    assert run.status == "error"
    assert "param 'big' is 204800 bytes" in run.content["evalue"]
    assert "128 KiB" in run.content["evalue"]
    assert job_count(kernel) == 0


def test_killed_sweep_controller_ends_the_cell_and_its_trials(kernel, ws):
    #  (here rather than in test_sweep.py: a sweep controller is a job owner too)
    msg_id = start_cell(kernel, "%%sweep --name orphaned --metric s --goal min --trials 3 "
                                "--parallel 1\nx = uniform(0, 1)\n%%job --no-code\n"
                                "echo trial; sleep 300 & sleep 300\n")
    early = kernel.iopub(msg_id, until=lambda msgs: any(display_id(m) for m in msgs))
    sid = next(display_id(m) for m in early if display_id(m))[len("wb-sweep-"):]
    db = f"file:{ws}/workspace.db?mode=ro"

    def trials():
        con = sqlite3.connect(db, uri=True)
        try:
            return con.execute("SELECT r.id, r.status FROM runs r JOIN runs p ON r.parent = p.seq"
                               " WHERE p.id = ?", (sid,)).fetchall()
        finally:
            con.close()

    trial = wait_for("a trial to run", lambda: [t for t, s in trials() if s == "running"])[0]
    try:
        wait_for("the trial's sleeps", lambda: len(marked_processes(trial)) >= 3)
        controller = supervisor_of(sid, "sweep-run")
        os.kill(controller, signal.SIGKILL)
        run = finish(kernel, msg_id, early, timeout=10 * TIME_FACTOR)
        assert_error(run, "SweepError", f"sweep {sid} failed",
                     f"the sweep controller (pid {controller}) died", f"%sweep resume {sid}")
        #  its trial is canceled by its own supervisor: SIGTERM, and it is gone
        wait_for("the trial to end", lambda: dict(trials())[trial] == "canceled",
                 timeout=8 * TIME_FACTOR)
        wait_for("the trial's processes to end", lambda: marked_processes(trial) == [], 3)
        assert len(trials()) == 1
    finally:
        kill_marked(trial)


def test_training_spec_over_128_kib_is_refused(kernel, ws):
    ok(kernel.execute(f"%data register iris '{wbtest.TESTS / 'data' / 'iris.csv'}'"))
    run = kernel.execute("%%train --data iris --target species --model logistic --no-wait\n"
                         f"tol = 0.{'0' * (200 * 1024)}1\n")
    assert run.status == "error"
    assert "128 KiB" in run.content["evalue"], run.content["evalue"]
    assert job_count(kernel) == 0
