/*  wb_query - the run filter and sort language of `%runs --filter EXPR
    --sort KEYS`, compiled to a parameterised SQL fragment

    Keys
      metrics.KEY      the metric's latest value (metric_latest.value);
                       metrics.KEY.min and metrics.KEY.max read its lowest
                       and highest value instead (write metrics.`x.min` for
                       a metric that is really called "x.min")
      params.KEY       a parameter; text, compared as text or as a number
      tags.KEY         a tag; text, like params
      status name id kind experiment compute parent
                       text attributes; status compares ignoring case,
                       experiment is the experiment's name, parent the
                       parent run's id
      created started ended
                       times in unix seconds, or dates like '2024-05-01',
                       '2024-05-01 12:00' or '2024-05-01T12:00:30Z' (UTC)
      duration         ended - started in seconds (none while running)
    The prefixes metric., param., tag. also work, attributes. (attribute.,
    attr., run.) may precede an attribute, and MLflow's run_name, run_id,
    experiment_name, start_time (= created) and end_time are synonyms.
    After the prefix a key runs on over letters, digits, _ - / . (so
    metrics.val/loss works); other characters need backticks or double
    quotes around the key: metrics.`val loss`, tags."my tag".

    Comparisons
      KEY = == != <> < <= > >= VALUE
      KEY [NOT] LIKE 'pattern'     % any run of characters, _ one character,
      KEY [NOT] ILIKE 'pattern'    LIKE is case-sensitive, ILIKE is not
      KEY [NOT] IN (VALUE, ...)
      KEY IS [NOT] NULL            for metrics, params and tags: the run
                                   has no such key (has one)
    Values are numbers (1, -2.5, .5, 1e-3) or quoted text, '...' or "...",
    with the quote doubled or backslash-escaped inside. Metrics and
    duration take numbers only. Params and tags: = != IN and LIKE compare
    text (a number matches as written: params.lr = 0.001 matches '0.001',
    not '1e-3'); < <= > >= with a number compare numerically and only match
    values that are numbers, with quoted text they compare text.

    A comparison on a run that lacks the key (or whose attribute is empty)
    is false, whatever the operator; NOT then makes it true, so
    `not metrics.acc > 0.9` includes runs that never logged acc.
    Combine with AND, OR, NOT and parentheses; NOT binds tighter than AND,
    AND tighter than OR.

    Sort: KEY [ASC|DESC] or -KEY, comma-separated. Params sort numerically
    when their values are numbers (numbers before text); runs without a
    value sort last in both directions.

    Implementation: the source is cut into tokens, then a recursive-descent
    parser writes SQL text as it goes. The text holds only structure, fixed
    column names and operators; every key and value the user wrote goes to
    a list of bound values, in the order its ? appears in the text.
*/
#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sqlite3.h>
#include "wb_query.h"
#include "base/wb_utf8.h"
#include "base/wb_util.h"

#define S_MAX_DEPTH     100     //  deepest nesting of ( and NOT in a filter
#define S_SNIPPET_MAX   60      //  code points of user text quoted in a message

static const char *s_default_order = "r.created DESC, r.seq DESC";

//  ---- Keys: the attributes and the tables behind metrics./params./tags. ----

//  What a key's values are; decides the literals and operators it takes.
typedef enum {
    S_TEXT,                     //  text, compared as written
    S_TEXT_NOCASE,              //  text, compared ignoring ASCII case
    S_NUMBER,                   //  a number
    S_TIME                      //  unix seconds; a quoted date is converted
} s_type_t;

//  name, SQL over alias r, type: one row per spelling of an attribute
typedef struct {
    const char *name;           //  what the user writes, matched ignoring case
    const char *sql;            //  its value as an SQL expression over r
    s_type_t type;              //  what its values are
} s_attr_t;

#define S_EXPERIMENT_SQL "(SELECT x.name FROM experiments x WHERE x.id = r.experiment_id)"
#define S_PARENT_SQL     "(SELECT pr.id FROM runs pr WHERE pr.seq = r.parent)"

static const s_attr_t s_attrs [] = {
    { "status",          "r.status",            S_TEXT_NOCASE },
    { "name",            "r.name",              S_TEXT },
    { "run_name",        "r.name",              S_TEXT },
    { "id",              "r.id",                S_TEXT },
    { "run_id",          "r.id",                S_TEXT },
    { "kind",            "r.kind",              S_TEXT },
    { "experiment",      S_EXPERIMENT_SQL,      S_TEXT },
    { "experiment_name", S_EXPERIMENT_SQL,      S_TEXT },
    { "compute",         "r.compute",           S_TEXT },
    { "parent",          S_PARENT_SQL,          S_TEXT },
    { "created",         "r.created",           S_TIME },
    { "start_time",      "r.created",           S_TIME },
    { "started",         "r.started",           S_TIME },
    { "ended",           "r.ended",             S_TIME },
    { "end_time",        "r.ended",             S_TIME },
    { "duration",        "(r.ended - r.started)", S_NUMBER },
    { NULL, NULL, S_TEXT }
};

//  Where a key's value comes from.
typedef enum {
    S_ATTR,                     //  a column (or subquery) of the run
    S_METRIC,                   //  metric_latest
    S_PARAM,                    //  params
    S_TAG                       //  tags
} s_source_t;

//  prefix, source: the words that may come before a key's first dot
typedef struct {
    const char *name;           //  matched ignoring case
    s_source_t source;          //  what it selects
} s_prefix_t;

static const s_prefix_t s_prefixes [] = {
    { "metrics", S_METRIC },    { "metric", S_METRIC },
    { "params", S_PARAM },      { "param", S_PARAM },
    { "tags", S_TAG },          { "tag", S_TAG },
    { "attributes", S_ATTR },   { "attribute", S_ATTR },
    { "attr", S_ATTR },         { "run", S_ATTR },
    { NULL, S_ATTR }
};

//  The key-value table behind each source, indexed by s_source_t: the
//  FROM ... WHERE of a subquery that finds the run's row for one key (the
//  key is its one ?), and the value column. S_ATTR has none.
typedef struct {
    const char *from;           //  "table alias WHERE alias.run = r.seq AND alias.key = ?"
    const char *value;          //  the value column, alias.value
} s_table_t;

static const s_table_t s_tables [] = {
    [S_ATTR]   = { NULL, NULL },
    [S_METRIC] = { "metric_latest m WHERE m.run = r.seq AND m.key = ?", "m.value" },
    [S_PARAM]  = { "params p WHERE p.run = r.seq AND p.key = ?", "p.value" },
    [S_TAG]    = { "tags t WHERE t.run = r.seq AND t.key = ?", "t.value" }
};

//  A text value that reads as a number, as SQL: comparing a TEXT column
//  with a REAL expression gives the column numeric affinity, which turns
//  well-formed numbers ('10', ' 1e-3 ') into numbers and leaves other text
//  ('adam', '1-2', '') as text, never equal to a number.
#define S_IS_NUMBER(column)  column " = CAST(" column " AS REAL)"

static const char *s_attr_hint =
    "status, name, id, kind, experiment, compute, parent, created, started, "
    "ended, duration, or metrics./params./tags.";

//  A key as resolved from what the user wrote.
typedef struct {
    s_source_t source;          //  where its value comes from
    char *name;                 //  metric/param/tag key, unescaped; NULL for attributes
    const char *column;         //  value column inside the subquery (m.value, m.min ...)
    const s_attr_t *attr;       //  the attribute, for S_ATTR
    s_type_t type;              //  what its values are
    char *shown;                //  the key as written, shortened, for messages
} s_key_t;

//  ---- Tokens ----

typedef enum {
    S_END,                      //  end of the source
    S_WORD,                     //  a key or a keyword
    S_STRING,                   //  quoted text
    S_NUMBER_LIT,               //  a number
    S_OP,                       //  = == != <> < <= > >=
    S_LPAREN,                   //  (
    S_RPAREN,                   //  )
    S_COMMA,                    //  ,
    S_MINUS,                    //  - before a sort key
    S_PLUS                      //  + before a sort key
} s_kind_t;

typedef struct {
    s_kind_t kind;              //  what it is
    size_t at;                  //  byte offset of its first character
    size_t size;                //  its length in bytes in the source
    char *text;                 //  S_STRING: the value, unescaped; else NULL
    double number;              //  S_NUMBER_LIT: the value
} s_token_t;

//  A value to bind to one ?.
typedef struct {
    char *text;                 //  the value as text, or NULL for a number
    double number;              //  the value when text is NULL
} s_value_t;

struct _wb_query_t {
    char *where;                //  SQL boolean expression over r
    char *order;                //  SQL ORDER BY list
    s_value_t *values;          //  values for each ?, where's then order's
    size_t nvalues;             //  values in use
    size_t room;                //  values allocated
    size_t nwhere;              //  how many of the values belong to where
};

//  The state of compiling one filter or one sort.
typedef struct {
    const char *what;           //  "filter" or "sort", starts every message
    const char *text;           //  the source
    s_token_t *tokens;          //  its tokens, the last one S_END
    size_t ntokens;             //  tokens in use
    size_t room;                //  tokens allocated
    size_t next;                //  index of the token being looked at
    int depth;                  //  current nesting of ( and NOT
    wb_query_t *query;          //  receives the bound values
    wb_error_t *err;            //  where a message goes; may be NULL
} s_parser_t;

//  ---- Messages ----

//  Fill err with "what: message"; returns -1.
static int
s_fail (s_parser_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static int
s_fail (s_parser_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *message = wb_vsprintf (format, args);
    va_end (args);
    wb_error_set (self->err, "%s: %s", self->what, message);
    free (message);
    return -1;
}

//  Column of byte offset at, counting code points from 1 as editors do.
static size_t
s_column (s_parser_t *self, size_t at)
{
    return wb_utf8_count (self->text, at) + 1;
}

//  "at column N", or "at the end" for the S_END token, into place.
static void
s_place (s_parser_t *self, const s_token_t *token, char *place, size_t size)
{
    if (token->kind == S_END)
        snprintf (place, size, "at the end");
    else
        snprintf (place, size, "at column %zu", s_column (self, token->at));
}

//  Copy of text[0..size) for a message, cut after S_SNIPPET_MAX code points
//  (on a code point boundary, so the message stays valid UTF-8). Caller
//  frees.
static char *
s_snippet (const char *text, size_t size)
{
    char *copy = wb_strndup (text, size);
    if (wb_utf8_count (copy, size) <= S_SNIPPET_MAX)
        return copy;
    size_t cut = wb_utf8_offset (copy, S_SNIPPET_MAX);
    char *shorter = wb_sprintf ("%.*s...", (int) cut, copy);
    free (copy);
    return shorter;
}

//  A token as written, for a message; caller frees.
static char *
s_token_snippet (s_parser_t *self, const s_token_t *token)
{
    if (token->kind == S_STRING)
        return s_snippet (token->text, strlen (token->text));
    return s_snippet (self->text + token->at, token->size);
}

//  ---- Lexer ----

static bool
s_is_key_char (char c)
{
    return isalnum ((unsigned char) c) || (unsigned char) c >= 0x80
        || c == '_' || c == '-' || c == '/' || c == '.';
}

//  Byte offset just after the quoted text that starts at text[at] (the
//  quote), or 0 when it is not closed. Inside, the quote doubled or a
//  backslash before any quote or backslash stands for that character.
static size_t
s_quoted_end (const char *text, size_t at)
{
    char quote = text [at];
    size_t index = at + 1;
    while (text [index]) {
        if (text [index] == '\\' && text [index + 1]
        &&  strchr ("'\"`\\", text [index + 1]))
            index += 2;
        else
        if (text [index] == quote) {
            if (text [index + 1] != quote)
                return index + 1;
            index += 2;
        }
        else
            index++;
    }
    return 0;
}

//  The text inside quoted[0..size), quotes included, unescaped; caller frees.
static char *
s_unquote (const char *quoted, size_t size)
{
    assert (size >= 2);
    char quote = quoted [0];
    wb_buf_t *buf = wb_buf_new ();
    for (size_t index = 1; index < size - 1; index++) {
        if (quoted [index] == '\\' && strchr ("'\"`\\", quoted [index + 1]))
            index++;
        else
        if (quoted [index] == quote)
            index++;            //  doubled quote: keep one
        wb_buf_append (buf, quoted + index, 1);
    }
    return wb_buf_detach (&buf);
}

static void
s_push_token (s_parser_t *self, s_token_t token)
{
    if (self->ntokens == self->room) {
        self->room = self->room? self->room * 2: 16;
        self->tokens = wb_realloc (self->tokens, self->room * sizeof (s_token_t));
    }
    self->tokens [self->ntokens++] = token;
}

//  Length in bytes of the UTF-8 character that starts with byte c.
static size_t
s_char_size (unsigned char c)
{
    return c >= 0xF0? 4: c >= 0xE0? 3: c >= 0xC0? 2: 1;
}

//  Scan a number at text[at]: [sign] digits [. digits] [e [sign] digits].
//  Fills token; -1 with a message when letters or dots follow it.
static int
s_lex_number (s_parser_t *self, s_token_t *token)
{
    const char *text = self->text;
    size_t end = token->at;
    if (text [end] == '-' || text [end] == '+')
        end++;
    while (isdigit ((unsigned char) text [end]))
        end++;
    if (text [end] == '.') {
        end++;
        while (isdigit ((unsigned char) text [end]))
            end++;
    }
    if ((text [end] == 'e' || text [end] == 'E')
    &&  (isdigit ((unsigned char) text [end + 1])
      || ((text [end + 1] == '-' || text [end + 1] == '+')
        && isdigit ((unsigned char) text [end + 2])))) {
        end += 2;
        while (isdigit ((unsigned char) text [end]))
            end++;
    }
    char *copy = wb_strndup (text + token->at, end - token->at);
    token->number = strtod (copy, NULL);
    free (copy);
    bool glued = s_is_key_char (text [end]) && text [end] != '-' && text [end] != '/';
    if (glued || !isfinite (token->number)) {
        while (s_is_key_char (text [end]))
            end++;
        char *shown = s_snippet (text + token->at, end - token->at);
        s_fail (self, "bad number '%s' at column %zu", shown, s_column (self, token->at));
        free (shown);
        return -1;
    }
    token->kind = S_NUMBER_LIT;
    token->size = end - token->at;
    return 0;
}

//  Scan a key: a letter, then key characters; a backtick or double quote
//  right after a dot quotes a part that may hold any character.
static int
s_lex_word (s_parser_t *self, s_token_t *token)
{
    const char *text = self->text;
    size_t end = token->at;
    while (true) {
        if (s_is_key_char (text [end]))
            end++;
        else
        if ((text [end] == '`' || text [end] == '"') && text [end - 1] == '.') {
            size_t close = s_quoted_end (text, end);
            if (!close)
                return s_fail (self, "unclosed quote at column %zu", s_column (self, end));
            end = close;
        }
        else
            break;
    }
    token->kind = S_WORD;
    token->size = end - token->at;
    return 0;
}

//  Cut self->text into self->tokens, ending with S_END. 0, or -1 with a
//  message.
static int
s_lex (s_parser_t *self)
{
    const char *text = self->text;
    size_t at = 0;
    while (true) {
        while (isspace ((unsigned char) text [at]))
            at++;
        s_token_t token = { S_END, at, 0, NULL, 0 };
        char c = text [at];
        char c1 = c? text [at + 1]: 0;
        bool digit1 = isdigit ((unsigned char) c1)
                   || (c1 == '.' && isdigit ((unsigned char) text [at + 2]));
        if (c == 0) {
            s_push_token (self, token);
            return 0;
        }
        else
        if (c == '(' || c == ')' || c == ',') {
            token.kind = c == '('? S_LPAREN: c == ')'? S_RPAREN: S_COMMA;
            token.size = 1;
        }
        else
        if (c == '=' || c == '<' || c == '>' || (c == '!' && c1 == '=')) {
            token.kind = S_OP;
            token.size = 1;
            if ((c == '=' && c1 == '=') || (c == '!' && c1 == '=')
            ||  (c == '<' && (c1 == '=' || c1 == '>')) || (c == '>' && c1 == '='))
                token.size = 2;
        }
        else
        if (c == '\'' || c == '"') {
            size_t close = s_quoted_end (text, at);
            if (!close)
                return s_fail (self, "unclosed quote at column %zu", s_column (self, at));
            token.kind = S_STRING;
            token.size = close - at;
            token.text = s_unquote (text + at, token.size);
        }
        else
        if (isdigit ((unsigned char) c) || (c == '.' && digit1)
        || ((c == '-' || c == '+') && digit1)) {
            if (s_lex_number (self, &token))
                return -1;
        }
        else
        if (c == '-' || c == '+') {
            token.kind = c == '-'? S_MINUS: S_PLUS;
            token.size = 1;
        }
        else
        if (isalpha ((unsigned char) c) || c == '_' || (unsigned char) c >= 0x80) {
            if (s_lex_word (self, &token))
                return -1;
        }
        else
        if (c == '`')
            return s_fail (self, "unexpected '`' at column %zu: backticks quote "
                           "the key after its prefix, as in metrics.`val loss`",
                           s_column (self, at));
        else
            return s_fail (self, "unexpected character '%.*s' at column %zu",
                           (int) s_char_size ((unsigned char) c), text + at,
                           s_column (self, at));
        s_push_token (self, token);
        at += token.size;
    }
}

//  ---- Parser helpers ----

static s_token_t *
s_peek (s_parser_t *self)
{
    return &self->tokens [self->next];
}

//  The current token, and move past it (never past S_END).
static s_token_t *
s_take (s_parser_t *self)
{
    s_token_t *token = &self->tokens [self->next];
    if (token->kind != S_END)
        self->next++;
    return token;
}

//  True when token is the keyword word, in any case.
static bool
s_keyword (s_parser_t *self, const s_token_t *token, const char *word)
{
    return token->kind == S_WORD && token->size == strlen (word)
        && strncasecmp (self->text + token->at, word, token->size) == 0;
}

//  True when token is a word reserved by the filter language.
static bool
s_reserved (s_parser_t *self, const s_token_t *token)
{
    static const char *words [] = {
        "and", "or", "not", "like", "ilike", "in", "is", "null", NULL
    };
    for (const char **word = words; *word; word++)
        if (s_keyword (self, token, *word))
            return true;
    return false;
}

//  Keep value for the next ?; takes ownership of text (may be NULL).
static void
s_bind (s_parser_t *self, char *text, double number)
{
    wb_query_t *query = self->query;
    if (query->nvalues == query->room) {
        query->room = query->room? query->room * 2: 8;
        query->values = wb_realloc (query->values, query->room * sizeof (s_value_t));
    }
    query->values [query->nvalues].text = text;
    query->values [query->nvalues].number = number;
    query->nvalues++;
}

static bool
s_ends_with_nocase (const char *text, size_t size, const char *suffix)
{
    size_t length = strlen (suffix);
    return size > length && strncasecmp (text + size - length, suffix, length) == 0;
}

static const s_attr_t *
s_attr_find (const char *name, size_t size)
{
    for (const s_attr_t *attr = s_attrs; attr->name; attr++)
        if (strlen (attr->name) == size && strncasecmp (attr->name, name, size) == 0)
            return attr;
    return NULL;
}

static void
s_key_free (s_key_t *key)
{
    free (key->name);
    free (key->shown);
    key->name = NULL;
    key->shown = NULL;
}

//  Resolve the word token into key. 0, or -1 with a message.
static int
s_key_resolve (s_parser_t *self, const s_token_t *token, s_key_t *key)
{
    memset (key, 0, sizeof (s_key_t));
    const char *start = self->text + token->at;
    size_t size = token->size;
    key->shown = s_snippet (start, size);
    //  Quotes only follow a dot, so the first dot ends the prefix
    const char *dot = memchr (start, '.', size);
    if (!dot) {
        key->source = S_ATTR;
        key->attr = s_attr_find (start, size);
        if (!key->attr)
            return s_fail (self, "unknown attribute '%s' (try %s)", key->shown, s_attr_hint);
        key->type = key->attr->type;
        return 0;
    }
    const s_prefix_t *prefix = s_prefixes;
    while (prefix->name && !(strlen (prefix->name) == (size_t) (dot - start)
                             && strncasecmp (prefix->name, start, (size_t) (dot - start)) == 0))
        prefix++;
    if (!prefix->name) {
        char *shown = s_snippet (start, (size_t) (dot - start));
        s_fail (self, "unknown prefix '%s.' (try metrics., params., tags. or attributes.)", shown);
        free (shown);
        return -1;
    }
    key->source = prefix->source;
    const char *rest = dot + 1;
    size_t rest_size = size - (size_t) (rest - start);
    const char *tail = rest + rest_size;    //  what follows a quoted key
    size_t tail_size = 0;
    if (rest_size && (rest [0] == '`' || rest [0] == '"')) {
        size_t close = s_quoted_end (rest, 0);
        assert (close && close <= rest_size);   //  the lexer saw it closed
        key->name = s_unquote (rest, close);
        tail = rest + close;
        tail_size = rest_size - close;
    }
    else
        key->name = wb_strndup (rest, rest_size);

    //  A metric's .min or .max: all that follows a quoted key, or the end
    //  of a bare one (which must keep a name before it)
    key->column = s_tables [key->source].value;
    size_t name_size = strlen (key->name);
    if (key->source == S_METRIC) {
        if (tail_size == 4
        && (strncasecmp (tail, ".min", 4) == 0 || strncasecmp (tail, ".max", 4) == 0)) {
            key->column = tolower ((unsigned char) tail [2]) == 'i'? "m.min": "m.max";
            tail_size = 0;
        }
        else
        if (!tail_size
        && (s_ends_with_nocase (key->name, name_size, ".min")
         || s_ends_with_nocase (key->name, name_size, ".max"))) {
            bool is_min = tolower ((unsigned char) key->name [name_size - 2]) == 'i';
            key->column = is_min? "m.min": "m.max";
            key->name [name_size - 4] = 0;
        }
    }
    if (tail_size) {
        char *shown = s_snippet (tail, tail_size);
        s_fail (self, "unexpected '%s' after the quoted key at column %zu%s", shown,
                s_column (self, (size_t) (tail - self->text)),
                key->source == S_METRIC? " (only .min or .max may follow a metric)": "");
        free (shown);
        return -1;
    }
    if (!*key->name) {
        char *shown = s_snippet (start, (size_t) (rest - start));
        s_fail (self, "missing key after '%s' at column %zu", shown,
                s_column (self, (size_t) (rest - self->text)));
        free (shown);
        return -1;
    }
    if (key->source == S_ATTR) {
        key->attr = s_attr_find (key->name, strlen (key->name));
        if (!key->attr) {
            char *shown = s_snippet (key->name, strlen (key->name));
            s_fail (self, "unknown attribute '%s' (try %s)", shown, s_attr_hint);
            free (shown);
            return -1;
        }
        key->type = key->attr->type;
        free (key->name);
        key->name = NULL;
    }
    else
        key->type = key->source == S_METRIC? S_NUMBER: S_TEXT;
    return 0;
}

//  ---- Values ----

static bool
s_is_leap (int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

//  Days from 1970-01-01 to the given civil date (proleptic Gregorian).
static long
s_days_from_civil (int year, int month, int day)
{
    year -= month <= 2;
    long era = (year >= 0? year: year - 399) / 400;
    long yoe = year - era * 400;
    long doy = (153 * (month > 2? month - 3: month + 9) + 2) / 5 + day - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

//  Read 'YYYY-MM-DD' with an optional ' HH:MM[:SS[.frac]]' (or T instead
//  of the blank) and an optional Z, as UTC, into unix seconds.
static bool
s_parse_time (const char *text, double *when_p)
{
    static const int mdays [] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int year, month, day, hour = 0, minute = 0, used = 0;
    double second = 0;
    if (!isdigit ((unsigned char) text [0])
    ||  sscanf (text, "%4d-%2d-%2d%n", &year, &month, &day, &used) != 3)
        return false;
    const char *p = text + used;
    if ((*p == ' ' || *p == 'T') && isdigit ((unsigned char) p [1])) {
        if (sscanf (p + 1, "%2d:%2d%n", &hour, &minute, &used) != 2)
            return false;
        p += 1 + used;
        if (*p == ':' && isdigit ((unsigned char) p [1])) {
            char *end;
            second = strtod (p + 1, &end);
            p = end;
        }
    }
    if (*p == 'Z')
        p++;
    if (*p || month < 1 || month > 12 || day < 1
    ||  day > mdays [month - 1] + (month == 2 && s_is_leap (year))
    ||  hour > 23 || minute > 59 || !(second >= 0 && second < 61))
        return false;
    *when_p = (double) s_days_from_civil (year, month, day) * 86400.0
            + hour * 3600.0 + minute * 60.0 + second;
    return true;
}

//  Check that token is a value key takes, after the token before (an
//  operator, '(' or ','), and bind it. 0, or -1 with a message.
//  as_number binds a number literal as a number even for a text key.
static int
s_bind_value (s_parser_t *self, const s_key_t *key, const s_token_t *before,
              const s_token_t *token, bool as_number)
{
    char place [64];
    s_place (self, token, place, sizeof (place));
    bool numeric = key->type == S_NUMBER || key->type == S_TIME;
    if (token->kind != S_STRING && token->kind != S_NUMBER_LIT
    &&  !(token->kind == S_WORD && numeric)) {
        char *after = s_snippet (self->text + before->at, before->size);
        char *got = s_token_snippet (self, token);
        if (token->kind == S_WORD)
            s_fail (self, "expected a value after '%s' %s (put text in quotes: '%s')",
                    after, place, got);
        else
            s_fail (self, "expected a value after '%s' %s", after, place);
        free (after);
        free (got);
        return -1;
    }
    if (token->kind == S_NUMBER_LIT) {
        if (numeric || as_number)
            s_bind (self, NULL, token->number);
        else
            s_bind (self, wb_strndup (self->text + token->at, token->size), 0);
        return 0;
    }
    double when;
    if (key->type == S_TIME && token->kind == S_STRING && s_parse_time (token->text, &when)) {
        s_bind (self, NULL, when);
        return 0;
    }
    if (numeric) {
        char *got = s_token_snippet (self, token);
        if (key->type == S_TIME)
            s_fail (self, "'%s' compares with a number (unix seconds) or a date like "
                    "'2024-05-01 12:00', got '%s'", key->shown, got);
        else
            s_fail (self, "'%s' compares with a number, got '%s'", key->shown, got);
        free (got);
        return -1;
    }
    s_bind (self, wb_strdup (token->text), 0);
    return 0;
}

//  A LIKE pattern as a GLOB pattern (% -> *, _ -> ?, * ? [ made literal),
//  lowered when fold, since SQLite's LIKE ignores case and GLOB does not.
//  Caller frees.
static char *
s_like_to_glob (const char *pattern, bool fold)
{
    wb_buf_t *buf = wb_buf_new ();
    for (const char *c = pattern; *c; c++) {
        if (*c == '%')
            wb_buf_puts (buf, "*");
        else
        if (*c == '_')
            wb_buf_puts (buf, "?");
        else
        if (*c == '*' || *c == '?' || *c == '[')
            wb_buf_printf (buf, "[%c]", *c);
        else {
            //  ASCII only, as SQLite's lower() without ICU
            char lowered = fold && *c >= 'A' && *c <= 'Z'? (char) (*c + 32): *c;
            wb_buf_append (buf, &lowered, 1);
        }
    }
    return wb_buf_detach (&buf);
}

//  ---- Filter ----

//  What a comparison does.
typedef enum {
    S_CMP,                      //  = <> < <= > >=
    S_IN,                       //  IN (...)
    S_LIKE,                     //  LIKE
    S_ILIKE,                    //  ILIKE
    S_ISNULL                    //  IS NULL
} s_compare_t;

static char *s_parse_or (s_parser_t *self);

//  The SQL spelling of an operator token.
static const char *
s_op_sql (s_parser_t *self, const s_token_t *token)
{
    const char *op = self->text + token->at;
    if (op [0] == '=')
        return "=";
    if (op [0] == '!' || (op [0] == '<' && token->size == 2 && op [1] == '>'))
        return "<>";
    if (op [0] == '<')
        return token->size == 2? "<=": "<";
    return token->size == 2? ">=": ">";
}

//  One comparison, KEY followed by what it is compared with. Returns SQL
//  (caller frees) or NULL with a message.
static char *
s_parse_comparison (s_parser_t *self)
{
    const s_token_t *word = s_take (self);
    s_key_t key;
    if (s_key_resolve (self, word, &key)) {
        s_key_free (&key);
        return NULL;
    }
    char place [64];
    s_compare_t test;
    bool negate = false;        //  NOT LIKE, NOT IN, IS NOT NULL
    const char *op = NULL;      //  for S_CMP
    const s_token_t *token = s_peek (self);
    const s_token_t *before = token;
    if (token->kind == S_OP) {
        test = S_CMP;
        op = s_op_sql (self, s_take (self));
    }
    else
    if (s_keyword (self, token, "is")) {
        test = S_ISNULL;
        s_take (self);
        if (s_keyword (self, s_peek (self), "not")) {
            negate = true;
            s_take (self);
        }
        if (!s_keyword (self, s_peek (self), "null")) {
            s_place (self, s_peek (self), place, sizeof (place));
            s_fail (self, "expected NULL or NOT NULL after 'IS' %s", place);
            s_key_free (&key);
            return NULL;
        }
        s_take (self);
    }
    else {
        if (s_keyword (self, token, "not")) {
            negate = true;
            s_take (self);
            token = s_peek (self);
        }
        if (s_keyword (self, token, "like"))
            test = S_LIKE;
        else
        if (s_keyword (self, token, "ilike"))
            test = S_ILIKE;
        else
        if (s_keyword (self, token, "in"))
            test = S_IN;
        else {
            s_place (self, token, place, sizeof (place));
            if (negate)
                s_fail (self, "expected LIKE, ILIKE or IN after 'NOT' %s", place);
            else
                s_fail (self, "expected an operator after '%s' %s", key.shown, place);
            s_key_free (&key);
            return NULL;
        }
        before = s_take (self);
    }
    bool numeric = key.type == S_NUMBER || key.type == S_TIME;
    if ((test == S_LIKE || test == S_ILIKE) && numeric) {
        s_fail (self, "'%s' is a number: %s works on text", key.shown,
                test == S_LIKE? "LIKE": "ILIKE");
        s_key_free (&key);
        return NULL;
    }

    //  The left side: the attribute, or a subquery over the key's table
    wb_buf_t *sql = wb_buf_new ();
    const char *column = key.attr? key.attr->sql: key.column;
    if (key.source != S_ATTR) {
        wb_buf_printf (sql, "%sEXISTS (SELECT 1 FROM %s",
                       test == S_ISNULL && !negate? "NOT ": "", s_tables [key.source].from);
        s_bind (self, wb_strdup (key.name), 0);
        if (test == S_ISNULL) {
            wb_buf_puts (sql, ")");
            s_key_free (&key);
            return wb_buf_detach (&sql);
        }
        wb_buf_puts (sql, " AND ");
    }
    else
    if (test == S_ISNULL) {
        wb_buf_printf (sql, "(%s IS %sNULL)", column, negate? "NOT ": "");
        s_key_free (&key);
        return wb_buf_detach (&sql);
    }
    else
        wb_buf_puts (sql, "IFNULL(");

    //  The comparison
    const char *nocase = key.type == S_TEXT_NOCASE? " COLLATE NOCASE": "";
    int rc = 0;
    token = s_peek (self);
    if (test == S_CMP) {
        //  A param or tag ordered against a number: only values that are
        //  numbers, compared as numbers
        bool ordering = (op [0] == '<' && op [1] != '>') || op [0] == '>';
        bool cast = ordering && token->kind == S_NUMBER_LIT
                 && (key.source == S_PARAM || key.source == S_TAG);
        if (cast)
            wb_buf_printf (sql, "%s = CAST(%s AS REAL) AND CAST(%s AS REAL) %s ?",
                           column, column, column, op);
        else
            wb_buf_printf (sql, "%s%s %s ?", column, nocase, op);
        rc = s_bind_value (self, &key, before, s_take (self), cast);
    }
    else
    if (test == S_LIKE || test == S_ILIKE) {
        bool fold = test == S_ILIKE || key.type == S_TEXT_NOCASE;
        wb_buf_printf (sql, fold? "lower(%s) %sGLOB ?": "%s %sGLOB ?",
                       column, negate? "NOT ": "");
        size_t index = self->query->nvalues;
        rc = s_bind_value (self, &key, before, s_take (self), false);
        if (rc == 0) {
            s_value_t *value = &self->query->values [index];
            char *glob = s_like_to_glob (value->text, fold);
            free (value->text);
            value->text = glob;
        }
    }
    else {
        assert (test == S_IN);
        if (token->kind != S_LPAREN) {
            s_place (self, token, place, sizeof (place));
            rc = s_fail (self, "expected '(' after 'IN' %s", place);
        }
        else {
            wb_buf_printf (sql, "%s%s %sIN (", column, nocase, negate? "NOT ": "");
            before = s_take (self);
            while (rc == 0) {
                rc = s_bind_value (self, &key, before, s_take (self), false);
                wb_buf_puts (sql, "?");
                before = s_peek (self);
                if (rc == 0 && before->kind == S_COMMA) {
                    s_take (self);
                    wb_buf_puts (sql, ", ");
                }
                else
                if (rc == 0 && before->kind == S_RPAREN) {
                    s_take (self);
                    wb_buf_puts (sql, ")");
                    break;
                }
                else
                if (rc == 0) {
                    s_place (self, before, place, sizeof (place));
                    rc = s_fail (self, "expected ',' or ')' in the IN list %s", place);
                }
            }
        }
    }
    wb_buf_puts (sql, key.source == S_ATTR? ", 0)": ")");
    s_key_free (&key);
    if (rc) {
        wb_buf_destroy (&sql);
        return NULL;
    }
    return wb_buf_detach (&sql);
}

//  NOT, a parenthesised filter, or a comparison.
static char *
s_parse_not (s_parser_t *self)
{
    char place [64];
    const s_token_t *token = s_peek (self);
    if (++self->depth > S_MAX_DEPTH) {
        s_place (self, token, place, sizeof (place));
        s_fail (self, "too deeply nested %s", place);
        return NULL;
    }
    char *sql = NULL;
    if (s_keyword (self, token, "not")) {
        s_take (self);
        char *inner = s_parse_not (self);
        if (inner)
            sql = wb_sprintf ("NOT %s", inner);
        free (inner);
    }
    else
    if (token->kind == S_LPAREN) {
        const s_token_t *open = s_take (self);
        char *inner = s_parse_or (self);
        if (inner && s_peek (self)->kind != S_RPAREN) {
            s_place (self, s_peek (self), place, sizeof (place));
            s_fail (self, "expected ')' %s (to close '(' at column %zu)",
                    place, s_column (self, open->at));
        }
        else
        if (inner) {
            s_take (self);
            sql = wb_sprintf ("(%s)", inner);
        }
        free (inner);
    }
    else
    if (token->kind == S_WORD && !s_reserved (self, token))
        sql = s_parse_comparison (self);
    else {
        s_place (self, token, place, sizeof (place));
        s_fail (self, "expected a key (metrics.X, params.X, tags.X or an attribute) %s",
                place);
    }
    self->depth--;
    return sql;
}

//  Comparisons joined by AND (and by OR in s_parse_or). SQL's precedence
//  is ours, so only the user's parentheses are written.
static char *
s_parse_and (s_parser_t *self)
{
    char *sql = s_parse_not (self);
    while (sql && s_keyword (self, s_peek (self), "and")) {
        s_take (self);
        char *right = s_parse_not (self);
        char *both = right? wb_sprintf ("%s AND %s", sql, right): NULL;
        free (sql);
        free (right);
        sql = both;
    }
    return sql;
}

static char *
s_parse_or (s_parser_t *self)
{
    char *sql = s_parse_and (self);
    while (sql && s_keyword (self, s_peek (self), "or")) {
        s_take (self);
        char *right = s_parse_and (self);
        char *both = right? wb_sprintf ("%s OR %s", sql, right): NULL;
        free (sql);
        free (right);
        sql = both;
    }
    return sql;
}

static char *
s_compile_filter (s_parser_t *self)
{
    if (s_peek (self)->kind == S_END)
        return wb_strdup ("1");
    char *sql = s_parse_or (self);
    const s_token_t *token = s_peek (self);
    if (sql && token->kind != S_END) {
        if (token->kind == S_RPAREN)
            s_fail (self, "unexpected ')' at column %zu", s_column (self, token->at));
        else
            s_fail (self, "expected AND, OR or the end at column %zu",
                    s_column (self, token->at));
        free (sql);
        sql = NULL;
    }
    return sql;
}

//  ---- Sort ----

//  One sort key's value as SQL into sql, binding its key.
static void
s_sort_value (s_parser_t *self, const s_key_t *key, wb_buf_t *sql)
{
    if (key->source == S_ATTR) {
        wb_buf_printf (sql, "%s%s", key->attr->sql,
                       key->type == S_TEXT_NOCASE? " COLLATE NOCASE": "");
        return;
    }
    if (key->source == S_PARAM)
        //  Numbers by value, before text
        wb_buf_printf (sql, "(SELECT CASE WHEN " S_IS_NUMBER ("p.value")
                       " THEN CAST(p.value AS REAL) ELSE p.value END FROM %s)",
                       s_tables [S_PARAM].from);
    else
        wb_buf_printf (sql, "(SELECT %s FROM %s)", key->column, s_tables [key->source].from);
    s_bind (self, wb_strdup (key->name), 0);
}

static char *
s_compile_sort (s_parser_t *self)
{
    if (s_peek (self)->kind == S_END)
        return wb_strdup (s_default_order);
    char place [64];
    wb_buf_t *sql = wb_buf_new ();
    while (true) {
        const s_token_t *token = s_peek (self);
        const s_token_t *sign = NULL;
        if (token->kind == S_MINUS || token->kind == S_PLUS) {
            sign = s_take (self);
            token = s_peek (self);
        }
        if (token->kind != S_WORD) {
            s_place (self, token, place, sizeof (place));
            s_fail (self, "expected a key %s", place);
            break;
        }
        s_key_t key;
        if (s_key_resolve (self, s_take (self), &key)) {
            s_key_free (&key);
            break;
        }
        bool descending = sign && sign->kind == S_MINUS;
        token = s_peek (self);
        if (s_keyword (self, token, "asc") || s_keyword (self, token, "desc")) {
            if (sign) {
                s_fail (self, "use either '%c' or ASC/DESC, not both, at column %zu",
                        self->text [sign->at], s_column (self, token->at));
                s_key_free (&key);
                break;
            }
            descending = s_keyword (self, s_take (self), "desc");
        }
        s_sort_value (self, &key, sql);
        s_key_free (&key);
        wb_buf_puts (sql, descending? " DESC NULLS LAST, ": " ASC NULLS LAST, ");
        token = s_peek (self);
        if (token->kind == S_END) {
            wb_buf_puts (sql, s_default_order);
            return wb_buf_detach (&sql);
        }
        if (token->kind != S_COMMA) {
            s_fail (self, "expected ',' or the end at column %zu", s_column (self, token->at));
            break;
        }
        s_take (self);
    }
    wb_buf_destroy (&sql);
    return NULL;
}

//  ---- The query ----

//  Compile source (NULL counts as blank) with compile into *sql_p.
static int
s_compile (wb_query_t *self, const char *what, const char *source,
           char *(*compile) (s_parser_t *), char **sql_p, wb_error_t *err)
{
    s_parser_t parser = { what, source? source: "", NULL, 0, 0, 0, 0, self, err };
    if (s_lex (&parser) == 0)
        *sql_p = compile (&parser);
    for (size_t index = 0; index < parser.ntokens; index++)
        free (parser.tokens [index].text);
    free (parser.tokens);
    return *sql_p? 0: -1;
}

wb_query_t *
wb_query_new (const char *filter, const char *sort, wb_error_t *err)
{
    wb_query_t *self = wb_calloc (1, sizeof (wb_query_t));
    if (s_compile (self, "filter", filter, s_compile_filter, &self->where, err)) {
        wb_query_destroy (&self);
        return NULL;
    }
    self->nwhere = self->nvalues;
    if (s_compile (self, "sort", sort, s_compile_sort, &self->order, err)) {
        wb_query_destroy (&self);
        return NULL;
    }
    return self;
}

void
wb_query_destroy (wb_query_t **self_p)
{
    assert (self_p);
    wb_query_t *self = *self_p;
    if (self) {
        for (size_t index = 0; index < self->nvalues; index++)
            free (self->values [index].text);
        free (self->values);
        free (self->where);
        free (self->order);
        free (self);
        *self_p = NULL;
    }
}

const char *
wb_query_where (wb_query_t *self)
{
    assert (self);
    return self->where;
}

const char *
wb_query_order (wb_query_t *self)
{
    assert (self);
    return self->order;
}

//  Bind values [0, count) from index first on.
static int
s_bind_range (wb_query_t *self, sqlite3_stmt *stmt, int first, size_t count)
{
    assert (self);
    assert (stmt);
    assert (first >= 1);
    int index = first;
    for (size_t value = 0; value < count; value++, index++) {
        const s_value_t *bound = &self->values [value];
        int rc = bound->text
            ? sqlite3_bind_text (stmt, index, bound->text, -1, SQLITE_TRANSIENT)
            : sqlite3_bind_double (stmt, index, bound->number);
        if (rc != SQLITE_OK)
            return -1;
    }
    return index;
}

int
wb_query_bind (wb_query_t *self, sqlite3_stmt *stmt, int first)
{
    assert (self);
    return s_bind_range (self, stmt, first, self->nvalues);
}

int
wb_query_bind_where (wb_query_t *self, sqlite3_stmt *stmt, int first)
{
    assert (self);
    return s_bind_range (self, stmt, first, self->nwhere);
}

//  @selftest

static const char *s_test_schema =
    "CREATE TABLE experiments (id INTEGER PRIMARY KEY, name TEXT UNIQUE, created REAL);"
    "CREATE TABLE runs (seq INTEGER PRIMARY KEY, id TEXT UNIQUE, experiment_id INTEGER,"
    "    name TEXT, kind TEXT, status TEXT, parent INTEGER, compute TEXT, command TEXT,"
    "    snapshot TEXT, error TEXT, created REAL, started REAL, ended REAL,"
    "    owner_pid INTEGER, owner_start INTEGER, owner_host TEXT);"
    "CREATE TABLE params (run INTEGER, key TEXT, value TEXT, PRIMARY KEY (run, key));"
    "CREATE TABLE tags (run INTEGER, key TEXT, value TEXT, PRIMARY KEY (run, key));"
    "CREATE TABLE metric_latest (run INTEGER, key TEXT, value REAL, step INTEGER,"
    "    time REAL, min REAL, max REAL, count INTEGER, PRIMARY KEY (run, key));";

//  Six runs in two experiments; run N has id NNNNNNNN. Durations: 100,
//  500, 10, none (running), 300, none (queued).
static const char *s_test_data =
    "INSERT INTO experiments VALUES (1, 'mnist', 0), (2, 'cifar', 0);"
    "INSERT INTO runs (seq, id, experiment_id, name, kind, status, parent, compute,"
    "    created, started, ended) VALUES"
    "    (1, '11111111', 1, 'baseline',  'train', 'finished', NULL, 'local', 1000, 1000, 1100),"
    "    (2, '22222222', 1, 'wide',      'train', 'finished', NULL, 'gpu-1', 2000, 2000, 2500),"
    "    (3, '33333333', 1, 'it''s deep', 'train', 'failed',  NULL, 'gpu-1', 3000, 3010, 3020),"
    "    (4, '44444444', 2, 'Sweep-1',   'sweep', 'running',  NULL, NULL,    4000, 4000, NULL),"
    "    (5, '55555555', 2, 'trial-1',   'trial', 'finished', 4,    'local', 5000, 5000, 5300),"
    "    (6, '66666666', 2, 'trial-2',   'trial', 'queued',   4,    NULL,    6000, NULL, NULL);"
    "INSERT INTO params VALUES"
    "    (1, 'lr', '0.1'),  (1, 'opt', 'sgd'),  (1, 'layers', '2'),"
    "    (2, 'lr', '0.01'), (2, 'opt', 'adam'), (2, 'layers', '10'),"
    "    (3, 'lr', '1e-3'), (3, 'opt', 'adam'), (3, 'layers', '20'),"
    "    (5, 'lr', '0.05'), (5, 'opt', 'Adam'), (5, 'x', 'a'' OR 1=1 --');"
    "INSERT INTO tags VALUES"
    "    (1, 'team', 'vision'), (1, 'note', 'say \"hi\"'),"
    "    (2, 'team', 'vision'), (5, 'team', 'search');"
    "INSERT INTO metric_latest (run, key, value, min, max) VALUES"
    "    (1, 'acc', 0.90, 0.5, 0.9), (1, 'loss', 0.30, 0.3, 1.0),"
    "    (1, 'val loss', 0.35, 0.35, 1.1), (1, 'val/loss', 0.4, 0.4, 1.2),"
    "    (2, 'acc', 0.95, 0.6, 0.95), (2, 'loss', 0.20, 0.2, 0.9),"
    "    (2, 'val loss', 0.25, 0.25, 0.8),"
    "    (3, 'acc', 0.50, 0.1, 0.5), (3, 'loss', 1.5, 0.9, 2.0),"
    "    (5, 'acc', 0.80, 0.4, 0.8), (5, 'loss', 0.40, 0.4, 0.7);";

//  The ids of the runs filter and sort select, blank-separated, as the
//  caller's query would list them; the filter alone sorts by seq.
static char *
s_test_ids (sqlite3 *db, const char *filter, const char *sort, bool verbose)
{
    wb_error_t err = { "" };
    wb_query_t *query = wb_query_new (filter, sort, &err);
    if (!query)
        fprintf (stderr, "wb_query: '%s' / '%s' failed: %s\n", filter, sort, err.text);
    assert (query);
    assert (!wb_error_isset (&err));
    char *sql = wb_sprintf ("SELECT r.id FROM runs r JOIN experiments e"
                            " ON e.id = r.experiment_id WHERE %s ORDER BY %s",
                            wb_query_where (query), sort? wb_query_order (query): "r.seq");
    if (verbose)
        printf ("\n    filter '%s' sort '%s'\n    %s", filter? filter: "", sort? sort: "", sql);
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        fprintf (stderr, "wb_query: %s: %s\n", sql, sqlite3_errmsg (db));
    assert (rc == SQLITE_OK);
    int next = sort? wb_query_bind (query, stmt, 1): wb_query_bind_where (query, stmt, 1);
    assert (next == sqlite3_bind_parameter_count (stmt) + 1);
    wb_buf_t *ids = wb_buf_new ();
    while (sqlite3_step (stmt) == SQLITE_ROW)
        wb_buf_printf (ids, "%s%s", wb_buf_size (ids)? " ": "",
                       (const char *) sqlite3_column_text (stmt, 0));
    sqlite3_finalize (stmt);
    free (sql);
    wb_query_destroy (&query);
    assert (query == NULL);
    return wb_buf_detach (&ids);
}

//  The runs a filter selects must be exactly expected (run numbers 1-6,
//  blank-separated, in seq order).
static void
s_check_filter (sqlite3 *db, const char *filter, const char *expected, bool verbose)
{
    char *ids = s_test_ids (db, filter, NULL, verbose);
    //  Run N has id NNNNNNNN
    wb_buf_t *want = wb_buf_new ();
    for (const char *c = expected; *c; c++)
        if (*c != ' ')
            wb_buf_printf (want, "%s%c%c%c%c%c%c%c%c", wb_buf_size (want)? " ": "",
                           *c, *c, *c, *c, *c, *c, *c, *c);
    if (!streq (ids, wb_buf_data (want)))
        fprintf (stderr, "wb_query: filter '%s' gave '%s', expected '%s'\n",
                 filter, ids, wb_buf_data (want));
    assert (streq (ids, wb_buf_data (want)));
    wb_buf_destroy (&want);
    free (ids);
}

//  Likewise for the order a sort gives to all runs.
static void
s_check_sort (sqlite3 *db, const char *sort, const char *expected, bool verbose)
{
    char *ids = s_test_ids (db, "", sort, verbose);
    //  "11111111 22222222" -> "1 2"
    wb_buf_t *got = wb_buf_new ();
    for (size_t index = 0; index < strlen (ids); index += 9)
        wb_buf_printf (got, "%s%c", wb_buf_size (got)? " ": "", ids [index]);
    free (ids);
    if (!streq (wb_buf_data (got), expected))
        fprintf (stderr, "wb_query: sort '%s' gave '%s', expected '%s'\n",
                 sort, wb_buf_data (got), expected);
    assert (streq (wb_buf_data (got), expected));
    wb_buf_destroy (&got);
}

//  filter and sort must fail with exactly this message.
static void
s_check_error (const char *filter, const char *sort, const char *message)
{
    wb_error_t err = { "" };
    wb_query_t *query = wb_query_new (filter, sort, &err);
    if (query || !streq (err.text, message))
        fprintf (stderr, "wb_query: '%s' / '%s' gave '%s'\n", filter, sort, err.text);
    assert (query == NULL);
    assert (streq (err.text, message));
    assert (wb_utf8_valid (err.text, strlen (err.text)));
    //  Without an error struct it fails the same way
    assert (wb_query_new (filter, sort, NULL) == NULL);
}

void
wb_query_test (bool verbose)
{
    sqlite3 *db = NULL;
    assert (sqlite3_open (":memory:", &db) == SQLITE_OK);
    assert (sqlite3_exec (db, s_test_schema, NULL, NULL, NULL) == SQLITE_OK);
    assert (sqlite3_exec (db, s_test_data, NULL, NULL, NULL) == SQLITE_OK);

    //  Nothing given: every run, newest first
    wb_query_t *query = wb_query_new (NULL, NULL, NULL);
    assert (query);
    assert (streq (wb_query_where (query), "1"));
    assert (streq (wb_query_order (query), "r.created DESC, r.seq DESC"));
    wb_query_destroy (&query);
    wb_query_destroy (&query);
    assert (query == NULL);
    s_check_filter (db, "", "1 2 3 4 5 6", verbose);
    s_check_filter (db, "  \t ", "1 2 3 4 5 6", verbose);

    //  Metrics; a run without the metric never matches a comparison...
    s_check_filter (db, "metrics.acc > 0.85", "1 2", verbose);
    s_check_filter (db, "metrics.acc != 0.5", "1 2 5", verbose);
    s_check_filter (db, "metrics.acc>5e-1", "1 2 5", verbose);
    s_check_filter (db, "metrics.acc > -1", "1 2 3 5", verbose);
    s_check_filter (db, "metrics.acc in (0.5, 0.95)", "2 3", verbose);
    s_check_filter (db, "metrics.acc NOT IN (0.5, 0.95)", "1 5", verbose);
    //  ...but NOT turns that false into true
    s_check_filter (db, "not metrics.acc > 0.85", "3 4 5 6", verbose);
    s_check_filter (db, "metrics.acc IS NULL", "4 6", verbose);
    s_check_filter (db, "metrics.acc is not null", "1 2 3 5", verbose);
    s_check_filter (db, "metrics.loss.max > 1.9", "3", verbose);
    s_check_filter (db, "metrics.loss.MIN < 1 and metrics.loss > 1", "3", verbose);
    s_check_filter (db, "metrics.`val loss` < 0.3", "2", verbose);
    s_check_filter (db, "metrics.\"val loss\" > 0", "1 2", verbose);
    s_check_filter (db, "metrics.`val loss`.max >= 1.1", "1", verbose);
    s_check_filter (db, "metrics.val/loss > 0", "1", verbose);
    s_check_filter (db, "metrics.précision > 0", "", verbose);

    //  Combining: precedence, parentheses, case
    s_check_filter (db, "metrics.acc >= 0.9 and params.opt = 'adam'", "2", verbose);
    s_check_filter (db, "metrics.acc < 0.6 or status = 'running'", "3 4", verbose);
    s_check_filter (db, "(status = 'finished' or status = 'failed') and not (compute = 'local')",
                    "2 3", verbose);
    s_check_filter (db, "tags.team = 'vision' and metrics.loss < 0.25 or tags.team = 'search'",
                    "2 5", verbose);
    s_check_filter (db, "tags.team = 'vision' and (metrics.loss < 0.25 or tags.team = 'search')",
                    "2", verbose);
    s_check_filter (db, "METRICS.acc > 0.85 AND NOT Status = 'FAILED'", "1 2", verbose);
    s_check_filter (db, "((metrics.acc > 0.85))", "1 2", verbose);
    s_check_filter (db, "not not metrics.acc > 0.85", "1 2", verbose);
    s_check_filter (db, "not compute = 'local'", "2 3 4 6", verbose);

    //  Attributes and their synonyms
    s_check_filter (db, "status = 'FINISHED'", "1 2 5", verbose);
    s_check_filter (db, "status IN ('running', 'queued')", "4 6", verbose);
    s_check_filter (db, "status NOT IN ('finished')", "3 4 6", verbose);
    s_check_filter (db, "experiment = 'cifar'", "4 5 6", verbose);
    s_check_filter (db, "attributes.run_name = 'wide'", "2", verbose);
    s_check_filter (db, "attribute.`name` == \"wide\"", "2", verbose);
    s_check_filter (db, "run_id = '33333333'", "3", verbose);
    s_check_filter (db, "id = 33333333", "3", verbose);
    s_check_filter (db, "kind = 'trial' and parent = '44444444'", "5 6", verbose);
    s_check_filter (db, "compute IS NULL", "4 6", verbose);
    s_check_filter (db, "compute <> 'local'", "2 3", verbose);

    //  LIKE is case-sensitive, ILIKE is not; * ? [ are plain characters
    s_check_filter (db, "name LIKE 'trial-%'", "5 6", verbose);
    s_check_filter (db, "name like 'sweep%'", "", verbose);
    s_check_filter (db, "name ILIKE 'sweep%'", "4", verbose);
    s_check_filter (db, "name like 't_ial-_'", "5 6", verbose);
    s_check_filter (db, "name NOT LIKE '%-%'", "1 2 3", verbose);
    s_check_filter (db, "name LIKE 'trial*'", "", verbose);
    s_check_filter (db, "params.opt ilike 'ADAM'", "2 3 5", verbose);
    s_check_filter (db, "status like 'FIN%'", "1 2 5", verbose);

    //  Params: numbers compare numerically, text textually
    s_check_filter (db, "params.layers > 5", "2 3", verbose);
    s_check_filter (db, "params.layers > '5'", "", verbose);
    s_check_filter (db, "params.lr < 0.02", "2 3", verbose);
    s_check_filter (db, "params.lr <= 1e-3", "3", verbose);
    s_check_filter (db, "params.opt > 'b'", "1", verbose);
    s_check_filter (db, "params.opt > -100", "", verbose);
    s_check_filter (db, "params.layers = 10", "2", verbose);
    s_check_filter (db, "params.lr = 0.001", "", verbose);
    s_check_filter (db, "params.lr IN (0.1, '1e-3')", "1 3", verbose);
    s_check_filter (db, "params.x IS NULL", "1 2 3 4 6", verbose);

    //  Quotes inside values, doubled or escaped
    s_check_filter (db, "name = 'it''s deep'", "3", verbose);
    s_check_filter (db, "name = 'it\\'s deep'", "3", verbose);
    s_check_filter (db, "name = \"it's deep\"", "3", verbose);
    s_check_filter (db, "tags.note = \"say \\\"hi\\\"\"", "1", verbose);
    s_check_filter (db, "tags.note = \"say \"\"hi\"\"\"", "1", verbose);
    s_check_filter (db, "tags.note = 'say \"hi\"'", "1", verbose);

    //  Times and durations
    s_check_filter (db, "duration > 200", "2 5", verbose);
    s_check_filter (db, "duration < 200", "1 3", verbose);
    s_check_filter (db, "duration is null", "4 6", verbose);
    s_check_filter (db, "created >= 3000 and start_time < 5000", "3 4", verbose);
    s_check_filter (db, "created > '1970-01-01 01:00'", "4 5 6", verbose);
    s_check_filter (db, "created < '1970-01-01T00:50:00Z'", "1 2", verbose);
    s_check_filter (db, "ended IS NULL or end_time > 5000", "4 5 6", verbose);
    s_check_filter (db, "started > 3000", "3 4 5", verbose);

    //  An injection attempt is just a value (run 5 has that very value)
    s_check_filter (db, "params.x = 'a'' OR 1=1 --'", "5", verbose);
    s_check_filter (db, "params.opt = 'x'' OR ''1''=''1'", "", verbose);
    query = wb_query_new ("params.`zz' --` = 'qq\" OR 1=1'", "tags.`kk)` desc", NULL);
    assert (query);
    assert (!strstr (wb_query_where (query), "zz"));
    assert (!strstr (wb_query_where (query), "qq"));
    assert (!strstr (wb_query_where (query), "1=1"));
    assert (!strstr (wb_query_order (query), "kk"));
    wb_query_destroy (&query);

    //  Binding starts where the caller says and returns the next index
    query = wb_query_new ("metrics.acc > 0.85 and name <> 'x'", "-metrics.acc", NULL);
    assert (query);
    char *sql = wb_sprintf ("SELECT r.id FROM runs r WHERE r.seq > ? AND %s ORDER BY %s LIMIT ?",
                            wb_query_where (query), wb_query_order (query));
    sqlite3_stmt *stmt = NULL;
    assert (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) == SQLITE_OK);
    assert (sqlite3_bind_int (stmt, 1, 0) == SQLITE_OK);
    int next = wb_query_bind (query, stmt, 2);
    assert (next == 6);
    assert (sqlite3_bind_int (stmt, next, 1) == SQLITE_OK);
    assert (sqlite3_step (stmt) == SQLITE_ROW);
    assert (streq ((const char *) sqlite3_column_text (stmt, 0), "22222222"));
    assert (sqlite3_step (stmt) == SQLITE_DONE);
    sqlite3_finalize (stmt);
    free (sql);
    //  A statement with the where only takes the where's values
    sql = wb_sprintf ("SELECT count(*) FROM runs r WHERE %s", wb_query_where (query));
    assert (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) == SQLITE_OK);
    assert (wb_query_bind (query, stmt, 1) == -1);
    assert (wb_query_bind_where (query, stmt, 1) == 4);
    assert (sqlite3_step (stmt) == SQLITE_ROW);
    assert (sqlite3_column_int (stmt, 0) == 2);
    sqlite3_finalize (stmt);
    free (sql);
    wb_query_destroy (&query);

    //  Sorting: ascending unless - or DESC; runs without the key last;
    //  ties newest first
    s_check_sort (db, "", "6 5 4 3 2 1", verbose);
    s_check_sort (db, "metrics.acc", "3 5 1 2 6 4", verbose);
    s_check_sort (db, "-metrics.acc", "2 1 5 3 6 4", verbose);
    s_check_sort (db, "metrics.acc DESC", "2 1 5 3 6 4", verbose);
    s_check_sort (db, "+metrics.acc", "3 5 1 2 6 4", verbose);
    s_check_sort (db, "metrics.loss.max desc", "3 1 2 5 6 4", verbose);
    s_check_sort (db, "params.layers", "1 2 3 6 5 4", verbose);
    s_check_sort (db, "params.lr desc", "1 5 2 3 6 4", verbose);
    s_check_sort (db, "status, -created", "3 5 2 1 6 4", verbose);
    s_check_sort (db, "ended", "1 2 3 5 6 4", verbose);
    s_check_sort (db, "duration desc", "2 5 1 3 6 4", verbose);
    s_check_sort (db, "experiment, name", "4 5 6 1 3 2", verbose);
    s_check_sort (db, "tags.team desc, metrics.acc asc", "1 2 5 3 6 4", verbose);
    s_check_sort (db, "tags.team, metrics.acc", "5 1 2 3 6 4", verbose);

    //  Errors say what and where
    s_check_error ("metrics.acc 0.5", NULL,
        "filter: expected an operator after 'metrics.acc' at column 13");
    s_check_error ("metrics.acc", NULL,
        "filter: expected an operator after 'metrics.acc' at the end");
    s_check_error ("colour = 'red'", NULL,
        "filter: unknown attribute 'colour' (try status, name, id, kind, experiment, "
        "compute, parent, created, started, ended, duration, or metrics./params./tags.)");
    s_check_error ("attributes.colour = 'red'", NULL,
        "filter: unknown attribute 'colour' (try status, name, id, kind, experiment, "
        "compute, parent, created, started, ended, duration, or metrics./params./tags.)");
    s_check_error ("kind = 'a' or id = 'x", NULL, "filter: unclosed quote at column 20");
    s_check_error ("metrics.`val loss > 1", NULL, "filter: unclosed quote at column 9");
    s_check_error ("metrics.acc > 'high'", NULL,
        "filter: 'metrics.acc' compares with a number, got 'high'");
    s_check_error ("metrics.acc > high", NULL,
        "filter: 'metrics.acc' compares with a number, got 'high'");
    s_check_error ("duration IN (1, '2')", NULL,
        "filter: 'duration' compares with a number, got '2'");
    s_check_error ("created > 'yesterday'", NULL,
        "filter: 'created' compares with a number (unix seconds) or a date like "
        "'2024-05-01 12:00', got 'yesterday'");
    s_check_error ("created > '2024-02-30'", NULL,
        "filter: 'created' compares with a number (unix seconds) or a date like "
        "'2024-05-01 12:00', got '2024-02-30'");
    s_check_error ("metrics.acc LIKE '9%'", NULL,
        "filter: 'metrics.acc' is a number: LIKE works on text");
    s_check_error ("metircs.acc > 1", NULL,
        "filter: unknown prefix 'metircs.' (try metrics., params., tags. or attributes.)");
    s_check_error ("metrics. > 1", NULL, "filter: missing key after 'metrics.' at column 9");
    s_check_error ("metrics.`a`b > 1", NULL,
        "filter: unexpected 'b' after the quoted key at column 12 "
        "(only .min or .max may follow a metric)");
    s_check_error ("status = FINISHED", NULL,
        "filter: expected a value after '=' at column 10 (put text in quotes: 'FINISHED')");
    s_check_error ("status =", NULL, "filter: expected a value after '=' at the end");
    s_check_error ("status IN ()", NULL, "filter: expected a value after '(' at column 12");
    s_check_error ("status IN ('a' 'b')", NULL,
        "filter: expected ',' or ')' in the IN list at column 16");
    s_check_error ("status IN 'a'", NULL, "filter: expected '(' after 'IN' at column 11");
    s_check_error ("status IS 'a'", NULL,
        "filter: expected NULL or NOT NULL after 'IS' at column 11");
    s_check_error ("status NOT = 'a'", NULL,
        "filter: expected LIKE, ILIKE or IN after 'NOT' at column 12");
    s_check_error ("(status = 'x'", NULL,
        "filter: expected ')' at the end (to close '(' at column 1)");
    s_check_error ("status = 'x')", NULL, "filter: unexpected ')' at column 13");
    s_check_error ("metrics.acc > 1 metrics.loss < 2", NULL,
        "filter: expected AND, OR or the end at column 17");
    s_check_error ("metrics.acc > 1 and", NULL,
        "filter: expected a key (metrics.X, params.X, tags.X or an attribute) at the end");
    s_check_error ("and status = 'x'", NULL,
        "filter: expected a key (metrics.X, params.X, tags.X or an attribute) at column 1");
    s_check_error ("metrics.acc > 1.2.3", NULL, "filter: bad number '1.2.3' at column 15");
    s_check_error ("duration > 5m", NULL, "filter: bad number '5m' at column 12");
    s_check_error ("duration > 1e999", NULL, "filter: bad number '1e999' at column 12");
    s_check_error ("name = 'é' # x", NULL, "filter: unexpected character '#' at column 12");
    //  Bytes past ASCII may be part of keys (metrics.précision)
    s_check_error ("name = 'x' → y", NULL, "filter: expected AND, OR or the end at column 12");
    s_check_error ("name = 'x' ; y", NULL, "filter: unexpected character ';' at column 12");
    s_check_error ("`val loss` > 1", NULL,
        "filter: unexpected '`' at column 1: backticks quote the key after its prefix, "
        "as in metrics.`val loss`");
    char deep [512] = "";
    for (int level = 0; level < 150; level++)
        strcat (deep, "(");
    s_check_error (deep, NULL, "filter: too deeply nested at column 101");
    s_check_error ("name = 'x'", "colour", "sort: unknown attribute 'colour' (try status, "
        "name, id, kind, experiment, compute, parent, created, started, ended, duration, "
        "or metrics./params./tags.)");
    s_check_error (NULL, "metrics.acc desc x", "sort: expected ',' or the end at column 18");
    s_check_error (NULL, "metrics.acc > 1", "sort: expected ',' or the end at column 13");
    s_check_error (NULL, "metrics.acc,", "sort: expected a key at the end");
    s_check_error (NULL, ", created", "sort: expected a key at column 1");
    s_check_error (NULL, "-metrics.acc desc", "sort: use either '-' or ASC/DESC, not both, "
        "at column 14");
    //  Long keys are shortened in messages
    s_check_error ("metrics.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        NULL, "filter: expected an operator after "
        "'metrics.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' at the end");

    sqlite3_close (db);
}
//  @end
