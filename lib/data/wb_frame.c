/*  wb_frame - a table read from CSV: named columns, each numeric,
    categorical or text, with missing values

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
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "wb_frame.h"
#include "base/wb_fs.h"
#include "base/wb_utf8.h"
#include "base/wb_util.h"

#define S_TOP_VALUES    10      //  most frequent values listed in a profile
#define S_MIN_BINS      10      //  fewest histogram bins (continuous values)
#define S_MAX_BINS      20      //  most histogram bins
#define S_FEW_VALUES    20      //  categorical up to max (this, rows / 20) values

//  ---- Distinct strings ----

//  The distinct values of a column of strings. Cells hold codes: 0 for
//  missing, else an index into offsets plus one. The values sit one after
//  the other in one arena (no allocation per value), each NUL-terminated.
//  Frames made by wb_frame_select share the dictionary of their source.
typedef struct {
    size_t refs;                //  frames sharing this dictionary
    char *arena;                //  the values, NUL-terminated, back to back
    size_t arena_size;          //  bytes used in arena
    size_t arena_room;          //  bytes allocated
    size_t *offsets;            //  where each value starts in arena
    uint64_t *hashes;           //  the hash of each value (while parsing)
    size_t count;               //  how many values
    size_t room;                //  room in offsets and hashes
    uint64_t *slots;            //  hash table (while parsing): 0 = empty, else
                                //  the code in the low 32 bits, hash above
    size_t nslots;              //  its size, a power of two
} s_dict_t;

static uint64_t
s_hash (const char *text, size_t size)
{
    //  FNV-1a, then a multiply so that the high bits mix too
    uint64_t hash = 14695981039346656037ULL;
    for (size_t i = 0; i < size; i++) {
        hash ^= (unsigned char) text [i];
        hash *= 1099511628211ULL;
    }
    return hash * 0x9E3779B97F4A7C15ULL;
}

static s_dict_t *
s_dict_new (void)
{
    s_dict_t *self = wb_calloc (1, sizeof (s_dict_t));
    self->refs = 1;
    self->nslots = 64;
    self->slots = wb_calloc (self->nslots, sizeof (uint64_t));
    return self;
}

static void
s_dict_release (s_dict_t **self_p)
{
    s_dict_t *self = *self_p;
    if (self && --self->refs == 0) {
        free (self->arena);
        free (self->offsets);
        free (self->hashes);
        free (self->slots);
        free (self);
    }
    *self_p = NULL;
}

//  The value with this code (1 and up)
static const char *
s_dict_value (s_dict_t *self, uint32_t code)
{
    return self->arena + self->offsets [code - 1];
}

//  A slot's bits: the code below, the top of the hash above
#define S_SLOT(code, hash)  ((uint64_t) (code) | ((hash) & 0xFFFFFFFF00000000ULL))

//  Double the hash table and place every code again
static void
s_dict_grow (s_dict_t *self)
{
    free (self->slots);
    self->nslots *= 2;
    self->slots = wb_calloc (self->nslots, sizeof (uint64_t));
    size_t mask = self->nslots - 1;
    for (size_t index = 0; index < self->count; index++) {
        size_t slot = (size_t) (self->hashes [index] >> 20) & mask;
        while (self->slots [slot])
            slot = (slot + 1) & mask;
        self->slots [slot] = S_SLOT (index + 1, self->hashes [index]);
    }
}

//  The code of a value, added when new
static uint32_t
s_dict_intern (s_dict_t *self, const char *text, size_t size)
{
    uint64_t hash = s_hash (text, size);
    size_t mask = self->nslots - 1;
    size_t slot = (size_t) (hash >> 20) & mask;
    while (self->slots [slot]) {
        uint64_t bits = self->slots [slot];
        uint32_t code = (uint32_t) bits;
        if ((bits >> 32) == (hash >> 32)) {
            const char *value = s_dict_value (self, code);
            if (memcmp (value, text, size) == 0 && value [size] == 0)
                return code;
        }
        slot = (slot + 1) & mask;
    }
    if (self->count == self->room) {
        self->room = self->room? self->room * 2: 16;
        self->offsets = wb_realloc (self->offsets, self->room * sizeof (size_t));
        self->hashes = wb_realloc (self->hashes, self->room * sizeof (uint64_t));
    }
    if (self->arena_size + size + 1 > self->arena_room) {
        while (self->arena_size + size + 1 > self->arena_room)
            self->arena_room = self->arena_room? self->arena_room * 2: 256;
        self->arena = wb_realloc (self->arena, self->arena_room);
    }
    memcpy (self->arena + self->arena_size, text, size);
    self->arena [self->arena_size + size] = 0;
    self->offsets [self->count] = self->arena_size;
    self->hashes [self->count] = hash;
    self->arena_size += size + 1;
    self->count++;
    //  Rows are limited to UINT32_MAX by the parser, so codes fit
    uint32_t code = (uint32_t) self->count;
    self->slots [slot] = S_SLOT (code, hash);
    if (self->count * 2 > self->nslots)
        s_dict_grow (self);
    return code;
}

//  Parsing is over: drop what only interning needs
static void
s_dict_freeze (s_dict_t *self)
{
    free (self->slots);
    free (self->hashes);
    self->slots = NULL;
    self->hashes = NULL;
    self->nslots = 0;
}

//  ---- The frame ----

//  One column
typedef struct {
    char *name;                 //  from the header
    wb_col_type_t type;         //  inferred from the data
    double *numbers;            //  numeric: a value per row, NaN = missing
    uint32_t *codes;            //  otherwise: a code per row (0 = missing)
    s_dict_t *dict;             //  otherwise: what the codes stand for
} s_column_t;

struct _wb_frame_t {
    size_t rows;                //  data rows (the header is not one)
    size_t cols;                //  columns
    s_column_t *columns;        //  cols of them
    char cell [40];             //  a number as text, lent by wb_frame_text
};

void
wb_frame_destroy (wb_frame_t **self_p)
{
    assert (self_p);
    wb_frame_t *self = *self_p;
    if (self) {
        for (size_t col = 0; col < self->cols; col++) {
            s_column_t *column = &self->columns [col];
            free (column->name);
            free (column->numbers);
            free (column->codes);
            s_dict_release (&column->dict);
        }
        free (self->columns);
        free (self);
        *self_p = NULL;
    }
}

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
s_store (s_column_t *column, s_pending_t *pending, size_t row, size_t room,
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
        column->dict = s_dict_new ();
        pending->switched = row;
    }
    column->codes [row] = s_missing (text, size)? 0: s_dict_intern (column->dict, text, size);
}

//  Categorical or text, once a column of strings is complete
static wb_col_type_t
s_string_type (s_column_t *column, size_t rows)
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
    s_dict_t *seen = s_dict_new ();
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
        uint32_t code = s_dict_intern (seen, name, size);
        if (code <= self->cols) {
            kind = s_fail (p, p->field_at, "column name '%s' is used twice (fields %u and "
                           "%zu of the header): expected unique names",
                           s_dict_value (seen, code), (unsigned) code, self->cols + 1);
            break;
        }
        if (self->cols == room) {
            room = room? room * 2: 16;
            self->columns = wb_realloc (self->columns, room * sizeof (s_column_t));
        }
        self->columns [self->cols++] = (s_column_t) { wb_strndup (name, size),
                                                      WB_COL_NUMERIC, NULL, NULL, NULL };
    }
    s_dict_release (&seen);
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
        s_column_t *column = &self->columns [col];
        if (column->numbers) {
            column->type = WB_COL_NUMERIC;
            column->numbers = wb_realloc (column->numbers, self->rows * sizeof (double));
        }
        else {
            column->codes = wb_realloc (column->codes, self->rows * sizeof (uint32_t));
            column->type = s_string_type (column, self->rows);
            s_dict_freeze (column->dict);
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

//  ---- Access ----

size_t
wb_frame_rows (wb_frame_t *self)
{
    assert (self);
    return self->rows;
}

size_t
wb_frame_cols (wb_frame_t *self)
{
    assert (self);
    return self->cols;
}

const char *
wb_frame_name (wb_frame_t *self, size_t col)
{
    assert (self && col < self->cols);
    return self->columns [col].name;
}

wb_col_type_t
wb_frame_type (wb_frame_t *self, size_t col)
{
    assert (self && col < self->cols);
    return self->columns [col].type;
}

int
wb_frame_find (wb_frame_t *self, const char *name)
{
    assert (self && name);
    for (size_t col = 0; col < self->cols; col++)
        if (streq (self->columns [col].name, name))
            return (int) col;
    return -1;
}

const double *
wb_frame_numbers (wb_frame_t *self, size_t col)
{
    assert (self && col < self->cols);
    return self->columns [col].numbers;
}

//  For numeric cells the text is lent until the next call
const char *
wb_frame_text (wb_frame_t *self, size_t col, size_t row)
{
    assert (self && col < self->cols && row < self->rows);
    s_column_t *column = &self->columns [col];
    if (column->numbers) {
        double value = column->numbers [row];
        if (isnan (value))
            return NULL;
        wb_double_text (value, self->cell, sizeof (self->cell));
        return self->cell;
    }
    uint32_t code = column->codes [row];
    return code? s_dict_value (column->dict, code): NULL;
}

wb_frame_t *
wb_frame_select (wb_frame_t *self, const size_t *rows, size_t count)
{
    assert (self && (rows || count == 0));
    wb_frame_t *copy = wb_calloc (1, sizeof (wb_frame_t));
    copy->rows = count;
    copy->cols = self->cols;
    copy->columns = wb_calloc (self->cols, sizeof (s_column_t));
    for (size_t col = 0; col < self->cols; col++) {
        s_column_t *from = &self->columns [col];
        s_column_t *to = &copy->columns [col];
        to->name = wb_strdup (from->name);
        to->type = from->type;
        if (from->numbers) {
            to->numbers = wb_malloc ((count? count: 1) * sizeof (double));
            for (size_t i = 0; i < count; i++) {
                assert (rows [i] < self->rows);
                to->numbers [i] = from->numbers [rows [i]];
            }
        }
        else {
            to->codes = wb_malloc ((count? count: 1) * sizeof (uint32_t));
            for (size_t i = 0; i < count; i++) {
                assert (rows [i] < self->rows);
                to->codes [i] = from->codes [rows [i]];
            }
            to->dict = from->dict;
            to->dict->refs++;
        }
    }
    return copy;
}

const char *
wb_col_type_name (wb_col_type_t type)
{
    switch (type) {
        case WB_COL_NUMERIC:     return "numeric";
        case WB_COL_CATEGORICAL: return "categorical";
        case WB_COL_TEXT:        return "text";
    }
    return "unknown";
}

json_t *
wb_frame_schema (wb_frame_t *self)
{
    assert (self);
    json_t *schema = json_array ();
    for (size_t col = 0; col < self->cols; col++)
        json_array_append_new (schema, json_pack ("{s:s, s:s}",
            "name", self->columns [col].name,
            "type", wb_col_type_name (self->columns [col].type)));
    return schema;
}

//  ---- Profile ----

//  A double as JSON: null for NaN
static json_t *
s_real (double value)
{
    return isfinite (value)? json_real (value): json_null ();
}

//  Distinct present values in numbers[0..count), with a hash set of bits
static size_t
s_count_distinct (const double *numbers, size_t count, size_t present)
{
    size_t nslots = 16;
    while (nslots < present * 2)
        nslots *= 2;
    const uint64_t empty = 0x7FF8000000000001ULL;      //  a NaN: never a present value
    uint64_t *slots = wb_malloc (nslots * sizeof (uint64_t));
    for (size_t i = 0; i < nslots; i++)
        slots [i] = empty;
    int shift = 64;
    for (size_t n = nslots; n > 1; n >>= 1)
        shift--;
    size_t distinct = 0;
    for (size_t row = 0; row < count; row++) {
        double value = numbers [row];
        if (isnan (value))
            continue;
        if (value == 0)
            value = 0;          //  -0 is 0
        uint64_t bits;
        memcpy (&bits, &value, sizeof (bits));
        size_t slot = shift < 64? (size_t) ((bits * 0x9E3779B97F4A7C15ULL) >> shift): 0;
        while (slots [slot] != empty && slots [slot] != bits)
            slot = (slot + 1) & (nslots - 1);
        if (slots [slot] == empty) {
            slots [slot] = bits;
            distinct++;
        }
    }
    free (slots);
    return distinct;
}

//  Profile of a numeric column: min, max, mean, std (sample), histogram.
//  Whole numbers over a short range (at most 20 values, such as pixel
//  levels or ratings) get a bin per value, centred on it; anything else
//  gets 10 to 20 equal bins from min to max.
static void
s_profile_numbers (const double *numbers, size_t count, json_t *entry)
{
    size_t present = 0;
    double min = INFINITY, max = -INFINITY, sum = 0;
    bool whole = true;
    for (size_t row = 0; row < count; row++) {
        double value = numbers [row];
        if (isnan (value))
            continue;
        present++;
        sum += value;
        if (value < min)
            min = value;
        if (value > max)
            max = value;
        if (whole && value != floor (value))
            whole = false;
    }
    double mean = present? sum / (double) present: NAN;
    double squares = 0;
    for (size_t row = 0; present > 1 && row < count; row++)
        if (!isnan (numbers [row]))
            squares += (numbers [row] - mean) * (numbers [row] - mean);
    double std = present > 1? sqrt (squares / (double) (present - 1)): NAN;
    json_object_set_new (entry, "missing", json_integer ((json_int_t) (count - present)));
    json_object_set_new (entry, "distinct", json_integer (
        (json_int_t) s_count_distinct (numbers, count, present)));
    json_object_set_new (entry, "min", s_real (present? min: NAN));
    json_object_set_new (entry, "max", s_real (present? max: NAN));
    json_object_set_new (entry, "mean", s_real (mean));
    json_object_set_new (entry, "std", s_real (std));

    json_t *edges = json_array ();
    json_t *counts = json_array ();
    if (present) {
        size_t bins;
        double low, width;
        if (min == max || (whole && max - min < S_MAX_BINS)) {
            bins = (size_t) (max - min) + 1;
            low = min - 0.5;
            width = 1;
        }
        else {
            bins = (size_t) ceil (log2 ((double) present)) + 1;
            bins = bins < S_MIN_BINS? S_MIN_BINS: bins > S_MAX_BINS? S_MAX_BINS: bins;
            low = min;
            width = (max - min) / (double) bins;
        }
        size_t *tally = wb_calloc (bins, sizeof (size_t));
        for (size_t row = 0; row < count; row++) {
            double value = numbers [row];
            if (isnan (value))
                continue;
            double at = (value - low) / width;
            size_t bin = at <= 0? 0: (size_t) at;
            tally [bin < bins? bin: bins - 1]++;
        }
        for (size_t bin = 0; bin <= bins; bin++)
            json_array_append_new (edges, json_real (bin == bins && width != 1?
                                   max: low + (double) bin * width));
        for (size_t bin = 0; bin < bins; bin++)
            json_array_append_new (counts, json_integer ((json_int_t) tally [bin]));
        free (tally);
    }
    json_object_set_new (entry, "histogram", json_pack ("{s:o, s:o}",
                         "edges", edges, "counts", counts));
}

//  Does value a with count ca rank above b with cb (more often, then A-Z)?
static bool
s_ranks_above (const char *a, size_t ca, const char *b, size_t cb)
{
    return ca > cb || (ca == cb && strcmp (a, b) < 0);
}

//  Profile of a column of strings: missing, distinct, top values
static void
s_profile_strings (s_column_t *column, size_t count, json_t *entry)
{
    s_dict_t *dict = column->dict;
    size_t *tally = wb_calloc (dict->count + 1, sizeof (size_t));
    for (size_t row = 0; row < count; row++)
        tally [column->codes [row]]++;
    size_t distinct = 0;
    size_t top [S_TOP_VALUES];  //  codes of the most frequent values, best first
    size_t ntop = 0;
    for (size_t code = 1; code <= dict->count; code++) {
        if (!tally [code])
            continue;
        distinct++;
        const char *value = s_dict_value (dict, (uint32_t) code);
        size_t at = ntop;
        while (at > 0 && s_ranks_above (value, tally [code],
                                        s_dict_value (dict, (uint32_t) top [at - 1]),
                                        tally [top [at - 1]]))
            at--;
        if (at >= S_TOP_VALUES)
            continue;
        if (ntop < S_TOP_VALUES)
            ntop++;
        memmove (top + at + 1, top + at, (ntop - 1 - at) * sizeof (size_t));
        top [at] = code;
    }
    json_object_set_new (entry, "missing", json_integer ((json_int_t) tally [0]));
    json_object_set_new (entry, "distinct", json_integer ((json_int_t) distinct));
    json_t *list = json_array ();
    for (size_t i = 0; i < ntop; i++)
        json_array_append_new (list, json_pack ("[s, I]", s_dict_value (dict, (uint32_t) top [i]),
                                                (json_int_t) tally [top [i]]));
    json_object_set_new (entry, "top", list);
    free (tally);
}

json_t *
wb_frame_profile (wb_frame_t *self)
{
    assert (self);
    json_t *profile = json_array ();
    for (size_t col = 0; col < self->cols; col++) {
        s_column_t *column = &self->columns [col];
        json_t *entry = json_pack ("{s:s, s:s}", "name", column->name,
                                   "type", wb_col_type_name (column->type));
        if (column->numbers)
            s_profile_numbers (column->numbers, self->rows, entry);
        else
            s_profile_strings (column, self->rows, entry);
        json_array_append_new (profile, entry);
    }
    return profile;
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

static wb_frame_t *
s_test_parse (const char *text)
{
    wb_error_t err;
    wb_frame_t *frame = wb_frame_parse_csv (text, strlen (text), "t.csv", &err);
    if (!frame)
        fprintf (stderr, "unexpected error: %s\n", err.text);
    assert (frame);
    return frame;
}

static bool
s_test_text (wb_frame_t *frame, size_t col, size_t row, const char *expected)
{
    const char *text = wb_frame_text (frame, col, row);
    return expected? text && streq (text, expected): text == NULL;
}

static double
s_test_number (json_t *entry, const char *key)
{
    return json_real_value (json_object_get (entry, key));
}

void
wb_frame_test (bool verbose)
{
    wb_error_t err;

    //  The features of RFC 4180 at once: a byte order mark, CRLF, quoted
    //  fields with commas, "" and a line break inside, UTF-8, missing values
    const char *quoted =
        "\xEF\xBB\xBF" "city,\"population, 2020\",note\r\n"
        "\"Z\xC3\xBCrich\",421878,\"lake\r\nand \"\"old town\"\"\"\r\n"
        "Bern,NA,\r\n"
        "\"Gen\xC3\xA8ve\",203856,\"UN, WTO\"\r\n";
    wb_frame_t *frame = s_test_parse (quoted);
    assert (wb_frame_rows (frame) == 3 && wb_frame_cols (frame) == 3);
    assert (streq (wb_frame_name (frame, 0), "city"));
    assert (streq (wb_frame_name (frame, 1), "population, 2020"));
    assert (wb_frame_find (frame, "note") == 2 && wb_frame_find (frame, "nope") == -1);
    assert (wb_frame_type (frame, 0) == WB_COL_CATEGORICAL);
    assert (wb_frame_type (frame, 1) == WB_COL_NUMERIC);
    assert (s_test_text (frame, 0, 0, "Z\xC3\xBCrich"));
    assert (s_test_text (frame, 0, 2, "Gen\xC3\xA8ve"));
    assert (s_test_text (frame, 2, 0, "lake\r\nand \"old town\""));
    assert (s_test_text (frame, 2, 1, NULL));
    assert (s_test_text (frame, 2, 2, "UN, WTO"));
    const double *population = wb_frame_numbers (frame, 1);
    assert (population [0] == 421878 && isnan (population [1]) && population [2] == 203856);
    assert (s_test_text (frame, 1, 0, "421878") && s_test_text (frame, 1, 1, NULL));
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
    frame = s_test_parse ("a,b\n\n1,x\r2,y\n\n3,z");
    assert (wb_frame_rows (frame) == 3);
    assert (wb_frame_numbers (frame, 0) [2] == 3 && s_test_text (frame, 1, 2, "z"));
    wb_frame_destroy (&frame);

    //  One column; a trailing comma in the header is an empty name
    frame = s_test_parse ("only\n5\n6\n");
    assert (wb_frame_cols (frame) == 1 && wb_frame_rows (frame) == 2);
    wb_frame_destroy (&frame);
    s_test_error ("a,b,\n1,2,\n", 10, "t.csv: line 1, column 5: field 3 of the header is "
                  "empty: expected a column name");

    //  Missing markers in any case, numbers in their usual spellings
    frame = s_test_parse (
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
    assert (s_test_text (frame, 1, 1, "-0.025") && s_test_text (frame, 0, 1, NULL));
    wb_frame_destroy (&frame);
    //  Markers are spelled as pandas does: "Na" and "none" are values
    frame = s_test_parse ("element,pool\nNa,none\nK,None\n");
    assert (s_test_text (frame, 0, 0, "Na") && s_test_text (frame, 1, 0, "none"));
    assert (s_test_text (frame, 1, 1, NULL));
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
    frame = s_test_parse ("id,x,y,z\n1,1.50,007,a\n2,2,8,b\n3,inf,9,c\n4,3,oops,d\n");
    assert (wb_frame_type (frame, 0) == WB_COL_NUMERIC);
    assert (wb_frame_type (frame, 1) == WB_COL_CATEGORICAL);
    assert (wb_frame_type (frame, 2) == WB_COL_CATEGORICAL);
    assert (s_test_text (frame, 1, 0, "1.50") && s_test_text (frame, 1, 2, "inf"));
    assert (s_test_text (frame, 2, 0, "007") && s_test_text (frame, 2, 3, "oops"));
    assert (s_test_text (frame, 3, 3, "d"));
    wb_frame_destroy (&frame);

    //  Inference: few distinct values are categorical; many, or all
    //  different, are text; all different in a small table is categorical
    wb_buf_t *csv = wb_buf_new ();
    wb_buf_puts (csv, "color,word,label,id\n");
    for (int row = 0; row < 1000; row++)
        wb_buf_printf (csv, "%s,w%d,c%d,x%d\n", (const char *[]) { "red", "green", "blue" } [row % 3],
                       row % 51, row % 50, row);
    frame = s_test_parse (wb_buf_data (csv));
    assert (wb_frame_type (frame, 0) == WB_COL_CATEGORICAL);
    assert (wb_frame_type (frame, 1) == WB_COL_TEXT);           //  51 > max (20, 1000 / 20)
    assert (wb_frame_type (frame, 2) == WB_COL_CATEGORICAL);    //  50
    assert (wb_frame_type (frame, 3) == WB_COL_TEXT);           //  all different
    wb_frame_destroy (&frame);
    wb_buf_destroy (&csv);
    frame = s_test_parse ("name\nann\nbob\ncy\n");
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

    //  Profile numbers on a small known table
    frame = s_test_parse ("n,x,c\n1,0.5,b\n2,1.5,a\n3,2.5,b\nNA,3.5,a\n4,4.5,\n"
                          "4,5.5,b\n3,6.5,c\n2,7.5,NA\n1,8.5,a\n4,9.5,d\n");
    json_t *profile = wb_frame_profile (frame);
    json_t *n = json_array_get (profile, 0);
    assert (streq (json_string_value (json_object_get (n, "type")), "numeric"));
    assert (json_integer_value (json_object_get (n, "missing")) == 1);
    assert (json_integer_value (json_object_get (n, "distinct")) == 4);
    assert (s_test_number (n, "min") == 1 && s_test_number (n, "max") == 4);
    //  1 2 3 4 4 3 2 1 4: mean 24 / 9, sample std from the squares
    double mean = 24.0 / 9, squares = 0;
    double values [] = { 1, 2, 3, 4, 4, 3, 2, 1, 4 };
    for (int i = 0; i < 9; i++)
        squares += (values [i] - mean) * (values [i] - mean);
    assert (fabs (s_test_number (n, "mean") - mean) < 1e-12);
    assert (fabs (s_test_number (n, "std") - sqrt (squares / 8)) < 1e-12);
    //  Whole numbers 1..4: a bin per value
    dump = json_dumps (json_object_get (n, "histogram"), JSON_COMPACT | JSON_REAL_PRECISION (6));
    assert (streq (dump, "{\"edges\":[0.5,1.5,2.5,3.5,4.5],\"counts\":[2,2,2,3]}"));
    free (dump);
    //  0.5 .. 9.5: ten equal bins of 0.9
    json_t *x = json_array_get (profile, 1);
    json_t *edges = json_object_get (json_object_get (x, "histogram"), "edges");
    json_t *counts = json_object_get (json_object_get (x, "histogram"), "counts");
    assert (json_array_size (edges) == 11 && json_array_size (counts) == 10);
    assert (json_real_value (json_array_get (edges, 0)) == 0.5);
    assert (json_real_value (json_array_get (edges, 10)) == 9.5);
    for (size_t bin = 0; bin < 10; bin++)
        assert (json_integer_value (json_array_get (counts, bin)) == 1);
    assert (s_test_number (x, "mean") == 5);
    //  Categories: top values by count, ties in order of the value
    json_t *c = json_array_get (profile, 2);
    assert (streq (json_string_value (json_object_get (c, "type")), "categorical"));
    assert (json_integer_value (json_object_get (c, "missing")) == 2);
    assert (json_integer_value (json_object_get (c, "distinct")) == 4);
    dump = json_dumps (json_object_get (c, "top"), JSON_COMPACT);
    assert (streq (dump, "[[\"a\",3],[\"b\",3],[\"c\",1],[\"d\",1]]"));
    free (dump);
    assert (!json_object_get (c, "histogram") && !json_object_get (n, "top"));
    json_decref (profile);

    //  Select: the rows asked for, in that order, outliving the original
    size_t pick [] = { 9, 0, 0 };
    wb_frame_t *part = wb_frame_select (frame, pick, 3);
    wb_frame_destroy (&frame);
    assert (wb_frame_rows (part) == 3 && wb_frame_cols (part) == 3);
    assert (wb_frame_type (part, 2) == WB_COL_CATEGORICAL);
    assert (wb_frame_numbers (part, 0) [0] == 4 && wb_frame_numbers (part, 0) [1] == 1);
    assert (s_test_text (part, 2, 0, "d") && s_test_text (part, 2, 2, "b"));
    profile = wb_frame_profile (part);
    assert (json_integer_value (json_object_get (json_array_get (profile, 2), "distinct")) == 2);
    json_decref (profile);
    wb_frame_t *none = wb_frame_select (part, NULL, 0);
    assert (wb_frame_rows (none) == 0 && wb_frame_cols (none) == 3);
    profile = wb_frame_profile (none);
    assert (json_is_null (json_object_get (json_array_get (profile, 0), "mean")));
    json_decref (profile);
    wb_frame_destroy (&none);
    wb_frame_destroy (&part);

    //  At most ten top values; a constant column has one bin
    csv = wb_buf_new ();
    wb_buf_puts (csv, "k,z\n");
    for (int row = 0; row < 150; row++)
        wb_buf_printf (csv, "k%02d,2.5\n", row % 15);
    frame = s_test_parse (wb_buf_data (csv));
    profile = wb_frame_profile (frame);
    assert (json_array_size (json_object_get (json_array_get (profile, 0), "top")) == 10);
    dump = json_dumps (json_object_get (json_array_get (profile, 1), "histogram"), JSON_COMPACT);
    assert (streq (dump, "{\"edges\":[2.0,3.0],\"counts\":[150]}"));
    free (dump);
    assert (json_is_null (json_object_get (json_array_get (profile, 1), "std")) == false);
    json_decref (profile);
    wb_frame_destroy (&frame);
    wb_buf_destroy (&csv);
    if (verbose)
        printf ("wb_frame: ok\n");
}
//  @end
