/*  wb_magic_serve_int - private to wb_magic_serve*.c: the helpers the
    registry, endpoint and batch magics share

    wb_magic_serve.c           %model, %deploy, and these helpers
    wb_magic_serve_endpoint.c  %endpoint
    wb_magic_serve_batch.c     %batch
*/
#ifndef WB_MAGIC_SERVE_INT_H
#define WB_MAGIC_SERVE_INT_H

#include "wb_magic_serve.h"
#include "store/wb_store.h"

//  A string member's text, "" when it is not a string
const char *
    wb_magic_serve__text (json_t *value);
//  {name: percent} from NAME=PERCENT words of args from first; NULL after
//  reporting
json_t *
    wb_magic_serve__shares (wb_call_t *call, wb_args_t *args, size_t first, wb_out_t *out);
//  After a change in the workspace: a running server loads it. 0 or -1
//  after reporting.
int
    wb_magic_serve__apply (wb_store_t *store, const char *endpoint, wb_out_t *out);
//  An endpoint's summary and deployments; its record learns whether its
//  server is alive
void
    wb_magic_serve__endpoint_summary (wb_out_t *out, json_t *endpoint);

#endif
