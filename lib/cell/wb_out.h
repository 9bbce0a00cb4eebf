/*  wb_out - the output sink: where magics and lib/ code write what a user sees

    A sink is a table of callbacks plus a context. The kernel's sink turns
    each call into a Jupyter message; the terminal sink prints text; the test
    sink records every call as JSON so a self-test can assert on it. Code that
    writes output never knows which one it has.

    MIME bundles are jansson objects ({"text/plain": "...", "text/html": ...});
    every bundle must carry "text/plain".
*/
#ifndef WB_OUT_H
#define WB_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

typedef struct _wb_out_t wb_out_t;

//  The callbacks a sink implements. Bundles and metadata are lent for the
//  duration of the call. Any callback may be NULL (the call is then dropped).
typedef struct {
    //  Text on "stdout" or "stderr".
    void (*stream) (void *ctx, const char *name, const char *text, size_t size);
    //  A rich display; display_id may be NULL. update is true to replace the
    //  display with that id in place.
    void (*display) (void *ctx, json_t *bundle, json_t *metadata,
                     const char *display_id, bool update);
    //  The cell's result (execute_result).
    void (*result) (void *ctx, json_t *bundle, json_t *metadata);
    //  An error: its name, value and traceback lines (a JSON array of strings).
    void (*error) (void *ctx, const char *ename, const char *evalue,
                   json_t *traceback);
    //  Clear the cell's output (wait: at the next output).
    void (*clear) (void *ctx, bool wait);
    //  Text for the pager (help).
    void (*page) (void *ctx, json_t *bundle);
    //  Ask the user for a line; returns a fresh string or NULL when no input
    //  can be had (stdin not allowed, interrupted).
    char *(*input) (void *ctx, const char *prompt, bool password);
} wb_out_ops_t;

//  Create a sink over ops and ctx (ctx is lent, must outlive the sink).
wb_out_t *
    wb_out_new (const wb_out_ops_t *ops, void *ctx);

//  Create a sink that records every call in a JSON array (see wb_out_log).
//  If script is not NULL, input() answers with its lines in turn.
wb_out_t *
    wb_out_new_test (const char *script);

//  Create a sink that prints to the terminal: text/plain of bundles to
//  stdout, errors to stderr, input from stdin. A live display (updated in
//  place) is redrawn in place on a terminal; on a pipe or a file it shows
//  its first picture and its latest one, printed before any other output
//  and at the end (the final state of a job, a training, a sweep).
wb_out_t *
    wb_out_new_terminal (void);

//  Destroy a sink; nulls *self_p.
void
    wb_out_destroy (wb_out_t **self_p);

//  ---- Writing ----
//
//  Every text given here may hold any bytes: the sink gets it made valid
//  UTF-8 (invalid pieces become U+FFFD).

//  Text on "stdout" or "stderr", any bytes. A chunk that ends inside a
//  character keeps that end back until the next chunk of the same stream
//  completes it (or wb_out_flush, or any other output).
void
    wb_out_stream (wb_out_t *self, const char *name, const char *text, size_t size);
//  Send what the streams keep back (an unfinished character, as U+FFFD):
//  at the end of a cell.
void
    wb_out_flush (wb_out_t *self);
//  printf to stdout.
void
    wb_out_printf (wb_out_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));
//  Display a bundle; takes ownership of bundle (steals the reference).
void
    wb_out_display_new (wb_out_t *self, json_t *bundle, const char *display_id);
//  Replace the display with display_id; steals bundle.
void
    wb_out_update_new (wb_out_t *self, json_t *bundle, const char *display_id);
//  The cell's result; steals bundle.
void
    wb_out_result_new (wb_out_t *self, json_t *bundle);
//  Report an error: ename (e.g. "UsageError"), and a printf-style value.
//  The traceback is the value, split on newlines.
void
    wb_out_error (wb_out_t *self, const char *ename, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));
void
    wb_out_clear (wb_out_t *self, bool wait);
//  Page a bundle (help text); steals bundle.
void
    wb_out_page_new (wb_out_t *self, json_t *bundle);
//  Ask for a line of input; caller owns the return value, NULL if none.
char *
    wb_out_input (wb_out_t *self, const char *prompt, bool password);

//  ---- State, for the caller that runs a cell ----

//  True when an error was reported since the last reset.
bool
    wb_out_failed (wb_out_t *self);
//  The last error's name and value (lent), or NULL.
const char *
    wb_out_ename (wb_out_t *self);
const char *
    wb_out_evalue (wb_out_t *self);
//  The last error's traceback (lent JSON array), or NULL.
json_t *
    wb_out_traceback (wb_out_t *self);
//  Pages collected since the last reset (lent JSON array of bundles).
json_t *
    wb_out_pages (wb_out_t *self);
//  Forget the last error and pages (a new cell starts).
void
    wb_out_reset (wb_out_t *self);

//  Test sink only: the recorded calls, a JSON array of objects such as
//  {"type": "stream", "name": "stdout", "text": "..."} (lent).
json_t *
    wb_out_log (wb_out_t *self);
//  Test sink only: everything streamed to "stdout" so far, concatenated;
//  caller owns the return value.
char *
    wb_out_text (wb_out_t *self, const char *name);

//  ---- Bundles ----

//  A new bundle {"text/plain": text}, text made valid UTF-8.
json_t *
    wb_bundle_new (const char *plain);
//  Add a MIME type with a string value (copied, made valid UTF-8).
void
    wb_bundle_set (json_t *bundle, const char *mime, const char *value);

//  Self-test.
void
    wb_out_test (bool verbose);

#endif
