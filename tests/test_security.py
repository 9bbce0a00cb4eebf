"""What a workspace lets out, and what an endpoint withstands, as a user
meets them through the kernel:

- the workspace and the kernel's history are their owner's only (0700
  folders, 0600 files), an older loose workspace is tightened on open;
- endpoint keys are kept as hashes, shown once when made, an older
  workspace's plain keys are hashed in place and keep working;
- a flood of unkeyed requests is counted in /metrics and costs the
  workspace a small sample; the request log keeps to its retention;
- a thousand slow connections (slowloris) are cut within their budget
  while a keyed client is answered within a second each time;
- a request to a model with a many-valued categorical column costs memory
  in proportion to its body, with the same predictions.

All traffic goes to 127.0.0.1, bounded in count and time. One kernel and
one workspace for the module; every server is killed at the end.
"""

import http.client
import json
import os
import re
import resource
import select
import signal
import socket
import sqlite3
import stat
import subprocess
import threading
import time

import pytest

from wbtest import SANITIZER, TESTS, TIMEOUT, WbKernel, WORKBENCH_BIN

DATA = TESTS / "data"
CATEGORIES = 300


def ok(run):
    assert run.status == "ok", run
    assert run.of_type("error") == [], run
    return run


def sql(ws, query, *args):
    db = sqlite3.connect(f"file:{ws}/workspace.db?mode=ro", uri=True, timeout=30)
    try:
        return db.execute(query, args).fetchall()
    finally:
        db.close()


def shown_keys(text):
    found = dict(re.findall(r"^(primary|secondary):\s+(\S+)$", text, re.M))
    return found.get("primary"), found.get("secondary")


def port_of(ws, endpoint):
    return sql(ws, "SELECT port FROM endpoints WHERE name = ?", endpoint)[0][0]


def pid_of(ws, endpoint):
    return sql(ws, "SELECT pid FROM endpoints WHERE name = ?", endpoint)[0][0]


def post(port, body, key=None, timeout=TIMEOUT):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        conn.request("POST", "/score", body=body if isinstance(body, (str, bytes))
                     else json.dumps(body), headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def metrics(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request("GET", "/metrics")
        return conn.getresponse().read().decode()
    finally:
        conn.close()


def refused(text, endpoint, reason):
    found = re.search(r'workbench_refused_total\{endpoint="%s",reason="%s"\} (\d+)'
                      % (endpoint, reason), text)
    assert found, text
    return int(found.group(1))


def wide_model(path):
    """A linear model by hand: y = x + weight of the colour (one of
    CATEGORIES), the weights distinct so that a wrong slot shows."""
    features = [
        {"name": "x", "type": "numeric", "mean": 0, "std": 1},
        {"name": "colour", "type": "categorical",
         "categories": [f"c{i}" for i in range(CATEGORIES)]},
    ]
    weights = [[1.0]] + [[(i % 97) / 7.0] for i in range(CATEGORIES)]
    return {"format": "workbench-model", "version": 1, "kind": "linear",
            "task": "regression", "target": {"name": "y", "type": "numeric", "mean": 0,
                                             "std": 1},
            "classes": [], "features": features, "inputs": 1 + CATEGORIES,
            "layers": [{"weights": weights, "bias": [0.5], "activation": "identity"}],
            "centers": [], "params": {}, "training": {}, "metrics": None}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A kernel with a workspace, a trained iris model `flowers` and a
    hand-written model `wide` with a categorical column of CATEGORIES."""
    root = tmp_path_factory.mktemp("security")
    cwd = root / "cwd"
    cwd.mkdir()
    model = root / "wide.json"
    model.write_text(json.dumps(wide_model(model)))
    kernel = WbKernel.start(cwd)
    ws = root / "ws"
    try:
        ok(kernel.execute(f"%workspace '{ws}'"))
        ok(kernel.execute(f"%data register iris '{DATA / 'iris.csv'}'"))
        ok(kernel.execute("%%train --data iris --target species --model logistic "
                          "--name fit-flowers", timeout=TIMEOUT * 3))
        ok(kernel.execute("%model register flowers --run fit-flowers"))
        ok(kernel.execute(f"%%job --name fit-wide --no-code\n"
                          f"cp '{model}' \"$WORKBENCH_OUTPUTS/model.json\"",
                          timeout=TIMEOUT * 2))
        ok(kernel.execute("%model register wide --run fit-wide"))
        yield kernel, ws
    finally:
        try:
            for (pid,) in sql(ws, "SELECT pid FROM endpoints WHERE pid > 0"):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        except sqlite3.Error:
            pass
        kernel.stop()


def deploy(kernel, command):
    run = ok(kernel.execute(f"%deploy {command}", timeout=TIMEOUT * 2))
    return run, shown_keys(run.stdout)


def loose(path):
    """Every file or folder under path (and path) that group or others may use."""
    found = []
    for top, dirs, files in os.walk(path):
        for name in [top] + [os.path.join(top, f) for f in dirs + files]:
            info = os.lstat(name)
            if not stat.S_ISLNK(info.st_mode) and info.st_mode & 0o077:
                found.append((name, oct(info.st_mode & 0o777)))
    return sorted(set(found))


#  ---- Who can read what ----

def test_workspace_and_history_are_the_owners_only(lab):
    kernel, ws = lab
    deploy(kernel, "flowers --endpoint private")
    ok(kernel.execute("%%job --name private-job --no-code\necho hello > $WORKBENCH_OUTPUTS/a.txt"))
    assert (ws / "workspace.db-wal").exists() and (ws / "endpoints").is_dir()
    assert (ws / "jobs").is_dir() or (ws / "artifacts").is_dir()
    assert loose(ws) == []
    assert stat.S_IMODE(os.stat(ws).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(ws / "workspace.db").st_mode) == 0o600
    history = os.environ["WORKBENCH_HISTORY"]
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(history + suffix):
            assert stat.S_IMODE(os.stat(history + suffix).st_mode) == 0o600, suffix
    ok(kernel.execute("%endpoint delete private"))


def test_an_older_loose_workspace_is_tightened_on_open(tmp_path):
    ws = tmp_path / "old"
    env = dict(os.environ, WORKBENCH_WORKSPACE=str(ws))
    subprocess.run([WORKBENCH_BIN, "runs"], env=env, check=True, capture_output=True,
                   timeout=TIMEOUT)
    (ws / "artifacts" / "ab").mkdir(parents=True, exist_ok=True)
    (ws / "artifacts" / "ab" / "blob").write_text("x")
    for top, dirs, files in os.walk(ws):
        os.chmod(top, 0o755)
        for f in files:
            os.chmod(os.path.join(top, f), 0o644)
    assert loose(ws)
    subprocess.run([WORKBENCH_BIN, "runs"], env=env, check=True, capture_output=True,
                   timeout=TIMEOUT)
    assert loose(ws) == []


#  ---- Keys ----

def test_keys_are_kept_as_hashes_shown_once_and_migrated(lab):
    kernel, ws = lab
    run, (key1, key2) = deploy(kernel, "flowers --endpoint vault")
    assert key1 and key2 and len(key1) == 43
    port = port_of(ws, "vault")
    body = {"data": [[5.1, 3.5, 1.4, 0.2]]}
    assert post(port, body, key1)[0] == 200 and post(port, body, key2)[0] == 200
    #  nothing in the workspace holds a key: not the row, not the file
    (hash1, hash2), = sql(ws, "SELECT key1, key2 FROM endpoints WHERE name = 'vault'")
    assert hash1.startswith("b2:") and hash2.startswith("b2:")
    time.sleep(0.5)
    for path in (ws / "workspace.db", ws / "workspace.db-wal", ws / "endpoints" / "vault.log"):
        if path.exists():
            data = path.read_bytes()
            assert key1.encode() not in data and key2.encode() not in data, path
    #  shown once: %endpoint keys says so, %endpoint show and /metrics hold none
    text = ok(kernel.execute("%endpoint keys vault")).stdout
    assert "cannot be shown again" in text and key1 not in text
    shown = json.dumps([b for b in ok(kernel.execute("%endpoint show vault")).bundles()])
    assert key1 not in shown and hash1 not in shown
    assert key1 not in metrics(port) and hash1 not in metrics(port)
    #  --json for scripts: the new key, and null for the one kept
    made = json.loads(ok(kernel.execute("%endpoint keys vault --regenerate --key 2 --json")).stdout)
    assert made["primary"] is None and len(made["secondary"]) == 43
    assert made["url"] == f"http://127.0.0.1:{port}/score"
    assert post(port, body, key2)[0] == 401 and post(port, body, made["secondary"])[0] == 200
    #  %endpoint invoke works without a stored key
    assert "predictions" in ok(kernel.execute(f"%endpoint invoke vault '{json.dumps(body)}'")).stdout

    #  an older workspace (schema 5) kept plain keys: opening it hashes them
    ok(kernel.execute("%endpoint delete vault"))
    run, _ = deploy(kernel, "flowers --endpoint legacy")
    pid = pid_of(ws, "legacy")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
        time.sleep(0.05)
    plain = "legacy-plain-key-0123456789abcdefghijklmnopq"
    db = sqlite3.connect(f"{ws}/workspace.db", timeout=30)
    db.execute("UPDATE endpoints SET key1 = ? WHERE name = 'legacy'", (plain,))
    db.execute("ALTER TABLE endpoints DROP COLUMN log_rows")
    db.execute("ALTER TABLE endpoints DROP COLUMN log_days")
    for table, column in (("models", "flavor"), ("models", "python"), ("models", "scorer"),
                          ("models", "facts"), ("deployments", "settings")):
        db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")     # migration 7's
    db.execute("UPDATE meta SET value = '5' WHERE key = 'schema'")
    db.commit()
    db.close()
    env = dict(os.environ, WORKBENCH_WORKSPACE=str(ws))
    subprocess.run([WORKBENCH_BIN, "endpoint", "list"], env=env, check=True,
                   capture_output=True, timeout=TIMEOUT)
    (stored,), = sql(ws, "SELECT key1 FROM endpoints WHERE name = 'legacy'")
    assert stored.startswith("b2:") and plain not in stored
    assert sql(ws, "SELECT value FROM meta WHERE key = 'schema'") == [("7",)]
    db_bytes = (ws / "workspace.db").read_bytes()
    run, keys = deploy(kernel, "flowers --endpoint legacy")
    assert keys == (None, None)              # the keys live on, and are not shown
    assert post(port_of(ws, "legacy"), body, plain)[0] == 200
    assert plain.encode() not in db_bytes
    ok(kernel.execute("%endpoint delete legacy"))


#  ---- Refusals and the request log ----

def test_a_flood_of_refusals_is_counted_and_barely_logged(lab):
    kernel, ws = lab
    _, (key, _) = deploy(kernel, "flowers --endpoint flood")
    port = port_of(ws, "flood")
    body = json.dumps({"data": [[5.1, 3.5, 1.4, 0.2]]})
    count = 3000
    start = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    for _ in range(count):
        conn.request("POST", "/score", body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        assert response.status == 401
    conn.close()
    seconds = time.monotonic() - start
    assert refused(metrics(port), "flood", "unauthorized") == count
    time.sleep(0.6)
    (logged,), = sql(ws, "SELECT count (*) FROM requests WHERE endpoint = 'flood'"
                         " AND status = 401")
    assert 1 <= logged <= 10 * (seconds + 2), (logged, seconds)
    #  keyed requests are all logged still
    for _ in range(5):
        assert post(port, body, key)[0] == 200
    time.sleep(0.6)
    assert sql(ws, "SELECT count (*) FROM requests WHERE endpoint = 'flood'"
                   " AND status = 200") == [(5,)]


def test_the_request_log_keeps_to_its_retention(lab):
    kernel, ws = lab
    _, (key, _) = deploy(kernel, "flowers --endpoint keeper")
    text = ok(kernel.execute("%endpoint retention keeper")).stdout
    assert "newest 1000000 rows of the last 30 days" in text
    ok(kernel.execute("%endpoint retention keeper --rows 50"))
    port = port_of(ws, "keeper")
    body = json.dumps({"data": [[5.1, 3.5, 1.4, 0.2]]})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    for _ in range(300):
        conn.request("POST", "/score", body=body, headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {key}"})
        response = conn.getresponse()
        response.read()
        assert response.status == 200
    conn.close()
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        (rows,), = sql(ws, "SELECT count (*) FROM requests WHERE endpoint = 'keeper'")
        if 0 < rows <= 55:           #  written, and trimmed
            break
        time.sleep(0.2)
    assert rows <= 55, rows
    newest = sql(ws, "SELECT max (time) FROM requests WHERE endpoint = 'keeper'")[0][0]
    assert time.time() - newest < 30
    #  bad values change nothing
    run = kernel.execute("%endpoint retention keeper --rows 0")
    assert run.status == "error" and "--rows" in run.content["evalue"]
    run = kernel.execute("%endpoint retention keeper --days soon")
    assert run.status == "error" and "--days" in run.content["evalue"]
    assert "newest 50 rows" in ok(kernel.execute("%endpoint retention keeper")).stdout
    ok(kernel.execute("%endpoint retention keeper --default"))
    assert "newest 1000000 rows" in ok(kernel.execute("%endpoint retention keeper")).stdout
    ok(kernel.execute("%endpoint delete keeper"))


#  ---- Slow clients ----

def test_slowloris_is_cut_and_keyed_clients_are_served(lab):
    kernel, ws = lab
    _, (key, _) = deploy(kernel, "flowers --endpoint slow")
    port = port_of(ws, "slow")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 1500
    if soft < wanted + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, wanted + 200), hard))
    count = min(wanted, resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 200)
    assert count >= 800
    sockets = []
    try:
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
            s.sendall(b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            sockets.append(s)
        opened = time.monotonic()
        open_ = set(sockets)
        cut_at = {}
        stop = threading.Event()

        by_fd = {s.fileno(): s for s in sockets}
        poller = select.poll()
        for fd in by_fd:
            poller.register(fd, select.POLLIN)

        def drip():
            #  one header line every 2 s on every socket still open, for 14 s
            line = 0
            while not stop.is_set() and time.monotonic() - opened < 14 and open_:
                line += 1
                for s in list(open_):
                    try:
                        s.sendall(b"X-Slow-%d: 1\r\n" % line)
                    except OSError:
                        pass
                deadline = time.monotonic() + 2
                while not stop.is_set() and time.monotonic() < deadline and open_:
                    for fd, _ in poller.poll(100):
                        s = by_fd[fd]
                        try:
                            data = s.recv(4096)
                        except OSError:
                            data = b""
                        if not data:
                            cut_at[s] = time.monotonic() - opened
                            open_.discard(s)
                            poller.unregister(fd)

        dripper = threading.Thread(target=drip)
        dripper.start()
        body = json.dumps({"data": [[5.1, 3.5, 1.4, 0.2]]})
        latencies = []
        try:
            while time.monotonic() - opened < 12:
                begun = time.monotonic()
                status, _ = post(port, body, key, timeout=5)
                latencies.append(time.monotonic() - begun)
                assert status == 200
                time.sleep(0.2)
        finally:
            dripper.join()
            stop.set()
        assert latencies and max(latencies) < 1.0, max(latencies)
        #  every slow connection was closed by the server, within its budget
        assert not open_, f"{len(open_)} of {count} slow connections still open"
        assert max(cut_at.values()) < 13, max(cut_at.values())
        assert refused(metrics(port), "slow", "slow") >= count
    finally:
        for s in sockets:
            s.close()
    ok(kernel.execute("%endpoint delete slow"))


#  ---- Memory of a request ----

def peak_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1))


@pytest.mark.skipif(SANITIZER == "thread", reason="ThreadSanitizer's allocator and shadow "
                    "memory make the server's peak RSS measure the sanitizer, not the server")
def test_a_wide_categorical_request_costs_memory_in_proportion(lab):
    kernel, ws = lab
    _, (key, _) = deploy(kernel, "wide --endpoint wide")
    port = port_of(ws, "wide")
    pid = pid_of(ws, "wide")
    #  the predictions are the one-hot sums: x + weight of the colour + 0.5
    rows = [[i % 10, f"c{(i * 37) % CATEGORIES}"] for i in range(20)] + [[1, "unseen"]]
    status, answer = post(port, {"data": rows}, key)
    assert status == 200
    want = [x + ((int(c[1:]) % 97) / 7.0 if c != "unseen" else 0) + 0.5 for x, c in rows]
    got = json.loads(answer)["predictions"]
    assert all(abs(g - w) < 1e-12 for g, w in zip(got, want)), (got, want)
    #  a body of nearly 1 MiB: about 95,000 rows
    before = peak_kib(pid)
    row = '[1,"c299"]'
    many = (1024 * 1024 - 64) // (len(row) + 1)
    body = '{"data":[' + ",".join([row] * many) + "]}"
    assert len(body) < 1024 * 1024
    status, answer = post(port, body, key, timeout=TIMEOUT * 2)
    assert status == 200
    predictions = json.loads(answer)["predictions"]
    assert len(predictions) == many and predictions[0] == 1 + (299 % 97) / 7.0 + 0.5
    grown = peak_kib(pid) - before
    #  one-hot rows would be many x 301 doubles (about 220 MB); the body's
    #  JSON tree and the compact rows are a few tens of MB
    assert grown < 96 * 1024, f"the server's peak grew by {grown} KiB"
    ok(kernel.execute("%endpoint delete wide"))
