/*  wb_pool_process - a worker's process: fork+exec, its hello, frames on
    its pipes, its stderr read line by line into the log, ending it

    Part of wb_pool (wb_pool_int.h).
*/
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "wb_pool_int.h"
#include "base/wb_util.h"

#define S_FD_SCAN_MAX   65536   //  fds closed one by one without close_range
#define S_PIPE_SIZE     (1 << 20)
                                //  bytes the request pipe holds: a mini-batch of 1,000
                                //  rows x 64 numbers (512 KiB) goes in one write, where
                                //  64 KiB took 8, each waiting for the worker to read

//  ---- Waiting, reading and writing frames ----

//  Wait until fd is ready for events, the deadline (monotonic; 0 = none)
//  passes, or the pool stops and the grace after it passes
static int
s_wait (wb_pool__worker_t *self, int fd, short events, double deadline)
{
    while (true) {
        double now = wb_time_mono ();
        double until = deadline;
        bool stop_first = self->stop_by && (!until || self->stop_by < until);
        if (stop_first)
            until = self->stop_by;
        int timeout = -1;
        if (until) {
            if (now >= until)
                return stop_first? WB_POOL__IO_STOPPED: WB_POOL__IO_TIMEOUT;
            timeout = (int) ((until - now) * 1000) + 1;
        }
        struct pollfd fds [2] = {
            { fd, events, 0 },
            { self->stop_by? -1: self->pool->stop_fd, POLLIN, 0 }
        };
        int rc = poll (fds, 2, timeout);
        if (rc < 0 && errno != EINTR)
            return WB_POOL__IO_EOF;
        if (rc > 0 && fds [1].revents)
            self->stop_by = now + WB_POOL__STOP_GRACE;
        if (rc > 0 && fds [0].revents)
            return WB_POOL__IO_READY;
    }
}

static int
s_write_all (wb_pool__worker_t *self, const char *data, size_t size, double deadline)
{
    size_t done = 0;
    while (done < size) {
        ssize_t rc = write (self->to_fd, data + done, size - done);
        if (rc > 0)
            done += (size_t) rc;
        else
        if (rc < 0 && errno == EINTR)
            continue;
        else
        if (rc < 0 && errno == EAGAIN) {
            int ready = s_wait (self, self->to_fd, POLLOUT, deadline);
            if (ready != WB_POOL__IO_READY)
                return ready;
        }
        else
            return WB_POOL__IO_EOF;        //  EPIPE: it is gone
    }
    return WB_POOL__IO_READY;
}

static int
s_read_all (wb_pool__worker_t *self, char *data, size_t size, double deadline)
{
    size_t done = 0;
    while (done < size) {
        ssize_t rc = read (self->from_fd, data + done, size - done);
        if (rc > 0)
            done += (size_t) rc;
        else
        if (rc < 0 && errno == EINTR)
            continue;
        else
        if (rc < 0 && errno == EAGAIN) {
            int ready = s_wait (self, self->from_fd, POLLIN, deadline);
            if (ready != WB_POOL__IO_READY)
                return ready;
        }
        else
            return WB_POOL__IO_EOF;
    }
    return WB_POOL__IO_READY;
}

int
wb_pool__frame_write (wb_pool__worker_t *self, const char *text, size_t size, double deadline)
{
    assert (size <= WB_POOL__FRAME_MAX);
    unsigned char head [4] = {
        (unsigned char) (size >> 24), (unsigned char) (size >> 16),
        (unsigned char) (size >> 8), (unsigned char) size
    };
    int rc = s_write_all (self, (const char *) head, 4, deadline);
    return rc == WB_POOL__IO_READY? s_write_all (self, text, size, deadline): rc;
}

//  A frame into *frame_p (caller frees), its length in *size_p (also the
//  length announced, for WB_POOL__IO_TOO_BIG)
int
wb_pool__frame_read (wb_pool__worker_t *self, double deadline, char **frame_p, size_t *size_p)
{
    *frame_p = NULL;
    unsigned char head [4];
    int rc = s_read_all (self, (char *) head, 4, deadline);
    if (rc != WB_POOL__IO_READY)
        return rc;
    size_t size = (size_t) head [0] << 24 | (size_t) head [1] << 16
                | (size_t) head [2] << 8 | (size_t) head [3];
    *size_p = size;
    if (size > WB_POOL__FRAME_MAX)
        return WB_POOL__IO_TOO_BIG;
    char *frame = wb_malloc (size + 1);
    rc = s_read_all (self, frame, size, deadline);
    if (rc != WB_POOL__IO_READY) {
        free (frame);
        return rc;
    }
    frame [size] = 0;
    *frame_p = frame;
    return WB_POOL__IO_READY;
}

//  ---- Stderr: the log and the last lines ----

static void
s_tail_clear (wb_pool__worker_t *self)
{
    pthread_mutex_lock (&self->tail_lock);
    for (size_t index = 0; index < WB_POOL__TAIL; index++) {
        free (self->tail [index]);
        self->tail [index] = NULL;
    }
    self->ntail = 0;
    pthread_mutex_unlock (&self->tail_lock);
}

//  The last line (caller owns), or NULL
static char *
s_tail_last (wb_pool__worker_t *self)
{
    pthread_mutex_lock (&self->tail_lock);
    char *line = self->ntail? wb_strdup (self->tail [(self->ntail - 1) % WB_POOL__TAIL]): NULL;
    pthread_mutex_unlock (&self->tail_lock);
    return line;
}

//  The last lines, one a line (caller owns), or NULL
static char *
s_tail_text (wb_pool__worker_t *self)
{
    pthread_mutex_lock (&self->tail_lock);
    wb_buf_t *buf = self->ntail? wb_buf_new (): NULL;
    size_t first = self->ntail > WB_POOL__TAIL? self->ntail - WB_POOL__TAIL: 0;
    for (size_t index = first; index < self->ntail; index++) {
        wb_buf_puts (buf, self->tail [index % WB_POOL__TAIL]);
        wb_buf_puts (buf, "\n");
    }
    pthread_mutex_unlock (&self->tail_lock);
    return buf? wb_buf_detach (&buf): NULL;
}

//  One stderr line (line holds size bytes, size up to WB_POOL__LINE_MAX + 1
//  when it was longer): to the log, cut at a character's start, and to
//  the last lines
static void
s_stderr_line (wb_pool__worker_t *self, char *line, size_t size)
{
    bool cut = size > WB_POOL__LINE_MAX;
    if (cut) {
        size = WB_POOL__LINE_MAX;
        while (size && ((unsigned char) line [size] & 0xC0) == 0x80)
            size--;
    }
    else
    if (size && line [size - 1] == '\r')
        size--;
    wb_pool__log (self->pool, self->index, "%.*s%s", (int) size, line,
                  cut? " [cut: the line is longer than 4 KiB]": "");
    if (size == 0)
        return;
    pthread_mutex_lock (&self->tail_lock);
    size_t slot = self->ntail++ % WB_POOL__TAIL;
    free (self->tail [slot]);
    self->tail [slot] = wb_strndup (line, size);
    pthread_mutex_unlock (&self->tail_lock);
}

//  The stderr thread of one process, arg the worker: reads until EOF, or,
//  once told the process is gone (wake_fd), what is left in the pipe (a
//  child of the worker may hold it open)
static void *
s_stderr_thread (void *arg)
{
    wb_pool__worker_t *self = arg;
    char chunk [8192];
    char *line = wb_malloc (WB_POOL__LINE_MAX + 1);
    size_t length = 0;              //  bytes in line, WB_POOL__LINE_MAX + 1 = cut
    bool draining = false;
    while (true) {
        if (!draining) {
            struct pollfd fds [2] = { { self->err_fd, POLLIN, 0 }, { self->wake_fd, POLLIN, 0 } };
            if (poll (fds, 2, -1) < 0 && errno != EINTR)
                break;
            if (fds [1].revents)
                draining = true;
        }
        ssize_t got = read (self->err_fd, chunk, sizeof (chunk));
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && errno == EAGAIN) {
            if (draining)
                break;
            continue;
        }
        if (got <= 0)
            break;
        const char *next = chunk, *end = chunk + got;
        while (next < end) {
            const char *newline = memchr (next, '\n', (size_t) (end - next));
            size_t piece = (size_t) ((newline? newline: end) - next);
            size_t room = WB_POOL__LINE_MAX + 1 - length;
            size_t keep = piece < room? piece: room;
            memcpy (line + length, next, keep);
            length += keep;
            if (newline) {
                s_stderr_line (self, line, length);
                length = 0;
                next = newline + 1;
            }
            else
                next = end;
        }
    }
    if (length)
        s_stderr_line (self, line, length);
    free (line);
    return NULL;
}

//  ---- Starting and ending the process ----

//  What the child sends back on the report pipe when it cannot exec
static void
s_child_fail (int report_fd)
{
    int error = errno;
    ssize_t rc = write (report_fd, &error, sizeof (error));
    (void) rc;
    _exit (127);
}

//  In the child, between fork and exec: only async-signal-safe calls.
//  fds are the child's stdin, stdout and stderr.
static void
s_child (const int fds [3], int report_fd, pid_t parent, int fd_max,
         const char *path, char **argv, char **envp)
{
    //  Lift our fds above 0..2 first (one may be there when the server
    //  runs with those closed), then put them in place
    int report = fcntl (report_fd, F_DUPFD_CLOEXEC, 3);
    if (report < 0)
        _exit (127);
    int high [3];
    for (int index = 0; index < 3; index++)
        if ((high [index] = fcntl (fds [index], F_DUPFD_CLOEXEC, 3)) < 0)
            s_child_fail (report);
    //  dup2 clears close-on-exec on the new fd
    for (int index = 0; index < 3; index++)
        if (dup2 (high [index], index) < 0)
            s_child_fail (report);
    //  Nothing else of the server's (sockets, the workspace) goes on
#ifdef CLOSE_RANGE_CLOEXEC
    if (close_range (3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
#endif
        for (int fd = 3; fd < fd_max; fd++)
            if (fd != report)
                close (fd);
    //  Signals as a fresh process has them: the server blocks some
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
    //  Killed when the thread that started it ends (the server died)
    prctl (PR_SET_PDEATHSIG, SIGKILL);
    if (getppid () != parent)
        _exit (127);
    execve (path, argv, envp);
    s_child_fail (report);
}

static void
s_close (int *fd)
{
    if (*fd >= 0)
        close (*fd);
    *fd = -1;
}

//  Start the process and its stderr thread: 0, or -1 with err
static int
s_spawn (wb_pool__worker_t *self, wb_error_t *err)
{
    wb_pool_t *pool = self->pool;
    //  stdin, stdout, stderr, the exec report: all close-on-exec
    int pipes [4][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 }, { -1, -1 } };
    int wake = -1;
    for (int index = 0; index < 4; index++)
        if (pipe2 (pipes [index], O_CLOEXEC)) {
            wb_error_set (err, "cannot start a worker: cannot create a pipe (%s); close "
                          "some files or raise 'ulimit -n'", strerror (errno));
            goto fail;
        }
    if ((wake = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
        wb_error_set (err, "cannot start a worker: no eventfd (%s); close some files or "
                      "raise 'ulimit -n'", strerror (errno));
        goto fail;
    }
    long open_max = sysconf (_SC_OPEN_MAX);
    int fd_max = open_max > 0 && open_max < S_FD_SCAN_MAX? (int) open_max: S_FD_SCAN_MAX;
    const int child_fds [3] = { pipes [0][0], pipes [1][1], pipes [2][1] };
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid == 0)
        s_child (child_fds, pipes [3][1], parent, fd_max, pool->python, pool->argv, pool->envp);
    int fork_error = errno;
    s_close (&pipes [0][0]);
    s_close (&pipes [1][1]);
    s_close (&pipes [2][1]);
    s_close (&pipes [3][1]);
    if (pid < 0) {
        wb_error_set (err, "cannot start a worker: fork failed (%s); the system is short "
                      "of processes or memory", strerror (fork_error));
        goto fail;
    }
    //  The report pipe closes on exec: nothing read means Python runs
    int child_error = 0;
    ssize_t got;
    while ((got = read (pipes [3][0], &child_error, sizeof (child_error))) < 0 && errno == EINTR)
        ;
    if (got == (ssize_t) sizeof (child_error)) {
        while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
            ;
        wb_error_set (err, "cannot run the Python interpreter %s: %s; give the model "
                      "version one that exists (--python PATH)", pool->python,
                      strerror (child_error));
        goto fail;
    }
    s_close (&pipes [3][0]);
    self->pid = pid;
    self->to_fd = pipes [0][1];
    self->from_fd = pipes [1][0];
    self->err_fd = pipes [2][0];
    self->wake_fd = wake;
    for (int index = 0; index < 3; index++) {
        int fd = index == 0? self->to_fd: index == 1? self->from_fd: self->err_fd;
        fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_NONBLOCK);
    }
    //  Best effort: over /proc/sys/fs/pipe-max-size it stays 64 KiB
    fcntl (self->to_fd, F_SETPIPE_SZ, S_PIPE_SIZE);
    int rc = pthread_create (&self->err_thread, NULL, s_stderr_thread, self);
    self->err_running = rc == 0;
    if (rc)
        wb_pool__log (pool, self->index, "cannot read its stderr: no thread (%s)", strerror (rc));
    wb_pool__log (pool, self->index, "started (pid %d)", (int) pid);
    return 0;

fail:
    for (int index = 0; index < 4; index++) {
        s_close (&pipes [index][0]);
        s_close (&pipes [index][1]);
    }
    s_close (&wake);
    return -1;
}

//  End the process: close its stdin, give it grace seconds to exit, then
//  SIGKILL; reap it, close its pipes, join its stderr thread. How it ended
//  goes to how ("exited with status 3", "was killed by signal 9 (Killed)").
void
wb_pool__end (wb_pool__worker_t *self, double grace, char *how, size_t size)
{
    assert (self->pid > 0);
    s_close (&self->to_fd);
    int status = 0;
    pid_t got = 0;
    double until = wb_time_mono () + grace;
    while (grace > 0 && (got = waitpid (self->pid, &status, WNOHANG)) == 0
       &&  wb_time_mono () < until) {
        struct timespec pause = { 0, 5 * 1000 * 1000 };
        nanosleep (&pause, NULL);
    }
    //  (Not when someone else reaped it: the pid may be another's now)
    if (got == 0 || (got < 0 && errno != ECHILD)) {
        kill (self->pid, SIGKILL);
        while ((got = waitpid (self->pid, &status, 0)) < 0 && errno == EINTR)
            ;
    }
    if (got != self->pid)
        snprintf (how, size, "ended (its status was taken elsewhere)");
    else
    if (WIFEXITED (status))
        snprintf (how, size, "exited with status %d", WEXITSTATUS (status));
    else
    if (WIFSIGNALED (status)) {
        const char *name = sigdescr_np (WTERMSIG (status));
        snprintf (how, size, "was killed by signal %d (%s)", WTERMSIG (status),
                  name? name: "unknown");
    }
    else
        snprintf (how, size, "ended (status %d)", status);
    s_close (&self->from_fd);
    if (self->err_running) {
        uint64_t one = 1;
        ssize_t rc = write (self->wake_fd, &one, sizeof (one));
        (void) rc;
        pthread_join (self->err_thread, NULL);
        self->err_running = false;
    }
    s_close (&self->err_fd);
    s_close (&self->wake_fd);
    wb_pool__log (self->pool, self->index, "pid %d %s", (int) self->pid, how);
    self->pid = 0;
}

//  Start a process and wait for its hello: 0 with *hello_p (caller owns),
//  or -1 with err and *detail_p (the traceback or last stderr lines, or
//  NULL; caller frees)
int
wb_pool__start (wb_pool__worker_t *self, json_t **hello_p, char **detail_p, wb_error_t *err)
{
    wb_pool_t *pool = self->pool;
    *hello_p = NULL;
    *detail_p = NULL;
    s_tail_clear (self);
    double began = wb_time_mono ();
    self->starts [self->nstarts++ % WB_POOL__BURST] = began;
    if (s_spawn (self, err))
        return -1;
    char *frame = NULL;
    size_t size = 0;
    int rc = wb_pool__frame_read (self, began + pool->start_timeout, &frame, &size);
    json_t *hello = rc == WB_POOL__IO_READY? json_loadb (frame, size, 0, NULL): NULL;
    free (frame);
    if (json_is_object (hello) && json_is_true (json_object_get (hello, "ready"))) {
        self->batch = json_is_true (json_object_get (hello, "batch"));
        self->next_id = 0;
        wb_pool__log (pool, self->index, "ready in %.2f s", wb_time_mono () - began);
        *hello_p = hello;
        return 0;
    }
    char how [128];
    if (json_is_object (hello)) {
        //  ready: false, with the loader's error and traceback
        const char *error = json_string_value (json_object_get (hello, "error"));
        const char *traceback = json_string_value (json_object_get (hello, "traceback"));
        wb_error_set (err, "%s", error? error: "the worker was not ready and did not say why");
        *detail_p = traceback? wb_strdup (traceback): NULL;
        wb_pool__end (self, WB_POOL__EXIT_WAIT, how, sizeof (how));
    }
    else {
        wb_pool__end (self, rc == WB_POOL__IO_EOF? WB_POOL__EXIT_WAIT: 0, how, sizeof (how));
        char *last = s_tail_last (self);
        char what [256];
        if (rc == WB_POOL__IO_EOF)
            snprintf (what, sizeof (what), "%s before it was ready", how);
        else
        if (rc == WB_POOL__IO_TIMEOUT)
            snprintf (what, sizeof (what), "was not ready within %g s (the start timeout)",
                      pool->start_timeout);
        else
        if (rc == WB_POOL__IO_STOPPED)
            snprintf (what, sizeof (what), "was stopped before it was ready");
        else
        if (rc == WB_POOL__IO_TOO_BIG)
            snprintf (what, sizeof (what), "sent a first message of %zu bytes, over the "
                      "256 MiB limit", size);
        else
            snprintf (what, sizeof (what), "sent a first message that is not a JSON hello");
        if (last)
            wb_error_set (err, "the worker %s: %s", what, last);
        else
            wb_error_set (err, "the worker %s (it wrote nothing on stderr)", what);
        free (last);
        *detail_p = s_tail_text (self);
    }
    json_decref (hello);
    wb_pool__log (pool, self->index, "not ready: %s", err->text);
    return -1;
}
