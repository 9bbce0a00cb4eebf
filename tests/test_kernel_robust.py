"""The kernel process holds up (issue 12): requests served while a cell
changes the session, a reply for every request however bad, and a cell's
processes that die with the kernel.

Under `make test SANITIZER=address` or `SANITIZER=thread` the kernel stops
at its first finding, so these tests also fail on a use-after-free or a
data race they provoke."""

import os
import signal
import time

import pytest

from wbtest import TIME_FACTOR, TIMEOUT, WbKernel

#  The cell the race was found with: the session's directory and
#  environment change (the state is taken back at the end of each shell
#  run), and a metric is logged (the cell's workspace connection writes).
CHURN = ("%log churn=1\n"
         "for i in $(seq 2000); do cd /tmp; cd - >/dev/null; export X$i=1; done\n")

#  What a front end asks while the user types: paths against the session's
#  directory, workspace names (experiments, metric keys), help, completeness.
ASKS = [
    ("complete_request", {"code": "ls ./", "cursor_pos": 5}),
    ("complete_request", {"code": "%experiment ", "cursor_pos": 12}),
    ("complete_request", {"code": "%runs --filter metrics.", "cursor_pos": 23}),
    ("complete_request", {"code": "%log ch", "cursor_pos": 7}),
    ("inspect_request", {"code": "%log", "cursor_pos": 2, "detail_level": 0}),
    ("is_complete_request", {"code": "for i in 1; do"}),
]


def _try_reply(kernel, msg_id, channel, wait):
    try:
        return kernel.reply(msg_id, channel, timeout=wait)
    except TimeoutError:
        return None


def _check(reply, msg_type):
    assert reply["msg_type"] == msg_type.replace("_request", "_reply")
    if msg_type == "is_complete_request":
        assert reply["content"]["status"] == "incomplete"
    else:
        assert reply["content"]["status"] == "ok", reply["content"]


def test_requests_while_a_cell_changes_the_session(kernel):
    k = kernel
    (k.cwd / "churn-file").write_text("x")
    assert k.execute("%experiment churn\n%log churn=0").status == "ok"
    #  replies to what the client sent before (a kernel_info of its start
    #  answered late under valgrind) are not this test's business
    for channel in ("shell", "control"):
        while _try_reply(k, "none", channel, 0.05):
            pass
        k._replies[channel].clear()
    answered = {"control": 0, "shell": 0}
    for _ in range(6):
        exec_id = k.send("execute_request", {
            "code": CHURN, "silent": False, "store_history": True,
            "user_expressions": {}, "allow_stdin": False, "stop_on_error": True})
        #  Shell requests wait for the cell; their replies come on shell
        queued = [(k.send(t, c), t) for t, c in ASKS]
        done = None
        turn = 0
        while done is None:
            msg_type, content = ASKS[turn % len(ASKS)]
            turn += 1
            msg_id = k.send(msg_type, content, channel="control")
            _check(k.reply(msg_id, "control"), msg_type)
            answered["control"] += 1
            done = _try_reply(k, exec_id, "shell", 0.001)
        assert done["content"]["status"] == "ok", done["content"]
        for msg_id, msg_type in queued:
            _check(k.reply(msg_id, "shell"), msg_type)
            answered["shell"] += 1
        k.iopub(exec_id)
    assert answered["control"] >= 6, answered
    #  Nothing came on the wrong channel: no stray replies were kept
    time.sleep(0.2)
    for channel in ("shell", "control"):
        while _try_reply(k, "none", channel, 0.05):
            pass
        assert k._replies[channel] == {}, (channel, list(k._replies[channel]))
    #  What completion saw is the session the cells left
    reply = k.request("complete_request", {"code": "ls ./churn", "cursor_pos": 10},
                      channel="control")
    assert reply["content"]["matches"] == ["./churn-file"]
    reply = k.request("complete_request", {"code": "%experiment ch", "cursor_pos": 14})
    assert "churn" in reply["content"]["matches"]
    assert k.alive()
    assert k.stop() == 0


#  ---- every request gets a reply ----

def _error_reply(kernel, msg_type, content, channel="shell"):
    msg_id = kernel.send(msg_type, content, channel=channel)
    reply = kernel.reply(msg_id, channel=channel)
    assert reply["msg_type"] == msg_type.replace("_request", "_reply")
    assert reply["content"]["status"] == "error", reply["content"]
    msgs = kernel.iopub(msg_id)
    states = [m["content"]["execution_state"] for m in msgs if m["msg_type"] == "status"]
    assert states == ["busy", "idle"]
    return reply["content"], msgs


def test_a_cell_with_a_nul_gets_an_error(shared_kernel):
    k = shared_kernel
    before = k.execute("echo before")
    content, msgs = _error_reply(k, "execute_request", {
        "code": "echo one\necho t\x00wo", "silent": False, "store_history": True,
        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True})
    assert content["ename"] == "InputError"
    assert "NUL" in content["evalue"] and "line 2, column 7" in content["evalue"]
    shown = [m for m in msgs if m["msg_type"] == "error"]
    assert len(shown) == 1 and shown[0]["content"]["evalue"] == content["evalue"]
    assert not [m for m in msgs if m["msg_type"] == "stream"], "part of it ran"
    after = k.execute("echo after")
    assert after.stdout == "after\n"
    #  not counted
    assert after.content["execution_count"] == before.content["execution_count"] + 1


def test_is_complete_with_a_nul_is_invalid(shared_kernel):
    reply = shared_kernel.request("is_complete_request", {"code": "echo a\x00b"})
    assert reply["content"]["status"] == "invalid"


@pytest.mark.parametrize("channel", ["shell", "control"])
@pytest.mark.parametrize("msg_type, content", [
    ("complete_request", {"code": "%lsma", "cursor_pos": 2 ** 63}),
    ("inspect_request", {"code": "%lsmagic", "cursor_pos": 2 ** 64 + 1}),
    ("is_complete_request", {"code": "echo", "x": -2 ** 63 - 1}),
    ("kernel_info_request", {"x": 2 ** 70}),
    ("history_request", {"hist_access_type": "tail", "n": 2 ** 63}),
])
def test_a_number_too_big_gets_an_error_reply(shared_kernel, channel, msg_type, content):
    reply, _ = _error_reply(shared_kernel, msg_type, content, channel)
    assert reply["ename"] == "ProtocolError"
    assert "content" in reply["evalue"] and "2^63" in reply["evalue"]


def test_an_execute_request_with_a_number_too_big(shared_kernel, tmp_path):
    marker = tmp_path / "ran"
    reply, msgs = _error_reply(shared_kernel, "execute_request", {
        "code": f"touch {marker}", "silent": False, "store_history": 2 ** 63,
        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True})
    assert reply["ename"] == "ProtocolError"
    assert isinstance(reply["execution_count"], int)
    assert [m["msg_type"] for m in msgs if m["msg_type"] == "error"] == ["error"]
    assert not marker.exists()
    assert shared_kernel.execute("echo fine").stdout == "fine\n"


def test_a_huge_cursor_is_clamped(shared_kernel):
    """A cursor past the end (even one that wraps to 2 as a 32-bit int) is
    the end of the code."""
    reply = shared_kernel.request("complete_request",
                                  {"code": "%lsma", "cursor_pos": 2 ** 32 + 2})
    assert reply["content"]["status"] == "ok"
    assert reply["content"]["matches"] == ["%lsmagic"]
    assert (reply["content"]["cursor_start"], reply["content"]["cursor_end"]) == (0, 5)


#  ---- the cell's processes die with the kernel ----

def _alive(pid):
    """True while pid runs; a zombie nobody reaps counts as gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGABRT], ids=["kill-9", "abort"])
def test_a_running_cell_dies_with_the_kernel(tmp_path, how):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    k = WbKernel.start(cwd)
    try:
        msg_id = k.send("execute_request", {
            "code": "sleep 300 & echo $! > a.pid\nsleep 301 & echo $! > b.pid\nwait",
            "silent": False, "store_history": True, "user_expressions": {},
            "allow_stdin": False, "stop_on_error": True})
        deadline = time.monotonic() + TIMEOUT
        while not ((cwd / "a.pid").exists() and (cwd / "b.pid").exists()
                   and (cwd / "b.pid").read_text().strip()):
            assert time.monotonic() < deadline, "the cell never started its sleeps"
            time.sleep(0.05)
        time.sleep(0.1)
        pids = [int((cwd / name).read_text()) for name in ("a.pid", "b.pid")]
        assert all(_alive(pid) for pid in pids)
        assert msg_id
        os.kill(k.pid, how)
        k.process.wait(timeout=TIMEOUT)
        deadline = time.monotonic() + 2 * TIME_FACTOR
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = [pid for pid in pids if _alive(pid)]
        assert not left, f"the cell's processes {left} outlived the kernel"
    finally:
        for name in ("a.pid", "b.pid"):
            try:
                pid = int((cwd / name).read_text())
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)
            except (FileNotFoundError, ValueError, ProcessLookupError):
                pass
        k.stop()


def test_background_jobs_of_finished_cells_are_left_alone(kernel):
    """Only the running cell is the watchdog's: `server &` from a cell that
    has finished lives on, as it always did."""
    run = kernel.execute("sleep 30 & echo $!")
    pid = int(run.stdout)
    try:
        assert kernel.execute("true").status == "ok"
        time.sleep(0.3)
        assert _alive(pid)
    finally:
        os.kill(pid, signal.SIGKILL)
