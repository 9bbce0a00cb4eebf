/*  wb_out - the output sink: where magics and lib/ code write what a user sees

    The sink core keeps what the runner of a cell needs to know afterwards
    (the last error, pages for the pager) and forwards every call to the
    ops table. Two ops tables live here: the test sink (records JSON) and the
    terminal sink (prints text).

    Every text is made valid UTF-8 here, before any sink sees it, so that
    no sink (the kernel's builds Jupyter messages with jansson, which
    refuses invalid text) ever gets bytes it cannot send: an invalid piece
    becomes U+FFFD, as Jupyter's own kernels decode output. A stream chunk
    that ends inside a character (a program wrote it in two writes) keeps
    that unfinished end back until the next chunk of the same stream, or
    until any other output, wb_out_flush or the end of the sink.
*/
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "wb_out.h"
#include "base/wb_utf8.h"
#include "base/wb_util.h"

#define S_STREAMS   2           //  stdout, stderr

struct _wb_out_t {
    const wb_out_ops_t *ops;    //  callbacks of this kind of sink
    void *ctx;                  //  their context (lent, or owned by test sink)
    bool failed;                //  an error was reported since reset
    char *ename;                //  last error's name
    char *evalue;               //  last error's value
    json_t *traceback;          //  last error's traceback lines
    json_t *pages;              //  pager bundles since reset
    char carry [S_STREAMS][4];  //  per stream, the unfinished character end
    size_t carried [S_STREAMS]; //  ... and its size in bytes (0 to 3)
    //  Test sink only
    json_t *log;                //  recorded calls
    char *script;               //  answers for input(), one per line
    char *script_next;          //  next answer in script
    //  Terminal sink only: live displays (a job, a training, a sweep)
    bool tty;                   //  stdout is a terminal: redraw in place
    char *drawn_id;             //  the display printed last, while nothing
                                //  else has been printed after it
    int drawn_lines;            //  ... and how many lines it took
    char *pending;              //  not a terminal: the latest update not
                                //  printed yet (printed before any other
                                //  output and at the end)
    json_t *shown;              //  ids of the displays this sink showed
};

static void
    s_term_settle (wb_out_t *self);

wb_out_t *
wb_out_new (const wb_out_ops_t *ops, void *ctx)
{
    assert (ops);
    wb_out_t *self = wb_calloc (1, sizeof (wb_out_t));
    self->ops = ops;
    self->ctx = ctx;
    self->pages = json_array ();
    return self;
}

void
wb_out_destroy (wb_out_t **self_p)
{
    assert (self_p);
    wb_out_t *self = *self_p;
    if (self) {
        wb_out_flush (self);
        s_term_settle (self);
        json_decref (self->shown);
        free (self->ename);
        free (self->evalue);
        json_decref (self->traceback);
        json_decref (self->pages);
        json_decref (self->log);
        free (self->script);
        free (self);
        *self_p = NULL;
    }
}

//  ---- Writing ----

static int
s_stream_index (const char *name)
{
    return name && streq (name, "stderr")? 1: 0;
}

//  Hand text[0..size) to the sink made valid. NUL bytes are kept (a stream
//  carries its size and Jupyter's kernels send "\u0000"); only invalid
//  pieces become U+FFFD.
static void
s_stream_valid (wb_out_t *self, const char *name, const char *text, size_t size)
{
    if (size == 0 || !self->ops->stream)
        return;
    if (wb_utf8_valid (text, size)) {
        self->ops->stream (self->ctx, name, text, size);
        return;
    }
    wb_buf_t *buf = wb_buf_new ();
    size_t offset = 0;
    while (offset < size) {
        const char *nul = memchr (text + offset, 0, size - offset);
        size_t piece = nul? (size_t) (nul - text - offset): size - offset;
        char *valid = wb_utf8_valid_dup (text + offset, piece);
        wb_buf_puts (buf, valid);
        free (valid);
        offset += piece;
        if (nul) {
            wb_buf_append (buf, "", 1);
            offset++;
        }
    }
    self->ops->stream (self->ctx, name, wb_buf_data (buf), wb_buf_size (buf));
    wb_buf_destroy (&buf);
}

void
wb_out_stream (wb_out_t *self, const char *name, const char *text, size_t size)
{
    assert (self);
    assert (text || size == 0);
    if (size == 0)
        return;
    int index = s_stream_index (name);
    const char *stream_name = index? "stderr": (name? name: "stdout");
    if (self->carried [index] == 0) {
        size_t whole = wb_utf8_cut (text, size);
        s_stream_valid (self, stream_name, text, whole);
        self->carried [index] = size - whole;
        memcpy (self->carry [index], text + whole, size - whole);
        return;
    }
    //  Complete the carried character with the first bytes of this chunk
    char joined [8];
    size_t have = self->carried [index];
    size_t take = size < 4? size: 4;
    memcpy (joined, self->carry [index], have);
    memcpy (joined + have, text, take);
    size_t whole = wb_utf8_cut (joined, have + take);
    self->carried [index] = 0;
    if (whole < have) {
        //  Still unfinished (the chunk was tiny): keep carrying
        assert (take == size && have + take < 4);
        memcpy (self->carry [index], joined, have + take);
        self->carried [index] = have + take;
        return;
    }
    //  The carried bytes and the start of the chunk up to a boundary
    //  within joined; then the rest of the chunk as usual
    size_t used = whole - have;
    s_stream_valid (self, stream_name, joined, whole);
    if (used < size)
        wb_out_stream (self, name, text + used, size - used);
}

void
wb_out_flush (wb_out_t *self)
{
    assert (self);
    for (int index = 0; index < S_STREAMS; index++) {
        size_t have = self->carried [index];
        self->carried [index] = 0;
        s_stream_valid (self, index? "stderr": "stdout", self->carry [index], have);
    }
}

//  A bundle whose every string value is valid, with a text/plain: a MIME
//  value a caller built with json_string from invalid text is NULL and so
//  missing; a bundle must not kill the kernel for it.
static void
s_bundle_check (json_t *bundle)
{
    if (!json_is_string (json_object_get (bundle, "text/plain"))) {
        fprintf (stderr, "wb_out: a bundle without text/plain (a bug or invalid text)\n");
        json_object_set_new (bundle, "text/plain", json_string (""));
    }
}

void
wb_out_printf (wb_out_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *text = wb_vsprintf (format, args);
    va_end (args);
    wb_out_stream (self, "stdout", text, strlen (text));
    free (text);
}

void
wb_out_display_new (wb_out_t *self, json_t *bundle, const char *display_id)
{
    assert (self);
    assert (json_is_object (bundle));
    wb_out_flush (self);
    s_bundle_check (bundle);
    if (self->ops->display) {
        json_t *metadata = json_object ();
        self->ops->display (self->ctx, bundle, metadata, display_id, false);
        json_decref (metadata);
    }
    json_decref (bundle);
}

void
wb_out_update_new (wb_out_t *self, json_t *bundle, const char *display_id)
{
    assert (self);
    assert (display_id);
    assert (json_is_object (bundle));
    wb_out_flush (self);
    s_bundle_check (bundle);
    if (self->ops->display) {
        json_t *metadata = json_object ();
        self->ops->display (self->ctx, bundle, metadata, display_id, true);
        json_decref (metadata);
    }
    json_decref (bundle);
}

void
wb_out_result_new (wb_out_t *self, json_t *bundle)
{
    assert (self);
    assert (json_is_object (bundle));
    wb_out_flush (self);
    s_bundle_check (bundle);
    if (self->ops->result) {
        json_t *metadata = json_object ();
        self->ops->result (self->ctx, bundle, metadata);
        json_decref (metadata);
    }
    json_decref (bundle);
}

void
wb_out_error (wb_out_t *self, const char *ename, const char *format, ...)
{
    assert (self);
    va_list args;
    va_start (args, format);
    char *formatted = wb_vsprintf (format, args);
    va_end (args);
    //  The value may quote anything (a file's bytes, a program's output)
    char *evalue = wb_utf8_valid_dup (formatted, strlen (formatted));
    free (formatted);
    char *valid_ename = wb_utf8_valid_dup (ename, strlen (ename));
    wb_out_flush (self);

    json_t *traceback = json_array ();
    char *cursor = evalue;
    while (cursor) {
        char *eol = strchr (cursor, '\n');
        json_array_append_new (traceback, eol
            ? json_stringn (cursor, (size_t) (eol - cursor))
            : json_string (cursor));
        cursor = eol? eol + 1: NULL;
    }
    //  The first traceback line names the error, as front ends show it
    char *head = wb_sprintf ("%s: %s", valid_ename, json_string_value (json_array_get (traceback, 0)));
    json_array_set_new (traceback, 0, json_string (head));
    free (head);

    free (self->ename);
    free (self->evalue);
    json_decref (self->traceback);
    self->failed = true;
    self->ename = valid_ename;
    self->evalue = evalue;
    self->traceback = traceback;
    if (self->ops->error)
        self->ops->error (self->ctx, valid_ename, evalue, traceback);
}

void
wb_out_clear (wb_out_t *self, bool wait)
{
    assert (self);
    wb_out_flush (self);
    if (self->ops->clear)
        self->ops->clear (self->ctx, wait);
}

void
wb_out_page_new (wb_out_t *self, json_t *bundle)
{
    assert (self);
    assert (json_is_object (bundle));
    wb_out_flush (self);
    s_bundle_check (bundle);
    json_array_append (self->pages, bundle);
    if (self->ops->page)
        self->ops->page (self->ctx, bundle);
    json_decref (bundle);
}

char *
wb_out_input (wb_out_t *self, const char *prompt, bool password)
{
    assert (self);
    wb_out_flush (self);
    if (!self->ops->input)
        return NULL;
    char *valid = wb_utf8_valid_dup (prompt, strlen (prompt));
    char *answer = self->ops->input (self->ctx, valid, password);
    free (valid);
    return answer;
}

//  ---- State ----

bool
wb_out_failed (wb_out_t *self)
{
    assert (self);
    return self->failed;
}

const char *
wb_out_ename (wb_out_t *self)
{
    assert (self);
    return self->ename;
}

const char *
wb_out_evalue (wb_out_t *self)
{
    assert (self);
    return self->evalue;
}

json_t *
wb_out_traceback (wb_out_t *self)
{
    assert (self);
    return self->traceback;
}

json_t *
wb_out_pages (wb_out_t *self)
{
    assert (self);
    return self->pages;
}

void
wb_out_reset (wb_out_t *self)
{
    assert (self);
    self->failed = false;
    free (self->ename);
    free (self->evalue);
    self->ename = self->evalue = NULL;
    json_decref (self->traceback);
    self->traceback = NULL;
    json_array_clear (self->pages);
}

//  ---- Bundles ----

json_t *
wb_bundle_new (const char *plain)
{
    json_t *bundle = json_object ();
    plain = plain? plain: "";
    json_object_set_new (bundle, "text/plain", wb_utf8_json (plain, strlen (plain)));
    return bundle;
}

void
wb_bundle_set (json_t *bundle, const char *mime, const char *value)
{
    assert (value);
    json_object_set_new (bundle, mime, wb_utf8_json (value, strlen (value)));
}

//  ---- The test sink: records every call ----

static void
s_test_record (wb_out_t *self, json_t *event)
{
    json_array_append_new (self->log, event);
}

static void
s_test_stream (void *ctx, const char *name, const char *text, size_t size)
{
    s_test_record (ctx, json_pack ("{s:s, s:s, s:s%}",
        "type", "stream", "name", name, "text", text, size));
}

static void
s_test_display (void *ctx, json_t *bundle, json_t *metadata,
                const char *display_id, bool update)
{
    (void) metadata;
    s_test_record (ctx, json_pack ("{s:s, s:O, s:s?}",
        "type", update? "update": "display", "data", bundle, "display_id", display_id));
}

static void
s_test_result (void *ctx, json_t *bundle, json_t *metadata)
{
    (void) metadata;
    s_test_record (ctx, json_pack ("{s:s, s:O}", "type", "result", "data", bundle));
}

static void
s_test_error (void *ctx, const char *ename, const char *evalue, json_t *traceback)
{
    s_test_record (ctx, json_pack ("{s:s, s:s, s:s, s:O}", "type", "error",
        "ename", ename, "evalue", evalue, "traceback", traceback));
}

static void
s_test_clear (void *ctx, bool wait)
{
    s_test_record (ctx, json_pack ("{s:s, s:b}", "type", "clear", "wait", wait));
}

static void
s_test_page (void *ctx, json_t *bundle)
{
    s_test_record (ctx, json_pack ("{s:s, s:O}", "type", "page", "data", bundle));
}

static char *
s_test_input (void *ctx, const char *prompt, bool password)
{
    wb_out_t *self = ctx;
    s_test_record (self, json_pack ("{s:s, s:s, s:b}",
        "type", "input", "prompt", prompt, "password", password));
    if (!self->script_next || !*self->script_next)
        return NULL;
    char *eol = strchr (self->script_next, '\n');
    size_t size = eol? (size_t) (eol - self->script_next): strlen (self->script_next);
    char *answer = wb_strndup (self->script_next, size);
    self->script_next += eol? size + 1: size;
    return answer;
}

static const wb_out_ops_t s_test_ops = {
    s_test_stream, s_test_display, s_test_result, s_test_error,
    s_test_clear, s_test_page, s_test_input
};

wb_out_t *
wb_out_new_test (const char *script)
{
    wb_out_t *self = wb_out_new (&s_test_ops, NULL);
    self->ctx = self;
    self->log = json_array ();
    if (script) {
        self->script = wb_strdup (script);
        self->script_next = self->script;
    }
    return self;
}

json_t *
wb_out_log (wb_out_t *self)
{
    assert (self && self->log);
    return self->log;
}

char *
wb_out_text (wb_out_t *self, const char *name)
{
    assert (self && self->log);
    wb_buf_t *buf = wb_buf_new ();
    size_t index;
    json_t *event;
    json_array_foreach (self->log, index, event) {
        if (streq (json_string_value (json_object_get (event, "type")), "stream")
        &&  streq (json_string_value (json_object_get (event, "name")), name))
            wb_buf_append (buf, json_string_value (json_object_get (event, "text")),
                           json_string_length (json_object_get (event, "text")));
    }
    return wb_buf_detach (&buf);
}

//  ---- The terminal sink: plain text ----

//  Print what a pipe or a file has not been shown yet: the latest update
//  of a live display. Nothing is drawn last after this.
static void
s_term_settle (wb_out_t *self)
{
    if (self->pending) {
        fputs (self->pending, stdout);
        fflush (stdout);
        free (self->pending);
        self->pending = NULL;
    }
    free (self->drawn_id);
    self->drawn_id = NULL;
}

static void
s_term_stream (void *ctx, const char *name, const char *text, size_t size)
{
    s_term_settle (ctx);
    FILE *file = streq (name, "stderr")? stderr: stdout;
    fwrite (text, 1, size, file);
    fflush (file);
}

//  A bundle's text/plain ending in a newline (caller owns), or NULL.
static char *
s_term_text (json_t *bundle)
{
    const char *plain = json_string_value (json_object_get (bundle, "text/plain"));
    if (!plain || !*plain)
        return NULL;
    return plain [strlen (plain) - 1] == '\n'? wb_strdup (plain): wb_sprintf ("%s\n", plain);
}

static void
s_term_print_bundle (wb_out_t *self, json_t *bundle)
{
    s_term_settle (self);
    char *text = s_term_text (bundle);
    if (text) {
        fputs (text, stdout);
        fflush (stdout);
        free (text);
    }
}

static int
s_term_lines (const char *text)
{
    int lines = 0;
    for (const char *c = text; *c; c++)
        lines += *c == '\n';
    return lines;
}

static void
s_term_display (void *ctx, json_t *bundle, json_t *metadata,
                const char *display_id, bool update)
{
    (void) metadata;
    wb_out_t *self = ctx;
    //  An update of a display this sink never showed is ignored, as front
    //  ends ignore one (`workbench log` in a job updates a run card the
    //  job's terminal never drew)
    if (update && !(display_id && self->shown && json_object_get (self->shown, display_id)))
        return;
    if (!update && display_id) {
        if (!self->shown)
            self->shown = json_object ();
        json_object_set_new (self->shown, display_id, json_true ());
    }
    char *text = s_term_text (bundle);
    if (!text)
        return;
    if (update && !self->tty) {
        //  A pipe or a file cannot be redrawn: the live display shows its
        //  first and its latest picture (before anything else is printed)
        free (self->pending);
        self->pending = text;
        return;
    }
    bool redraw = update && self->drawn_id && display_id && streq (self->drawn_id, display_id);
    if (redraw)
        //  A terminal redraws it in place: up to its first line, clear below
        printf ("\033[%dA\033[J", self->drawn_lines);
    else
        s_term_settle (self);
    fputs (text, stdout);
    fflush (stdout);
    if (display_id && !redraw) {
        free (self->drawn_id);
        self->drawn_id = wb_strdup (display_id);
    }
    self->drawn_lines = s_term_lines (text);
    free (text);
}

static void
s_term_result (void *ctx, json_t *bundle, json_t *metadata)
{
    (void) metadata;
    s_term_print_bundle (ctx, bundle);
}

static void
s_term_error (void *ctx, const char *ename, const char *evalue, json_t *traceback)
{
    (void) traceback;
    s_term_settle (ctx);
    fprintf (stderr, "%s: %s\n", ename, evalue);
}

static void
s_term_page (void *ctx, json_t *bundle)
{
    s_term_print_bundle (ctx, bundle);
}

static char *
s_term_input (void *ctx, const char *prompt, bool password)
{
    (void) password;
    s_term_settle (ctx);
    if (!isatty (STDIN_FILENO))
        return NULL;
    fputs (prompt, stderr);
    fflush (stderr);
    char line [4096];
    if (!fgets (line, sizeof (line), stdin))
        return NULL;
    line [strcspn (line, "\n")] = 0;
    return wb_strdup (line);
}

static const wb_out_ops_t s_term_ops = {
    s_term_stream, s_term_display, s_term_result, s_term_error,
    NULL, s_term_page, s_term_input
};

wb_out_t *
wb_out_new_terminal (void)
{
    wb_out_t *self = wb_out_new (&s_term_ops, NULL);
    self->ctx = self;
    self->tty = isatty (STDOUT_FILENO);
    return self;
}

//  @selftest
void
wb_out_test (bool verbose)
{
    (void) verbose;
    wb_out_t *out = wb_out_new_test ("yes\nno");
    wb_out_printf (out, "hello %d\n", 42);
    wb_out_stream (out, "stderr", "oops", 4);
    json_t *bundle = wb_bundle_new ("a table");
    wb_bundle_set (bundle, "text/html", "<table></table>");
    wb_out_display_new (out, bundle, "d1");
    wb_out_update_new (out, wb_bundle_new ("b table"), "d1");
    assert (!wb_out_failed (out));
    wb_out_error (out, "UsageError", "bad flag '%s'\nusage: %%x", "--y");
    assert (wb_out_failed (out));
    assert (streq (wb_out_ename (out), "UsageError"));
    assert (streq (wb_out_evalue (out), "bad flag '--y'\nusage: %x"));
    assert (json_array_size (wb_out_traceback (out)) == 2);
    assert (streq (json_string_value (json_array_get (wb_out_traceback (out), 0)),
                   "UsageError: bad flag '--y'"));
    char *answer = wb_out_input (out, "sure? ", false);
    assert (answer && streq (answer, "yes"));
    free (answer);
    answer = wb_out_input (out, "sure? ", false);
    assert (answer && streq (answer, "no"));
    free (answer);
    assert (wb_out_input (out, "sure? ", false) == NULL);
    wb_out_page_new (out, wb_bundle_new ("help"));
    assert (json_array_size (wb_out_pages (out)) == 1);

    char *text = wb_out_text (out, "stdout");
    assert (streq (text, "hello 42\n"));
    free (text);
    json_t *log = wb_out_log (out);
    assert (streq (json_string_value (json_object_get (json_array_get (log, 2), "type")), "display"));
    assert (streq (json_string_value (json_object_get (json_array_get (log, 3), "type")), "update"));
    wb_out_reset (out);
    assert (!wb_out_failed (out));
    assert (json_array_size (wb_out_pages (out)) == 0);
    wb_out_destroy (&out);
    assert (out == NULL);
    wb_out_destroy (&out);

    //  Invalid bytes reach no sink: each piece becomes U+FFFD
#   define FFFD "\xef\xbf\xbd"
    out = wb_out_new_test (NULL);
    wb_out_stream (out, "stdout", "a\xff" "b", 3);
    wb_out_stream (out, "stdout", "caf\xe9\n", 5);
    wb_out_stream (out, "stdout", "x\0y", 3);           //  NUL is kept
    text = wb_out_text (out, "stdout");
    assert (memcmp (text, "a" FFFD "b" "caf" FFFD "\n" "x\0y", 15) == 0);
    free (text);
    //  A character split across chunks comes out whole, per stream
    wb_out_reset (out);
    json_array_clear (wb_out_log (out));
    wb_out_stream (out, "stdout", "\xc3", 1);
    wb_out_stream (out, "stderr", "\xe2\x82", 2);
    assert (json_array_size (wb_out_log (out)) == 0);   //  all kept back
    wb_out_stream (out, "stdout", "\xa9!", 2);
    wb_out_stream (out, "stderr", "\xac", 1);
    wb_out_stream (out, "stdout", "\xf0", 1);           //  "𝄞" byte by byte
    wb_out_stream (out, "stdout", "\x9d", 1);
    wb_out_stream (out, "stdout", "\x84", 1);
    wb_out_stream (out, "stdout", "\x9e" "ok\xe2", 4);
    wb_out_flush (out);                                 //  "\xe2" unfinished
    text = wb_out_text (out, "stdout");
    assert (streq (text, "\xc3\xa9!\xf0\x9d\x84\x9eok" FFFD));
    free (text);
    text = wb_out_text (out, "stderr");
    assert (streq (text, "\xe2\x82\xac"));
    free (text);
    //  A carried end that the next chunk cannot continue
    json_array_clear (wb_out_log (out));
    wb_out_stream (out, "stdout", "\xc3", 1);
    wb_out_stream (out, "stdout", "A", 1);
    text = wb_out_text (out, "stdout");
    assert (streq (text, FFFD "A"));
    free (text);
    //  Any other output sends what was kept back first
    json_array_clear (wb_out_log (out));
    wb_out_stream (out, "stdout", "\xc3", 1);
    wb_out_display_new (out, wb_bundle_new ("caf\xe9"), NULL);
    log = wb_out_log (out);
    assert (json_array_size (log) == 2);
    assert (streq (json_string_value (json_object_get (json_array_get (log, 0), "text")), FFFD));
    assert (streq (json_string_value (json_object_get (json_object_get (
        json_array_get (log, 1), "data"), "text/plain")), "caf" FFFD));
    //  Error values and names
    wb_out_error (out, "Bad\xff", "file '%s'\nline \xc3", "caf\xe9");
    assert (streq (wb_out_ename (out), "Bad" FFFD));
    assert (streq (wb_out_evalue (out), "file 'caf" FFFD "'\nline " FFFD));
    assert (streq (json_string_value (json_array_get (wb_out_traceback (out), 0)),
                   "Bad" FFFD ": file 'caf" FFFD "'"));
    //  A bundle that lost its text/plain is repaired, not asserted
    json_t *broken = json_object ();
    json_object_set_new (broken, "text/plain", json_string ("\xff"));   //  NULL: not set
    wb_out_display_new (out, broken, NULL);
    wb_out_destroy (&out);
#   undef FFFD
}
//  @end
