/*  wb_registry_int - private to wb_registry*.c: the SQL helpers the parts
    of the registry share, and the self-tests of the parts

    wb_registry.c            the SQL helpers; models, their aliases and history
    wb_registry_endpoints.c  endpoints: keys, deployments, traffic and mirror
                             shares, retention, the server's reports
    wb_registry_log.c        the request log: rows, retention, statistics
*/
#ifndef WB_REGISTRY_INT_H
#define WB_REGISTRY_INT_H

#include "wb_registry.h"

//  ---- SQL helpers (wb_registry.c) ----

//  A prepared statement (caller finalizes it), NULL with err filled
sqlite3_stmt *
    wb_registry__prepare (wb_store_t *store, const char *sql, wb_error_t *err);
//  Fill err with what failed and SQLite's message; returns -1
int
    wb_registry__sql_error (wb_store_t *store, wb_error_t *err, const char *what);
//  Bind text, or NULL when text is NULL
void
    wb_registry__bind_text (sqlite3_stmt *stmt, int index, const char *text);
//  Run a statement that returns no rows; finalizes it. 0 or -1.
int
    wb_registry__done (wb_store_t *store, sqlite3_stmt *stmt, const char *what,
                       wb_error_t *err);
//  Every row of stmt as an array of objects, the columns named in
//  json_columns (space-separated; may be NULL) parsed as JSON text;
//  finalizes it. NULL with err.
json_t *
    wb_registry__rows (wb_store_t *store, sqlite3_stmt *stmt, const char *json_columns,
                       wb_error_t *err);
//  Names of models, aliases, endpoints and deployments: 0, or -1 with err
int
    wb_registry__check_name (const char *name, const char *what, wb_error_t *err);

//  ---- Models (wb_registry.c) ----

//  A version that exists and is not archived: 0, or -1 with err
int
    wb_registry__active_version (wb_store_t *store, const char *name, int64_t version,
                                 wb_error_t *err);

//  ---- Flavors (wb_registry_flavor.c) ----

//  What the worker's check loads
typedef struct {
    const char *python;         //  interpreter (absolute path)
    const char *flavor;         //  sklearn | mlflow | python, or NULL: found
    const char *model;          //  the model file or folder
    const char *scorer;         //  the scoring script, or NULL
    const char *dir;            //  the version's folder (WORKBENCH_MODEL_DIR)
} wb_flavor_t;

//  Copy run's artifact at path (a file, or the files under path/) into
//  staging/BASENAME; *model_p gets BASENAME, *hash_p its hash (for a
//  folder, of its list of files). 0, or -1 with err.
int
    wb_registry__stage (wb_store_t *store, json_t *run, const char *path, const char *staging,
                        char **model_p, char **hash_p, wb_error_t *err);
//  Load the model with the worker's check: its hello (caller owns; no pid),
//  or NULL with err (the loader's error) and *detail (may be NULL) the
//  traceback (caller frees).
json_t *
    wb_registry__check (wb_store_t *store, const wb_flavor_t *flavor, char **detail,
                        wb_error_t *err);

//  ---- Self-tests of the parts (wb_registry_test runs them all) ----

//  A scratch workspace for a self-test in folder (a mkdtemp template,
//  "/tmp/wb-registry-test-XXXXXX"), with a run (its id in run) that holds
//  a model file at outputs/model.json, a metric and a dataset it read
wb_store_t *
    wb_registry__test_store (char *folder, char run [16]);
//  Close the store and remove the scratch folder
void
    wb_registry__test_remove (wb_store_t **store_p, const char *folder);
void
    wb_registry_endpoints_test (bool verbose);
void
    wb_registry_log_test (bool verbose);

#endif
