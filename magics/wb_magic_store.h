/*  wb_magic_store - the workspace magics: experiments, runs, params, metrics,
    tags, artifacts, and the tables and charts that show them
*/
#ifndef WB_MAGIC_STORE_H
#define WB_MAGIC_STORE_H

#include "wb_magics.h"

int wb_magic_workspace (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_experiment (wb_session_t *session, wb_call_t *call, wb_out_t *out);
//  %run start, %run end
int wb_magic_run_start (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_run_end (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_log (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_param (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_tag (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_runs (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_show (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_compare (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_artifacts (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_delete (wb_session_t *session, wb_call_t *call, wb_out_t *out);

#endif
