/*  wb_query_lex - the filter language's tokens, messages and lexer

    Part of wb_query (see wb_query_int.h). The source is cut into tokens
    (words, quoted text, numbers, operators, parentheses, commas, signs),
    the last one WB_QUERY_END; messages say where, by column in code
    points, and quote user text shortened on a code point boundary.
*/
#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wb_query_int.h"
#include "base/wb_utf8.h"
#include "base/wb_util.h"

#define S_SNIPPET_MAX   60      //  code points of user text quoted in a message

//  ---- Messages ----

//  Fill err with "what: message"; returns -1.
int
wb_query__fail (wb_query__parser_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

int
wb_query__fail (wb_query__parser_t *self, const char *format, ...)
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
size_t
wb_query__column (wb_query__parser_t *self, size_t at)
{
    return wb_utf8_count (self->text, at) + 1;
}

//  "at column N", or "at the end" for the WB_QUERY_END token, into place.
void
wb_query__place (wb_query__parser_t *self, const wb_query__token_t *token, char *place, size_t size)
{
    if (token->kind == WB_QUERY_END)
        snprintf (place, size, "at the end");
    else
        snprintf (place, size, "at column %zu", wb_query__column (self, token->at));
}

//  Copy of text[0..size) for a message, cut after S_SNIPPET_MAX code points
//  (on a code point boundary, so the message stays valid UTF-8). Caller
//  frees.
char *
wb_query__snippet (const char *text, size_t size)
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
char *
wb_query__token_snippet (wb_query__parser_t *self, const wb_query__token_t *token)
{
    if (token->kind == WB_QUERY_STRING)
        return wb_query__snippet (token->text, strlen (token->text));
    return wb_query__snippet (self->text + token->at, token->size);
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
size_t
wb_query__quoted_end (const char *text, size_t at)
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
char *
wb_query__unquote (const char *quoted, size_t size)
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
s_push_token (wb_query__parser_t *self, wb_query__token_t token)
{
    if (self->ntokens == self->room) {
        self->room = self->room? self->room * 2: 16;
        self->tokens = wb_realloc (self->tokens, self->room * sizeof (wb_query__token_t));
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
s_lex_number (wb_query__parser_t *self, wb_query__token_t *token)
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
        char *shown = wb_query__snippet (text + token->at, end - token->at);
        wb_query__fail (self, "bad number '%s' at column %zu", shown,
                        wb_query__column (self, token->at));
        free (shown);
        return -1;
    }
    token->kind = WB_QUERY_NUMBER_LIT;
    token->size = end - token->at;
    return 0;
}

//  Scan a key: a letter, then key characters; a backtick or double quote
//  right after a dot quotes a part that may hold any character.
static int
s_lex_word (wb_query__parser_t *self, wb_query__token_t *token)
{
    const char *text = self->text;
    size_t end = token->at;
    while (true) {
        if (s_is_key_char (text [end]))
            end++;
        else
        if ((text [end] == '`' || text [end] == '"') && text [end - 1] == '.') {
            size_t close = wb_query__quoted_end (text, end);
            if (!close)
                return wb_query__fail (self, "unclosed quote at column %zu",
                                       wb_query__column (self, end));
            end = close;
        }
        else
            break;
    }
    token->kind = WB_QUERY_WORD;
    token->size = end - token->at;
    return 0;
}

//  Cut self->text into self->tokens, ending with WB_QUERY_END. 0, or -1 with a
//  message.
int
wb_query__lex (wb_query__parser_t *self)
{
    const char *text = self->text;
    size_t at = 0;
    while (true) {
        while (isspace ((unsigned char) text [at]))
            at++;
        wb_query__token_t token = { WB_QUERY_END, at, 0, NULL, 0 };
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
            token.kind = c == '('? WB_QUERY_LPAREN: c == ')'? WB_QUERY_RPAREN: WB_QUERY_COMMA;
            token.size = 1;
        }
        else
        if (c == '=' || c == '<' || c == '>' || (c == '!' && c1 == '=')) {
            token.kind = WB_QUERY_OP;
            token.size = 1;
            if ((c == '=' && c1 == '=') || (c == '!' && c1 == '=')
            ||  (c == '<' && (c1 == '=' || c1 == '>')) || (c == '>' && c1 == '='))
                token.size = 2;
        }
        else
        if (c == '\'' || c == '"') {
            size_t close = wb_query__quoted_end (text, at);
            if (!close)
                return wb_query__fail (self, "unclosed quote at column %zu",
                                       wb_query__column (self, at));
            token.kind = WB_QUERY_STRING;
            token.size = close - at;
            token.text = wb_query__unquote (text + at, token.size);
        }
        else
        if (isdigit ((unsigned char) c) || (c == '.' && digit1)
        || ((c == '-' || c == '+') && digit1)) {
            if (s_lex_number (self, &token))
                return -1;
        }
        else
        if (c == '-' || c == '+') {
            token.kind = c == '-'? WB_QUERY_MINUS: WB_QUERY_PLUS;
            token.size = 1;
        }
        else
        if (isalpha ((unsigned char) c) || c == '_' || (unsigned char) c >= 0x80) {
            if (s_lex_word (self, &token))
                return -1;
        }
        else
        if (c == '`')
            return wb_query__fail (self, "unexpected '`' at column %zu: backticks quote "
                                   "the key after its prefix, as in metrics.`val loss`",
                                   wb_query__column (self, at));
        else
            return wb_query__fail (self, "unexpected character '%.*s' at column %zu",
                                   (int) s_char_size ((unsigned char) c), text + at,
                                   wb_query__column (self, at));
        s_push_token (self, token);
        at += token.size;
    }
}


//  @selftest

void
wb_query_lex_test (bool verbose)
{
    sqlite3 *db = wb_query__test_db ();

    //  Quotes inside values, doubled or escaped
    wb_query__check_filter (db, "name = 'it''s deep'", "3", verbose);
    wb_query__check_filter (db, "name = 'it\\'s deep'", "3", verbose);
    wb_query__check_filter (db, "name = \"it's deep\"", "3", verbose);
    wb_query__check_filter (db, "tags.note = \"say \\\"hi\\\"\"", "1", verbose);
    wb_query__check_filter (db, "tags.note = \"say \"\"hi\"\"\"", "1", verbose);
    wb_query__check_filter (db, "tags.note = 'say \"hi\"'", "1", verbose);

    //  The lexer's errors: unclosed quotes, bad numbers, stray characters
    wb_query__check_error ("kind = 'a' or id = 'x", NULL, "filter: unclosed quote at column 20");
    wb_query__check_error ("metrics.`val loss > 1", NULL, "filter: unclosed quote at column 9");
    wb_query__check_error ("metrics.acc > 1.2.3", NULL, "filter: bad number '1.2.3' at column 15");
    wb_query__check_error ("duration > 5m", NULL, "filter: bad number '5m' at column 12");
    wb_query__check_error ("duration > 1e999", NULL, "filter: bad number '1e999' at column 12");
    wb_query__check_error ("name = 'é' # x", NULL, "filter: unexpected character '#' at column 12");
    //  Bytes past ASCII may be part of keys (metrics.précision)
    wb_query__check_error ("name = 'x' → y", NULL, "filter: expected AND, OR or the end at column 12");
    wb_query__check_error ("name = 'x' ; y", NULL, "filter: unexpected character ';' at column 12");
    wb_query__check_error ("`val loss` > 1", NULL,
        "filter: unexpected '`' at column 1: backticks quote the key after its prefix, "
        "as in metrics.`val loss`");

    //  Long keys are shortened in messages
    wb_query__check_error ("metrics.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        NULL, "filter: expected an operator after "
        "'metrics.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' at the end");

    sqlite3_close (db);
}
//  @end
