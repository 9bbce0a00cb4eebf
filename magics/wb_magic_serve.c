/*  wb_magic_serve - the model registry and endpoints from a cell: %model,
    %deploy (this file), %endpoint (wb_magic_serve_endpoint.c), %batch
    (wb_magic_serve_batch.c), sharing wb_magic_serve_int.h

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
#include "wb_magic_serve_int.h"
#include "serve/wb_registry.h"
#include "serve/wb_serve.h"
#include "render/wb_view_serve.h"
#include "cell/wb_args.h"
#include "base/wb_fs.h"
#include "base/wb_proc.h"
#include "base/wb_util.h"


//  ---- Helpers ----

const char *
wb_magic_serve__text (json_t *value)
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
json_t *
wb_magic_serve__shares (wb_call_t *call, wb_args_t *args, size_t first, wb_out_t *out)
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
int
wb_magic_serve__apply (wb_store_t *store, const char *endpoint, wb_out_t *out)
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
    //  The default: python3 on the session's PATH, as the jobs find it (a
    //  venv activated in a cell counts), recorded as a path
    json_t *environment = python? NULL: wb_session_environment (session);
    //  (none found: the registry says so if the model needs one)
    if (!python)
        python_path = wb_proc_which_on ("python3",
            json_string_value (json_object_get (environment, "PATH")));
    json_decref (environment);
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
    const char *name = wb_magic_serve__text (json_object_get (model, "name"));
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
void
wb_magic_serve__endpoint_summary (wb_out_t *out, json_t *endpoint)
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
    const char *model_name = wb_magic_serve__text (json_object_get (model, "name"));
    int64_t version = json_integer_value (json_object_get (model, "version"));
    const char *flavor = wb_magic_serve__text (json_object_get (model, "flavor"));
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
    bool created = false;
    if (rc == 0 && !endpoint) {
        const char *auth = wb_args_has (args, "auth")? wb_args_get (args, "auth"): "key";
        if (wb_registry_endpoint_create (store, name, auth, streq (auth, "key")? &made: NULL,
                                         &err)) {
            wb_out_error (out, "EndpointError", "%s", err.text);
            rc = -1;
        }
        created = rc == 0;
        endpoint = rc? NULL: wb_registry_endpoint_get (store, name, &err);
    }
    else
    if (rc == 0 && wb_args_has (args, "auth")
    &&  !streq (wb_args_get (args, "auth"), wb_magic_serve__text (json_object_get (endpoint, "auth")))) {
        wb_out_error (out, "EndpointError", "endpoint %s has auth %s already; --auth is chosen "
                      "when an endpoint is created", name, wb_magic_serve__text (json_object_get (endpoint, "auth")));
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
            deployment = wb_magic_serve__text (json_object_get (json_array_get (deployments, 0), "name"));
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
            //  An endpoint made by this call is forgotten again; one that was
            //  there gets back the deployments it had
            wb_error_t undo = { .text = "" };
            bool restored = created
                ? wb_serve_stop (store, name, &undo) == 0
                  && wb_registry_endpoint_delete (store, name, &undo) == 0
                : wb_registry_deployments_restore (store, name, before, &undo) == 0
                  && (alive? wb_serve_reload (store, name, &undo) == 0
                           : wb_serve_stop (store, name, &undo) == 0);
            wb_out_error (out, "EndpointError", "%s%s%s", why && strlen (why) > strlen (err.text)? why: err.text,
                          !restored? "\n\nPutting the endpoint back as it was failed: ":
                          alive? "\n\nThe endpoint goes on serving what it served before.":
                          created? "\n\nNothing was kept: no endpoint was made.":
                                   "\n\nThe endpoint's deployments are as they were.",
                          !restored? undo.text: "");
            if (created)
                sodium_memzero (&made, sizeof (made));
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
            wb_magic_serve__endpoint_summary (out, now);
        json_decref (now);
    }
    sodium_memzero (&made, sizeof (made));
    free (deployment_name);
    json_decref (endpoint);
    json_decref (model);
    return rc;
}

