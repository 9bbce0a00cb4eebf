/*  wb_proc - run a program to its end and collect what it printed
*/
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "wb_proc.h"
#include "wb_util.h"

extern char **environ;

//  This process's environment with env's entries on top (a new array of
//  borrowed strings)
static char **
s_environment (char *const env [])
{
    size_t count = 0, extra = 0;
    while (environ [count])
        count++;
    while (env && env [extra])
        extra++;
    char **all = wb_calloc (count + extra + 1, sizeof (char *));
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        bool replaced = false;
        for (size_t j = 0; j < extra && !replaced; j++) {
            size_t name = strcspn (env [j], "=");
            replaced = !strncmp (environ [i], env [j], name) && environ [i][name] == '=';
        }
        if (!replaced)
            all [n++] = environ [i];
    }
    for (size_t j = 0; j < extra; j++)
        all [n++] = env [j];
    return all;
}

char *
wb_proc_which (const char *name)
{
    return wb_proc_which_on (name, getenv ("PATH"));
}

char *
wb_proc_which_on (const char *name, const char *search)
{
    assert (name);
    if (strchr (name, '/')) {
        char *path = realpath (name, NULL);
        if (path && access (path, X_OK)) {
            free (path);
            path = NULL;
        }
        return path;
    }
    char *copy = wb_strdup (search? search: "/usr/local/bin:/usr/bin:/bin");
    char *found = NULL, *state = NULL;
    for (char *dir = strtok_r (copy, ":", &state); dir && !found; dir = strtok_r (NULL, ":", &state)) {
        char *path = wb_sprintf ("%s/%s", *dir? dir: ".", name);
        if (access (path, X_OK) == 0)
            found = realpath (path, NULL);
        free (path);
    }
    free (copy);
    return found;
}

int
wb_proc_run (char *const argv [], char *const env [], const char *cwd, double timeout,
             wb_proc_result_t *result, wb_error_t *err)
{
    assert (argv && argv [0] && result);
    memset (result, 0, sizeof (*result));
    char *program = wb_proc_which (argv [0]);
    if (!program)
        return wb_error_set (err, "cannot run '%s': no such program (or it cannot be run)", argv [0]);
    int out [2] = { -1, -1 }, errs [2] = { -1, -1 };
    if (pipe2 (out, O_CLOEXEC) || pipe2 (errs, O_CLOEXEC)) {
        wb_error_set (err, "cannot run '%s': %s", argv [0], strerror (errno));
        for (int i = 0; i < 2; i++) {
            if (out [i] >= 0)
                close (out [i]);
            if (errs [i] >= 0)
                close (errs [i]);
        }
        free (program);
        return -1;
    }
    char **envp = s_environment (env);
    pid_t pid = fork ();
    if (pid == 0) {
        //  The child: only async-signal-safe calls until execve
        setpgid (0, 0);
        int null = open ("/dev/null", O_RDONLY);
        if (null < 0 || dup2 (null, 0) < 0 || dup2 (out [1], 1) < 0 || dup2 (errs [1], 2) < 0)
            _exit (127);
        if (cwd && chdir (cwd))
            _exit (127);
        execve (program, argv, envp);
        _exit (127);
    }
    int saved = errno;
    free (envp);
    close (out [1]);
    close (errs [1]);
    if (pid < 0) {
        close (out [0]);
        close (errs [0]);
        free (program);
        return wb_error_set (err, "cannot run '%s': %s", argv [0], strerror (saved));
    }
    setpgid (pid, pid);         //  either side may win; both ask for the same
    wb_buf_t *bufs [2] = { wb_buf_new (), wb_buf_new () };
    bool cut [2] = { false, false };
    struct pollfd fds [2] = { { out [0], POLLIN, 0 }, { errs [0], POLLIN, 0 } };
    double deadline = wb_time_mono () + timeout;
    int open_fds = 2;
    while (open_fds > 0) {
        double left = deadline - wb_time_mono ();
        if (left <= 0) {
            result->timed_out = true;
            kill (-pid, SIGKILL);
            kill (pid, SIGKILL);
            break;
        }
        int ready = poll (fds, 2, (int) (left * 1000) + 1);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready < 0)
            break;
        for (int i = 0; i < 2; i++) {
            if (fds [i].fd < 0 || !(fds [i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char chunk [65536];
            ssize_t got = read (fds [i].fd, chunk, sizeof (chunk));
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                close (fds [i].fd);
                fds [i].fd = -1;
                open_fds--;
                continue;
            }
            size_t room = WB_PROC_MAX_OUTPUT - wb_buf_size (bufs [i]);
            if ((size_t) got > room)
                cut [i] = true;
            wb_buf_append (bufs [i], chunk, (size_t) got < room? (size_t) got: room);
        }
    }
    for (int i = 0; i < 2; i++)
        if (fds [i].fd >= 0)
            close (fds [i].fd);
    int status = 0;
    while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
        ;
    result->status = WIFEXITED (status)? WEXITSTATUS (status): 128 + WTERMSIG (status);
    if (cut [0])
        wb_buf_puts (bufs [0], "\n[output cut]\n");
    if (cut [1])
        wb_buf_puts (bufs [1], "\n[output cut]\n");
    result->out = wb_strdup (wb_buf_data (bufs [0]));
    result->err = wb_strdup (wb_buf_data (bufs [1]));
    wb_buf_destroy (&bufs [0]);
    wb_buf_destroy (&bufs [1]);
    free (program);
    return 0;
}

void
wb_proc_result_free (wb_proc_result_t *result)
{
    if (!result)
        return;
    free (result->out);
    free (result->err);
    result->out = result->err = NULL;
}

//  @selftest
void
wb_proc_test (bool verbose)
{
    (void) verbose;
    wb_error_t err;
    wb_proc_result_t result;
    char *echo [] = { "sh", "-c", "echo out; echo err >&2; printf %s \"$WB_PROC_X\"; exit 3", NULL };
    char *env [] = { "WB_PROC_X=given", NULL };
    assert (wb_proc_run (echo, env, NULL, 10, &result, &err) == 0);
    assert (streq (result.out, "out\ngiven") && streq (result.err, "err\n"));
    assert (result.status == 3 && !result.timed_out);
    wb_proc_result_free (&result);

    char *pwd [] = { "pwd", NULL };
    assert (wb_proc_run (pwd, NULL, "/", 10, &result, &err) == 0);
    assert (streq (result.out, "/\n") && result.status == 0);
    wb_proc_result_free (&result);

    //  A program that outlives its timeout is killed, with its children
    double start = wb_time_mono ();
    char *slow [] = { "sh", "-c", "sleep 30 & sleep 30", NULL };
    assert (wb_proc_run (slow, NULL, NULL, 0.3, &result, &err) == 0);
    assert (result.timed_out && result.status == 128 + SIGKILL);
    assert (wb_time_mono () - start < 10);
    wb_proc_result_free (&result);

    char *none [] = { "no-such-program-here", NULL };
    assert (wb_proc_run (none, NULL, NULL, 1, &result, &err) == -1);
    assert (strstr (err.text, "cannot run 'no-such-program-here'"));

    char *sh = wb_proc_which ("sh");
    assert (sh && sh [0] == '/');
    free (sh);
    assert (wb_proc_which ("no-such-program-here") == NULL);
    char *found = wb_proc_which_on ("sh", "/nonexistent:/bin");
    assert (found && found [0] == '/');
    free (found);
    assert (wb_proc_which_on ("sh", "/nonexistent") == NULL);
}
//  @end
