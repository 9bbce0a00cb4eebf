/*  wb_shell_run - running a script in the shell session

    Every run is a fresh `bash -c` in its own process group. The -c text is
    always the same two lines' worth of glue on one line: an EXIT trap that
    writes "cwd\n\0NAME=VALUE\0..." to fd 3 (a third pipe beside stdout and
    stderr), then the script, read whole from fd 4 (a pipe we write it to
    as bash reads it) and run by eval on that same line 1, so that bash's
    line numbers and its "workbench: line N:" messages are the script's own.
    The script does not go in argv: one argument may not pass 128 KiB
    (MAX_ARG_STRLEN), and a cell may. When the state arrives whole, it
    becomes the session's directory and environment; when it does not (a
    killed shell, a script that replaced the trap or closed fd 3) the
    session keeps what it had.

    We stop waiting when bash itself exits, not when the pipes close, so a
    background job (`server &`) that keeps them open does not hang the cell.

    Part of wb_shell (wb_shell_int.h).
*/
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "wb_shell_int.h"
#include "base/wb_interrupt.h"
#include "base/wb_util.h"

//  The first line of every script. `builtin` and `command -p` keep user
//  functions named pwd/printf/env/exit, and a PATH without /usr/bin, from
//  breaking it. stderr goes to /dev/null before stdout goes to fd 3, so a
//  script that closed fd 3 gets no error message from us.
#define S_TRAP  "trap '__wb_rc=$?; { builtin pwd; builtin printf \"\\0\"; " \
                "command -p env -0; } 2>/dev/null >&3; builtin exit $__wb_rc' EXIT; "

//  Then the script: read whole from fd 4 (with an "x" we append, so that
//  $(<) keeps its trailing newlines) and run by eval, with fd 4 closed, on
//  this same line, which makes the script's line N bash's line N.
#define S_RUN   "__wb_cell=$(< /dev/fd/4); " \
                "builtin eval \"builtin unset __wb_cell; ${__wb_cell%x}\" 4<&-"

#define S_POLL_MS       50      //  longest wait in one poll round
#define S_KILL_DELAY    0.5     //  seconds from SIGINT/SIGTERM to SIGKILL
#define S_READ_CAP      (1024 * 1024)   //  most bytes read per stream per round
#define S_DRAIN_ROUNDS  4       //  non-blocking reads once bash has exited
#define S_FD_SCAN_MAX   65536   //  fds closed one by one without close_range

//  ---- Running a script ----

//  What the child sends back on the exec pipe when it cannot run bash
typedef struct {
    int stage;                  //  S_STAGE_*: the step that failed
    int error;                  //  errno of that step
} s_report_t;

enum { S_STAGE_FDS = 1, S_STAGE_CHDIR, S_STAGE_EXEC };

//  The pipes of one run. The child gets the write end of each but the
//  script pipe, of which it gets the read end (fd 4).
enum { S_PIPE_OUT, S_PIPE_ERR, S_PIPE_STATE, S_PIPE_SCRIPT, S_PIPE_REPORT, S_PIPES };

//  One pipe from the child, read by the parent
typedef struct {
    int fd;                     //  read end, -1 once closed
    const char *name;           //  "stdout"/"stderr", NULL for the state pipe
    wb_buf_t *buf;              //  bytes read and not yet delivered
} s_stream_t;

#define S_STREAMS 3

//  The script on its way to bash's fd 4
typedef struct {
    int fd;                     //  write end, -1 once all is written (or bash left)
    const char *data;           //  the script and its closing "x"
    size_t size;                //  bytes in data
    size_t done;                //  bytes written so far
} s_writer_t;

//  The path of bash: /bin/bash, else the first bash on the session's PATH.
//  Caller owns the return value; NULL if there is none.
static char *
s_find_bash (wb_shell_t *self)
{
    if (access ("/bin/bash", X_OK) == 0)
        return wb_strdup ("/bin/bash");
    const char *path = wb_shell_getenv (self, "PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (true) {
        size_t len = strcspn (path, ":");
        char *dir = len? wb_strndup (path, len): wb_strdup (".");
        char *relative = wb_sprintf ("%s/bash", dir);
        char *candidate = wb_shell_path (self, relative);
        free (dir);
        free (relative);
        struct stat info;
        if (stat (candidate, &info) == 0 && S_ISREG (info.st_mode)
        &&  access (candidate, X_OK) == 0)
            return candidate;
        free (candidate);
        if (path [len] == 0)
            return NULL;
        path += len + 1;
    }
}

//  Close every fd from first up, but keep (async-signal-safe).
void
wb_shell__close_from (int first, int keep, int fd_max)
{
#ifdef CLOSE_RANGE_CLOEXEC
    if (keep < first && close_range ((unsigned) first, ~0U, 0) == 0)
        return;
#endif
    for (int fd = first; fd < fd_max; fd++)
        if (fd != keep)
            close (fd);
}

//  Tell the parent why we could not run bash, and give up.
static void
s_child_fail (int report_fd, int stage)
{
    s_report_t report = { stage, errno };
    ssize_t rc = write (report_fd, &report, sizeof (report));
    (void) rc;
    _exit (127);
}

//  Signals as a fresh process has them (async-signal-safe).
void
wb_shell__signals_default (void)
{
    struct sigaction action;
    memset (&action, 0, sizeof (action));
    action.sa_handler = SIG_DFL;
    sigemptyset (&action.sa_mask);
    for (int signum = 1; signum < NSIG; signum++)
        if (signum != SIGKILL && signum != SIGSTOP)
            sigaction (signum, &action, NULL);
    sigset_t none;
    sigemptyset (&none);
    sigprocmask (SIG_SETMASK, &none, NULL);
}

//  In the child, between fork and exec: only async-signal-safe calls.
//  fds holds the child's ends of the pipes, in S_PIPE_* order.
static void
s_child (const char *cwd, int fds [S_PIPES], int fd_max,
         const char *bash, char **argv, char **envp)
{
    setpgid (0, 0);
    //  Move our pipes above the fds we set up (they may be 0..4 when the
    //  parent runs with stdin closed), then put them in place
    int high [S_PIPES + 1];
    for (int index = 0; index < S_PIPES; index++)
        high [index] = fcntl (fds [index], F_DUPFD_CLOEXEC, 10);
    int null_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
    high [S_PIPES] = null_fd < 0? -1: fcntl (null_fd, F_DUPFD_CLOEXEC, 10);
    int report_fd = high [S_PIPE_REPORT];
    if (report_fd < 0)
        _exit (127);
    for (int index = 0; index <= S_PIPES; index++)
        if (high [index] < 0)
            s_child_fail (report_fd, S_STAGE_FDS);
    //  dup2 clears close-on-exec on the new fd
    if (dup2 (high [S_PIPES], 0) < 0 || dup2 (high [S_PIPE_OUT], 1) < 0
    ||  dup2 (high [S_PIPE_ERR], 2) < 0 || dup2 (high [S_PIPE_STATE], 3) < 0
    ||  dup2 (high [S_PIPE_SCRIPT], 4) < 0)
        s_child_fail (report_fd, S_STAGE_FDS);
    //  Nothing else of ours (sockets, files) goes on to the script
#ifdef CLOSE_RANGE_CLOEXEC
    if (close_range (5, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
#endif
        wb_shell__close_from (5, report_fd, fd_max);
    wb_shell__signals_default ();
    if (chdir (cwd))
        s_child_fail (report_fd, S_STAGE_CHDIR);
    execve (bash, argv, envp);
    s_child_fail (report_fd, S_STAGE_EXEC);
}

//  ---- Pumping the pipes ----

//  Write what the pipe takes of the script; close it when all is written
//  or bash will not read any more.
static void
s_write_some (s_writer_t *writer)
{
    while (writer->done < writer->size) {
        ssize_t rc = write (writer->fd, writer->data + writer->done,
                            writer->size - writer->done);
        if (rc > 0)
            writer->done += (size_t) rc;
        else
        if (rc < 0 && errno == EINTR)
            continue;
        else
        if (rc < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        else
            break;                  //  EPIPE: bash is gone or closed fd 4
    }
    close (writer->fd);
    writer->fd = -1;
}

//  Wait up to timeout_ms for output (or room for the script), read what
//  there is, write what fits, and hand stdout/stderr to fn. Returns how
//  many streams had something to say.
static int
s_pump (s_stream_t *streams, s_writer_t *writer, int timeout_ms,
        wb_shell_output_fn *fn, void *arg)
{
    struct pollfd items [S_STREAMS + 1];
    s_stream_t *owners [S_STREAMS];
    nfds_t count = 0;
    for (int index = 0; index < S_STREAMS; index++)
        if (streams [index].fd >= 0) {
            items [count].fd = streams [index].fd;
            items [count].events = POLLIN;
            items [count].revents = 0;
            owners [count++] = &streams [index];
        }
    nfds_t readers = count;
    if (writer->fd >= 0) {
        items [count].fd = writer->fd;
        items [count].events = POLLOUT;
        items [count++].revents = 0;
    }
    if (poll (items, count, timeout_ms) <= 0)
        return 0;                   //  nothing, or EINTR: caller loops
    if (writer->fd >= 0 && items [readers].revents)
        s_write_some (writer);

    int active = 0;
    for (nfds_t index = 0; index < readers; index++) {
        if (!items [index].revents)
            continue;
        active++;
        s_stream_t *stream = owners [index];
        size_t total = 0;
        while (total < S_READ_CAP) {
            char chunk [65536];
            ssize_t got = read (stream->fd, chunk, sizeof (chunk));
            if (got > 0) {
                wb_buf_append (stream->buf, chunk, (size_t) got);
                total += (size_t) got;
            }
            else
            if (got < 0 && errno == EINTR)
                continue;
            else {
                if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                    close (stream->fd);     //  end of file, or broken
                    stream->fd = -1;
                }
                break;
            }
        }
    }
    for (int index = 0; index < S_STREAMS; index++) {
        s_stream_t *stream = &streams [index];
        if (stream->name && wb_buf_size (stream->buf)) {
            if (fn)
                fn (arg, stream->name, wb_buf_data (stream->buf),
                    wb_buf_size (stream->buf));
            wb_buf_reset (stream->buf);
        }
    }
    return active;
}

static void
s_close_pipes (int pipes [S_PIPES][2])
{
    for (int index = 0; index < S_PIPES; index++)
        for (int end = 0; end < 2; end++)
            if (pipes [index][end] >= 0) {
                close (pipes [index][end]);
                pipes [index][end] = -1;
            }
}

//  Why the child could not run bash, as a message for err.
static int
s_report_error (wb_error_t *err, const s_report_t *report,
                const char *bash, const char *cwd)
{
    const char *reason = strerror (report->error);
    if (report->stage == S_STAGE_CHDIR)
        return wb_error_set (err, "cannot run shell: cannot enter '%s' (%s); "
                             "change to another directory with %%cd", cwd, reason);
    if (report->stage == S_STAGE_EXEC)
        return wb_error_set (err, "cannot run shell: cannot execute %s (%s); "
                             "check that bash is installed and runnable", bash, reason);
    return wb_error_set (err, "cannot run shell: cannot set up its input and "
                         "output (%s); close some files or raise 'ulimit -n'", reason);
}

//  Run the started bash (pid) to its end: feed it the script, stream its
//  output, stop it on interrupt or timeout, take back its state.
static void
s_supervise (wb_shell_t *self, pid_t pid, s_stream_t *streams, s_writer_t *writer,
             double timeout, wb_shell_output_fn *fn, void *arg,
             wb_shell_result_t *result)
{
    double start = wb_time_mono ();
    double signalled = 0;           //  when SIGINT/SIGTERM went out, 0 if not
    bool killed = false;            //  SIGKILL went out
    bool reaped = false;            //  bash has exited and been waited for
    int wait_status = 0;
    int idle_ms = 1;                //  wait while all pipes are closed
    s_write_some (writer);          //  a small script goes at once
    while (true) {
        double now = wb_time_mono ();
        if (!signalled) {
            if (wb_interrupted) {
                kill (-pid, SIGINT);
                result->interrupted = true;
                signalled = now;
            }
            else
            if (timeout > 0 && now - start >= timeout) {
                kill (-pid, SIGTERM);
                result->timed_out = true;
                signalled = now;
            }
        }
        else
        if (!killed && now - signalled >= S_KILL_DELAY) {
            kill (-pid, SIGKILL);
            killed = true;
        }
        if (!reaped) {
            pid_t rc = waitpid (pid, &wait_status, WNOHANG);
            if (rc == pid || (rc < 0 && errno == ECHILD))
                reaped = true;
        }
        //  Done when bash is; once we have stopped the cell, also wait for
        //  the rest of its group until it is time for SIGKILL
        if (reaped && (!signalled || killed || kill (-pid, 0) < 0))
            break;

        bool open = false;
        for (int index = 0; index < S_STREAMS; index++)
            if (streams [index].fd >= 0)
                open = true;
        int wait_ms = S_POLL_MS;
        if (!open) {
            wait_ms = idle_ms;      //  pipes closed: bash is about to exit
            idle_ms = idle_ms * 2 < S_POLL_MS? idle_ms * 2: S_POLL_MS;
        }
        if (!signalled && timeout > 0) {
            double left = (start + timeout - now) * 1000;
            if (left < wait_ms)
                wait_ms = left > 0? (int) left + 1: 0;
        }
        s_pump (streams, writer, wait_ms, fn, arg);
    }
    if (writer->fd >= 0) {
        close (writer->fd);
        writer->fd = -1;
    }
    //  What is left in the pipes, without waiting for background jobs
    for (int round = 0; round < S_DRAIN_ROUNDS; round++)
        if (s_pump (streams, writer, 0, fn, arg) == 0)
            break;

    if (WIFEXITED (wait_status))
        result->status = WEXITSTATUS (wait_status);
    else
    if (WIFSIGNALED (wait_status))
        result->status = 128 + WTERMSIG (wait_status);
    wb_shell__state_apply (self, wb_buf_data (streams [2].buf), wb_buf_size (streams [2].buf));
}

int
wb_shell_run (wb_shell_t *self, const char *script, double timeout,
              wb_shell_output_fn *fn, void *arg,
              wb_shell_result_t *result, wb_error_t *err)
{
    assert (self);
    assert (script);
    assert (result);
    memset (result, 0, sizeof (*result));

    struct stat info;
    int cwd_error = stat (self->cwd, &info)? errno
                  : S_ISDIR (info.st_mode)? 0: ENOTDIR;
    if (cwd_error)
        return wb_error_set (err, "cannot run shell: working directory '%s' "
                             "is gone (%s); change to another one with %%cd",
                             self->cwd, strerror (cwd_error));
    char *bash = s_find_bash (self);
    if (!bash)
        return wb_error_set (err, "cannot run shell: bash is not in /bin or on "
                             "PATH; install it (apt-get install bash) or fix PATH");

    //  All close-on-exec; the child dup2s its ends into place
    int pipes [S_PIPES][2];
    for (int index = 0; index < S_PIPES; index++)
        pipes [index][0] = pipes [index][1] = -1;
    for (int index = 0; index < S_PIPES; index++)
        if (pipe2 (pipes [index], O_CLOEXEC)) {
            int error = errno;
            s_close_pipes (pipes);
            free (bash);
            return wb_error_set (err, "cannot run shell: cannot create a pipe "
                                 "(%s); close some files or raise 'ulimit -n'",
                                 strerror (error));
        }

    //  Everything the child needs, made before fork (no malloc after it)
    char *argv [] = { "bash", "-c", S_TRAP S_RUN, "workbench", NULL };
    //  PWD tells bash the logical directory (through symlinks, as cd left it)
    char *pwd_entry = wb_sprintf ("PWD=%s", self->cwd);
    char **envp = wb_malloc ((self->env_size + 2) * sizeof (char *));
    size_t envc = 0;
    for (size_t index = 0; index < self->env_size; index++)
        if (wb_shell__name_cmp (self->env [index], "PWD", 3))
            envp [envc++] = self->env [index];
    envp [envc++] = pwd_entry;
    envp [envc] = NULL;
    int fd_max = S_FD_SCAN_MAX;
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < (rlim_t) fd_max)
        fd_max = (int) limit.rlim_cur;
    int child_fds [S_PIPES];
    for (int index = 0; index < S_PIPES; index++)
        child_fds [index] = pipes [index][index == S_PIPE_SCRIPT? 0: 1];

    //  A bash gone before it read the whole script must not kill us with
    //  SIGPIPE: blocked for this thread during the run (the children set
    //  their own mask), a pending one taken off at the end
    sigset_t pipe_set, saved_mask;
    sigemptyset (&pipe_set);
    sigaddset (&pipe_set, SIGPIPE);
    pthread_sigmask (SIG_BLOCK, &pipe_set, &saved_mask);

    pid_t pid = fork ();
    if (pid == 0)
        s_child (self->cwd, child_fds, fd_max, bash, argv, envp);
    int fork_error = errno;
    free (envp);
    free (pwd_entry);
    if (pid < 0) {
        s_close_pipes (pipes);
        free (bash);
        pthread_sigmask (SIG_SETMASK, &saved_mask, NULL);
        return wb_error_set (err, "cannot run shell: fork failed (%s); the "
                             "system is short of processes or memory, stop "
                             "some and try again", strerror (fork_error));
    }
    setpgid (pid, pid);             //  also in the child: whoever runs first
    for (int index = 0; index < S_PIPES; index++) {
        close (child_fds [index]);
        pipes [index][index == S_PIPE_SCRIPT? 0: 1] = -1;
    }
    wb_shell__watch (self, pid, fd_max);

    //  The report pipe closes on exec: nothing read means bash is running
    s_report_t report;
    size_t got = 0;
    while (got < sizeof (report)) {
        ssize_t rc = read (pipes [S_PIPE_REPORT][0], (char *) &report + got,
                           sizeof (report) - got);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            break;
        got += (size_t) rc;
    }
    int rc = 0;
    if (got == sizeof (report)) {
        while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
            ;
        s_close_pipes (pipes);
        rc = s_report_error (err, &report, bash, self->cwd);
    }
    else {
        s_stream_t streams [S_STREAMS] = {
            { pipes [S_PIPE_OUT][0],   "stdout", wb_buf_new () },
            { pipes [S_PIPE_ERR][0],   "stderr", wb_buf_new () },
            { pipes [S_PIPE_STATE][0], NULL,     wb_buf_new () }
        };
        char *text = wb_sprintf ("%sx", script);
        s_writer_t writer = { pipes [S_PIPE_SCRIPT][1], text, strlen (text), 0 };
        for (int index = 0; index < S_PIPES; index++) {
            if (index != S_PIPE_REPORT) {
                int fd = pipes [index][index == S_PIPE_SCRIPT? 1: 0];
                fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_NONBLOCK);
            }
            if (index != S_PIPE_REPORT)
                pipes [index][0] = pipes [index][1] = -1;   //  streams and writer own them
        }
        s_close_pipes (pipes);
        s_supervise (self, pid, streams, &writer, timeout, fn, arg, result);
        for (int index = 0; index < S_STREAMS; index++) {
            if (streams [index].fd >= 0)
                close (streams [index].fd);
            wb_buf_destroy (&streams [index].buf);
        }
        free (text);
    }
    wb_shell__watch (self, 0, fd_max);
    free (bash);
    sigset_t pending;
    if (sigpending (&pending) == 0 && sigismember (&pending, SIGPIPE)) {
        struct timespec now = { 0, 0 };
        sigtimedwait (&pipe_set, NULL, &now);
    }
    pthread_sigmask (SIG_SETMASK, &saved_mask, NULL);
    return rc;
}

//  @selftest

//  Output of one run, as the test saw it
typedef struct {
    wb_buf_t *out;              //  all of stdout
    wb_buf_t *err;              //  all of stderr
    double a_at;                //  when "a\n" arrived on stdout, 0 if not
    double b_at;                //  when "b\n" arrived on stdout, 0 if not
} s_capture_t;

static void
s_capture (void *arg, const char *name, const char *data, size_t size)
{
    s_capture_t *capture = (s_capture_t *) arg;
    assert (size > 0);
    if (streq (name, "stdout")) {
        wb_buf_append (capture->out, data, size);
        const char *text = wb_buf_data (capture->out);
        if (!capture->a_at && strstr (text, "a\n"))
            capture->a_at = wb_time_mono ();
        if (!capture->b_at && strstr (text, "b\n"))
            capture->b_at = wb_time_mono ();
    }
    else {
        assert (streq (name, "stderr"));
        wb_buf_append (capture->err, data, size);
    }
}

//  Run script, which must start; returns its exit status.
static int
s_test_run (wb_shell_t *shell, const char *script, double timeout,
            s_capture_t *capture, wb_shell_result_t *result, bool verbose)
{
    wb_buf_reset (capture->out);
    wb_buf_reset (capture->err);
    capture->a_at = capture->b_at = 0;
    wb_error_t err = { "" };
    int rc = wb_shell_run (shell, script, timeout, s_capture, capture, result, &err);
    if (verbose)
        printf ("  $ %s\n  -> rc=%d status=%d out='%s' err='%s' %s\n", script, rc,
                result->status, wb_buf_data (capture->out),
                wb_buf_data (capture->err), err.text);
    assert (rc == 0);
    return result->status;
}

static void *
s_test_interrupter (void *arg)
{
    (void) arg;
    struct timespec pause = { 0, 200 * 1000 * 1000 };
    nanosleep (&pause, NULL);
    wb_interrupt_raise ();
    return NULL;
}

void
wb_shell_run_test (bool verbose)
{
    char *scratch = wb_shell__test_scratch ();
    char *sub = wb_sprintf ("%s/sub", scratch);
    char *pid_file = wb_sprintf ("%s/bg.pid", scratch);
    char *gone = wb_sprintf ("%s/gone", scratch);
    assert (mkdir (sub, 0700) == 0);

    s_capture_t capture = { wb_buf_new (), wb_buf_new (), 0, 0 };
    wb_shell_result_t result;
    wb_error_t err = { "" };
    char *script;
    wb_shell_t *shell = wb_shell_new ();
    assert (wb_shell_chdir (shell, scratch, &err) == 0);
    assert (streq (wb_shell_cwd (shell), scratch));

    //  Streams and exit status
    assert (s_test_run (shell, "echo out; echo err >&2", 0,
                        &capture, &result, verbose) == 0);
    assert (streq (wb_buf_data (capture.out), "out\n"));
    assert (streq (wb_buf_data (capture.err), "err\n"));
    assert (!result.interrupted && !result.timed_out);
    assert (s_test_run (shell, "false", 0, &capture, &result, verbose) == 1);
    assert (wb_shell_run (shell, "echo quiet", 0, NULL, NULL, &result, &err) == 0);

    //  Exported variables persist, others do not
    assert (s_test_run (shell, "export FOO=bar; LOCAL=1", 0,
                        &capture, &result, verbose) == 0);
    assert (streq (wb_shell_getenv (shell, "FOO"), "bar"));
    assert (wb_shell_getenv (shell, "LOCAL") == NULL);
    assert (wb_shell_getenv (shell, "SHLVL") == NULL);
    assert (wb_shell_getenv (shell, "_") == NULL);
    assert (wb_shell_getenv (shell, "__wb_rc") == NULL);
    s_test_run (shell, "echo $FOO ${LOCAL:-unset}", 0, &capture, &result, verbose);
    assert (streq (wb_buf_data (capture.out), "bar unset\n"));
    s_test_run (shell, "unset FOO", 0, &capture, &result, verbose);
    assert (wb_shell_getenv (shell, "FOO") == NULL);

    //  The directory persists, also through exit N
    script = wb_sprintf ("cd %s; export KEEP=1; exit 3", sub);
    assert (s_test_run (shell, script, 0, &capture, &result, verbose) == 3);
    free (script);
    assert (streq (wb_shell_cwd (shell), sub));
    assert (streq (wb_shell_getenv (shell, "KEEP"), "1"));
    s_test_run (shell, "pwd", 0, &capture, &result, verbose);
    assert (wb_starts_with (wb_buf_data (capture.out), sub));

    //  Scripts that start with a comment, an if, a heredoc; line numbers
    s_test_run (shell, "# note\necho one", 0, &capture, &result, verbose);
    assert (streq (wb_buf_data (capture.out), "one\n"));
    s_test_run (shell, "if true; then echo two; fi", 0, &capture, &result, verbose);
    assert (streq (wb_buf_data (capture.out), "two\n"));
    s_test_run (shell, "cat <<EOF\nthree\nEOF", 0, &capture, &result, verbose);
    assert (streq (wb_buf_data (capture.out), "three\n"));
    assert (s_test_run (shell, "true\nwb_no_such_command", 0,
                        &capture, &result, verbose) == 127);
    assert (strstr (wb_buf_data (capture.err), "line 2"));

    //  A syntax error keeps the state as it was
    assert (s_test_run (shell, "if then fi", 0, &capture, &result, verbose) == 2);
    assert (streq (wb_shell_cwd (shell), sub));
    assert (streq (wb_shell_getenv (shell, "KEEP"), "1"));

    //  The session's environment reaches the script
    wb_shell_setenv (shell, "WB_TEST", "x y");
    s_test_run (shell, "echo \"$WB_TEST\"", 0, &capture, &result, verbose);
    assert (streq (wb_buf_data (capture.out), "x y\n"));
    wb_shell_setenv (shell, "WB_TEST", NULL);

    //  A directory that vanished: the run does not start
    assert (mkdir (gone, 0700) == 0);
    assert (wb_shell_chdir (shell, gone, NULL) == 0);
    assert (rmdir (gone) == 0);
    wb_error_clear (&err);
    assert (wb_shell_run (shell, "true", 0, NULL, NULL, &result, &err) == -1);
    assert (strstr (err.text, gone) && strstr (err.text, "%cd"));
    assert (wb_shell_chdir (shell, scratch, NULL) == 0);

    //  Output streams as it comes
    s_test_run (shell, "echo a; sleep 0.5; echo b", 0, &capture, &result, verbose);
    assert (capture.a_at > 0 && capture.b_at > 0);
    assert (capture.b_at - capture.a_at >= 0.3);

    //  Interrupt: SIGINT to the group, and we are back at once
    assert (!wb_interrupted);
    pthread_t thread;
    assert (pthread_create (&thread, NULL, s_test_interrupter, NULL) == 0);
    double start = wb_time_mono ();
    s_test_run (shell, "sleep 30", 0, &capture, &result, verbose);
    double elapsed = wb_time_mono () - start;
    pthread_join (thread, NULL);
    assert (result.interrupted && !result.timed_out);
    assert (result.status > 128);
    assert (elapsed < 1.5);
    wb_interrupt_clear ();

    //  Timeout
    start = wb_time_mono ();
    s_test_run (shell, "sleep 30", 0.3, &capture, &result, verbose);
    elapsed = wb_time_mono () - start;
    assert (result.timed_out && !result.interrupted);
    assert (result.status > 128);
    assert (elapsed >= 0.3 && elapsed < 1.5);

    //  A background job holding the pipes does not hold up the run
    script = wb_sprintf ("sleep 100 & echo $! > %s; echo done", pid_file);
    start = wb_time_mono ();
    assert (s_test_run (shell, script, 0, &capture, &result, verbose) == 0);
    elapsed = wb_time_mono () - start;
    free (script);
    assert (elapsed < 2);
    assert (streq (wb_buf_data (capture.out), "done\n"));
    char *pid_text = wb_file_read (pid_file, NULL);
    assert (pid_text);
    pid_t pid = (pid_t) atoi (pid_text);
    assert (pid > 1);
    assert (kill (pid, SIGKILL) == 0);
    free (pid_text);

    //  A script far over one argument's 128 KiB, its last newline kept
    wb_buf_t *big = wb_buf_new ();
    for (int line = 0; line < 30000; line++)
        wb_buf_puts (big, ": xxxxxxxx\n");
    wb_buf_puts (big, "echo \"done $LINENO\"; echo a \\\n");
    assert (wb_buf_size (big) > 300 * 1024);
    assert (s_test_run (shell, wb_buf_data (big), 0, &capture, &result, false) == 0);
    assert (streq (wb_buf_data (capture.out), "done 30001\na\n"));
    wb_buf_destroy (&big);
    //  The script's pipe is not left open in it; the glue's variable is gone
    s_test_run (shell, "[ -e /proc/self/fd/4 ] && echo open; echo \"${__wb_cell-unset}\"",
                0, &capture, &result, verbose);
    assert (streq (wb_buf_data (capture.out), "unset\n"));

    wb_shell_destroy (&shell);
    wb_buf_destroy (&capture.out);
    wb_buf_destroy (&capture.err);
    assert (unlink (pid_file) == 0);
    assert (rmdir (sub) == 0);
    assert (rmdir (scratch) == 0);
    free (pid_file);
    free (gone);
    free (sub);
    free (scratch);
}
//  @end
