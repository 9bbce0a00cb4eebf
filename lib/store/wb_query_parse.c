/*  wb_query_parse - the filter and sort parser: comparisons, AND, OR,
    NOT and parentheses, values, sort keys

    Part of wb_query (see wb_query_int.h). A recursive-descent parser over
    the lexer's tokens writes SQL text as it goes: the text holds only
    structure, fixed column names and operators; every key and value the
    user wrote goes to the query's list of bound values, in the order its
    ? appears in the text.
*/
#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "wb_query_int.h"
#include "base/wb_utf8.h"
#include "base/wb_util.h"

#define S_MAX_DEPTH     100     //  deepest nesting of ( and NOT in a filter

static const char *s_default_order = "r.created DESC, r.seq DESC";

//  ---- Parser helpers ----

static wb_query__token_t *
s_peek (wb_query__parser_t *self)
{
    return &self->tokens [self->next];
}

//  The current token, and move past it (never past WB_QUERY_END).
static wb_query__token_t *
s_take (wb_query__parser_t *self)
{
    wb_query__token_t *token = &self->tokens [self->next];
    if (token->kind != WB_QUERY_END)
        self->next++;
    return token;
}

//  True when token is the keyword word, in any case.
static bool
s_keyword (wb_query__parser_t *self, const wb_query__token_t *token, const char *word)
{
    return token->kind == WB_QUERY_WORD && token->size == strlen (word)
        && strncasecmp (self->text + token->at, word, token->size) == 0;
}

//  True when token is a word reserved by the filter language.
static bool
s_reserved (wb_query__parser_t *self, const wb_query__token_t *token)
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
s_bind (wb_query__parser_t *self, char *text, double number)
{
    wb_query_t *query = self->query;
    if (query->nvalues == query->room) {
        query->room = query->room? query->room * 2: 8;
        query->values = wb_realloc (query->values, query->room * sizeof (wb_query__value_t));
    }
    query->values [query->nvalues].text = text;
    query->values [query->nvalues].number = number;
    query->nvalues++;
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
s_bind_value (wb_query__parser_t *self, const wb_query__key_t *key, const wb_query__token_t *before,
              const wb_query__token_t *token, bool as_number)
{
    char place [64];
    wb_query__place (self, token, place, sizeof (place));
    bool numeric = key->type == WB_QUERY_NUMBER || key->type == WB_QUERY_TIME;
    if (token->kind != WB_QUERY_STRING && token->kind != WB_QUERY_NUMBER_LIT
    &&  !(token->kind == WB_QUERY_WORD && numeric)) {
        char *after = wb_query__snippet (self->text + before->at, before->size);
        char *got = wb_query__token_snippet (self, token);
        if (token->kind == WB_QUERY_WORD)
            wb_query__fail (self, "expected a value after '%s' %s (put text in quotes: '%s')",
                            after, place, got);
        else
            wb_query__fail (self, "expected a value after '%s' %s", after, place);
        free (after);
        free (got);
        return -1;
    }
    if (token->kind == WB_QUERY_NUMBER_LIT) {
        if (numeric || as_number)
            s_bind (self, NULL, token->number);
        else
            s_bind (self, wb_strndup (self->text + token->at, token->size), 0);
        return 0;
    }
    double when;
    if (key->type == WB_QUERY_TIME && token->kind == WB_QUERY_STRING
    &&  s_parse_time (token->text, &when)) {
        s_bind (self, NULL, when);
        return 0;
    }
    if (numeric) {
        char *got = wb_query__token_snippet (self, token);
        if (key->type == WB_QUERY_TIME)
            wb_query__fail (self, "'%s' compares with a number (unix seconds) or a date like "
                            "'2024-05-01 12:00', got '%s'", key->shown, got);
        else
            wb_query__fail (self, "'%s' compares with a number, got '%s'", key->shown, got);
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

static char *s_parse_or (wb_query__parser_t *self);

//  The SQL spelling of an operator token.
static const char *
s_op_sql (wb_query__parser_t *self, const wb_query__token_t *token)
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
s_parse_comparison (wb_query__parser_t *self)
{
    const wb_query__token_t *word = s_take (self);
    wb_query__key_t key;
    if (wb_query__key_resolve (self, word, &key)) {
        wb_query__key_free (&key);
        return NULL;
    }
    char place [64];
    s_compare_t test;
    bool negate = false;        //  NOT LIKE, NOT IN, IS NOT NULL
    const char *op = NULL;      //  for S_CMP
    const wb_query__token_t *token = s_peek (self);
    const wb_query__token_t *before = token;
    if (token->kind == WB_QUERY_OP) {
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
            wb_query__place (self, s_peek (self), place, sizeof (place));
            wb_query__fail (self, "expected NULL or NOT NULL after 'IS' %s", place);
            wb_query__key_free (&key);
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
            wb_query__place (self, token, place, sizeof (place));
            if (negate)
                wb_query__fail (self, "expected LIKE, ILIKE or IN after 'NOT' %s", place);
            else
                wb_query__fail (self, "expected an operator after '%s' %s", key.shown, place);
            wb_query__key_free (&key);
            return NULL;
        }
        before = s_take (self);
    }
    bool numeric = key.type == WB_QUERY_NUMBER || key.type == WB_QUERY_TIME;
    if ((test == S_LIKE || test == S_ILIKE) && numeric) {
        wb_query__fail (self, "'%s' is a number: %s works on text", key.shown,
                        test == S_LIKE? "LIKE": "ILIKE");
        wb_query__key_free (&key);
        return NULL;
    }

    //  The left side: the attribute, or a subquery over the key's table
    wb_buf_t *sql = wb_buf_new ();
    const char *column = key.attr? key.attr->sql: key.column;
    if (key.source != WB_QUERY_ATTR) {
        wb_buf_printf (sql, "%sEXISTS (SELECT 1 FROM %s",
                       test == S_ISNULL && !negate? "NOT ": "", wb_query__tables [key.source].from);
        s_bind (self, wb_strdup (key.name), 0);
        if (test == S_ISNULL) {
            wb_buf_puts (sql, ")");
            wb_query__key_free (&key);
            return wb_buf_detach (&sql);
        }
        wb_buf_puts (sql, " AND ");
    }
    else
    if (test == S_ISNULL) {
        wb_buf_printf (sql, "(%s IS %sNULL)", column, negate? "NOT ": "");
        wb_query__key_free (&key);
        return wb_buf_detach (&sql);
    }
    else
        wb_buf_puts (sql, "IFNULL(");

    //  The comparison
    const char *nocase = key.type == WB_QUERY_TEXT_NOCASE? " COLLATE NOCASE": "";
    int rc = 0;
    token = s_peek (self);
    if (test == S_CMP) {
        //  A param or tag ordered against a number: only values that are
        //  numbers, compared as numbers
        bool ordering = (op [0] == '<' && op [1] != '>') || op [0] == '>';
        bool cast = ordering && token->kind == WB_QUERY_NUMBER_LIT
                 && (key.source == WB_QUERY_PARAM || key.source == WB_QUERY_TAG);
        if (cast)
            wb_buf_printf (sql, "%s = CAST(%s AS REAL) AND CAST(%s AS REAL) %s ?",
                           column, column, column, op);
        else
            wb_buf_printf (sql, "%s%s %s ?", column, nocase, op);
        rc = s_bind_value (self, &key, before, s_take (self), cast);
    }
    else
    if (test == S_LIKE || test == S_ILIKE) {
        bool fold = test == S_ILIKE || key.type == WB_QUERY_TEXT_NOCASE;
        wb_buf_printf (sql, fold? "lower(%s) %sGLOB ?": "%s %sGLOB ?",
                       column, negate? "NOT ": "");
        size_t index = self->query->nvalues;
        rc = s_bind_value (self, &key, before, s_take (self), false);
        if (rc == 0) {
            wb_query__value_t *value = &self->query->values [index];
            char *glob = s_like_to_glob (value->text, fold);
            free (value->text);
            value->text = glob;
        }
    }
    else {
        assert (test == S_IN);
        if (token->kind != WB_QUERY_LPAREN) {
            wb_query__place (self, token, place, sizeof (place));
            rc = wb_query__fail (self, "expected '(' after 'IN' %s", place);
        }
        else {
            wb_buf_printf (sql, "%s%s %sIN (", column, nocase, negate? "NOT ": "");
            before = s_take (self);
            while (rc == 0) {
                rc = s_bind_value (self, &key, before, s_take (self), false);
                wb_buf_puts (sql, "?");
                before = s_peek (self);
                if (rc == 0 && before->kind == WB_QUERY_COMMA) {
                    s_take (self);
                    wb_buf_puts (sql, ", ");
                }
                else
                if (rc == 0 && before->kind == WB_QUERY_RPAREN) {
                    s_take (self);
                    wb_buf_puts (sql, ")");
                    break;
                }
                else
                if (rc == 0) {
                    wb_query__place (self, before, place, sizeof (place));
                    rc = wb_query__fail (self, "expected ',' or ')' in the IN list %s", place);
                }
            }
        }
    }
    wb_buf_puts (sql, key.source == WB_QUERY_ATTR? ", 0)": ")");
    wb_query__key_free (&key);
    if (rc) {
        wb_buf_destroy (&sql);
        return NULL;
    }
    return wb_buf_detach (&sql);
}

//  NOT, a parenthesised filter, or a comparison.
static char *
s_parse_not (wb_query__parser_t *self)
{
    char place [64];
    const wb_query__token_t *token = s_peek (self);
    if (++self->depth > S_MAX_DEPTH) {
        wb_query__place (self, token, place, sizeof (place));
        wb_query__fail (self, "too deeply nested %s", place);
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
    if (token->kind == WB_QUERY_LPAREN) {
        const wb_query__token_t *open = s_take (self);
        char *inner = s_parse_or (self);
        if (inner && s_peek (self)->kind != WB_QUERY_RPAREN) {
            wb_query__place (self, s_peek (self), place, sizeof (place));
            wb_query__fail (self, "expected ')' %s (to close '(' at column %zu)",
                            place, wb_query__column (self, open->at));
        }
        else
        if (inner) {
            s_take (self);
            sql = wb_sprintf ("(%s)", inner);
        }
        free (inner);
    }
    else
    if (token->kind == WB_QUERY_WORD && !s_reserved (self, token))
        sql = s_parse_comparison (self);
    else {
        wb_query__place (self, token, place, sizeof (place));
        wb_query__fail (self, "expected a key (metrics.X, params.X, tags.X or an attribute) %s",
                        place);
    }
    self->depth--;
    return sql;
}

//  Comparisons joined by AND (and by OR in s_parse_or). SQL's precedence
//  is ours, so only the user's parentheses are written.
static char *
s_parse_and (wb_query__parser_t *self)
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
s_parse_or (wb_query__parser_t *self)
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

char *
wb_query__compile_filter (wb_query__parser_t *self)
{
    if (s_peek (self)->kind == WB_QUERY_END)
        return wb_strdup ("1");
    char *sql = s_parse_or (self);
    const wb_query__token_t *token = s_peek (self);
    if (sql && token->kind != WB_QUERY_END) {
        if (token->kind == WB_QUERY_RPAREN)
            wb_query__fail (self, "unexpected ')' at column %zu",
                            wb_query__column (self, token->at));
        else
            wb_query__fail (self, "expected AND, OR or the end at column %zu",
                            wb_query__column (self, token->at));
        free (sql);
        sql = NULL;
    }
    return sql;
}

//  ---- Sort ----

//  One sort key's value as SQL into sql, binding its key.
static void
s_sort_value (wb_query__parser_t *self, const wb_query__key_t *key, wb_buf_t *sql)
{
    if (key->source == WB_QUERY_ATTR) {
        wb_buf_printf (sql, "%s%s", key->attr->sql,
                       key->type == WB_QUERY_TEXT_NOCASE? " COLLATE NOCASE": "");
        return;
    }
    if (key->source == WB_QUERY_PARAM)
        //  Numbers by value, before text
        wb_buf_printf (sql, "(SELECT CASE WHEN " WB_QUERY_IS_NUMBER ("p.value")
                       " THEN CAST(p.value AS REAL) ELSE p.value END FROM %s)",
                       wb_query__tables [WB_QUERY_PARAM].from);
    else
        wb_buf_printf (sql, "(SELECT %s FROM %s)", key->column,
                       wb_query__tables [key->source].from);
    s_bind (self, wb_strdup (key->name), 0);
}

char *
wb_query__compile_sort (wb_query__parser_t *self)
{
    if (s_peek (self)->kind == WB_QUERY_END)
        return wb_strdup (s_default_order);
    char place [64];
    wb_buf_t *sql = wb_buf_new ();
    while (true) {
        const wb_query__token_t *token = s_peek (self);
        const wb_query__token_t *sign = NULL;
        if (token->kind == WB_QUERY_MINUS || token->kind == WB_QUERY_PLUS) {
            sign = s_take (self);
            token = s_peek (self);
        }
        if (token->kind != WB_QUERY_WORD) {
            wb_query__place (self, token, place, sizeof (place));
            wb_query__fail (self, "expected a key %s", place);
            break;
        }
        wb_query__key_t key;
        if (wb_query__key_resolve (self, s_take (self), &key)) {
            wb_query__key_free (&key);
            break;
        }
        bool descending = sign && sign->kind == WB_QUERY_MINUS;
        token = s_peek (self);
        if (s_keyword (self, token, "asc") || s_keyword (self, token, "desc")) {
            if (sign) {
                wb_query__fail (self, "use either '%c' or ASC/DESC, not both, at column %zu",
                                self->text [sign->at], wb_query__column (self, token->at));
                wb_query__key_free (&key);
                break;
            }
            descending = s_keyword (self, s_take (self), "desc");
        }
        s_sort_value (self, &key, sql);
        wb_query__key_free (&key);
        wb_buf_puts (sql, descending? " DESC NULLS LAST, ": " ASC NULLS LAST, ");
        token = s_peek (self);
        if (token->kind == WB_QUERY_END) {
            wb_buf_puts (sql, s_default_order);
            return wb_buf_detach (&sql);
        }
        if (token->kind != WB_QUERY_COMMA) {
            wb_query__fail (self, "expected ',' or the end at column %zu",
                            wb_query__column (self, token->at));
            break;
        }
        s_take (self);
    }
    wb_buf_destroy (&sql);
    return NULL;
}


//  @selftest

void
wb_query_parse_test (bool verbose)
{
    sqlite3 *db = wb_query__test_db ();
    wb_query_t *query;

    //  Metrics; a run without the metric never matches a comparison...
    wb_query__check_filter (db, "metrics.acc > 0.85", "1 2", verbose);
    wb_query__check_filter (db, "metrics.acc != 0.5", "1 2 5", verbose);
    wb_query__check_filter (db, "metrics.acc>5e-1", "1 2 5", verbose);
    wb_query__check_filter (db, "metrics.acc > -1", "1 2 3 5", verbose);
    wb_query__check_filter (db, "metrics.acc in (0.5, 0.95)", "2 3", verbose);
    wb_query__check_filter (db, "metrics.acc NOT IN (0.5, 0.95)", "1 5", verbose);
    //  ...but NOT turns that false into true
    wb_query__check_filter (db, "not metrics.acc > 0.85", "3 4 5 6", verbose);
    wb_query__check_filter (db, "metrics.acc IS NULL", "4 6", verbose);
    wb_query__check_filter (db, "metrics.acc is not null", "1 2 3 5", verbose);
    wb_query__check_filter (db, "metrics.loss.max > 1.9", "3", verbose);
    wb_query__check_filter (db, "metrics.loss.MIN < 1 and metrics.loss > 1", "3", verbose);
    wb_query__check_filter (db, "metrics.`val loss` < 0.3", "2", verbose);
    wb_query__check_filter (db, "metrics.\"val loss\" > 0", "1 2", verbose);
    wb_query__check_filter (db, "metrics.`val loss`.max >= 1.1", "1", verbose);
    wb_query__check_filter (db, "metrics.val/loss > 0", "1", verbose);
    wb_query__check_filter (db, "metrics.précision > 0", "", verbose);

    //  Combining: precedence, parentheses, case
    wb_query__check_filter (db, "metrics.acc >= 0.9 and params.opt = 'adam'", "2", verbose);
    wb_query__check_filter (db, "metrics.acc < 0.6 or status = 'running'", "3 4", verbose);
    wb_query__check_filter (db, "(status = 'finished' or status = 'failed') and not (compute = 'local')",
                            "2 3", verbose);
    wb_query__check_filter (db, "tags.team = 'vision' and metrics.loss < 0.25 or tags.team = 'search'",
                            "2 5", verbose);
    wb_query__check_filter (db, "tags.team = 'vision' and (metrics.loss < 0.25 or tags.team = 'search')",
                            "2", verbose);
    wb_query__check_filter (db, "METRICS.acc > 0.85 AND NOT Status = 'FAILED'", "1 2", verbose);
    wb_query__check_filter (db, "((metrics.acc > 0.85))", "1 2", verbose);
    wb_query__check_filter (db, "not not metrics.acc > 0.85", "1 2", verbose);
    wb_query__check_filter (db, "not compute = 'local'", "2 3 4 6", verbose);

    //  Attributes and their synonyms
    wb_query__check_filter (db, "status = 'FINISHED'", "1 2 5", verbose);
    wb_query__check_filter (db, "status IN ('running', 'queued')", "4 6", verbose);
    wb_query__check_filter (db, "status NOT IN ('finished')", "3 4 6", verbose);
    wb_query__check_filter (db, "experiment = 'cifar'", "4 5 6", verbose);
    wb_query__check_filter (db, "attributes.run_name = 'wide'", "2", verbose);
    wb_query__check_filter (db, "attribute.`name` == \"wide\"", "2", verbose);
    wb_query__check_filter (db, "run_id = '33333333'", "3", verbose);
    wb_query__check_filter (db, "id = 33333333", "3", verbose);
    wb_query__check_filter (db, "kind = 'trial' and parent = '44444444'", "5 6", verbose);
    wb_query__check_filter (db, "compute IS NULL", "4 6", verbose);
    wb_query__check_filter (db, "compute <> 'local'", "2 3", verbose);

    //  LIKE is case-sensitive, ILIKE is not; * ? [ are plain characters
    wb_query__check_filter (db, "name LIKE 'trial-%'", "5 6", verbose);
    wb_query__check_filter (db, "name like 'sweep%'", "", verbose);
    wb_query__check_filter (db, "name ILIKE 'sweep%'", "4", verbose);
    wb_query__check_filter (db, "name like 't_ial-_'", "5 6", verbose);
    wb_query__check_filter (db, "name NOT LIKE '%-%'", "1 2 3", verbose);
    wb_query__check_filter (db, "name LIKE 'trial*'", "", verbose);
    wb_query__check_filter (db, "params.opt ilike 'ADAM'", "2 3 5", verbose);
    wb_query__check_filter (db, "status like 'FIN%'", "1 2 5", verbose);

    //  Params: numbers compare numerically, text textually
    wb_query__check_filter (db, "params.layers > 5", "2 3", verbose);
    wb_query__check_filter (db, "params.layers > '5'", "", verbose);
    wb_query__check_filter (db, "params.lr < 0.02", "2 3", verbose);
    wb_query__check_filter (db, "params.lr <= 1e-3", "3", verbose);
    wb_query__check_filter (db, "params.opt > 'b'", "1", verbose);
    wb_query__check_filter (db, "params.opt > -100", "", verbose);
    wb_query__check_filter (db, "params.layers = 10", "2", verbose);
    wb_query__check_filter (db, "params.lr = 0.001", "", verbose);
    wb_query__check_filter (db, "params.lr IN (0.1, '1e-3')", "1 3", verbose);
    wb_query__check_filter (db, "params.x IS NULL", "1 2 3 4 6", verbose);

    //  Times and durations
    wb_query__check_filter (db, "duration > 200", "2 5", verbose);
    wb_query__check_filter (db, "duration < 200", "1 3", verbose);
    wb_query__check_filter (db, "duration is null", "4 6", verbose);
    wb_query__check_filter (db, "created >= 3000 and start_time < 5000", "3 4", verbose);
    wb_query__check_filter (db, "created > '1970-01-01 01:00'", "4 5 6", verbose);
    wb_query__check_filter (db, "created < '1970-01-01T00:50:00Z'", "1 2", verbose);
    wb_query__check_filter (db, "ended IS NULL or end_time > 5000", "4 5 6", verbose);
    wb_query__check_filter (db, "started > 3000", "3 4 5", verbose);

    //  An injection attempt is just a value (run 5 has that very value)
    wb_query__check_filter (db, "params.x = 'a'' OR 1=1 --'", "5", verbose);
    wb_query__check_filter (db, "params.opt = 'x'' OR ''1''=''1'", "", verbose);
    query = wb_query_new ("params.`zz' --` = 'qq\" OR 1=1'", "tags.`kk)` desc", NULL);
    assert (query);
    assert (!strstr (wb_query_where (query), "zz"));
    assert (!strstr (wb_query_where (query), "qq"));
    assert (!strstr (wb_query_where (query), "1=1"));
    assert (!strstr (wb_query_order (query), "kk"));
    wb_query_destroy (&query);

    //  Sorting: ascending unless - or DESC; runs without the key last;
    //  ties newest first
    wb_query__check_sort (db, "", "6 5 4 3 2 1", verbose);
    wb_query__check_sort (db, "metrics.acc", "3 5 1 2 6 4", verbose);
    wb_query__check_sort (db, "-metrics.acc", "2 1 5 3 6 4", verbose);
    wb_query__check_sort (db, "metrics.acc DESC", "2 1 5 3 6 4", verbose);
    wb_query__check_sort (db, "+metrics.acc", "3 5 1 2 6 4", verbose);
    wb_query__check_sort (db, "metrics.loss.max desc", "3 1 2 5 6 4", verbose);
    wb_query__check_sort (db, "params.layers", "1 2 3 6 5 4", verbose);
    wb_query__check_sort (db, "params.lr desc", "1 5 2 3 6 4", verbose);
    wb_query__check_sort (db, "status, -created", "3 5 2 1 6 4", verbose);
    wb_query__check_sort (db, "ended", "1 2 3 5 6 4", verbose);
    wb_query__check_sort (db, "duration desc", "2 5 1 3 6 4", verbose);
    wb_query__check_sort (db, "experiment, name", "4 5 6 1 3 2", verbose);
    wb_query__check_sort (db, "tags.team desc, metrics.acc asc", "1 2 5 3 6 4", verbose);
    wb_query__check_sort (db, "tags.team, metrics.acc", "5 1 2 3 6 4", verbose);

    //  Errors say what and where
    wb_query__check_error ("metrics.acc 0.5", NULL,
        "filter: expected an operator after 'metrics.acc' at column 13");
    wb_query__check_error ("metrics.acc", NULL,
        "filter: expected an operator after 'metrics.acc' at the end");
    wb_query__check_error ("colour = 'red'", NULL,
        "filter: unknown attribute 'colour' (try status, name, id, kind, experiment, "
        "compute, parent, created, started, ended, duration, or metrics./params./tags.)");
    wb_query__check_error ("attributes.colour = 'red'", NULL,
        "filter: unknown attribute 'colour' (try status, name, id, kind, experiment, "
        "compute, parent, created, started, ended, duration, or metrics./params./tags.)");
    wb_query__check_error ("metrics.acc > 'high'", NULL,
        "filter: 'metrics.acc' compares with a number, got 'high'");
    wb_query__check_error ("metrics.acc > high", NULL,
        "filter: 'metrics.acc' compares with a number, got 'high'");
    wb_query__check_error ("duration IN (1, '2')", NULL,
        "filter: 'duration' compares with a number, got '2'");
    wb_query__check_error ("created > 'yesterday'", NULL,
        "filter: 'created' compares with a number (unix seconds) or a date like "
        "'2024-05-01 12:00', got 'yesterday'");
    wb_query__check_error ("created > '2024-02-30'", NULL,
        "filter: 'created' compares with a number (unix seconds) or a date like "
        "'2024-05-01 12:00', got '2024-02-30'");
    wb_query__check_error ("metrics.acc LIKE '9%'", NULL,
        "filter: 'metrics.acc' is a number: LIKE works on text");
    wb_query__check_error ("metircs.acc > 1", NULL,
        "filter: unknown prefix 'metircs.' (try metrics., params., tags. or attributes.)");
    wb_query__check_error ("metrics. > 1", NULL, "filter: missing key after 'metrics.' at column 9");
    wb_query__check_error ("metrics.`a`b > 1", NULL,
        "filter: unexpected 'b' after the quoted key at column 12 "
        "(only .min or .max may follow a metric)");
    wb_query__check_error ("status = FINISHED", NULL,
        "filter: expected a value after '=' at column 10 (put text in quotes: 'FINISHED')");
    wb_query__check_error ("status =", NULL, "filter: expected a value after '=' at the end");
    wb_query__check_error ("status IN ()", NULL, "filter: expected a value after '(' at column 12");
    wb_query__check_error ("status IN ('a' 'b')", NULL,
        "filter: expected ',' or ')' in the IN list at column 16");
    wb_query__check_error ("status IN 'a'", NULL, "filter: expected '(' after 'IN' at column 11");
    wb_query__check_error ("status IS 'a'", NULL,
        "filter: expected NULL or NOT NULL after 'IS' at column 11");
    wb_query__check_error ("status NOT = 'a'", NULL,
        "filter: expected LIKE, ILIKE or IN after 'NOT' at column 12");
    wb_query__check_error ("(status = 'x'", NULL,
        "filter: expected ')' at the end (to close '(' at column 1)");
    wb_query__check_error ("status = 'x')", NULL, "filter: unexpected ')' at column 13");
    wb_query__check_error ("metrics.acc > 1 metrics.loss < 2", NULL,
        "filter: expected AND, OR or the end at column 17");
    wb_query__check_error ("metrics.acc > 1 and", NULL,
        "filter: expected a key (metrics.X, params.X, tags.X or an attribute) at the end");
    wb_query__check_error ("and status = 'x'", NULL,
        "filter: expected a key (metrics.X, params.X, tags.X or an attribute) at column 1");
    char deep [512] = "";
    for (int level = 0; level < 150; level++)
        strcat (deep, "(");
    wb_query__check_error (deep, NULL, "filter: too deeply nested at column 101");
    wb_query__check_error ("name = 'x'", "colour", "sort: unknown attribute 'colour' (try status, "
        "name, id, kind, experiment, compute, parent, created, started, ended, duration, "
        "or metrics./params./tags.)");
    wb_query__check_error (NULL, "metrics.acc desc x", "sort: expected ',' or the end at column 18");
    wb_query__check_error (NULL, "metrics.acc > 1", "sort: expected ',' or the end at column 13");
    wb_query__check_error (NULL, "metrics.acc,", "sort: expected a key at the end");
    wb_query__check_error (NULL, ", created", "sort: expected a key at column 1");
    wb_query__check_error (NULL, "-metrics.acc desc", "sort: use either '-' or ASC/DESC, not both, "
        "at column 14");

    sqlite3_close (db);
}
//  @end
