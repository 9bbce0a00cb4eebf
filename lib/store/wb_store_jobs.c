/*  wb_store_jobs - jobs on compute targets, code snapshots, lineage

    Part of wb_store (see wb_store_int.h). A job is a run with a row in
    jobs (its target, spec, process and exit code); a job is claimed in
    one transaction when its target has room and it is the oldest queued.
    Snapshots record which files a code manifest lists, with a cache of
    file hashes; lineage records the datasets and models a run read or
    wrote.
*/
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include "wb_store_int.h"
#include "base/wb_util.h"

//  ---- Jobs and compute targets ----

int
wb_store_job_add (wb_store_t *self, const char *id, const char *target, json_t *spec,
                  wb_error_t *err)
{
    int64_t seq = wb_store__run_seq (self, id, err);
    if (seq < 0)
        return -1;
    sqlite3_stmt *stmt = wb_store__prepare (self, "INSERT INTO jobs (run, target, spec, submitted)"
                                                  " VALUES (?, ?, ?, ?)", err);
    if (!stmt)
        return -1;
    char *text = json_dumps (spec, JSON_COMPACT);
    sqlite3_bind_int64 (stmt, 1, seq);
    sqlite3_bind_text (stmt, 2, target, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 3, text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double (stmt, 4, wb_time_now ());
    int rc = sqlite3_step (stmt) == SQLITE_DONE? 0: wb_store__sql_error (self, err, "recording a job");
    sqlite3_finalize (stmt);
    free (text);
    return rc;
}

json_t *
wb_store_job_get (wb_store_t *self, const char *id, wb_error_t *err)
{
    sqlite3_stmt *stmt = wb_store__prepare (self, "SELECT j.target, j.spec, j.submitted, j.pid, j.exit_code"
        " FROM jobs j JOIN runs r ON r.seq = j.run WHERE r.id = ?", err);
    if (!stmt)
        return NULL;
    sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
    json_t *job = NULL;
    if (sqlite3_step (stmt) == SQLITE_ROW) {
        json_t *spec = json_loads ((const char *) sqlite3_column_text (stmt, 1), 0, NULL);
        job = json_pack ("{s:o, s:o, s:f, s:o, s:o}",
            "target", wb_store__column_json (stmt, 0),
            "spec", spec? spec: json_object (),
            "submitted", sqlite3_column_double (stmt, 2),
            "pid", wb_store__column_json (stmt, 3), "exit_code", wb_store__column_json (stmt, 4));
    }
    else
        wb_error_set (err, "run %s is not a job", id);
    sqlite3_finalize (stmt);
    return job;
}

int
wb_store_job_claim (wb_store_t *self, const char *id, int max_jobs, pid_t owner,
                    wb_error_t *err)
{
    if (wb_store_begin (self, err))
        return -1;
    sqlite3_stmt *stmt = wb_store__prepare (self,
        "SELECT r.status, j.target,"
        " (SELECT count (*) FROM jobs j2 JOIN runs r2 ON r2.seq = j2.run WHERE j2.target = j.target"
        "   AND r2.status IN ('starting', 'running', 'finalizing', 'cancel_requested')),"
        " (SELECT r3.id FROM jobs j3 JOIN runs r3 ON r3.seq = j3.run WHERE j3.target = j.target"
        "   AND r3.status = 'queued' ORDER BY j3.submitted, j3.run LIMIT 1)"
        " FROM jobs j JOIN runs r ON r.seq = j.run WHERE r.id = ?", err);
    int rc = -1;
    if (stmt) {
        sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
        if (sqlite3_step (stmt) == SQLITE_ROW) {
            const char *status = (const char *) sqlite3_column_text (stmt, 0);
            int64_t active = sqlite3_column_int64 (stmt, 2);
            const char *oldest = (const char *) sqlite3_column_text (stmt, 3);
            if (!streq (status, "queued"))
                rc = 2;
            else
            if (active < max_jobs && oldest && streq (oldest, id))
                rc = 1;
            else
                rc = 0;
        }
        else
            wb_error_set (err, "run %s is not a job", id);
        sqlite3_finalize (stmt);
    }
    if (rc == 1) {
        int64_t seq = wb_store__run_seq (self, id, err);
        if (seq < 0 || wb_store__run_status (self, id, "starting", NULL, err) || wb_store__set_owner (self, seq, owner, err))
            rc = -1;
    }
    if (rc < 0 || wb_store_commit (self, err)) {
        wb_store_rollback (self);
        return -1;
    }
    return rc;
}

int
wb_store_job_update (wb_store_t *self, const char *id, pid_t pid, int exit_code, wb_error_t *err)
{
    int64_t seq = wb_store__run_seq (self, id, err);
    if (seq < 0)
        return -1;
    sqlite3_stmt *stmt = wb_store__prepare (self, "UPDATE jobs SET pid = coalesce (?, pid),"
                                                  " exit_code = ? WHERE run = ?", err);
    if (!stmt)
        return -1;
    if (pid > 0)
        sqlite3_bind_int64 (stmt, 1, pid);
    if (exit_code >= 0)
        sqlite3_bind_int (stmt, 2, exit_code);
    sqlite3_bind_int64 (stmt, 3, seq);
    int rc = sqlite3_step (stmt) == SQLITE_DONE? 0: wb_store__sql_error (self, err, "updating a job");
    sqlite3_finalize (stmt);
    return rc;
}

json_t *
wb_store_compute_get (wb_store_t *self, const char *name, wb_error_t *err)
{
    sqlite3_stmt *stmt = wb_store__prepare (self, "SELECT name, kind, max_jobs, settings FROM compute"
                                                  " WHERE name = ?", err);
    if (!stmt)
        return NULL;
    sqlite3_bind_text (stmt, 1, name, -1, SQLITE_STATIC);
    json_t *target = NULL;
    if (sqlite3_step (stmt) == SQLITE_ROW)
        target = json_pack ("{s:o, s:o, s:o, s:o}",
            "name", wb_store__column_json (stmt, 0),
            "kind", wb_store__column_json (stmt, 1),
            "max_jobs", wb_store__column_json (stmt, 2), "settings", wb_store__column_json (stmt, 3));
    else
        wb_error_set (err, "no compute target named '%s' (see %%compute)", name);
    sqlite3_finalize (stmt);
    return target;
}

json_t *
wb_store_computes (wb_store_t *self, wb_error_t *err)
{
    sqlite3_stmt *stmt = wb_store__prepare (self,
        "SELECT c.name, c.kind, c.max_jobs,"
        " (SELECT count (*) FROM jobs j JOIN runs r ON r.seq = j.run"
        "   WHERE j.target = c.name AND r.status = 'queued'),"
        " (SELECT count (*) FROM jobs j JOIN runs r ON r.seq = j.run WHERE j.target = c.name"
        "   AND r.status IN ('starting', 'running', 'finalizing', 'cancel_requested'))"
        " FROM compute c ORDER BY c.name", err);
    if (!stmt)
        return NULL;
    json_t *list = json_array ();
    while (sqlite3_step (stmt) == SQLITE_ROW)
        json_array_append_new (list, json_pack ("{s:o, s:o, s:o, s:I, s:I}",
            "name", wb_store__column_json (stmt, 0),
            "kind", wb_store__column_json (stmt, 1),
            "max_jobs", wb_store__column_json (stmt, 2),
            "queued", (json_int_t) sqlite3_column_int64 (stmt, 3),
            "running", (json_int_t) sqlite3_column_int64 (stmt, 4)));
    sqlite3_finalize (stmt);
    return list;
}

int
wb_store_compute_set_max (wb_store_t *self, const char *name, int max_jobs, wb_error_t *err)
{
    sqlite3_stmt *stmt = wb_store__prepare (self, "UPDATE compute SET max_jobs = ? WHERE name = ?", err);
    if (!stmt)
        return -1;
    if (max_jobs > 0)
        sqlite3_bind_int (stmt, 1, max_jobs);
    sqlite3_bind_text (stmt, 2, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step (stmt) == SQLITE_DONE? 0: wb_store__sql_error (self, err, "updating a compute target");
    if (rc == 0 && sqlite3_changes (self->db) == 0)
        rc = wb_error_set (err, "no compute target named '%s' (see %%compute)", name);
    sqlite3_finalize (stmt);
    return rc;
}

//  ---- Snapshots ----

int
wb_store_snapshot_record (wb_store_t *self, const char *manifest, json_t *hashes,
                          wb_error_t *err)
{
    if (wb_store_begin (self, err))
        return -1;
    sqlite3_stmt *stmt = wb_store__prepare (self, "INSERT OR IGNORE INTO snapshot_files"
                                                  " (snapshot, hash) VALUES (?, ?)", err);
    int rc = stmt? 0: -1;
    size_t index;
    json_t *hash;
    json_array_foreach (hashes, index, hash) {
        if (rc)
            break;
        sqlite3_reset (stmt);
        sqlite3_bind_text (stmt, 1, manifest, -1, SQLITE_STATIC);
        sqlite3_bind_text (stmt, 2, json_string_value (hash), -1, SQLITE_STATIC);
        if (sqlite3_step (stmt) != SQLITE_DONE)
            rc = wb_store__sql_error (self, err, "recording a snapshot");
    }
    sqlite3_finalize (stmt);
    if (rc || wb_store_commit (self, err)) {
        wb_store_rollback (self);
        return -1;
    }
    return 0;
}

bool
wb_store_hash_cached (wb_store_t *self, const char *file, int64_t size, double mtime,
                      char *hash)
{
    sqlite3_stmt *stmt = wb_store__prepare (self, "SELECT hash FROM file_hashes"
                                                  " WHERE path = ? AND size = ? AND mtime = ?", NULL);
    if (!stmt)
        return false;
    sqlite3_bind_text (stmt, 1, file, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 2, size);
    sqlite3_bind_double (stmt, 3, mtime);
    bool found = sqlite3_step (stmt) == SQLITE_ROW;
    if (found)
        snprintf (hash, 65, "%s", (const char *) sqlite3_column_text (stmt, 0));
    sqlite3_finalize (stmt);
    return found;
}

void
wb_store_hash_remember (wb_store_t *self, const char *file, int64_t size, double mtime,
                        const char *hash)
{
    sqlite3_stmt *stmt = wb_store__prepare (self, "INSERT INTO file_hashes (path, size, mtime, hash)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET size = excluded.size,"
        " mtime = excluded.mtime, hash = excluded.hash", NULL);
    if (!stmt)
        return;
    sqlite3_bind_text (stmt, 1, file, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 2, size);
    sqlite3_bind_double (stmt, 3, mtime);
    sqlite3_bind_text (stmt, 4, hash, -1, SQLITE_STATIC);
    sqlite3_step (stmt);
    sqlite3_finalize (stmt);
}

//  ---- Lineage ----

int
wb_store_lineage (wb_store_t *self, const char *id, const char *direction,
                  const char *kind, const char *name, int64_t version, wb_error_t *err)
{
    assert (streq (direction, "input") || streq (direction, "output"));
    int64_t seq = wb_store__run_seq (self, id, err);
    if (seq < 0)
        return -1;
    sqlite3_stmt *stmt = wb_store__prepare (self, "INSERT OR IGNORE INTO lineage"
        " (run, direction, kind, name, version) VALUES (?, ?, ?, ?, ?)", err);
    if (!stmt)
        return -1;
    sqlite3_bind_int64 (stmt, 1, seq);
    sqlite3_bind_text (stmt, 2, direction, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 3, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 4, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 5, version);
    int rc = sqlite3_step (stmt) == SQLITE_DONE? 0: wb_store__sql_error (self, err, "recording lineage");
    sqlite3_finalize (stmt);
    return rc;
}
