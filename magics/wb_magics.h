/*  wb_magics - the cell language: one table of magics, a dispatcher, and
    everything that reads the table (completion, inspection, %lsmagic,
    %help, the command-line tool)

    A wb_magics_t is the interpreter state a notebook keeps between cells:
    the shell session and, later, the open workspace. It knows nothing of
    Jupyter: it writes through an output sink (wb_out_t).
*/
#ifndef WB_MAGICS_H
#define WB_MAGICS_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "cell/wb_out.h"
#include "cell/wb_shell.h"
#include "store/wb_store.h"

typedef struct _wb_magics_t wb_magics_t;

//  One invocation of a magic.
typedef struct {
    int argc;                   //  words including the name
    char **argv;                //  argv[0] is the name without %; shell-like words
    const char *line;           //  the raw text after the name, untokenised
    const char *body;           //  the cell body for %%magics, NULL for %magics
} wb_call_t;

//  A handler does the work and reports through out. Returns 0, or -1 after
//  it has reported an error through out.
typedef int (wb_magic_fn) (wb_magics_t *self, wb_call_t *call, wb_out_t *out);

//  Flags of a magic.
#define WB_MAGIC_LINE    1      //  usable as %name on a line
#define WB_MAGIC_CELL    2      //  usable as %%name on a cell's first line
#define WB_MAGIC_READS   4      //  reads the workspace
#define WB_MAGIC_WRITES  8      //  changes the workspace or the session
#define WB_MAGIC_RAW    16      //  takes its line as raw text (no arity check)

//  What a magic's positional words are, for completion.
typedef enum {
    WB_ARGS_PATH,               //  file paths (the default)
    WB_ARGS_RUN,                //  run ids and names
    WB_ARGS_EXPERIMENT,         //  experiment names
    WB_ARGS_METRIC,             //  metric keys (KEY=VALUE words)
    WB_ARGS_WORDS               //  fixed subcommand words from the usage line
} wb_args_kind_t;

//  One row of the magic table.
typedef struct {
    const char *name;           //  without % or %%
    wb_magic_fn *handler;       //  does the work
    int arity;                  //  words incl. name; -N = at least N
    int flags;                  //  WB_MAGIC_*
    wb_args_kind_t args;        //  what its positional words are (completion)
    const char *usage;          //  one line: "%%writefile [-a] PATH"
    const char *help;           //  a paragraph for %help and inspection
} wb_magic_t;

wb_magics_t *
    wb_magics_new (void);
void
    wb_magics_destroy (wb_magics_t **self_p);

//  Run a cell. Returns 0, or -1 after an error was reported through out.
int
    wb_magics_execute (wb_magics_t *self, const char *code, wb_out_t *out);
//  Run one magic from words (the command-line tool): argv[0] is the name;
//  body is the cell body for a cell magic (NULL for a line magic).
int
    wb_magics_call (wb_magics_t *self, int argc, char **argv,
                    const char *body, wb_out_t *out);

//  The magic table row for name (without %), or NULL.
const wb_magic_t *
    wb_magics_lookup (const char *name);
//  The whole table, ended by a row with name NULL.
const wb_magic_t *
    wb_magics_table (void);

//  Completion, inspection and is_complete may be called from one other
//  thread while a cell runs (the kernel's control channel): they read only
//  what the last cell published, never the session the cell is changing.
//
//  Completion at byte offset cursor: fills *start and *end (byte offsets of
//  the text the matches replace) and returns a new JSON array of strings.
json_t *
    wb_magics_complete (wb_magics_t *self, const char *code, size_t cursor,
                        size_t *start, size_t *end);
//  Help for what is under the cursor, or NULL; caller owns the return value.
char *
    wb_magics_inspect (wb_magics_t *self, const char *code, size_t cursor);
//  "complete", "incomplete" or "invalid" for a cell typed so far.
const char *
    wb_magics_is_complete (wb_magics_t *self, const char *code);

//  The shell session (lent).
wb_shell_t *
    wb_magics_shell (wb_magics_t *self);

//  The open workspace, opening (creating) it on first use; NULL after
//  reporting an error through out (out may be NULL: then nothing is
//  created and NULL means "no workspace yet").
wb_store_t *
    wb_magics_store (wb_magics_t *self, wb_out_t *out);
//  Switch to the workspace folder at path (created if missing). 0 or -1
//  after reporting through out.
int
    wb_magics_open_store (wb_magics_t *self, const char *path, wb_out_t *out);
//  The current experiment (lent; "Default" until set).
const char *
    wb_magics_experiment (wb_magics_t *self);
void
    wb_magics_set_experiment (wb_magics_t *self, const char *name);
//  The shell session's exported environment as a JSON object of strings
//  (what jobs start with; caller owns).
json_t *
    wb_magics_environment (wb_magics_t *self);
//  The active interactive run id (lent), or NULL.
const char *
    wb_magics_active_run (wb_magics_t *self);
void
    wb_magics_set_active_run (wb_magics_t *self, const char *id);
//  Terminal sessions (the command-line tool) do not start interactive
//  runs on their own: each command is a process of its own.
void
    wb_magics_set_terminal (wb_magics_t *self, bool terminal);
bool
    wb_magics_terminal (wb_magics_t *self);
//  The folder the session started in (the notebook's folder; lent).
const char *
    wb_magics_home (wb_magics_t *self);

//  Report a usage error for call's magic through out; returns -1.
int
    wb_magics_usage (wb_call_t *call, wb_out_t *out, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

void
    wb_magics_test (bool verbose);

#endif
