/*  wb_job - jobs on compute targets: submit any command as a tracked run

    The supervisor's loop is single-threaded: poll() over the job's stdout,
    stderr and metrics descriptor with a short timeout; between reads it
    batches metric points into wb_store_log, checks for a cancel request and
    the timeout, and notices the end of the job.
*/
#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "wb_job.h"
#include "wb_snapshot.h"
#include "base/wb_embedded.h"
#include "base/wb_fs.h"
#include "base/wb_interrupt.h"
#include "base/wb_utf8.h"
#include "base/wb_util.h"

extern char **environ;

#define S_FLUSH_POINTS   20000      //  metric points kept before a write
#define S_FLUSH_SECONDS  0.25       //  ... or this long
#define S_CHECK_SECONDS  0.2        //  how often the supervisor looks for cancel
#define S_STDERR_TAIL    2048       //  bytes of stderr kept for the error text
#define S_SCRIPT_FD      4          //  where the job's bash reads its script
#define S_SCRIPT_FD_TEXT "4"
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

static char *
s_job_dir (const char *workspace, const char *id)
{
    return wb_sprintf ("%s/jobs/%s", workspace, id);
}

char *
wb_job_log_path (wb_store_t *store, const char *id)
{
    return wb_sprintf ("%s/jobs/%s/output.log", wb_store_path (store), id);
}

static void
s_remove_tree (const char *path)
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
                s_remove_tree (child);
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

int
wb_job_detach (const char *binary, const char *command, const char *workspace,
               const char *id, const char *log_path, pid_t *pid_p, wb_error_t *err)
{
    //  Fork twice so the process belongs to no one: it outlives the kernel
    int report [2];
    if (pipe2 (report, O_CLOEXEC))
        return wb_error_set (err, "cannot start '%s %s': %s", binary, command, strerror (errno));
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
    char *dir = s_job_dir (wb_store_path (store), id);
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

//  ---- Recovery ----

//  Field index (1-based, as in proc(5)) of /proc/PID/stat, or -1.
static long
s_stat_field (pid_t pid, int field)
{
    char path [64];
    snprintf (path, sizeof (path), "/proc/%d/stat", (int) pid);
    char *text = wb_file_read (path, NULL);
    long value = -1;
    //  The command name is in parentheses and may hold spaces: skip it
    char *cursor = text? strrchr (text, ')'): NULL;
    if (cursor) {
        cursor += 2;            //  field 3 (state) starts here
        for (int at = 3; at < field && cursor; at++) {
            cursor = strchr (cursor, ' ');
            if (cursor)
                cursor++;
        }
        if (cursor)
            value = field == 3? (long) *cursor: strtol (cursor, NULL, 10);
    }
    free (text);
    return value;
}

//  Whether process pid's environment holds marker (with its NUL).
static bool
s_has_marker (pid_t pid, const char *marker, size_t marker_size)
{
    char path [64];
    snprintf (path, sizeof (path), "/proc/%d/environ", (int) pid);
    size_t size;
    char *env = wb_file_read (path, &size);
    bool found = false;
    for (size_t at = 0; env && at + marker_size <= size + 1; ) {
        if (strncmp (env + at, marker, marker_size) == 0) {
            found = true;
            break;
        }
        at += strlen (env + at) + 1;
    }
    free (env);
    return found;
}

//  Kill what job id left running: every process whose environment holds
//  WORKBENCH_RUN_ID=id, and its process group pgid (when > 0) if one of
//  those is still in it, so that a reused group id is never hit. Returns
//  how many processes were killed.
static int
s_kill_job_processes (const char *id, pid_t pgid)
{
    char *marker = wb_sprintf ("WORKBENCH_RUN_ID=%s", id);
    size_t marker_size = strlen (marker) + 1;      //  with its NUL
    int killed = 0;
    bool group_is_ours = false;
    DIR *proc = opendir ("/proc");
    struct dirent *entry;
    while (proc && (entry = readdir (proc))) {
        pid_t pid = (pid_t) atoi (entry->d_name);
        if (pid <= 0 || pid == getpid () || !s_has_marker (pid, marker, marker_size))
            continue;
        if (pgid > 0 && s_stat_field (pid, 5) == (long) pgid)
            group_is_ours = true;
        if (kill (pid, SIGKILL) == 0)
            killed++;
    }
    if (proc)
        closedir (proc);
    if (group_is_ours)
        kill (-pgid, SIGKILL);
    free (marker);
    return killed;
}

//  The supervisor's own children that are not the job (orphans of the job
//  that the subreaper took in): killed, except Workbench's own detached
//  processes (a job or sweep the job started), which outlive it as they
//  outlive a kernel. Returns how many it killed (zombies included: they
//  are left to reap).
static int
s_kill_children (void)
{
    char self_exe [4096];
    ssize_t self_size = readlink ("/proc/self/exe", self_exe, sizeof (self_exe) - 1);
    self_exe [self_size > 0? self_size: 0] = 0;
    int killed = 0;
    DIR *proc = opendir ("/proc");
    struct dirent *entry;
    while (proc && (entry = readdir (proc))) {
        pid_t pid = (pid_t) atoi (entry->d_name);
        if (pid <= 0 || s_stat_field (pid, 4) != (long) getpid ())
            continue;
        char path [64], exe [4096];
        snprintf (path, sizeof (path), "/proc/%d/exe", (int) pid);
        ssize_t size = readlink (path, exe, sizeof (exe) - 1);
        exe [size > 0? size: 0] = 0;
        if (!(*self_exe && streq (exe, self_exe))) {
            kill (pid, SIGKILL);
            killed++;
        }
    }
    if (proc)
        closedir (proc);
    return killed;
}

pid_t
wb_job_dead_owner (wb_store_t *store, json_t *run)
{
    const char *id = json_string_value (json_object_get (run, "id"));
    json_t *owner = json_object_get (run, "owner");
    if (!id || !json_is_integer (owner) || json_integer_value (owner) <= 0
    ||  wb_store_status_final (json_string_value (json_object_get (run, "status")))
    ||  wb_store_run_owner_alive (store, id))
        return 0;
    return (pid_t) json_integer_value (owner);
}

//  Keep the live log of job id as its artifact (if it is not already)
//  and remove the job's folder.
static void
s_clear_folder (wb_store_t *store, const char *id)
{
    char *folder = s_job_dir (wb_store_path (store), id);
    char *log = wb_sprintf ("%s/output.log", folder);
    json_t *run = wb_store_run_get (store, id, NULL);
    bool kept = false;
    size_t index;
    json_t *artifact;
    json_array_foreach (json_object_get (run, "artifacts"), index, artifact)
        if (streq (json_string_value (json_object_get (artifact, "path")), "logs/output.log"))
            kept = true;
    if (run && !kept && access (log, F_OK) == 0)
        wb_store_artifact_file (store, id, "logs/output.log", log, NULL);
    json_decref (run);
    s_remove_tree (folder);
    free (log);
    free (folder);
}

//  The job's process group (its pid), or 0 before it started.
static pid_t
s_job_group (wb_store_t *store, const char *id)
{
    json_t *job = wb_store_job_get (store, id, NULL);
    pid_t pgid = (pid_t) json_integer_value (json_object_get (job, "pid"));
    json_decref (job);
    return pgid;
}

int
wb_job_reap (wb_store_t *store, const char *id)
{
    json_t *run = wb_store_run_get (store, id, NULL);
    pid_t owner = run? wb_job_dead_owner (store, run): 0;
    json_decref (run);
    json_t *job = owner? wb_store_job_get (store, id, NULL): NULL;
    if (!job)
        return 0;               //  alive, ended, or not a job
    json_decref (job);
    char *reason = wb_sprintf ("the job supervisor (pid %d) died before the job ended "
        "(it was killed or crashed); what the job ran was stopped", (int) owner);
    //  The move fails when the run ended meanwhile: then its supervisor was fine
    int rc = wb_store_run_status (store, id, "failed", reason, NULL);
    free (reason);
    if (rc)
        return 0;
    s_kill_job_processes (id, s_job_group (store, id));
    s_clear_folder (store, id);
    return 1;
}

int
wb_job_reap_all (wb_store_t *store)
{
    static const char *active [] = { "queued", "starting", "running", "finalizing",
                                     "cancel_requested", NULL };
    int reaped = 0;
    for (const char **status = active; *status; status++) {
        json_t *runs = wb_store_runs_with_status (store, *status, NULL);
        size_t index;
        json_t *run;
        json_array_foreach (runs, index, run)
            if (json_integer_value (json_object_get (run, "owner")) > 0
            &&  !wb_store_run_owner_alive (store, json_string_value (json_object_get (run, "id"))))
                reaped += wb_job_reap (store, json_string_value (json_object_get (run, "id")));
        json_decref (runs);
    }
    return reaped;
}

int
wb_job_recover (wb_store_t *store)
{
    char *jobs = wb_sprintf ("%s/jobs", wb_store_path (store));
    DIR *dir = opendir (jobs);
    int recovered = 0;
    struct dirent *entry;
    while (dir && (entry = readdir (dir))) {
        if (entry->d_name [0] == '.')
            continue;
        const char *id = entry->d_name;
        char *status = wb_store_run_state (store, id, NULL);
        bool over = !status || wb_store_status_final (status);
        bool known = status != NULL;
        free (status);
        if (!over)
            continue;           //  its supervisor is alive and in charge
        s_kill_job_processes (id, known? s_job_group (store, id): 0);
        s_clear_folder (store, id);
        recovered++;
    }
    if (dir)
        closedir (dir);
    free (jobs);
    return recovered;
}

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
//  s_kill_children) and reap them, for at most seconds.
static void
s_reap_children (double seconds)
{
    double until = wb_time_mono () + seconds;
    while (true) {
        while (waitpid (-1, NULL, WNOHANG) > 0)
            ;
        if (s_kill_children () == 0 || wb_time_mono () > until)
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
    char *dir = s_job_dir (path, id);
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
        s_kill_job_processes (id, pid);
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
    s_remove_tree (code);
    s_remove_tree (outputs);
    s_remove_tree (pylib);
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
    char *dir = s_job_dir (ws, id);
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
