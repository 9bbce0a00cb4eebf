"""Front-end compatibility: every kind of display the kernel sends, checked
against what each front end renders.

- text/plain always (jupyter console, the terminal, and every front end's
  last resort);
- a chart carries image/svg+xml (classic Notebook, nbconvert, GitHub) and
  application/vnd.vegalite.v5+json (JupyterLab, VS Code), and no text/html,
  which Notebook and nbconvert would prefer to the picture;
- SVG is a standalone document (namespace, width, height, viewBox), since
  JupyterLab, VS Code and GitHub show it as an image;
- Vega-Lite is a v5 spec with inline data, every encoded field present in
  the rows, and plain JSON (no NaN);
- HTML has no script and loads nothing from outside (JupyterLab, GitHub and
  nbconvert drop or block both);
- a live display updates a display id sent before it, with the same kinds;
- an error has a name, a value and a traceback of strings.

Then the outputs, as nbclient would store them, go through nbconvert's
HTML exporter, which must draw every chart as SVG and every table; and
every Vega-Lite spec goes through vega-lite and vega (the libraries
JupyterLab and VS Code render it with, from tests/browser/node_modules,
which `make test` installs), which must draw it without a warning.
"""

import json
import math
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import nbformat
import pytest
from nbconvert import HTMLExporter

from wbtest import TESTS, TIMEOUT, html_tables

NODE_TOOLS = TESTS / "browser"

DATA = TESTS / "data"
SVG = "image/svg+xml"
VEGALITE = "application/vnd.vegalite.v5+json"
HTML = "text/html"
PLAIN = "text/plain"
CHART_KINDS = {SVG, VEGALITE}
DISPLAYS = ("display_data", "update_display_data", "execute_result")

#  Representative cells, in order, with what each must show: the bundle
#  kinds that must appear among its displays, or "error".
CELLS = [
    ("%experiment frontends", set()),
    ("%run start --name fa --tag t=1", {"live", HTML}),
    ("%param lr=0.1", set()),
    ("%log loss=0.9 acc=0.5", {"update"}),
    ("%log loss=0.4 acc=0.8", {"update"}),
    ("%run end", {"update"}),
    ("%run start --name fb\n%log loss=0.7\n%log loss=0.2\n%run end", {"live", "update"}),
    ("%runs", {HTML}),
    ("%experiment", {HTML}),
    ("%show fa", {HTML, "chart"}),
    ("%compare fa fb", {HTML, "chart"}),
    ("%artifacts fa", {HTML}),
    ("%workspace", {HTML}),
    ("%data register iris '{data}/iris.csv'", {HTML}),
    ("%data list", {HTML}),
    ("%data show iris", {HTML}),
    ("%%train --data iris --target species --model logistic --name fe-lr\n",
     {"live", "update", "chart"}),                       # the heatmap
    ("%predict fe-lr --data iris", {HTML, "chart"}),
    ("%%job --name fe-job\necho hi; sleep 0.3; echo done", {"live", "update"}),
    ("%job list --all", {HTML}),
    ("%job wait fe-job", {"live"}),
    ("%%sweep --name fe-sweep --metric val_accuracy --goal max --sampler random "
     "--trials 4 --parallel 2 --seed 1\nl2 = loguniform(0.001, 10)\n"
     "%%train --data iris --target species --model logistic", {"live", "update", HTML}),
    ("%sweep list", {HTML}),
    ("%sweep show fe-sweep", {HTML}),
    ("%model register fe-model --run fe-lr --tag owner=frontends", {HTML}),
    ("%model list", {HTML}),
    ("%model show fe-model", {HTML}),
    ("%deploy fe-model:1 --endpoint fe-ep", {HTML}),
    ("%endpoint invoke fe-ep '{\"data\": [[5.1, 3.5, 1.4, 0.2]]}'", set()),
    ("%endpoint show fe-ep", {HTML, "chart"}),        # once the request is logged
    ("%endpoint list", {HTML}),
    ("%endpoint delete fe-ep", set()),
    ("%lsmagic", {HTML}),
    ("%%html\n<b>bold</b>", {HTML}),
    ("%%markdown\n# A title", {"text/markdown"}),
    ("%%svg\n<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10' "
     "viewBox='0 0 10 10'><rect width='10' height='10'/></svg>", {SVG}),
    ("%nosuch", "error"),
    ("%runs --filter 'bad ==='", "error"),
    ("%show no-such-run", "error"),
    ("false", "error"),
]


def _kinds(run):
    return {kind for m in _displays(run) for kind in m["content"]["data"]}


@pytest.fixture(scope="module")
def session(shared_kernel, tmp_path_factory):
    """Every cell of CELLS run in order, in a workspace of its own:
    [(code, expected, Exec)]. A cell that shows less than expected is run
    again for up to a few seconds (an endpoint logs its requests in the
    background)."""
    workspace = tmp_path_factory.mktemp("frontends") / "ws"
    assert shared_kernel.execute(f"%workspace '{workspace}'").status == "ok"
    done = []
    try:
        for code, expected in CELLS:
            deadline = time.monotonic() + 10
            while True:
                run = shared_kernel.execute(code.replace("{data}", str(DATA)),
                                            timeout=TIMEOUT * 3)
                if (expected == "error" or "chart" not in expected
                        or CHART_KINDS <= _kinds(run) or time.monotonic() > deadline):
                    break
                time.sleep(0.2)
            done.append((code, expected, run))
        yield done
    finally:
        shared_kernel.execute("%endpoint delete fe-ep")       # if a cell failed first


def _displays(run):
    return [m for m in run.msgs if m["msg_type"] in DISPLAYS]


#  ---- The checks for one bundle ----

def _encoded_fields(spec):
    """Every field the encoding of this spec (not of its layers) names."""
    return {channel["field"] for channel in (spec.get("encoding") or {}).values()
            if isinstance(channel, dict) and "field" in channel}


def _check_rows(spec, rows, fields):
    """Each layer draws its own data, or its parent's; every field its
    encoding or its parent's names is in every row it draws."""
    if "data" in spec:
        rows = spec["data"]["values"]
    fields = fields | _encoded_fields(spec)
    assert rows and all(isinstance(row, dict) for row in rows)
    layers = spec.get("layer", [])
    if not layers:
        for field in fields:
            assert all(field in row for row in rows), (field, rows[:3])
    for layer in layers:
        _check_rows(layer, rows, fields)
    for row in rows:
        for value in row.values():
            assert not (isinstance(value, float) and not math.isfinite(value))


def check_vegalite(spec):
    json.dumps(spec, allow_nan=False)           # plain JSON: no NaN, no Infinity
    assert spec["$schema"].endswith("/vega-lite/v5.json"), spec["$schema"]
    assert "mark" in spec or spec.get("layer"), spec
    assert spec["data"]["values"]
    _check_rows(spec, None, set())


def check_svg(text):
    root = ET.fromstring(text)
    assert root.tag == "{http://www.w3.org/2000/svg}svg", root.tag
    for attr in ("width", "height", "viewBox"):
        assert root.get(attr), f"the SVG has no {attr}"
    assert not list(root.iter("{http://www.w3.org/2000/svg}script"))


class _Outside(HTMLParser):
    """Scripts, event handlers, and what loads from elsewhere (src, a
    stylesheet link) in an HTML text; plain links are fine."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.found.append(tag)
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{tag} {name}")
            if (name == "src" or (tag == "link" and name == "href")) and value:
                self.found.append(f"{tag} {name}={value}")


def check_html(text):
    parser = _Outside()
    parser.feed(text)
    assert parser.found == [], parser.found


def check_bundle(data):
    """The rules every display bundle keeps; returns its kind."""
    assert isinstance(data.get(PLAIN), str) and data[PLAIN].strip(), \
        f"no text/plain in {sorted(data)}"
    kinds = set(data) & CHART_KINDS
    if kinds and set(data) != {PLAIN, SVG}:        # %%svg: a user's own picture
        assert kinds == CHART_KINDS, f"a chart needs both SVG and Vega-Lite: {sorted(data)}"
        assert HTML not in data, "a chart with text/html shows as HTML in Notebook"
    if SVG in data:
        check_svg(data[SVG])
    if VEGALITE in data:
        check_vegalite(data[VEGALITE])
    if HTML in data:
        check_html(data[HTML])
    return "chart" if kinds == CHART_KINDS else None


#  ---- Tests ----

def test_every_cell_shows_what_it_should(session):
    for code, expected, run in session:
        if expected == "error":
            assert run.status == "error", (code, run)
            (error,) = run.of_type("error")
            content = error["content"]
            assert content["ename"] and content["evalue"], (code, content)
            assert content["traceback"] and all(isinstance(line, str)
                                                for line in content["traceback"])
            assert run.content["ename"] == content["ename"]
            continue
        assert run.status == "ok", (code, run)
        seen = set()
        for msg in _displays(run):
            data = msg["content"]["data"]
            seen |= set(data) - {PLAIN}
            if check_bundle(data) == "chart":
                seen.add("chart")
            if msg["msg_type"] == "update_display_data":
                seen.add("update")
            elif (msg["content"].get("transient") or {}).get("display_id"):
                seen.add("live")
        assert expected <= seen, (code, expected - seen)
        for msg in run.of_type("stream"):
            assert msg["content"]["name"] in ("stdout", "stderr")


def test_live_displays_update_what_was_shown(session):
    """An update names a display id already shown, with the same kinds as
    that display (so a front end swaps the same representation)."""
    shown = {}
    updates = 0
    for code, _, run in session:
        for msg in _displays(run):
            display_id = (msg["content"].get("transient") or {}).get("display_id")
            kinds = set(msg["content"]["data"])
            if msg["msg_type"] == "update_display_data":
                assert display_id in shown, (code, display_id)
                assert kinds == shown[display_id], (code, kinds, shown[display_id])
                updates += 1
            elif display_id:
                shown[display_id] = kinds
    assert updates >= 6


def test_charts_have_data_and_tables_have_rows(session):
    charts = [m["content"]["data"] for _, _, run in session for m in _displays(run)
              if VEGALITE in m["content"]["data"]]
    assert len(charts) >= 5
    heatmaps = [c for c in charts if "layer" in c[VEGALITE]]
    assert heatmaps, "no heatmap among the charts"
    #  the SVG draws what the spec holds: the heatmap's counts appear in both
    counts = {int(row["value"]) for row in heatmaps[0][VEGALITE]["data"]["values"]}
    for count in counts:
        assert f">{count}</text>" in heatmaps[0][SVG]
    (runs,) = [run for code, _, run in session if code == "%runs"]
    (table,) = html_tables(runs.bundles()[0][HTML])
    assert len(table["rows"]) == 2 and "name" in table["head"]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")     # nbconvert's own
def test_nbconvert_draws_every_chart_and_table(session):
    """The outputs as nbclient stores them, exported to HTML by nbconvert
    (what `make demo` and GitHub-like viewers show): SVG and tables."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "workbench", "display_name": "Workbench",
                                 "language": "workbench"}
    charts = tables = 0
    for code, _, run in session:
        cell = nbformat.v4.new_code_cell(code)
        for msg in run.outputs:
            if msg["msg_type"] in ("clear_output", "update_display_data"):
                continue
            output = nbformat.v4.output_from_msg(msg)
            cell.outputs.append(output)
            data = output.get("data", {})
            if VEGALITE in data:
                charts += 1
            if HTML in data:
                tables += data[HTML].count("<table")
        nb.cells.append(cell)
    nbformat.validate(nb)
    html, _ = HTMLExporter().from_notebook_node(nb)
    #  every chart as inline SVG; the heatmap's title too
    assert html.count("<svg") >= charts > 0
    assert "Confusion matrix" in html
    assert html.count("<table") >= tables > 0


def test_vegalite_renders_in_the_libraries_jupyterlab_uses(session, tmp_path):
    specs = [m["content"]["data"][VEGALITE] for _, _, run in session
             for m in _displays(run) if VEGALITE in m["content"]["data"]]
    assert specs
    if not shutil.which("node") or not (NODE_TOOLS / "node_modules" / "vega-lite").is_dir():
        pytest.fail("needs node and tests/browser/node_modules (`make test` installs them)")
    path = tmp_path / "specs.json"
    path.write_text(json.dumps(specs))
    proc = subprocess.run(["node", str(NODE_TOOLS / "vegalite.js"), str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(proc.stdout)
    assert len(results) == len(specs)
    for spec, result in zip(specs, results):
        assert result["error"] is None and result["warnings"] == [], (spec.get("title"), result)
        assert result["marks"] > len(spec["data"]["values"]) // 2, (spec.get("title"), result)
