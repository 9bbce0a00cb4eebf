/*  wb_serve_rows - a request body as rows for a Python deployment

    The C scorer reads a body against its model's columns as it goes; a
    user's own model is scored by a Python worker, which gets the rows as
    JSON. This reads the same bodies (wb_scorer.h lists them) into rows (an
    array of arrays, or of objects keyed by column) and the column names
    when the body gives them, and refuses a body of another shape with the
    same faults. Part of the server (wb_serve_int.h).
*/
#include <assert.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include "wb_serve_int.h"
#include "base/wb_util.h"

static int
s_fault (wb_scorer_fault_t *fault, int status, const char *code, const char *format, ...)
{
    fault->status = status;
    fault->code = code;
    va_list args;
    va_start (args, format);
    vsnprintf (fault->message, sizeof (fault->message), format, args);
    va_end (args);
    return -1;
}

static const char *s_shapes =
    "send {\"input_data\": {\"columns\": [...], \"data\": [[...], ...]}}, "
    "{\"dataframe_records\": [{...}, ...]}, {\"dataframe_split\": {...}}, "
    "{\"instances\": [...]}, {\"inputs\": ...}, {\"data\": [[...], ...]} or text/csv";

//  rows is a non-empty array of arrays (each as long as columns, when
//  given) or of objects. 0, or -1 with fault.
static int
s_check_rows (json_t *rows, json_t *columns, wb_scorer_fault_t *fault)
{
    if (!json_is_array (rows) || json_array_size (rows) == 0)
        return s_fault (fault, 400, "bad_shape", "no rows: %s", s_shapes);
    if (columns && !json_is_array (columns))
        return s_fault (fault, 400, "bad_shape", "\"columns\" is a list of names");
    size_t index;
    json_t *name;
    json_array_foreach (columns, index, name)
        if (!json_is_string (name))
            return s_fault (fault, 400, "bad_shape", "column %zu is not a name", index + 1);
    json_t *row;
    bool arrays = json_is_array (json_array_get (rows, 0));
    json_array_foreach (rows, index, row) {
        if (arrays? !json_is_array (row): !json_is_object (row))
            return s_fault (fault, 400, "bad_shape", "row %zu is not %s like row 1",
                                     index + 1, arrays? "a list": "an object");
        if (arrays && columns && json_array_size (row) != json_array_size (columns))
            return s_fault (fault, 400, "feature_count",
                                     "row %zu has %zu values for %zu columns", index + 1,
                                     json_array_size (row), json_array_size (columns));
    }
    return 0;
}

//  {"col": [values], ...} as rows of arrays in the object's order
static int
s_columnar (json_t *object, json_t **rows_p, json_t **columns_p, wb_scorer_fault_t *fault)
{
    json_t *columns = json_array (), *rows = json_array ();
    size_t count = 0;
    const char *key;
    json_t *values;
    bool first = true;
    json_object_foreach (object, key, values) {
        if (!json_is_array (values) || (!first && json_array_size (values) != count)) {
            json_decref (columns);
            json_decref (rows);
            return s_fault (fault, 400, "bad_shape", "\"inputs\": every column is a list "
                                     "of values, all as long ('%s' is not)", key);
        }
        count = json_array_size (values);
        first = false;
        json_array_append_new (columns, json_string (key));
    }
    for (size_t r = 0; r < count; r++) {
        json_t *row = json_array ();
        json_object_foreach (object, key, values)
            json_array_append (row, json_array_get (values, r));
        json_array_append_new (rows, row);
    }
    *rows_p = rows;
    *columns_p = columns;
    return 0;
}

//  A CSV field as JSON: a number when it reads as one, null when empty, else text
static json_t *
s_csv_value (const char *text)
{
    if (!*text)
        return json_null ();
    char *end;
    double value = strtod (text, &end);
    if (end != text && *end == 0 && !isspace ((unsigned char) *text))
        return json_real (value);
    return json_string (text);
}

//  text/csv: a header line of names, then rows (quoted fields as RFC 4180)
static int
s_csv (const char *body, size_t size, json_t **rows_p, json_t **columns_p,
       wb_scorer_fault_t *fault)
{
    json_t *columns = NULL, *rows = json_array (), *row = json_array ();
    wb_buf_t *field = wb_buf_new ();
    size_t at = 0;
    bool quoted = false, any = false;
    while (at <= size) {
        char c = at < size? body [at]: '\n';
        at++;
        if (quoted) {
            if (c == '"' && at < size && body [at] == '"') {
                wb_buf_append (field, "\"", 1);
                at++;
            }
            else
            if (c == '"')
                quoted = false;
            else
                wb_buf_append (field, &c, 1);
            continue;
        }
        if (c == '"') {
            quoted = true;
            any = true;
        }
        else
        if (c == ',' || c == '\n') {
            //  A line with nothing on it (not even "") is no row
            bool blank = c == '\n' && json_array_size (row) == 0 && !any && !wb_buf_size (field);
            const char *text = wb_buf_size (field)? wb_buf_data (field): "";
            if (!blank)
                json_array_append_new (row, columns? s_csv_value (text): json_string (text));
            wb_buf_reset (field);
            if (c == '\n' && !blank) {
                if (!columns)
                    columns = row;
                else
                    json_array_append_new (rows, row);
                row = json_array ();
            }
            any = false;
        }
        else
        if (c != '\r')
            wb_buf_append (field, &c, 1);
    }
    json_decref (row);
    wb_buf_destroy (&field);
    if (quoted) {
        json_decref (columns);
        json_decref (rows);
        return s_fault (fault, 400, "bad_csv", "a quoted field is not closed");
    }
    *rows_p = rows;
    *columns_p = columns;
    return 0;
}

int
wb_serve__rows (const char *type, const char *body, size_t size, json_t **rows_p,
                json_t **columns_p, bool *proba, wb_scorer_fault_t *fault)
{
    assert (rows_p && columns_p && proba && fault);
    *rows_p = *columns_p = NULL;
    json_t *rows = NULL, *columns = NULL;
    bool csv = type && !strncasecmp (type, "text/csv", 8);
    if (type && !csv && strncasecmp (type, "application/json", 16))
        return s_fault (fault, 415, "content_type", "the content type is '%s': send "
                                 "application/json or text/csv", type);
    if (csv) {
        if (s_csv (body, size, &rows, &columns, fault))
            return -1;
    }
    else {
        json_error_t error;
        json_t *root = json_loadb (body, size, 0, &error);
        if (!root)
            return s_fault (fault, 400, "bad_json", "the body is not JSON: %s "
                                     "(line %d, column %d)", error.text, error.line, error.column);
        json_t *input = json_object_get (root, "input_data");
        json_t *split = json_object_get (root, "dataframe_split");
        json_t *inputs = json_object_get (root, "inputs");
        json_t *params = json_object_get (root, "params");
        if (json_is_true (json_object_get (params, "probabilities")))
            *proba = true;
        if (json_is_object (input) || json_is_object (split)) {
            json_t *frame = json_is_object (input)? input: split;
            rows = json_incref (json_object_get (frame, "data"));
            columns = json_incref (json_object_get (frame, "columns"));
        }
        else
        if (json_is_array (input))
            rows = json_incref (input);
        else
        if (json_object_get (root, "dataframe_records"))
            rows = json_incref (json_object_get (root, "dataframe_records"));
        else
        if (json_object_get (root, "instances"))
            rows = json_incref (json_object_get (root, "instances"));
        else
        if (json_is_object (inputs)) {
            if (s_columnar (inputs, &rows, &columns, fault)) {
                json_decref (root);
                return -1;
            }
        }
        else
        if (inputs)
            rows = json_incref (inputs);
        else
        if (json_object_get (root, "data"))
            rows = json_incref (json_object_get (root, "data"));
        json_decref (root);
        if (!rows) {
            json_decref (columns);
            return s_fault (fault, 400, "bad_shape", "%s", s_shapes);
        }
    }
    if (json_is_null (columns)) {
        json_decref (columns);
        columns = NULL;
    }
    if (s_check_rows (rows, columns, fault)) {
        json_decref (rows);
        json_decref (columns);
        return -1;
    }
    *rows_p = rows;
    *columns_p = columns;
    return 0;
}

//  @selftest
void
wb_serve_rows_test (bool verbose)
{
    (void) verbose;
    wb_scorer_fault_t fault;
    json_t *rows, *columns;
    bool proba = false;
    const char *body = "{\"input_data\": {\"columns\": [\"a\", \"b\"], \"data\": [[1, \"x\"], [2, null]]},"
                       " \"params\": {\"probabilities\": true}}";
    assert (wb_serve__rows (NULL, body, strlen (body), &rows, &columns, &proba, &fault) == 0);
    assert (json_array_size (rows) == 2 && json_array_size (columns) == 2 && proba);
    json_decref (rows);
    json_decref (columns);
    body = "{\"dataframe_records\": [{\"a\": 1}, {\"a\": 2}]}";
    proba = false;
    assert (wb_serve__rows ("application/json", body, strlen (body), &rows, &columns, &proba, &fault) == 0);
    assert (json_is_object (json_array_get (rows, 1)) && !columns && !proba);
    json_decref (rows);
    body = "{\"inputs\": {\"a\": [1, 2, 3], \"b\": [4, 5, 6]}}";
    assert (wb_serve__rows (NULL, body, strlen (body), &rows, &columns, &proba, &fault) == 0);
    assert (json_array_size (rows) == 3
         && json_integer_value (json_array_get (json_array_get (rows, 2), 1)) == 6);
    json_decref (rows);
    json_decref (columns);
    body = "a,b\r\n1.5,\"x,y\"\n2,\n";
    assert (wb_serve__rows ("text/csv", body, strlen (body), &rows, &columns, &proba, &fault) == 0);
    assert (json_array_size (rows) == 2 && streq (json_string_value (json_array_get (columns, 1)), "b"));
    assert (json_real_value (json_array_get (json_array_get (rows, 0), 0)) == 1.5);
    assert (streq (json_string_value (json_array_get (json_array_get (rows, 0), 1)), "x,y"));
    assert (json_is_null (json_array_get (json_array_get (rows, 1), 1)));
    json_decref (rows);
    json_decref (columns);
    //  Refused, with the scorer's faults
    const char *bad [][3] = {
        { "{\"data\": []}", "bad_shape", "no rows" },
        { "not json", "bad_json", "not JSON" },
        { "{\"rows\": [[1]]}", "bad_shape", "input_data" },
        { "{\"input_data\": {\"columns\": [\"a\"], \"data\": [[1, 2]]}}", "feature_count", "row 1 has 2" },
        { "{\"instances\": [[1], {\"a\": 1}]}", "bad_shape", "row 2 is not a list" },
        { "{\"inputs\": {\"a\": [1], \"b\": [1, 2]}}", "bad_shape", "all as long" },
    };
    for (size_t i = 0; i < sizeof (bad) / sizeof (bad [0]); i++) {
        assert (wb_serve__rows (NULL, bad [i][0], strlen (bad [i][0]), &rows, &columns, &proba,
                                &fault) == -1);
        assert (fault.status == 400 && streq (fault.code, bad [i][1]));
        assert (strstr (fault.message, bad [i][2]));
    }
    assert (wb_serve__rows ("text/plain", "x", 1, &rows, &columns, &proba, &fault) == -1);
    assert (fault.status == 415);
    assert (wb_serve__rows ("text/csv", "a\n\"x", 4, &rows, &columns, &proba, &fault) == -1);
    assert (streq (fault.code, "bad_csv"));
}
//  @end
