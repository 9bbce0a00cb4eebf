/*  wb_frame_csv - part of wb_frame: CSV text to a frame, and the values in
    it (numbers, missing markers)

    The parser makes one pass over the text after a quick check that it is
    UTF-8. Every column starts out numeric: its values go straight into an
    array of doubles, with no allocation per cell, and common decimals are
    converted exactly without strtod. When a column meets a value that is
    not a number it becomes a column of strings: a code per cell, each
    distinct value stored once in a dictionary. The rows it had already
    passed are read again from the text after the pass, which costs nothing
    for columns that are text from the first row. Line and column numbers
    for errors are found by counting from the start of the text, on the
    error path only.
*/
#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "wb_frame_int.h"
#include "base/wb_fs.h"
#include "base/wb_utf8.h"
#include "base/wb_util.h"

#define S_FEW_VALUES    20      //  categorical up to max (this, rows / 20) values

//  ---- Values: numbers and missing markers ----

//  Powers of ten that doubles hold exactly
static const double s_powers [] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

//  Cut spaces and tabs around text[0..*size)
static const char *
s_trim (const char *text, size_t *size)
{
    size_t start = 0, end = *size;
    while (start < end && (text [start] == ' ' || text [start] == '\t'))
        start++;
    while (end > start && (text [end - 1] == ' ' || text [end - 1] == '\t'))
        end--;
    *size = end - start;
    return text + start;
}

//  Is text empty or one of the markers for a missing value? The markers
//  are pandas' spellings plus "?" (UCI files), case and all: "na" or
//  "none" may be real values (sodium, "no pool").
static bool
s_missing (const char *text, size_t size)
{
    static const char *markers [] = {
        "NA", "N/A", "n/a", "NaN", "nan", "-NaN", "-nan", "NULL", "null", "None",
        "#N/A", "<NA>", "?", NULL
    };
    text = s_trim (text, &size);
    if (size == 0)
        return true;
    if (size > 4)
        return false;
    for (const char **marker = markers; *marker; marker++)
        if (strlen (*marker) == size && memcmp (text, *marker, size) == 0)
            return true;
    return false;
}

//  Read text[0..size) as a decimal number: 1 with *value set when it is a
//  finite number, 0 when it marks a missing value, -1 when it is anything
//  else (words, hexadecimal, inf, numbers too large for a double).
static int
s_number (const char *text, size_t size, double *value)
{
    const char *start = s_trim (text, &size);
    const char *cursor = start, *end = start + size;
    bool negative = false;
    if (cursor < end && (*cursor == '+' || *cursor == '-'))
        negative = *cursor++ == '-';
    uint64_t mantissa = 0;      //  the first 19 significant digits
    int digits = 0;             //  significant digits in mantissa
    int scale = 0;              //  power of ten that mantissa is multiplied by
    bool exact = true;          //  no digit was dropped
    bool any = false;           //  saw a digit
    while (cursor < end && (unsigned) (*cursor - '0') < 10) {
        any = true;
        if (digits < 19) {
            mantissa = mantissa * 10 + (uint64_t) (*cursor - '0');
            digits += mantissa != 0;
        }
        else {
            exact = false;
            scale++;
        }
        cursor++;
    }
    if (cursor < end && *cursor == '.') {
        cursor++;
        while (cursor < end && (unsigned) (*cursor - '0') < 10) {
            any = true;
            if (digits < 19) {
                mantissa = mantissa * 10 + (uint64_t) (*cursor - '0');
                digits += mantissa != 0;
                scale--;
            }
            else
                exact = false;
            cursor++;
        }
    }
    if (any && cursor < end && (*cursor == 'e' || *cursor == 'E')) {
        cursor++;
        bool minus = false;
        if (cursor < end && (*cursor == '+' || *cursor == '-'))
            minus = *cursor++ == '-';
        if (cursor == end || (unsigned) (*cursor - '0') >= 10)
            any = false;        //  "1e" or "1e+": not a number
        int exponent = 0;
        while (cursor < end && (unsigned) (*cursor - '0') < 10) {
            if (exponent < 100000)
                exponent = exponent * 10 + (*cursor - '0');
            cursor++;
        }
        scale += minus? -exponent: exponent;
    }
    if (!any || cursor != end)
        return s_missing (start, size)? 0: -1;

    //  Exact when the mantissa and the power of ten are both exact
    //  doubles: one correctly rounded operation (Clinger's fast path)
    if (mantissa == 0)
        *value = negative? -0.0: 0.0;
    else
    if (exact && mantissa <= (1ULL << 53) && scale >= -22 && scale <= 22) {
        double result = (double) mantissa;
        result = scale >= 0? result * s_powers [scale]: result / s_powers [-scale];
        *value = negative? -result: result;
    }
    else {
        char small [64];
        char *copy = size < sizeof (small)? small: wb_malloc (size + 1);
        memcpy (copy, start, size);
        copy [size] = 0;
        *value = strtod (copy, NULL);
        if (copy != small)
            free (copy);
    }
    return isfinite (*value)? 1: -1;
}

//  ---- The CSV parser ----

#define S_NEXT      1           //  a field ended with a comma: more follow
#define S_END       2           //  a field ended the record

//  What the parser carries along
typedef struct {
    const char *data;           //  the CSV text
    size_t size;                //  its size in bytes
    size_t pos;                 //  where the next field starts
    const char *origin;         //  names the input in errors
    wb_error_t *err;            //  where errors go, or NULL
    const char *field;          //  the field just read (not NUL-terminated)
    size_t field_size;          //  its size in bytes
    size_t field_at;            //  offset of its first byte (the quote, if quoted)
    size_t field_end;           //  offset just past it (before the comma or line break)
    wb_buf_t *unquoted;         //  the text of a quoted field, with "" undone
} s_parser_t;

//  Bytes that end an unquoted field, or are an error in one
static const bool s_special [256] = {
    [','] = true, ['\n'] = true, ['\r'] = true, ['"'] = true
};

//  Fail with "ORIGIN: line L, column C: message" for the byte at offset.
//  Lines end with LF, CRLF or CR; columns count characters from 1.
static int
s_fail (s_parser_t *p, size_t offset, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static int
s_fail (s_parser_t *p, size_t offset, const char *format, ...)
{
    size_t line = 1, start = 0;
    for (size_t i = 0; i < offset && i < p->size; i++)
        if (p->data [i] == '\n'
        || (p->data [i] == '\r' && (i + 1 >= p->size || p->data [i + 1] != '\n'))) {
            line++;
            start = i + 1;
        }
    if (start == 0 && offset >= 3 && p->size >= 3 && memcmp (p->data, "\xEF\xBB\xBF", 3) == 0)
        start = 3;              //  a byte order mark is no character on screen
    size_t column = wb_utf8_count (p->data + start, offset - start) + 1;
    va_list args;
    va_start (args, format);
    char *message = wb_vsprintf (format, args);
    va_end (args);
    wb_error_set (p->err, "%s: line %zu, column %zu: %s", p->origin, line, column, message);
    free (message);
    return -1;
}

//  Length of the valid UTF-8 sequence at bytes[0..size), or 0 if invalid
static size_t
s_utf8_length (const unsigned char *bytes, size_t size)
{
    unsigned char lead = bytes [0];
    size_t need;                //  continuation bytes that follow
    unsigned char low = 0x80, high = 0xBF;     //  range of the second byte
    if (lead >= 0xC2 && lead <= 0xDF)
        need = 1;
    else
    if (lead >= 0xE0 && lead <= 0xEF) {
        need = 2;
        if (lead == 0xE0)
            low = 0xA0;         //  overlong
        if (lead == 0xED)
            high = 0x9F;        //  surrogates
    }
    else
    if (lead >= 0xF0 && lead <= 0xF4) {
        need = 3;
        if (lead == 0xF0)
            low = 0x90;         //  overlong
        if (lead == 0xF4)
            high = 0x8F;        //  above U+10FFFF
    }
    else
        return 0;
    if (size < need + 1 || bytes [1] < low || bytes [1] > high)
        return 0;
    for (size_t i = 2; i <= need; i++)
        if (bytes [i] < 0x80 || bytes [i] > 0xBF)
            return 0;
    return need + 1;
}

//  The text must be UTF-8 without NUL bytes
static int
s_check_text (s_parser_t *p)
{
    const unsigned char *bytes = (const unsigned char *) p->data;
    size_t size = p->size, pos = 0;
    while (pos < size) {
        //  Eight bytes at a time while they are ASCII and not zero
        if (pos + 8 <= size) {
            uint64_t word;
            memcpy (&word, bytes + pos, 8);
            if (!(word & 0x8080808080808080ULL)
            &&  !((word - 0x0101010101010101ULL) & ~word & 0x8080808080808080ULL)) {
                pos += 8;
                continue;
            }
        }
        unsigned char byte = bytes [pos];
        if (byte == 0)
            return s_fail (p, pos, "unexpected NUL byte: expected CSV text, "
                           "and this looks like a binary file");
        if (byte < 0x80) {
            pos++;
            continue;
        }
        size_t length = s_utf8_length (bytes + pos, size - pos);
        if (!length)
            return s_fail (p, pos, "invalid UTF-8 (byte 0x%02X): expected UTF-8 text; "
                           "save the file as UTF-8 and register it again", byte);
        pos += length;
    }
    return 0;
}

//  Describe the character at offset for an error message
static char *
s_describe (s_parser_t *p, size_t offset)
{
    unsigned char byte = (unsigned char) p->data [offset];
    if (byte >= 0x20 && byte < 0x7F)
        return wb_sprintf ("'%c'", byte);
    if (byte >= 0x80) {
        size_t length = s_utf8_length ((const unsigned char *) p->data + offset,
                                       p->size - offset);
        return wb_sprintf ("'%.*s'", (int) (length? length: 1), p->data + offset);
    }
    return wb_sprintf ("byte 0x%02X", byte);
}

//  Read one field at p->pos: S_NEXT, S_END or -1 (error set)
static int
s_read_field (s_parser_t *p)
{
    const char *data = p->data;
    size_t size = p->size;
    size_t pos = p->pos;
    p->field_at = pos;
    if (pos < size && data [pos] == '"') {
        wb_buf_reset (p->unquoted);
        pos++;
        while (true) {
            const char *quote = memchr (data + pos, '"', size - pos);
            if (!quote)
                return s_fail (p, p->field_at, "this quoted field is never closed: expected "
                               "a closing \" (a quote inside a quoted field is written \"\")");
            size_t at = (size_t) (quote - data);
            wb_buf_append (p->unquoted, data + pos, at - pos);
            pos = at + 1;
            if (pos < size && data [pos] == '"') {
                wb_buf_append (p->unquoted, "\"", 1);
                pos++;
            }
            else
                break;
        }
        p->field = wb_buf_data (p->unquoted);
        p->field_size = wb_buf_size (p->unquoted);
        if (pos < size && data [pos] != ',' && data [pos] != '\n' && data [pos] != '\r') {
            char *what = s_describe (p, pos);
            s_fail (p, pos, "unexpected %s after the closing quote of a field: expected "
                    "a comma or the end of the line", what);
            free (what);
            return -1;
        }
    }
    else {
        size_t start = pos;
        while (pos < size && !s_special [(unsigned char) data [pos]])
            pos++;
        if (pos < size && data [pos] == '"')
            return s_fail (p, pos, "stray \" in a field that does not start with a quote: "
                           "expected the whole field in quotes, with \"\" for each quote inside");
        p->field = data + start;
        p->field_size = pos - start;
    }
    p->field_end = pos;
    if (pos < size && data [pos] == ',') {
        p->pos = pos + 1;
        return S_NEXT;
    }
    if (pos < size && data [pos] == '\r')
        pos++;
    if (pos < size && data [pos] == '\n' && (pos == p->field_end || data [pos - 1] == '\r'))
        pos++;
    p->pos = pos;
    return S_END;
}

//  Skip empty lines at p->pos
static void
s_skip_blank_lines (s_parser_t *p)
{
    while (p->pos < p->size && (p->data [p->pos] == '\n' || p->data [p->pos] == '\r'))
        p->pos++;
}

//  Line breaks in data[0..size): an upper bound on the records there
static size_t
s_count_breaks (const char *data, size_t size)
{
    size_t count = 0;
    const char *cursor = data, *end = data + size;
    while (cursor < end && (cursor = memchr (cursor, '\n', (size_t) (end - cursor)))) {
        count++;
        cursor++;
    }
    for (cursor = data; cursor < end && (cursor = memchr (cursor, '\r', (size_t) (end - cursor))); cursor++)
        if (cursor + 1 == end || cursor [1] != '\n')
            count++;
    return count;
}

//  What the parser knows of a column beyond the frame
typedef struct {
    size_t switched;            //  rows before this one must be read again as strings
} s_pending_t;

//  Store a cell; a column that meets a value that is no number turns into
//  a column of strings, remembering which rows to read again.
static void
s_store (wb_frame__column_t *column, s_pending_t *pending, size_t row, size_t room,
         const char *text, size_t size)
{
    if (column->numbers) {
        double value;
        int kind = s_number (text, size, &value);
        if (kind >= 0) {
            column->numbers [row] = kind? value: NAN;
            return;
        }
        free (column->numbers);
        column->numbers = NULL;
        column->codes = wb_malloc (room * sizeof (uint32_t));
        column->dict = wb_frame__dict_new ();
        pending->switched = row;
    }
    column->codes [row] = s_missing (text, size)? 0: wb_frame__dict_intern (column->dict, text, size);
}

//  Categorical or text, once a column of strings is complete
static wb_col_type_t
s_string_type (wb_frame__column_t *column, size_t rows)
{
    size_t present = 0;
    for (size_t row = 0; row < rows; row++)
        present += column->codes [row] != 0;
    size_t distinct = column->dict->count;
    size_t limit = rows / 20 > S_FEW_VALUES? rows / 20: S_FEW_VALUES;
    bool all_unique = distinct == present && present > S_FEW_VALUES;
    return distinct <= limit && !all_unique? WB_COL_CATEGORICAL: WB_COL_TEXT;
}

//  Read the header: the column names
static int
s_read_header (s_parser_t *p, wb_frame_t *self)
{
    wb_frame__dict_t *seen = wb_frame__dict_new ();
    size_t room = 0;
    int kind = S_NEXT;
    while (kind == S_NEXT) {
        kind = s_read_field (p);
        if (kind < 0)
            break;
        size_t size = p->field_size;
        const char *name = s_trim (p->field, &size);
        if (size == 0) {
            kind = s_fail (p, p->field_at, "field %zu of the header is empty: expected "
                           "a column name", self->cols + 1);
            break;
        }
        uint32_t code = wb_frame__dict_intern (seen, name, size);
        if (code <= self->cols) {
            kind = s_fail (p, p->field_at, "column name '%s' is used twice (fields %u and "
                           "%zu of the header): expected unique names",
                           wb_frame__dict_value (seen, code), (unsigned) code, self->cols + 1);
            break;
        }
        if (self->cols == room) {
            room = room? room * 2: 16;
            self->columns = wb_realloc (self->columns, room * sizeof (wb_frame__column_t));
        }
        self->columns [self->cols++] = (wb_frame__column_t) { wb_strndup (name, size),
                                                      WB_COL_NUMERIC, NULL, NULL, NULL };
    }
    wb_frame__dict_release (&seen);
    return kind < 0? -1: 0;
}

//  Count the fields of a record that has too many, for the error (kind is
//  how the first extra field ended)
static int
s_too_many (s_parser_t *p, size_t expected, size_t extra_at, int kind)
{
    size_t found = expected + 1;
    while (kind == S_NEXT) {
        kind = s_read_field (p);
        if (kind < 0)
            return -1;
        found++;
    }
    return s_fail (p, extra_at, "expected %zu field%s as in the header, found %zu",
                   expected, expected == 1? "": "s", found);
}

wb_frame_t *
wb_frame_parse_csv (const char *data, size_t size, const char *origin, wb_error_t *err)
{
    assert (data || size == 0);
    s_parser_t parser = { data? data: "", size, 0, origin? origin: "CSV", err,
                          NULL, 0, 0, 0, wb_buf_new () };
    s_parser_t *p = &parser;
    wb_frame_t *self = wb_calloc (1, sizeof (wb_frame_t));
    s_pending_t *pending = NULL;
    size_t *starts = NULL;      //  offset of each record, to read rows again

    if (s_check_text (p))
        goto fail;
    if (size >= 3 && memcmp (data, "\xEF\xBB\xBF", 3) == 0)
        p->pos = 3;
    s_skip_blank_lines (p);
    if (p->pos >= size) {
        wb_error_set (err, "%s: the file is empty: expected a header row of column "
                      "names, then rows of values", p->origin);
        goto fail;
    }
    if (s_read_header (p, self))
        goto fail;

    //  Room for every record there can be: one per line break, plus one
    size_t room = s_count_breaks (data + p->pos, size - p->pos) + 1;
    if (room > UINT32_MAX) {
        wb_error_set (err, "%s: too many rows (more than %u): split the file",
                      p->origin, UINT32_MAX);
        goto fail;
    }
    pending = wb_calloc (self->cols, sizeof (s_pending_t));
    starts = wb_malloc (room * sizeof (size_t));
    for (size_t col = 0; col < self->cols; col++)
        self->columns [col].numbers = wb_malloc (room * sizeof (double));

    //  The one pass over the records
    size_t cols = self->cols;
    while (true) {
        s_skip_blank_lines (p);
        if (p->pos >= size)
            break;
        size_t row = self->rows;
        starts [row] = p->pos;
        size_t col = 0;
        int kind = S_NEXT;
        while (kind == S_NEXT) {
            kind = s_read_field (p);
            if (kind < 0)
                goto fail;
            if (col == cols) {
                s_too_many (p, cols, p->field_at, kind);
                goto fail;
            }
            s_store (&self->columns [col], &pending [col], row, room, p->field, p->field_size);
            col++;
        }
        if (col < cols) {
            s_fail (p, p->field_end, "expected %zu field%s as in the header, found %zu",
                    cols, cols == 1? "": "s", col);
            goto fail;
        }
        self->rows++;
    }
    if (self->rows == 0) {
        wb_error_set (err, "%s: there are no rows after the header: expected at least "
                      "one row of values", p->origin);
        goto fail;
    }

    //  Columns that stopped being numeric: their first rows, as strings
    size_t again = 0, last = 0;
    for (size_t col = 0; col < cols; col++)
        if (!self->columns [col].numbers && pending [col].switched) {
            if (pending [col].switched > again)
                again = pending [col].switched;
            last = col;
        }
    for (size_t row = 0; row < again; row++) {
        p->pos = starts [row];
        for (size_t col = 0; col <= last; col++) {
            int kind = s_read_field (p);
            assert (kind > 0);      //  read once already
            (void) kind;
            if (!self->columns [col].numbers && row < pending [col].switched)
                s_store (&self->columns [col], &pending [col], row, room,
                         p->field, p->field_size);
        }
    }

    //  Types, and arrays cut to size
    for (size_t col = 0; col < cols; col++) {
        wb_frame__column_t *column = &self->columns [col];
        if (column->numbers) {
            column->type = WB_COL_NUMERIC;
            column->numbers = wb_realloc (column->numbers, self->rows * sizeof (double));
        }
        else {
            column->codes = wb_realloc (column->codes, self->rows * sizeof (uint32_t));
            column->type = s_string_type (column, self->rows);
            wb_frame__dict_freeze (column->dict);
        }
    }
    free (starts);
    free (pending);
    wb_buf_destroy (&parser.unquoted);
    return self;

fail:
    free (starts);
    free (pending);
    wb_buf_destroy (&parser.unquoted);
    wb_frame_destroy (&self);
    return NULL;
}

wb_frame_t *
wb_frame_read_csv (const char *path, wb_error_t *err)
{
    assert (path);
    size_t size;
    char *data = wb_fs_read (path, &size, err);
    if (!data)
        return NULL;
    wb_frame_t *self = wb_frame_parse_csv (data, size, path, err);
    free (data);
    return self;
}

//  @selftest
//  Parse text that must fail, and check the message is exactly expected
static void
s_test_error (const char *text, size_t size, const char *expected)
{
    wb_error_t err;
    wb_error_clear (&err);
    wb_frame_t *frame = wb_frame_parse_csv (text, size, "t.csv", &err);
    if (frame || !streq (err.text, expected)) {
        fprintf (stderr, "for %s\n  expected: %s\n  got:      %s\n", text, expected, err.text);
        assert (false);
    }
}

void
wb_frame_csv_test (bool verbose)
{
    (void) verbose;
    wb_error_t err;

    //  The features of RFC 4180 at once: a byte order mark, CRLF, quoted
    //  fields with commas, "" and a line break inside, UTF-8, missing values
    const char *quoted =
        "\xEF\xBB\xBF" "city,\"population, 2020\",note\r\n"
        "\"Z\xC3\xBCrich\",421878,\"lake\r\nand \"\"old town\"\"\"\r\n"
        "Bern,NA,\r\n"
        "\"Gen\xC3\xA8ve\",203856,\"UN, WTO\"\r\n";
    wb_frame_t *frame = wb_frame__test_parse (quoted);
    assert (wb_frame_rows (frame) == 3 && wb_frame_cols (frame) == 3);
    assert (streq (wb_frame_name (frame, 0), "city"));
    assert (streq (wb_frame_name (frame, 1), "population, 2020"));
    assert (wb_frame_find (frame, "note") == 2 && wb_frame_find (frame, "nope") == -1);
    assert (wb_frame_type (frame, 0) == WB_COL_CATEGORICAL);
    assert (wb_frame_type (frame, 1) == WB_COL_NUMERIC);
    assert (wb_frame__test_text (frame, 0, 0, "Z\xC3\xBCrich"));
    assert (wb_frame__test_text (frame, 0, 2, "Gen\xC3\xA8ve"));
    assert (wb_frame__test_text (frame, 2, 0, "lake\r\nand \"old town\""));
    assert (wb_frame__test_text (frame, 2, 1, NULL));
    assert (wb_frame__test_text (frame, 2, 2, "UN, WTO"));
    const double *population = wb_frame_numbers (frame, 1);
    assert (population [0] == 421878 && isnan (population [1]) && population [2] == 203856);
    assert (wb_frame__test_text (frame, 1, 0, "421878") && wb_frame__test_text (frame, 1, 1, NULL));
    assert (wb_frame_numbers (frame, 0) == NULL);
    json_t *schema = wb_frame_schema (frame);
    char *dump = json_dumps (schema, JSON_COMPACT);
    assert (streq (dump, "[{\"name\":\"city\",\"type\":\"categorical\"},"
                         "{\"name\":\"population, 2020\",\"type\":\"numeric\"},"
                         "{\"name\":\"note\",\"type\":\"categorical\"}]"));
    free (dump);
    json_decref (schema);
    wb_frame_destroy (&frame);
    assert (frame == NULL);
    wb_frame_destroy (&frame);

    //  LF without a final line break, lone CR, blank lines skipped
    frame = wb_frame__test_parse ("a,b\n\n1,x\r2,y\n\n3,z");
    assert (wb_frame_rows (frame) == 3);
    assert (wb_frame_numbers (frame, 0) [2] == 3 && wb_frame__test_text (frame, 1, 2, "z"));
    wb_frame_destroy (&frame);

    //  One column; a trailing comma in the header is an empty name
    frame = wb_frame__test_parse ("only\n5\n6\n");
    assert (wb_frame_cols (frame) == 1 && wb_frame_rows (frame) == 2);
    wb_frame_destroy (&frame);
    s_test_error ("a,b,\n1,2,\n", 10, "t.csv: line 1, column 5: field 3 of the header is "
                  "empty: expected a column name");

    //  Missing markers in any case, numbers in their usual spellings
    frame = wb_frame__test_parse (
        "v,w\n"
        "1e3,\n" "NA,-2.5E-2\n" "n/a,+7\n" "nan,.5\n" "NULL,5.\n" "None,0012\n"
        "?, 3 \n" "  ,\"4.25\"\n" "-0,3.14159265358979323846\n");
    assert (wb_frame_type (frame, 0) == WB_COL_NUMERIC && wb_frame_type (frame, 1) == WB_COL_NUMERIC);
    const double *v = wb_frame_numbers (frame, 0);
    const double *w = wb_frame_numbers (frame, 1);
    assert (v [0] == 1000);
    for (size_t row = 1; row < 8; row++)
        assert (isnan (v [row]));
    assert (v [8] == 0 && signbit (v [8]));
    assert (isnan (w [0]) && w [1] == -0.025 && w [2] == 7 && w [3] == 0.5 && w [4] == 5);
    assert (w [5] == 12 && w [6] == 3 && w [7] == 4.25);
    assert (w [8] == strtod ("3.14159265358979323846", NULL));
    assert (wb_frame__test_text (frame, 1, 1, "-0.025") && wb_frame__test_text (frame, 0, 1, NULL));
    wb_frame_destroy (&frame);
    //  Markers are spelled as pandas does: "Na" and "none" are values
    frame = wb_frame__test_parse ("element,pool\nNa,none\nK,None\n");
    assert (wb_frame__test_text (frame, 0, 0, "Na") && wb_frame__test_text (frame, 1, 0, "none"));
    assert (wb_frame__test_text (frame, 1, 1, NULL));
    wb_frame_destroy (&frame);

    //  The fast path gives the same doubles as strtod
    unsigned seed = 7;
    for (int i = 0; i < 20000; i++) {
        seed = seed * 1103515245 + 12345;
        char text [64];
        int digits = (int) (seed >> 16) % 18;
        double magnitude = pow (10, (int) ((seed >> 8) % 30) - 15);
        snprintf (text, sizeof (text), "%.*f", digits, (double) (seed >> 4) * magnitude / 1e6);
        if (i % 3 == 0)
            snprintf (text, sizeof (text), "%.*e", digits, (double) seed * magnitude);
        double value;
        assert (s_number (text, strlen (text), &value) == 1);
        assert (value == strtod (text, NULL));
    }
    double ignored;
    const char *not_numbers [] = { "inf", "-Infinity", "0x10", "1e", "1e+", "-", ".",
                                   "1.2.3", "1e400", "12abc", "1 2", "--1", NULL };
    for (const char **text = not_numbers; *text; text++)
        assert (s_number (*text, strlen (*text), &ignored) == -1);

    //  A column that stops being numeric keeps the text of its first rows;
    //  two columns that switch at different rows
    frame = wb_frame__test_parse ("id,x,y,z\n1,1.50,007,a\n2,2,8,b\n3,inf,9,c\n4,3,oops,d\n");
    assert (wb_frame_type (frame, 0) == WB_COL_NUMERIC);
    assert (wb_frame_type (frame, 1) == WB_COL_CATEGORICAL);
    assert (wb_frame_type (frame, 2) == WB_COL_CATEGORICAL);
    assert (wb_frame__test_text (frame, 1, 0, "1.50") && wb_frame__test_text (frame, 1, 2, "inf"));
    assert (wb_frame__test_text (frame, 2, 0, "007") && wb_frame__test_text (frame, 2, 3, "oops"));
    assert (wb_frame__test_text (frame, 3, 3, "d"));
    wb_frame_destroy (&frame);

    //  Inference: few distinct values are categorical; many, or all
    //  different, are text; all different in a small table is categorical
    wb_buf_t *csv = wb_buf_new ();
    wb_buf_puts (csv, "color,word,label,id\n");
    for (int row = 0; row < 1000; row++)
        wb_buf_printf (csv, "%s,w%d,c%d,x%d\n", (const char *[]) { "red", "green", "blue" } [row % 3],
                       row % 51, row % 50, row);
    frame = wb_frame__test_parse (wb_buf_data (csv));
    assert (wb_frame_type (frame, 0) == WB_COL_CATEGORICAL);
    assert (wb_frame_type (frame, 1) == WB_COL_TEXT);           //  51 > max (20, 1000 / 20)
    assert (wb_frame_type (frame, 2) == WB_COL_CATEGORICAL);    //  50
    assert (wb_frame_type (frame, 3) == WB_COL_TEXT);           //  all different
    wb_frame_destroy (&frame);
    wb_buf_destroy (&csv);
    frame = wb_frame__test_parse ("name\nann\nbob\ncy\n");
    assert (wb_frame_type (frame, 0) == WB_COL_CATEGORICAL);
    wb_frame_destroy (&frame);

    //  Every error names the line and column and what was expected
    s_test_error ("", 0, "t.csv: the file is empty: expected a header row of column names, "
                  "then rows of values");
    s_test_error ("\r\n\n", 3, "t.csv: the file is empty: expected a header row of column "
                  "names, then rows of values");
    s_test_error ("a,b\n", 4, "t.csv: there are no rows after the header: expected at least "
                  "one row of values");
    s_test_error ("a,b,a\n1,2,3\n", 12, "t.csv: line 1, column 5: column name 'a' is used "
                  "twice (fields 1 and 3 of the header): expected unique names");
    s_test_error ("\xEF\xBB\xBF" "a,a\n1,2\n", 11, "t.csv: line 1, column 3: column name 'a' "
                  "is used twice (fields 1 and 2 of the header): expected unique names");
    s_test_error ("a,,c\n1,2,3\n", 11, "t.csv: line 1, column 3: field 2 of the header is "
                  "empty: expected a column name");
    s_test_error ("a,b\n1,2\n3,\"x\n4,5\n", 17, "t.csv: line 3, column 3: this quoted field "
                  "is never closed: expected a closing \" (a quote inside a quoted field is "
                  "written \"\")");
    s_test_error ("a,b\n1,2\n3,4,5\n", 14, "t.csv: line 3, column 5: expected 2 fields as "
                  "in the header, found 3");
    s_test_error ("a,b,c\n1,2\n", 10, "t.csv: line 2, column 4: expected 3 fields as in the "
                  "header, found 2");
    s_test_error ("a,b\n\"x\ny\",1\n1,2,3,4\n", 20, "t.csv: line 4, column 5: expected 2 "
                  "fields as in the header, found 4");
    s_test_error ("a,b\r\n1,x\"y\r\n", 12, "t.csv: line 2, column 4: stray \" in a field "
                  "that does not start with a quote: expected the whole field in quotes, with "
                  "\"\" for each quote inside");
    s_test_error ("a,b\n\"x\"y,2\n", 11, "t.csv: line 2, column 4: unexpected 'y' after the "
                  "closing quote of a field: expected a comma or the end of the line");
    s_test_error ("a,b\n1,caf\xE9\n", 10, "t.csv: line 2, column 6: invalid UTF-8 (byte "
                  "0xE9): expected UTF-8 text; save the file as UTF-8 and register it again");
    s_test_error ("a,b\n\xC3\xBC\xC3\xBC,\xFF\n", 10, "t.csv: line 2, column 4: invalid UTF-8 "
                  "(byte 0xFF): expected UTF-8 text; save the file as UTF-8 and register it again");
    s_test_error ("a,b\n1,\0\n", 7, "t.csv: line 2, column 3: unexpected NUL byte: expected "
                  "CSV text, and this looks like a binary file");
    assert (!wb_frame_read_csv ("/nonexistent/x.csv", &err));
    assert (streq (err.text, "cannot read '/nonexistent/x.csv': No such file or directory"));
    assert (!wb_frame_read_csv ("/tmp", &err));
    assert (strstr (err.text, "it is a folder, not a regular file"));
    //  A FIFO with no writer is refused at once (opening it must not wait)
    char fifo_dir [] = "/tmp/wb-frame-XXXXXX";
    assert (mkdtemp (fifo_dir));
    char *fifo = wb_sprintf ("%s/pipe.csv", fifo_dir);
    assert (mkfifo (fifo, 0600) == 0);
    assert (!wb_frame_read_csv (fifo, &err));
    assert (strstr (err.text, "pipe.csv': it is a FIFO (named pipe), not a regular file"));
    unlink (fifo);
    rmdir (fifo_dir);
    free (fifo);
}
//  @end
