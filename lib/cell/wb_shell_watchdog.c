/*  wb_shell_watchdog - the running cell's processes die with the process
    that runs it, however it dies (kill -9, an abort)

    PR_SET_PDEATHSIG is not enough (it covers bash only, not the cell's own
    children, and it fires when the forking thread ends, not the process),
    so the first run forks a tiny watchdog process, in a process group of
    its own (a signal to our group, as Jupyter sends, does not reach it),
    holding the read end of a pipe whose only write end is ours. Before a
    run we tell it the run's process group, after it we tell it 0. When the
    pipe reports end of file with a group still running (we died), or when
    its parent is no longer us (a forked child elsewhere kept the write end
    open), it sends the group SIGTERM, then SIGKILL, and exits. Background
    jobs of cells that have finished are left alone, as they are while we
    live. Between fork and exit the watchdog makes only async-signal-safe
    calls.

    Part of wb_shell (wb_shell_int.h).
*/
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "wb_shell_int.h"
#include "base/wb_util.h"

#define S_WATCH_POLL_MS 250     //  how often the watchdog checks its parent
#define S_WATCH_GRACE_MS 500    //  watchdog: from SIGTERM to SIGKILL

//  ---- The watchdog ----

//  The watchdog's life (see the top): read process groups from watch_fd;
//  when it ends or parent is gone, stop the last one told. Only
//  async-signal-safe calls: we are a fork of a process with threads.
static void
s_watchdog (int watch_fd, pid_t parent, int fd_max)
{
    setpgid (0, 0);
    wb_shell__signals_default ();
    struct sigaction ignore;
    memset (&ignore, 0, sizeof (ignore));
    ignore.sa_handler = SIG_IGN;
    sigemptyset (&ignore.sa_mask);
    sigaction (SIGINT, &ignore, NULL);
    sigaction (SIGHUP, &ignore, NULL);
    sigaction (SIGPIPE, &ignore, NULL);
    if (dup2 (watch_fd, 0) < 0)
        _exit (1);
    wb_shell__close_from (1, -1, fd_max);
    pid_t group = 0;
    unsigned char message [sizeof (int32_t)];
    size_t have = 0;
    while (true) {
        struct pollfd item = { 0, POLLIN, 0 };
        int rc = poll (&item, 1, S_WATCH_POLL_MS);
        if (getppid () != parent)
            break;                  //  it died and someone else has us now
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0)
            break;
        if (rc == 0)
            continue;
        ssize_t got = read (0, message + have, sizeof (message) - have);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;                  //  end of file: it died (or is done with us)
        have += (size_t) got;
        if (have == sizeof (message)) {
            int32_t value;
            memcpy (&value, message, sizeof (value));
            group = (pid_t) value;
            have = 0;
        }
    }
    if (group > 0 && kill (-group, SIGTERM) == 0) {
        for (int waited = 0; waited < S_WATCH_GRACE_MS; waited += 10) {
            struct timespec pause = { 0, 10 * 1000 * 1000 };
            nanosleep (&pause, NULL);
            if (kill (-group, 0) < 0)
                break;
        }
        kill (-group, SIGKILL);
    }
    _exit (0);
}

//  Tell the watchdog which process group runs now (0: none), starting it
//  first if need be. A watchdog that cannot be had is not fatal: the run
//  goes on without (as it did before there was one).
void
wb_shell__watch (wb_shell_t *self, pid_t group, int fd_max)
{
    if (self->watchdog > 0 && self->watch_owner != getpid ()) {
        //  We are a fork of the process that started it: not ours
        if (self->watch_fd >= 0)
            close (self->watch_fd);
        self->watch_fd = -1;
        self->watchdog = 0;
    }
    if (self->watch_fd < 0 && group > 0) {
        if (self->watchdog > 0) {
            waitpid (self->watchdog, NULL, WNOHANG);
            self->watchdog = 0;
        }
        int fds [2];
        if (pipe2 (fds, O_CLOEXEC))
            return;
        pid_t parent = getpid ();
        pid_t pid = fork ();
        if (pid == 0) {
            close (fds [1]);
            s_watchdog (fds [0], parent, fd_max);
        }
        close (fds [0]);
        if (pid < 0) {
            close (fds [1]);
            return;
        }
        self->watchdog = pid;
        self->watch_fd = fds [1];
        self->watch_owner = parent;
    }
    if (self->watch_fd < 0)
        return;
    int32_t value = (int32_t) group;
    ssize_t rc;
    do
        rc = write (self->watch_fd, &value, sizeof (value));
    while (rc < 0 && errno == EINTR);
    if (rc != (ssize_t) sizeof (value)) {
        //  It is gone (EPIPE: SIGPIPE is blocked during a run): next run
        //  starts another one
        close (self->watch_fd);
        self->watch_fd = -1;
        waitpid (self->watchdog, NULL, WNOHANG);
        self->watchdog = 0;
    }
}

//  @selftest

//  True while pid runs (a zombie nobody reaps counts as gone)
static bool
s_test_alive (pid_t pid)
{
    char path [64];
    snprintf (path, sizeof (path), "/proc/%d/stat", (int) pid);
    char *stat_text = wb_file_read (path, NULL);
    if (!stat_text)
        return kill (pid, 0) == 0;
    const char *state = strrchr (stat_text, ')');
    bool alive = state && state [1] == ' ' && state [2] != 'Z' && state [2] != 'X';
    free (stat_text);
    return alive;
}
void
wb_shell_watchdog_test (bool verbose)
{
    char *scratch = wb_shell__test_scratch ();
    char *pid_file = wb_sprintf ("%s/bg.pid", scratch);
    wb_shell_result_t result;
    char *script;
    char *pid_text;
    pid_t pid;
    double start;
    //  A session whose watchdog runs (the first run starts it)
    wb_shell_t *shell = wb_shell_new ();
    assert (wb_shell_run (shell, "true", 0, NULL, NULL, &result, NULL) == 0);

    //  The cell's processes die with the process running it (kill -9)
    script = wb_sprintf ("sleep 300 & echo $! > %s; exec sleep 301", pid_file);
    unlink (pid_file);
    pid_t runner = fork ();
    if (runner == 0) {
        wb_shell_t *doomed = wb_shell_new ();
        wb_shell_run (doomed, script, 0, NULL, NULL, &result, NULL);
        _exit (0);
    }
    assert (runner > 0);
    free (script);
    for (int tries = 0; tries < 500 && access (pid_file, F_OK); tries++)
        usleep (10000);
    usleep (50000);
    pid_text = wb_file_read (pid_file, NULL);
    assert (pid_text);
    pid = (pid_t) atoi (pid_text);
    free (pid_text);
    assert (pid > 1 && kill (pid, 0) == 0);
    assert (kill (runner, SIGKILL) == 0);
    assert (waitpid (runner, NULL, 0) == runner);
    start = wb_time_mono ();
    while (s_test_alive (pid) && wb_time_mono () - start < 3)
        usleep (20000);
    if (verbose)
        printf ("  background sleep gone %.2f s after kill -9\n", wb_time_mono () - start);
    assert (!s_test_alive (pid));

    //  A fork of ours holding the watchdog's pipe does not hold up the end
    pid_t holder = fork ();
    if (holder == 0) {
        struct timespec pause = { 3, 0 };
        nanosleep (&pause, NULL);
        _exit (0);
    }
    assert (holder > 0);
    start = wb_time_mono ();
    wb_shell_destroy (&shell);
    assert (wb_time_mono () - start < 1);
    kill (holder, SIGKILL);
    waitpid (holder, NULL, 0);
    assert (shell == NULL);
    wb_shell_destroy (&shell);
    assert (unlink (pid_file) == 0);
    assert (rmdir (scratch) == 0);
    free (pid_file);
    free (scratch);
}
//  @end
