/*  wb_store_int - private to wb_store*.c: the store's struct and the SQL
    and text helpers its parts share

    The store is one class in several files, one part each: wb_store.c
    (opening, transactions, the helpers below), wb_store_schema.c (the
    schema and its migrations), wb_store_runs.c (experiments, run owners,
    runs), wb_store_list.c (reading runs back: one in full, the filtered
    listing), wb_store_metrics.c (params, tags, metrics), wb_store_blobs.c
    (content-addressed files and artifacts), wb_store_jobs.c (jobs, compute
    targets, snapshots, lineage) and wb_store_data.c (datasets, summary).
    Nothing outside lib/store/wb_store*.c includes this header.
*/
#ifndef WB_STORE_INT_H
#define WB_STORE_INT_H

#include "wb_store.h"

struct _wb_store_t {
    char *path;                 //  the workspace folder
    char *artifacts;            //  its artifacts/ folder
    sqlite3 *db;                //  workspace.db
    char host [256];            //  this machine's name, for run owners
};

//  ---- wb_store.c: SQL and text helpers ----

//  Fill err with what failed and SQLite's message; returns -1.
int
    wb_store__sql_error (wb_store_t *self, wb_error_t *err, const char *what);
//  Run one or more statements without results; -1 with err filled.
int
    wb_store__exec (wb_store_t *self, const char *sql, wb_error_t *err);
//  A prepared statement (caller finalizes it), NULL with err filled.
sqlite3_stmt *
    wb_store__prepare (wb_store_t *self, const char *sql, wb_error_t *err);
//  Open the workspace at path, migrating its schema to target (the
//  self-tests open at an old schema); wb_store_open opens at the latest.
wb_store_t *
    wb_store__open (const char *path, bool create, int target, wb_error_t *err);
//  A column's value as JSON (text made valid UTF-8): a new reference.
json_t *
    wb_store__column_json (sqlite3_stmt *stmt, int column);
//  obj[text of column] = value (stolen), the key made valid UTF-8.
void
    wb_store__set_column_key (json_t *obj, sqlite3_stmt *stmt, int column, json_t *value);
//  A text from outside, to be stored: itself when it is valid UTF-8, else
//  a valid copy in *copy_p (free it). NULL stays NULL.
const char *
    wb_store__valid (const char *text, char **copy_p);
//  The seq of a run id; -1 (err) if there is none.
int64_t
    wb_store__run_seq (wb_store_t *self, const char *id, wb_error_t *err);
//  Append to the event log (detail may be NULL, is not stolen).
int
    wb_store__event (wb_store_t *self, const char *action, const char *subject,
                     json_t *detail, wb_error_t *err);

//  ---- wb_store_schema.c ----

//  The schema version of the open workspace (0: none yet).
int
    wb_store__schema_version (wb_store_t *self);
//  The version the last migration brings a workspace to.
int
    wb_store__schema_latest (void);
//  Bring the schema to target, one transaction per step.
int
    wb_store__migrate (wb_store_t *self, int target, wb_error_t *err);

//  ---- wb_store_runs.c ----

//  Record (owner > 0) or clear the process that owns run seq.
int
    wb_store__set_owner (wb_store_t *self, int64_t seq, pid_t owner, wb_error_t *err);
//  Change a run's status inside the caller's transaction.
int
    wb_store__run_status (wb_store_t *self, const char *id, const char *status,
                          const char *error, wb_error_t *err);

//  ---- wb_store_blobs.c ----

//  Delete the files under artifacts/ whose hash no row refers to any more.
void
    wb_store__collect (wb_store_t *self, json_t *hashes);

//  ---- Self-tests of the parts (wb_store_test runs them all) ----

//  A scratch folder for a self-test: scratch is a mkdtemp template
//  ("/tmp/wb-store-XXXXXX"), path gets its workspace (scratch/ws).
void
    wb_store__test_scratch (char *scratch, char *path, size_t size);
//  A new workspace for a self-test: in a new scratch folder as
//  wb_store__test_scratch makes one (scratch NULL: at path as it is);
//  when id is not NULL, with a running run owned by this process (its id
//  into id, 9 bytes).
wb_store_t *
    wb_store__test_open (char *scratch, char *path, size_t size, char *id);
//  Remove the scratch folder and all in it.
void
    wb_store__test_remove (const char *scratch);
void
    wb_store_schema_test (bool verbose);
void
    wb_store_runs_test (bool verbose);
void
    wb_store_list_test (bool verbose);
void
    wb_store_metrics_test (bool verbose);
void
    wb_store_blobs_test (bool verbose);

#endif
