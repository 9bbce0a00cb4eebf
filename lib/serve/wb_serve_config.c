/*  wb_serve_config - the configurations of the scoring server: what a
    generation of the endpoint serves (keys, deployments with their
    scorers, the OpenAPI document), loaded from the workspace and shared
    by the request threads through a reference count

    Private to the server (wb_serve_int.h).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "wb_serve_int.h"
#include <math.h>
#include "base/wb_util.h"

//  ---- Configurations ----

void
wb_serve__config_release (wb_serve__config_t *config)
{
    if (!config || atomic_fetch_sub (&config->refs, 1) != 1)
        return;
    for (size_t i = 0; i < config->count; i++) {
        wb_scorer_destroy (&config->deployments [i].scorer);
        if (config->deployments [i].pool)        //  the main thread destroys it
            atomic_fetch_sub (&config->deployments [i].pool->refs, 1);
    }
    free (config->swagger);
    free (config);
}

wb_serve__config_t *
wb_serve__config_hold (wb_serve__server_t *server)
{
    pthread_mutex_lock (&server->lock);
    wb_serve__config_t *config = server->config;
    if (config)
        atomic_fetch_add (&config->refs, 1);
    pthread_mutex_unlock (&server->lock);
    return config;
}

//  The counters for a deployment name (created on first use; main thread)
static wb_serve__stats_t *
s_stats_for (wb_serve__server_t *server, const char *name)
{
    for (size_t i = 0; i < server->nstats; i++)
        if (streq (server->stats [i].name, name))
            return &server->stats [i];
    if (server->nstats == WB_SERVE__MAX_DEPLOYMENTS)
        return &server->stats [WB_SERVE__MAX_DEPLOYMENTS - 1];
    wb_serve__stats_t *stats = &server->stats [server->nstats];
    snprintf (stats->name, sizeof (stats->name), "%s", name);
    pthread_mutex_lock (&server->lock);     //  /metrics reads nstats under it
    server->nstats++;
    pthread_mutex_unlock (&server->lock);
    return stats;
}

//  The OpenAPI document for a configuration
static char *
s_swagger (wb_serve__config_t *config, const char *endpoint)
{
    json_t *columns = NULL;
    const char *task = "";
    for (size_t i = 0; i < config->count && !columns; i++)
        if (config->deployments [i].traffic > 0 || i + 1 == config->count) {
            if (config->deployments [i].scorer) {
                json_t *expects = wb_scorer_expects (config->deployments [i].scorer);
                columns = json_incref (json_object_get (expects, "columns"));
                task = json_string_value (json_object_get (expects, "task"));
            }
            else {
                //  A user's own model: the names its worker found (of no
                //  known type)
                json_t *hello = wb_pool_hello (config->deployments [i].pool->pool);
                json_t *names = json_object_get (hello, "columns");
                if (json_array_size (names)) {
                    columns = json_array ();
                    size_t index;
                    json_t *name;
                    json_array_foreach (names, index, name)
                        if (json_is_string (name))
                            json_array_append_new (columns, json_pack ("{s:O}", "name", name));
                }
                task = json_array_size (json_object_get (hello, "classes"))? "classification": "";
            }
        }
    json_t *names = json_array (), *properties = json_object ();
    size_t index;
    json_t *column;
    json_array_foreach (columns, index, column) {
        const char *name = json_string_value (json_object_get (column, "name"));
        json_array_append_new (names, json_string (name));
        const char *type = json_string_value (json_object_get (column, "type"));
        bool numeric = type && streq (type, "numeric");
        json_t *schema = type? json_pack ("{s:s}", "type", numeric? "number": "string"): json_object ();
        if (type && !numeric)
            json_object_set (schema, "enum", json_object_get (column, "categories"));
        json_object_set_new (properties, name, schema);
    }
    json_t *deployments = json_array ();
    for (size_t i = 0; i < config->count; i++)
        json_array_append_new (deployments, json_pack ("{s:s, s:s, s:i}",
            "name", config->deployments [i].name, "model", config->deployments [i].model,
            "traffic", config->deployments [i].traffic));
    char *names_text = json_dumps (names, JSON_COMPACT);
    char *properties_text = json_dumps (properties, JSON_COMPACT);
    char *deployments_text = json_dumps (deployments, JSON_COMPACT);
    json_t *title = json_string (endpoint);
    char *title_text = json_dumps (title, JSON_ENCODE_ANY);
    char *text = wb_sprintf (
        "{\"openapi\":\"3.0.3\","
        "\"info\":{\"title\":%s,\"version\":\"1\",\"description\":"
        "\"A Workbench endpoint: POST rows to /score, get predictions\"},"
        "\"paths\":{\"/score\":{\"post\":{\"summary\":\"Score rows\","
        "\"security\":[{\"bearer\":[]}],"
        "\"parameters\":[{\"name\":\"probabilities\",\"in\":\"query\","
        "\"schema\":{\"type\":\"boolean\"}},{\"name\":\"X-Deployment\",\"in\":\"header\","
        "\"schema\":{\"type\":\"string\"}}],"
        "\"requestBody\":{\"required\":true,\"content\":{"
        "\"application/json\":{\"schema\":{\"type\":\"object\",\"properties\":{"
        "\"input_data\":{\"type\":\"object\",\"properties\":{"
        "\"columns\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"example\":%s},"
        "\"data\":{\"type\":\"array\",\"items\":{\"type\":\"array\",\"items\":{}}}}},"
        "\"dataframe_records\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
        "\"properties\":%s}}}}},"
        "\"text/csv\":{\"schema\":{\"type\":\"string\"}}}},"
        "\"responses\":{"
        "\"200\":{\"description\":\"{\\\"predictions\\\": [...]}\"},"
        "\"400\":{\"description\":\"a bad body: the error says what was wrong and what the model expects\"},"
        "\"401\":{\"description\":\"no key, or a wrong one\"},"
        "\"413\":{\"description\":\"a body over 1 MiB\"},"
        "\"415\":{\"description\":\"a content type other than application/json or text/csv\"}}}}},"
        "\"components\":{\"securitySchemes\":{\"bearer\":{\"type\":\"http\",\"scheme\":\"bearer\"}}},"
        "\"x-workbench\":{\"task\":\"%s\",\"deployments\":%s}}",
        title_text, names_text, properties_text, task? task: "", deployments_text);
    free (names_text);
    free (properties_text);
    free (deployments_text);
    free (title_text);
    json_decref (title);
    json_decref (names);
    json_decref (properties);
    json_decref (columns);
    json_decref (deployments);
    return text;
}

//  ---- Python worker pools ----

//  A setting of a deployment (its settings object), or fallback
static double
s_setting (json_t *row, const char *key, double fallback)
{
    json_t *value = json_object_get (json_object_get (row, "settings"), key);
    return json_is_number (value)? json_number_value (value): fallback;
}

//  The pool for deployment row (a Python flavor), made or shared, held
//  once more; NULL with err and *detail
static wb_serve__pool_t *
s_pool_for (wb_serve__server_t *server, wb_store_t *store, json_t *row, char **detail,
            wb_error_t *err)
{
    const char *model = json_string_value (json_object_get (row, "model"));
    int64_t version = json_integer_value (json_object_get (row, "version"));
    char *settings = json_dumps (json_object_get (row, "settings")
                                 ? json_object_get (row, "settings"): json_null (),
                                 JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    char *key = wb_sprintf ("%s:%lld %s %s %s", model, (long long) version,
                            json_string_value (json_object_get (row, "hash")),
                            json_string_value (json_object_get (row, "name")), settings);
    free (settings);
    for (size_t i = 0; i < server->npools; i++)
        if (streq (server->pools [i]->key, key)) {
            atomic_fetch_add (&server->pools [i]->refs, 1);
            free (key);
            return server->pools [i];
        }
    if (server->npools == sizeof (server->pools) / sizeof (server->pools [0])) {
        wb_error_set (err, "too many Python deployments are starting at once");
        free (key);
        return NULL;
    }
    char *worker = wb_registry_worker (store, err);
    char *dir = wb_registry_model_dir (store, model, version);
    const char *path = json_string_value (json_object_get (row, "path"));
    const char *slash = path? strrchr (path, '/'): NULL;
    char *file = wb_sprintf ("%s/%s", dir, slash? slash + 1: path? path: "");
    const char *scorer_rel = json_string_value (json_object_get (row, "scorer"));
    char *scorer = scorer_rel? wb_sprintf ("%s/%s", dir, scorer_rel): NULL;
    wb_serve__pool_t *entry = NULL;
    if (worker) {
        entry = wb_calloc (1, sizeof (wb_serve__pool_t));
        snprintf (entry->label, sizeof (entry->label), "deployment %s",
                  json_string_value (json_object_get (row, "name")));
        wb_pool_config_t config = {
            .python = json_string_value (json_object_get (row, "python")),
            .worker = worker,
            .flavor = json_string_value (json_object_get (row, "flavor")),
            .model = file, .scorer = scorer, .model_dir = dir, .label = entry->label,
            .workers = (int) s_setting (row, "workers", 0),
            .max_batch_rows = (int) s_setting (row, "max_batch_rows", WB_SERVE_BATCH_ROWS),
            .max_batch_delay = s_setting (row, "max_batch_delay_ms", WB_SERVE_BATCH_DELAY_MS) / 1000,
            .request_timeout = s_setting (row, "request_timeout", WB_SERVE_REQUEST_TIMEOUT),
            .start_timeout = 300, .log_fd = STDERR_FILENO,
        };
        if (!config.python)
            config.python = "python3";
        entry->pool = wb_pool_new (&config, detail, err);
        if (!entry->pool) {
            free (entry);
            entry = NULL;
        }
    }
    if (entry) {
        entry->key = key;
        key = NULL;
        atomic_init (&entry->refs, 1);
        server->pools [server->npools++] = entry;
    }
    free (key);
    free (scorer);
    free (file);
    free (dir);
    free (worker);
    return entry;
}

void
wb_serve__pools_reap (wb_serve__server_t *server, bool all)
{
    for (size_t i = 0; i < server->npools; ) {
        wb_serve__pool_t *entry = server->pools [i];
        if (all || atomic_load (&entry->refs) <= 0) {
            wb_pool_destroy (&entry->pool);
            free (entry->key);
            free (entry);
            server->pools [i] = server->pools [--server->npools];
        }
        else
            i++;
    }
}

//  A configuration from the workspace; NULL with err (a model that cannot
//  be loaded: the old configuration stays)
wb_serve__config_t *
wb_serve__config_load (wb_serve__server_t *server, wb_store_t *store, char **detail,
                       wb_error_t *err)
{
    json_t *record = wb_registry_endpoint_get (store, server->endpoint, err);
    if (!record)
        return NULL;
    wb_serve__config_t *config = wb_calloc (1, sizeof (wb_serve__config_t));
    atomic_init (&config->refs, 1);
    config->generation = json_integer_value (json_object_get (record, "generation"));
    config->open = streq (json_string_value (json_object_get (record, "auth")), "none");
    for (int k = 0; k < 2; k++) {
        const char *hash = json_string_value (json_array_get (
            json_object_get (record, "key_hashes"), k));
        snprintf (config->keys [k], sizeof (config->keys [k]), "%s",
                  wb_key_is_hash (hash)? hash: "");
    }
    config->log_rows = json_integer_value (json_object_get (record, "log_rows"));
    config->log_days = json_number_value (json_object_get (record, "log_days"));
    size_t index;
    json_t *row;
    int rc = 0;
    json_array_foreach (json_object_get (record, "deployments"), index, row) {
        if (config->count == WB_SERVE__MAX_DEPLOYMENTS) {
            rc = wb_error_set (err, "an endpoint holds at most %d deployments",
                               WB_SERVE__MAX_DEPLOYMENTS);
            break;
        }
        wb_serve__deployment_t *d = &config->deployments [config->count];
        const char *name = json_string_value (json_object_get (row, "name"));
        snprintf (d->name, sizeof (d->name), "%s", name);
        snprintf (d->model, sizeof (d->model), "%s:%lld",
                  json_string_value (json_object_get (row, "model")),
                  (long long) json_integer_value (json_object_get (row, "version")));
        d->traffic = (int) json_integer_value (json_object_get (row, "traffic"));
        d->mirror = (int) json_integer_value (json_object_get (row, "mirror"));
        const char *flavor = json_string_value (json_object_get (row, "flavor"));
        if (flavor && !streq (flavor, "workbench")) {
            //  A user's own model: its Python workers
            wb_error_t why;
            d->pool = s_pool_for (server, store, row, detail, &why);
            if (!d->pool) {
                rc = wb_error_set (err, "deployment %s cannot load model %s: %s", name, d->model,
                                   why.text);
                break;
            }
            d->stats = s_stats_for (server, name);
            config->taking += d->traffic > 0;
            config->count++;
            continue;
        }
        const char *hash = json_string_value (json_object_get (row, "hash"));
        char *file = hash? wb_store_blob_path (store, hash): NULL;
        size_t size = 0;
        char *data = file? wb_file_read (file, &size): NULL;
        free (file);
        wb_error_t why;
        d->scorer = data? wb_scorer_new (data, size, &why): NULL;
        free (data);
        if (!d->scorer) {
            rc = wb_error_set (err, "deployment %s cannot load model %s: %s", name, d->model,
                               hash && data? why.text: "its model file is missing from the workspace");
            break;
        }
        d->stats = s_stats_for (server, name);
        config->taking += d->traffic > 0;
        config->count++;
    }
    json_decref (record);
    if (rc) {
        atomic_store (&config->refs, 1);
        wb_serve__config_release (config);
        return NULL;
    }
    config->swagger = s_swagger (config, server->endpoint);
    return config;
}
