/*  wb_magics - the cell language: one table of magics, a dispatcher, and
    everything that reads the table (completion, inspection, %lsmagic,
    %help, the command-line tool)

    A wb_magics_t is the interpreter: it owns the session (wb_session_t:
    shell, workspace, experiment, active run) and hands it to each magic's
    handler with the call and the magic's own row of the table. It knows
    nothing of Jupyter: it writes through an output sink (wb_out_t).
*/
#ifndef WB_MAGICS_H
#define WB_MAGICS_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "cell/wb_args.h"
#include "cell/wb_out.h"
#include "cell/wb_shell.h"
#include "store/wb_store.h"
#include "wb_session.h"

typedef struct _wb_magics_t wb_magics_t;
typedef struct _wb_magic_t wb_magic_t;
typedef struct _wb_sub_t wb_sub_t;

//  One invocation of a magic.
typedef struct {
    wb_magics_t *magics;        //  the interpreter running it (for magics
                                //  that run other magics: %time, %job show)
    const wb_magic_t *magic;    //  its row of the magic table
    const wb_sub_t *sub;        //  its subcommand's row, or NULL
    int argc;                   //  words including the name
    char **argv;                //  argv[0] is the name without %; shell-like words
    const char *line;           //  the raw text after the name, untokenised
    const char *body;           //  the cell body for %%magics, NULL for %magics
    wb_args_t *args;            //  its words parsed with the flags of its form
                                //  (the table's), by the dispatcher, which
                                //  owns them; NULL for a RAW magic. For a
                                //  subcommand, position 0 is its name
} wb_call_t;

//  A handler does the work and reports through out. Returns 0, or -1 after
//  it has reported an error through out.
typedef int (wb_magic_fn) (wb_session_t *session, wb_call_t *call, wb_out_t *out);

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
    WB_ARGS_METRIC              //  metric keys (KEY=VALUE words)
} wb_args_kind_t;

//  A subcommand of a magic's line form: %run start, %job logs RUN. The
//  subcommand is the first word after the magic's name (as in git and az);
//  the dispatcher finds its row, parses the words with its flags, checks
//  its arity and calls its handler, which does that subcommand only.
#define WB_SUB_DEFAULT   1      //  what the magic alone means (%model: list)

struct _wb_sub_t {
    const char *name;           //  the word after the magic's name
    wb_magic_fn *handler;       //  does the work
    int arity;                  //  words incl. its name; -N = at least N
    int flags;                  //  WB_SUB_*
    wb_args_kind_t args;        //  what the positional words after it are
    const wb_opt_t *opts;       //  its flags ({NULL}-ended)
    const char *usage;          //  one line: "%job logs RUN [--follow]"
};

//  One row of the magic table. Flags and subcommands are data here, read
//  by the dispatcher (an unknown flag is refused before the handler runs),
//  by the handlers (they parse with wb_magics_opts), by completion, by the
//  usage check of the table's self-test and by the command-line tool
//  (which form of a two-form magic a command is).
struct _wb_magic_t {
    const char *name;           //  without % or %%
    wb_magic_fn *handler;       //  does the work (of its cell form only,
                                //  when its line form has subcommands)
    int arity;                  //  words incl. name; -N = at least N
    int flags;                  //  WB_MAGIC_*
    wb_args_kind_t args;        //  what its positional words are (completion)
    const wb_opt_t *opts;       //  flags of its line form, or of its only form
                                //  ({NULL}-ended); NULL: it reads its words
                                //  itself and takes no flags
    const wb_opt_t *cell_opts;  //  flags of its cell form when it has both
                                //  forms (%%job, %%sweep); NULL: opts
    const wb_sub_t *subs;       //  subcommands of its line form ({NULL}-
                                //  ended), or NULL; its line form is always
                                //  one of them
    const char *usage;          //  one line: "%%writefile [-a] PATH"
    const char *help;           //  a paragraph for %help and inspection
};

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
//  The subcommand of magic named word, or NULL.
const wb_sub_t *
    wb_magics_sub (const wb_magic_t *magic, const char *word);
//  The flags a form of magic takes: its cell form's (cell), else its line
//  form's, of subcommand word when that is one (word may be NULL); NULL
//  when it takes no flags.
const wb_opt_t *
    wb_magics_form_opts (const wb_magic_t *magic, bool cell, const char *word);
//  The flags call may carry (the form and subcommand it is): what its
//  handler parses with. NULL when the magic takes no flags.
const wb_opt_t *
    wb_magics_opts (const wb_call_t *call);
//  How many bytes of text are a magic name (letters, digits, _ and -).
size_t
    wb_magics_name_size (const char *text);
//  The table's self-test (every row well-formed), run by wb_magics_test.
void
    wb_magics_table_test (bool verbose);

//  Completion, inspection and is_complete (wb_complete) may be called from
//  one other thread while a cell runs (the kernel's control channel): they
//  read only what the last cell published, never the session the cell is
//  changing.
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

//  The session its magics run in (lent).
wb_session_t *
    wb_magics_session (wb_magics_t *self);

//  Report a usage error for call's magic through out; returns -1.
int
    wb_magics_usage (wb_call_t *call, wb_out_t *out, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

void
    wb_magics_test (bool verbose);

#endif
