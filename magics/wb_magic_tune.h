/*  wb_magic_tune - the sweep magics: %%sweep tunes a %%train or %%job cell over
    a search space, drawn live (leaderboard, best so far, parallel
    coordinates); %sweep list|show|cancel|resume
*/
#ifndef WB_MAGIC_TUNE_H
#define WB_MAGIC_TUNE_H

#include "wb_magics.h"

int wb_magic_sweep (wb_session_t *session, wb_call_t *call, wb_out_t *out);
//  %sweep list, show, cancel, resume
int wb_magic_sweep_list (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_sweep_show (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_sweep_cancel (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_sweep_resume (wb_session_t *session, wb_call_t *call, wb_out_t *out);

#endif
