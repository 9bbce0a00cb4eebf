/*  wb_magic_jobs - the job magics: %%job submits a cell as a tracked run on a
    compute target and draws it live; %job lists, shows, follows, waits
    for and cancels jobs; %compute shows and sets compute targets
*/
#ifndef WB_MAGIC_JOBS_H
#define WB_MAGIC_JOBS_H

#include "wb_magics.h"

//  %%job, and %job list, show, logs, wait, cancel
int wb_magic_job (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_job_list (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_job_show (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_job_logs (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_job_wait (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_job_cancel (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_compute (wb_session_t *session, wb_call_t *call, wb_out_t *out);

//  Parse a %%job call without submitting it: a new request {"kind": "job",
//  "script" (the body, ${{params.NAME}} not yet filled in), "params",
//  "env" (the session's, then --env), "compute", "code" (a folder or
//  null), "timeout", "experiment", "name", "no_wait"}; NULL after reporting.
json_t *
    wb_magic_jobs_request (wb_session_t *session, wb_call_t *call, wb_out_t *out);

//  A live display of something that ends (a job, a sweep), id of store:
//  how to fetch its state again, draw it (note: "canceling", "still
//  running" or NULL), tell whether it is over, and cancel it (0 when asked).
typedef struct {
    wb_store_t *store;
    const char *id;
    json_t *(*fetch) (wb_store_t *store, const char *id, wb_error_t *err);
    json_t *(*draw) (wb_store_t *store, const char *id, json_t *state, const char *note);
    bool (*over) (json_t *state);
    int (*cancel) (wb_store_t *store, const char *id, wb_error_t *err);
    double refresh;             //  seconds between updates
} wb_live_t;

//  How a live display ended.
typedef enum {
    WB_LIVE_ENDED,              //  it is over
    WB_LIVE_CANCELED,           //  an interrupt canceled it (it may not have ended yet)
    WB_LIVE_LEFT                //  an interrupt stopped the watching; it carries on
} wb_live_end_t;

//  Show state (taken) as display_id and update it in place until it is
//  over. An interrupt cancels it when cancel_on_interrupt (then waits at
//  most 15 s for it to end), else stops watching. Returns the last state
//  (caller owns).
json_t *
    wb_magic_jobs_live (const wb_live_t *live, json_t *state, const char *display_id,
                  bool cancel_on_interrupt, wb_live_end_t *end, wb_out_t *out);

//  Draw job id live (one display updated in place) until it ends; an
//  interrupt cancels it when cancel_on_interrupt, else stops watching.
//  Returns 0 when it completed, -1 after reporting how it did not.
int
    wb_magic_jobs_watch (wb_session_t *session, const char *id, bool cancel_on_interrupt,
                   wb_out_t *out);

#endif
