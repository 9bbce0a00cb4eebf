/*  wb_chart_svg - part of wb_render: where a chart's plot, axes, ticks and
    legend go (the layout, which Vega-Lite reads too) and the chart drawn
    as SVG

    The SVG is made to stand on its own: an opaque background, every piece
    of text escaped and cut to the room it has, only finite numbers.
*/
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "wb_render_int.h"
#include "base/wb_utf8.h"
#include "base/wb_util.h"

//  Chart layout: sizes in pixels
#define S_FONT          11      //  tick labels, legend, axis labels (px)
#define S_TITLE_FONT    13      //  the title (px)
#define S_CHAR_WIDTH    0.64    //  glyph width in em for layout (DejaVu digits)
#define S_LEGEND_CHARS  24      //  longest series name shown in the legend

//  ---- Layout ----

static int
s_compare_doubles (const void *a, const void *b)
{
    double da = *(const double *) a, db = *(const double *) b;
    return da < db? -1: da > db? 1: 0;
}

//  Smallest gap between distinct x of the bar series, or 0 if none
static double
s_bar_gap (wb_chart_t *self)
{
    size_t total = 0;
    for (size_t i = 0; i < self->nseries; i++)
        if (self->series [i].mark == WB_MARK_BAR)
            total += self->series [i].drawn;
    if (total < 2)
        return 0;
    double *xs = wb_malloc (total * sizeof (double));
    size_t n = 0;
    for (size_t i = 0; i < self->nseries; i++) {
        wb_chart__series_t *series = &self->series [i];
        if (series->mark == WB_MARK_BAR)
            for (size_t j = 0; j < series->drawn; j++)
                if (wb_chart__drawable (self, series->y [j]))
                    xs [n++] = series->x [j];
    }
    qsort (xs, n, sizeof (double), s_compare_doubles);
    double gap = 0;
    for (size_t j = 1; j < n; j++)
        if (xs [j] > xs [j - 1] && (gap == 0 || xs [j] - xs [j - 1] < gap))
            gap = xs [j] - xs [j - 1];
    free (xs);
    return gap;
}

//  Pick the most ticks for an axis of the given length in pixels whose
//  labels do not crowd each other, and fill the labels. A linear axis keeps
//  the range [lo, hi] and shows the ticks inside it; a log axis grows to
//  the powers of ten around it, which the caller takes from the ticks.
static size_t
s_axis_ticks (wb_chart_t *self, bool y_axis, double lo, double hi, double length,
              double *ticks, char labels [][32])
{
    bool log = y_axis && self->log_y;
    //  Steps, epochs and trial counts are whole numbers: no tick between
    double min_step = log? 1: !y_axis && wb_chart__x_integer (self)? 1: 0;
    double spacing = y_axis? 36: 70;    //  pixels per tick at most
    size_t max_ticks = length > 0? (size_t) (length / spacing) + 1: 2;
    if (max_ticks < 2)
        max_ticks = 2;
    if (max_ticks > WB_CHART_MAX_TICKS - 2)
        max_ticks = WB_CHART_MAX_TICKS - 2;
    size_t extra = log? 0: 2;   //  the outer ticks may fall outside [lo, hi]
    while (true) {
        double step;
        size_t count = wb_render__nice_ticks (lo, hi, max_ticks + extra, min_step,
                                     ticks, &step);
        if (!log) {
            size_t inside = 0;
            double slack = (hi - lo) * 1e-9;
            for (size_t i = 0; i < count; i++)
                if (ticks [i] >= lo - slack && ticks [i] <= hi + slack)
                    ticks [inside++] = ticks [i];
            count = inside;
            if (count < 2 && max_ticks + extra < WB_CHART_MAX_TICKS) {
                extra++;        //  a step too coarse for the range: finer
                continue;
            }
        }
        double largest = 0;
        for (size_t i = 0; i < count; i++)
            if (fabs (ticks [i]) > largest)
                largest = fabs (ticks [i]);
        size_t widest = 0;
        for (size_t i = 0; i < count; i++) {
            if (log)
                wb_render__log_label ((int) lrint (ticks [i]), labels [i], 32);
            else
                wb_render__tick_label (ticks [i], step, largest, labels [i], 32);
            if (strlen (labels [i]) > widest)
                widest = strlen (labels [i]);
        }
        //  On the x axis the labels sit side by side and must not touch
        double need = (double) (widest + 2) * S_FONT * S_CHAR_WIDTH * (double) count;
        if (y_axis || need <= length || max_ticks <= 2)
            return count;
        max_ticks--;
    }
}

static double
    s_px (wb_chart__layout_t *layout, double x);

void
wb_chart__layout (wb_chart_t *self, wb_chart__layout_t *layout)
{
    memset (layout, 0, sizeof (wb_chart__layout_t));
    double width = self->width, height = self->height;

    //  Data ranges over the drawn points
    double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
    for (size_t i = 0; i < self->nseries; i++) {
        wb_chart__series_t *series = &self->series [i];
        if (series->mark == WB_MARK_BAR)
            layout->nbars++;
        for (size_t j = 0; j < series->drawn; j++) {
            double y = series->y [j];
            if (!wb_chart__drawable (self, y))
                continue;
            if (self->log_y)
                y = log10 (y);
            if (series->x [j] < x_lo)
                x_lo = series->x [j];
            if (series->x [j] > x_hi)
                x_hi = series->x [j];
            if (y < y_lo)
                y_lo = y;
            if (y > y_hi)
                y_hi = y;
        }
    }
    layout->empty = !(x_lo <= x_hi);
    layout->message = "no data";
    if (!layout->empty && !(isfinite (x_hi - x_lo) && isfinite (y_hi - y_lo))) {
        layout->empty = true;   //  a span beyond the largest double
        layout->message = "values too large to draw";
    }
    layout->legend = self->nseries > 1;

    //  Margins: title on top, tick labels and axis labels left and below,
    //  legend on the right
    layout->top = self->title? 32: 12;
    layout->bottom = height - (S_FONT + 14) - (self->x_label? S_FONT + 6: 0);
    double legend_width = 0;
    if (layout->legend) {
        size_t widest = 0;
        for (size_t i = 0; i < self->nseries; i++) {
            size_t chars = wb_render__width (self->series [i].name);
            if (chars > widest)
                widest = chars;
        }
        if (widest > S_LEGEND_CHARS)
            widest = S_LEGEND_CHARS;
        legend_width = 30 + (double) widest * S_FONT * S_CHAR_WIDTH;
        if (legend_width > width * 0.35)
            legend_width = width * 0.35;
    }
    layout->right = width - 16 - legend_width;
    layout->legend_left = layout->right + 12;
    double y_label_room = self->y_label? S_FONT + 10: 0;
    if (layout->empty) {
        layout->left = 12 + y_label_room;
        return;
    }

    //  y: the data's range and 5% more (bars stand on zero), or on a log
    //  axis whole decades; the widest tick label sets the left margin
    if (self->log_y) {
        y_lo = floor (y_lo + 1e-9);
        y_hi = ceil (y_hi - 1e-9);
        if (y_hi <= y_lo) {
            y_lo -= 1;
            y_hi += 1;
        }
    }
    else {
        if (layout->nbars && y_lo > 0)
            y_lo = 0;
        if (layout->nbars && y_hi < 0)
            y_hi = 0;
        wb_render__pad_range (&y_lo, &y_hi);
        double room = (y_hi - y_lo) * 0.05;
        if (!(layout->nbars && y_lo == 0))
            y_lo -= room;
        if (!(layout->nbars && y_hi == 0))
            y_hi += room;
    }
    layout->ny_ticks = s_axis_ticks (self, true, y_lo, y_hi,
                                     layout->bottom - layout->top,
                                     layout->y_ticks, layout->y_labels);
    layout->y_lo = self->log_y? layout->y_ticks [0]: y_lo;
    layout->y_hi = self->log_y? layout->y_ticks [layout->ny_ticks - 1]: y_hi;
    size_t widest = 0;
    for (size_t i = 0; i < layout->ny_ticks; i++)
        if (strlen (layout->y_labels [i]) > widest)
            widest = strlen (layout->y_labels [i]);
    layout->left = 12 + y_label_room + (double) widest * S_FONT * S_CHAR_WIDTH;
    if (layout->right < layout->left + 20)
        layout->right = layout->left + 20;      //  crowded: let the legend go

    //  x: the data's range; bars get half a gap of room on either side,
    //  points a little room so that they do not sit on the axis
    wb_render__pad_range (&x_lo, &x_hi);
    double gap = layout->nbars? s_bar_gap (self): 0;
    double room = 0;
    if (layout->nbars)
        room = gap > 0? gap / 2: (x_hi - x_lo) * 0.05;
    for (size_t i = 0; i < self->nseries; i++)
        if (self->series [i].mark == WB_MARK_POINT && room < (x_hi - x_lo) * 0.02)
            room = (x_hi - x_lo) * 0.02;
    x_lo -= room;
    x_hi += room;
    layout->x_lo = x_lo;
    layout->x_hi = x_hi;
    layout->nx_ticks = s_axis_ticks (self, false, x_lo, x_hi,
                                     layout->right - layout->left,
                                     layout->x_ticks, layout->x_labels);
    //  Labels are centred on their ticks: keep the outer ones on the canvas
    if (layout->nx_ticks == 0)
        return;
    double half = (double) strlen (layout->x_labels [0]) * S_FONT * S_CHAR_WIDTH / 2;
    double over_left = half + 2 - s_px (layout, layout->x_ticks [0]);
    half = (double) strlen (layout->x_labels [layout->nx_ticks - 1])
         * S_FONT * S_CHAR_WIDTH / 2;
    double over_right = s_px (layout, layout->x_ticks [layout->nx_ticks - 1])
                      + half + 2 - width;
    if (over_left > 0 || over_right > 0) {
        layout->left += over_left > 0? over_left: 0;
        layout->right -= over_right > 0? over_right: 0;
        if (layout->right < layout->left + 20)
            layout->right = layout->left + 20;
        layout->nx_ticks = s_axis_ticks (self, false, x_lo, x_hi,
                                         layout->right - layout->left,
                                         layout->x_ticks, layout->x_labels);
    }
    if (layout->nbars) {
        double plot = layout->right - layout->left;
        double slot = gap > 0? gap / (layout->x_hi - layout->x_lo) * plot * 0.8
                             : plot * 0.1;
        if (slot > plot / 4)
            slot = plot / 4;
        layout->bar_width = slot / (double) layout->nbars;
        if (layout->bar_width < 1)
            layout->bar_width = 1;
    }
}

//  ---- Drawing ----

//  Append text, cut to at most max code points with an ellipsis, HTML/XML
//  escaped.
static void
s_put_cut (wb_buf_t *buf, const char *text, size_t max)
{
    if (wb_render__width (text) <= max)
        wb_buf_html (buf, text);
    else {
        char *head = wb_strndup (text, wb_utf8_offset (text, max > 1? max - 1: 0));
        wb_buf_html (buf, head);
        wb_buf_puts (buf, "\xE2\x80\xA6");
        free (head);
    }
}

//  How many characters of the given font fit in pixels (0 if none)
static size_t
s_chars (double pixels, double font)
{
    double chars = pixels / (font * S_CHAR_WIDTH);
    return chars > 0? (size_t) chars: 0;
}

//  Pixel position of a data point
static double
s_px (wb_chart__layout_t *layout, double x)
{
    return layout->left + (x - layout->x_lo) / (layout->x_hi - layout->x_lo)
                        * (layout->right - layout->left);
}

static double
s_py (wb_chart_t *self, wb_chart__layout_t *layout, double y)
{
    if (self->log_y)
        y = log10 (y);
    return layout->bottom - (y - layout->y_lo) / (layout->y_hi - layout->y_lo)
                          * (layout->bottom - layout->top);
}

//  Append a coordinate with one decimal, faster than wb_buf_printf
static void
s_put_coord (wb_buf_t *buf, double value, const char *after)
{
    char text [48];
    int size = snprintf (text, sizeof (text), "%.1f%s", value, after);
    wb_buf_append (buf, text, (size_t) size);
}

//  Draw one series: lines as polylines (one per unbroken run), points as
//  circles, bars as rectangles from the baseline
static void
s_svg_series (wb_chart_t *self, wb_chart__layout_t *layout, size_t index, size_t bar_index,
              wb_buf_t *svg)
{
    wb_chart__series_t *series = &self->series [index];
    if (series->mark == WB_MARK_LINE) {
        wb_buf_printf (svg, "<g fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" "
                       "stroke-linejoin=\"round\" stroke-linecap=\"round\">\n",
                       series->color);
        size_t j = 0;
        while (j < series->drawn) {
            while (j < series->drawn && !wb_chart__drawable (self, series->y [j]))
                j++;
            size_t start = j;
            while (j < series->drawn && wb_chart__drawable (self, series->y [j]))
                j++;
            if (j - start == 1) {
                //  A lone point would vanish as a polyline
                wb_buf_puts (svg, "<circle cx=\"");
                s_put_coord (svg, s_px (layout, series->x [start]), "\" cy=\"");
                s_put_coord (svg, s_py (self, layout, series->y [start]), "\"");
                wb_buf_printf (svg, " r=\"2.5\" fill=\"%s\" stroke=\"none\"/>\n",
                               series->color);
            }
            else
            if (j > start) {
                wb_buf_puts (svg, "<polyline points=\"");
                for (size_t k = start; k < j; k++) {
                    s_put_coord (svg, s_px (layout, series->x [k]), ",");
                    s_put_coord (svg, s_py (self, layout, series->y [k]),
                                 k + 1 < j? " ": "");
                }
                wb_buf_puts (svg, "\"/>\n");
            }
        }
        wb_buf_puts (svg, "</g>\n");
    }
    else
    if (series->mark == WB_MARK_POINT) {
        wb_buf_printf (svg, "<g fill=\"%s\" fill-opacity=\"0.8\">\n", series->color);
        for (size_t j = 0; j < series->drawn; j++) {
            if (!wb_chart__drawable (self, series->y [j]))
                continue;
            wb_buf_puts (svg, "<circle cx=\"");
            s_put_coord (svg, s_px (layout, series->x [j]), "\" cy=\"");
            s_put_coord (svg, s_py (self, layout, series->y [j]), "\" r=\"2.5\"/>\n");
        }
        wb_buf_puts (svg, "</g>\n");
    }
    else {
        //  Bars of several series stand side by side around their x
        double base = self->log_y? layout->bottom
                    : s_py (self, layout, layout->y_lo > 0? layout->y_lo
                                        : layout->y_hi < 0? layout->y_hi: 0);
        double offset = ((double) bar_index - (double) (layout->nbars - 1) / 2
                       - 0.5) * layout->bar_width;
        wb_buf_printf (svg, "<g fill=\"%s\">\n", series->color);
        for (size_t j = 0; j < series->drawn; j++) {
            if (!wb_chart__drawable (self, series->y [j]))
                continue;
            double top = s_py (self, layout, series->y [j]);
            wb_buf_puts (svg, "<rect x=\"");
            s_put_coord (svg, s_px (layout, series->x [j]) + offset, "\" y=\"");
            s_put_coord (svg, top < base? top: base, "\" width=\"");
            s_put_coord (svg, layout->bar_width, "\" height=\"");
            s_put_coord (svg, fabs (base - top), "\"/>\n");
        }
        wb_buf_puts (svg, "</g>\n");
    }
}

//  The legend: a swatch in the series' mark and colour, then the name
static void
s_svg_legend (wb_chart_t *self, wb_chart__layout_t *layout, wb_buf_t *svg)
{
    double row = S_FONT + 5;
    size_t fits = (size_t) ((layout->bottom - layout->top) / row);
    if (fits < 1)
        fits = 1;
    size_t shown = self->nseries <= fits? self->nseries: fits - 1;
    double x = layout->legend_left;
    wb_buf_printf (svg, "<g font-size=\"%d\" fill=\"#333\">\n", S_FONT);
    for (size_t i = 0; i < shown; i++) {
        wb_chart__series_t *series = &self->series [i];
        double y = layout->top + (double) i * row + row / 2;
        if (series->mark == WB_MARK_LINE)
            wb_buf_printf (svg, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                           "y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"/>\n",
                           x, y, x + 14, y, series->color);
        else
        if (series->mark == WB_MARK_POINT)
            wb_buf_printf (svg, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" "
                           "fill=\"%s\"/>\n", x + 7, y, series->color);
        else
            wb_buf_printf (svg, "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" "
                           "height=\"10\" fill=\"%s\"/>\n",
                           x + 2, y - 5, series->color);
        wb_buf_printf (svg, "<text x=\"%.1f\" y=\"%.1f\">", x + 20, y + 4);
        size_t chars = s_chars (self->width - x - 24, S_FONT);
        s_put_cut (svg, series->name, chars < S_LEGEND_CHARS? chars: S_LEGEND_CHARS);
        wb_buf_puts (svg, "</text>\n");
    }
    if (shown < self->nseries)
        wb_buf_printf (svg, "<text x=\"%.1f\" y=\"%.1f\">\xE2\x80\xA6 %zu more</text>\n",
                       x, layout->top + (double) shown * row + row / 2 + 4,
                       self->nseries - shown);
    wb_buf_puts (svg, "</g>\n");
}

char *
wb_chart_svg (wb_chart_t *self)
{
    assert (self);
    wb_chart__layout_t layout;
    wb_chart__layout (self, &layout);
    wb_buf_t *svg = wb_buf_new ();
    int width = self->width, height = self->height;
    wb_buf_printf (svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" "
                   "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                   "font-family=\"sans-serif\" font-size=\"%d\">\n",
                   width, height, width, height, S_FONT);
    if (self->title) {
        wb_buf_puts (svg, "<title>");
        wb_buf_html (svg, self->title);
        wb_buf_puts (svg, "</title>\n");
    }
    //  An opaque background keeps dark themes from eating the black text
    wb_buf_puts (svg, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
    if (self->title) {
        wb_buf_printf (svg, "<text x=\"%.1f\" y=\"20\" text-anchor=\"middle\" "
                       "font-size=\"%d\" font-weight=\"bold\" fill=\"#222\">",
                       width / 2.0, S_TITLE_FONT);
        s_put_cut (svg, self->title,
                   s_chars (width - 16, S_TITLE_FONT));
        wb_buf_puts (svg, "</text>\n");
    }
    double middle_x = (layout.left + layout.right) / 2;
    double middle_y = (layout.top + layout.bottom) / 2;
    if (self->x_label) {
        wb_buf_printf (svg, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" "
                       "fill=\"#333\">", middle_x, height - 6);
        s_put_cut (svg, self->x_label,
                   s_chars (layout.right - layout.left, S_FONT));
        wb_buf_puts (svg, "</text>\n");
    }
    if (self->y_label) {
        wb_buf_printf (svg, "<text transform=\"translate(%d,%.1f) rotate(-90)\" "
                       "text-anchor=\"middle\" fill=\"#333\">", S_FONT + 2, middle_y);
        s_put_cut (svg, self->y_label,
                   s_chars (layout.bottom - layout.top, S_FONT));
        wb_buf_puts (svg, "</text>\n");
    }
    if (layout.empty) {
        wb_buf_printf (svg, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                       "height=\"%.1f\" fill=\"none\" stroke=\"#999\"/>\n",
                       layout.left, layout.top, layout.right - layout.left,
                       layout.bottom - layout.top);
        wb_buf_printf (svg, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                       "fill=\"#777\">%s</text>\n", middle_x, middle_y + 4,
                       layout.message);
        if (layout.legend)
            s_svg_legend (self, &layout, svg);
        wb_buf_puts (svg, "</svg>\n");
        return wb_buf_detach (&svg);
    }

    //  Grid lines first, so that everything else is drawn over them
    wb_buf_puts (svg, "<g stroke=\"#e6e6e6\" stroke-width=\"1\">\n");
    for (size_t i = 0; i < layout.nx_ticks; i++) {
        double x = s_px (&layout, layout.x_ticks [i]);
        wb_buf_printf (svg, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                       x, layout.top, x, layout.bottom);
    }
    for (size_t i = 0; i < layout.ny_ticks; i++) {
        double y = layout.bottom - (layout.y_ticks [i] - layout.y_lo)
                 / (layout.y_hi - layout.y_lo) * (layout.bottom - layout.top);
        wb_buf_printf (svg, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                       layout.left, y, layout.right, y);
    }
    wb_buf_puts (svg, "</g>\n");

    //  Axes, tick marks and tick labels
    wb_buf_printf (svg, "<g stroke=\"#888\" stroke-width=\"1\">\n"
                   "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n"
                   "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                   layout.left, layout.bottom, layout.right, layout.bottom,
                   layout.left, layout.top, layout.left, layout.bottom);
    for (size_t i = 0; i < layout.nx_ticks; i++) {
        double x = s_px (&layout, layout.x_ticks [i]);
        wb_buf_printf (svg, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                       x, layout.bottom, x, layout.bottom + 4);
    }
    for (size_t i = 0; i < layout.ny_ticks; i++) {
        double y = layout.bottom - (layout.y_ticks [i] - layout.y_lo)
                 / (layout.y_hi - layout.y_lo) * (layout.bottom - layout.top);
        wb_buf_printf (svg, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                       layout.left - 4, y, layout.left, y);
    }
    wb_buf_puts (svg, "</g>\n");
    wb_buf_puts (svg, "<g fill=\"#555\" text-anchor=\"middle\">\n");
    for (size_t i = 0; i < layout.nx_ticks; i++) {
        wb_buf_printf (svg, "<text x=\"%.1f\" y=\"%.1f\">",
                       s_px (&layout, layout.x_ticks [i]), layout.bottom + 6 + S_FONT);
        wb_buf_html (svg, layout.x_labels [i]);
        wb_buf_puts (svg, "</text>\n");
    }
    wb_buf_puts (svg, "</g>\n<g fill=\"#555\" text-anchor=\"end\">\n");
    for (size_t i = 0; i < layout.ny_ticks; i++) {
        double y = layout.bottom - (layout.y_ticks [i] - layout.y_lo)
                 / (layout.y_hi - layout.y_lo) * (layout.bottom - layout.top);
        wb_buf_printf (svg, "<text x=\"%.1f\" y=\"%.1f\">", layout.left - 6, y + 4);
        wb_buf_html (svg, layout.y_labels [i]);
        wb_buf_puts (svg, "</text>\n");
    }
    wb_buf_puts (svg, "</g>\n");

    //  Bars under lines and points, then each series in the order added
    size_t bar_index = 0;
    for (size_t i = 0; i < self->nseries; i++)
        if (self->series [i].mark == WB_MARK_BAR)
            s_svg_series (self, &layout, i, bar_index++, svg);
    for (size_t i = 0; i < self->nseries; i++)
        if (self->series [i].mark != WB_MARK_BAR)
            s_svg_series (self, &layout, i, 0, svg);
    if (layout.legend)
        s_svg_legend (self, &layout, svg);
    wb_buf_puts (svg, "</svg>\n");
    return wb_buf_detach (&svg);
}

//  @selftest
void
wb_chart_svg_test (bool verbose)
{
    (void) verbose;
    double x [50], y [50];
    for (size_t i = 0; i < 50; i++)
        x [i] = (double) i;
    wb_chart_t *chart;
    char *svg;
    json_t *bundle;

    //  A log axis over four decades, a non-positive value left out
    chart = wb_chart_new ("Learning rate", "step", NULL);
    wb_chart_set_log_y (chart, true);
    for (size_t i = 0; i <= 40; i++)
        y [i] = pow (10, -(double) i / 10);                //  1 down to 1e-4
    y [7] = -1;
    wb_chart_series (chart, "lr", x, y, 41);
    svg = wb_chart_svg (chart);
    wb_render__test_check_svg (svg);
    assert (wb_render__test_has_label (svg, "0.0001") && wb_render__test_has_label (svg, "0.001"));
    assert (wb_render__test_has_label (svg, "1"));
    assert (strstr (svg, "<polyline"));
    assert (!strstr (svg, ">lr</text>"));                  //  one series: no legend
    free (svg);
    wb_chart_destroy (&chart);

    //  One value: ticks around it; the size clamped; a name cleaned
    for (size_t i = 0; i < 50; i++) {
        x [i] = 7;                                          //  x all equal
        y [i] = 42;                                         //  y all equal
    }
    chart = wb_chart_new ("Flat", NULL, NULL);
    wb_chart_series (chart, "flat", x, y, 50);
    svg = wb_chart_svg (chart);
    wb_render__test_check_svg (svg);
    assert (wb_render__test_has_label (svg, "42") && wb_render__test_has_label (svg, "7"));
    free (svg);
    wb_chart_set_size (chart, 1, 1);                        //  clamped
    svg = wb_chart_svg (chart);
    wb_render__test_check_svg (svg);
    assert (strstr (svg, " width=\"160\" height=\"100\" viewBox=\"0 0 160 100\""));
    free (svg);
    wb_chart_set_log_y (chart, true);
    svg = wb_chart_svg (chart);
    wb_render__test_check_svg (svg);
    free (svg);
    y [0] = -1;
    y [1] = 0;
    wb_chart_series (chart, "\xff<bad>\x01", x, y, 2);     //  all left out on log
    wb_chart_set_size (chart, 4000, 4000);
    bundle = wb_chart_bundle (chart);
    svg = (char *) json_string_value (json_object_get (bundle, "image/svg+xml"));
    wb_render__test_check_svg (svg);
    assert (strstr (svg, ">\xEF\xBF\xBD&lt;bad&gt; </text>"));
    json_decref (bundle);
    wb_chart_destroy (&chart);
}
//  @end
