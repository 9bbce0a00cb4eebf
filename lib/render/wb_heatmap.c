/*  wb_heatmap - part of wb_render: a matrix as coloured cells with their
    values (a confusion matrix), as SVG, Vega-Lite and a text table
*/
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "wb_render_int.h"
#include "base/wb_utf8.h"
#include "base/wb_util.h"

//  ---- Heatmaps ----

static void
s_heat_number (wb_buf_t *buf, double value)
{
    if (value == floor (value) && fabs (value) < 1e9)
        wb_buf_printf (buf, "%.0f", value);
    else
        wb_buf_printf (buf, "%.3g", value);
}

//  Cleaned text as a JSON string (never NULL).
static json_t *
s_json_text (const char *text)
{
    char *clean = wb_render__clean (text? text: "");
    json_t *value = json_string (clean);
    free (clean);
    return value;
}

json_t *
wb_heatmap_bundle (const char *title, const char *row_title, const char *col_title,
                   const char **row_labels, const char **col_labels,
                   const double *values, size_t rows, size_t cols)
{
    double high = 0;
    for (size_t i = 0; i < rows * cols; i++)
        if (isfinite (values [i]) && values [i] > high)
            high = values [i];
    int cell = rows > 12 || cols > 12? 26: 40;
    //  The layout makes room for the text, estimated at 7 px a character
    //  (11 px sans-serif; 8 for the bold title): row labels widen the left
    //  margin, and column labels wider than a cell are turned 45 degrees,
    //  which makes the top margin taller and the right one wider.
    size_t row_chars = 0, col_chars = 0;
    for (size_t r = 0; r < rows; r++)
        row_chars = wb_render__width (row_labels [r]) > row_chars? wb_render__width (row_labels [r]): row_chars;
    for (size_t c = 0; c < cols; c++)
        col_chars = wb_render__width (col_labels [c]) > col_chars? wb_render__width (col_labels [c]): col_chars;
    bool turned = (int) col_chars * 7 > cell - 4;
    int slant = turned? (int) col_chars * 5 + 4: 0;     //  7 px * sin 45
    int left = 30 + (int) row_chars * 7 + 10;
    if (left < 110)
        left = 110;
    int top = 56 + slant;
    int width = left + (int) cols * cell + 20 + slant;
    int height = top + (int) rows * cell + 40;
    if (title && width < left + (int) wb_render__width (title) * 8 + 10)
        width = left + (int) wb_render__width (title) * 8 + 10;
    wb_buf_t *svg = wb_buf_new ();
    wb_buf_printf (svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                   "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\">"
                   "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>", width, height, width, height,
                   width, height);
    if (title) {
        wb_buf_printf (svg, "<text x=\"%d\" y=\"18\" font-size=\"13\" font-weight=\"bold\">", left);
        wb_buf_html (svg, title);
        wb_buf_puts (svg, "</text>");
    }
    if (col_title) {
        wb_buf_printf (svg, "<text x=\"%d\" y=\"36\" text-anchor=\"middle\">", left + (int) cols * cell / 2);
        wb_buf_html (svg, col_title);
        wb_buf_puts (svg, "</text>");
    }
    if (row_title) {
        wb_buf_printf (svg, "<text x=\"12\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 12 %d)\">",
                       top + (int) rows * cell / 2, top + (int) rows * cell / 2);
        wb_buf_html (svg, row_title);
        wb_buf_puts (svg, "</text>");
    }
    for (size_t c = 0; c < cols; c++) {
        int x = left + (int) c * cell + cell / 2;
        if (turned)
            wb_buf_printf (svg, "<text x=\"%d\" y=\"%d\" transform=\"rotate(-45 %d %d)\">",
                           x - 3, top - 6, x - 3, top - 6);
        else
            wb_buf_printf (svg, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", x, top - 6);
        wb_buf_html (svg, col_labels [c]);
        wb_buf_puts (svg, "</text>");
    }
    for (size_t r = 0; r < rows; r++) {
        wb_buf_printf (svg, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">",
                       left - 6, top + (int) r * cell + cell / 2 + 4);
        wb_buf_html (svg, row_labels [r]);
        wb_buf_puts (svg, "</text>");
        for (size_t c = 0; c < cols; c++) {
            double value = values [r * cols + c];
            double share = high > 0 && isfinite (value)? value / high: 0;
            //  White to a deep blue; dark cells get white text
            int red = (int) (255 - share * (255 - 0x1f));
            int green = (int) (255 - share * (255 - 0x4e));
            int blue = (int) (255 - share * (255 - 0x9a));
            wb_buf_printf (svg, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#%02x%02x%02x\" "
                           "stroke=\"#dddddd\"/><text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"%s\">",
                           left + (int) c * cell, top + (int) r * cell, cell, cell, red, green, blue,
                           left + (int) c * cell + cell / 2, top + (int) r * cell + cell / 2 + 4,
                           share > 0.55? "white": "black");
            s_heat_number (svg, value);
            wb_buf_puts (svg, "</text>");
        }
    }
    wb_buf_puts (svg, "</svg>");

    //  Text: a plain matrix with labels
    wb_table_t *table = wb_table_new (title);
    wb_table_column (table, row_title && col_title? "true \\ predicted": "", WB_ALIGN_LEFT);
    for (size_t c = 0; c < cols; c++)
        wb_table_column (table, col_labels [c], WB_ALIGN_RIGHT);
    for (size_t r = 0; r < rows; r++) {
        wb_table_row (table);
        wb_table_cell (table, row_labels [r]);
        for (size_t c = 0; c < cols; c++)
            wb_table_number (table, values [r * cols + c]);
    }
    char *plain = wb_table_plain (table);
    wb_table_destroy (&table);

    json_t *data = json_array ();
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            json_array_append_new (data, json_pack ("{s:o, s:o, s:f}", "row", s_json_text (row_labels [r]),
                "col", s_json_text (col_labels [c]), "value", isfinite (values [r * cols + c])? values [r * cols + c]: 0));
    json_t *spec = json_pack ("{s:s, s:o, s:{s:o}, s:[{s:s, s:{s:{s:s, s:s, s:o, s:n}, s:{s:s, s:s, s:o, s:n}, s:{s:s, s:s, s:n}}},"
                              " {s:{s:s, s:s}, s:{s:{s:s, s:s, s:n}, s:{s:s, s:s, s:n}, s:{s:s, s:s}}}]}",
        "$schema", "https://vega.github.io/schema/vega-lite/v5.json",
        "title", s_json_text (title),
        "data", "values", data,
        "layer",
            "mark", "rect",
            "encoding",
                "y", "field", "row", "type", "nominal", "title", s_json_text (row_title), "sort",
                "x", "field", "col", "type", "nominal", "title", s_json_text (col_title), "sort",
                "color", "field", "value", "type", "quantitative", "legend",
            "mark", "type", "text", "baseline", "middle",
            "encoding",
                "y", "field", "row", "type", "nominal", "sort",
                "x", "field", "col", "type", "nominal", "sort",
                "text", "field", "value", "type", "quantitative");
    json_t *bundle = json_object ();
    json_object_set_new (bundle, "text/plain", wb_utf8_json (plain, strlen (plain)));
    json_object_set_new (bundle, "image/svg+xml", wb_utf8_json (wb_buf_data (svg), wb_buf_size (svg)));
    json_object_set_new (bundle, "application/vnd.vegalite.v5+json", spec);
    free (plain);
    wb_buf_destroy (&svg);
    return bundle;
}

//  @selftest
void
wb_heatmap_test (bool verbose)
{
    (void) verbose;
    //  A confusion matrix: values, escaped labels, all three forms
    const char *labels [] = { "cat", "<dog>" };
    double matrix [] = { 5, 1, 0, 4 };
    json_t *heat = wb_heatmap_bundle ("Confusion", "true", "predicted", labels, labels, matrix, 2, 2);
    const char *heat_svg = json_string_value (json_object_get (heat, "image/svg+xml"));
    assert (heat_svg && strstr (heat_svg, "&lt;dog&gt;") && !strstr (heat_svg, "<dog>"));
    assert (strstr (heat_svg, ">5</text>") && strstr (heat_svg, ">4</text>"));
    assert (strstr (json_string_value (json_object_get (heat, "text/plain")), "<dog>"));
    json_t *heat_spec = json_object_get (heat, "application/vnd.vegalite.v5+json");
    assert (json_array_size (json_object_get (json_object_get (heat_spec, "data"), "values")) == 4);
    assert (!strstr (heat_svg, "rotate(-45"));     //  short labels stay level
    json_decref (heat);

    //  Long labels and title: the picture grows to hold them, and
    //  column labels wider than a cell are turned
    const char *long_labels [] = { "versicolor", "virginica" };
    heat = wb_heatmap_bundle ("Confusion matrix (validation rows)", "true", "predicted",
                              long_labels, long_labels, matrix, 2, 2);
    heat_svg = json_string_value (json_object_get (heat, "image/svg+xml"));
    int width = 0;
    assert (sscanf (heat_svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\"", &width) == 1);
    assert (width >= 110 + 34 * 8);
    assert (strstr (heat_svg, "rotate(-45"));
    assert (wb_render__test_balanced (heat_svg));
    json_decref (heat);
}
//  @end
