/*  wb_chart_axis - part of wb_render: what a chart's axes and series are
    made of before they are drawn: downsampling (LTTB) and nice ticks with
    their labels
*/
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "wb_render_int.h"
#include "base/wb_util.h"

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
size_t
wb_render__lttb (const double *x, const double *y, size_t count, size_t finite,
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
    size_t kept = wb_render__lttb (x, y, count, finite, threshold, picks);
    for (size_t i = 0; i < kept; i++) {
        out_x [i] = x [picks [i]];
        out_y [i] = y [picks [i]];
    }
    free (picks);
    return kept;
}

//  ---- Ticks ----

//  Widen an empty or nearly empty range so that it can be drawn
void
wb_render__pad_range (double *lo, double *hi)
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
size_t
wb_render__nice_ticks (double lo, double hi, size_t max_ticks, double min_step,
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
    wb_render__pad_range (&lo, &hi);
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
    return wb_render__nice_ticks (lo, hi, max_ticks, 0, ticks, &step);
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
void
wb_render__tick_label (double value, double step, double largest, char *text, size_t size)
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
void
wb_render__log_label (int power, char *text, size_t size)
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

//  @selftest
void
wb_chart_axis_test (bool verbose)
{
    (void) verbose;
    char text [40];

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
    wb_render__tick_label (0.5, 0.5, 1.5, text, 32);
    assert (streq (text, "0.5"));
    wb_render__tick_label (1, 0.5, 1.5, text, 32);
    assert (streq (text, "1"));
    wb_render__tick_label (0.6, 0.2, 1, text, 32);
    assert (streq (text, "0.6"));
    wb_render__tick_label (-0.05, 0.05, 0.2, text, 32);
    assert (streq (text, "-0.05"));
    wb_render__tick_label (2000, 1000, 4000, text, 32);
    assert (streq (text, "2k"));
    wb_render__tick_label (2500000, 500000, 5e6, text, 32);
    assert (streq (text, "2.5M"));
    wb_render__tick_label (400, 200, 800, text, 32);
    assert (streq (text, "400"));
    wb_render__tick_label (1734562000, 2000, 1734570000, text, 32);
    assert (streq (text, "1734562000"));
    wb_render__tick_label (4e-7, 2e-7, 1e-6, text, 32);
    assert (streq (text, "4e-7"));
    wb_render__tick_label (0, 2e-7, 1e-6, text, 32);
    assert (streq (text, "0"));
    wb_render__log_label (-4, text, 32);
    assert (streq (text, "0.0001"));
    wb_render__log_label (0, text, 32);
    assert (streq (text, "1"));
    wb_render__log_label (4, text, 32);
    assert (streq (text, "10k"));
    wb_render__log_label (6, text, 32);
    assert (streq (text, "1M"));
    wb_render__log_label (-5, text, 32);
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
    free (x);
    free (y);
}
//  @end
