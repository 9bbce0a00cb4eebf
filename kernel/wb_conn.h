/*  wb_conn - the connection file Jupyter hands the kernel: transport, ip,
    the five ports, the key and its signature scheme
*/
#ifndef WB_CONN_H
#define WB_CONN_H

#include <stdbool.h>
#include "base/wb_error.h"

typedef struct _wb_conn_t wb_conn_t;

//  Read and check the connection file at path; NULL with err filled when it
//  cannot be read or lacks a field ("connection file 'F': shell_port is
//  missing or not a port number").
wb_conn_t *
    wb_conn_load (const char *path, wb_error_t *err);
//  The same from JSON text; origin names it in messages.
wb_conn_t *
    wb_conn_parse (const char *text, const char *origin, wb_error_t *err);
void
    wb_conn_destroy (wb_conn_t **self_p);

//  The endpoint to bind for a channel: "shell", "iopub", "stdin",
//  "control" or "hb"; e.g. "tcp://127.0.0.1:5555" or "ipc://kernel-ipc-1".
const char *
    wb_conn_endpoint (wb_conn_t *self, const char *channel);
const char *
    wb_conn_key (wb_conn_t *self);
const char *
    wb_conn_scheme (wb_conn_t *self);

void
    wb_conn_test (bool verbose);

#endif
