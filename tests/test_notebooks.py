"""The notebooks shipped in notebooks/, executed top to bottom with nbclient
on the workbench kernel, as a user opening them would."""

import os
import re
import shutil
import xml.etree.ElementTree as ET

import nbformat
import pytest
from nbclient import NotebookClient

from wbtest import ROOT, TIMEOUT, WORKBENCH_BIN


@pytest.fixture(autouse=True)
def workbench_on_path(monkeypatch):
    """The tutorials call the terminal tool `workbench` from shell cells, as
    a user who installed it would: the binary under test goes first on the
    PATH the kernel (and so its shell session) inherits."""
    monkeypatch.setenv("PATH", os.path.dirname(WORKBENCH_BIN) + os.pathsep
                       + os.environ.get("PATH", ""))


def run_notebook(name, tmp_path):
    """Execute a scratch copy of notebooks/NAME in a scratch folder; returns
    the executed notebook."""
    source = ROOT / "notebooks" / name
    assert source.is_file(), f"{source} is missing"
    work = tmp_path / "nb"
    work.mkdir()
    copy = work / name
    shutil.copyfile(source, copy)
    nb = nbformat.read(copy, as_version=4)
    client = NotebookClient(nb, kernel_name="workbench", timeout=int(TIMEOUT * 3),
                            resources={"metadata": {"path": str(work)}})
    client.execute()
    return nb


def outputs(nb):
    return [out for cell in nb.cells if cell.cell_type == "code"
            for out in cell.get("outputs", [])]


NOTEBOOKS = sorted({"00-hello.ipynb", "01-tracking.ipynb"}
                   | {p.name for p in (ROOT / "notebooks").glob("*.ipynb")})

#  What each notebook must show somewhere in its stream output.
EXPECTED = {"00-hello.ipynb": "hello", "01-tracking.ipynb": "logged 20 epochs"}


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs(tmp_path, name):
    nb = run_notebook(name, tmp_path)
    code_cells = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    assert code_cells, "the notebook has no code cell"
    #  only cells tagged raises-exception (which nbclient lets fail) may fail
    errors = [o for c in code_cells if "raises-exception" not in c.metadata.get("tags", [])
              for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == [], errors
    #  every code cell ran, in order
    counts = [c.execution_count for c in code_cells]
    assert None not in counts
    assert counts == sorted(counts)
    if name in EXPECTED:
        streams = "".join(o.get("text", "") for o in outputs(nb)
                          if o.output_type == "stream")
        assert EXPECTED[name] in streams.lower()


def test_tracking_tutorial_shows_tables_and_charts(tmp_path):
    nb = run_notebook("01-tracking.ipynb", tmp_path)
    cells = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in cells)
    assert not [o for c in cells for o in c.outputs if o.output_type == "error"]

    def outputs_of(source):
        (cell,) = [c for c in cells if c.source.strip() == source]
        return [o for o in cell.outputs if o.output_type == "display_data"]

    #  every display carries text/plain; tables add HTML
    for out in outputs(nb):
        if out.output_type == "display_data":
            assert "text/plain" in out.data
    (runs,) = outputs_of("%runs")
    assert "<table" in runs.data["text/html"]
    for name in ("first-try", "baseline", "shell-loop"):
        assert name in runs.data["text/html"]

    #  the filter kept the MLP runs, best first
    (found,) = [o for c in cells if c.source.startswith("%runs --filter")
                for o in c.outputs if o.output_type == "display_data"]
    plain = found.data["text/plain"]
    assert "baseline" not in plain
    assert plain.index("shell-loop") < plain.index("first-try")

    #  %show draws every metric twice: SVG and Vega-Lite
    charts = [o for o in outputs_of("%show shell-loop") if "image/svg+xml" in o.data]
    assert {o.data["text/plain"].splitlines()[0] for o in charts} == {"acc", "loss"}
    for chart in charts:
        ET.fromstring(chart.data["image/svg+xml"])
        spec = chart.data["application/vnd.vegalite.v5+json"]
        assert spec["$schema"].endswith("vega-lite/v5.json")
        #  the 20 epochs the shell loop logged through `workbench log`
        assert [v["x"] for v in spec["data"]["values"]] == list(range(1, 21))

    #  %compare marks what differs and overlays both runs
    table, *overlays = outputs_of("%compare first-try shell-loop")
    assert "≠" in table.data["text/html"]
    assert len(overlays) == 2
    domain = overlays[0].data["application/vnd.vegalite.v5+json"]["encoding"]["color"]["scale"]["domain"]
    assert [label.split(" ")[0] for label in domain] == ["first-try", "shell-loop"]

    #  the live card of the first run was updated in place to its final state
    (card,) = outputs_of("%run start --name first-try --tag purpose=tutorial")
    assert "completed" in card.data["text/plain"]
    assert "0.88" in card.data["text/plain"]

    #  cleaned up: no runs left
    (workspace,) = outputs_of("%workspace")
    assert re.search(r"^runs\s+0$", workspace.data["text/plain"], re.M)


def test_jobs_tutorial_runs_jobs_of_every_kind(tmp_path):
    nb = run_notebook("02-jobs.ipynb", tmp_path)
    cells = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in cells)

    def cell(start):
        (found,) = [c for c in cells if c.source.startswith(start)]
        return found

    def text(c):
        return "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "")
                       for o in c.outputs)

    #  the cells tagged raises-exception raised a JobError, and only they did
    failed = [c for c in cells if any(o.output_type == "error" for o in c.outputs)]
    tagged = [c for c in cells if "raises-exception" in c.metadata.get("tags", [])]
    assert failed == tagged and len(tagged) == 2
    errors = [o for c in tagged for o in c.outputs if o.output_type == "error"]
    assert [e.ename for e in errors] == ["JobError", "JobError"]
    assert "invalid float value: 'fast'" in errors[0].evalue
    assert "timed out" in errors[1].evalue

    #  the live display was updated in place to the job's final state
    (live,) = cell("%%job --name first").outputs
    assert live.output_type == "display_data"
    first = live.data["text/plain"]
    assert " · completed · " in first.splitlines()[0]
    assert "done: loss" in first and "2 artifacts" in first

    #  the snapshot, the outputs, the log
    shown = text(cell("%show first"))
    assert re.search(r"^snapshot\s+[0-9a-f]{64}$", shown, re.M)
    assert "outputs/model.json" in shown and "logs/output.log" in shown
    assert '"w": [' in text(cell("%artifacts first outputs/model.json"))

    #  params: substituted, in the environment, recorded and compared
    assert "learning rate from the environment: 0.05" in text(cell("%%job --name slow-lr"))
    compared = text(cell("%compare slow-lr fast-lr"))
    assert re.search(r"^≠\s+lr\s+0\.05\s+2$", compared, re.M)

    #  the shell script logged three ways, and finished as a job does
    bash = text(cell("%%job --name from-bash"))
    assert " · completed · " in bash.splitlines()[0]
    assert "evaluation finished" in bash and "1 artifact " in bash
    for metric in ("progress", "checks", "errors"):
        assert re.search(rf"^{metric}\s", bash, re.M), (metric, bash)
    assert "##metric" not in bash

    #  the background job: followed, waited for
    followed = text(cell("%job logs background --follow"))
    assert followed.startswith("epoch 0: ") and "done: loss" in followed
    assert " · completed · " in text(cell("%job wait background")).splitlines()[0]

    #  the queue of one: the second job waited for the first
    (computed,) = [o for c in cells if c.source.strip() == "%compute" for o in c.outputs]
    running, queued = map(int, re.search(r"^local\s+local\s+1\s+(\d+)\s+(\d+)$",
                                         computed.data["text/plain"], re.M).groups())
    assert running <= 1 and queued >= 1 and running + queued == 2

    #  what is left: every job ended, the folder holds what the notebook wrote
    runs = text(cell("%runs --experiment jobs-tutorial"))
    assert re.search(r"^9 runs$", runs, re.M)
    assert not re.search(r"\b(queued|starting|running)\b", runs)
    work = tmp_path / "nb"
    assert sorted(p.name for p in work.iterdir()) == \
        [".workbench", ".workbenchignore", "02-jobs.ipynb", "evaluate.sh", "train.py"]
    assert not list((work / ".workbench" / "jobs").glob("*"))
