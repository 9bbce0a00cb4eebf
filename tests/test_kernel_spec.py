"""The kernel against jupyter_kernel_test, the Jupyter project's own
conformance tests, with every sample set so that no test is skipped."""

import os
from pathlib import Path

import jupyter_kernel_test
from jupyter_client.manager import start_new_kernel

from wbtest import TIMEOUT

#  A value the kernel's session inherits from its environment.
KT_VALUE = "kt-42"


class WorkbenchKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = "workbench"
    language_name = "workbench"
    file_extension = ".wb"

    code_hello_world = "echo hello, world"
    code_stderr = "echo oops >&2"

    completion_samples = [
        {"text": "%lsma", "matches": ["%lsmagic"]},
        {"text": "%%writef", "matches": ["%%writefile"]},
    ]
    complete_code_samples = ["echo hi", "%lsmagic", "%%bash\necho hi\n",
                             "if true; then\n  echo y\nfi"]
    incomplete_code_samples = ["%%bash", "%%bash\necho hi", 'echo "unclosed',
                               "if true; then"]
    invalid_code_samples = ["fi"]

    code_page_something = "%help lsmagic"
    code_generate_error = "exit 3"
    code_execute_result = [{"code": "%env WB_KT_VALUE", "result": KT_VALUE}]
    code_display_data = [
        {"code": "%%html\n<b>hi</b>", "mime": "text/html"},
        {"code": "%%markdown\n# hi", "mime": "text/markdown"},
        {"code": '%%svg\n<svg xmlns="http://www.w3.org/2000/svg"/>',
         "mime": "image/svg+xml"},
        {"code": "%lsmagic", "mime": "text/plain"},
    ]
    code_history_pattern = "%env WB_KT_*"
    supported_history_operations = ("tail", "range", "search")
    code_inspect_sample = "%lsmagic"
    code_clear_output = "%clear"

    @classmethod
    def setUpClass(cls):
        #  conftest's session fixture has pointed Jupyter at the scratch
        #  kernelspec; start in a scratch folder beside it.
        scratch = Path(os.environ["WORKBENCH_WORKSPACE"]).parent
        cwd = scratch / "kerneltests-cwd"
        cwd.mkdir(exist_ok=True)
        env = dict(os.environ, WB_KT_VALUE=KT_VALUE)
        cls.km, cls.kc = start_new_kernel(kernel_name=cls.kernel_name,
                                          startup_timeout=TIMEOUT * 2,
                                          cwd=str(cwd), env=env)


def test_every_kerneltests_sample_is_set():
    """Each sample attribute of the installed jupyter_kernel_test is set
    (a newer version with a new one makes this fail, not skip)."""
    base = jupyter_kernel_test.KernelTests
    names = [name for name, value in vars(base).items()
             if not name.startswith("_") and not callable(value)
             and not isinstance(value, (classmethod, staticmethod, property))]
    assert "code_hello_world" in names and "kernel_name" in names
    unset = [name for name in names
             if not getattr(WorkbenchKernelTests, name)
             or getattr(WorkbenchKernelTests, name) == getattr(base, name)]
    assert unset == []
