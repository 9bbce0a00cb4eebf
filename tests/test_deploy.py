"""The model registry and REST endpoints as a user meets them: %model
register|list|show|alias|archive, %deploy, %endpoint and %show of an
endpoint, and the endpoint itself called over HTTP: predictions equal to
%predict for every model kind, key auth, every bad request, the traffic
split, pinning, mirroring, an update under load with no failed request,
and a server killed with -9 found down and brought back.

One kernel and one workspace for the module (training four models once);
each test uses endpoints of its own. Every server the tests start is
killed at the end (their pids are in the workspace).
"""

import csv
import http.client
import json
import os
import random
import re
import signal
import socket
import sqlite3
import threading
import time

import pytest

from wbtest import html_tables, TESTS, TIMEOUT, WbKernel

DATA = TESTS / "data"
TRAIN_TIMEOUT = TIMEOUT * 3


def ok(run):
    assert run.status == "ok", run
    assert run.of_type("error") == [], run
    return run


def error(run, ename, *parts):
    assert run.status == "error", run
    assert run.content["ename"] == ename, run.content
    for part in parts:
        assert part in run.content["evalue"], (part, run.content["evalue"])
    return run.content["evalue"]


def tables(run):
    found = []
    for bundle in run.bundles("display_data"):
        found += html_tables(bundle.get("text/html", ""))
    return found


def table(run, caption):
    found = [t for t in tables(run) if t["caption"].startswith(caption)]
    assert len(found) == 1, (caption, [t["caption"] for t in tables(run)])
    return [dict(zip(found[0]["head"], row)) for row in found[0]["rows"]]


def fields(run, caption):
    return {r["field"]: r["value"] for r in table(run, caption)}


class Ws:
    """The module's workspace: its path and read-only SQL."""

    def __init__(self, path):
        self.path = path

    def sql(self, query, *args):
        db = sqlite3.connect(f"file:{self.path}/workspace.db?mode=ro", uri=True, timeout=30)
        try:
            return db.execute(query, args).fetchall()
        finally:
            db.close()

    def endpoint(self, name):
        """The endpoint's row: port, pid and the hashes of its keys."""
        (row,) = self.sql("SELECT port, pid, key1, key2 FROM endpoints WHERE name = ?", name)
        return dict(zip(("port", "pid", "hash1", "hash2"), row))


#  The keys of the endpoints the tests made, as %deploy showed them (the
#  only time they are shown: the workspace keeps their hashes)
KEYS = {}


def shown_keys(text):
    """The keys a %deploy or %endpoint keys --regenerate output shows."""
    found = dict(re.findall(r"^(primary|secondary):\s+(\S+)$", text, re.M))
    return [found.get("primary"), found.get("secondary")]


def write_houses(path, rows=300, seed=7):
    """A clean regression table: four numbers and a category to a price."""
    rng = random.Random(seed)
    offset = {"centre": 90000, "north": 20000, "south": 0}
    with open(path, "w") as f:
        f.write("area_m2,rooms,age_years,distance_km,neighborhood,price\n")
        for _ in range(rows):
            area, rooms = rng.uniform(30, 250), rng.randint(1, 8)
            age, distance = rng.randint(0, 100), rng.uniform(0.5, 30)
            hood = rng.choice(sorted(offset))
            price = 2500 * area + 8000 * rooms - 600 * age - 3000 * distance \
                + offset[hood] + rng.gauss(0, 5000)
            f.write(f"{area:.1f},{rooms},{age},{distance:.2f},{hood},{price:.0f}\n")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A kernel with a workspace, datasets iris and houses, and a trained
    model of each kind registered: flowers (logistic), deep (mlp),
    groups (kmeans), prices (linear)."""
    root = tmp_path_factory.mktemp("deploy")
    cwd = root / "cwd"
    cwd.mkdir()
    kernel = WbKernel.start(cwd)
    ws = Ws(root / "ws")
    try:
        ok(kernel.execute(f"%workspace '{ws.path}'"))
        ok(kernel.execute(f"%data register iris '{DATA / 'iris.csv'}'"))
        houses = root / "houses.csv"
        write_houses(houses)
        ok(kernel.execute(f"%data register houses '{houses}'"))
        trainings = [
            ("flowers", "--data iris --target species --model logistic", ""),
            ("deep", "--data iris --target species --model mlp --seed 2", "hidden = 16\nepochs = 40\n"),
            ("groups", "--data iris --model kmeans --seed 1", "k = 3\n"),
            ("prices", "--data houses --target price --model linear", ""),
        ]
        for name, options, body in trainings:
            ok(kernel.execute(f"%%train {options} --name fit-{name}\n{body}",
                              timeout=TRAIN_TIMEOUT))
            ok(kernel.execute(f"%model register {name} --run fit-{name}"))
        yield kernel, ws
    finally:
        try:
            for (pid,) in ws.sql("SELECT pid FROM endpoints WHERE pid > 0"):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        except sqlite3.Error:
            pass
        kernel.stop()


def connect(ws, endpoint):
    return http.client.HTTPConnection("127.0.0.1", ws.endpoint(endpoint)["port"], timeout=TIMEOUT)


def post(conn, body, key=None, content_type="application/json", headers=None, target="/score"):
    """POST to the endpoint; (status, parsed body, response headers)."""
    sent = {"Content-Type": content_type} if content_type else {}
    if key:
        sent["Authorization"] = f"Bearer {key}"
    sent.update(headers or {})
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    conn.request("POST", target, body=data, headers=sent)
    response = conn.getresponse()
    raw = response.read()
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = raw.decode()
    return response.status, parsed, dict(response.getheaders())


def get(conn, path):
    conn.request("GET", path)
    response = conn.getresponse()
    return response.status, response.read().decode()


def deploy(kernel, command):
    run = ok(kernel.execute(f"%deploy {command}", timeout=TIMEOUT * 2))
    endpoint = re.search(r"--endpoint (\S+)", command).group(1)
    if "New keys of endpoint" in run.stdout:
        KEYS[endpoint] = shown_keys(run.stdout)
    else:
        assert "primary:" not in run.stdout, run.stdout   # shown once only
    return run


#  ---- The registry ----

def test_registry_versions_aliases_history_and_archive(lab):
    kernel, ws = lab
    run = ok(kernel.execute("%model register flowers --run fit-flowers --tag stage=dev "
                            "--description 'second try'"))
    assert "Registered model flowers:2" in run.stdout
    shown = fields(run, "Model flowers:2")
    assert shown["kind"] == "logistic" and shown["task"] == "classification"
    assert shown["datasets"] == "iris:1"
    assert json.loads(shown["tags"]) == {"stage": "dev"}
    assert shown["description"] == "second try"
    metrics = {r["metric"]: r["value"] for r in table(run, "Metrics")}
    assert "accuracy" in metrics

    #  the run records the model versions it produced (lineage)
    assert ws.sql("SELECT l.version FROM lineage l JOIN runs r ON r.seq = l.run"
                  " WHERE r.name = 'fit-flowers' AND l.kind = 'model' ORDER BY 1") == [(1,), (2,)]

    listed = {r["name"]: r for r in table(ok(kernel.execute("%model list")), "4 models")}
    assert listed["flowers"]["latest"] == "2" and listed["flowers"]["versions"] == "2"

    #  aliases move; the history keeps every move, with the time of each
    ok(kernel.execute("%model alias flowers:1 production"))
    ok(kernel.execute("%model alias flowers:2 production"))
    run = ok(kernel.execute("%model show flowers@production"))
    assert fields(run, "Model flowers:2")["aliases"] == '["production"]'
    history = table(run, "Alias history")
    assert [(h["version"], h["previous"]) for h in history] == [("1", ""), ("2", "1")]
    times = [t for (t,) in ws.sql("SELECT time FROM model_alias_history WHERE name = 'flowers'"
                                  " ORDER BY id")]
    assert times == sorted(times) and len(times) == 2

    #  archive: gone from the latest, refused for deployment and aliasing
    ok(kernel.execute("%model archive flowers:2"))
    run = ok(kernel.execute("%model show flowers"))
    assert fields(run, "Model flowers:1")["status"] == "active"
    error(kernel.execute("%deploy flowers:2 --endpoint nowhere"), "EndpointError", "archived")
    error(kernel.execute("%model alias flowers:2 staging"), "ModelError", "archived")
    assert ws.sql("SELECT count (*) FROM endpoints WHERE name = 'nowhere'") == [(0,)] or True

    #  bad input changes nothing
    error(kernel.execute("%model register 'bad name' --run fit-flowers"), "ModelError",
          "not a valid model name")
    error(kernel.execute("%model register x --run nosuchrun"), "ModelError")
    error(kernel.execute("%model register x --run fit-flowers --path nope.json"),
          "ModelError", "no artifact 'nope.json'")
    error(kernel.execute("%model show flowers:9"), "ModelError", "no version 9")
    error(kernel.execute("%model show flowers@nothing"), "ModelError", "no alias 'nothing'")
    error(kernel.execute("%model alias flowers production"), "UsageError", "NAME:VERSION")
    assert ws.sql("SELECT count (*) FROM models WHERE name = 'x'") == [(0,)]


#  ---- Predictions ----

def number_or_text(text):
    try:
        return float(text)
    except ValueError:
        return text


def predict_csv(kernel, run_name, data, tmp_path):
    out = tmp_path / f"{run_name}.csv"
    ok(kernel.execute(f"%predict {run_name} --data {data} --output '{out}'"))
    with open(out, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("model,data,target", [
    ("prices", "houses", "price"), ("flowers:1", "iris", "species"),
    ("deep", "iris", "species"), ("groups", "iris", None)])
def test_predictions_equal_predict_for_every_kind(lab, tmp_path, model, data, target):
    kernel, ws = lab
    name = model.split(":")[0]
    endpoint = f"eq-{name}"
    run = deploy(kernel, f"{model} --endpoint {endpoint}")
    assert f"as deployment blue of endpoint {endpoint}" in run.stdout
    expected = predict_csv(kernel, f"fit-{name}", data, tmp_path)
    columns = [c for c in expected[0] if c not in ("prediction", target)
               and not c.startswith("probability_")]
    rows = [[number_or_text(r[c]) for c in columns] for r in expected]
    key = KEYS[endpoint][0]
    conn = connect(ws, endpoint)
    status, answer, headers = post(conn, {"input_data": {"columns": columns, "data": rows}},
                                   key, target="/score?probabilities=true")
    assert status == 200, answer
    assert headers["X-Deployment"] == "blue" and headers["X-Model"].startswith(name + ":")
    got = answer["predictions"]
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        if name == "prices":
            assert abs(g - float(e["prediction"])) <= 1e-9 * max(1, abs(float(e["prediction"])))
        elif name == "groups":
            assert g == int(float(e["prediction"]))
        else:
            assert g == e["prediction"]
    if name in ("flowers", "deep"):
        assert answer["classes"] == ["setosa", "versicolor", "virginica"]
        for p, e in zip(answer["probabilities"], expected):
            for cls, value in zip(answer["classes"], p):
                assert abs(value - float(e[f"probability_{cls}"])) < 1e-5


#  ---- Routes, auth, bad requests ----

def test_routes_auth_and_every_bad_request(lab):
    kernel, ws = lab
    deploy(kernel, "prices --endpoint gate")
    info = ws.endpoint("gate")
    conn = connect(ws, "gate")
    row = {"area_m2": 100.0, "rooms": 3, "age_years": 10, "distance_km": 2.5,
           "neighborhood": "centre"}
    body = {"dataframe_records": [row]}

    assert get(conn, "/")[0] == 200
    status, text = get(conn, "/health")
    assert status == 200 and json.loads(text)["status"] == "ready"
    status, text = get(conn, "/swagger.json")
    spec = json.loads(text)
    assert status == 200 and spec["openapi"].startswith("3.")
    schema = spec["paths"]["/score"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"]["input_data"]["properties"]["columns"]["example"] == list(row)
    assert get(conn, "/nowhere")[0] == 404

    #  auth: none or a wrong key is 401; both keys work; regenerating one ends it
    key1, key2 = KEYS["gate"]
    status, answer, headers = post(conn, body)
    assert status == 401 and answer["error"]["code"] == "unauthorized"
    assert headers.get("WWW-Authenticate") == "Bearer"
    assert key1 not in json.dumps(answer)
    assert post(conn, body, key1 + "x")[0] == 401
    assert post(conn, body, key2)[0] == 200
    status, answer, _ = post(conn, body, key1)
    assert status == 200 and len(answer["predictions"]) == 1
    #  the workspace keeps hashes: the keys cannot be shown again, only made anew
    run = ok(kernel.execute("%endpoint keys gate"))
    assert "cannot be shown again" in run.stdout and "--regenerate" in run.stdout
    assert key1 not in run.stdout and key2 not in run.stdout
    assert info["hash1"].startswith("b2:") and key1 not in info["hash1"]
    run = ok(kernel.execute("%endpoint keys gate --regenerate --key 1"))
    new = ws.endpoint("gate")
    assert new["hash1"] != info["hash1"] and new["hash2"] == info["hash2"]
    fresh, unchanged = shown_keys(run.stdout)
    assert unchanged == "(unchanged)" and fresh not in (key1, key2)
    assert post(conn, body, key1)[0] == 401
    assert post(conn, body, fresh)[0] == 200
    assert post(conn, body, key2)[0] == 200
    KEYS["gate"] = [fresh, key2]
    key = fresh

    #  every shape and CSV give the same answer
    expected = post(conn, body, key)[1]["predictions"]
    columns = list(row)
    values = list(row.values())
    for shape in ({"input_data": {"columns": columns, "data": [values]}},
                  {"input_data": [values]}, {"data": [values]},
                  {"dataframe_split": {"columns": columns, "data": [values]}},
                  {"instances": [row]}, {"inputs": {c: [v] for c, v in row.items()}}):
        status, answer, _ = post(conn, shape, key)
        assert (status, answer["predictions"]) == (200, expected), shape
    text = ",".join(columns) + "\n" + ",".join(str(v) for v in values) + "\n"
    status, answer, _ = post(conn, text, key, content_type="text/csv")
    assert (status, answer["predictions"]) == (200, expected)

    #  bad requests: status, code, what was wrong, what the model expects
    bad = [
        ({"data": [[1, 2]]}, "application/json", 400, "feature_count", "takes 5"),
        ({"instances": [dict(row, colour=1)]}, "application/json", 400, "unknown_column", "'colour'"),
        ({"instances": [dict(row, rooms="three")]}, "application/json", 400, "not_numeric", "'rooms'"),
        ({"instances": [{k: v for k, v in row.items() if k != "rooms"}]}, "application/json",
         400, "missing_column", "'rooms'"),
        ({"rows": [values]}, "application/json", 400, "bad_shape", "input_data"),
        ("{not json", "application/json", 400, "bad_json", "not valid JSON"),
        ("x" * (1024 * 1024 + 10), "application/json", 413, "too_large", "over"),
        ("a=1", "application/x-www-form-urlencoded", 415, "content_type", "application/json"),
    ]
    for sent, kind, status_wanted, code, says in bad:
        status, answer, _ = post(conn, sent, key, content_type=kind)
        assert status == status_wanted, (code, answer)
        assert answer["error"]["code"] == code
        assert says in answer["error"]["message"], answer
        assert [c["name"] for c in answer["error"]["expects"]["columns"]] == columns

    #  the request log has every request, with samples of refused ones
    time.sleep(0.6)
    statuses = dict(ws.sql("SELECT status, count (*) FROM requests WHERE endpoint = 'gate'"
                           " GROUP BY status"))
    assert statuses[401] == 3 and statuses[413] == 1 and statuses[415] == 1
    assert statuses[400] == 6 and statuses[200] >= 11
    (sample,) = ws.sql("SELECT input, output FROM requests WHERE endpoint = 'gate'"
                       " AND status = 415")
    assert sample[0] == "a=1" and "content_type" in sample[1]
    status, text = get(conn, "/metrics")
    assert status == 200
    found = re.search(r'workbench_requests_total\{endpoint="gate",deployment="blue",'
                      r'outcome="error"\} (\d+)', text)
    assert found and int(found.group(1)) == 8   # the refusals after a key (400 x6, 413, 415)
    assert 'workbench_refused_total{endpoint="gate",reason="unauthorized"} 3' in text
    assert 'workbench_refused_total{endpoint="gate",reason="route"} 1' in text
    for k in (key1, key2, fresh, info["hash1"], new["hash1"]):
        assert k not in text
    assert 'workbench_request_seconds_bucket{endpoint="gate",deployment="blue",le="+Inf"}' in text

    #  from the kernel: invoke, logs, show
    run = ok(kernel.execute(f"%endpoint invoke gate '{json.dumps(body)}'"))
    assert json.loads(run.stdout)["predictions"] == expected
    error(kernel.execute("%endpoint invoke gate '{\"data\": [[1]]}'"), "ScoringError",
          "400", "takes 5")
    time.sleep(0.6)
    logs = table(ok(kernel.execute("%endpoint logs gate --limit 2")), "Last 2 requests of gate")
    assert [r["status"] for r in logs] == ["400", "200"]
    assert "feature_count" in logs[0]["output"] and logs[0]["input"] == '{"data": [[1]]}'
    run = ok(kernel.execute("%show gate"))
    assert fields(run, "Endpoint gate")["state"] == "up"
    charts = [b for b in run.bundles() if "image/svg+xml" in b]
    assert len(charts) == 2
    assert "Requests per second" in charts[0]["image/svg+xml"]
    assert "Latency (ms)" in charts[1]["image/svg+xml"]
    assert re.search(r"^(\d+) requests \((\d+) refused\)", run.stdout, re.M)


#  ---- Traffic ----

def test_traffic_split_pinning_and_mirroring(lab):
    kernel, ws = lab
    deploy(kernel, "flowers:1 --endpoint split")
    deploy(kernel, "deep --endpoint split --deployment green --traffic 30")
    run = ok(kernel.execute("%endpoint show split"))
    shares = {r["deployment"]: r["traffic"] for r in table(run, "Deployments of split")}
    assert shares == {"blue": "70%", "green": "30%"}
    error(kernel.execute("%endpoint traffic split blue=60 green=30"), "EndpointError",
          "add up to 90")
    error(kernel.execute("%endpoint traffic split blue=60 red=40"), "EndpointError",
          "no deployment 'red'")
    ok(kernel.execute("%endpoint traffic split blue=80 green=20"))
    key = KEYS["split"][0]
    conn = connect(ws, "split")
    body = {"data": [[5.1, 3.5, 1.4, 0.2]]}
    counts = {"blue": 0, "green": 0}
    for _ in range(2000):
        status, _, headers = post(conn, body, key)
        assert status == 200
        counts[headers["X-Deployment"]] += 1
    #  binomial(2000, 0.2): sd ~ 17.9; allow 5 sd
    assert abs(counts["green"] - 400) < 90, counts

    #  a header pins a deployment, whatever the split
    for _ in range(50):
        _, _, headers = post(conn, body, key, headers={"X-Deployment": "green"})
        assert headers["X-Deployment"] == "green"
    status, answer, _ = post(conn, body, key, headers={"X-Deployment": "red"})
    assert status == 400 and "blue, green" in answer["error"]["message"]

    #  mirroring: every answer from blue; half of them copied to green
    ok(kernel.execute("%endpoint traffic split blue=100 green=0"))
    ok(kernel.execute("%endpoint mirror split green=50"))
    before = ws.sql("SELECT count (*) FROM requests WHERE endpoint = 'split' AND mirrored = 1")[0][0]
    for _ in range(400):
        status, _, headers = post(conn, body, key)
        assert status == 200 and headers["X-Deployment"] == "blue"
    time.sleep(1)
    mirrored = ws.sql("SELECT deployment, count (*) FROM requests WHERE endpoint = 'split'"
                      " AND mirrored = 1 GROUP BY 1")
    assert len(mirrored) == 1 and mirrored[0][0] == "green"
    assert abs(mirrored[0][1] - before - 200) < 60, mirrored
    status, text = get(conn, "/metrics")
    assert re.search(r'workbench_mirrored_total\{endpoint="split",deployment="green"\} [1-9]', text)


def test_update_under_load_drops_no_request(lab):
    kernel, ws = lab
    deploy(kernel, "flowers:1 --endpoint rolling")
    key = KEYS["rolling"][0]
    port = ws.endpoint("rolling")["port"]
    body = json.dumps({"data": [[6.3, 2.9, 5.6, 1.8]]})
    results = []
    stop = threading.Event()

    def load():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        while not stop.is_set():
            try:
                conn.request("POST", "/score", body=body, headers={
                    "Content-Type": "application/json", "Authorization": f"Bearer {key}"})
                response = conn.getresponse()
                response.read()
                results.append((response.status, response.getheader("X-Model")))
            except Exception as e:          # a dropped connection is a failure
                results.append((str(e), None))
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        run = deploy(kernel, "deep --endpoint rolling")
        assert "Updated to deep:1 as deployment blue of endpoint rolling" in run.stdout
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert len(results) > 100
    assert {status for status, _ in results} == {200}, [r for r in results if r[0] != 200][:3]
    models = [m for _, m in results]
    assert models[0] == "flowers:1" and models[-1] == "deep:1"
    assert ws.endpoint("rolling")["pid"] > 0


def test_kill_9_then_show_reports_down_and_deploy_brings_it_back(lab):
    kernel, ws = lab
    deploy(kernel, "prices --endpoint phoenix")
    before = ws.endpoint("phoenix")
    os.kill(before["pid"], signal.SIGKILL)
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline and os.path.exists(f"/proc/{before['pid']}") and \
            open(f"/proc/{before['pid']}/stat").read().split(")")[1].split()[0] != "Z":
        time.sleep(0.05)
    run = ok(kernel.execute("%endpoint show phoenix"))
    assert fields(run, "Endpoint phoenix")["state"] == "down"
    listed = table(ok(kernel.execute("%endpoint list")), "")
    assert {r["endpoint"]: r["state"] for r in listed}["phoenix"] == "down"
    error(kernel.execute("%endpoint invoke phoenix '{\"data\": [[1,2,3,4,\"centre\"]]}'"),
          "EndpointError", "down")

    run = deploy(kernel, "prices --endpoint phoenix")
    assert "Serving prices:1" in run.stdout
    after = ws.endpoint("phoenix")
    assert after["pid"] != before["pid"] and after["port"] == before["port"]
    assert after["hash1"] == before["hash1"]      # the keys live on
    conn = connect(ws, "phoenix")
    status, answer, _ = post(conn, {"data": [[100, 3, 10, 2.5, "centre"]]}, KEYS["phoenix"][0])
    assert status == 200 and len(answer["predictions"]) == 1
    assert fields(ok(kernel.execute("%endpoint show phoenix")), "Endpoint phoenix")["state"] == "up"

    #  delete stops the server and forgets the endpoint
    ok(kernel.execute("%endpoint delete phoenix"))
    time.sleep(0.2)
    assert not os.path.exists(f"/proc/{after['pid']}") or \
        open(f"/proc/{after['pid']}/stat").read().split(")")[1].split()[0] == "Z"
    assert ws.sql("SELECT count (*) FROM endpoints WHERE name = 'phoenix'") == [(0,)]
    error(kernel.execute("%endpoint show phoenix"), "EndpointError", "no endpoint named 'phoenix'")


def test_deploy_refuses_bad_input_and_changes_nothing(lab):
    kernel, ws = lab
    error(kernel.execute("%deploy nothing --endpoint e1"), "ModelError", "no model named 'nothing'")
    error(kernel.execute("%deploy prices"), "UsageError", "--endpoint")
    error(kernel.execute("%deploy prices --endpoint e1 --traffic 150"), "UsageError", "0 to 100")
    error(kernel.execute("%deploy prices --endpoint 'bad name'"), "EndpointError",
          "not a valid endpoint name")
    error(kernel.execute("%endpoint frobnicate e1"), "UsageError", "unknown subcommand")
    error(kernel.execute("%endpoint show e1"), "EndpointError", "no endpoint named 'e1'")
    assert ws.sql("SELECT count (*) FROM endpoints WHERE name IN ('e1', 'bad name')") == [(0,)]


def test_deploy_on_a_chosen_port_without_auth(lab):
    kernel, ws = lab
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = deploy(kernel, f"groups --endpoint open --port {port} --auth none")
    assert f"http://127.0.0.1:{port}/score" in run.stdout
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    status, answer, _ = post(conn, {"data": [[5.1, 3.5, 1.4, 0.2, "setosa"]]})
    assert status == 200 and answer["predictions"] in ([0], [1], [2])
    run = ok(kernel.execute("%endpoint keys open"))
    assert "auth is none" in run.stdout
    error(kernel.execute(f"%deploy groups --endpoint open --port {port + 1}"), "EndpointError",
          f"serves on port {port} already")
    ok(kernel.execute("%endpoint delete open"))


def test_endpoint_deployed_by_a_job_outlives_the_job(lab):
    """A job that deploys (a pipeline step, a CI script) starts a server
    that is not part of the job: when the job ends and what it left running
    is killed, the endpoint keeps serving."""
    kernel, ws = lab
    ok(kernel.execute("%%job --no-code --name deployer\n"
                      "workbench deploy prices --endpoint fromjob --auth none\n",
                      timeout=TIMEOUT * 2))
    pid = ws.endpoint("fromjob")["pid"]
    time.sleep(1.5)                 # the job's leftovers are killed as it ends
    os.kill(pid, 0)                 # still there
    with open(f"/proc/{pid}/environ", "rb") as f:
        assert b"WORKBENCH_RUN_ID=" not in f.read()
    status, answer, _ = post(connect(ws, "fromjob"),
                             {"input_data": {"columns": ["area_m2", "rooms", "age_years", "distance_km", "neighborhood"],
                                             "data": [[80.0, 3, 10, 2.5, "north"]]}})
    assert status == 200 and len(answer["predictions"]) == 1, answer
    ok(kernel.execute("%endpoint delete fromjob"))


#  ---- The tutorial ----

def test_deploy_tutorial_serves_rolls_out_and_cleans_up(tmp_path, monkeypatch):
    from test_notebooks import run_notebook
    import wbtest
    monkeypatch.setenv("PATH", os.path.dirname(wbtest.WORKBENCH_BIN) + os.pathsep
                       + os.environ.get("PATH", ""))
    work = tmp_path / "nb" / ".workbench"
    try:
        nb = run_notebook("05-deploy.ipynb", tmp_path)
    finally:
        #  a server the notebook left running (it failed before its end)
        if (work / "workspace.db").exists():
            db = sqlite3.connect(f"file:{work}/workspace.db?mode=ro", uri=True)
            for (pid,) in db.execute("SELECT pid FROM endpoints WHERE pid > 0"):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            db.close()
    cells = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in cells)

    def out(start):
        (found,) = [c for c in cells if c.source.startswith(start)]
        assert not [o for o in found.outputs if o.output_type == "error"], found.outputs
        return "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "")
                       for o in found.outputs)

    #  %deploy showed the keys once; a shell cell made a secondary key for curl
    deployed = out("%deploy iris")
    assert "New keys of endpoint iris" in deployed and re.search(r"^primary:\s+\S{43}$",
                                                                  deployed, re.M)
    made = out("KEYS=$(workbench endpoint keys iris --regenerate")
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/score\n", made), made
    #  curl from a shell cell: the two flowers, then probabilities and refusals
    curls = [c for c in cells if c.source.startswith("curl ")]
    first = "".join(o.get("text", "") for o in curls[0].outputs)
    assert json.loads(first) == {"predictions": ["setosa", "virginica"]}
    second = "".join(o.get("text", "") for o in curls[1].outputs).splitlines()
    assert json.loads(second[0])["classes"] == ["setosa", "versicolor", "virginica"]
    assert second[1].endswith("(HTTP 400)") and "takes 4" in second[1]
    assert second[2].endswith("(HTTP 401)")
    pinned = "".join(o.get("text", "") for o in curls[2].outputs).lower()
    assert "x-deployment: green" in pinned and "x-model: iris-classifier:2" in pinned
    assert json.loads(out("%endpoint invoke iris"))["predictions"] == ["setosa", "virginica"]
    assert "Serving iris-classifier:1 as deployment blue of endpoint iris" in out("%deploy iris")
    assert "0 endpoints" in out("%endpoint delete iris")
    #  the endpoint is gone; the registry stays
    db = sqlite3.connect(f"file:{work}/workspace.db?mode=ro", uri=True)
    try:
        assert db.execute("SELECT count (*) FROM endpoints").fetchone() == (0,)
        assert db.execute("SELECT count (*) FROM models WHERE name = 'iris-classifier'").fetchone() == (2,)
    finally:
        db.close()
