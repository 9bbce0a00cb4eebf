/*  wb_frame - a table read from CSV: named columns, each numeric,
    categorical or text, with missing values

    The frame is three files behind wb_frame_int.h: this one (the
    dictionary of distinct strings, the frame, access), wb_frame_csv.c (the
    parser) and wb_frame_profile.c (profiles).

    Numeric columns are arrays of doubles (NaN for missing); the others
    hold a code per cell into a dictionary of their distinct values, which
    the frames wb_frame_select makes share with their source.
*/
#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "wb_frame_int.h"
#include "base/wb_util.h"

//  ---- Distinct strings ----

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

wb_frame__dict_t *
wb_frame__dict_new (void)
{
    wb_frame__dict_t *self = wb_calloc (1, sizeof (wb_frame__dict_t));
    atomic_init (&self->refs, 1);
    self->nslots = 64;
    self->slots = wb_calloc (self->nslots, sizeof (uint64_t));
    return self;
}

void
wb_frame__dict_release (wb_frame__dict_t **self_p)
{
    wb_frame__dict_t *self = *self_p;
    if (self && atomic_fetch_sub (&self->refs, 1) == 1) {
        free (self->arena);
        free (self->offsets);
        free (self->hashes);
        free (self->slots);
        free (self);
    }
    *self_p = NULL;
}

//  The value with this code (1 and up)
const char *
wb_frame__dict_value (wb_frame__dict_t *self, uint32_t code)
{
    return self->arena + self->offsets [code - 1];
}

//  A slot's bits: the code below, the top of the hash above
#define S_SLOT(code, hash)  ((uint64_t) (code) | ((hash) & 0xFFFFFFFF00000000ULL))

//  Double the hash table and place every code again
static void
s_dict_grow (wb_frame__dict_t *self)
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
uint32_t
wb_frame__dict_intern (wb_frame__dict_t *self, const char *text, size_t size)
{
    uint64_t hash = s_hash (text, size);
    size_t mask = self->nslots - 1;
    size_t slot = (size_t) (hash >> 20) & mask;
    while (self->slots [slot]) {
        uint64_t bits = self->slots [slot];
        uint32_t code = (uint32_t) bits;
        if ((bits >> 32) == (hash >> 32)) {
            const char *value = wb_frame__dict_value (self, code);
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
void
wb_frame__dict_freeze (wb_frame__dict_t *self)
{
    free (self->slots);
    free (self->hashes);
    self->slots = NULL;
    self->hashes = NULL;
    self->nslots = 0;
}

//  ---- The frame ----

void
wb_frame_destroy (wb_frame_t **self_p)
{
    assert (self_p);
    wb_frame_t *self = *self_p;
    if (self) {
        for (size_t col = 0; col < self->cols; col++) {
            wb_frame__column_t *column = &self->columns [col];
            free (column->name);
            free (column->numbers);
            free (column->codes);
            wb_frame__dict_release (&column->dict);
        }
        free (self->columns);
        free (self);
        *self_p = NULL;
    }
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
    wb_frame__column_t *column = &self->columns [col];
    if (column->numbers) {
        double value = column->numbers [row];
        if (isnan (value))
            return NULL;
        wb_double_text (value, self->cell, sizeof (self->cell));
        return self->cell;
    }
    uint32_t code = column->codes [row];
    return code? wb_frame__dict_value (column->dict, code): NULL;
}

wb_frame_t *
wb_frame_select (wb_frame_t *self, const size_t *rows, size_t count)
{
    assert (self && (rows || count == 0));
    wb_frame_t *copy = wb_calloc (1, sizeof (wb_frame_t));
    copy->rows = count;
    copy->cols = self->cols;
    copy->columns = wb_calloc (self->cols, sizeof (wb_frame__column_t));
    for (size_t col = 0; col < self->cols; col++) {
        wb_frame__column_t *from = &self->columns [col];
        wb_frame__column_t *to = &copy->columns [col];
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
            atomic_fetch_add (&to->dict->refs, 1);
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

//  @selftest
wb_frame_t *
wb_frame__test_parse (const char *text)
{
    wb_error_t err;
    wb_frame_t *frame = wb_frame_parse_csv (text, strlen (text), "t.csv", &err);
    if (!frame)
        fprintf (stderr, "unexpected error: %s\n", err.text);
    assert (frame);
    return frame;
}

bool
wb_frame__test_text (wb_frame_t *frame, size_t col, size_t row, const char *expected)
{
    const char *text = wb_frame_text (frame, col, row);
    return expected? text && streq (text, expected): text == NULL;
}

void
wb_frame_test (bool verbose)
{
    //  The table of the profile test
    wb_frame_t *frame = wb_frame__test_parse ("n,x,c\n1,0.5,b\n2,1.5,a\n3,2.5,b\nNA,3.5,a\n4,4.5,\n"
        "4,5.5,b\n3,6.5,c\n2,7.5,NA\n1,8.5,a\n4,9.5,d\n");
    json_t *profile;

    //  Select: the rows asked for, in that order, outliving the original
    size_t pick [] = { 9, 0, 0 };
    wb_frame_t *part = wb_frame_select (frame, pick, 3);
    wb_frame_destroy (&frame);
    assert (wb_frame_rows (part) == 3 && wb_frame_cols (part) == 3);
    assert (wb_frame_type (part, 2) == WB_COL_CATEGORICAL);
    assert (wb_frame_numbers (part, 0) [0] == 4 && wb_frame_numbers (part, 0) [1] == 1);
    assert (wb_frame__test_text (part, 2, 0, "d") && wb_frame__test_text (part, 2, 2, "b"));
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

    wb_frame_csv_test (verbose);
    wb_frame_profile_test (verbose);
    if (verbose)
        printf ("wb_frame: ok\n");
}
//  @end
