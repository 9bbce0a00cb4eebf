"""A real browser: Debian's classic Notebook server on 127.0.0.1 with the
workbench kernel, and Debian's Chromium driven headless by playwright-core
(tests/browser/drive.js). A tutorial runs from the Cell menu, and the page
must show what a user would see: HTML tables, SVG charts, live displays
(a run's card, a job's card) updated in place, Tab completion and the
interrupt button at work.

Needs the packages `make deps` installs (chromium, jupyter-notebook, nodejs)
and tests/browser/node_modules (`make browser-deps`, run by `make test`).
Missing tools fail the test: they are never a reason to skip it.

Screenshots of every step go to the test's scratch folder (the failure
message says where); set WORKBENCH_SCREENSHOTS=DIR to keep a failing run's
pictures there, and WORKBENCH_README_SHOT=FILE to refresh the README picture
(share/screenshots/notebook.png).
"""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from wbtest import ROOT, WORKBENCH_BIN

BROWSER_DIR = ROOT / "tests" / "browser"
CHROMIUM = "/usr/bin/chromium"
NOTEBOOK_SERVER = "/usr/bin/jupyter-notebook"
TUTORIAL = "01-tracking.ipynb"
#  The tutorial's cell whose run card the %log cells after it update
LIVE_CELL = "%run start --name first-try --tag purpose=tutorial"
#  The values the card shows after the tutorial's last %log (acc, loss)
LIVE_FINAL = ("0.88", "0.31")
INTERRUPT_LIMIT = 5.0       # seconds from the click to the cell's reply

pytestmark = pytest.mark.slow


def _require_tools():
    """Fail (never skip) when a tool the test needs is missing."""
    missing = [what for what, ok in (
        (f"{CHROMIUM} (Debian package chromium)", os.access(CHROMIUM, os.X_OK)),
        (f"{NOTEBOOK_SERVER} (Debian package jupyter-notebook)",
         os.access(NOTEBOOK_SERVER, os.X_OK)),
        ("node (Debian package nodejs)", shutil.which("node")),
        ("tests/browser/node_modules/playwright-core (make browser-deps)",
         (BROWSER_DIR / "node_modules" / "playwright-core").is_dir()),
    ) if not ok]
    if missing:
        pytest.fail("the browser test needs: " + ", ".join(missing)
                    + " (`make test` installs them)")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


class NotebookServer:
    """jupyter-notebook on 127.0.0.1, a random port and a token, serving a
    scratch folder, with the kernel installed into a scratch Jupyter path."""

    def __init__(self, base):
        self.base = base
        self.root = base / "notebooks"
        self.root.mkdir()
        self.port = _free_port()
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = base / "server.log"
        self.proc = None

    def env(self):
        """The environment for the server and the browser: every Jupyter
        path and HOME in scratch, the binary under test first on PATH (the
        tutorial's shell cells call `workbench`)."""
        prefix = self.base / "prefix"
        for sub in ("home", "runtime", "config", "data", "workspace"):
            (self.base / sub).mkdir(exist_ok=True)
        env = dict(os.environ)
        env.update({
            "HOME": str(self.base / "home"),
            "JUPYTER_PATH": str(prefix / "share" / "jupyter"),
            "JUPYTER_DATA_DIR": str(self.base / "data"),
            "JUPYTER_RUNTIME_DIR": str(self.base / "runtime"),
            "JUPYTER_CONFIG_DIR": str(self.base / "config"),
            "WORKBENCH_WORKSPACE": str(self.base / "workspace"),
            "PATH": os.path.dirname(WORKBENCH_BIN) + os.pathsep + os.environ["PATH"],
        })
        return env

    def start(self):
        env = self.env()
        subprocess.run([WORKBENCH_BIN, "install", "--prefix", str(self.base / "prefix")],
                       check=True, capture_output=True, env=env)
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [NOTEBOOK_SERVER, "--no-browser", "--allow-root",
                 "--ip=127.0.0.1", f"--port={self.port}",
                 "--NotebookApp.port_retries=0",
                 f"--NotebookApp.token={self.token}",
                 f"--notebook-dir={self.root}"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=env, cwd=self.base, start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                _get(self.api("status"))
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("the Notebook server did not start:\n"
                                         + self.log.read_text()[-3000:])
                time.sleep(0.2)

    def api(self, what):
        return f"{self.url}/api/{what}?token={self.token}"

    def stop(self):
        """Shut the kernels down through the server, then the server."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            for kernel in _get(self.api("kernels")):
                request = urllib.request.Request(self.api(f"kernels/{kernel['id']}"),
                                                 method="DELETE")
                urllib.request.urlopen(request, timeout=10).close()
        except (urllib.error.URLError, OSError):
            pass
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def server(tmp_path):
    _require_tools()
    srv = NotebookServer(tmp_path)
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()


def _keep_screenshots(shots):
    """Copy a failing run's screenshots where WORKBENCH_SCREENSHOTS says
    (the scratch folder is removed at the end of the session)."""
    keep = os.environ.get("WORKBENCH_SCREENSHOTS")
    if keep and shots.is_dir():
        shutil.copytree(shots, keep, dirs_exist_ok=True)
        return keep
    return shots


def test_tutorial_in_classic_notebook_and_chromium(server, tmp_path):
    shutil.copyfile(ROOT / "notebooks" / TUTORIAL, server.root / TUTORIAL)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    env = server.env()
    env.update({
        "WB_URL": server.url,
        "WB_TOKEN": server.token,
        "WB_NOTEBOOK": TUTORIAL,
        "WB_LIVE_CELL": LIVE_CELL,
        "WB_SHOTS": str(shots),
        "WB_CHROMIUM": CHROMIUM,
        "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1",
    })
    if os.environ.get("WORKBENCH_README_SHOT"):
        env["WB_README_SHOT"] = os.path.abspath(os.environ["WORKBENCH_README_SHOT"])
    started = time.monotonic()
    try:
        proc = subprocess.run(["node", str(BROWSER_DIR / "drive.js")], cwd=BROWSER_DIR,
                              env=env, capture_output=True, text=True, timeout=150)
    except subprocess.TimeoutExpired as timeout:
        print(f"drive.js timed out: screenshots in {_keep_screenshots(shots)}, "
              f"server log in {server.log}")
        raise AssertionError(f"drive.js took over {timeout.timeout} s") from None
    elapsed = time.monotonic() - started
    lines = proc.stdout.strip().splitlines()
    try:
        report = json.loads(lines[-1]) if lines else {}
    except ValueError:
        report = {}

    try:
        assert proc.returncode == 0 and report and "failed" not in report, (
            f"drive.js failed (exit {proc.returncode}): {report.get('failed')}\n"
            f"stderr: {proc.stderr[-3000:]}")
        print(f"browser: {elapsed:.1f} s; steps (ms): "
              + ", ".join(f"{k} {v['ms']}" for k, v in report["steps"].items()))
        assert report["kernel_name"] == "Workbench"

        shown = report["page"]
        assert shown["errors"] == []
        #  an HTML table (%runs and the run cards), with the run columns
        assert shown["tables"] >= 1
        assert {"name", "status", "metrics.acc"} <= set(shown["table_headers"])
        #  an SVG chart (%show, %compare) with its lines drawn
        assert shown["svgs"] >= 1
        assert shown["svg_lines"] >= 1

        #  the run card: one output area from first to last, its text
        #  changing as the %log cells below it ran
        live = report["live"]
        assert live["found"], f"no cell {LIVE_CELL!r} in {TUTORIAL}"
        snapshots = [s for s in live["snapshots"] if s["areas"]]
        assert snapshots, "the run card never rendered"
        assert {s["areas"] for s in snapshots} == {1}, snapshots
        texts = [s["text"] for s in snapshots]
        assert len(set(texts)) >= 3, texts
        assert not any(v in texts[0] for v in LIVE_FINAL), texts[0]
        assert all(v in texts[-1] for v in LIVE_FINAL), texts[-1]

        #  a job's card, in a cell of its own: one output area whose
        #  status moves on to completed
        job = [s for s in report["job"]["snapshots"] if s["areas"]]
        assert job and {s["areas"] for s in job} == {1}, job
        first, last = job[0]["text"].splitlines()[0], job[-1]["text"].splitlines()[0]
        assert "completed" not in first and "completed" in last, (first, last)

        #  Tab after %tra: the one match, the cell magic, is put in the cell
        completion = report["completion"]
        assert completion["text"] == "%%train" or "%%train" in completion["offered"], \
            completion

        #  the interrupt button stops `sleep 60` within seconds
        stopped = report["interrupt"]
        assert stopped["ms"] < INTERRUPT_LIMIT * 1000, stopped
        assert "interrupt" in stopped["output"].lower(), stopped
    except AssertionError:
        where = _keep_screenshots(shots)
        print(f"browser test failed: screenshots in {where}, server log in {server.log}")
        raise
