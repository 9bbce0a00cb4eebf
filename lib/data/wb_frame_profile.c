/*  wb_frame_profile - part of wb_frame: what a column holds, at a glance:
    missing and distinct counts, the numbers' range, mean, spread and
    histogram, a categorical column's top values
*/
#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "wb_frame_int.h"
#include "base/wb_util.h"

#define S_TOP_VALUES    10      //  most frequent values listed in a profile
#define S_MIN_BINS      10      //  fewest histogram bins (continuous values)
#define S_MAX_BINS      20      //  most histogram bins

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
s_profile_strings (wb_frame__column_t *column, size_t count, json_t *entry)
{
    wb_frame__dict_t *dict = column->dict;
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
        const char *value = wb_frame__dict_value (dict, (uint32_t) code);
        size_t at = ntop;
        while (at > 0 && s_ranks_above (value, tally [code],
                                        wb_frame__dict_value (dict, (uint32_t) top [at - 1]),
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
        json_array_append_new (list, json_pack ("[s, I]", wb_frame__dict_value (dict, (uint32_t) top [i]),
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
        wb_frame__column_t *column = &self->columns [col];
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
static double
s_test_number (json_t *entry, const char *key)
{
    return json_real_value (json_object_get (entry, key));
}

void
wb_frame_profile_test (bool verbose)
{
    (void) verbose;
    char *dump;
    wb_buf_t *csv;
    wb_frame_t *frame;

    //  Profile numbers on a small known table
    frame = wb_frame__test_parse ("n,x,c\n1,0.5,b\n2,1.5,a\n3,2.5,b\nNA,3.5,a\n4,4.5,\n"
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
    wb_frame_destroy (&frame);

    //  At most ten top values; a constant column has one bin
    csv = wb_buf_new ();
    wb_buf_puts (csv, "k,z\n");
    for (int row = 0; row < 150; row++)
        wb_buf_printf (csv, "k%02d,2.5\n", row % 15);
    frame = wb_frame__test_parse (wb_buf_data (csv));
    profile = wb_frame_profile (frame);
    assert (json_array_size (json_object_get (json_array_get (profile, 0), "top")) == 10);
    dump = json_dumps (json_object_get (json_array_get (profile, 1), "histogram"), JSON_COMPACT);
    assert (streq (dump, "{\"edges\":[2.0,3.0],\"counts\":[150]}"));
    free (dump);
    assert (json_is_null (json_object_get (json_array_get (profile, 1), "std")) == false);
    json_decref (profile);
    wb_frame_destroy (&frame);
    wb_buf_destroy (&csv);
}
//  @end
