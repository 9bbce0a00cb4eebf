/*  wb_conn - the connection file Jupyter hands the kernel: transport, ip,
    the five ports, the key and its signature scheme

    For tcp, an endpoint is tcp://IP:PORT; for ipc, jupyter_client names the
    socket file "IP-PORT" (ip is a path prefix then), so ipc://IP-PORT.
*/
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <jansson.h>
#include "wb_conn.h"
#include "base/wb_util.h"

static const char *s_channels [] = { "shell", "iopub", "stdin", "control", "hb" };
#define S_CHANNELS 5

struct _wb_conn_t {
    char *endpoints [S_CHANNELS];   //  bind endpoint per channel, s_channels order
    char *key;                      //  signing key, "" for none
    char *scheme;                   //  "hmac-sha256" or ""
};

wb_conn_t *
wb_conn_parse (const char *text, const char *origin, wb_error_t *err)
{
    json_error_t json_err;
    json_t *root = json_loads (text, 0, &json_err);
    if (!json_is_object (root)) {
        wb_error_set (err, "connection file '%s' is not a JSON object (%s, line %d)",
                      origin, root? "wrong type": json_err.text, json_err.line);
        json_decref (root);
        return NULL;
    }
    wb_conn_t *self = wb_calloc (1, sizeof (wb_conn_t));
    const char *transport = json_string_value (json_object_get (root, "transport"));
    const char *ip = json_string_value (json_object_get (root, "ip"));
    const char *key = json_string_value (json_object_get (root, "key"));
    const char *scheme = json_string_value (json_object_get (root, "signature_scheme"));
    if (!transport)
        transport = "tcp";
    if (!streq (transport, "tcp") && !streq (transport, "ipc")) {
        wb_error_set (err, "connection file '%s': transport '%s' is not tcp or ipc",
                      origin, transport);
        goto fail;
    }
    if (!ip || !*ip)
        ip = streq (transport, "tcp")? "127.0.0.1": "kernel-ipc";
    for (int i = 0; i < S_CHANNELS; i++) {
        char field [32];
        snprintf (field, sizeof (field), "%s_port", s_channels [i]);
        json_t *port = json_object_get (root, field);
        json_int_t number = json_is_integer (port)? json_integer_value (port): -1;
        if (number < 0 || number > 65535) {
            wb_error_set (err, "connection file '%s': %s is missing or not a port number",
                          origin, field);
            goto fail;
        }
        if (streq (transport, "tcp"))
            self->endpoints [i] = number
                ? wb_sprintf ("tcp://%s:%d", ip, (int) number)
                : wb_sprintf ("tcp://%s:*", ip);
        else
            self->endpoints [i] = wb_sprintf ("ipc://%s-%d", ip, (int) number);
    }
    self->key = wb_strdup (key? key: "");
    self->scheme = wb_strdup (scheme? scheme: "hmac-sha256");
    json_decref (root);
    return self;

fail:
    json_decref (root);
    wb_conn_destroy (&self);
    return NULL;
}

wb_conn_t *
wb_conn_load (const char *path, wb_error_t *err)
{
    char *text = wb_file_read (path, NULL);
    if (!text) {
        wb_error_set (err, "cannot read connection file '%s': %s", path, strerror (errno));
        return NULL;
    }
    wb_conn_t *self = wb_conn_parse (text, path, err);
    free (text);
    return self;
}

void
wb_conn_destroy (wb_conn_t **self_p)
{
    assert (self_p);
    wb_conn_t *self = *self_p;
    if (self) {
        for (int i = 0; i < S_CHANNELS; i++)
            free (self->endpoints [i]);
        free (self->key);
        free (self->scheme);
        free (self);
        *self_p = NULL;
    }
}

const char *
wb_conn_endpoint (wb_conn_t *self, const char *channel)
{
    assert (self);
    for (int i = 0; i < S_CHANNELS; i++)
        if (streq (s_channels [i], channel))
            return self->endpoints [i];
    assert (false);
    return NULL;
}

const char *
wb_conn_key (wb_conn_t *self)
{
    return self->key;
}

const char *
wb_conn_scheme (wb_conn_t *self)
{
    return self->scheme;
}

//  @selftest
void
wb_conn_test (bool verbose)
{
    (void) verbose;
    wb_error_t err;
    wb_conn_t *conn = wb_conn_parse (
        "{\"shell_port\": 5001, \"iopub_port\": 5002, \"stdin_port\": 5003,"
        " \"control_port\": 5004, \"hb_port\": 5005, \"ip\": \"127.0.0.1\","
        " \"key\": \"abc\", \"transport\": \"tcp\", \"signature_scheme\": \"hmac-sha256\","
        " \"kernel_name\": \"workbench\"}", "test", &err);
    assert (conn);
    assert (streq (wb_conn_endpoint (conn, "shell"), "tcp://127.0.0.1:5001"));
    assert (streq (wb_conn_endpoint (conn, "hb"), "tcp://127.0.0.1:5005"));
    assert (streq (wb_conn_key (conn), "abc"));
    assert (streq (wb_conn_scheme (conn), "hmac-sha256"));
    wb_conn_destroy (&conn);
    assert (conn == NULL);

    conn = wb_conn_parse (
        "{\"shell_port\": 1, \"iopub_port\": 2, \"stdin_port\": 3,"
        " \"control_port\": 4, \"hb_port\": 5, \"ip\": \"/tmp/k\","
        " \"key\": \"\", \"transport\": \"ipc\"}", "test", &err);
    assert (conn);
    assert (streq (wb_conn_endpoint (conn, "control"), "ipc:///tmp/k-4"));
    assert (streq (wb_conn_key (conn), ""));
    wb_conn_destroy (&conn);

    assert (!wb_conn_parse ("[1]", "f.json", &err));
    assert (strstr (err.text, "f.json"));
    assert (!wb_conn_parse ("{\"shell_port\": 1}", "f.json", &err));
    assert (strstr (err.text, "iopub_port is missing"));
    assert (!wb_conn_parse ("{\"shell_port\": 1, \"iopub_port\": 2, \"stdin_port\": 3,"
        " \"control_port\": 4, \"hb_port\": 5, \"transport\": \"udp\"}", "f.json", &err));
    assert (strstr (err.text, "udp"));
    assert (!wb_conn_load ("/nonexistent/conn.json", &err));
    assert (strstr (err.text, "cannot read connection file"));
}
//  @end
