/*  wb_query - the run filter and sort language of `%runs --filter EXPR
    --sort KEYS`, compiled to a parameterised SQL fragment

    Filters follow MLflow's search syntax, with OR, NOT and parentheses on
    top (keywords and prefixes in any case):

        metrics.acc > 0.9 and params.optimizer = 'adam'
        (status = 'failed' or duration < 60) and not tags.note LIKE '%skip%'
        metrics.`val loss` < 0.3 or metrics.val/loss IS NULL
        created > '2024-05-01' and experiment IN ('mnist', 'cifar')

    Sorts are comma-separated keys, each ascending unless prefixed by '-'
    or followed by DESC: `-metrics.acc, created` or `metrics.loss asc`.
    Runs that lack the key sort last in either direction; ties fall back to
    the newest run first. The full language is described in wb_query.c.

    The SQL reads the run through the alias r only (other tables through
    correlated subqueries, so no run appears twice), and every key and
    value the user wrote is a bound parameter, never SQL text.
*/
#ifndef WB_QUERY_H
#define WB_QUERY_H

#include <stdbool.h>
#include <sqlite3.h>
#include "base/wb_error.h"

typedef struct _wb_query_t wb_query_t;

//  Compile a filter and a sort; either may be NULL or blank. Returns NULL
//  with err filled on a mistake, one line that says what and where:
//  "filter: expected an operator after 'metrics.acc' at column 13".
wb_query_t *
    wb_query_new (const char *filter, const char *sort, wb_error_t *err);
void
    wb_query_destroy (wb_query_t **self_p);

//  The filter as an SQL boolean expression over alias r ("1" when there is
//  no filter). Lent until the query is destroyed.
const char *
    wb_query_where (wb_query_t *self);
//  The sort as an SQL ORDER BY list without the words ORDER BY; by default
//  "r.created DESC, r.seq DESC". Lent until the query is destroyed.
const char *
    wb_query_order (wb_query_t *self);

//  Bind every ? placeholder of where, then of order, to stmt starting at
//  parameter index first. Returns the next free index, or -1 if SQLite
//  refused a binding (stmt does not hold both fragments).
int
    wb_query_bind (wb_query_t *self, sqlite3_stmt *stmt, int first);
//  The same for a statement that holds only the where fragment, such as
//  `SELECT count(*) FROM runs r WHERE <where>`.
int
    wb_query_bind_where (wb_query_t *self, sqlite3_stmt *stmt, int first);

void
    wb_query_test (bool verbose);

#endif
