"""workbench - log to a Workbench run from a job, with the standard library only.

Inside a job (%%job, %%train, sweep trials) Workbench sets:
  WORKBENCH_RUN_ID       the run this job is
  WORKBENCH_OUTPUTS      a folder: files written there become the run's artifacts
  WORKBENCH_METRICS_FD   a file descriptor taking one line per record

    import workbench
    workbench.param(lr=0.01, layers=2)
    for epoch in range(10):
        workbench.log(loss=loss, acc=acc, step=epoch)
    open(workbench.outputs() + "/model.txt", "w").write("...")

The line protocol is plain text, so any language can speak it in one line:
    metric loss=0.25 acc=0.9 step=3
    param lr=0.01
    tag stage=warmup
written to the descriptor in WORKBENCH_METRICS_FD, or printed on standard
output with a "##" in front ("##metric loss=0.25 step=3"). Outside a job the
lines go to standard output, where they do no harm.
"""

import atexit
import math
import os
import sys
import time

__all__ = ["log", "param", "tag", "outputs", "run_id"]

_fd = os.environ.get("WORKBENCH_METRICS_FD")
_out = None
if _fd:
    try:
        _out = os.fdopen(int(_fd), "w", buffering=1 << 16, closefd=False)
    except (OSError, ValueError):
        _out = None
_last_flush = 0.0


def _flush():
    if _out is not None:
        try:
            _out.flush()
        except OSError:
            pass


atexit.register(_flush)


def _word(key, value):
    key = str(key)
    if not key or any(c.isspace() or c == "=" for c in key):
        raise ValueError(f"workbench: key {key!r} must be non-empty, without spaces or '='")
    text = str(value)
    if any(c.isspace() for c in text):
        raise ValueError(f"workbench: value of {key!r} must not contain spaces")
    return f"{key}={text}"


def _emit(kind, words):
    global _last_flush
    line = kind + " " + " ".join(words) + "\n"
    if _out is None:
        sys.stdout.write("##" + line)
        sys.stdout.flush()
        return
    _out.write(line)
    now = time.monotonic()
    if now - _last_flush > 0.2:             # live, yet cheap: ~5 writes a second
        _out.flush()
        _last_flush = now


def log(step=None, **metrics):
    """Log metric values (numbers) at step (default: the next step per key)."""
    words = []
    for key, value in metrics.items():
        number = float(value)
        words.append(_word(key, "nan" if math.isnan(number) else repr(number)))
    if step is not None:
        words.append(_word("step", int(step)))
    if words:
        _emit("metric", words)


def param(**values):
    """Record parameters of the run (set once per run)."""
    if values:
        _emit("param", [_word(k, v) for k, v in values.items()])


def tag(**values):
    """Set tags on the run."""
    if values:
        _emit("tag", [_word(k, v) for k, v in values.items()])


def outputs():
    """The folder whose files become the run's artifacts."""
    return os.environ.get("WORKBENCH_OUTPUTS", ".")


def run_id():
    """The id of the run this job is, or None outside a job."""
    return os.environ.get("WORKBENCH_RUN_ID")
