"""wbtest - what the Python tests share: where the kernel is, how to start it
and how to talk to it through jupyter_client.

Imported by conftest.py (fixtures) and by the test modules (helpers).
Everything here writes only under the scratch folders the fixtures hand in.
"""

import json
import os
from html.parser import HTMLParser
import queue
import shlex
import signal
import subprocess
import time
from pathlib import Path

from jupyter_client import BlockingKernelClient, KernelManager

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

#   The built binary, and the words put in front of it in the kernelspec
#   (`make memcheck` sets "valgrind -q ..." there).
WORKBENCH_BIN = os.path.abspath(
    os.environ.get("WORKBENCH_BIN") or str(ROOT / "build" / "workbench"))
PREFIX_WORDS = shlex.split(os.environ.get("WORKBENCH_KERNEL_PREFIX", ""))

#   Time limits from the spec are for a kernel running natively; under a
#   prefix (valgrind) everything is slower, so limits are stretched.
TIME_FACTOR = float(os.environ.get("WORKBENCH_TIME_FACTOR")
                    or (10 if PREFIX_WORDS else 1))
TIMEOUT = 20 * TIME_FACTOR          # a reply that takes longer is a failure
#   The sanitizer the binary was built with (make test SANITIZER=...), if any
SANITIZER = os.environ.get("WORKBENCH_SANITIZER", "")
VALGRIND_ERROR_CODE = 99            # --error-exitcode in the Makefile

JUPYTER = "/usr/bin/jupyter"
PYTHON = "/usr/bin/python3"


def kernel_argv(connection_file="{connection_file}"):
    """The command line that starts the kernel."""
    return [*PREFIX_WORDS, WORKBENCH_BIN, "kernel", "-f", connection_file]


def write_kernelspec(data_dir):
    """Write kernels/workbench/kernel.json under data_dir (a Jupyter path)."""
    spec_dir = Path(data_dir) / "kernels" / "workbench"
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": kernel_argv(),
        "display_name": "Workbench",
        "language": "workbench",
        "interrupt_mode": "message",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))
    return spec_dir


def is_idle(msgs):
    """True once msgs hold a status idle."""
    return any(m["msg_type"] == "status"
               and m["content"]["execution_state"] == "idle" for m in msgs)


#  ---- Results of an execute request ----

OUTPUT_TYPES = ("stream", "display_data", "update_display_data",
                "execute_result", "error", "clear_output")


class Exec:
    """One execute request: its reply and its iopub messages (busy..idle).

    Every iopub message carries "_t", the time.monotonic() it was read.
    """

    def __init__(self, msg_id, reply, msgs):
        self.msg_id = msg_id
        self.reply = reply
        self.msgs = msgs

    @property
    def content(self):
        return self.reply["content"]

    @property
    def status(self):
        return self.content["status"]

    @property
    def outputs(self):
        return [m for m in self.msgs if m["msg_type"] in OUTPUT_TYPES]

    def of_type(self, msg_type):
        return [m for m in self.msgs if m["msg_type"] == msg_type]

    def stream(self, name="stdout"):
        return "".join(m["content"]["text"] for m in self.of_type("stream")
                       if m["content"]["name"] == name)

    @property
    def stdout(self):
        return self.stream("stdout")

    @property
    def stderr(self):
        return self.stream("stderr")

    def bundles(self, msg_type="display_data"):
        return [m["content"]["data"] for m in self.of_type(msg_type)]

    def __repr__(self):
        brief = [(m["msg_type"], m["content"]) for m in self.msgs]
        return f"Exec(reply={self.content!r}, iopub={brief!r})"


#  ---- A kernel and a client ----

class WbKernel:
    """A kernel started through a KernelManager, with one BlockingKernelClient.

    Replies and iopub messages are matched to requests by parent msg_id;
    anything read while looking for something else is kept for later.
    """

    def __init__(self, km, kc, cwd):
        self.km = km
        self.kc = kc
        self.cwd = Path(cwd)
        self._replies = {"shell": {}, "control": {}}
        self._iopub = []

    #  -- lifecycle --

    @classmethod
    def start(cls, cwd, env=None, kernel_name="workbench"):
        km = KernelManager(kernel_name=kernel_name)
        kwargs = {"cwd": str(cwd)}
        if env is not None:
            kwargs["env"] = env
        km.start_kernel(**kwargs)
        kc = km.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=TIMEOUT * 2)
        except Exception:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
            raise
        self = cls(km, kc, cwd)
        self.sync_iopub()
        return self

    @property
    def process(self):
        return self.km.provisioner.process if self.km.provisioner else None

    @property
    def pid(self):
        return self.process.pid

    def alive(self):
        return self.km.is_alive()

    def stop(self):
        """Shut the kernel down politely; returns its exit code (None if
        it had to be killed or was already gone)."""
        proc = self.process
        try:
            self.kc.stop_channels()
        except Exception:
            pass
        if self.km.has_kernel:
            self.km.shutdown_kernel(now=False)
        return None if proc is None else proc.returncode

    #  -- sending --

    def send(self, msg_type, content=None, channel="shell"):
        """Send a request on shell or control; returns its msg_id."""
        msg = self.kc.session.msg(msg_type, content or {})
        getattr(self.kc, channel + "_channel").send(msg)
        return msg["header"]["msg_id"]

    def reply(self, msg_id, channel="shell", timeout=TIMEOUT):
        """The reply to msg_id on channel; raises TimeoutError."""
        stash = self._replies[channel]
        if msg_id in stash:
            return stash.pop(msg_id)
        deadline = time.monotonic() + timeout
        get = getattr(self.kc, f"get_{channel}_msg")
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {channel} reply to {msg_id} in {timeout} s")
            try:
                msg = get(timeout=left)
            except queue.Empty:
                continue
            msg["_t"] = time.monotonic()
            parent = msg["parent_header"].get("msg_id")
            if parent == msg_id:
                return msg
            stash[parent] = msg

    def no_reply(self, msg_id, channel="shell", wait=0.5):
        """True when no reply to msg_id arrives within wait seconds."""
        try:
            self.reply(msg_id, channel, timeout=wait)
        except TimeoutError:
            return True
        return False

    def request(self, msg_type, content=None, channel="shell", timeout=TIMEOUT):
        """Send a request and return its reply."""
        return self.reply(self.send(msg_type, content, channel), channel, timeout)

    #  -- iopub --

    def iopub(self, msg_id, timeout=TIMEOUT, until=None):
        """The iopub messages whose parent is msg_id, up to and including
        status idle, or until until(messages so far) is true. Raises
        TimeoutError when that does not happen within timeout."""
        got = [m for m in self._iopub if m["parent_header"].get("msg_id") == msg_id]
        self._iopub = [m for m in self._iopub
                       if m["parent_header"].get("msg_id") != msg_id]
        until = until or is_idle

        deadline = time.monotonic() + timeout
        while not until(got):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(
                    f"iopub for {msg_id}: condition not met in {timeout} s; got "
                    f"{[(m['msg_type'], m['content']) for m in got]}")
            try:
                msg = self.kc.get_iopub_msg(timeout=min(left, 0.2))
            except queue.Empty:
                continue
            msg["_t"] = time.monotonic()
            if msg["parent_header"].get("msg_id") == msg_id:
                got.append(msg)
            else:
                self._iopub.append(msg)
        return got

    def sync_iopub(self):
        """Make sure our iopub subscription is live: send kernel_info until its
        busy status shows up, then forget everything read so far."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            msg_id = self.send("kernel_info_request")
            self.reply(msg_id)
            try:
                self.iopub(msg_id, timeout=1)
            except TimeoutError:
                continue
            self._iopub = []
            return
        raise TimeoutError("iopub never delivered a status message")

    #  -- execute --

    def execute(self, code, timeout=TIMEOUT, silent=False, store_history=True,
                stop_on_error=True, allow_stdin=False, user_expressions=None):
        msg_id = self.send("execute_request", {
            "code": code, "silent": silent, "store_history": store_history,
            "user_expressions": user_expressions or {},
            "allow_stdin": allow_stdin, "stop_on_error": stop_on_error,
        })
        return self.collect(msg_id, timeout)

    def collect(self, msg_id, timeout=TIMEOUT):
        """Reply and iopub messages of an execute request already sent."""
        #  iopub first, so that each message is timed as it arrives
        msgs = self.iopub(msg_id, timeout=timeout)
        reply = self.reply(msg_id, timeout=timeout)
        return Exec(msg_id, reply, msgs)

    def interrupt(self):
        """interrupt_request on control; returns the reply."""
        return self.request("interrupt_request", channel="control")


def other_client(km):
    """A second BlockingKernelClient on the same connection file."""
    kc = BlockingKernelClient(connection_file=km.connection_file)
    kc.load_connection_file()
    kc.start_channels()
    kc.wait_for_ready(timeout=TIMEOUT * 2)
    return kc


def wait_exit(proc, timeout):
    """Wait for a Popen to end; its return code or None."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


def kill(proc):
    """End a Popen we started (never anything else)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)


class HtmlTables(HTMLParser):
    """Every <table> of an HTML text: caption, header cells, body rows."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables = []
        self._cell = None
        self._row = None
        self._in_caption = False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append({"caption": "", "head": [], "rows": []})
        elif tag == "caption":
            self._in_caption = True
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag == "caption":
            self._in_caption = False
        elif tag in ("td", "th") and self._row is not None:
            self._row.append((tag, self._cell.strip()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self.tables:
            if self._row and all(kind == "th" for kind, _ in self._row):
                self.tables[-1]["head"] = [text for _, text in self._row]
            else:
                self.tables[-1]["rows"].append([text for _, text in self._row])
            self._row = None

    def handle_data(self, data):
        if self._in_caption and self.tables:
            self.tables[-1]["caption"] += data
        elif self._cell is not None:
            self._cell += data


def html_tables(html):
    """The tables of an HTML text (see HtmlTables)."""
    parser = HtmlTables()
    parser.feed(html)
    return parser.tables
