/*  wb_render_int - private to lib/render/wb_render*.c, wb_table.c, wb_chart*.c
    and wb_heatmap.c: the chart's structs and the helpers the parts share

    The renderer is one class in five files behind this header:
    wb_render.c (text helpers every part uses, the self-test's entry),
    wb_table.c (tables), wb_chart_axis.c (downsampling and axis ticks),
    wb_chart.c (a chart and its series, Vega-Lite, text, bundles),
    wb_chart_svg.c (a chart's layout and its SVG), wb_heatmap.c (heatmaps).
*/
#ifndef WB_RENDER_INT_H
#define WB_RENDER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include "wb_render.h"

#define WB_CHART_MAX_TICKS  12  //  most ticks on an axis

//  ---- Text helpers (wb_render.c) ----

//  Copy text with invalid UTF-8 replaced by U+FFFD and control characters
//  by spaces; NULL stays NULL. Caller owns the return value.
char *
    wb_render__clean (const char *text);
//  Width of text in code points (0 for NULL)
size_t
    wb_render__width (const char *text);
//  Format a number for a table cell or a summary into text (at least 32
//  bytes): whole numbers below 1e10 in full (steps and counts must not be
//  rounded), anything else with 6 significant digits, NaN as "".
void
    wb_render__format_number (double value, char *text, size_t size);

//  ---- Downsampling and ticks (wb_chart_axis.c) ----

//  LTTB as indices: writes the chosen indices to picks (room for threshold)
//  and returns how many; finite is the number of finite points.
size_t
    wb_render__lttb (const double *x, const double *y, size_t count, size_t finite,
                     size_t threshold, size_t *picks);
//  Widen an empty or nearly empty range so that it can be drawn
void
    wb_render__pad_range (double *lo, double *hi);
//  Nice ticks covering [lo, hi] with a step of at least min_step: writes
//  them to ticks, the step to *step_p, and returns how many.
size_t
    wb_render__nice_ticks (double lo, double hi, size_t max_ticks, double min_step,
                           double *ticks, double *step_p);
//  A linear tick label: 0, 0.5, 1.5, 2k, 2.5M, 4e-7
void
    wb_render__tick_label (double value, double step, double largest, char *text, size_t size);
//  A log tick label for 10^power: 0.001, 1, 100, 10k, 1M, 1e-5, 1e15
void
    wb_render__log_label (int power, char *text, size_t size);

//  ---- Charts (wb_chart.c, wb_chart_svg.c) ----

//  One series of a chart
typedef struct {
    char *name;                 //  cleaned, unique within the chart
    wb_mark_t mark;             //  how it is drawn
    const char *color;          //  from s_palette
    double *x;                  //  drawn points (downsampled, finite)
    double *y;                  //  ... their y
    size_t drawn;               //  number of drawn points
    size_t count;               //  finite points given: the true count
    double min_y;               //  smallest y over all finite points
    double max_y;               //  largest y over all finite points
    double last_x;              //  last finite point
    double last_y;              //  ... its y
} wb_chart__series_t;

struct _wb_chart_t {
    char *title;                //  cleaned, or NULL
    char *x_label;              //  cleaned, or NULL
    char *y_label;              //  cleaned, or NULL
    int width;                  //  drawing width in pixels
    int height;                 //  drawing height in pixels
    bool log_y;                 //  logarithmic y axis
    wb_mark_t mark;             //  mark for series added from now on
    size_t max_points;          //  most points drawn per series
    wb_chart__series_t *series; //  the series, in the order added
    size_t nseries;             //  series in use
    size_t series_room;         //  series allocated
};

//  Where everything goes: computed from the drawn points for each render
typedef struct {
    bool empty;                 //  nothing to draw: frame and message
    const char *message;        //  why nothing is drawn
    double left;                //  plot area, in pixels
    double right;               //  ...
    double top;                 //  ...
    double bottom;              //  ...
    double x_lo, x_hi;          //  x domain
    double y_lo, y_hi;          //  y domain (exponents of ten on a log axis)
    double x_ticks [WB_CHART_MAX_TICKS];   //  x tick values
    double y_ticks [WB_CHART_MAX_TICKS];   //  y tick values (exponents on a log axis)
    size_t nx_ticks;            //  x ticks in use
    size_t ny_ticks;            //  y ticks in use
    char x_labels [WB_CHART_MAX_TICKS][32];    //  x tick labels
    char y_labels [WB_CHART_MAX_TICKS][32];    //  y tick labels
    double bar_width;           //  width of one series' bar, in pixels
    size_t nbars;               //  series drawn as bars
    bool legend;                //  draw a legend
    double legend_left;         //  where the legend starts, in pixels
} wb_chart__layout_t;

//  True when the point is drawn: finite, and positive on a log axis
bool
    wb_chart__drawable (wb_chart_t *self, double y);
//  True when every drawn x of every series is a whole number
bool
    wb_chart__x_integer (wb_chart_t *self);
//  Where everything goes, computed from the drawn points (wb_chart_svg.c);
//  Vega-Lite takes its size and bars from it too
void
    wb_chart__layout (wb_chart_t *self, wb_chart__layout_t *layout);

//  ---- Self-tests: one per part, run by wb_render_test ----

void
    wb_table_test (bool verbose);
void
    wb_chart_axis_test (bool verbose);
void
    wb_chart_test (bool verbose);
void
    wb_chart_svg_test (bool verbose);
void
    wb_heatmap_test (bool verbose);
//  What the tests check of an SVG (wb_render.c): tags balanced and text
//  escaped; an SVG a browser shows on its own with finite numbers only;
//  a tick label as it appears in the SVG
bool
    wb_render__test_balanced (const char *svg);
void
    wb_render__test_check_svg (const char *svg);
bool
    wb_render__test_has_label (const char *svg, const char *label);

#endif
