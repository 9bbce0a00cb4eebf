/*  wb_query_int - private to wb_query*.c: the tokens, keys and parser
    state the parts of the run filter language share

    wb_query is one class in three files: wb_query.c (the keys, the
    compiled query and its bindings), wb_query_lex.c (tokens, messages,
    the lexer) and wb_query_parse.c (parser helpers, values, filter,
    sort). The language itself is described at the top of wb_query.c.
    Nothing outside lib/store/wb_query*.c includes this header.
*/
#ifndef WB_QUERY_INT_H
#define WB_QUERY_INT_H

#include <stddef.h>
#include "wb_query.h"

//  ---- Tokens and the parser state ----

typedef enum {
    WB_QUERY_END,               //  end of the source
    WB_QUERY_WORD,              //  a key or a keyword
    WB_QUERY_STRING,            //  quoted text
    WB_QUERY_NUMBER_LIT,        //  a number
    WB_QUERY_OP,                //  = == != <> < <= > >=
    WB_QUERY_LPAREN,            //  (
    WB_QUERY_RPAREN,            //  )
    WB_QUERY_COMMA,             //  ,
    WB_QUERY_MINUS,             //  - before a sort key
    WB_QUERY_PLUS               //  + before a sort key
} wb_query__kind_t;

typedef struct {
    wb_query__kind_t kind;      //  what it is
    size_t at;                  //  byte offset of its first character
    size_t size;                //  its length in bytes in the source
    char *text;                 //  WB_QUERY_STRING: the value, unescaped; else NULL
    double number;              //  WB_QUERY_NUMBER_LIT: the value
} wb_query__token_t;

//  A value to bind to one ?.
typedef struct {
    char *text;                 //  the value as text, or NULL for a number
    double number;              //  the value when text is NULL
} wb_query__value_t;

struct _wb_query_t {
    char *where;                //  SQL boolean expression over r
    char *order;                //  SQL ORDER BY list
    wb_query__value_t *values;  //  values for each ?, where's then order's
    size_t nvalues;             //  values in use
    size_t room;                //  values allocated
    size_t nwhere;              //  how many of the values belong to where
};

//  The state of compiling one filter or one sort.
typedef struct {
    const char *what;           //  "filter" or "sort", starts every message
    const char *text;           //  the source
    wb_query__token_t *tokens;  //  its tokens, the last one WB_QUERY_END
    size_t ntokens;             //  tokens in use
    size_t room;                //  tokens allocated
    size_t next;                //  index of the token being looked at
    int depth;                  //  current nesting of ( and NOT
    wb_query_t *query;          //  receives the bound values
    wb_error_t *err;            //  where a message goes; may be NULL
} wb_query__parser_t;

//  ---- Keys (wb_query.c) ----

//  What a key's values are; decides the literals and operators it takes.
typedef enum {
    WB_QUERY_TEXT,              //  text, compared as written
    WB_QUERY_TEXT_NOCASE,       //  text, compared ignoring ASCII case
    WB_QUERY_NUMBER,            //  a number
    WB_QUERY_TIME               //  unix seconds; a quoted date is converted
} wb_query__type_t;

//  name, SQL over alias r, type: one row per spelling of an attribute
typedef struct {
    const char *name;           //  what the user writes, matched ignoring case
    const char *sql;            //  its value as an SQL expression over r
    wb_query__type_t type;      //  what its values are
} wb_query__attr_t;

//  Where a key's value comes from.
typedef enum {
    WB_QUERY_ATTR,              //  a column (or subquery) of the run
    WB_QUERY_METRIC,            //  metric_latest
    WB_QUERY_PARAM,             //  params
    WB_QUERY_TAG                //  tags
} wb_query__source_t;

//  The key-value table behind a source: the FROM ... WHERE of a subquery
//  that finds the run's row for one key (the key is its one ?), and the
//  value column.
typedef struct {
    const char *from;           //  "table alias WHERE alias.run = r.seq AND alias.key = ?"
    const char *value;          //  the value column, alias.value
} wb_query__table_t;

//  A text value that reads as a number, as SQL: comparing a TEXT column
//  with a REAL expression gives the column numeric affinity, which turns
//  well-formed numbers ('10', ' 1e-3 ') into numbers and leaves other text
//  ('adam', '1-2', '') as text, never equal to a number.
#define WB_QUERY_IS_NUMBER(column)  column " = CAST(" column " AS REAL)"

//  A key as resolved from what the user wrote.
typedef struct {
    wb_query__source_t source;  //  where its value comes from
    char *name;                 //  metric/param/tag key, unescaped; NULL for attributes
    const char *column;         //  value column inside the subquery (m.value, m.min ...)
    const wb_query__attr_t *attr;   //  the attribute, for WB_QUERY_ATTR
    wb_query__type_t type;      //  what its values are
    char *shown;                //  the key as written, shortened, for messages
} wb_query__key_t;

//  The table behind each source, indexed by wb_query__source_t
//  (WB_QUERY_ATTR has none).
extern const wb_query__table_t wb_query__tables [];

//  Resolve the key token into key (free it with wb_query__key_free, on
//  failure too); 0, or -1 with a message.
int
    wb_query__key_resolve (wb_query__parser_t *self, const wb_query__token_t *token,
                           wb_query__key_t *key);
void
    wb_query__key_free (wb_query__key_t *key);

//  ---- Messages and the lexer (wb_query_lex.c) ----

//  Fill err with "what: message"; returns -1.
int
    wb_query__fail (wb_query__parser_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));
//  Column of byte offset at, counting code points from 1 as editors do.
size_t
    wb_query__column (wb_query__parser_t *self, size_t at);
//  "at column N", or "at the end" for the end token, into place.
void
    wb_query__place (wb_query__parser_t *self, const wb_query__token_t *token,
                     char *place, size_t size);
//  Copy of text[0..size) for a message, shortened; caller frees.
char *
    wb_query__snippet (const char *text, size_t size);
//  A token as written, for a message; caller frees.
char *
    wb_query__token_snippet (wb_query__parser_t *self, const wb_query__token_t *token);
//  Byte offset just after the quoted text that starts at text[at], or 0
//  when it is not closed.
size_t
    wb_query__quoted_end (const char *text, size_t at);
//  The text inside quoted[0..size), quotes included, unescaped; caller frees.
char *
    wb_query__unquote (const char *quoted, size_t size);
//  Cut self->text into self->tokens, ending with WB_QUERY_END. 0, or -1
//  with a message.
int
    wb_query__lex (wb_query__parser_t *self);

//  ---- The parser (wb_query_parse.c) ----

//  The filter as SQL, or NULL with a message; caller frees.
char *
    wb_query__compile_filter (wb_query__parser_t *self);
//  The sort as SQL, or NULL with a message; caller frees.
char *
    wb_query__compile_sort (wb_query__parser_t *self);

//  ---- Self-tests ----

//  An in-memory database of six runs for the self-tests (close it).
sqlite3 *
    wb_query__test_db (void);
//  The runs a filter selects must be exactly expected (run numbers 1-6,
//  blank-separated, in seq order).
void
    wb_query__check_filter (sqlite3 *db, const char *filter, const char *expected,
                            bool verbose);
//  Likewise for the order a sort gives to all runs.
void
    wb_query__check_sort (sqlite3 *db, const char *sort, const char *expected, bool verbose);
//  filter and sort must fail with exactly this message.
void
    wb_query__check_error (const char *filter, const char *sort, const char *message);
void
    wb_query_lex_test (bool verbose);
void
    wb_query_parse_test (bool verbose);

#endif
