/*  wb_kernel - the kernel process: binds the five channels of a connection
    file, answers the messaging protocol, and runs cells on an executor
    thread so that control, heartbeat and interrupt are served while a cell
    runs. The only code that touches sockets.

    Threads:
      main      shell, control, stdin (ROUTER) and iopub (PUB); dispatch
      executor  runs one cell at a time through wb_magics; its output sink
                sends events over the actor pipe, main turns them into
                iopub messages (sockets never cross threads)
      heartbeat echoes pings on its own ROUTER
    While a cell runs, main stops reading shell (requests queue in order)
    but keeps serving control and stdin.

    What main may do while a cell runs (the decision, issue 12): the
    interpreter (wb_magics_t and its wb_session_t: the shell session,
    workspace connection, experiment, active run) belongs to the executor
    thread, and main never reads or changes it, with three exceptions that are safe by design:
      complete_request     wb_magics_complete reads only a copy of the
                           session (directory, workspace folder) that the
                           executor publishes under a lock after each cell
                           (wb_session_publish, wb_session_seen),
                           and queries the workspace through a connection of
                           its own (SQLite connections here are opened
                           NOMUTEX: one per thread, never shared)
      inspect_request      reads the magic table, which never changes
      is_complete_request  asks a fresh `bash -n`; reads no session state
    So a completion during a cell sees the session as the last cell left it,
    not what the running cell is doing to it. The history store, the
    execution count and everything else in wb_kernel_t are main's alone; the
    interrupt flag is atomic. Every reply goes out on the socket its request
    came in on (a complete_request on control is answered on control).

    Every request that can be read gets a reply: one whose content cannot
    be read (a number of 2^63 or more, bad UTF-8), an execute_request on
    control, a cell holding a NUL character and a request of a type we do
    not know all get a reply of their type with status "error" and an
    ename/evalue saying what was wrong (between busy and idle, as always).
    Only a message with a bad signature, no delimiter or no readable header
    is dropped (logged): there is nobody or nothing to answer.
*/
#include <assert.h>
#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <czmq.h>
#include "wb_kernel.h"
#include "wb_conn.h"
#include "wb_msg.h"
#include "magics/wb_magics.h"
#include "cell/wb_history.h"
#include "base/wb_interrupt.h"
#include "base/wb_utf8.h"
#include "base/wb_util.h"

#define S_STREAM_FLUSH   0.02       //  seconds a stream chunk may wait to coalesce
#define S_STREAM_MAX     65536      //  bytes a coalesced chunk may grow to

struct _wb_kernel_t {
    wb_conn_t *conn;            //  the connection file
    wb_signer_t *signer;        //  HMAC key
    wb_msg_source_t *source;    //  this kernel's session, user, message ids
    zsock_t *shell;             //  requests (ROUTER)
    zsock_t *control;           //  urgent requests (ROUTER)
    zsock_t *stdin_sock;        //  input requests to front ends (ROUTER)
    zsock_t *iopub;             //  broadcasts (PUB)
    zactor_t *heartbeat;        //  ping echo thread
    zactor_t *executor;         //  cell runner thread
    zpoller_t *poller;          //  over control, executor, stdin (+ shell when idle)
    wb_magics_t *magics;        //  the interpreter; used by the executor while
                                //  a cell runs and by main only when idle
    wb_history_t *history;      //  persisted inputs, NULL if unavailable
    int execution_count;        //  cells run with store_history
    wb_msg_t *running;          //  the execute_request being run, or NULL
    bool silent;                //  the running request is silent
    bool stop_on_error;         //  ... and aborts the queue on error
    bool allow_stdin;           //  ... and may ask for input
    bool store_history;         //  ... and goes into the history
    json_t *unsaved;            //  [line, code] history not yet on disk
    double busy_at;             //  when the kernel last did work
    bool input_pending;         //  the executor waits for an input_reply
    wb_buf_t *stream;           //  coalesced stream text not yet published
    char stream_name [8];       //  its stream, "stdout" or "stderr"
    double stream_since;        //  when its first byte came
    bool quit;                  //  leave the loop (shutdown)
};

//  ---- The executor: runs cells, sends its output over the pipe ----

static void
s_pipe_stream (void *ctx, const char *name, const char *text, size_t size)
{
    zsock_send (ctx, "ssb", "STREAM", name, text, size);
}

static void
s_pipe_json (zsock_t *pipe, const char *event, json_t *value)
{
    char *text = json_dumps (value, JSON_COMPACT);
    zsock_send (pipe, "ss", event, text);
    free (text);
}

static void
s_pipe_display (void *ctx, json_t *bundle, json_t *metadata,
                const char *display_id, bool update)
{
    json_t *event = json_pack ("{s:O, s:O, s:s*, s:b}", "data", bundle,
        "metadata", metadata, "display_id", display_id, "update", update);
    s_pipe_json (ctx, "DISPLAY", event);
    json_decref (event);
}

static void
s_pipe_result (void *ctx, json_t *bundle, json_t *metadata)
{
    json_t *event = json_pack ("{s:O, s:O}", "data", bundle, "metadata", metadata);
    s_pipe_json (ctx, "RESULT", event);
    json_decref (event);
}

static void
s_pipe_error (void *ctx, const char *ename, const char *evalue, json_t *traceback)
{
    json_t *event = json_pack ("{s:s, s:s, s:O}", "ename", ename,
        "evalue", evalue, "traceback", traceback);
    s_pipe_json (ctx, "ERROR", event);
    json_decref (event);
}

static void
s_pipe_clear (void *ctx, bool wait)
{
    zsock_send (ctx, "ss", "CLEAR", wait? "1": "0");
}

static char *
s_pipe_input (void *ctx, const char *prompt, bool password)
{
    json_t *event = json_pack ("{s:s, s:b}", "prompt", prompt, "password", password);
    s_pipe_json (ctx, "INPUT", event);
    json_decref (event);
    char *command = NULL, *value = NULL;
    if (zsock_recv (ctx, "ss", &command, &value) == -1)
        return NULL;
    char *answer = NULL;
    if (command && streq (command, "INPUT"))
        answer = value;
    else
        free (value);
    free (command);
    return answer;
}

static const wb_out_ops_t s_pipe_ops = {
    s_pipe_stream, s_pipe_display, s_pipe_result, s_pipe_error,
    s_pipe_clear, NULL, s_pipe_input
};

static void
s_executor (zsock_t *pipe, void *args)
{
    wb_magics_t *magics = args;
    wb_out_t *out = wb_out_new (&s_pipe_ops, pipe);
    zsock_signal (pipe, 0);
    while (true) {
        char *command = NULL, *code = NULL;
        if (zsock_recv (pipe, "ss", &command, &code) == -1)
            break;
        bool term = streq (command, "$TERM");
        if (streq (command, "EXEC")) {
            wb_out_reset (out);
            int rc = wb_magics_execute (magics, code, out);
            json_t *done = json_pack ("{s:s}", "status", rc == 0? "ok": "error");
            if (rc) {
                const char *ename = wb_out_ename (out)? wb_out_ename (out): "Error";
                const char *evalue = wb_out_evalue (out)? wb_out_evalue (out): "";
                json_object_set_new (done, "ename", wb_utf8_json (ename, strlen (ename)));
                json_object_set_new (done, "evalue", wb_utf8_json (evalue, strlen (evalue)));
                json_object_set (done, "traceback", wb_out_traceback (out));
            }
            json_object_set (done, "pages", wb_out_pages (out));
            s_pipe_json (pipe, "DONE", done);
            json_decref (done);
        }
        free (command);
        free (code);
        if (term)
            break;
    }
    wb_out_destroy (&out);
}

//  ---- The heartbeat: echo every ping ----

static void
s_heartbeat (zsock_t *pipe, void *args)
{
    zsock_t *hb = zsock_new (ZMQ_ROUTER);
    if (zsock_bind (hb, "%s", (const char *) args) == -1) {
        zsock_destroy (&hb);
        zsock_signal (pipe, 1);
        return;
    }
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, hb, NULL);
    while (true) {
        void *which = zpoller_wait (poller, -1);
        if (which == hb) {
            zmsg_t *ping = zmsg_recv (hb);
            if (ping)
                zmsg_send (&ping, hb);
        }
        else
        if (which == pipe || zpoller_terminated (poller))
            break;
    }
    zpoller_destroy (&poller);
    zsock_destroy (&hb);
}

//  ---- Publishing ----

static void
s_send (wb_kernel_t *self, zsock_t *sock, wb_msg_t **msg_p)
{
    if (wb_msg_send (msg_p, sock, self->signer))
        fprintf (stderr, "workbench: could not send a message: %s\n", zmq_strerror (zmq_errno ()));
}

//  Publish on iopub a message of msg_type caused by parent; steals content.
static void
s_publish (wb_kernel_t *self, wb_msg_t *parent, const char *msg_type, json_t *content)
{
    if (!content) {
        fprintf (stderr, "workbench: could not build a %s message (invalid text?)\n", msg_type);
        return;
    }
    wb_msg_t *clean = wb_msg_new_for (parent, msg_type, self->source, false);
    wb_msg_set_content_new (clean, content);
    s_send (self, self->iopub, &clean);
}

static void
s_status (wb_kernel_t *self, wb_msg_t *parent, const char *state)
{
    s_publish (self, parent, "status", json_pack ("{s:s}", "execution_state", state));
}

//  Reply to request on sock; steals content.
static void
s_reply (wb_kernel_t *self, zsock_t *sock, wb_msg_t *request,
         const char *msg_type, json_t *content)
{
    if (!content)               //  a reply goes out whatever happened
        content = json_pack ("{s:s, s:s, s:s, s:[]}", "status", "error",
            "ename", "KernelError", "evalue", "the kernel could not build this reply",
            "traceback");
    wb_msg_t *reply = wb_msg_new_for (request, msg_type, self->source, true);
    wb_msg_set_content_new (reply, content);
    s_send (self, sock, &reply);
}

static void
s_stream_flush (wb_kernel_t *self)
{
    if (wb_buf_size (self->stream) == 0)
        return;
    if (self->running && !self->silent)
        s_publish (self, self->running, "stream", json_pack ("{s:s, s:s%}",
            "name", self->stream_name, "text",
            wb_buf_data (self->stream), wb_buf_size (self->stream)));
    wb_buf_reset (self->stream);
}

//  ---- Requests ----

static json_t *
s_kernel_info (void)
{
    return json_pack ("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s}, s:s, s:[], s:b}",
        "status", "ok",
        "protocol_version", "5.3",
        "implementation", "workbench",
        "implementation_version", WB_VERSION,
        "language_info",
            "name", "workbench",
            "version", WB_VERSION,
            "mimetype", "text/x-workbench",
            "file_extension", ".wb",
            "pygments_lexer", "bash",
            "codemirror_mode", "shell",
        "banner", "Workbench " WB_VERSION " — a machine-learning workspace in your notebook.\n"
                  "Shell lines run in bash; %lsmagic lists the magics, %help explains them.",
        "help_links",
        "debugger", 0);
}

static int
s_int_field (json_t *content, const char *name, int fallback)
{
    json_t *value = json_object_get (content, name);
    if (!json_is_integer (value))
        return fallback;
    json_int_t number = json_integer_value (value);
    return number > INT_MAX? INT_MAX: number < INT_MIN? INT_MIN: (int) number;
}

static bool
s_bool_field (json_t *content, const char *name, bool fallback)
{
    json_t *value = json_object_get (content, name);
    return json_is_boolean (value)? json_is_true (value): fallback;
}

//  Answer request (a "*_request") on sock with its "*_reply" of status
//  error. An execute_reply also carries the execution count, and the error
//  is shown in the notebook (an iopub error) unless the request was silent.
static void
s_reply_error (wb_kernel_t *self, zsock_t *sock, wb_msg_t *request,
               const char *ename, const char *format, ...)
    __attribute__ ((format (printf, 5, 6)));

static void
s_reply_error (wb_kernel_t *self, zsock_t *sock, wb_msg_t *request,
               const char *ename, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *evalue = wb_vsprintf (format, args);
    va_end (args);
    const char *type = wb_msg_type (request);
    size_t size = strlen (type);
    assert (size > 8 && streq (type + size - 8, "_request"));
    size_t base = size - 8;
    char *reply_type = wb_sprintf ("%.*s_reply", (int) base, type);
    char *line = wb_sprintf ("%s: %s", ename, evalue);
    json_t *content = json_pack ("{s:s, s:s, s:o, s:[o]}", "status", "error",
        "ename", ename, "evalue", wb_utf8_json (evalue, strlen (evalue)),
        "traceback", wb_utf8_json (line, strlen (line)));
    if (streq (type, "execute_request")) {
        json_object_set_new (content, "execution_count", json_integer (self->execution_count));
        if (!s_bool_field (wb_msg_content (request), "silent", false))
            s_publish (self, request, "error", json_deep_copy (content));
    }
    s_reply (self, sock, request, reply_type, content);
    free (line);
    free (reply_type);
    free (evalue);
}

//  Where the first NUL of text [0..size) is, as "line L, column C" (code
//  points, from 1) into where (40 bytes); false if there is none.
static bool
s_find_nul (const char *text, size_t size, char *where)
{
    const char *nul = memchr (text, 0, size);
    if (!nul)
        return false;
    size_t line = 1;
    const char *line_start = text;
    for (const char *c = text; c < nul; c++)
        if (*c == '\n') {
            line++;
            line_start = c + 1;
        }
    snprintf (where, 40, "line %zu, column %zu", line,
              wb_utf8_count (line_start, (size_t) (nul - line_start)) + 1);
    return true;
}

static void
s_execute (wb_kernel_t *self, wb_msg_t **request_p)
{
    wb_msg_t *request = *request_p;
    json_t *content = wb_msg_content (request);
    json_t *code_json = json_object_get (content, "code");
    const char *code = json_string_value (code_json);
    char where [40];
    bool refused = true;
    if (!code)
        s_reply_error (self, self->shell, request, "ProtocolError",
                       "execute_request without a code string");
    else
    if (s_find_nul (code, json_string_length (code_json), where))
        s_reply_error (self, self->shell, request, "InputError",
            "the cell holds a NUL character (U+0000) at %s, which no shell line or "
            "magic can take; delete it (it may have come with pasted text) and run "
            "the cell again", where);
    else
        refused = false;
    if (refused) {
        //  Not run, not counted, not in the history
        s_status (self, request, "idle");
        wb_msg_destroy (request_p);
        return;
    }
    bool blank = true;
    for (const char *c = code; *c && blank; c++)
        blank = isspace ((unsigned char) *c);
    if (blank) {
        //  Nothing to run: as IPython, answer at once and do not count it
        if (!s_bool_field (content, "silent", false))
            s_publish (self, request, "execute_input", json_pack ("{s:s, s:i}",
                "code", code, "execution_count", self->execution_count));
        s_reply (self, self->shell, request, "execute_reply", json_pack (
            "{s:s, s:i, s:{}, s:[]}", "status", "ok",
            "execution_count", self->execution_count, "user_expressions", "payload"));
        s_status (self, request, "idle");
        wb_msg_destroy (request_p);
        return;
    }
    self->silent = s_bool_field (content, "silent", false);
    bool store_history = self->silent? false: s_bool_field (content, "store_history", true);
    self->stop_on_error = s_bool_field (content, "stop_on_error", true);
    self->allow_stdin = s_bool_field (content, "allow_stdin", true);
    if (store_history)
        self->execution_count++;
    self->store_history = store_history;
    if (!self->silent)
        s_publish (self, request, "execute_input", json_pack ("{s:s, s:i}",
            "code", code, "execution_count", self->execution_count));
    self->running = request;
    *request_p = NULL;
    wb_interrupt_clear ();
    zpoller_remove (self->poller, self->shell);
    zsock_send (self->executor, "ss", "EXEC", code);
}

static zlist_t *
s_take_queue (wb_kernel_t *self);
static void
s_abort_queue (wb_kernel_t *self, zlist_t **queued_p);

static void
s_execute_done (wb_kernel_t *self, json_t *done)
{
    s_stream_flush (self);
    wb_msg_t *request = self->running;
    const char *status = json_string_value (json_object_get (done, "status"));
    if (!status) {              //  the executor's report did not come through
        status = "error";
        json_object_set_new (done, "ename", json_string ("KernelError"));
        json_object_set_new (done, "evalue", json_string ("the cell ended but its "
            "result could not be read; its output above is what it did"));
        json_object_set_new (done, "traceback", json_array ());
    }
    json_t *reply = json_pack ("{s:s, s:i, s:{}}", "status", status,
        "execution_count", self->execution_count, "user_expressions");
    json_t *payload = json_array ();
    size_t index;
    json_t *page;
    json_array_foreach (json_object_get (done, "pages"), index, page)
        json_array_append_new (payload, json_pack ("{s:s, s:O, s:i}",
            "source", "page", "data", page, "start", 0));
    json_object_set_new (reply, "payload", payload);
    bool failed = streq (status, "error");
    zlist_t *queued = failed && self->stop_on_error? s_take_queue (self): NULL;
    if (failed) {
        json_object_set (reply, "ename", json_object_get (done, "ename"));
        json_object_set (reply, "evalue", json_object_get (done, "evalue"));
        json_object_set (reply, "traceback", json_object_get (done, "traceback"));
    }
    s_reply (self, self->shell, request, "execute_reply", reply);
    s_status (self, request, "idle");
    //  History is written once the kernel is idle (as IPython saves it from
    //  a thread): a disk write does not belong on the path of every reply
    if (self->store_history && self->history) {
        json_array_append_new (self->unsaved, json_pack ("[i, O]", self->execution_count,
            json_object_get (wb_msg_content (request), "code")));
        self->busy_at = wb_time_mono ();
    }
    self->running = NULL;
    self->input_pending = false;
    zpoller_add (self->poller, self->shell);
    wb_msg_destroy (&request);
    if (queued)
        s_abort_queue (self, &queued);
}

static void
s_complete (wb_kernel_t *self, zsock_t *sock, wb_msg_t *request)
{
    json_t *content = wb_msg_content (request);
    const char *code = json_string_value (json_object_get (content, "code"));
    if (!code)
        code = "";
    int cursor_cp = s_int_field (content, "cursor_pos", (int) wb_utf8_count (code, strlen (code)));
    if (cursor_cp < 0)
        cursor_cp = 0;
    size_t cursor = wb_utf8_offset (code, (size_t) cursor_cp);
    size_t start, end;
    json_t *matches = wb_magics_complete (self->magics, code, cursor, &start, &end);
    s_reply (self, sock, request, "complete_reply", json_pack (
        "{s:s, s:o, s:i, s:i, s:{}}", "status", "ok", "matches", matches,
        "cursor_start", (int) wb_utf8_count (code, start),
        "cursor_end", (int) wb_utf8_count (code, end), "metadata"));
}

static void
s_inspect (wb_kernel_t *self, zsock_t *sock, wb_msg_t *request)
{
    json_t *content = wb_msg_content (request);
    const char *code = json_string_value (json_object_get (content, "code"));
    if (!code)
        code = "";
    int cursor_cp = s_int_field (content, "cursor_pos", 0);
    size_t cursor = wb_utf8_offset (code, cursor_cp < 0? 0: (size_t) cursor_cp);
    char *help = wb_magics_inspect (self->magics, code, cursor);
    json_t *reply = json_pack ("{s:s, s:b, s:{}, s:{}}", "status", "ok",
        "found", help != NULL, "data", "metadata");
    if (help)
        json_object_set_new (json_object_get (reply, "data"), "text/plain", json_string (help));
    free (help);
    s_reply (self, sock, request, "inspect_reply", reply);
}

static void
s_is_complete (wb_kernel_t *self, zsock_t *sock, wb_msg_t *request)
{
    json_t *code_json = json_object_get (wb_msg_content (request), "code");
    const char *code = json_string_value (code_json);
    //  A NUL cannot run (execute refuses it), so such a cell is invalid
    const char *status = code && strlen (code) != json_string_length (code_json)
                       ? "invalid": wb_magics_is_complete (self->magics, code? code: "");
    json_t *reply = json_pack ("{s:s}", "status", status);
    if (streq (status, "incomplete"))
        json_object_set_new (reply, "indent", json_string (""));
    s_reply (self, sock, request, "is_complete_reply", reply);
}

#define S_HISTORY_IDLE  0.1      //  seconds of idleness before history is saved

//  Write the history kept in memory to the history file.
static void
s_history_save (wb_kernel_t *self)
{
    if (!self->history || json_array_size (self->unsaved) == 0)
        return;
    size_t index;
    json_t *entry;
    json_array_foreach (self->unsaved, index, entry)
        wb_history_add (self->history, (int) json_integer_value (json_array_get (entry, 0)),
                        json_string_value (json_array_get (entry, 1)), NULL);
    json_array_clear (self->unsaved);
}

static void
s_history (wb_kernel_t *self, zsock_t *sock, wb_msg_t *request)
{
    s_history_save (self);
    json_t *content = wb_msg_content (request);
    const char *access = json_string_value (json_object_get (content, "hist_access_type"));
    bool output = s_bool_field (content, "output", false);
    json_t *history = NULL;
    if (self->history && access) {
        if (streq (access, "tail"))
            history = wb_history_tail (self->history, s_int_field (content, "n", 10), output);
        else
        if (streq (access, "range"))
            history = wb_history_range (self->history, s_int_field (content, "session", 0),
                s_int_field (content, "start", 0), s_int_field (content, "stop", 0), output);
        else
        if (streq (access, "search")) {
            const char *pattern = json_string_value (json_object_get (content, "pattern"));
            history = wb_history_search (self->history, pattern? pattern: "*",
                s_int_field (content, "n", 0), s_bool_field (content, "unique", false), output);
        }
    }
    s_reply (self, sock, request, "history_reply", json_pack ("{s:s, s:o}",
        "status", "ok", "history", history? history: json_array ()));
}

static void
s_shutdown (wb_kernel_t *self, zsock_t *sock, wb_msg_t *request)
{
    bool restart = s_bool_field (wb_msg_content (request), "restart", false);
    json_t *content = json_pack ("{s:s, s:b}", "status", "ok", "restart", restart);
    s_publish (self, request, "shutdown_reply", json_deep_copy (content));
    s_reply (self, sock, request, "shutdown_reply", content);
    self->quit = true;
    if (self->running)
        wb_interrupt_raise ();
}

//  Handle one request from shell or control; takes ownership of *msg_p.
static void
s_dispatch (wb_kernel_t *self, zsock_t *sock, wb_msg_t **msg_p)
{
    wb_msg_t *msg = *msg_p;
    const char *type = wb_msg_type (msg);
    size_t type_size = strlen (type);
    bool request = type_size > 8 && streq (type + type_size - 8, "_request");
    s_status (self, msg, "busy");
    if (wb_msg_unreadable (msg)) {
        if (request)
            s_reply_error (self, sock, msg, "ProtocolError", "this %s could not be "
                "read, so nothing was done: %s; send it again as valid JSON (UTF-8 "
                "text, integers below 2^63)", type, wb_msg_unreadable (msg));
        else
            fprintf (stderr, "workbench: dropped a '%s' that could not be read: %s\n",
                     type, wb_msg_unreadable (msg));
    }
    else
    if (streq (type, "execute_request")) {
        if (sock == self->shell) {
            s_execute (self, msg_p);    //  replies and goes idle when done
            return;
        }
        s_reply_error (self, sock, msg, "ProtocolError", "execute_request came on "
            "the control channel, where nothing is run; send it on shell");
    }
    else
    if (streq (type, "kernel_info_request"))
        s_reply (self, sock, msg, "kernel_info_reply", s_kernel_info ());
    else
    if (streq (type, "complete_request"))
        s_complete (self, sock, msg);
    else
    if (streq (type, "inspect_request"))
        s_inspect (self, sock, msg);
    else
    if (streq (type, "is_complete_request"))
        s_is_complete (self, sock, msg);
    else
    if (streq (type, "history_request"))
        s_history (self, sock, msg);
    else
    if (streq (type, "comm_info_request"))
        s_reply (self, sock, msg, "comm_info_reply",
                 json_pack ("{s:s, s:{}}", "status", "ok", "comms"));
    else
    if (streq (type, "comm_open")) {
        //  No comm targets yet: close it politely
        json_t *comm_id = json_object_get (wb_msg_content (msg), "comm_id");
        if (json_is_string (comm_id))
            s_publish (self, msg, "comm_close", json_pack ("{s:O, s:{}}",
                "comm_id", comm_id, "data"));
    }
    else
    if (streq (type, "comm_msg") || streq (type, "comm_close"))
        ;                               //  no comms are open: nothing to do
    else
    if (streq (type, "interrupt_request")) {
        wb_interrupt_raise ();
        s_reply (self, sock, msg, "interrupt_reply", json_pack ("{s:s}", "status", "ok"));
    }
    else
    if (streq (type, "shutdown_request"))
        s_shutdown (self, sock, msg);
    else
    if (request)
        s_reply_error (self, sock, msg, "UnknownMessageType",
                       "this kernel does not handle %s", type);
    else
        fprintf (stderr, "workbench: ignoring a message of unknown type '%s'\n", type);
    s_status (self, msg, "idle");
    wb_msg_destroy (msg_p);
}

//  Receive and check one message from sock; NULL (logged) if it is bad.
static wb_msg_t *
s_receive (wb_kernel_t *self, zsock_t *sock, const char *channel)
{
    zmsg_t *zmsg = zmsg_recv (sock);
    if (!zmsg)
        return NULL;
    wb_error_t err;
    wb_msg_t *msg = wb_msg_decode (&zmsg, self->signer, &err);
    if (!msg)
        fprintf (stderr, "workbench: dropped a message on %s: %s\n", channel, err.text);
    return msg;
}

//  After a failed cell with stop_on_error: take the requests already
//  queued behind it off the socket (before its reply goes out, so nothing
//  sent after the client saw the error is caught). Returns them in order.
static zlist_t *
s_take_queue (wb_kernel_t *self)
{
    zlist_t *queued = zlist_new ();
    zmq_pollitem_t item = { zsock_resolve (self->shell), 0, ZMQ_POLLIN, 0 };
    while (zmq_poll (&item, 1, 0) == 1 && (item.revents & ZMQ_POLLIN)) {
        zmsg_t *zmsg = zmsg_recv (self->shell);
        if (!zmsg)
            break;
        wb_error_t err;
        wb_msg_t *msg = wb_msg_decode (&zmsg, self->signer, &err);
        if (msg)
            zlist_append (queued, msg);
        else
            fprintf (stderr, "workbench: dropped a message on shell: %s\n", err.text);
    }
    return queued;
}

//  Answer the execute requests of queued with status "aborted"; serve the
//  other requests.
static void
s_abort_queue (wb_kernel_t *self, zlist_t **queued_p)
{
    wb_msg_t *msg;
    while ((msg = zlist_pop (*queued_p))) {
        if (streq (wb_msg_type (msg), "execute_request")) {
            s_status (self, msg, "busy");
            s_reply (self, self->shell, msg, "execute_reply", json_pack (
                "{s:s, s:i, s:{}, s:[]}", "status", "aborted",
                "execution_count", self->execution_count, "user_expressions", "payload"));
            s_status (self, msg, "idle");
            wb_msg_destroy (&msg);
        }
        else
            s_dispatch (self, self->shell, &msg);
    }
    zlist_destroy (queued_p);
}

//  ---- Events from the executor ----

static void
s_executor_event (wb_kernel_t *self)
{
    zmsg_t *event = zmsg_recv (self->executor);
    if (!event)
        return;
    char *kind = zmsg_popstr (event);
    if (streq (kind, "STREAM")) {
        char *name = zmsg_popstr (event);
        zframe_t *text = zmsg_pop (event);
        if (!streq (name, self->stream_name)
        ||  wb_buf_size (self->stream) + zframe_size (text) > S_STREAM_MAX)
            s_stream_flush (self);
        if (wb_buf_size (self->stream) == 0) {
            snprintf (self->stream_name, sizeof (self->stream_name), "%s", name);
            self->stream_since = wb_time_mono ();
        }
        wb_buf_append (self->stream, (const char *) zframe_data (text), zframe_size (text));
        zframe_destroy (&text);
        free (name);
    }
    else {
        s_stream_flush (self);
        char *text = zmsg_popstr (event);
        json_t *value = text? json_loads (text, JSON_ALLOW_NUL, NULL): NULL;
        free (text);
        if (!value)
            value = json_object ();
        if (streq (kind, "DONE"))
            s_execute_done (self, value);
        else
        if (streq (kind, "INPUT")) {
            if (self->allow_stdin && self->running) {
                wb_msg_t *request = wb_msg_new_for (self->running, "input_request", self->source, true);
                wb_msg_set_content_new (request, json_pack ("{s:O, s:O}",
                    "prompt", json_object_get (value, "prompt"),
                    "password", json_object_get (value, "password")));
                s_send (self, self->stdin_sock, &request);
                self->input_pending = true;
            }
            else
                zsock_send (self->executor, "ss", "NOINPUT", "");
        }
        else
        if (self->running && !self->silent) {
            if (streq (kind, "DISPLAY")) {
                bool update = json_is_true (json_object_get (value, "update"));
                json_t *content = json_pack ("{s:O, s:O, s:{}}",
                    "data", json_object_get (value, "data"),
                    "metadata", json_object_get (value, "metadata"), "transient");
                //  A display that is not live has no display_id at all (not
                //  null: front ends take null for an id)
                json_t *display_id = json_object_get (value, "display_id");
                if (json_is_string (display_id))
                    json_object_set (json_object_get (content, "transient"), "display_id", display_id);
                s_publish (self, self->running, update? "update_display_data": "display_data", content);
            }
            else
            if (streq (kind, "RESULT"))
                s_publish (self, self->running, "execute_result", json_pack ("{s:i, s:O, s:O}",
                    "execution_count", self->execution_count,
                    "data", json_object_get (value, "data"),
                    "metadata", json_object_get (value, "metadata")));
            else
            if (streq (kind, "ERROR"))
                s_publish (self, self->running, "error", json_incref (value));
            else
            if (streq (kind, "CLEAR"))
                s_publish (self, self->running, "clear_output", json_pack ("{s:b}",
                    "wait", json_is_true (value)));
        }
        json_decref (value);
    }
    free (kind);
    zmsg_destroy (&event);
}

static void
s_stdin_event (wb_kernel_t *self)
{
    wb_msg_t *msg = s_receive (self, self->stdin_sock, "stdin");
    if (!msg)
        return;
    if (streq (wb_msg_type (msg), "input_reply") && self->input_pending
    &&  wb_msg_unreadable (msg)) {
        //  The cell asked and gets no answer (rather than "" it did not type)
        fprintf (stderr, "workbench: an input_reply could not be read: %s\n",
                 wb_msg_unreadable (msg));
        zsock_send (self->executor, "ss", "NOINPUT", "");
        self->input_pending = false;
    }
    else
    if (streq (wb_msg_type (msg), "input_reply") && self->input_pending) {
        const char *value = json_string_value (json_object_get (wb_msg_content (msg), "value"));
        zsock_send (self->executor, "ss", "INPUT", value? value: "");
        self->input_pending = false;
    }
    else
        fprintf (stderr, "workbench: ignoring '%s' on stdin\n", wb_msg_type (msg));
    wb_msg_destroy (&msg);
}

//  ---- Life cycle ----

static char *
s_history_path (void)
{
    const char *path = getenv ("WORKBENCH_HISTORY");
    if (path && *path)
        return wb_strdup (path);
    const char *data = getenv ("XDG_DATA_HOME");
    if (data && *data)
        return wb_sprintf ("%s/workbench/history.sqlite", data);
    const char *home = getenv ("HOME");
    return wb_sprintf ("%s/.local/share/workbench/history.sqlite", home? home: ".");
}

static zsock_t *
s_bind (int type, wb_conn_t *conn, const char *channel, wb_error_t *err)
{
    zsock_t *sock = zsock_new (type);
    assert (sock);
    zsock_set_linger (sock, 1000);
    if (type == ZMQ_PUB)
        zsock_set_sndhwm (sock, 100000);
    if (zsock_bind (sock, "%s", wb_conn_endpoint (conn, channel)) == -1) {
        wb_error_set (err, "cannot bind the %s channel to %s: %s", channel,
                      wb_conn_endpoint (conn, channel), zmq_strerror (zmq_errno ()));
        zsock_destroy (&sock);
    }
    return sock;
}

wb_kernel_t *
wb_kernel_new (const char *connection_file, wb_error_t *err)
{
    wb_kernel_t *self = wb_calloc (1, sizeof (wb_kernel_t));
    self->stream = wb_buf_new ();
    self->unsaved = json_array ();
    self->conn = wb_conn_load (connection_file, err);
    if (!self->conn)
        goto fail;
    self->signer = wb_signer_new (wb_conn_key (self->conn), wb_conn_scheme (self->conn), err);
    if (!self->signer)
        goto fail;
    self->source = wb_msg_source_new ();

    //  Threads started from here on (libzmq's, the heartbeat, the
    //  executor) never take SIGINT: only the main thread handles it.
    sigset_t block, saved;
    sigemptyset (&block);
    sigaddset (&block, SIGINT);
    pthread_sigmask (SIG_BLOCK, &block, &saved);
    bool bound = (self->shell = s_bind (ZMQ_ROUTER, self->conn, "shell", err))
              && (self->control = s_bind (ZMQ_ROUTER, self->conn, "control", err))
              && (self->stdin_sock = s_bind (ZMQ_ROUTER, self->conn, "stdin", err))
              && (self->iopub = s_bind (ZMQ_PUB, self->conn, "iopub", err));
    if (bound) {
        self->heartbeat = zactor_new (s_heartbeat, (void *) wb_conn_endpoint (self->conn, "hb"));
        if (!self->heartbeat) {
            wb_error_set (err, "cannot bind the heartbeat channel to %s",
                          wb_conn_endpoint (self->conn, "hb"));
            bound = false;
        }
    }
    if (bound) {
        self->magics = wb_magics_new ();
        self->executor = zactor_new (s_executor, self->magics);
    }
    pthread_sigmask (SIG_SETMASK, &saved, NULL);
    if (!bound)
        goto fail;

    wb_error_t history_err;
    char *history_path = s_history_path ();
    self->history = wb_history_new (history_path, &history_err);
    if (!self->history)
        fprintf (stderr, "workbench: history is off: %s\n", history_err.text);
    free (history_path);

    self->poller = zpoller_new (self->control, self->executor, self->stdin_sock, self->shell, NULL);
    return self;

fail:
    wb_kernel_destroy (&self);
    return NULL;
}

void
wb_kernel_destroy (wb_kernel_t **self_p)
{
    assert (self_p);
    wb_kernel_t *self = *self_p;
    if (self) {
        if (self->running) {
            wb_interrupt_raise ();
            if (self->input_pending)
                zsock_send (self->executor, "ss", "NOINPUT", "");
            //  Let the cell stop and report before the executor goes
            zpoller_t *wait = zpoller_new (self->executor, NULL);
            while (self->running && zpoller_wait (wait, 3000))
                s_executor_event (self);
            zpoller_destroy (&wait);
            wb_msg_destroy (&self->running);
        }
        zpoller_destroy (&self->poller);
        zactor_destroy (&self->executor);
        zactor_destroy (&self->heartbeat);
        wb_magics_destroy (&self->magics);
        s_history_save (self);
        json_decref (self->unsaved);
        wb_history_destroy (&self->history);
        zsock_destroy (&self->shell);
        zsock_destroy (&self->control);
        zsock_destroy (&self->stdin_sock);
        zsock_destroy (&self->iopub);
        wb_signer_destroy (&self->signer);
        wb_msg_source_destroy (&self->source);
        wb_conn_destroy (&self->conn);
        wb_buf_destroy (&self->stream);
        free (self);
        *self_p = NULL;
    }
}

int
wb_kernel_run (wb_kernel_t *self)
{
    assert (self);
    s_status (self, NULL, "starting");
    while (!self->quit) {
        int timeout = -1;
        if (wb_buf_size (self->stream)) {
            double left = S_STREAM_FLUSH - (wb_time_mono () - self->stream_since);
            timeout = left > 0? (int) (left * 1000) + 1: 0;
        }
        else
        if (json_array_size (self->unsaved) && !self->running) {
            double left = S_HISTORY_IDLE - (wb_time_mono () - self->busy_at);
            timeout = left > 0? (int) (left * 1000) + 1: 0;
        }
        void *which = zpoller_wait (self->poller, timeout);
        if (!which && !self->running && json_array_size (self->unsaved)
        &&  wb_time_mono () - self->busy_at >= S_HISTORY_IDLE)
            s_history_save (self);
        if (wb_buf_size (self->stream)
        &&  wb_time_mono () - self->stream_since >= S_STREAM_FLUSH)
            s_stream_flush (self);
        if (!which)
            continue;           //  timeout, or a signal (SIGINT sets the flag)
        if (which == self->control) {
            wb_msg_t *msg = s_receive (self, self->control, "control");
            if (msg) {
                bool interrupt = streq (wb_msg_type (msg), "interrupt_request");
                s_dispatch (self, self->control, &msg);
                if (interrupt && self->input_pending) {
                    zsock_send (self->executor, "ss", "NOINPUT", "");
                    self->input_pending = false;
                }
            }
        }
        else
        if (which == self->executor)
            s_executor_event (self);
        else
        if (which == self->stdin_sock)
            s_stdin_event (self);
        else
        if (which == self->shell && !self->running) {
            wb_msg_t *msg = s_receive (self, self->shell, "shell");
            if (msg)
                s_dispatch (self, self->shell, &msg);
        }
    }
    return 0;
}
