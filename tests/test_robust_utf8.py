"""Bytes that are not UTF-8 never kill the kernel: shell output, job logs
and error tails, artifacts, datasets and names are shown with U+FFFD in
place of what cannot be decoded (as Jupyter's own kernels do); a FIFO is
refused as a dataset; a run that has not ended shows no end time.

Every test opens a workspace of its own outside the kernel's folder.
"""

import os
import re
import time

import pytest

from wbtest import HtmlTables, WbKernel

FFFD = "\ufffd"


def ok(run):
    assert run.status == "ok", run
    assert run.of_type("error") == [], run
    return run


def alive(kernel):
    assert ok(kernel.execute("echo alive")).stdout == "alive\n"


def tables(run):
    found = []
    for msg_type in ("display_data", "update_display_data"):
        for bundle in run.bundles(msg_type):
            parser = HtmlTables()
            parser.feed(bundle.get("text/html", ""))
            found += parser.tables
    return found


def fields(run):
    """The field/value table of %show."""
    return {r[0]: r[1] for t in tables(run) if t["head"] == ["field", "value"]
            for r in t["rows"]}


def plain(run):
    """Every text/plain of the cell's displays, joined."""
    return "\n".join(b.get("text/plain", "") for t in ("display_data", "update_display_data",
                                                       "execute_result")
                     for b in run.bundles(t))


@pytest.fixture
def ws(kernel, tmp_path):
    path = tmp_path / "ws"
    ok(kernel.execute(f"%workspace '{path}'"))
    return path


#  ---- Shell output ----

def test_an_invalid_byte_on_stdout_and_stderr(kernel):
    run = ok(kernel.execute("printf 'a\\xffb\\n'; printf '\\xfe' >&2"))
    assert run.stdout == f"a{FFFD}b\n"
    assert run.stderr == FFFD
    alive(kernel)


def test_cat_of_a_latin1_file(kernel):
    (kernel.cwd / "latin1.txt").write_bytes("café crème\n".encode("latin-1"))
    run = ok(kernel.execute("cat latin1.txt"))
    assert run.stdout == f"caf{FFFD} cr{FFFD}me\n"
    alive(kernel)


def test_random_bytes(kernel):
    run = ok(kernel.execute("head -c 1000 /dev/urandom; echo; echo done"))
    assert run.stdout.endswith("\ndone\n")
    assert FFFD in run.stdout
    alive(kernel)


def test_a_character_split_across_two_writes(kernel):
    run = ok(kernel.execute("printf '\\xc3'; sleep 0.3; printf '\\xa9\\n'; "
                            "printf '\\xe2\\x82' >&2; sleep 0.3; printf '\\xac' >&2"))
    assert run.stdout == "\u00e9\n"
    assert run.stderr == "\u20ac"
    assert FFFD not in run.stdout + run.stderr


def test_an_unfinished_character_at_the_end_of_a_cell(kernel):
    run = ok(kernel.execute("printf 'x\\xc3'"))
    assert run.stdout == f"x{FFFD}"
    #  nothing is carried into the next cell
    alive(kernel)


def test_a_nul_byte_is_kept(kernel):
    #  as Jupyter's kernels send it ("\u0000"); not a U+FFFD
    run = ok(kernel.execute("printf 'a\\000b\\xff\\n'"))
    assert run.stdout == f"a\x00b{FFFD}\n"
    alive(kernel)


#  ---- Jobs: logs, error tails, artifacts, names ----

BAD_JOB = (
    "%%job --name badbytes\n"
    "printf 'before \\xff\\xfe after\\n'\n"
    "printf 'caf\\xe9\\n' > \"$WORKBENCH_OUTPUTS/latin1.txt\"\n"
    "head -c 300 /dev/urandom > \"$WORKBENCH_OUTPUTS/noise.bin\"\n"
    "printf '##tag note=caf\\xe9\\n'\n"
    "printf 'named' > \"$WORKBENCH_OUTPUTS/$(printf 'n\\xe9.txt')\"\n")


def job_id(run):
    ids = {m["content"].get("transient", {}).get("display_id")
           for m in run.of_type("display_data")} - {None}
    assert len(ids) == 1, run
    return ids.pop()[len("wb-job-"):]


def test_job_with_bad_bytes_read_from_a_new_kernel(kernel, ws, tmp_path):
    rid = job_id(ok(kernel.execute(BAD_JOB)))
    alive(kernel)
    cwd = tmp_path / "other"
    cwd.mkdir()
    other = WbKernel.start(cwd)
    try:
        ok(other.execute(f"%workspace '{ws}'"))
        run = ok(other.execute(f"%job wait {rid}"))
        assert "completed" in plain(run)
        run = ok(other.execute(f"%show {rid}"))
        assert fields(run)["status"] == "completed"
        tags = {r[0]: r[1] for t in tables(run) if t["caption"] == "Tags" for r in t["rows"]}
        assert tags.get("note") == f"caf{FFFD}", tags
        assert f"before {FFFD}{FFFD} after" in run.stdout + plain(run)
        run = ok(other.execute(f"%job logs {rid}"))
        assert run.stdout == f"before {FFFD}{FFFD} after\n"
        run = ok(other.execute(f"%artifacts {rid}"))
        paths = [r[0] for t in tables(run) for r in t["rows"]]
        assert sorted(paths) == sorted(["logs/output.log", "outputs/latin1.txt",
                                        f"outputs/n{FFFD}.txt", "outputs/noise.bin"]), paths
        run = ok(other.execute(f"%artifacts {rid} outputs/latin1.txt"))
        assert run.stdout == f"caf{FFFD}\n"
        run = ok(other.execute(f"%artifacts {rid} outputs/noise.bin"))
        assert "300 bytes of binary data" in run.stdout
        run = ok(other.execute(f"%artifacts {rid} 'outputs/n{FFFD}.txt'"))
        assert run.stdout == "named"
        run = ok(other.execute(f"%artifacts {rid} logs/output.log"))
        assert run.stdout == f"before {FFFD}{FFFD} after\n"
        ok(other.execute("%runs --all"))
        ok(other.execute("%job list --all"))
        alive(other)
    finally:
        other.stop()


def test_failed_job_whose_error_tail_is_cut_mid_character(kernel, ws):
    #  4000 two-byte characters: any cut of the tail by bytes can fall
    #  inside one; an odd prefix makes the cut land inside one
    run = kernel.execute("%%job --name cut\n"
                         "/usr/bin/python3 -c \"import sys; sys.stderr.write('x' + '\u00e9' * 4000)\"\n"
                         "exit 4")
    assert run.status == "error", run
    assert "exit status 4" in run.content["evalue"]
    assert FFFD not in run.content["evalue"]
    rid = job_id(run)
    got = fields(ok(kernel.execute(f"%show {rid}")))
    assert got["status"] == "failed"
    assert "exit status 4: " in got["error"]
    assert FFFD not in got["error"]
    assert got["error"].endswith("\u00e9\u00e9\u00e9")
    alive(kernel)


#  ---- Datasets ----

def test_latin1_csv_dataset_is_refused_with_line_and_column(kernel, ws):
    #  A dataset is content-hashed: its bytes are not rewritten silently.
    #  A CSV that is not UTF-8 is refused, naming where, and nothing is
    #  registered (%help data says so).
    (kernel.cwd / "towns.csv").write_bytes(
        "town,pop\nZürich,420000\nGenève,200000\n".encode("latin-1"))
    run = kernel.execute("%data register towns towns.csv")
    assert run.status == "error", run
    assert run.content["ename"] == "DataError"
    for part in ("towns.csv: line 2, column 2", "invalid UTF-8 (byte 0xFC)",
                 "save the file as UTF-8"):
        assert part in run.content["evalue"], run.content["evalue"]
    assert "towns" not in plain(ok(kernel.execute("%data list")))
    alive(kernel)


def test_data_register_of_a_fifo_is_refused(kernel, ws):
    os.mkfifo(kernel.cwd / "pipe.csv")
    start = time.monotonic()
    run = kernel.execute("%data register piped pipe.csv", timeout=10)
    assert time.monotonic() - start < 5
    assert run.status == "error", run
    assert run.content["ename"] == "DataError"
    assert "pipe.csv" in run.content["evalue"]
    assert "a FIFO (named pipe), not a regular file" in run.content["evalue"]
    alive(kernel)


def test_data_register_of_a_folder_is_refused(kernel, ws):
    (kernel.cwd / "folder").mkdir()
    run = kernel.execute("%data register f folder")
    assert run.status == "error", run
    assert "not a regular file" in run.content["evalue"]
    alive(kernel)


#  ---- A run that has not ended ----

def test_show_of_a_running_run(kernel, ws):
    ok(kernel.execute("%run start --name live"))
    run = ok(kernel.execute("%show live"))
    text = str(tables(run)) + plain(run)
    assert "1970" not in text
    got = fields(run)
    assert got["status"] == "running"
    assert got.get("ended", "") in ("", "running", "-")
    run = ok(kernel.execute("%runs"))
    assert "1970" not in str(tables(run)) + plain(run)
    ok(kernel.execute("%run end"))
    got = fields(ok(kernel.execute("%show live")))
    assert re.match(r"\d{4}-\d\d-\d\d", got["ended"]), got
