/*  wb_job - jobs on compute targets: submit any command as a tracked run

    A job is a run (kind "job", or "train"/"trial" for later magics) with a
    spec: the script, its environment, params, timeout, code snapshot.
    Submitting hands it to its compute target through a small table of
    operations, so a cluster scheduler is one more row, not a change to the
    magics. The local target starts a supervisor process per job
    (`workbench job-run WORKSPACE RUN`), detached so the job outlives the
    kernel; the supervisor waits its turn (at most max_jobs at once, in
    submission order), restores the code snapshot in a fresh folder, runs the
    script in its own process group, captures its output to a log, reads
    metrics from the line protocol, enforces timeout and cancel (SIGTERM,
    then SIGKILL after a grace period), keeps the files written to
    $WORKBENCH_OUTPUTS as artifacts and records how it ended.
*/
#ifndef WB_JOB_H
#define WB_JOB_H

#include <stdbool.h>
#include <sys/types.h>
#include <jansson.h>
#include "store/wb_store.h"
#include "base/wb_error.h"

//  Seconds between SIGTERM and SIGKILL when a job is canceled or times out.
#define WB_JOB_GRACE 3.0

//  What to run.
typedef struct {
    const char *experiment;     //  experiment name (NULL = Default)
    const char *name;           //  run name (NULL = generated)
    const char *kind;           //  "job", "train", "trial" (NULL = job)
    const char *parent;         //  parent run id (sweep trials), or NULL
    const char *target;         //  compute target name (NULL = local)
    const char *script;         //  the bash script to run
    json_t *params;             //  {name: value}: run params, also environment
    json_t *env;                //  {name: value}: the job's environment
    const char *code_dir;       //  folder to snapshot, or NULL for none
    double timeout;             //  seconds, 0 = none
    double grace;               //  seconds from SIGTERM to SIGKILL, 0 = WB_JOB_GRACE
    const char *binary;         //  the workbench binary (NULL = this process's)
} wb_job_spec_t;

//  Submit a job: create its run (queued), snapshot its code, hand it to
//  its compute target. Writes the run id (9 bytes) to id. 0 or -1.
int
    wb_job_submit (wb_store_t *store, const wb_job_spec_t *spec, char *id,
                   wb_error_t *err);
//  Ask a job to stop: queued jobs are canceled at once, started ones get
//  cancel_requested and their supervisor stops them. 0 or -1.
int
    wb_job_cancel (wb_store_t *store, const char *id, wb_error_t *err);
//  The supervisor: run job id of the workspace at path to its end. Returns
//  the process exit code (0 when the job was run, whatever its outcome).
int
    wb_job_supervise (const char *path, const char *id);
//  Whether job id's supervisor died before the job ended (kill -9, a
//  crash): then mark the run failed with why, kill what the job ran (its
//  process group and every process with WORKBENCH_RUN_ID=id) and keep its
//  log. Whoever watches a job calls this (the live display, %job wait,
//  list, logs, cancel, the queue), so a dead supervisor is noticed at the
//  next look. 1 when it found a dead supervisor, else 0 (alive, ended, or
//  not a job).
int
    wb_job_reap (wb_store_t *store, const char *id);
//  wb_job_reap for every unfinished job whose owner is gone. Returns how
//  many it ended.
int
    wb_job_reap_all (wb_store_t *store);
//  The pid of the process that owned run (as wb_store_run_get gives it: a
//  job's supervisor, a sweep's controller) if it died while the run was
//  unfinished, else 0.
pid_t
    wb_job_dead_owner (wb_store_t *store, json_t *run);
//  Clean up after jobs whose supervisor died (their runs are failed by
//  the store when it opens): kill the processes still running for them
//  (found by WORKBENCH_RUN_ID in their environment, so a reused process
//  id is never hit), keep their log, remove their folders. Returns how
//  many jobs were cleaned up.
int
    wb_job_recover (wb_store_t *store);
//  Where a job's live log is while it runs (caller owns); after it ends the
//  log is the run's artifact logs/output.log.
char *
    wb_job_log_path (wb_store_t *store, const char *id);
//  The most jobs a target runs at once.
int
    wb_job_max (wb_store_t *store, const char *target);
//  Substitute ${{params.NAME}} in script with params' values; NULL (err)
//  when the script names a param that is not given. Caller owns.
char *
    wb_job_expand (const char *script, json_t *params, wb_error_t *err);
//  Parse one line of the metric line protocol ("metric k=v ... [step=N]",
//  "param k=v", "tag k=v", optionally behind "##"). Returns the kind
//  ("metric", "param", "tag") and fills values ({key: number or string})
//  and *step (-1 if none); NULL when the line is not a record.
const char *
    wb_job_parse_line (const char *line, json_t *values, long *step);

//  The environment a detached Workbench process (a job supervisor, a sweep
//  controller, a scoring server) starts with: this process's, without the
//  run id of a job it may be running in, so that it is not killed with that
//  job's leftovers. Caller frees the array (not the strings).
char **
    wb_job_detached_environ (void);

//  Start `binary command workspace id` as a process of its own (new
//  session, stdin/stdout on /dev/null, stderr appended to log_path, no
//  inherited descriptors) that outlives the caller; *pid_p gets its pid.
//  0 or -1 (err says why exec failed).
int
    wb_job_detach (const char *binary, const char *command, const char *workspace,
                   const char *id, const char *log_path, pid_t *pid_p, wb_error_t *err);

void
    wb_job_test (bool verbose);

#endif
