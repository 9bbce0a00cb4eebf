/*  wb_store_runs - experiments, runs and the processes that own them

    Part of wb_store (see wb_store_int.h). A run is created with a random
    id and a generated name, found by name or id prefix, moves through its
    statuses by the allowed transitions only, and is failed when the
    process that owns it is gone (wb_store_reap, on open). Deleting a run
    collects the files only it held.
*/
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sodium.h>
#include "wb_store_int.h"
#include "base/wb_util.h"

//  ---- Experiments ----

static int64_t
s_experiment (wb_store_t *self, const char *name, bool create, wb_error_t *err)
{
    sqlite3_stmt *stmt = wb_store__prepare (self, "SELECT id FROM experiments WHERE name = ?", err);
    if (!stmt)
        return -1;
    sqlite3_bind_text (stmt, 1, name, -1, SQLITE_STATIC);
    int64_t id = -1;
    if (sqlite3_step (stmt) == SQLITE_ROW)
        id = sqlite3_column_int64 (stmt, 0);
    sqlite3_finalize (stmt);
    if (id >= 0 || !create) {
        if (id < 0)
            wb_error_set (err, "no experiment named '%s'", name);
        return id;
    }
    stmt = wb_store__prepare (self, "INSERT INTO experiments (name, created) VALUES (?, ?)", err);
    if (!stmt)
        return -1;
    sqlite3_bind_text (stmt, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_double (stmt, 2, wb_time_now ());
    if (sqlite3_step (stmt) == SQLITE_DONE)
        id = sqlite3_last_insert_rowid (self->db);
    else
        wb_store__sql_error (self, err, "creating an experiment");
    sqlite3_finalize (stmt);
    if (id >= 0 && wb_store__event (self, "experiment.create", name, NULL, err))
        id = -1;
    return id;
}

int64_t
wb_store_experiment (wb_store_t *self, const char *name, bool create, wb_error_t *err)
{
    if (!name || !*name) {
        wb_error_set (err, "an experiment needs a name");
        return -1;
    }
    char *copy;
    name = wb_store__valid (name, &copy);
    int64_t id;
    if (!create)
        id = s_experiment (self, name, false, err);
    else
    if (wb_store_begin (self, err))
        id = -1;
    else {
        id = s_experiment (self, name, true, err);
        if (id < 0 || wb_store_commit (self, err)) {
            wb_store_rollback (self);
            id = -1;
        }
    }
    free (copy);
    return id;
}

json_t *
wb_store_experiments (wb_store_t *self, wb_error_t *err)
{
    sqlite3_stmt *stmt = wb_store__prepare (self,
        "SELECT e.name, e.created, count (r.seq), max (r.created) FROM experiments e"
        " LEFT JOIN runs r ON r.experiment_id = e.id GROUP BY e.id ORDER BY e.name", err);
    if (!stmt)
        return NULL;
    json_t *list = json_array ();
    while (sqlite3_step (stmt) == SQLITE_ROW)
        json_array_append_new (list, json_pack ("{s:o, s:f, s:I, s:o}",
            "name", wb_store__column_json (stmt, 0),
            "created", sqlite3_column_double (stmt, 1),
            "runs", (json_int_t) sqlite3_column_int64 (stmt, 2),
            "last_run", wb_store__column_json (stmt, 3)));
    sqlite3_finalize (stmt);
    return list;
}

//  ---- Run owners: is the process still there? ----

//  The start time of process pid (clock ticks since boot, field 22 of
//  /proc/PID/stat), 0 when there is no such process.
static int64_t
s_process_start (pid_t pid)
{
    if (pid <= 0)
        return 0;
    char path [64];
    snprintf (path, sizeof (path), "/proc/%d/stat", (int) pid);
    char *text = wb_file_read (path, NULL);
    if (!text)
        return 0;
    //  The command name is in parentheses and may hold spaces: skip it
    char *cursor = strrchr (text, ')');
    int64_t start = 0;
    if (cursor) {
        cursor += 2;            //  ") " then field 3 (state)
        for (int field = 3; field < 22 && cursor; field++) {
            cursor = strchr (cursor, ' ');
            if (cursor)
                cursor++;
        }
        if (cursor)
            start = strtoll (cursor, NULL, 10);
        //  A zombie process has exited: it no longer owns anything
        char state = *(strrchr (text, ')') + 2);
        if (state == 'Z' || state == 'X')
            start = 0;
    }
    free (text);
    return start;
}

int64_t
wb_store_process_start (pid_t pid)
{
    return s_process_start (pid);
}

int
wb_store__set_owner (wb_store_t *self, int64_t seq, pid_t owner, wb_error_t *err)
{
    sqlite3_stmt *stmt = wb_store__prepare (self,
        "UPDATE runs SET owner_pid = ?, owner_start = ?, owner_host = ? WHERE seq = ?", err);
    if (!stmt)
        return -1;
    if (owner > 0) {
        sqlite3_bind_int64 (stmt, 1, owner);
        sqlite3_bind_int64 (stmt, 2, s_process_start (owner));
        sqlite3_bind_text (stmt, 3, self->host, -1, SQLITE_STATIC);
    }
    sqlite3_bind_int64 (stmt, 4, seq);
    int rc = sqlite3_step (stmt) == SQLITE_DONE? 0: wb_store__sql_error (self, err, "setting a run's owner");
    sqlite3_finalize (stmt);
    return rc;
}

int
wb_store_run_set_owner (wb_store_t *self, const char *id, pid_t owner, wb_error_t *err)
{
    int64_t seq = wb_store__run_seq (self, id, err);
    return seq < 0? -1: wb_store__set_owner (self, seq, owner, err);
}

//  ---- Runs ----

static const char *s_adjectives [] = {
    "amber", "bold", "brave", "bright", "calm", "clever", "crisp", "eager",
    "fair", "gentle", "glad", "keen", "lucid", "merry", "nimble", "proud",
    "quick", "quiet", "sharp", "steady", "swift", "tidy", "vivid", "warm"
};
static const char *s_nouns [] = {
    "badger", "crane", "dolphin", "falcon", "finch", "fox", "gecko", "heron",
    "ibis", "koala", "lark", "lynx", "marten", "otter", "owl", "panda",
    "puffin", "raven", "robin", "seal", "sparrow", "tern", "wren", "yak"
};

static int
    s_run_create (wb_store_t *self, const wb_run_spec_t *spec, char *id, wb_error_t *err);

int
wb_store_run_create (wb_store_t *self, const wb_run_spec_t *spec, char *id, wb_error_t *err)
{
    assert (spec && id);
    //  Names and commands may come from anywhere (a shell, a file name):
    //  they are stored as valid UTF-8
    char *copies [4];
    wb_run_spec_t valid = *spec;
    valid.experiment = wb_store__valid (spec->experiment, &copies [0]);
    valid.name = wb_store__valid (spec->name, &copies [1]);
    valid.command = wb_store__valid (spec->command, &copies [2]);
    valid.compute = wb_store__valid (spec->compute, &copies [3]);
    int rc = s_run_create (self, &valid, id, err);
    for (int i = 0; i < 4; i++)
        free (copies [i]);
    return rc;
}

static int
s_run_create (wb_store_t *self, const wb_run_spec_t *spec, char *id, wb_error_t *err)
{
    const char *experiment = spec->experiment? spec->experiment: "Default";
    if (!*experiment)
        return wb_error_set (err, "an experiment needs a name");
    if (wb_store_begin (self, err))
        return -1;
    int64_t experiment_id = s_experiment (self, experiment, true, err);
    int64_t parent = -1;
    if (experiment_id < 0)
        goto fail;
    if (spec->parent && (parent = wb_store__run_seq (self, spec->parent, err)) < 0)
        goto fail;

    sqlite3_stmt *stmt = wb_store__prepare (self,
        "INSERT INTO runs (id, experiment_id, name, kind, status, parent, compute,"
        " command, created, started) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", err);
    if (!stmt)
        goto fail;
    const char *status = spec->status? spec->status: "running";
    double now = wb_time_now ();
    int attempts = 0;
    int rc;
    do {
        //  Random ids; a clash (1 in 4 billion per pair) just draws again
        unsigned char bytes [4];
        randombytes_buf (bytes, sizeof (bytes));
        snprintf (id, 9, "%02x%02x%02x%02x", bytes [0], bytes [1], bytes [2], bytes [3]);
        char *name = spec->name? wb_strdup (spec->name): NULL;
        if (!name) {
            sqlite3_stmt *count = wb_store__prepare (self, "SELECT coalesce (max (seq), 0) + 1 FROM runs", NULL);
            int64_t next = count && sqlite3_step (count) == SQLITE_ROW? sqlite3_column_int64 (count, 0): 1;
            sqlite3_finalize (count);
            name = wb_sprintf ("%s-%s-%lld",
                s_adjectives [bytes [0] % (sizeof (s_adjectives) / sizeof (char *))],
                s_nouns [bytes [1] % (sizeof (s_nouns) / sizeof (char *))], (long long) next);
        }
        sqlite3_reset (stmt);
        sqlite3_bind_text (stmt, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64 (stmt, 2, experiment_id);
        sqlite3_bind_text (stmt, 3, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text (stmt, 4, spec->kind? spec->kind: "interactive", -1, SQLITE_STATIC);
        sqlite3_bind_text (stmt, 5, status, -1, SQLITE_STATIC);
        if (parent >= 0)
            sqlite3_bind_int64 (stmt, 6, parent);
        else
            sqlite3_bind_null (stmt, 6);
        sqlite3_bind_text (stmt, 7, spec->compute, -1, SQLITE_STATIC);
        sqlite3_bind_text (stmt, 8, spec->command, -1, SQLITE_STATIC);
        sqlite3_bind_double (stmt, 9, now);
        if (streq (status, "running"))
            sqlite3_bind_double (stmt, 10, now);
        else
            sqlite3_bind_null (stmt, 10);
        rc = sqlite3_step (stmt);
        free (name);
    } while (rc == SQLITE_CONSTRAINT && ++attempts < 10);
    sqlite3_finalize (stmt);
    if (rc != SQLITE_DONE) {
        wb_store__sql_error (self, err, "creating a run");
        goto fail;
    }
    int64_t seq = sqlite3_last_insert_rowid (self->db);
    if (spec->owner && wb_store__set_owner (self, seq, spec->owner, err))
        goto fail;
    json_t *detail = json_pack ("{s:s, s:s}", "experiment", experiment, "status", status);
    rc = wb_store__event (self, "run.create", id, detail, err);
    json_decref (detail);
    if (rc || wb_store_commit (self, err))
        goto fail;
    return 0;
fail:
    wb_store_rollback (self);
    return -1;
}

char *
wb_store_run_resolve (wb_store_t *self, const char *ref, wb_error_t *err)
{
    if (!ref || !*ref) {
        wb_error_set (err, "give a run id or name");
        return NULL;
    }
    //  A name first (exact), newest wins; then an id prefix
    sqlite3_stmt *stmt = wb_store__prepare (self,
        "SELECT id FROM runs WHERE name = ? ORDER BY created DESC, seq DESC LIMIT 1", err);
    if (!stmt)
        return NULL;
    sqlite3_bind_text (stmt, 1, ref, -1, SQLITE_STATIC);
    char *id = NULL;
    if (sqlite3_step (stmt) == SQLITE_ROW)
        id = wb_strdup ((const char *) sqlite3_column_text (stmt, 0));
    sqlite3_finalize (stmt);
    if (id)
        return id;
    bool hex = strlen (ref) <= 8;
    for (const char *c = ref; *c; c++)
        if (!strchr ("0123456789abcdef", *c))
            hex = false;
    if (!hex) {
        wb_error_set (err, "no run with name or id '%s' (see %%runs)", ref);
        return NULL;
    }
    if (strlen (ref) < 4) {
        wb_error_set (err, "run id '%s' is too short: give at least 4 digits", ref);
        return NULL;
    }
    stmt = wb_store__prepare (self, "SELECT id FROM runs WHERE id >= ?1 AND id < ?1 || 'g' LIMIT 3", err);
    if (!stmt)
        return NULL;
    sqlite3_bind_text (stmt, 1, ref, -1, SQLITE_STATIC);
    int found = 0;
    wb_buf_t *matches = wb_buf_new ();
    while (sqlite3_step (stmt) == SQLITE_ROW) {
        const char *candidate = (const char *) sqlite3_column_text (stmt, 0);
        if (!found)
            id = wb_strdup (candidate);
        wb_buf_printf (matches, "%s%s", found? ", ": "", candidate);
        found++;
    }
    sqlite3_finalize (stmt);
    if (found == 0)
        wb_error_set (err, "no run with name or id '%s' (see %%runs)", ref);
    else
    if (found > 1) {
        wb_error_set (err, "run id '%s' is ambiguous (%s%s): give more digits",
                      ref, wb_buf_data (matches), found > 2? ", ...": "");
        free (id);
        id = NULL;
    }
    wb_buf_destroy (&matches);
    return id;
}

//  May a run go from status `from` to `to`?
static bool
s_transition_ok (const char *from, const char *to)
{
    static const char *allowed [][2] = {
        { "queued", "starting" }, { "queued", "canceled" }, { "queued", "failed" },
        { "queued", "cancel_requested" },
        { "starting", "running" }, { "starting", "failed" }, { "starting", "canceled" },
        { "starting", "cancel_requested" },
        { "running", "finalizing" }, { "running", "completed" }, { "running", "failed" },
        { "running", "canceled" }, { "running", "cancel_requested" },
        { "cancel_requested", "canceled" }, { "cancel_requested", "failed" },
        { "cancel_requested", "completed" }, { "cancel_requested", "finalizing" },
        { "finalizing", "completed" }, { "finalizing", "failed" }, { "finalizing", "canceled" },
    };
    for (size_t i = 0; i < sizeof (allowed) / sizeof (allowed [0]); i++)
        if (streq (allowed [i][0], from) && streq (allowed [i][1], to))
            return true;
    return false;
}

static bool
s_known_status (const char *status)
{
    static const char *known [] = { "queued", "starting", "running", "finalizing",
        "completed", "failed", "canceled", "cancel_requested" };
    for (size_t i = 0; i < sizeof (known) / sizeof (known [0]); i++)
        if (streq (known [i], status))
            return true;
    return false;
}

//  The status change itself, inside a transaction.
int
wb_store__run_status (wb_store_t *self, const char *id, const char *status,
                      const char *error, wb_error_t *err)
{
    sqlite3_stmt *stmt = wb_store__prepare (self, "SELECT status FROM runs WHERE id = ?", err);
    if (!stmt)
        return -1;
    sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
    char *from = NULL;
    if (sqlite3_step (stmt) == SQLITE_ROW)
        from = wb_strdup ((const char *) sqlite3_column_text (stmt, 0));
    sqlite3_finalize (stmt);
    if (!from)
        return wb_error_set (err, "no run with id '%s'", id);
    if (!s_transition_ok (from, status)) {
        wb_error_set (err, "run %s is %s: it cannot become %s", id, from, status);
        free (from);
        return -1;
    }
    stmt = wb_store__prepare (self,
        "UPDATE runs SET status = ?1,"
        " started = CASE WHEN ?1 IN ('running') AND started IS NULL THEN ?2 ELSE started END,"
        " ended = CASE WHEN ?1 IN ('completed', 'failed', 'canceled') THEN ?2 ELSE ended END,"
        " error = coalesce (?3, error) WHERE id = ?4", err);
    if (!stmt) {
        free (from);
        return -1;
    }
    sqlite3_bind_text (stmt, 1, status, -1, SQLITE_STATIC);
    sqlite3_bind_double (stmt, 2, wb_time_now ());
    sqlite3_bind_text (stmt, 3, error, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 4, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step (stmt) == SQLITE_DONE? 0: wb_store__sql_error (self, err, "changing a run's status");
    sqlite3_finalize (stmt);
    if (rc == 0) {
        json_t *detail = json_pack ("{s:s, s:s, s:s?}", "from", from, "to", status, "error", error);
        rc = wb_store__event (self, "run.status", id, detail, err);
        json_decref (detail);
    }
    free (from);
    return rc;
}

int
wb_store_run_status (wb_store_t *self, const char *id, const char *status,
                     const char *error, wb_error_t *err)
{
    if (!s_known_status (status))
        return wb_error_set (err, "unknown status '%s' (use completed, failed or canceled)", status);
    if (wb_store_begin (self, err))
        return -1;
    //  The error text is often the tail of a program's stderr: any bytes
    char *copy;
    error = wb_store__valid (error, &copy);
    int rc = 0;
    if (wb_store__run_status (self, id, status, error, err) || wb_store_commit (self, err)) {
        wb_store_rollback (self);
        rc = -1;
    }
    free (copy);
    return rc;
}

int
wb_store_run_set (wb_store_t *self, const char *id, const char *field, const char *value,
                  wb_error_t *err)
{
    static const char *fields [] = { "compute", "command", "snapshot", "error", "name", NULL };
    const char **known = fields;
    while (*known && !streq (*known, field))
        known++;
    assert (*known);            //  a programming error otherwise
    char *sql = wb_sprintf ("UPDATE runs SET %s = ? WHERE id = ?", *known);
    sqlite3_stmt *stmt = wb_store__prepare (self, sql, err);
    free (sql);
    if (!stmt)
        return -1;
    char *copy;
    sqlite3_bind_text (stmt, 1, wb_store__valid (value, &copy), -1, SQLITE_TRANSIENT);
    free (copy);
    sqlite3_bind_text (stmt, 2, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step (stmt) == SQLITE_DONE? 0: wb_store__sql_error (self, err, "updating a run");
    if (rc == 0 && sqlite3_changes (self->db) == 0)
        rc = wb_error_set (err, "no run with id '%s'", id);
    sqlite3_finalize (stmt);
    return rc;
}

int
wb_store_reap (wb_store_t *self, wb_error_t *err)
{
    sqlite3_stmt *stmt = wb_store__prepare (self,
        "SELECT id, owner_pid, owner_start FROM runs WHERE owner_host = ? AND owner_pid > 0"
        " AND status IN ('queued', 'starting', 'running', 'finalizing', 'cancel_requested')", err);
    if (!stmt)
        return -1;
    sqlite3_bind_text (stmt, 1, self->host, -1, SQLITE_STATIC);
    json_t *dead = json_array ();
    while (sqlite3_step (stmt) == SQLITE_ROW) {
        pid_t pid = (pid_t) sqlite3_column_int64 (stmt, 1);
        int64_t start = sqlite3_column_int64 (stmt, 2);
        int64_t now_start = s_process_start (pid);
        if (now_start == 0 || (start && now_start != start))
            json_array_append_new (dead, json_pack ("{s:o, s:i}",
                "id", wb_store__column_json (stmt, 0), "pid", (int) pid));
    }
    sqlite3_finalize (stmt);
    int reaped = 0;
    size_t index;
    json_t *entry;
    json_array_foreach (dead, index, entry) {
        char *reason = wb_sprintf ("the process running it (pid %d) is gone: it died or was "
            "killed before the run ended", (int) json_integer_value (json_object_get (entry, "pid")));
        if (wb_store_run_status (self, json_string_value (json_object_get (entry, "id")),
                                 "failed", reason, NULL) == 0)
            reaped++;
        free (reason);
    }
    json_decref (dead);
    return reaped;
}

json_t *
wb_store_runs_with_status (wb_store_t *self, const char *status, wb_error_t *err)
{
    sqlite3_stmt *stmt = wb_store__prepare (self,
        "SELECT id, owner_pid, owner_host, created FROM runs WHERE status = ? ORDER BY seq", err);
    if (!stmt)
        return NULL;
    sqlite3_bind_text (stmt, 1, status, -1, SQLITE_STATIC);
    json_t *list = json_array ();
    while (sqlite3_step (stmt) == SQLITE_ROW)
        json_array_append_new (list, json_pack ("{s:o, s:o, s:o, s:f}",
            "id", wb_store__column_json (stmt, 0),
            "owner", wb_store__column_json (stmt, 1), "host", wb_store__column_json (stmt, 2),
            "created", sqlite3_column_double (stmt, 3)));
    sqlite3_finalize (stmt);
    return list;
}

char *
wb_store_run_state (wb_store_t *self, const char *id, wb_error_t *err)
{
    sqlite3_stmt *stmt = wb_store__prepare (self, "SELECT status FROM runs WHERE id = ?", err);
    if (!stmt)
        return NULL;
    sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
    char *status = NULL;
    if (sqlite3_step (stmt) == SQLITE_ROW)
        status = wb_strdup ((const char *) sqlite3_column_text (stmt, 0));
    else
        wb_error_set (err, "no run with id '%s'", id);
    sqlite3_finalize (stmt);
    return status;
}

bool
wb_store_status_final (const char *status)
{
    return status && (streq (status, "completed") || streq (status, "failed")
                      || streq (status, "canceled"));
}

bool
wb_store_run_owner_alive (wb_store_t *self, const char *id)
{
    sqlite3_stmt *stmt = wb_store__prepare (self,
        "SELECT owner_pid, owner_start, owner_host FROM runs WHERE id = ?", NULL);
    if (!stmt)
        return false;
    sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
    bool alive = false;
    if (sqlite3_step (stmt) == SQLITE_ROW && sqlite3_column_int64 (stmt, 0) > 0) {
        const char *host = (const char *) sqlite3_column_text (stmt, 2);
        int64_t start = sqlite3_column_int64 (stmt, 1);
        int64_t now_start = s_process_start ((pid_t) sqlite3_column_int64 (stmt, 0));
        //  Another machine's process cannot be looked at: taken as alive
        alive = (host && !streq (host, self->host))
             || (now_start != 0 && (!start || now_start == start));
    }
    sqlite3_finalize (stmt);
    return alive;
}

int
wb_store_run_reopen (wb_store_t *self, const char *id, wb_error_t *err)
{
    char *status = wb_store_run_state (self, id, err);
    if (!status)
        return -1;
    int rc = 0;
    if (!wb_store_status_final (status))
        rc = wb_error_set (err, "run %s is %s: only a run that ended can be reopened", id, status);
    sqlite3_stmt *stmt = rc? NULL: wb_store__prepare (self,
        "UPDATE runs SET status = 'queued', ended = NULL, error = NULL, owner_pid = NULL,"
        " owner_start = NULL, owner_host = NULL"
        " WHERE id = ? AND status IN ('completed', 'failed', 'canceled')", err);
    if (!rc && !stmt)
        rc = -1;
    if (stmt) {
        sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
        if (sqlite3_step (stmt) != SQLITE_DONE)
            rc = wb_store__sql_error (self, err, "reopening a run");
        else
        if (sqlite3_changes (self->db) == 0)
            rc = wb_error_set (err, "run %s changed while it was being reopened: try again", id);
        sqlite3_finalize (stmt);
    }
    if (rc == 0) {
        json_t *detail = json_pack ("{s:s}", "was", status);
        rc = wb_store__event (self, "run.reopen", id, detail, err);
        json_decref (detail);
    }
    free (status);
    return rc;
}

int
wb_store_run_delete (wb_store_t *self, const char *id, wb_error_t *err)
{
    if (wb_store_begin (self, err))
        return -1;
    int64_t seq = wb_store__run_seq (self, id, err);
    if (seq < 0) {
        wb_store_rollback (self);
        return -1;
    }
    //  The hashes this run held, to collect once it is gone
    json_t *hashes = json_array ();
    sqlite3_stmt *stmt = wb_store__prepare (self, "SELECT hash FROM artifacts WHERE run = ?1"
        " UNION SELECT snapshot FROM runs WHERE seq = ?1 AND snapshot IS NOT NULL", err);
    if (stmt) {
        sqlite3_bind_int64 (stmt, 1, seq);
        while (sqlite3_step (stmt) == SQLITE_ROW)
            json_array_append_new (hashes, wb_store__column_json (stmt, 0));
        sqlite3_finalize (stmt);
    }
    static const char *deletes [] = {
        "DELETE FROM params WHERE run = ?", "DELETE FROM tags WHERE run = ?",
        "DELETE FROM metric_chunks WHERE run = ?", "DELETE FROM metric_latest WHERE run = ?",
        "DELETE FROM artifacts WHERE run = ?", "DELETE FROM lineage WHERE run = ?",
        "DELETE FROM jobs WHERE run = ?",
        "UPDATE runs SET parent = NULL WHERE parent = ?", "DELETE FROM runs WHERE seq = ?",
    };
    int rc = stmt? 0: -1;
    for (size_t i = 0; rc == 0 && i < sizeof (deletes) / sizeof (deletes [0]); i++) {
        stmt = wb_store__prepare (self, deletes [i], err);
        if (!stmt) {
            rc = -1;
            break;
        }
        sqlite3_bind_int64 (stmt, 1, seq);
        if (sqlite3_step (stmt) != SQLITE_DONE)
            rc = wb_store__sql_error (self, err, "deleting a run");
        sqlite3_finalize (stmt);
    }
    if (rc == 0)
        rc = wb_store__event (self, "run.delete", id, NULL, err);
    if (rc || wb_store_commit (self, err)) {
        wb_store_rollback (self);
        json_decref (hashes);
        return -1;
    }
    wb_store__collect (self, hashes);
    json_decref (hashes);
    return 0;
}


//  @selftest
#include <sys/wait.h>

void
wb_store_runs_test (bool verbose)
{
    (void) verbose;
    wb_error_t err;
    char scratch [] = "/tmp/wb-store-XXXXXX";
    char path [64];
    wb_store_t *store = wb_store__test_open (scratch, path, sizeof (path), NULL);
    char id [9];
    json_t *run;

    //  Runs: create, resolve by prefix and name, transitions
    wb_run_spec_t first = { "Default", NULL, NULL, NULL, NULL, "local", "python3 train.py", getpid () };
    assert (wb_store_run_create (store, &first, id, &err) == 0);
    assert (strlen (id) == 8);
    char *resolved = wb_store_run_resolve (store, id, &err);
    assert (resolved && streq (resolved, id));
    free (resolved);
    char prefix [5];
    memcpy (prefix, id, 4);
    prefix [4] = 0;
    resolved = wb_store_run_resolve (store, prefix, &err);
    assert (resolved && streq (resolved, id));
    free (resolved);
    assert (!wb_store_run_resolve (store, "zz-nothing", &err));
    assert (strstr (err.text, "no run"));
    assert (!wb_store_run_resolve (store, "ab", &err));
    run = wb_store_run_get (store, id, &err);
    const char *name = json_string_value (json_object_get (run, "name"));
    assert (name && strchr (name, '-'));
    resolved = wb_store_run_resolve (store, name, &err);
    assert (resolved && streq (resolved, id));
    free (resolved);
    assert (streq (json_string_value (json_object_get (run, "status")), "running"));
    json_decref (run);


    //  Status transitions
    assert (wb_store_run_status (store, id, "queued", NULL, &err) == -1);
    assert (strstr (err.text, "cannot become queued"));
    assert (wb_store_run_status (store, id, "sleeping", NULL, &err) == -1);
    assert (wb_store_run_status (store, id, "completed", NULL, &err) == 0);
    assert (wb_store_run_status (store, id, "running", NULL, &err) == -1);
    assert (wb_store_status_final ("completed") && wb_store_status_final ("canceled")
            && !wb_store_status_final ("cancel_requested") && !wb_store_status_final (NULL));

    //  Owners and reopening: a run that ended goes back to queued
    {
        char again [9];
        wb_run_spec_t spec_again = { NULL, "again", "sweep", NULL, NULL, NULL, NULL, 0 };
        assert (wb_store_run_create (store, &spec_again, again, &err) == 0);
        assert (!wb_store_run_owner_alive (store, again));
        assert (wb_store_run_set_owner (store, again, getpid (), &err) == 0);
        assert (wb_store_run_owner_alive (store, again));
        pid_t child = fork ();
        if (child == 0)
            _exit (0);
        waitpid (child, NULL, 0);
        assert (wb_store_run_set_owner (store, again, child, &err) == 0);
        assert (!wb_store_run_owner_alive (store, again));
        assert (wb_store_run_reopen (store, again, &err) == -1);
        assert (strstr (err.text, "only a run that ended"));
        assert (wb_store_run_status (store, again, "canceled", "stopped", &err) == 0);
        assert (wb_store_run_reopen (store, again, &err) == 0);
        json_t *reopened = wb_store_run_get (store, again, &err);
        assert (streq (json_string_value (json_object_get (reopened, "status")), "queued"));
        assert (json_is_null (json_object_get (reopened, "ended"))
                || !json_object_get (reopened, "ended"));
        assert (!json_is_string (json_object_get (reopened, "error")));
        json_decref (reopened);
        assert (!wb_store_run_owner_alive (store, again));
        json_t *events = wb_store_events (store, again, 0, &err);
        json_t *last = json_array_get (events, json_array_size (events) - 1);
        assert (streq (json_string_value (json_object_get (last, "action")), "run.reopen"));
        json_decref (events);
        assert (wb_store_run_delete (store, again, &err) == 0);
    }

    //  Zombies: a run owned by a process that died is failed on open
    char zombie [9];
    wb_store_destroy (&store);
    pid_t child = fork ();
    if (child == 0)
        _exit (0);
    waitpid (child, NULL, 0);
    store = wb_store_open (path, false, &err);
    wb_run_spec_t orphan = { NULL, "orphan", "job", NULL, NULL, NULL, NULL, 0 };
    assert (wb_store_run_create (store, &orphan, zombie, &err) == 0);
    assert (wb_store__exec (store, "UPDATE runs SET owner_pid = 999999999, owner_host = (SELECT owner_host FROM runs WHERE owner_host IS NOT NULL LIMIT 1) WHERE name = 'orphan'", NULL) == 0);
    wb_store_destroy (&store);
    store = wb_store_open (path, false, &err);
    run = wb_store_run_get (store, zombie, &err);
    assert (streq (json_string_value (json_object_get (run, "status")), "failed"));
    assert (strstr (json_string_value (json_object_get (run, "error")), "is gone"));
    json_decref (run);
    wb_store_destroy (&store);
    wb_store__test_remove (scratch);
}
//  @end
