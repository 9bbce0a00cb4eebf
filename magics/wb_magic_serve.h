/*  wb_magic_serve - the model registry and endpoints from a cell: %model
    (register, list, show, alias, archive), %deploy (start or update an
    endpoint's deployment) and %endpoint (list, show, invoke, logs, keys,
    traffic, mirror, delete)
*/
#ifndef WB_MAGIC_SERVE_H
#define WB_MAGIC_SERVE_H

#include "wb_magics.h"

//  %model register, list, show, alias, archive, export
int wb_magic_model_register (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_model_list (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_model_show (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_model_alias (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_model_archive (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_model_export (wb_session_t *session, wb_call_t *call, wb_out_t *out);
//  %batch (wb_magic_serve_batch.c)
int wb_magic_batch (wb_session_t *session, wb_call_t *call, wb_out_t *out);
//  %deploy
int wb_magic_deploy (wb_session_t *session, wb_call_t *call, wb_out_t *out);
//  %endpoint list, show, invoke, logs, keys, retention, traffic, mirror, delete
int wb_magic_endpoint_list (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_endpoint_show (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_endpoint_invoke (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_endpoint_logs (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_endpoint_keys (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_endpoint_retention (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_endpoint_traffic (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_endpoint_mirror (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_endpoint_delete (wb_session_t *session, wb_call_t *call, wb_out_t *out);

//  Is name an endpoint of the open workspace? (for %show)
bool
    wb_magic_serve_is_endpoint (wb_session_t *session, const char *name);
//  Draw an endpoint: its state, deployments, request rate and latency.
//  0, or -1 after reporting.
int
    wb_magic_serve_show_endpoint (wb_session_t *session, const char *name, wb_out_t *out);

#endif
