/*  wb_job - jobs on compute targets: submit any command as a tracked run

    This file: compute targets (the seam for schedulers), job folders,
    script parameters, the line protocol, submitting and cancelling, and
    the local target. Recovery after a crash is wb_job_recover.c, the
    supervisor that runs a job wb_job_supervise.c (wb_job_int.h).
*/
#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "wb_job_int.h"
#include "wb_snapshot.h"
#include "base/wb_fs.h"
#include "base/wb_utf8.h"
#include "base/wb_util.h"

extern char **environ;

#define S_ENV_ENTRY_MAX  (32 * 4096)    //  Linux's limit on one NAME=VALUE (MAX_ARG_STRLEN)

//  ---- Compute targets: the seam for schedulers ----
//
//  kind:   the compute table's kind column
//  submit: hand queued run id to the target (binary is the workbench
//          executable to run on this machine)
//  cancel: stop run id, which has status cancel_requested

typedef struct {
    const char *kind;
    int (*submit) (wb_store_t *store, const char *id, json_t *target,
                   const char *binary, wb_error_t *err);
    int (*cancel) (wb_store_t *store, const char *id, json_t *target, wb_error_t *err);
} s_target_t;

static int
    s_local_submit (wb_store_t *store, const char *id, json_t *target,
                    const char *binary, wb_error_t *err);
static int
    s_local_cancel (wb_store_t *store, const char *id, json_t *target, wb_error_t *err);

static const s_target_t s_targets [] = {
    { "local", s_local_submit, s_local_cancel },
    { NULL, NULL, NULL }
};

static const s_target_t *
s_target_ops (json_t *target, wb_error_t *err)
{
    const char *kind = json_string_value (json_object_get (target, "kind"));
    for (const s_target_t *ops = s_targets; ops->kind; ops++)
        if (kind && streq (ops->kind, kind))
            return ops;
    wb_error_set (err, "compute target '%s' is of kind '%s', which this Workbench cannot run",
                  json_string_value (json_object_get (target, "name")), kind? kind: "?");
    return NULL;
}

int
wb_job_max (wb_store_t *store, const char *target)
{
    json_t *row = wb_store_compute_get (store, target, NULL);
    int max_jobs = row? (int) json_integer_value (json_object_get (row, "max_jobs")): 0;
    json_decref (row);
    if (max_jobs <= 0) {
        long cores = sysconf (_SC_NPROCESSORS_ONLN);
        max_jobs = cores > 0? (int) cores: 1;
    }
    return max_jobs;
}

//  ---- Job folders ----

char *
wb_job__dir (const char *workspace, const char *id)
{
    return wb_sprintf ("%s/jobs/%s", workspace, id);
}

char *
wb_job_log_path (wb_store_t *store, const char *id)
{
    return wb_sprintf ("%s/jobs/%s/output.log", wb_store_path (store), id);
}

void
wb_job__remove_tree (const char *path)
{
    DIR *dir = opendir (path);
    if (dir) {
        struct dirent *entry;
        while ((entry = readdir (dir))) {
            if (streq (entry->d_name, ".") || streq (entry->d_name, ".."))
                continue;
            char *child = wb_sprintf ("%s/%s", path, entry->d_name);
            struct stat info;
            if (lstat (child, &info) == 0 && S_ISDIR (info.st_mode))
                wb_job__remove_tree (child);
            else
                unlink (child);
            free (child);
        }
        closedir (dir);
    }
    rmdir (path);
}

//  ---- Script parameters ----

char *
wb_job_expand (const char *script, json_t *params, wb_error_t *err)
{
    wb_buf_t *out = wb_buf_new ();
    const char *cursor = script;
    while (*cursor) {
        const char *open = strstr (cursor, "${{");
        if (!open) {
            wb_buf_puts (out, cursor);
            break;
        }
        wb_buf_append (out, cursor, (size_t) (open - cursor));
        const char *close = strstr (open, "}}");
        if (!close) {
            wb_buf_destroy (&out);
            wb_error_set (err, "'${{' without '}}' in the script");
            return NULL;
        }
        char *inner = wb_strndup (open + 3, (size_t) (close - open - 3));
        char *name = inner;
        while (isspace ((unsigned char) *name))
            name++;
        size_t size = strlen (name);
        while (size && isspace ((unsigned char) name [size - 1]))
            name [--size] = 0;
        if (!wb_starts_with (name, "params.")) {
            wb_error_set (err, "'${{%s}}' in the script: only ${{params.NAME}} can be used", name);
            free (inner);
            wb_buf_destroy (&out);
            return NULL;
        }
        json_t *value = json_object_get (params, name + 7);
        if (!value) {
            wb_error_set (err, "the script uses ${{%s}} but no param '%s' was given "
                          "(add --param %s=VALUE)", name, name + 7, name + 7);
            free (inner);
            wb_buf_destroy (&out);
            return NULL;
        }
        wb_buf_puts (out, json_is_string (value)? json_string_value (value): "");
        free (inner);
        cursor = close + 2;
    }
    return wb_buf_detach (&out);
}

//  ---- The line protocol ----

const char *
wb_job_parse_line (const char *line, json_t *values, long *step)
{
    json_object_clear (values);
    *step = -1;
    while (*line == ' ' || *line == '\t')
        line++;
    if (wb_starts_with (line, "##"))
        line += 2;
    const char *kind = wb_starts_with (line, "metric ")? "metric"
                     : wb_starts_with (line, "param ")? "param"
                     : wb_starts_with (line, "tag ")? "tag": NULL;
    if (!kind)
        return NULL;
    char *copy = wb_strdup (line + strlen (kind) + 1);
    bool ok = true;
    char *save = NULL;
    for (char *word = strtok_r (copy, " \t\r\n", &save); word && ok;
         word = strtok_r (NULL, " \t\r\n", &save)) {
        char *equals = strchr (word, '=');
        if (!equals || equals == word) {
            ok = false;
            break;
        }
        *equals = 0;
        const char *text = equals + 1;
        if (streq (kind, "metric")) {
            char *end;
            if (streq (word, "step")) {
                long value = strtol (text, &end, 10);
                ok = *text && !*end && value >= 0;
                *step = value;
            }
            else {
                double value = strtod (text, &end);
                ok = *text && !*end;
                json_object_set_new (values, word, json_real (value));
            }
        }
        else {
            //  Any bytes: a param or tag is stored as valid UTF-8
            char *key = wb_utf8_valid_dup (word, strlen (word));
            json_object_set_new (values, key, wb_utf8_json (text, strlen (text)));
            free (key);
        }
    }
    free (copy);
    if (!ok || json_object_size (values) == 0)
        return NULL;
    return kind;
}

//  ---- Submitting ----

static bool
s_env_name (const char *name)
{
    if (!*name || isdigit ((unsigned char) *name))
        return false;
    for (const char *c = name; *c; c++)
        if (!(isalnum ((unsigned char) *c) || *c == '_'))
            return false;
    return true;
}

//  Whether the job's environment (env, or this process's when env is
//  NULL, then params, then the variables the supervisor adds) fits what
//  exec takes: each NAME=VALUE at most 128 KiB, all of it within
//  ARG_MAX. 0, or -1 with err naming what is too large.
static int
s_environment_fits (json_t *env, json_t *params, wb_error_t *err)
{
    size_t total = 16384;       //  room for WORKBENCH_*, PYTHONPATH and bash's argv
    const char *key;
    json_t *value;
    json_object_foreach (params, key, value) {
        size_t size = strlen (key) + 2 + json_string_length (value);
        if (size > S_ENV_ENTRY_MAX)
            return wb_error_set (err, "param '%s' is %zu bytes: a param is also an environment "
                "variable of the job, and Linux passes at most 128 KiB in one; put a large "
                "value in a file the job reads instead", key, json_string_length (value));
        total += size + sizeof (char *);
    }
    if (env)
        json_object_foreach (env, key, value) {
            size_t size = strlen (key) + 2 + json_string_length (value);
            if (json_object_get (params, key))
                continue;
            if (size > S_ENV_ENTRY_MAX)
                return wb_error_set (err, "the job's environment variable %s is %zu bytes: Linux "
                    "passes at most 128 KiB in one; shorten or unset it (or put the value in a "
                    "file the job reads)", key, json_string_length (value));
            total += size + sizeof (char *);
        }
    else
        for (char **entry = environ; *entry; entry++)
            total += strlen (*entry) + 1 + sizeof (char *);
    long limit = sysconf (_SC_ARG_MAX);
    if (limit > 0 && total > (size_t) limit)
        return wb_error_set (err, "the job's environment is %zu bytes (params and environment "
            "variables): Linux passes at most %ld to a process; unset large variables or put "
            "large values in files the job reads", total, limit);
    return 0;
}

int
wb_job_submit (wb_store_t *store, const wb_job_spec_t *spec, char *id, wb_error_t *err)
{
    assert (spec->script);
    const char *target_name = spec->target? spec->target: "local";
    json_t *target = wb_store_compute_get (store, target_name, err);
    if (!target)
        return -1;
    const s_target_t *ops = s_target_ops (target, err);
    const char *key;
    json_t *value;
    json_object_foreach (spec->params, key, value)
        if (!s_env_name (key)) {
            json_decref (target);
            return wb_error_set (err, "param name '%s' must be letters, digits and _ "
                                 "(it is also an environment variable)", key);
        }
    if (!ops || s_environment_fits (spec->env, spec->params, err)) {
        json_decref (target);
        return -1;
    }
    char snapshot [65] = "";
    if (spec->code_dir && wb_snapshot_take (store, spec->code_dir, snapshot, NULL, err)) {
        json_decref (target);
        return -1;
    }
    wb_run_spec_t run = { spec->experiment, spec->name, spec->kind? spec->kind: "job",
                          "queued", spec->parent, target_name, spec->script, 0 };
    if (wb_store_run_create (store, &run, id, err)) {
        json_decref (target);
        return -1;
    }
    json_t *job = json_pack ("{s:s, s:o, s:o, s:f, s:f}", "script", spec->script,
        "env", spec->env? json_incref (spec->env): json_object (),
        "params", spec->params? json_incref (spec->params): json_object (),
        "timeout", spec->timeout, "grace", spec->grace > 0? spec->grace: WB_JOB_GRACE);
    int rc = 0;
    if ((spec->params && json_object_size (spec->params)
         && wb_store_params (store, id, spec->params, err))
    ||  (*snapshot && wb_store_run_set (store, id, "snapshot", snapshot, err))
    ||  wb_store_job_add (store, id, target_name, job, err)
    ||  ops->submit (store, id, target, spec->binary, err)) {
        wb_store_run_status (store, id, "failed", err->text, NULL);
        rc = -1;
    }
    json_decref (job);
    json_decref (target);
    return rc;
}

int
wb_job_cancel (wb_store_t *store, const char *id, wb_error_t *err)
{
    wb_job_reap (store, id);        //  a dead supervisor would never act on it
    char *status = wb_store_run_state (store, id, err);
    if (!status)
        return -1;
    int rc = 0;
    if (streq (status, "queued"))
        rc = wb_store_run_status (store, id, "canceled", "canceled before it started", err);
    else
    if (streq (status, "starting") || streq (status, "running")) {
        json_t *job = wb_store_job_get (store, id, err);
        json_t *target = job? wb_store_compute_get (store,
            json_string_value (json_object_get (job, "target")), err): NULL;
        const s_target_t *ops = target? s_target_ops (target, err): NULL;
        rc = ops && wb_store_run_status (store, id, "cancel_requested", NULL, err) == 0
           ? ops->cancel (store, id, target, err): -1;
        json_decref (target);
        json_decref (job);
    }
    else
    if (!streq (status, "cancel_requested"))
        rc = wb_error_set (err, "run %s is %s already: there is nothing to cancel", id, status);
    free (status);
    return rc;
}

char **
wb_job_detached_environ (void)
{
    //  A process started from inside a job is not part of that job: it
    //  does not carry the job's run id, by which a job's leftovers are killed
    size_t count = 0;
    while (environ [count])
        count++;
    char **env = wb_calloc (count + 1, sizeof (char *));
    size_t kept = 0;
    for (size_t i = 0; i < count; i++)
        if (!wb_starts_with (environ [i], "WORKBENCH_RUN_ID="))
            env [kept++] = environ [i];
    return env;
}

int
wb_job_detach (const char *binary, const char *command, const char *workspace,
               const char *id, const char *log_path, pid_t *pid_p, wb_error_t *err)
{
    //  Fork twice so the process belongs to no one: it outlives the kernel
    int report [2];
    if (pipe2 (report, O_CLOEXEC))
        return wb_error_set (err, "cannot start '%s %s': %s", binary, command, strerror (errno));
    char **env = wb_job_detached_environ ();
    char *argv [] = { "workbench", (char *) command, (char *) workspace, (char *) id, NULL };
    pid_t child = fork ();
    if (child == 0) {
        setsid ();
        //  exec's outcome: EOF when it worked (close-on-exec), errno if not
        int exec_report [2];
        if (pipe2 (exec_report, O_CLOEXEC))
            _exit (1);
        pid_t grandchild = fork ();
        if (grandchild == 0) {
            close (exec_report [0]);
            int null = open ("/dev/null", O_RDWR);
            int log = open (log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
            dup2 (null, 0);
            dup2 (null, 1);
            dup2 (log >= 0? log: null, 2);
            //  Nothing of the kernel's reaches the process
            for (int fd = 3; fd < 1024; fd++)
                if (fd != exec_report [1])
                    close (fd);
            sigset_t none;
            sigemptyset (&none);
            sigprocmask (SIG_SETMASK, &none, NULL);
            signal (SIGINT, SIG_IGN);       //  a Ctrl-C in a terminal is not for jobs
            signal (SIGPIPE, SIG_DFL);
            execve (binary, argv, env);
            int failure = errno;
            ssize_t ignored = write (exec_report [1], &failure, sizeof (failure));
            (void) ignored;
            _exit (127);
        }
        close (exec_report [1]);
        int failure = 0;
        if (grandchild < 0 || read (exec_report [0], &failure, sizeof (failure)) == sizeof (failure))
            grandchild = -(failure? failure: EAGAIN);   //  report -errno
        ssize_t wrote = write (report [1], &grandchild, sizeof (grandchild));
        _exit (wrote == sizeof (grandchild)? 0: 1);
    }
    free (env);
    close (report [1]);
    pid_t started = -1;
    ssize_t got = child > 0? read (report [0], &started, sizeof (started)): -1;
    close (report [0]);
    if (child > 0)
        waitpid (child, NULL, 0);
    if (got != sizeof (started) || started <= 0)
        return wb_error_set (err, "cannot start '%s %s': %s", binary, command,
                             strerror (got == sizeof (started) && started < 0? -started: errno));
    *pid_p = started;
    return 0;
}

//  ---- The local target ----

static int
s_local_submit (wb_store_t *store, const char *id, json_t *target, const char *binary,
                wb_error_t *err)
{
    (void) target;
    char self_path [4096];
    if (!binary) {
        if (!wb_self_path (self_path, sizeof (self_path)))
            return wb_error_set (err, "cannot find the workbench binary to start the job");
        binary = self_path;
    }
    if (access (binary, X_OK))
        return wb_error_set (err, "cannot start the job: the workbench binary '%s' is gone (%s)",
                             binary, strerror (errno));
    char *dir = wb_job__dir (wb_store_path (store), id);
    if (wb_fs_mkdirs (dir, 0700)) {
        wb_error_set (err, "cannot create the job folder '%s': %s", dir, strerror (errno));
        free (dir);
        return -1;
    }
    char *supervisor_log = wb_sprintf ("%s/supervisor.log", dir);
    free (dir);
    pid_t supervisor;
    int rc = wb_job_detach (binary, "job-run", wb_store_path (store), id, supervisor_log,
                            &supervisor, err);
    free (supervisor_log);
    if (rc)
        return -1;
    return wb_store_run_set_owner (store, id, supervisor, err);
}

static int
s_local_cancel (wb_store_t *store, const char *id, json_t *target, wb_error_t *err)
{
    (void) store; (void) id; (void) target; (void) err;
    return 0;           //  the supervisor sees cancel_requested and stops the job
}

//  ---- Self-test ----

//  @selftest
void
wb_job_test (bool verbose)
{
    wb_error_t err;
    //  ${{params.NAME}}
    json_t *params = json_pack ("{s:s, s:s}", "lr", "0.1", "epochs", "3");
    char *text = wb_job_expand ("train --lr ${{params.lr}} -n ${{ params.epochs }}", params, &err);
    assert (text && streq (text, "train --lr 0.1 -n 3"));
    free (text);
    assert (!wb_job_expand ("x ${{params.nope}}", params, &err));
    assert (strstr (err.text, "--param nope=VALUE"));
    assert (!wb_job_expand ("x ${{inputs.data}}", params, &err));
    assert (!wb_job_expand ("x ${{params.lr", params, &err));

    //  The line protocol
    json_t *values = json_object ();
    long step;
    assert (streq (wb_job_parse_line ("metric loss=0.5 acc=1e-1 step=3\n", values, &step), "metric"));
    assert (step == 3 && json_real_value (json_object_get (values, "acc")) == 0.1);
    assert (streq (wb_job_parse_line ("##param lr=0.1", values, &step), "param"));
    assert (streq (json_string_value (json_object_get (values, "lr")), "0.1"));
    assert (!wb_job_parse_line ("metric loss=high", values, &step));
    assert (!wb_job_parse_line ("metric step=-1 loss=1", values, &step));
    assert (!wb_job_parse_line ("hello world", values, &step));
    assert (!wb_job_parse_line ("metric", values, &step));
    json_decref (values);
    json_decref (params);
    wb_job_supervise_test (verbose);
}
//  @end
