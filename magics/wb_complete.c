/*  wb_complete - what a front end asks about a cell being typed: completion
    (magic names, flags, subcommands, run ids and names, experiments, metric
    keys, paths), inspection (a magic's usage and help) and whether the
    cell is complete

    A wb_complete_t may be asked from another thread than the one running
    cells (the kernel's control channel, while a cell runs). It reads only
    the copy of the session that the running thread publishes after each
    cell (wb_session_seen) and the magic table, which never changes; it
    queries the workspace through a connection of its own, which it opens
    only on a workspace that exists (never creating one) and never uses to
    write. SQLite connections are opened NOMUTEX: one per thread.
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
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "wb_complete.h"
#include "wb_magics.h"
#include "cell/wb_args.h"
#include "base/wb_utf8.h"
#include "base/wb_util.h"

extern char **environ;

struct _wb_complete_t {
    wb_session_t *session;      //  lent: only its published copy is read
    wb_store_t *lookup;         //  its own workspace connection, or NULL
    char *lookup_path;          //  the folder lookup is open on
};

//  ---- Life cycle ----

wb_complete_t *
wb_complete_new (wb_session_t *session)
{
    assert (session);
    wb_complete_t *self = wb_calloc (1, sizeof (wb_complete_t));
    self->session = session;
    return self;
}

void
wb_complete_destroy (wb_complete_t **self_p)
{
    assert (self_p);
    wb_complete_t *self = *self_p;
    if (self) {
        wb_store_destroy (&self->lookup);
        free (self->lookup_path);
        free (self);
        *self_p = NULL;
    }
}

//  ---- Completion ----

static void
s_complete_magics (const char *prefix, bool cells, bool lines, json_t *matches)
{
    //  prefix includes its % or %%. A cell magic is offered for a single %
    //  too (%tra -> %%train), as IPython does: users type one % first.
    //  The line form comes first (%time, then %%time).
    bool single = prefix [0] == '%' && prefix [1] != '%';
    for (const wb_magic_t *magic = wb_magics_table (); magic->name; magic++) {
        if (lines && (magic->flags & WB_MAGIC_LINE)) {
            char *candidate = wb_sprintf ("%%%s", magic->name);
            if (wb_starts_with (candidate, prefix))
                json_array_append_new (matches, json_string (candidate));
            free (candidate);
        }
        if (cells && (magic->flags & WB_MAGIC_CELL)) {
            char *candidate = wb_sprintf ("%%%%%s", magic->name);
            if (wb_starts_with (candidate, prefix)
            ||  (single && wb_starts_with (candidate + 1, prefix)))
                json_array_append_new (matches, json_string (candidate));
            free (candidate);
        }
    }
}

static void
    s_add_match (json_t *matches, const char *candidate, const char *prefix);

//  The flags the magic's form takes (the table's data): --name for each,
//  and -x for one with a letter when only a dash or two are typed so far
static void
s_complete_flags (const wb_opt_t *opts, const char *prefix, json_t *matches)
{
    for (const wb_opt_t *opt = opts; opt && opt->name; opt++) {
        char *flag = wb_sprintf ("--%s", opt->name);
        s_add_match (matches, flag, prefix);
        free (flag);
    }
    for (const wb_opt_t *opt = opts; opt && opt->name; opt++)
        if (opt->letter && strlen (prefix) <= 2) {
            char letter [3] = { '-', opt->letter, 0 };
            s_add_match (matches, letter, prefix);
        }
}

//  The flag named by word ("--run", "-r"), or NULL.
static const wb_opt_t *
s_find_opt (const wb_opt_t *opts, const char *word)
{
    for (const wb_opt_t *opt = opts; opt && opt->name && word [0] == '-'; opt++)
        if ((word [1] == '-' && streq (word + 2, opt->name))
        ||  (word [1] == opt->letter && word [1] && !word [2]))
            return opt;
    return NULL;
}

static int
s_compare_strings (const void *a, const void *b)
{
    return strcmp (*(const char * const *) a, *(const char * const *) b);
}

//  path made absolute against cwd; caller owns the return value
static char *
s_path_in (const char *cwd, const char *path)
{
    if (*path == '/')
        return wb_strdup (path);
    if (*path == 0)
        return wb_strdup (cwd);
    return wb_sprintf ("%s%s%s", cwd, streq (cwd, "/")? "": "/", path);
}

static void
s_complete_paths (const char *cwd, const char *token, json_t *matches)
{
    //  Split the token into a directory part and a name prefix
    const char *slash = strrchr (token, '/');
    char *dir_part = slash? wb_strndup (token, (size_t) (slash - token + 1)): wb_strdup ("");
    const char *name_prefix = slash? slash + 1: token;
    char *dir_path;
    if (*dir_part == '~' && (dir_part [1] == '/' || dir_part [1] == 0) && getenv ("HOME"))
        dir_path = wb_sprintf ("%s%s", getenv ("HOME"), dir_part + 1);
    else
        dir_path = s_path_in (cwd, *dir_part? dir_part: ".");
    DIR *dir = opendir (dir_path);
    if (dir) {
        char **names = NULL;
        size_t count = 0;
        struct dirent *entry;
        while ((entry = readdir (dir))) {
            if (streq (entry->d_name, ".") || streq (entry->d_name, ".."))
                continue;
            if (entry->d_name [0] == '.' && name_prefix [0] != '.')
                continue;
            if (!wb_starts_with (entry->d_name, name_prefix))
                continue;
            char *full = wb_sprintf ("%s/%s", dir_path, entry->d_name);
            struct stat info;
            bool is_dir = stat (full, &info) == 0 && S_ISDIR (info.st_mode);
            free (full);
            names = wb_realloc (names, (count + 1) * sizeof (char *));
            names [count++] = wb_sprintf ("%s%s%s", dir_part, entry->d_name, is_dir? "/": "");
        }
        closedir (dir);
        if (count)              //  names is NULL when nothing matched
            qsort (names, count, sizeof (char *), s_compare_strings);
        for (size_t i = 0; i < count; i++) {
            //  A file name is any bytes: shown valid (U+FFFD for the rest)
            json_array_append_new (matches, wb_utf8_json (names [i], strlen (names [i])));
            free (names [i]);
        }
        free (names);
    }
    free (dir_path);
    free (dir_part);
}

static void
s_add_match (json_t *matches, const char *candidate, const char *prefix)
{
    if (!candidate || !wb_starts_with (candidate, prefix))
        return;
    size_t index;
    json_t *value;
    json_array_foreach (matches, index, value)
        if (streq (json_string_value (value), candidate))
            return;
    json_array_append_new (matches, wb_utf8_json (candidate, strlen (candidate)));
}

//  Completion's workspace connection for folder (the published one, else
//  where the session would find one), read only: a Tab press creates,
//  migrates, reaps and changes nothing.
//  Only the completing thread calls this. NULL when there is none.
static wb_store_t *
s_lookup_store (wb_complete_t *self, const char *folder)
{
    char *path = folder? wb_strdup (folder): wb_store_locate (wb_session_home (self->session));
    if (self->lookup && !streq (self->lookup_path, path)) {
        wb_store_destroy (&self->lookup);
        free (self->lookup_path);
        self->lookup_path = NULL;
    }
    if (!self->lookup) {
        self->lookup = wb_store_open_readonly (path, NULL);
        if (self->lookup) {
            self->lookup_path = path;
            path = NULL;
        }
    }
    free (path);
    return self->lookup;
}

//  Workspace names for a magic's arguments: runs, experiments, metric keys,
//  subcommand words. line is the magic's line up to the token (at offset
//  token_at). Returns true when it knew what to offer (even if nothing).
static bool
s_complete_args (wb_complete_t *self, const char *folder, const wb_magic_t *magic,
                 const char *line, size_t token_at, const char *token, json_t *matches)
{
    //  The word before the token, and how many positional words precede it
    char *head = wb_strndup (line, token_at);
    int count = 0;
    char **words = wb_words_split (head, &count, NULL);
    free (head);
    const char *previous = words && count > 1? words [count - 1]: "";
    int positionals = 0;
    for (int i = 1; words && i < count; i++)
        if (words [i][0] != '-' && (i == 1 || words [i - 1][0] != '-' || strchr (words [i - 1], '=')))
            positionals++;
    //  The form (%%name or %name) and the subcommand decide the flags
    bool cell = line [1] == '%';
    const wb_sub_t *sub = !cell && count > 1? wb_magics_sub (magic, words [1]): NULL;
    const wb_opt_t *opts = wb_magics_form_opts (magic, cell, count > 1? words [1]: NULL);
    const wb_opt_t *flag = s_find_opt (opts, previous);
    bool after_value_flag = flag && flag->kind != WB_OPT_BOOL;
    wb_args_kind_t kind = sub? sub->args: magic->args;
    if (streq (previous, "--experiment") || streq (previous, "-e"))
        kind = WB_ARGS_EXPERIMENT;
    else
    if (streq (previous, "--metric") || streq (previous, "--sort"))
        kind = WB_ARGS_METRIC;
    else
    if (streq (previous, "--filter") || wb_starts_with (token, "metrics."))
        kind = WB_ARGS_METRIC;
    else
    if (flag && streq (flag->name, "run"))
        kind = WB_ARGS_RUN;
    else
    if (after_value_flag)
        kind = WB_ARGS_PATH;    //  a flag's value: a file, or free text
    else
    if (!cell && magic->subs && positionals == 0) {
        //  "%run st": the subcommands, from the table
        for (const wb_sub_t *each = magic->subs; each->name; each++)
            s_add_match (matches, each->name, token);
        wb_words_free (&words);
        return true;
    }

    wb_store_t *store = kind == WB_ARGS_PATH? NULL: s_lookup_store (self, folder);
    if (kind == WB_ARGS_RUN && store) {
        json_t *runs = wb_store_run_ids (store);
        size_t index;
        json_t *pair;
        json_array_foreach (runs, index, pair) {
            s_add_match (matches, json_string_value (json_array_get (pair, 0)), token);
            s_add_match (matches, json_string_value (json_array_get (pair, 1)), token);
        }
        json_decref (runs);
    }
    else
    if (kind == WB_ARGS_EXPERIMENT && store) {
        json_t *list = wb_store_experiments (store, NULL);
        size_t index;
        json_t *experiment;
        json_array_foreach (list, index, experiment)
            s_add_match (matches, json_string_value (json_object_get (experiment, "name")), token);
        json_decref (list);
    }
    else
    if (kind == WB_ARGS_METRIC && store) {
        json_t *keys = wb_store_metric_keys (store, NULL);
        bool prefixed = wb_starts_with (token, "metrics.") || wb_starts_with (token, "-metrics.")
                     || streq (previous, "--filter") || streq (previous, "--sort");
        size_t index;
        json_t *key;
        json_array_foreach (keys, index, key) {
            char *candidate = prefixed
                ? wb_sprintf ("%smetrics.%s", token [0] == '-'? "-": "", json_string_value (key))
                : magic->args == WB_ARGS_METRIC && !streq (previous, "--metric")
                ? wb_sprintf ("%s=", json_string_value (key))
                : wb_strdup (json_string_value (key));
            s_add_match (matches, candidate, token);
            free (candidate);
        }
        json_decref (keys);
    }
    wb_words_free (&words);
    return kind != WB_ARGS_PATH;
}

json_t *
wb_complete_matches (wb_complete_t *self, const char *code, size_t cursor,
                     size_t *start, size_t *end)
{
    assert (self && code);
    size_t size = strlen (code);
    if (cursor > size)
        cursor = size;
    //  The line holding the cursor, and the token ending at the cursor
    size_t line_start = cursor;
    while (line_start > 0 && code [line_start - 1] != '\n')
        line_start--;
    size_t token_start = cursor;
    while (token_start > line_start
        && !isspace ((unsigned char) code [token_start - 1])
        && !strchr ("\"'=<>|;&(", code [token_start - 1]))
        token_start--;
    char *token = wb_strndup (code + token_start, cursor - token_start);
    //  The session as the last cell left it (a cell may be running)
    char *cwd, *folder;
    wb_session_seen (self->session, &cwd, &folder);
    *start = token_start;
    *end = cursor;
    json_t *matches = json_array ();

    size_t indent = line_start;
    while (indent < token_start && (code [indent] == ' ' || code [indent] == '\t'))
        indent++;
    bool first_line = true;
    for (size_t i = 0; i < line_start; i++)
        if (!isspace ((unsigned char) code [i]))
            first_line = false;

    if (token [0] == '%' && indent == token_start) {
        //  A magic name at the start of a line
        bool cells = first_line;
        bool lines = !wb_starts_with (token, "%%");
        s_complete_magics (token, cells, lines, matches);
    }
    else {
        //  Inside a magic's line: its flags
        const char *line = code + indent;
        const wb_magic_t *magic = NULL;
        if (*line == '%') {
            const char *name = line + (line [1] == '%'? 2: 1);
            size_t name_size = wb_magics_name_size (name);
            char *magic_name = wb_strndup (name, name_size);
            magic = wb_magics_lookup (magic_name);
            free (magic_name);
        }
        if (magic && token [0] == '-') {
            bool cell = line [1] == '%';
            char *head = wb_strndup (code + indent, token_start - indent);
            int count = 0;
            char **words = wb_words_split (head, &count, NULL);
            free (head);
            const char *word = words && count > 1? words [1]: NULL;
            s_complete_flags (wb_magics_form_opts (magic, cell, word), token, matches);
            wb_words_free (&words);
        }
        else
        if (!magic || !s_complete_args (self, folder, magic, code + indent,
                                        token_start - indent, token, matches))
            s_complete_paths (cwd, token, matches);
    }
    free (token);
    free (cwd);
    free (folder);
    return matches;
}

//  ---- Inspection ----

char *
wb_complete_inspect (const char *code, size_t cursor)
{
    assert (code);
    size_t size = strlen (code);
    if (cursor > size)
        cursor = size;
    //  The magic of the line under the cursor, wherever on the line it is
    size_t line_start = cursor;
    while (line_start > 0 && code [line_start - 1] != '\n')
        line_start--;
    const char *line = code + line_start;
    while (*line == ' ' || *line == '\t')
        line++;
    if (*line != '%')
        return NULL;
    line += line [1] == '%'? 2: 1;
    size_t name_size = wb_magics_name_size (line);
    char *name = wb_strndup (line, name_size);
    const wb_magic_t *magic = wb_magics_lookup (name);
    free (name);
    if (!magic)
        return NULL;
    return wb_sprintf ("%s\n\n%s\n", magic->usage, magic->help);
}

//  ---- Is the cell complete? ----

//  Ask bash whether script parses: 0 = yes, 1 = it ends too early, 2 = no.
//  The script goes to `bash -n` on its stdin, not in argv (a cell may be
//  over the 128 KiB one argument may hold), written as bash reads it while
//  its messages are read (neither side waits on the other).
static int
s_bash_syntax (const char *script)
{
    int in_fds [2], err_fds [2];
    if (pipe2 (in_fds, O_CLOEXEC))
        return 0;
    if (pipe2 (err_fds, O_CLOEXEC)) {
        close (in_fds [0]);
        close (in_fds [1]);
        return 0;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init (&actions);
    posix_spawn_file_actions_adddup2 (&actions, in_fds [0], 0);
    posix_spawn_file_actions_addopen (&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2 (&actions, err_fds [1], 2);
    char *argv [] = { "bash", "-n", NULL };
    pid_t pid;
    int rc = posix_spawnp (&pid, "bash", &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy (&actions);
    close (in_fds [0]);
    close (err_fds [1]);
    wb_buf_t *errors = wb_buf_new ();
    if (rc == 0) {
        //  A bash that stops reading early must not kill us with SIGPIPE
        sigset_t pipe_set, saved;
        sigemptyset (&pipe_set);
        sigaddset (&pipe_set, SIGPIPE);
        pthread_sigmask (SIG_BLOCK, &pipe_set, &saved);
        fcntl (in_fds [1], F_SETFL, fcntl (in_fds [1], F_GETFL) | O_NONBLOCK);
        size_t size = strlen (script), done = 0;
        int in_fd = in_fds [1];
        bool reading = true;
        while (reading) {
            struct pollfd items [2] = {
                { err_fds [0], POLLIN, 0 }, { in_fd, POLLOUT, 0 }
            };
            if (poll (items, in_fd >= 0? 2: 1, -1) < 0) {
                if (errno == EINTR)
                    continue;
                break;
            }
            if (in_fd >= 0 && items [1].revents) {
                ssize_t put = write (in_fd, script + done, size - done);
                if (put > 0)
                    done += (size_t) put;
                if ((put < 0 && errno != EAGAIN && errno != EINTR) || done == size) {
                    close (in_fd);
                    in_fd = -1;
                }
            }
            if (items [0].revents) {
                char chunk [1024];
                ssize_t got = read (err_fds [0], chunk, sizeof (chunk));
                if (got > 0)
                    wb_buf_append (errors, chunk, (size_t) got);
                else
                if (got == 0 || errno != EINTR)
                    reading = false;
            }
        }
        if (in_fd >= 0)
            close (in_fd);
        sigset_t pending;
        if (sigpending (&pending) == 0 && sigismember (&pending, SIGPIPE)) {
            struct timespec now = { 0, 0 };
            sigtimedwait (&pipe_set, NULL, &now);
        }
        pthread_sigmask (SIG_SETMASK, &saved, NULL);
        int status;
        while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
            ;
        rc = WIFEXITED (status) && WEXITSTATUS (status) == 0? 0: 2;
        if (rc && (strstr (wb_buf_data (errors), "unexpected end of file")
               ||  strstr (wb_buf_data (errors), "unexpected EOF")))
            rc = 1;
    }
    else {
        close (in_fds [1]);
        rc = 0;                 //  no bash to ask: let the run say
    }
    close (err_fds [0]);
    wb_buf_destroy (&errors);
    return rc;
}

const char *
wb_complete_status (const char *code)
{
    assert (code);
    const char *first = code;
    while (isspace ((unsigned char) *first))
        first++;
    if (!*first)
        return "complete";
    if (wb_starts_with (first, "%%")) {
        //  As in IPython: a cell magic goes on until an empty last line
        const char *eol = strchr (first, '\n');
        if (!eol || !eol [1])
            return "incomplete";
        size_t size = strlen (code);
        return code [size - 1] == '\n'? "complete": "incomplete";
    }
    wb_buf_t *script = wb_buf_new ();
    const char *status = "complete";
    const char *cursor = code;
    while (*cursor) {
        const char *eol = strchr (cursor, '\n');
        size_t size = eol? (size_t) (eol - cursor): strlen (cursor);
        const char *text = cursor;
        while (text < cursor + size && (*text == ' ' || *text == '\t'))
            text++;
        if (*text == '%') {
            char *line = wb_strndup (text, size - (size_t) (text - cursor));
            if (wb_words_unclosed (line))
                status = "incomplete";
            free (line);
        }
        else {
            wb_buf_append (script, cursor, size);
            wb_buf_puts (script, "\n");
        }
        cursor = eol? eol + 1: cursor + size;
    }
    if (streq (status, "complete")
    &&  strspn (wb_buf_data (script), " \t\n\r\v\f") < wb_buf_size (script)) {
        //  A line ending in a backslash continues
        const char *data = wb_buf_data (script);
        size_t size = wb_buf_size (script);
        while (size > 0 && (data [size - 1] == '\n' || data [size - 1] == ' '))
            size--;
        if (size > 0 && data [size - 1] == '\\')
            status = "incomplete";
        else {
            int syntax = s_bash_syntax (data);
            status = syntax == 0? "complete": syntax == 1? "incomplete": "invalid";
        }
    }
    wb_buf_destroy (&script);
    return status;
}

//  @selftest
void
wb_complete_test (bool verbose)
{
    (void) verbose;
    char scratch [] = "/tmp/wb-complete-XXXXXX";
    assert (mkdtemp (scratch));
    wb_session_t *session = wb_session_new ();
    wb_shell_chdir (wb_session_shell (session), scratch, NULL);
    wb_session_publish (session);
    char *notes = wb_sprintf ("%s/notes.txt", scratch);
    FILE *file = fopen (notes, "w");
    assert (file && fclose (file) == 0);
    free (notes);
    wb_complete_t *complete = wb_complete_new (session);

    //  Completion
    size_t start, end;
    json_t *matches = wb_complete_matches (complete, "%lsma", 5, &start, &end);
    assert (json_array_size (matches) == 1);
    assert (streq (json_string_value (json_array_get (matches, 0)), "%lsmagic"));
    assert (start == 0 && end == 5);
    json_decref (matches);
    matches = wb_complete_matches (complete, "%%wri", 5, &start, &end);
    assert (streq (json_string_value (json_array_get (matches, 0)), "%%writefile"));
    json_decref (matches);
    matches = wb_complete_matches (complete, "%tra", 4, &start, &end);
    assert (json_array_size (matches) == 1);        //  a cell magic for one %
    assert (streq (json_string_value (json_array_get (matches, 0)), "%%train"));
    json_decref (matches);
    matches = wb_complete_matches (complete, "echo 1\n%tra", 11, &start, &end);
    assert (json_array_size (matches) == 0);        //  ... on the first line only
    json_decref (matches);
    matches = wb_complete_matches (complete, "echo 1\n%%wri", 12, &start, &end);
    assert (json_array_size (matches) == 0);        //  %% only on the first line
    json_decref (matches);
    matches = wb_complete_matches (complete, "%%writefile -", 13, &start, &end);
    assert (json_array_size (matches) == 2);        //  the table's flags
    assert (streq (json_string_value (json_array_get (matches, 0)), "--append"));
    assert (streq (json_string_value (json_array_get (matches, 1)), "-a"));
    assert (start == 12);
    json_decref (matches);
    matches = wb_complete_matches (complete, "%%writefile --a", 15, &start, &end);
    assert (json_array_size (matches) == 1);
    assert (streq (json_string_value (json_array_get (matches, 0)), "--append"));
    json_decref (matches);
    //  Each form its own flags, each subcommand from the table
    matches = wb_complete_matches (complete, "%%job --no-", 11, &start, &end);
    assert (json_array_size (matches) == 2);        //  --no-wait, --no-code
    json_decref (matches);
    matches = wb_complete_matches (complete, "%job logs x --fo", 16, &start, &end);
    assert (json_array_size (matches) == 1);
    assert (streq (json_string_value (json_array_get (matches, 0)), "--follow"));
    json_decref (matches);
    matches = wb_complete_matches (complete, "%endpoint re", 12, &start, &end);
    assert (json_array_size (matches) == 1);
    assert (streq (json_string_value (json_array_get (matches, 0)), "retention"));
    json_decref (matches);
    matches = wb_complete_matches (complete, "%%job --code no", 15, &start, &end);
    assert (json_array_size (matches) == 1);        //  a flag's value: a path
    assert (streq (json_string_value (json_array_get (matches, 0)), "notes.txt"));
    json_decref (matches);
    matches = wb_complete_matches (complete, "cat no", 6, &start, &end);
    assert (json_array_size (matches) == 1);
    assert (streq (json_string_value (json_array_get (matches, 0)), "notes.txt"));
    assert (start == 4 && end == 6);
    json_decref (matches);

    //  Inspection
    char *text = wb_complete_inspect ("%%writefile -a x", 3);
    assert (text && wb_starts_with (text, "%%writefile [-a] PATH"));
    free (text);
    assert (wb_complete_inspect ("echo hi", 2) == NULL);

    //  Completeness
    assert (streq (wb_complete_status ("echo hi"), "complete"));
    assert (streq (wb_complete_status ("%lsmagic"), "complete"));
    assert (streq (wb_complete_status ("%%bash"), "incomplete"));
    assert (streq (wb_complete_status ("%%bash\necho hi"), "incomplete"));
    assert (streq (wb_complete_status ("%%bash\necho hi\n"), "complete"));
    assert (streq (wb_complete_status ("echo \"unclosed"), "incomplete"));
    assert (streq (wb_complete_status ("if true; then"), "incomplete"));
    assert (streq (wb_complete_status ("echo a \\"), "incomplete"));
    assert (streq (wb_complete_status ("%env 'x"), "incomplete"));
    assert (streq (wb_complete_status ("fi"), "invalid"));
    //  A cell far over one argument's 128 KiB is asked about whole
    wb_buf_t *big = wb_buf_new ();
    for (int line = 0; line < 30000; line++)
        wb_buf_puts (big, ": xxxxxxxx\n");
    wb_buf_puts (big, "if true; then");
    assert (streq (wb_complete_status (wb_buf_data (big)), "incomplete"));
    wb_buf_puts (big, "\nfi\nfi");
    assert (streq (wb_complete_status (wb_buf_data (big)), "invalid"));
    wb_buf_destroy (&big);


    //  Nothing was created: no workspace for completion to read
    char *workspace = wb_sprintf ("%s/.workbench", scratch);
    assert (access (workspace, F_OK) == -1);
    free (workspace);
    wb_complete_destroy (&complete);
    wb_session_destroy (&session);
    char *cleanup = wb_sprintf ("rm -rf '%s'", scratch);
    assert (system (cleanup) == 0);
    free (cleanup);
}
//  @end
