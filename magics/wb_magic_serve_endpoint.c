/*  wb_magic_serve_endpoint - %endpoint: list, show, invoke, logs, keys,
    retention, traffic, mirror, delete (part of wb_magic_serve)
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
#include "base/wb_util.h"

#define S_LOG_ROWS      20      //  requests %endpoint logs shows by default
#define S_CHART_SPAN    900     //  seconds of requests %endpoint show draws

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
    wb_magic_serve__endpoint_summary (out, endpoint);
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
                      wb_magic_serve__text (json_object_get (endpoint, "name")));
        return -1;
    }
    //  The workspace keeps only hashes of the endpoint's keys: the cell
    //  sends the owner's key of the running server (wb_serve)
    const char *name = wb_magic_serve__text (json_object_get (endpoint, "name"));
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
                      error? wb_magic_serve__text (json_object_get (error, "message")): answer);
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
    const char *name = wb_magic_serve__text (json_object_get (endpoint, "name"));
    bool open = streq (wb_magic_serve__text (json_object_get (endpoint, "auth")), "none");
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
        if (wb_magic_serve__apply (store, name, out))
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
            rc = wb_magic_serve__apply (store, name, out);
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
    json_t *shares = wb_magic_serve__shares (call, call->args, 2, out);
    int rc = shares? 0: -1;
    if (rc == 0) {
        rc = traffic? wb_registry_traffic (store, name, shares, &err):
                      wb_registry_mirror (store, name, shares, &err);
        if (rc)
            wb_out_error (out, "EndpointError", "%s", err.text);
    }
    json_decref (shares);
    rc = rc || wb_magic_serve__apply (store, name, out);
    json_t *now = rc? NULL: wb_registry_endpoint_get (store, name, NULL);
    if (now)
        wb_magic_serve__endpoint_summary (out, now);
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
