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

    Implementation: the source is cut into tokens (wb_query_lex.c), then a
    recursive-descent parser (wb_query_parse.c) writes SQL text as it goes.
    The text holds only structure, fixed column names and operators; every
    key and value the user wrote goes to a list of bound values, in the
    order its ? appears in the text. This part holds the keys (what a
    name after metrics./params./tags. or an attribute stands for) and the
    compiled query with its bindings.
*/
#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sqlite3.h>
#include "wb_query_int.h"
#include "base/wb_utf8.h"
#include "base/wb_util.h"

//  ---- Keys: the attributes and the tables behind metrics./params./tags. ----

#define S_EXPERIMENT_SQL "(SELECT x.name FROM experiments x WHERE x.id = r.experiment_id)"
#define S_PARENT_SQL     "(SELECT pr.id FROM runs pr WHERE pr.seq = r.parent)"

static const wb_query__attr_t s_attrs [] = {
    { "status",          "r.status",            WB_QUERY_TEXT_NOCASE },
    { "name",            "r.name",              WB_QUERY_TEXT },
    { "run_name",        "r.name",              WB_QUERY_TEXT },
    { "id",              "r.id",                WB_QUERY_TEXT },
    { "run_id",          "r.id",                WB_QUERY_TEXT },
    { "kind",            "r.kind",              WB_QUERY_TEXT },
    { "experiment",      S_EXPERIMENT_SQL,      WB_QUERY_TEXT },
    { "experiment_name", S_EXPERIMENT_SQL,      WB_QUERY_TEXT },
    { "compute",         "r.compute",           WB_QUERY_TEXT },
    { "parent",          S_PARENT_SQL,          WB_QUERY_TEXT },
    { "created",         "r.created",           WB_QUERY_TIME },
    { "start_time",      "r.created",           WB_QUERY_TIME },
    { "started",         "r.started",           WB_QUERY_TIME },
    { "ended",           "r.ended",             WB_QUERY_TIME },
    { "end_time",        "r.ended",             WB_QUERY_TIME },
    { "duration",        "(r.ended - r.started)", WB_QUERY_NUMBER },
    { NULL, NULL, WB_QUERY_TEXT }
};

//  prefix, source: the words that may come before a key's first dot
typedef struct {
    const char *name;           //  matched ignoring case
    wb_query__source_t source;  //  what it selects
} s_prefix_t;

static const s_prefix_t s_prefixes [] = {
    { "metrics", WB_QUERY_METRIC },    { "metric", WB_QUERY_METRIC },
    { "params", WB_QUERY_PARAM },      { "param", WB_QUERY_PARAM },
    { "tags", WB_QUERY_TAG },          { "tag", WB_QUERY_TAG },
    { "attributes", WB_QUERY_ATTR },   { "attribute", WB_QUERY_ATTR },
    { "attr", WB_QUERY_ATTR },         { "run", WB_QUERY_ATTR },
    { NULL, WB_QUERY_ATTR }
};

//  The table behind each source (see wb_query__table_t)
const wb_query__table_t wb_query__tables [] = {
    [WB_QUERY_ATTR]   = { NULL, NULL },
    [WB_QUERY_METRIC] = { "metric_latest m WHERE m.run = r.seq AND m.key = ?", "m.value" },
    [WB_QUERY_PARAM]  = { "params p WHERE p.run = r.seq AND p.key = ?", "p.value" },
    [WB_QUERY_TAG]    = { "tags t WHERE t.run = r.seq AND t.key = ?", "t.value" }
};

static const char *s_attr_hint =
    "status, name, id, kind, experiment, compute, parent, created, started, "
    "ended, duration, or metrics./params./tags.";

//  ---- Resolving a key ----

static bool
s_ends_with_nocase (const char *text, size_t size, const char *suffix)
{
    size_t length = strlen (suffix);
    return size > length && strncasecmp (text + size - length, suffix, length) == 0;
}

static const wb_query__attr_t *
s_attr_find (const char *name, size_t size)
{
    for (const wb_query__attr_t *attr = s_attrs; attr->name; attr++)
        if (strlen (attr->name) == size && strncasecmp (attr->name, name, size) == 0)
            return attr;
    return NULL;
}

void
wb_query__key_free (wb_query__key_t *key)
{
    free (key->name);
    free (key->shown);
    key->name = NULL;
    key->shown = NULL;
}

//  Resolve the word token into key. 0, or -1 with a message.
int
wb_query__key_resolve (wb_query__parser_t *self, const wb_query__token_t *token,
                       wb_query__key_t *key)
{
    memset (key, 0, sizeof (wb_query__key_t));
    const char *start = self->text + token->at;
    size_t size = token->size;
    key->shown = wb_query__snippet (start, size);
    //  Quotes only follow a dot, so the first dot ends the prefix
    const char *dot = memchr (start, '.', size);
    if (!dot) {
        key->source = WB_QUERY_ATTR;
        key->attr = s_attr_find (start, size);
        if (!key->attr)
            return wb_query__fail (self, "unknown attribute '%s' (try %s)", key->shown,
                                   s_attr_hint);
        key->type = key->attr->type;
        return 0;
    }
    const s_prefix_t *prefix = s_prefixes;
    while (prefix->name && !(strlen (prefix->name) == (size_t) (dot - start)
                             && strncasecmp (prefix->name, start, (size_t) (dot - start)) == 0))
        prefix++;
    if (!prefix->name) {
        char *shown = wb_query__snippet (start, (size_t) (dot - start));
        wb_query__fail (self, "unknown prefix '%s.' (try metrics., params., tags. or "
                        "attributes.)", shown);
        free (shown);
        return -1;
    }
    key->source = prefix->source;
    const char *rest = dot + 1;
    size_t rest_size = size - (size_t) (rest - start);
    const char *tail = rest + rest_size;    //  what follows a quoted key
    size_t tail_size = 0;
    if (rest_size && (rest [0] == '`' || rest [0] == '"')) {
        size_t close = wb_query__quoted_end (rest, 0);
        assert (close && close <= rest_size);   //  the lexer saw it closed
        key->name = wb_query__unquote (rest, close);
        tail = rest + close;
        tail_size = rest_size - close;
    }
    else
        key->name = wb_strndup (rest, rest_size);

    //  A metric's .min or .max: all that follows a quoted key, or the end
    //  of a bare one (which must keep a name before it)
    key->column = wb_query__tables [key->source].value;
    size_t name_size = strlen (key->name);
    if (key->source == WB_QUERY_METRIC) {
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
        char *shown = wb_query__snippet (tail, tail_size);
        wb_query__fail (self, "unexpected '%s' after the quoted key at column %zu%s", shown,
                        wb_query__column (self, (size_t) (tail - self->text)),
                        key->source == WB_QUERY_METRIC? " (only .min or .max may follow a metric)": "");
        free (shown);
        return -1;
    }
    if (!*key->name) {
        char *shown = wb_query__snippet (start, (size_t) (rest - start));
        wb_query__fail (self, "missing key after '%s' at column %zu", shown,
                        wb_query__column (self, (size_t) (rest - self->text)));
        free (shown);
        return -1;
    }
    if (key->source == WB_QUERY_ATTR) {
        key->attr = s_attr_find (key->name, strlen (key->name));
        if (!key->attr) {
            char *shown = wb_query__snippet (key->name, strlen (key->name));
            wb_query__fail (self, "unknown attribute '%s' (try %s)", shown, s_attr_hint);
            free (shown);
            return -1;
        }
        key->type = key->attr->type;
        free (key->name);
        key->name = NULL;
    }
    else
        key->type = key->source == WB_QUERY_METRIC? WB_QUERY_NUMBER: WB_QUERY_TEXT;
    return 0;
}


//  ---- The query ----

//  Compile source (NULL counts as blank) with compile into *sql_p.
static int
s_compile (wb_query_t *self, const char *what, const char *source,
           char *(*compile) (wb_query__parser_t *), char **sql_p, wb_error_t *err)
{
    wb_query__parser_t parser = { what, source? source: "", NULL, 0, 0, 0, 0, self, err };
    if (wb_query__lex (&parser) == 0)
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
    if (s_compile (self, "filter", filter, wb_query__compile_filter, &self->where, err)) {
        wb_query_destroy (&self);
        return NULL;
    }
    self->nwhere = self->nvalues;
    if (s_compile (self, "sort", sort, wb_query__compile_sort, &self->order, err)) {
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
        const wb_query__value_t *bound = &self->values [value];
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

sqlite3 *
wb_query__test_db (void)
{
    sqlite3 *db = NULL;
    assert (sqlite3_open (":memory:", &db) == SQLITE_OK);
    assert (sqlite3_exec (db, s_test_schema, NULL, NULL, NULL) == SQLITE_OK);
    assert (sqlite3_exec (db, s_test_data, NULL, NULL, NULL) == SQLITE_OK);
    return db;
}

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
void
wb_query__check_filter (sqlite3 *db, const char *filter, const char *expected, bool verbose)
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
void
wb_query__check_sort (sqlite3 *db, const char *sort, const char *expected, bool verbose)
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
void
wb_query__check_error (const char *filter, const char *sort, const char *message)
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
    sqlite3 *db = wb_query__test_db ();

    //  Nothing given: every run, newest first
    wb_query_t *query = wb_query_new (NULL, NULL, NULL);
    assert (query);
    assert (streq (wb_query_where (query), "1"));
    assert (streq (wb_query_order (query), "r.created DESC, r.seq DESC"));
    wb_query_destroy (&query);
    wb_query_destroy (&query);
    assert (query == NULL);
    wb_query__check_filter (db, "", "1 2 3 4 5 6", verbose);
    wb_query__check_filter (db, "  \t ", "1 2 3 4 5 6", verbose);

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

    wb_query_lex_test (verbose);
    wb_query_parse_test (verbose);
    sqlite3_close (db);
}
//  @end
