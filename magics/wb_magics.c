/*  wb_magics - the cell language: one table of magics, a dispatcher, and
    everything that reads the table (completion, inspection, %lsmagic,
    %help, the command-line tool)

    A cell is either a cell magic (`%%name args` on its first line, the rest
    is its body) or a sequence of lines: runs of ordinary lines go to the
    shell as one script, and each `%name args` line is a line magic, in
    order; the first error stops the cell. The dispatcher hands each
    handler the session (wb_session_t) and the call, which carries the
    magic's own row of the table; a magic that needs the workspace opens
    it (wb_session_open), nothing opens it on the side.

    Threads: a wb_magics_t belongs to the thread that runs its cells (the
    kernel's executor). Completion, inspection and is_complete may be asked
    from one other thread while a cell runs: they never touch the shell
    session or the cell's workspace connection. After each cell the
    running thread publishes (wb_session_publish), under a lock, a copy of what completion
    needs (the shell's directory and the workspace folder); completion
    reads that copy and queries the workspace through a connection of its
    own, opened read-mostly on the published folder. SQLite connections are
    opened NOMUTEX, so no connection is ever used by two threads.
*/
#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "wb_magics.h"
#include "wb_complete.h"
#include "wb_magic_cell.h"
#include "wb_magic_store.h"
#include "wb_magic_jobs.h"
#include "wb_magic_data.h"
#include "wb_magic_train.h"
#include "wb_magic_serve.h"
#include "wb_magic_tune.h"
#include "cell/wb_args.h"
#include "base/wb_utf8.h"
#include "base/wb_util.h"

extern char **environ;

struct _wb_magics_t {
    wb_session_t *session;      //  shell, workspace, experiment, active run
    wb_complete_t *complete;    //  completion, used by the completing thread
};

//  ---- Life cycle ----

wb_magics_t *
wb_magics_new (void)
{
    wb_magics_t *self = wb_calloc (1, sizeof (wb_magics_t));
    self->session = wb_session_new ();
    self->complete = wb_complete_new (self->session);
    return self;
}

void
wb_magics_destroy (wb_magics_t **self_p)
{
    assert (self_p);
    wb_magics_t *self = *self_p;
    if (self) {
        wb_complete_destroy (&self->complete);
        wb_session_destroy (&self->session);
        free (self);
        *self_p = NULL;
    }
}

wb_session_t *
wb_magics_session (wb_magics_t *self)
{
    assert (self);
    return self->session;
}

int
wb_magics_usage (wb_call_t *call, wb_out_t *out, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *what = wb_vsprintf (format, args);
    va_end (args);
    wb_out_error (out, "UsageError", "%s\nusage: %s", what,
                  call->sub? call->sub->usage: call->magic->usage);
    free (what);
    return -1;
}

//  ---- Dispatch ----

//  Parse the call's words once, with the flags of its form (the table's
//  data), for the handler: a flag the form does not take is refused here
//  with the words wb_args gives ("unknown flag '--foo'"), or, when another
//  subcommand takes it, with the one it goes with. 0 or -1.
static int
s_parse (wb_call_t *call, wb_out_t *out)
{
    if (call->magic->flags & WB_MAGIC_RAW)
        return 0;
    wb_error_t err;
    call->args = wb_args_parse (call->argc - 1, call->argv + 1, wb_magics_opts (call), &err);
    if (call->args)
        return 0;
    for (int i = 2; call->sub && i < call->argc; i++) {
        const char *word = call->argv [i];
        if (streq (word, "--"))
            break;
        if (word [0] != '-' || !word [1])
            continue;
        bool is_long = word [1] == '-';
        const char *name = word + (is_long? 2: 1);
        size_t size = is_long? strcspn (name, "="): 1;
        for (const wb_sub_t *other = call->magic->subs; other->name; other++)
            for (const wb_opt_t *opt = other->opts; other != call->sub && opt->name; opt++)
                if (is_long? strlen (opt->name) == size && !strncmp (opt->name, name, size)
                           : opt->letter == *name)
                    return wb_magics_usage (call, out, "%.*s goes with %%%s %s",
                                            (int) (size + (is_long? 2: 1)), word,
                                            call->magic->name, other->name);
    }
    return wb_magics_usage (call, out, "%s", err.text);
}

//  The words of a subcommand's usage that name its positional words
//  ("%job logs RUN [--follow]": RUN), from the index-th on, as one string
static char *
s_sub_wants (const wb_sub_t *sub, size_t index)
{
    wb_buf_t *wants = wb_buf_new ();
    const char *c = sub->usage;
    size_t word = 0;
    while (*c) {
        size_t size = strcspn (c, " ");
        if (word >= 2 && *c != '[' && *c != '-' && strncmp (c, "...", 3) && word - 2 >= index) {
            if (wb_buf_size (wants))
                wb_buf_puts (wants, " ");
            wb_buf_append (wants, c, size);
        }
        if (*c == '[')          //  an optional part may hold spaces
            size = strcspn (c, "]") + (c [strcspn (c, "]")]? 1: 0);
        c += size;
        while (*c == ' ')
            c++;
        word++;
    }
    char *text = wb_strdup (wb_buf_size (wants)? wb_buf_data (wants): "");
    wb_buf_destroy (&wants);
    return text;
}

//  A call of a line form with subcommands: find the subcommand (the word
//  after the name, or the default one, put in as that word), parse with its
//  flags, check its arity and run its handler. The caller frees *argv_p.
static int
s_dispatch_sub (wb_magics_t *self, wb_call_t *call, char ***argv_p, wb_out_t *out)
{
    const wb_magic_t *magic = call->magic;
    const char *word = call->argc > 1? call->argv [1]: NULL;
    const wb_sub_t *sub = word? wb_magics_sub (magic, word): NULL;
    if (!sub && (!word || word [0] == '-'))
        for (const wb_sub_t *each = magic->subs; each->name; each++)
            if (each->flags & WB_SUB_DEFAULT) {
                //  The magic alone means its default: put the word in
                char **argv = wb_calloc ((size_t) call->argc + 2, sizeof (char *));
                argv [0] = call->argv [0];
                argv [1] = (char *) each->name;
                for (int i = 1; i < call->argc; i++)
                    argv [i + 1] = call->argv [i];
                free (*argv_p);
                *argv_p = call->argv = argv;
                call->argc++;
                sub = each;
                break;
            }
    if (!sub) {
        wb_buf_t *names = wb_buf_new ();
        for (const wb_sub_t *each = magic->subs; each->name; each++)
            wb_buf_printf (names, "%s%s", each == magic->subs? "": each [1].name? ", ": " or ",
                           each->name);
        int rc = word
            ? wb_magics_usage (call, out, "unknown subcommand '%s': say %s", word, wb_buf_data (names))
            : wb_magics_usage (call, out, "say %s", wb_buf_data (names));
        wb_buf_destroy (&names);
        return rc;
    }
    call->sub = sub;
    if (s_parse (call, out))
        return -1;
    size_t npos = wb_args_npos (call->args);
    size_t want = (size_t) abs (sub->arity);
    if (npos > want && sub->arity > 0)
        return wb_magics_usage (call, out, "%%%s %s takes %s, got '%s'", magic->name, sub->name,
                                want == 1? "no other word": "fewer words",
                                wb_args_pos (call->args, want));
    if (npos < want) {
        char *wants = s_sub_wants (sub, npos - 1);
        int rc = wb_magics_usage (call, out, "%%%s %s needs %s", magic->name, sub->name,
                                  *wants? wants: "more words");
        free (wants);
        return rc;
    }
    return sub->handler (self->session, call, out);
}

//  Dispatch one magic given its header text (after the % or %%).
static int
s_dispatch (wb_magics_t *self, const char *header, const char *body, wb_out_t *out)
{
    bool cell = body != NULL;
    const char *prefix = cell? "%%": "%";
    size_t name_size = wb_magics_name_size (header);
    char *name = wb_strndup (header, name_size);
    const char *line = header + name_size;
    while (*line == ' ' || *line == '\t')
        line++;

    const wb_magic_t *magic = wb_magics_lookup (name);
    if (!magic) {
        wb_out_error (out, "UsageError", "unknown magic '%s%s' — try %%lsmagic",
                      prefix, name);
        free (name);
        return -1;
    }
    if (cell && !(magic->flags & WB_MAGIC_CELL)) {
        wb_out_error (out, "UsageError",
            "%%%%%s is a line magic: write it as %%%s on a line of its own\nusage: %s",
            name, name, magic->usage);
        free (name);
        return -1;
    }
    if (!cell && !(magic->flags & WB_MAGIC_LINE)) {
        wb_out_error (out, "UsageError",
            "%%%s is a cell magic: put %%%%%s on the first line of a cell, "
            "with its content below\nusage: %s", name, name, magic->usage);
        free (name);
        return -1;
    }
    wb_error_t err;
    int argc = 0;
    char **words = NULL;
    if (magic->flags & WB_MAGIC_RAW)
        words = wb_words_split ("", &argc, &err);
    else {
        words = wb_words_split (line, &argc, &err);
        if (!words) {
            wb_out_error (out, "UsageError", "%s\nusage: %s", err.text, magic->usage);
            free (name);
            return -1;
        }
    }
    //  argv = name + words
    char **argv = wb_calloc ((size_t) argc + 2, sizeof (char *));
    argv [0] = name;
    for (int i = 0; i < argc; i++)
        argv [i + 1] = words [i];
    wb_call_t call = { .magics = self, .magic = magic, .argc = argc + 1, .argv = argv,
                       .line = line, .body = body };

    int rc;
    bool arity_ok = (magic->flags & WB_MAGIC_RAW)
        || (magic->arity >= 0? call.argc == magic->arity: call.argc >= -magic->arity);
    if (!cell && magic->subs)
        rc = s_dispatch_sub (self, &call, &argv, out);
    else
    if (!arity_ok)
        rc = wb_magics_usage (&call, out, "%s%s takes %s %d argument%s, got %d",
            prefix, name, magic->arity >= 0? "exactly": "at least",
            abs (magic->arity) - 1, abs (magic->arity) == 2? "": "s", call.argc - 1);
    else
    if (s_parse (&call, out))
        rc = -1;
    else
        rc = magic->handler (self->session, &call, out);

    wb_args_destroy (&call.args);
    free (argv);
    wb_words_free (&words);
    free (name);
    return rc;
}

static bool
s_blank (const char *text, size_t size)
{
    for (size_t i = 0; i < size; i++)
        if (!isspace ((unsigned char) text [i]))
            return false;
    return true;
}

static int
s_execute (wb_magics_t *self, const char *code, wb_out_t *out)
{
    //  Leading blank lines do not count: %% may follow them
    const char *start = code;
    while (true) {
        const char *eol = strchr (start, '\n');
        if (eol && s_blank (start, (size_t) (eol - start)))
            start = eol + 1;
        else
            break;
    }
    const char *first = start;
    while (*first == ' ' || *first == '\t')
        first++;
    if (wb_starts_with (first, "%%")) {
        const char *eol = strchr (first, '\n');
        char *header = wb_strndup (first + 2, eol? (size_t) (eol - first - 2): strlen (first + 2));
        int rc = s_dispatch (self, header, eol? eol + 1: "", out);
        free (header);
        wb_out_flush (out);     //  an unfinished character ends with the cell
        return rc;
    }
    //  A sequence of shell runs and line magics
    wb_buf_t *script = wb_buf_new ();
    const char *cursor = start;
    int rc = 0;
    while (*cursor && rc == 0) {
        const char *eol = strchr (cursor, '\n');
        size_t size = eol? (size_t) (eol - cursor): strlen (cursor);
        const char *text = cursor;
        while (text < cursor + size && (*text == ' ' || *text == '\t'))
            text++;
        if (*text == '%' && text [1] != '%') {
            if (!s_blank (wb_buf_data (script), wb_buf_size (script)))
                rc = wb_magic_cell_shell (self->session, wb_buf_data (script), out);
            wb_buf_reset (script);
            if (rc == 0) {
                char *header = wb_strndup (text + 1, size - (size_t) (text + 1 - cursor));
                rc = s_dispatch (self, header, NULL, out);
                free (header);
            }
        }
        else {
            wb_buf_append (script, cursor, size);
            wb_buf_puts (script, "\n");
        }
        cursor = eol? eol + 1: cursor + size;
    }
    if (rc == 0 && !s_blank (wb_buf_data (script), wb_buf_size (script)))
        rc = wb_magic_cell_shell (self->session, wb_buf_data (script), out);
    wb_buf_destroy (&script);
    wb_out_flush (out);
    return rc;
}

int
wb_magics_execute (wb_magics_t *self, const char *code, wb_out_t *out)
{
    assert (self && code && out);
    int rc = s_execute (self, code, out);
    wb_session_publish (self->session);
    return rc;
}

int
wb_magics_call (wb_magics_t *self, int argc, char **argv, const char *body, wb_out_t *out)
{
    assert (argc >= 1);
    //  Quote the words back into a line, so the one dispatcher parses them
    wb_buf_t *header = wb_buf_new ();
    wb_buf_puts (header, argv [0]);
    for (int i = 1; i < argc; i++) {
        wb_buf_puts (header, " '");
        for (const char *c = argv [i]; *c; c++)
            if (*c == '\'')
                wb_buf_puts (header, "'\\''");
            else
                wb_buf_append (header, c, 1);
        wb_buf_puts (header, "'");
    }
    const wb_magic_t *magic = wb_magics_lookup (argv [0]);
    if (magic && (magic->flags & WB_MAGIC_RAW)) {
        //  Raw magics take the words as one line of text
        wb_buf_reset (header);
        wb_buf_puts (header, argv [0]);
        for (int i = 1; i < argc; i++) {
            wb_buf_puts (header, " ");
            wb_buf_puts (header, argv [i]);
        }
    }
    int rc = s_dispatch (self, wb_buf_data (header), body, out);
    wb_buf_destroy (&header);
    wb_session_publish (self->session);
    return rc;
}

//  ---- What a front end asks while typing (wb_complete) ----

json_t *
wb_magics_complete (wb_magics_t *self, const char *code, size_t cursor,
                    size_t *start, size_t *end)
{
    assert (self && code);
    return wb_complete_matches (self->complete, code, cursor, start, end);
}

char *
wb_magics_inspect (wb_magics_t *self, const char *code, size_t cursor)
{
    assert (self && code);
    return wb_complete_inspect (code, cursor);
}

const char *
wb_magics_is_complete (wb_magics_t *self, const char *code)
{
    assert (self && code);
    return wb_complete_status (code);
}

//  @selftest

//  A thread that completes until told to stop
typedef struct {
    wb_magics_t *magics;        //  lent
    _Atomic bool stop;          //  set by the test when done
    int asked;                  //  completions made
    int rooted;                 //  ... that listed the root's folders
} s_completer_t;

static void *
s_test_completer (void *arg)
{
    s_completer_t *self = arg;
    while (!atomic_load (&self->stop)) {
        size_t start, end;
        json_t *matches = wb_magics_complete (self->magics, "ls ./e", 6, &start, &end);
        size_t index;
        json_t *match;
        json_array_foreach (matches, index, match)
            if (streq (json_string_value (match), "./etc/"))
                self->rooted++;
        json_decref (matches);
        matches = wb_magics_complete (self->magics, "%experiment ", 12, &start, &end);
        json_decref (matches);
        self->asked++;
    }
    return NULL;
}

void
wb_magics_test (bool verbose)
{
    wb_session_test (verbose);
    wb_magics_table_test (verbose);
    wb_complete_test (verbose);
    char scratch [] = "/tmp/wb-magics-XXXXXX";
    assert (mkdtemp (scratch));
    wb_magics_t *magics = wb_magics_new ();
    wb_shell_chdir (wb_session_shell (wb_magics_session (magics)), scratch, NULL);
    wb_out_t *out = wb_out_new_test (NULL);

    //  Shell lines and line magics interleave, in order
    assert (wb_magics_execute (magics, "echo one\n%env WB_X=7\necho $WB_X", out) == 0);
    char *text = wb_out_text (out, "stdout");
    assert (streq (text, "one\nenv: WB_X=7\n7\n"));
    free (text);

    //  Unknown magic, wrong form, arity
    assert (wb_magics_execute (magics, "%nosuch", out) == -1);
    assert (streq (wb_out_ename (out), "UsageError"));
    assert (strstr (wb_out_evalue (out), "unknown magic '%nosuch'"));
    assert (strstr (wb_out_evalue (out), "%lsmagic"));
    wb_out_reset (out);
    assert (wb_magics_execute (magics, "%writefile x", out) == -1);
    assert (strstr (wb_out_evalue (out), "cell magic"));
    wb_out_reset (out);
    assert (wb_magics_execute (magics, "%%writefile\nabc", out) == -1);
    assert (strstr (wb_out_evalue (out), "usage: %%writefile [-a] PATH"));
    wb_out_reset (out);
    assert (wb_magics_execute (magics, "%lsmagic extra", out) == -1);
    assert (strstr (wb_out_evalue (out), "exactly 0 arguments"));
    wb_out_reset (out);
    assert (wb_magics_execute (magics, "%env \"unclosed", out) == -1);
    assert (strstr (wb_out_evalue (out), "unclosed"));
    wb_out_reset (out);

    //  The first error stops the cell
    json_array_clear (wb_out_log (out));
    assert (wb_magics_execute (magics, "%nosuch\necho never", out) == -1);
    text = wb_out_text (out, "stdout");
    assert (streq (text, ""));
    free (text);
    wb_out_reset (out);

    //  %%writefile, then the shell sees the file
    assert (wb_magics_execute (magics, "%%writefile notes.txt\nhello\n", out) == 0);
    assert (wb_magics_execute (magics, "%%writefile -a notes.txt\nagain\n", out) == 0);
    json_array_clear (wb_out_log (out));
    assert (wb_magics_execute (magics, "cat notes.txt", out) == 0);
    text = wb_out_text (out, "stdout");
    assert (streq (text, "hello\nagain\n"));
    free (text);

    //  The command-line form reaches the same magics
    json_array_clear (wb_out_log (out));
    char *argv [] = { "env", "WB_Y=it's", NULL };
    assert (wb_magics_call (magics, 2, argv, NULL, out) == 0);
    assert (streq (wb_shell_getenv (wb_session_shell (wb_magics_session (magics)), "WB_Y"), "it's"));

    //  Completion from another thread while cells change the session (as
    //  the kernel's control channel asks): it sees the session the last
    //  cell left, never the one being changed
    s_completer_t completer = { magics, false, 0, 0 };
    pthread_t thread;
    assert (pthread_create (&thread, NULL, s_test_completer, &completer) == 0);
    for (int cell = 0; cell < 4; cell++) {
        wb_out_reset (out);
        assert (wb_magics_execute (magics, "for i in $(seq 300); do cd /tmp; "
            "cd - >/dev/null; export WB_X$i=1; done; cd /", out) == 0);
        assert (wb_magics_execute (magics, "%env WB_Z=1\ncd /tmp\n%env WB_Z=2\ncd /", out) == 0);
    }
    atomic_store (&completer.stop, true);
    pthread_join (thread, NULL);
    assert (completer.asked > 0);
    if (verbose)
        printf ("  %d completions from another thread, %d of them of /\n",
                completer.asked, completer.rooted);

    wb_out_destroy (&out);
    wb_magics_destroy (&magics);
    char *cleanup = wb_sprintf ("rm -rf '%s'", scratch);
    assert (system (cleanup) == 0);
    free (cleanup);
}
//  @end
