/*  wb_registry - the model registry and the endpoint records of a workspace

    Models: a name with versions counting up from 1, each pointing at a
    run's artifact (by path and content hash) and keeping the run's id, its
    metrics and the dataset versions it read (lineage), tags, a description
    and a status (active or archived). An alias (e.g. "production") points
    at one version of a name; every move of an alias is kept, so that
    "which version was production at time T" has an answer.

    Endpoints: a name, its auth mode and two keys (256 random bits from
    libsodium, handed to the caller once when made, kept only as hashes:
    wb_key_hash),
    the serving process (pid, its start time, port), a generation counted
    up on every change so that the server knows to reload, and the
    generation the server has loaded (or the error it met). Each endpoint
    holds deployments: a model version with a traffic share (all shares of
    an endpoint sum to 100) and a mirror share (a copy of that share of
    requests is scored by it too, its answers never returned).

    The request log: one row per scored request (time, deployment,
    latency, status, and for a sample of them the input and output). It
    keeps per endpoint at most its newest log_rows rows of the last
    log_days days (defaults below; %endpoint retention sets them); the
    server deletes older rows as it writes new ones.

    All tables are created by migration 5 of wb_store; this module holds
    their SQL.
*/
#ifndef WB_REGISTRY_H
#define WB_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "store/wb_store.h"
#include "base/wb_error.h"

//  What a new model version is.
typedef struct {
    const char *name;           //  model name: letters, digits, - _ .
    const char *run;            //  run id (resolved)
    const char *path;           //  artifact path in the run; NULL = outputs/model.json
    json_t *tags;               //  {key: text}, or NULL (not stolen)
    const char *description;    //  free text, or NULL
    const char *flavor;         //  workbench | sklearn | mlflow | python; NULL: found
    const char *scorer;         //  scoring script (a readable path), or NULL
    const char *python;         //  the Python it needs; NULL: python3 on PATH
} wb_model_spec_t;

//  One request for the log.
typedef struct {
    double time;                //  unix seconds
    double latency;             //  milliseconds
    int status;                 //  HTTP status
    int rows;                   //  rows scored
    bool mirrored;              //  a mirror copy, not answered
    char deployment [64];       //  which deployment ("" = none chosen)
    char *input;                //  sample of the body, or NULL (owned)
    char *output;               //  sample of the answer, or NULL (owned)
} wb_request_t;

//  The request log's retention when an endpoint sets none
#define WB_REGISTRY_LOG_ROWS  1000000     //  rows kept per endpoint
#define WB_REGISTRY_LOG_DAYS  30          //  days kept

//  Keys as made, in plain text: shown to the user once, never stored.
typedef struct {
    char key [2][64];           //  primary, secondary; "" when not made
} wb_keys_t;

//  ---- Models ----

//  Register a new version of spec->name from a run's artifact (a file, or
//  a folder of the run's files) of any flavor: a Workbench model file is
//  flavor workbench; any other is loaded by the Python worker with the
//  version's Python (its check), which finds the flavor unless spec says
//  it, and is refused when it does not load. The files are copied into the
//  version's folder (wb_registry_model_dir). Returns the version (> 0), or
//  -1 with err (no such run or artifact, bad name, a model that does not
//  load: the loader's error) and *detail (may be NULL) its traceback
//  (caller frees; NULL when there is none). Nothing is kept on failure.
int64_t
    wb_registry_model_register (wb_store_t *store, const wb_model_spec_t *spec,
                                char **detail, wb_error_t *err);
//  The folder holding a version's files: WORKSPACE/models/NAME/VERSION
//  (caller owns).
char *
    wb_registry_model_dir (wb_store_t *store, const char *name, int64_t version);
//  The Python worker program (share/wb_worker.py) in the workspace's
//  python/ folder, written from the binary when missing or different
//  (caller owns the path); NULL with err.
char *
    wb_registry_worker (wb_store_t *store, wb_error_t *err);
//  Write version ref as a model folder of format ("mlflow") at to (a
//  folder that does not exist or is empty), so that other tools load it:
//  built-in models with a pure-Python loader, the others as their flavor.
//  0, or -1 with err and *detail (may be NULL; caller frees) the worker's
//  output.
int
    wb_registry_model_export (wb_store_t *store, const char *ref, const char *format,
                              const char *to, char **detail, wb_error_t *err);
//  A version as JSON (caller owns): name, version, run, path, file (the
//  model's name in its folder), hash, kind, task, tags, description,
//  metrics, datasets, status, created, archived, flavor, python, scorer
//  (its path in the folder), facts (what the worker said loading it:
//  columns, classes, proba, batch, python), aliases [names]. ref is NAME, NAME:VERSION or NAME@ALIAS (NAME alone:
//  the latest active version). NULL with err.
json_t *
    wb_registry_model_get (wb_store_t *store, const char *ref, wb_error_t *err);
//  Every name with its latest version, versions count and aliases (caller owns).
json_t *
    wb_registry_models (wb_store_t *store, bool archived, wb_error_t *err);
//  The versions of one name, oldest first (caller owns).
json_t *
    wb_registry_model_versions (wb_store_t *store, const char *name, wb_error_t *err);
//  Point alias at name:version (recorded in the history). 0 or -1.
int
    wb_registry_model_alias (wb_store_t *store, const char *name, int64_t version,
                             const char *alias, wb_error_t *err);
//  Every move of the aliases of name, oldest first: [{alias, version,
//  previous, time}] (caller owns).
json_t *
    wb_registry_alias_history (wb_store_t *store, const char *name, wb_error_t *err);
//  The version alias pointed at at time `when` (unix seconds): > 0, 0 when
//  it pointed nowhere yet, -1 on error.
int64_t
    wb_registry_alias_at (wb_store_t *store, const char *name, const char *alias,
                          double when, wb_error_t *err);
//  Archive a version (it can no longer be deployed or aliased). 0 or -1.
int
    wb_registry_model_archive (wb_store_t *store, const char *name, int64_t version,
                               wb_error_t *err);

//  ---- Endpoints ----

//  A new endpoint with two fresh keys, handed back in made (may be NULL);
//  auth is "key" or "none". 0 or -1 (err: exists already, bad name).
int
    wb_registry_endpoint_create (wb_store_t *store, const char *name, const char *auth,
                                 wb_keys_t *made, wb_error_t *err);
//  An endpoint as JSON (caller owns): name, auth, key_hashes [2], port,
//  pid, pid_start, host, generation, loaded, error, created, updated,
//  log_rows, log_days (the retention in force: the defaults when unset),
//  deployments [{name, model, version, traffic, mirror, hash, kind,
//  created, updated, flavor, python, scorer, path, facts, settings}] by
//  name. NULL with err when there is none.
json_t *
    wb_registry_endpoint_get (wb_store_t *store, const char *name, wb_error_t *err);
//  Every endpoint, as wb_registry_endpoint_get (caller owns).
json_t *
    wb_registry_endpoints (wb_store_t *store, wb_error_t *err);
//  Whether the endpoint's serving process is alive (same pid, same start).
bool
    wb_registry_endpoint_alive (json_t *endpoint);
//  Create or update deployment of endpoint to serve model:version. traffic
//  < 0 keeps a deployment's share (a new one gets 100 when it is the only
//  one, else 0); otherwise this deployment gets traffic and the others
//  share the rest in proportion. Bumps the generation. 0 or -1.
//  settings (may be NULL: the deployment keeps its own) are how a Python
//  flavor is served: {workers, max_batch_rows, max_batch_delay_ms,
//  request_timeout} (not stolen).
int
    wb_registry_deploy (wb_store_t *store, const char *endpoint, const char *deployment,
                        const char *model, int64_t version, int traffic, json_t *settings,
                        wb_error_t *err);
//  Put an endpoint's deployments back as they were (the "deployments" of
//  an earlier wb_registry_endpoint_get), e.g. when a new one cannot load;
//  bumps the generation. 0 or -1.
int
    wb_registry_deployments_restore (wb_store_t *store, const char *endpoint,
                                     json_t *deployments, wb_error_t *err);
//  Set the traffic split from {deployment: percent} (every deployment
//  named must exist; the shares sum to 100; those not named get 0). 0 or -1.
int
    wb_registry_traffic (wb_store_t *store, const char *endpoint, json_t *split,
                         wb_error_t *err);
//  Set the mirror shares from {deployment: percent} (0..100 each, others
//  keep theirs). 0 or -1.
int
    wb_registry_mirror (wb_store_t *store, const char *endpoint, json_t *shares,
                        wb_error_t *err);
//  New keys: which = 1, 2 or 0 for both, handed back in made (may be
//  NULL; "" for a key not made). 0 or -1.
int
    wb_registry_keys_regenerate (wb_store_t *store, const char *endpoint, int which,
                                 wb_keys_t *made, wb_error_t *err);
//  Set the request log's retention: rows > 0 and days > 0, or 0 to keep
//  the current value (-1: back to the default). Bumps the generation. 0 or -1.
int
    wb_registry_retention (wb_store_t *store, const char *endpoint, int64_t rows,
                           double days, wb_error_t *err);
//  Forget an endpoint, its deployments and its request log. 0 or -1.
int
    wb_registry_endpoint_delete (wb_store_t *store, const char *endpoint, wb_error_t *err);
//  The server reports its process and port (pid 0: it stopped). 0 or -1.
int
    wb_registry_endpoint_process (wb_store_t *store, const char *endpoint, pid_t pid,
                                  int port, wb_error_t *err);
//  The server reports the generation it loaded, or the error it met
//  loading it (error NULL on success). 0 or -1.
int
    wb_registry_endpoint_loaded (wb_store_t *store, const char *endpoint, int64_t generation,
                                 const char *error, wb_error_t *err);
//  The endpoint's generation (what the server should have loaded); -1 on error.
int64_t
    wb_registry_endpoint_generation (wb_store_t *store, const char *endpoint,
                                     wb_error_t *err);

//  ---- Request log ----

//  Append requests in one transaction. 0 or -1.
int
    wb_registry_requests_add (wb_store_t *store, const char *endpoint,
                              const wb_request_t *requests, size_t count, wb_error_t *err);
//  Delete requests of endpoint beyond rows (the newest kept) or older than
//  days, at most most of them (the rest next time). The count deleted, or -1.
int64_t
    wb_registry_requests_prune (wb_store_t *store, const char *endpoint, int64_t rows,
                                double days, int64_t most, wb_error_t *err);
//  The last limit requests of endpoint, newest first (caller owns).
json_t *
    wb_registry_requests (wb_store_t *store, const char *endpoint, size_t limit,
                          wb_error_t *err);
//  Requests per time bucket of `bucket` seconds over the last `span`
//  seconds that had any: [{time, deployment, count, errors, p50, p99,
//  mean}] (latencies in ms; caller owns).
json_t *
    wb_registry_request_stats (wb_store_t *store, const char *endpoint, double span,
                               double bucket, wb_error_t *err);

void
    wb_registry_test (bool verbose);

#endif
