/*  wb_shell - the shell half of the cell language: a bash session whose
    working directory and exported environment persist from cell to cell

    Every run is a fresh `bash -c` in its own process group. The script's
    first line is prefixed (on that same line, so that bash's line numbers
    stay right) with an EXIT trap that writes "cwd\n\0NAME=VALUE\0..." to
    fd 3, a third pipe beside stdout and stderr. When that state arrives
    whole, it becomes the session's directory and environment; when it does
    not (a syntax error on the first line, a killed shell, a script that
    replaced the trap or closed fd 3) the session keeps what it had.

    We stop waiting when bash itself exits, not when the pipes close, so a
    background job (`server &`) that keeps them open does not hang the cell.
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
#include "wb_shell.h"
#include "wb_interrupt.h"
#include "wb_util.h"

extern char **environ;

//  The first line of every script. `builtin` and `command -p` keep user
//  functions named pwd/printf/env/exit, and a PATH without /usr/bin, from
//  breaking it. stderr goes to /dev/null before stdout goes to fd 3, so a
//  script that closed fd 3 gets no error message from us.
#define S_TRAP  "trap '__wb_rc=$?; { builtin pwd; builtin printf \"\\0\"; " \
                "command -p env -0; } 2>/dev/null >&3; builtin exit $__wb_rc' EXIT; "

#define S_POLL_MS       50      //  longest wait in one poll round
#define S_KILL_DELAY    0.5     //  seconds from SIGINT/SIGTERM to SIGKILL
#define S_READ_CAP      (1024 * 1024)   //  most bytes read per stream per round
#define S_DRAIN_ROUNDS  4       //  non-blocking reads once bash has exited
#define S_FD_SCAN_MAX   65536   //  fds closed one by one without close_range

//  Variables bash sets itself, never taken back into the session
static const char *s_bash_vars [] = {
    "_", "SHLVL", "PWD", "OLDPWD", "__wb_rc", NULL
};

struct _wb_shell_t {
    char *cwd;                  //  working directory, absolute
    char **env;                 //  "NAME=VALUE", sorted by name, NULL-terminated
    size_t env_size;            //  entries in env, without the NULL
    size_t env_room;            //  slots allocated in env, with the NULL
};

//  ---- The environment: a sorted array of "NAME=VALUE" ----

//  Compare the name in entry ("NAME=VALUE") with name [0..len).
static int
s_name_cmp (const char *entry, const char *name, size_t len)
{
    size_t entry_len = strcspn (entry, "=");
    int rc = memcmp (entry, name, entry_len < len? entry_len: len);
    if (rc)
        return rc;
    return entry_len < len? -1: entry_len > len? 1: 0;
}

//  True if name [0..len) is in env; *index_p is where it is or would go.
static bool
s_env_find (wb_shell_t *self, const char *name, size_t len, size_t *index_p)
{
    size_t low = 0;
    size_t high = self->env_size;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        int rc = s_name_cmp (self->env [middle], name, len);
        if (rc == 0) {
            *index_p = middle;
            return true;
        }
        if (rc < 0)
            low = middle + 1;
        else
            high = middle;
    }
    *index_p = low;
    return false;
}

//  Store entry ("NAME=VALUE", taken over). An existing variable of that
//  name is replaced if replace, else entry is dropped (first one wins, as
//  with getenv).
static void
s_env_put (wb_shell_t *self, char *entry, bool replace)
{
    size_t len = strcspn (entry, "=");
    assert (entry [len] == '=');
    size_t index;
    if (s_env_find (self, entry, len, &index)) {
        if (replace) {
            free (self->env [index]);
            self->env [index] = entry;
        }
        else
            free (entry);
        return;
    }
    if (self->env_size + 2 > self->env_room) {
        self->env_room = self->env_room? self->env_room * 2: 64;
        self->env = wb_realloc (self->env, self->env_room * sizeof (char *));
    }
    memmove (self->env + index + 1, self->env + index,
             (self->env_size - index) * sizeof (char *));
    self->env [index] = entry;
    self->env_size++;
    self->env [self->env_size] = NULL;
}

static void
s_env_remove (wb_shell_t *self, const char *name)
{
    size_t index;
    if (s_env_find (self, name, strlen (name), &index)) {
        free (self->env [index]);
        memmove (self->env + index, self->env + index + 1,
                 (self->env_size - index) * sizeof (char *));
        self->env_size--;
    }
}

static void
s_env_empty (wb_shell_t *self)
{
    for (size_t index = 0; index < self->env_size; index++)
        free (self->env [index]);
    self->env_size = 0;
    self->env [0] = NULL;
}

//  ---- Session ----

wb_shell_t *
wb_shell_new (void)
{
    wb_shell_t *self = wb_calloc (1, sizeof (wb_shell_t));
    self->cwd = getcwd (NULL, 0);
    if (!self->cwd)
        self->cwd = wb_strdup ("/");    //  our own directory is gone
    self->env_room = 64;
    self->env = wb_malloc (self->env_room * sizeof (char *));
    self->env [0] = NULL;
    for (char **entry = environ; entry && *entry; entry++)
        if (strchr (*entry, '=') && **entry != '=')
            s_env_put (self, wb_strdup (*entry), false);
    //  Python block-buffers output to a pipe; we want it line by line
    if (!wb_shell_getenv (self, "PYTHONUNBUFFERED"))
        s_env_put (self, wb_strdup ("PYTHONUNBUFFERED=1"), false);
    return self;
}

void
wb_shell_destroy (wb_shell_t **self_p)
{
    assert (self_p);
    wb_shell_t *self = *self_p;
    if (self) {
        s_env_empty (self);
        free (self->env);
        free (self->cwd);
        free (self);
        *self_p = NULL;
    }
}

const char *
wb_shell_cwd (wb_shell_t *self)
{
    assert (self);
    return self->cwd;
}

char *
wb_shell_path (wb_shell_t *self, const char *path)
{
    assert (self);
    assert (path);
    if (*path == '/')
        return wb_strdup (path);
    if (*path == 0)
        return wb_strdup (self->cwd);
    bool root = streq (self->cwd, "/");
    return wb_sprintf ("%s%s%s", self->cwd, root? "": "/", path);
}

int
wb_shell_chdir (wb_shell_t *self, const char *path, wb_error_t *err)
{
    assert (self);
    assert (path);
    char *full = wb_shell_path (self, path);
    char *real = realpath (full, NULL);
    free (full);
    struct stat info;
    if (!real || stat (real, &info)) {
        int error = errno;
        free (real);
        return wb_error_set (err, "cannot change directory to '%s': %s",
                             path, strerror (error));
    }
    if (!S_ISDIR (info.st_mode)) {
        free (real);
        return wb_error_set (err, "cannot change directory to '%s': %s",
                             path, strerror (ENOTDIR));
    }
    free (self->cwd);
    self->cwd = real;
    return 0;
}

const char *
wb_shell_getenv (wb_shell_t *self, const char *name)
{
    assert (self);
    assert (name);
    size_t len = strlen (name);
    size_t index;
    if (s_env_find (self, name, len, &index))
        return self->env [index] + len + 1;
    return NULL;
}

void
wb_shell_setenv (wb_shell_t *self, const char *name, const char *value)
{
    assert (self);
    assert (name && *name && !strchr (name, '='));
    if (value)
        s_env_put (self, wb_sprintf ("%s=%s", name, value), true);
    else
        s_env_remove (self, name);
}

char **
wb_shell_environ (wb_shell_t *self)
{
    assert (self);
    return self->env;
}

//  ---- Taking back the state the EXIT trap wrote ----

//  True if data is "/cwd\n\0NAME=VALUE\0NAME=VALUE\0...".
static bool
s_state_valid (const char *data, size_t size)
{
    if (size < 2 || data [size - 1] != 0 || data [0] != '/')
        return false;
    const char *end = data + size;
    for (const char *entry = data + strlen (data) + 1; entry < end;
         entry += strlen (entry) + 1) {
        const char *equals = strchr (entry, '=');
        if (!equals || equals == entry)
            return false;
    }
    return true;
}

static bool
s_bash_var (const char *entry)
{
    size_t len = strcspn (entry, "=");
    for (const char **name = s_bash_vars; *name; name++)
        if (strlen (*name) == len && memcmp (*name, entry, len) == 0)
            return true;
    return false;
}

//  Replace cwd and environment with state, if it is well-formed.
static void
s_state_apply (wb_shell_t *self, const char *data, size_t size)
{
    if (!s_state_valid (data, size))
        return;
    size_t cwd_len = strlen (data);
    if (data [cwd_len - 1] == '\n')
        cwd_len--;                  //  pwd's newline
    free (self->cwd);
    self->cwd = wb_strndup (data, cwd_len);

    s_env_empty (self);
    const char *end = data + size;
    for (const char *entry = data + strlen (data) + 1; entry < end;
         entry += strlen (entry) + 1)
        if (!s_bash_var (entry))
            s_env_put (self, wb_strdup (entry), false);
}

//  ---- Running a script ----

//  What the child sends back on the exec pipe when it cannot run bash
typedef struct {
    int stage;                  //  S_STAGE_*: the step that failed
    int error;                  //  errno of that step
} s_report_t;

enum { S_STAGE_FDS = 1, S_STAGE_CHDIR, S_STAGE_EXEC };

//  One pipe from the child, read by the parent
typedef struct {
    int fd;                     //  read end, -1 once closed
    const char *name;           //  "stdout"/"stderr", NULL for the state pipe
    wb_buf_t *buf;              //  bytes read and not yet delivered
} s_stream_t;

#define S_STREAMS 3

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

//  Tell the parent why we could not run bash, and give up.
static void
s_child_fail (int report_fd, int stage)
{
    s_report_t report = { stage, errno };
    ssize_t rc = write (report_fd, &report, sizeof (report));
    (void) rc;
    _exit (127);
}

//  In the child, between fork and exec: only async-signal-safe calls.
//  fds holds the write ends of stdout, stderr, state and the report pipe.
static void
s_child (const char *cwd, int fds [4], int fd_max,
         const char *bash, char **argv, char **envp)
{
    setpgid (0, 0);
    //  Move our pipes above the fds we set up (they may be 0..3 when the
    //  parent runs with stdin closed), then put them in place
    int high [5];
    for (int index = 0; index < 4; index++)
        high [index] = fcntl (fds [index], F_DUPFD_CLOEXEC, 10);
    int null_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
    high [4] = null_fd < 0? -1: fcntl (null_fd, F_DUPFD_CLOEXEC, 10);
    int report_fd = high [3];
    if (report_fd < 0)
        _exit (127);
    for (int index = 0; index < 5; index++)
        if (high [index] < 0)
            s_child_fail (report_fd, S_STAGE_FDS);
    //  dup2 clears close-on-exec on the new fd
    if (dup2 (high [4], 0) < 0 || dup2 (high [0], 1) < 0
    ||  dup2 (high [1], 2) < 0 || dup2 (high [2], 3) < 0)
        s_child_fail (report_fd, S_STAGE_FDS);
    //  Nothing else of ours (sockets, files) goes on to the script
#ifdef CLOSE_RANGE_CLOEXEC
    if (close_range (4, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
#endif
        for (int fd = 4; fd < fd_max; fd++)
            if (fd != report_fd)
                close (fd);

    //  Signals as a fresh process has them
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

    if (chdir (cwd))
        s_child_fail (report_fd, S_STAGE_CHDIR);
    execve (bash, argv, envp);
    s_child_fail (report_fd, S_STAGE_EXEC);
}

//  Wait up to timeout_ms for output, read what there is, and hand
//  stdout/stderr to fn. Returns how many streams had something to say.
static int
s_pump (s_stream_t *streams, int timeout_ms, wb_shell_output_fn *fn, void *arg)
{
    struct pollfd items [S_STREAMS];
    s_stream_t *owners [S_STREAMS];
    nfds_t count = 0;
    for (int index = 0; index < S_STREAMS; index++)
        if (streams [index].fd >= 0) {
            items [count].fd = streams [index].fd;
            items [count].events = POLLIN;
            items [count].revents = 0;
            owners [count++] = &streams [index];
        }
    if (poll (items, count, timeout_ms) <= 0)
        return 0;                   //  nothing, or EINTR: caller loops

    int active = 0;
    for (nfds_t index = 0; index < count; index++) {
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
s_close_pipes (int pipes [4][2])
{
    for (int index = 0; index < 4; index++)
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

    //  stdout, stderr, state (fd 3), report (exec failure); all close-on-exec
    int pipes [4][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 }, { -1, -1 } };
    for (int index = 0; index < 4; index++)
        if (pipe2 (pipes [index], O_CLOEXEC)) {
            int error = errno;
            s_close_pipes (pipes);
            free (bash);
            return wb_error_set (err, "cannot run shell: cannot create a pipe "
                                 "(%s); close some files or raise 'ulimit -n'",
                                 strerror (error));
        }

    //  Everything the child needs, made before fork (no malloc after it)
    char *wrapped = wb_sprintf ("%s%s", S_TRAP, script);
    char *argv [] = { "bash", "-c", wrapped, "workbench", NULL };
    //  PWD tells bash the logical directory (through symlinks, as cd left it)
    char *pwd_entry = wb_sprintf ("PWD=%s", self->cwd);
    char **envp = wb_malloc ((self->env_size + 2) * sizeof (char *));
    size_t envc = 0;
    for (size_t index = 0; index < self->env_size; index++)
        if (s_name_cmp (self->env [index], "PWD", 3))
            envp [envc++] = self->env [index];
    envp [envc++] = pwd_entry;
    envp [envc] = NULL;
    int fd_max = S_FD_SCAN_MAX;
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < (rlim_t) fd_max)
        fd_max = (int) limit.rlim_cur;
    int child_fds [4] = { pipes [0][1], pipes [1][1], pipes [2][1], pipes [3][1] };

    pid_t pid = fork ();
    if (pid == 0)
        s_child (self->cwd, child_fds, fd_max, bash, argv, envp);
    int fork_error = errno;
    free (envp);
    free (pwd_entry);
    free (wrapped);
    if (pid < 0) {
        s_close_pipes (pipes);
        free (bash);
        return wb_error_set (err, "cannot run shell: fork failed (%s); the "
                             "system is short of processes or memory, stop "
                             "some and try again", strerror (fork_error));
    }
    setpgid (pid, pid);             //  also in the child: whoever runs first
    for (int index = 0; index < 4; index++) {
        close (pipes [index][1]);
        pipes [index][1] = -1;
    }

    //  The report pipe closes on exec: nothing read means bash is running
    s_report_t report;
    size_t got = 0;
    while (got < sizeof (report)) {
        ssize_t rc = read (pipes [3][0], (char *) &report + got, sizeof (report) - got);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            break;
        got += (size_t) rc;
    }
    if (got == sizeof (report)) {
        while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
            ;
        s_close_pipes (pipes);
        int rc = s_report_error (err, &report, bash, self->cwd);
        free (bash);
        return rc;
    }
    free (bash);

    s_stream_t streams [S_STREAMS] = {
        { pipes [0][0], "stdout", wb_buf_new () },
        { pipes [1][0], "stderr", wb_buf_new () },
        { pipes [2][0], NULL,     wb_buf_new () }
    };
    for (int index = 0; index < S_STREAMS; index++) {
        int flags = fcntl (streams [index].fd, F_GETFL);
        fcntl (streams [index].fd, F_SETFL, flags | O_NONBLOCK);
        pipes [index][0] = -1;      //  streams own them now
    }
    close (pipes [3][0]);

    double start = wb_time_mono ();
    double signalled = 0;           //  when SIGINT/SIGTERM went out, 0 if not
    bool killed = false;            //  SIGKILL went out
    bool reaped = false;            //  bash has exited and been waited for
    int wait_status = 0;
    int idle_ms = 1;                //  wait while all pipes are closed
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
        s_pump (streams, wait_ms, fn, arg);
    }
    //  What is left in the pipes, without waiting for background jobs
    for (int round = 0; round < S_DRAIN_ROUNDS; round++)
        if (s_pump (streams, 0, fn, arg) == 0)
            break;

    if (WIFEXITED (wait_status))
        result->status = WEXITSTATUS (wait_status);
    else
    if (WIFSIGNALED (wait_status))
        result->status = 128 + WTERMSIG (wait_status);
    s_state_apply (self, wb_buf_data (streams [2].buf), wb_buf_size (streams [2].buf));
    for (int index = 0; index < S_STREAMS; index++) {
        if (streams [index].fd >= 0)
            close (streams [index].fd);
        wb_buf_destroy (&streams [index].buf);
    }
    return 0;
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
wb_shell_test (bool verbose)
{
    char scratch_template [] = "/tmp/wb_shell_test_XXXXXX";
    char *made = mkdtemp (scratch_template);
    assert (made);
    char *scratch = realpath (made, NULL);
    assert (scratch);
    char *sub = wb_sprintf ("%s/sub", scratch);
    char *pid_file = wb_sprintf ("%s/bg.pid", scratch);
    char *plain_file = wb_sprintf ("%s/plain", scratch);
    char *gone = wb_sprintf ("%s/gone", scratch);
    assert (mkdir (sub, 0700) == 0);

    s_capture_t capture = { wb_buf_new (), wb_buf_new (), 0, 0 };
    wb_shell_result_t result;
    wb_error_t err = { "" };
    char *script;
    wb_shell_t *shell = wb_shell_new ();
    assert (wb_shell_getenv (shell, "PYTHONUNBUFFERED"));
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

    //  Setting the environment and directory from here
    wb_shell_setenv (shell, "WB_TEST", "x y");
    assert (streq (wb_shell_getenv (shell, "WB_TEST"), "x y"));
    s_test_run (shell, "echo \"$WB_TEST\"", 0, &capture, &result, verbose);
    assert (streq (wb_buf_data (capture.out), "x y\n"));
    wb_shell_setenv (shell, "WB_TEST", "z");
    assert (streq (wb_shell_getenv (shell, "WB_TEST"), "z"));
    char **env = wb_shell_environ (shell);
    size_t count = 0;
    bool seen = false;
    for (; env [count]; count++) {
        assert (strchr (env [count], '='));
        if (streq (env [count], "WB_TEST=z"))
            seen = true;
        if (count)
            assert (s_name_cmp (env [count - 1], env [count],
                                strcspn (env [count], "=")) < 0);
    }
    assert (seen && count > 1);
    wb_shell_setenv (shell, "WB_TEST", NULL);
    assert (wb_shell_getenv (shell, "WB_TEST") == NULL);

    assert (wb_shell_chdir (shell, "..", &err) == 0);
    assert (streq (wb_shell_cwd (shell), scratch));
    assert (wb_shell_chdir (shell, "sub", &err) == 0);
    assert (streq (wb_shell_cwd (shell), sub));
    assert (wb_shell_chdir (shell, "nope", &err) == -1);
    assert (streq (err.text, "cannot change directory to 'nope': "
                             "No such file or directory"));
    FILE *file = fopen (plain_file, "w");
    assert (file);
    fclose (file);
    assert (wb_shell_chdir (shell, plain_file, &err) == -1);
    assert (strstr (err.text, "Not a directory"));
    assert (streq (wb_shell_cwd (shell), sub));
    assert (wb_shell_chdir (shell, "/", NULL) == 0);
    char *path = wb_shell_path (shell, "etc");
    assert (streq (path, "/etc"));
    free (path);
    assert (wb_shell_chdir (shell, scratch, NULL) == 0);
    path = wb_shell_path (shell, "a/b");
    script = wb_sprintf ("%s/a/b", scratch);
    assert (streq (path, script));
    free (script);
    free (path);
    path = wb_shell_path (shell, "/usr");
    assert (streq (path, "/usr"));
    free (path);

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

    wb_shell_destroy (&shell);
    assert (shell == NULL);
    wb_shell_destroy (&shell);
    wb_buf_destroy (&capture.out);
    wb_buf_destroy (&capture.err);
    assert (unlink (pid_file) == 0);
    assert (unlink (plain_file) == 0);
    assert (rmdir (sub) == 0);
    assert (rmdir (scratch) == 0);
    free (pid_file);
    free (plain_file);
    free (gone);
    free (sub);
    free (scratch);
}
//  @end
