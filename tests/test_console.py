"""`jupyter console` driving the kernel, as a terminal user would."""

import os
import subprocess

from wbtest import JUPYTER, TIMEOUT


def test_console(tmp_path):
    proc = subprocess.run(
        [JUPYTER, "console", "--kernel", "workbench", "--simple-prompt",
         "--ZMQTerminalInteractiveShell.confirm_exit=False"],
        input="echo console-$((40 + 2))-ok\nexit\n", capture_output=True,
        text=True, cwd=str(tmp_path), env=dict(os.environ),
        timeout=TIMEOUT * 3)
    assert "console-42-ok" in proc.stdout, proc.stdout + proc.stderr
    assert proc.returncode == 0, proc.stdout + proc.stderr
