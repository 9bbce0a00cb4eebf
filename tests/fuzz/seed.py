"""Write the seed corpus of the fuzz targets into tests/fuzz/corpus/TARGET/.

Seeds are small real inputs: wire messages signed by jupyter_client, cells
and magic lines of the tutorials, the test CSVs cut small, the filters and
scoring bodies of the README, the search spaces and policies of
notebooks/04-sweep.ipynb, the model files in tests/fuzz/models/. Run it
from the top of the tree with Debian's Python when those change:

    /usr/bin/python3 tests/fuzz/seed.py

It only adds or rewrites seed-*; inputs kept as regressions (crash-*,
named after what they found) and merged ones stay.
"""
import glob
import hashlib
import json
import os

from jupyter_client.session import Session

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(TOP, "tests", "fuzz", "corpus")


def put(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "seed-" + name), "wb") as f:
        f.write(data)


def cells():
    """(notebook, index, source) of every code cell of the tutorials."""
    for path in sorted(glob.glob(os.path.join(TOP, "notebooks", "*.ipynb"))):
        nb = json.load(open(path))
        for i, cell in enumerate(nb["cells"]):
            if cell["cell_type"] == "code":
                yield os.path.basename(path)[:2], i, "".join(cell["source"])


# ---- msg: mode byte, frames separated by 0x1e (see fuzz_msg.c) ----

def wire(mode, frames):
    return bytes([mode]) + b"\x1e".join(frames)


def messages():
    session = Session(key=b"fuzz-key", username="fuzz")
    code = [c for _, _, c in cells()][:4]
    specs = [
        ("kernel_info_request", {}, []),
        ("execute_request", {"code": code[0], "silent": False, "store_history": True,
                             "user_expressions": {}, "allow_stdin": True,
                             "stop_on_error": True}, []),
        ("execute_request", {"code": code[-1], "silent": False}, []),
        ("complete_request", {"code": "%runs --fi", "cursor_pos": 10}, []),
        ("inspect_request", {"code": "%train", "cursor_pos": 3, "detail_level": 0}, []),
        ("is_complete_request", {"code": "for i in 1 2; do"}, []),
        ("history_request", {"output": False, "raw": True, "hist_access_type": "tail",
                             "n": 10}, []),
        ("comm_info_request", {"target_name": "jupyter.widget"}, []),
        ("comm_msg", {"comm_id": "0123", "data": {"x": 1}}, [b"\x00\x01\xff"]),
        ("input_reply", {"value": "héllo"}, []),
        ("shutdown_request", {"restart": False}, []),
        ("interrupt_request", {}, []),
    ]
    for msg_type, content, buffers in specs:
        msg = session.msg(msg_type, content=content)
        msg["buffers"] = buffers
        parts = session.serialize(msg, ident=[b"client-1"])
        yield msg_type, parts


def seed_msg():
    for msg_type, parts in messages():
        put("msg", msg_type + "-signed", wire(0, parts))
        put("msg", msg_type + "-resign", wire(1, parts))
        put("msg", msg_type + "-nokey", wire(2, parts))
    _, parts = next(messages())
    delim = parts.index(b"<IDS|MSG>")
    bad = list(parts)
    bad[delim + 1] = b"0" * 64
    put("msg", "bad-signature", wire(0, bad))
    put("msg", "no-signature", wire(0, parts[:delim + 1] + [b""] + parts[delim + 2:]))
    put("msg", "no-delimiter", wire(1, [p for p in parts if p != b"<IDS|MSG>"]))
    put("msg", "truncated", wire(1, parts[:delim + 3]))
    # what the kernel must refuse with an error reply, behind a good signature
    for name, content in [("nul", b'{"code": "echo a\\u0000b"}'),
                          ("big-int", b'{"code": "x", "n": 9223372036854775808}'),
                          ("not-object", b'["code"]'), ("not-json", b'{"code": ')]:
        put("msg", name, wire(1, parts[:delim + 5] + [content]))


# ---- args and cells ----

def seed_cells():
    for nb, i, source in cells():
        cursor = len(source.split("\n")[0])
        put("cells", f"{nb}-{i}", bytes([cursor & 255, cursor >> 8]) + source[:8000].encode())
        for j, line in enumerate(source.split("\n")):
            line = line.lstrip()
            if line.startswith("%"):
                words = line.lstrip("%").split(None, 1)
                rest = words[1] if len(words) > 1 else ""
                digest = hashlib.sha1(rest.encode()).hexdigest()[:8]
                put("args", f"{nb}-{words[0] if words else 'x'}-{digest}", rest)
    put("args", "quotes", "--name \"it's\" 'a \"b\"' c\\ d --tag k=v -t x=1 -- --all")
    put("args", "unclosed", "--name 'open")
    put("args", "negative", "--limit -5 -0.3 -.5 -1e3 --filter=x")


# ---- frame ----

def seed_frame():
    for path in sorted(glob.glob(os.path.join(TOP, "tests", "data", "*.csv"))):
        data = open(path, "rb").read()
        put("frame", os.path.basename(path), b"".join(data.splitlines(True)[:8]))
    put("frame", "missing", "a,b,c\n1,NA,x\n,2,?\nnull,None,N/A\n")
    put("frame", "quoted", 'a,"b ""q""",c\r\n"1\n2",3,"x,y"\r\n')


# ---- query: filter, newline, sort ----

def seed_query():
    filters = [
        ("metrics.acc > 0.9", ""),
        ("metrics.acc > 0.9 and params.model = 'mlp' and status = 'completed'", ""),
        ("metrics.acc > 0.9 and params.optimizer = 'adam'", "-metrics.acc, created"),
        ("(status = 'failed' or duration < 60) and not tags.note LIKE '%skip%'", ""),
        ("metrics.`val loss` < 0.3 or metrics.val/loss IS NULL", "metrics.loss asc"),
        ("created > '2024-05-01' and experiment IN ('mnist', 'cifar')", ""),
        ("kind = 'trial' and metrics.val_accuracy > 0.95", "-metrics.val_accuracy"),
        ("metrics.accuracy >= 0.9", ""),
        ("name ILIKE '%HERON%' and params.lr != '0.01'", "name desc, -duration"),
        ("", "tags.note"),
    ]
    for i, (f, s) in enumerate(filters):
        put("query", f"readme-{i}", f + "\n" + s)


# ---- scorer: settings byte, body (see fuzz_scorer.c) ----

def seed_scorer():
    iris = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    rows = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
    records = [dict(zip(iris, r)) for r in rows]
    bodies = {
        "input-split": {"input_data": {"columns": iris, "data": rows}},
        "input-rows": {"input_data": rows},
        "data": {"data": rows},
        "dataframe-split": {"dataframe_split": {"columns": iris, "data": rows}},
        "dataframe-records": {"dataframe_records": records},
        "instances": {"instances": [rows[0], records[1]]},
        "inputs-rows": {"inputs": rows},
        "inputs-columns": {"inputs": {k: [r[i] for r in rows] for i, k in enumerate(iris)}},
        "params": {"data": rows, "params": {"probabilities": True}},
    }
    for name, body in bodies.items():
        put("scorer", name, bytes([0]) + json.dumps(body).encode())
        put("scorer", name + "-proba", bytes([20 + 5]) + json.dumps(body).encode())
    put("scorer", "csv", bytes([10]) + b",".join(c.encode() for c in iris) + b"\n5.1,3.5,1.4,0.2\n")
    reg = {"dataframe_records": [{"area_m2": 80, "rooms": 3, "distance_km": 2.5,
                                  "neighborhood": "north"}]}
    put("scorer", "linear-records", bytes([1]) + json.dumps(reg).encode())
    put("scorer", "linear-unseen", bytes([1]) + json.dumps(
        {"instances": [[80, 3, 2.5, "nowhere"]]}).encode())
    put("scorer", "kmeans", bytes([2]) + json.dumps(
        {"data": [[5.1, 3.5, 1.4, 0.2, "setosa"]]}).encode())
    put("scorer", "logistic", bytes([3]) + b'{"data": [[80, 3, 400000]]}')
    put("scorer", "binary-csv", bytes([4 + 10]) + b"sepal_length,sepal_width,petal_length,"
        b"petal_width\r\n5.1,3.5,1.4,0.2\r\n7,3.2,4.7,1.4\r\n")
    put("scorer", "text-plain", bytes([15]) + b"1,2,red")


# ---- sweep: a space (also tried as a policy) ----

def seed_sweep():
    nb = json.load(open(os.path.join(TOP, "notebooks", "04-sweep.ipynb")))
    for i, cell in enumerate(nb["cells"]):
        source = "".join(cell["source"])
        if cell["cell_type"] != "code" or not source.startswith("%%sweep"):
            continue
        lines = source.split("\n")
        space = []
        for line in lines[1:]:
            if line.startswith("%%"):
                break
            space.append(line)
        put("sweep", f"04-space-{i}", "\n".join(space) + "\n")
        if "--policy" in lines[0]:
            policy = lines[0].split("--policy", 1)[1].strip().split('"')[1]
            put("sweep", f"04-policy-{i}", policy)
    put("sweep", "all-kinds", "# every distribution\na = choice(1, 2.5, 'x')\nb = randint(4)\n"
        "c = uniform(-1, 1)\nd = quniform(0, 10, 2)\ne = loguniform(1e-3, 1)\n"
        "f = qloguniform(1, 100, 5)\ng = normal(0, 1)\nh = qnormal(5, 2, 1)\n"
        "i = lognormal(0, 0.5)\nj = qlognormal(1, 0.5, 0.1)\nk = 42\nl = 'adam'\n")
    put("sweep", "grid", "x = choice(1, 2, 3)\ny = choice('a', 'b')\nz = 5\n")
    for p in ["median(evaluation_interval=1, delay_evaluation=5)",
              "truncation(truncation_percentage=20)", "bandit(slack_amount=0.1)", "none"]:
        put("sweep", "policy-" + p.split("(")[0], p)


# ---- model ----

def seed_model():
    for path in sorted(glob.glob(os.path.join(TOP, "tests", "fuzz", "models", "*.json"))):
        put("model", os.path.basename(path), open(path, "rb").read())


if __name__ == "__main__":
    seed_msg()
    seed_cells()
    seed_frame()
    seed_query()
    seed_scorer()
    seed_sweep()
    seed_model()
