/*  wb_store - the workspace: one folder holding workspace.db (SQLite, WAL)
    and artifacts/ (files by content hash)

    The store keeps experiments, runs (status, times, parent, compute,
    command, code snapshot, error), params, metrics, tags, artifacts,
    lineage and an append-only event log. Every change is one transaction;
    many processes may write at once. Opening a workspace upgrades an older
    schema in place and marks runs whose owning process died as failed.
*/
#ifndef WB_STORE_H
#define WB_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include <sqlite3.h>
#include "base/wb_error.h"

typedef struct _wb_store_t wb_store_t;

//  The schema version this build writes.
#define WB_STORE_SCHEMA 7

//  One metric point.
typedef struct {
    const char *key;            //  metric name
    int64_t step;               //  step (epoch, iteration); -1 = next after the last
    double value;               //  the value (NaN allowed)
    double time;                //  unix seconds; 0 = now
} wb_metric_t;

//  What a new run is.
typedef struct {
    const char *experiment;     //  experiment name, created if missing; NULL = "Default"
    const char *name;           //  run name; NULL = generated (e.g. "brave-heron-12")
    const char *kind;           //  "interactive", "job", "train", "sweep", "trial"; NULL = interactive
    const char *status;         //  initial status; NULL = "running"
    const char *parent;         //  parent run id (sweep trials), or NULL
    const char *compute;        //  compute target, or NULL
    const char *command;        //  what it runs, or NULL
    pid_t owner;                //  process that owns the run (0 = none yet)
} wb_run_spec_t;

//  ---- Opening ----

//  Where the workspace is for a process in start_dir: $WORKBENCH_WORKSPACE,
//  else the nearest .workbench/ walking up from start_dir, else
//  start_dir/.workbench (not created). Caller owns the return value.
char *
    wb_store_locate (const char *start_dir);
//  Open (creating it when create is true) the workspace folder at path;
//  migrate, then reap runs whose process died. NULL with err filled.
wb_store_t *
    wb_store_open (const char *path, bool create, wb_error_t *err);
//  Open the workspace at path to read only (completion while a cell runs):
//  nothing is created, migrated, reaped or tightened, and every write is
//  refused by SQLite. NULL (err) when there is none or its schema is not
//  this build's.
wb_store_t *
    wb_store_open_readonly (const char *path, wb_error_t *err);
void
    wb_store_destroy (wb_store_t **self_p);
//  The folder (lent).
const char *
    wb_store_path (wb_store_t *self);
//  The SQLite connection, for lib/ modules with tables of their own (lent).
sqlite3 *
    wb_store_db (wb_store_t *self);
//  Counts (experiments, runs by status, metric points, artifacts), path and
//  size on disk, as a JSON object (caller owns).
json_t *
    wb_store_summary (wb_store_t *self, wb_error_t *err);

//  ---- Transactions (for multi-step changes by other lib/ modules) ----

int
    wb_store_begin (wb_store_t *self, wb_error_t *err);
int
    wb_store_commit (wb_store_t *self, wb_error_t *err);
void
    wb_store_rollback (wb_store_t *self);

//  ---- Experiments ----

//  The id of experiment name, creating it when create is true; -1 (err)
//  when it does not exist or cannot be made.
int64_t
    wb_store_experiment (wb_store_t *self, const char *name, bool create, wb_error_t *err);
//  All experiments with their run counts, as a JSON array (caller owns).
json_t *
    wb_store_experiments (wb_store_t *self, wb_error_t *err);

//  ---- Runs ----

//  Create a run; writes its id (8 hex digits + NUL) to id. 0 or -1.
int
    wb_store_run_create (wb_store_t *self, const wb_run_spec_t *spec, char *id,
                         wb_error_t *err);
//  A run id from a reference: a unique id prefix (at least 4 digits) or a
//  run name (the newest run of that name). Caller owns; NULL (err) when
//  nothing or several runs match.
char *
    wb_store_run_resolve (wb_store_t *self, const char *ref, wb_error_t *err);
//  Move a run to status (checked against the allowed transitions); error
//  is the error text for failed runs (may be NULL). 0 or -1.
int
    wb_store_run_status (wb_store_t *self, const char *id, const char *status,
                         const char *error, wb_error_t *err);
//  Set the process that owns a run (0 = none), and other fields.
int
    wb_store_run_set (wb_store_t *self, const char *id, const char *field,
                      const char *value, wb_error_t *err);
int
    wb_store_run_set_owner (wb_store_t *self, const char *id, pid_t owner,
                            wb_error_t *err);
//  A run's status (caller owns), or NULL (err) when there is no such run.
char *
    wb_store_run_state (wb_store_t *self, const char *id, wb_error_t *err);
//  Whether status is one a run ends in: completed, failed or canceled.
bool
    wb_store_status_final (const char *status);
//  Whether the process that owns run id (as wb_store_run_set_owner set it)
//  is still running: the same pid with the same start time, not a zombie.
//  false when the run has no owner.
bool
    wb_store_run_owner_alive (wb_store_t *self, const char *id);
//  Put a run that ended back to queued, with no end, error or owner, so
//  that what drives it (a sweep's controller) can carry it on; logs the
//  event "run.reopen". An error when the run has not ended. 0 or -1.
int
    wb_store_run_reopen (wb_store_t *self, const char *id, wb_error_t *err);
//  Everything about a run as JSON (caller owns): id, name, experiment,
//  kind, status, parent, compute, command, snapshot, error, created,
//  started, ended, params {}, tags {}, metrics {key: {value, step, time,
//  min, max, count}}, artifacts [{path, hash, size}], lineage [...].
json_t *
    wb_store_run_get (wb_store_t *self, const char *id, wb_error_t *err);
//  Delete a run with its params, tags, metrics and artifact records, then
//  the artifact files nothing else uses. 0 or -1.
int
    wb_store_run_delete (wb_store_t *self, const char *id, wb_error_t *err);
//  Runs matching filter (see wb_query.h; NULL = all) in experiment (NULL =
//  all), sorted by sort (NULL = newest first), at most limit (0 = all), as
//  a JSON array of summaries: id, name, experiment, kind, status, created,
//  started, ended, params {}, metrics {key: latest value} (caller owns).
json_t *
    wb_store_runs (wb_store_t *self, const char *experiment, const char *filter,
                   const char *sort, size_t limit, wb_error_t *err);
//  Runs of one status with their owners: used by job queues.
json_t *
    wb_store_runs_with_status (wb_store_t *self, const char *status, wb_error_t *err);
//  Mark failed every unfinished run whose owning process is gone; returns
//  how many were marked, -1 on error.
int
    wb_store_reap (wb_store_t *self, wb_error_t *err);
//  When process pid started (clock ticks since boot), 0 when there is no
//  such process or it has exited: with the pid, it tells whether a
//  process recorded in the workspace (a run's owner, an endpoint's
//  server) is still the same one.
int64_t
    wb_store_process_start (pid_t pid);
//  The ids of all runs (for completion): a JSON array of [id, name].
json_t *
    wb_store_run_ids (wb_store_t *self);

//  ---- Params, tags, metrics ----

//  Set params / tags from a JSON object of strings (numbers are turned
//  into text). A param once set cannot change to another value (as in
//  MLflow): that is an error naming the key.
int
    wb_store_params (wb_store_t *self, const char *id, json_t *values, wb_error_t *err);
int
    wb_store_tags (wb_store_t *self, const char *id, json_t *values, wb_error_t *err);
//  Log a batch of metric points in one transaction. 0 or -1.
int
    wb_store_log (wb_store_t *self, const char *id, const wb_metric_t *points,
                  size_t count, wb_error_t *err);
//  The whole history of one metric, ordered by step: arrays the caller
//  frees (steps, values, times may each be NULL if not wanted). 0 or -1.
int
    wb_store_history (wb_store_t *self, const char *id, const char *key,
                      double **steps, double **values, double **times,
                      size_t *count, wb_error_t *err);
//  The metric keys of one run, or of all runs when id is NULL (JSON array).
json_t *
    wb_store_metric_keys (wb_store_t *self, const char *id);

//  ---- Artifacts ----

//  Store the file at file as artifact path of run id (content-addressed:
//  the same content is kept once). 0 or -1.
int
    wb_store_artifact_file (wb_store_t *self, const char *id, const char *path,
                            const char *file, wb_error_t *err);
//  The same from bytes in memory.
int
    wb_store_artifact_data (wb_store_t *self, const char *id, const char *path,
                            const void *data, size_t size, wb_error_t *err);
//  Put bytes or a file into the content store only; writes the hex SHA-256
//  (65 bytes) to hash. 0 or -1.
int
    wb_store_blob_data (wb_store_t *self, const void *data, size_t size,
                        char *hash, wb_error_t *err);
int
    wb_store_blob_file (wb_store_t *self, const char *file, char *hash,
                        wb_error_t *err);
//  The content of artifact path of run (a record from wb_store_run_get),
//  NUL-terminated; *size_p (may be NULL) gets its length. NULL when the
//  run has no such artifact or its content cannot be read. Caller owns.
char *
    wb_store_artifact_read (wb_store_t *self, json_t *run, const char *path,
                            size_t *size_p);
//  Where the content with hash lives (caller owns the path).
char *
    wb_store_blob_path (wb_store_t *self, const char *hash);

//  ---- Jobs and compute targets ----

//  Record that run id is a job on compute target with spec (JSON, not
//  stolen). 0 or -1.
int
    wb_store_job_add (wb_store_t *self, const char *id, const char *target,
                      json_t *spec, wb_error_t *err);
//  A job's record: {target, spec, submitted, pid, exit_code} (caller owns).
json_t *
    wb_store_job_get (wb_store_t *self, const char *id, wb_error_t *err);
//  Try to start queued job id on its target: it starts (status starting,
//  owned by owner) when it is the oldest queued job there and fewer than
//  max_jobs run. Returns 1 when it started, 0 when it must wait, 2 when it
//  is no longer queued (canceled), -1 on error.
int
    wb_store_job_claim (wb_store_t *self, const char *id, int max_jobs,
                        pid_t owner, wb_error_t *err);
//  Record the job's process and, when it is over, its exit code (-1 = none).
int
    wb_store_job_update (wb_store_t *self, const char *id, pid_t pid, int exit_code,
                         wb_error_t *err);
//  A compute target: {name, kind, max_jobs, settings} (caller owns), or NULL.
json_t *
    wb_store_compute_get (wb_store_t *self, const char *name, wb_error_t *err);
//  All compute targets with their queued and running job counts.
json_t *
    wb_store_computes (wb_store_t *self, wb_error_t *err);
//  Set a target's job limit (0 = the number of cores).
int
    wb_store_compute_set_max (wb_store_t *self, const char *name, int max_jobs,
                              wb_error_t *err);

//  ---- Events and lineage ----

//  Append to the event log: action (e.g. "run.create"), subject (e.g. a
//  run id), detail (JSON, may be NULL; not stolen).
int
    wb_store_event (wb_store_t *self, const char *action, const char *subject,
                    json_t *detail, wb_error_t *err);
//  Events about subject (NULL = all), newest last (caller owns).
json_t *
    wb_store_events (wb_store_t *self, const char *subject, size_t limit, wb_error_t *err);
//  Record that run id read (direction "input") or wrote ("output") a
//  versioned thing of kind ("dataset", "model").
int
    wb_store_lineage (wb_store_t *self, const char *id, const char *direction,
                      const char *kind, const char *name, int64_t version,
                      wb_error_t *err);

//  Record that snapshot manifest lists the blobs in hashes (a JSON array),
//  so they are kept while the snapshot is. 0 or -1.
int
    wb_store_snapshot_record (wb_store_t *self, const char *manifest, json_t *hashes,
                              wb_error_t *err);
//  The hash of file (absolute path) from the cache when its size and mtime
//  still match: true and hash filled, else false.
bool
    wb_store_hash_cached (wb_store_t *self, const char *file, int64_t size,
                          double mtime, char *hash);
//  Remember the hash of file at size and mtime.
void
    wb_store_hash_remember (wb_store_t *self, const char *file, int64_t size,
                            double mtime, const char *hash);

//  SHA-256 of a file as hex (65 bytes). 0 or -1.
int
    wb_sha256_file (const char *file, char *hash, wb_error_t *err);

//  ---- Datasets ----

//  What a new dataset version is.
typedef struct {
    const char *name;           //  dataset name
    const char *hash;           //  hex SHA-256 of the CSV bytes, already in the content store
    int64_t size;               //  bytes of CSV
    int64_t rows;               //  data rows
    int64_t cols;               //  columns
    json_t *schema;             //  [{"name", "type"}] (not stolen)
    json_t *profile;            //  a profile per column (not stolen)
    const char *description;    //  free text, or NULL
    const char *source;         //  the path it was read from, or NULL
} wb_dataset_spec_t;

//  The version of dataset name whose content has hash: > 0, 0 when there
//  is none, -1 on error.
int64_t
    wb_store_dataset_find (wb_store_t *self, const char *name, const char *hash,
                           wb_error_t *err);
//  Add a version of spec->name, numbered max + 1, and log the event
//  "dataset.register", in one transaction. When a version with the same
//  content exists already (another process may have added it first), that
//  version is returned and *created (may be NULL) is false. -1 on error.
int64_t
    wb_store_dataset_add (wb_store_t *self, const wb_dataset_spec_t *spec, bool *created,
                          wb_error_t *err);
//  One version (0 = the latest) as JSON (caller owns): name, version,
//  versions (how many the dataset has), hash, size, rows, cols,
//  description, source, created, schema, profile. NULL (err) when there is
//  no such dataset or version.
json_t *
    wb_store_dataset_get (wb_store_t *self, const char *name, int64_t version,
                          wb_error_t *err);
//  The latest version of every dataset, by name, without schema and
//  profile but with versions (caller owns).
json_t *
    wb_store_datasets (wb_store_t *self, wb_error_t *err);
//  The versions of one dataset, oldest first, without schema and profile
//  (caller owns; empty when there is no such dataset).
json_t *
    wb_store_dataset_versions (wb_store_t *self, const char *name, wb_error_t *err);

void
    wb_store_test (bool verbose);

#endif
