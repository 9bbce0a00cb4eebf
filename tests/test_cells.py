"""What a user sees when running cells: the shell session, streams, errors,
and the built-in magics."""

import os

import pytest

from wbtest import TIME_FACTOR


def all_text(run):
    """Everything a front end would show as text: streams, and text/plain of
    displays and results."""
    text = run.stdout + run.stderr
    for msg_type in ("display_data", "execute_result"):
        for bundle in run.bundles(msg_type):
            text += bundle.get("text/plain", "")
    return text


def assert_error(run, ename, *in_evalue):
    """The reply and the iopub error both say ename, and the evalue holds
    every string of in_evalue."""
    assert run.status == "error", run
    assert run.content["ename"] == ename
    for part in in_evalue:
        assert part in run.content["evalue"]
    errors = run.of_type("error")
    assert len(errors) == 1, run
    assert errors[0]["content"]["ename"] == ename
    assert errors[0]["content"]["evalue"] == run.content["evalue"]
    assert isinstance(errors[0]["content"]["traceback"], list)


def assert_alive(kernel):
    """The kernel still runs the next cell (sent as soon as the last one
    replied, as a fast user or a script would)."""
    run = kernel.execute("echo alive")
    assert run.status == "ok" and run.stdout == "alive\n", run


#  ---- the shell session ----

def test_cwd_persists(kernel):
    (kernel.cwd / "sub").mkdir()
    assert kernel.execute("cd sub").status == "ok"
    run = kernel.execute("pwd")
    assert run.stdout == os.path.realpath(kernel.cwd / "sub") + "\n"


def test_session_starts_in_the_kernel_cwd(kernel):
    run = kernel.execute("pwd")
    assert run.stdout == os.path.realpath(kernel.cwd) + "\n"


def test_exported_env_persists(kernel):
    assert kernel.execute("export WB_X=1; WB_LOCAL=2").status == "ok"
    run = kernel.execute('echo "$WB_X ${WB_LOCAL-unset}"')
    assert run.stdout == "1 unset\n"


def test_unset_persists(kernel):
    kernel.execute("export WB_GONE=1")
    kernel.execute("unset WB_GONE")
    assert kernel.execute('echo "${WB_GONE-unset}"').stdout == "unset\n"


def test_stdout_and_stderr_are_separate_streams(shared_kernel):
    run = shared_kernel.execute("echo out; echo err >&2")
    assert run.status == "ok"
    assert run.stdout == "out\n"
    assert run.stderr == "err\n"
    names = {m["content"]["name"] for m in run.of_type("stream")}
    assert names == {"stdout", "stderr"}


def test_multiline_cell(shared_kernel):
    run = shared_kernel.execute("for w in a b; do\n  echo $w\ndone\necho end")
    assert run.stdout == "a\nb\nend\n"


def test_unicode_output(shared_kernel):
    run = shared_kernel.execute('echo "héllo €"')
    assert run.stdout == "héllo €\n"


def test_nonzero_exit_is_an_error(shared_kernel):
    run = shared_kernel.execute("exit 3")
    assert_error(run, "ShellError", "exit status 3")
    assert run.content["evalue"] == "exit status 3"
    assert shared_kernel.execute("false").content["evalue"] == "exit status 1"
    #  output before the failure is still shown
    run = shared_kernel.execute("echo before; exit 2")
    assert run.stdout == "before\n"
    assert_error(run, "ShellError", "exit status 2")
    assert shared_kernel.execute("echo up").stdout == "up\n"


def test_output_streams_as_produced(shared_kernel):
    run = shared_kernel.execute("for i in 1 2 3; do echo $i; sleep 0.5; done")
    assert run.status == "ok"
    assert run.stdout == "1\n2\n3\n"
    first = run.of_type("stream")[0]
    idle = run.msgs[-1]
    assert idle["content"]["execution_state"] == "idle"
    assert idle["_t"] - first["_t"] >= 0.8


def test_empty_cell(shared_kernel):
    run = shared_kernel.execute("")
    assert run.status == "ok"
    assert run.outputs == []


#  ---- magic errors ----

def test_unknown_magic(shared_kernel):
    run = shared_kernel.execute("%nosuch")
    assert_error(run, "UsageError", "unknown magic '%nosuch'", "%lsmagic")
    assert_alive(shared_kernel)


def test_unknown_cell_magic(shared_kernel):
    run = shared_kernel.execute("%%nosuch\nbody")
    assert_error(run, "UsageError", "%nosuch", "%lsmagic")


def test_bad_magic_arguments_show_usage(shared_kernel):
    run = shared_kernel.execute("%%writefile\nbody")
    assert_error(run, "UsageError", "%%writefile [-a] PATH")
    assert_alive(shared_kernel)


#  ---- built-in magics ----

SPEC_MAGICS = ["%lsmagic", "%help", "%%bash", "%%writefile", "%%html",
               "%%markdown", "%%svg", "%time", "%%time", "%env", "%clear"]


def test_lsmagic(shared_kernel):
    run = shared_kernel.execute("%lsmagic")
    assert run.status == "ok"
    bundles = run.bundles("display_data")
    assert len(bundles) == 1
    text = bundles[0]["text/plain"]
    for name in SPEC_MAGICS:
        assert name in text, name


def _page(run):
    assert run.status == "ok", run
    payload = run.content["payload"]
    assert len(payload) == 1
    assert payload[0]["source"] == "page"
    assert payload[0]["start"] == 0
    return payload[0]["data"]["text/plain"]


def test_help(shared_kernel):
    text = _page(shared_kernel.execute("%help"))
    assert text.strip()


@pytest.mark.parametrize("name, usage", [
    ("writefile", "%%writefile [-a] PATH"),
    ("lsmagic", "%lsmagic"),
    ("env", "%env"),
])
def test_help_name(shared_kernel, name, usage):
    assert usage in _page(shared_kernel.execute(f"%help {name}"))


def test_bash_cell_magic_shares_the_session(kernel):
    (kernel.cwd / "sub").mkdir()
    run = kernel.execute("%%bash\ncd sub\nexport WB_FROM_BASH=yes\necho in-bash")
    assert run.status == "ok" and run.stdout == "in-bash\n"
    run = kernel.execute('pwd; echo "$WB_FROM_BASH"')
    assert run.stdout == os.path.realpath(kernel.cwd / "sub") + "\nyes\n"
    run = kernel.execute("%%bash\nexit 4")
    assert_error(run, "ShellError", "exit status 4")


def test_writefile(kernel):
    #  as in IPython, the file holds the cell's body as lines: each ends
    #  with a newline, so that appending adds a line
    path = kernel.cwd / "out.txt"
    run = kernel.execute("%%writefile out.txt\nline1")
    assert run.status == "ok"
    assert "Writing out.txt" in run.stdout
    assert path.read_text() == "line1\n"

    run = kernel.execute("%%writefile out.txt\nline2")
    assert "Overwriting out.txt" in run.stdout
    assert path.read_text() == "line2\n"

    run = kernel.execute("%%writefile -a out.txt\nline3\n")
    assert "Appending to out.txt" in run.stdout
    assert path.read_text() == "line2\nline3\n"


def test_writefile_is_relative_to_the_session_cwd(kernel):
    (kernel.cwd / "sub").mkdir()
    kernel.execute("cd sub")
    run = kernel.execute("%%writefile here.txt\nhello")
    assert run.status == "ok"
    assert (kernel.cwd / "sub" / "here.txt").read_text().rstrip("\n") == "hello"
    assert not (kernel.cwd / "here.txt").exists()
    assert kernel.execute("cat here.txt").stdout.rstrip("\n") == "hello"


def test_writefile_into_a_missing_folder_is_an_error(kernel):
    run = kernel.execute("%%writefile nosuch/dir/x.txt\nhello")
    assert run.status == "error"
    assert_alive(kernel)


@pytest.mark.parametrize("magic, body, mime", [
    ("html", "<b>hi</b>", "text/html"),
    ("markdown", "# Title\n\nsome *text*", "text/markdown"),
    ("svg", '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
            '<rect width="10" height="10"/></svg>', "image/svg+xml"),
])
def test_display_magics(shared_kernel, magic, body, mime):
    run = shared_kernel.execute(f"%%{magic}\n{body}")
    assert run.status == "ok"
    bundles = run.bundles("display_data")
    assert len(bundles) == 1
    assert body in bundles[0][mime]
    assert "text/plain" in bundles[0]


def test_time_line_magic(shared_kernel):
    run = shared_kernel.execute("%time echo timed")
    assert run.status == "ok"
    lines = run.stdout.splitlines()
    assert "timed" in lines
    wall = [line for line in lines if line.startswith("Wall time:")]
    assert wall and lines.index(wall[0]) > lines.index("timed")


def test_time_cell_magic(shared_kernel):
    run = shared_kernel.execute("%%time\nsleep 0.3\necho timed-cell")
    assert run.status == "ok"
    lines = run.stdout.splitlines()
    assert "timed-cell" in lines
    assert any(line.startswith("Wall time:") for line in lines)


def test_env_lists_the_session_env(kernel):
    kernel.execute("export WB_LISTED=xyz")
    run = kernel.execute("%env")
    assert run.status == "ok"
    lines = all_text(run).splitlines()
    assert any("WB_LISTED" in line and "xyz" in line for line in lines)
    assert any("HOME" in line for line in lines)


def test_env_get(kernel):
    kernel.execute("export WB_GET=hello")
    run = kernel.execute("%env WB_GET")
    assert run.status == "ok"
    results = run.bundles("execute_result")
    assert len(results) == 1
    assert results[0]["text/plain"] == "hello"


def test_env_set(kernel):
    run = kernel.execute("%env WB_SET=from-magic")
    assert run.status == "ok"
    assert kernel.execute('echo "$WB_SET"').stdout == "from-magic\n"
    assert kernel.execute("%env WB_SET").bundles("execute_result")[0][
        "text/plain"] == "from-magic"


def test_clear(shared_kernel):
    run = shared_kernel.execute("%clear")
    assert run.status == "ok"
    assert len(run.of_type("clear_output")) == 1


def test_magic_then_shell_in_one_cell(kernel):
    run = kernel.execute("%env WB_MIX=1\necho mixed-$WB_MIX")
    assert run.status == "ok"
    assert "mixed-1" in run.stdout


def test_long_output_arrives_whole(shared_kernel):
    run = shared_kernel.execute("seq 1 20000")
    assert run.status == "ok"
    assert run.stdout == "".join(f"{i}\n" for i in range(1, 20001))


def test_stdin_is_not_a_terminal_that_blocks(shared_kernel):
    #  a command that reads stdin must not hang the kernel
    run = shared_kernel.execute("cat", timeout=10 * TIME_FACTOR)
    assert run.status == "ok"


#  ---- cells of any size ----

def test_a_cell_over_128_kib_runs(kernel):
    """One argv word may not pass 128 KiB: the cell reaches bash another way,
    whole, with its line numbers and the session's state as usual."""
    code = ": xxxxxxxx\n" * 30000 + "cd /\necho \"done $LINENO\"\nwb_no_such_command"
    assert len(code.encode()) > 300 * 1024
    run = kernel.execute(code, timeout=60 * TIME_FACTOR)
    assert run.stdout == "done 30002\n", run.content
    assert "Argument list too long" not in run.stderr
    assert "line 30003" in run.stderr
    assert kernel.execute("pwd").stdout == "/\n"


#  ---- subcommands: one row each in the magic table ----

def test_subcommands_come_from_the_table(shared_kernel):
    """A subcommand's flags, arity and handler are its row of the table: a
    flag another subcommand takes is refused naming that one, the usage shown
    is the subcommand's, the default subcommand runs for the magic alone, and
    %help lists every subcommand's usage."""
    k = shared_kernel
    assert_error(k.execute("%job show somejob --follow"), "UsageError",
                 "--follow goes with %job logs", "usage: %job show RUN")
    assert_error(k.execute("%run end --name x"), "UsageError",
                 "--name goes with %run start", "usage: %run end")
    assert_error(k.execute("%job list extra"), "UsageError",
                 "%job list takes no other word, got 'extra'")
    assert_error(k.execute("%data register only-a-name"), "UsageError",
                 "%data register needs PATH", "usage: %data register NAME PATH")
    assert_error(k.execute("%endpoint traffic ep"), "UsageError",
                 "%endpoint traffic needs NAME=PERCENT")
    assert_error(k.execute("%job"), "UsageError", "say list, show, logs, wait or cancel")
    assert_error(k.execute("%model frobnicate"), "UsageError",
                 "unknown subcommand 'frobnicate': say register, list, show, alias, archive or export")
    assert_error(k.execute("%model --frob"), "UsageError", "unknown flag '--frob'",
                 "usage: %model list [--all]")
    #  The magic alone (and with the default's flags) is its default
    for code in ("%model", "%model --all", "%model list"):
        run = k.execute(code)
        assert run.status == "ok", (code, run)
    text = _page(k.execute("%help endpoint"))
    assert "Subcommands:" in text
    for usage in ("%endpoint list   (the default)", "%endpoint logs EP [--limit N]",
                  "%endpoint keys EP [--regenerate] [--key 1|2] [--json]"):
        assert usage in text, usage


def test_subcommand_flags_complete_from_their_row(shared_kernel):
    def matches(code):
        reply = shared_kernel.request("complete_request", {"code": code, "cursor_pos": len(code)})
        return reply["content"]["matches"]
    assert "--follow" in matches("%job logs x --f")
    assert "--follow" not in matches("%job show x --f")
    assert "--all" in matches("%model --a")
    assert set(matches("%sweep ")) >= {"list", "show", "cancel", "resume"}
