/*  wb_scorer_read - reading a scoring request into encoded rows (a number
    per numeric column, the index of its category per categorical one)

    The fast path takes the common bodies (rows of numbers under "data",
    "instances", "input_data") without building JSON; every other shape
    (columns in another order, records, split frames, "inputs", params)
    goes through jansson; CSV has a small reader of its own. Each fault
    says what was wrong, where, and what the model takes. Part of
    wb_scorer (wb_scorer_int.h).
*/
#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wb_scorer_int.h"

//  ---- Reading a request ----

int
wb_scorer__fault (wb_scorer_fault_t *fault, int status, const char *code,
                  const char *format, ...)
{
    fault->status = status;
    fault->code = code;
    va_list args;
    va_start (args, format);
    vsnprintf (fault->message, sizeof (fault->message), format, args);
    va_end (args);
    return -1;
}

//  The model's columns as "a, b, c" (at most ~300 bytes)
static void
s_columns_text (wb_scorer_t *self, char *text, size_t size)
{
    size_t used = 0;
    text [0] = 0;
    for (size_t i = 0; i < self->nfeatures && used + 1 < size; i++) {
        int wrote = snprintf (text + used, size - used, "%s%s", i? ", ": "", self->features [i].name);
        if (wrote < 0 || (size_t) wrote >= size - used) {
            snprintf (text + (size > 5? size - 5: 0), 5, "...");
            break;
        }
        used += (size_t) wrote;
    }
}

//  The feature of a column name, -1 when the model has none (-2 for the
//  target, which is ignored)
static int
s_feature_of (wb_scorer_t *self, const char *name)
{
    for (size_t i = 0; i < self->nfeatures; i++)
        if (streq (self->features [i].name, name))
            return (int) i;
    return self->target && streq (self->target, name)? -2: -1;
}

//  Put one value of feature f into the encoded row x (x [f]: the number,
//  or the category's index, -1 when unseen or missing). 0 or -1 (fault).
//  value is a JSON value, or NULL with text (CSV).
static int
s_encode_value (wb_scorer_t *self, size_t f, json_t *value, const char *text, double *x,
                size_t row, wb_scorer_fault_t *fault)
{
    wb_scorer__feature_t *feature = &self->features [f];
    if (feature->categorical) {
        char number [32];
        const char *category = text;
        if (value) {
            if (json_is_string (value))
                category = json_string_value (value);
            else
            if (json_is_number (value)) {
                wb_double_text (json_number_value (value), number, sizeof (number));
                category = number;
            }
            else
            if (json_is_boolean (value))
                category = json_is_true (value)? "true": "false";
            else
            if (!json_is_null (value))
                return wb_scorer__fault (fault, 400, "bad_value", "row %zu: column '%s' is categorical "
                                         "and takes text or a number, not an array or object",
                                         row + 1, feature->name);
        }
        for (size_t c = 0; category && *category && c < feature->ncategories; c++)
            if (streq (feature->categories [c], category)) {
                x [f] = (double) c;
                break;
            }
        return 0;           //  unseen or missing: -1, all zeros in one-hot, as in training
    }
    double number;
    if (value) {
        if (json_is_null (value))
            return wb_scorer__fault (fault, 400, "missing_value", "row %zu: column '%s' is missing "
                                     "(null); it takes a number", row + 1, feature->name);
        if (!json_is_number (value)) {
            char *shown = json_dumps (value, JSON_ENCODE_ANY | JSON_COMPACT);
            wb_scorer__fault (fault, 400, "not_numeric", "row %zu: column '%s' takes a number, "
                              "not %.60s", row + 1, feature->name, shown? shown: "that");
            free (shown);
            return -1;
        }
        number = json_number_value (value);
    }
    else {
        char *end;
        while (isspace ((unsigned char) *text))
            text++;
        if (!*text)
            return wb_scorer__fault (fault, 400, "missing_value", "row %zu: column '%s' is empty; "
                                     "it takes a number", row + 1, feature->name);
        number = strtod (text, &end);
        while (isspace ((unsigned char) *end))
            end++;
        if (*end)
            return wb_scorer__fault (fault, 400, "not_numeric", "row %zu: column '%s' takes a number, "
                                     "not '%.60s'", row + 1, feature->name, text);
    }
    if (!isfinite (number))
        return wb_scorer__fault (fault, 400, "not_numeric", "row %zu: column '%s' must be finite",
                                 row + 1, feature->name);
    x [f] = (number - feature->mean) * feature->scale;
    return 0;
}

static double *
s_new_row (wb_scorer_t *self, wb_scorer__rows_t *rows)
{
    if (rows->rows == rows->room) {
        rows->room = rows->room? rows->room * 2: 4;
        rows->x = wb_realloc (rows->x, rows->room * (self->nfeatures + 1) * sizeof (double));
    }
    double *x = rows->x + rows->rows++ * self->nfeatures;
    for (size_t f = 0; f < self->nfeatures; f++)
        x [f] = self->features [f].categorical? -1: 0;
    return x;
}

//  One row: an array in the model's column order, or an object by name
static int
s_read_row (wb_scorer_t *self, json_t *item, wb_scorer__rows_t *rows, wb_scorer_fault_t *fault)
{
    size_t row = rows->rows;
    double *x = s_new_row (self, rows);
    char columns [320];
    if (json_is_array (item)) {
        if (json_array_size (item) != self->nfeatures) {
            s_columns_text (self, columns, sizeof (columns));
            return wb_scorer__fault (fault, 400, "feature_count", "row %zu has %zu values; the model "
                                     "takes %zu, in this order: %s", row + 1, json_array_size (item),
                                     self->nfeatures, columns);
        }
        for (size_t f = 0; f < self->nfeatures; f++)
            if (s_encode_value (self, f, json_array_get (item, f), NULL, x, row, fault))
                return -1;
        return 0;
    }
    if (json_is_object (item)) {
        const char *key;
        json_t *value;
        size_t seen = 0;
        json_object_foreach (item, key, value) {
            int f = s_feature_of (self, key);
            if (f == -1) {
                s_columns_text (self, columns, sizeof (columns));
                return wb_scorer__fault (fault, 400, "unknown_column", "row %zu: unknown column '%.80s'; "
                                         "the model takes %s", row + 1, key, columns);
            }
            if (f >= 0) {
                if (s_encode_value (self, (size_t) f, value, NULL, x, row, fault))
                    return -1;
                seen++;
            }
        }
        if (seen < self->nfeatures)
            for (size_t f = 0; f < self->nfeatures; f++)
                if (!json_object_get (item, self->features [f].name))
                    return wb_scorer__fault (fault, 400, "missing_column", "row %zu: column '%s' is "
                                             "missing", row + 1, self->features [f].name);
        return 0;
    }
    return wb_scorer__fault (fault, 400, "bad_shape", "row %zu is neither an array of values nor an "
                             "object of column: value", row + 1);
}

static int
s_read_rows (wb_scorer_t *self, json_t *array, wb_scorer__rows_t *rows, wb_scorer_fault_t *fault)
{
    size_t index;
    json_t *item;
    json_array_foreach (array, index, item)
        if (s_read_row (self, item, rows, fault))
            return -1;
    return 0;
}

//  {"columns": [...], "data": [[...]]}: the columns map to features
static int
s_read_split (wb_scorer_t *self, json_t *split, wb_scorer__rows_t *rows, wb_scorer_fault_t *fault)
{
    json_t *columns = json_object_get (split, "columns");
    json_t *data = json_object_get (split, "data");
    if (!json_is_array (data))
        return wb_scorer__fault (fault, 400, "bad_shape", "a split frame needs \"data\": an array "
                                 "of rows (and \"columns\": their names)");
    if (!columns)
        return s_read_rows (self, data, rows, fault);
    size_t count = json_array_size (columns);
    int *map = wb_malloc ((count + 1) * sizeof (int));
    bool *given = wb_calloc (self->nfeatures + 1, sizeof (bool));
    int rc = json_is_array (columns)? 0: wb_scorer__fault (fault, 400, "bad_shape",
                                                           "\"columns\" must be an array of names");
    char names [320];
    for (size_t c = 0; c < count && rc == 0; c++) {
        const char *name = json_string_value (json_array_get (columns, c));
        //  the columns are most often in the model's order: try that first
        map [c] = !name? -1: c < self->nfeatures && streq (self->features [c].name, name)?
                  (int) c: s_feature_of (self, name);
        if (map [c] == -1) {
            s_columns_text (self, names, sizeof (names));
            rc = wb_scorer__fault (fault, 400, "unknown_column", "unknown column '%.80s'; the model "
                                   "takes %s", name? name: "(not text)", names);
        }
        else
        if (map [c] >= 0)
            given [map [c]] = true;
    }
    for (size_t f = 0; f < self->nfeatures && rc == 0; f++)
        if (!given [f])
            rc = wb_scorer__fault (fault, 400, "missing_column", "column '%s' is missing from "
                                   "\"columns\"", self->features [f].name);
    size_t index;
    json_t *item;
    json_array_foreach (data, index, item) {
        if (rc)
            break;
        size_t row = rows->rows;
        double *x = s_new_row (self, rows);
        if (!json_is_array (item) || json_array_size (item) != count) {
            rc = wb_scorer__fault (fault, 400, "feature_count", "row %zu has %zu values but there are "
                                   "%zu columns", row + 1, json_array_size (item), count);
            break;
        }
        for (size_t c = 0; c < count && rc == 0; c++)
            if (map [c] >= 0)
                rc = s_encode_value (self, (size_t) map [c], json_array_get (item, c), NULL,
                                     x, row, fault);
    }
    free (map);
    free (given);
    return rc;
}

//  {"col": [values], ...} (or {"col": value} for one row)
static int
s_read_columnar (wb_scorer_t *self, json_t *object, wb_scorer__rows_t *rows, wb_scorer_fault_t *fault)
{
    size_t count = 0;
    bool scalars = false;
    const char *key;
    json_t *value;
    char names [320];
    json_object_foreach (object, key, value) {
        int f = s_feature_of (self, key);
        if (f == -1) {
            s_columns_text (self, names, sizeof (names));
            return wb_scorer__fault (fault, 400, "unknown_column", "unknown column '%.80s'; the model "
                                     "takes %s", key, names);
        }
        scalars = !json_is_array (value);
        count = scalars? 1: json_array_size (value);
    }
    for (size_t f = 0; f < self->nfeatures; f++) {
        json_t *column = json_object_get (object, self->features [f].name);
        if (!column)
            return wb_scorer__fault (fault, 400, "missing_column", "column '%s' is missing",
                                     self->features [f].name);
        if (json_is_array (column) == scalars || (!scalars && json_array_size (column) != count))
            return wb_scorer__fault (fault, 400, "bad_shape", "the columns of \"inputs\" must all be "
                                     "arrays of the same length (or all single values)");
    }
    for (size_t row = 0; row < count; row++) {
        double *x = s_new_row (self, rows);
        for (size_t f = 0; f < self->nfeatures; f++) {
            json_t *column = json_object_get (object, self->features [f].name);
            if (s_encode_value (self, f, scalars? column: json_array_get (column, row), NULL,
                                x, row, fault))
                return -1;
        }
    }
    return 0;
}

//  ---- The fast path: the common bodies, read without building JSON ----
//
//  {"data": [[n, ...], ...]}, {"instances": ...}, {"input_data": [[...]]}
//  and {"input_data": {"columns": [the model's columns, in order], "data":
//  [[...]]}} with plain numbers, for a model of numeric columns only. Any
//  other body (another shape or key, a string, null, probabilities asked
//  in the body, a column order of its own, bad JSON) is left to the full
//  reader, which also says what is wrong. Numbers go through strtod as in
//  jansson, so both readers give the same doubles.

typedef struct {
    const char *at, *end;
} s_scan_t;

static void
s_scan_space (s_scan_t *scan)
{
    while (scan->at < scan->end
    &&    (*scan->at == ' ' || *scan->at == '\t' || *scan->at == '\n' || *scan->at == '\r'))
        scan->at++;
}

static bool
s_scan_char (s_scan_t *scan, char c)
{
    s_scan_space (scan);
    if (scan->at < scan->end && *scan->at == c) {
        scan->at++;
        return true;
    }
    return false;
}

//  A key or string without escapes; its bytes in *text, *size
static bool
s_scan_string (s_scan_t *scan, const char **text, size_t *size)
{
    if (!s_scan_char (scan, '"'))
        return false;
    const char *start = scan->at;
    while (scan->at < scan->end && *scan->at != '"') {
        if (*scan->at == '\\' || (unsigned char) *scan->at < 0x20)
            return false;
        scan->at++;
    }
    if (scan->at == scan->end)
        return false;
    *text = start;
    *size = (size_t) (scan->at - start);
    scan->at++;
    return true;
}

//  A JSON number (its grammar exactly), finite
static bool
s_scan_number (s_scan_t *scan, double *value)
{
    s_scan_space (scan);
    const char *c = scan->at, *end = scan->end;
    if (c < end && *c == '-')
        c++;
    if (c == end || !isdigit ((unsigned char) *c))
        return false;
    if (*c == '0')
        c++;
    else
        while (c < end && isdigit ((unsigned char) *c))
            c++;
    if (c < end && *c == '.') {
        c++;
        if (c == end || !isdigit ((unsigned char) *c))
            return false;
        while (c < end && isdigit ((unsigned char) *c))
            c++;
    }
    if (c < end && (*c == 'e' || *c == 'E')) {
        c++;
        if (c < end && (*c == '+' || *c == '-'))
            c++;
        if (c == end || !isdigit ((unsigned char) *c))
            return false;
        while (c < end && isdigit ((unsigned char) *c))
            c++;
    }
    char digits [64];
    size_t length = (size_t) (c - scan->at);
    if (length >= sizeof (digits))
        return false;
    memcpy (digits, scan->at, length);
    digits [length] = 0;
    *value = strtod (digits, NULL);
    scan->at = c;
    return isfinite (*value);
}

//  [[n, ...], ...] with nfeatures numbers a row
static bool
s_scan_rows (wb_scorer_t *self, s_scan_t *scan, wb_scorer__rows_t *rows)
{
    if (!s_scan_char (scan, '['))
        return false;
    if (s_scan_char (scan, ']'))
        return false;           //  no rows: the full reader says so
    do {
        if (!s_scan_char (scan, '['))
            return false;
        double *x = s_new_row (self, rows);
        for (size_t f = 0; f < self->nfeatures; f++) {
            double value;
            if ((f && !s_scan_char (scan, ',')) || !s_scan_number (scan, &value))
                return false;
            wb_scorer__feature_t *feature = &self->features [f];
            x [f] = (value - feature->mean) * feature->scale;
        }
        if (!s_scan_char (scan, ']'))
            return false;
    } while (s_scan_char (scan, ','));
    return s_scan_char (scan, ']');
}

static bool
s_key_is (const char *text, size_t size, const char *key)
{
    return strlen (key) == size && memcmp (text, key, size) == 0;
}

bool
wb_scorer__read_fast (wb_scorer_t *self, const char *body, size_t size,
                      wb_scorer__rows_t *rows)
{
    for (size_t f = 0; f < self->nfeatures; f++)
        if (self->features [f].categorical)
            return false;
    s_scan_t scan = { body, body + size };
    const char *key;
    size_t length;
    if (!s_scan_char (&scan, '{') || !s_scan_string (&scan, &key, &length)
    ||  !s_scan_char (&scan, ':'))
        return false;
    bool ok;
    if (s_key_is (key, length, "data") || s_key_is (key, length, "instances"))
        ok = s_scan_rows (self, &scan, rows);
    else
    if (s_key_is (key, length, "input_data")) {
        s_scan_space (&scan);
        if (scan.at < scan.end && *scan.at == '[')
            ok = s_scan_rows (self, &scan, rows);
        else {
            //  {"columns": [the model's, in order], "data": [[...]]}
            ok = s_scan_char (&scan, '{') && s_scan_string (&scan, &key, &length)
              && s_key_is (key, length, "columns") && s_scan_char (&scan, ':')
              && s_scan_char (&scan, '[');
            for (size_t f = 0; ok && f < self->nfeatures; f++) {
                const char *name;
                size_t name_size;
                ok = (!f || s_scan_char (&scan, ',')) && s_scan_string (&scan, &name, &name_size)
                  && s_key_is (name, name_size, self->features [f].name);
            }
            ok = ok && s_scan_char (&scan, ']') && s_scan_char (&scan, ',')
              && s_scan_string (&scan, &key, &length) && s_key_is (key, length, "data")
              && s_scan_char (&scan, ':') && s_scan_rows (self, &scan, rows)
              && s_scan_char (&scan, '}');
        }
    }
    else
        return false;
    ok = ok && s_scan_char (&scan, '}');
    s_scan_space (&scan);
    if (!ok || scan.at != scan.end) {
        rows->rows = 0;         //  the full reader starts again
        return false;
    }
    return true;
}

static const char *s_shapes =
    "send {\"input_data\": {\"columns\": [...], \"data\": [[...]]}}, {\"input_data\": [[...]]}, "
    "{\"data\": [[...]]}, {\"dataframe_split\": ...}, {\"dataframe_records\": [...]}, "
    "{\"instances\": [...]} or {\"inputs\": ...}";

int
wb_scorer__read_json (wb_scorer_t *self, const char *body, size_t size,
                      wb_scorer__rows_t *rows, bool *probabilities, wb_scorer_fault_t *fault)
{
    json_error_t error;
    json_t *root = json_loadb (body, size, 0, &error);
    if (!root)
        return wb_scorer__fault (fault, 400, "bad_json", "the body is not valid JSON: %s at line %d, "
                                 "column %d", error.text, error.line, error.column);
    int rc = 0;
    json_t *value;
    json_t *params = json_object_get (root, "params");
    if (json_is_true (json_object_get (params, "probabilities"))
    ||  json_is_true (json_object_get (root, "probabilities")))
        *probabilities = true;
    if (!json_is_object (root))
        rc = wb_scorer__fault (fault, 400, "bad_shape", "the body is a JSON %s, not an object: %s",
                               json_is_array (root)? "array": "value", s_shapes);
    else
    if ((value = json_object_get (root, "input_data"))) {
        if (json_is_object (value))
            rc = s_read_split (self, value, rows, fault);
        else
        if (json_is_array (value))
            rc = s_read_rows (self, value, rows, fault);
        else
            rc = wb_scorer__fault (fault, 400, "bad_shape", "\"input_data\" must be a split frame "
                                   "{\"columns\", \"data\"} or an array of rows");
    }
    else
    if ((value = json_object_get (root, "dataframe_split")))
        rc = json_is_object (value)? s_read_split (self, value, rows, fault):
             wb_scorer__fault (fault, 400, "bad_shape", "\"dataframe_split\" must be an object "
                               "{\"columns\", \"data\"}");
    else
    if ((value = json_object_get (root, "dataframe_records"))
    ||  (value = json_object_get (root, "instances"))
    ||  (value = json_object_get (root, "data"))) {
        if (json_is_array (value))
            rc = s_read_rows (self, value, rows, fault);
        else
            rc = wb_scorer__fault (fault, 400, "bad_shape", "\"%s\" must be an array of rows",
                                   json_object_get (root, "dataframe_records")? "dataframe_records":
                                   json_object_get (root, "instances")? "instances": "data");
    }
    else
    if ((value = json_object_get (root, "inputs"))) {
        if (json_is_array (value))
            rc = s_read_rows (self, value, rows, fault);
        else
        if (json_is_object (value))
            rc = s_read_columnar (self, value, rows, fault);
        else
            rc = wb_scorer__fault (fault, 400, "bad_shape", "\"inputs\" must be an array of rows or "
                                   "an object of columns");
    }
    else
        rc = wb_scorer__fault (fault, 400, "bad_shape", "no input in the body: %s", s_shapes);
    if (rc == 0 && rows->rows == 0)
        rc = wb_scorer__fault (fault, 400, "bad_shape", "the body holds no rows");
    json_decref (root);
    return rc;
}

//  The next CSV field of a line at *cursor into field; false at the end
static bool
s_csv_field (const char **cursor, const char *end, wb_buf_t *field, bool *line_end)
{
    const char *c = *cursor;
    wb_buf_reset (field);
    if (c > end || *line_end)
        return false;
    if (c < end && *c == '"') {
        c++;
        while (c < end) {
            if (*c == '"' && c + 1 < end && c [1] == '"') {
                wb_buf_append (field, "\"", 1);
                c += 2;
            }
            else
            if (*c == '"') {
                c++;
                break;
            }
            else
                wb_buf_append (field, c++, 1);
        }
    }
    while (c < end && *c != ',' && *c != '\n' && *c != '\r')
        wb_buf_append (field, c++, 1);
    *line_end = c >= end || *c == '\n' || *c == '\r';
    if (c < end && *c == '\r')
        c++;
    *cursor = c + 1;
    return true;
}

int
wb_scorer__read_csv (wb_scorer_t *self, const char *body, size_t size, wb_scorer__rows_t *rows,
                     wb_scorer_fault_t *fault)
{
    const char *cursor = body, *end = body + size;
    if (size >= 3 && memcmp (body, "\xEF\xBB\xBF", 3) == 0)
        cursor += 3;
    wb_buf_t *field = wb_buf_new ();
    //  Header: the column names
    size_t count = 0, room = 16;
    int *map = wb_malloc (room * sizeof (int));
    bool *given = wb_calloc (self->nfeatures + 1, sizeof (bool));
    bool line_end = false;
    int rc = 0;
    char names [320];
    while (rc == 0 && s_csv_field (&cursor, end, field, &line_end)) {
        if (count == room)
            map = wb_realloc (map, (room *= 2) * sizeof (int));
        const char *name = wb_buf_data (field);
        map [count] = s_feature_of (self, name);
        if (map [count] == -1) {
            s_columns_text (self, names, sizeof (names));
            rc = wb_scorer__fault (fault, 400, "unknown_column", "CSV header: unknown column '%.80s'; "
                                   "the model takes %s (the first line must name the columns)",
                                   name, names);
        }
        else
        if (map [count] >= 0)
            given [map [count]] = true;
        count++;
    }
    for (size_t f = 0; f < self->nfeatures && rc == 0; f++)
        if (!given [f])
            rc = wb_scorer__fault (fault, 400, "missing_column", "CSV header: column '%s' is missing",
                                   self->features [f].name);
    //  Rows
    while (rc == 0 && cursor < end) {
        if (*cursor == '\n' || *cursor == '\r') {
            cursor++;
            continue;           //  blank line
        }
        size_t row = rows->rows, column = 0;
        double *x = s_new_row (self, rows);
        line_end = false;
        while (rc == 0 && s_csv_field (&cursor, end, field, &line_end)) {
            if (column < count && map [column] >= 0)
                rc = s_encode_value (self, (size_t) map [column], NULL, wb_buf_data (field),
                                     x, row, fault);
            column++;
        }
        if (rc == 0 && column != count)
            rc = wb_scorer__fault (fault, 400, "feature_count", "CSV row %zu has %zu fields; the "
                                   "header has %zu", row + 1, column, count);
    }
    if (rc == 0 && rows->rows == 0)
        rc = wb_scorer__fault (fault, 400, "bad_shape", "the CSV holds a header but no rows");
    wb_buf_destroy (&field);
    free (map);
    free (given);
    return rc;
}

//  ---- Self-test ----

//  @selftest
void
wb_scorer_read_test (bool verbose)
{
    (void) verbose;
    wb_frame_t *frame = wb_scorer__test_frame ();
    const char *kinds [] = { "linear", "logistic", "mlp", "kmeans" };
    const char *targets [] = { "value", "label", "label", NULL };
    for (int k = 0; k < 4; k++) {
        wb_model_t *model;
        wb_scorer_t *scorer = wb_scorer__test_model (frame, kinds [k], targets [k],
                                                     "x,y,colour", &model);
        if (!scorer) {
            wb_frame_destroy (&frame);
            return;             //  no OpenBLAS on this machine: nothing to compare with
        }
        wb_scorer_fault_t fault;
        json_t *answer;
        //  Every shape gives the same first prediction
        const char *shapes [] = {
            "{\"input_data\":{\"columns\":[\"colour\",\"x\",\"y\"],\"data\":[[\"red\",1,2]]}}",
            "{\"input_data\":[[1,2,\"red\"]]}",
            "{\"data\":[[1,2,\"red\"]]}",
            "{\"dataframe_split\":{\"columns\":[\"x\",\"y\",\"colour\"],\"data\":[[1,2,\"red\"]]}}",
            "{\"instances\":[{\"x\":1,\"y\":2,\"colour\":\"red\"}]}",
            "{\"inputs\":{\"x\":[1],\"y\":[2],\"colour\":[\"red\"]}}",
            "{\"inputs\":[[1,2,\"red\"]]}",
        };
        char *first = NULL;
        for (size_t s = 0; s < sizeof (shapes) / sizeof (shapes [0]); s++) {
            answer = wb_scorer__test_score (scorer, NULL, shapes [s], false, &fault);
            assert (answer);
            char *text = json_dumps (json_object_get (answer, "predictions"), JSON_ENCODE_ANY);
            if (first)
                assert (streq (first, text));
            else
                first = wb_strdup (text);
            free (text);
            json_decref (answer);
        }
        answer = wb_scorer__test_score (scorer, "text/csv; charset=utf-8", "y,x,colour\n2,1,red\n", false, &fault);
        assert (answer);
        char *text = json_dumps (json_object_get (answer, "predictions"), JSON_ENCODE_ANY);
        assert (streq (text, first));
        free (text);
        free (first);
        json_decref (answer);
        //  Bad requests: each says what was wrong
        struct { const char *type, *body; int status; const char *code, *says; } bad [] = {
            { NULL, "{\"data\":[[1,2]]}", 400, "feature_count", "takes 3, in this order: x, y, colour" },
            { NULL, "{\"data\":[[1,\"two\",\"red\"]]}", 400, "not_numeric", "column 'y' takes a number" },
            { NULL, "{\"instances\":[{\"x\":1,\"y\":2,\"colour\":\"red\",\"w\":1}]}", 400, "unknown_column", "unknown column 'w'" },
            { NULL, "{\"instances\":[{\"x\":1,\"colour\":\"red\"}]}", 400, "missing_column", "column 'y' is missing" },
            { NULL, "{\"data\":[[1,null,\"red\"]]}", 400, "missing_value", "column 'y' is missing (null)" },
            { NULL, "{\"data\":", 400, "bad_json", "not valid JSON" },
            { NULL, "{\"rows\":[]}", 400, "bad_shape", "no input in the body" },
            { NULL, "[[1,2,\"red\"]]", 400, "bad_shape", "not an object" },
            { NULL, "{\"data\":[]}", 400, "bad_shape", "no rows" },
            { "text/plain", "1,2,red", 415, "content_type", "application/json or text/csv" },
            { "text/csv", "x,y\n1,2\n", 400, "missing_column", "'colour' is missing" },
            { "text/csv", "x,y,colour\n1,zz,red\n", 400, "not_numeric", "not 'zz'" },
        };
        for (size_t b = 0; b < sizeof (bad) / sizeof (bad [0]); b++) {
            answer = wb_scorer__test_score (scorer, bad [b].type, bad [b].body, false, &fault);
            if (answer || fault.status != bad [b].status || !streq (fault.code, bad [b].code)
            ||  !strstr (fault.message, bad [b].says))
                fprintf (stderr, "case %zu: %d %s %s\n", b, fault.status, fault.code, fault.message);
            assert (!answer);
            assert (fault.status == bad [b].status);
            assert (streq (fault.code, bad [b].code));
            assert (strstr (fault.message, bad [b].says));
        }
        assert (json_array_size (json_object_get (wb_scorer_expects (scorer), "columns")) == 3);
        wb_scorer_destroy (&scorer);
        wb_model_destroy (&model);
    }
    //  A model of numeric columns only: the fast path and the full reader
    //  answer the same bytes, and whatever the fast path does not take
    //  goes to the full reader (with its errors)
    wb_model_t *model;
    wb_scorer_t *scorer = wb_scorer__test_model (frame, "logistic", "label", "x,y", &model);
    assert (scorer);
    const char *same [] = {
        "{\"data\": [[1, 2], [6.5e0, -7.25]]}",                              //  fast
        " {\"instances\":[[1,2],[6.5,-7.25]]} ",                              //  fast
        "{\"input_data\": [[1, 2], [6.5, -7.25]]}",                           //  fast
        "{\"input_data\": {\"columns\": [\"x\", \"y\"], \"data\": [[1, 2], [6.5, -7.25]]}}",   //  fast
        "{\"input_data\": {\"columns\": [\"y\", \"x\"], \"data\": [[2, 1], [-7.25, 6.5]]}}",   //  full
        "{\"data\": [[1, 2], [6.5, -7.25]], \"params\": {}}",                  //  full
        "{\"dataframe_records\": [{\"x\": 1, \"y\": 2}, {\"x\": 6.5, \"y\": -7.25}]}"       //  full
    };
    wb_buf_t *first = wb_buf_new (), *answer_buf = wb_buf_new ();
    wb_scorer_fault_t fault;
    for (size_t b = 0; b < sizeof (same) / sizeof (same [0]); b++) {
        wb_buf_reset (answer_buf);
        assert (wb_scorer_score (scorer, "application/json", same [b], strlen (same [b]), true,
                                 answer_buf, &fault) == 2);
        if (b == 0)
            wb_buf_puts (first, wb_buf_data (answer_buf));
        assert (streq (wb_buf_data (first), wb_buf_data (answer_buf)));
        wb_scorer__rows_t rows = { NULL, 0, 0 };
        assert (wb_scorer__read_fast (scorer, same [b], strlen (same [b]), &rows) == (b < 4));
        free (rows.x);
    }
    const struct { const char *body, *code; } refused [] = {
        { "{\"data\": [[1, null]]}", "missing_value" },
        { "{\"data\": [[1, 2, 3]]}", "feature_count" },
        { "{\"data\": [[01, 2]]}", "bad_json" },
        { "{\"data\": [[1, \"2\"]]}", "not_numeric" },
        { "{\"data\": []}", "bad_shape" },
        { "{\"data\": [[1, 2]]", "bad_json" }
    };
    for (size_t b = 0; b < sizeof (refused) / sizeof (refused [0]); b++) {
        wb_buf_reset (answer_buf);
        assert (wb_scorer_score (scorer, "application/json", refused [b].body,
                                 strlen (refused [b].body), false, answer_buf, &fault) == -1);
        assert (streq (fault.code, refused [b].code));
    }
    wb_buf_destroy (&first);
    wb_buf_destroy (&answer_buf);
    wb_scorer_destroy (&scorer);
    wb_model_destroy (&model);
    wb_frame_destroy (&frame);
}
//  @end
