/*  wb_magic_cell - the built-in magics: the cell language itself (%lsmagic,
    %help, %%bash, %%writefile, %%html, %%markdown, %%svg, %time, %env,
    %clear) and the shell lines that are not magics
*/
#ifndef WB_MAGIC_CELL_H
#define WB_MAGIC_CELL_H

#include "wb_magics.h"

//  Run script in the session's shell, streaming its output to out; a
//  non-zero exit or an interrupt is reported as an error. 0 or -1.
int
    wb_magic_cell_shell (wb_session_t *session, const char *script, wb_out_t *out);

int wb_magic_lsmagic (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_help (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_bash (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_writefile (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_html (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_markdown (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_svg (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_time (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_env (wb_session_t *session, wb_call_t *call, wb_out_t *out);
int wb_magic_clear (wb_session_t *session, wb_call_t *call, wb_out_t *out);

#endif
