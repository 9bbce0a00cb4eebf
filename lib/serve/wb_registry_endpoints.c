/*  wb_registry_endpoints - the endpoint records of a workspace: creating
    one with its two keys (kept as hashes), deployments and their traffic
    and mirror shares, new keys, the log's retention, deleting, and what
    the server reports (its process, the generation it loaded)

    Every change that a running server must see bumps the endpoint's
    generation. Part of wb_registry (wb_registry_int.h).
*/
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>
#include "wb_registry_int.h"
#include "base/wb_util.h"

#define S_KEY_BYTES 32          //  random bytes per endpoint key

//  ---- Endpoints ----

//  A fresh key: 32 random bytes, base64url without padding (43 characters),
//  and the hash it is kept as
static void
s_new_key (char *key, size_t size, char hash [WB_KEY_HASH_TEXT])
{
    unsigned char bytes [S_KEY_BYTES];
    randombytes_buf (bytes, sizeof (bytes));
    sodium_bin2base64 (key, size, bytes, sizeof (bytes),
                       sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero (bytes, sizeof (bytes));
    wb_key_hash (key, strlen (key), hash);
}

int
wb_registry_endpoint_create (wb_store_t *store, const char *name, const char *auth,
                             wb_keys_t *made, wb_error_t *err)
{
    if (wb_registry__check_name (name, "endpoint", err))
        return -1;
    if (!streq (auth, "key") && !streq (auth, "none"))
        return wb_error_set (err, "--auth must be key or none, not '%s'", auth);
    wb_keys_t keys;
    char hash1 [WB_KEY_HASH_TEXT], hash2 [WB_KEY_HASH_TEXT];
    s_new_key (keys.key [0], sizeof (keys.key [0]), hash1);
    s_new_key (keys.key [1], sizeof (keys.key [1]), hash2);
    sqlite3_stmt *stmt = wb_registry__prepare (store,
        "INSERT INTO endpoints (name, auth, key1, key2, created, updated)"
        " VALUES (?, ?, ?, ?, ?, ?)", err);
    int rc = SQLITE_ERROR;
    if (stmt) {
        double now = wb_time_now ();
        wb_registry__bind_text (stmt, 1, name);
        wb_registry__bind_text (stmt, 2, auth);
        wb_registry__bind_text (stmt, 3, hash1);
        wb_registry__bind_text (stmt, 4, hash2);
        sqlite3_bind_double (stmt, 5, now);
        sqlite3_bind_double (stmt, 6, now);
        rc = sqlite3_step (stmt);
        sqlite3_finalize (stmt);
    }
    if (rc == SQLITE_DONE && made)
        *made = keys;
    sodium_memzero (&keys, sizeof (keys));
    if (!stmt)
        return -1;
    if (rc == SQLITE_CONSTRAINT)
        return wb_error_set (err, "endpoint '%s' exists already", name);
    if (rc != SQLITE_DONE)
        return wb_registry__sql_error (store, err, "creating the endpoint");
    return 0;
}

static json_t *
s_endpoints (wb_store_t *store, const char *name, wb_error_t *err)
{
    char *sql = wb_sprintf (
        "SELECT name, auth, key1, key2, port, pid, pid_start, host, generation, loaded,"
        " error, created, updated, coalesce (log_rows, %d) AS log_rows,"
        " coalesce (log_days, %d.0) AS log_days FROM endpoints %s",
        WB_REGISTRY_LOG_ROWS, WB_REGISTRY_LOG_DAYS, name? "WHERE name = ?": "ORDER BY name");
    sqlite3_stmt *stmt = wb_registry__prepare (store, sql, err);
    free (sql);
    if (stmt && name)
        wb_registry__bind_text (stmt, 1, name);
    json_t *rows = wb_registry__rows (store, stmt, NULL, err);
    size_t index;
    json_t *row;
    json_array_foreach (rows, index, row) {
        json_object_set_new (row, "key_hashes", json_pack ("[OO]", json_object_get (row, "key1"),
                                                           json_object_get (row, "key2")));
        json_object_del (row, "key1");
        json_object_del (row, "key2");
        stmt = wb_registry__prepare (store,
            "SELECT d.name, d.model, d.version, d.traffic, d.mirror, m.hash, m.kind, m.task,"
            " d.created, d.updated, m.flavor, m.python, m.scorer, m.path, m.facts, d.settings"
            " FROM deployments d LEFT JOIN models m"
            " ON m.name = d.model AND m.version = d.version WHERE d.endpoint = ? ORDER BY d.name",
            NULL);
        if (stmt)
            wb_registry__bind_text (stmt, 1, json_string_value (json_object_get (row, "name")));
        json_t *deployments = wb_registry__rows (store, stmt, "facts settings", NULL);
        json_object_set_new (row, "deployments", deployments? deployments: json_array ());
    }
    return rows;
}

json_t *
wb_registry_endpoint_get (wb_store_t *store, const char *name, wb_error_t *err)
{
    json_t *rows = s_endpoints (store, name, err);
    json_t *endpoint = json_incref (json_array_get (rows, 0));
    if (rows && !endpoint)
        wb_error_set (err, "no endpoint named '%s': %%endpoint list shows them, %%deploy "
                      "MODEL --endpoint %s creates it", name, name);
    json_decref (rows);
    return endpoint;
}

json_t *
wb_registry_endpoints (wb_store_t *store, wb_error_t *err)
{
    return s_endpoints (store, NULL, err);
}

bool
wb_registry_endpoint_alive (json_t *endpoint)
{
    pid_t pid = (pid_t) json_integer_value (json_object_get (endpoint, "pid"));
    int64_t start = json_integer_value (json_object_get (endpoint, "pid_start"));
    char host [256] = "";
    gethostname (host, sizeof (host) - 1);
    const char *where = json_string_value (json_object_get (endpoint, "host"));
    return pid > 0 && where && streq (where, host) && start > 0
        && wb_store_process_start (pid) == start;
}

static int
s_bump (wb_store_t *store, const char *endpoint, wb_error_t *err)
{
    sqlite3_stmt *stmt = wb_registry__prepare (store,
        "UPDATE endpoints SET generation = generation + 1, updated = ? WHERE name = ?", err);
    if (stmt) {
        sqlite3_bind_double (stmt, 1, wb_time_now ());
        wb_registry__bind_text (stmt, 2, endpoint);
    }
    return wb_registry__done (store, stmt, "updating the endpoint", err);
}

//  Set one deployment's traffic share
static int
s_set_share (wb_store_t *store, const char *endpoint, const char *deployment,
             const char *column, int percent, wb_error_t *err)
{
    char *sql = wb_sprintf ("UPDATE deployments SET %s = ?, updated = ? WHERE endpoint = ?"
                            " AND name = ?", column);
    sqlite3_stmt *stmt = wb_registry__prepare (store, sql, err);
    free (sql);
    if (stmt) {
        sqlite3_bind_int (stmt, 1, percent);
        sqlite3_bind_double (stmt, 2, wb_time_now ());
        wb_registry__bind_text (stmt, 3, endpoint);
        wb_registry__bind_text (stmt, 4, deployment);
    }
    return wb_registry__done (store, stmt, "setting the traffic", err);
}

int
wb_registry_deploy (wb_store_t *store, const char *endpoint, const char *deployment,
                    const char *model, int64_t version, int traffic, json_t *settings,
                    wb_error_t *err)
{
    if (wb_registry__check_name (deployment, "deployment", err))
        return -1;
    if (traffic > 100)
        return wb_error_set (err, "--traffic is a percentage: 0 to 100, not %d", traffic);
    if (wb_store_begin (store, err))
        return -1;
    json_t *record = wb_registry_endpoint_get (store, endpoint, err);
    int rc = record? wb_registry__active_version (store, model, version, err): -1;
    json_t *deployments = json_object_get (record, "deployments");
    json_t *existing = NULL;
    size_t index;
    json_t *row;
    json_array_foreach (deployments, index, row)
        if (streq (json_string_value (json_object_get (row, "name")), deployment))
            existing = row;
    if (rc == 0 && traffic < 0)
        traffic = existing? (int) json_integer_value (json_object_get (existing, "traffic")):
                  json_array_size (deployments) == 0? 100: 0;
    sqlite3_stmt *stmt = rc? NULL: wb_registry__prepare (store,
        "INSERT INTO deployments (endpoint, name, model, version, traffic, created, updated,"
        " settings) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7) ON CONFLICT (endpoint, name) DO UPDATE SET"
        " model = excluded.model, version = excluded.version, traffic = excluded.traffic,"
        " updated = excluded.updated, settings = coalesce (excluded.settings, settings)", err);
    char *settings_text = settings? json_dumps (settings, JSON_COMPACT | JSON_SORT_KEYS): NULL;
    if (stmt) {
        wb_registry__bind_text (stmt, 1, endpoint);
        wb_registry__bind_text (stmt, 2, deployment);
        wb_registry__bind_text (stmt, 3, model);
        sqlite3_bind_int64 (stmt, 4, version);
        sqlite3_bind_int (stmt, 5, traffic);
        sqlite3_bind_double (stmt, 6, wb_time_now ());
        wb_registry__bind_text (stmt, 7, settings_text);
    }
    rc = rc || wb_registry__done (store, stmt, "deploying", err);
    free (settings_text);
    //  The others share what is left, in proportion to what they had
    int others = 0, left = 100 - traffic, given = 0;
    const char *largest = NULL;
    int largest_share = -1;
    json_array_foreach (deployments, index, row)
        if (!streq (json_string_value (json_object_get (row, "name")), deployment))
            others += (int) json_integer_value (json_object_get (row, "traffic"));
    json_array_foreach (deployments, index, row) {
        const char *name = json_string_value (json_object_get (row, "name"));
        if (rc || streq (name, deployment))
            continue;
        int share = (int) json_integer_value (json_object_get (row, "traffic"));
        int now = others > 0? share * left / others: 0;
        given += now;
        if (share > largest_share) {
            largest_share = share;
            largest = name;
        }
        rc = s_set_share (store, endpoint, name, "traffic", now, err);
    }
    if (rc == 0 && largest && others > 0 && given < left) {
        json_array_foreach (deployments, index, row)
            if (streq (json_string_value (json_object_get (row, "name")), largest))
                rc = s_set_share (store, endpoint, largest, "traffic",
                    (int) ((int64_t) json_integer_value (json_object_get (row, "traffic"))
                    * left / others) + left - given, err);
    }
    json_t *detail = json_pack ("{s:s, s:s, s:I, s:i}", "deployment", deployment,
                                "model", model, "version", (json_int_t) version,
                                "traffic", traffic);
    rc = rc || s_bump (store, endpoint, err)
            || wb_store_event (store, "endpoint.deploy", endpoint, detail, err)
            || wb_store_commit (store, err);
    json_decref (detail);
    json_decref (record);
    if (rc)
        wb_store_rollback (store);
    return rc? -1: 0;
}

//  Check that every key of shares names a deployment and holds 0..100
static int
s_check_shares (json_t *record, json_t *shares, const char *what, wb_error_t *err)
{
    const char *key;
    json_t *value;
    json_object_foreach (shares, key, value) {
        bool found = false;
        size_t index;
        json_t *row;
        json_array_foreach (json_object_get (record, "deployments"), index, row)
            found = found || streq (json_string_value (json_object_get (row, "name")), key);
        if (!found)
            return wb_error_set (err, "endpoint %s has no deployment '%s'",
                                 json_string_value (json_object_get (record, "name")), key);
        if (!json_is_integer (value) || json_integer_value (value) < 0
        ||  json_integer_value (value) > 100)
            return wb_error_set (err, "the %s of '%s' must be a whole percentage, 0 to 100",
                                 what, key);
    }
    return 0;
}

int
wb_registry_deployments_restore (wb_store_t *store, const char *endpoint, json_t *deployments,
                                 wb_error_t *err)
{
    if (wb_store_begin (store, err))
        return -1;
    sqlite3_stmt *stmt = wb_registry__prepare (store, "DELETE FROM deployments WHERE endpoint = ?", err);
    if (stmt)
        wb_registry__bind_text (stmt, 1, endpoint);
    int rc = wb_registry__done (store, stmt, "putting the deployments back", err);
    size_t index;
    json_t *row;
    json_array_foreach (deployments, index, row) {
        if (rc)
            break;
        stmt = wb_registry__prepare (store,
            "INSERT INTO deployments (endpoint, name, model, version, traffic, mirror, created,"
            " updated, settings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", err);
        json_t *settings = json_object_get (row, "settings");
        char *settings_text = json_is_object (settings)? json_dumps (settings, JSON_COMPACT | JSON_SORT_KEYS): NULL;
        if (stmt) {
            wb_registry__bind_text (stmt, 1, endpoint);
            wb_registry__bind_text (stmt, 2, json_string_value (json_object_get (row, "name")));
            wb_registry__bind_text (stmt, 3, json_string_value (json_object_get (row, "model")));
            sqlite3_bind_int64 (stmt, 4, json_integer_value (json_object_get (row, "version")));
            sqlite3_bind_int64 (stmt, 5, json_integer_value (json_object_get (row, "traffic")));
            sqlite3_bind_int64 (stmt, 6, json_integer_value (json_object_get (row, "mirror")));
            sqlite3_bind_double (stmt, 7, json_number_value (json_object_get (row, "created")));
            sqlite3_bind_double (stmt, 8, json_number_value (json_object_get (row, "updated")));
            wb_registry__bind_text (stmt, 9, settings_text);
        }
        free (settings_text);
        rc = wb_registry__done (store, stmt, "putting the deployments back", err);
    }
    rc = rc || s_bump (store, endpoint, err) || wb_store_commit (store, err);
    if (rc)
        wb_store_rollback (store);
    return rc? -1: 0;
}

int
wb_registry_traffic (wb_store_t *store, const char *endpoint, json_t *split, wb_error_t *err)
{
    if (wb_store_begin (store, err))
        return -1;
    json_t *record = wb_registry_endpoint_get (store, endpoint, err);
    int rc = record? s_check_shares (record, split, "traffic", err): -1;
    json_int_t sum = 0;
    const char *key;
    json_t *value;
    json_object_foreach (split, key, value)
        sum += json_integer_value (value);
    if (rc == 0 && sum != 100)
        rc = wb_error_set (err, "the traffic shares add up to %lld, not 100", (long long) sum);
    size_t index;
    json_t *row;
    json_array_foreach (json_object_get (record, "deployments"), index, row) {
        const char *name = json_string_value (json_object_get (row, "name"));
        rc = rc || s_set_share (store, endpoint, name, "traffic",
                                (int) json_integer_value (json_object_get (split, name)), err);
    }
    rc = rc || s_bump (store, endpoint, err)
            || wb_store_event (store, "endpoint.traffic", endpoint, split, err)
            || wb_store_commit (store, err);
    json_decref (record);
    if (rc)
        wb_store_rollback (store);
    return rc? -1: 0;
}

int
wb_registry_mirror (wb_store_t *store, const char *endpoint, json_t *shares, wb_error_t *err)
{
    if (wb_store_begin (store, err))
        return -1;
    json_t *record = wb_registry_endpoint_get (store, endpoint, err);
    int rc = record? s_check_shares (record, shares, "mirror share", err): -1;
    const char *key;
    json_t *value;
    json_object_foreach (shares, key, value)
        rc = rc || s_set_share (store, endpoint, key, "mirror", (int) json_integer_value (value), err);
    rc = rc || s_bump (store, endpoint, err)
            || wb_store_event (store, "endpoint.mirror", endpoint, shares, err)
            || wb_store_commit (store, err);
    json_decref (record);
    if (rc)
        wb_store_rollback (store);
    return rc? -1: 0;
}

int
wb_registry_keys_regenerate (wb_store_t *store, const char *endpoint, int which,
                             wb_keys_t *made, wb_error_t *err)
{
    assert (which >= 0 && which <= 2);
    wb_keys_t keys;
    char hash1 [WB_KEY_HASH_TEXT], hash2 [WB_KEY_HASH_TEXT];
    s_new_key (keys.key [0], sizeof (keys.key [0]), hash1);
    s_new_key (keys.key [1], sizeof (keys.key [1]), hash2);
    sqlite3_stmt *stmt = wb_registry__prepare (store,
        "UPDATE endpoints SET key1 = CASE WHEN ?1 IN (0, 1) THEN ?2 ELSE key1 END,"
        " key2 = CASE WHEN ?1 IN (0, 2) THEN ?3 ELSE key2 END,"
        " generation = generation + 1, updated = ?4 WHERE name = ?5", err);
    if (stmt) {
        sqlite3_bind_int (stmt, 1, which);
        wb_registry__bind_text (stmt, 2, hash1);
        wb_registry__bind_text (stmt, 3, hash2);
        sqlite3_bind_double (stmt, 4, wb_time_now ());
        wb_registry__bind_text (stmt, 5, endpoint);
    }
    int rc = wb_registry__done (store, stmt, "regenerating the keys", err);
    if (rc == 0 && sqlite3_changes (wb_store_db (store)) == 0)
        rc = wb_error_set (err, "no endpoint named '%s'", endpoint);
    if (rc == 0 && made) {
        *made = keys;
        for (int k = 0; k < 2; k++)
            if (which && which != k + 1)
                made->key [k][0] = 0;
    }
    sodium_memzero (&keys, sizeof (keys));
    return rc;
}

int
wb_registry_retention (wb_store_t *store, const char *endpoint, int64_t rows, double days,
                       wb_error_t *err)
{
    sqlite3_stmt *stmt = wb_registry__prepare (store,
        "UPDATE endpoints SET"
        " log_rows = CASE WHEN ?1 > 0 THEN ?1 WHEN ?1 < 0 THEN NULL ELSE log_rows END,"
        " log_days = CASE WHEN ?2 > 0 THEN ?2 WHEN ?2 < 0 THEN NULL ELSE log_days END,"
        " generation = generation + 1, updated = ?3 WHERE name = ?4", err);
    if (stmt) {
        sqlite3_bind_int64 (stmt, 1, rows);
        sqlite3_bind_double (stmt, 2, days);
        sqlite3_bind_double (stmt, 3, wb_time_now ());
        wb_registry__bind_text (stmt, 4, endpoint);
    }
    int rc = wb_registry__done (store, stmt, "setting the retention", err);
    if (rc == 0 && sqlite3_changes (wb_store_db (store)) == 0)
        rc = wb_error_set (err, "no endpoint named '%s'", endpoint);
    return rc;
}

int
wb_registry_endpoint_delete (wb_store_t *store, const char *endpoint, wb_error_t *err)
{
    if (wb_store_begin (store, err))
        return -1;
    static const char *sql [] = {
        "DELETE FROM deployments WHERE endpoint = ?", "DELETE FROM requests WHERE endpoint = ?",
        "DELETE FROM endpoints WHERE name = ?", NULL
    };
    int rc = 0;
    for (int i = 0; sql [i] && rc == 0; i++) {
        sqlite3_stmt *stmt = wb_registry__prepare (store, sql [i], err);
        if (stmt)
            wb_registry__bind_text (stmt, 1, endpoint);
        rc = wb_registry__done (store, stmt, "deleting the endpoint", err);
    }
    if (rc == 0 && sqlite3_changes (wb_store_db (store)) == 0)
        rc = wb_error_set (err, "no endpoint named '%s'", endpoint);
    rc = rc || wb_store_event (store, "endpoint.delete", endpoint, NULL, err)
            || wb_store_commit (store, err);
    if (rc)
        wb_store_rollback (store);
    return rc? -1: 0;
}

int
wb_registry_endpoint_process (wb_store_t *store, const char *endpoint, pid_t pid, int port,
                              wb_error_t *err)
{
    char host [256] = "";
    gethostname (host, sizeof (host) - 1);
    sqlite3_stmt *stmt = wb_registry__prepare (store,
        "UPDATE endpoints SET pid = ?, pid_start = ?, host = ?, port = coalesce (?, port),"
        " updated = ? WHERE name = ?", err);
    if (!stmt)
        return -1;
    sqlite3_bind_int (stmt, 1, (int) pid);
    sqlite3_bind_int64 (stmt, 2, pid > 0? wb_store_process_start (pid): 0);
    wb_registry__bind_text (stmt, 3, host);
    if (port > 0)
        sqlite3_bind_int (stmt, 4, port);
    else
        sqlite3_bind_null (stmt, 4);
    sqlite3_bind_double (stmt, 5, wb_time_now ());
    wb_registry__bind_text (stmt, 6, endpoint);
    return wb_registry__done (store, stmt, "recording the server", err);
}

int
wb_registry_endpoint_loaded (wb_store_t *store, const char *endpoint, int64_t generation,
                             const char *error, wb_error_t *err)
{
    sqlite3_stmt *stmt = wb_registry__prepare (store,
        "UPDATE endpoints SET loaded = ?, error = ? WHERE name = ?", err);
    if (!stmt)
        return -1;
    sqlite3_bind_int64 (stmt, 1, generation);
    wb_registry__bind_text (stmt, 2, error);
    wb_registry__bind_text (stmt, 3, endpoint);
    return wb_registry__done (store, stmt, "recording the server's state", err);
}

int64_t
wb_registry_endpoint_generation (wb_store_t *store, const char *endpoint, wb_error_t *err)
{
    sqlite3_stmt *stmt = wb_registry__prepare (store, "SELECT generation FROM endpoints WHERE name = ?", err);
    if (!stmt)
        return -1;
    wb_registry__bind_text (stmt, 1, endpoint);
    int64_t generation = -1;
    if (sqlite3_step (stmt) == SQLITE_ROW)
        generation = sqlite3_column_int64 (stmt, 0);
    else
        wb_error_set (err, "no endpoint named '%s'", endpoint);
    sqlite3_finalize (stmt);
    return generation;
}

//  ---- Self-test ----

//  @selftest
void
wb_registry_endpoints_test (bool verbose)
{
    (void) verbose;
    char folder [] = "/tmp/wb-registry-test-XXXXXX";
    char run [16];
    wb_store_t *store = wb_registry__test_store (folder, run);
    wb_error_t err;
    //  Two versions of a model to deploy
    wb_model_spec_t model = { .name = "houses", .run = run, .description = "first" };
    assert (wb_registry_model_register (store, &model, NULL, &err) == 1);
    assert (wb_registry_model_register (store, &model, NULL, &err) == 2);
    json_t *got;
    //  Endpoints: keys, deploy, traffic that sums to 100
    wb_keys_t made;
    assert (wb_registry_endpoint_create (store, "ep", "key", &made, &err) == 0);
    assert (wb_registry_endpoint_create (store, "ep", "key", NULL, &err) == -1);
    assert (strstr (err.text, "exists already"));
    assert (wb_registry_deploy (store, "ep", "blue", "houses", 1, -1, NULL, &err) == 0);
    assert (wb_registry_deploy (store, "ep", "green", "houses", 2, 10, NULL, &err) == 0);
    json_t *ep = wb_registry_endpoint_get (store, "ep", &err);
    assert (ep);
    //  The keys are handed back once; only their hashes are kept
    assert (strlen (made.key [0]) == 43 && strlen (made.key [1]) == 43);
    assert (!streq (made.key [0], made.key [1]));
    json_t *keys = json_object_get (ep, "key_hashes");
    char hash [WB_KEY_HASH_TEXT];
    wb_key_hash (made.key [0], strlen (made.key [0]), hash);
    assert (streq (json_string_value (json_array_get (keys, 0)), hash));
    assert (!json_object_get (ep, "keys"));
    sqlite3_stmt *stmt = wb_registry__prepare (store, "SELECT count (*) FROM endpoints WHERE"
                                    " instr (key1 || key2, ?1) OR instr (key1 || key2, ?2)", NULL);
    wb_registry__bind_text (stmt, 1, made.key [0]);
    wb_registry__bind_text (stmt, 2, made.key [1]);
    assert (sqlite3_step (stmt) == SQLITE_ROW && sqlite3_column_int (stmt, 0) == 0);
    sqlite3_finalize (stmt);
    assert (json_integer_value (json_object_get (ep, "log_rows")) == WB_REGISTRY_LOG_ROWS);
    json_t *blue = json_array_get (json_object_get (ep, "deployments"), 0);
    json_t *green = json_array_get (json_object_get (ep, "deployments"), 1);
    assert (json_integer_value (json_object_get (blue, "traffic")) == 90);
    assert (json_integer_value (json_object_get (green, "traffic")) == 10);
    assert (json_integer_value (json_object_get (ep, "generation")) == 3);
    json_decref (ep);
    json_t *split = json_pack ("{s:i, s:i}", "blue", 60, "green", 30);
    assert (wb_registry_traffic (store, "ep", split, &err) == -1);
    assert (strstr (err.text, "add up to 90"));
    json_object_set_new (split, "red", json_integer (10));
    assert (wb_registry_traffic (store, "ep", split, &err) == -1);
    assert (strstr (err.text, "no deployment 'red'"));
    json_object_del (split, "red");
    json_object_set_new (split, "green", json_integer (40));
    assert (wb_registry_traffic (store, "ep", split, &err) == 0);
    json_decref (split);
    //  A deployed version cannot be archived; an archived one not deployed
    assert (wb_registry_model_archive (store, "houses", 2, &err) == -1);
    assert (strstr (err.text, "is deployed"));
    model.path = NULL;
    assert (wb_registry_model_register (store, &model, NULL, &err) == 3);
    assert (wb_registry_model_archive (store, "houses", 3, &err) == 0);
    assert (wb_registry_deploy (store, "ep", "blue", "houses", 3, -1, NULL, &err) == -1);
    assert (strstr (err.text, "archived"));
    got = wb_registry_model_get (store, "houses", &err);
    assert (json_integer_value (json_object_get (got, "version")) == 2);
    json_decref (got);
    //  The server's reports; liveness
    assert (wb_registry_endpoint_process (store, "ep", getpid (), 8123, &err) == 0);
    ep = wb_registry_endpoint_get (store, "ep", &err);
    assert (wb_registry_endpoint_alive (ep));
    assert (json_integer_value (json_object_get (ep, "port")) == 8123);
    json_decref (ep);
    assert (wb_registry_endpoint_process (store, "ep", 0, 0, &err) == 0);
    ep = wb_registry_endpoint_get (store, "ep", &err);
    assert (!wb_registry_endpoint_alive (ep));
    assert (json_integer_value (json_object_get (ep, "port")) == 8123);
    json_decref (ep);
    //  Keys regenerate (one, the other stays); delete forgets everything
    ep = wb_registry_endpoint_get (store, "ep", &err);
    char *old_hashes = json_dumps (json_object_get (ep, "key_hashes"), 0);
    json_decref (ep);
    wb_keys_t fresh;
    assert (wb_registry_keys_regenerate (store, "ep", 1, &fresh, &err) == 0);
    assert (strlen (fresh.key [0]) == 43 && fresh.key [1][0] == 0);
    assert (!streq (fresh.key [0], made.key [0]));
    ep = wb_registry_endpoint_get (store, "ep", &err);
    json_t *before = json_loads (old_hashes, 0, NULL);
    keys = json_object_get (ep, "key_hashes");
    wb_key_hash (fresh.key [0], strlen (fresh.key [0]), hash);
    assert (streq (json_string_value (json_array_get (keys, 0)), hash));
    assert (json_equal (json_array_get (keys, 1), json_array_get (before, 1)));
    json_decref (before);
    json_decref (ep);
    free (old_hashes);
    assert (wb_registry_endpoint_delete (store, "ep", &err) == 0);
    assert (!wb_registry_endpoint_get (store, "ep", &err));
    assert (wb_registry_endpoint_delete (store, "ep", &err) == -1);
    wb_registry__test_remove (&store, folder);
}
//  @end
