/*  wb_args - shell-like words and --flags, the argument syntax of every magic
    and of the command-line tool

    Words: split on blanks, with '...' and "..." quoting and backslash
    escapes as in sh. Flags: `--flag value`, `--flag=value`, `-f value`,
    boolean flags, repeatable flags; everything else is a positional word
    (including `key=value` words, which callers read with wb_args_kv).
*/
#ifndef WB_ARGS_H
#define WB_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include "base/wb_error.h"

//  ---- Words ----

//  Split line into words; returns a NULL-terminated array (free it with
//  wb_words_free) and sets *count_p; NULL with err filled on an unclosed
//  quote ("unclosed ' quote at column N: close it or escape it").
char **
    wb_words_split (const char *line, int *count_p, wb_error_t *err);
void
    wb_words_free (char ***words_p);
//  True when line ends inside a quote (or after a lone backslash): the
//  input is incomplete.
bool
    wb_words_unclosed (const char *line);

//  ---- Flags ----

//  How a flag takes its value.
typedef enum {
    WB_OPT_BOOL,                //  --yes: no value
    WB_OPT_VALUE,               //  --name N: one value, last one wins
    WB_OPT_MULTI                //  --tag K=V: repeatable, all values kept
} wb_opt_kind_t;

typedef struct {
    const char *name;           //  long name without dashes, e.g. "name"
    char letter;                //  short form (-n), 0 for none
    wb_opt_kind_t kind;         //  how it takes its value
} wb_opt_t;

typedef struct _wb_args_t wb_args_t;

//  Parse argv[0..argc) against opts (an array ended by {NULL}). argv[0] is
//  taken as a positional word too, so pass argv + 1 to skip a command name.
//  `--` ends flags. Returns NULL with err filled on an unknown flag
//  ("unknown flag '--foo'"), a missing value ("--name needs a value"), or a
//  value given to a boolean flag.
wb_args_t *
    wb_args_parse (int argc, char **argv, const wb_opt_t *opts, wb_error_t *err);
void
    wb_args_destroy (wb_args_t **self_p);
//  Was the flag given?
bool
    wb_args_has (wb_args_t *self, const char *name);
//  The flag's value (lent), or NULL when absent.
const char *
    wb_args_get (wb_args_t *self, const char *name);
//  A repeatable flag's values: count and i-th (lent).
size_t
    wb_args_count (wb_args_t *self, const char *name);
const char *
    wb_args_nth (wb_args_t *self, const char *name, size_t index);
//  Positional words: count and i-th (lent).
size_t
    wb_args_npos (wb_args_t *self);
const char *
    wb_args_pos (wb_args_t *self, size_t index);

//  Split "key=value" into a fresh key (caller frees) and the value (a
//  pointer into text); NULL if there is no '=' or the key is empty.
char *
    wb_args_kv (const char *text, const char **value_p);

//  Parse a number; -1 with err ("--limit wants a whole number, got 'x'")
//  when text is not one. what names the argument in the message.
int
    wb_args_long (const char *text, const char *what, long *value_p, wb_error_t *err);
int
    wb_args_double (const char *text, const char *what, double *value_p, wb_error_t *err);

void
    wb_args_test (bool verbose);

#endif
