"""make demo: run the main tutorial on a fresh local workspace with the
installed Workbench kernel, write its HTML next to it, and say how to open
the notebooks in JupyterLab, Notebook and VS Code."""
import argparse
import os
import shutil
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
#  The main tutorial: data, training, a sweep, the registry and an endpoint
MAIN_TUTORIAL = "06-mlops.ipynb"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workbench", required=True, help="the installed workbench binary")
    parser.add_argument("--notebook", default=MAIN_TUTORIAL)
    args = parser.parse_args()

    notebooks = os.path.join(ROOT, "notebooks")
    path = os.path.join(notebooks, args.notebook)
    #  A fresh copy to run in, with the shipped data where the tutorials
    #  look for it (../tests/data): a user's own .workbench is never touched
    demo = os.path.join(ROOT, "build", "demo")
    shutil.rmtree(demo, ignore_errors=True)
    shutil.copytree(os.path.join(ROOT, "tests", "data"), os.path.join(demo, "tests", "data"))
    run_dir = os.path.join(demo, "notebooks")
    os.makedirs(run_dir)
    os.environ.pop("WORKBENCH_WORKSPACE", None)
    workspace = os.path.join(run_dir, ".workbench")

    nb = nbformat.read(path, as_version=4)
    started = time.monotonic()
    client = NotebookClient(nb, kernel_name="workbench", timeout=600,
                            resources={"metadata": {"path": run_dir}})
    client.execute()
    elapsed = time.monotonic() - started
    html, _ = HTMLExporter().from_notebook_node(nb)
    out = os.path.splitext(path)[0] + ".html"
    with open(out, "w", encoding="utf-8") as f:
        f.write(html)
    cells = sum(1 for c in nb.cells if c.cell_type == "code")
    print(f"\nRan {args.notebook}: {cells} code cells in {elapsed:.1f} s "
          f"with {args.workbench}, workspace {os.path.relpath(workspace, ROOT)}")
    print(f"Wrote {os.path.relpath(out, ROOT)}\n")
    print("Open the tutorials with the 'Workbench' kernel:")
    print("  JupyterLab:       jupyter lab notebooks/          (where JupyterLab is installed)")
    print("  Classic Notebook: jupyter notebook notebooks/     (Debian: apt-get install jupyter-notebook)")
    print("  VS Code:          open a notebook, 'Select Kernel' > 'Jupyter Kernel...' > Workbench")
    print("  Terminal:         jupyter console --kernel workbench")
    return 0


if __name__ == "__main__":
    sys.exit(main())
