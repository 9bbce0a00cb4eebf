"""Fixtures for the Python tests: a scratch Jupyter setup with the workbench
kernelspec, and kernels started in scratch folders.

WORKBENCH_BIN names the built binary (default ../build/workbench);
WORKBENCH_KERNEL_PREFIX is put in front of it in the kernelspec (valgrind
for `make memcheck`). Everything the tests and the kernels write goes under
pytest's scratch folder, which is removed at the end of the session.
"""

import os
import shutil
import sys

import pytest

sys.dont_write_bytecode = True      # no __pycache__ for the test modules

import wbtest  # noqa: E402
from wbtest import WbKernel  # noqa: E402

#  Session scratch: set before any kernel is started.
_ENV_NAMES = ("JUPYTER_PATH", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR",
              "JUPYTER_CONFIG_DIR", "IPYTHONDIR", "WORKBENCH_HISTORY",
              "WORKBENCH_WORKSPACE")


@pytest.fixture(scope="session", autouse=True)
def jupyter_env(tmp_path_factory):
    """A scratch Jupyter data dir holding kernels/workbench/kernel.json, and
    the environment pointing every Jupyter and Workbench path into scratch."""
    base = tmp_path_factory.mktemp("jupyter")
    saved = {name: os.environ.get(name) for name in _ENV_NAMES}
    data = base / "data"
    wbtest.write_kernelspec(data)
    for sub in ("runtime", "config", "ipython", "workspace"):
        (base / sub).mkdir()
    os.environ.update({
        "JUPYTER_PATH": str(data),
        "JUPYTER_DATA_DIR": str(data),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "IPYTHONDIR": str(base / "ipython"),
        "WORKBENCH_HISTORY": str(base / "history.sqlite"),
        "WORKBENCH_WORKSPACE": str(base / "workspace"),
    })
    yield base
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    #  Leave nothing behind: the whole pytest scratch folder goes.
    basetemp = tmp_path_factory.getbasetemp()
    shutil.rmtree(basetemp, ignore_errors=True)
    current = basetemp.parent / "pytest-current"
    if current.is_symlink() and not current.exists():
        current.unlink()


def _stop(kernel):
    """Stop a fixture kernel; under valgrind, its error exit code fails."""
    code = kernel.stop()
    if wbtest.PREFIX_WORDS and code == wbtest.VALGRIND_ERROR_CODE:
        pytest.fail(f"the kernel (under {wbtest.PREFIX_WORDS[0]}) reported errors "
                    f"(exit code {code}); see its stderr above")


@pytest.fixture
def kernel(tmp_path):
    """A fresh kernel whose session starts in an empty scratch folder."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    k = WbKernel.start(cwd)
    yield k
    _stop(k)


@pytest.fixture(scope="module")
def shared_kernel(tmp_path_factory):
    """One kernel for a whole module, for tests that change nothing another
    test could see (each uses its own names and folders)."""
    cwd = tmp_path_factory.mktemp("shared-cwd")
    k = WbKernel.start(cwd)
    yield k
    _stop(k)
