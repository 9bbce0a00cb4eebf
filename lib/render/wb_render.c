/*  wb_render - tables and charts as MIME bundles: what every magic draws

    Tables (wb_table.c), charts (wb_chart.c, wb_chart_svg.c, with their
    axes and downsampling in wb_chart_axis.c) and heatmaps (wb_heatmap.c),
    behind the one public header wb_render.h and the private
    wb_render_int.h. This file holds the text helpers every part uses and
    the self-test's entry, which runs each part's test.

    All text that comes in (captions, cells, titles, series names) is cleaned
    on the way in: invalid UTF-8 becomes U+FFFD and control characters become
    spaces, so the outputs are always valid UTF-8 (jansson refuses anything
    else), valid XML and one line per table row.
*/
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "wb_render_int.h"
#include "base/wb_utf8.h"
#include "base/wb_util.h"

//  ---- Text helpers ----

//  Copy text with invalid UTF-8 replaced by U+FFFD and control characters
//  by spaces; NULL stays NULL. Caller owns the return value.
char *
wb_render__clean (const char *text)
{
    if (!text)
        return NULL;
    size_t size = strlen (text);
    bool plain = wb_utf8_valid (text, size);
    for (size_t pos = 0; plain && pos < size; pos++)
        if ((unsigned char) text [pos] < 0x20 || text [pos] == 0x7F)
            plain = false;
    if (plain)
        return wb_strndup (text, size);

    wb_buf_t *buf = wb_buf_new ();
    size_t pos = 0;
    while (pos < size) {
        //  One code point (or one invalid piece) at a time, through a small
        //  copy so that the decoder never scans the rest of the text
        char piece [5] = { 0 };
        size_t room = size - pos < 4? size - pos: 4;
        memcpy (piece, text + pos, room);
        size_t step = wb_utf8_offset (piece, 1);
        unsigned char lead = (unsigned char) piece [0];
        if (lead < 0x20 || lead == 0x7F)
            wb_buf_puts (buf, " ");
        else
        if (wb_utf8_valid (piece, step))
            wb_buf_append (buf, piece, step);
        else
            wb_buf_puts (buf, "\xEF\xBF\xBD");
        pos += step;
    }
    return wb_buf_detach (&buf);
}

//  Width of text in code points
size_t
wb_render__width (const char *text)
{
    return text? wb_utf8_count (text, strlen (text)): 0;
}

//  Format a number for a table cell or a summary into text (at least 32
//  bytes): whole numbers below 1e10 in full (steps and counts must not be
//  rounded), anything else with 6 significant digits, NaN as "".
void
wb_render__format_number (double value, char *text, size_t size)
{
    if (isnan (value))
        snprintf (text, size, "%s", "");
    else
    if (isinf (value))
        snprintf (text, size, "%s", value > 0? "inf": "-inf");
    else
    if (value == 0)
        snprintf (text, size, "%s", "0");      //  also for -0
    else
    if (value == floor (value) && fabs (value) < 1e10)
        snprintf (text, size, "%.0f", value);
    else
        snprintf (text, size, "%.6g", value);
}

//  @selftest
//  @selftest
//  True when the tags of an SVG open and close in order, and no text
//  holds a bare '<' or '&' (a small well-formedness check for the tests)
bool
wb_render__test_balanced (const char *svg)
{
    char stack [64][32];
    size_t depth = 0;
    for (const char *c = svg; *c; c++) {
        if (*c == '&') {
            const char *semi = strchr (c, ';');
            if (!semi || semi - c > 6)
                return false;
        }
        if (*c != '<')
            continue;
        const char *end = strchr (c, '>');
        if (!end)
            return false;
        if (c [1] == '/') {
            size_t size = strcspn (c + 2, " >");
            if (depth == 0 || size >= 32 || strlen (stack [depth - 1]) != size
            ||  strncmp (stack [depth - 1], c + 2, size) != 0)
                return false;
            depth--;
        }
        else
        if (end [-1] != '/') {
            size_t size = strcspn (c + 1, " >/");
            if (depth == 64 || size == 0 || size >= 32)
                return false;
            memcpy (stack [depth], c + 1, size);
            stack [depth++][size] = 0;
        }
        c = end;
    }
    return depth == 0;
}

//  An SVG a browser can show on its own, with only finite numbers
void
wb_render__test_check_svg (const char *svg)
{
    assert (wb_starts_with (svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" "));
    assert (strstr (svg, " width=\""));
    assert (strstr (svg, " height=\""));
    assert (strstr (svg, " viewBox=\"0 0 "));
    assert (wb_render__test_balanced (svg));
    assert (!strstr (svg, "nan") && !strstr (svg, "inf"));
    assert (wb_utf8_valid (svg, strlen (svg)));
}

//  The labels of the chart's tick marks, as they appear in the SVG
bool
wb_render__test_has_label (const char *svg, const char *label)
{
    char *text = wb_sprintf (">%s</text>", label);
    bool found = strstr (svg, text) != NULL;
    free (text);
    return found;
}

void
wb_render_test (bool verbose)
{
    //  Numbers: 6 significant digits, whole numbers in full, NaN empty
    char text [40];
    wb_render__format_number (0.95, text, sizeof (text));
    assert (streq (text, "0.95"));
    wb_render__format_number (12, text, sizeof (text));
    assert (streq (text, "12"));
    wb_render__format_number (1234567, text, sizeof (text));
    assert (streq (text, "1234567"));
    wb_render__format_number (1234567.5, text, sizeof (text));
    assert (streq (text, "1.23457e+06"));
    wb_render__format_number (12345.678, text, sizeof (text));
    assert (streq (text, "12345.7"));
    wb_render__format_number (1.0 / 3, text, sizeof (text));
    assert (streq (text, "0.333333"));
    wb_render__format_number (1.5e-5, text, sizeof (text));
    assert (streq (text, "1.5e-05"));
    wb_render__format_number (-0.0, text, sizeof (text));
    assert (streq (text, "0"));
    wb_render__format_number (-2.5, text, sizeof (text));
    assert (streq (text, "-2.5"));
    wb_render__format_number (NAN, text, sizeof (text));
    assert (streq (text, ""));
    wb_render__format_number (-INFINITY, text, sizeof (text));
    assert (streq (text, "-inf"));

    //  Text cleaning: control characters and invalid UTF-8 never get out
    char *clean = wb_render__clean ("a\tb\nc\x01\xff" "d\xe2\x82");
    assert (streq (clean, "a b c \xEF\xBF\xBD" "d\xEF\xBF\xBD"));
    free (clean);
    clean = wb_render__clean ("caf\xc3\xa9");
    assert (streq (clean, "caf\xc3\xa9"));
    free (clean);

    wb_table_test (verbose);
    wb_chart_axis_test (verbose);
    wb_chart_test (verbose);
    wb_chart_svg_test (verbose);
    wb_heatmap_test (verbose);
}
//  @end
