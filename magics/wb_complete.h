/*  wb_complete - what a front end asks about a cell being typed: completion
    (magic names, flags, subcommands, run ids and names, experiments, metric
    keys, paths), inspection (a magic's usage and help) and whether the
    cell is complete

    Every answer comes from the magic table and the session's published
    copy (wb_session_seen), so it may be asked from another thread while a
    cell runs. Completion never opens a workspace that does not exist and
    never writes to one.
*/
#ifndef WB_COMPLETE_H
#define WB_COMPLETE_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "wb_session.h"

typedef struct _wb_complete_t wb_complete_t;

//  A completer for session (lent; it must outlive the completer).
wb_complete_t *
    wb_complete_new (wb_session_t *session);
void
    wb_complete_destroy (wb_complete_t **self_p);

//  Completion at byte offset cursor: fills *start and *end (byte offsets of
//  the text the matches replace) and returns a new JSON array of strings.
//  Only one thread at a time may complete with one completer.
json_t *
    wb_complete_matches (wb_complete_t *self, const char *code, size_t cursor,
                         size_t *start, size_t *end);
//  The usage and help of the magic on the line under the cursor, or NULL;
//  caller owns the return value.
char *
    wb_complete_inspect (const char *code, size_t cursor);
//  "complete", "incomplete" or "invalid" for a cell typed so far (bash -n
//  judges the shell lines).
const char *
    wb_complete_status (const char *code);

void
    wb_complete_test (bool verbose);

#endif
