/*  wb_parcoords - parallel-coordinates charts for sweeps
*/
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wb_parcoords.h"
#include "wb_render.h"
#include "base/wb_util.h"

#define S_WIDTH_AXIS   120      //  pixels between axes
#define S_HEIGHT       240      //  axis length
#define S_TOP          48
#define S_LEFT         60

typedef struct {
    char *name;
    bool log;
    json_t *categories;         //  [text, ...] when categorical
    double lo, hi;              //  numeric range over the lines
} s_axis_t;

struct _wb_parcoords_t {
    char *title;
    char *metric;
    bool maximize;
    s_axis_t *axes;             //  parameter axes, then the metric's
    size_t axis_count;
    json_t *lines;              //  [{"label", "params", "metric"}]
};

wb_parcoords_t *
wb_parcoords_new (const char *title, const char *metric, bool maximize)
{
    wb_parcoords_t *self = wb_calloc (1, sizeof (wb_parcoords_t));
    self->title = title? wb_strdup (title): NULL;
    self->metric = wb_strdup (metric);
    self->maximize = maximize;
    self->lines = json_array ();
    return self;
}

void
wb_parcoords_destroy (wb_parcoords_t **self_p)
{
    wb_parcoords_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->axis_count; i++) {
        free (self->axes [i].name);
        json_decref (self->axes [i].categories);
    }
    free (self->axes);
    json_decref (self->lines);
    free (self->title);
    free (self->metric);
    free (self);
    *self_p = NULL;
}

void
wb_parcoords_axis (wb_parcoords_t *self, const char *name, bool log)
{
    assert (json_array_size (self->lines) == 0);
    self->axes = wb_realloc (self->axes, (self->axis_count + 1) * sizeof (s_axis_t));
    self->axes [self->axis_count++] = (s_axis_t) { wb_strdup (name), log, NULL, NAN, NAN };
}

void
wb_parcoords_line (wb_parcoords_t *self, const char *label, json_t *params, double metric)
{
    json_array_append_new (self->lines, json_pack ("{s:s, s:O, s:f}", "label", label? label: "",
                                                   "params", params, "metric", isfinite (metric)? metric: 0));
    json_object_set_new (json_array_get (self->lines, json_array_size (self->lines) - 1), "finite",
                         json_boolean (isfinite (metric)));
}

size_t
wb_parcoords_lines (wb_parcoords_t *self)
{
    return json_array_size (self->lines);
}

//  Ranges and categories from the lines.
static void
s_fit (wb_parcoords_t *self)
{
    for (size_t a = 0; a < self->axis_count; a++) {
        s_axis_t *axis = &self->axes [a];
        axis->lo = axis->hi = NAN;
        json_decref (axis->categories);
        axis->categories = NULL;
        size_t index;
        json_t *line;
        json_array_foreach (self->lines, index, line) {
            json_t *value = json_object_get (json_object_get (line, "params"), axis->name);
            if (json_is_string (value) || json_is_boolean (value)) {
                if (!axis->categories)
                    axis->categories = json_array ();
                const char *text = json_is_string (value)? json_string_value (value)
                                 : json_is_true (value)? "true": "false";
                bool seen = false;
                size_t c;
                json_t *category;
                json_array_foreach (axis->categories, c, category)
                    seen = seen || streq (json_string_value (category), text);
                if (!seen)
                    json_array_append_new (axis->categories, json_string (text));
            }
            else
            if (json_is_number (value)) {
                double number = json_number_value (value);
                if (axis->log && number <= 0)
                    axis->log = false;
                if (isnan (axis->lo) || number < axis->lo)
                    axis->lo = number;
                if (isnan (axis->hi) || number > axis->hi)
                    axis->hi = number;
            }
        }
        //  Numbers among categories join them as text
        if (axis->categories && !isnan (axis->lo)) {
            json_array_foreach (self->lines, index, line) {
                json_t *value = json_object_get (json_object_get (line, "params"), axis->name);
                if (!json_is_number (value))
                    continue;
                char *text = wb_sprintf ("%g", json_number_value (value));
                bool seen = false;
                size_t c;
                json_t *category;
                json_array_foreach (axis->categories, c, category)
                    seen = seen || streq (json_string_value (category), text);
                if (!seen)
                    json_array_append_new (axis->categories, json_string (text));
                free (text);
            }
        }
    }
}

//  Where a value sits on an axis, 0 (bottom) to 1 (top); NaN when missing.
static double
s_position (s_axis_t *axis, json_t *value)
{
    if (axis->categories) {
        char *text = json_is_string (value)? wb_strdup (json_string_value (value))
                   : json_is_boolean (value)? wb_strdup (json_is_true (value)? "true": "false")
                   : json_is_number (value)? wb_sprintf ("%g", json_number_value (value)): NULL;
        double position = NAN;
        size_t count = json_array_size (axis->categories);
        size_t c;
        json_t *category;
        json_array_foreach (axis->categories, c, category)
            if (text && streq (json_string_value (category), text))
                position = count > 1? (double) c / (double) (count - 1): 0.5;
        free (text);
        return position;
    }
    if (!json_is_number (value))
        return NAN;
    double number = json_number_value (value);
    double lo = axis->lo, hi = axis->hi;
    if (axis->log) {
        number = log10 (number);
        lo = log10 (lo);
        hi = log10 (hi);
    }
    return hi > lo? (number - lo) / (hi - lo): 0.5;
}

//  The metric's share of "goodness", 0 (worst) to 1 (best).
static double
s_goodness (wb_parcoords_t *self, double metric, double lo, double hi)
{
    double share = hi > lo? (metric - lo) / (hi - lo): 1;
    return self->maximize? share: 1 - share;
}

static void
s_label (wb_buf_t *buf, double value, bool log)
{
    (void) log;
    wb_buf_printf (buf, "%.4g", value);
}

char *
wb_parcoords_svg (wb_parcoords_t *self)
{
    size_t count = json_array_size (self->lines);
    if (!count)
        return NULL;
    s_fit (self);
    double metric_lo = NAN, metric_hi = NAN;
    size_t index;
    json_t *line;
    json_array_foreach (self->lines, index, line) {
        if (!json_is_true (json_object_get (line, "finite")))
            continue;
        double metric = json_number_value (json_object_get (line, "metric"));
        if (isnan (metric_lo) || metric < metric_lo)
            metric_lo = metric;
        if (isnan (metric_hi) || metric > metric_hi)
            metric_hi = metric;
    }
    size_t axes = self->axis_count + 1;
    int width = S_LEFT * 2 + (int) (axes - 1) * S_WIDTH_AXIS;
    int height = S_TOP + S_HEIGHT + 40;
    wb_buf_t *svg = wb_buf_new ();
    wb_buf_printf (svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                   "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\">"
                   "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>", width, height, width, height,
                   width, height);
    if (self->title) {
        wb_buf_printf (svg, "<text x=\"%d\" y=\"18\" font-size=\"13\" font-weight=\"bold\">", S_LEFT / 2);
        wb_buf_html (svg, self->title);
        wb_buf_puts (svg, "</text>");
    }
    //  Lines first, worst first, so the best are drawn on top
    size_t *order = wb_calloc (count, sizeof (size_t));
    double *good = wb_calloc (count, sizeof (double));
    for (size_t i = 0; i < count; i++) {
        line = json_array_get (self->lines, i);
        order [i] = i;
        good [i] = json_is_true (json_object_get (line, "finite"))
                 ? s_goodness (self, json_number_value (json_object_get (line, "metric")), metric_lo, metric_hi)
                 : -1;
    }
    for (size_t i = 1; i < count; i++)
        for (size_t j = i; j > 0 && good [order [j - 1]] > good [order [j]]; j--) {
            size_t swap = order [j];
            order [j] = order [j - 1];
            order [j - 1] = swap;
        }
    for (size_t k = 0; k < count; k++) {
        line = json_array_get (self->lines, order [k]);
        json_t *params = json_object_get (line, "params");
        double share = good [order [k]];
        int red = share < 0? 0xbb: (int) (0xc6 - share * (0xc6 - 0x08));
        int green = share < 0? 0xbb: (int) (0xdb - share * (0xdb - 0x30));
        int blue = share < 0? 0xbb: (int) (0xef - share * (0xef - 0x6b));
        wb_buf_printf (svg, "<path fill=\"none\" stroke=\"#%02x%02x%02x\" stroke-width=\"%s\" "
                       "stroke-opacity=\"0.85\" d=\"", red, green, blue, share >= 0.999? "2.5": "1.5");
        bool pen = false;
        for (size_t a = 0; a < axes; a++) {
            double position = a < self->axis_count
                ? s_position (&self->axes [a], json_object_get (params, self->axes [a].name))
                : json_is_true (json_object_get (line, "finite"))
                  ? (metric_hi > metric_lo? (json_number_value (json_object_get (line, "metric")) - metric_lo)
                                            / (metric_hi - metric_lo): 0.5)
                  : NAN;
            if (isnan (position)) {
                pen = false;
                continue;
            }
            wb_buf_printf (svg, "%s%d %.1f ", pen? "L": "M", S_LEFT + (int) a * S_WIDTH_AXIS,
                           S_TOP + S_HEIGHT - position * S_HEIGHT);
            pen = true;
        }
        wb_buf_puts (svg, "\"><title>");
        wb_buf_html (svg, json_string_value (json_object_get (line, "label")));
        wb_buf_puts (svg, "</title></path>");
    }
    free (order);
    free (good);
    //  Axes with their names and ends
    for (size_t a = 0; a < axes; a++) {
        int x = S_LEFT + (int) a * S_WIDTH_AXIS;
        wb_buf_printf (svg, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333333\"/>",
                       x, S_TOP, x, S_TOP + S_HEIGHT);
        wb_buf_printf (svg, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-weight=\"bold\">",
                       x, S_TOP - 22);
        wb_buf_html (svg, a < self->axis_count? self->axes [a].name: self->metric);
        wb_buf_puts (svg, "</text>");
        s_axis_t *axis = a < self->axis_count? &self->axes [a]: NULL;
        if (axis && axis->categories) {
            size_t categories = json_array_size (axis->categories);
            size_t c;
            json_t *category;
            json_array_foreach (axis->categories, c, category) {
                double position = categories > 1? (double) c / (double) (categories - 1): 0.5;
                wb_buf_printf (svg, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">", x - 4,
                               S_TOP + S_HEIGHT - position * S_HEIGHT + 4);
                wb_buf_html (svg, json_string_value (category));
                wb_buf_puts (svg, "</text>");
            }
        }
        else {
            double lo = axis? axis->lo: metric_lo, hi = axis? axis->hi: metric_hi;
            if (isnan (lo))
                continue;
            wb_buf_printf (svg, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", x, S_TOP + S_HEIGHT + 16);
            s_label (svg, lo, axis && axis->log);
            wb_buf_printf (svg, "</text><text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", x, S_TOP - 8);
            s_label (svg, hi, axis && axis->log);
            wb_buf_puts (svg, "</text>");
            if (axis && axis->log)
                wb_buf_printf (svg, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#666666\">log</text>",
                               x, S_TOP + S_HEIGHT + 30);
        }
    }
    wb_buf_puts (svg, "</svg>");
    return wb_buf_detach (&svg);
}

json_t *
wb_parcoords_bundle (wb_parcoords_t *self)
{
    char *svg = wb_parcoords_svg (self);
    if (!svg)
        return NULL;
    //  Text: the lines as a table, the metric last
    wb_table_t *table = wb_table_new (self->title);
    wb_table_column (table, "trial", WB_ALIGN_LEFT);
    for (size_t a = 0; a < self->axis_count; a++)
        wb_table_column (table, self->axes [a].name, WB_ALIGN_RIGHT);
    wb_table_column (table, self->metric, WB_ALIGN_RIGHT);
    //  Vega-Lite: the same normalised positions, one point per line and axis
    json_t *data = json_array ();
    json_t *axis_names = json_array ();
    for (size_t a = 0; a < self->axis_count; a++)
        json_array_append_new (axis_names, json_string (self->axes [a].name));
    json_array_append_new (axis_names, json_string (self->metric));
    double metric_lo = NAN, metric_hi = NAN;
    size_t index;
    json_t *line;
    json_array_foreach (self->lines, index, line)
        if (json_is_true (json_object_get (line, "finite"))) {
            double metric = json_number_value (json_object_get (line, "metric"));
            metric_lo = isnan (metric_lo) || metric < metric_lo? metric: metric_lo;
            metric_hi = isnan (metric_hi) || metric > metric_hi? metric: metric_hi;
        }
    json_array_foreach (self->lines, index, line) {
        const char *label = json_string_value (json_object_get (line, "label"));
        json_t *params = json_object_get (line, "params");
        bool finite = json_is_true (json_object_get (line, "finite"));
        double metric = json_number_value (json_object_get (line, "metric"));
        wb_table_row (table);
        wb_table_cell (table, label);
        for (size_t a = 0; a < self->axis_count; a++) {
            json_t *value = json_object_get (params, self->axes [a].name);
            if (json_is_number (value))
                wb_table_number (table, json_number_value (value));
            else
                wb_table_cell (table, json_is_string (value)? json_string_value (value): "");
            double position = s_position (&self->axes [a], value);
            if (!isnan (position)) {
                char *shown = json_is_string (value)? wb_strdup (json_string_value (value))
                            : json_is_number (value)? wb_sprintf ("%g", json_number_value (value)): wb_strdup ("");
                json_array_append_new (data, json_pack ("{s:s, s:s, s:f, s:s, s:f}", "trial", label,
                    "axis", self->axes [a].name, "position", position, "value", shown,
                    "metric", finite? metric: 0));
                free (shown);
            }
        }
        wb_table_number (table, finite? metric: NAN);
        if (finite) {
            char *shown = wb_sprintf ("%g", metric);
            json_array_append_new (data, json_pack ("{s:s, s:s, s:f, s:s, s:f}", "trial", label,
                "axis", self->metric, "position", metric_hi > metric_lo? (metric - metric_lo) / (metric_hi - metric_lo): 0.5,
                "value", shown, "metric", metric));
            free (shown);
        }
    }
    char *plain = wb_table_plain (table);
    wb_table_destroy (&table);
    //  What the SVG writes beside each axis: its ends, or its categories,
    //  with "log" under a log axis; one rule per axis
    json_t *labels = json_array ();
    json_t *rules = json_array ();
    for (size_t a = 0; a <= self->axis_count; a++) {
        s_axis_t *axis = a < self->axis_count? &self->axes [a]: NULL;
        const char *name = axis? axis->name: self->metric;
        json_array_append_new (rules, json_pack ("{s:s, s:f, s:f}", "axis", name, "position", 0.0, "top", 1.0));
        if (axis && axis->categories) {
            size_t categories = json_array_size (axis->categories);
            size_t c;
            json_t *category;
            json_array_foreach (axis->categories, c, category)
                json_array_append_new (labels, json_pack ("{s:s, s:f, s:s}", "axis", name,
                    "position", categories > 1? (double) c / (double) (categories - 1): 0.5,
                    "label", json_string_value (category)));
            continue;
        }
        double lo = axis? axis->lo: metric_lo, hi = axis? axis->hi: metric_hi;
        if (isnan (lo))
            continue;
        for (int end = 0; end < 2; end++) {
            char *text = wb_sprintf ("%.4g%s", end? hi: lo, !end && axis && axis->log? " (log)": "");
            json_array_append_new (labels, json_pack ("{s:s, s:f, s:s}", "axis", name,
                "position", end? 1.0: 0.0, "label", text));
            free (text);
        }
    }
    json_t *spec = json_pack ("{s:s, s:s?, s:i, s:i, s:{s:o}, s:{s:{s:s, s:s, s:o, s:n, s:{s:i}}, "
                              "s:{s:s, s:s, s:n, s:{s:b, s:b}, s:{s:[f, f]}}}, "
                              "s:[{s:s, s:{s:{s:s, s:s, s:s, s:{s:s, s:b}}, s:{s:s}, s:[{s:s}, {s:s}, {s:s}]}}, "
                              "{s:{s:o}, s:{s:s, s:s}, s:{s:{s:s}}}, "
                              "{s:{s:o}, s:{s:s, s:s, s:i, s:s}, s:{s:{s:s}}}]}",
        "$schema", "https://vega.github.io/schema/vega-lite/v5.json",
        "title", self->title,
        "width", (int) (self->axis_count + 1) * S_WIDTH_AXIS, "height", S_HEIGHT,
        "data", "values", data,
        "encoding",
            "x", "field", "axis", "type", "nominal", "sort", axis_names, "title",
                 "axis", "labelAngle", 0,
            "y", "field", "position", "type", "quantitative", "title", "axis", "labels", false, "grid", false,
                 "scale", "domain", 0.0, 1.0,
        "layer",
            "mark", "line",
            "encoding",
                "color", "field", "metric", "type", "quantitative", "title", self->metric,
                         "scale", "scheme", "blues", "reverse", !self->maximize,
                "detail", "field", "trial",
                "tooltip", "field", "trial", "field", "axis", "field", "value",
            "data", "values", rules,
            "mark", "type", "rule", "color", "#333333",
            "encoding", "y2", "field", "top",
            "data", "values", labels,
            "mark", "type", "text", "align", "left", "dx", 4, "color", "#333333",
            "encoding", "text", "field", "label");
    json_t *bundle = json_object ();
    json_object_set_new (bundle, "text/plain", json_string (plain));
    json_object_set_new (bundle, "image/svg+xml", json_string (svg));
    json_object_set_new (bundle, "application/vnd.vegalite.v5+json", spec);
    free (plain);
    free (svg);
    return bundle;
}

void
wb_parcoords_test (bool verbose)
{
    if (verbose)
        printf (" * wb_parcoords: ");
    wb_parcoords_t *chart = wb_parcoords_new ("Trials", "accuracy", true);
    wb_parcoords_axis (chart, "lr", true);
    wb_parcoords_axis (chart, "optimizer", false);
    assert (wb_parcoords_bundle (chart) == NULL);
    json_t *params = json_pack ("{s:f, s:s}", "lr", 0.001, "optimizer", "adam");
    wb_parcoords_line (chart, "t1", params, 0.9);
    json_decref (params);
    params = json_pack ("{s:f, s:s}", "lr", 0.1, "optimizer", "sgd<x>");
    wb_parcoords_line (chart, "t2", params, 0.5);
    json_decref (params);
    params = json_pack ("{s:f}", "lr", 0.01);
    wb_parcoords_line (chart, "t3", params, NAN);
    json_decref (params);
    assert (wb_parcoords_lines (chart) == 3);
    json_t *bundle = wb_parcoords_bundle (chart);
    assert (bundle);
    const char *svg = json_string_value (json_object_get (bundle, "image/svg+xml"));
    //  Escaped text, three lines, the log axis marked, lr 0.01 halfway up
    assert (strstr (svg, "sgd&lt;x&gt;"));
    assert (!strstr (svg, "sgd<x>"));
    assert (strstr (svg, "<title>t1</title>") && strstr (svg, "<title>t2</title>")
            && strstr (svg, "<title>t3</title>"));
    assert (strstr (svg, ">log</text>"));
    assert (strstr (svg, "M60 168.0"));    //  t3: lr 0.01 of 0.001..0.1 on a log scale
    //  The best line is drawn last (on top) and thicker
    assert (strstr (svg, "<title>t2</title>") < strstr (svg, "<title>t1</title>"));
    const char *plain = json_string_value (json_object_get (bundle, "text/plain"));
    assert (strstr (plain, "accuracy") && strstr (plain, "adam"));
    json_t *spec = json_object_get (bundle, "application/vnd.vegalite.v5+json");
    //  t1 and t2: three points each; t3: lr only (no optimizer, no metric)
    assert (json_array_size (json_object_get (json_object_get (spec, "data"), "values")) == 7);
    //  The axes are labelled as in the SVG: lr's ends (log), the
    //  optimizer's categories, the metric's ends
    json_t *layers = json_object_get (spec, "layer");
    assert (json_array_size (layers) == 3);
    json_t *labels = json_object_get (json_object_get (json_array_get (layers, 2), "data"), "values");
    assert (json_array_size (labels) == 2 + 2 + 2);
    char *dumped = json_dumps (labels, 0);
    assert (strstr (dumped, "\"0.001 (log)\"") && strstr (dumped, "\"sgd<x>\"")
            && strstr (dumped, "\"0.9\""));
    free (dumped);
    json_decref (bundle);
    wb_parcoords_destroy (&chart);
    if (verbose)
        printf ("OK\n");
}
