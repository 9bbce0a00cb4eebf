/*  wb_view_data - the views of datasets: the list, a version's first rows
    and its profile, drawn with the renderer's tables and charts

    Everything that comes from the data is escaped in the HTML and made
    valid UTF-8; long cells are cut on a character boundary.
*/
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "wb_view_data.h"
#include "wb_render.h"
#include "data/wb_dataset.h"
#include "base/wb_utf8.h"
#include "base/wb_util.h"

#define S_CELL_CHARS    60      //  longest cell shown in a table of rows
#define S_HEAD_COLUMNS  20      //  columns shown in a table of rows (first and last)
#define S_CHART_WIDTH   180     //  histogram size in a profile, in pixels
#define S_CHART_HEIGHT  80

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
wb_view_datasets (json_t *list)
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
wb_view_data_head (wb_frame_t *frame, size_t rows, const char *caption)
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
wb_view_data_profile (json_t *record)
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
static const char *
s_test_str (json_t *object, const char *key)
{
    return json_string_value (json_object_get (object, key));
}

//  Write text to scratch/file; returns the path (caller owns)
static char *
s_test_file (const char *scratch, const char *file, const char *text)
{
    char *path = wb_sprintf ("%s/%s", scratch, file);
    FILE *handle = fopen (path, "w");
    assert (handle);
    fputs (text, handle);
    fclose (handle);
    return path;
}

void
wb_view_data_test (bool verbose)
{
    wb_error_t err;
    char scratch [] = "/tmp/wb-view-data-XXXXXX";
    assert (mkdtemp (scratch));
    char *ws = wb_sprintf ("%s/ws", scratch);
    wb_store_t *store = wb_store_open (ws, true, &err);
    assert (store);
    char *people = s_test_file (scratch, "people.csv", "name,age\nann,31\nbob,NA\n");
    json_t *record = wb_dataset_register (store, "people", people, NULL, &err);
    assert (record);
    json_decref (record);
    char *race = s_test_file (scratch, "race.csv", "lap,time\n1,61.2\n2,60.8\n");
    record = wb_dataset_register (store, "race", race, NULL, &err);
    assert (record);
    json_decref (record);
    json_t *list = wb_dataset_list (store, &err);
    wb_frame_t *frame;
    json_t *bundle = wb_view_datasets (list);
    assert (strstr (s_test_str (bundle, "text/plain"), "people"));
    assert (strstr (s_test_str (bundle, "text/html"), "<td style=\"text-align:left\">race</td>"));
    json_decref (bundle);
    json_decref (list);
    list = json_array ();
    bundle = wb_view_datasets (list);
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
    bundle = wb_view_data_profile (record);
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
    bundle = wb_view_data_head (frame, 5, "nasty:1 <first rows>");
    html = s_test_str (bundle, "text/html");
    assert (strstr (html, "&lt;first rows&gt;") && !strstr (html, "<script>"));
    assert (strstr (html, "on and o\xE2\x80\xA6</td>"));    //  long cells are cut
    json_decref (bundle);
    wb_frame_destroy (&frame);

    frame = wb_dataset_load (store, "digits", 0, &err);
    if (!frame) {
        char *digits = wb_strdup ("tests/data/digits.csv");
        record = wb_dataset_register (store, "digits", digits, NULL, &err);
        assert (record);        //  the self-tests run from the repository root
        json_decref (record);
        free (digits);
        frame = wb_dataset_load (store, "digits", 0, &err);
    }
    bundle = wb_view_data_head (frame, 3, NULL);
    assert (strstr (s_test_str (bundle, "text/plain"), "pixel_9  \xE2\x80\xA6  pixel_55"));
    if (verbose)
        printf ("\n%s", s_test_str (bundle, "text/plain"));
    json_decref (bundle);
    wb_frame_destroy (&frame);

    wb_store_destroy (&store);
    free (people);
    free (race);
    free (nasty);
    char *cleanup = wb_sprintf ("rm -rf '%s'", scratch);
    assert (system (cleanup) == 0);
    free (cleanup);
    free (ws);
}
//  @end
