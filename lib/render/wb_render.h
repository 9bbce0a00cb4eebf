/*  wb_render - tables and charts as MIME bundles: what every magic draws

    Tables: aligned text/plain and escaped text/html.
    Charts: image/svg+xml (axes with readable ticks, legend, several series,
    optional log scale) plus application/vnd.vegalite.v5+json plus a
    text/plain summary. Long series are downsampled for drawing with
    largest-triangle-three-buckets; summaries report the true values.
    Knows nothing of Jupyter or of the workspace.
*/
#ifndef WB_RENDER_H
#define WB_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

//  ---- Tables ----

typedef struct _wb_table_t wb_table_t;

typedef enum {
    WB_ALIGN_LEFT,              //  text
    WB_ALIGN_RIGHT              //  numbers
} wb_align_t;

//  A table with an optional caption (NULL for none).
wb_table_t *
    wb_table_new (const char *caption);
void
    wb_table_destroy (wb_table_t **self_p);
//  Add a column (before any row).
void
    wb_table_column (wb_table_t *self, const char *name, wb_align_t align);
//  Start a new row; cells fill it left to right.
void
    wb_table_row (wb_table_t *self);
//  Add a text cell (copied; NULL shows as empty).
void
    wb_table_cell (wb_table_t *self, const char *text);
void
    wb_table_cellf (wb_table_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));
//  Add a number cell, formatted with up to 6 significant digits; whole
//  numbers below 1e10 (steps, counts) in full. NaN shows as empty.
void
    wb_table_number (wb_table_t *self, double value);
//  Number of rows so far.
size_t
    wb_table_rows (wb_table_t *self);
//  Render: caller owns the results.
char *
    wb_table_plain (wb_table_t *self);
char *
    wb_table_html (wb_table_t *self);
//  A new bundle {"text/plain", "text/html"}.
json_t *
    wb_table_bundle (wb_table_t *self);

//  ---- Charts ----

typedef struct _wb_chart_t wb_chart_t;

typedef enum {
    WB_MARK_LINE,               //  connected points (metric histories)
    WB_MARK_POINT,              //  scatter
    WB_MARK_BAR                 //  bars at x (histograms, counts)
} wb_mark_t;

//  A chart with a title and axis labels (any may be NULL).
wb_chart_t *
    wb_chart_new (const char *title, const char *x_label, const char *y_label);
void
    wb_chart_destroy (wb_chart_t **self_p);
//  Drawing size in pixels (default 480 x 260).
void
    wb_chart_set_size (wb_chart_t *self, int width, int height);
//  Logarithmic y axis (non-positive values are left out of the drawing).
void
    wb_chart_set_log_y (wb_chart_t *self, bool log_y);
//  The mark used for series added from now on (default WB_MARK_LINE).
void
    wb_chart_set_mark (wb_chart_t *self, wb_mark_t mark);
//  Most points drawn per series (default 600); longer series are
//  downsampled with LTTB for the SVG and the Vega-Lite data. Series are
//  downsampled when added, so this applies to series added from now on.
void
    wb_chart_set_max_points (wb_chart_t *self, size_t max_points);
//  Add a series (x and y are copied). NaN and infinite points are skipped.
void
    wb_chart_series (wb_chart_t *self, const char *name,
                     const double *x, const double *y, size_t count);
//  Render: caller owns the results.
char *
    wb_chart_svg (wb_chart_t *self);
json_t *
    wb_chart_vegalite (wb_chart_t *self);
char *
    wb_chart_plain (wb_chart_t *self);
//  A new bundle {"text/plain", "image/svg+xml",
//  "application/vnd.vegalite.v5+json"}.
json_t *
    wb_chart_bundle (wb_chart_t *self);

//  ---- Heatmaps ----

//  A matrix drawn as coloured cells with their values (a confusion matrix:
//  rows are true labels, columns predicted). values is rows x cols, row
//  major. A new bundle {"text/plain", "image/svg+xml",
//  "application/vnd.vegalite.v5+json"}; labels and title are escaped.
json_t *
    wb_heatmap_bundle (const char *title, const char *row_title, const char *col_title,
                       const char **row_labels, const char **col_labels,
                       const double *values, size_t rows, size_t cols);

//  ---- Downsampling ----

//  Largest-triangle-three-buckets: pick at most threshold points of
//  (x, y)[0..count) that keep the visual shape, always keeping the first and
//  last. Writes the chosen points to out_x/out_y (room for threshold) and
//  returns how many. If count <= threshold, copies everything. NaN and
//  infinite points are skipped (a bucket with none finite gives no point).
size_t
    wb_lttb (const double *x, const double *y, size_t count, size_t threshold,
             double *out_x, double *out_y);

//  "Nice" axis ticks covering [lo, hi]: writes up to max_ticks values to
//  ticks and returns how many (steps of 1, 2 or 5 times a power of ten).
size_t
    wb_render_ticks (double lo, double hi, size_t max_ticks, double *ticks);

void
    wb_render_test (bool verbose);

#endif
