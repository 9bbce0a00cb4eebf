/*  wb_dataset - the dataset registry: named, versioned tables registered
    from CSV files, kept by content in the workspace with an inferred schema
    and a profile; and the tables and charts that show them

    Registering reads the file once: the bytes that were parsed, validated
    and profiled are the bytes hashed and stored, so a file that changes
    while it is registered cannot give a version whose content differs
    from its profile. All SQL is in wb_store.c.
*/
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>
#include "wb_dataset.h"
#include "wb_render.h"
#include "wb_utf8.h"
#include "wb_util.h"

#define S_NAME_MAX      100     //  longest dataset name, in bytes
#define S_TOP_BYTES     200     //  longest top value kept in a stored profile
#define S_CELL_CHARS    60      //  longest cell shown in a table of rows
#define S_HEAD_COLUMNS  20      //  columns shown in a table of rows (first and last)
#define S_NAMES_LISTED  20      //  names listed in an error message
#define S_CHART_WIDTH   180     //  histogram size in a profile, in pixels
#define S_CHART_HEIGHT  80

//  ---- Helpers ----

//  Read a whole regular file; NULL (err) on failure, at once for a FIFO
//  or a folder. Caller owns the return value.
static char *
s_read_file (const char *path, size_t *size_p, wb_error_t *err)
{
    return wb_frame_read_file (path, size_p, err);
}

//  Names: a letter or digit, then letters, digits, '_', '-', '.'
static bool
s_valid_name (const char *name)
{
    size_t size = strlen (name);
    if (size == 0 || size > S_NAME_MAX || !isalnum ((unsigned char) name [0]))
        return false;
    for (size_t i = 0; i < size; i++)
        if (!isalnum ((unsigned char) name [i]) && !strchr ("_-.", name [i]))
            return false;
    return true;
}

//  text cut to at most max bytes at a character boundary, with an ellipsis
//  when cut (caller owns)
static char *
s_cut_bytes (const char *text, size_t max)
{
    size_t size = strlen (text);
    if (size <= max)
        return wb_strdup (text);
    while (max > 0 && ((unsigned char) text [max] & 0xC0) == 0x80)
        max--;
    return wb_sprintf ("%.*s\xE2\x80\xA6", (int) max, text);
}

//  Long top values make a profile large and say little: cut them
static void
s_cut_top_values (json_t *profile)
{
    size_t index;
    json_t *entry;
    json_array_foreach (profile, index, entry) {
        size_t at;
        json_t *pair;
        json_array_foreach (json_object_get (entry, "top"), at, pair) {
            const char *value = json_string_value (json_array_get (pair, 0));
            if (value && strlen (value) > S_TOP_BYTES) {
                char *cut = s_cut_bytes (value, S_TOP_BYTES);
                json_array_set_new (pair, 0, json_string (cut));
                free (cut);
            }
        }
    }
}

//  "a, b, c" from a list of records' field (numbers or strings), at most
//  S_NAMES_LISTED of them (caller owns)
static char *
s_join (json_t *list, const char *field)
{
    wb_buf_t *buf = wb_buf_new ();
    size_t index;
    json_t *item;
    json_array_foreach (list, index, item) {
        if (index == S_NAMES_LISTED) {
            wb_buf_printf (buf, " and %zu more", json_array_size (list) - index);
            break;
        }
        json_t *value = json_object_get (item, field);
        if (index)
            wb_buf_puts (buf, ", ");
        if (json_is_integer (value))
            wb_buf_printf (buf, "%lld", (long long) json_integer_value (value));
        else
            wb_buf_puts (buf, json_string_value (value));
    }
    return wb_buf_detach (&buf);
}

//  ---- The registry ----

json_t *
wb_dataset_register (wb_store_t *store, const char *name, const char *path,
                     const char *description, wb_error_t *err)
{
    assert (store && name && path);
    if (!s_valid_name (name)) {
        wb_error_set (err, "'%s' is not a valid dataset name: use letters, digits, '_', "
                      "'-' and '.', starting with a letter or digit (at most %d)",
                      name, S_NAME_MAX);
        return NULL;
    }
    size_t size;
    char *data = s_read_file (path, &size, err);
    if (!data)
        return NULL;
    //  Same content as a version there is: nothing to parse or store
    unsigned char digest [crypto_hash_sha256_BYTES];
    crypto_hash_sha256 (digest, (const unsigned char *) data, size);
    char hash [65];
    sodium_bin2hex (hash, sizeof (hash), digest, sizeof (digest));
    bool created = false;
    int64_t version = wb_store_dataset_find (store, name, hash, err);
    wb_frame_t *frame = NULL;
    if (version > 0) {
        //  Registering the same file again repairs a lost content file
        char *blob = wb_store_blob_path (store, hash);
        char stored [65];
        if (access (blob, F_OK) && wb_store_blob_data (store, data, size, stored, err))
            version = -1;
        free (blob);
    }
    else
    if (version == 0) {
        //  Validate and profile before anything is stored
        frame = wb_frame_parse_csv (data, size, path, err);
        version = frame? 0: -1;
    }
    if (version == 0) {
        json_t *schema = wb_frame_schema (frame);
        json_t *profile = wb_frame_profile (frame);
        s_cut_top_values (profile);
        char *source = realpath (path, NULL);
        wb_dataset_spec_t spec = {
            name, hash, (int64_t) size, (int64_t) wb_frame_rows (frame),
            (int64_t) wb_frame_cols (frame), schema, profile, description,
            source? source: path
        };
        //  The bytes parsed are the bytes kept (the file may change meanwhile)
        char stored [65];
        if (wb_store_blob_data (store, data, size, stored, err) == 0) {
            assert (streq (stored, hash));
            version = wb_store_dataset_add (store, &spec, &created, err);
        }
        else
            version = -1;
        free (source);
        json_decref (schema);
        json_decref (profile);
    }
    wb_frame_destroy (&frame);
    free (data);
    if (version < 0)
        return NULL;
    json_t *record = wb_store_dataset_get (store, name, version, err);
    if (record)
        json_object_set_new (record, "created", json_boolean (created));
    return record;
}

json_t *
wb_dataset_resolve (wb_store_t *store, const char *ref, wb_error_t *err)
{
    assert (store && ref);
    //  NAME, NAME:VERSION or NAME:latest
    const char *colon = strchr (ref, ':');
    char *name = colon? wb_strndup (ref, (size_t) (colon - ref)): wb_strdup (ref);
    int64_t version = 0;
    bool valid = s_valid_name (name);
    if (valid && colon && !streq (colon + 1, "latest")) {
        char *end;
        errno = 0;
        long long number = strtoll (colon + 1, &end, 10);
        valid = colon [1] >= '1' && colon [1] <= '9' && *end == 0 && errno == 0;
        version = number;
    }
    if (!valid) {
        wb_error_set (err, "'%s' is not a dataset reference: expected NAME or NAME:VERSION "
                      "with a version number from 1 (e.g. iris or iris:2)", ref);
        free (name);
        return NULL;
    }
    json_t *record = wb_store_dataset_get (store, name, version, NULL);
    if (!record) {
        //  Say what there is instead
        json_t *versions = wb_store_dataset_versions (store, name, err);
        if (versions && json_array_size (versions)) {
            char *list = s_join (versions, "version");
            wb_error_set (err, "dataset '%s' has no version %lld: its versions are %s",
                          name, (long long) version, list);
            free (list);
        }
        else
        if (versions) {
            json_t *datasets = wb_store_datasets (store, err);
            if (datasets && json_array_size (datasets)) {
                char *list = s_join (datasets, "name");
                wb_error_set (err, "no dataset named '%s': the datasets are %s", name, list);
                free (list);
            }
            else
            if (datasets)
                wb_error_set (err, "no dataset named '%s': no dataset is registered yet "
                              "(register one with %%data register NAME PATH)", name);
            json_decref (datasets);
        }
        json_decref (versions);
    }
    free (name);
    return record;
}

//  The frame of a version's record
static wb_frame_t *
s_load (wb_store_t *store, json_t *record, wb_error_t *err)
{
    const char *name = json_string_value (json_object_get (record, "name"));
    json_int_t version = json_integer_value (json_object_get (record, "version"));
    const char *hash = json_string_value (json_object_get (record, "hash"));
    json_int_t expected = json_integer_value (json_object_get (record, "size"));
    char *path = wb_store_blob_path (store, hash);
    size_t size = 0;
    char *data = s_read_file (path, &size, NULL);
    wb_frame_t *frame = NULL;
    if (!data || (json_int_t) size != expected)
        wb_error_set (err, "the content of dataset %s:%lld is missing or damaged in the "
                      "workspace (%s): register the file again", name, (long long) version, path);
    else {
        char *origin = wb_sprintf ("dataset %s:%lld", name, (long long) version);
        frame = wb_frame_parse_csv (data, size, origin, err);
        free (origin);
    }
    free (data);
    free (path);
    return frame;
}

wb_frame_t *
wb_dataset_load (wb_store_t *store, const char *name, int64_t version, wb_error_t *err)
{
    assert (store && name);
    json_t *record = wb_store_dataset_get (store, name, version, err);
    wb_frame_t *frame = record? s_load (store, record, err): NULL;
    json_decref (record);
    return frame;
}

wb_frame_t *
wb_dataset_use (wb_store_t *store, const char *ref, const char *id, json_t **record_p,
                wb_error_t *err)
{
    assert (store && ref);
    if (record_p)
        *record_p = NULL;
    json_t *record = wb_dataset_resolve (store, ref, err);
    wb_frame_t *frame = record? s_load (store, record, err): NULL;
    if (frame && id
    &&  wb_store_lineage (store, id, "input", "dataset",
                          json_string_value (json_object_get (record, "name")),
                          json_integer_value (json_object_get (record, "version")), err))
        wb_frame_destroy (&frame);
    if (frame && record_p)
        *record_p = record;
    else
        json_decref (record);
    return frame;
}

json_t *
wb_dataset_list (wb_store_t *store, wb_error_t *err)
{
    assert (store);
    return wb_store_datasets (store, err);
}

//  ---- Drawing ----

//  A size in bytes for people: 512 B, 3.8 kB, 70.1 MB
static void
s_human_size (double bytes, char *text, size_t size)
{
    static const char *units [] = { "B", "kB", "MB", "GB", "TB" };
    int unit = 0;
    while (bytes >= 1000 && unit < 4) {
        bytes /= 1000;
        unit++;
    }
    if (unit == 0)
        snprintf (text, size, "%.0f %s", bytes, units [unit]);
    else
        snprintf (text, size, "%.1f %s", bytes, units [unit]);
}

//  Local time to the minute, as "2026-11-22 08:10"
static void
s_when (double time, char *text, size_t size)
{
    if (!(time > 0) || !isfinite (time)) {
        snprintf (text, size, "%s", "");
        return;
    }
    time_t seconds = (time_t) time;
    struct tm local;
    localtime_r (&seconds, &local);
    strftime (text, size, "%Y-%m-%d %H:%M", &local);
}

json_t *
wb_dataset_list_bundle (json_t *list)
{
    wb_table_t *table = wb_table_new (json_array_size (list)? "Datasets":
        "No datasets yet: register one with %data register NAME PATH");
    wb_table_column (table, "name", WB_ALIGN_LEFT);
    wb_table_column (table, "version", WB_ALIGN_RIGHT);
    wb_table_column (table, "versions", WB_ALIGN_RIGHT);
    wb_table_column (table, "rows", WB_ALIGN_RIGHT);
    wb_table_column (table, "cols", WB_ALIGN_RIGHT);
    wb_table_column (table, "size", WB_ALIGN_RIGHT);
    wb_table_column (table, "registered", WB_ALIGN_LEFT);
    wb_table_column (table, "description", WB_ALIGN_LEFT);
    size_t index;
    json_t *item;
    json_array_foreach (list, index, item) {
        char size [32], when [32];
        s_human_size ((double) json_integer_value (json_object_get (item, "size")),
                      size, sizeof (size));
        s_when (json_number_value (json_object_get (item, "created")), when, sizeof (when));
        wb_table_row (table);
        wb_table_cell (table, json_string_value (json_object_get (item, "name")));
        wb_table_number (table, (double) json_integer_value (json_object_get (item, "version")));
        wb_table_number (table, (double) json_integer_value (json_object_get (item, "versions")));
        wb_table_number (table, (double) json_integer_value (json_object_get (item, "rows")));
        wb_table_number (table, (double) json_integer_value (json_object_get (item, "cols")));
        wb_table_cell (table, size);
        wb_table_cell (table, when);
        wb_table_cell (table, json_string_value (json_object_get (item, "description")));
    }
    json_t *bundle = wb_table_bundle (table);
    wb_table_destroy (&table);
    return bundle;
}

json_t *
wb_dataset_head_bundle (wb_frame_t *frame, size_t rows, const char *caption)
{
    assert (frame);
    size_t cols = wb_frame_cols (frame);
    if (rows > wb_frame_rows (frame))
        rows = wb_frame_rows (frame);
    //  Wide frames: the first and the last columns, with a gap between
    bool wide = cols > S_HEAD_COLUMNS;
    size_t half = S_HEAD_COLUMNS / 2;
    wb_table_t *table = wb_table_new (caption);
    for (size_t col = 0; col < cols; col++) {
        if (wide && col == half)
            wb_table_column (table, "\xE2\x80\xA6", WB_ALIGN_LEFT);
        if (wide && col >= half && col < cols - half)
            continue;
        wb_table_column (table, wb_frame_name (frame, col),
            wb_frame_type (frame, col) == WB_COL_NUMERIC? WB_ALIGN_RIGHT: WB_ALIGN_LEFT);
    }
    for (size_t row = 0; row < rows; row++) {
        wb_table_row (table);
        for (size_t col = 0; col < cols; col++) {
            if (wide && col == half)
                wb_table_cell (table, "\xE2\x80\xA6");
            if (wide && col >= half && col < cols - half)
                continue;
            const char *text = wb_frame_text (frame, col, row);
            if (text && wb_utf8_count (text, strlen (text)) > S_CELL_CHARS) {
                char *head = wb_strndup (text, wb_utf8_offset (text, S_CELL_CHARS - 1));
                wb_table_cellf (table, "%s\xE2\x80\xA6", head);
                free (head);
            }
            else
                wb_table_cell (table, text);
        }
    }
    json_t *bundle = wb_table_bundle (table);
    wb_table_destroy (&table);
    return bundle;
}

//  A histogram as a row of block characters, for text/plain
static void
s_sparkline (wb_buf_t *buf, json_t *counts)
{
    static const char *blocks [] = {
        "\xE2\x96\x81", "\xE2\x96\x82", "\xE2\x96\x83", "\xE2\x96\x84",
        "\xE2\x96\x85", "\xE2\x96\x86", "\xE2\x96\x87", "\xE2\x96\x88"
    };
    json_int_t most = 0;
    size_t index;
    json_t *count;
    json_array_foreach (counts, index, count)
        if (json_integer_value (count) > most)
            most = json_integer_value (count);
    json_array_foreach (counts, index, count) {
        json_int_t value = json_integer_value (count);
        if (value == 0)
            wb_buf_puts (buf, " ");
        else
            wb_buf_puts (buf, blocks [value * 7 / most]);
    }
}

//  A histogram as a small bar chart in SVG (caller owns)
static char *
s_histogram_svg (const char *name, json_t *histogram)
{
    json_t *edges = json_object_get (histogram, "edges");
    json_t *counts = json_object_get (histogram, "counts");
    size_t bins = json_array_size (counts);
    if (bins == 0 || json_array_size (edges) != bins + 1)
        return NULL;
    double *x = wb_malloc (bins * sizeof (double));
    double *y = wb_malloc (bins * sizeof (double));
    for (size_t bin = 0; bin < bins; bin++) {
        x [bin] = (json_number_value (json_array_get (edges, bin))
                 + json_number_value (json_array_get (edges, bin + 1))) / 2;
        y [bin] = (double) json_integer_value (json_array_get (counts, bin));
    }
    wb_chart_t *chart = wb_chart_new (NULL, NULL, NULL);
    wb_chart_set_size (chart, S_CHART_WIDTH, S_CHART_HEIGHT);
    wb_chart_set_mark (chart, WB_MARK_BAR);
    wb_chart_series (chart, name, x, y, bins);
    char *svg = wb_chart_svg (chart);
    wb_chart_destroy (&chart);
    free (x);
    free (y);
    return svg;
}

//  A number for a profile cell: 6 significant digits, "" for null
static void
s_stat (json_t *value, char *text, size_t size)
{
    if (json_is_number (value))
        snprintf (text, size, "%.6g", json_number_value (value));
    else
        snprintf (text, size, "%s", "");
}

json_t *
wb_dataset_profile_bundle (json_t *record)
{
    assert (record);
    const char *name = json_string_value (json_object_get (record, "name"));
    json_int_t version = json_integer_value (json_object_get (record, "version"));
    json_int_t versions = json_integer_value (json_object_get (record, "versions"));
    const char *hash = json_string_value (json_object_get (record, "hash"));
    const char *description = json_string_value (json_object_get (record, "description"));
    json_t *profile = json_object_get (record, "profile");
    char size [32];
    s_human_size ((double) json_integer_value (json_object_get (record, "size")),
                  size, sizeof (size));
    char *title = wb_sprintf ("%s:%lld (version %lld of %lld): %lld rows \xC3\x97 %lld columns, "
        "%s, sha256 %.12s", name? name: "?", (long long) version, (long long) version,
        (long long) versions, (long long) json_integer_value (json_object_get (record, "rows")),
        (long long) json_integer_value (json_object_get (record, "cols")), size,
        hash? hash: "");

    static const char *headings [] = {
        "column", "type", "missing", "distinct", "min", "max", "mean", "std", "distribution"
    };
    static const wb_align_t aligns [] = {
        WB_ALIGN_LEFT, WB_ALIGN_LEFT, WB_ALIGN_RIGHT, WB_ALIGN_RIGHT, WB_ALIGN_RIGHT,
        WB_ALIGN_RIGHT, WB_ALIGN_RIGHT, WB_ALIGN_RIGHT, WB_ALIGN_LEFT
    };
    static const char *styles [] = {
        " style=\"text-align:left\"", " style=\"text-align:right\""
    };
    const size_t ncells = sizeof (headings) / sizeof (headings [0]);

    //  text/plain through a table; text/html by hand, since its cells
    //  hold pictures (everything from the data is escaped)
    wb_table_t *table = wb_table_new (NULL);
    wb_buf_t *html = wb_buf_new ();
    wb_buf_puts (html, "<div>\n<p><b>");
    wb_buf_html (html, title);
    wb_buf_puts (html, "</b></p>\n");
    if (description && *description) {
        wb_buf_puts (html, "<p>");
        wb_buf_html (html, description);
        wb_buf_puts (html, "</p>\n");
    }
    wb_buf_puts (html, "<table>\n<thead>\n<tr>");
    for (size_t cell = 0; cell < ncells; cell++) {
        wb_table_column (table, headings [cell], aligns [cell]);
        wb_buf_printf (html, "<th%s>%s</th>", styles [aligns [cell]], headings [cell]);
    }
    wb_buf_puts (html, "</tr>\n</thead>\n<tbody>\n");

    size_t index;
    json_t *entry;
    json_array_foreach (profile, index, entry) {
        const char *column = json_string_value (json_object_get (entry, "name"));
        const char *type = json_string_value (json_object_get (entry, "type"));
        char cells [8][40];
        snprintf (cells [0], sizeof (cells [0]), "%lld",
                  (long long) json_integer_value (json_object_get (entry, "missing")));
        snprintf (cells [1], sizeof (cells [1]), "%lld",
                  (long long) json_integer_value (json_object_get (entry, "distinct")));
        static const char *stats [] = { "min", "max", "mean", "std" };
        for (int i = 0; i < 4; i++)
            s_stat (json_object_get (entry, stats [i]), cells [2 + i], sizeof (cells [0]));
        wb_table_row (table);
        wb_table_cell (table, column);
        wb_table_cell (table, type);
        wb_buf_puts (html, "<tr><td style=\"text-align:left\">");
        wb_buf_html (html, column);
        wb_buf_puts (html, "</td><td style=\"text-align:left\">");
        wb_buf_html (html, type);
        wb_buf_puts (html, "</td>");
        for (int i = 0; i < 6; i++) {
            wb_table_cell (table, cells [i]);
            wb_buf_printf (html, "<td style=\"text-align:right\">%s</td>", cells [i]);
        }
        //  The distribution: a histogram, or the most frequent values
        wb_buf_t *plain = wb_buf_new ();
        wb_buf_puts (html, "<td style=\"text-align:left\">");
        json_t *histogram = json_object_get (entry, "histogram");
        if (histogram) {
            s_sparkline (plain, json_object_get (histogram, "counts"));
            char *svg = s_histogram_svg (column, histogram);
            if (svg)
                wb_buf_puts (html, svg);
            free (svg);
        }
        else {
            size_t at;
            json_t *pair;
            json_array_foreach (json_object_get (entry, "top"), at, pair) {
                const char *value = json_string_value (json_array_get (pair, 0));
                long long count = (long long) json_integer_value (json_array_get (pair, 1));
                if (at < 3)
                    wb_buf_printf (plain, "%s%s (%lld)", at? ", ": "", value, count);
                else
                if (at == 3)
                    wb_buf_puts (plain, ", \xE2\x80\xA6");
                if (at)
                    wb_buf_puts (html, "<br>");
                wb_buf_html (html, value);
                wb_buf_printf (html, " <span style=\"color:#777\">(%lld)</span>", count);
            }
        }
        wb_buf_puts (html, "</td></tr>\n");
        char *text = wb_buf_detach (&plain);
        if (wb_utf8_count (text, strlen (text)) > S_CELL_CHARS) {
            char *head = wb_strndup (text, wb_utf8_offset (text, S_CELL_CHARS - 1));
            wb_table_cellf (table, "%s\xE2\x80\xA6", head);
            free (head);
        }
        else
            wb_table_cell (table, text);
        free (text);
    }
    wb_buf_puts (html, "</tbody>\n</table>\n</div>\n");

    char *rows = wb_table_plain (table);
    wb_table_destroy (&table);
    wb_buf_t *plain = wb_buf_new ();
    wb_buf_printf (plain, "%s\n", title);
    if (description && *description)
        wb_buf_printf (plain, "%s\n", description);
    wb_buf_puts (plain, rows);
    free (rows);
    free (title);
    json_t *bundle = json_object ();
    json_object_set_new (bundle, "text/plain", wb_utf8_json (wb_buf_data (plain), wb_buf_size (plain)));
    json_object_set_new (bundle, "text/html", wb_utf8_json (wb_buf_data (html), wb_buf_size (html)));
    wb_buf_destroy (&plain);
    wb_buf_destroy (&html);
    return bundle;
}

//  @selftest
#include <sys/wait.h>

//  Write text to scratch/file; returns the path (caller owns)
static char *
s_test_file (const char *scratch, const char *file, const char *text)
{
    char *path = wb_sprintf ("%s/%s", scratch, file);
    FILE *handle = fopen (path, "wb");
    assert (handle);
    assert (fwrite (text, 1, strlen (text), handle) == strlen (text));
    fclose (handle);
    return path;
}

//  Files under the workspace's artifacts/
static int
s_test_blobs (const char *ws)
{
    char *cmd = wb_sprintf ("find '%s/artifacts' -type f | wc -l", ws);
    FILE *pipe = popen (cmd, "r");
    int count = -1;
    assert (pipe && fscanf (pipe, "%d", &count) == 1);
    pclose (pipe);
    free (cmd);
    return count;
}

static json_int_t
s_test_int (json_t *object, const char *key)
{
    return json_integer_value (json_object_get (object, key));
}

static const char *
s_test_str (json_t *object, const char *key)
{
    return json_string_value (json_object_get (object, key));
}

//  Expect ref to fail to resolve with exactly this message
static void
s_test_unresolved (wb_store_t *store, const char *ref, const char *expected)
{
    wb_error_t err;
    json_t *record = wb_dataset_resolve (store, ref, &err);
    if (record || !streq (err.text, expected)) {
        fprintf (stderr, "for %s\n  expected: %s\n  got:      %s\n", ref, expected, err.text);
        assert (false);
    }
}

void
wb_dataset_test (bool verbose)
{
    wb_error_t err;
    char scratch [] = "/tmp/wb-dataset-XXXXXX";
    assert (mkdtemp (scratch));
    char *ws = wb_sprintf ("%s/ws", scratch);
    wb_store_t *store = wb_store_open (ws, true, &err);
    assert (store);

    //  Nothing registered yet
    json_t *list = wb_dataset_list (store, &err);
    assert (list && json_array_size (list) == 0);
    json_decref (list);
    s_test_unresolved (store, "people", "no dataset named 'people': no dataset is registered "
                       "yet (register one with %data register NAME PATH)");

    //  Register: a new version, with its shape, schema and profile
    char *first = s_test_file (scratch, "people.csv",
        "name,age,city\nann,31,Oslo\nbob,NA,Bergen\ncy,45,Oslo\n");
    json_t *record = wb_dataset_register (store, "people", first, "staff list", &err);
    assert (record);
    assert (s_test_int (record, "version") == 1 && json_is_true (json_object_get (record, "created")));
    assert (s_test_int (record, "rows") == 3 && s_test_int (record, "cols") == 3);
    assert (s_test_int (record, "versions") == 1);
    assert (streq (s_test_str (record, "description"), "staff list"));
    assert (strstr (s_test_str (record, "source"), "/people.csv"));
    char *dump = json_dumps (json_object_get (record, "schema"), JSON_COMPACT);
    assert (streq (dump, "[{\"name\":\"name\",\"type\":\"categorical\"},"
                         "{\"name\":\"age\",\"type\":\"numeric\"},"
                         "{\"name\":\"city\",\"type\":\"categorical\"}]"));
    free (dump);
    json_t *age = json_array_get (json_object_get (record, "profile"), 1);
    assert (s_test_int (age, "missing") == 1 && json_real_value (json_object_get (age, "mean")) == 38);
    //  The file is kept by its content hash
    char hash [65];
    assert (wb_sha256_file (first, hash, &err) == 0);
    assert (streq (s_test_str (record, "hash"), hash));
    char *blob = wb_store_blob_path (store, hash);
    assert (access (blob, F_OK) == 0);
    json_decref (record);
    int blobs = s_test_blobs (ws);
    assert (blobs == 1);

    //  Same content (even from another file): same version, nothing new
    char *copy = s_test_file (scratch, "copy.csv",
        "name,age,city\nann,31,Oslo\nbob,NA,Bergen\ncy,45,Oslo\n");
    record = wb_dataset_register (store, "people", copy, "ignored", &err);
    assert (record && s_test_int (record, "version") == 1);
    assert (json_is_false (json_object_get (record, "created")));
    assert (streq (s_test_str (record, "description"), "staff list"));
    json_decref (record);

    //  New content: a new version
    char *second = s_test_file (scratch, "people2.csv",
        "name,age,city\r\nann,31,Oslo\r\nbob,52,Bergen\r\ncy,45,Oslo\r\ndee,29,\"Troms\xC3\xB8\"\r\n");
    record = wb_dataset_register (store, "people", second, NULL, &err);
    assert (record && s_test_int (record, "version") == 2 && s_test_int (record, "versions") == 2);
    assert (json_is_true (json_object_get (record, "created")) && s_test_int (record, "rows") == 4);
    assert (json_is_null (json_object_get (record, "description")));
    json_decref (record);

    //  A broken file registers nothing: no version, no file, no event
    char *broken = s_test_file (scratch, "broken.csv",
        "name,age,city\nann,31,Oslo\nbob,52,Bergen,Norway\n");
    json_t *events = wb_store_events (store, NULL, 0, &err);
    size_t nevents = json_array_size (events);
    json_decref (events);
    assert (!wb_dataset_register (store, "people", broken, NULL, &err));
    char *expected = wb_sprintf ("%s: line 3, column 15: expected 3 fields as in the header, "
                                 "found 4", broken);
    assert (streq (err.text, expected));
    free (expected);
    assert (!wb_dataset_register (store, "fresh", broken, NULL, &err));
    assert (s_test_blobs (ws) == 2);
    events = wb_store_events (store, NULL, 0, &err);
    assert (json_array_size (events) == nevents);
    json_decref (events);
    record = wb_dataset_resolve (store, "people", &err);
    assert (record && s_test_int (record, "version") == 2);
    json_decref (record);
    s_test_unresolved (store, "fresh", "no dataset named 'fresh': the datasets are people");

    //  Names and files that are not right
    assert (!wb_dataset_register (store, "no good", first, NULL, &err));
    assert (strstr (err.text, "'no good' is not a valid dataset name"));
    assert (!wb_dataset_register (store, "people:2", first, NULL, &err));
    assert (!wb_dataset_register (store, "missing", "/nonexistent.csv", NULL, &err));
    assert (streq (err.text, "cannot read '/nonexistent.csv': No such file or directory"));

    //  References
    record = wb_dataset_resolve (store, "people:1", &err);
    assert (record && s_test_int (record, "version") == 1 && s_test_int (record, "rows") == 3);
    json_decref (record);
    record = wb_dataset_resolve (store, "people:latest", &err);
    assert (record && s_test_int (record, "version") == 2);
    json_decref (record);
    s_test_unresolved (store, "people:3", "dataset 'people' has no version 3: its versions are 1, 2");
    const char *bad [] = { "people:", "people:x", "people:0", "people:-1", "people:01",
                           ":1", "", "peo ple", "people:1:2", "people:1.5", NULL };
    for (const char **ref = bad; *ref; ref++) {
        char *message = wb_sprintf ("'%s' is not a dataset reference: expected NAME or "
            "NAME:VERSION with a version number from 1 (e.g. iris or iris:2)", *ref);
        s_test_unresolved (store, *ref, message);
        free (message);
    }

    //  Load: the stored content, parsed again
    wb_frame_t *frame = wb_dataset_load (store, "people", 1, &err);
    assert (frame && wb_frame_rows (frame) == 3 && wb_frame_cols (frame) == 3);
    assert (streq (wb_frame_text (frame, 2, 1), "Bergen") && !wb_frame_text (frame, 1, 1));
    wb_frame_destroy (&frame);
    frame = wb_dataset_load (store, "people", 0, &err);
    assert (frame && wb_frame_rows (frame) == 4);
    assert (streq (wb_frame_text (frame, 2, 3), "Troms\xC3\xB8"));
    wb_frame_destroy (&frame);
    assert (!wb_dataset_load (store, "people", 9, &err));
    assert (streq (err.text, "dataset 'people' has no version 9"));

    //  A run that reads a dataset records the version (lineage)
    char id [9];
    wb_run_spec_t spec = { NULL, "reader", NULL, NULL, NULL, NULL, NULL, 0 };
    assert (wb_store_run_create (store, &spec, id, &err) == 0);
    json_t *used = NULL;
    frame = wb_dataset_use (store, "people:1", id, &used, &err);
    assert (frame && used && s_test_int (used, "version") == 1);
    wb_frame_destroy (&frame);
    json_decref (used);
    assert (!wb_dataset_use (store, "people:7", id, &used, &err) && used == NULL);
    json_t *run = wb_store_run_get (store, id, &err);
    dump = json_dumps (json_object_get (run, "lineage"), JSON_COMPACT | JSON_SORT_KEYS);
    assert (streq (dump, "[{\"direction\":\"input\",\"kind\":\"dataset\","
                         "\"name\":\"people\",\"version\":1}]"));
    free (dump);
    json_decref (run);

    //  A run's artifact with a dataset's content: deleting the run keeps
    //  the dataset's file
    assert (wb_store_artifact_file (store, id, "people.csv", first, &err) == 0);
    assert (wb_store_run_delete (store, id, &err) == 0);
    assert (access (blob, F_OK) == 0);
    frame = wb_dataset_load (store, "people", 1, &err);
    assert (frame);
    wb_frame_destroy (&frame);

    //  A lost content file is reported, and registering the file again
    //  brings it back
    assert (unlink (blob) == 0);
    assert (!wb_dataset_load (store, "people", 1, &err));
    assert (strstr (err.text, "the content of dataset people:1 is missing or damaged"));
    record = wb_dataset_register (store, "people", first, NULL, &err);
    assert (record && s_test_int (record, "version") == 1);
    json_decref (record);
    frame = wb_dataset_load (store, "people", 1, &err);
    assert (frame && wb_frame_rows (frame) == 3);
    wb_frame_destroy (&frame);

    //  Events tell the story
    events = wb_store_events (store, "people", 0, &err);
    assert (json_array_size (events) == 2);
    json_t *event = json_array_get (events, 1);
    assert (streq (s_test_str (event, "action"), "dataset.register"));
    assert (s_test_int (json_object_get (event, "detail"), "version") == 2);
    json_decref (events);

    //  Concurrent registration: 6 processes, each with its own content
    //  for "race" and the same content for "same"
    //  (the store is closed meanwhile: a child must not inherit a connection)
    char *same = s_test_file (scratch, "same.csv", "x,y\n1,2\n");
    wb_store_destroy (&store);
    pid_t children [6];
    for (int i = 0; i < 6; i++) {
        char file [32], text [64];
        snprintf (file, sizeof (file), "race%d.csv", i);
        snprintf (text, sizeof (text), "x,y\n%d,%d\n", i, i * i);
        char *path = s_test_file (scratch, file, text);
        if ((children [i] = fork ()) == 0) {
            wb_store_t *mine = wb_store_open (ws, false, NULL);
            json_t *a = mine? wb_dataset_register (mine, "race", path, NULL, NULL): NULL;
            json_t *b = mine? wb_dataset_register (mine, "same", same, NULL, NULL): NULL;
            int status = a && b && s_test_int (b, "version") == 1? 0: 1;
            //  Everything freed: the children run under valgrind too
            json_decref (a);
            json_decref (b);
            wb_store_destroy (&mine);
            free (path);
            free (same);
            free (first);
            free (copy);
            free (second);
            free (broken);
            free (blob);
            free (ws);
            _exit (status);
        }
        free (path);
    }
    for (int i = 0; i < 6; i++) {
        int status;
        waitpid (children [i], &status, 0);
        assert (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    }
    store = wb_store_open (ws, false, &err);
    assert (store);
    json_t *versions = wb_store_dataset_versions (store, "race", &err);
    assert (json_array_size (versions) == 6);
    for (size_t i = 0; i < 6; i++)
        assert (s_test_int (json_array_get (versions, i), "version") == (json_int_t) i + 1);
    json_decref (versions);
    versions = wb_store_dataset_versions (store, "same", &err);
    assert (json_array_size (versions) == 1);
    json_decref (versions);

    //  The list: latest version of each, by name
    list = wb_dataset_list (store, &err);
    assert (json_array_size (list) == 3);
    json_t *people = json_array_get (list, 0);
    assert (streq (s_test_str (people, "name"), "people"));
    assert (s_test_int (people, "version") == 2 && s_test_int (people, "versions") == 2);
    assert (s_test_int (json_array_get (list, 1), "versions") == 6);
    json_t *bundle = wb_dataset_list_bundle (list);
    assert (strstr (s_test_str (bundle, "text/plain"), "people"));
    assert (strstr (s_test_str (bundle, "text/html"), "<td style=\"text-align:left\">race</td>"));
    json_decref (bundle);
    json_decref (list);
    list = json_array ();
    bundle = wb_dataset_list_bundle (list);
    assert (strstr (s_test_str (bundle, "text/plain"), "No datasets yet"));
    json_decref (bundle);
    json_decref (list);

    //  Drawing: everything from the data is escaped; numeric columns get a
    //  histogram, the others their top values
    wb_buf_t *text = wb_buf_new ();
    wb_buf_puts (text, "\"<b>col</b>\",n,long\n");
    for (int i = 0; i < 30; i++)
        wb_buf_printf (text, "%s,%d,%s%d\n", i % 2? "<script>": "ok", i % 7,
                       "a long line of text that goes on and on and on and on and on and on ", i);
    char *nasty = s_test_file (scratch, "nasty.csv", wb_buf_data (text));
    wb_buf_destroy (&text);
    record = wb_dataset_register (store, "nasty", nasty, "<i>described</i>", &err);
    assert (record);
    bundle = wb_dataset_profile_bundle (record);
    const char *html = s_test_str (bundle, "text/html");
    const char *plain = s_test_str (bundle, "text/plain");
    assert (!strstr (html, "<script>") && !strstr (html, "<b>col") && !strstr (html, "<i>"));
    assert (strstr (html, "&lt;b&gt;col&lt;/b&gt;") && strstr (html, "&lt;script&gt;"));
    const char *svg = strstr (html, "<svg");
    assert (svg && !strstr (svg + 1, "<svg"));      //  one numeric column, one chart
    assert (strstr (plain, "nasty:1 (version 1 of 1): 30 rows \xC3\x97 3 columns"));
    assert (strstr (plain, "<script> (15), ok (15)"));
    assert (strstr (plain, "\xE2\x96\x88"));        //  the tallest bar of the sparkline
    json_decref (bundle);
    json_decref (record);
    frame = wb_dataset_load (store, "nasty", 0, &err);
    bundle = wb_dataset_head_bundle (frame, 5, "nasty:1 <first rows>");
    html = s_test_str (bundle, "text/html");
    assert (strstr (html, "&lt;first rows&gt;") && !strstr (html, "<script>"));
    assert (strstr (html, "on and o\xE2\x80\xA6</td>"));    //  long cells are cut
    json_decref (bundle);
    wb_frame_destroy (&frame);

    //  The data files of the tutorials (tests run from the repository root)
    struct {
        const char *file;       //  under tests/data
        size_t rows, cols;      //  shape
        const char *column;     //  a column to check
        const char *type;       //  its type
    } files [] = {
        { "iris.csv", 150, 5, "species", "categorical" },
        { "digits.csv", 1797, 65, "pixel_0", "numeric" },
        { "regression.csv", 500, 6, "neighborhood", "categorical" },
        { "bom_crlf_quoted.csv", 3, 3, "population, 2020", "numeric" },
    };
    for (size_t i = 0; i < sizeof (files) / sizeof (files [0]); i++) {
        char *path = wb_sprintf ("tests/data/%s", files [i].file);
        if (access (path, R_OK)) {
            fprintf (stderr, "%s is missing: run the self-tests from the repository root\n", path);
            assert (false);
        }
        char *name = wb_strndup (files [i].file, strcspn (files [i].file, "."));
        record = wb_dataset_register (store, name, path, NULL, &err);
        assert (record);
        assert (s_test_int (record, "rows") == (json_int_t) files [i].rows);
        assert (s_test_int (record, "cols") == (json_int_t) files [i].cols);
        size_t index;
        json_t *column;
        bool found = false;
        json_array_foreach (json_object_get (record, "schema"), index, column)
            if (streq (s_test_str (column, "name"), files [i].column)) {
                assert (streq (s_test_str (column, "type"), files [i].type));
                found = true;
            }
        assert (found);
        json_decref (record);
        free (name);
        free (path);
    }
    record = wb_dataset_resolve (store, "iris", &err);
    json_t *species = json_array_get (json_object_get (record, "profile"), 4);
    dump = json_dumps (json_object_get (species, "top"), JSON_COMPACT);
    assert (streq (dump, "[[\"setosa\",50],[\"versicolor\",50],[\"virginica\",50]]"));
    free (dump);
    json_t *sepal = json_array_get (json_object_get (record, "profile"), 0);
    assert (json_real_value (json_object_get (sepal, "min")) == 4.3);
    assert (json_real_value (json_object_get (sepal, "max")) == 7.9);
    assert (fabs (json_real_value (json_object_get (sepal, "mean")) - 5.843333) < 1e-6);
    json_decref (record);
    frame = wb_dataset_load (store, "digits", 0, &err);
    bundle = wb_dataset_head_bundle (frame, 3, NULL);
    assert (strstr (s_test_str (bundle, "text/plain"), "pixel_9  \xE2\x80\xA6  pixel_55"));
    json_decref (bundle);
    wb_frame_destroy (&frame);
    const char *broken_files [][2] = {
        { "broken_unclosed_quote.csv", "line 3, column 7: this quoted field is never closed" },
        { "broken_ragged.csv", "line 4, column 16: expected 3 fields as in the header, found 4" },
    };
    for (size_t i = 0; i < 2; i++) {
        char *path = wb_sprintf ("tests/data/%s", broken_files [i][0]);
        assert (!wb_dataset_register (store, "broken", path, NULL, &err));
        if (!strstr (err.text, broken_files [i][1]))
            fprintf (stderr, "unexpected: %s\n", err.text);
        assert (strstr (err.text, broken_files [i][1]));
        free (path);
    }
    if (verbose) {
        list = wb_dataset_list (store, &err);
        bundle = wb_dataset_list_bundle (list);
        printf ("\n%s", s_test_str (bundle, "text/plain"));
        json_decref (bundle);
        json_decref (list);
        record = wb_dataset_resolve (store, "regression", &err);
        bundle = wb_dataset_profile_bundle (record);
        printf ("%s", s_test_str (bundle, "text/plain"));
        json_decref (bundle);
        json_decref (record);
    }

    wb_store_destroy (&store);
    free (blob);
    free (first);
    free (copy);
    free (second);
    free (broken);
    free (same);
    free (nasty);
    char *cleanup = wb_sprintf ("rm -rf '%s'", scratch);
    assert (system (cleanup) == 0);
    free (cleanup);
    free (ws);
}
//  @end
