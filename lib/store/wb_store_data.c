/*  wb_store_data - datasets (one row per version) and the workspace summary

    Part of wb_store (see wb_store_int.h). A dataset version is the CSV's
    content hash (the file is in the content store), its shape, schema and
    profile; registering the same content again finds the version there.
*/
#include <assert.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include "wb_store_int.h"
#include "base/wb_utf8.h"
#include "base/wb_util.h"

//  ---- Datasets ----

//  The columns of a dataset version, in the order s_dataset_json reads them
#define S_DATASET_COLUMNS \
    "name, version, hash, size, row_count, col_count, description, source, created"

//  A dataset version from a row of S_DATASET_COLUMNS (then, when full,
//  schema and profile): a new JSON object
static json_t *
s_dataset_json (sqlite3_stmt *stmt, bool full)
{
    json_t *record = json_pack ("{s:o, s:I, s:o, s:I, s:I, s:I, s:o, s:o, s:f}",
        "name", wb_store__column_json (stmt, 0),
        "version", (json_int_t) sqlite3_column_int64 (stmt, 1),
        "hash", wb_store__column_json (stmt, 2),
        "size", (json_int_t) sqlite3_column_int64 (stmt, 3),
        "rows", (json_int_t) sqlite3_column_int64 (stmt, 4),
        "cols", (json_int_t) sqlite3_column_int64 (stmt, 5),
        "description", wb_store__column_json (stmt, 6),
        "source", wb_store__column_json (stmt, 7),
        "created", sqlite3_column_double (stmt, 8));
    if (full) {
        const char *names [] = { "schema", "profile" };
        for (int i = 0; i < 2; i++) {
            const char *text = (const char *) sqlite3_column_text (stmt, 9 + i);
            json_t *value = text? json_loads (text, 0, NULL): NULL;
            json_object_set_new (record, names [i], value? value: json_array ());
        }
    }
    return record;
}

int64_t
wb_store_dataset_find (wb_store_t *self, const char *name, const char *hash, wb_error_t *err)
{
    assert (name && hash);
    sqlite3_stmt *stmt = wb_store__prepare (self, "SELECT version FROM datasets"
                                                  " WHERE name = ? AND hash = ?", err);
    if (!stmt)
        return -1;
    sqlite3_bind_text (stmt, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 2, hash, -1, SQLITE_STATIC);
    int rc = sqlite3_step (stmt);
    int64_t version = rc == SQLITE_ROW? sqlite3_column_int64 (stmt, 0): 0;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        version = wb_store__sql_error (self, err, "looking up a dataset");
    sqlite3_finalize (stmt);
    return version;
}

int64_t
wb_store_dataset_add (wb_store_t *self, const wb_dataset_spec_t *spec, bool *created,
                      wb_error_t *err)
{
    assert (spec && spec->name && spec->hash && spec->schema && spec->profile);
    if (created)
        *created = false;
    //  One write transaction: the check for the same content and the next
    //  version number cannot race with another process registering
    if (wb_store_begin (self, err))
        return -1;
    int64_t version = wb_store_dataset_find (self, spec->name, spec->hash, err);
    if (version != 0) {
        wb_store_rollback (self);
        return version;         //  the same content is there already (or -1)
    }
    sqlite3_stmt *stmt = wb_store__prepare (self, "SELECT coalesce (max (version), 0) + 1"
                                                  " FROM datasets WHERE name = ?", err);
    if (stmt) {
        sqlite3_bind_text (stmt, 1, spec->name, -1, SQLITE_STATIC);
        version = sqlite3_step (stmt) == SQLITE_ROW? sqlite3_column_int64 (stmt, 0): -1;
        sqlite3_finalize (stmt);
        stmt = version < 0? NULL: wb_store__prepare (self, "INSERT INTO datasets (name, version,"
            " hash, size, row_count, col_count, schema, profile, description, source, created)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", err);
    }
    int rc = stmt? 0: -1;
    if (stmt) {
        char *schema = json_dumps (spec->schema, JSON_COMPACT);
        char *profile = json_dumps (spec->profile, JSON_COMPACT);
        sqlite3_bind_text (stmt, 1, spec->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64 (stmt, 2, version);
        sqlite3_bind_text (stmt, 3, spec->hash, -1, SQLITE_STATIC);
        sqlite3_bind_int64 (stmt, 4, spec->size);
        sqlite3_bind_int64 (stmt, 5, spec->rows);
        sqlite3_bind_int64 (stmt, 6, spec->cols);
        sqlite3_bind_text (stmt, 7, schema, -1, free);
        sqlite3_bind_text (stmt, 8, profile, -1, free);
        char *copy;
        sqlite3_bind_text (stmt, 9, wb_store__valid (spec->description, &copy), -1, SQLITE_TRANSIENT);
        free (copy);
        sqlite3_bind_text (stmt, 10, wb_store__valid (spec->source, &copy), -1, SQLITE_TRANSIENT);
        free (copy);
        sqlite3_bind_double (stmt, 11, wb_time_now ());
        if (sqlite3_step (stmt) != SQLITE_DONE)
            rc = wb_store__sql_error (self, err, "registering a dataset");
        sqlite3_finalize (stmt);
    }
    if (rc == 0) {
        json_t *detail = json_pack ("{s:s, s:I, s:s, s:I, s:I, s:I, s:o?}",
            "name", spec->name, "version", (json_int_t) version, "hash", spec->hash,
            "size", (json_int_t) spec->size, "rows", (json_int_t) spec->rows,
            "cols", (json_int_t) spec->cols, "source",
            spec->source? wb_utf8_json (spec->source, strlen (spec->source)): NULL);
        rc = wb_store__event (self, "dataset.register", spec->name, detail, err);
        json_decref (detail);
    }
    if (rc || wb_store_commit (self, err)) {
        wb_store_rollback (self);
        return -1;
    }
    if (created)
        *created = true;
    return version;
}

json_t *
wb_store_dataset_get (wb_store_t *self, const char *name, int64_t version, wb_error_t *err)
{
    assert (name && version >= 0);
    sqlite3_stmt *stmt = wb_store__prepare (self,
        "SELECT " S_DATASET_COLUMNS ", schema, profile,"
        " (SELECT count (*) FROM datasets WHERE name = ?1)"
        " FROM datasets WHERE name = ?1 AND (?2 = 0 OR version = ?2)"
        " ORDER BY version DESC LIMIT 1", err);
    if (!stmt)
        return NULL;
    sqlite3_bind_text (stmt, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 2, version);
    json_t *record = NULL;
    if (sqlite3_step (stmt) == SQLITE_ROW) {
        record = s_dataset_json (stmt, true);
        json_object_set_new (record, "versions", json_integer (sqlite3_column_int64 (stmt, 11)));
    }
    else
    if (version)
        wb_error_set (err, "dataset '%s' has no version %lld", name, (long long) version);
    else
        wb_error_set (err, "no dataset named '%s'", name);
    sqlite3_finalize (stmt);
    return record;
}

json_t *
wb_store_datasets (wb_store_t *self, wb_error_t *err)
{
    sqlite3_stmt *stmt = wb_store__prepare (self,
        "SELECT " S_DATASET_COLUMNS ", versions FROM datasets"
        " JOIN (SELECT name AS latest_name, max (version) AS latest, count (*) AS versions"
        "       FROM datasets GROUP BY name)"
        " ON latest_name = name AND latest = version ORDER BY name", err);
    if (!stmt)
        return NULL;
    json_t *list = json_array ();
    while (sqlite3_step (stmt) == SQLITE_ROW) {
        json_t *record = s_dataset_json (stmt, false);
        json_object_set_new (record, "versions", json_integer (sqlite3_column_int64 (stmt, 9)));
        json_array_append_new (list, record);
    }
    sqlite3_finalize (stmt);
    return list;
}

json_t *
wb_store_dataset_versions (wb_store_t *self, const char *name, wb_error_t *err)
{
    assert (name);
    sqlite3_stmt *stmt = wb_store__prepare (self, "SELECT " S_DATASET_COLUMNS " FROM datasets"
                                                  " WHERE name = ? ORDER BY version", err);
    if (!stmt)
        return NULL;
    sqlite3_bind_text (stmt, 1, name, -1, SQLITE_STATIC);
    json_t *list = json_array ();
    while (sqlite3_step (stmt) == SQLITE_ROW)
        json_array_append_new (list, s_dataset_json (stmt, false));
    sqlite3_finalize (stmt);
    return list;
}

//  ---- Summary ----

static int64_t
s_folder_size (const char *path)
{
    DIR *dir = opendir (path);
    if (!dir)
        return 0;
    int64_t total = 0;
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        if (streq (entry->d_name, ".") || streq (entry->d_name, ".."))
            continue;
        char *full = wb_sprintf ("%s/%s", path, entry->d_name);
        struct stat info;
        if (lstat (full, &info) == 0)
            total += S_ISDIR (info.st_mode)? s_folder_size (full): (int64_t) info.st_size;
        free (full);
    }
    closedir (dir);
    return total;
}

json_t *
wb_store_summary (wb_store_t *self, wb_error_t *err)
{
    sqlite3_stmt *stmt = wb_store__prepare (self,
        "SELECT (SELECT count (*) FROM experiments), (SELECT count (*) FROM runs),"
        " (SELECT coalesce (sum (count), 0) FROM metric_latest),"
        " (SELECT count (*) FROM artifacts), (SELECT count (DISTINCT hash) FROM artifacts)", err);
    if (!stmt)
        return NULL;
    json_t *summary = NULL;
    if (sqlite3_step (stmt) == SQLITE_ROW)
        summary = json_pack ("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:i}",
            "path", self->path,
            "experiments", (json_int_t) sqlite3_column_int64 (stmt, 0),
            "runs", (json_int_t) sqlite3_column_int64 (stmt, 1),
            "metric_points", (json_int_t) sqlite3_column_int64 (stmt, 2),
            "artifacts", (json_int_t) sqlite3_column_int64 (stmt, 3),
            "artifact_files", (json_int_t) sqlite3_column_int64 (stmt, 4),
            "size", (json_int_t) s_folder_size (self->path),
            "schema", wb_store__schema_version (self));
    sqlite3_finalize (stmt);
    json_t *by_status = json_object ();
    stmt = wb_store__prepare (self, "SELECT status, count (*) FROM runs GROUP BY status ORDER BY status", NULL);
    while (stmt && sqlite3_step (stmt) == SQLITE_ROW)
        wb_store__set_column_key (by_status, stmt, 0,
                                     json_integer (sqlite3_column_int64 (stmt, 1)));
    sqlite3_finalize (stmt);
    if (summary)
        json_object_set_new (summary, "by_status", by_status);
    else
        json_decref (by_status);
    return summary;
}
