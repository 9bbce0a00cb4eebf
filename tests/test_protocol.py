"""The kernel's side of the Jupyter messaging protocol (5.3), through
jupyter_client and through a raw pyzmq socket: replies, status, execute
options, interrupt, shutdown, completion, inspection, history, comms, and
what happens to bad messages."""

import datetime
import json
import os
import secrets
import signal
import subprocess
import threading
import time

import pytest
import zmq
from jupyter_client import BlockingKernelClient
from jupyter_client.connect import write_connection_file
from jupyter_client.session import Session

import wbtest
from wbtest import TIME_FACTOR, TIMEOUT, WbKernel

LANGUAGE_INFO = {
    "name": "workbench",
    "mimetype": "text/x-workbench",
    "file_extension": ".wb",
    "pygments_lexer": "bash",
    "codemirror_mode": "shell",
}


def states(msgs):
    return [m["content"]["execution_state"] for m in msgs if m["msg_type"] == "status"]


#  ---- kernel_info and status ----

@pytest.mark.parametrize("channel", ["shell", "control"])
def test_kernel_info_reply(shared_kernel, channel):
    k = shared_kernel
    msg_id = k.send("kernel_info_request", channel=channel)
    reply = k.reply(msg_id, channel=channel)
    assert reply["msg_type"] == "kernel_info_reply"
    c = reply["content"]
    assert c["status"] == "ok"
    assert c["protocol_version"] == "5.3"
    assert c["implementation"] == "workbench"
    assert isinstance(c["implementation_version"], str) and c["implementation_version"]
    assert isinstance(c["banner"], str)
    for key, value in LANGUAGE_INFO.items():
        assert c["language_info"][key] == value, key
    assert isinstance(c["language_info"]["version"], str)
    #  busy, then idle, both with this request as parent
    msgs = k.iopub(msg_id)
    assert states(msgs) == ["busy", "idle"]


@pytest.mark.parametrize("channel, msg_type, content", [
    ("shell", "complete_request", {"code": "%lsma", "cursor_pos": 5}),
    ("shell", "inspect_request", {"code": "%lsmagic", "cursor_pos": 2,
                                  "detail_level": 0}),
    ("shell", "is_complete_request", {"code": "echo hi"}),
    ("shell", "history_request", {"hist_access_type": "tail", "n": 1,
                                  "output": False, "raw": True}),
    ("shell", "comm_info_request", {}),
    ("control", "interrupt_request", {}),
])
def test_status_around_every_request(shared_kernel, channel, msg_type, content):
    k = shared_kernel
    msg_id = k.send(msg_type, content, channel=channel)
    reply = k.reply(msg_id, channel=channel)
    assert reply["msg_type"] == msg_type.replace("_request", "_reply")
    #  (is_complete's status says whether the code is complete)
    assert reply["content"]["status"] == (
        "complete" if msg_type == "is_complete_request" else "ok")
    assert states(k.iopub(msg_id)) == ["busy", "idle"]


def test_status_around_execute(shared_kernel):
    run = shared_kernel.execute("echo status-check")
    assert run.msgs[0]["msg_type"] == "status"
    assert run.msgs[0]["content"]["execution_state"] == "busy"
    assert run.msgs[-1]["content"]["execution_state"] == "idle"
    assert states(run.msgs) == ["busy", "idle"]
    assert run.stdout == "status-check\n"


def test_reply_headers_carry_the_session_and_parent(shared_kernel):
    k = shared_kernel
    msg_id = k.send("kernel_info_request")
    reply = k.reply(msg_id)
    assert reply["parent_header"]["msg_id"] == msg_id
    assert reply["parent_header"]["session"] == k.kc.session.session
    assert reply["header"]["version"] == "5.3"
    assert reply["header"]["msg_id"] and reply["header"]["session"]
    assert reply["header"]["username"] is not None
    #  jupyter_client turns an ISO 8601 date into a datetime
    assert isinstance(reply["header"]["date"], datetime.datetime)


#  ---- execute_request options ----

def test_execute_input_and_execution_count(kernel):
    first = kernel.execute("echo one")
    inputs = first.of_type("execute_input")
    assert len(inputs) == 1
    assert inputs[0]["content"]["code"] == "echo one"
    count = first.content["execution_count"]
    assert inputs[0]["content"]["execution_count"] == count
    assert count >= 1

    quiet = kernel.execute("echo two", store_history=False)
    assert quiet.status == "ok"
    assert quiet.stdout == "two\n"

    third = kernel.execute("echo three")
    assert third.content["execution_count"] == count + 1


def test_silent_publishes_only_status(kernel):
    run = kernel.execute("echo should-not-show; echo nor-this >&2", silent=True)
    assert run.status == "ok"
    assert [m["msg_type"] for m in run.msgs] == ["status", "status"]
    assert states(run.msgs) == ["busy", "idle"]
    #  a silent cell does not take an execution count
    before = kernel.execute("echo a").content["execution_count"]
    kernel.execute("true", silent=True)
    assert kernel.execute("echo b").content["execution_count"] == before + 1


def _queue_behind_failure(kernel, stop_on_error):
    ids = [kernel.send("execute_request", {
        "code": code, "silent": False, "store_history": True,
        "user_expressions": {}, "allow_stdin": False,
        "stop_on_error": stop_on_error,
    }) for code in ("sleep 0.5; exit 1", "echo x", "echo x")]
    return [kernel.reply(i) for i in ids], ids


def test_stop_on_error_aborts_the_queue(kernel):
    replies, _ = _queue_behind_failure(kernel, True)
    assert replies[0]["content"]["status"] == "error"
    assert [r["content"]["status"] for r in replies[1:]] == ["aborted", "aborted"]
    #  only the queue at the time of the failure is aborted
    after = kernel.execute("echo after")
    assert after.status == "ok" and after.stdout == "after\n"


def test_no_stop_on_error_runs_the_queue(kernel):
    replies, ids = _queue_behind_failure(kernel, False)
    assert [r["content"]["status"] for r in replies] == ["error", "ok", "ok"]
    for msg_id in ids[1:]:
        out = "".join(m["content"]["text"] for m in kernel.iopub(msg_id)
                      if m["msg_type"] == "stream")
        assert out == "x\n"


#  ---- interrupt ----

def _start_sleep(kernel, code="sleep 30"):
    msg_id = kernel.send("execute_request", {
        "code": code, "silent": False, "store_history": True,
        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True})
    #  wait until the cell is running (execute_input published)
    kernel.iopub(msg_id, until=lambda ms: any(
        m["msg_type"] == "execute_input" for m in ms))
    time.sleep(0.2)
    return msg_id


def test_interrupt_request_stops_a_cell(kernel):
    #  several times: a cell sent as soon as the interrupted one has replied
    #  must run (it was not queued behind the failure, so it is not aborted)
    for _ in range(5):
        msg_id = _start_sleep(kernel)
        t0 = time.monotonic()
        ireply = kernel.interrupt()
        assert ireply["msg_type"] == "interrupt_reply"
        assert ireply["content"]["status"] == "ok"
        reply = kernel.reply(msg_id, timeout=TIMEOUT)
        assert reply["_t"] - t0 < 1.0 * TIME_FACTOR
        assert reply["content"]["status"] == "error"
        assert reply["content"]["ename"] == "Interrupted"
        after = kernel.execute("echo still-here")
        errors = [m for m in kernel.iopub(msg_id) if m["msg_type"] == "error"]
        assert errors and errors[0]["content"]["ename"] == "Interrupted"
        assert after.status == "ok" and after.stdout == "still-here\n", after


def test_sigint_while_idle_does_not_kill(kernel):
    kernel.km.signal_kernel(signal.SIGINT)
    time.sleep(0.5)
    assert kernel.alive()
    run = kernel.execute("echo alive")
    assert run.status == "ok" and run.stdout == "alive\n"


def test_sigint_interrupts_a_running_cell(kernel):
    msg_id = _start_sleep(kernel)
    t0 = time.monotonic()
    kernel.km.signal_kernel(signal.SIGINT)
    reply = kernel.reply(msg_id, timeout=TIMEOUT)
    assert reply["_t"] - t0 < 5 * TIME_FACTOR
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "Interrupted"
    assert kernel.alive()
    after = kernel.execute("echo ok")
    assert after.stdout == "ok\n", after


def test_control_answers_while_a_cell_runs(kernel):
    msg_id = _start_sleep(kernel, "sleep 3")
    t0 = time.monotonic()
    info = kernel.request("kernel_info_request", channel="control")
    assert info["_t"] - t0 < 0.5 * TIME_FACTOR
    assert info["content"]["status"] == "ok"
    reply = kernel.reply(msg_id, timeout=TIMEOUT)
    assert reply["content"]["status"] == "ok"
    #  the cell was still running when control answered
    assert reply["_t"] - info["_t"] > 1.0


#  ---- shutdown ----

def test_restart(kernel):
    kernel.execute("export WB_BEFORE_RESTART=1")
    old = kernel.process
    kernel.km.restart_kernel(now=False)
    #  the old kernel left on the request (not killed by a signal)
    assert old.returncode == 0
    assert kernel.process.pid != old.pid
    kernel._replies = {"shell": {}, "control": {}}
    kernel._iopub = []
    info = kernel.request("kernel_info_request", timeout=TIMEOUT * 2)
    assert info["content"]["status"] == "ok"
    kernel.sync_iopub()
    run = kernel.execute('echo "${WB_BEFORE_RESTART-fresh}"')
    assert run.status == "ok" and run.stdout == "fresh\n"


def test_shutdown_exits_the_process(kernel):
    proc = kernel.process
    reply = kernel.request("shutdown_request", {"restart": False}, channel="control")
    assert reply["msg_type"] == "shutdown_reply"
    assert reply["content"]["status"] == "ok"
    assert reply["content"]["restart"] is False
    assert wbtest.wait_exit(proc, 5 * TIME_FACTOR) == 0


#  ---- complete_request ----

def complete(kernel, code, cursor_pos=None):
    reply = kernel.request("complete_request", {
        "code": code, "cursor_pos": len(code) if cursor_pos is None else cursor_pos})
    assert reply["msg_type"] == "complete_reply"
    assert reply["content"]["status"] == "ok"
    return reply["content"]


def test_complete_line_magic(shared_kernel):
    c = complete(shared_kernel, "%lsma")
    assert "%lsmagic" in c["matches"]
    assert (c["cursor_start"], c["cursor_end"]) == (0, 5)


def test_complete_cell_magic(shared_kernel):
    c = complete(shared_kernel, "%%wri")
    assert "%%writefile" in c["matches"]
    assert all(m.startswith("%%") for m in c["matches"])
    assert (c["cursor_start"], c["cursor_end"]) == (0, 5)


def test_complete_cell_magic_from_one_percent(shared_kernel):
    """%tra offers %%train (a cell magic only) on the first line, as IPython
    offers %%timeit for %ti; on a later line only line magics can stand."""
    c = complete(shared_kernel, "%tra")
    assert c["matches"] == ["%%train"]
    assert (c["cursor_start"], c["cursor_end"]) == (0, 4)
    assert complete(shared_kernel, "echo hi\n%tra")["matches"] == []


def test_complete_magic_flags(shared_kernel):
    code = "%%writefile -"
    c = complete(shared_kernel, code)
    assert "-a" in c["matches"]
    assert c["cursor_start"] == len(code) - 1
    assert c["cursor_end"] == len(code)


def test_complete_paths_follow_the_session_cwd(kernel):
    for name in ("file1.txt", "file2.txt", "other.txt"):
        (kernel.cwd / name).write_text("x\n")
    c = complete(kernel, "cat fi")
    assert {"file1.txt", "file2.txt"} <= set(c["matches"])
    assert "other.txt" not in c["matches"]
    assert (c["cursor_start"], c["cursor_end"]) == (4, 6)

    (kernel.cwd / "sub").mkdir()
    (kernel.cwd / "sub" / "inner.txt").write_text("y\n")
    assert kernel.execute("cd sub").status == "ok"
    c = complete(kernel, "cat inn")
    assert "inner.txt" in c["matches"]


def test_complete_counts_code_points(shared_kernel):
    code = 'echo "héllo €"\n%lsma'
    c = complete(shared_kernel, code)
    assert "%lsmagic" in c["matches"]
    assert c["cursor_start"] == len(code) - 5
    assert c["cursor_end"] == len(code)


def test_complete_in_the_middle(shared_kernel):
    code = "%lsma\necho hi"
    c = complete(shared_kernel, code, cursor_pos=5)
    assert "%lsmagic" in c["matches"]
    assert (c["cursor_start"], c["cursor_end"]) == (0, 5)


#  ---- inspect_request ----

def test_inspect_magic(shared_kernel):
    reply = shared_kernel.request("inspect_request", {
        "code": "%lsmagic", "cursor_pos": 3, "detail_level": 0})
    c = reply["content"]
    assert c["status"] == "ok"
    assert c["found"] is True
    assert "%lsmagic" in c["data"]["text/plain"]


def test_inspect_plain_text(shared_kernel):
    reply = shared_kernel.request("inspect_request", {
        "code": "echo", "cursor_pos": 2, "detail_level": 0})
    c = reply["content"]
    assert c["status"] == "ok"
    assert c["found"] is False


#  ---- is_complete_request ----

@pytest.mark.parametrize("code, status", [
    ("echo hi", "complete"),
    ("%lsmagic", "complete"),
    ("%%bash", "incomplete"),
    ("%%bash\necho hi", "incomplete"),
    ("%%bash\necho hi\n", "complete"),
    ('echo "unclosed', "incomplete"),
    ("if true; then", "incomplete"),
    ("if true; then\n  echo y\nfi", "complete"),
    ("fi", "invalid"),
])
def test_is_complete(shared_kernel, code, status):
    reply = shared_kernel.request("is_complete_request", {"code": code})
    assert reply["msg_type"] == "is_complete_reply"
    assert reply["content"]["status"] == status
    if status == "incomplete":
        assert isinstance(reply["content"]["indent"], str)


#  ---- history_request ----

def history(kernel, **content):
    base = {"output": False, "raw": True}
    reply = kernel.request("history_request", {**base, **content})
    assert reply["msg_type"] == "history_reply"
    assert reply["content"]["status"] == "ok"
    return reply["content"]["history"]


def test_history(kernel, tmp_path):
    for code in ("echo hist-a", "echo hist-b"):
        assert kernel.execute(code).status == "ok"

    tail = history(kernel, hist_access_type="tail", n=2)
    assert [h[2] for h in tail] == ["echo hist-a", "echo hist-b"]
    assert all(len(h) == 3 for h in tail)
    session = tail[0][0]
    assert session >= 1
    assert tail[1][1] == tail[0][1] + 1

    rng = history(kernel, hist_access_type="range", session=0,
                  start=tail[0][1], stop=tail[1][1] + 1)
    assert [tuple(h) for h in rng] == [tuple(h) for h in tail]

    kernel.execute("echo hist-a")
    found = history(kernel, hist_access_type="search", pattern="echo hist-*")
    assert [h[2] for h in found] == ["echo hist-a", "echo hist-b", "echo hist-a"]
    found = history(kernel, hist_access_type="search", pattern="echo hist-*",
                    unique=True)
    assert sorted(h[2] for h in found) == ["echo hist-a", "echo hist-b"]
    found = history(kernel, hist_access_type="search", pattern="echo hist-*", n=1)
    assert [h[2] for h in found] == ["echo hist-a"]

    #  a kernel started later has a later session in the same history file
    cwd = tmp_path / "later"
    cwd.mkdir()
    later = WbKernel.start(cwd)
    try:
        later.execute("echo hist-later")
        newer = history(later, hist_access_type="tail", n=1)
        assert newer[0][2] == "echo hist-later"
        assert newer[0][0] > session
    finally:
        later.stop()


#  ---- comms ----

def test_comm_info(shared_kernel):
    reply = shared_kernel.request("comm_info_request", {})
    assert reply["msg_type"] == "comm_info_reply"
    assert reply["content"]["status"] == "ok"
    assert reply["content"]["comms"] == {}


def test_comm_open_unknown_target_is_closed(shared_kernel):
    comm_id = secrets.token_hex(16)
    msg_id = shared_kernel.send("comm_open", {
        "comm_id": comm_id, "target_name": "no.such.target", "data": {}})
    msgs = shared_kernel.iopub(msg_id, timeout=TIMEOUT, until=lambda ms: any(
        m["msg_type"] == "comm_close" for m in ms))
    closes = [m for m in msgs if m["msg_type"] == "comm_close"]
    assert closes[0]["content"]["comm_id"] == comm_id


def test_unknown_message_type(shared_kernel):
    k = shared_kernel
    k.send("foo_notice", {"x": 1})
    time.sleep(0.2)
    assert k.alive()
    reply = k.request("kernel_info_request")
    assert reply["content"]["status"] == "ok"


@pytest.mark.parametrize("channel", ["shell", "control"])
def test_unknown_request_gets_an_error_reply(shared_kernel, channel):
    k = shared_kernel
    msg_id = k.send("foo_request", {"x": 1}, channel=channel)
    reply = k.reply(msg_id, channel=channel)
    assert reply["msg_type"] == "foo_reply"
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "UnknownMessageType"
    assert "foo_request" in reply["content"]["evalue"]
    assert states(k.iopub(msg_id)) == ["busy", "idle"]


def test_execute_on_control_gets_an_error_reply(shared_kernel, tmp_path):
    k = shared_kernel
    marker = tmp_path / "ran"
    msg_id = k.send("execute_request", {
        "code": f"touch {marker}", "silent": False, "store_history": True,
        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
        channel="control")
    reply = k.reply(msg_id, channel="control")
    assert reply["msg_type"] == "execute_reply"
    assert reply["content"]["status"] == "error"
    assert "shell" in reply["content"]["evalue"]
    assert isinstance(reply["content"]["execution_count"], int)
    msgs = k.iopub(msg_id)
    assert states(msgs) == ["busy", "idle"]
    assert [m["msg_type"] for m in msgs if m["msg_type"] == "error"] == ["error"]
    assert not marker.exists()


#  ---- display ids ----

def test_a_display_that_is_not_live_has_no_display_id(shared_kernel):
    """JupyterLab takes transient.display_id: null for an id: a display
    without one must leave the key out."""
    run = shared_kernel.execute("%%html\n<b>not live</b>")
    displays = run.of_type("display_data")
    assert len(displays) == 1, run
    assert "display_id" not in displays[0]["content"].get("transient", {})


#  ---- two clients ----

def test_two_clients(kernel):
    other = wbtest.other_client(kernel.km)
    try:
        b_id = other.kernel_info()
        b_reply = other.get_shell_msg(timeout=TIMEOUT)
        assert b_reply["parent_header"]["msg_id"] == b_id
        assert b_reply["content"]["status"] == "ok"

        run = kernel.execute("echo from-a")
        assert run.status == "ok" and run.stdout == "from-a\n"

        seen = ""
        deadline = time.monotonic() + TIMEOUT
        while "from-a" not in seen and time.monotonic() < deadline:
            try:
                msg = other.get_iopub_msg(timeout=0.5)
            except Exception:
                continue
            if (msg["parent_header"].get("msg_id") == run.msg_id
                    and msg["msg_type"] == "stream"):
                seen += msg["content"]["text"]
        assert "from-a" in seen
        #  A's reply went to A only
        with pytest.raises(Exception):
            other.get_shell_msg(timeout=0.3)
    finally:
        other.stop_channels()


#  ---- raw sockets: bad messages ----

DELIM = b"<IDS|MSG>"


class RawKernel:
    """A kernel we start ourselves, with its stderr read line by line, and
    a DEALER on its shell port."""

    def __init__(self, folder, transport="tcp"):
        self.key = secrets.token_hex(32).encode()
        self.connfile = str(folder / "conn.json")
        ip = str(folder / "k") if transport == "ipc" else "127.0.0.1"
        _, self.info = write_connection_file(
            self.connfile, ip=ip, key=self.key, transport=transport)
        self.session = Session(key=self.key)
        self.proc = subprocess.Popen(
            wbtest.kernel_argv(self.connfile), cwd=str(folder),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        self.lines = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.ctx = zmq.Context()
        self.shell = self.ctx.socket(zmq.DEALER)
        self.shell.linger = 0
        self.shell.connect(self._url("shell_port"))

    def _url(self, port):
        if self.info["transport"] == "ipc":
            return f"ipc://{self.info['ip']}-{self.info[port]}"
        return f"tcp://{self.info['ip']}:{self.info[port]}"

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line.decode(errors="replace").rstrip("\n"))

    def parts(self, msg_type, content=None):
        """The four signed JSON frames of a request, and their signature."""
        msg = self.session.msg(msg_type, content or {})
        frames = [self.session.pack(msg[k]) for k in
                  ("header", "parent_header", "metadata", "content")]
        return msg["header"]["msg_id"], frames, self.session.sign(frames)

    def send_frames(self, frames):
        self.shell.send_multipart(frames)

    def recv(self, timeout):
        """The next message on shell as parsed JSON frames, or None."""
        if not self.shell.poll(int(timeout * 1000)):
            return None
        frames = self.shell.recv_multipart()
        i = frames.index(DELIM)
        return [json.loads(f) for f in frames[i + 2:i + 6]]

    def kernel_info_works(self, timeout=TIMEOUT):
        msg_id, frames, sig = self.parts("kernel_info_request")
        self.send_frames([DELIM, sig, *frames])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.recv(deadline - time.monotonic())
            if msg and msg[1].get("msg_id") == msg_id:
                return msg[0]["msg_type"] == "kernel_info_reply"
        return False

    def stop(self):
        try:
            msg_id, frames, sig = self.parts("shutdown_request", {"restart": False})
            control = self.ctx.socket(zmq.DEALER)
            control.linger = 0
            control.connect(self._url("control_port"))
            control.send_multipart([DELIM, sig, *frames])
            code = wbtest.wait_exit(self.proc, 5 * TIME_FACTOR)
            control.close()
        finally:
            wbtest.kill(self.proc)
            self.shell.close()
            self.ctx.term()
            self._reader.join(timeout=5)
        return code


@pytest.fixture(scope="module")
def raw_kernel(tmp_path_factory):
    k = RawKernel(tmp_path_factory.mktemp("raw"))
    assert k.kernel_info_works(TIMEOUT * 2), "the kernel never answered"
    yield k
    code = k.stop()
    if wbtest.PREFIX_WORDS and code == wbtest.VALGRIND_ERROR_CODE:
        pytest.fail("the kernel reported memory errors:\n" + "\n".join(k.lines))


def _bad(raw_kernel, frames):
    """Send frames; assert no reply comes, the kernel lives and still
    answers a good request afterwards."""
    before = len(raw_kernel.lines)
    raw_kernel.send_frames(frames)
    assert raw_kernel.recv(0.5) is None, "a bad message got a reply"
    assert raw_kernel.proc.poll() is None, "the kernel died"
    assert raw_kernel.kernel_info_works()
    return raw_kernel.lines[before:]


def test_wrong_signature_is_dropped_and_logged(raw_kernel):
    _, frames, sig = raw_kernel.parts("kernel_info_request")
    wrong = ("0" if sig[:1] != b"0" else "1").encode() + sig[1:]
    new = _bad(raw_kernel, [DELIM, wrong, *frames])
    assert len(new) == 1, f"expected one log line, got {new!r}"


def test_signature_with_other_key_is_dropped(raw_kernel):
    _, frames, _ = raw_kernel.parts("execute_request", {
        "code": "touch pwned", "silent": False, "store_history": True,
        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True})
    other = Session(key=b"not-the-key").sign(frames)
    _bad(raw_kernel, [DELIM, other, *frames])
    time.sleep(0.3)
    assert not os.path.exists(os.path.join(os.path.dirname(raw_kernel.connfile),
                                           "pwned"))


def test_missing_signature_is_dropped(raw_kernel):
    _, frames, _ = raw_kernel.parts("kernel_info_request")
    _bad(raw_kernel, [DELIM, b"", *frames])


@pytest.mark.parametrize("which", [0, 3])
def test_malformed_json_is_survived(raw_kernel, which):
    _, frames, _ = raw_kernel.parts("kernel_info_request")
    frames[which] = b"{this is not json"
    sig = raw_kernel.session.sign(frames)
    raw_kernel.send_frames([DELIM, sig, *frames])
    time.sleep(0.3)
    assert raw_kernel.proc.poll() is None
    assert raw_kernel.kernel_info_works()


def test_json_of_the_wrong_shape_is_survived(raw_kernel):
    _, frames, _ = raw_kernel.parts("execute_request", {"code": 42})
    frames[0] = json.dumps(["not", "an", "object"]).encode()
    raw_kernel.send_frames([DELIM, raw_kernel.session.sign(frames), *frames])
    _, frames, _ = raw_kernel.parts("execute_request", {"code": 42})
    raw_kernel.send_frames([DELIM, raw_kernel.session.sign(frames), *frames])
    time.sleep(0.3)
    assert raw_kernel.proc.poll() is None
    assert raw_kernel.kernel_info_works()


@pytest.mark.parametrize("content", [
    b'{"code": "\xff"}', b'{"code": "%lsma", "cursor_pos": 9223372036854775808}',
    b'["code"]', b'{this is not json',
], ids=["bad-utf8", "2^63", "array", "not-json"])
def test_unreadable_content_gets_an_error_reply(raw_kernel, content):
    """The header says what was asked, so the asker gets an answer."""
    msg_id, frames, _ = raw_kernel.parts("complete_request")
    frames[3] = content
    raw_kernel.send_frames([DELIM, raw_kernel.session.sign(frames), *frames])
    deadline = time.monotonic() + TIMEOUT
    reply = None
    while reply is None and time.monotonic() < deadline:
        msg = raw_kernel.recv(deadline - time.monotonic())
        if msg and msg[1].get("msg_id") == msg_id:
            reply = msg
    assert reply, "no reply"
    header, _, _, body = reply
    assert header["msg_type"] == "complete_reply"
    assert body["status"] == "error" and body["ename"] == "ProtocolError"
    assert "content" in body["evalue"]
    assert raw_kernel.kernel_info_works()


@pytest.mark.parametrize("frames", [
    [DELIM],
    [DELIM, b"0" * 64],
    [DELIM, b"0" * 64, b"{}"],
    [b"no delimiter at all"],
], ids=["delimiter", "delimiter+signature", "one-json-frame", "no-delimiter"])
def test_truncated_messages_are_dropped(raw_kernel, frames):
    _bad(raw_kernel, frames)


#  ---- ipc transport ----

def test_ipc_transport(tmp_path):
    raw = RawKernel(tmp_path, transport="ipc")
    try:
        assert raw.kernel_info_works(TIMEOUT * 2)
        kc = BlockingKernelClient(connection_file=raw.connfile)
        kc.load_connection_file()
        assert kc.transport == "ipc"
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=TIMEOUT)
            k = WbKernel(None, kc, tmp_path)
            k.sync_iopub()
            run = k.execute("echo over-ipc")
            assert run.status == "ok" and run.stdout == "over-ipc\n"
        finally:
            kc.stop_channels()
    finally:
        code = raw.stop()
    assert code == 0
