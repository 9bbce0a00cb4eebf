/*  wb_magic_serve - the model registry and endpoints from a cell: %model,
    %deploy, %endpoint

    The work is in lib/: wb_registry keeps the records, wb_serve starts,
    reloads, stops and calls the serving processes. A change to an endpoint
    is written to the workspace first, then the running server is told to
    load it (and the cell waits until it has), so what %endpoint show says
    is what the server does.
*/
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "wb_magic_serve.h"
#include "serve/wb_registry.h"
#include "serve/wb_serve.h"
#include "render/wb_view_serve.h"
#include "cell/wb_args.h"
#include "base/wb_fs.h"
#include "base/wb_util.h"

#define S_LOG_ROWS      20      //  requests %endpoint logs shows by default
#define S_CHART_SPAN    900     //  seconds of requests %endpoint show draws

//  ---- Helpers ----

static const char *
s_text (json_t *value)
{
    return json_is_string (value)? json_string_value (value): "";
}

//  NAME:VERSION into a fresh name and a version; NULL after reporting
static char *
s_name_version (wb_call_t *call, const char *ref, int64_t *version, wb_out_t *out)
{
    const char *colon = strchr (ref, ':');
    char *end = NULL;
    long long number = colon? strtoll (colon + 1, &end, 10): 0;
    if (!colon || colon == ref || !*(colon + 1) || *end || number <= 0) {
        wb_magics_usage (call, out, "'%s' is not NAME:VERSION (e.g. churn:3)", ref);
        return NULL;
    }
    *version = number;
    return wb_strndup (ref, (size_t) (colon - ref));
}

//  {name: percent} from NAME=PERCENT words of args from first; NULL after
//  reporting
static json_t *
s_shares (wb_call_t *call, wb_args_t *args, size_t first, wb_out_t *out)
{
    json_t *shares = json_object ();
    for (size_t i = first; i < wb_args_npos (args); i++) {
        const char *value;
        char *key = wb_args_kv (wb_args_pos (args, i), &value);
        long percent;
        wb_error_t err;
        if (!key || wb_args_long (value, key, &percent, &err)) {
            wb_magics_usage (call, out, "'%s' is not DEPLOYMENT=PERCENT", wb_args_pos (args, i));
            free (key);
            json_decref (shares);
            return NULL;
        }
        json_object_set_new (shares, key, json_integer (percent));
        free (key);
    }
    if (json_object_size (shares) == 0) {
        wb_magics_usage (call, out, "give DEPLOYMENT=PERCENT words, e.g. blue=90 green=10");
        json_decref (shares);
        return NULL;
    }
    return shares;
}

//  After a change in the workspace: a running server loads it. 0 or -1
//  after reporting.
static int
s_apply (wb_store_t *store, const char *endpoint, wb_out_t *out)
{
    json_t *record = wb_registry_endpoint_get (store, endpoint, NULL);
    bool alive = record && wb_registry_endpoint_alive (record);
    json_decref (record);
    if (!alive) {
        wb_out_printf (out, "Endpoint %s is down: the change applies when %%deploy starts it again.\n",
                       endpoint);
        return 0;
    }
    wb_error_t err;
    if (wb_serve_reload (store, endpoint, &err)) {
        wb_out_error (out, "EndpointError", "%s", err.text);
        return -1;
    }
    return 0;
}

//  ---- %model ----

//  A model version's card and its metrics
static void
s_model_table (wb_out_t *out, json_t *model)
{
    wb_out_display_new (out, wb_view_model (model), NULL);
    json_t *metrics = wb_view_model_metrics (model);
    if (metrics)
        wb_out_display_new (out, metrics, NULL);
}

//  Each subcommand's flags and arity are the magic table's (wb_magics_table.c)
int
wb_magic_model_register (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    wb_args_t *args = call->args;
    if (!wb_args_has (args, "run"))
        return wb_magics_usage (call, out, "say which run the model comes from: --run RUN");
    wb_store_t *store = wb_session_open (session, out);
    if (!store)
        return -1;
    wb_error_t err;
    char *run = wb_store_run_resolve (store, wb_args_get (args, "run"), &err);
    if (!run) {
        wb_out_error (out, "ModelError", "%s", err.text);
        return -1;
    }
    json_t *tags = json_object ();
    for (size_t i = 0; i < wb_args_count (args, "tag"); i++) {
        const char *value;
        char *key = wb_args_kv (wb_args_nth (args, "tag", i), &value);
        if (!key) {
            json_decref (tags);
            free (run);
            return wb_magics_usage (call, out, "--tag wants KEY=VALUE, not '%s'",
                                    wb_args_nth (args, "tag", i));
        }
        json_object_set_new (tags, key, json_string (value));
        free (key);
    }
    //  The scoring script and a Python given as a path are in the
    //  notebook's folder (the shell's directory)
    wb_shell_t *shell = wb_session_shell (session);
    const char *python = wb_args_get (args, "python");
    char *scorer = wb_args_has (args, "scorer")? wb_shell_path (shell, wb_args_get (args, "scorer")): NULL;
    char *python_path = python && strchr (python, '/')? wb_shell_path (shell, python): NULL;
    wb_model_spec_t spec = { .name = wb_args_pos (args, 1), .run = run,
                             .path = wb_args_get (args, "path"), .tags = tags,
                             .description = wb_args_get (args, "description"),
                             .flavor = wb_args_get (args, "flavor"), .scorer = scorer,
                             .python = python_path? python_path: python };
    char *detail = NULL;
    int64_t version = wb_registry_model_register (store, &spec, &detail, &err);
    json_decref (tags);
    free (run);
    free (scorer);
    free (python_path);
    if (version < 0) {
        if (detail && *detail)
            wb_out_error (out, "ModelError", "%s; nothing was registered\n\n%s", err.text, detail);
        else
            wb_out_error (out, "ModelError", "%s; nothing was registered", err.text);
        free (detail);
        return -1;
    }
    free (detail);
    char ref [128];
    snprintf (ref, sizeof (ref), "%s:%lld", wb_args_pos (args, 1), (long long) version);
    json_t *model = wb_registry_model_get (store, ref, &err);
    wb_out_printf (out, "Registered model %s\n", ref);
    if (model)
        s_model_table (out, model);
    json_decref (model);
    return 0;
}

int
wb_magic_model_list (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    wb_error_t err;
    wb_store_t *store = wb_session_open (session, out);
    json_t *models = store? wb_registry_models (store, wb_args_has (call->args, "all"), &err): NULL;
    if (!models) {
        if (store)
            wb_out_error (out, "ModelError", "%s", err.text);
        return -1;
    }
    wb_out_display_new (out, wb_view_models (models), NULL);
    json_decref (models);
    return 0;
}

int
wb_magic_model_show (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    wb_error_t err;
    wb_store_t *store = wb_session_open (session, out);
    json_t *model = store? wb_registry_model_get (store, wb_args_pos (call->args, 1), &err): NULL;
    if (!model) {
        if (store)
            wb_out_error (out, "ModelError", "%s", err.text);
        return -1;
    }
    s_model_table (out, model);
    const char *name = s_text (json_object_get (model, "name"));
    json_t *versions = wb_registry_model_versions (store, name, NULL);
    wb_out_display_new (out, wb_view_model_versions (name, versions), NULL);
    json_decref (versions);
    json_t *history = wb_registry_alias_history (store, name, NULL);
    json_t *bundle = wb_view_alias_history (history);
    if (bundle)
        wb_out_display_new (out, bundle, NULL);
    json_decref (history);
    json_decref (model);
    return 0;
}

//  %model export NAME[:VERSION|@ALIAS] --format mlflow DIR
int
wb_magic_model_export (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    wb_args_t *args = call->args;
    const char *format = wb_args_has (args, "format")? wb_args_get (args, "format"): "mlflow";
    if (!streq (format, "mlflow"))
        return wb_magics_usage (call, out, "--format is mlflow (an MLflow model folder), not '%s'",
                                format);
    wb_store_t *store = wb_session_open (session, out);
    if (!store)
        return -1;
    wb_error_t err;
    char *to = wb_shell_path (wb_session_shell (session), wb_args_pos (args, 2));
    char *detail = NULL;
    int rc = wb_registry_model_export (store, wb_args_pos (args, 1), format, to, &detail, &err);
    if (rc && detail && *detail)
        wb_out_error (out, "ModelError", "%s\n\n%s", err.text, detail);
    else
    if (rc)
        wb_out_error (out, "ModelError", "%s", err.text);
    else
        wb_out_printf (out, "Exported %s as an MLflow model to %s\n", wb_args_pos (args, 1),
                       wb_args_pos (args, 2));
    free (detail);
    free (to);
    return rc;
}

//  %model alias NAME:VERSION ALIAS, %model archive NAME:VERSION
static int
s_model_alias_or_archive (wb_session_t *session, wb_call_t *call, bool alias, wb_out_t *out)
{
    wb_error_t err;
    wb_args_t *args = call->args;
    int64_t version = 0;
    char *name = s_name_version (call, wb_args_pos (args, 1), &version, out);
    if (!name)
        return -1;
    wb_store_t *store = wb_session_open (session, out);
    int rc = -1;
    if (store && alias)
        rc = wb_registry_model_alias (store, name, version, wb_args_pos (args, 2), &err);
    else
    if (store)
        rc = wb_registry_model_archive (store, name, version, &err);
    if (store && rc)
        wb_out_error (out, "ModelError", "%s", err.text);
    else
    if (store && alias)
        wb_out_printf (out, "%s@%s -> version %lld\\n", name, wb_args_pos (args, 2),
                       (long long) version);
    else
    if (store)
        wb_out_printf (out, "Archived %s:%lld\\n", name, (long long) version);
    free (name);
    return rc;
}

int
wb_magic_model_alias (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    return s_model_alias_or_archive (session, call, true, out);
}

int
wb_magic_model_archive (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    return s_model_alias_or_archive (session, call, false, out);
}

//  ---- %deploy ----

//  Keys just made: the only time they are shown
static void
s_keys_print (wb_out_t *out, const char *endpoint, const wb_keys_t *keys)
{
    wb_out_printf (out, "New keys of endpoint %s, shown this once (the workspace keeps only "
                   "their hashes; %%endpoint keys %s --regenerate makes new ones):\n",
                   endpoint, endpoint);
    if (*keys->key [0])
        wb_out_printf (out, "primary:   %s\n", keys->key [0]);
    if (*keys->key [1])
        wb_out_printf (out, "secondary: %s\n", keys->key [1]);
}

//  An endpoint's summary and deployments; its record learns whether its
//  server is alive
static void
s_endpoint_summary (wb_out_t *out, json_t *endpoint)
{
    json_object_set_new (endpoint, "alive", json_boolean (wb_registry_endpoint_alive (endpoint)));
    wb_out_display_new (out, wb_view_endpoint (endpoint), NULL);
    wb_out_display_new (out, wb_view_deployments (endpoint), NULL);
}

//  The serving settings --workers, --max-batch-rows, --max-batch-delay-ms
//  and --request-timeout give ({} when none), for a Python flavor only;
//  NULL after reporting
static json_t *
s_deploy_settings (wb_call_t *call, wb_args_t *args, bool python, wb_out_t *out)
{
    static const struct { const char *flag, *key; double low, high; bool whole; } knobs [] = {
        { "workers", "workers", 1, 64, true },
        { "max-batch-rows", "max_batch_rows", 1, 100000, true },
        { "max-batch-delay-ms", "max_batch_delay_ms", 0, 10000, false },
        { "request-timeout", "request_timeout", 0.001, 86400, false },
    };
    json_t *settings = json_object ();
    for (size_t i = 0; i < sizeof (knobs) / sizeof (knobs [0]); i++) {
        const char *text = wb_args_get (args, knobs [i].flag);
        if (!text)
            continue;
        char *end;
        double value = strtod (text, &end);
        if (!python) {
            wb_magics_usage (call, out, "--%s goes with a user's own model (flavor sklearn, "
                             "mlflow or python); a Workbench model is scored in the server "
                             "itself", knobs [i].flag);
            json_decref (settings);
            return NULL;
        }
        if (end == text || *end || !(value >= knobs [i].low && value <= knobs [i].high)
        ||  (knobs [i].whole && value != floor (value))) {
            wb_magics_usage (call, out, "--%s is %s from %g to %g, not '%s'", knobs [i].flag,
                             knobs [i].whole? "a whole number": "a number", knobs [i].low,
                             knobs [i].high, text);
            json_decref (settings);
            return NULL;
        }
        json_object_set_new (settings, knobs [i].key,
                             knobs [i].whole? json_integer ((json_int_t) value): json_real (value));
    }
    return settings;
}

int
wb_magic_deploy (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    //  Its flags are the magic table's (wb_magics_table.c)
    wb_error_t err;
    wb_args_t *args = call->args;
    long traffic = -1, port = -1;
    int rc = 0;
    if (wb_args_npos (args) != 1 || !wb_args_has (args, "endpoint"))
        rc = wb_magics_usage (call, out, "give a model (NAME, NAME:VERSION or NAME@ALIAS) and "
                              "--endpoint NAME");
    else
    if (wb_args_has (args, "traffic")
    && (wb_args_long (wb_args_get (args, "traffic"), "--traffic", &traffic, &err)
    ||  traffic < 0 || traffic > 100))
        rc = wb_magics_usage (call, out, "--traffic is a percentage, 0 to 100");
    else
    if (wb_args_has (args, "port")
    && (wb_args_long (wb_args_get (args, "port"), "--port", &port, &err)
    ||  port < 1 || port > 65535))
        rc = wb_magics_usage (call, out, "--port is a TCP port, 1 to 65535");
    wb_store_t *store = rc? NULL: wb_session_open (session, out);
    if (!store) {
        return -1;
    }
    const char *name = wb_args_get (args, "endpoint");
    json_t *model = wb_registry_model_get (store, wb_args_pos (args, 0), &err);
    if (!model) {
        wb_out_error (out, "ModelError", "%s", err.text);
        return -1;
    }
    const char *model_name = s_text (json_object_get (model, "name"));
    int64_t version = json_integer_value (json_object_get (model, "version"));
    const char *flavor = s_text (json_object_get (model, "flavor"));
    bool python = !streq (flavor, "workbench");
    if (!python && !json_is_string (json_object_get (model, "kind"))) {
        wb_out_error (out, "ModelError", "model %s:%lld is not a model file Workbench can "
                      "score: register it again with its flavor (%%model register --flavor "
                      "sklearn|mlflow|python)", model_name, (long long) version);
        rc = -1;
    }
    //  How a Python flavor is served
    json_t *settings = rc? NULL: s_deploy_settings (call, args, python, out);
    if (rc == 0 && !settings)
        rc = -1;
    json_t *endpoint = rc? NULL: wb_registry_endpoint_get (store, name, NULL);
    wb_keys_t made = { { "", "" } };
    if (rc == 0 && !endpoint) {
        const char *auth = wb_args_has (args, "auth")? wb_args_get (args, "auth"): "key";
        if (wb_registry_endpoint_create (store, name, auth, streq (auth, "key")? &made: NULL,
                                         &err)) {
            wb_out_error (out, "EndpointError", "%s", err.text);
            rc = -1;
        }
        endpoint = rc? NULL: wb_registry_endpoint_get (store, name, &err);
    }
    else
    if (rc == 0 && wb_args_has (args, "auth")
    &&  !streq (wb_args_get (args, "auth"), s_text (json_object_get (endpoint, "auth")))) {
        wb_out_error (out, "EndpointError", "endpoint %s has auth %s already; --auth is chosen "
                      "when an endpoint is created", name, s_text (json_object_get (endpoint, "auth")));
        rc = -1;
    }
    //  Which deployment: --deployment, else the only one, else "blue"
    const char *deployment = wb_args_get (args, "deployment");
    json_t *deployments = json_object_get (endpoint, "deployments");
    if (rc == 0 && !deployment) {
        if (json_array_size (deployments) == 0)
            deployment = "blue";
        else
        if (json_array_size (deployments) == 1)
            deployment = s_text (json_object_get (json_array_get (deployments, 0), "name"));
        else {
            wb_out_error (out, "EndpointError", "endpoint %s has %zu deployments: say which "
                          "with --deployment NAME (a new name adds one)", name,
                          json_array_size (deployments));
            rc = -1;
        }
    }
    bool alive = endpoint && wb_registry_endpoint_alive (endpoint);
    int current_port = (int) json_integer_value (json_object_get (endpoint, "port"));
    if (rc == 0 && port > 0 && alive && port != current_port) {
        wb_out_error (out, "EndpointError", "endpoint %s serves on port %d already: %%endpoint "
                      "delete %s first to move it", name, current_port, name);
        rc = -1;
    }
    if (rc == 0 && port > 0 && !alive
    &&  wb_registry_endpoint_process (store, name, 0, (int) port, &err)) {
        wb_out_error (out, "EndpointError", "%s", err.text);
        rc = -1;
    }
    char *deployment_name = deployment? wb_strdup (deployment): NULL;
    //  What the endpoint serves now, put back if the new one cannot load
    json_t *before = rc == 0? json_deep_copy (deployments): NULL;
    if (rc == 0 && wb_registry_deploy (store, name, deployment_name, model_name, version,
                                       (int) traffic, json_object_size (settings)? settings: NULL,
                                       &err)) {
        wb_out_error (out, "EndpointError", "%s", err.text);
        rc = -1;
    }
    else
    if (rc == 0) {
        rc = alive? wb_serve_reload (store, name, &err): wb_serve_start (store, name, NULL, &err);
        if (rc) {
            //  The server's whole report (a Python traceback) is in the
            //  endpoint's row; the workspace goes back to what it serves
            json_t *now = wb_registry_endpoint_get (store, name, NULL);
            const char *why = json_string_value (json_object_get (now, "error"));
            wb_error_t undo;
            bool restored = wb_registry_deployments_restore (store, name, before, &undo) == 0
                         && (!alive || wb_serve_reload (store, name, &undo) == 0);
            wb_out_error (out, "EndpointError", "%s%s%s", why && strlen (why) > strlen (err.text)? why: err.text,
                          alive? restored? "\n\nThe endpoint goes on serving what it served before.":
                                           "\n\nPutting back what it served failed: ": "",
                          alive && !restored? undo.text: "");
            json_decref (now);
        }
    }
    json_decref (before);
    json_decref (settings);
    if (rc == 0) {
        json_t *now = wb_registry_endpoint_get (store, name, NULL);
        wb_out_printf (out, "%s %s:%lld as deployment %s of endpoint %s: "
                       "http://127.0.0.1:%lld/score\n", alive? "Updated to": "Serving",
                       model_name, (long long) version, deployment_name, name,
                       (long long) json_integer_value (json_object_get (now, "port")));
        if (*made.key [0])
            s_keys_print (out, name, &made);
        if (now)
            s_endpoint_summary (out, now);
        json_decref (now);
    }
    sodium_memzero (&made, sizeof (made));
    free (deployment_name);
    json_decref (endpoint);
    json_decref (model);
    return rc;
}

//  ---- %endpoint ----

bool
wb_magic_serve_is_endpoint (wb_session_t *session, const char *name)
{
    wb_store_t *store = wb_session_store (session);
    json_t *endpoint = store? wb_registry_endpoint_get (store, name, NULL): NULL;
    json_decref (endpoint);
    return endpoint != NULL;
}

//  The last lines of the server's log that its Python workers wrote (their
//  standard error) or that say what happened to them (started, exited,
//  restarted): "[deployment NAME worker N] ...", newest last; NULL when none
static char *
s_worker_lines (wb_store_t *store, const char *endpoint, size_t most)
{
    char *path = wb_serve_log_path (store, endpoint);
    size_t size;
    char *text = wb_fs_read (path, &size, NULL);
    free (path);
    if (!text)
        return NULL;
    const char **lines = wb_calloc (most, sizeof (char *));
    size_t count = 0;
    for (char *line = text; line && *line; ) {
        char *end = strchr (line, '\n');
        if (end)
            *end = 0;
        if (wb_starts_with (line, "[deployment "))
            lines [count++ % most] = line;
        line = end? end + 1: NULL;
    }
    wb_buf_t *buf = wb_buf_new ();
    size_t first = count > most? count - most: 0;
    for (size_t i = first; i < count; i++)
        wb_buf_printf (buf, "%s\n", lines [i % most]);
    char *result = count? wb_strdup (wb_buf_data (buf)): NULL;
    wb_buf_destroy (&buf);
    free (lines);
    free (text);
    return result;
}

//  The Python deployments' workers as /metrics tells them: one line each
static void
s_worker_status (json_t *endpoint, wb_out_t *out)
{
    int port = (int) json_integer_value (json_object_get (endpoint, "port"));
    int status = 0;
    char *metrics = NULL;
    if (!wb_registry_endpoint_alive (endpoint)
    ||  wb_serve_request (port, "GET", "/metrics", NULL, NULL, 0, 5, &status, &metrics, NULL)
    ||  status != 200) {
        free (metrics);
        return;
    }
    static const char *names [] = { "workbench_workers{", "workbench_workers_ready{",
        "workbench_worker_restarts_total{", "workbench_worker_queue{",
        "workbench_batch_rows_sum{", "workbench_batch_rows_count{" };
    json_t *rows = json_object ();
    for (char *line = metrics; line && *line; ) {
        char *end = strchr (line, '\n');
        if (end)
            *end = 0;
        for (size_t n = 0; n < sizeof (names) / sizeof (names [0]); n++) {
            const char *at = strstr (line, "deployment=\"");
            if (!wb_starts_with (line, names [n]) || !at)
                continue;
            at += strlen ("deployment=\"");
            char *deployment = wb_strndup (at, strcspn (at, "\""));
            const char *value = strrchr (line, ' ');
            json_t *row = json_object_get (rows, deployment);
            if (!row) {
                row = json_array ();
                for (size_t k = 0; k < 6; k++)
                    json_array_append_new (row, json_real (0));
                json_object_set_new (rows, deployment, row);
            }
            json_array_set_new (row, n, json_real (value? strtod (value + 1, NULL): 0));
            free (deployment);
        }
        line = end? end + 1: NULL;
    }
    const char *deployment;
    json_t *row;
    json_object_foreach (rows, deployment, row) {
        double calls = json_real_value (json_array_get (row, 5));
        wb_out_printf (out, "Deployment %s: %.0f of %.0f Python workers serving, %.0f restart%s, "
                       "%.0f request%s waiting, %.0f call%s to workers (%.1f rows a call)\n",
                       deployment, json_real_value (json_array_get (row, 1)),
                       json_real_value (json_array_get (row, 0)),
                       json_real_value (json_array_get (row, 2)),
                       json_real_value (json_array_get (row, 2)) == 1? "": "s",
                       json_real_value (json_array_get (row, 3)),
                       json_real_value (json_array_get (row, 3)) == 1? "": "s", calls,
                       calls == 1? "": "s",
                       calls > 0? json_real_value (json_array_get (row, 4)) / calls: 0);
    }
    json_decref (rows);
    free (metrics);
}

int
wb_magic_serve_show_endpoint (wb_session_t *session, const char *name, wb_out_t *out)
{
    wb_store_t *store = wb_session_open (session, out);
    if (!store)
        return -1;
    wb_error_t err;
    json_t *endpoint = wb_registry_endpoint_get (store, name, &err);
    if (!endpoint) {
        wb_out_error (out, "EndpointError", "%s", err.text);
        return -1;
    }
    s_endpoint_summary (out, endpoint);
    s_worker_status (endpoint, out);
    char *workers = s_worker_lines (store, name, 10);
    if (workers)
        wb_out_printf (out, "The workers' last lines (%%endpoint logs %s shows more):\n%s", name,
                       workers);
    free (workers);
    json_decref (endpoint);
    //  Request rate and latency per second over the last minutes
    json_t *stats = wb_registry_request_stats (store, name, S_CHART_SPAN, 1, &err);
    size_t count = json_array_size (stats);
    if (count == 0) {
        wb_out_printf (out, "No requests in the last %d minutes.\n", S_CHART_SPAN / 60);
        json_decref (stats);
        return 0;
    }
    json_t *rate, *latency;
    double total, errors;
    wb_view_request_charts (stats, &rate, &latency, &total, &errors);
    wb_out_printf (out, "%.0f request%s (%.0f refused) in the last %d minutes.\n", total,
                   total == 1? "": "s", errors, S_CHART_SPAN / 60);
    wb_out_display_new (out, rate, NULL);
    wb_out_display_new (out, latency, NULL);
    json_decref (stats);
    return 0;
}

static int
s_endpoint_list (wb_store_t *store, wb_out_t *out)
{
    wb_error_t err;
    json_t *endpoints = wb_registry_endpoints (store, &err);
    if (!endpoints) {
        wb_out_error (out, "EndpointError", "%s", err.text);
        return -1;
    }
    size_t index;
    json_t *endpoint;
    json_array_foreach (endpoints, index, endpoint)
        json_object_set_new (endpoint, "alive", json_boolean (wb_registry_endpoint_alive (endpoint)));
    wb_out_display_new (out, wb_view_endpoints (endpoints), NULL);
    json_decref (endpoints);
    return 0;
}

static int
s_endpoint_invoke (wb_session_t *session, wb_call_t *call, wb_store_t *store,
                   json_t *endpoint, wb_out_t *out)
{
    wb_args_t *args = call->args;
    const char *given = wb_args_pos (args, 2);
    char *body;
    size_t size;
    if (given [0] == '@') {
        char *path = wb_shell_path (wb_session_shell (session), given + 1);
        body = wb_file_read (path, &size);
        free (path);
        if (!body) {
            wb_out_error (out, "OSError", "cannot read '%s': %s", given + 1, strerror (errno));
            return -1;
        }
    }
    else {
        body = wb_strdup (given);
        size = strlen (body);
    }
    if (!wb_registry_endpoint_alive (endpoint)) {
        free (body);
        wb_out_error (out, "EndpointError", "endpoint %s is down: %%deploy brings it back",
                      s_text (json_object_get (endpoint, "name")));
        return -1;
    }
    //  The workspace keeps only hashes of the endpoint's keys: the cell
    //  sends the owner's key of the running server (wb_serve)
    const char *name = s_text (json_object_get (endpoint, "name"));
    char *key = wb_serve_owner_key (store, name);
    if (!key) {
        free (body);
        wb_out_error (out, "EndpointError", "cannot read the owner's key of endpoint %s's "
                      "server (%s): %%deploy starts the server again, or send a request with "
                      "one of its keys yourself", name, strerror (errno));
        return -1;
    }
    bool csv = size && body [0] != '{' && body [0] != '[' && body [0] != ' ';
    char *headers = wb_sprintf ("Content-Type: %s\r\nAuthorization: Bearer %s\r\n%s%s%s",
        csv? "text/csv": "application/json", key,
        wb_args_has (args, "deployment")? "X-Deployment: ": "",
        wb_args_has (args, "deployment")? wb_args_get (args, "deployment"): "",
        wb_args_has (args, "deployment")? "\r\n": "");
    int status = 0;
    char *answer = NULL;
    wb_error_t err;
    int rc = wb_serve_request ((int) json_integer_value (json_object_get (endpoint, "port")),
                               "POST", wb_args_has (args, "probabilities")?
                               "/score?probabilities=true": "/score",
                               headers, body, size, 30, &status, &answer, &err);
    sodium_memzero (key, strlen (key));
    sodium_memzero (headers, strlen (headers));
    free (key);
    free (headers);
    free (body);
    if (rc) {
        wb_out_error (out, "EndpointError", "%s", err.text);
        return -1;
    }
    json_t *parsed = json_loads (answer, 0, NULL);
    if (status != 200) {
        json_t *error = json_object_get (parsed, "error");
        wb_out_error (out, "ScoringError", "%d: %s", status,
                      error? s_text (json_object_get (error, "message")): answer);
        json_decref (parsed);
        free (answer);
        return -1;
    }
    char *pretty = parsed? json_dumps (parsed, JSON_INDENT (1)): NULL;
    wb_out_printf (out, "%s\n", pretty? pretty: answer);
    free (pretty);
    json_decref (parsed);
    free (answer);
    return 0;
}

static int
s_endpoint_logs (wb_session_t *session, wb_call_t *call, wb_store_t *store,
                 json_t *endpoint, wb_out_t *out)
{
    (void) session;
    (void) endpoint;
    wb_args_t *args = call->args;
    const char *name = wb_args_pos (args, 1);
    long limit = S_LOG_ROWS;
    wb_error_t err;
    if (wb_args_has (args, "limit")
    && (wb_args_long (wb_args_get (args, "limit"), "--limit", &limit, &err) || limit < 1))
        return wb_magics_usage (call, out, "--limit is a whole number above 0");
    json_t *log = wb_registry_requests (store, name, (size_t) limit, &err);
    if (!log) {
        wb_out_error (out, "EndpointError", "%s", err.text);
        return -1;
    }
    wb_out_display_new (out, wb_view_requests (name, log), NULL);
    json_decref (log);
    //  What its Python workers said (their standard error, restarts)
    char *workers = s_worker_lines (store, name, (size_t) limit);
    if (workers)
        wb_out_printf (out, "Python workers, newest last (from the server's log):\n%s", workers);
    free (workers);
    return 0;
}

//  The URL, and the keys when they were just made (made; NULL: they
//  cannot be shown, say how to make new ones); as JSON with json
static void
s_endpoint_keys (wb_out_t *out, json_t *endpoint, const wb_keys_t *made, bool json)
{
    const char *name = s_text (json_object_get (endpoint, "name"));
    bool open = streq (s_text (json_object_get (endpoint, "auth")), "none");
    char url [80];
    snprintf (url, sizeof (url), "http://127.0.0.1:%lld/score",
              (long long) json_integer_value (json_object_get (endpoint, "port")));
    if (json) {
        json_t *object = json_pack ("{s:s, s:s, s:s}", "endpoint", name, "url", url,
                                    "auth", open? "none": "key");
        for (int k = 0; k < 2; k++)
            json_object_set_new (object, k? "secondary": "primary",
                                 made && *made->key [k]? json_string (made->key [k]): json_null ());
        char *text = json_dumps (object, JSON_COMPACT);
        wb_out_printf (out, "%s\n", text);
        sodium_memzero (text, strlen (text));
        free (text);
        json_decref (object);
        return;
    }
    wb_out_printf (out, "url:       %s\n", url);
    if (made) {
        for (int k = 0; k < 2; k++)
            wb_out_printf (out, "%s %s\n", k? "secondary:": "primary:  ",
                           *made->key [k]? made->key [k]: "(unchanged)");
        wb_out_printf (out, "%s\n", open? "(auth is none: the endpoint does not ask for them)":
                       "Shown this once: the workspace keeps only their hashes. Send one as "
                       "`Authorization: Bearer KEY`.");
    }
    else
        wb_out_printf (out, "The keys of endpoint %s were shown when they were made and cannot "
                       "be shown again: the workspace keeps only their hashes.\n"
                       "%%endpoint keys %s --regenerate --key 2 makes a new secondary key and "
                       "shows it (the primary keeps working); --key 1 the primary; without "
                       "--key both.\n%s", name, name, open? "(auth is none: the endpoint "
                       "does not ask for a key)\n": "");
}

//  Show or set how much of the request log is kept
static int
s_endpoint_retention (wb_session_t *session, wb_call_t *call, wb_store_t *store,
                      json_t *endpoint, wb_out_t *out)
{
    (void) session;
    (void) endpoint;
    wb_args_t *args = call->args;
    const char *name = wb_args_pos (args, 1);
    long rows = 0;
    double days = 0;
    wb_error_t err;
    bool reset = wb_args_has (args, "default");
    if (wb_args_has (args, "rows")
    && (wb_args_long (wb_args_get (args, "rows"), "--rows", &rows, &err) || rows < 1))
        return wb_magics_usage (call, out, "--rows is a whole number above 0 (rows of the "
                                "request log kept)");
    if (wb_args_has (args, "days")) {
        char *end;
        days = strtod (wb_args_get (args, "days"), &end);
        if (*end || !(days > 0) || !isfinite (days))
            return wb_magics_usage (call, out, "--days is a number of days above 0 (e.g. 7 "
                                    "or 0.5)");
    }
    if (reset && (rows || days))
        return wb_magics_usage (call, out, "--default sets both back: give it alone");
    if (reset || rows || days) {
        if (wb_registry_retention (store, name, reset? -1: rows, reset? -1: days, &err)) {
            wb_out_error (out, "EndpointError", "%s", err.text);
            return -1;
        }
        if (s_apply (store, name, out))
            return -1;
    }
    json_t *now = wb_registry_endpoint_get (store, name, &err);
    if (!now) {
        wb_out_error (out, "EndpointError", "%s", err.text);
        return -1;
    }
    wb_out_printf (out, "The request log of %s keeps the newest %lld rows of the last %g "
                   "days (the server deletes older ones as it writes).\n", name,
                   (long long) json_integer_value (json_object_get (now, "log_rows")),
                   json_number_value (json_object_get (now, "log_days")));
    json_decref (now);
    return 0;
}

//  Each subcommand's flags and arity are the magic table's (wb_magics_table.c)
int
wb_magic_endpoint_list (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    (void) call;
    wb_store_t *store = wb_session_open (session, out);
    return store? s_endpoint_list (store, out): -1;
}

//  The endpoint call names (position 1 of its words), or NULL after an
//  error; *store_p is the open workspace
static json_t *
s_endpoint_of (wb_session_t *session, wb_call_t *call, wb_store_t **store_p, wb_out_t *out)
{
    wb_error_t err;
    wb_store_t *store = *store_p = wb_session_open (session, out);
    json_t *endpoint = store? wb_registry_endpoint_get (store, wb_args_pos (call->args, 1), &err): NULL;
    if (store && !endpoint)
        wb_out_error (out, "EndpointError", "%s", err.text);
    return endpoint;
}

//  What a subcommand on one endpoint does, given it
typedef int (s_endpoint_fn) (wb_session_t *session, wb_call_t *call, wb_store_t *store,
                             json_t *endpoint, wb_out_t *out);

//  Run fn on the endpoint call names; -1 after reporting when there is none
static int
s_with_endpoint (wb_session_t *session, wb_call_t *call, s_endpoint_fn *fn, wb_out_t *out)
{
    wb_store_t *store;
    json_t *endpoint = s_endpoint_of (session, call, &store, out);
    int rc = endpoint? fn (session, call, store, endpoint, out): -1;
    json_decref (endpoint);
    return rc;
}

static int
s_endpoint_show (wb_session_t *session, wb_call_t *call, wb_store_t *store,
                 json_t *endpoint, wb_out_t *out)
{
    (void) store;
    (void) endpoint;
    return wb_magic_serve_show_endpoint (session, wb_args_pos (call->args, 1), out);
}

int
wb_magic_endpoint_show (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    return s_with_endpoint (session, call, s_endpoint_show, out);
}

int
wb_magic_endpoint_invoke (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    return s_with_endpoint (session, call, s_endpoint_invoke, out);
}

int
wb_magic_endpoint_logs (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    return s_with_endpoint (session, call, s_endpoint_logs, out);
}

int
wb_magic_endpoint_retention (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    return s_with_endpoint (session, call, s_endpoint_retention, out);
}

int
wb_magic_endpoint_keys (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    wb_error_t err;
    wb_args_t *args = call->args;
    long which = 0;
    if (wb_args_has (args, "key")
    && (wb_args_long (wb_args_get (args, "key"), "--key", &which, &err) || which < 1 || which > 2))
        return wb_magics_usage (call, out, "--key is 1 or 2 (without it, both)");
    wb_store_t *store;
    json_t *endpoint = s_endpoint_of (session, call, &store, out);
    if (!endpoint)
        return -1;
    const char *name = wb_args_pos (args, 1);
    int rc = 0;
    wb_keys_t made = { { "", "" } };
    bool regenerate = wb_args_has (args, "regenerate");
    if (regenerate) {
        rc = wb_registry_keys_regenerate (store, name, (int) which, &made, &err);
        if (rc)
            wb_out_error (out, "EndpointError", "%s", err.text);
        else
            rc = s_apply (store, name, out);
    }
    if (rc == 0)
        s_endpoint_keys (out, endpoint, regenerate? &made: NULL, wb_args_has (args, "json"));
    sodium_memzero (&made, sizeof (made));
    json_decref (endpoint);
    return rc;
}

int
wb_magic_endpoint_delete (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    wb_store_t *store;
    json_t *endpoint = s_endpoint_of (session, call, &store, out);
    if (!endpoint)
        return -1;
    wb_error_t err;
    const char *name = wb_args_pos (call->args, 1);
    int rc = wb_serve_stop (store, name, &err) || wb_registry_endpoint_delete (store, name, &err);
    if (rc)
        wb_out_error (out, "EndpointError", "%s", err.text);
    else
        wb_out_printf (out, "Deleted endpoint %s\n", name);
    json_decref (endpoint);
    return rc? -1: 0;
}

//  %endpoint traffic|mirror EP NAME=PERCENT ...
static int
s_endpoint_shares (wb_session_t *session, wb_call_t *call, bool traffic, wb_out_t *out)
{
    wb_store_t *store;
    json_t *endpoint = s_endpoint_of (session, call, &store, out);
    if (!endpoint)
        return -1;
    wb_error_t err;
    const char *name = wb_args_pos (call->args, 1);
    json_t *shares = s_shares (call, call->args, 2, out);
    int rc = shares? 0: -1;
    if (rc == 0) {
        rc = traffic? wb_registry_traffic (store, name, shares, &err):
                      wb_registry_mirror (store, name, shares, &err);
        if (rc)
            wb_out_error (out, "EndpointError", "%s", err.text);
    }
    json_decref (shares);
    rc = rc || s_apply (store, name, out);
    json_t *now = rc? NULL: wb_registry_endpoint_get (store, name, NULL);
    if (now)
        s_endpoint_summary (out, now);
    json_decref (now);
    json_decref (endpoint);
    return rc? -1: 0;
}

int
wb_magic_endpoint_traffic (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    return s_endpoint_shares (session, call, true, out);
}

int
wb_magic_endpoint_mirror (wb_session_t *session, wb_call_t *call, wb_out_t *out)
{
    return s_endpoint_shares (session, call, false, out);
}
