/*  wb_jobs - the job magics: %%job submits a cell as a tracked run on a
    compute target and draws it live; %job lists, shows, follows, waits
    for and cancels jobs; %compute shows and sets compute targets
*/
#ifndef WB_JOBS_H
#define WB_JOBS_H

#include "wb_magics.h"

int wb_magic_job (wb_magics_t *self, wb_call_t *call, wb_out_t *out);
int wb_magic_compute (wb_magics_t *self, wb_call_t *call, wb_out_t *out);

//  Parse a %%job call without submitting it: a new request {"kind": "job",
//  "script" (the body, ${{params.NAME}} not yet filled in), "params",
//  "env" (the session's, then --env), "compute", "code" (a folder or
//  null), "timeout", "experiment", "name", "no_wait"}; NULL after reporting.
json_t *
    wb_jobs_request (wb_magics_t *self, wb_call_t *call, wb_out_t *out);

//  Draw job id live (one display updated in place) until it ends; an
//  interrupt cancels it when cancel_on_interrupt, else stops watching.
//  Returns 0 when it completed, -1 after reporting how it did not.
int
    wb_jobs_watch (wb_magics_t *self, const char *id, bool cancel_on_interrupt,
                   wb_out_t *out);

//  A confusion matrix ({"labels", "matrix": rows true, columns predicted})
//  as a heatmap bundle, or NULL when it is not one.
json_t *
    wb_jobs_confusion_bundle (json_t *confusion, const char *title);

#endif
