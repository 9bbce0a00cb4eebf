/*  wb_chart - part of wb_render: a chart of series as image/svg+xml,
    Vega-Lite and a text summary

    A chart downsamples each series once, when it is added, and keeps the
    true count, minimum, maximum and last point for the text summary;
    rendering then only walks the few hundred points it draws, so a
    million-point series costs two linear passes at wb_chart_series (a few
    milliseconds) and nothing more per render. The layout and the SVG are
    in wb_chart_svg.c, the ticks and the downsampling in wb_chart_axis.c.
*/
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "wb_render_int.h"
#include "base/wb_utf8.h"
#include "base/wb_util.h"

//  ---- Charts ----

//  Okabe & Ito's palette, which stays distinct under the common kinds of
//  colour blindness; the yellow is last as it is faint on white.
static const char *s_palette [] = {
    "#0072B2", "#E69F00", "#009E73", "#D55E00",
    "#CC79A7", "#56B4E9", "#000000", "#F0E442"
};
#define S_PALETTE_SIZE (sizeof (s_palette) / sizeof (s_palette [0]))

wb_chart_t *
wb_chart_new (const char *title, const char *x_label, const char *y_label)
{
    wb_chart_t *self = wb_calloc (1, sizeof (wb_chart_t));
    self->title = wb_render__clean (title);
    self->x_label = wb_render__clean (x_label);
    self->y_label = wb_render__clean (y_label);
    self->width = 480;
    self->height = 260;
    self->mark = WB_MARK_LINE;
    self->max_points = 600;
    return self;
}

void
wb_chart_destroy (wb_chart_t **self_p)
{
    assert (self_p);
    wb_chart_t *self = *self_p;
    if (self) {
        for (size_t i = 0; i < self->nseries; i++) {
            free (self->series [i].name);
            free (self->series [i].x);
            free (self->series [i].y);
        }
        free (self->series);
        free (self->title);
        free (self->x_label);
        free (self->y_label);
        free (self);
        *self_p = NULL;
    }
}

void
wb_chart_set_size (wb_chart_t *self, int width, int height)
{
    assert (self);
    //  Below this the axes and labels no longer fit
    self->width = width < 160? 160: width > 4000? 4000: width;
    self->height = height < 100? 100: height > 4000? 4000: height;
}

void
wb_chart_set_log_y (wb_chart_t *self, bool log_y)
{
    assert (self);
    self->log_y = log_y;
}

void
wb_chart_set_mark (wb_chart_t *self, wb_mark_t mark)
{
    assert (self);
    self->mark = mark;
}

void
wb_chart_set_max_points (wb_chart_t *self, size_t max_points)
{
    assert (self);
    self->max_points = max_points < 2? 2: max_points;
}

//  True when another series already has this name
static bool
s_name_taken (wb_chart_t *self, const char *name)
{
    for (size_t i = 0; i < self->nseries; i++)
        if (streq (self->series [i].name, name))
            return true;
    return false;
}

void
wb_chart_series (wb_chart_t *self, const char *name,
                 const double *x, const double *y, size_t count)
{
    assert (self);
    assert ((x && y) || count == 0);
    if (self->nseries == self->series_room) {
        self->series_room = self->series_room? self->series_room * 2: 4;
        self->series = wb_realloc (self->series,
                                   self->series_room * sizeof (wb_chart__series_t));
    }
    wb_chart__series_t *series = &self->series [self->nseries];
    memset (series, 0, sizeof (wb_chart__series_t));

    //  Names tell series apart in the legend and in the Vega-Lite data
    char *clean = name? wb_render__clean (name): wb_sprintf ("series %zu", self->nseries + 1);
    series->name = wb_strdup (clean);
    for (int copy = 2; s_name_taken (self, series->name); copy++) {
        free (series->name);
        series->name = wb_sprintf ("%s (%d)", clean, copy);
    }
    free (clean);
    series->mark = self->mark;
    series->color = s_palette [self->nseries % S_PALETTE_SIZE];
    self->nseries++;

    //  One pass for the summary: true count, minimum, maximum, last point
    series->min_y = INFINITY;
    series->max_y = -INFINITY;
    series->last_x = series->last_y = NAN;
    for (size_t i = 0; i < count; i++) {
        if (!isfinite (x [i]) || !isfinite (y [i]))
            continue;
        series->count++;
        if (y [i] < series->min_y)
            series->min_y = y [i];
        if (y [i] > series->max_y)
            series->max_y = y [i];
        series->last_x = x [i];
        series->last_y = y [i];
    }
    if (series->count == 0)
        series->min_y = series->max_y = NAN;

    //  Downsample: pick the points to draw, in place
    size_t room = series->count < self->max_points? series->count: self->max_points;
    size_t *picks = wb_malloc ((room + 1) * sizeof (size_t));
    series->drawn = wb_render__lttb (x, y, count, series->count, self->max_points, picks);
    series->x = wb_malloc ((series->drawn + 1) * sizeof (double));
    series->y = wb_malloc ((series->drawn + 1) * sizeof (double));
    for (size_t i = 0; i < series->drawn; i++) {
        series->x [i] = x [picks [i]];
        series->y [i] = y [picks [i]];
    }
    free (picks);
}

//  True when the point is drawn: finite, and positive on a log axis
bool
wb_chart__drawable (wb_chart_t *self, double y)
{
    return !self->log_y || y > 0;
}

//  True when every drawn x of every series is a whole number
bool
wb_chart__x_integer (wb_chart_t *self)
{
    size_t drawn = 0;
    for (size_t i = 0; i < self->nseries; i++)
        for (size_t j = 0; j < self->series [i].drawn; j++, drawn++)
            if (self->series [i].x [j] != floor (self->series [i].x [j]))
                return false;
    return drawn > 0;
}

//  ---- Vega-Lite, text, bundles ----

//  Vega-Lite's name for a mark
static const char *
s_mark_name (wb_mark_t mark)
{
    return mark == WB_MARK_POINT? "point": mark == WB_MARK_BAR? "bar": "line";
}

//  A Vega-Lite mark: a line whose series has a single point shows it as a
//  point, as a lone point would vanish otherwise
static json_t *
s_vl_mark (wb_chart_t *self, wb_mark_t mark)
{
    json_t *object = json_pack ("{s:s, s:b}", "type", s_mark_name (mark),
                                "tooltip", true);
    if (mark == WB_MARK_LINE)
        for (size_t i = 0; i < self->nseries; i++)
            if (self->series [i].mark == mark && self->series [i].drawn == 1) {
                json_object_set_new (object, "point", json_true ());
                break;
            }
    return object;
}

json_t *
wb_chart_vegalite (wb_chart_t *self)
{
    assert (self);
    wb_chart__layout_t layout;
    wb_chart__layout (self, &layout);
    json_t *spec = json_object ();
    json_object_set_new (spec, "$schema",
                         json_string ("https://vega.github.io/schema/vega-lite/v5.json"));
    if (self->title)
        json_object_set_new (spec, "title", json_string (self->title));
    json_object_set_new (spec, "width",
                         json_integer ((json_int_t) (layout.right - layout.left)));
    json_object_set_new (spec, "height",
                         json_integer ((json_int_t) (layout.bottom - layout.top)));

    //  The same points as the SVG
    json_t *values = json_array ();
    for (size_t i = 0; i < self->nseries; i++) {
        wb_chart__series_t *series = &self->series [i];
        for (size_t j = 0; j < series->drawn; j++) {
            if (!wb_chart__drawable (self, series->y [j]))
                continue;
            json_array_append_new (values, json_pack ("{s:s, s:f, s:f}",
                "series", series->name, "x", series->x [j], "y", series->y [j]));
        }
    }
    json_object_set_new (spec, "data", json_pack ("{s:o}", "values", values));

    //  Colours and their order as in the SVG
    json_t *domain = json_array ();
    json_t *range = json_array ();
    for (size_t i = 0; i < self->nseries; i++) {
        json_array_append_new (domain, json_string (self->series [i].name));
        json_array_append_new (range, json_string (self->series [i].color));
    }
    json_t *color = json_pack ("{s:s, s:s, s:n, s:{s:o, s:o}}",
        "field", "series", "type", "nominal", "title",
        "scale", "domain", domain, "range", range);
    if (self->nseries < 2)
        json_object_set_new (color, "legend", json_null ());

    json_t *x = json_pack ("{s:s, s:s, s:o, s:{s:b}}",
        "field", "x", "type", "quantitative",
        "title", self->x_label? json_string (self->x_label): json_null (),
        "scale", "zero", false);
    if (wb_chart__x_integer (self))     //  whole steps: whole ticks, as in the SVG
        json_object_set_new (x, "axis", json_pack ("{s:i, s:s}", "tickMinStep", 1, "format", "d"));
    json_t *y = json_pack ("{s:s, s:s, s:o}",
        "field", "y", "type", "quantitative",
        "title", self->y_label? json_string (self->y_label): json_null ());
    if (self->log_y)
        json_object_set_new (y, "scale", json_pack ("{s:s}", "type", "log"));
    else
    if (layout.nbars == 0)
        json_object_set_new (y, "scale", json_pack ("{s:b}", "zero", false));
    if (layout.nbars)
        json_object_set_new (y, "stack", json_null ());    //  overlap, not sum
    json_object_set_new (spec, "encoding", json_pack ("{s:o, s:o, s:o}",
        "x", x, "y", y, "color", color));

    //  One mark for all, or a layer per mark, each showing its own series
    bool used [3] = { false, false, false };
    size_t kinds = 0;
    for (size_t i = 0; i < self->nseries; i++)
        if (!used [self->series [i].mark]) {
            used [self->series [i].mark] = true;
            kinds++;
        }
    if (kinds <= 1)
        json_object_set_new (spec, "mark", s_vl_mark (self,
            self->nseries? self->series [0].mark: self->mark));
    else {
        json_t *layers = json_array ();
        //  In the SVG's order: bars under lines under points
        static const wb_mark_t order [] = { WB_MARK_BAR, WB_MARK_LINE, WB_MARK_POINT };
        for (size_t k = 0; k < 3; k++) {
            wb_mark_t mark = order [k];
            if (!used [mark])
                continue;
            json_t *names = json_array ();
            for (size_t i = 0; i < self->nseries; i++)
                if (self->series [i].mark == mark)
                    json_array_append_new (names, json_string (self->series [i].name));
            json_array_append_new (layers, json_pack ("{s:[{s:{s:s, s:o}}], s:o}",
                "transform", "filter", "field", "series", "oneOf", names,
                "mark", s_vl_mark (self, mark)));
        }
        json_object_set_new (spec, "layer", layers);
    }
    return spec;
}

char *
wb_chart_plain (wb_chart_t *self)
{
    assert (self);
    wb_buf_t *out = wb_buf_new ();
    const char *indent = "";
    if (self->title) {
        wb_buf_printf (out, "%s\n", self->title);
        indent = "  ";
    }
    if (self->nseries == 0)
        wb_buf_printf (out, "%s(no data)\n", indent);
    for (size_t i = 0; i < self->nseries; i++) {
        wb_chart__series_t *series = &self->series [i];
        wb_buf_printf (out, "%s%s: %zu point%s", indent, series->name,
                       series->count, series->count == 1? "": "s");
        if (series->count) {
            char last_x [40], last_y [40], min_y [40], max_y [40];
            wb_render__format_number (series->last_x, last_x, sizeof (last_x));
            wb_render__format_number (series->last_y, last_y, sizeof (last_y));
            wb_render__format_number (series->min_y, min_y, sizeof (min_y));
            wb_render__format_number (series->max_y, max_y, sizeof (max_y));
            wb_buf_printf (out, ", last (%s, %s), min %s, max %s",
                           last_x, last_y, min_y, max_y);
        }
        wb_buf_puts (out, "\n");
    }
    return wb_buf_detach (&out);
}

json_t *
wb_chart_bundle (wb_chart_t *self)
{
    char *plain = wb_chart_plain (self);
    char *svg = wb_chart_svg (self);
    json_t *bundle = json_object ();
    json_object_set_new (bundle, "text/plain", wb_utf8_json (plain, strlen (plain)));
    json_object_set_new (bundle, "image/svg+xml", wb_utf8_json (svg, strlen (svg)));
    json_object_set_new (bundle, "application/vnd.vegalite.v5+json",
                         wb_chart_vegalite (self));
    free (plain);
    free (svg);
    return bundle;
}

//  @selftest
void
wb_chart_test (bool verbose)
{
    //  (the points the charts below draw)
    size_t size = 1000;
    double *x = wb_malloc (size * sizeof (double));
    double *y = wb_malloc (size * sizeof (double));
    char *plain;
    json_t *bundle;
    bool peak;

    //  A line chart with two series: polylines, legend, ticks, all escaped
    for (size_t i = 0; i <= 100; i++) {
        x [i] = (double) i;
        y [i] = (double) i / 100;
    }
    double y2 [101];
    for (size_t i = 0; i <= 100; i++)
        y2 [i] = 1 - y [i] / 2;
    wb_chart_t *chart = wb_chart_new ("Loss <&>", "step", "loss \"train\"");
    wb_chart_series (chart, "train <a>", x, y, 101);
    wb_chart_series (chart, "val & test", x, y2, 101);
    char *svg = wb_chart_svg (chart);
    wb_render__test_check_svg (svg);
    assert (strstr (svg, "<title>Loss &lt;&amp;&gt;</title>"));
    assert (strstr (svg, ">Loss &lt;&amp;&gt;</text>"));
    assert (strstr (svg, ">step</text>"));
    assert (strstr (svg, ">loss &quot;train&quot;</text>"));
    assert (strstr (svg, "<polyline points=\""));
    assert (strstr (svg, ">train &lt;a&gt;</text>"));    //  the legend
    assert (strstr (svg, ">val &amp; test</text>"));
    assert (!strstr (svg, "<a>"));
    assert (strstr (svg, "stroke=\"#0072B2\""));        //  a colour each
    assert (strstr (svg, "stroke=\"#E69F00\""));
    assert (wb_render__test_has_label (svg, "0") && wb_render__test_has_label (svg, "20"));
    assert (wb_render__test_has_label (svg, "100"));
    assert (wb_render__test_has_label (svg, "0.4") && wb_render__test_has_label (svg, "1"));
    free (svg);
    plain = wb_chart_plain (chart);
    if (verbose)
        printf ("%s", plain);
    assert (streq (plain, "Loss <&>\n"
                          "  train <a>: 101 points, last (100, 1), min 0, max 1\n"
                          "  val & test: 101 points, last (100, 0.5), min 0.5, max 1\n"));
    free (plain);

    //  Vega-Lite: the fields, the mark and the same points
    json_t *spec = wb_chart_vegalite (chart);
    assert (streq (json_string_value (json_object_get (spec, "$schema")),
                   "https://vega.github.io/schema/vega-lite/v5.json"));
    assert (streq (json_string_value (json_object_get (spec, "title")), "Loss <&>"));
    assert (json_integer_value (json_object_get (spec, "width")) > 100);
    assert (json_integer_value (json_object_get (spec, "height")) > 100);
    json_t *mark = json_object_get (spec, "mark");
    assert (streq (json_string_value (json_object_get (mark, "type")), "line"));
    assert (json_is_true (json_object_get (mark, "tooltip")));
    json_t *encoding = json_object_get (spec, "encoding");
    json_t *axis = json_object_get (encoding, "x");
    assert (streq (json_string_value (json_object_get (axis, "field")), "x"));
    assert (streq (json_string_value (json_object_get (axis, "type")), "quantitative"));
    assert (streq (json_string_value (json_object_get (axis, "title")), "step"));
    assert (json_is_false (json_object_get (json_object_get (axis, "scale"), "zero")));
    axis = json_object_get (encoding, "y");
    assert (streq (json_string_value (json_object_get (axis, "field")), "y"));
    assert (streq (json_string_value (json_object_get (axis, "title")), "loss \"train\""));
    assert (!json_object_get (json_object_get (axis, "scale"), "type"));
    axis = json_object_get (encoding, "color");
    assert (streq (json_string_value (json_object_get (axis, "field")), "series"));
    assert (streq (json_string_value (json_object_get (axis, "type")), "nominal"));
    assert (json_is_null (json_object_get (axis, "title")));
    json_t *values = json_object_get (json_object_get (spec, "data"), "values");
    assert (json_array_size (values) == 202);
    json_t *point = json_array_get (values, 201);
    assert (streq (json_string_value (json_object_get (point, "series")), "val & test"));
    assert (json_real_value (json_object_get (point, "x")) == 100);
    assert (json_real_value (json_object_get (point, "y")) == 0.5);
    json_decref (spec);

    //  Log scale: powers of ten, non-positive values left out
    wb_chart_set_log_y (chart, true);
    svg = wb_chart_svg (chart);
    wb_render__test_check_svg (svg);
    assert (wb_render__test_has_label (svg, "0.01") && wb_render__test_has_label (svg, "0.1"));
    assert (wb_render__test_has_label (svg, "1"));
    assert (!wb_render__test_has_label (svg, "0.4"));
    free (svg);
    spec = wb_chart_vegalite (chart);
    axis = json_object_get (json_object_get (spec, "encoding"), "y");
    assert (streq (json_string_value (json_object_get (
        json_object_get (axis, "scale"), "type")), "log"));
    values = json_object_get (json_object_get (spec, "data"), "values");
    assert (json_array_size (values) == 201);               //  without y = 0
    json_decref (spec);
    wb_chart_destroy (&chart);
    assert (chart == NULL);

    //  Whole steps get whole ticks (no 1.5 between epochs 1 and 2)
    chart = wb_chart_new ("Epochs", "epoch", "loss");
    double epochs [] = { 1, 2, 3 }, losses [] = { 0.9, 0.5, 0.4 };
    wb_chart_series (chart, "loss", epochs, losses, 3);
    svg = wb_chart_svg (chart);
    assert (wb_render__test_has_label (svg, "1") && wb_render__test_has_label (svg, "3"));
    assert (!wb_render__test_has_label (svg, "1.5") && !wb_render__test_has_label (svg, "2.5"));
    free (svg);
    spec = wb_chart_vegalite (chart);
    axis = json_object_get (json_object_get (spec, "encoding"), "x");
    assert (json_integer_value (json_object_get (json_object_get (axis, "axis"), "tickMinStep")) == 1);
    json_decref (spec);
    wb_chart_destroy (&chart);

    //  Points and bars
    chart = wb_chart_new ("Scatter", NULL, NULL);
    wb_chart_set_mark (chart, WB_MARK_POINT);
    wb_chart_series (chart, "a", x, y2, 20);
    svg = wb_chart_svg (chart);
    wb_render__test_check_svg (svg);
    assert (strstr (svg, "<circle") && !strstr (svg, "<polyline"));
    free (svg);
    spec = wb_chart_vegalite (chart);
    assert (streq (json_string_value (json_object_get (
        json_object_get (spec, "mark"), "type")), "point"));
    assert (json_is_null (json_object_get (json_object_get (
        json_object_get (spec, "encoding"), "x"), "title")));
    json_decref (spec);
    wb_chart_set_mark (chart, WB_MARK_BAR);
    wb_chart_series (chart, "b", x, y2, 10);
    svg = wb_chart_svg (chart);
    wb_render__test_check_svg (svg);
    assert (strstr (svg, "<rect x="));
    assert (strstr (svg, ">a</text>") && strstr (svg, ">b</text>"));
    free (svg);
    spec = wb_chart_vegalite (chart);
    json_t *layers = json_object_get (spec, "layer");
    assert (json_array_size (layers) == 2);
    assert (streq (json_string_value (json_object_get (json_object_get (
        json_array_get (layers, 0), "mark"), "type")), "bar"));
    axis = json_object_get (json_object_get (spec, "encoding"), "y");
    assert (json_is_null (json_object_get (axis, "stack")));   //  bars overlap
    json_decref (spec);
    bundle = wb_chart_bundle (chart);
    assert (json_is_string (json_object_get (bundle, "text/plain")));
    assert (json_is_string (json_object_get (bundle, "image/svg+xml")));
    assert (json_is_object (json_object_get (bundle, "application/vnd.vegalite.v5+json")));
    json_decref (bundle);
    wb_chart_destroy (&chart);

    //  Degenerate charts draw a frame and say so, or pad their ranges
    chart = wb_chart_new (NULL, NULL, NULL);
    svg = wb_chart_svg (chart);
    wb_render__test_check_svg (svg);
    assert (strstr (svg, ">no data</text>"));
    free (svg);
    plain = wb_chart_plain (chart);
    assert (streq (plain, "(no data)\n"));
    free (plain);
    spec = wb_chart_vegalite (chart);
    assert (json_array_size (json_object_get (json_object_get (spec, "data"), "values")) == 0);
    json_decref (spec);
    double nans [3] = { NAN, INFINITY, NAN };
    wb_chart_series (chart, "empty", nans, nans, 3);
    wb_chart_series (chart, "empty", x, nans, 3);          //  same name: told apart
    svg = wb_chart_svg (chart);
    wb_render__test_check_svg (svg);
    assert (strstr (svg, ">no data</text>"));
    assert (strstr (svg, ">empty (2)</text>"));
    free (svg);
    plain = wb_chart_plain (chart);
    assert (streq (plain, "empty: 0 points\nempty (2): 0 points\n"));
    free (plain);
    wb_chart_destroy (&chart);

    double one_x = 3, one_y = 0.5;
    chart = wb_chart_new ("One", "x", "y");
    wb_chart_series (chart, "only", &one_x, &one_y, 1);
    svg = wb_chart_svg (chart);
    wb_render__test_check_svg (svg);
    assert (strstr (svg, "<circle") && wb_render__test_has_label (svg, "3"));
    free (svg);
    spec = wb_chart_vegalite (chart);
    assert (json_is_true (json_object_get (json_object_get (spec, "mark"), "point")));
    json_decref (spec);
    plain = wb_chart_plain (chart);
    assert (streq (plain, "One\n  only: 1 point, last (3, 0.5), min 0.5, max 0.5\n"));
    free (plain);
    wb_chart_set_mark (chart, WB_MARK_BAR);
    wb_chart_series (chart, "bar", &one_x, &one_y, 1);
    svg = wb_chart_svg (chart);
    wb_render__test_check_svg (svg);
    free (svg);
    wb_chart_destroy (&chart);
    free (x);
    free (y);

    //  A million points: downsampled once, summarised with true values
    size = 1000000;
    x = wb_malloc (size * sizeof (double));
    y = wb_malloc (size * sizeof (double));
    for (size_t i = 0; i < size; i++) {
        x [i] = (double) i;
        y [i] = 2 / (1 + (double) i / 1000) + 0.01 * sin ((double) i);
    }
    y [543210] = 50;                                        //  a spike
    y [999] = NAN;                                          //  skipped
    double start = wb_time_mono ();
    chart = wb_chart_new ("Big", "step", "loss");
    wb_chart_series (chart, "train", x, y, size);
    double added = wb_time_mono ();
    svg = wb_chart_svg (chart);
    double drawn = wb_time_mono ();
    spec = wb_chart_vegalite (chart);
    double specified = wb_time_mono ();
    plain = wb_chart_plain (chart);
    if (verbose)
        printf ("1M points: add %.1f ms, svg %.1f ms (%zu bytes), vega-lite %.1f ms\n",
                (added - start) * 1e3, (drawn - added) * 1e3, strlen (svg),
                (specified - drawn) * 1e3);
    wb_render__test_check_svg (svg);
    assert (strstr (svg, "<polyline"));
    values = json_object_get (json_object_get (spec, "data"), "values");
    assert (json_array_size (values) == 600);
    peak = false;
    for (size_t i = 0; i < 600; i++)
        if (json_real_value (json_object_get (json_array_get (values, i), "y")) == 50)
            peak = true;
    assert (peak);
    assert (wb_starts_with (plain, "Big\n  train: 999999 points, last (999999, "));
    assert (strstr (plain, ", max 50\n"));
    free (plain);
    free (svg);
    json_decref (spec);
    wb_chart_destroy (&chart);
    free (x);
    free (y);
}
//  @end
