/*  wb_view - what the views share: a time and a duration as short text
*/
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "wb_view.h"

void
wb_view_when (double time, char *buf, size_t size)
{
    //  No time (NaN: the run has not started or ended yet) shows nothing,
    //  never the epoch
    if (!(time > 0) || !isfinite (time)) {
        snprintf (buf, size, "%s", "");
        return;
    }
    time_t seconds = (time_t) time;
    struct tm tm;
    localtime_r (&seconds, &tm);
    strftime (buf, size, "%Y-%m-%d %H:%M:%S", &tm);
}

void
wb_view_duration (double seconds, char *buf, size_t size)
{
    if (!(seconds >= 0))
        snprintf (buf, size, "%s", "");
    else
    if (seconds < 60)
        snprintf (buf, size, "%.1f s", seconds);
    else
    if (seconds < 3600)
        snprintf (buf, size, "%d min %02d s", (int) seconds / 60, (int) seconds % 60);
    else
        snprintf (buf, size, "%d h %02d min", (int) seconds / 3600, ((int) seconds % 3600) / 60);
}

//  @selftest
void
wb_view_test (bool verbose)
{
    char text [64];
    wb_view_duration (1.25, text, sizeof (text));
    assert (strcmp (text, "1.2 s") == 0 || strcmp (text, "1.3 s") == 0);
    wb_view_duration (184, text, sizeof (text));
    assert (strcmp (text, "3 min 04 s") == 0);
    wb_view_duration (7500, text, sizeof (text));
    assert (strcmp (text, "2 h 05 min") == 0);
    wb_view_duration (NAN, text, sizeof (text));
    assert (*text == 0);
    wb_view_duration (-1, text, sizeof (text));
    assert (*text == 0);
    wb_view_when (NAN, text, sizeof (text));
    assert (*text == 0);
    wb_view_when (0, text, sizeof (text));
    assert (*text == 0);
    wb_view_when (1795000000, text, sizeof (text));
    assert (strlen (text) == 19 && text [4] == '-' && text [13] == ':');
    if (verbose)
        printf ("\n%s\n", text);
}
//  @end
