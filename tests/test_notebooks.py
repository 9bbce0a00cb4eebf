"""The notebooks shipped in notebooks/, executed top to bottom with nbclient
on the workbench kernel, as a user opening them would."""

import shutil

import nbformat
import pytest
from nbclient import NotebookClient

from wbtest import ROOT, TIMEOUT


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


NOTEBOOKS = sorted({"00-hello.ipynb"}
                   | {p.name for p in (ROOT / "notebooks").glob("*.ipynb")})

#  What each notebook must show somewhere in its stream output.
EXPECTED = {"00-hello.ipynb": "hello"}


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs(tmp_path, name):
    nb = run_notebook(name, tmp_path)
    code_cells = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    assert code_cells, "the notebook has no code cell"
    errors = [o for o in outputs(nb) if o.output_type == "error"]
    assert errors == [], errors
    #  every code cell ran, in order
    counts = [c.execution_count for c in code_cells]
    assert None not in counts
    assert counts == sorted(counts)
    if name in EXPECTED:
        streams = "".join(o.get("text", "") for o in outputs(nb)
                          if o.output_type == "stream")
        assert EXPECTED[name] in streams.lower()
