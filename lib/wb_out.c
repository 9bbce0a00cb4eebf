/*  wb_out - the output sink: where magics and lib/ code write what a user sees

    The sink core keeps what the runner of a cell needs to know afterwards
    (the last error, pages for the pager) and forwards every call to the
    ops table. Two ops tables live here: the test sink (records JSON) and the
    terminal sink (prints text).
*/
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "wb_out.h"
#include "wb_util.h"

struct _wb_out_t {
    const wb_out_ops_t *ops;    //  callbacks of this kind of sink
    void *ctx;                  //  their context (lent, or owned by test sink)
    bool failed;                //  an error was reported since reset
    char *ename;                //  last error's name
    char *evalue;               //  last error's value
    json_t *traceback;          //  last error's traceback lines
    json_t *pages;              //  pager bundles since reset
    //  Test sink only
    json_t *log;                //  recorded calls
    char *script;               //  answers for input(), one per line
    char *script_next;          //  next answer in script
};

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

void
wb_out_stream (wb_out_t *self, const char *name, const char *text, size_t size)
{
    assert (self);
    if (size && self->ops->stream)
        self->ops->stream (self->ctx, name, text, size);
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
    assert (json_is_string (json_object_get (bundle, "text/plain")));
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
    assert (json_is_string (json_object_get (bundle, "text/plain")));
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
    assert (json_is_string (json_object_get (bundle, "text/plain")));
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
    char *evalue = wb_vsprintf (format, args);
    va_end (args);

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
    char *head = wb_sprintf ("%s: %s", ename, json_string_value (json_array_get (traceback, 0)));
    json_array_set_new (traceback, 0, json_string (head));
    free (head);

    free (self->ename);
    free (self->evalue);
    json_decref (self->traceback);
    self->failed = true;
    self->ename = wb_strdup (ename);
    self->evalue = evalue;
    self->traceback = traceback;
    if (self->ops->error)
        self->ops->error (self->ctx, ename, evalue, traceback);
}

void
wb_out_clear (wb_out_t *self, bool wait)
{
    assert (self);
    if (self->ops->clear)
        self->ops->clear (self->ctx, wait);
}

void
wb_out_page_new (wb_out_t *self, json_t *bundle)
{
    assert (self);
    json_array_append (self->pages, bundle);
    if (self->ops->page)
        self->ops->page (self->ctx, bundle);
    json_decref (bundle);
}

char *
wb_out_input (wb_out_t *self, const char *prompt, bool password)
{
    assert (self);
    if (!self->ops->input)
        return NULL;
    return self->ops->input (self->ctx, prompt, password);
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
    json_object_set_new (bundle, "text/plain", json_string (plain? plain: ""));
    return bundle;
}

void
wb_bundle_set (json_t *bundle, const char *mime, const char *value)
{
    json_object_set_new (bundle, mime, json_string (value));
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

static void
s_term_stream (void *ctx, const char *name, const char *text, size_t size)
{
    (void) ctx;
    FILE *file = streq (name, "stderr")? stderr: stdout;
    fwrite (text, 1, size, file);
    fflush (file);
}

static void
s_term_print_bundle (json_t *bundle)
{
    const char *plain = json_string_value (json_object_get (bundle, "text/plain"));
    if (plain && *plain) {
        fputs (plain, stdout);
        if (plain [strlen (plain) - 1] != '\n')
            fputc ('\n', stdout);
        fflush (stdout);
    }
}

static void
s_term_display (void *ctx, json_t *bundle, json_t *metadata,
                const char *display_id, bool update)
{
    (void) ctx; (void) metadata; (void) display_id;
    //  A terminal cannot redraw in place cheaply; updates print anew only
    //  when they are the last word (callers send a final display).
    if (!update)
        s_term_print_bundle (bundle);
}

static void
s_term_result (void *ctx, json_t *bundle, json_t *metadata)
{
    (void) ctx; (void) metadata;
    s_term_print_bundle (bundle);
}

static void
s_term_error (void *ctx, const char *ename, const char *evalue, json_t *traceback)
{
    (void) ctx; (void) traceback;
    fprintf (stderr, "%s: %s\n", ename, evalue);
}

static void
s_term_page (void *ctx, json_t *bundle)
{
    (void) ctx;
    s_term_print_bundle (bundle);
}

static char *
s_term_input (void *ctx, const char *prompt, bool password)
{
    (void) ctx; (void) password;
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
    return wb_out_new (&s_term_ops, NULL);
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
}
//  @end
