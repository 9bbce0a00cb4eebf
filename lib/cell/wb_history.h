/*  wb_history - the input history of the kernel, persisted in SQLite

    Each kernel start is a new session, numbered 1, 2, 3 ... in the history
    file; each executed cell is a line (1, 2, 3 ... within its session).
    Entries come back as JSON arrays [session, line, input] (or
    [session, line, [input, output]] when output was asked for), which is
    what the Jupyter history reply carries.
*/
#ifndef WB_HISTORY_H
#define WB_HISTORY_H

#include <stdbool.h>
#include <jansson.h>
#include "base/wb_error.h"

typedef struct _wb_history_t wb_history_t;

//  Open (create) the history file at path and start a new session.
//  NULL with err filled when the file cannot be opened.
wb_history_t *
    wb_history_new (const char *path, wb_error_t *err);
void
    wb_history_destroy (wb_history_t **self_p);
//  This kernel's session number.
int
    wb_history_session (wb_history_t *self);
//  Store line number line of this session; output may be NULL.
int
    wb_history_add (wb_history_t *self, int line, const char *input,
                    const char *output);
//  The last n entries over all sessions, oldest first.
json_t *
    wb_history_tail (wb_history_t *self, int n, bool output);
//  Lines start <= line < stop of session (0 = this session, negative =
//  counted back from this one; stop 0 = to the end).
json_t *
    wb_history_range (wb_history_t *self, int session, int start, int stop,
                      bool output);
//  Entries whose input matches the glob pattern (* and ?), newest n (0 =
//  all), oldest first; unique drops repeated inputs keeping the newest.
json_t *
    wb_history_search (wb_history_t *self, const char *pattern, int n,
                       bool unique, bool output);

void
    wb_history_test (bool verbose);

#endif
