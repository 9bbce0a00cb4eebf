/*  wb_args - shell-like words and --flags, the argument syntax of every magic
    and of the command-line tool

    Words follow sh: blanks separate words; '...' is literal; inside "..."
    a backslash escapes only " \ $ ` (and newline), any other backslash
    stays; outside quotes a backslash escapes the next character, and a
    backslash-newline joins lines. Quoted and unquoted parts next to each
    other make one word (a"b c"d is `ab cd`), and "" is an empty word. A
    lone backslash at the very end stays literal, as in `sh -c`.

    Flags: a value flag takes the next word unless that word is itself one
    of the table's flags (so `--name --limit 5` says "--name needs a value"
    instead of naming something "--limit", while `--sort -metrics.acc`
    takes "-metrics.acc"); `--name=--odd` passes such values. A word
    that reads as a negative number (-5, -0.3, -1e3) is a positional word
    or a value, never a flag.
*/
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wb_args.h"
#include "base/wb_utf8.h"
#include "base/wb_util.h"

//  ---- Words ----

//  A growing NULL-terminated array of words.
typedef struct {
    char **items;               //  the words, NULL-terminated
    int count;                  //  words in items
    size_t room;                //  slots allocated in items
} s_words_t;

//  What scanning a line found at its end.
typedef struct {
    char quote;                 //  the quote left open, 0 when none
    size_t quote_at;            //  byte offset of that quote in the line
    bool backslash;             //  the line ends in a lone backslash
} s_scan_t;

static bool
s_is_blank (char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r'
        || c == '\f' || c == '\v';
}

static void
s_words_push (s_words_t *words, wb_buf_t *word)
{
    if ((size_t) words->count + 2 > words->room) {
        words->room = words->room? words->room * 2: 8;
        words->items = wb_realloc (words->items, words->room * sizeof (char *));
    }
    words->items [words->count++] = wb_strdup (wb_buf_data (word));
    words->items [words->count] = NULL;
    wb_buf_reset (word);
}

//  Scan line as sh would; when words is not NULL, collect the words into
//  it. Returns what was left open at the end.
static s_scan_t
s_scan (const char *line, s_words_t *words)
{
    s_scan_t scan = { 0, 0, false };
    wb_buf_t *word = wb_buf_new ();
    bool in_word = false;       //  a word has started, maybe still empty
    const char *p = line;
    while (*p && !scan.quote) {
        if (s_is_blank (*p)) {
            if (in_word && words)
                s_words_push (words, word);
            in_word = false;
            p++;
        }
        else if (p [0] == '\\' && p [1] == '\n')
            p += 2;             //  line continuation: neither text nor blank
        else if (*p == '\\') {
            in_word = true;
            if (p [1] == 0) {
                scan.backslash = true;
                wb_buf_append (word, p, 1);
                p++;
            }
            else {
                wb_buf_append (word, p + 1, 1);
                p += 2;
            }
        }
        else if (*p == '\'') {
            in_word = true;
            const char *close = strchr (p + 1, '\'');
            if (close) {
                wb_buf_append (word, p + 1, (size_t) (close - p - 1));
                p = close + 1;
            }
            else {
                scan.quote = '\'';
                scan.quote_at = (size_t) (p - line);
            }
        }
        else if (*p == '"') {
            in_word = true;
            const char *open = p++;
            while (*p && *p != '"') {
                if (p [0] == '\\' && p [1] == '\n')
                    p += 2;
                else if (p [0] == '\\' && p [1] && strchr ("\"\\$`", p [1])) {
                    wb_buf_append (word, p + 1, 1);
                    p += 2;
                }
                else
                    wb_buf_append (word, p++, 1);
            }
            if (*p == '"')
                p++;
            else {
                scan.quote = '"';
                scan.quote_at = (size_t) (open - line);
            }
        }
        else {
            in_word = true;
            wb_buf_append (word, p++, 1);
        }
    }
    if (in_word && words && !scan.quote)
        s_words_push (words, word);
    wb_buf_destroy (&word);
    return scan;
}

char **
wb_words_split (const char *line, int *count_p, wb_error_t *err)
{
    assert (line);
    s_words_t words = { NULL, 0, 0 };
    s_scan_t scan = s_scan (line, &words);
    if (scan.quote) {
        wb_words_free (&words.items);
        //  Columns count code points from 1, as an editor shows them
        size_t column = wb_utf8_count (line, scan.quote_at) + 1;
        wb_error_set (err, "unclosed %c quote at column %zu: close it or escape it",
                      scan.quote, column);
        if (count_p)
            *count_p = 0;
        return NULL;
    }
    if (!words.items) {
        words.items = wb_malloc (sizeof (char *));
        words.items [0] = NULL;
    }
    if (count_p)
        *count_p = words.count;
    return words.items;
}

void
wb_words_free (char ***words_p)
{
    assert (words_p);
    char **words = *words_p;
    if (words) {
        for (char **word = words; *word; word++)
            free (*word);
        free (words);
        *words_p = NULL;
    }
}

bool
wb_words_unclosed (const char *line)
{
    assert (line);
    s_scan_t scan = s_scan (line, NULL);
    return scan.quote || scan.backslash;
}

//  ---- Flags ----

//  One row of the option table and what the command line gave it.
typedef struct {
    char *name;                 //  long name, copied from the table
    wb_opt_kind_t kind;         //  how it takes its value
    bool given;                 //  seen on the command line
    char **values;              //  its values (at most one unless MULTI)
    size_t nvalues;             //  number of values
} s_flag_t;

struct _wb_args_t {
    s_flag_t *flags;            //  one per row of the option table
    size_t nflags;              //  rows in the option table
    char **pos;                 //  positional words, copied
    size_t npos;                //  number of positional words
};

//  True when text reads as a negative number: -5, -0.3, -.5, -1e3.
static bool
s_is_negative_number (const char *text)
{
    if (text [0] != '-')
        return false;
    if (!isdigit ((unsigned char) text [1])
    && !(text [1] == '.' && isdigit ((unsigned char) text [2])))
        return false;
    char *end;
    strtod (text, &end);
    return *end == 0;
}

//  True when word would be taken as a flag: a dash and something, but not
//  a negative number.
static bool
s_is_flag (const char *word)
{
    return word [0] == '-' && word [1] && !s_is_negative_number (word);
}

static s_flag_t *
s_find_long (wb_args_t *self, const char *name, size_t size)
{
    for (size_t i = 0; i < self->nflags; i++)
        if (strlen (self->flags [i].name) == size
        &&  memcmp (self->flags [i].name, name, size) == 0)
            return &self->flags [i];
    return NULL;
}

static s_flag_t *
s_find_letter (wb_args_t *self, const wb_opt_t *opts, char letter)
{
    for (size_t i = 0; opts && opts [i].name; i++)
        if (opts [i].letter == letter)
            return &self->flags [i];
    return NULL;
}

//  True when word names a flag of this table (--name, --name=..., -x).
static bool
s_known_flag (wb_args_t *self, const wb_opt_t *opts, const char *word)
{
    if (!s_is_flag (word))
        return false;
    if (word [1] == '-') {
        const char *name = word + 2;
        const char *equals = strchr (name, '=');
        return s_find_long (self, name, equals? (size_t) (equals - name): strlen (name)) != NULL;
    }
    return word [2] == 0 && s_find_letter (self, opts, word [1]) != NULL;
}

static void
s_flag_set (s_flag_t *flag, const char *value)
{
    flag->given = true;
    if (!value)
        return;
    if (flag->kind == WB_OPT_VALUE && flag->nvalues) {
        free (flag->values [0]);
        flag->values [0] = wb_strdup (value);
        return;
    }
    flag->values = wb_realloc (flag->values, (flag->nvalues + 1) * sizeof (char *));
    flag->values [flag->nvalues++] = wb_strdup (value);
}

//  Look up flag by name, which must be in the option table: asking for a
//  flag that was never declared is a programming error.
static s_flag_t *
s_flag (wb_args_t *self, const char *name)
{
    assert (self);
    assert (name);
    s_flag_t *flag = s_find_long (self, name, strlen (name));
    assert (flag);
    return flag;
}

wb_args_t *
wb_args_parse (int argc, char **argv, const wb_opt_t *opts, wb_error_t *err)
{
    assert (argc >= 0);
    assert (argv || argc == 0);
    wb_args_t *self = wb_calloc (1, sizeof (wb_args_t));
    while (opts && opts [self->nflags].name)
        self->nflags++;
    self->flags = wb_calloc (self->nflags, sizeof (s_flag_t));
    for (size_t i = 0; i < self->nflags; i++) {
        self->flags [i].name = wb_strdup (opts [i].name);
        self->flags [i].kind = opts [i].kind;
    }
    self->pos = wb_calloc ((size_t) argc + 1, sizeof (char *));

    bool flags_done = false;    //  after `--` every word is positional
    for (int i = 0; i < argc; i++) {
        const char *word = argv [i];
        assert (word);
        if (flags_done || !s_is_flag (word)) {
            self->pos [self->npos++] = wb_strdup (word);
            continue;
        }
        if (streq (word, "--")) {
            flags_done = true;
            continue;
        }
        s_flag_t *flag;
        const char *value = NULL;   //  an inline --flag=value
        if (word [1] == '-') {
            const char *name = word + 2;
            const char *equals = strchr (name, '=');
            size_t size = equals? (size_t) (equals - name): strlen (name);
            flag = size? s_find_long (self, name, size): NULL;
            if (!flag) {
                if (equals && size)
                    wb_error_set (err, "unknown flag '--%.*s'", (int) size, name);
                else
                    wb_error_set (err, "unknown flag '%s'", word);
                goto failed;
            }
            if (equals) {
                value = equals + 1;
                if (flag->kind == WB_OPT_BOOL) {
                    wb_error_set (err, "--%s takes no value, got '%s'",
                                  flag->name, word);
                    goto failed;
                }
            }
        }
        else {
            flag = word [2]? NULL: s_find_letter (self, opts, word [1]);
            if (!flag) {
                if (word [2] && s_find_long (self, word + 1, strlen (word + 1)))
                    wb_error_set (err, "unknown flag '%s': long flags take two dashes, '-%s'",
                                  word, word);
                else
                    wb_error_set (err, "unknown flag '%s'", word);
                goto failed;
            }
        }
        if (flag->kind != WB_OPT_BOOL && !value) {
            //  The next word is the value unless it is one of our flags:
            //  `--sort -metrics.acc` sorts descending, `--name --limit 5`
            //  forgot the name
            if (i + 1 == argc || s_known_flag (self, opts, argv [i + 1])) {
                wb_error_set (err, "%s needs a value", word);
                goto failed;
            }
            value = argv [++i];
        }
        s_flag_set (flag, value);
    }
    return self;

failed:
    wb_args_destroy (&self);
    return NULL;
}

void
wb_args_destroy (wb_args_t **self_p)
{
    assert (self_p);
    wb_args_t *self = *self_p;
    if (self) {
        for (size_t i = 0; i < self->nflags; i++) {
            for (size_t j = 0; j < self->flags [i].nvalues; j++)
                free (self->flags [i].values [j]);
            free (self->flags [i].values);
            free (self->flags [i].name);
        }
        free (self->flags);
        for (size_t i = 0; i < self->npos; i++)
            free (self->pos [i]);
        free (self->pos);
        free (self);
        *self_p = NULL;
    }
}

bool
wb_args_has (wb_args_t *self, const char *name)
{
    return s_flag (self, name)->given;
}

//  The last value given; for a boolean flag always NULL.
const char *
wb_args_get (wb_args_t *self, const char *name)
{
    s_flag_t *flag = s_flag (self, name);
    return flag->nvalues? flag->values [flag->nvalues - 1]: NULL;
}

size_t
wb_args_count (wb_args_t *self, const char *name)
{
    return s_flag (self, name)->nvalues;
}

const char *
wb_args_nth (wb_args_t *self, const char *name, size_t index)
{
    s_flag_t *flag = s_flag (self, name);
    return index < flag->nvalues? flag->values [index]: NULL;
}

size_t
wb_args_npos (wb_args_t *self)
{
    assert (self);
    return self->npos;
}

const char *
wb_args_pos (wb_args_t *self, size_t index)
{
    assert (self);
    return index < self->npos? self->pos [index]: NULL;
}

//  ---- Values ----

char *
wb_args_kv (const char *text, const char **value_p)
{
    assert (text);
    const char *equals = strchr (text, '=');
    if (!equals || equals == text)
        return NULL;
    if (value_p)
        *value_p = equals + 1;
    return wb_strndup (text, (size_t) (equals - text));
}

int
wb_args_long (const char *text, const char *what, long *value_p, wb_error_t *err)
{
    assert (text);
    assert (what);
    assert (value_p);
    //  strtol would skip leading blanks and accept an empty string
    if (!*text || isspace ((unsigned char) *text))
        return wb_error_set (err, "%s wants a whole number, got '%s'", what, text);
    char *end;
    errno = 0;
    long value = strtol (text, &end, 10);
    if (*end)
        return wb_error_set (err, "%s wants a whole number, got '%s'", what, text);
    if (errno == ERANGE)
        return wb_error_set (err, "%s is out of range, got '%s' (from %ld to %ld)",
                             what, text, LONG_MIN, LONG_MAX);
    *value_p = value;
    return 0;
}

int
wb_args_double (const char *text, const char *what, double *value_p, wb_error_t *err)
{
    assert (text);
    assert (what);
    assert (value_p);
    if (!*text || isspace ((unsigned char) *text))
        return wb_error_set (err, "%s wants a number, got '%s'", what, text);
    char *end;
    double value = strtod (text, &end);
    if (*end)
        return wb_error_set (err, "%s wants a number, got '%s'", what, text);
    //  Overflow gives HUGE_VAL; underflow gives a tiny number, which is fine
    if (!isfinite (value))
        return wb_error_set (err, "%s wants a finite number, got '%s'", what, text);
    *value_p = value;
    return 0;
}

//  @selftest

//  Split line and check it gives exactly the words expected (NULL-ended).
static void
s_check_split (const char *line, const char **expected)
{
    int count;
    wb_error_t err = { "" };
    char **words = wb_words_split (line, &count, &err);
    assert (words);
    assert (!wb_error_isset (&err));
    int index = 0;
    while (expected [index]) {
        assert (words [index]);
        assert (streq (words [index], expected [index]));
        index++;
    }
    assert (words [index] == NULL);
    assert (count == index);
    wb_words_free (&words);
    assert (words == NULL);
}

//  Parse a line against opts; returns the args or NULL with err filled.
static wb_args_t *
s_parse (const char *line, const wb_opt_t *opts, wb_error_t *err)
{
    int count;
    char **words = wb_words_split (line, &count, NULL);
    assert (words);
    wb_args_t *args = wb_args_parse (count, words, opts, err);
    wb_words_free (&words);
    return args;
}

//  Parse a line that must fail with exactly this message.
static void
s_check_fails (const char *line, const wb_opt_t *opts, const char *message)
{
    wb_error_t err = { "" };
    wb_args_t *args = s_parse (line, opts, &err);
    assert (args == NULL);
    if (!streq (err.text, message))
        fprintf (stderr, "wb_args: '%s' gave '%s'\n", line, err.text);
    assert (streq (err.text, message));
}

void
wb_args_test (bool verbose)
{
    //  Words: blanks, quotes, escapes, joins, empty words
    s_check_split ("", (const char *[]) { NULL });
    s_check_split (" \t \n", (const char *[]) { NULL });
    s_check_split ("run  train\t--name  x ",
        (const char *[]) { "run", "train", "--name", "x", NULL });
    s_check_split ("'a b' \"c d\"", (const char *[]) { "a b", "c d", NULL });
    s_check_split ("a\"b c\"d", (const char *[]) { "ab cd", NULL });
    s_check_split ("x'y'\"z\"w", (const char *[]) { "xyzw", NULL });
    s_check_split ("\"\" '' a \"\"", (const char *[]) { "", "", "a", "", NULL });
    s_check_split ("--name=\"\"", (const char *[]) { "--name=", NULL });
    s_check_split ("'it''s'", (const char *[]) { "its", NULL });
    s_check_split ("'a\\b' '\"'", (const char *[]) { "a\\b", "\"", NULL });
    s_check_split ("\"a\\\"b\" \"c\\\\d\" \"\\$x\" \"\\`y\\`\"",
        (const char *[]) { "a\"b", "c\\d", "$x", "`y`", NULL });
    s_check_split ("\"a\\nb\" \"'\"", (const char *[]) { "a\\nb", "'", NULL });
    s_check_split ("a\\ b c\\\"d \\'e\\\\",
        (const char *[]) { "a b", "c\"d", "'e\\", NULL });
    s_check_split ("a \\\n b \"c\\\nd\"", (const char *[]) { "a", "b", "cd", NULL });
    s_check_split ("end\\", (const char *[]) { "end\\", NULL });
    s_check_split ("key=\"two words\" h\xc3\xa9llo '\xe2\x82\xac 5'",
        (const char *[]) { "key=two words", "h\xc3\xa9llo", "\xe2\x82\xac 5", NULL });

    //  Unclosed quotes: NULL and a message with the quote's column
    wb_error_t err = { "" };
    int count = 99;
    char **words = wb_words_split ("say \"hello", &count, &err);
    assert (words == NULL && count == 0);
    assert (streq (err.text, "unclosed \" quote at column 5: close it or escape it"));
    words = wb_words_split ("ok 'it is", NULL, &err);
    assert (words == NULL);
    assert (streq (err.text, "unclosed ' quote at column 4: close it or escape it"));
    //  Columns count code points: "é€ " is 3 columns in 6 bytes
    words = wb_words_split ("\xc3\xa9\xe2\x82\xac \"x", NULL, &err);
    assert (words == NULL);
    assert (streq (err.text, "unclosed \" quote at column 4: close it or escape it"));
    //  A quote inside the other kind does not count; an error needs no err
    assert (wb_words_split ("\"it's\" 'say \"", NULL, NULL) == NULL);
    words = wb_words_split ("\"it's\"", NULL, NULL);
    assert (words && streq (words [0], "it's"));
    wb_words_free (&words);
    wb_words_free (&words);     //  idempotent

    assert (!wb_words_unclosed (""));
    assert (!wb_words_unclosed ("a 'b' \"c\" d\\ e"));
    assert (!wb_words_unclosed ("a\\\\"));
    assert (!wb_words_unclosed ("\"it's\""));
    assert (wb_words_unclosed ("a 'b"));
    assert (wb_words_unclosed ("a \"b\\\""));
    assert (wb_words_unclosed ("a \"b\\"));
    assert (wb_words_unclosed ("a\\"));
    assert (!wb_words_unclosed ("'a\\'")); //  no escapes inside '...'

    //  Flags: every form
    const wb_opt_t opts [] = {
        { "name",  'n', WB_OPT_VALUE },
        { "yes",   'y', WB_OPT_BOOL },
        { "tag",   't', WB_OPT_MULTI },
        { "limit", 0,   WB_OPT_VALUE },
        { "lr",    0,   WB_OPT_VALUE },
        { NULL,    0,   WB_OPT_BOOL }
    };
    wb_args_t *args = s_parse ("train --name a -n b --tag k=v -t x=y --limit=5 "
                               "-y data.csv --lr -0.3 -5 -.5 - -- --yes -n",
                               opts, &err);
    assert (args);
    assert (wb_args_has (args, "name"));
    assert (streq (wb_args_get (args, "name"), "b"));   //  last one wins
    assert (wb_args_count (args, "name") == 1);
    assert (wb_args_has (args, "yes"));
    assert (wb_args_get (args, "yes") == NULL);
    assert (wb_args_count (args, "yes") == 0);
    assert (wb_args_count (args, "tag") == 2);
    assert (streq (wb_args_nth (args, "tag", 0), "k=v"));
    assert (streq (wb_args_nth (args, "tag", 1), "x=y"));
    assert (wb_args_nth (args, "tag", 2) == NULL);
    assert (streq (wb_args_get (args, "tag"), "x=y"));
    assert (streq (wb_args_get (args, "limit"), "5"));
    assert (streq (wb_args_get (args, "lr"), "-0.3")); //  negative value
    assert (wb_args_npos (args) == 7);
    const char *positional [] = { "train", "data.csv", "-5", "-.5", "-", "--yes", "-n" };
    for (size_t i = 0; i < 7; i++)
        assert (streq (wb_args_pos (args, i), positional [i]));
    assert (wb_args_pos (args, 7) == NULL);
    wb_args_destroy (&args);
    assert (args == NULL);
    wb_args_destroy (&args);    //  idempotent

    //  Nothing given; empty values; values that came from quotes
    args = s_parse ("--name= --tag \"\" --limit '5 6'", opts, &err);
    assert (args);
    assert (streq (wb_args_get (args, "name"), ""));
    assert (wb_args_count (args, "tag") == 1);
    assert (streq (wb_args_nth (args, "tag", 0), ""));
    assert (streq (wb_args_get (args, "limit"), "5 6"));
    assert (!wb_args_has (args, "yes"));
    assert (wb_args_get (args, "lr") == NULL);
    assert (wb_args_npos (args) == 0);
    wb_args_destroy (&args);
    //  ... and --name=--odd is the way to pass a value that looks like a flag
    args = s_parse ("--name=--odd --lr=-1e-3 --tag=a=b", opts, &err);
    assert (args);
    assert (streq (wb_args_get (args, "name"), "--odd"));
    assert (streq (wb_args_get (args, "lr"), "-1e-3"));
    assert (streq (wb_args_get (args, "tag"), "a=b"));
    wb_args_destroy (&args);
    args = wb_args_parse (0, NULL, opts, &err);
    assert (args && wb_args_npos (args) == 0 && !wb_args_has (args, "yes"));
    wb_args_destroy (&args);
    args = s_parse ("-x -- b", NULL, &err);
    assert (args == NULL);
    args = s_parse ("a -1", NULL, &err);
    assert (args && wb_args_npos (args) == 2);
    wb_args_destroy (&args);

    //  Flags: every error
    s_check_fails ("--foo", opts, "unknown flag '--foo'");
    s_check_fails ("a --foo=1", opts, "unknown flag '--foo'");
    s_check_fails ("---name x", opts, "unknown flag '---name'");
    s_check_fails ("--=x", opts, "unknown flag '--=x'");
    s_check_fails ("-x", opts, "unknown flag '-x'");
    s_check_fails ("-nx", opts, "unknown flag '-nx'");
    s_check_fails ("-name x", opts,
                   "unknown flag '-name': long flags take two dashes, '--name'");
    s_check_fails ("-inf", opts, "unknown flag '-inf'");
    s_check_fails ("--name", opts, "--name needs a value");
    s_check_fails ("-n", opts, "-n needs a value");
    s_check_fails ("--tag", opts, "--tag needs a value");
    s_check_fails ("--name --yes", opts, "--name needs a value");
    s_check_fails ("--limit -y", opts, "--limit needs a value");
    {
        //  A value that starts with a dash but is no flag of ours is a value
        int n_taken;
        char **taken_words = wb_words_split ("--name -metrics.acc", &n_taken, NULL);
        wb_args_t *taken = wb_args_parse (n_taken, taken_words, opts, NULL);
        assert (taken && streq (wb_args_get (taken, "name"), "-metrics.acc"));
        wb_args_destroy (&taken);
        wb_words_free (&taken_words);
    }
    s_check_fails ("--yes=1", opts, "--yes takes no value, got '--yes=1'");
    s_check_fails ("--yes=", opts, "--yes takes no value, got '--yes='");
    //  A failed parse needs no err
    assert (s_parse ("--foo", opts, NULL) == NULL);

    //  key=value words
    const char *value = NULL;
    char *key = wb_args_kv ("lr=0.1", &value);
    assert (key && streq (key, "lr") && streq (value, "0.1"));
    free (key);
    key = wb_args_kv ("url=http://x?a=b", &value);
    assert (key && streq (key, "url") && streq (value, "http://x?a=b"));
    free (key);
    key = wb_args_kv ("empty=", &value);
    assert (key && streq (key, "empty") && streq (value, ""));
    free (key);
    value = "untouched";
    assert (wb_args_kv ("=5", &value) == NULL);
    assert (wb_args_kv ("novalue", &value) == NULL);
    assert (wb_args_kv ("", &value) == NULL);
    assert (streq (value, "untouched"));

    //  Whole numbers
    long number = 0;
    assert (wb_args_long ("42", "--limit", &number, &err) == 0 && number == 42);
    assert (wb_args_long ("-7", "--limit", &number, &err) == 0 && number == -7);
    assert (wb_args_long ("+3", "--limit", &number, &err) == 0 && number == 3);
    assert (wb_args_long ("9223372036854775807", "--limit", &number, &err) == 0);
    assert (number == LONG_MAX);
    number = 1;
    assert (wb_args_long ("x", "--limit", &number, &err) == -1);
    assert (streq (err.text, "--limit wants a whole number, got 'x'"));
    assert (number == 1);
    assert (wb_args_long ("", "--limit", &number, &err) == -1);
    assert (streq (err.text, "--limit wants a whole number, got ''"));
    assert (wb_args_long ("12abc", "--limit", &number, &err) == -1);
    assert (streq (err.text, "--limit wants a whole number, got '12abc'"));
    assert (wb_args_long ("1.5", "--limit", &number, &err) == -1);
    assert (wb_args_long (" 5", "--limit", &number, &err) == -1);
    assert (wb_args_long ("5 ", "--limit", &number, &err) == -1);
    assert (wb_args_long ("99999999999999999999", "--limit", &number, &err) == -1);
    char *expected = wb_sprintf ("--limit is out of range, got '99999999999999999999' "
                                 "(from %ld to %ld)", LONG_MIN, LONG_MAX);
    assert (streq (err.text, expected));
    free (expected);
    assert (wb_args_long ("-99999999999999999999", "--limit", &number, NULL) == -1);
    assert (number == 1);

    //  Real numbers
    double real = 0;
    assert (wb_args_double ("0.25", "--lr", &real, &err) == 0 && real == 0.25);
    assert (wb_args_double ("-1e-3", "--lr", &real, &err) == 0 && real == -1e-3);
    assert (wb_args_double ("3", "--lr", &real, &err) == 0 && real == 3);
    assert (wb_args_double ("1e-400", "--lr", &real, &err) == 0);   //  underflow
    real = 7;
    assert (wb_args_double ("fast", "--lr", &real, &err) == -1);
    assert (streq (err.text, "--lr wants a number, got 'fast'"));
    assert (wb_args_double ("0.1x", "--lr", &real, &err) == -1);
    assert (streq (err.text, "--lr wants a number, got '0.1x'"));
    assert (wb_args_double ("", "--lr", &real, &err) == -1);
    assert (wb_args_double (" 1", "--lr", &real, &err) == -1);
    assert (wb_args_double ("inf", "--lr", &real, &err) == -1);
    assert (streq (err.text, "--lr wants a finite number, got 'inf'"));
    assert (wb_args_double ("nan", "--lr", &real, &err) == -1);
    assert (wb_args_double ("1e999", "--lr", &real, &err) == -1);
    assert (streq (err.text, "--lr wants a finite number, got '1e999'"));
    assert (real == 7);

    if (verbose)
        printf ("wb_args: last error was \"%s\"\n", err.text);
}
//  @end
