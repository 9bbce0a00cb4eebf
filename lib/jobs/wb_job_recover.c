/*  wb_job_recover - recovery: what a job leaves behind when its
    supervisor dies (killed or crashed) or the machine goes down

    A run whose owner (the supervisor) is dead is marked failed, what the
    job ran is killed (every process that carries WORKBENCH_RUN_ID=id, and
    its process group while one of them is in it, so that a reused group
    id is never hit), its live log kept and its folder removed. Part of
    wb_job (wb_job_int.h).
*/
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "wb_job_int.h"
#include "base/wb_util.h"

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
int
wb_job__kill_processes (const char *id, pid_t pgid)
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
int
wb_job__kill_children (void)
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
    char *folder = wb_job__dir (wb_store_path (store), id);
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
    wb_job__remove_tree (folder);
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
    wb_job__kill_processes (id, s_job_group (store, id));
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
        wb_job__kill_processes (id, known? s_job_group (store, id): 0);
        s_clear_folder (store, id);
        recovered++;
    }
    if (dir)
        closedir (dir);
    free (jobs);
    return recovered;
}
