/*  wb_job_supervise - the supervisor of a job (`workbench job-run`): waits
    for a slot, starts the job's script, records its output, metrics and
    params, stops it on cancel or timeout, and keeps its outputs

    The supervisor's loop is single-threaded: poll() over the job's stdout,
    stderr and metrics descriptor with a short timeout; between reads it
    batches metric points into wb_store_log, checks for a cancel request and
    the timeout, and notices the end of the job.

    Part of wb_job (wb_job_int.h).
*/
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "wb_job_int.h"
#include "wb_snapshot.h"
#include "base/wb_embedded.h"
#include "base/wb_fs.h"
#include "base/wb_utf8.h"
#include "base/wb_util.h"

extern char **environ;

#define S_FLUSH_POINTS   20000      //  metric points kept before a write
#define S_FLUSH_SECONDS  0.25       //  ... or this long
#define S_CHECK_SECONDS  0.2        //  how often the supervisor looks for cancel
#define S_STDERR_TAIL    2048       //  bytes of stderr kept for the error text
#define S_SCRIPT_FD      4          //  where the job's bash reads its script
#define S_SCRIPT_FD_TEXT "4"

//  ---- The supervisor ----

//  State of one supervised job.
typedef struct {
    wb_store_t *store;          //  the workspace
    const char *id;             //  the run
    int log_fd;                 //  the live log
    wb_buf_t *lines [3];        //  partial lines of stdout, stderr, metrics
    char tail [S_STDERR_TAIL];  //  the end of stderr, for the error text
    size_t tail_size;           //  bytes in tail
    json_t *keys;               //  metric keys the batch points at
    wb_metric_t *batch;         //  metric points not yet written
    size_t batch_size;          //  how many
    size_t batch_room;          //  room for
    double flushed_at;          //  when the batch was last written
    json_t *values;             //  scratch for parsing lines
    size_t bad_lines;           //  protocol lines that did not parse
} s_job_t;

static void
s_log_write (s_job_t *job, const char *data, size_t size)
{
    while (size > 0) {
        ssize_t wrote = write (job->log_fd, data, size);
        if (wrote <= 0)
            break;
        data += wrote;
        size -= (size_t) wrote;
    }
}

static void
s_flush_metrics (s_job_t *job)
{
    if (job->batch_size) {
        wb_error_t err;
        if (wb_store_log (job->store, job->id, job->batch, job->batch_size, &err)) {
            char *line = wb_sprintf ("workbench: metrics lost: %s\n", err.text);
            s_log_write (job, line, strlen (line));
            free (line);
        }
        job->batch_size = 0;
        json_array_clear (job->keys);
    }
    job->flushed_at = wb_time_mono ();
}

//  Act on one protocol line; false if it is not a record.
static bool
s_record (s_job_t *job, const char *line)
{
    long step;
    const char *kind = wb_job_parse_line (line, job->values, &step);
    if (!kind)
        return false;
    wb_error_t err;
    if (streq (kind, "metric")) {
        const char *key;
        json_t *value;
        double now = wb_time_now ();
        json_object_foreach (job->values, key, value) {
            if (job->batch_size == job->batch_room) {
                job->batch_room = job->batch_room? job->batch_room * 2: 1024;
                job->batch = wb_realloc (job->batch, job->batch_room * sizeof (wb_metric_t));
            }
            //  The key string lives in job->keys until the batch is written
            json_t *kept = json_string (key);
            json_array_append_new (job->keys, kept);
            job->batch [job->batch_size++] = (wb_metric_t) {
                json_string_value (kept), step, json_real_value (value), now };
        }
        if (job->batch_size >= S_FLUSH_POINTS)
            s_flush_metrics (job);
    }
    else {
        s_flush_metrics (job);
        int rc = streq (kind, "param")? wb_store_params (job->store, job->id, job->values, &err)
                                      : wb_store_tags (job->store, job->id, job->values, &err);
        if (rc) {
            char *text = wb_sprintf ("workbench: %s\n", err.text);
            s_log_write (job, text, strlen (text));
            free (text);
        }
    }
    return true;
}

//  Take complete lines of stream index out of its buffer.
static void
s_lines (s_job_t *job, int index, bool final)
{
    wb_buf_t *buf = job->lines [index];
    const char *data = wb_buf_data (buf);
    size_t used = 0, size = wb_buf_size (buf);
    while (used < size) {
        const char *eol = memchr (data + used, '\n', size - used);
        if (!eol && !final && size - used < 65536)
            break;
        size_t line_size = eol? (size_t) (eol - data - used) + 1: size - used;
        char *line = wb_strndup (data + used, line_size);
        if (index == 2) {
            //  The metrics descriptor carries nothing but records
            if (!s_record (job, line) && line [strspn (line, " \t\r\n")])
                job->bad_lines++;
        }
        else
        if (index == 1 || !wb_starts_with (line, "##") || !s_record (job, line))
            s_log_write (job, line, line_size);
        free (line);
        used += line_size;
    }
    wb_buf_consume (buf, used);
}

static void
s_keep_tail (s_job_t *job, const char *data, size_t size)
{
    if (size >= S_STDERR_TAIL) {
        memcpy (job->tail, data + size - S_STDERR_TAIL, S_STDERR_TAIL);
        job->tail_size = S_STDERR_TAIL;
        return;
    }
    if (job->tail_size + size > S_STDERR_TAIL) {
        size_t drop = job->tail_size + size - S_STDERR_TAIL;
        memmove (job->tail, job->tail + drop, job->tail_size - drop);
        job->tail_size -= drop;
    }
    memcpy (job->tail + job->tail_size, data, size);
    job->tail_size += size;
}

//  Files under outputs/ become artifacts "outputs/...".
static void
s_keep_outputs (s_job_t *job, const char *root, const char *relative)
{
    char *path = *relative? wb_sprintf ("%s/%s", root, relative): wb_strdup (root);
    DIR *dir = opendir (path);
    if (dir) {
        struct dirent *entry;
        while ((entry = readdir (dir))) {
            if (streq (entry->d_name, ".") || streq (entry->d_name, ".."))
                continue;
            char *child = *relative? wb_sprintf ("%s/%s", relative, entry->d_name)
                                   : wb_strdup (entry->d_name);
            char *full = wb_sprintf ("%s/%s", root, child);
            struct stat info;
            if (lstat (full, &info) == 0 && S_ISDIR (info.st_mode))
                s_keep_outputs (job, root, child);
            else
            if (S_ISREG (info.st_mode)) {
                char *name = wb_sprintf ("outputs/%s", child);
                wb_error_t err;
                if (wb_store_artifact_file (job->store, job->id, name, full, &err)) {
                    char *line = wb_sprintf ("workbench: output %s not kept: %s\n", child, err.text);
                    s_log_write (job, line, strlen (line));
                    free (line);
                }
                free (name);
            }
            free (full);
            free (child);
        }
        closedir (dir);
    }
    free (path);
}

//  Build the job's environment: "NAME=VALUE" strings, NULL-terminated.
static char **
s_environment (json_t *spec, const char *workspace, const char *id, const char *outputs,
               const char *pylib)
{
    json_t *env = json_deep_copy (json_object_get (spec, "env"));
    if (!json_is_object (env)) {
        json_decref (env);
        env = json_object ();
        for (char **entry = environ; *entry; entry++) {
            char *equals = strchr (*entry, '=');
            if (equals) {
                char *name = wb_strndup (*entry, (size_t) (equals - *entry));
                json_object_set_new (env, name, json_string (equals + 1));
                free (name);
            }
        }
    }
    const char *key;
    json_t *value;
    json_object_foreach (json_object_get (spec, "params"), key, value)
        if (json_is_string (value))
            json_object_set (env, key, value);
    const char *python_path = json_string_value (json_object_get (env, "PYTHONPATH"));
    char *joined = python_path && *python_path? wb_sprintf ("%s:%s", pylib, python_path)
                                              : wb_strdup (pylib);
    json_object_set_new (env, "PYTHONPATH", json_string (joined));
    free (joined);
    json_object_set_new (env, "PYTHONUNBUFFERED", json_string ("1"));
    json_object_set_new (env, "WORKBENCH_RUN_ID", json_string (id));
    json_object_set_new (env, "WORKBENCH_WORKSPACE", json_string (workspace));
    json_object_set_new (env, "WORKBENCH_OUTPUTS", json_string (outputs));
    json_object_set_new (env, "WORKBENCH_METRICS_FD", json_string ("3"));
    char **array = wb_calloc (json_object_size (env) + 1, sizeof (char *));
    size_t index = 0;
    json_object_foreach (env, key, value)
        array [index++] = wb_sprintf ("%s=%s", key, json_string_value (value)? json_string_value (value): "");
    json_decref (env);
    return array;
}

//  Bytes the environment takes in exec's limit: strings and pointers.
static size_t
s_environment_size (char **env)
{
    size_t size = sizeof (char *);
    for (char **entry = env; *entry; entry++)
        size += strlen (*entry) + 1 + sizeof (char *);
    return size;
}

//  The script in an anonymous file, at a descriptor >= 10 (close-on-exec,
//  so that it is free of the ones dup2 fills in the child); -1 (err).
static int
s_script_file (const char *script, wb_error_t *err)
{
    int fd = memfd_create ("job-script", MFD_CLOEXEC);
    if (fd < 0)
        return wb_error_set (err, "cannot hand the script to the job: %s", strerror (errno));
    const char *data = script? script: "";
    size_t left = strlen (data);
    while (left > 0) {
        ssize_t wrote = write (fd, data, left);
        if (wrote <= 0) {
            wb_error_set (err, "cannot hand the script to the job: %s", strerror (errno));
            close (fd);
            return -1;
        }
        data += wrote;
        left -= (size_t) wrote;
    }
    int high = fcntl (fd, F_DUPFD_CLOEXEC, 10);
    close (fd);
    if (high < 0)
        return wb_error_set (err, "cannot hand the script to the job: %s", strerror (errno));
    return high;
}

//  Kill the supervisor's children that are not Workbench's own (see
//  wb_job__kill_children) and reap them, for at most seconds.
static void
s_reap_children (double seconds)
{
    double until = wb_time_mono () + seconds;
    while (true) {
        while (waitpid (-1, NULL, WNOHANG) > 0)
            ;
        if (wb_job__kill_children () == 0 || wb_time_mono () > until)
            break;
        usleep (10000);
    }
}

int
wb_job_supervise (const char *path, const char *id)
{
    wb_error_t err;
    wb_store_t *store = wb_store_open (path, false, &err);
    if (!store) {
        fprintf (stderr, "workbench job-run: %s\n", err.text);
        return 1;
    }
    json_t *record = wb_store_job_get (store, id, &err);
    if (!record) {
        fprintf (stderr, "workbench job-run: %s\n", err.text);
        wb_store_destroy (&store);
        return 1;
    }
    json_t *spec = json_object_get (record, "spec");
    const char *target = json_string_value (json_object_get (record, "target"));
    wb_store_run_set_owner (store, id, getpid (), NULL);
    //  What the job leaves behind when it daemonises (double fork, setsid)
    //  stays our child, so that it ends with the job
    prctl (PR_SET_CHILD_SUBREAPER, 1);

    //  Wait for a turn: oldest queued first, at most max_jobs at once. A
    //  job whose supervisor died holds a slot (or the head of the queue)
    //  until someone notices: look once a second.
    double delay = 0.002, reaped_at = wb_time_mono ();
    int claimed;
    while ((claimed = wb_store_job_claim (store, id, wb_job_max (store, target), getpid (), &err)) == 0) {
        usleep ((useconds_t) (delay * 1e6));
        delay = delay < 0.05? delay * 2: 0.1;
        if (wb_time_mono () - reaped_at >= 1) {
            wb_job_reap_all (store);
            reaped_at = wb_time_mono ();
        }
    }
    if (claimed != 1) {
        if (claimed < 0)
            fprintf (stderr, "workbench job-run: %s\n", err.text);
        json_decref (record);
        wb_store_destroy (&store);
        return claimed < 0? 1: 0;
    }
    //  A fresh folder with the code, an outputs folder, the live log
    char *dir = wb_job__dir (path, id);
    char *code = wb_sprintf ("%s/code", dir);
    char *outputs = wb_sprintf ("%s/outputs", dir);
    char *pylib = wb_sprintf ("%s/lib", dir);
    char *log_path = wb_sprintf ("%s/output.log", dir);
    json_t *run = wb_store_run_get (store, id, NULL);
    const char *snapshot = json_string_value (json_object_get (run, "snapshot"));
    int rc = 0;
    if (wb_fs_mkdirs (outputs, 0700) || wb_fs_mkdirs (pylib, 0700))
        rc = wb_error_set (&err, "cannot create the job folder '%s': %s", dir, strerror (errno));
    else
    if (snapshot)
        rc = wb_snapshot_restore (store, snapshot, code, &err);
    else
    if (wb_fs_mkdirs (code, 0700))
        rc = wb_error_set (&err, "cannot create '%s': %s", code, strerror (errno));
    for (const wb_embedded_t *file = wb_pylib; rc == 0 && file->name; file++) {
        char *target_path = wb_sprintf ("%s/%s", pylib, file->name);
        FILE *handle = fopen (target_path, "wb");
        if (handle) {
            fwrite (file->data, 1, file->size, handle);
            fclose (handle);
        }
        free (target_path);
    }
    s_job_t job = { store, id, -1, { wb_buf_new (), wb_buf_new (), wb_buf_new () },
                    "", 0, json_array (), NULL, 0, 0, wb_time_mono (), json_object (), 0 };
    job.log_fd = open (log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int pipes [3][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 } };
    for (int i = 0; rc == 0 && i < 3; i++)
        if (pipe2 (pipes [i], O_CLOEXEC))
            rc = wb_error_set (&err, "cannot create pipes for the job: %s", strerror (errno));
    //  The script goes to bash as a file on descriptor S_SCRIPT_FD, not as
    //  an argument: one argument is at most 128 KiB
    int script_fd = rc == 0? s_script_file (json_string_value (json_object_get (spec, "script")), &err): -1;
    if (rc == 0 && script_fd < 0)
        rc = -1;
    pid_t pid = -1;
    if (rc == 0) {
        char **env = s_environment (spec, path, id, outputs, pylib);
        char *exec_failed = wb_sprintf ("workbench: cannot start the job's bash (environment of "
            "%zu bytes): ", s_environment_size (env));
        pid = fork ();
        if (pid == 0) {
            setpgid (0, 0);
            prctl (PR_SET_PDEATHSIG, SIGKILL);  //  the job dies with its supervisor
            int null = open ("/dev/null", O_RDONLY);
            dup2 (null, 0);
            dup2 (pipes [0][1], 1);
            dup2 (pipes [1][1], 2);
            dup2 (pipes [2][1], 3);
            dup2 (script_fd, S_SCRIPT_FD);
            if (chdir (code))
                _exit (126);
            signal (SIGINT, SIG_DFL);
            //  $0 is "job" and bash's messages say "job: line N", as with
            //  bash -c; the script does not see the descriptor
            char *argv [] = { "bash", "-c", "eval \"$(</dev/fd/" S_SCRIPT_FD_TEXT ")\" "
                              S_SCRIPT_FD_TEXT "<&-", "job", NULL };
            execve ("/bin/bash", argv, env);
            execvpe ("bash", argv, env);
            //  Say why in the error text (E2BIG: an environment too large)
            const char *why = strerror (errno);
            ssize_t ignored = write (2, exec_failed, strlen (exec_failed));
            ignored = write (2, why, strlen (why));
            ignored = write (2, "\n", 1);
            (void) ignored;
            _exit (127);
        }
        for (char **entry = env; *entry; entry++)
            free (*entry);
        free (env);
        free (exec_failed);
        if (pid < 0)
            rc = wb_error_set (&err, "cannot start the job: %s", strerror (errno));
        else
            setpgid (pid, pid);
    }
    if (script_fd >= 0)
        close (script_fd);
    for (int i = 0; i < 3; i++)
        if (pipes [i][1] >= 0)
            close (pipes [i][1]);
    if (rc) {
        wb_store_run_status (store, id, "failed", err.text, NULL);
        for (int i = 0; i < 3; i++)
            if (pipes [i][0] >= 0)
                close (pipes [i][0]);
    }
    else {
        wb_store_job_update (store, id, pid, -1, NULL);
        wb_store_run_status (store, id, "running", NULL, NULL);
    }

    //  Watch it
    double timeout = json_real_value (json_object_get (spec, "timeout"));
    double grace = json_real_value (json_object_get (spec, "grace"));
    if (grace <= 0)
        grace = WB_JOB_GRACE;
    double started = wb_time_mono (), checked = started, stop_at = 0, kill_at = 0;
    const char *stop_reason = NULL;
    int status = 0;
    bool exited = rc != 0;
    while (!exited) {
        struct pollfd fds [3];
        for (int i = 0; i < 3; i++)
            fds [i] = (struct pollfd) { pipes [i][0], POLLIN, 0 };
        poll (fds, 3, 50);
        for (int i = 0; i < 3; i++) {
            if (fds [i].revents & (POLLIN | POLLHUP)) {
                char chunk [65536];
                ssize_t got = read (pipes [i][0], chunk, sizeof (chunk));
                if (got > 0) {
                    wb_buf_append (job.lines [i], chunk, (size_t) got);
                    if (i == 1)
                        s_keep_tail (&job, chunk, (size_t) got);
                    s_lines (&job, i, false);
                }
                else
                if (got == 0) {
                    close (pipes [i][0]);
                    pipes [i][0] = -1;
                }
            }
        }
        double now = wb_time_mono ();
        if (now - job.flushed_at >= S_FLUSH_SECONDS)
            s_flush_metrics (&job);
        if (!stop_reason && now - checked >= S_CHECK_SECONDS) {
            checked = now;
            char *state = wb_store_run_state (store, id, NULL);
            if (state && streq (state, "cancel_requested"))
                stop_reason = "canceled by the user";
            free (state);
        }
        if (!stop_reason && timeout > 0 && now - started >= timeout)
            stop_reason = "timed out";
        if (stop_reason && stop_at == 0) {
            stop_at = now;
            kill_at = now + grace;
            kill (-pid, SIGTERM);
        }
        if (kill_at && now >= kill_at) {
            kill (-pid, SIGKILL);
            kill_at = now + 3600;
        }
        //  Orphans the subreaper took in are reaped as they end
        int reaped_status;
        pid_t reaped;
        while ((reaped = waitpid (-1, &reaped_status, WNOHANG)) > 0)
            if (reaped == pid) {
                status = reaped_status;
                exited = true;
            }
    }
    if (pid > 0) {
        //  What the job left running goes with it: its process group, what
        //  carries its run id, what it daemonised
        kill (-pid, SIGKILL);
        wb_job__kill_processes (id, pid);
        s_reap_children (1.0);
        //  Drain what is left without waiting on strays that hold the pipes
        for (int round = 0; round < 20; round++) {
            bool any = false;
            for (int i = 0; i < 3; i++) {
                if (pipes [i][0] < 0)
                    continue;
                struct pollfd fd = { pipes [i][0], POLLIN, 0 };
                if (poll (&fd, 1, 0) > 0) {
                    char chunk [65536];
                    ssize_t got = read (pipes [i][0], chunk, sizeof (chunk));
                    if (got > 0) {
                        any = true;
                        wb_buf_append (job.lines [i], chunk, (size_t) got);
                        if (i == 1)
                            s_keep_tail (&job, chunk, (size_t) got);
                    }
                }
            }
            if (!any)
                break;
        }
        for (int i = 0; i < 3; i++) {
            s_lines (&job, i, true);
            if (pipes [i][0] >= 0)
                close (pipes [i][0]);
        }
    }
    s_flush_metrics (&job);
    if (job.bad_lines) {
        char *line = wb_sprintf ("workbench: %zu line%s on the metrics descriptor did not parse "
            "(write 'metric key=value ... [step=N]')\n", job.bad_lines, job.bad_lines == 1? "": "s");
        s_log_write (&job, line, strlen (line));
        free (line);
    }

    //  Keep the outputs and the log, then say how it ended
    if (pid > 0) {
        int code_exit = WIFEXITED (status)? WEXITSTATUS (status): 128 + WTERMSIG (status);
        wb_store_job_update (store, id, 0, code_exit, NULL);
        if (!stop_reason)
            wb_store_run_status (store, id, "finalizing", NULL, NULL);
        s_keep_outputs (&job, outputs, "");
        if (job.log_fd >= 0) {
            close (job.log_fd);
            job.log_fd = -1;
        }
        struct stat info;
        if (stat (log_path, &info) == 0)
            wb_store_artifact_file (store, id, "logs/output.log", log_path, NULL);
        if (stop_reason) {
            char *reason = streq (stop_reason, "timed out")
                ? wb_sprintf ("timed out after %g s (%s)", timeout,
                              streq (json_string_value (json_object_get (run, "kind"))?
                                     json_string_value (json_object_get (run, "kind")): "", "trial")
                              ? "the sweep's --trial-timeout": "--timeout")
                : wb_strdup (stop_reason);
            if (wb_store_run_status (store, id, "canceled", reason, NULL))
                wb_store_run_status (store, id, "failed", reason, NULL);
            free (reason);
        }
        else
        if (code_exit == 0)
            wb_store_run_status (store, id, "completed", NULL, NULL);
        else {
            //  The error text: the tail of stderr, else the exit status
            //  The tail is bytes: start and end it on a character boundary
            size_t kept = job.tail_size < S_STDERR_TAIL? job.tail_size: S_STDERR_TAIL - 1;
            size_t skip = wb_utf8_skip (job.tail, kept);
            job.tail [skip + wb_utf8_cut (job.tail + skip, kept - skip)] = 0;
            char *text = job.tail + skip;
            while (*text == '\n')
                text++;
            size_t size = strlen (text);
            while (size && (text [size - 1] == '\n' || text [size - 1] == ' '))
                text [--size] = 0;
            char *reason = size
                ? wb_sprintf ("exit status %d: %s", code_exit, text)
                : wb_sprintf ("exit status %d", code_exit);
            wb_store_run_status (store, id, "failed", reason, NULL);
            free (reason);
        }
    }
    if (job.log_fd >= 0)
        close (job.log_fd);
    wb_job__remove_tree (code);
    wb_job__remove_tree (outputs);
    wb_job__remove_tree (pylib);
    unlink (log_path);
    char *supervisor_log = wb_sprintf ("%s/supervisor.log", dir);
    struct stat info;
    if (stat (supervisor_log, &info) == 0 && info.st_size == 0)
        unlink (supervisor_log);
    free (supervisor_log);
    rmdir (dir);

    for (int i = 0; i < 3; i++)
        wb_buf_destroy (&job.lines [i]);
    json_decref (job.keys);
    json_decref (job.values);
    free (job.batch);
    json_decref (run);
    json_decref (record);
    free (dir);
    free (code);
    free (outputs);
    free (pylib);
    free (log_path);
    wb_store_destroy (&store);
    return 0;
}

//  @selftest

//  Wait until run id has ended; its final status (caller owns).
static char *
s_test_wait (wb_store_t *store, const char *id, double seconds)
{
    double until = wb_time_mono () + seconds;
    while (wb_time_mono () < until) {
        char *status = wb_store_run_state (store, id, NULL);
        if (wb_store_status_final (status))
            return status;
        free (status);
        usleep (20000);
    }
    return wb_store_run_state (store, id, NULL);
}

//  When run id got its slot: the time of its move to "starting".
static double
s_test_claimed_at (wb_store_t *store, const char *id)
{
    json_t *events = wb_store_events (store, id, 0, NULL);
    double when = 0;
    size_t index;
    json_t *event;
    json_array_foreach (events, index, event) {
        const char *to = json_string_value (json_object_get (json_object_get (event, "detail"), "to"));
        if (to && streq (to, "starting"))
            when = json_real_value (json_object_get (event, "time"));
    }
    json_decref (events);
    return when;
}

void
wb_job_supervise_test (bool verbose)
{
    wb_error_t err;
    json_t *params = json_pack ("{s:s, s:s}", "lr", "0.1", "epochs", "3");

    //  Real jobs need the workbench binary, beside this one
    char self_path [4096];
    ssize_t size = readlink ("/proc/self/exe", self_path, sizeof (self_path) - 1);
    assert (size > 0);
    self_path [size] = 0;
    *strrchr (self_path, '/') = 0;
    char *binary = wb_sprintf ("%s/workbench", self_path);
    if (access (binary, X_OK)) {
        if (verbose)
            printf ("(no %s: real jobs not tried)\n", binary);
        free (binary);
        json_decref (params);
        return;
    }
    char scratch [] = "/tmp/wb-job-XXXXXX";
    assert (mkdtemp (scratch));
    char *code = wb_sprintf ("%s/code", scratch);
    char *cmd = wb_sprintf ("mkdir -p '%s' && cat > '%s/train.py' <<'PY'\n"
        "import os, sys, workbench\n"
        "workbench.param(optimizer='adam')\n"
        "for step in range(100):\n"
        "    workbench.log(loss=1.0 / (step + 1), step=step)\n"
        "open(os.path.join(workbench.outputs(), 'model.txt'), 'w').write('weights ' + sys.argv[1])\n"
        "print('trained')\n"
        "PY\n", code, code);
    assert (system (cmd) == 0);
    free (cmd);
    char *ws = wb_sprintf ("%s/ws", scratch);
    wb_store_t *store = wb_store_open (ws, true, &err);
    assert (store);
    assert (wb_job_max (store, "local") >= 1);

    //  A Python job logging 100 metrics and writing an output
    wb_job_spec_t spec = { NULL, "py", NULL, NULL, NULL,
        "python3 train.py ${{params.lr}}\necho '##metric final=0.01'\necho bye >&2",
        params, NULL, code, 0, 0, binary };
    char *script = wb_job_expand (spec.script, params, &err);
    spec.script = script;
    char id [9];
    assert (wb_job_submit (store, &spec, id, &err) == 0);
    char *status = s_test_wait (store, id, 20);
    assert (status && streq (status, "completed"));
    free (status);
    json_t *run = wb_store_run_get (store, id, &err);
    json_t *loss = json_object_get (json_object_get (run, "metrics"), "loss");
    assert (json_integer_value (json_object_get (loss, "count")) == 100);
    assert (json_integer_value (json_object_get (json_object_get (
        json_object_get (run, "metrics"), "final"), "count")) == 1);
    assert (streq (json_string_value (json_object_get (json_object_get (run, "params"), "optimizer")), "adam"));
    assert (streq (json_string_value (json_object_get (json_object_get (run, "params"), "lr")), "0.1"));
    assert (json_is_string (json_object_get (run, "snapshot")));
    json_t *artifacts = json_object_get (run, "artifacts");
    assert (json_array_size (artifacts) == 2);
    assert (streq (json_string_value (json_object_get (json_array_get (artifacts, 0), "path")), "logs/output.log"));
    assert (streq (json_string_value (json_object_get (json_array_get (artifacts, 1), "path")), "outputs/model.txt"));
    char *log = wb_store_blob_path (store, json_string_value (json_object_get (json_array_get (artifacts, 0), "hash")));
    char *log_text = wb_file_read (log, NULL);
    assert (log_text && strstr (log_text, "trained\n") && strstr (log_text, "bye\n"));
    assert (!strstr (log_text, "##metric"));        //  records are not log lines
    free (log_text);
    free (log);
    char *dir = wb_job__dir (ws, id);
    //  The job folder is gone (the supervisor removes it just after the
    //  run is marked completed)
    for (int i = 0; i < 500 && access (dir, F_OK) == 0; i++)
        usleep (10000);
    assert (access (dir, F_OK) != 0);
    free (dir);
    json_decref (run);
    free (script);

    //  A failing job: failed, with the tail of stderr
    wb_job_spec_t failing = { NULL, "fails", NULL, NULL, NULL,
        "echo starting; echo 'ValueError: bad data' >&2; exit 3", NULL, NULL, NULL, 0, 0, binary };
    assert (wb_job_submit (store, &failing, id, &err) == 0);
    status = s_test_wait (store, id, 10);
    assert (streq (status, "failed"));
    free (status);
    run = wb_store_run_get (store, id, &err);
    assert (strstr (json_string_value (json_object_get (run, "error")), "exit status 3: ValueError: bad data"));
    json_decref (run);

    //  A script over 128 KiB (the most one argument can be) runs; a param
    //  that large cannot be an environment variable: refused, no run made
    size_t big = 300 * 1024;
    char *long_script = wb_malloc (big + 32);
    memset (long_script, '#', big);
    strcpy (long_script + big, "\nexit 4");
    wb_job_spec_t large = { NULL, "large", NULL, NULL, NULL, long_script, NULL, NULL, NULL, 0, 0, binary };
    assert (wb_job_submit (store, &large, id, &err) == 0);
    status = s_test_wait (store, id, 10);
    assert (streq (status, "failed"));
    free (status);
    run = wb_store_run_get (store, id, &err);
    assert (streq (json_string_value (json_object_get (run, "error")), "exit status 4"));
    json_decref (run);
    long_script [big] = 0;
    json_t *large_params = json_pack ("{s:s}", "big", long_script);
    large.params = large_params;
    large.script = "echo $big";
    json_t *before = wb_store_runs (store, NULL, NULL, NULL, 0, &err);
    assert (wb_job_submit (store, &large, id, &err) == -1);
    assert (strstr (err.text, "param 'big' is 307200 bytes") && strstr (err.text, "128 KiB"));
    json_t *after = wb_store_runs (store, NULL, NULL, NULL, 0, &err);
    assert (json_array_size (after) == json_array_size (before));
    json_decref (before);
    json_decref (after);
    json_decref (large_params);
    free (long_script);

    //  A job that runs too long, and one that ignores SIGTERM
    wb_job_spec_t slow = { NULL, "slow", NULL, NULL, NULL, "sleep 30", NULL, NULL, NULL, 0.3, 0.3, binary };
    assert (wb_job_submit (store, &slow, id, &err) == 0);
    double start = wb_time_mono ();
    status = s_test_wait (store, id, 10);
    assert (streq (status, "canceled"));
    free (status);
    assert (wb_time_mono () - start < 5);
    run = wb_store_run_get (store, id, &err);
    assert (strstr (json_string_value (json_object_get (run, "error")), "timed out"));
    json_decref (run);
    wb_job_spec_t stubborn = { NULL, "stubborn", NULL, NULL, NULL,
        "trap '' TERM; echo ready; for i in $(seq 300); do sleep 0.1; done", NULL, NULL, NULL, 0, 0.5, binary };
    assert (wb_job_submit (store, &stubborn, id, &err) == 0);
    double until = wb_time_mono () + 10;
    while (wb_time_mono () < until) {
        char *state = wb_store_run_state (store, id, NULL);
        bool running = streq (state, "running");
        free (state);
        if (running)
            break;
        usleep (20000);
    }
    usleep (200000);
    start = wb_time_mono ();
    assert (wb_job_cancel (store, id, &err) == 0);
    status = s_test_wait (store, id, 10);
    assert (streq (status, "canceled"));
    free (status);
    double took = wb_time_mono () - start;
    assert (took >= 0.4 && took < 5);               //  the grace period, then SIGKILL
    assert (wb_job_cancel (store, id, &err) == -1);
    assert (strstr (err.text, "nothing to cancel"));

    //  20 jobs on a limit of 2: never more than 2 at once, started in order
    assert (wb_store_compute_set_max (store, "local", 2, &err) == 0);
    assert (wb_job_max (store, "local") == 2);
    char ids [20][9];
    for (int i = 0; i < 20; i++) {
        wb_job_spec_t quick = { "queue", NULL, NULL, NULL, NULL, "sleep 0.15", NULL, NULL, NULL, 0, 0, binary };
        assert (wb_job_submit (store, &quick, ids [i], &err) == 0);
    }
    double starts [20], ends [20];
    for (int i = 0; i < 20; i++) {
        status = s_test_wait (store, ids [i], 30);
        assert (streq (status, "completed"));
        free (status);
        run = wb_store_run_get (store, ids [i], &err);
        starts [i] = s_test_claimed_at (store, ids [i]);
        ends [i] = json_real_value (json_object_get (run, "ended"));
        json_decref (run);
    }
    for (int i = 1; i < 20; i++)
        assert (starts [i] >= starts [i - 1]);      //  slots go in submission order
    for (int i = 0; i < 20; i++) {
        int overlapping = 0;
        for (int j = 0; j < 20; j++)
            if (starts [j] <= starts [i] && ends [j] > starts [i])
                overlapping++;
        assert (overlapping <= 2);
    }
    assert (wb_store_compute_set_max (store, "nowhere", 2, &err) == -1);

    wb_store_destroy (&store);
    json_decref (params);
    free (ws);
    free (code);
    free (binary);
    cmd = wb_sprintf ("rm -rf '%s'", scratch);
    assert (system (cmd) == 0);
    free (cmd);
}
//  @end
