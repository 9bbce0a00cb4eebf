/*  wb_render - tables and charts as MIME bundles: what every magic draws

    A table keeps its cells as text (numbers are formatted when added) and
    renders to aligned text/plain and escaped text/html. A chart downsamples
    each series once, when it is added, and keeps the true count, minimum,
    maximum and last point for the text summary; rendering then only walks
    the few hundred points it draws, so a million-point series costs two
    linear passes at wb_chart_series (a few milliseconds) and nothing more
    per render.

    All text that comes in (captions, cells, titles, series names) is cleaned
    on the way in: invalid UTF-8 becomes U+FFFD and control characters become
    spaces, so the outputs are always valid UTF-8 (jansson refuses anything
    else), valid XML and one line per table row.
*/
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "wb_render.h"
#include "base/wb_utf8.h"
#include "base/wb_util.h"

//  Chart layout: sizes in pixels
#define S_FONT          11      //  tick labels, legend, axis labels (px)
#define S_TITLE_FONT    13      //  the title (px)
#define S_CHAR_WIDTH    0.64    //  glyph width in em for layout (DejaVu digits)
#define S_MAX_TICKS     12      //  most ticks on an axis
#define S_LEGEND_CHARS  24      //  longest series name shown in the legend

//  ---- Text helpers ----

//  Copy text with invalid UTF-8 replaced by U+FFFD and control characters
//  by spaces; NULL stays NULL. Caller owns the return value.
static char *
s_clean (const char *text)
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
static size_t
s_width (const char *text)
{
    return text? wb_utf8_count (text, strlen (text)): 0;
}

//  Append text, cut to at most max code points with an ellipsis, HTML/XML
//  escaped.
static void
s_put_cut (wb_buf_t *buf, const char *text, size_t max)
{
    if (s_width (text) <= max)
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

//  Append n spaces
static void
s_put_spaces (wb_buf_t *buf, size_t n)
{
    static const char spaces [] = "                                ";
    while (n > 0) {
        size_t chunk = n < sizeof (spaces) - 1? n: sizeof (spaces) - 1;
        wb_buf_append (buf, spaces, chunk);
        n -= chunk;
    }
}

//  Drop the spaces at the end of buf
static void
s_trim_end (wb_buf_t *buf)
{
    const char *data = wb_buf_data (buf);
    size_t size = wb_buf_size (buf);
    size_t keep = size;
    while (keep > 0 && data [keep - 1] == ' ')
        keep--;
    if (keep < size) {
        char *copy = wb_strndup (data, keep);
        wb_buf_reset (buf);
        wb_buf_append (buf, copy, keep);
        free (copy);
    }
}

//  Format a number for a table cell or a summary into text (at least 32
//  bytes): whole numbers below 1e10 in full (steps and counts must not be
//  rounded), anything else with 6 significant digits, NaN as "".
static void
s_format_number (double value, char *text, size_t size)
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

//  ---- Tables ----

//  One cell of a table
typedef struct {
    char *text;                 //  cleaned text, never NULL
    bool number;                //  added with wb_table_number
} s_cell_t;

//  One column of a table
typedef struct {
    char *name;                 //  header text, cleaned
    wb_align_t align;           //  as declared
} s_column_t;

struct _wb_table_t {
    char *caption;              //  cleaned caption, or NULL
    s_column_t *columns;        //  the columns
    size_t ncolumns;            //  columns in use
    size_t column_room;         //  columns allocated
    s_cell_t **rows;            //  each row has ncolumns cells
    size_t nrows;               //  rows in use
    size_t row_room;            //  rows allocated
    size_t next;                //  next cell to fill in the last row
};

wb_table_t *
wb_table_new (const char *caption)
{
    wb_table_t *self = wb_calloc (1, sizeof (wb_table_t));
    self->caption = s_clean (caption);
    return self;
}

void
wb_table_destroy (wb_table_t **self_p)
{
    assert (self_p);
    wb_table_t *self = *self_p;
    if (self) {
        for (size_t row = 0; row < self->nrows; row++) {
            for (size_t col = 0; col < self->ncolumns; col++)
                free (self->rows [row][col].text);
            free (self->rows [row]);
        }
        free (self->rows);
        for (size_t col = 0; col < self->ncolumns; col++)
            free (self->columns [col].name);
        free (self->columns);
        free (self->caption);
        free (self);
        *self_p = NULL;
    }
}

void
wb_table_column (wb_table_t *self, const char *name, wb_align_t align)
{
    assert (self);
    assert (self->nrows == 0);  //  columns come before rows
    if (self->ncolumns == self->column_room) {
        self->column_room = self->column_room? self->column_room * 2: 8;
        self->columns = wb_realloc (self->columns,
                                    self->column_room * sizeof (s_column_t));
    }
    self->columns [self->ncolumns].name = s_clean (name? name: "");
    self->columns [self->ncolumns].align = align;
    self->ncolumns++;
}

void
wb_table_row (wb_table_t *self)
{
    assert (self);
    assert (self->ncolumns > 0);
    if (self->nrows == self->row_room) {
        self->row_room = self->row_room? self->row_room * 2: 16;
        self->rows = wb_realloc (self->rows, self->row_room * sizeof (s_cell_t *));
    }
    s_cell_t *row = wb_malloc (self->ncolumns * sizeof (s_cell_t));
    for (size_t col = 0; col < self->ncolumns; col++) {
        row [col].text = wb_strdup ("");
        row [col].number = false;
    }
    self->rows [self->nrows++] = row;
    self->next = 0;
}

//  Fill the next cell of the last row; takes ownership of text
static void
s_table_put (wb_table_t *self, char *text, bool number)
{
    assert (self);
    assert (self->nrows > 0);                   //  wb_table_row first
    assert (self->next < self->ncolumns);       //  no more cells than columns
    s_cell_t *cell = &self->rows [self->nrows - 1][self->next++];
    free (cell->text);
    cell->text = text;
    cell->number = number;
}

void
wb_table_cell (wb_table_t *self, const char *text)
{
    s_table_put (self, s_clean (text? text: ""), false);
}

void
wb_table_cellf (wb_table_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *text = wb_vsprintf (format, args);
    va_end (args);
    s_table_put (self, s_clean (text), false);
    free (text);
}

void
wb_table_number (wb_table_t *self, double value)
{
    char text [40];
    s_format_number (value, text, sizeof (text));
    s_table_put (self, wb_strdup (text), true);
}

size_t
wb_table_rows (wb_table_t *self)
{
    assert (self);
    return self->nrows;
}

//  How a column lines up: as declared, or right when every cell that has
//  text holds a number.
static wb_align_t
s_column_align (wb_table_t *self, size_t col)
{
    if (self->columns [col].align == WB_ALIGN_RIGHT)
        return WB_ALIGN_RIGHT;
    bool any = false;
    for (size_t row = 0; row < self->nrows; row++) {
        s_cell_t *cell = &self->rows [row][col];
        if (*cell->text && !cell->number)
            return WB_ALIGN_LEFT;
        any = any || cell->number;
    }
    return any? WB_ALIGN_RIGHT: WB_ALIGN_LEFT;
}

//  Append text padded to width; the last column is not padded on the right
static void
s_put_padded (wb_buf_t *buf, const char *text, size_t width, wb_align_t align)
{
    size_t pad = width - s_width (text);
    if (align == WB_ALIGN_RIGHT)
        s_put_spaces (buf, pad);
    wb_buf_puts (buf, text);
    if (align == WB_ALIGN_LEFT)
        s_put_spaces (buf, pad);
}

char *
wb_table_plain (wb_table_t *self)
{
    assert (self);
    wb_buf_t *out = wb_buf_new ();
    if (self->caption) {
        wb_buf_puts (out, self->caption);
        wb_buf_puts (out, "\n");
    }
    if (self->ncolumns == 0)
        return wb_buf_detach (&out);

    size_t *width = wb_calloc (self->ncolumns, sizeof (size_t));
    wb_align_t *align = wb_calloc (self->ncolumns, sizeof (wb_align_t));
    for (size_t col = 0; col < self->ncolumns; col++) {
        width [col] = s_width (self->columns [col].name);
        for (size_t row = 0; row < self->nrows; row++) {
            size_t cell = s_width (self->rows [row][col].text);
            if (cell > width [col])
                width [col] = cell;
        }
        align [col] = s_column_align (self, col);
    }
    wb_buf_t *line = wb_buf_new ();
    //  Header, separator, rows
    for (size_t col = 0; col < self->ncolumns; col++) {
        if (col)
            wb_buf_puts (line, "  ");
        s_put_padded (line, self->columns [col].name, width [col], align [col]);
    }
    s_trim_end (line);
    wb_buf_printf (out, "%s\n", wb_buf_data (line));
    wb_buf_reset (line);
    for (size_t col = 0; col < self->ncolumns; col++) {
        if (col)
            wb_buf_puts (line, "  ");
        for (size_t dash = 0; dash < width [col]; dash++)
            wb_buf_puts (line, "-");
    }
    wb_buf_printf (out, "%s\n", wb_buf_data (line));
    for (size_t row = 0; row < self->nrows; row++) {
        wb_buf_reset (line);
        for (size_t col = 0; col < self->ncolumns; col++) {
            s_cell_t *cell = &self->rows [row][col];
            if (col)
                wb_buf_puts (line, "  ");
            s_put_padded (line, cell->text, width [col],
                          cell->number? WB_ALIGN_RIGHT: align [col]);
        }
        s_trim_end (line);
        wb_buf_printf (out, "%s\n", wb_buf_data (line));
    }
    wb_buf_destroy (&line);
    free (width);
    free (align);
    return wb_buf_detach (&out);
}

char *
wb_table_html (wb_table_t *self)
{
    assert (self);
    //  Notebook style sheets right-align cells by default, so both
    //  alignments are spelled out
    static const char *styles [] = {
        " style=\"text-align:left\"", " style=\"text-align:right\""
    };
    wb_buf_t *out = wb_buf_new ();
    wb_buf_puts (out, "<table>\n");
    if (self->caption) {
        wb_buf_puts (out, "<caption>");
        wb_buf_html (out, self->caption);
        wb_buf_puts (out, "</caption>\n");
    }
    wb_align_t *align = wb_calloc (self->ncolumns + 1, sizeof (wb_align_t));
    wb_buf_puts (out, "<thead>\n<tr>");
    for (size_t col = 0; col < self->ncolumns; col++) {
        align [col] = s_column_align (self, col);
        wb_buf_printf (out, "<th%s>", styles [align [col]]);
        wb_buf_html (out, self->columns [col].name);
        wb_buf_puts (out, "</th>");
    }
    wb_buf_puts (out, "</tr>\n</thead>\n<tbody>\n");
    for (size_t row = 0; row < self->nrows; row++) {
        wb_buf_puts (out, "<tr>");
        for (size_t col = 0; col < self->ncolumns; col++) {
            s_cell_t *cell = &self->rows [row][col];
            wb_buf_printf (out, "<td%s>",
                           styles [cell->number? WB_ALIGN_RIGHT: align [col]]);
            wb_buf_html (out, cell->text);
            wb_buf_puts (out, "</td>");
        }
        wb_buf_puts (out, "</tr>\n");
    }
    wb_buf_puts (out, "</tbody>\n</table>\n");
    free (align);
    return wb_buf_detach (&out);
}

json_t *
wb_table_bundle (wb_table_t *self)
{
    char *plain = wb_table_plain (self);
    char *html = wb_table_html (self);
    json_t *bundle = json_object ();
    json_object_set_new (bundle, "text/plain", wb_utf8_json (plain, strlen (plain)));
    json_object_set_new (bundle, "text/html", wb_utf8_json (html, strlen (html)));
    free (plain);
    free (html);
    return bundle;
}

//  ---- Downsampling ----

//  True when the point can be drawn at all
static bool
s_finite (const double *x, const double *y, size_t i)
{
    return isfinite (x [i]) && isfinite (y [i]);
}

//  LTTB as indices: writes the chosen indices to picks (room for threshold)
//  and returns how many. Sveinn Steinarsson, "Downsampling Time Series for
//  Visual Representation" (2013): the first and last points stay; the rest
//  is cut into threshold - 2 buckets, and from each bucket the point that
//  makes the largest triangle with the point chosen before it and the
//  average of the next bucket is kept.
//
//  Non-finite points are skipped where they lie rather than copied out
//  first (a copy of a million points costs more than the whole algorithm):
//  buckets are cut by position between the first and last finite points,
//  and a bucket with no finite point gives none, so there may then be fewer
//  than threshold picks. finite is the number of finite points.
static size_t
s_lttb (const double *x, const double *y, size_t count, size_t finite,
        size_t threshold, size_t *picks)
{
    if (threshold == 0 || finite == 0)
        return 0;
    size_t kept = 0;
    if (finite <= threshold) {
        for (size_t i = 0; i < count; i++)
            if (s_finite (x, y, i))
                picks [kept++] = i;
        return kept;
    }
    size_t first = 0, last = count - 1;
    while (!s_finite (x, y, first))
        first++;
    while (!s_finite (x, y, last))
        last--;
    picks [kept++] = first;
    if (threshold == 1)
        return kept;
    if (threshold > 2) {
        //  Bucket b covers [edge (b), edge (b + 1)) for b in 0 .. buckets - 1;
        //  integer arithmetic keeps the edges exact, and as more than
        //  threshold - 2 finite points lie between first and last, no
        //  bucket is empty of positions
        size_t buckets = threshold - 2;
        size_t inner = last - first - 1;
#       define S_EDGE(b) (first + 1 + (size_t) ((unsigned long long) (b) * inner / buckets))
        size_t chosen = first;  //  index of the point kept last
        for (size_t bucket = 0; bucket < buckets; bucket++) {
            size_t from = S_EDGE (bucket);
            size_t to = S_EDGE (bucket + 1);
            //  Average of the next bucket; the last bucket looks at the
            //  last point, and so does one whose next bucket is all NaN
            size_t next_from = to;
            size_t next_to = bucket + 2 <= buckets? S_EDGE (bucket + 2): last + 1;
            double avg_x = 0, avg_y = 0;
            size_t points = 0;
            for (size_t i = next_from; i < next_to; i++)
                if (s_finite (x, y, i)) {
                    avg_x += x [i];
                    avg_y += y [i];
                    points++;
                }
            if (points) {
                avg_x /= (double) points;
                avg_y /= (double) points;
            }
            else {
                avg_x = x [last];
                avg_y = y [last];
            }
            double ax = x [chosen], ay = y [chosen];
            double best_area = -1;
            size_t best = count;
            for (size_t i = from; i < to; i++) {
                //  Twice the triangle's area: the factor does not change
                //  the pick. NaN areas (a non-finite point) never win.
                double area = fabs ((ax - avg_x) * (y [i] - ay)
                                  - (ax - x [i]) * (avg_y - ay));
                if (area > best_area && s_finite (x, y, i)) {
                    best_area = area;
                    best = i;
                }
            }
            if (best < count) {
                picks [kept++] = best;
                chosen = best;
            }
        }
#       undef S_EDGE
    }
    picks [kept++] = last;
    return kept;
}

size_t
wb_lttb (const double *x, const double *y, size_t count, size_t threshold,
         double *out_x, double *out_y)
{
    assert ((x && y) || count == 0);
    size_t finite = 0;
    for (size_t i = 0; i < count; i++)
        if (s_finite (x, y, i))
            finite++;
    size_t room = threshold < finite? threshold: finite;
    size_t *picks = wb_malloc ((room + 1) * sizeof (size_t));
    size_t kept = s_lttb (x, y, count, finite, threshold, picks);
    for (size_t i = 0; i < kept; i++) {
        out_x [i] = x [picks [i]];
        out_y [i] = y [picks [i]];
    }
    free (picks);
    return kept;
}

//  ---- Ticks ----

//  Widen an empty or nearly empty range so that it can be drawn
static void
s_pad_range (double *lo, double *hi)
{
    double size = fabs (*lo) > fabs (*hi)? fabs (*lo): fabs (*hi);
    if (*hi - *lo <= size * 1e-12 || *hi - *lo < 1e-200) {
        double pad = size > 1e-190? size * 0.1: 1;
        *lo -= pad;
        *hi += pad;
    }
}

//  k x mult x 10^power, dividing by an exact power of ten for negative
//  powers so that 3 x 1 x 10^-1 is 0.3 and not 0.30000000000000004
static double
s_multiple (double k, int mult, int power)
{
    double value = k * mult;
    value = power >= 0? value * pow (10, power): value / pow (10, -power);
    return value == 0? 0: value;        //  no -0
}

//  Nice ticks covering [lo, hi] with a step of at least min_step: writes
//  them to ticks, the step to *step_p, and returns how many.
static size_t
s_nice_ticks (double lo, double hi, size_t max_ticks, double min_step,
              double *ticks, double *step_p)
{
    *step_p = 0;
    if (max_ticks == 0 || !isfinite (lo) || !isfinite (hi))
        return 0;
    if (lo > hi) {
        double swap = lo;
        lo = hi;
        hi = swap;
    }
    if (max_ticks == 1) {
        ticks [0] = lo;
        return 1;
    }
    s_pad_range (&lo, &hi);
    double span = hi - lo;
    if (!isfinite (span))
        return 0;
    double raw = span / (double) (max_ticks - 1);
    if (raw < min_step)
        raw = min_step;
    //  step = mult * 10^power, mult in 1, 2, 5
    int power = (int) floor (log10 (raw));
    static const int mults [] = { 1, 2, 5 };
    int which = 0;
    double first, last;
    while (true) {
        if (power > 300)
            return 0;           //  cannot happen for a finite span
        double unit = power >= 0? pow (10, power): 1 / pow (10, -power);
        double step = mults [which] * unit;
        if (step >= raw * (1 - 1e-9)) {
            first = floor (lo / step + 1e-9);
            last = ceil (hi / step - 1e-9);
            if (last - first + 1 <= (double) max_ticks && last > first)
                break;
            //  Two ticks around zero need three (-s, 0, s) at any step:
            //  keep the ends, still nice and still covering
            if (max_ticks == 2 && first == -1 && last == 1) {
                ticks [0] = s_multiple (first, mults [which], power);
                ticks [1] = s_multiple (last, mults [which], power);
                *step_p = 2 * step;
                return 2;
            }
        }
        if (++which == 3) {
            which = 0;
            power++;
        }
    }
    size_t count = (size_t) (last - first) + 1;
    for (size_t i = 0; i < count; i++)
        ticks [i] = s_multiple (first + (double) i, mults [which], power);
    *step_p = s_multiple (1, mults [which], power);
    return count;
}

size_t
wb_render_ticks (double lo, double hi, size_t max_ticks, double *ticks)
{
    double step;
    return s_nice_ticks (lo, hi, max_ticks, 0, ticks, &step);
}

//  Drop trailing zeros after a decimal point: "1.50" -> "1.5", "2.0" -> "2"
static void
s_strip_zeros (char *text)
{
    if (!strchr (text, '.'))
        return;
    size_t size = strlen (text);
    while (size > 0 && text [size - 1] == '0')
        text [--size] = 0;
    if (size > 0 && text [size - 1] == '.')
        text [--size] = 0;
}

//  Tidy a C exponent: "4e-07" -> "4e-7", "1e+06" -> "1e6"
static void
s_tidy_exponent (char *text)
{
    char *e = strchr (text, 'e');
    if (!e)
        return;
    char *from = e + 1, *to = e + 1;
    if (*from == '+')
        from++;
    else
    if (*from == '-')
        *to++ = *from++;
    while (*from == '0' && from [1])
        from++;
    memmove (to, from, strlen (from) + 1);
}

//  Decimals needed to show multiples of step
static int
s_decimals (double step)
{
    if (step >= 1)
        return 0;
    int decimals = (int) ceil (-log10 (step) - 1e-9);
    return decimals < 0? 0: decimals > 15? 15: decimals;
}

//  A linear tick label: 0, 0.5, 1.5, 2k, 2.5M, 4e-7
static void
s_tick_label (double value, double step, double largest, char *text, size_t size)
{
    static const struct {
        double unit;            //  what the suffix stands for
        const char *suffix;     //  SI-like suffix
    } units [] = {
        { 1e12, "T" }, { 1e9, "G" }, { 1e6, "M" }, { 1e3, "k" }
    };
    if (value == 0) {
        snprintf (text, size, "0");
        return;
    }
    for (size_t i = 0; largest >= 1e3 && largest < 1e15 && i < 4; i++)
        if (largest >= units [i].unit) {
            int decimals = s_decimals (step / units [i].unit);
            if (decimals > 2)
                break;          //  "1734560k" reads worse than the digits
            snprintf (text, size, "%.*f", decimals, value / units [i].unit);
            s_strip_zeros (text);
            strncat (text, units [i].suffix, size - strlen (text) - 1);
            return;
        }
    if (largest < 1e-3 || largest >= 1e15) {
        int digits = (int) floor (log10 (largest)) - (int) floor (log10 (step)) + 1;
        digits = digits < 1? 1: digits > 15? 15: digits;
        snprintf (text, size, "%.*g", digits, value);
        s_tidy_exponent (text);
        return;
    }
    snprintf (text, size, "%.*f", s_decimals (step), value);
    s_strip_zeros (text);
    if (streq (text, "-0"))
        snprintf (text, size, "0");
}

//  A log tick label for 10^power: 0.001, 1, 100, 10k, 1M, 1e-5, 1e15
static void
s_log_label (int power, char *text, size_t size)
{
    static const char *suffixes [] = { "", "k", "M", "G", "T" };
    if (power >= 0 && power < 15)
        snprintf (text, size, "%.0f%s", pow (10, power % 3), suffixes [power / 3]);
    else
    if (power < 0 && power >= -4)
        snprintf (text, size, "%.*f", -power, pow (10, power));
    else
        snprintf (text, size, "1e%d", power);
}

//  ---- Charts ----

//  Okabe & Ito's palette, which stays distinct under the common kinds of
//  colour blindness; the yellow is last as it is faint on white.
static const char *s_palette [] = {
    "#0072B2", "#E69F00", "#009E73", "#D55E00",
    "#CC79A7", "#56B4E9", "#000000", "#F0E442"
};
#define S_PALETTE_SIZE (sizeof (s_palette) / sizeof (s_palette [0]))


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
} s_series_t;

struct _wb_chart_t {
    char *title;                //  cleaned, or NULL
    char *x_label;              //  cleaned, or NULL
    char *y_label;              //  cleaned, or NULL
    int width;                  //  drawing width in pixels
    int height;                 //  drawing height in pixels
    bool log_y;                 //  logarithmic y axis
    wb_mark_t mark;             //  mark for series added from now on
    size_t max_points;          //  most points drawn per series
    s_series_t *series;         //  the series, in the order added
    size_t nseries;             //  series in use
    size_t series_room;         //  series allocated
};

wb_chart_t *
wb_chart_new (const char *title, const char *x_label, const char *y_label)
{
    wb_chart_t *self = wb_calloc (1, sizeof (wb_chart_t));
    self->title = s_clean (title);
    self->x_label = s_clean (x_label);
    self->y_label = s_clean (y_label);
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
                                   self->series_room * sizeof (s_series_t));
    }
    s_series_t *series = &self->series [self->nseries];
    memset (series, 0, sizeof (s_series_t));

    //  Names tell series apart in the legend and in the Vega-Lite data
    char *clean = name? s_clean (name): wb_sprintf ("series %zu", self->nseries + 1);
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
    series->drawn = s_lttb (x, y, count, series->count, self->max_points, picks);
    series->x = wb_malloc ((series->drawn + 1) * sizeof (double));
    series->y = wb_malloc ((series->drawn + 1) * sizeof (double));
    for (size_t i = 0; i < series->drawn; i++) {
        series->x [i] = x [picks [i]];
        series->y [i] = y [picks [i]];
    }
    free (picks);
}

//  True when the point is drawn: finite, and positive on a log axis
static bool
s_drawable (wb_chart_t *self, double y)
{
    return !self->log_y || y > 0;
}

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
    double x_ticks [S_MAX_TICKS];   //  x tick values
    double y_ticks [S_MAX_TICKS];   //  y tick values (exponents on a log axis)
    size_t nx_ticks;            //  x ticks in use
    size_t ny_ticks;            //  y ticks in use
    char x_labels [S_MAX_TICKS][32];    //  x tick labels
    char y_labels [S_MAX_TICKS][32];    //  y tick labels
    double bar_width;           //  width of one series' bar, in pixels
    size_t nbars;               //  series drawn as bars
    bool legend;                //  draw a legend
    double legend_left;         //  where the legend starts, in pixels
} s_layout_t;

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
        s_series_t *series = &self->series [i];
        if (series->mark == WB_MARK_BAR)
            for (size_t j = 0; j < series->drawn; j++)
                if (s_drawable (self, series->y [j]))
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

//  True when every drawn x of every series is a whole number
static bool
s_x_integer (wb_chart_t *self)
{
    size_t drawn = 0;
    for (size_t i = 0; i < self->nseries; i++)
        for (size_t j = 0; j < self->series [i].drawn; j++, drawn++)
            if (self->series [i].x [j] != floor (self->series [i].x [j]))
                return false;
    return drawn > 0;
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
    double min_step = log? 1: !y_axis && s_x_integer (self)? 1: 0;
    double spacing = y_axis? 36: 70;    //  pixels per tick at most
    size_t max_ticks = length > 0? (size_t) (length / spacing) + 1: 2;
    if (max_ticks < 2)
        max_ticks = 2;
    if (max_ticks > S_MAX_TICKS - 2)
        max_ticks = S_MAX_TICKS - 2;
    size_t extra = log? 0: 2;   //  the outer ticks may fall outside [lo, hi]
    while (true) {
        double step;
        size_t count = s_nice_ticks (lo, hi, max_ticks + extra, min_step,
                                     ticks, &step);
        if (!log) {
            size_t inside = 0;
            double slack = (hi - lo) * 1e-9;
            for (size_t i = 0; i < count; i++)
                if (ticks [i] >= lo - slack && ticks [i] <= hi + slack)
                    ticks [inside++] = ticks [i];
            count = inside;
            if (count < 2 && max_ticks + extra < S_MAX_TICKS) {
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
                s_log_label ((int) lrint (ticks [i]), labels [i], 32);
            else
                s_tick_label (ticks [i], step, largest, labels [i], 32);
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
    s_px (s_layout_t *layout, double x);

static void
s_layout (wb_chart_t *self, s_layout_t *layout)
{
    memset (layout, 0, sizeof (s_layout_t));
    double width = self->width, height = self->height;

    //  Data ranges over the drawn points
    double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
    for (size_t i = 0; i < self->nseries; i++) {
        s_series_t *series = &self->series [i];
        if (series->mark == WB_MARK_BAR)
            layout->nbars++;
        for (size_t j = 0; j < series->drawn; j++) {
            double y = series->y [j];
            if (!s_drawable (self, y))
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
            size_t chars = s_width (self->series [i].name);
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
        s_pad_range (&y_lo, &y_hi);
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
    s_pad_range (&x_lo, &x_hi);
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

//  Pixel position of a data point
static double
s_px (s_layout_t *layout, double x)
{
    return layout->left + (x - layout->x_lo) / (layout->x_hi - layout->x_lo)
                        * (layout->right - layout->left);
}

static double
s_py (wb_chart_t *self, s_layout_t *layout, double y)
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
s_svg_series (wb_chart_t *self, s_layout_t *layout, size_t index, size_t bar_index,
              wb_buf_t *svg)
{
    s_series_t *series = &self->series [index];
    if (series->mark == WB_MARK_LINE) {
        wb_buf_printf (svg, "<g fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" "
                       "stroke-linejoin=\"round\" stroke-linecap=\"round\">\n",
                       series->color);
        size_t j = 0;
        while (j < series->drawn) {
            while (j < series->drawn && !s_drawable (self, series->y [j]))
                j++;
            size_t start = j;
            while (j < series->drawn && s_drawable (self, series->y [j]))
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
            if (!s_drawable (self, series->y [j]))
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
            if (!s_drawable (self, series->y [j]))
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
s_svg_legend (wb_chart_t *self, s_layout_t *layout, wb_buf_t *svg)
{
    double row = S_FONT + 5;
    size_t fits = (size_t) ((layout->bottom - layout->top) / row);
    if (fits < 1)
        fits = 1;
    size_t shown = self->nseries <= fits? self->nseries: fits - 1;
    double x = layout->legend_left;
    wb_buf_printf (svg, "<g font-size=\"%d\" fill=\"#333\">\n", S_FONT);
    for (size_t i = 0; i < shown; i++) {
        s_series_t *series = &self->series [i];
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
    s_layout_t layout;
    s_layout (self, &layout);
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
    s_layout_t layout;
    s_layout (self, &layout);
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
        s_series_t *series = &self->series [i];
        for (size_t j = 0; j < series->drawn; j++) {
            if (!s_drawable (self, series->y [j]))
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
    if (s_x_integer (self))     //  whole steps: whole ticks, as in the SVG
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
        s_series_t *series = &self->series [i];
        wb_buf_printf (out, "%s%s: %zu point%s", indent, series->name,
                       series->count, series->count == 1? "": "s");
        if (series->count) {
            char last_x [40], last_y [40], min_y [40], max_y [40];
            s_format_number (series->last_x, last_x, sizeof (last_x));
            s_format_number (series->last_y, last_y, sizeof (last_y));
            s_format_number (series->min_y, min_y, sizeof (min_y));
            s_format_number (series->max_y, max_y, sizeof (max_y));
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
    char *clean = s_clean (text? text: "");
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
        row_chars = s_width (row_labels [r]) > row_chars? s_width (row_labels [r]): row_chars;
    for (size_t c = 0; c < cols; c++)
        col_chars = s_width (col_labels [c]) > col_chars? s_width (col_labels [c]): col_chars;
    bool turned = (int) col_chars * 7 > cell - 4;
    int slant = turned? (int) col_chars * 5 + 4: 0;     //  7 px * sin 45
    int left = 30 + (int) row_chars * 7 + 10;
    if (left < 110)
        left = 110;
    int top = 56 + slant;
    int width = left + (int) cols * cell + 20 + slant;
    int height = top + (int) rows * cell + 40;
    if (title && width < left + (int) s_width (title) * 8 + 10)
        width = left + (int) s_width (title) * 8 + 10;
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
//  True when the tags of an SVG open and close in order, and no text
//  holds a bare '<' or '&' (a small well-formedness check for the tests)
static bool
s_test_balanced (const char *svg)
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
static void
s_test_check_svg (const char *svg)
{
    assert (wb_starts_with (svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" "));
    assert (strstr (svg, " width=\""));
    assert (strstr (svg, " height=\""));
    assert (strstr (svg, " viewBox=\"0 0 "));
    assert (s_test_balanced (svg));
    assert (!strstr (svg, "nan") && !strstr (svg, "inf"));
    assert (wb_utf8_valid (svg, strlen (svg)));
}

//  The labels of the chart's tick marks, as they appear in the SVG
static bool
s_test_has_label (const char *svg, const char *label)
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
    s_format_number (0.95, text, sizeof (text));
    assert (streq (text, "0.95"));
    s_format_number (12, text, sizeof (text));
    assert (streq (text, "12"));
    s_format_number (1234567, text, sizeof (text));
    assert (streq (text, "1234567"));
    s_format_number (1234567.5, text, sizeof (text));
    assert (streq (text, "1.23457e+06"));
    s_format_number (12345.678, text, sizeof (text));
    assert (streq (text, "12345.7"));
    s_format_number (1.0 / 3, text, sizeof (text));
    assert (streq (text, "0.333333"));
    s_format_number (1.5e-5, text, sizeof (text));
    assert (streq (text, "1.5e-05"));
    s_format_number (-0.0, text, sizeof (text));
    assert (streq (text, "0"));
    s_format_number (-2.5, text, sizeof (text));
    assert (streq (text, "-2.5"));
    s_format_number (NAN, text, sizeof (text));
    assert (streq (text, ""));
    s_format_number (-INFINITY, text, sizeof (text));
    assert (streq (text, "-inf"));

    //  Text cleaning: control characters and invalid UTF-8 never get out
    char *clean = s_clean ("a\tb\nc\x01\xff" "d\xe2\x82");
    assert (streq (clean, "a b c \xEF\xBF\xBD" "d\xEF\xBF\xBD"));
    free (clean);
    clean = s_clean ("caf\xc3\xa9");
    assert (streq (clean, "caf\xc3\xa9"));
    free (clean);

    //  Table, plain: widths in code points, numbers right, a short row
    wb_table_t *table = wb_table_new ("Runs");
    wb_table_column (table, "name", WB_ALIGN_LEFT);
    wb_table_column (table, "loss", WB_ALIGN_RIGHT);
    wb_table_column (table, "note", WB_ALIGN_LEFT);
    wb_table_row (table);
    wb_table_cell (table, "\xce\xb1-run");          //  "α-run", 5 code points
    wb_table_number (table, 0.95);
    wb_table_cell (table, "ok");
    wb_table_row (table);
    wb_table_cell (table, "b");
    wb_table_number (table, 12);
    wb_table_cell (table, NULL);
    wb_table_row (table);
    wb_table_cellf (table, "%s", "ccc");
    wb_table_number (table, NAN);
    wb_table_cell (table, "\xe6\x97\xa5\xe6\x9c\xac");     //  "日本"
    wb_table_row (table);
    wb_table_cell (table, "d");
    wb_table_number (table, 1234567);
    assert (wb_table_rows (table) == 4);
    char *plain = wb_table_plain (table);
    if (verbose)
        printf ("\n%s", plain);
    assert (streq (plain,
        "Runs\n"
        "name      loss  note\n"
        "-----  -------  ----\n"
        "\xce\xb1-run     0.95  ok\n"
        "b           12\n"
        "ccc             \xe6\x97\xa5\xe6\x9c\xac\n"
        "d      1234567\n"));
    free (plain);
    wb_table_destroy (&table);
    assert (table == NULL);
    wb_table_destroy (&table);

    //  A left column of numbers only lines up right, header too; no caption
    table = wb_table_new (NULL);
    wb_table_column (table, "step", WB_ALIGN_LEFT);
    wb_table_row (table);
    wb_table_number (table, 5);
    wb_table_row (table);
    wb_table_number (table, 100);
    plain = wb_table_plain (table);
    assert (streq (plain, "step\n----\n   5\n 100\n"));
    free (plain);
    wb_table_destroy (&table);

    //  Table, HTML: every piece of text escaped
    table = wb_table_new ("A & <B>");
    wb_table_column (table, "<th>", WB_ALIGN_LEFT);
    wb_table_column (table, "value", WB_ALIGN_RIGHT);
    wb_table_row (table);
    wb_table_cell (table, "<script>alert(1)</script>");
    wb_table_number (table, 0.5);
    char *html = wb_table_html (table);
    if (verbose)
        printf ("%s", html);
    assert (wb_starts_with (html, "<table>\n<caption>A &amp; &lt;B&gt;</caption>\n<thead>\n"));
    assert (strstr (html, "<th style=\"text-align:left\">&lt;th&gt;</th>"));
    assert (strstr (html, "<td style=\"text-align:left\">"
                          "&lt;script&gt;alert(1)&lt;/script&gt;</td>"));
    assert (strstr (html, "<td style=\"text-align:right\">0.5</td>"));
    assert (strstr (html, "</thead>\n<tbody>\n<tr>"));
    assert (!strstr (html, "<script"));
    assert (!strstr (html, "<th>"));
    free (html);
    json_t *bundle = wb_table_bundle (table);
    assert (json_is_string (json_object_get (bundle, "text/plain")));
    assert (json_is_string (json_object_get (bundle, "text/html")));
    assert (json_object_size (bundle) == 2);
    json_decref (bundle);
    wb_table_destroy (&table);

    //  Ticks cover the range in steps of 1, 2 or 5 times a power of ten
    double ticks [64];
    size_t count = wb_render_ticks (0, 1, 6, ticks);
    assert (count == 6);
    for (size_t i = 0; i < count; i++)
        assert (fabs (ticks [i] - 0.2 * (double) i) < 1e-12);
    assert (ticks [3] == 0.6);              //  exact, not 0.6000000000000001
    count = wb_render_ticks (0, 97, 6, ticks);
    assert (count == 6 && ticks [0] == 0 && ticks [1] == 20 && ticks [5] == 100);
    count = wb_render_ticks (-3, 3, 7, ticks);
    assert (count == 7 && ticks [0] == -3 && ticks [3] == 0 && ticks [6] == 3);
    count = wb_render_ticks (-3, 3, 6, ticks);
    assert (count == 5 && ticks [0] == -4 && ticks [1] == -2 && ticks [4] == 4);
    count = wb_render_ticks (1e-4, 1, 6, ticks);
    assert (count == 6 && ticks [0] == 0 && ticks [1] == 0.2 && ticks [5] == 1);
    count = wb_render_ticks (1e-4, 1e-3, 10, ticks);
    assert (count == 10 && ticks [0] == 1e-4 && ticks [9] == 1e-3);
    count = wb_render_ticks (3, 1, 5, ticks);         //  either order
    assert (count == 5 && ticks [0] == 1 && ticks [4] == 3);
    count = wb_render_ticks (5, 5, 6, ticks);         //  empty range: padded
    assert (count >= 2 && ticks [0] < 5 && ticks [count - 1] > 5);
    count = wb_render_ticks (-1, 1, 2, ticks);        //  two around zero
    assert (count == 2 && ticks [0] < -1 + 1e-9 && ticks [1] > 1 - 1e-9);
    assert (wb_render_ticks (NAN, 1, 6, ticks) == 0);
    assert (wb_render_ticks (0, INFINITY, 6, ticks) == 0);
    assert (wb_render_ticks (0, 1, 0, ticks) == 0);
    //  Any range: at most max_ticks, covering, evenly spaced by a nice step
    unsigned seed = 7;
    for (int trial = 0; trial < 2000; trial++) {
        seed = seed * 1103515245 + 12345;
        int power = (int) (seed % 13) - 6;
        double lo = ((double) (seed % 20001) - 10000) * pow (10, power);
        seed = seed * 1103515245 + 12345;
        double hi = lo + (double) (seed % 10000 + 1) * pow (10, power - (int) (seed % 3));
        size_t max_ticks = 2 + (size_t) (seed % 11);
        count = wb_render_ticks (lo, hi, max_ticks, ticks);
        assert (count >= 2 && count <= max_ticks);
        double step = (ticks [count - 1] - ticks [0]) / (double) (count - 1);
        assert (ticks [0] <= lo + step * 1e-6 && ticks [count - 1] >= hi - step * 1e-6);
        double mantissa = step / pow (10, floor (log10 (step)));
        assert (fabs (mantissa - 1) < 1e-6 || fabs (mantissa - 2) < 1e-6
             || fabs (mantissa - 5) < 1e-6 || fabs (mantissa - 10) < 1e-6
             || (max_ticks == 2 && count == 2));
    }

    //  Tick labels: compact
    s_tick_label (0.5, 0.5, 1.5, text, 32);
    assert (streq (text, "0.5"));
    s_tick_label (1, 0.5, 1.5, text, 32);
    assert (streq (text, "1"));
    s_tick_label (0.6, 0.2, 1, text, 32);
    assert (streq (text, "0.6"));
    s_tick_label (-0.05, 0.05, 0.2, text, 32);
    assert (streq (text, "-0.05"));
    s_tick_label (2000, 1000, 4000, text, 32);
    assert (streq (text, "2k"));
    s_tick_label (2500000, 500000, 5e6, text, 32);
    assert (streq (text, "2.5M"));
    s_tick_label (400, 200, 800, text, 32);
    assert (streq (text, "400"));
    s_tick_label (1734562000, 2000, 1734570000, text, 32);
    assert (streq (text, "1734562000"));
    s_tick_label (4e-7, 2e-7, 1e-6, text, 32);
    assert (streq (text, "4e-7"));
    s_tick_label (0, 2e-7, 1e-6, text, 32);
    assert (streq (text, "0"));
    s_log_label (-4, text, 32);
    assert (streq (text, "0.0001"));
    s_log_label (0, text, 32);
    assert (streq (text, "1"));
    s_log_label (4, text, 32);
    assert (streq (text, "10k"));
    s_log_label (6, text, 32);
    assert (streq (text, "1M"));
    s_log_label (-5, text, 32);
    assert (streq (text, "1e-5"));

    //  LTTB: threshold points, first and last kept, in order
    size_t size = 1000;
    double *x = wb_malloc (size * sizeof (double));
    double *y = wb_malloc (size * sizeof (double));
    double out_x [100], out_y [100];
    for (size_t i = 0; i < size; i++) {
        x [i] = (double) i;
        y [i] = sin ((double) i / 30);
    }
    count = wb_lttb (x, y, size, 100, out_x, out_y);
    assert (count == 100);
    assert (out_x [0] == 0 && out_x [99] == 999);
    assert (out_y [0] == y [0] && out_y [99] == y [999]);
    for (size_t i = 1; i < count; i++)
        assert (out_x [i] > out_x [i - 1]);
    assert (wb_lttb (x, y, 50, 100, out_x, out_y) == 50);   //  short: copied
    assert (out_x [49] == 49 && out_y [49] == y [49]);
    assert (wb_lttb (x, y, size, 2, out_x, out_y) == 2);
    assert (out_x [0] == 0 && out_x [1] == 999);
    assert (wb_lttb (x, y, size, 3, out_x, out_y) == 3);
    assert (wb_lttb (x, y, size, 0, out_x, out_y) == 0);
    assert (wb_lttb (NULL, NULL, 0, 10, out_x, out_y) == 0);
    //  Non-finite points are skipped, never picked
    y [0] = NAN;
    y [500] = INFINITY;
    for (size_t i = 600; i < 700; i++)
        y [i] = NAN;
    y [999] = NAN;
    count = wb_lttb (x, y, size, 100, out_x, out_y);
    assert (count >= 90 && count <= 100);
    assert (out_x [0] == 1 && out_x [count - 1] == 998);
    for (size_t i = 0; i < count; i++)
        assert (isfinite (out_y [i]) && (out_x [i] < 600 || out_x [i] >= 700));
    assert (wb_lttb (x, y, 3, 100, out_x, out_y) == 2);    //  short: finite ones
    assert (out_x [0] == 1 && out_x [1] == 2);
    //  A spike among zeros survives
    for (size_t i = 0; i < size; i++)
        y [i] = i == 617? 100: 0;
    count = wb_lttb (x, y, size, 20, out_x, out_y);
    assert (count == 20);
    bool peak = false;
    for (size_t i = 0; i < count; i++)
        if (out_y [i] == 100 && out_x [i] == 617)
            peak = true;
    assert (peak);

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
    s_test_check_svg (svg);
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
    assert (s_test_has_label (svg, "0") && s_test_has_label (svg, "20"));
    assert (s_test_has_label (svg, "100"));
    assert (s_test_has_label (svg, "0.4") && s_test_has_label (svg, "1"));
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
    s_test_check_svg (svg);
    assert (s_test_has_label (svg, "0.01") && s_test_has_label (svg, "0.1"));
    assert (s_test_has_label (svg, "1"));
    assert (!s_test_has_label (svg, "0.4"));
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
    assert (s_test_has_label (svg, "1") && s_test_has_label (svg, "3"));
    assert (!s_test_has_label (svg, "1.5") && !s_test_has_label (svg, "2.5"));
    free (svg);
    spec = wb_chart_vegalite (chart);
    axis = json_object_get (json_object_get (spec, "encoding"), "x");
    assert (json_integer_value (json_object_get (json_object_get (axis, "axis"), "tickMinStep")) == 1);
    json_decref (spec);
    wb_chart_destroy (&chart);

    chart = wb_chart_new ("Learning rate", "step", NULL);
    wb_chart_set_log_y (chart, true);
    for (size_t i = 0; i <= 40; i++)
        y [i] = pow (10, -(double) i / 10);                //  1 down to 1e-4
    y [7] = -1;
    wb_chart_series (chart, "lr", x, y, 41);
    svg = wb_chart_svg (chart);
    s_test_check_svg (svg);
    assert (s_test_has_label (svg, "0.0001") && s_test_has_label (svg, "0.001"));
    assert (s_test_has_label (svg, "1"));
    assert (strstr (svg, "<polyline"));
    assert (!strstr (svg, ">lr</text>"));                  //  one series: no legend
    free (svg);
    wb_chart_destroy (&chart);

    //  Points and bars
    chart = wb_chart_new ("Scatter", NULL, NULL);
    wb_chart_set_mark (chart, WB_MARK_POINT);
    wb_chart_series (chart, "a", x, y2, 20);
    svg = wb_chart_svg (chart);
    s_test_check_svg (svg);
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
    s_test_check_svg (svg);
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
    s_test_check_svg (svg);
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
    s_test_check_svg (svg);
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
    s_test_check_svg (svg);
    assert (strstr (svg, "<circle") && s_test_has_label (svg, "3"));
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
    s_test_check_svg (svg);
    free (svg);
    wb_chart_destroy (&chart);

    for (size_t i = 0; i < 50; i++) {
        x [i] = 7;                                          //  x all equal
        y [i] = 42;                                         //  y all equal
    }
    chart = wb_chart_new ("Flat", NULL, NULL);
    wb_chart_series (chart, "flat", x, y, 50);
    svg = wb_chart_svg (chart);
    s_test_check_svg (svg);
    assert (s_test_has_label (svg, "42") && s_test_has_label (svg, "7"));
    free (svg);
    wb_chart_set_size (chart, 1, 1);                        //  clamped
    svg = wb_chart_svg (chart);
    s_test_check_svg (svg);
    assert (strstr (svg, " width=\"160\" height=\"100\" viewBox=\"0 0 160 100\""));
    free (svg);
    wb_chart_set_log_y (chart, true);
    svg = wb_chart_svg (chart);
    s_test_check_svg (svg);
    free (svg);
    y [0] = -1;
    y [1] = 0;
    wb_chart_series (chart, "\xff<bad>\x01", x, y, 2);     //  all left out on log
    wb_chart_set_size (chart, 4000, 4000);
    bundle = wb_chart_bundle (chart);
    svg = (char *) json_string_value (json_object_get (bundle, "image/svg+xml"));
    s_test_check_svg (svg);
    assert (strstr (svg, ">\xEF\xBF\xBD&lt;bad&gt; </text>"));
    json_decref (bundle);
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
    s_test_check_svg (svg);
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
    {
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
        assert (s_test_balanced (heat_svg));
        json_decref (heat);
    }
}
//  @end
